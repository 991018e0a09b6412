"""The host: one pure function from (packet, time) to the packets to send.

``Host.handle`` dispatches on the IP version to the IPv4 and IPv6 layers, which share
the host's state: configuration, counters, the IP identification counter, the ICMP rate
limiter, path MTU caches and reassembly tables. No I/O, no clock, no randomness: the same
config, packets and times give the same bytes (ARCHITECTURE §1).
"""

from __future__ import annotations

import hashlib
from typing import Final

from mypy_extensions import mypyc_attr

from stack.host.config import HostConfig
from stack.host.ipv4 import Ipv4Layer
from stack.host.ipv6 import Ipv6Layer
from stack.host.ratelimit import IcmpRateLimiter
from stack.host.stats import Stats
from stack.wire.checksum import keyed_hash

__all__ = ["Host", "NOT_FINITE", "time_is_finite", "IPV4_ID_COUNTERS"]

NOT_FINITE: Final = "time.not_finite"
_INFINITY: Final = float("inf")


def time_is_finite(now: float) -> bool:
    """Whether ``now`` can be a clock reading. NaN and ±inf cannot: one reaching a token
    bucket or a timer would poison it for good (NaN fails every comparison, inf makes
    every deadline due at once), so the core refuses them before any state is touched."""
    return -_INFINITY < now < _INFINITY


# Linux keeps at least 2048 IPv4 identification counters (IP_IDENTS_SZ) and picks one
# per datagram by a keyed hash of its destination (ip_idents_reserve): a peer that pings
# the host sees only the traffic to the destinations sharing its counter (RFC 7739 §5.1).
IPV4_ID_COUNTERS: Final = 2048  # a power of two: the hash is masked


def hash_seeds(secret: int) -> tuple[int, int, int]:
    """Three 62-bit seeds drawn from ``HostConfig.hash_secret`` (BLAKE2b, once per host):
    for the IPv4 ID counters, for flow labels and for echo reply labels. Each packet then
    costs one ``stack.wire.checksum.keyed_hash`` with one of them: a keyed universal hash,
    cheap enough for the echo fast paths and evenly spread, though, unlike Linux's
    siphash, not a cryptographic one (see docs/conformance.md)."""
    digest = hashlib.blake2b(secret.to_bytes(8, "big"), digest_size=24,
                             person=b"tunstack-hash").digest()
    mask = (1 << 62) - 1
    return (int.from_bytes(digest[0:8], "big") & mask,
            int.from_bytes(digest[8:16], "big") & mask,
            int.from_bytes(digest[16:24], "big") & mask)


