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
from typing import NoReturn

from replay.cases import SetupError, parse_addresses
from replay.driver import ORACLE, GoldenWriter, Options, replay_file
from replay.faults import FaultSpec
from replay.html import write_html
from replay.profiles import PROFILES
from replay.report import Progress, json_report, print_human, write_junit
from replay.results import FileResult
from stack import version_text
from stack.capture import CaptureError
from stack.cliargs import bounded
from stack.link.ethernet import EthernetError, parse_mac
from stack.sut import StackStartError
from stack.sut.addressmap import AddressMap, MapError
from stack.sut.pipe import split_command
from stack.sut.spec import StackSpec
from stack.wire.inspect import is_known_field

__all__ = ["main", "build_parser"]

EXIT_OK = 0
EXIT_MISMATCH = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error on one line."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"replay: {message} (see replay --help)\n")


_probability = bounded(float, 0.0, 1.0, "a probability (0 to 1)")
_seconds = bounded(float, 0.0, 1e9, "a duration (0 or more seconds)")
_positive_int = bounded(int, 0, 2**31, "a whole number, 0 or more")


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
    kinds = parser.add_argument_group(
        "the stack under test (default: tunstack's core, in-process; docs/replay.md)")
    kinds.add_argument("--responder", metavar="CMD",
                       help="grade an external program instead of tunstack: it reads one "
                            "hex packet per line and answers hex lines, then an empty line")
    kinds.add_argument("--responder-timeout", type=_seconds, default=30.0, metavar="SECONDS",
                       help="how long the responder may take to read or answer each packet "
                            "(default 30): past it, the case is 'hung'")
    kinds.add_argument("--kernel", action="store_true",
                       help="grade the live Linux kernel, behind a TUN in a fresh namespace")
    kinds.add_argument("--wire", metavar="DEV",
                       help="grade the real stack that owns DEV (a TUN, TAP or veth device), "
                            "injecting from the kernel side in real time")
    kinds.add_argument("--exec", dest="exec_command", metavar="CMD",
                       help="with --wire: run CMD per case in a fresh namespace (it creates "
                            "DEV there), wait until it answers a ping, stop it after")
    kinds.add_argument("--ready", type=_seconds, default=10.0, metavar="SECONDS",
                       help="how long the stack may take to answer its first ping (default "
                            "10); never answering is an error (exit 2)")
    kinds.add_argument("--wire-mac", metavar="MAC",
                       help="the stack's MAC on a TAP/veth DEV (default: learned by ARP/ND)")
    kinds.add_argument("--wire-setup", action="store_true",
                       help="remove the addresses on the kernel side of DEV and disable "
                            "IPv6 there, instead of refusing such a device")
    kinds.add_argument("--map", action="append", default=[], metavar="RECORDED=ACTUAL",
                       help="the stack has address ACTUAL where the capture has RECORDED "
                            "(repeatable, IPv4 and IPv6): rewritten both ways, checksums "
                            "fixed, quoted packets in ICMP errors included")
    kinds.add_argument("--skip-slow", nargs="?", type=_seconds, const=5.0, metavar="SECONDS",
                       help="leave out (and name) the cases that take longer than SECONDS "
                            "(default 5) of real time, e.g. reassembly timeouts")
    kinds.add_argument("--crash-dir", metavar="DIR",
                       help="where the reproducer of a crashed or hung stack is written "
                            "(default: a new private directory under $TMPDIR; the report "
                            "names the file)")
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
    kinds = [flag for flag, given in (("--responder", args.responder is not None),
                                      ("--kernel", args.kernel),
                                      ("--wire", args.wire is not None)) if given]
    if len(kinds) > 1:
        parser.error(f"{' and '.join(kinds)}: choose one stack under test")
    if args.exec_command is not None and args.wire is None:
        parser.error("--exec needs --wire DEV (the device the command's stack creates)")
    for flag in ("wire_mac", "wire_setup"):
        if getattr(args, flag) and args.wire is None:
            parser.error(f"--{flag.replace('_', '-')} needs --wire DEV")
    mac: bytes | None = None
    try:
        for flag, command in (("--responder", args.responder), ("--exec", args.exec_command)):
            if command is not None:
                split_command(command, flag)
        if args.map:
            AddressMap.parse(args.map)
        if args.wire_mac is not None:
            mac = parse_mac(args.wire_mac)
    except EthernetError as exc:
        parser.error(f"--wire-mac: {exc}")
    except (StackStartError, MapError) as exc:
        parser.error(str(exc))
    if args.wire is not None and args.jobs not in (0, 1):
        parser.error("--wire: one case at a time (-j 1): the cases share the device name")
    stack = StackSpec(responder=args.responder, responder_timeout=args.responder_timeout,
                      kernel=args.kernel, wire=args.wire, exec_command=args.exec_command,
                      ready=args.ready, wire_mac=mac, wire_setup=args.wire_setup,
                      maps=tuple(args.map))
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
        stack=stack,
        skip_slow=args.skip_slow,
        crash_dir=args.crash_dir,
        timeline=args.html is not None,
    )


def _same_file(first: str, second: str) -> bool:
    """Whether two paths name one file (the same path, a symlink or a hard link)."""
    if os.path.abspath(first) == os.path.abspath(second):
        return True
    try:
        return os.path.samefile(first, second)
    except OSError:  # one does not exist yet: it cannot be the other
        return False


def _refuse_overwriting_inputs(args: argparse.Namespace,
                               parser: argparse.ArgumentParser) -> None:
    """An output that is one of the inputs (the same file, also through a symlink or a
    hard link) would be destroyed by opening it, or read back as it grows; two outputs
    in one file would leave only the last: refuse both."""
    outputs = [(flag, path) for flag, path in (("--write", args.write), ("--junit", args.junit),
                                               ("--html", args.html))
               if path is not None]
    for number, (flag, output) in enumerate(outputs):
        for path in args.files:
            if _same_file(path, output):
                parser.error(f"{flag} {output} is the input {path}: refusing to overwrite it")
        for other_flag, other in outputs[:number]:
            if _same_file(other, output):
                parser.error(f"{flag} {output} is the {other_flag} output: give two files")


def _replay_one(job: tuple[str, Options]) -> FileResult:
    path, options = job
    return replay_file(path, options)


def _run(files: list[str], options: Options, jobs: int, golden: GoldenWriter | None,
         progress: Progress) -> list[FileResult]:
    if golden is not None:
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
    _refuse_overwriting_inputs(args, parser)
    if args.write is not None and args.jobs not in (0, 1):
        print("replay: --write replays the files one after another (-j ignored)",
              file=sys.stderr)
    progress = Progress(len(args.files))
    golden = GoldenWriter(args.write) if args.write is not None else None
    try:
        try:
            results = _run(args.files, options, args.jobs, golden, progress)
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
    if golden is not None and golden.error is not None:  # a full disk, an odd time
        print(f"replay: {golden.error}", file=sys.stderr)
        code = EXIT_USAGE
    try:
        if args.json:
            settings: dict[str, object] = {
                "expect": options.expect, "profile": args.profile or "from metadata",
                "ignore": sorted(options.ignore), "tolerance": options.tolerance,
                "settle": options.settle, "responder": options.stack.describe(),
                "stack": options.stack.kind,
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
