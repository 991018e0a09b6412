"""IPv6 input policy: what a Linux host answers to one IPv6 packet (RFC 8200, RFC 4443,
RFC 4861), as recorded from Linux 6.18 on a TUN device.

The walk follows the kernel's order so that answers and silences match it:

1. ``ip6_rcv_core``: version, loopback addresses, multicast scope 0/1, multicast source,
   payload length against the bytes received (extra bytes trimmed), then the Hop-by-Hop
   header, which Linux parses *before* it looks at the destination.
2. The destination: one of our addresses, the all-nodes group ff02::1, or (TAP mode
   only: Linux joins no solicited-node group on a NOARP device such as TUN) one of our
   solicited-node groups. Anything else is dropped, as a host with forwarding off does.
   The host modelled is the one the recorder sets up: its on-link prefixes and a default
   route, so every unicast source (off-link ones and ::, too) is answered.
3. ``ip6_protocol_deliver_rcu``: Destination Options, Routing and Fragment headers, then
   ICMPv6, UDP or TCP; any other Next Header gets Parameter Problem code 1.

Errors follow ``icmp6_send`` (RFC 4443 §2.4): never about an ICMPv6 error, never to or
from an unspecified or multicast address (except Parameter Problem code 2 for an option
whose type says so, §2.4 (e.3)), the quote cut so the error is at most 1280 bytes, and
rate-limited per peer (``net.ipv6.icmp.ratelimit``, 100 ms, burst 6) and globally with
IPv4 (the host's shared :class:`~stack.host.ratelimit.IcmpRateLimiter`).

Flow label (RFC 6437 §3): as Linux with ``auto_flowlabels=1`` and
``flowlabel_reflect=0``, every answer is labelled with a keyed hash of its own flow
(addresses, Next Header, ports or ICMPv6 type and code), keyed by
``HostConfig.hash_secret`` where Linux uses a per-boot secret: a flow keeps its label,
the request's label is not reflected (nmap's IPv6 fingerprint tells the two apart), and
a given secret replays byte for byte. Neighbour Advertisements carry 0, as Linux's
``ip6_nd_hdr`` writes. Comparisons against Linux recordings ignore the field.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Final

from stack.host import transport
from stack.host.pmtu import PathMtuCache
from stack.host.reassembly import Completed, Reassembler
from stack.wire import icmpv6
from stack.wire import ipv6 as wire
from stack.wire.checksum import checksum, keyed_hash, ones_sum_mod

if TYPE_CHECKING:
    from stack.host.host import Host

__all__ = ["Ipv6Layer", "ERROR_QUOTE_LIMIT", "MAX_OPTIONS"]

# RFC 4443 §2.4 (c): an error is at most 1280 bytes; icmp6_send quotes at most this many.
ERROR_QUOTE_LIMIT = wire.MIN_MTU - wire.HEADER_LEN - 8
# net.ipv6.max_hbh_opts_number / max_dst_opts_number: non-padding options per header.
MAX_OPTIONS = 8
_MAX_PAD = 7  # ip6_parse_tlv: more padding in a row than alignment needs is malformed

_UNSPECIFIED = bytes(16)
_LOOPBACK = bytes(15) + b"\x01"
_MIN_MTU: Final = wire.MIN_MTU
_ALL_NODES = b"\xff\x02" + bytes(13) + b"\x01"

# Minimum upper-layer header a first fragment must hold (ipv6frag_thdr_truncated).
_UPPER_HEADER_MIN = {wire.TCP: 20, wire.UDP: 8, wire.ICMPV6: 8}

# ip_frag_ecn_table: the OR of ``1 << ecn`` over the fragments -> ECN bits to OR into
# the reassembled header, or None where Not-ECT is mixed with ECT/CE (drop).
_ECN_TABLE: dict[int, int | None] = {}
for _mask in range(1, 16):
    if _mask & 1 and _mask & 0b1110:
        _ECN_TABLE[_mask] = None
    elif _mask & 8 and _mask & 0b0110:
        _ECN_TABLE[_mask] = 3
    else:
        _ECN_TABLE[_mask] = 0

_PARAM_KIND = "icmpv6.param_problem"
_PIM = 103
# Echo replies: the flow is the two addresses (flowi6 has type 129 and code 0 where the
# ports go: Linux sets fl6_icmp_type only), whatever the request's code.
_UDPLITE = 136
# Neighbour Discovery (RS, RA, NS, NA, Redirect): never accepted fragmented (RFC 6980 §5).
_NEIGHBOUR_DISCOVERY_TYPES: Final = frozenset(range(133, 138))
# An Echo Reply's fixed header and ICMPv6 header: first word, payload length, Next
# Header 58, hop limit, source, destination, type 129, code, checksum.
_ECHO_REPLY_HEAD: Final = struct.Struct("!IHBB16s16sBBH")


class _Walk:
    """Where the header walk stands in one (possibly reassembled) packet."""

    __slots__ = ("packet", "offset", "next_header", "field", "fragmented")

    def __init__(self, packet: bytes, offset: int, next_header: int, field: int) -> None:
        self.packet = packet
        self.offset = offset  # start of the header named by ``next_header``
        self.next_header = next_header
        self.field = field  # offset of the byte that named it (Parameter Problem code 1)
        self.fragmented = False  # IP6SKB_FRAGMENTED: reassembled or an atomic fragment


class Ipv6Layer:
    """IPv6 for one :class:`~stack.host.host.Host`: ``input`` for each inbound packet,
    ``poll`` for reassembly timeouts, ``next_deadline`` for when ``poll`` is due."""

    __slots__ = ("host", "_unicast", "_interfaces", "_groups", "_hop_limit", "_mtu",
                 "_interval", "_ratemask", "_echo_ignore", "_echo_ignore_multicast",
                 "_link_address", "_stats", "_replies", "_echo_targets", "_not_echo_sources",
                 "reassembler", "pmtu", "_flow_seed", "_echo_seed")

    def __init__(self, host: Host) -> None:
        self.host = host
        config = host.config
        interfaces = config.ipv6_interfaces
        self._unicast = frozenset(i.ip.packed for i in interfaces)
        # (address, prefix length) in configuration order, for source selection.
        self._interfaces = tuple((i.ip.packed, i.network.prefixlen) for i in interfaces)
        groups = {_ALL_NODES} if interfaces else set()
        if config.link_address is not None:
            # addrconf_join_solict: only devices that resolve addresses join these.
            groups.update(wire.solicited_node(address) for address in self._unicast)
        self._groups = frozenset(groups)
        self._hop_limit = config.hop_limit
        self._stats = host.stats
        self._replies = host.stats.replies
        # For the echo fast path: where an echo may be answered from, and the sources
        # that never get one there (our own: the answer would not reach the wire).
        self._echo_targets = frozenset() if config.echo_ignore_all_v6 else self._unicast
        self._not_echo_sources = self._unicast | {_LOOPBACK, _UNSPECIFIED}
        self._mtu = config.mtu
        self._interval = config.icmpv6_ratelimit_ms / 1000.0
        self._ratemask = config.icmpv6_ratemask
        self._echo_ignore = config.echo_ignore_all_v6
        self._echo_ignore_multicast = config.echo_ignore_multicast_v6
        self._link_address = config.link_address
        self.reassembler = Reassembler(
            timeout=config.frag6_timeout, mem_limit=config.frag_mem_limit,
            max_datagrams=config.frag_max_datagrams, max_fragments=config.frag_max_fragments,
            events=host.stats.events, prefix="frag6")
        self.pmtu = PathMtuCache(config.pmtu_cache_size, config.pmtu_expires)
        self._flow_seed = host.flow_seed
        self._echo_seed = host.echo_seed

    # -- the hot path ------------------------------------------------------------------
    def input(self, packet: bytes, now: float) -> list[bytes]:
        """Answer one inbound IPv6 packet (its version nibble already checked)."""
        size = len(packet)
        # A plain Echo Request to one of our addresses, no extension headers, exact
        # length: answered in a straight line. Everything else takes the full walk.
        if (size >= 48 and packet[40] == 128 and packet[6] == 58
                and (packet[4] << 8 | packet[5]) == size - 40):
            src = packet[8:24]
            dst = packet[24:40]
            # The checksum covers the pseudo-header (RFC 8200 §8.1: the addresses,
            # length size - 40, next header 58) and the message, summed in place: right
            # when 0 modulo 0xFFFF.
            if (dst in self._echo_targets and src[0] != 0xFF
                    and src not in self._not_echo_sources
                    and (ones_sum_mod(packet, 8, size) + size + 18) % 0xFFFF == 0):
                # RFC 1624 eqn. 3: only the type changes (128 -> 129: the sum gains
                # 0x0100, so the checksum loses it, i.e. gains 0xFEFF one's
                # complement); swapped addresses leave the pseudo-header sum alone.
                value = ((packet[42] << 8) | packet[43]) + 0xFEFF
                value = (value & 0xFFFF) + (value >> 16)
                if value == 0xFFFF:  # a full sum gives 0: the message is not all 0
                    value = 0
                # Version and traffic class (ECN included) from the request, the
                # flow's label (peer and address: _echo_label), payload length.
                label = keyed_hash(packet[8:40], self._echo_seed) & 0xFFFFF
                reply = _ECHO_REPLY_HEAD.pack(
                    (packet[0] << 24) | ((packet[1] & 0xF0) << 16) | label, size - 40, 58,
                    self._hop_limit, dst, src, 129, packet[41], value) + packet[44:]
                self._stats.echo_replies_v6 += 1  # icmpv6.echo_reply, folded in on read
                self.host.last_reason = "icmpv6.echo_reply"
                if size > _MIN_MTU:
                    return self._fit(reply, src, now)
                return [reply]
        return self._slow_input(packet, now)

    def _echo_label(self, peer: bytes, address: bytes) -> int:
        """The label of our echo replies from ``address`` to ``peer``: the flow is
        fixed by the two addresses (type 129, code 0), so they alone are hashed, with
        a seed of its own; the fast path computes the same over the request's bytes."""
        return keyed_hash(peer + address, self._echo_seed) & 0xFFFFF

    def poll(self, now: float) -> list[bytes]:
        """Reassembly timeouts: Time Exceeded code 1 when the first fragment was held
        (RFC 8200 §4.5, ``ip6frag_expire_frag_queue``)."""
        out: list[bytes] = []
        for expired in self.reassembler.expire(now):
            if expired.first is None:
                continue
            sent, reason = self._error(expired.first, icmpv6.TIME_EXCEEDED,
                                       icmpv6.EXCEEDED_REASSEMBLY, 0, now)
            if sent is None:
                self.host.stats.events[reason] += 1
            else:
                self.host.replied(reason)
                out.append(sent)
        return out

    def next_deadline(self) -> float | None:
        return self.reassembler.next_deadline()

    # -- validation and the header walk -------------------------------------------------
    def _slow_input(self, packet: bytes, now: float) -> list[bytes]:
        host = self.host
        size = len(packet)
        if size < wire.HEADER_LEN:
            return host.drop("ipv6.truncated")
        if not self._unicast:
            return host.drop("ipv6.disabled")
        src = packet[8:24]
        dst = packet[24:40]
        # ip6_rcv_core, in its order.
        if src == _LOOPBACK or dst == _LOOPBACK:  # RFC 4291 §2.5.3
            return host.drop("ipv6.loopback_address")
        if dst[0] == 0xFF and dst[1] & 0x0F <= 1:  # RFC 4291 §2.7, erratum 3480
            return host.drop("ipv6.bad_multicast_scope")
        if src[0] == 0xFF:  # RFC 4291 §2.7
            return host.drop("ipv6.multicast_source")
        if src in self._unicast:  # what the kernel answers goes to itself, not the wire
            return host.drop("ipv6.own_source")
        payload_length = (packet[4] << 8) | packet[5]
        next_header = packet[6]
        if payload_length or next_header != wire.HOP_BY_HOP:
            if payload_length + wire.HEADER_LEN > size:
                return host.drop("ipv6.bad_length")
            packet = packet[:payload_length + wire.HEADER_LEN]  # RFC 8200 §3: trim
        walk = _Walk(packet, wire.HEADER_LEN, next_header, 6)
        if next_header == wire.HOP_BY_HOP:
            # Parsed before routing (ipv6_parse_hopopts from ip6_rcv_core): its errors
            # are sent whatever the destination.
            verdict = self._options(walk, hop_by_hop=True, now=now)
            if verdict is not None:
                return verdict
            packet = walk.packet
        multicast = dst[0] == 0xFF
        if multicast:
            if dst not in self._groups:
                return host.drop("ipv6.not_member")
        elif dst not in self._unicast:
            return host.drop("ipv6.not_ours")  # forwarding off: ip6_forward drops
        return self._deliver(walk, now)

    def _deliver(self, walk: _Walk, now: float) -> list[bytes]:
        """``ip6_protocol_deliver_rcu``: extension headers, then the upper layer. Every
        step moves ``walk.offset`` forward by at least 8 bytes or returns."""
        host = self.host
        while True:
            next_header = walk.next_header
            if next_header == wire.ICMPV6:
                return self._icmpv6(walk, now)
            if next_header == wire.UDP:
                return self._udp(walk, now)
            if next_header == wire.TCP:
                return self._tcp(walk, now)
            if next_header == _UDPLITE:
                return self._udplite(walk, now)
            if next_header == _PIM:
                # pim6_rcv (CONFIG_IPV6_PIMSM_V2) consumes what no multicast router asked
                # for: no Parameter Problem.
                return host.drop("pim.ignored")
            if next_header == wire.DESTINATION_OPTIONS:
                verdict = self._options(walk, hop_by_hop=False, now=now)
            elif next_header == wire.ROUTING:
                verdict = self._routing(walk, now)
            elif next_header == wire.FRAGMENT:
                verdict = self._fragment(walk, now)
            elif next_header == wire.NO_NEXT_HEADER:  # RFC 8200 §4.7: nothing follows
                return host.drop("ipv6.no_next_header")
            else:
                # Unknown, or Hop-by-Hop anywhere but first (RFC 8200 §4.1; Linux has no
                # handler for it there): Parameter Problem code 1 at the naming field.
                # AH and ESP land here too: Linux without IPsec modules knows neither.
                return self._reply_error(walk.packet, icmpv6.PARAMETER_PROBLEM,
                                         icmpv6.PARAM_NEXT_HEADER, walk.field, now)
            if verdict is not None:
                return verdict

    def _options(self, walk: _Walk, hop_by_hop: bool, now: float) -> list[bytes] | None:
        """Hop-by-Hop or Destination Options (RFC 8200 §4.2, §4.3, §4.6) as Linux's
        ``ip6_parse_tlv``: None to go on, else the output (possibly empty, counted)."""
        host = self.host
        packet = walk.packet
        start = walk.offset
        if start + 8 > len(packet):
            return host.drop("ipv6.truncated_options")
        end = start + ((packet[start + 1] + 1) << 3)
        if end > len(packet):
            return host.drop("ipv6.truncated_options")
        multicast = packet[24] == 0xFF
        padding = 0
        count = 0
        for option in wire.iter_options(packet, start + 2, end):
            if isinstance(option, str):
                return host.drop(option)
            kind = option.type
            if kind == wire.OPTION_PAD1 or kind == wire.OPTION_PADN:
                # RFC 4942 §2.1.9.5: padding is never longer than alignment needs and
                # PadN carries zeros; Linux drops the packet otherwise.
                padding += 1 if kind == wire.OPTION_PAD1 else 2 + len(option.data)
                if padding > _MAX_PAD or any(option.data):
                    return host.drop("ipv6.bad_padding")
                continue
            padding = 0
            count += 1
            if count > MAX_OPTIONS:
                return host.drop("ipv6.too_many_options")
            if hop_by_hop:
                verdict = self._hop_option(walk, option, now)
                if verdict is True:
                    continue
                if verdict is not False:
                    return verdict
            # ip6_tlvopt_unknown: the two high bits of the type say what to do (§4.2).
            action = kind >> 6
            if action == 0:
                continue
            if action == 1 or (action == 3 and multicast):
                return host.drop("ipv6.unknown_option")
            return self._reply_error(packet, icmpv6.PARAMETER_PROBLEM, icmpv6.PARAM_OPTION,
                                     option.offset, now)
        walk.field = start
        walk.next_header = packet[start]
        walk.offset = end
        return None

    def _hop_option(self, walk: _Walk, option: wire.Option,
                    now: float) -> list[bytes] | bool:
        """The Hop-by-Hop options Linux knows: True accepted, False unknown (the action
        bits decide), or the output."""
        host = self.host
        kind = option.type
        offset = option.offset
        if kind == wire.OPTION_ROUTER_ALERT:  # RFC 2711, ipv6_hop_ra
            return True if len(option.data) == 2 else host.drop("ipv6.bad_router_alert")
        if kind == 0x31:  # IOAM (RFC 9486), disabled by default: ipv6_hop_ioam
            return True if offset & 3 == 0 else host.drop("ipv6.bad_ioam_alignment")
        if kind == 0x07:  # CALIPSO (RFC 5570): no DOI is configured, calipso_validate
            return host.drop("ipv6.calipso_rejected")
        if kind == wire.OPTION_JUMBO:  # RFC 2675 §3, ipv6_hop_jumbo
            packet = walk.packet
            if len(option.data) != 4 or offset & 3 != 2:  # 4n+2 alignment (§3)
                return host.drop("ipv6.bad_jumbo_option")
            length = int.from_bytes(option.data, "big")
            if length <= wire.MAX_PAYLOAD:
                return self._reply_error(packet, icmpv6.PARAMETER_PROBLEM,
                                         icmpv6.PARAM_HEADER_FIELD, offset + 2, now)
            if packet[4] or packet[5]:
                return self._reply_error(packet, icmpv6.PARAMETER_PROBLEM,
                                         icmpv6.PARAM_HEADER_FIELD, offset, now)
            if length > len(packet) - wire.HEADER_LEN:
                return host.drop("ipv6.bad_length")
            walk.packet = packet[:wire.HEADER_LEN + length]
            return True
        return False

    def _routing(self, walk: _Walk, now: float) -> list[bytes] | None:
        """Routing header (RFC 8200 §4.4) as ``ipv6_rthdr_rcv`` with Linux's defaults."""
        host = self.host
        packet = walk.packet
        start = walk.offset
        if start + 8 > len(packet) or start + ((packet[start + 1] + 1) << 3) > len(packet):
            return host.drop("ipv6.truncated_routing")
        if packet[24] == 0xFF:  # RFC 4291 §2.7: no multicast in a routing path
            return host.drop("ipv6.routing_to_multicast")
        routing_type = packet[start + 2]
        if routing_type == 4:  # Segment Routing (RFC 8754): seg6_enabled=0
            return host.drop("ipv6.segment_routing_disabled")
        if routing_type == 3:  # RPL (RFC 6554): rpl_seg_enabled=0
            return host.drop("ipv6.rpl_routing_disabled")
        if packet[start + 3] != 0:
            # Segments left and a type we do not route (type 0 deprecated by RFC 5095;
            # type 2 needs Mobile IPv6): Parameter Problem code 0 at the type field.
            return self._reply_error(packet, icmpv6.PARAMETER_PROBLEM,
                                     icmpv6.PARAM_HEADER_FIELD, start + 2, now)
        walk.field = start
        walk.next_header = packet[start]
        walk.offset = start + ((packet[start + 1] + 1) << 3)
        return None

    # -- fragments (RFC 8200 §4.5) -----------------------------------------------------
    def _fragment(self, walk: _Walk, now: float) -> list[bytes] | None:
        """``ipv6_frag_rcv`` and ``ip6_frag_queue``: atomic fragments go straight on,
        others are reassembled; a completed datagram continues the walk."""
        host = self.host
        packet = walk.packet
        start = walk.offset
        if (walk.fragmented or (packet[4] == 0 and packet[5] == 0)
                or start + 8 > len(packet)):
            # A second Fragment header, a jumbogram, or no room for the header.
            return self._reply_error(packet, icmpv6.PARAMETER_PROBLEM,
                                     icmpv6.PARAM_HEADER_FIELD, start, now)
        header = wire.parse_fragment_header(packet, start)
        assert header is not None  # the length was checked just above
        if header.offset == 0 and not header.more:  # RFC 6946: an atomic fragment
            walk.fragmented = True
            walk.field = start
            walk.next_header = header.next_header
            walk.offset = start + 8
            return None
        if header.offset == 0 and self._chain_truncated(packet):
            # RFC 7112 §5: the first fragment must hold the whole header chain.
            return self._reply_error(packet, icmpv6.PARAMETER_PROBLEM,
                                     icmpv6.PARAM_HEADER_CHAIN, 0, now)
        key = (packet[8:24], packet[24:40], header.identification)
        data = packet[start + 8:]
        end = header.offset + len(data)
        # A refused fragment is discarded alone (RFC 8200 §4.5; ipv6_frag_rcv answers
        # before fq_find): the rest of its datagram still reassembles or times out.
        if end > wire.MAX_PAYLOAD:
            return self._reply_error(packet, icmpv6.PARAMETER_PROBLEM,
                                     icmpv6.PARAM_HEADER_FIELD, start + 2, now)
        if header.more and end & 7:
            # RFC 8200 §4.5: a non-final fragment is a multiple of 8 bytes long;
            # Linux points at the Payload Length field.
            return self._reply_error(packet, icmpv6.PARAMETER_PROBLEM,
                                     icmpv6.PARAM_HEADER_FIELD, 4, now)
        ecn = packet[1] >> 4 & 3
        result = self.reassembler.add(key, header.offset, data, header.more, packet, now,
                                      ecn)
        if isinstance(result, str):
            return host.drop(result)
        return self._reassembled(walk, result)

    @staticmethod
    def _chain_truncated(packet: bytes) -> bool:
        """``ipv6frag_thdr_truncated``: the chain from the fixed header on (as
        ``ipv6_frag_rcv`` walks it since Linux 5.x: the Fragment header read as one, its
        reserved byte ignored), wanting the upper-layer header whole."""
        found = wire.skip_extension_headers(packet, wire.HEADER_LEN, packet[6])
        if found is None or found[2] & 0xFFF8:
            return False
        offset, next_header, _ = found
        return offset + _UPPER_HEADER_MIN.get(next_header, 1) > len(packet)

    def _reassembled(self, walk: _Walk, done: Completed) -> list[bytes] | None:
        """``ip6_frag_reasm``: the first fragment's unfragmentable part, its Fragment
        header removed and the Next Header before it patched, then the data."""
        host = self.host
        first = done.first
        field, start = 6, wire.HEADER_LEN
        next_header = first[6]
        # The first fragment passed the walk: only these headers can precede its
        # Fragment header (Hop-by-Hop, Destination Options, Routing).
        while next_header != wire.FRAGMENT:
            field = start
            next_header = first[start]
            start += (first[start + 1] + 1) << 3
        inner = first[start]
        payload_length = start - wire.HEADER_LEN + len(done.payload)
        if payload_length > wire.MAX_PAYLOAD:
            return host.drop("frag6.too_big")
        ecn = _ECN_TABLE.get(done.ecn, 0)
        if ecn is None:  # RFC 3168 §5.3: Not-ECT mixed with ECT
            return host.drop("frag6.bad_ecn")
        head = bytearray(first[:start])
        head[1] |= ecn << 4
        head[4:6] = payload_length.to_bytes(2, "big")
        head[field] = inner
        walk.packet = bytes(head) + done.payload
        walk.fragmented = True
        walk.field = field
        walk.next_header = inner
        walk.offset = start
        return None

    # -- upper layers ------------------------------------------------------------------
    def _icmpv6(self, walk: _Walk, now: float) -> list[bytes]:
        """``icmpv6_rcv``: checksum, then by type (RFC 4443 §2.4 (a)-(b))."""
        host = self.host
        packet = walk.packet
        message = packet[walk.offset:]
        src = packet[8:24]
        dst = packet[24:40]
        if not icmpv6.is_checksum_valid(message, src, dst):
            return host.drop("icmpv6.bad_checksum")
        if len(message) < 8:
            return host.drop("icmpv6.truncated")
        kind = message[0]
        if kind == icmpv6.ECHO_REQUEST:
            return self._echo(packet, message, now)
        if walk.fragmented and kind in _NEIGHBOUR_DISCOVERY_TYPES:
            return host.drop("ndisc.fragmented")  # ndisc_rcv: even an atomic fragment
        if kind == icmpv6.NEIGHBOUR_SOLICITATION:
            return self._neighbour_solicitation(packet, message)
        if kind == icmpv6.PACKET_TOO_BIG:
            return self._packet_too_big(message, now)
        if kind == icmpv6.ECHO_REPLY:
            return host.drop("icmpv6.echo_reply_consumed")
        if kind == icmpv6.NEIGHBOUR_ADVERTISEMENT:
            return host.drop("ndisc.advertisement_consumed")
        if icmpv6.is_error(kind):
            return host.drop("icmpv6.error_consumed")
        return host.drop("icmpv6.informational_consumed")

    def _echo(self, packet: bytes, message: bytes, now: float) -> list[bytes]:
        """``icmpv6_echo_reply`` (RFC 4443 §4.2): identifier, sequence, code and data
        kept, traffic class copied (ECN included), our hop limit."""
        host = self.host
        src = packet[8:24]
        dst = packet[24:40]
        multicast = dst[0] == 0xFF
        if self._echo_ignore or (multicast and self._echo_ignore_multicast):
            return host.drop("icmpv6.echo_ignored")
        if src == _UNSPECIFIED:
            # RFC 4291 §2.5.2: :: is never a destination. (Linux with a default route
            # out of the device answers to ::; we do not: docs/conformance.md.)
            return host.drop("icmpv6.echo_from_unspecified")
        # To a group (all-nodes), the reply comes from the address source selection
        # picks for the peer (RFC 6724), never from the group.
        source = self._source_for(src) if multicast else dst
        if len(message) > wire.MAX_PAYLOAD:
            # A jumbogram's echo (RFC 2675): Linux cannot build a reply that big either.
            return host.drop("icmpv6.echo_too_big")
        body = b"\x81" + message[1:2] + b"\x00\x00" + message[4:]
        value = icmpv6.message_checksum(body, source, src)
        reply_message = body[:2] + value.to_bytes(2, "big") + body[4:]
        traffic_class = ((packet[0] & 0x0F) << 4) | (packet[1] >> 4)
        reply = wire.build_header(traffic_class, self._echo_label(src, source),
                                  len(reply_message), wire.ICMPV6, self._hop_limit, source,
                                  src) + reply_message
        host.replied("icmpv6.echo_reply")
        return self._fit(reply, src, now)

    def _neighbour_solicitation(self, packet: bytes, message: bytes) -> list[bytes]:
        """``ndisc_rcv`` and ``ndisc_recv_ns`` (RFC 4861 §7.1.1, §7.2.3-4)."""
        host = self.host
        if packet[7] != 255:  # §7.1.1: only from on-link, never forwarded
            return host.drop("ndisc.bad_hop_limit")
        solicitation = icmpv6.parse_neighbour_solicitation(message)
        if isinstance(solicitation, str):
            return host.drop(solicitation)
        src = packet[8:24]
        dst = packet[24:40]
        multicast = dst[0] == 0xFF
        duplicate_check = src == _UNSPECIFIED  # RFC 4862 §5.4.3: DAD
        if duplicate_check and dst != wire.solicited_node(solicitation.target):
            return host.drop("ndisc.dad_not_solicited_node")
        source_link = solicitation.link_address()
        if source_link is not None:
            # ndisc_opt_addr_data: the option must be exactly the device's size, one
            # unit on Ethernet and on TUN (whose address is empty).
            if len(source_link) != 6:
                return host.drop("ndisc.bad_link_address_option")
            if duplicate_check:  # §7.1.1: no SLLA from the unspecified address
                return host.drop("ndisc.dad_with_link_address")
        target = solicitation.target
        if target not in self._unicast:
            return host.drop("ndisc.not_our_target")
        link = self._link_address
        if duplicate_check:
            # §7.2.4: defend the address: to all-nodes, not solicited, override.
            flags = icmpv6.NA_OVERRIDE
            destination = _ALL_NODES
            include_link = link is not None
        else:
            if link is not None and multicast and source_link is None:
                # ndisc_recv_ns creates no neighbour entry from a multicast NS without
                # SLLA on a link with addresses, so it cannot and does not answer.
                return host.drop("ndisc.no_source_link_address")
            # Linux sets Override only for a multicast solicitation and includes the
            # Target Link-Layer Address option only then (inc_opt), never on TUN.
            flags = icmpv6.NA_SOLICITED | (icmpv6.NA_OVERRIDE if multicast else 0)
            destination = src
            include_link = link is not None and multicast
        advert = icmpv6.build_neighbour_advertisement(
            target, flags, target, destination, link if include_link else None)
        host.replied("ndisc.neighbour_advertisement")
        # ip6_nd_hdr: traffic class 0, flow label 0, hop limit 255 (§7.1.2).
        return [wire.build_header(0, 0, len(advert), wire.ICMPV6, 255, target, destination)
                + advert]

    def _packet_too_big(self, message: bytes, now: float) -> list[bytes]:
        """``icmpv6_notify`` -> ``icmpv6_err`` -> ``ip6_update_pmtu`` (RFC 8201 §4)."""
        host = self.host
        inner = message[8:]
        if len(inner) < wire.HEADER_LEN:
            return host.drop("icmpv6.truncated")
        found = wire.skip_extension_headers(inner, wire.HEADER_LEN, inner[6])
        if found is None or found[0] + 8 > len(inner):
            return host.drop("icmpv6.packet_too_big_unreadable")
        if found[1] != wire.ICMPV6:
            # TCP and UDP learn nothing from an error that matches no socket; only
            # ICMPv6's own error handler updates the path MTU unconditionally.
            return host.drop("icmpv6.packet_too_big_no_socket")
        mtu = int.from_bytes(message[4:8], "big")
        if mtu < wire.MIN_MTU:  # RFC 8201 §4; Linux 6.18 ignores such a report
            return host.drop("icmpv6.packet_too_big_below_minimum")
        destination = inner[24:40]
        if mtu < self.pmtu.get(destination, now, self._mtu):
            self.pmtu.lower(destination, mtu, now)
            host.stats.events["pmtu6.updated"] += 1
        return host.drop("icmpv6.packet_too_big_consumed")

    def _udp(self, walk: _Walk, now: float) -> list[bytes]:
        """``__udp6_lib_rcv``: the checksum is mandatory (RFC 8200 §8.1); the echo
        service answers; a closed port gets Port Unreachable (RFC 4443 §3.1)."""
        packet = walk.packet
        segment = packet[walk.offset:]
        result = transport.udp_input(segment, int.from_bytes(packet[8:40], "big"), True,
                                     self.host.config.udp_echo_ports,
                                     zero_length_is_jumbo=True)
        if isinstance(result, bytes):
            if packet[24] == 0xFF:
                return self.host.drop("udp.multicast_no_listener")
            if len(result) > wire.MAX_PAYLOAD:  # a jumbogram's data: no reply that big
                return self.host.drop("udp.echo_too_big")
            if result[4] == 0 and result[5] == 0:
                # Length 0 read as "the whole payload" (RFC 2675 §4); the service's
                # answer is an ordinary datagram, whose length field says its length.
                result = _udp_with_length(result, int.from_bytes(packet[8:40], "big"))
            return self._reply_segment(packet, wire.UDP, result, 0, "udp.echo_reply", now)
        if result != transport.PORT_UNREACHABLE:
            return self.host.drop(result)
        if packet[24] == 0xFF:  # __udp6_lib_mcast_deliver: no socket, no error
            return self.host.drop("udp.multicast_no_listener")
        length = (segment[4] << 8) | segment[5]
        if 8 <= length < len(segment):  # the kernel trims to the UDP length first
            packet = packet[:walk.offset + length]
        return self._reply_error(packet, icmpv6.DESTINATION_UNREACHABLE,
                                 icmpv6.UNREACH_PORT, 0, now)

    def _udplite(self, walk: _Walk, now: float) -> list[bytes]:
        """UDP-Lite (RFC 3828) through ``__udp6_lib_rcv``: no socket, so a valid
        datagram gets Port Unreachable, quoted untrimmed (its length field is the
        checksum coverage); none to a group."""
        packet = walk.packet
        if packet[24] == 0xFF:
            return self.host.drop("udp.multicast_no_listener")
        result = transport.udplite_input(packet[walk.offset:],
                                         int.from_bytes(packet[8:40], "big"))
        if result != transport.PORT_UNREACHABLE:
            return self.host.drop(result)
        return self._reply_error(packet, icmpv6.DESTINATION_UNREACHABLE,
                                 icmpv6.UNREACH_PORT, 0, now)

    def _tcp(self, walk: _Walk, now: float) -> list[bytes]:
        """``tcp_v6_send_reset`` (RFC 9293 §3.10.7.1): traffic class copied without ECN."""
        packet = walk.packet
        if packet[24] == 0xFF:  # no RST to a group
            return self.host.drop("tcp.multicast")
        if self.host.link_group:  # tcp_v6_rcv: pkt_type != PACKET_HOST
            return self.host.drop("tcp.not_unicast")
        result = transport.tcp_input(packet[walk.offset:], int.from_bytes(packet[8:40], "big"))
        if isinstance(result, str):
            return self.host.drop(result)
        traffic_class = (((packet[0] & 0x0F) << 4) | (packet[1] >> 4)) & 0xFC
        return self._reply_segment(packet, wire.TCP, result, traffic_class, "tcp.rst", now)

    def _reply_segment(self, packet: bytes, next_header: int, segment: bytes,
                       traffic_class: int, kind: str, now: float) -> list[bytes]:
        """A transport answer from the address the packet was sent to, fragmented to
        the path MTU when it is bigger (a UDP echo of a reassembled datagram)."""
        src = packet[8:24]
        dst = packet[24:40]
        if src == _UNSPECIFIED:  # RFC 4291 §2.5.2, as for echo
            return self.host.drop(kind.split(".", 1)[0] + ".to_unspecified")
        self.host.replied(kind)
        return self._fit(self._header(traffic_class, len(segment), next_header, dst, src,
                                      segment[:4]) + segment, src, now)

    # -- errors (RFC 4443 §2.4) --------------------------------------------------------
    def _reply_error(self, packet: bytes, kind: int, code: int, pointer: int,
                     now: float) -> list[bytes]:
        """Answer ``packet`` with an error if the rules allow; counts either way."""
        sent, reason = self._error(packet, kind, code, pointer, now)
        if sent is None:
            return self.host.drop(reason)
        self.host.replied(reason)
        return [sent]

    def _error(self, packet: bytes, kind: int, code: int, parameter: int,
               now: float) -> tuple[bytes | None, str]:
        """``icmp6_send``: the error about ``packet`` (as processed: trimmed or
        reassembled) and its reply kind, or None and the reason it is not sent."""
        src = packet[8:24]
        dst = packet[24:40]
        if dst[0] == 0xFF or self.host.link_group:
            # §2.4 (e.3): to a group (or in a link-layer broadcast or multicast frame:
            # icmp6_send's pkt_type != PACKET_HOST) only Packet Too Big, and Parameter
            # Problem code 2 for an option whose type's high bits are 10 (opt_unrec).
            allowed = kind == icmpv6.PACKET_TOO_BIG or (
                kind == icmpv6.PARAMETER_PROBLEM and code == icmpv6.PARAM_OPTION
                and parameter < len(packet) and packet[parameter] & 0xC0 == 0x80)
            if not allowed:
                return None, ("icmpv6.no_error_to_multicast" if dst[0] == 0xFF
                              else "icmpv6.no_error_for_link_broadcast")
            source = self._source_for(src)
        elif dst in self._unicast:
            source = dst
        else:
            source = self._source_for(src)
        if src == _UNSPECIFIED or src[0] == 0xFF:  # §2.4 (e.4)
            return None, "icmpv6.no_error_to_unspecified"
        if _is_ineligible(packet):  # §2.4 (e.1)
            return None, "icmpv6.no_error_about_error"
        if kind in self._ratemask:  # §2.4 (f)
            limited = self.host.ratelimiter.allow(src, now, self._interval)
            if limited is not None:
                return None, "icmpv6." + limited.split(".", 1)[1]
        message = icmpv6.build_error(kind, code, parameter, packet[:ERROR_QUOTE_LIMIT],
                                     source, src)
        return (self._header(0, len(message), wire.ICMPV6, source, src, message[:2]) + message,
                _ERROR_KINDS.get((kind, code), _PARAM_KIND))

    # -- helpers -----------------------------------------------------------------------
    def _header(self, traffic_class: int, length: int, next_header: int, src: bytes,
                dst: bytes, flow: bytes) -> bytes:
        """Our fixed header, labelled with the flow's label (:meth:`flow_label`)."""
        return wire.build_header(traffic_class, self.flow_label(src, dst, next_header, flow),
                                 length, next_header, self._hop_limit, src, dst)

    def flow_label(self, src: bytes, dst: bytes, next_header: int, flow: bytes) -> int:
        """RFC 6437 §3, as Linux's ``ip6_make_flowlabel`` with ``auto_flowlabels=1``: a
        20-bit keyed hash (seeded from ``HostConfig.hash_secret``) of the flow: the peer,
        our address, Next Header and ``flow`` (the ports, or ICMPv6 type and code: what
        ``flowi6`` holds there), the same for every packet of the flow. Echo replies
        have :meth:`_echo_label`."""
        return keyed_hash(dst + src + bytes((next_header,)) + flow, self._flow_seed) & 0xFFFFF

    def _fit(self, reply: bytes, destination: bytes, now: float) -> list[bytes]:
        """Fragment ``reply`` to the path MTU (RFC 8200 §5, RFC 8201)."""
        if len(reply) <= wire.MIN_MTU:
            return [reply]
        mtu = self.pmtu.get(destination, now, self._mtu)
        if len(reply) <= mtu:
            return [reply]
        return wire.fragment(reply, mtu, self.host.next_frag6_id())

    def _source_for(self, peer: bytes) -> bytes:
        """Source address selection (RFC 6724 §5, ``ipv6_dev_get_saddr``): the smallest
        scope that reaches the peer (link-local for a link-local peer and for ::, global
        otherwise), then the longest matching prefix (counted up to each address's
        prefix length), then configuration order."""
        want_link_local = wire.is_link_local(peer) or peer == _UNSPECIFIED
        peer_value = int.from_bytes(peer, "big")
        best = self._interfaces[0][0]
        best_score = -1
        for address, prefix_length in self._interfaces:
            common = 128 - (int.from_bytes(address, "big") ^ peer_value).bit_length()
            score = min(common, prefix_length)
            if wire.is_link_local(address) == want_link_local:
                score += 256
            if score > best_score:
                best, best_score = address, score
        return best


