"""Counters for every answer and every drop reason: errors are values (ARCHITECTURE §2)."""

from __future__ import annotations

from collections import Counter

__all__ = ["Stats", "Counts"]


class Counts(Counter[str]):
    """A ``Counter`` whose ``counts[key] += 1`` runs at plain-dict speed. Counter defines
    ``__delitem__`` in Python, which makes CPython route every item assignment through a
    Python-level slot (about 2.5x slower); taking dict's own ``__delitem__`` back
    restores the C slot. The one difference: deleting a missing key raises KeyError."""

    __slots__ = ()
    __delitem__ = dict.__delitem__  # type: ignore[assignment]


class Stats:
    """``received``/``sent`` count packets; ``replies`` counts what we sent by kind
    (``icmp.echo_reply``, ``icmp.port_unreachable``, ``tcp.rst`` …); ``drops`` counts
    every inbound packet that got no answer of its own, by reason (``ipv4.bad_checksum``,
    ``frag.overlap``, ``icmp.rate_limited``; silently consumed ones too, e.g.
    ``icmp.error_consumed``, and a fragment kept for reassembly as ``frag.held`` or
    ``frag6.held``), so every ``handle`` counts exactly one reply kind or one drop reason;
    ``events`` counts what happens besides (``frag.evicted``, ``frag.timeout`` …)."""

    __slots__ = ("received", "sent", "replies", "drops", "events")

    def __init__(self) -> None:
        self.received = 0
        self.sent = 0
        self.replies: Counter[str] = Counts()
        self.drops: Counter[str] = Counts()
        self.events: Counter[str] = Counts()

    def as_dict(self) -> dict[str, object]:
        return {
            "received": self.received,
            "sent": self.sent,
            "replies": dict(sorted(self.replies.items())),
            "drops": dict(sorted(self.drops.items())),
            "events": dict(sorted(self.events.items())),
        }

    def merge(self, other: Stats) -> None:
        """Add ``other``'s counts to this one (for totals over many hosts)."""
        self.received += other.received
        self.sent += other.sent
        self.replies.update(other.replies)
        self.drops.update(other.drops)
        self.events.update(other.events)
