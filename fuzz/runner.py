"""The atheris glue shared by the target files ``fuzz/<name>.py``.

``fuzz_main(name, argv)`` instruments ``stack`` (coverage feedback for libFuzzer),
installs the target's structure-aware mutator and hands over to libFuzzer, which never
returns. ``TUNSTACK_FUZZ_MUTATOR=plain`` leaves libFuzzer's own byte mutations alone,
for the side-by-side comparison; it is an environment variable so that the children of
libFuzzer's fork mode inherit it.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import random
import sys
from typing import Any

__all__ = ["fuzz_main", "use_python_sources", "MUTATOR_ENV", "ARGV0_ENV"]

MUTATOR_ENV = "TUNSTACK_FUZZ_MUTATOR"
ARGV0_ENV = "TUNSTACK_FUZZ_ARGV0"

# The modules under test, imported inside the instrumentation context so atheris
# rewrites their bytecode; the checkers (the oracle, and the inspector except for the
# referee target, which tests it) are imported before it, so they run at full speed
# and their branches do not count as new behaviour of the host.
_UNDER_TEST = (
    "stack.wire", "stack.host", "stack.link", "stack.capture", "stack.live.fifo",
)
_CHECKERS = ("stack.oracle", "stack.wire.inspect")


def use_python_sources() -> None:
    """Run the core from its ``.py`` files even where it was compiled (stack/corebuild.py):
    atheris and coverage.py see only Python bytecode. Called before ``stack`` is
    imported; the variable also reaches libFuzzer's fork-mode workers."""
    if "stack" in sys.modules:
        raise RuntimeError("stack was imported before the fuzz harness chose its build")
    os.environ["TUNSTACK_PURE_PYTHON"] = "1"


def _import_everything_under(package: str) -> None:
    module = importlib.import_module(package)
    for info in pkgutil.iter_modules(getattr(module, "__path__", []), package + "."):
        importlib.import_module(info.name)


def fuzz_main(name: str, argv: list[str]) -> None:
    import atheris

    use_python_sources()
    checkers = [m for m in _CHECKERS if not (name == "referee" and m == "stack.wire.inspect")]
    # ``stack/__init__`` imports the host, so nothing of ``stack`` may be imported before
    # this block; the checkers are left out by name instead.
    with atheris.instrument_imports(include=["stack"], exclude=checkers):
        for package in _UNDER_TEST:
            _import_everything_under(package)
    for module in checkers:
        importlib.import_module(module)

    from fuzz.targets import TARGETS, new_mutator

    target = TARGETS[name]
    run = target.run
    options: dict[str, Any] = {}
    if target.mutate is not None and os.environ.get(MUTATOR_ENV, "structured") != "plain":
        # Looked up at each call: atheris binds the real Mutate only once Fuzz() runs.
        mutator = new_mutator(target, 0, lambda data, size: atheris.Mutate(data, size))
        mutate = target.mutate
        mutator_failed: list[Exception] = []

        def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
            mutator.rng = random.Random(seed)
            try:
                return mutate(mutator, data, max_size)
            except Exception as exc:  # a mutator bug must not end the fuzzing run
                if not mutator_failed:
                    mutator_failed.append(exc)
                    print(f"stack-fuzz: the mutator raised {type(exc).__name__}: {exc} on "
                          f"{data[:64].hex()}; using libFuzzer's mutation for such inputs",
                          file=sys.stderr)
                return bytes(atheris.Mutate(data, max_size))

        options["custom_mutator"] = custom_mutator

    # libFuzzer's fork mode starts its workers by executing argv[0]; a .py file is not
    # executable, so stack-fuzz --jobs names a small shell wrapper here.
    argv = [os.environ.get(ARGV0_ENV, argv[0]), *argv[1:]]
    atheris.Setup(argv, run, **options)
    atheris.Fuzz()


if __name__ == "__main__":
    fuzz_main(sys.argv[1], [sys.argv[0], *sys.argv[2:]])
