"""Comparing the host's outputs with the recorded outbound packets, in order.

Both sequences are streamed in: the recorded outbound packets in file order, the host's
outputs in the order it sent them. They are paired front to front, so a recorded burst
of answers that trails a burst of requests still lines up. When a pair differs, a short
look-ahead (``LOOKAHEAD`` packets on each side) looks for the next pair that matches: if
the recorded packet turns up a little later among the outputs, the outputs before it are
*unexpected*; if the output turns up a little later among the recorded packets, those
before it are *missing*; otherwise the pair is reported field by field when both are the
same kind of packet (IP version, protocol, ICMP type), else as one missing and one
unexpected packet. One lost answer thus costs one report, not a cascade.

A pair matches when :func:`stack.wire.inspect.diff` finds no difference outside the
ignored fields and, for a timer output, its time is within the tolerance of the recorded
time (and, for recordings whose timers fire late, up to ``recorded_late`` earlier).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from replay.results import Mismatch
from stack.wire.inspect import describe, diff, format_dissection

__all__ = ["Expected", "Output", "Comparator", "LOOKAHEAD"]

LOOKAHEAD = 8
# Past this many unpaired packets on one side, the oldest are judged without waiting for
# the other side, so memory stays bounded on any capture.
_BACKLOG = 4096


def _at(time: float) -> str:
    return f"t={time:.6f}"


@dataclass(frozen=True)
class Expected:
    index: int  # record index in the file
    time: float
    packet: bytes
    context: str  # "after inbound #3 (icmp.echo_reply)"


@dataclass(frozen=True)
class Output:
    time: float
    packet: bytes
    timer: bool
    origin: str  # "inbound #3" or "timer"
    number: int = -1  # the host's outputs of the case, counted from 0


def _kind(packet: bytes) -> tuple[int, ...]:
    """IP version, protocol and ICMP type: packets of different kinds are not diffed."""
    if len(packet) >= 20 and packet[0] >> 4 == 4:
        start = (packet[0] & 0x0F) * 4
        protocol = packet[9]
        icmp_type = packet[start] if protocol == 1 and len(packet) > start else -1
        return (4, protocol, icmp_type)
    if len(packet) >= 41 and packet[0] >> 4 == 6:
        return (6, packet[6], packet[40] if packet[6] == 58 else -1)
    return (packet[0] >> 4 if packet else -1,)


def _comparable(expected: bytes, got: bytes) -> bool:
    return _kind(expected) == _kind(got)


class Comparator:
    def __init__(self, ignore: frozenset[str], tolerance: float, verbose: bool,
                 report: Callable[[Mismatch], None], recorded_late: float = 0.0,
                 keep_packets: bool = False) -> None:
        """``keep_packets``: each mismatch carries its packets' bytes (for --html)."""
        self.ignore = ignore
        self.keep_packets = keep_packets
        self.tolerance = tolerance
        # a timer output may come from (recorded_late + tolerance) before the recorded
        # time to tolerance after it
        self.earliest = -(recorded_late + tolerance)
        self.verbose = verbose
        self.expected: deque[Expected] = deque()
        self.got: deque[Output] = deque()
        self.report = report

    def add_expected(self, item: Expected) -> None:
        self.expected.append(item)
        self._step(final=False)

    def add_output(self, item: Output) -> None:
        self.got.append(item)
        self._step(final=False)

    def finish(self) -> None:
        self._step(final=True)

    # -- pairing ------------------------------------------------------------------------
    def _differences(self, want: Expected, have: Output) -> list[str]:
        if want.packet == have.packet:
            lines = []
        else:
            lines = [str(d) for d in diff(want.packet, have.packet, self.ignore)]
        if have.timer and not self.earliest <= have.time - want.time <= self.tolerance:
            window = (f"tolerance {self.tolerance:g} s" if -self.earliest == self.tolerance
                      else f"allowed {self.earliest:+g} s to {self.tolerance:+g} s")
            lines.append(f"time: expected {want.time:.6f}, got {have.time:.6f} "
                         f"(timer output; {window})")
        return lines

    def _matches(self, want: Expected, have: Output) -> bool:
        # the kind check first: it is cheap, and most look-ahead candidates fail it
        return _comparable(want.packet, have.packet) and not self._differences(want, have)

    def _step(self, final: bool) -> None:
        expected, got = self.expected, self.got
        while expected and got:
            if not final and (len(expected) <= LOOKAHEAD or len(got) <= LOOKAHEAD) \
                    and len(expected) < _BACKLOG and len(got) < _BACKLOG:
                return  # wait: the look-ahead needs packets that may still come
            want, have = expected[0], got[0]
            lines = self._differences(want, have)
            if not lines:
                expected.popleft()
                got.popleft()
                continue
            later_output = next((j for j in range(1, min(LOOKAHEAD + 1, len(got)))
                                 if self._matches(want, got[j])), None)
            later_expected = next((i for i in range(1, min(LOOKAHEAD + 1, len(expected)))
                                   if self._matches(expected[i], have)), None)
            if later_output is not None and (later_expected is None
                                             or later_output <= later_expected):
                for _ in range(later_output):
                    self._unexpected(got.popleft())
            elif later_expected is not None:
                for _ in range(later_expected):
                    self._missing(expected.popleft())
            elif _comparable(want.packet, have.packet):
                self._differ(want, have, lines)
                expected.popleft()
                got.popleft()
            else:  # an echo reply where a port unreachable was due: not one packet's diff
                self._missing(expected.popleft())
                self._unexpected(got.popleft())
        if final or len(expected) >= _BACKLOG:
            while expected and (final or len(expected) >= _BACKLOG):
                self._missing(expected.popleft())
        if final or len(got) >= _BACKLOG:
            while got and (final or len(got) >= _BACKLOG):
                self._unexpected(got.popleft())

    # -- reports ------------------------------------------------------------------------
    def _mark(self, mismatch: Mismatch, want: Expected | None, have: Output | None) -> None:
        """Say which packets ``mismatch`` is about, then report it."""
        if want is not None:
            mismatch.expected_index = want.index
            if self.keep_packets:
                mismatch.expected_hex = want.packet.hex()
        if have is not None:
            mismatch.got_number = have.number
            if self.keep_packets:
                mismatch.got_hex = have.packet.hex()
        self.report(mismatch)

    def _differ(self, want: Expected, have: Output, lines: list[str]) -> None:
        dissection = (["expected:"] + format_dissection(want.packet) + ["got:"]
                      + format_dissection(have.packet)) if self.verbose else []
        origin = "timer output" if have.timer else f"answer to {have.origin}"
        self._mark(Mismatch(
            "diff", f"packet #{want.index} ({_at(want.time)})",
            f"{origin}: expected {describe(want.packet)}", lines, dissection), want, have)

    def _missing(self, want: Expected) -> None:
        dissection = ["expected:"] + format_dissection(want.packet) if self.verbose else []
        self._mark(Mismatch(
            "missing", f"packet #{want.index} ({_at(want.time)})",
            f"expected {describe(want.packet)}; not sent ({want.context})", [], dissection),
            want, None)

    def _unexpected(self, have: Output) -> None:
        dissection = ["got:"] + format_dissection(have.packet) if self.verbose else []
        origin = "timer output" if have.timer else f"answer to {have.origin}"
        self._mark(Mismatch(
            "unexpected", f"{origin} ({_at(have.time)})", f"unexpected {describe(have.packet)}",
            [], dissection), None, have)
