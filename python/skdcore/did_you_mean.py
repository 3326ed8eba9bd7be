"""The " (did you mean 'x'?)" hint of an error about an unknown name."""
from __future__ import annotations

import difflib
from typing import Iterable


def did_you_mean(word, choices: Iterable) -> str:
    """' (did you mean 'closest'?)' when one of ``choices`` is close to ``word``, else ''."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
