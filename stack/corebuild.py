"""Which build of the core runs: compiled by mypyc, or the Python sources as they are.

``pip install -e .`` compiles the per-packet modules below with mypyc (setup.py) when a
C compiler is at hand: the same source, typed and turned into C extension modules that
sit beside the ``.py`` files, three to four times as fast on a ping (docs/bench.md).
The sources stay the truth; the compiled modules are used only when all of them are
present and none is older than its source, because a compiled module must never run next
to a pure copy of a module it calls into (mypyc reaches into its own classes' C layout).
Otherwise, and whenever ``TUNSTACK_PURE_PYTHON=1`` is set, the ``.py`` files are imported
instead: the fuzz targets do that, since atheris can only instrument Python bytecode.

``select()`` makes that choice once, from ``stack/__init__``, before any of these
modules is imported; ``describe()`` says which build runs and why. This file imports
nothing of ``stack`` so that setup.py can read ``COMPILED_MODULES`` from it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

__all__ = ["COMPILED_MODULES", "PURE_PYTHON_ENV", "select", "describe", "is_compiled"]

PURE_PYTHON_ENV = "TUNSTACK_PURE_PYTHON"

# The per-packet work: wire formats and host policy. HostConfig (read once per host,
# and free to take lists where it keeps tuples) and the inspector (a checker, not the
# stack) stay Python.
COMPILED_MODULES = (
    "stack.wire.checksum",
    "stack.wire.icmpv4",
    "stack.wire.icmpv6",
    "stack.wire.ipv4",
    "stack.wire.ipv6",
    "stack.wire.tcp",
    "stack.wire.udp",
    "stack.host.host",
    "stack.host.ipv4",
    "stack.host.ipv6",
    "stack.host.pmtu",
    "stack.host.ratelimit",
    "stack.host.reassembly",
    "stack.host.stats",
    "stack.host.transport",
)

_ROOT = Path(__file__).resolve().parent.parent
_choice: str | None = None


def source_path(module: str, root: Path = _ROOT) -> Path:
    """Where ``module``'s Python source is, under the directory that holds ``stack/``."""
    return root.joinpath(*module.split(".")).with_suffix(".py")


def _extension_path(module: str, root: Path) -> Path | None:
    source = source_path(module, root)
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = source.with_suffix(suffix)
        if candidate.exists():
            return candidate
    return None


def pure_reason(environ: dict[str, str] | os._Environ[str], root: Path = _ROOT,
                modules: Sequence[str] = COMPILED_MODULES) -> str | None:
    """Why the Python sources must run rather than the compiled modules, or None when the
    compiled build is complete and up to date."""
    if environ.get(PURE_PYTHON_ENV, "") not in ("", "0"):
        return f"{PURE_PYTHON_ENV}={environ[PURE_PYTHON_ENV]}"
    extensions = {module: _extension_path(module, root) for module in modules}
    missing = [module for module, path in extensions.items() if path is None]
    if len(missing) == len(modules):
        return "not compiled (no C compiler or mypyc at install time)"
    if missing:
        return f"compiled build incomplete ({missing[0]} missing); reinstall: pip install -e ."
    for module, path in extensions.items():
        assert path is not None
        if source_path(module, root).stat().st_mtime > path.stat().st_mtime:
            return f"{module} changed since it was compiled; rebuild: pip install -e ."
    return None


class _SourceFinder(importlib.abc.MetaPathFinder):
    """Imports the compiled modules' names from their ``.py`` files."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        source = source_path(fullname, self.root)
        if fullname not in COMPILED_MODULES or not source.is_file():
            return None  # a bundle without sources (pyinstaller) imports what it has
        return importlib.util.spec_from_file_location(fullname, source)


def select() -> None:
    """Choose the build (once per process): leave the compiled modules to the normal
    import system, or put the Python sources in front of them."""
    global _choice
    if _choice is not None:
        return
    reason = pure_reason(os.environ)
    if reason is None:
        _choice = "compiled with mypyc"
        return
    _choice = f"pure Python: {reason}"
    if any(_extension_path(module, _ROOT) for module in COMPILED_MODULES):
        # Just ahead of the path finder, which would prefer the extension modules, and
        # behind any import hook already installed: atheris instruments what the finders
        # after its own return, so the sources must come from one of those.
        finders = sys.meta_path
        position = next((index for index, finder in enumerate(finders)
                         if finder is importlib.machinery.PathFinder), len(finders))
        finders.insert(position, _SourceFinder(_ROOT))


def is_compiled() -> bool:
    """True when the core modules in use are mypyc's extension modules."""
    module = sys.modules.get("stack.host.host")
    if module is None:
        module = importlib.import_module("stack.host.host")
    return not (module.__file__ or "").endswith(".py")


def describe() -> str:
    """The build in use and, for the Python sources, why (for reports and --version)."""
    select()
    assert _choice is not None
    return _choice