# Compiled by mypyc (stack/corebuild.py), yet still a class others may subclass: the
# fuzz harness plants bugs in a subclass to prove it finds them.
@mypyc_attr(allow_interpreted_subclasses=True)
class Host:
    """``handle(packet, now)`` takes one inbound IP packet (no link header) and returns
    the IP packets to send; ``poll(now)`` runs timers and returns what they send;
    ``next_timer()`` says when ``poll`` is next due. ``last_reason`` names what the last
    ``handle`` did: the reply kind (``icmp.echo_reply``) or the drop reason
    (``ipv4.bad_checksum``), as counted in ``stats``."""

    __slots__ = ("config", "stats", "last_reason", "ratelimiter", "ipv4", "ipv6",
                 "ipv4_ids", "id_seed", "flow_seed", "echo_seed", "_next_frag6_id", "_drops",
                 "link_group")

    def __init__(self, config: HostConfig | None = None) -> None:
        self.config = config if config is not None else HostConfig()
        self.stats = Stats()
        self.last_reason = ""
        # Set by the link layer (stack/link) for the packet it hands over: True when its
        # frame was sent to a link-layer broadcast or multicast address (Linux
        # skb->pkt_type != PACKET_HOST). Such a packet gets no ICMP error and no RST
        # (RFC 1122 §3.2.2, RFC 4443 §2.4 (e.3)); an echo is still answered.
        self.link_group = False
        self.ratelimiter = IcmpRateLimiter(
            self.config.ratelimit_peers, self.config.icmp_msgs_per_sec,
            self.config.icmp_msgs_burst)
        # Every counter starts at 0, so a host's first datagram to anyone has ID 0. A
        # list, not a dict of the counters in use: the echo fast path reads and writes
        # one per reply, and a list's item costs a fraction of a dict's (measured with
        # callgrind: a dict added ~800 instructions to an 8,000-instruction echo).
        self.ipv4_ids = [0] * IPV4_ID_COUNTERS
        self.id_seed, self.flow_seed, self.echo_seed = hash_seeds(self.config.hash_secret)
        self._next_frag6_id = 0
        self.ipv4 = Ipv4Layer(self)
        self.ipv6 = Ipv6Layer(self)
        self._drops = self.stats.drops  # bound once: every drop counts through it

    def reset(self) -> None:
        """Back to the state of a fresh ``Host(self.config)``, in place and without
        building anything: a fuzz target runs each input on a fresh host, and building
        one cost as much as answering the packet. tests/test_fuzz.py compares every
        attribute of a reset host with a new one: state added here must be reset here."""
        self.stats.reset()
        self.last_reason = ""
        self.link_group = False
        self.ratelimiter.reset()
        self.ipv4_ids = [0] * IPV4_ID_COUNTERS
        self._next_frag6_id = 0
        for layer in (self.ipv4, self.ipv6):
            layer.pmtu.clear()
            layer.reassembler.clear()
        self.ipv4.fast_path = self.ipv4.enabled

    def handle(self, packet: bytes, now: float) -> list[bytes]:
        stats = self.stats
        stats.received += 1
        if not -_INFINITY < now < _INFINITY:  # time_is_finite, inlined on the hot path
            return self.drop(NOT_FINITE)
        if not packet:
            return self.drop("ip.empty")
        version = packet[0] >> 4
        if version == 4:
            out = self.ipv4.input(packet, now)
        elif version == 6:
            out = self.ipv6.input(packet, now)
        else:
            return self.drop("ip.bad_version")
        if out:
            stats.sent += len(out)
        return out

    def poll(self, now: float) -> list[bytes]:
        if not time_is_finite(now):  # no packet to drop: counted as an event
            self.stats.events[NOT_FINITE] += 1
            return []
        out = self.ipv4.poll(now) + self.ipv6.poll(now)
        self.stats.sent += len(out)
        return out

    def next_timer(self) -> float | None:
        """The earliest time at which ``poll`` has work, or None."""
        deadlines = [d for d in (self.ipv4.next_deadline(), self.ipv6.next_deadline())
                     if d is not None]
        return min(deadlines) if deadlines else None

    # -- shared helpers for the layers ---------------------------------------------
    def drop(self, reason: str) -> list[bytes]:
        """Count an unanswered packet under ``reason`` and return no output."""
        self._drops[reason] += 1
        self.last_reason = reason
        return []

    def replied(self, kind: str) -> None:
        """Count one answer of ``kind``."""
        self.stats.replies[kind] += 1
        self.last_reason = kind

    def next_ipv4_id(self, destination: bytes) -> int:
        """IP identification for our datagram to ``destination``: the next value of the
        counter its keyed hash selects (see IPV4_ID_COUNTERS), so output stays
        deterministic for a given ``hash_secret``."""
        bucket = self.id_bucket(destination)
        ident = self.ipv4_ids[bucket]
        self.ipv4_ids[bucket] = (ident + 1) & 0xFFFF
        return ident

    def id_bucket(self, destination: bytes) -> int:
        """Which counter ``destination`` uses."""
        return keyed_hash(destination, self.id_seed) & (IPV4_ID_COUNTERS - 1)

    def next_frag6_id(self) -> int:
        """Fragment header identification for IPv6 (RFC 8200 §4.5), also a counter."""
        ident = self._next_frag6_id
        self._next_frag6_id = (ident + 1) & 0xFFFFFFFF
        return ident
