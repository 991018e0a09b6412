"""Compile the per-packet core with mypyc when this machine can (stack/corebuild.py).

Everything else about the package is in pyproject.toml. The compiled modules are an
accelerator, never a requirement: with no C compiler, with mypyc failing, or with
TUNSTACK_PURE_PYTHON=1 set at install time, the install still succeeds and the same
sources run as Python (``stack.corebuild.describe()`` says which build runs).
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
COREBUILD = runpy.run_path(str(HERE / "stack" / "corebuild.py"))


def _say(message: str) -> None:
    print(f"tunstack setup: {message}", file=sys.stderr)


def compiled_extensions() -> list:
    if os.environ.get(COREBUILD["PURE_PYTHON_ENV"], "") not in ("", "0"):
        _say("pure Python requested; the core is not compiled")
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        _say("mypyc is not installed; the core runs as pure Python")
        return []
    sources = [str(COREBUILD["source_path"](module, HERE).relative_to(HERE))
               for module in COREBUILD["COMPILED_MODULES"]]
    try:
        return mypycify(sources, opt_level="3")
    except BaseException as exc:  # mypyc reports type errors by SystemExit
        _say(f"mypyc could not compile the core ({exc!r}); it runs as pure Python")
        return []


class OptionalBuildExt(build_ext):
    """A failed C build leaves a pure-Python install, not a failed one."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # distutils' CompileError, a missing compiler, ...
            # stack/corebuild.py runs the sources unless every module was compiled.
            _say(f"compiling the core failed ({exc}); it runs as pure Python")


setup(ext_modules=compiled_extensions(), cmdclass={"build_ext": OptionalBuildExt})
