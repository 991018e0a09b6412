"""``stack-fuzz``: run the fuzz targets, measure them, and turn findings into regressions.

    stack-fuzz list
    stack-fuzz run TARGET [--time S] [--runs N] [--jobs N] [--plain] [--seed N]
    stack-fuzz run wire --wire DEV [--exec CMD] [--time S] [--runs N] [--map R=A]
    stack-fuzz ci [--time-per-target S] [--targets T ...]
    stack-fuzz coverage [TARGET ...] [--runs N]
    stack-fuzz compare TARGET [--time S] [--seed N]
    stack-fuzz seeds TARGET (--out DIR | --zip FILE)
    stack-fuzz reproduce CRASH ... [--target T]
    stack-fuzz minimize CRASH [--target T] [-o OUT]
    stack-fuzz export CRASH [--target T] [--name NAME] [--force]
    stack-fuzz diff [--cases N] [--seed S] [--time S] [--json FILE] [--export DIR]
                    [--self-check | --responder CMD | --wire DEV [--exec CMD]] [--map A=B]

Exit status: 0 nothing found, 1 a finding (or a failed export), 2 bad usage or files.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from tabulate import tabulate

from stack.cliargs import bounded

if TYPE_CHECKING:
    from fuzz.targets import Target

__all__ = ["main"]


class UsageError(Exception):
    """Bad input from the user: one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error on one line (exit 2), as replay does."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


# Bounds of the numbers on the command line: a fuzz run must end (libFuzzer takes
# -runs=-1 as "for ever") and a time must be a time (NaN, inf and 0 are not).
_LONGEST_RUN = 7 * 86400.0
_MOST_RUNS = 2**31 - 1  # libFuzzer's -runs is an int
# An input is a packet or a short timeline (max_len is at most a few kB); anything much
# larger is not one, and /dev/zero must not be read to the end.
MAX_INPUT_BYTES = 16 * 1024 * 1024
# The names `seeds` writes (fuzz.workspace._name): label-sha1 prefix.
_SEED_NAME = re.compile(r"[A-Za-z0-9_.-]+-[0-9a-f]{10}")


_seconds = bounded(float, 0.001, _LONGEST_RUN, f"a duration (0.001 to {_LONGEST_RUN:.0f} s)")
_count = bounded(int, 1, _MOST_RUNS, f"a whole number from 1 to {_MOST_RUNS}")
_seed = bounded(int, 0, 2**32 - 1, f"a libFuzzer seed (0 to {2**32 - 1})")


def _file_name(text: str) -> str:
    """An argparse type: a plain file name (export --name), never a path out of the
    directory it is written in."""
    if not text or text in (".", "..") or "/" in text or "\0" in text:
        raise argparse.ArgumentTypeError(f"{text!r} is not a plain file name (no '/')")
    return text


def _export_directory(text: str) -> Path:
    """An argparse type: a directory that exists, or a new one in a directory that
    exists (``mkdir``, never ``mkdir -p``: a mistyped path must not become a tree)."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: not a directory")
    if not path.is_dir() and not path.absolute().parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: no such directory, nor is its parent")
    return path


def _seed_directory(path: Path) -> None:
    """``seeds --out`` empties its directory first: only a new or empty one, or one that
    holds nothing but seeds, may be emptied (never /etc)."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"--out {path}: not a directory")
    if path.is_dir():
        try:
            foreign = [p.name for p in path.iterdir() if not _SEED_NAME.fullmatch(p.name)]
        except OSError as exc:
            raise UsageError(f"--out {path}: {exc.strerror or exc}") from None
        if foreign:
            raise UsageError(f"--out {path}: holds files that are not seeds ({foreign[0]}, "
                             "...); give a new or empty directory")


def _target(name: str) -> Target:
    from fuzz.targets import TARGETS

    if name not in TARGETS:
        raise UsageError(f"unknown target {name!r}; choose from {', '.join(TARGETS)}")
    return TARGETS[name]


