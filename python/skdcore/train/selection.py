"""What the start of a run says about model selection, and when the validation split is too small.

best.pt is the epoch with the highest top-1 on the selection split (ties: the later epoch). On a split of
n clips one clip is 100/n points, so with a few dozen clips many epochs tie or differ by one clip, and
best.pt is often no better than last.pt: a run then warns and names ``data.select: last``, unless the
config chose ``data.select`` itself (the shipped own-data recipes do: their small splits are known),
then one note line says the split's size and nothing cries wolf.
"""
from __future__ import annotations

# Below this many clips one validation clip is worth more than one point of top-1.
MIN_RANKING_CLIPS = 100


def note_chosen_selection(cfg, values: dict):
    """Records on ``cfg.data`` whether the config's own values set ``data.select`` (the dataclass
    cannot tell a default from a choice); returns ``cfg``."""
    data = values.get("data") if isinstance(values, dict) else None
    cfg.data.select_chosen = isinstance(data, dict) and "select" in data
    return cfg


def no_validation(cfg) -> bool:
    """``data.val_split: null``: every training clip trains, nothing selects an epoch (best.pt is the last
    one), and the run logs the training split's fit. Small real data sets: a validation split of a whole
    subject costs a quarter of the training clips and ranks epochs by chance (docs/real-data.md)."""
    return cfg.data.val_split is None and not cfg.data.select_on_test


def selection_lines(cfg, selection_label: str, num_clips: int, unused_val: int = 0) -> list:
    """The lines a run prints about model selection (``selection_label``: the split best.pt is chosen on;
    ``unused_val``: clips of a prepared 'val' split that a run without validation does not train on)."""
    if no_validation(cfg):
        lines = ["no validation split (data.val_split: null): every training clip trains, best.pt is the "
                 "last epoch; the log's 'fit' is the training split's top-1 (eval mode)"]
        if unused_val:
            lines.append(f"warning: the prepared data holds a 'val' split of {unused_val} clips that this "
                         "run does not train on; prepare without --val-fraction to train on them, or set "
                         "data.val_split: val to select best.pt on them")
        return lines
    if cfg.data.select == "last":
        return ["the test split is evaluated on last.pt (data.select: last); best.pt is still saved"]
    lines = [f"best.pt is selected on the {selection_label}"]
    if num_clips < MIN_RANKING_CLIPS and getattr(cfg.data, "select_chosen", False):
        lines.append(f"note: the selection split has {num_clips} clips ({100 / max(num_clips, 1):.1f} points "
                     "each); data.select: best is the config's choice")
    elif num_clips < MIN_RANKING_CLIPS:
        lines.append(f"warning: the selection split has {num_clips} clips, one clip is "
                     f"{100 / max(num_clips, 1):.1f} points: too few to rank epochs, best.pt may be no "
                     "better than last.pt; data.select: last evaluates the last epoch instead")
    return lines
