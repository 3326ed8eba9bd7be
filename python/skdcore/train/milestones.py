"""``optim.milestones`` of the step schedule: where the lr is multiplied by ``gamma``.

Each milestone is an epoch (an int >= 1: the lr drops from that epoch on) or a fraction of the run
(0 < f < 1: the lr drops after that share of all optimizer steps, so a config keeps its shape when
``optim.epochs`` changes). A milestone at or past the end of the run would never take effect: the config
is refused rather than silently trained at the full lr.
"""
from __future__ import annotations

import math


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_milestones(optim, errors: list) -> None:
    """Appends one line per problem of ``optim.milestones`` (with ``optim.epochs``) to ``errors``."""
    milestones = optim.milestones
    hint = "epochs (ints >= 1) or fractions of the run (0 < f < 1), e.g. [0.6, 0.8]"
    wrong = [m for m in milestones if not _is_number(m) or m <= 0 or (m >= 1 and m != int(m))]
    if wrong:
        errors.append(f"optim.milestones must be {hint}; got {wrong} in {list(milestones)}")
        return
    epochs = [m * optim.epochs if m < 1 else m for m in milestones]
    if epochs != sorted(epochs):
        errors.append(f"optim.milestones must be increasing, got {list(milestones)} (in epochs of "
                      f"optim.epochs={optim.epochs}: {epochs})")
    if optim.schedule != "step":
        return  # NB: cosine ignores milestones by design; the default list must not fail short runs
    late = [m for m in milestones if m >= 1 and m >= optim.epochs]
    if late:
        errors.append(f"optim.milestones {late} are at or past the end of the run (optim.epochs="
                      f"{optim.epochs}): the lr would never drop there; give epochs < {optim.epochs} "
                      "or fractions of the run (0 < f < 1), e.g. optim.milestones=[0.6, 0.8]")


def milestone_steps(milestones, epochs: int, steps_per_epoch: int) -> list[int]:
    """The optimizer step from which each milestone's drop applies (an epoch's first step; a fraction's
    share of all steps, rounded up)."""
    steps_per_epoch = max(steps_per_epoch, 1)
    return [math.ceil(m * epochs * steps_per_epoch) if m < 1 else int(m) * steps_per_epoch
            for m in milestones]
