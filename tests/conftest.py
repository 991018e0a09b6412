"""Before any test runs: the system commands the collected tests need.

The live tests (and the live benchmark row) run ``ping`` and ``ip`` inside network
namespaces, as root; the full-disk test of ``replay --write`` mounts a tmpfs; tshark
reads recordings and chromium renders ``replay --html``. On a machine without one of
them the tests would fail on some unrelated assertion far from the cause, or one by one;
instead the run stops at once with one line naming the package and how to install it.
The commands that only root's tests run are required only where those tests run (root
and /dev/net/tun): elsewhere the tests skip themselves.

A test module that runs a system command adds itself to ``SYSTEM_COMMANDS``.
"""

from __future__ import annotations

import os
import shutil
from typing import NamedTuple

import pytest


class Requirement(NamedTuple):
    package: str  # the Debian package that provides the command
    modules: frozenset[str]  # the test modules that run it
    as_root: bool  # only root's tests run it (they skip themselves otherwise)


_NAMESPACES = frozenset({"test_bench", "test_corpus", "test_fifo_live", "test_live",
                         "test_live_support", "test_live_tap", "test_ipv4_linux",
                         "test_ipv6_linux", "test_hostile_live", "test_wire",
                         "test_sut_kernel", "test_fuzz_diff", "test_wireshark",
                         "test_live_workers", "test_league", "test_linux_differences"})
_PINGING = frozenset({"test_bench", "test_fifo_live", "test_live", "test_live_support",
                      "test_live_tap", "test_hostile_live", "test_wire", "test_live_workers"})
SYSTEM_COMMANDS: dict[str, Requirement] = {
    "ping": Requirement("iputils-ping", _PINGING, as_root=True),
    "ip": Requirement("iproute2", _NAMESPACES, as_root=True),
    "mount": Requirement("mount", frozenset({"test_hostile"}), as_root=True),
    "umount": Requirement("mount", frozenset({"test_hostile"}), as_root=True),
    "tshark": Requirement("tshark", frozenset({"test_wireshark"}), as_root=False),
    "chromium": Requirement("chromium", frozenset({"test_replay_html"}), as_root=False),
}
# the names a command is installed under (chromium-browser on older releases)
_ALTERNATIVES = {"chromium": ("chromium", "chromium-browser")}


def live_tests_can_run() -> bool:
    """Root and a TUN driver: the live tests run (otherwise they skip themselves, and
    so does the tmpfs test)."""
    return os.geteuid() == 0 and os.path.exists("/dev/net/tun")


def _installed(command: str) -> bool:
    return any(shutil.which(name) for name in _ALTERNATIVES.get(command, (command,)))


def missing_packages(modules: set[str], as_root: bool) -> list[tuple[str, str]]:
    """(command, package) for each command a module in ``modules`` runs and PATH lacks;
    root's commands only when ``as_root``."""
    return [(command, need.package) for command, need in SYSTEM_COMMANDS.items()
            if need.modules & modules and (as_root or not need.as_root)
            and not _installed(command)]


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    modules = {item.path.stem for item in items}
    missing = missing_packages(modules, live_tests_can_run())
    if missing:
        commands = ", ".join(command for command, _ in missing)
        packages = " ".join(sorted({package for _, package in missing}))
        raise pytest.UsageError(f"the tests need {commands}: apt-get install {packages}")