_ERROR_KINDS = {
    (icmpv6.DESTINATION_UNREACHABLE, icmpv6.UNREACH_PORT): "icmpv6.port_unreachable",
    (icmpv6.TIME_EXCEEDED, icmpv6.EXCEEDED_REASSEMBLY): "icmpv6.time_exceeded",
}


def _udp_with_length(segment: bytes, address_sum: int) -> bytes:
    """``segment`` with its length field set to its size and the checksum recomputed
    (RFC 768: a computed 0 is sent as 0xFFFF)."""
    size = len(segment)
    header = segment[:4] + size.to_bytes(2, "big") + b"\x00\x00"
    value = checksum(header + segment[8:], address_sum + wire.UDP + size) or 0xFFFF
    return header[:6] + value.to_bytes(2, "big") + segment[8:]


def _is_ineligible(packet: bytes) -> bool:
    """Linux's ``is_ineligible``: True when ``packet`` carries an ICMPv6 error (or its
    type cannot be read in an unfragmented packet), so no error may be sent about it."""
    found = wire.skip_extension_headers(packet, wire.HEADER_LEN, packet[6])
    if found is None:
        return False
    offset, next_header, fragment_field = found
    if next_header != wire.ICMPV6:
        return False
    if offset >= len(packet):
        return fragment_field == 0
    return icmpv6.is_error(packet[offset])
