"""Helpers shared by the live tests (test_live*.py, test_fifo*.py): start ``stack-live``
inside a namespace the test created, wait until it answers, always stop it.

Every subprocess has a timeout and is killed in a ``finally``; the namespaces come from
``stack.live.netns.temporary_netns("ts-live")``, which deletes them on the way out.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from stack.live.netns import run_in
from stack.wire.checksum import checksum

LIVE = [sys.executable, "-m", "stack"]

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/net/tun") or shutil.which("ip") is None,
    reason="live tests need root, /dev/net/tun and ip (CI runs them as root)")


@dataclass
class Running:
    proc: subprocess.Popen[str]
    banner: list[str]
    stdout: str = ""
    stderr: str = ""
    returncode: int | None = None


def _read_banner(proc: subprocess.Popen[str], seconds: float) -> list[str]:
    """stderr lines up to "Ctrl-C to stop" (set-up done, root dropped), or up to exit.
    Read from the descriptor itself: a buffered readline would swallow later lines."""
    assert proc.stderr is not None
    fd = proc.stderr.fileno()
    text = ""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and "Ctrl-C to stop" not in text:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        text += chunk.decode("utf-8", "replace")
    lines = text.splitlines()
    if "Ctrl-C to stop" not in text:
        raise AssertionError(f"stack-live did not start: {lines}")
    return lines


@contextlib.contextmanager
def live_stack(namespace: str, *args: str, startup: float = 20.0,
               runner: tuple[str, ...] = ()) -> Iterator[Running]:
    """Run ``stack-live ARGS`` inside ``namespace`` (through ``runner``, e.g. setpriv);
    on exit send SIGINT and collect its output (into the yielded object) within 10 s,
    else kill it."""
    proc = subprocess.Popen(["ip", "netns", "exec", namespace, *runner, *LIVE, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    running = Running(proc, [])
    try:
        running.banner = _read_banner(proc, startup)
        yield running
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate(timeout=5)
        running.stdout, running.stderr, running.returncode = out, err, proc.returncode


def shared_directory(directory: os.PathLike[str] | str) -> str:
    """``directory`` made writable by everyone (sticky, like /tmp): stack-live writes
    --record and --fifo-log only where the account it drops to could write itself
    (stack/live/files.py), and pytest's tmp_path is root's own 0700 directory."""
    os.chmod(directory, 0o1777)
    return os.fspath(directory)


def ping(namespace: str, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    if shutil.which("ping") is None:  # a fresh machine: one line, not a traceback
        pytest.fail("no ping command: apt-get install iputils-ping", pytrace=False)
    return run_in(namespace, ["ping", *args], timeout=timeout)


def loss_of(output: str) -> str:
    """The "N% packet loss" figure of ping's statistics."""
    for part in output.replace(",", "\n").splitlines():
        if "packet loss" in part:
            return part.strip()
    return f"no statistics in: {output[-300:]}"


def wait_answering(namespace: str, address: str, seconds: float = 10.0) -> bool:
    """Ping ``address`` once per try until it answers (the first echo of a fresh
    device may race the kernel's set-up)."""
    six = ["-6"] if ":" in address else []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ping(namespace, *six, "-c", "1", "-W", "1", address, timeout=5).returncode == 0:
            return True
    return False


def echo_reply_for(request: bytes) -> bytes | None:
    """What a careful responder writes for an IPv4 echo request (as the experiment's
    instruction file asks: swap the addresses, TTL 64, type 0, both checksums redone),
    or None for anything else."""
    if len(request) < 28 or request[0] != 0x45 or request[9] != 1 or request[20] != 8:
        return None
    header = bytearray(request[:20])
    header[8] = 64
    header[10:12] = b"\x00\x00"
    header[12:16], header[16:20] = request[16:20], request[12:16]
    header[10:12] = checksum(bytes(header)).to_bytes(2, "big")
    message = bytearray(request[20:])
    message[0] = 0
    message[2:4] = b"\x00\x00"
    message[2:4] = checksum(bytes(message)).to_bytes(2, "big")
    return bytes(header + message)


def fifo_ask(cmd: str, resp: str, line: str, seconds: float) -> str:
    """Write ``line`` to the command pipe and return the answer line ("" if none came
    within ``seconds``), the way ``echo … > cmd && timeout N cat resp`` does."""
    writer = os.open(cmd, os.O_WRONLY)
    try:
        os.write(writer, (line + "\n").encode())
    finally:
        os.close(writer)
    reader = os.open(resp, os.O_RDONLY | os.O_NONBLOCK)
    data = b""
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ready, _, _ = select.select([reader], [], [], 0.2)
            if not ready:
                continue
            chunk = os.read(reader, 1 << 20)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(reader)
    return data.decode().strip()
