"""The event loop of ``stack-live``: one epoll set, the device drained in batches, and a
blocking fast path for the common quiet case.

Per inbound packet the loop does one ``read``, the core's ``handle`` and one ``write``
per answer: the two system calls of the issue. In the epoll path everything else is per
batch (one ``epoll_wait``, one flush of the printed lines) or per timer. Under
``ping -f`` a batch is one packet, so that path costs an ``epoll_wait`` and a failing
``read`` per packet on top; the fast path (``_serve_blocking``) removes both by sleeping
in a blocking ``read`` whenever nothing else can need the loop: quiet output, no FIFO
referee, the plain TUN ``Host`` and no timer pending. The core's clock is the wall clock
in nanoseconds, the very number written into the recording, so that ``replay --expect``
feeds the host the same times it saw live.

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
import threading
import time
from collections import Counter
from typing import Any, Protocol

from stack.capture import DIRECTION_INBOUND, DIRECTION_OUTBOUND, CaptureWriter, timer_comment
from stack.host.host import Host
from stack.host.stats import Stats
from stack.live.output import Reporter
from stack.live.workers import for_first_worker

__all__ = ["Answerer", "CoreLatency", "LiveLoop", "Referee", "BATCH", "MAX_PACKET"]

BATCH = 64  # packets read per readiness event before looking at the other sources
MAX_PACKET = 65535 + 18  # the largest IP packet plus an Ethernet header with a VLAN tag
# While the fast path sleeps in read(), SIGALRM comes this often (seconds) so that a stop
# can never be missed: see LiveLoop._serve_blocking.
WAKE_INTERVAL = 0.2


class CoreLatency:
    """How long the core took per answered packet, as ping reports round trips: from
    the device read returning to the last answer written (its recording included), in
    nanoseconds of ``time.perf_counter_ns``: two clock reads per answered packet, and
    ``add`` (the fast path keeps the same sums in locals instead; docs/live.md has what
    that costs)."""

    __slots__ = ("count", "total", "squares", "low", "high", "slowest")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0
        self.squares = 0
        self.low = 0
        self.high = 0
        self.slowest = ""  # the reason of the slowest answer

    def add(self, elapsed_ns: int, answerer: Answerer) -> None:
        self.count += 1
        self.total += elapsed_ns
        self.squares += elapsed_ns * elapsed_ns
        if elapsed_ns > self.high:
            self.high = elapsed_ns
            self.slowest = answerer.last_reason
        if elapsed_ns < self.low or self.count == 1:
            self.low = elapsed_ns

    def totals(self) -> dict[str, int | str]:
        """The raw sums, for ``merge`` in another process (--workers)."""
        return {name: getattr(self, name) for name in self.__slots__}

    def merge(self, totals: dict[str, Any]) -> None:
        """Add another ``totals()``: the latency over several workers."""
        count = int(totals.get("count", 0))
        if not count:
            return
        if not self.count or int(totals["low"]) < self.low:
            self.low = int(totals["low"])
        if int(totals["high"]) > self.high:
            self.high, self.slowest = int(totals["high"]), str(totals["slowest"])
        self.count += count
        self.total += int(totals["total"])
        self.squares += int(totals["squares"])

    def as_dict(self) -> dict[str, object]:
        """min/avg/max/mdev in microseconds (mdev as ping's: the standard deviation)."""
        if not self.count:
            return {"answered": 0}
        mean = self.total / self.count
        mdev = max(self.squares / self.count - mean * mean, 0.0) ** 0.5
        return {"answered": self.count, "min_us": round(self.low / 1e3, 1),
                "avg_us": round(mean / 1e3, 1), "max_us": round(self.high / 1e3, 1),
                "mdev_us": round(mdev / 1e3, 1), "slowest": self.slowest}

    def text(self) -> str:
        """``core latency min/avg/max/mdev = 6.1/9.8/154.3/4.2 us …``, or "" if none."""
        if not self.count:
            return ""
        d = self.as_dict()
        return (f"core latency min/avg/max/mdev = {d['min_us']}/{d['avg_us']}/"
                f"{d['max_us']}/{d['mdev_us']} us over {self.count} answered packets "
                f"(read to write); slowest: {self.slowest}")


class _Interrupted(Exception):
    """Raised by the signal handlers to leave the fast path's blocking read."""


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

    def accepting(self) -> bool: ...

    def on_command_readable(self, now: float) -> None: ...

    def on_inbound(self, packet: bytes, now: float) -> None: ...

    def poll(self, now: float) -> None: ...

    def next_deadline(self) -> float | None: ...


class LiveLoop:
    """Moves packets between device ``fd`` and ``answerer`` (or ``referee``) until
    ``stop()``; ``send`` is how the referee puts an accepted packet on the device."""

    def __init__(self, fd: int, answerer: Answerer, reporter: Reporter,
                 recorder: CaptureWriter | None = None, busy_poll: float = 0.0) -> None:
        self.fd = fd
        # Seconds the fast path polls the device after an answer before it sleeps.
        self.busy_poll = busy_poll
        self.answerer = answerer
        self.reporter = reporter
        self.recorder = recorder
        self.referee: Referee | None = None
        self.core_exceptions = 0
        self.latency = CoreLatency()
        self.write_errors = 0
        self.last_write_error = ""
        self._stopping = False
        self._signals_installed = False
        # True only while the fast path is about to sleep, or sleeps, in read(): then a
        # stop must interrupt the read by raising (PEP 475 retries it otherwise).
        self._reading = False
        self._wake_read, self._wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        # --workers (stack/live/workers.py): the device's one queue is read by several
        # processes, so its file status (O_NONBLOCK) is shared and never changed here;
        # a worker after the first hands the packets only the first may answer (the
        # fragments) to ``handoff_to``, and the first reads them from ``handoff_from``.
        self.shared_queue = False
        self.handoff_to = -1
        self.handoff_from = -1
        self.handed_off = 0

    # -- control ------------------------------------------------------------------
    def stop(self, *_signal_args: object) -> None:
        """Ask the loop to end after the current batch (safe in a signal handler). From
        another thread while the fast path sleeps in read(), the stop takes effect at
        the next WAKE_INTERVAL tick."""
        self._stopping = True
        with contextlib.suppress(OSError):
            os.write(self._wake_write, b"\0")
        if self._reading and threading.current_thread() is threading.main_thread():
            # A signal handler interrupting the fast path's read: leave it now. The
            # flag is cleared first, so that one stop raises at most once.
            self._reading = False
            raise _Interrupted

    def _on_alarm(self, *_signal_args: object) -> None:
        """The fast path's tick: leave the blocking read if a stop is pending (one that
        came from another thread, or a signal that landed just before read() began)."""
        if self._stopping and self._reading:
            self._reading = False
            raise _Interrupted

    def install_signal_handlers(self) -> None:
        """SIGINT/SIGTERM stop the loop. Call from the main thread; it also lets ``run``
        take the blocking fast path, which only a signal can interrupt."""
        signal.signal(signal.SIGINT, self.stop)
        signal.signal(signal.SIGTERM, self.stop)
        self._signals_installed = True

    # -- output -------------------------------------------------------------------
    def send(self, packet: bytes, now_ns: int, comment: str | None = None) -> str | None:
        """Write ``packet`` to the device (and the recording, with ``comment``: why it
        was sent). Returns None, or the kernel's reason for refusing it (the tun driver
        rejects, e.g., a packet whose first nibble is neither 4 nor 6 with EINVAL)."""
        try:
            os.write(self.fd, packet)
        except OSError as exc:
            self.write_errors += 1
            self.last_write_error = exc.strerror or str(exc)
            return self.last_write_error
        if self.recorder is not None:
            self.recorder.write(packet, now_ns / 1e9, DIRECTION_OUTBOUND, comment,
                                timestamp_ns=now_ns)
        return None

    def send_for_referee(self, packet: bytes, now_ns: int) -> str | None:
        """``send`` for the FIFO referee: its packets are recorded as the referee's."""
        return self.send(packet, now_ns, "from the FIFO referee")

    # -- the loop -----------------------------------------------------------------
    def _next_timeout(self, due: float | None) -> float:
        """The epoll timeout: until ``due`` (the answerer's next timer) or the referee's
        deadline, whichever is first; -1 (none) without either."""
        if self.referee is not None:
            deadline = self.referee.next_deadline()
            if deadline is not None and (due is None or deadline < due):
                due = deadline
        if due is None:
            return -1.0
        return max(0.0, due - time.time())

    def _core_failed(self, exc: Exception) -> str:
        """Count a core exception; returns the reason printed for the packet."""
        self.core_exceptions += 1
        self.answerer.stats.drops["live.core_exception"] += 1
        return f"live.core_exception ({type(exc).__name__}: {exc})"

    def _answer(self, packet: bytes, now_ns: int, started_ns: int) -> None:
        """Answer one inbound packet. It is recorded once the core has handled it, so
        that its comment (``frame.comment`` in Wireshark) says what the host did with
        it, and before the replies, which carry the same reason."""
        now = now_ns / 1e9
        answerer = self.answerer
        try:
            replies = answerer.handle(packet, now)
            reason = answerer.last_reason
        except Exception as exc:  # noqa: BLE001 - a core bug must not stop the loop
            reason = self._core_failed(exc)
            replies = []
        if self.recorder is not None:
            self.recorder.write(packet, now, DIRECTION_INBOUND, reason, timestamp_ns=now_ns)
        for reply in replies:
            self.send(reply, now_ns, reason)
        if replies:
            self.latency.add(time.perf_counter_ns() - started_ns, answerer)
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
                self._device_gone(exc)
                return False
            if self.handoff_to >= 0 and for_first_worker(packet):
                self._hand_off(packet)
                continue
            started_ns = time.perf_counter_ns()
            now_ns = time.time_ns()
            if referee is not None:
                if recorder is not None:
                    recorder.write(packet, now_ns / 1e9, DIRECTION_INBOUND,
                                   "to the FIFO referee", timestamp_ns=now_ns)
                referee.on_inbound(packet, now_ns / 1e9)
            else:
                self._answer(packet, now_ns, started_ns)
        return True

    def _hand_off(self, packet: bytes) -> None:
        """Give ``packet`` to the first worker (a full socket buffer drops it, counted,
        as a full device queue would)."""
        try:
            os.write(self.handoff_to, packet)
            self.handed_off += 1
        except OSError:
            self.answerer.stats.drops["live.handoff_failed"] += 1

    def _drain_handoff(self) -> None:
        """Answer what the other workers handed over (the first worker only)."""
        for _ in range(BATCH):
            try:
                packet = os.read(self.handoff_from, MAX_PACKET)
            except OSError:
                return
            self._answer(packet, time.time_ns(), time.perf_counter_ns())

    def _run_timers(self, due: float | None) -> None:
        """Run the answerer's timers if ``due``, its ``next_timer()`` from before the
        batch, has come (and the referee's). A timer armed during the batch lies ahead
        (a reassembly timeout, a neighbour solicitation's retry) and is seen on the next
        turn; one cancelled during it leaves ``poll`` nothing to do."""
        now_ns = time.time_ns()
        now = now_ns / 1e9
        if due is not None and due <= now:
            # a copy: stats.replies may be the same Counter, folded in place, after poll
            replied_before = (Counter(self.answerer.stats.replies)
                              if self.recorder is not None else None)
            try:
                sent = self.answerer.poll(now)
            except Exception as exc:  # noqa: BLE001 - as in _answer
                self._core_failed(exc)
                sent = []
            if self.referee is None:
                comment = None
                if replied_before is not None and sent:
                    comment = timer_comment(replied_before, self.answerer.stats.replies)
                for packet in sent:
                    self.send(packet, now_ns, comment)
                self.reporter.timer(now, sent)
        if self.referee is not None:
            self.referee.poll(now)

    def _device_gone(self, exc: OSError) -> None:
        # EBADFD/EIO: the device was deleted under us (ip link del).
        self.reporter.note(time.time(), f"device read failed: {exc.strerror}; stopping")

    def may_block(self) -> bool:
        """Whether the fast path may be used at all: nothing but the device can need the
        loop (no FIFO, no lines to flush), only signals stop it (handlers installed, main
        thread), and the answerer is the TUN ``Host``, which arms a timer only for a
        packet it does not answer (a fragment held for reassembly): so the fast path need
        ask ``next_timer`` only after an unanswered packet. (A TAP ``LinkHost`` arms one
        while answering: a neighbour solicitation has a retry timer.)"""
        return (self.referee is None and self.reporter.quiet and self._signals_installed
                and type(self.answerer) is Host
                and threading.current_thread() is threading.main_thread())

    def _serve_blocking(self) -> bool:
        """The fast path: blocking read, handle, write, and nothing else, until a timer
        is pending or a stop comes; False once the device is gone.

        Only a signal can interrupt a blocking read; Python retries it after the handler
        (PEP 475) unless the handler raises, so ``stop`` raises ``_Interrupted`` while
        ``_reading`` is set. A signal landing between the last ``_stopping`` check and
        the read system call would find the read not yet begun and be acted on only
        after the next packet; the SIGALRM tick (WAKE_INTERVAL) bounds that wait, and
        the wait for a ``stop()`` from another thread.

        With ``busy_poll``, after each packet the device is polled (``poll`` with a zero
        timeout) for up to that long before the blocking read: a request/response flood
        (``ping -f``) sends its next packet within a few tens of microseconds, and
        catching it awake saves the sleep and wake-up, which in a virtual machine
        costs more than answering (the idea of Linux's net.core.busy_read)."""
        fd = self.fd
        read = os.read
        write = os.write
        time_ns = time.time_ns
        answerer = self.answerer
        handle = answerer.handle
        recorder = self.recorder
        spin_ns = int(self.busy_poll * 1e9)
        readiness = select.poll()
        readiness.register(fd, select.POLLIN)
        handoff_from = self.handoff_from
        if handoff_from >= 0:
            readiness.register(handoff_from, select.POLLIN)
        readable = readiness.poll
        clock_ns = time.monotonic_ns
        perf_ns = time.perf_counter_ns
        # The latency sums live in locals here and go back to self.latency on the way
        # out: a method call per packet would cost more than the core's own answer to
        # a ping when the core is compiled (docs/live.md, "Core latency").
        latency = self.latency
        count, total, squares = latency.count, latency.total, latency.squares
        low = latency.low if latency.count else 1 << 62
        high, slowest = latency.high, latency.slowest
        previous_alarm = signal.signal(signal.SIGALRM, self._on_alarm)
        previous_timer = signal.setitimer(signal.ITIMER_REAL, WAKE_INTERVAL, WAKE_INTERVAL)
        shared = self.shared_queue
        handoff = self.handoff_to
        if not shared:
            os.set_blocking(fd, True)
        try:
            while True:
                self._reading = True
                if self._stopping:
                    self._reading = False
                    return True
                try:
                    packet = read(fd, MAX_PACKET)
                except BlockingIOError:
                    packet = b""  # no packet is empty: this is "none there"
                except OSError as exc:
                    self._reading = False
                    self._device_gone(exc)
                    return False
                if not packet:
                    # Shared queue: another worker took the packet (or only a handed
                    # fragment is there); sleep until the next, a stop interrupting the
                    # poll as it does the read.
                    ready = readable(-1)
                    if handoff_from >= 0 and any(fileno == handoff_from
                                                 for fileno, _ in ready):
                        self._reading = False
                        self._drain_handoff()
                        if answerer.next_timer() is not None:
                            return True  # a fragment held: the epoll path runs the timer
                    continue
                self._reading = False
                if handoff >= 0 and for_first_worker(packet):
                    self._hand_off(packet)
                    continue
                started_ns = perf_ns()
                now_ns = time_ns()
                now = now_ns / 1e9
                try:
                    replies = handle(packet, now)
                    reason = answerer.last_reason
                except Exception as exc:  # noqa: BLE001 - as in _answer
                    reason = self._core_failed(exc)
                    replies = []
                if recorder is not None:  # after the core, with its reason (see _answer)
                    recorder.write(packet, now, DIRECTION_INBOUND, reason, timestamp_ns=now_ns)
                for reply in replies:
                    try:
                        write(fd, reply)
                    except OSError as exc:
                        self.write_errors += 1
                        self.last_write_error = exc.strerror or str(exc)
                        continue
                    if recorder is not None:
                        recorder.write(reply, now, DIRECTION_OUTBOUND, reason,
                                       timestamp_ns=now_ns)
                if replies:
                    elapsed = perf_ns() - started_ns
                    count += 1
                    total += elapsed
                    squares += elapsed * elapsed
                    if elapsed > high:
                        high, slowest = elapsed, answerer.last_reason
                    if elapsed < low:
                        low = elapsed
                elif answerer.next_timer() is not None:
                    return True  # the epoll path runs the timer
                if spin_ns:
                    spin_until = clock_ns() + spin_ns
                    while not readable(0) and clock_ns() < spin_until:
                        pass
        except _Interrupted:
            return True
        finally:
            self._reading = False
            latency.count, latency.total, latency.squares = count, total, squares
            latency.low, latency.high, latency.slowest = low, high, slowest
            signal.setitimer(signal.ITIMER_REAL, *previous_timer)
            # None: a handler set outside Python, which cannot be put back; the default.
            signal.signal(signal.SIGALRM,
                          signal.SIG_DFL if previous_alarm is None else previous_alarm)
            if not shared:
                with contextlib.suppress(OSError):  # a deleted device may refuse it
                    os.set_blocking(fd, False)

    def _watch_referee(self, poller: select.epoll, watched: int) -> int:
        """Keep epoll on the referee's command pipe: a new descriptor once the referee
        reopened it (its last client left), none while it accepts no commands (epoll
        is level-triggered: unread data would wake every turn). Returns the watched
        descriptor, -1 for none."""
        if self.referee is None:
            return -1
        wanted = self.referee.fileno() if self.referee.accepting() else -1
        if wanted != watched:
            if watched >= 0:
                # Already gone from the set if the referee closed it.
                with contextlib.suppress(OSError):
                    poller.unregister(watched)
            if wanted >= 0:
                poller.register(wanted, select.EPOLLIN)
        return wanted

    def run(self) -> None:
        """Answer until ``stop()``. Closes nothing: the caller owns the device."""
        poller = select.epoll()
        poller.register(self.fd, select.EPOLLIN)
        poller.register(self._wake_read, select.EPOLLIN)
        if self.handoff_from >= 0:
            poller.register(self.handoff_from, select.EPOLLIN)
        referee_fd = self._watch_referee(poller, -1)
        may_block = self.may_block()
        try:
            while not self._stopping:
                due = self.answerer.next_timer()  # asked once per turn: it costs ~1 us
                if may_block and due is None:
                    try:
                        if not self._serve_blocking():
                            self._stopping = True
                    except _Interrupted:
                        # A stop whose exception left the fast path past its own
                        # handler: seen once (CPython 3.11, the traceback at the jump
                        # back of its loop) while that loop spun without sleeping.
                        self._stopping = True
                    continue
                events = poller.poll(self._next_timeout(due))
                for fileno, _mask in events:
                    if fileno == self.fd:
                        if not self._drain_device():
                            self._stopping = True
                    elif fileno == self.handoff_from:
                        self._drain_handoff()
                    elif fileno == referee_fd and self.referee is not None:
                        self.referee.on_command_readable(time.time())
                    elif fileno == self._wake_read:
                        with contextlib.suppress(OSError):
                            os.read(self._wake_read, 512)
                self._run_timers(due)
                referee_fd = self._watch_referee(poller, referee_fd)
                self.reporter.flush()
        finally:
            poller.close()
            self.reporter.flush()

    def close(self) -> None:
        for fd in (self._wake_read, self._wake_write):
            with contextlib.suppress(OSError):
                os.close(fd)
