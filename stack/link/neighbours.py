"""A bounded neighbour cache: IP address to Ethernet address, for IPv4 (ARP) and IPv6
(neighbour discovery) alike.

Bounded twice over (ARCHITECTURE §3): at most ``capacity`` entries, the least recently
confirmed evicted first (Linux's neigh_forced_gc drops old entries the same way when
gc_thresh3 is reached), and an entry older than ``lifetime`` is treated as absent, so a
neighbour that changed its MAC is asked again (Linux: gc_stale_time, 60 s).
"""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["NeighbourCache"]


class NeighbourCache:
    def __init__(self, capacity: int = 256, lifetime: float = 60.0) -> None:
        if capacity < 1:
            raise ValueError("neighbour cache capacity must be at least 1")
        self.capacity = capacity
        self.lifetime = lifetime
        self._entries: OrderedDict[bytes, tuple[bytes, float]] = OrderedDict()
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, address: bytes) -> bool:
        return address in self._entries

    def learn(self, address: bytes, mac: bytes, now: float) -> None:
        """Record (or refresh) ``address`` at ``mac``; evict the oldest when full."""
        entries = self._entries
        if address in entries:
            entries.move_to_end(address)
        elif len(entries) >= self.capacity:
            entries.popitem(last=False)
            self.evictions += 1
        entries[address] = (mac, now)

    def lookup(self, address: bytes, now: float) -> bytes | None:
        """The MAC of ``address`` if known and fresh."""
        found = self._entries.get(address)
        if found is None:
            return None
        mac, learned = found
        if now - learned > self.lifetime:
            del self._entries[address]
            return None
        return mac
