"""``replay``: deterministic pcap/pcapng replay through tunstack's core (or an external
responder), with ``--expect`` field-level comparison, fault injection and reports.

Exit codes: 0 everything matched (or ran, without ``--expect``), 1 a mismatch or a broken
invariant, 2 bad usage or unreadable input (one line on stderr naming the file and the
byte offset). See docs/replay.md.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shlex
import sys
from collections.abc import Callable
from typing import NoReturn

from replay.cases import SetupError, parse_addresses
from replay.driver import ORACLE, GoldenWriter, Options, replay_file
from replay.faults import FaultSpec
from replay.html import write_html
from replay.profiles import PROFILES
from replay.report import Progress, json_report, print_human, write_junit
from replay.responder import ResponderStartError, split_command
from replay.results import FileResult
from stack import version_text
from stack.capture import CaptureError
from stack.wire.inspect import is_known_field

__all__ = ["main", "build_parser"]

EXIT_OK = 0
EXIT_MISMATCH = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error on one line."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"replay: {message} (see replay --help)\n")


def _bounded(parse: Callable[[str], float], high: float, what: str) -> Callable[[str], float]:
    """An argparse type: ``parse`` the text, then require 0 <= value <= ``high``
    (NaN and infinity never pass); ``what`` names the range in the error."""
    def convert(text: str) -> float:
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not 0 <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is not {what}")
        return value
    return convert


_probability = _bounded(float, 1.0, "a probability (0 to 1)")
_seconds = _bounded(float, 1e9, "a duration (0 or more seconds)")
_positive_int = _bounded(int, 2**31, "a whole number, 0 or more")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="replay",
        description="Replay pcap/pcapng captures through tunstack's core, on the capture's "
                    "clock, and compare its answers with the recorded ones.",
        epilog="Exit codes: 0 all matched, 1 a mismatch, 2 usage or unreadable input.")
    parser.add_argument("--version", action="version", version=version_text("replay"))
    parser.add_argument("files", nargs="+", metavar="CAPTURE",
                        help="pcap or pcapng files; each file (or pcapng section) is a case "
                             "replayed against a fresh host")
    parser.add_argument("--expect", action="store_true",
                        help="compare the host's outputs with the recorded outbound packets")
    parser.add_argument("--addr", action="append", default=[], metavar="ADDR[/LEN]",
                        help="a host address (repeatable, IPv4 and IPv6); replaces the "
                             "addresses in the capture's metadata")
    parser.add_argument("--ignore", action="append", default=[], metavar="FIELD",
                        help="a field that may differ (repeatable), e.g. ipv4.id; a prefix "
                             "such as icmp.timestamp ignores every field under it")
    parser.add_argument("--profile", choices=sorted(PROFILES),
                        help="bundled ignores and timer tolerance: 'linux' for captures "
                             "recorded from the Linux kernel, 'exact' for goldens (default: "
                             "what each case's metadata says, else exact)")
    parser.add_argument("--tolerance", type=_seconds, metavar="SECONDS",
                        help="how far a timer output may be from the recorded time "
                             "(default: the profile's)")
    parser.add_argument("--settle", type=_seconds, default=0.0, metavar="SECONDS",
                        help="keep running timers this long after a case's last packet "
                             "(default 0; e.g. 61 to include reassembly timeouts)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="full dissection of both packets on a mismatch; without "
                             "--expect, one line per packet in and out")
    parser.add_argument("--json", action="store_true",
                        help="print a JSON report on stdout instead of the table")
    parser.add_argument("--junit", metavar="FILE", help="write a JUnit XML report to FILE")
    parser.add_argument("--html", metavar="FILE",
                        help="write a self-contained HTML report to FILE: totals, a row per "
                             "case, and for each case that differs a ladder diagram with "
                             "every mismatch's diff and both packets dissected")
    parser.add_argument("--write", metavar="OUT.pcapng",
                        help="write the inbound packets and the host's answers, with "
                             "direction flags, each packet's reason as its comment and host "
                             "metadata, as a golden capture")
    faults = parser.add_argument_group("fault injection (on inbound packets)")
    faults.add_argument("--loss", type=_probability, default=0.0, metavar="P",
                        help="drop each packet with probability P")
    faults.add_argument("--duplicate", type=_probability, default=0.0, metavar="P",
                        help="deliver each packet twice with probability P")
    faults.add_argument("--reorder", type=_probability, default=0.0, metavar="P",
                        help="hold each packet back behind 1..--reorder-window later ones "
                             "with probability P")
    faults.add_argument("--reorder-window", type=_positive_int, default=3, metavar="N",
                        help="the most packets a reordered one waits for (default 3)")
    faults.add_argument("--corrupt", type=_probability, default=0.0, metavar="P",
                        help="flip one random bit of each packet with probability P")
    faults.add_argument("--delay", type=_seconds, default=0.0, metavar="SECONDS",
                        help="deliver every packet this much later")
    faults.add_argument("--jitter", type=_seconds, default=0.0, metavar="SECONDS",
                        help="add a uniform random 0..SECONDS to each packet's time")
    faults.add_argument("--seed", type=_positive_int, default=0, metavar="N",
                        help="seed of the fault generator (default 0): same seed, same run")
    parser.add_argument("--responder", metavar="CMD",
                        help="grade an external program instead of tunstack: it reads one "
                             "hex packet per line and answers hex lines, then an empty line")
    parser.add_argument("--responder-timeout", type=_seconds, default=30.0, metavar="SECONDS",
                        help="how long the responder may take per packet (default 30)")
    parser.add_argument("-j", "--jobs", type=_positive_int, default=1, metavar="N",
                        help="replay files in N processes (0: one per CPU); the output "
                             "order stays the input order")
    return parser


def _options(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Options:
    for name in args.ignore:
        if not is_known_field(name):
            parser.error(f"--ignore {name}: unknown field (fields are named as in -v "
                         "dissections, e.g. ipv4.id, icmp.timestamp.receive)")
    try:
        parse_addresses(args.addr)
    except SetupError as exc:
        parser.error(f"--addr: {exc}")
    if args.responder is not None:
        try:
            split_command(args.responder)
        except ResponderStartError as exc:
            parser.error(str(exc))
    spec = FaultSpec(loss=args.loss, duplicate=args.duplicate, reorder=args.reorder,
                     reorder_window=max(1, args.reorder_window), corrupt=args.corrupt,
                     delay=args.delay, jitter=args.jitter, seed=args.seed)
    return Options(
        expect=args.expect,
        addresses=tuple(args.addr),
        profile=args.profile,
        ignore=frozenset(args.ignore),
        tolerance=args.tolerance,
        settle=args.settle,
        verbose=args.verbose,
        faults=spec if spec.active else None,
        responder=args.responder,
        responder_timeout=args.responder_timeout,
        timeline=args.html is not None,
    )


def _replay_one(job: tuple[str, Options]) -> FileResult:
    path, options = job
    return replay_file(path, options)


def _run(files: list[str], options: Options, jobs: int, write: str | None,
         progress: Progress) -> list[FileResult]:
    if write is not None:
        golden = GoldenWriter(write)
        try:
            results = []
            for path in files:
                results.append(replay_file(path, options, golden, progress.packets_done))
                progress.file_done()
        finally:
            golden.close()
        return results
    if jobs == 0:
        jobs = os.cpu_count() or 1
    jobs = min(jobs, len(files))
    if jobs <= 1:
        results = []
        for path in files:
            results.append(replay_file(path, options, None, progress.packets_done))
            progress.file_done()
        return results
    context = multiprocessing.get_context("fork")
    results = []
    with context.Pool(jobs) as pool:
        # imap keeps the input order whatever order the workers finish in
        for result in pool.imap(_replay_one, [(path, options) for path in files]):
            results.append(result)
            progress.file_done(result.packets)
    return results


def _exit_code(results: list[FileResult]) -> int:
    if any(result.error for result in results):
        return EXIT_USAGE
    if any(result.failed for result in results):
        return EXIT_MISMATCH
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    options = _options(args, parser)
    if args.write is not None and args.jobs not in (0, 1):
        print("replay: --write replays the files one after another (-j ignored)",
              file=sys.stderr)
    progress = Progress(len(args.files))
    try:
        try:
            results = _run(args.files, options, args.jobs, args.write, progress)
        finally:
            progress.close()
    except CaptureError as exc:  # the --write target could not be created
        print(f"replay: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("replay: interrupted", file=sys.stderr)
        return 130
    code = _exit_code(results)
    sys.stdout.flush()
    for result in results:
        if result.error:
            print(f"replay: {result.error}", file=sys.stderr)
    try:
        if args.json:
            settings: dict[str, object] = {
                "expect": options.expect, "profile": args.profile or "from metadata",
                "ignore": sorted(options.ignore), "tolerance": options.tolerance,
                "settle": options.settle, "responder": options.responder,
                "faults": options.faults.describe() if options.faults else None,
                "invariants": ORACLE if options.faults and options.expect else None,
            }
            print(json_report(results, code, settings))
        else:
            if options.faults is not None:
                print(f"replay: faults: {options.faults.describe()}"
                      + (f"; outputs judged by {ORACLE}" if options.expect else ""))
            print_human(results, options.expect, sys.stdout)
        if args.junit:
            try:
                write_junit(results, args.junit)
            except OSError as exc:
                print(f"replay: {args.junit}: cannot write the JUnit report: {exc.strerror}",
                      file=sys.stderr)
                return EXIT_USAGE
        if args.html:
            command = shlex.join(["replay", *(sys.argv[1:] if argv is None else argv)])
            try:
                write_html(results, args.html, options.expect, command,
                           version_text("replay"))
            except OSError as exc:
                print(f"replay: {args.html}: cannot write the HTML report: {exc.strerror}",
                      file=sys.stderr)
                return EXIT_USAGE
        sys.stdout.flush()
    except BrokenPipeError:  # replay ... | head
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return code


if __name__ == "__main__":
    sys.exit(main())
