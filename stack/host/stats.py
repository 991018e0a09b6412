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
    ``events`` counts what happens besides (``frag.evicted``, ``frag.timeout`` …).

    The echo fast paths count their replies in two plain integers,
    ``echo_replies_v4``/``echo_replies_v6``, which ``replies`` folds in whenever it is
    read: an item update of a ``Counter`` is one of the costliest things a ping that
    wakes a sleeping responder does (docs/bench.md, the paced-ping RTT)."""

    __slots__ = ("received", "sent", "_replies", "drops", "events", "echo_replies_v4",
                 "echo_replies_v6")

    def __init__(self) -> None:
        self.received = 0
        self.sent = 0
        self._replies: Counter[str] = Counts()
        self.drops: Counter[str] = Counts()
        self.events: Counter[str] = Counts()
        self.echo_replies_v4 = 0  # icmp.echo_reply, not yet in _replies
        self.echo_replies_v6 = 0  # icmpv6.echo_reply, likewise

    def reset(self) -> None:
        """Every count back to zero, in place: the layers hold the counters."""
        self.received = 0
        self.sent = 0
        self._replies.clear()
        self.drops.clear()
        self.events.clear()
        self.echo_replies_v4 = 0
        self.echo_replies_v6 = 0

    @property
    def replies(self) -> Counter[str]:
        if self.echo_replies_v4:
            self._replies["icmp.echo_reply"] += self.echo_replies_v4
            self.echo_replies_v4 = 0
        if self.echo_replies_v6:
            self._replies["icmpv6.echo_reply"] += self.echo_replies_v6
            self.echo_replies_v6 = 0
        return self._replies

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
