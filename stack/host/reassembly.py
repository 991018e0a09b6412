"""Fragment reassembly shared by IPv4 (RFC 791, RFC 815) and IPv6 (RFC 8200 §4.5).

Linux's rules (``inet_frag_queue_insert``, ``ip_frag_queue``, ``ip6_frag_queue``), which
the protocol layers rely on:

* Fragments are kept as *runs*: a fragment that starts where the highest one ends extends
  the last run; any other creates a run of its own. A fragment that lies wholly inside one
  run is a duplicate and is ignored (the queue lives on); any other overlap discards the
  whole datagram (RFC 5722 §4 with erratum 3089, applied to IPv4 too).
* A last fragment that ends before data already held, or a second last fragment with a
  different end, or any data beyond a known end, discards the datagram.
* A queue lives ``timeout`` seconds from its first fragment; it is never extended.

Bounded (ARCHITECTURE §3): memory (payload bytes plus fixed per-fragment and per-datagram
overheads, and the first fragment kept whole, much as Linux charges skb truesize),
datagrams in progress and fragments per datagram all have caps; when a new fragment would
exceed one, the oldest datagrams are evicted first.
"""

from __future__ import annotations

from collections.abc import Hashable

__all__ = ["Reassembler", "Completed", "Expired", "FRAGMENT_OVERHEAD", "QUEUE_OVERHEAD"]

FRAGMENT_OVERHEAD = 256  # bytes charged per held fragment besides its payload
# Bytes charged per datagram in progress: its key, queue object and lists. Measured:
# without it a flood of one-fragment datagrams held about 1.6 times the charged memory.
QUEUE_OVERHEAD = 768


class Completed:
    """A whole datagram: ``first`` is the first fragment's packet as received (its
    header gives the reassembled header), ``payload`` the reassembled data after the
    fragmentable part, ``ecn`` the OR of ``1 << ecn`` over all fragments; ``df`` says
    whether a largest fragment had DF set (IPv4: Linux ``ip_frag_reasm`` then sets DF in
    the reassembled header; only when the caller passes ``size``/``df`` to ``add``)."""

    __slots__ = ("first", "payload", "ecn", "df")

    def __init__(self, first: bytes, payload: bytes, ecn: int, df: bool = False) -> None:
        self.first = first
        self.payload = payload
        self.ecn = ecn
        self.df = df


class Expired:
    """A datagram that timed out; ``first`` is the first fragment if it was held
    (RFC 792/RFC 8200: only then is a Time Exceeded sent), else None."""

    __slots__ = ("key", "first")

    def __init__(self, key: Hashable, first: bytes | None) -> None:
        self.key = key
        self.first = first


class _Queue:
    __slots__ = ("deadline", "runs", "pieces", "length", "last_in", "meat", "first",
                 "memory", "ecn", "max_size", "max_df_size")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.runs: list[list[int]] = []  # sorted [start, end] of each run
        self.pieces: list[tuple[int, bytes]] = []  # (offset, data), unsorted
        self.length = 0  # end of the datagram as far as known
        self.last_in = False
        self.meat = 0  # bytes held
        self.first: bytes | None = None
        self.memory = 0
        self.ecn = 0
        self.max_size = 0  # the largest fragment (ip_frag_queue's q.max_size)
        self.max_df_size = 0  # the largest fragment with DF set


