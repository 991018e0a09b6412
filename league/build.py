"""Build each stack's shim into the league's build folder and record its version.

A definition's ``build`` commands run in order in a shell (bounded: BUILD_TIMEOUT each);
``builds`` names what they make, so ``python -m league`` builds only what is missing and
``python -m league build`` rebuilds everything. A build that fails is a value (the
stack's row says "did not start: ..."), never an exception.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from league.definition import LEAGUE_DIR, StackDefinition

__all__ = ["BUILD_DIR", "BUILD_TIMEOUT", "BuildOutcome", "build_stack", "is_built",
           "stack_version", "last_line"]

BUILD_DIR = LEAGUE_DIR / "build"
BUILD_TIMEOUT = 900.0  # seconds per command: gVisor's netstack takes ~1 min on 2 cores
VERSION_TIMEOUT = 30.0


@dataclass(frozen=True)
class BuildOutcome:
    ok: bool
    why: str = ""  # one line when not ok
    log: str = ""  # the commands' output


def last_line(text: str) -> str:
    """The last non-empty line of a program's output: its own error message, usually."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _expanded(definition: StackDefinition, items: tuple[str, ...], build_dir: Path) -> list[str]:
    return [definition.expand(item, build_dir, sys.executable) for item in items]


def is_built(definition: StackDefinition, build_dir: Path = BUILD_DIR) -> bool:
    return all(Path(item).exists() for item in _expanded(definition, definition.builds, build_dir))


def build_stack(definition: StackDefinition, build_dir: Path = BUILD_DIR,
                force: bool = False) -> BuildOutcome:
    """Run the definition's build commands (unless everything they make exists)."""
    if not definition.build or (not force and definition.builds and is_built(definition,
                                                                             build_dir)):
        return BuildOutcome(ok=True)
    build_dir.mkdir(parents=True, exist_ok=True)
    log: list[str] = []
    for command in _expanded(definition, definition.build, build_dir):
        log.append(f"$ {command}")
        try:
            done = subprocess.run(command, shell=True, cwd=build_dir, capture_output=True,
                                  text=True, errors="replace", timeout=BUILD_TIMEOUT,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return BuildOutcome(False, f"build timed out after {BUILD_TIMEOUT:.0f} s: {command}",
                                "\n".join(log))
        log.append(done.stdout + done.stderr)
        if done.returncode != 0:
            why = last_line(done.stderr) or last_line(done.stdout) or f"exit {done.returncode}"
            return BuildOutcome(False, f"build failed ({command.split()[0]}): {why}",
                                "\n".join(log))
    missing = [item for item in _expanded(definition, definition.builds, build_dir)
               if not Path(item).exists()]
    if missing:
        return BuildOutcome(False, f"the build did not make {missing[0]}", "\n".join(log))
    return BuildOutcome(ok=True, log="\n".join(log))


def stack_version(definition: StackDefinition, build_dir: Path = BUILD_DIR) -> str:
    """What the definition's version command prints (first line), or why there is none."""
    if not definition.version:
        return "unknown"
    command = definition.expand(definition.version, build_dir, sys.executable)
    try:
        done = subprocess.run(command, shell=True, capture_output=True, text=True,
                              errors="replace", timeout=VERSION_TIMEOUT,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return "unknown (version command timed out)"
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return f"unknown ({last_line(done.stderr) or 'no output'})"
    return lines[0].strip()