def _target_of(path: Path, given: str | None) -> Target:
    """The target named, or the one whose work directory holds ``path``."""
    from fuzz.targets import TARGETS

    if given:
        return _target(given)
    for part in reversed(path.resolve().parts):
        if part in TARGETS:
            return TARGETS[part]
    raise UsageError(f"{path}: cannot tell its target from the path; pass --target")


def _all_target_names() -> list[str]:
    from fuzz.targets import TARGETS

    return list(TARGETS)


def _read(path: Path) -> bytes:
    """The input file, at most MAX_INPUT_BYTES of it (a larger one is refused)."""
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from None
    if len(data) > MAX_INPUT_BYTES:
        raise UsageError(f"{path}: larger than {MAX_INPUT_BYTES} bytes: not a fuzz input")
    return data


def _hex_block(data: bytes, width: int = 64) -> str:
    text = data.hex()
    return "\n".join(text[i:i + width] for i in range(0, len(text), width)) or "(empty)"


def _report_finding(target_name: str, artifact: Path) -> None:
    from fuzz.regress import reproduce

    data = artifact.read_bytes()
    kind = artifact.name.split("-", 1)[0]
    print(f"FINDING in {target_name}: {kind} {artifact}")
    if kind == "crash":
        try:
            violation = reproduce(_target(target_name), data)
        except Exception as exc:  # noqa: BLE001 - a bug in the harness itself: say which
            print(f"the harness itself raised {type(exc).__name__}: {exc}")
        else:
            print(str(violation) if violation is not None else
                  "(does not reproduce in-process: an error outside the oracle)")
    print(f"reproducer ({len(data)} bytes, hex):")
    print(_hex_block(data))
    print(f"replay it: stack-fuzz reproduce {artifact} --target {target_name}")


# -- commands ---------------------------------------------------------------------------

def cmd_list(_: argparse.Namespace) -> int:
    from fuzz.targets import TARGETS

    rows = [(t.name, t.summary, "structured" if t.mutate else "libFuzzer",
             len(t.seeds()), t.max_len) for t in TARGETS.values()]
    print(tabulate(rows, headers=["target", "what", "mutator", "seeds", "max_len"]))
    print("wire: a real stack on a TUN/TAP/veth device, in a loop of our own "
          "(stack-fuzz run wire --wire DEV --exec CMD; docs/fuzzing.md)")
    return 0


def cmd_run_wire(args: argparse.Namespace) -> int:
    """``run wire``: a real stack on a device, in a bounded loop of our own (fuzz/wire.py)."""
    from fuzz.wire import command
    from stack.link.ethernet import EthernetError, parse_mac
    from stack.sut import StackStartError
    from stack.sut.addressmap import AddressMap, MapError
    from stack.sut.pipe import split_command
    from stack.sut.spec import StackSpec

    if args.wire is None:
        raise UsageError("run wire needs --wire DEV (and usually --exec CMD)")
    if args.time is None and args.runs is None:
        raise UsageError("give a bound: --time SECONDS and/or --runs N")
    try:
        if args.exec_command is not None:
            split_command(args.exec_command, "--exec")
        AddressMap.parse(args.map)
        mac = parse_mac(args.wire_mac) if args.wire_mac else None
    except (StackStartError, MapError, EthernetError) as exc:
        raise UsageError(str(exc)) from None
    spec = StackSpec(wire=args.wire, exec_command=args.exec_command, ready=args.ready,
                     wire_mac=mac, wire_setup=args.wire_setup, maps=tuple(args.map))
    try:
        return command(spec, args.workdir, args.runs, args.time, args.seed or 0)
    except StackStartError as exc:
        raise UsageError(str(exc)) from None


