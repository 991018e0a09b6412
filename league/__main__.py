"""``python -m league``: build the stacks, grade them on corpus/linux, write the table.

    python -m league                      # every stack, every case: docs/league.md
    python -m league --only lwip,slirp    # re-grade some rows, keep the others
    python -m league --quick              # a representative subset (CI), to league/build/quick
    python -m league --stack FILE         # bring your own stack: grade it alone
    python -m league build [--only ...]   # (re)build the shims and print the versions
    python -m league list                 # the stacks and how each is started

Exit status: 0 when the league ran, whatever the stacks scored; 1 on a harness error
(replay itself failed); 2 on bad usage (unknown stack, unusable definition file).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from league.build import BUILD_DIR, build_stack, stack_version
from league.categories import QUICK_CASES
from league.definition import (
    LEAGUE_DIR,
    DefinitionError,
    StackDefinition,
    load_definition,
    load_shipped,
)
from league.grade import HarnessError, StackResult, did_not_start, grade_stack
from league.report import HEATMAP_NAME, render_markdown, render_svg

__all__ = ["main", "build_parser"]

REPO = LEAGUE_DIR.parent
CORPUS = REPO / "corpus" / "linux"
PEERS = REPO / "corpus" / "peers"
DOCS = REPO / "docs"
RESULTS_NAME = "league-results.json"
BEGIN, END = "<!-- league:begin -->", "<!-- league:end -->"
FULL_BUDGET, QUICK_BUDGET = 3600.0, 600.0  # seconds of grading per stack


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m league",
        description="Grade real IP stacks (lwIP, LWIPv6, libslirp, gVisor netstack, PyTCP, "
                    "tunstack, Linux) on corpus/linux and write docs/league.md.")
    parser.add_argument("action", nargs="?", default="run", choices=("run", "build", "list"),
                        help="run (default): build what is missing, grade, write the table; "
                             "build: rebuild the shims; list: the stacks")
    parser.add_argument("--only", metavar="NAME[,NAME]",
                        help="only these stacks (the other rows of the table are kept)")
    parser.add_argument("--quick", action="store_true",
                        help=f"a representative subset of {len(QUICK_CASES)} cases "
                             "(written to league/build/quick unless --out)")
    parser.add_argument("--stack", metavar="FILE", type=Path,
                        help="bring your own stack: grade the stack FILE defines, alone "
                             "(docs/league.md, 'Bring your own stack')")
    parser.add_argument("--out", metavar="DIR", type=Path,
                        help="where league.md, its heatmap and results go (default docs/; "
                             "league/build/quick with --quick, league/build/NAME with --stack)")
    parser.add_argument("--budget", metavar="SECONDS", type=float,
                        help=f"grading time allowed per stack (default {FULL_BUDGET:.0f}, "
                             f"{QUICK_BUDGET:.0f} with --quick): past it, the row says so")
    return parser


def _select(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[StackDefinition]:
    try:
        stacks = [load_definition(args.stack)] if args.stack else load_shipped()
    except DefinitionError as error:
        print(f"league: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    if args.only:
        wanted = [name.strip() for name in args.only.split(",") if name.strip()]
        known = {s.name for s in stacks}
        unknown = [name for name in wanted if name not in known]
        if unknown or not wanted:
            parser.error(f"--only: no stack named {(unknown or [''])[0]!r} "
                         f"(known: {', '.join(sorted(known))})")
        stacks = [s for s in stacks if s.name in wanted]
    return stacks


def _commit() -> str:
    try:
        done = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return done.stdout.strip() or "unknown"


def _needs_root(definition: StackDefinition) -> bool:
    return definition.kind in ("wire", "kernel")


def grade_one(definition: StackDefinition, cases: list[Path], budget: float,
              crash_dir: Path) -> StackResult:
    """Build (if missing), version and grade one stack; a failure is the row's 'why'."""
    outcome = build_stack(definition)
    version = stack_version(definition)
    if not outcome.ok:
        return did_not_start(definition, outcome.why, version)
    if _needs_root(definition) and os.geteuid() != 0:
        return did_not_start(definition, "needs root (TUN/TAP devices in network namespaces)",
                             version)
    return grade_stack(definition, cases, version, crash_dir, budget)


