"""Item 7: executions per second of each atheris target, instrumented, for a fixed time."""

from __future__ import annotations

import importlib.util

from bench.measure import Options
from bench.report import Row, unavailable

__all__ = ["bench_fuzz"]


def bench_fuzz(opts: Options) -> list[Row]:
    seconds = opts.count(30, 3)
    what = f"fuzz: executions/s of each atheris target over {seconds} s"
    if importlib.util.find_spec("fuzz.cli") is None:
        return [unavailable("fuzz", what, "stack-fuzz is not written yet (no fuzz.cli)")]
    return [unavailable("fuzz", what, "stack-fuzz has no targets")]