def cmd_run(args: argparse.Namespace) -> int:
    from fuzz.workspace import run_libfuzzer

    if args.target == "wire":
        return cmd_run_wire(args)
    target = _target(args.target)
    if args.time is None and args.runs is None:
        raise UsageError("give a bound: --time SECONDS and/or --runs N")
    result = run_libfuzzer(target, workdir=args.workdir, seconds=args.time, runs=args.runs,
                           jobs=args.jobs, plain=args.plain, corpus=args.corpus,
                           seed=args.seed, echo=args.verbose)
    print(f"{target.name}: {result.executions} runs in {result.seconds:.1f} s, "
          f"{result.exec_per_sec:.0f} exec/s, cov {result.coverage}, ft {result.features}, "
          f"corpus {result.corpus_size}")
    for artifact in result.artifacts:
        _report_finding(target.name, artifact)
    if result.found and not result.artifacts:
        print(result.log[-3000:])
        print(f"{target.name}: libFuzzer exited with status {result.returncode}")
    return 1 if result.found else 0


def cmd_ci(args: argparse.Namespace) -> int:
    from fuzz.workspace import run_libfuzzer

    names = args.targets or _all_target_names()
    rows = []
    failed = False
    for name in names:
        target = _target(name)
        result = run_libfuzzer(target, workdir=args.workdir, seconds=args.time_per_target,
                               jobs=args.jobs, corpus=args.corpus, seed=args.seed)
        rows.append((name, f"{result.seconds:.0f}", result.executions,
                     f"{result.exec_per_sec:.0f}", result.coverage, result.corpus_size,
                     "FOUND" if result.found else "none"))
        print(f"{name}: {result.exec_per_sec:.0f} exec/s over {result.seconds:.0f} s, "
              f"{'FINDING' if result.found else 'no finding'}", flush=True)
        for artifact in result.artifacts:
            _report_finding(name, artifact)
        if result.found and not result.artifacts:
            print(result.log[-3000:])
        failed |= result.found
    print(tabulate(rows, headers=["target", "seconds", "runs", "exec/s", "cov", "corpus",
                                  "finding"]))
    return 1 if _check_final_corpora(names, Path(args.workdir)) or failed else 0


def _check_final_corpora(names: list[str], workdir: Path) -> bool:
    """ci's last step: every kept input again through the full oracle, dpkt on every
    output (fuzzing samples that cross-check); True when something breaks a rule."""
    from fuzz.regress import check_inputs

    found = False
    for name in names:
        base = workdir / name
        checked, findings = check_inputs(_target(name), [base / "seeds", base / "corpus"])
        print(f"{name}: final corpus of {checked} inputs checked in full: "
              f"{len(findings) or 'no'} finding{'s' if len(findings) != 1 else ''}")
        for path, violation in findings[:5]:
            print(f"FINDING in {name}: {path}\n{violation}")
        found |= bool(findings)
    return found


def cmd_coverage(args: argparse.Namespace) -> int:
    from fuzz.measure import CORE_TARGETS, measure
    from fuzz.workspace import run_libfuzzer

    names = args.targets or _all_target_names()
    rows = []
    with tempfile.TemporaryDirectory(prefix="stack-fuzz-cov-") as work:
        for name in names:
            target = _target(name)
            result = run_libfuzzer(target, workdir=Path(work), runs=args.runs,
                                   corpus=args.corpus, seed=args.seed, fresh=True)
            base = Path(work) / name
            seeds_only = measure(name, [base / "seeds"])
            fuzzed = measure(name, [base / "seeds", base / "corpus"])
            rows.append((name, args.runs, f"{seeds_only.percent:.1f}%",
                         f"{fuzzed.percent:.1f}%", f"{fuzzed.covered}/{fuzzed.statements}",
                         result.coverage, "FOUND" if result.found else "none"))
        print(f"line coverage of each target's part of stack/ (coverage.py), seeds alone "
              f"and after {args.runs} libFuzzer runs")
        print(tabulate(rows, headers=["target", "runs", "seeds", "fuzzed", "lines", "lf cov",
                                      "finding"]))
        _report_areas([name for name in names if name in CORE_TARGETS], Path(work))
    return 0


