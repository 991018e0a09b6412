"""Item 7: executions per second of each atheris target, instrumented, for a fixed time.

Each target file ``fuzz/<name>.py`` is run as plain libFuzzer (atheris instruments
``stack`` and installs the target's structure-aware mutator), from the target's own
seeds and dictionary, for ``-max_total_time`` seconds; the rate is libFuzzer's own
``stat::average_exec_per_sec``.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import tempfile
from pathlib import Path

from bench.measure import Options, run_measured
from bench.report import Row, fmt_rate, unavailable

__all__ = ["bench_fuzz", "parse_libfuzzer_stats"]

_STAT = re.compile(r"stat::(\w+):\s*(\d+)")
_EXEC_LINE = re.compile(r"#(\d+)\s+DONE\b.*?exec/s:\s*(\d+)")


def parse_libfuzzer_stats(output: str) -> dict[str, int]:
    """libFuzzer's ``-print_final_stats=1`` lines (``stat::name: value``), falling back
    to its closing ``#N DONE ... exec/s: R`` line."""
    stats = {name: int(value) for name, value in _STAT.findall(output)}
    done = _EXEC_LINE.search(output)
    if done is not None:
        stats.setdefault("number_of_executed_units", int(done[1]))
        stats.setdefault("average_exec_per_sec", int(done[2]))
    return stats


def _crash_line(output: str) -> str:
    """The line that says what the fuzzer found: the exception after atheris's
    "Uncaught Python exception" banner, or libFuzzer's ERROR line."""
    lines = [line.strip() for line in output.splitlines()]
    for index, line in enumerate(lines):
        if "Uncaught Python exception" in line:
            following = [x for x in lines[index + 1:index + 4] if x]
            if not following:
                return line
            # The exception, and the oracle's detail line under it when there is one.
            detail = following[1] if len(following) > 1 and not following[1].startswith(
                "Traceback") else ""
            return f"{following[0]} ({detail})" if detail else following[0]
    return next((line for line in lines if "ERROR:" in line), "")


def bench_fuzz(opts: Options) -> list[Row]:
    seconds = opts.fuzz_seconds if opts.fuzz_seconds else opts.count(30, 3)
    what = f"fuzz: executions/s of each atheris target over {seconds} s"
    if importlib.util.find_spec("atheris") is None:
        return [unavailable("fuzz", what, "atheris is not installed (pip install -e '.[fuzz]')")]
    if importlib.util.find_spec("fuzz.targets") is None:
        return [unavailable("fuzz", what, "the fuzz targets are not written yet "
                                          "(no fuzz.targets)")]
    try:
        from fuzz.targets import TARGETS
    except ImportError as exc:
        return [unavailable("fuzz", what, f"the fuzz targets do not import: {exc}")]
    fuzz_dir = Path(importlib.util.find_spec("fuzz.targets").origin or "").parent  # type: ignore[union-attr]
    rows: list[Row] = []
    for name, target in TARGETS.items():
        what = f"fuzz target {name}, instrumented, {seconds} s"
        script = fuzz_dir / f"{name}.py"
        if not script.exists():
            rows.append(unavailable("fuzz", what, f"no {script.name} in fuzz/"))
            continue
        with tempfile.TemporaryDirectory(prefix=f"ts-bench-fuzz-{name}-") as corpus:
            for index, data in enumerate(target.seeds().values()):
                Path(corpus, f"seed-{index:04d}").write_bytes(data)
            argv = [sys.executable, str(script), corpus, f"-max_total_time={seconds}",
                    "-print_final_stats=1", f"-max_len={target.max_len}",
                    f"-artifact_prefix={corpus}/"]
            if target.dictionary.exists():
                argv.append(f"-dict={target.dictionary}")
            done = run_measured(argv, timeout=seconds + 45, cwd=str(fuzz_dir.parent))
        output = done.stdout + done.stderr
        stats = parse_libfuzzer_stats(output)
        rate = stats.get("average_exec_per_sec")
        if done.returncode != 0 or rate is None:
            crash = _crash_line(output) or done.error_line()
            rows.append(unavailable("fuzz", what, f"the target stopped with exit "
                                                  f"{done.returncode}: {crash}"))
            continue
        runs = stats.get("number_of_executed_units", 0)
        rows.append(Row("fuzz", what, fmt_rate(rate, " exec/s"),
                        note=f"{runs:,} inputs, peak RSS {stats.get('peak_rss_mb', 0)} MB",
                        value=float(rate), unit="exec/s"))
    return rows
