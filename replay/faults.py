"""Fault injection on the inbound timeline, in the spirit of smoltcp's FaultInjector.

For each inbound packet, in this fixed order of decisions: lost (``loss``), a bit flipped
(``corrupt``), sent twice (``duplicate``), moved later on the clock (``delay`` plus a
uniform ``jitter``), held back behind up to ``reorder_window`` later packets
(``reorder``). Every decision draws from one ``random.Random`` seeded with the seed, the
capture's file name and the case's section, so a run is reproducible whatever ``-j`` is,
and every fault is recorded as an event for the report.

The host never sees time go backwards: a delayed packet is delivered once the timeline
reaches its new time, and a held-back packet takes the time of the packet it follows.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field

__all__ = ["FaultSpec", "FaultInjector", "FaultLog"]


@dataclass(frozen=True)
class FaultSpec:
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    reorder_window: int = 3
    corrupt: float = 0.0
    delay: float = 0.0
    jitter: float = 0.0
    seed: int = 0

    @property
    def active(self) -> bool:
        return bool(self.loss or self.duplicate or self.reorder or self.corrupt
                    or self.delay or self.jitter)

    def describe(self) -> str:
        parts = [f"{name} {value:g}" for name, value in (
            ("loss", self.loss), ("duplicate", self.duplicate), ("reorder", self.reorder),
            ("corrupt", self.corrupt), ("delay", self.delay), ("jitter", self.jitter))
            if value]
        if self.reorder:
            parts.append(f"window {self.reorder_window}")
        return ", ".join(parts) + f" (seed {self.seed})"


@dataclass
class FaultLog:
    """What was injected: counts by kind and one line per event."""

    seed: int = 0
    lost: int = 0
    duplicated: int = 0
    reordered: int = 0
    corrupted: int = 0
    delayed: int = 0
    events: list[str] = field(default_factory=list)
    keep_events: int = 100_000  # the counts stay exact beyond it

    def event(self, line: str) -> None:
        if len(self.events) < self.keep_events:
            self.events.append(line)

    def counts(self) -> dict[str, int]:
        return {"lost": self.lost, "duplicated": self.duplicated, "reordered": self.reordered,
                "corrupted": self.corrupted, "delayed": self.delayed}

    def summary(self) -> str:
        parts = [f"{count} {name}" for name, count in self.counts().items() if count]
        return ", ".join(parts) if parts else "none"


@dataclass
class _Held:
    """A packet held back until ``wait`` more packets have arrived."""

    wait: int
    packet: bytes
    label: str
    when: float

    def tick(self) -> bool:
        """One more packet arrived; True when this one is released."""
        self.wait -= 1
        return self.wait <= 0


class FaultInjector:
    """Feed inbound packets with :meth:`push`; it returns the (time, packet, label)
    deliveries now due, in delivery order. :meth:`flush` gives what is still pending at
    the end of the case."""

    def __init__(self, spec: FaultSpec, stream_name: str) -> None:
        self.spec = spec
        self.log = FaultLog(seed=spec.seed)
        self._rng = random.Random(f"{spec.seed}/{stream_name}")
        self._pending: list[tuple[float, int, bytes, str]] = []  # heap by delivery time
        self._order = 0
        self._held: list[_Held] = []

    def _schedule(self, when: float, packet: bytes, label: str) -> None:
        heapq.heappush(self._pending, (when, self._order, packet, label))
        self._order += 1

    def _due(self, now: float) -> list[tuple[float, bytes, str]]:
        out = []
        while self._pending and self._pending[0][0] <= now:
            when, _order, packet, label = heapq.heappop(self._pending)
            out.append((when, packet, label))
        return out

    def push(self, now: float, packet: bytes, label: str) -> list[tuple[float, bytes, str]]:
        spec, rng, log = self.spec, self._rng, self.log
        released = [held for held in self._held if held.tick()]
        self._held = [held for held in self._held if held.wait > 0]
        copies: list[bytes] = []
        if spec.loss and rng.random() < spec.loss:
            log.lost += 1
            log.event(f"{label} lost")
        else:
            if spec.corrupt and rng.random() < spec.corrupt and packet:
                bit = rng.randrange(len(packet) * 8)
                flipped = bytearray(packet)
                flipped[bit // 8] ^= 0x80 >> (bit % 8)
                packet = bytes(flipped)
                log.corrupted += 1
                log.event(f"{label} corrupted: bit {bit} (byte {bit // 8}) flipped")
            copies.append(packet)
            if spec.duplicate and rng.random() < spec.duplicate:
                copies.append(packet)
                log.duplicated += 1
                log.event(f"{label} duplicated")
        for number, copy in enumerate(copies):
            copy_label = label if number == 0 else f"{label} (copy)"
            when = now
            if spec.delay or spec.jitter:
                shift = spec.delay + (rng.uniform(0.0, spec.jitter) if spec.jitter else 0.0)
                if shift > 0:
                    when = now + shift
                    log.delayed += 1
                    log.event(f"{copy_label} delayed {shift:.6f} s")
            if spec.reorder and rng.random() < spec.reorder:
                wait = rng.randint(1, max(1, spec.reorder_window))
                log.reordered += 1
                log.event(f"{copy_label} held back behind {wait} later packet(s)")
                self._held.append(_Held(wait, copy, copy_label, when))
                continue
            self._schedule(when, copy, copy_label)
        due = self._due(now)
        # a released packet follows the packet it waited for: same time or its own, later
        for held in released:
            due.append((max(now, held.when), held.packet, held.label))
        due.sort(key=lambda item: item[0])
        return due

    def flush(self) -> list[tuple[float, bytes, str]]:
        """Everything still delayed or held back, in delivery order."""
        out = self._due(float("inf"))
        for held in self._held:
            out.append((held.when, held.packet, held.label))
        self._held = []
        out.sort(key=lambda item: item[0])
        return out
