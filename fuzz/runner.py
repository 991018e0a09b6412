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
import random
import sys
from typing import Any

__all__ = ["fuzz_main", "instrumented_modules", "MUTATOR_ENV"]

MUTATOR_ENV = "TUNSTACK_FUZZ_MUTATOR"

# Every module of the code under test a target can reach (imported inside the
# instrumentation context so atheris rewrites their bytecode).
instrumented_modules = (
    "stack.wire.checksum", "stack.wire.inspect", "stack.host.host", "stack.host.config",
    "stack.host.reassembly", "stack.host.ratelimit", "stack.host.pmtu", "stack.host.ipv4",
    "stack.host.ipv6", "stack.oracle", "stack.capture", "stack.link.linkhost",
    "stack.live.fifo",
)
_OPTIONAL_SUBMODULES = ("stack.host.transport", "stack.wire.udp", "stack.wire.tcp",
                        "stack.wire.ipv6", "stack.wire.icmpv6", "stack.wire.ipv4",
                        "stack.wire.icmp", "stack.link.arp", "stack.link.ethernet",
                        "stack.link.neighbours", "stack.host.icmp", "stack.host.icmpv6")


def fuzz_main(name: str, argv: list[str]) -> None:
    import atheris

    with atheris.instrument_imports(include=["stack"]):
        for module in instrumented_modules:
            importlib.import_module(module)
        for module in _OPTIONAL_SUBMODULES:
            try:
                importlib.import_module(module)
            except ModuleNotFoundError:
                continue  # not every layer exists in every version of the core

    from fuzz.targets import TARGETS, new_mutator

    target = TARGETS[name]
    run = target.run
    options: dict[str, Any] = {}
    if target.mutate is not None and os.environ.get(MUTATOR_ENV, "structured") != "plain":
        # Looked up at each call: atheris binds the real Mutate only once Fuzz() runs.
        mutator = new_mutator(target, 0, lambda data, size: atheris.Mutate(data, size))
        mutate = target.mutate

        def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
            mutator.rng = random.Random(seed)
            return mutate(mutator, data, max_size)

        options["custom_mutator"] = custom_mutator

    atheris.Setup(argv, run, **options)
    atheris.Fuzz()


if __name__ == "__main__":
    fuzz_main(sys.argv[1], [sys.argv[0], *sys.argv[2:]])
