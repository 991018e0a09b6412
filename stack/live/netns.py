"""Temporary network namespaces for live tests, benchmarks and the kernel recorder.

The network rule: traffic goes only to addresses inside namespaces we created, so every
namespace made here has a unique name and is deleted on exit, also on failure.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
import uuid
from collections.abc import Iterator

__all__ = ["temporary_netns", "inside_netns", "NetnsError", "run_in"]

_CLONE_NEWNET = 0x40000000


class NetnsError(RuntimeError):
    """A namespace could not be created, entered or deleted."""


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {done.stderr.strip() or 'failed'}")


@contextlib.contextmanager
def temporary_netns(prefix: str = "tunstack") -> Iterator[str]:
    """Create a namespace named ``<prefix>-<random>`` with loopback up; delete it on exit."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    _ip("netns", "add", name)
    try:
        _ip("-n", name, "link", "set", "lo", "up")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


def run_in(name: str, argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` inside namespace ``name`` (``ip netns exec``), capturing text output."""
    return subprocess.run(["ip", "netns", "exec", name, *argv], capture_output=True,
                          text=True, check=False, **kwargs)  # type: ignore[call-overload]


@contextlib.contextmanager
def inside_netns(name: str) -> Iterator[None]:
    """Move the calling thread into namespace ``name`` and back on exit. File
    descriptors opened inside (a TUN device) stay bound to that namespace."""
    libc = ctypes.CDLL(None, use_errno=True)
    original = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(f"/run/netns/{name}", os.O_RDONLY)
    except OSError as exc:
        os.close(original)
        raise NetnsError(f"no network namespace {name!r}: {exc.strerror}") from None
    try:
        if libc.setns(target, _CLONE_NEWNET) != 0:
            raise NetnsError(f"setns {name}: {os.strerror(ctypes.get_errno())}")
        try:
            yield
        finally:
            libc.setns(original, _CLONE_NEWNET)
    finally:
        os.close(target)
        os.close(original)