class Reassembler:
    """One reassembly table; ``prefix`` names its counters (``frag`` or ``frag6``)."""

    __slots__ = ("_queues", "_timeout", "_mem_limit", "_max_datagrams", "_max_fragments",
                 "memory", "_events", "prefix")

    def __init__(self, *, timeout: float, mem_limit: int, max_datagrams: int,
                 max_fragments: int, events: dict[str, int], prefix: str) -> None:
        self._queues: dict[Hashable, _Queue] = {}  # insertion order == age
        self._timeout = timeout
        self._mem_limit = mem_limit
        self._max_datagrams = max_datagrams
        self._max_fragments = max_fragments
        self.memory = 0
        self._events = events
        self.prefix = prefix

    def __len__(self) -> int:
        return len(self._queues)

    def __contains__(self, key: object) -> bool:
        return key in self._queues

    def clear(self) -> None:
        """Forget every datagram in progress (no events: nothing timed out)."""
        self._queues.clear()
        self.memory = 0

    def next_deadline(self) -> float | None:
        for queue in self._queues.values():
            return queue.deadline
        return None

    def add(self, key: Hashable, offset: int, data: bytes, more: bool, packet: bytes,
            now: float, ecn: int = 0, size: int = 0, df: bool = False) -> Completed | str:
        """Take one fragment: ``data`` at byte ``offset``; ``more`` is the MF flag;
        ``packet`` is the whole fragment as received (kept if ``offset`` is 0); ``size``
        its length as Linux counts it (header and kept data) and ``df`` its DF flag.
        Returns the completed datagram, or a reason: ``<prefix>.held`` (kept, waiting),
        ``<prefix>.duplicate``, ``<prefix>.overlap``, ``<prefix>.bad_length``,
        ``<prefix>.too_many_fragments``, ``<prefix>.too_big``."""
        prefix = self.prefix
        end = offset + len(data)
        if end > 65535 + 65535:  # cannot happen from 13-bit offsets; a cheap guard
            return prefix + ".too_big"
        queue = self._queues.get(key)
        if queue is not None and now >= queue.deadline:
            self._discard(key)  # a late fragment of a timed-out queue starts a new one
            queue = None
        if queue is None:
            queue = _Queue(now + self._timeout)
            self._queues[key] = queue
            queue.memory = QUEUE_OVERHEAD
            self.memory += QUEUE_OVERHEAD
            if len(self._queues) > self._max_datagrams:
                self._evict_oldest(keep=key)

        # Length consistency (ip_frag_queue / ip6_frag_queue).
        if not more:
            if end < queue.length or (queue.last_in and end != queue.length):
                self._discard(key)
                return prefix + ".bad_length"
            queue.last_in = True
            queue.length = end
        elif end > queue.length:
            if queue.last_in:
                self._discard(key)
                return prefix + ".bad_length"
            queue.length = end
        if end == offset:
            self._discard(key)
            return prefix + ".bad_length"

        verdict = self._insert_run(queue, offset, end)
        if verdict == 1:
            return prefix + ".duplicate"
        if verdict == 2:
            self._discard(key)
            return prefix + ".overlap"
        if len(queue.pieces) >= self._max_fragments:
            self._discard(key)
            return prefix + ".too_many_fragments"

        cost = len(data) + FRAGMENT_OVERHEAD
        if offset == 0:
            cost += len(packet)  # the first fragment is kept whole as well
        queue.pieces.append((offset, data))
        queue.meat += len(data)
        queue.memory += cost
        queue.ecn |= 1 << ecn
        if size > queue.max_size:
            queue.max_size = size
        if df and size > queue.max_df_size:
            queue.max_df_size = size
        self.memory += cost
        if offset == 0:
            queue.first = packet
        if queue.last_in and queue.first is not None and queue.meat == queue.length:
            self._discard(key)
            queue.pieces.sort(key=_offset_of)
            return Completed(queue.first, b"".join(p[1] for p in queue.pieces), queue.ecn,
                             queue.max_df_size == queue.max_size != 0)
        if self.memory > self._mem_limit:
            self._evict_oldest(keep=key)
            if self.memory > self._mem_limit:  # this datagram alone is over the cap
                self._discard(key)
                self._events[prefix + ".evicted"] += 1
                return prefix + ".memory_limit"
        return prefix + ".held"

    @staticmethod
    def _insert_run(queue: _Queue, offset: int, end: int) -> int:
        """0 inserted, 1 duplicate, 2 overlap (inet_frag_queue_insert)."""
        runs = queue.runs
        if not runs:
            runs.append([offset, end])
            return 0
        last = runs[-1]
        if last[1] < end:  # the common case: the fragment goes to the end
            if offset < last[1]:
                return 2
            if offset == last[1]:
                last[1] = end
            else:
                runs.append([offset, end])
            return 0
        for index, (start, stop) in enumerate(runs):
            if end <= start:
                runs.insert(index, [offset, end])
                return 0
            if offset >= stop:
                continue
            return 1 if offset >= start and end <= stop else 2
        runs.append([offset, end])  # unreachable: the last run ends at or after ``end``
        return 0

    def expire(self, now: float) -> list[Expired]:
        """Remove every queue whose deadline has passed; oldest first."""
        expired: list[Expired] = []
        queues = self._queues
        while queues:
            key = next(iter(queues))
            queue = queues[key]
            if queue.deadline > now:
                break
            self._discard(key)
            self._events[self.prefix + ".timeout"] += 1
            expired.append(Expired(key, queue.first))
        return expired

    def discard(self, key: Hashable) -> bool:
        """Drop the datagram ``key`` if one is in progress (Linux ``inet_frag_kill``: a
        fragment that gets a Parameter Problem kills its whole queue); True if it was."""
        if key not in self._queues:
            return False
        self._discard(key)
        return True

    def _discard(self, key: Hashable) -> None:
        queue = self._queues.pop(key)
        self.memory -= queue.memory

    def _evict_oldest(self, keep: Hashable) -> None:
        """Evict the oldest queues (never ``keep``) until within both caps."""
        queues = self._queues
        while self.memory > self._mem_limit or len(queues) > self._max_datagrams:
            victim = next((key for key in queues if key != keep), keep)
            if victim == keep:
                return
            self._discard(victim)
            self._events[self.prefix + ".evicted"] += 1


def _offset_of(piece: tuple[int, bytes]) -> int:
    return piece[0]
