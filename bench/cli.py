"""``python -m bench``: run the benchmarks and print one table of ratios.

Every figure is compared with a baseline measured in the same run, so the table means
the same on a fast laptop and on a shared CI machine. ``--quick`` is CI's short run: it
reports and never fails on speed (the exit code is 0 unless the harness itself breaks).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import time
from collections.abc import Callable

from bench.core import bench_drop, bench_echo4, bench_echo6, bench_frag, bench_fragflood
from bench.fuzzbench import bench_fuzz
from bench.live import bench_live
from bench.measure import Options
from bench.replaybench import bench_replay
from bench.report import Machine, Row, as_json, render, render_markdown

__all__ = ["BENCHMARKS", "main", "run_benchmarks"]

# In the order of issue 9's items; each takes Options and returns rows.
BENCHMARKS: dict[str, Callable[[Options], list[Row]]] = {
    "echo4": bench_echo4,
    "drop": bench_drop,
    "frag": bench_frag,
    "fragflood": bench_fragflood,
    "echo6": bench_echo6,
    "replay": bench_replay,
    "live": bench_live,
    "fuzz": bench_fuzz,
}


def run_benchmarks(names: list[str], opts: Options, *, progress: bool = True) -> list[Row]:
    """Run the named benchmarks in order. A benchmark that breaks (a bug in a driver it
    measures, say) becomes one "failed" row with the error, and the others still run."""
    rows: list[Row] = []
    for name in names:
        started = time.perf_counter()
        if progress:
            print(f"bench: {name} ...", file=sys.stderr, flush=True)
        try:
            found = BENCHMARKS[name](opts)
        except Exception as exc:  # the harness's boundary: report, keep going
            found = [Row(name, name, f"failed: {type(exc).__name__}: {exc}")]
        rows.extend(found)
        if progress:
            print(f"bench: {name} done in {time.perf_counter() - started:.1f} s",
                  file=sys.stderr, flush=True)
    return rows


def _profile_echo(count: int, family: str) -> str:
    """cProfile of ``Host.handle`` over ``count`` 84 B (IPv4) or 104 B (IPv6) echo
    requests: where the time of the echo path goes."""
    from bench.packets import echo_requests_v4, echo_requests_v6
    from stack.host import Host, HostConfig

    requests = (echo_requests_v4(count, 84) if family == "4"
                else echo_requests_v6(count, 104))
    host = Host(HostConfig())
    profiler = cProfile.Profile()
    profiler.enable()
    for request in requests:
        host.handle(request, 1000.0)
    profiler.disable()
    import io
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(20)
    return text.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure tunstack against baselines timed in the same run, and print "
                    "one table of ratios and targets (medians over repetitions).")
    parser.add_argument("--quick", action="store_true",
                        help="CI's short run: small counts, one repetition; reports and "
                             "never fails on speed")
    parser.add_argument("--only", action="append", metavar="NAME", default=[],
                        help=f"run only these benchmarks (repeatable or comma-separated): "
                             f"{', '.join(BENCHMARKS)}")
    parser.add_argument("--repetitions", type=int, default=5, metavar="N",
                        help="repetitions of each timed loop in a full run (default 5)")
    parser.add_argument("--fuzz-seconds", type=int, default=0, metavar="S",
                        help="seconds per fuzz target (default 30, 3 with --quick)")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    parser.add_argument("--markdown", action="store_true",
                        help="print the README table (GitHub markdown, with date and machine)")
    parser.add_argument("--profile-echo", choices=("4", "6"), metavar="4|6",
                        help="print a cProfile of Host.handle over echo requests and exit")
    args = parser.parse_args(argv)

    if args.profile_echo:
        print(_profile_echo(20_000, args.profile_echo))
        return 0
    names = [n.strip() for item in args.only for n in item.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHMARKS)}")
    if args.repetitions < 1:
        parser.error("--repetitions must be at least 1")
    if args.fuzz_seconds < 0:
        parser.error("--fuzz-seconds must not be negative")
    opts = Options(quick=args.quick, repetitions=args.repetitions,
                   fuzz_seconds=args.fuzz_seconds)
    machine = Machine.probe()
    rows = run_benchmarks(names or list(BENCHMARKS), opts)
    machine.finish()
    if args.markdown:
        command = "python -m bench" + (" --quick" if args.quick else "")
        print(render_markdown(rows, machine, command))
    else:
        print(render(rows, machine))
    if args.json:
        try:
            with open(args.json, "w", encoding="utf-8") as out:
                json.dump(as_json(rows, machine, "quick" if args.quick else "full"), out,
                          indent=2)
                out.write("\n")
        except OSError as exc:
            print(f"bench: cannot write {args.json}: {exc.strerror}", file=sys.stderr)
            return 2
    failed = [r for r in rows if r.figure.startswith("failed:")]
    return 1 if failed else 0
