"""Line coverage of ``stack/`` reached by a set of inputs, with coverage.py.

Measured in a fresh child process (``python -m fuzz.measure TARGET DIR...``) so that
coverage starts before ``stack`` is imported and module-level lines count. Each target
is judged on the files it exists to reach:

- ``ipv4``, ``ipv6``, ``sequence``: ``stack/host/`` and ``stack/wire/`` (the core);
- ``tap``: the core plus ``stack/link/``;
- ``capture``: ``stack/capture.py``;  ``referee``: ``stack/wire/inspect.py``.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Coverage", "measure", "SCOPES", "AREAS", "CORE_TARGETS", "AreaCoverage",
           "measure_areas", "core_codec_spans", "CODECS_AREA"]

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
# packets cannot reach them; tests/test_hostile.py does), the codecs the core uses (the
# functions and classes of stack/wire that the host's modules call, found by
# ``core_codec_spans`` below; the rest of stack/wire serves inspect, the tests and the
# recorder), and the link layer.
CODECS_AREA = "codecs the core uses"
AREAS: dict[str, tuple[str, ...]] = {
    "stack/host": tuple(f"host/{name}.py" for name in (
        "host", "ipv4", "ipv6", "pmtu", "ratelimit", "reassembly", "stats", "transport")),
    "stack/host/config.py": ("host/config.py",),
    CODECS_AREA: ("wire/",),
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
    codec_spans = core_codec_spans()
    for area, prefixes in AREAS.items():
        covered = statements = 0
        missing: dict[str, list[int]] = {}
        for path in sorted(STACK.rglob("*.py")):
            relative = path.relative_to(STACK).as_posix()
            if not relative.startswith(prefixes):
                continue
            _, executable, _, lines, _ = tracer.analysis2(str(path))
            if area == CODECS_AREA:
                spans = codec_spans.get(relative, [])
                executable = [n for n in executable if _within(n, spans)]
                lines = [n for n in lines if _within(n, spans)]
            statements += len(executable)
            covered += len(executable) - len(lines)
            if lines:
                missing[relative] = list(lines)
        result[area] = (covered, statements, missing)
    print(json.dumps(result))


# -- the codecs the core uses -------------------------------------------------------------
# The core is what ``Host`` and ``LinkHost`` are made of: ``stack/host/host.py`` and
# ``stack/link/linkhost.py`` and every ``stack`` module they import, transitively
# (``stack/link/describe.py``, stack-live's frame printer, is not among them). The
# codecs it uses are the top-level functions and classes of ``stack/wire`` that those
# modules name (``from stack.wire.X import f``, or ``f`` of an imported wire module),
# closed over the names those functions and classes use in turn inside ``stack/wire``.
# Their statements are the "codecs" area; the rest of stack/wire (inspect.py's
# dissector, parsers only the tests and the recorder call) is not the host's code.
CORE_ENTRIES = ("host/host.py", "link/linkhost.py")


def _module_file(module: str) -> Path | None:
    if not module.startswith("stack."):
        return None
    base = STACK.joinpath(*module.split(".")[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(tree: ast.Module) -> tuple[dict[str, Path], list[tuple[Path, str]]]:
    """(alias -> module file, [(module file, name)]) of a module's ``stack`` imports."""
    modules: dict[str, Path] = {}
    names: list[tuple[Path, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found = _module_file(alias.name)
                if found is not None and alias.asname:
                    modules[alias.asname] = found
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = _module_file(f"{node.module}.{alias.name}")
                if submodule is not None:
                    modules[alias.asname or alias.name] = submodule
                else:
                    found = _module_file(node.module)
                    if found is not None:
                        names.append((found, alias.name))
    return modules, names


def _parsed(path: Path, cache: dict[Path, ast.Module]) -> ast.Module:
    if path not in cache:
        cache[path] = ast.parse(path.read_text(), filename=str(path))
    return cache[path]


def _references(node: ast.AST, modules: dict[str, Path], imported: dict[str, Path],
                here: Path) -> set[tuple[Path, str]]:
    """The (module file, top-level name) pairs ``node`` uses: its bare names (found in
    ``here`` or imported by name) and ``alias.attribute`` of an imported module."""
    used: set[tuple[Path, str]] = set()
    for inner in ast.walk(node):
        if (isinstance(inner, ast.Attribute) and isinstance(inner.value, ast.Name)
                and inner.value.id in modules):
            used.add((modules[inner.value.id], inner.attr))
        elif isinstance(inner, ast.Name):
            used.add((imported.get(inner.id, here), inner.id))
    return used


def core_codec_spans() -> dict[str, list[tuple[int, int]]]:
    """File (relative to stack/) -> the line spans of the ``stack/wire`` functions and
    classes the core uses (the rule above)."""
    cache: dict[Path, ast.Module] = {}
    core: set[Path] = set()
    pending = [STACK / entry for entry in CORE_ENTRIES]
    wanted: set[tuple[Path, str]] = set()
    wire = STACK / "wire"
    while pending:
        path = pending.pop()
        if path in core or path.parent == wire:
            continue
        core.add(path)
        modules, names = _imports(_parsed(path, cache))
        for target in [*modules.values(), *(found for found, _ in names)]:
            if target.parent == wire:
                continue
            pending.append(target)
        imported = {name: found for found, name in names}
        wanted |= {ref for ref in _references(_parsed(path, cache), modules, imported, path)
                   if ref[0].parent == wire}
    spans: dict[str, list[tuple[int, int]]] = {}
    done: set[tuple[Path, str]] = set()
    while wanted:
        path, name = wanted.pop()
        if (path, name) in done:
            continue
        done.add((path, name))
        tree = _parsed(path, cache)
        modules, names = _imports(tree)
        imported = {alias: found for found, alias in names}
        for node in tree.body:
            if (isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name == name
                    and node.end_lineno is not None):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                spans.setdefault(path.relative_to(STACK).as_posix(), []).append(
                    (first, node.end_lineno))
                wanted |= {ref for ref in _references(node, modules, imported, path)
                           if ref[0].parent == wire and ref not in done}
    return {name: sorted(found) for name, found in sorted(spans.items())}


def _within(line: int, spans: list[tuple[int, int]]) -> bool:
    return any(first <= line <= last for first, last in spans)


if __name__ == "__main__":
    if sys.argv[1] == "--areas":
        _areas_child(sys.argv[2:])
    else:
        _child(sys.argv[1], sys.argv[2:])
