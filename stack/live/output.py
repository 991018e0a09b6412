"""What ``stack-live`` prints: one line per packet, JSON lines, and the summary on exit.

A packet line reads ``03:21:07.123456 172.16.0.1 → 172.16.0.2 ICMP echo request …
⇒ icmp.echo_reply 84 B`` (or ``⇒ dropped: ipv4.bad_checksum``): the inbound packet as
``stack.wire.inspect.describe`` tells it, then what the host did, named by the same
reply kind or drop reason that the host's counters use, so the summary and the lines
agree. Output is buffered and flushed once per batch of packets: printing must not be
what limits a flood.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from typing import TextIO

from stack.host.stats import Stats
from stack.wire.inspect import describe

__all__ = ["Reporter", "format_summary", "clock_text"]


def clock_text(now: float) -> str:
    """``HH:MM:SS.micros`` in local time, like tcpdump."""
    seconds = int(now)
    micros = int(round((now - seconds) * 1e6))
    if micros >= 1_000_000:
        seconds, micros = seconds + 1, micros - 1_000_000
    return time.strftime("%H:%M:%S", time.localtime(seconds)) + f".{micros:06d}"


# Frames answered by nothing because none is due, the neighbour cache having learned
# from them (RFC 826's merge, a gratuitous ARP, an ARP reply to us): not losses.
NEIGHBOUR_UPDATES = frozenset({"arp.neighbour_updated", "arp.reply_consumed"})


def _outcome(reason: str, replies: list[bytes]) -> str:
    if not replies:
        if reason.endswith(".held"):
            return f"held for reassembly: {reason}"
        if reason in NEIGHBOUR_UPDATES:
            return f"neighbour cache updated: {reason}"
        return f"dropped: {reason or 'no answer'}"
    size = sum(len(r) for r in replies)
    if len(replies) == 1:
        return f"{reason} {size} B"
    return f"{reason} {len(replies)} packets {size} B"


class Reporter:
    """Prints per-packet lines (``mode`` "lines"), JSON lines ("json") or nothing
    ("quiet") to ``stream``; call ``flush()`` after each batch. ``describe`` summarises
    one packet (a frame in TAP mode: ``stack.link.describe.describe_frame``)."""

    def __init__(self, stream: TextIO, mode: str = "lines",
                 describe: Callable[[bytes], str] = describe) -> None:
        if mode not in ("lines", "json", "quiet"):
            raise ValueError(f"unknown output mode {mode!r}")
        self.stream = stream
        self.mode = mode
        self.describe = describe
        self._pending: list[str] = []

    @property
    def quiet(self) -> bool:
        return self.mode == "quiet"

    def packet(self, now: float, inbound: bytes, reason: str, replies: list[bytes]) -> None:
        """One inbound packet and what the host answered (``reason`` is its last_reason)."""
        if self.mode == "quiet":
            return
        if self.mode == "json":
            describe_packet = self.describe
            record = {"time": round(now, 6), "in": describe_packet(inbound),
                      "length": len(inbound), "action": "reply" if replies else "drop",
                      "reason": reason, "out": [describe_packet(r) for r in replies],
                      "out_lengths": [len(r) for r in replies]}
            self._pending.append(json.dumps(record))
            return
        self._pending.append(
            f"{clock_text(now)} {self.describe(inbound)} ⇒ {_outcome(reason, replies)}")

    def timer(self, now: float, sent: list[bytes]) -> None:
        """Packets the host sent from a timer (``Host.poll``), e.g. a Time Exceeded."""
        if self.mode == "quiet" or not sent:
            return
        for packet in sent:
            if self.mode == "json":
                self._pending.append(json.dumps({"time": round(now, 6), "timer": True,
                                                 "out": self.describe(packet),
                                                 "length": len(packet)}))
            else:
                self._pending.append(f"{clock_text(now)} timer ⇒ {self.describe(packet)}")

    def note(self, now: float, text: str, **fields: object) -> None:
        """A line that is not a packet (FIFO referee verdicts, warnings)."""
        if self.mode == "quiet":
            return
        if self.mode == "json":
            self._pending.append(json.dumps({"time": round(now, 6), "note": text, **fields}))
        else:
            self._pending.append(f"{clock_text(now)} {text}")

    def flush(self) -> None:
        """Write the pending lines in one go; nothing at all when there are none (the
        loop calls this once per batch, and with -q every batch has none)."""
        if self._pending:
            self.stream.write("\n".join(self._pending) + "\n")
            self._pending.clear()
            self.stream.flush()


def _counter_text(counter: Counter[str]) -> str:
    return ", ".join(f"{name} {count}" for name, count in
                     sorted(counter.items(), key=lambda item: (-item[1], item[0])))


def format_summary(device: str, stats: Stats, elapsed: float,
                   extra: dict[str, int] | None = None) -> str:
    """The closing statistics, in the manner of ping's::

        --- tun0 tunstack statistics ---
        1003 packets received, 1000 answered (1000 packets sent), 3 dropped, time 5021ms
        replies: icmp.echo_reply 1000
        drops: ipv6.unimplemented 3
    """
    answered = sum(stats.replies.values())
    # A fragment kept for reassembly is counted with the drops by the core (no answer
    # yet), but it is not lost: say so apart.
    held = sum(n for reason, n in stats.drops.items() if reason.endswith(".held"))
    learned = sum(n for reason, n in stats.drops.items() if reason in NEIGHBOUR_UPDATES)
    dropped = sum(stats.drops.values()) - held - learned
    held_text = f", {held} held for reassembly" if held else ""
    if learned:
        held_text += f", {learned} updated the neighbour cache"
    lines = [f"--- {device} tunstack statistics ---",
             f"{stats.received} packets received, {answered} answered "
             f"({stats.sent} packets sent){held_text}, {dropped} dropped, "
             f"time {int(round(elapsed * 1000))}ms"]
    if stats.replies:
        lines.append(f"replies: {_counter_text(stats.replies)}")
    if stats.drops:
        lines.append(f"drops: {_counter_text(stats.drops)}")
    if stats.events:
        lines.append(f"events: {_counter_text(stats.events)}")
    if extra:
        lines.append("; ".join(f"{name} {count}" for name, count in extra.items()))
    return "\n".join(lines)
