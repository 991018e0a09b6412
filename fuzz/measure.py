"""Line coverage of ``stack/`` reached by a set of inputs, with coverage.py.

Measured in a fresh child process (``python -m fuzz.measure TARGET DIR...``) so that
coverage starts before ``stack`` is imported and module-level lines count. Each target
is judged on the files it exists to reach:

- ``ipv4``, ``ipv6``, ``sequence``: ``stack/host/`` and ``stack/wire/`` (the core);
- ``tap``: the core plus ``stack/link/``;
- ``capture``: ``stack/capture.py``;  ``referee``: ``stack/wire/inspect.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Coverage", "measure", "SCOPES", "AREAS", "CORE_TARGETS", "AreaCoverage",
           "measure_areas"]

STACK = Path(__file__).resolve().parent.parent / "stack"
SCOPES: dict[str, tuple[str, ...]] = {
    "ipv4": ("host/", "wire/"),
    "ipv6": ("host/", "wire/"),
    "sequence": ("host/", "wire/"),
    "tap": ("host/", "wire/", "link/"),
    "capture": ("capture.py",),
    "referee": ("wire/inspect.py",),
}


@dataclass
class Coverage:
    target: str
    inputs: int
    covered: int
    statements: int

    @property
    def percent(self) -> float:
        return 100.0 * self.covered / self.statements if self.statements else 0.0


def measure(target: str, directories: list[Path]) -> Coverage:
    """Run every file in ``directories`` through ``target`` under coverage.py."""
    completed = subprocess.run(
        [sys.executable, "-m", "fuzz.measure", target, *map(str, directories)],
        capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"coverage of {target} failed: "
                           f"{completed.stderr.strip().splitlines()[-1:]}")
    values = json.loads(completed.stdout.strip().splitlines()[-1])
    return Coverage(target, values["inputs"], values["covered"], values["statements"])


def _in_scope(path: str, target: str) -> bool:
    relative = Path(path).resolve().relative_to(STACK).as_posix()
    return any(relative.startswith(scope) for scope in SCOPES[target])


def _child(target: str, directories: list[str]) -> None:
    import coverage

    from fuzz.runner import use_python_sources

    use_python_sources()
    tracer = coverage.Coverage(source=[str(STACK)], data_file=None, branch=False)
    tracer.start()
    from fuzz.targets import TARGETS
    from stack.oracle import OracleViolation

    run = TARGETS[target].run
    count = 0
    for directory in directories:
        for path in sorted(Path(directory).iterdir()):
            if not path.is_file():
                continue
            count += 1
            try:
                run(path.read_bytes())
            except OracleViolation:
                continue  # a finding still covers what it reached
    tracer.stop()
    covered = statements = 0
    data = tracer.get_data()
    files = set(data.measured_files())
    files |= {str(p) for p in STACK.rglob("*.py")}
    for filename in sorted(files):
        if not filename.startswith(str(STACK)) or not _in_scope(filename, target):
            continue
        _, executable, _, missing, _ = tracer.analysis2(filename)
        statements += len(executable)
        covered += len(executable) - len(missing)
    print(json.dumps({"inputs": count, "covered": covered, "statements": statements}))


# The areas ``stack-fuzz coverage`` reports over the union of the core targets: the
# host's policy (its configuration's checks apart: a fuzz target's config is fixed, so
# packets cannot reach them; tests/test_hostile.py does), the codecs the core imports
# (stack/host and stack/link import these wire modules; inspect.py is the referee's
# validator and udp.py serves the tests and the recorder), and the link layer.
AREAS: dict[str, tuple[str, ...]] = {
    "stack/host": tuple(f"host/{name}.py" for name in (
        "host", "ipv4", "ipv6", "pmtu", "ratelimit", "reassembly", "stats", "transport")),
    "stack/host/config.py": ("host/config.py",),
    "codecs": tuple(f"wire/{name}.py" for name in (
        "checksum", "icmpv4", "icmpv6", "ipv4", "ipv6", "tcp")),
    "stack/link": ("link/",),
}
CORE_TARGETS = ("ipv4", "ipv6", "sequence", "tap")


@dataclass
class AreaCoverage:
    area: str
    covered: int
    statements: int
    missing: dict[str, list[int]]  # file (relative to stack/) -> lines never reached

    @property
    def percent(self) -> float:
        return 100.0 * self.covered / self.statements if self.statements else 0.0


def measure_areas(runs: dict[str, list[Path]]) -> list[AreaCoverage]:
    """Line coverage of each of ``AREAS`` by every input of ``runs`` (target -> the
    directories of its inputs) together: what fuzzing alone reaches."""
    argv = [sys.executable, "-m", "fuzz.measure", "--areas"]
    for target, directories in runs.items():
        argv += [f"{target}={directory}" for directory in directories]
    completed = subprocess.run(argv, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"coverage of the core targets failed: "
                           f"{completed.stderr.strip().splitlines()[-1:]}")
    values = json.loads(completed.stdout.strip().splitlines()[-1])
    return [AreaCoverage(area, *values[area]) for area in AREAS]


def _areas_child(pairs: list[str]) -> None:
    import coverage

    from fuzz.runner import use_python_sources

    use_python_sources()
    tracer = coverage.Coverage(source=[str(STACK)], data_file=None, branch=False)
    tracer.start()
    from fuzz.targets import TARGETS
    from stack.oracle import OracleViolation

    for pair in pairs:
        target, _, directory = pair.partition("=")
        run = TARGETS[target].run
        folder = Path(directory)
        for path in sorted(folder.iterdir()) if folder.is_dir() else []:
            if path.is_file():
                try:
                    run(path.read_bytes())
                except OracleViolation:
                    continue  # a finding still covers what it reached
    tracer.stop()
    result: dict[str, tuple[int, int, dict[str, list[int]]]] = {}
    for area, prefixes in AREAS.items():
        covered = statements = 0
        missing: dict[str, list[int]] = {}
        for path in sorted(STACK.rglob("*.py")):
            relative = path.relative_to(STACK).as_posix()
            if not relative.startswith(prefixes):
                continue
            _, executable, _, lines, _ = tracer.analysis2(str(path))
            statements += len(executable)
            covered += len(executable) - len(lines)
            if lines:
                missing[relative] = list(lines)
        result[area] = (covered, statements, missing)
    print(json.dumps(result))


if __name__ == "__main__":
    if sys.argv[1] == "--areas":
        _areas_child(sys.argv[2:])
    else:
        _child(sys.argv[1], sys.argv[2:])
