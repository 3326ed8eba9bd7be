"""JSON from files a user may have edited or crafted (manifests, layouts, label files): nesting depth
checked by a scan that stops at the cap, before ``json.loads`` could raise RecursionError (or build a
structure that later code recurses through)."""

from __future__ import annotations

import json
import re

MAX_DEPTH = 64  # a manifest or a layout nests 4 levels; a Kinetics clip 6

# A JSON string or a bracket. The string part cannot fail once it has started (an unterminated string
# runs to the end, a lone trailing backslash included), so the scan never backtracks: linear time.
_JSON_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)|[\[\]{}]', re.DOTALL)
_OPENING, _CLOSING = frozenset(b"[{"), frozenset(b"]}")


class JSONTooDeep(ValueError):
    """JSON nested deeper than the cap."""


def json_depth(payload: bytes, stop_above: int | None = None) -> int:
    """Deepest nesting of [ and { outside strings (for valid JSON; a rough bound otherwise), in one
    streaming pass that allocates nothing per byte (no copy of the payload, no per-byte arrays).
    With ``stop_above``, the scan ends as soon as the depth passes it (200 MB of '[' would otherwise
    take minutes of Python-level matching)."""
    depth = deepest = 0
    for match in _JSON_TOKEN.finditer(payload):
        first = payload[match.start()]
        if first in _OPENING:
            depth += 1
            deepest = max(deepest, depth)
            if stop_above is not None and deepest > stop_above:
                return deepest
        elif first in _CLOSING:
            depth -= 1
    return deepest


def loads_bounded(data: str | bytes, max_depth: int = MAX_DEPTH):
    """``json.loads(data)``; JSONTooDeep (a ValueError) when it nests more than ``max_depth`` levels,
    json.JSONDecodeError when it is not JSON."""
    payload = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if json_depth(payload, stop_above=max_depth) > max_depth:
        raise JSONTooDeep(f"JSON nested more than {max_depth} levels deep (the limit)")
    try:
        return json.loads(data)
    except RecursionError:  # NB: the scan is a bound for valid JSON only; never let this escape
        raise JSONTooDeep(f"JSON nested more than {max_depth} levels deep (the limit)") from None