def _report_areas(names: list[str], work: Path) -> None:
    """What the core targets' inputs reach together: fuzzing alone, no test."""
    from fuzz.measure import measure_areas

    if not names:
        return
    areas = measure_areas({name: [work / name / "seeds", work / name / "corpus"]
                           for name in names})
    print(f"\nlines reached by fuzzing alone ({', '.join(names)} together)")
    print(tabulate([(a.area, f"{a.percent:.1f}%", f"{a.covered}/{a.statements}",
                     " ".join(f"{name}:{len(lines)}" for name, lines in a.missing.items()))
                    for a in areas], headers=["area", "lines", "reached", "missed per file"]))


def cmd_compare(args: argparse.Namespace) -> int:
    from fuzz.measure import measure
    from fuzz.workspace import run_libfuzzer

    target = _target(args.target)
    if target.mutate is None:
        raise UsageError(f"{target.name} has no custom mutator to compare")
    rows = []
    with tempfile.TemporaryDirectory(prefix="stack-fuzz-cmp-") as work:
        for label, plain in (("structured", False), ("plain libFuzzer", True)):
            workdir = Path(work) / label.split()[0]
            result = run_libfuzzer(target, workdir=workdir, seconds=args.time, plain=plain,
                                   corpus=args.corpus, seed=args.seed, fresh=True)
            lines = measure(target.name, [workdir / target.name / "corpus",
                                          workdir / target.name / "seeds"])
            rows.append((label, f"{result.seconds:.0f}", result.executions,
                         f"{result.exec_per_sec:.0f}", result.coverage, result.features,
                         result.corpus_size, f"{lines.covered}/{lines.statements}",
                         f"{lines.percent:.1f}%", "FOUND" if result.found else "none"))
    print(f"{target.name}: the same seeds, {args.time} s each, seed {args.seed}")
    print(tabulate(rows, headers=["mutator", "s", "runs", "exec/s", "cov", "ft", "corpus",
                                  "lines", "line %", "finding"]))
    return 0


def cmd_seeds(args: argparse.Namespace) -> int:
    from fuzz.workspace import prepare_seeds

    target = _target(args.target)
    if args.out is None and args.zip is None:
        raise UsageError("give --out DIR or --zip FILE")
    if args.out is not None:
        _seed_directory(Path(args.out))
    with tempfile.TemporaryDirectory(prefix="stack-fuzz-seeds-") as work:
        directory = Path(args.out) if args.out else Path(work)
        count = prepare_seeds(target, directory, args.corpus)
        if args.zip:
            try:
                with zipfile.ZipFile(args.zip, "w", zipfile.ZIP_DEFLATED) as archive:
                    for path in sorted(directory.iterdir()):
                        archive.write(path, path.name)
            except OSError as exc:
                raise UsageError(f"--zip {args.zip}: {exc.strerror or exc}") from None
    print(f"{target.name}: {count} seeds written to {args.zip or args.out}")
    if args.options:
        from fuzz.workspace import libfuzzer_options

        try:
            Path(args.options).write_text(libfuzzer_options(target))
        except OSError as exc:
            raise UsageError(f"{args.options}: {exc.strerror or exc}") from None
        print(f"{target.name}: options written to {args.options}")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from fuzz.regress import reproduce

    failed = 0
    for name in args.inputs:
        path = Path(name)
        target = _target_of(path, args.target)
        violation = reproduce(target, _read(path))
        if violation is None:
            print(f"{path}: {target.name}: no violation")
        else:
            failed += 1
            print(f"{path}: {target.name}: {violation}")
    return 1 if failed else 0


