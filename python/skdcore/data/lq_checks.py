"""Checks of an LQ generator config (``--lq`` JSON, a config's ``data.lq_corruption``) before any
generator is built: its shape (a mapping with a 'name', or a list of them) and every numeric parameter
(a finite number in its range), so a typo ends in a message naming the parameter and its range, not in
"'int' object is not iterable", a compiled kernel's signature dump, or every clip skipped as NaN."""

from __future__ import annotations

import math
import numbers

from ..short_repr import short_repr

MAX_WINDOW = 10_000  # frames on each side; the reference uses 3
MAX_SCALE = 1e4  # jitter / noise sigma or quantisation step, in the data's units (metres, pixels)

# name -> {parameter: (integer?, low, high)}; parameters not listed are left to the generator
NUMERIC_PARAMETERS = {
    "skd_occlusion": {"p": (False, 0.0, 1.0), "window": (True, 0, MAX_WINDOW)},
    "gaussian_jitter": {"sigma": (False, 0.0, MAX_SCALE)},
    "frame_drop": {"p": (False, 0.0, 1.0)},
    "quantise": {"step": (False, 0.0, MAX_SCALE)},
    "confidence_noise": {"sigma": (False, 0.0, MAX_SCALE), "score_channel": (True, 0, 64)},
}
EXAMPLE = '{"name": "skd_occlusion", "p": 0.6, "window": 3}'


def check_lq_config(config, where: str = "LQ config") -> None:
    """ValueError naming ``where``, the parameter and the fix, unless ``config`` is None, a mapping with
    a 'name' whose numeric parameters are finite and in range, or a list of such mappings."""
    if config is None:
        return
    if isinstance(config, (list, tuple)):
        for i, step in enumerate(config):
            check_lq_config(step, f"{where}[{i}]")
        return
    if not isinstance(config, dict):
        raise ValueError(f"{where}: {short_repr(config)} is not an LQ generator; give a JSON object with a "
                         f"'name' and its parameters, e.g. {EXAMPLE} (or a list of them)")
    name = config.get("name")
    if name == "compose":
        steps = config.get("steps", [])
        if not isinstance(steps, (list, tuple)):
            raise ValueError(f"{where}: 'steps' of a compose generator must be a list of generators")
        check_lq_config(list(steps), f"{where}.steps")
        return
    for key, (integer, low, high) in NUMERIC_PARAMETERS.get(name, {}).items():
        if key in config:
            _check_number(config[key], integer, low, high, f"{where}: {name}.{key}")


def _check_number(value, integer: bool, low, high, what: str) -> None:
    kind = "an integer" if integer else "a number"
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok and integer:
        ok = isinstance(value, numbers.Integral)
    if ok:
        ok = math.isfinite(value) and low <= value <= high
    if not ok:
        raise ValueError(f"{what} is {short_repr(value)}; it must be {kind} in [{low:g}, {high:g}]")
