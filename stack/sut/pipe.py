"""The pipe kind: a program speaking hex lines on stdin/stdout (``--responder CMD``).

The responder (``CMD``, split like a shell command line) reads one inbound packet per
line on stdin, as hex, and answers each with zero or more lines of hex (the packets it
sends), then an empty line. It is started once per case, so every case begins with a
fresh state, and stopped when the case ends with everything it started
(:mod:`stack.sut.process`). It has no timers: ``poll`` never has work.

Every write and every read obeys ``timeout``: stdin is non-blocking and written as the
pipe drains, so a responder that never reads (a full pipe) times out like one that
never answers. A responder that times out, exits, or writes something that is not hex
fails the case: :class:`StackHung` (the verdict "hung") for a timeout,
:class:`StackCrashed` ("crashed") when it died, else :class:`StackError`.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shlex
import subprocess
import time

from stack.host.stats import Stats
from stack.sut import Capabilities, StackCrashed, StackError, StackHung, StackStartError
from stack.sut.process import StackProcess, StartError

__all__ = ["PIPE", "PipeStack", "split_command"]

PIPE = Capabilities(exact_timers=True, deterministic=True, can_crash=True, kind="pipe")


def split_command(command: str, flag: str = "--responder") -> list[str]:
    """``command`` split like a shell line; StackStartError (one line) when it cannot be."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise StackStartError(f"{flag} {command!r}: {exc}") from None
    if not argv:
        raise StackStartError(f"{flag}: empty command")
    return argv


class PipeStack:
    """A :class:`stack.sut.StackUnderTest` around a responder process."""

    capabilities = PIPE

    def __init__(self, command: str, timeout: float = 30.0) -> None:
        self.command = command
        self.timeout = timeout
        self.stats = Stats()
        self.last_reason = ""
        argv = split_command(command)
        try:
            self._process = StackProcess(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         what=f"--responder {command!r}")
        except StartError as exc:
            raise StackStartError(str(exc)) from None
        popen = self._process.popen
        assert popen.stdin is not None and popen.stdout is not None
        self._stdin_fd = popen.stdin.fileno()
        self._stdout_fd = popen.stdout.fileno()
        os.set_blocking(self._stdin_fd, False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._stdout_fd, selectors.EVENT_READ)
        self._buffer = b""

    def _gone(self) -> str:
        """How the responder went away: its exit status, when it ends within a second."""
        return self._process.wait_exit(1.0) or "closed its pipes"

    def _crashed(self, when: str) -> StackError:
        ended = self._process.wait_exit(1.0)
        if ended is None:
            return StackError(f"responder closed its pipes {when}")
        return StackCrashed(f"responder {ended} {when}")

    def _write(self, data: bytes, deadline: float) -> None:
        """All of ``data`` to the responder's stdin before ``deadline`` (a full pipe the
        responder does not drain is a timeout, never a block)."""
        view = memoryview(data)
        with selectors.DefaultSelector() as writable:
            writable.register(self._stdin_fd, selectors.EVENT_WRITE)
            while view:
                try:
                    view = view[os.write(self._stdin_fd, view):]
                    continue
                except BlockingIOError:
                    pass
                except OSError:  # EPIPE: it closed stdin or died
                    raise self._crashed("before reading the packet") from None
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not writable.select(remaining):
                    raise StackHung(f"responder did not read the packet within "
                                     f"{self.timeout:g} s (its stdin is full)")

    def _readline(self, deadline: float) -> bytes:
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._selector.select(remaining):
                raise StackHung(f"responder gave no complete answer within "
                                 f"{self.timeout:g} s")
            chunk = os.read(self._stdout_fd, 65536)
            if not chunk:
                raise self._crashed("before answering")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.rstrip(b"\r")

    def handle(self, packet: bytes, now: float) -> list[bytes]:
        del now  # the line protocol carries no clock
        self.stats.received += 1
        deadline = time.monotonic() + self.timeout
        self._write(packet.hex().encode() + b"\n", deadline)
        answers: list[bytes] = []
        while True:
            line = self._readline(deadline)
            text = b"".join(line.split())  # tolerate spaces between bytes
            if not text:
                break
            try:
                answers.append(bytes.fromhex(text.decode("ascii")))
            except (ValueError, UnicodeDecodeError):
                shown = line[:40].decode("ascii", "replace")
                raise StackError(f"responder wrote {shown!r}, not a hex packet") from None
        if answers:
            self.stats.replies["responder.answer"] += len(answers)
            self.last_reason = "responder.answer"
        else:
            self.stats.drops["responder.no_answer"] += 1
            self.last_reason = "responder.no_answer"
        self.stats.sent += len(answers)
        return answers

    def poll(self, now: float) -> list[bytes]:
        return []

    def next_timer(self) -> float | None:
        return None

    def close(self) -> None:
        """Close stdin (a well-behaved responder ends), then stop the whole tree."""
        popen = self._process.popen
        with contextlib.suppress(OSError):
            if popen.stdin is not None:
                popen.stdin.close()
        self._selector.close()
        self._process.wait_exit(2.0)
        self._process.stop()
        if popen.stdout is not None:
            popen.stdout.close()