def cmd_minimize(args: argparse.Namespace) -> int:
    from fuzz.regress import ExportError, minimize

    path = Path(args.input)
    target = _target_of(path, args.target)
    data = _read(path)
    try:
        small, rule = minimize(target, data, max_attempts=args.attempts)
    except ExportError as exc:
        raise UsageError(f"{path}: {exc}") from None
    out = Path(args.output) if args.output else path.with_name(path.name + ".min")
    out.write_bytes(small)
    print(f"{path}: {len(data)} -> {len(small)} bytes, still breaks {rule}; written to {out}")
    print(_hex_block(small))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from fuzz.regress import ExportError, export, reproduce
    from stack.capture import CaptureError

    path = Path(args.input)
    target = _target_of(path, args.target)
    if not target.exportable:
        raise UsageError(f"{target.name} inputs are not packet timelines; keep the file as a "
                         f"test input instead")
    data = _read(path)
    before = reproduce(target, data)
    name = args.name or f"fuzz-{target.name}-{path.name.split('-')[-1][:12]}"
    try:
        written = export(target, data, Path(args.directory), name,
                         rule=before.rules[0] if before else None, force=args.force)
    except ExportError as exc:
        print(f"stack-fuzz: {path}: {exc}", file=sys.stderr)
        return 1
    except CaptureError as exc:  # the directory is not writable (/proc, a full disk)
        raise UsageError(str(exc)) from None
    print(f"{path}: written {written}; check it with: replay {written} --expect")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from fuzz.diff import DiffUsageError, command

    try:
        return command(args)
    except DiffUsageError as exc:
        raise UsageError(str(exc)) from None


