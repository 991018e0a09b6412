"""Before any test runs: the system commands the collected tests need.

The live tests (and the live benchmark row) run ``ping`` and ``ip`` inside network
namespaces, as root; the full-disk test of ``replay --write`` mounts a tmpfs. On a
machine without them they would fail on some unrelated assertion far from the cause;
instead the run stops at once with one line naming the package and how to install it.
Without root (or /dev/net/tun) those tests skip themselves, so nothing is required then.

A test module that runs a system command adds itself to ``SYSTEM_COMMANDS``.
"""

from __future__ import annotations

import os
import shutil

import pytest

# command -> (the Debian package that provides it, the test modules that run it)
_LIVE = frozenset({"test_bench", "test_corpus", "test_fifo_live", "test_live",
                   "test_live_support", "test_live_tap", "test_ipv4_linux",
                   "test_ipv6_linux"})
SYSTEM_COMMANDS: dict[str, tuple[str, frozenset[str]]] = {
    "ping": ("iputils-ping", _LIVE - {"test_corpus", "test_ipv4_linux", "test_ipv6_linux"}),
    "ip": ("iproute2", _LIVE),
    # a small tmpfs, mounted and unmounted by the full-disk test of replay --write
    "mount": ("mount", frozenset({"test_hostile"})),
    "umount": ("mount", frozenset({"test_hostile"})),
}


def live_tests_can_run() -> bool:
    """Root and a TUN driver: the live tests run (otherwise they skip themselves, and
    so does the tmpfs test)."""
    return os.geteuid() == 0 and os.path.exists("/dev/net/tun")


def missing_packages(modules: set[str]) -> list[tuple[str, str]]:
    """(command, package) for each command a module in ``modules`` runs and PATH lacks."""
    return [(command, package) for command, (package, users) in SYSTEM_COMMANDS.items()
            if users & modules and shutil.which(command) is None]


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    if not live_tests_can_run():
        return
    modules = {item.path.stem for item in items}
    missing = missing_packages(modules)
    if missing:
        commands = ", ".join(command for command, _ in missing)
        packages = " ".join(sorted({package for _, package in missing}))
        raise pytest.UsageError(f"the tests need {commands}: "
                                f"apt-get install {packages}")
