"""argparse types shared by the commands: a bad value is refused by the parser, naming the option."""
from __future__ import annotations

import argparse


def positive_int(text: str, what: str = "a whole number", hint: str = "") -> int:
    """A whole number >= 1 (batch sizes, repeats, frames); ``hint`` follows the error."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1{f' ({hint})' if hint else ''}, got {value}")
    return value
