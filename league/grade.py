"""Grade one stack on a set of corpus cases through ``replay``: the seam to the harness.

Every kind of stack is graded by the same command, so the league judges them all with the
same comparison and the same ``linux`` profile:

- in-process (tunstack's core): ``replay CASES --expect --profile linux --json``;
- kernel (the reference): the same with ``--kernel``;
- wire (every other stack): the same with ``--wire DEV --exec START [--map R=A]
  [--ready S]``: replay starts the stack per case in a fresh namespace, injects from the
  kernel side and calls a stack that exits or stops answering "crashed", with a
  reproducer pcapng (docs/replay.md).

The outcome is a :class:`StackResult`: a verdict per case, or one line saying why the stack
did not start. A ``replay`` that fails in a way no stack can cause (its usage message, no
JSON) is a harness error: :class:`HarnessError`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from league.build import BUILD_DIR, last_line
from league.definition import StackDefinition

__all__ = ["CaseVerdict", "Finding", "HarnessError", "StackResult", "replay_command",
           "grade_stack", "parse_replay_json", "did_not_start"]

# Verdicts that count as run; "skipped" cases are not run.
PASSED = "pass"
FAILED_VERDICTS = ("mismatch", "deviates", "crashed", "hung", "error")


class HarnessError(Exception):
    """The harness itself failed (not the stack): one line; the league exits 1."""


@dataclass
class CaseVerdict:
    case: str
    verdict: str  # pass, mismatch, deviates, crashed, hung, skipped
    summary: str = ""  # the first difference, or the crash's one line


@dataclass
class Finding:
    """A crash or hang: the case, the reproducer and what the stack said."""

    case: str
    verdict: str  # crashed | hung
    reproducer: str  # a pcapng path ("" when replay wrote none)
    message: str  # the stack's own last output line(s), or replay's one line


@dataclass
class StackResult:
    name: str
    title: str
    kind: str
    version: str = "unknown"
    origin: str = ""
    started: bool = True
    why: str = ""  # did not start: why (one line)
    seconds: float = 0.0
    verdicts: list[CaseVerdict] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    notes: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StackResult:
        values = dict(data)
        values["verdicts"] = [CaseVerdict(**v) for v in data.get("verdicts", [])]
        values["findings"] = [Finding(**f) for f in data.get("findings", [])]
        return cls(**values)


def did_not_start(definition: StackDefinition, why: str, version: str = "unknown") -> StackResult:
    return StackResult(name=definition.name, title=definition.title, kind=definition.kind,
                       version=version, origin=definition.origin, started=False, why=why,
                       notes=definition.notes)


def replay_command(definition: StackDefinition, cases: list[Path], crash_dir: Path,
                   build_dir: Path = BUILD_DIR, python: str = sys.executable) -> list[str]:
    """The replay command line that grades ``definition`` on ``cases``."""
    command = [python, "-m", "replay", *map(str, cases), "--expect", "--profile", "linux",
               "--json"]
    if definition.kind == "kernel":
        command.append("--kernel")
    elif definition.kind == "wire":
        command += ["--wire", definition.device_name,
                    "--exec", definition.expand(definition.start, build_dir, python),
                    "--crash-dir", str(crash_dir)]
        for item in definition.map:
            command += ["--map", item]
        if definition.ready is not None:
            command += ["--ready", f"{definition.ready:g}"]
    return command


def _verdict_of(case: dict[str, Any]) -> str:
    if isinstance(case.get("verdict"), str):
        return str(case["verdict"])
    if case.get("skipped"):
        return "skipped"
    kinds = {m.get("kind") for m in case.get("mismatches", [])}
    for kind in ("crashed", "hung", "error"):
        if kind in kinds:
            return kind
    if case.get("excused"):
        return "deviates"
    return PASSED if case.get("passed") else "mismatch"


# Words that mark the line of a stack's output saying why it died (a Go panic, glibc's
# heap checks, an assertion), rather than its banner or a traceback's last frame.
_TELLING = ("panic", "abort", "assert", "corrupt", "invalid", "fault", "error", "fatal")


def _crash_message(summary: str, output: object) -> str:
    """How replay saw the crash, then what the stack itself said about it."""
    said = [str(line) for line in output] if isinstance(output, list) else []
    telling = [line for line in said if any(word in line.lower() for word in _TELLING)]
    own = " / ".join(telling[-2:] or said[-1:])
    if not own or own.strip() in summary:  # replay's summary may quote it already
        return summary
    return f"{summary}; the stack said: {own}" if summary else own


def parse_replay_json(text: str) -> tuple[list[CaseVerdict], list[Finding]]:
    """The verdicts and findings in ``replay --json`` output; HarnessError if it is not."""
    try:
        report = json.loads(text)
        files = report["files"]
    except (ValueError, KeyError, TypeError):
        raise HarnessError("replay printed no JSON report") from None
    verdicts: list[CaseVerdict] = []
    findings: list[Finding] = []
    for file in files:
        if file.get("error"):
            raise HarnessError(f"replay could not read {file.get('path')}: {file['error']}")
        for case in file.get("cases", []):
            name = Path(str(file.get("path", ""))).stem if len(file["cases"]) == 1 \
                else str(case.get("name"))
            verdict = _verdict_of(case)
            mismatches = case.get("mismatches") or []
            summary = ""
            if verdict == "skipped":
                summary = str(case.get("skipped") or "")
            elif mismatches:
                first = mismatches[0]
                summary = f"{first.get('where', '')}: {first.get('summary', '')}".strip(": ")
                details = first.get("details") or []
                if details:  # the first field that differs says most
                    summary += f" ({details[0]})"
            verdicts.append(CaseVerdict(name, verdict, summary))
            if verdict in ("crashed", "hung"):
                findings.append(Finding(name, verdict, str(case.get("reproducer") or ""),
                                        _crash_message(summary, case.get("stack_output"))))
    return verdicts, findings


def grade_stack(definition: StackDefinition, cases: list[Path], version: str,
                crash_dir: Path, budget: float, build_dir: Path = BUILD_DIR) -> StackResult:
    """Run replay on ``cases`` for ``definition`` within ``budget`` seconds."""
    command = replay_command(definition, cases, crash_dir, build_dir)
    started = time.monotonic()
    try:
        done = subprocess.run(command, capture_output=True, text=True, errors="replace",
                              timeout=budget, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return did_not_start(definition, f"grading did not finish within {budget:.0f} s "
                                         f"({len(cases)} cases)", version)
    seconds = time.monotonic() - started
    if done.returncode == 2:
        line = last_line(done.stderr)
        if "usage:" in done.stderr and "error:" in line:
            raise HarnessError(f"replay refused the league's command: {line}")
        return did_not_start(definition, line or "replay exit 2", version)
    if done.returncode not in (0, 1):
        raise HarnessError(f"replay exited {done.returncode} grading {definition.name}: "
                           f"{last_line(done.stderr)}")
    verdicts, findings = parse_replay_json(done.stdout)
    return StackResult(name=definition.name, title=definition.title, kind=definition.kind,
                       version=version, origin=definition.origin, seconds=round(seconds, 1),
                       verdicts=verdicts, findings=findings, notes=definition.notes)
