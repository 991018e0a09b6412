"""Path MTU cache (RFC 1191 §6.3, RFC 8201 §5): bounded, entries expire."""

from __future__ import annotations

__all__ = ["PathMtuCache"]


class PathMtuCache:
    __slots__ = ("_entries", "_cap", "_expires")

    def __init__(self, cap: int, expires: float) -> None:
        self._entries: dict[bytes, tuple[int, float]] = {}  # dst -> (mtu, expiry time)
        self._cap = cap
        self._expires = expires

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()

    def get(self, destination: bytes, now: float, default: int) -> int:
        entry = self._entries.get(destination)
        if entry is None:
            return default
        if now >= entry[1]:
            del self._entries[destination]
            return default
        return entry[0]

    def lower(self, destination: bytes, mtu: int, now: float) -> bool:
        """Record ``mtu`` for ``destination`` if it lowers what we know; True if it did.
        RFC 1191 §6.3: a PMTU is only ever decreased by a report, raised by expiry."""
        current = self.get(destination, now, 1 << 30)
        if mtu >= current:
            return False
        self._entries.pop(destination, None)
        if len(self._entries) >= self._cap:  # bounded: the oldest learned entry goes
            del self._entries[next(iter(self._entries))]
        self._entries[destination] = (mtu, now + self._expires)
        return True
