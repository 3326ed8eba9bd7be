"""British and American spellings on the command line: both are accepted, the British one (the names of
the code and the outputs) is what the command sees. ``--normalize`` / ``--normalise`` are argparse
aliases (commands/prepare.py); names given as values (``--corruptions quantize``, ``--severities
quantize=...``, ``--set model.args.center_input=true``) go through :func:`british`."""
from __future__ import annotations

AMERICAN = {"quantize": "quantise", "center_input": "centre_input", "normalize": "normalise"}


def british(name: str) -> str:
    """``name`` with an American spelling of a known name replaced by the British one."""
    return AMERICAN.get(name, name)


def british_override(text: str) -> str:
    """A ``--set a.b=value``'s key with every known American part spelled the British way."""
    key, equals, value = text.partition("=")
    if not equals:
        return text
    return ".".join(british(part) for part in key.split(".")) + equals + value
