"""``LinkHost``: a ``stack.Host`` behind Ethernet, for TAP devices. See stack/link/__init__.py
for the API; this module holds the policy."""

from __future__ import annotations

import ipaddress
from collections import OrderedDict
from dataclasses import dataclass

from stack.host.config import ConfigError
from stack.host.host import NOT_FINITE, Host, time_is_finite
from stack.host.stats import Stats
from stack.link import arp, ethernet
from stack.link.ethernet import (
    BROADCAST,
    ETHERTYPE_ARP,
    ETHERTYPE_IPV4,
    ETHERTYPE_IPV6,
    HEADER_LENGTH,
    ipv4_multicast_mac,
    ipv6_multicast_mac,
    is_group,
)
from stack.link.neighbours import NeighbourCache
from stack.wire import icmpv6, ipv6

__all__ = ["LinkHost", "LinkConfig"]

_IPV4_LIMITED_BROADCAST = b"\xff\xff\xff\xff"
_UNSPECIFIED_V4 = bytes(4)
_ALL_NODES_MAC = ipv6_multicast_mac(ipaddress.IPv6Address("ff02::1").packed)


@dataclass(frozen=True)
class LinkConfig:
    """Neighbour cache size and lifetime, and address resolution pacing. Defaults are
    Linux's: mcast_solicit 3 probes, retrans_time 1 s, unres_qlen-like small queue."""

    neighbour_capacity: int = 256
    neighbour_lifetime: float = 60.0  # net.ipv4.neigh.default.gc_stale_time
    solicit_attempts: int = 3  # net.ipv4.neigh.default.mcast_solicit
    solicit_interval: float = 1.0  # net.ipv4.neigh.default.retrans_time_ms
    queue_per_destination: int = 3  # packets held while resolving one neighbour
    pending_destinations: int = 64  # neighbours being resolved at once

    def __post_init__(self) -> None:
        for name in ("neighbour_capacity", "solicit_attempts", "queue_per_destination",
                     "pending_destinations"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")


class _Pending:
    """Packets waiting for one neighbour's MAC, and the solicitation schedule."""

    __slots__ = ("packets", "attempts", "next_attempt")

    def __init__(self, next_attempt: float) -> None:
        self.packets: list[bytes] = []
        self.attempts = 1
        self.next_attempt = next_attempt


class LinkHost:
    """Ethernet II, ARP (RFC 826) and the link side of neighbour discovery (RFC 4861)
    around ``host``, whose ``config.link_address`` is our MAC. ``handle(frame, now)``
    returns the frames to send; ``poll``/``next_timer`` run the core's timers and
    address resolution retries. Pure like the core: no I/O, no clock, no randomness."""

    def __init__(self, host: Host, link: LinkConfig | None = None) -> None:
        mac = host.config.link_address
        if mac is None or len(mac) != 6 or is_group(mac):
            raise ConfigError("LinkHost needs HostConfig.link_address: an individual "
                              "6-byte MAC")
        self.host = host
        self.mac: bytes = bytes(mac)
        self.link = link if link is not None else LinkConfig()
        self.neighbours = NeighbourCache(self.link.neighbour_capacity,
                                         self.link.neighbour_lifetime)
        ipv4 = host.config.ipv4_interface
        self.ipv4_address: bytes | None = ipv4.ip.packed if ipv4 is not None else None
        self.ipv4_broadcast: bytes | None = (
            ipv4.network.broadcast_address.packed
            if ipv4 is not None and ipv4.network.prefixlen < 31 else None)
        self.ipv6_addresses = [i.ip.packed for i in host.config.ipv6_interfaces]
        # Frames we accept: ours, broadcast, and the IPv6 multicast groups a host joins:
        # all-nodes and the solicited-node group of each address (RFC 4291 §2.7.1).
        self.accepted_macs = {self.mac, BROADCAST, _ALL_NODES_MAC}
        for address in self.ipv6_addresses:
            self.accepted_macs.add(ipv6_multicast_mac(ipv6.solicited_node(address)))
        self._pending: OrderedDict[bytes, _Pending] = OrderedDict()

    # -- what the driver sees ----------------------------------------------------------
    @property
    def stats(self) -> Stats:
        return self.host.stats

    @property
    def last_reason(self) -> str:
        return self.host.last_reason

    @last_reason.setter
    def last_reason(self, value: str) -> None:
        self.host.last_reason = value

    def next_timer(self) -> float | None:
        deadlines = [p.next_attempt for p in self._pending.values()]
        core = self.host.next_timer()
        if core is not None:
            deadlines.append(core)
        return min(deadlines) if deadlines else None

    def handle(self, frame: bytes, now: float) -> list[bytes]:
        """One inbound Ethernet frame (no FCS) to the frames we send."""
        host = self.host
        if not time_is_finite(now):  # before the neighbour cache and the queues see it
            host.stats.received += 1
            return host.drop(NOT_FINITE)
        if len(frame) < HEADER_LENGTH:
            host.stats.received += 1
            return host.drop("eth.truncated")
        destination = frame[0:6]
        source = frame[6:12]
        ethertype = (frame[12] << 8) | frame[13]
        if destination not in self.accepted_macs and not self._wanted_group(destination):
            host.stats.received += 1
            return host.drop("eth.not_for_us")
        if is_group(source):
            # IEEE 802 §8.2: a source address is always individual.
            host.stats.received += 1
            return host.drop("eth.bad_source")
        payload = frame[HEADER_LENGTH:]
        if ethertype == ETHERTYPE_ARP:
            host.stats.received += 1
            return self._arp(payload, now)
        if ethertype in (ETHERTYPE_IPV4, ETHERTYPE_IPV6):
            # Tell the core how the frame was addressed (Linux's skb->pkt_type).
            host.link_group = is_group(destination)
            try:
                return self._ip(ethertype, source, payload, now)
            finally:
                host.link_group = False
        host.stats.received += 1
        return host.drop("eth.unknown_ethertype")

    def poll(self, now: float) -> list[bytes]:
        if not time_is_finite(now):  # +inf would make every resolution give up at once
            self.host.stats.events[NOT_FINITE] += 1
            return []
        frames: list[bytes] = []
        for packet in self.host.poll(now):
            frames += self._route(packet, None, None, now)
        for address in [a for a, p in self._pending.items() if p.next_attempt <= now]:
            pending = self._pending[address]
            if pending.attempts >= self.link.solicit_attempts:
                # RFC 1122 §2.3.2.2 / RFC 4861 §7.2.2: give up, discard what waited.
                del self._pending[address]
                self.host.stats.events["neighbour.unresolved"] += 1
                self.host.stats.events["neighbour.queue_dropped"] += len(pending.packets)
                continue
            pending.attempts += 1
            pending.next_attempt = now + self.link.solicit_interval
            frames.append(self._solicitation(address))
        self.host.stats.sent += len(frames)
        return frames

    # -- receiving -------------------------------------------------------------------------
    def _wanted_group(self, destination: bytes) -> bool:
        # IPv4 multicast frames (01:00:5e…): the core decides (it drops or answers them
        # per policy, e.g. icmp_echo_ignore_broadcasts), as Linux hands them to IP.
        return destination[:3] == b"\x01\x00\x5e"

    def _ip(self, ethertype: int, source_mac: bytes, payload: bytes, now: float) -> list[bytes]:
        host = self.host
        version = payload[0] >> 4 if payload else 0
        if (ethertype == ETHERTYPE_IPV4) != (version == 4):
            host.stats.received += 1
            return host.drop("eth.version_mismatch")
        packet = _without_padding(payload, version)
        released = self._learn_from_nd(packet, now) if version == 6 else []
        replies = host.handle(packet, now)
        source_ip = packet[12:16] if version == 4 else packet[8:24]
        frames: list[bytes] = released
        for reply in replies:
            frames += self._route(reply, source_ip, source_mac, now)
        # host.handle counted the replies as sent; count the link's difference (queued
        # packets are not sent yet; solicitations and released packets are extra).
        host.stats.sent += len(frames) - len(replies)
        return frames

    def _learn_from_nd(self, packet: bytes, now: float) -> list[bytes]:
        """RFC 4861 §7.2.3/§7.2.5: a Neighbor Solicitation's Source Link-Layer Address
        option and an Advertisement's Target Link-Layer Address option tell us a
        neighbour's MAC. The core validates and answers; here we only learn, and return
        the packets that were waiting for that neighbour."""
        if len(packet) < 64 or packet[6] != ipv6.ICMPV6 or packet[7] != 255:
            return []  # not ND, or not from the link (RFC 4861 §7.1: hop limit 255)
        message = packet[40:]
        if message[0] == icmpv6.NEIGHBOUR_SOLICITATION:
            solicitation = icmpv6.parse_neighbour_solicitation(message)
            if isinstance(solicitation, str):
                return []
            address, option = packet[8:24], solicitation.link_address()
            if address == bytes(16):
                return []  # duplicate address detection: the sender has no address yet
        elif message[0] == icmpv6.NEIGHBOUR_ADVERTISEMENT:
            advertisement = icmpv6.parse_neighbour_advertisement(message)
            if isinstance(advertisement, str):
                return []
            address, option = advertisement.target, advertisement.link_address()
        else:
            return []
        if option is None or len(option) < 6:
            return []
        mac = option[:6]
        if is_group(mac) or address in self.ipv6_addresses:
            return []
        if not icmpv6.is_checksum_valid(message, packet[8:24], packet[24:40]):
            return []
        self.neighbours.learn(address, mac, now)
        return self._release(address, mac)

    def _arp(self, payload: bytes, now: float) -> list[bytes]:
        """RFC 826, "Packet Reception", with the merge flag."""
        host = self.host
        parsed = arp.parse(payload)
        if isinstance(parsed, str):
            return host.drop(parsed)
        if is_group(parsed.sender_mac):
            return host.drop("arp.bad_sender")
        if parsed.sender_ip == self.ipv4_address:
            # Someone else claims our address (RFC 5227 §2.4 conflict): never learn it.
            return host.drop("arp.address_conflict")
        merged = False
        if parsed.sender_ip in self.neighbours:
            self.neighbours.learn(parsed.sender_ip, parsed.sender_mac, now)
            merged = True
        if self.ipv4_address is None or parsed.target_ip != self.ipv4_address:
            frames = self._release(parsed.sender_ip, parsed.sender_mac) if merged else []
            # A known sender's entry was refreshed (a gratuitous ARP, RFC 5227 §3): say
            # so, rather than that the packet was ignored.
            host.drop("arp.neighbour_updated" if merged else "arp.not_for_us")
            host.stats.sent += len(frames)
            return frames
        # An ARP probe (RFC 5227 §2.1.1) has sender 0.0.0.0: answer, learn nothing.
        if not merged and parsed.sender_ip != _UNSPECIFIED_V4:
            self.neighbours.learn(parsed.sender_ip, parsed.sender_mac, now)
        frames = self._release(parsed.sender_ip, parsed.sender_mac)
        if parsed.operation == arp.OP_REQUEST:
            answer = arp.emit(arp.ArpPacket(arp.OP_REPLY, self.mac, self.ipv4_address,
                                            parsed.sender_mac, parsed.sender_ip))
            frames.append(ethernet.emit(parsed.sender_mac, self.mac, ETHERTYPE_ARP, answer))
            host.replied("arp.reply")
        elif parsed.operation == arp.OP_REPLY:
            host.drop("arp.reply_consumed")
        else:
            host.drop("arp.bad_operation")
        host.stats.sent += len(frames)
        return frames

    # -- sending ---------------------------------------------------------------------------
    def _route(self, packet: bytes, request_source: bytes | None,
               request_mac: bytes | None, now: float) -> list[bytes]:
        """Frame ``packet`` for its destination. An answer to the inbound packet goes
        back to the MAC that packet came from: for an on-link peer that is the peer, for
        an off-link one the router that brought it, either way the right next hop."""
        version = packet[0] >> 4
        if version == 4:
            destination = packet[16:20]
            ethertype = ETHERTYPE_IPV4
            if destination == _IPV4_LIMITED_BROADCAST or destination == self.ipv4_broadcast:
                return [ethernet.emit(BROADCAST, self.mac, ethertype, packet)]
            if 224 <= destination[0] <= 239:
                return [ethernet.emit(ipv4_multicast_mac(destination), self.mac, ethertype,
                                      packet)]
        else:
            destination = packet[24:40]
            ethertype = ETHERTYPE_IPV6
            if destination[0] == 0xFF:
                return [ethernet.emit(ipv6_multicast_mac(destination), self.mac, ethertype,
                                      packet)]
        if destination == request_source and request_mac is not None:
            return [ethernet.emit(request_mac, self.mac, ethertype, packet)]
        mac = self.neighbours.lookup(destination, now)
        if mac is not None:
            return [ethernet.emit(mac, self.mac, ethertype, packet)]
        return self._queue(destination, packet, now)

    def _queue(self, destination: bytes, packet: bytes, now: float) -> list[bytes]:
        """Hold ``packet`` until ``destination`` is resolved; the first packet for a
        destination sends the first solicitation. Both queues are capped."""
        pending = self._pending.get(destination)
        if pending is None:
            if len(self._pending) >= self.link.pending_destinations:
                _, evicted = self._pending.popitem(last=False)
                self.host.stats.events["neighbour.queue_dropped"] += len(evicted.packets)
            pending = _Pending(now + self.link.solicit_interval)
            pending.packets.append(packet)
            self._pending[destination] = pending
            return [self._solicitation(destination)]
        if len(pending.packets) >= self.link.queue_per_destination:
            pending.packets.pop(0)  # Linux drops the oldest of unres_qlen too
            self.host.stats.events["neighbour.queue_dropped"] += 1
        pending.packets.append(packet)
        return []

    def _release(self, address: bytes, mac: bytes) -> list[bytes]:
        """The packets that waited for ``address``, now framed for ``mac``."""
        pending = self._pending.pop(address, None)
        if pending is None:
            return []
        return [ethernet.emit(mac, self.mac, ETHERTYPE_IPV4 if p[0] >> 4 == 4
                              else ETHERTYPE_IPV6, p) for p in pending.packets]

    def _solicitation(self, address: bytes) -> bytes:
        """An ARP request (broadcast) or a Neighbor Solicitation (to the solicited-node
        group, with our Source Link-Layer Address option, RFC 4861 §7.2.2)."""
        if len(address) == 4:
            request = arp.emit(arp.ArpPacket(arp.OP_REQUEST, self.mac,
                                             self.ipv4_address or _UNSPECIFIED_V4,
                                             bytes(6), address))
            return ethernet.emit(BROADCAST, self.mac, ETHERTYPE_ARP, request)
        source = self._ipv6_source_for(address)
        group = ipv6.solicited_node(address)
        message = icmpv6.build_neighbour_solicitation(address, source, group, self.mac)
        # RFC 4861 §7.1.1: ND messages carry hop limit 255, proof they never crossed a router.
        packet = ipv6.build_header(0, 0, len(message), ipv6.ICMPV6, 255, source, group) + message
        return ethernet.emit(ipv6_multicast_mac(group), self.mac, ETHERTYPE_IPV6, packet)

    def _ipv6_source_for(self, destination: bytes) -> bytes:
        """A source address of ours in the destination's scope (RFC 6724 rule 2)."""
        link_local = destination[:2] == b"\xfe\x80"
        for address in self.ipv6_addresses:
            if (address[:2] == b"\xfe\x80") == link_local:
                return address
        return self.ipv6_addresses[0]


def _without_padding(payload: bytes, version: int) -> bytes:
    """Ethernet pads short frames to 60 bytes (IEEE 802.3 §4.2.3.3); the IP length says
    where the packet ends (Linux: ip_rcv_core trims with pskb_trim_rcsum)."""
    if version == 4 and len(payload) >= 20:
        total = (payload[2] << 8) | payload[3]
        if 20 <= total < len(payload):
            return payload[:total]
    elif version == 6 and len(payload) >= 40:
        total = 40 + ((payload[4] << 8) | payload[5])
        if total < len(payload):
            return payload[:total]
    return payload