def _keep_reproducers(result: StackResult) -> None:
    """Copy each finding's reproducer to corpus/peers/STACK/CASE.pcapng (one folder per
    stack, so `replay corpus/*/*.pcapng` never takes them for tunstack goldens)."""
    for finding in result.findings:
        source = Path(finding.reproducer)
        if not finding.reproducer or not source.is_file():
            continue
        target = PEERS / result.name / f"{finding.case}.pcapng"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        finding.reproducer = str(target.relative_to(REPO))


def _load_results(path: Path) -> list[StackResult]:
    try:
        return [StackResult.from_dict(item) for item in json.loads(path.read_text())["stacks"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def write_report(out: Path, results: list[StackResult], cases: int, command: str) -> Path:
    """league.md (its generated part between the markers), the heatmap, the results."""
    out.mkdir(parents=True, exist_ok=True)
    date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    generated = render_markdown(results, date=date, commit=_commit(), cases=cases,
                                command=command)
    page = out / "league.md"
    text = page.read_text(encoding="utf-8") if page.exists() else \
        f"# The league table\n\n{BEGIN}\n{END}\n"
    head, sep, rest = text.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        head, tail = text.rstrip("\n") + "\n\n", "\n"
    page.write_text(f"{head}{BEGIN}\n{generated}{END}{tail}", encoding="utf-8")
    (out / HEATMAP_NAME).write_text(render_svg(results), encoding="utf-8")
    (out / RESULTS_NAME).write_text(json.dumps(
        {"cases": cases, "stacks": [r.as_dict() for r in results]}, indent=1) + "\n")
    return page


def _print_row(result: StackResult) -> None:
    if not result.started:
        print(f"league: {result.name}: did not start: {result.why}", flush=True)
        return
    run = [v for v in result.verdicts if v.verdict != "skipped"]
    passed = sum(v.verdict == "pass" for v in run)
    extra = f", {len(result.findings)} crashed or hung" if result.findings else ""
    print(f"league: {result.name}: {passed}/{len(run)} cases as Linux{extra} "
          f"({result.seconds:.0f} s)", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.budget is not None and not 0 < args.budget <= 86400:
        parser.error("--budget: a number of seconds from 0 to 86400")
    stacks = _select(args, parser)
    if args.action == "list":
        for s in stacks:
            how = s.start or ("--kernel" if s.kind == "kernel" else "in process")
            print(f"{s.name:14} {s.kind:10} {s.device or '-':4} {how}")
        return 0
    if args.action == "build":
        failed = 0
        for s in stacks:
            outcome = build_stack(s, force=True)
            failed += not outcome.ok
            print(f"league: {s.name}: {'built' if outcome.ok else outcome.why}; "
                  f"version {stack_version(s)}", flush=True)
        return 1 if failed else 0
    cases = sorted(CORPUS.glob("*.pcapng"))
    if args.quick:
        cases = [c for c in cases if c.stem in QUICK_CASES]
    if not cases:
        print(f"league: no cases in {CORPUS}", file=sys.stderr)
        return 2
    publishing = not args.quick and not args.stack
    if args.out is not None:
        out = args.out
    elif args.stack:
        out = BUILD_DIR / stacks[0].name
    else:
        out = BUILD_DIR / "quick" if args.quick else DOCS
    budget = args.budget or (QUICK_BUDGET if args.quick else FULL_BUDGET)
    previous = {r.name: r for r in _load_results(out / RESULTS_NAME)} if args.only else {}
    fresh: dict[str, StackResult] = {}
    try:
        for definition in stacks:
            print(f"league: grading {definition.name} on {len(cases)} cases", flush=True)
            result = grade_one(definition, cases, budget, BUILD_DIR / "crashes" / definition.name)
            if publishing:
                _keep_reproducers(result)
            fresh[result.name] = result
            _print_row(result)
    except HarnessError as error:
        print(f"league: harness error: {error}", file=sys.stderr)
        return 1
    order = {s.name: (s.order, s.name) for s in (load_shipped() if not args.stack else stacks)}
    merged = {**previous, **fresh}
    results = sorted(merged.values(), key=lambda r: order.get(r.name, (1000, r.name)))
    command = "python -m league" + (" --quick" if args.quick else "") + \
        (f" --stack {args.stack}" if args.stack else "")
    page = write_report(out, results, len(cases), command)
    print(f"league: wrote {page} and {out / HEATMAP_NAME}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
