"""The event loop of ``stack-live``: one epoll set, the device drained in batches.

Per inbound packet the loop does one ``read``, the core's ``handle`` and one ``write``
per answer: the two system calls of the issue. Everything else is per batch (one
``epoll_wait``, one flush of the printed lines) or per timer. The core's clock is the
wall clock in nanoseconds, the very number written into the recording, so that
``replay --expect`` feeds the host the same times it saw live.

Nothing the wire carries stops the loop: the core never raises by contract, and should
it ever raise all the same, the packet is counted as ``live.core_exception`` and the loop
goes on. Only SIGINT/SIGTERM (``stop()``) end it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import signal
import time
from typing import Protocol

from stack.capture import DIRECTION_INBOUND, DIRECTION_OUTBOUND, CaptureWriter
from stack.host.stats import Stats
from stack.live.output import Reporter

__all__ = ["Answerer", "LiveLoop", "Referee", "BATCH", "MAX_PACKET"]

BATCH = 64  # packets read per readiness event before looking at the other sources
MAX_PACKET = 65535 + 18  # the largest IP packet plus an Ethernet header with a VLAN tag


class Answerer(Protocol):
    """What the loop drives: ``stack.Host`` for TUN, ``stack.link.LinkHost`` for TAP."""

    @property
    def stats(self) -> Stats: ...

    @property
    def last_reason(self) -> str: ...

    def handle(self, packet: bytes, now: float) -> list[bytes]: ...

    def poll(self, now: float) -> list[bytes]: ...

    def next_timer(self) -> float | None: ...


class Referee(Protocol):
    """FIFO referee mode: inbound packets go to the referee instead of the core."""

    def fileno(self) -> int: ...

    def on_command_readable(self, now: float) -> None: ...

    def on_inbound(self, packet: bytes, now: float) -> None: ...

    def poll(self, now: float) -> None: ...

    def next_deadline(self) -> float | None: ...


class LiveLoop:
    """Moves packets between device ``fd`` and ``answerer`` (or ``referee``) until
    ``stop()``; ``send`` is how the referee puts an accepted packet on the device."""

    def __init__(self, fd: int, answerer: Answerer, reporter: Reporter,
                 recorder: CaptureWriter | None = None) -> None:
        self.fd = fd
        self.answerer = answerer
        self.reporter = reporter
        self.recorder = recorder
        self.referee: Referee | None = None
        self.core_exceptions = 0
        self.write_errors = 0
        self.last_write_error = ""
        self._stopping = False
        self._wake_read, self._wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    # -- control ------------------------------------------------------------------
    def stop(self, *_signal_args: object) -> None:
        """Ask the loop to end after the current batch (safe in a signal handler)."""
        self._stopping = True
        with contextlib.suppress(OSError):
            os.write(self._wake_write, b"\0")

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGINT, self.stop)
        signal.signal(signal.SIGTERM, self.stop)

    # -- output -------------------------------------------------------------------
    def send(self, packet: bytes, now_ns: int) -> str | None:
        """Write ``packet`` to the device (and the recording). Returns None, or the
        kernel's reason for refusing it (the tun driver rejects, e.g., a packet whose
        first nibble is neither 4 nor 6 with EINVAL)."""
        try:
            os.write(self.fd, packet)
        except OSError as exc:
            self.write_errors += 1
            self.last_write_error = exc.strerror or str(exc)
            return self.last_write_error
        if self.recorder is not None:
            self.recorder.write(packet, now_ns / 1e9, DIRECTION_OUTBOUND, timestamp_ns=now_ns)
        return None

    # -- the loop -----------------------------------------------------------------
    def _next_timeout(self) -> float:
        deadlines = [self.answerer.next_timer()]
        if self.referee is not None:
            deadlines.append(self.referee.next_deadline())
        due = [d for d in deadlines if d is not None]
        if not due:
            return -1.0
        return max(0.0, min(due) - time.time())

    def _answer(self, packet: bytes, now_ns: int) -> None:
        now = now_ns / 1e9
        answerer = self.answerer
        try:
            replies = answerer.handle(packet, now)
            reason = answerer.last_reason
        except Exception as exc:  # noqa: BLE001 - a core bug must not stop the loop
            self.core_exceptions += 1
            answerer.stats.drops["live.core_exception"] += 1
            replies = []
            reason = f"live.core_exception ({type(exc).__name__}: {exc})"
        for reply in replies:
            self.send(reply, now_ns)
        self.reporter.packet(now, packet, reason, replies)

    def _drain_device(self) -> bool:
        """Read up to BATCH packets; False once the device is gone."""
        fd = self.fd
        recorder = self.recorder
        referee = self.referee
        for _ in range(BATCH):
            try:
                packet = os.read(fd, MAX_PACKET)
            except BlockingIOError:
                return True
            except OSError as exc:
                if exc.errno in (errno.EINTR, errno.EAGAIN):
                    return True
                # EBADFD/EIO: the device was deleted under us (ip link del).
                self.reporter.note(time.time(), f"device read failed: {exc.strerror}; "
                                   "stopping")
                return False
            now_ns = time.time_ns()
            if recorder is not None:
                recorder.write(packet, now_ns / 1e9, DIRECTION_INBOUND, timestamp_ns=now_ns)
            if referee is not None:
                referee.on_inbound(packet, now_ns / 1e9)
            else:
                self._answer(packet, now_ns)
        return True

    def _run_timers(self) -> None:
        now_ns = time.time_ns()
        now = now_ns / 1e9
        due = self.answerer.next_timer()
        if due is not None and due <= now:
            try:
                sent = self.answerer.poll(now)
            except Exception:  # noqa: BLE001 - as in _answer
                self.core_exceptions += 1
                self.answerer.stats.drops["live.core_exception"] += 1
                sent = []
            if self.referee is None:
                for packet in sent:
                    self.send(packet, now_ns)
                self.reporter.timer(now, sent)
        if self.referee is not None:
            self.referee.poll(now)

    def run(self) -> None:
        """Answer until ``stop()``. Closes nothing: the caller owns the device."""
        poller = select.epoll()
        poller.register(self.fd, select.EPOLLIN)
        poller.register(self._wake_read, select.EPOLLIN)
        referee_fd = -1
        if self.referee is not None:
            referee_fd = self.referee.fileno()
            poller.register(referee_fd, select.EPOLLIN)
        try:
            while not self._stopping:
                events = poller.poll(self._next_timeout())
                for fileno, _mask in events:
                    if fileno == self.fd:
                        if not self._drain_device():
                            self._stopping = True
                    elif fileno == referee_fd and self.referee is not None:
                        self.referee.on_command_readable(time.time())
                    elif fileno == self._wake_read:
                        with contextlib.suppress(OSError):
                            os.read(self._wake_read, 512)
                self._run_timers()
                self.reporter.flush()
        finally:
            poller.close()
            self.reporter.flush()

    def close(self) -> None:
        for fd in (self._wake_read, self._wake_write):
            with contextlib.suppress(OSError):
                os.close(fd)
