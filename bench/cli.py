"""``python -m bench``: run the benchmarks and print one table of ratios.

Every figure is compared with a baseline measured in the same run, so the table means
the same on a fast laptop and on a shared CI machine. ``--quick`` is CI's short run: it
reports and never fails on speed (the exit code is 0 unless the harness itself breaks).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
from collections.abc import Callable

from bench.capacity import bench_capacity
from bench.core import bench_drop, bench_echo4, bench_echo6, bench_frag, bench_fragflood
from bench.fuzzbench import bench_fuzz
from bench.fuzzcost import bench_fuzzcost
from bench.live import bench_live
from bench.measure import Options
from bench.replaybench import bench_replay
from bench.report import Machine, Row, as_json, from_json, render, render_markdown

__all__ = ["BENCHMARKS", "PROFILES", "main", "profile_core", "run_benchmarks"]

# In the order of issue 9's items; each takes Options and returns rows.
BENCHMARKS: dict[str, Callable[[Options], list[Row]]] = {
    "echo4": bench_echo4,
    "drop": bench_drop,
    "frag": bench_frag,
    "fragflood": bench_fragflood,
    "echo6": bench_echo6,
    "replay": bench_replay,
    "live": bench_live,
    "capacity": bench_capacity,
    "fuzz": bench_fuzz,
    "fuzzcost": bench_fuzzcost,
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


PROFILES = ("echo4", "echo6", "drop-header", "drop-icmp", "drop-not-ours", "frag")


def profile_core(name: str, count: int = 20_000) -> str:
    """cProfile of ``Host.handle`` over ``count`` packets of one benchmark's kind, the
    top 20 functions by own time: where the core's time goes when a target is missed."""
    from bench import packets
    from stack.host import Host, HostConfig

    if name == "echo4":
        inputs = packets.echo_requests_v4(count, 84)
    elif name == "echo6":
        inputs = packets.echo_requests_v6(count, 104)
    elif name == "drop-header":
        inputs = [packets.bad_header_checksum(p) for p in packets.echo_requests_v4(count, 84)]
    elif name == "drop-icmp":
        inputs = [packets.bad_icmp_checksum(p) for p in packets.echo_requests_v4(count, 84)]
    elif name == "drop-not-ours":
        inputs = [packets.not_for_us(i, 84) for i in range(count)]
    else:
        inputs = [f for i in range(count // 3)
                  for f in packets.fragment_v4(packets.echo_request_v4(i, 3000), 1500)]
    host = Host(HostConfig())
    handle = host.handle
    profiler = cProfile.Profile()
    profiler.enable()
    for packet in inputs:
        handle(packet, 1000.0)
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(20)
    return text.getvalue()


def _print_saved(path: str, *, markdown: bool) -> int:
    try:
        with open(path, encoding="utf-8") as saved:
            rows, machine, mode = from_json(json.load(saved))
    except OSError as exc:
        print(f"bench: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 2
    except (ValueError, KeyError, TypeError) as exc:
        print(f"bench: {path} is not a report written by --json ({type(exc).__name__}: "
              f"{exc})", file=sys.stderr)
        return 2
    if markdown:
        command = "python -m bench" + (" --quick" if mode == "quick" else "")
        print(render_markdown(rows, machine, command))
    else:
        print(render(rows, machine))
    return 0


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
    parser.add_argument("--from-json", metavar="FILE",
                        help="print the table of a run saved with --json instead of running "
                             "(with --markdown: the README table)")
    parser.add_argument("--profile", choices=PROFILES, metavar="KIND",
                        help="print a cProfile of Host.handle over 20 000 packets of one "
                             f"kind and exit: {', '.join(PROFILES)}")
    args = parser.parse_args(argv)

    if args.profile:
        print(profile_core(args.profile))
        return 0
    if args.from_json:
        return _print_saved(args.from_json, markdown=args.markdown)
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
