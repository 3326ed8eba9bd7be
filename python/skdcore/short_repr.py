"""``short_repr``: the repr of a value from a user's file for an error message, bounded in size and
depth (a full ``repr`` of an aliased YAML value or a huge list can take minutes and gigabytes, and one
of a list that contains itself recurses)."""

from __future__ import annotations

import reprlib

_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxtuple, _REPR.maxdict, _REPR.maxset = 3, 6, 6, 6, 6
_REPR.maxstring, _REPR.maxother, _REPR.maxlong = 80, 80, 40


def short_repr(value) -> str:
    """At most ~200 characters of ``repr(value)``, nested containers elided with '...'."""
    try:
        return _REPR.repr(value)
    except (ValueError, RecursionError):  # an int of more digits than Python prints
        return f"a {type(value).__name__} too large to print"
