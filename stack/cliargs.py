"""Argument types shared by the command lines (replay, stack-fuzz): numbers in a range.

A value outside its range is an argparse usage error, one line and exit 2, before any
work starts: NaN and infinity never pass (a run bounded by NaN seconds never ends)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

__all__ = ["bounded"]

Number = TypeVar("Number", int, float)


def bounded(parse: Callable[[str], Number], low: Number, high: Number,
            what: str) -> Callable[[str], Number]:
    """An argparse type: ``parse`` the text, then require ``low <= value <= high``;
    ``what`` names the kind and range in the error ("a probability (0 to 1)")."""
    def convert(text: str) -> Number:
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not low <= value <= high:  # NaN fails every comparison
            raise argparse.ArgumentTypeError(f"{text} is not {what}")
        return value
    return convert
