"""The seeds skdcore accepts: integers 0..2**32 - 1 (numpy's legacy seeding, which training uses, takes
no more; a negative seed fails in numpy's SeedSequence), checked where a seed enters, not deep inside a
worker."""

from __future__ import annotations

import numbers

MAX_SEED = 2**32 - 1


def seed_problem(value, what: str):
    """None for a valid seed, else one line naming ``what`` (the option or key) and the range."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and 0 <= value <= MAX_SEED:
        return None
    shown = value if isinstance(value, numbers.Integral) and abs(value) < 10**30 else type(value).__name__
    if isinstance(value, numbers.Integral) and abs(value) >= 10**30:
        shown = f"an integer of {int(value).bit_length()} bits"
    return f"{what} must be an integer in [0, {MAX_SEED}] (2**32 - 1), got {shown}"
