"""Why one clip was skipped, as one line for the manifest and the console.

``prepare`` promises that one bad clip never stops the whole job: whatever one clip's data raises (a
ReaderError from a reader, or a ValueError / OverflowError / ... from the normalisation or LQ code it
reaches) skips that clip with the reason. Only ``--strict`` stops, with the same reason naming the clip.
"""

from __future__ import annotations

from .readers.base import ReaderError

MAX_REASON_CHARS = 500


def skip_reason(error: BaseException, key: str) -> str:
    """The reason a clip failed: a ReaderError's own message (it names file and field), otherwise the
    clip, the exception type and its message, cut to :data:`MAX_REASON_CHARS`."""
    try:
        text = str(error)
    except Exception:  # noqa: BLE001 - a message that cannot even be printed
        text = ""
    if not isinstance(error, ReaderError):
        text = f"{key}: its data made the preparation fail ({type(error).__name__}: {text})"
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 3] + "..."


def strict_error(error: BaseException, key: str) -> ReaderError:
    """What ``--strict`` raises for a clip: a ReaderError naming the clip (a user error, not a bug)."""
    return error if isinstance(error, ReaderError) else ReaderError(skip_reason(error, key))
