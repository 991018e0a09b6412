"""Recorded timing for a stack that keeps its own clock but does not wait by itself.

The kernel (:class:`stack.sut.kernel.KernelStack`) answers a packet at once and sends its
timer outputs (a reassembly Time Exceeded, a rate-limit bucket refilled) whenever its
own clock says so; ``poll`` only reads what is already there. :class:`PacedStack` gives
it the capture's timing: the first packet of a case sets the clock, every later packet
is handed over at its recorded time relative to it (reading what the stack sends in the
meantime), and ``poll(now)`` waits until ``now`` in real time. Each output's time on the
case's clock is in ``output_times``, as the wire kind gives it, for the comparison of
timer outputs.
"""

from __future__ import annotations

import select
import time

from stack.host.stats import Stats
from stack.sut import Capabilities, StackUnderTest, capabilities_of

__all__ = ["PacedStack", "SILENCE"]

SILENCE = 0.05  # seconds read after a timer deadline for late outputs
READ_EVERY = 0.01  # seconds between reads when the stack has no descriptor to wait on


class PacedStack:
    """``inner`` fed on the capture's clock in real time."""

    def __init__(self, inner: StackUnderTest) -> None:
        self.inner = inner
        self.capabilities: Capabilities = capabilities_of(inner)
        self.stats: Stats = inner.stats
        self.last_reason = ""
        self.output_times: list[float] = []
        self.until: float | None = None  # the next packet's time: unused, it answers at once
        self._offset: float | None = None
        fileno = getattr(inner, "fileno", None)
        self._fd: int | None = fileno() if callable(fileno) else None

    def _real(self, recorded: float) -> float:
        if self._offset is None:
            self._offset = time.monotonic() - recorded
        return recorded + self._offset

    def _keep(self, outputs: list[bytes], found: list[bytes]) -> None:
        assert self._offset is not None
        stamp = time.monotonic() - self._offset
        outputs.extend(found)
        self.output_times.extend([stamp] * len(found))

    def _wait_until(self, deadline: float, recorded: float) -> list[bytes]:
        outputs: list[bytes] = []
        while True:
            self._keep(outputs, self.inner.poll(recorded))
            left = deadline - time.monotonic()
            if left <= 0:
                return outputs
            if self._fd is not None:
                select.select([self._fd], [], [], left)
            else:
                time.sleep(min(left, READ_EVERY))

    def handle(self, packet: bytes, now: float) -> list[bytes]:
        self.output_times = []
        outputs = self._wait_until(self._real(now), now)
        self._keep(outputs, self.inner.handle(packet, now))
        self.last_reason = self.inner.last_reason
        return outputs

    def poll(self, now: float) -> list[bytes]:
        self.output_times = []
        return self._wait_until(self._real(now) + SILENCE, now)

    def next_timer(self) -> float | None:
        return None  # real time: the stack's timers are its own

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()
