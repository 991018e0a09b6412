"""External responders: grade another implementation with the same captures and diffs.

The responder is a program (``--responder CMD``, split like a shell command line) that
reads one inbound packet per line on stdin, as hex, and answers each with zero or more
lines of hex (the packets it sends), then an empty line. It is started once per case, so
every case begins with a fresh state, and stopped when the case ends (stdin closed, then
terminated if it lingers). It has no timers: ``poll`` never has work.

A responder that does not answer within ``timeout`` seconds, exits, or writes something
that is not hex fails the case with :class:`ResponderError`.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shlex
import subprocess
import time

from stack.host.stats import Stats

__all__ = ["ExternalResponder", "ResponderError", "ResponderStartError", "split_command"]


class ResponderError(Exception):
    """The responder misbehaved (timeout, exit, bad output); one line."""


class ResponderStartError(Exception):
    """The responder cannot be started (bad command line, not found); one line."""


def split_command(command: str) -> list[str]:
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ResponderStartError(f"--responder {command!r}: {exc}") from None
    if not argv:
        raise ResponderStartError("--responder: empty command")
    return argv


class ExternalResponder:
    """Host-like (``handle``/``poll``/``next_timer``/``stats``/``last_reason``) wrapper
    around a responder process."""

    def __init__(self, command: str, timeout: float = 30.0) -> None:
        self.command = command
        self.timeout = timeout
        self.stats = Stats()
        self.last_reason = ""
        argv = split_command(command)
        try:
            self._process = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                             stdout=subprocess.PIPE, bufsize=0)
        except OSError as exc:
            raise ResponderStartError(
                f"--responder {command!r}: cannot start {argv[0]}: {exc.strerror}") from None
        assert self._process.stdin is not None and self._process.stdout is not None
        self._stdin = self._process.stdin
        self._stdout_fd = self._process.stdout.fileno()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._stdout_fd, selectors.EVENT_READ)
        self._buffer = b""

    def _gone(self) -> str:
        """How the responder went away: its exit status, when it exits within a second."""
        try:
            return f"exited with status {self._process.wait(timeout=1.0)}"
        except subprocess.TimeoutExpired:
            return "closed its pipes"

    def _readline(self, deadline: float) -> bytes:
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._selector.select(remaining):
                raise ResponderError(f"responder gave no complete answer within "
                                     f"{self.timeout:g} s")
            chunk = os.read(self._stdout_fd, 65536)
            if not chunk:
                raise ResponderError(f"responder {self._gone()} before answering")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.rstrip(b"\r")

    def handle(self, packet: bytes, now: float) -> list[bytes]:
        del now  # the line protocol carries no clock
        self.stats.received += 1
        try:
            self._stdin.write(packet.hex().encode() + b"\n")
            self._stdin.flush()
        except OSError:
            raise ResponderError(f"responder {self._gone()} before reading the packet") from None
        deadline = time.monotonic() + self.timeout
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
                raise ResponderError(f"responder wrote {shown!r}, not a hex packet") from None
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
        with contextlib.suppress(OSError):
            self._stdin.close()
        self._selector.close()
        try:
            self._process.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            self._process.terminate()
            try:
                self._process.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()
