"""ICMP error rate limiting, as Linux does it, but deterministic: time is passed in.

Per peer (``inet_peer_xrlim_allow``): a token bucket in seconds; each error costs one
``interval``; a bucket holds at most ``6 * interval`` (XRLIM_BURST_FACTOR) and a peer seen
for the first time starts full, so a new peer may get six errors at once, then one per
interval. Globally (``icmp_global_allow``): ``per_sec`` credits a second, at most ``burst``
banked, refilled no more often than every 20 ms (HZ/50). Linux consumes a random 0-2
credits per error; we consume exactly one, so the average is Linux's and replays repeat.
"""

from __future__ import annotations

__all__ = ["IcmpRateLimiter", "BURST_FACTOR"]

BURST_FACTOR = 6  # Linux XRLIM_BURST_FACTOR
_GLOBAL_MIN_REFILL = 0.02  # HZ/50


class IcmpRateLimiter:
    __slots__ = ("_peers", "_cap", "_per_sec", "_burst", "_credit", "_stamp")

    def __init__(self, peer_cap: int, per_sec: int, burst: int) -> None:
        self._peers: dict[bytes, tuple[float, float]] = {}  # peer -> (tokens, last seen)
        self._cap = peer_cap
        self._per_sec = per_sec
        self._burst = burst
        self._credit = burst
        self._stamp: float | None = None

    def __len__(self) -> int:
        return len(self._peers)

    def reset(self) -> None:
        """As new: no peer seen, the global bucket full."""
        self._peers.clear()
        self._credit = self._burst
        self._stamp = None

    def allow(self, peer: bytes, now: float, interval: float) -> str | None:
        """None when an error to ``peer`` may be sent now (and its cost is taken), else
        the drop reason. ``interval`` is seconds per error for this peer (0: unlimited)."""
        if not self._global_allow(now):
            return "icmp.global_rate_limited"
        if interval > 0 and not self._peer_allow(peer, now, interval):
            return "icmp.rate_limited"
        self._credit -= 1
        return None

    def _global_allow(self, now: float) -> bool:
        if self._credit > 0:
            return True
        if self._stamp is not None:
            delta = min(now - self._stamp, 1.0)
            if delta < _GLOBAL_MIN_REFILL:
                return False
        else:
            delta = 1.0
        increment = int(self._per_sec * delta)
        if increment <= 0:
            return False
        self._stamp = now
        self._credit = min(self._credit + increment, self._burst)
        return True

    def _peer_allow(self, peer: bytes, now: float, interval: float) -> bool:
        cap = BURST_FACTOR * interval
        entry = self._peers.pop(peer, None)
        if entry is None:
            tokens = cap
            if len(self._peers) >= self._cap:  # bounded: forget the least recently seen
                del self._peers[next(iter(self._peers))]
        else:
            tokens = min(entry[0] + max(now - entry[1], 0.0), cap)
        allowed = tokens >= interval
        if allowed:
            tokens -= interval
        self._peers[peer] = (tokens, now)  # re-inserted last: dict order is recency
        return allowed