# -- parser -----------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    from fuzz.diff import CONFORMANCE as CONFORMANCE_PATH
    from fuzz.workspace import DEFAULT_CORPUS, DEFAULT_WORKDIR

    parser = _Parser(prog="stack-fuzz", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR,
                         help="where corpora and artifacts go (default fuzz/work)")
        sub.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS,
                         help="captures whose packets become seeds (default corpus/)")
        sub.add_argument("--seed", type=_seed, default=None, help="libFuzzer -seed")

    sub = commands.add_parser("list", help="the targets")
    sub.set_defaults(func=cmd_list)

    sub = commands.add_parser("run", help="fuzz one target")
    sub.add_argument("target")
    sub.add_argument("--time", type=_seconds, help="seconds (libFuzzer -max_total_time)")
    sub.add_argument("--runs", type=_count, help="executions (libFuzzer -runs)")
    sub.add_argument("--jobs", type=_count, default=1, help="processes (libFuzzer -fork=N)")
    sub.add_argument("--plain", action="store_true", help="libFuzzer's mutations only")
    sub.add_argument("-v", "--verbose", action="store_true", help="show libFuzzer's output")
    wire = sub.add_argument_group("target wire: a real stack on a device (docs/fuzzing.md)")
    wire.add_argument("--wire", metavar="DEV", help="the device the stack owns")
    wire.add_argument("--exec", dest="exec_command", metavar="CMD",
                      help="start the stack (in a fresh namespace; it creates DEV)")
    wire.add_argument("--ready", type=_seconds, default=10.0, metavar="SECONDS",
                      help="how long it may take to answer its first ping (default 10)")
    wire.add_argument("--wire-mac", metavar="MAC", help="its MAC on a TAP/veth device")
    wire.add_argument("--wire-setup", action="store_true",
                      help="clear the kernel side of DEV instead of refusing it")
    wire.add_argument("--map", action="append", default=[], metavar="RECORDED=ACTUAL",
                      help="the stack's address where the seeds have 172.16.0.2 etc.")
    common(sub)
    sub.set_defaults(func=cmd_run)

    sub = commands.add_parser("ci", help="every target for a bounded time; fail on a finding")
    sub.add_argument("--time-per-target", type=_seconds, default=60.0)
    sub.add_argument("--targets", nargs="*")
    sub.add_argument("--jobs", type=_count, default=1)
    common(sub)
    sub.set_defaults(func=cmd_ci)

    sub = commands.add_parser("coverage", help="coverage.py line coverage per target")
    sub.add_argument("targets", nargs="*")
    sub.add_argument("--runs", type=_count, default=2000)
    common(sub)
    sub.set_defaults(func=cmd_coverage)

    sub = commands.add_parser("compare", help="custom mutator against plain libFuzzer")
    sub.add_argument("target")
    sub.add_argument("--time", type=_seconds, default=30.0)
    common(sub)
    sub.set_defaults(func=cmd_compare, seed=1)

    sub = commands.add_parser("seeds", help="write a target's seed inputs")
    sub.add_argument("target")
    sub.add_argument("--out", help="directory")
    sub.add_argument("--zip", help="zip file (ClusterFuzzLite's <target>_seed_corpus.zip)")
    sub.add_argument("--options", metavar="FILE",
                     help="also write libFuzzer's options (<target>.options: max_len, dict)")
    sub.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    sub.set_defaults(func=cmd_seeds)

    sub = commands.add_parser("reproduce", help="run inputs through the oracle")
    sub.add_argument("inputs", nargs="+")
    sub.add_argument("--target", "-t")
    sub.set_defaults(func=cmd_reproduce)

    sub = commands.add_parser("minimize", help="shrink an input that breaks a rule")
    sub.add_argument("input")
    sub.add_argument("--target", "-t")
    sub.add_argument("--output", "-o")
    sub.add_argument("--attempts", type=_count, default=4000)
    sub.set_defaults(func=cmd_minimize)

    sub = commands.add_parser("export", help="write an input as a replay case")
    sub.add_argument("input")
    sub.add_argument("--target", "-t")
    sub.add_argument("--name", type=_file_name,
                     help="the case's file name, without .pcapng (no '/')")
    sub.add_argument("--directory", type=_export_directory,
                     default=DEFAULT_CORPUS / "regress",
                     help="where the case goes: a directory, or a new one in an existing "
                          "directory (default corpus/regress)")
    sub.add_argument("--force", action="store_true",
                     help="record the current answer even though it breaks a rule")
    sub.set_defaults(func=cmd_export)

    sub = commands.add_parser("diff", help="differential fuzzing against the live kernel "
                              "(docs/fuzzing.md)")
    sub.add_argument("--cases", type=int, default=1000, help="cases to run (default 1000)")
    sub.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    sub.add_argument("--time", type=float, help="stop starting chunks after S seconds")
    sub.add_argument("--json", help="write the outcome as JSON")
    sub.add_argument("--export", help="write each signature's example as a corpus case")
    sub.add_argument("--self-check", action="store_true",
                     help="the kernel against a second kernel: must agree on every case")
    sub.add_argument("--responder", metavar="CMD",
                     help="compare a hex-line responder program (stack/sut/pipe.py) instead")
    sub.add_argument("--wire", metavar="DEV",
                     help="compare the real stack that owns DEV (stack/sut/wire.py) instead")
    sub.add_argument("--exec", dest="exec_command", metavar="CMD",
                     help="with --wire: run CMD per case in a fresh namespace (it creates DEV)")
    sub.add_argument("--map", action="append", default=[], metavar="RECORDED=ACTUAL",
                     help="the compared stack has address ACTUAL where the cases use RECORDED")
    sub.add_argument("--conformance", default=str(CONFORMANCE_PATH),
                     help="where the deliberate deviations are listed")
    sub.add_argument("--no-minimise", action="store_true", help="keep examples as found")
    sub.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    sub.set_defaults(func=cmd_diff)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"stack-fuzz: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a work directory or output that cannot be made or written
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"stack-fuzz: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stack-fuzz: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # stdout closed by its reader (stack-fuzz ... | head): stop quietly, as cat does,
        # and keep the interpreter's own flush at exit from failing again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())

