"""IPv4 input policy: what a Linux host answers to one IPv4 packet, and why.

Every rule follows the kernel as recorded in a network namespace (docs/conformance.md
lists each with its RFC, the Linux function and the test that proves it):

* Validation (``ip_rcv_core``): version, IHL, header checksum, total length; bytes beyond
  the total length are trimmed. Martian sources (0/8, 127/8, multicast, limited and
  subnet broadcast, our own address) and destinations that are not ours are dropped.
* Options (``ip_options_compile`` on receipt, ``ip_options_echo`` for replies): Record
  Route and Timestamp are filled as Linux fills them, both when the packet arrives and
  when the reply is built; malformed options get Parameter Problem with Linux's pointer;
  source-routed packets are dropped (``accept_source_route=0``).
* Fragments are reassembled (stack/host/reassembly.py, ``ip_frag_queue`` rules); replies
  larger than the path MTU are fragmented; ICMP "fragmentation needed" about our echo
  replies lowers the path MTU (``icmp_err`` → ``ipv4_update_pmtu``).
* ICMP (``icmp_rcv``): echo and timestamp are answered, errors and replies consumed, and
  ICMP errors are sent as ``icmp_send`` does: never about broadcast/multicast, non-first
  fragments or ICMP errors; at most 576 bytes; TOS ``0xc0 | (tos & 0x1e)``; rate-limited.
* UDP and TCP to closed ports: stack/host/transport.py says what to answer.

The echo request is the hot path: ``input`` first tries a straight-line fast path for an
unfragmented echo request without options to our address, which verifies both checksums
in place (``ones_sum_mod``) and derives the reply's ICMP checksum from the request's
by the RFC 1624 update. The same straight line drops packets with a bad header checksum,
a martian source or another host's address. Everything else takes the general path,
which gives the same bytes and counts for those packets too (tests/test_ipv4_echo.py
checks that).
"""

from __future__ import annotations

import math
import struct
from typing import TYPE_CHECKING, Final

from stack.host import transport
from stack.host.pmtu import PathMtuCache
from stack.host.reassembly import Completed, Reassembler
from stack.wire import icmpv4
from stack.wire import ipv4 as wire
from stack.wire.checksum import keyed_hash, ones_sum, ones_sum_mod

if TYPE_CHECKING:
    from stack.host.host import Host

__all__ = ["Ipv4Layer", "ICMP_ERROR_LIMIT", "ms_since_midnight"]

ICMP_ERROR_LIMIT = 576  # RFC 1812 §4.3.2.3, Linux icmp_send: "room = 576" at most

# Destination kinds (Linux route types for input: RTN_LOCAL, RTN_BROADCAST, multicast).
_LOCAL = 0
_BROADCAST = 1
_MULTICAST = 2
# Another host's unicast address: never delivered, but its options are compiled first
# (ip_rcv_finish_core routes, then ip_rcv_options), so a malformed one is answered.
_ELSEWHERE = 3

# Sources Linux calls martian whatever the routes (ip_route_input_slow): 127/8
# (route_localnet=0) and multicast; 0.0.0.0, 255.255.255.255 and our own addresses are
# checked by value. The rest of 0/8 and class E (240/4) are accepted, as Linux does
# since 5.3 (``ipv4_is_zeronet`` is ``addr == 0``).
# (Final, as _ECHO_REPLY_HEAD below: a C static in the compiled core, not a lookup per
# packet.)
_MARTIAN_SOURCE_FIRST_OCTET: Final = frozenset([127, *range(224, 240)])
_ZERO = b"\x00\x00\x00\x00"
_ALL_HOSTS = bytes([224, 0, 0, 1])  # the one group a host is always a member of
_LIMITED_BROADCAST = b"\xff\xff\xff\xff"

_ECN_CE = 3
# ip_frag_ecn_table (RFC 3168 §5.3): the OR of ``1 << ecn`` over all fragments.
_ECN_NOT_ECT_BIT = 1
_ECN_CE_BIT = 8

# icmp_rcv: what a message to a broadcast/multicast address may be at all.
_BROADCAST_ACCEPTED_TYPES = frozenset({icmpv4.ECHO_REQUEST, icmpv4.TIMESTAMP,
                                       icmpv4.ADDRESS_MASK, icmpv4.ADDRESS_MASK_REPLY})

# Drop reasons for ICMP messages a host consumes without answering (RFC 1122 §3.2.2).
_CONSUMED = {
    icmpv4.ECHO_REPLY: "icmp.echo_reply_consumed",
    icmpv4.REDIRECT: "icmp.redirect_ignored",
    icmpv4.ROUTER_ADVERT: "icmp.router_discovery_ignored",
    icmpv4.ROUTER_SOLICIT: "icmp.router_discovery_ignored",
    icmpv4.TIMESTAMP_REPLY: "icmp.timestamp_reply_consumed",
    icmpv4.INFO_REQUEST: "icmp.information_ignored",
    icmpv4.INFO_REPLY: "icmp.information_ignored",
    icmpv4.ADDRESS_MASK: "icmp.address_mask_ignored",
    icmpv4.ADDRESS_MASK_REPLY: "icmp.address_mask_ignored",
}

_ERROR_KINDS = {
    (icmpv4.DEST_UNREACH, icmpv4.UNREACH_PORT): "icmp.port_unreachable",
    (icmpv4.DEST_UNREACH, icmpv4.UNREACH_PROTOCOL): "icmp.protocol_unreachable",
    (icmpv4.PARAM_PROBLEM, 0): "icmp.parameter_problem",
    (icmpv4.TIME_EXCEEDED, icmpv4.EXCEEDED_REASSEMBLY): "icmp.time_exceeded",
}

_ID_COUNTER_MASK: Final = 2047  # stack.host.host.IPV4_ID_COUNTERS - 1 (no import cycle)
_IGMP = 2
_TCP = 6
_UDP = 17
_PIM = 103
_UDPLITE = 136

# icmp_send never answers a message whose type icmp_pointers marks ``.error``: the RFC 792
# errors and the unassigned or obsolete types 1, 2, 6 (Alternate Host Address), 7, and,
# surprisingly, 9 and 10 (router discovery); any type above NR_ICMP_TYPES counts too.
_NO_ERROR_ABOUT_TYPES: Final[frozenset[int]] = icmpv4.ERROR_TYPES | frozenset({1, 2, 6, 7, 9, 10})

# The fast path's reply: IPv4 header and the first four ICMP bytes in one pack.
_ECHO_REPLY_HEAD: Final = struct.Struct("!HHHHHH4s4sBBH")
_TIMESTAMP = struct.Struct("!I")


def ms_since_midnight(now: float) -> int:
    """Milliseconds since midnight UTC, as ICMP and the IP Timestamp option carry time
    (RFC 792, RFC 791 §3.1; Linux ``inet_current_timestamp``). A clock that is no
    number gives 0 rather than an exception."""
    if not math.isfinite(now):
        return 0
    return int(now * 1000) % 86_400_000


class _Options:
    """What Linux's ``ip_options_compile`` records about a received header: where Record
    Route, Timestamp, a source route and CIPSO sit (offsets from the start of the header,
    0 when absent) and what the reply still has to fill in."""

    __slots__ = ("rr", "rr_needaddr", "ts", "ts_needaddr", "ts_needtime", "srr", "cipso")

    def __init__(self) -> None:
        self.rr = 0
        self.rr_needaddr = False
        self.ts = 0
        self.ts_needaddr = False
        self.ts_needtime = False
        self.srr = 0
        self.cipso = 0


class Ipv4Layer:
    """IPv4 for one ``Host``: ``input(packet, now)`` answers one inbound packet,
    ``poll(now)`` sends what reassembly timeouts call for, ``next_deadline()`` says
    when ``poll`` has work."""

    __slots__ = ("host", "config", "address", "broadcast", "enabled", "pmtu",
                 "reassembler", "_reject_sources", "_mtu", "_safe_size", "_ttl_proto",
                 "_peer_interval", "_ratemask", "_echo_ports", "_echo_ignore_all",
                 "_stats", "_replies", "_drops", "_special_destinations", "fast_path")

    def __init__(self, host: Host) -> None:
        self.host = host
        config = host.config
        self.config = config
        parts = config.ipv4_parts  # parsed once per config, not per host
        self.enabled = parts is not None
        self.address = parts[0] if parts is not None else b""
        self.broadcast = parts[1] if parts is not None else None
        self._reject_sources = frozenset(
            a for a in (self.address, self.broadcast, _LIMITED_BROADCAST, _ZERO) if a)
        self._mtu = config.mtu
        # Below this size a reply fits every path MTU we could have learnt.
        self._safe_size = min(config.mtu, config.min_pmtu)
        self._ttl_proto = (config.ttl << 8) | icmpv4.PROTOCOL
        self._peer_interval = config.icmp_ratelimit_ms / 1000.0
        self._ratemask = config.icmp_ratemask
        self._echo_ports = config.udp_echo_ports
        self._echo_ignore_all = config.echo_ignore_all
        self._stats = host.stats
        self._replies = host.stats.replies
        self._drops = host.stats.drops
        self.pmtu = PathMtuCache(config.pmtu_cache_size, config.pmtu_expires)
        self.reassembler = Reassembler(
            timeout=config.frag_timeout, mem_limit=config.frag_mem_limit,
            max_datagrams=config.frag_max_datagrams, max_fragments=config.frag_max_fragments,
            events=host.stats.events, prefix="frag")
        # Destinations that are not our address but not simply "not ours" either.
        self._special_destinations = frozenset(
            a for a in (self.broadcast, _LIMITED_BROADCAST, _ALL_HOSTS, _ZERO) if a)
        # Tests switch the fast path off to compare it with the general path.
        self.fast_path = self.enabled

    # -- the hot path ------------------------------------------------------------------
    def input(self, packet: bytes, now: float) -> list[bytes]:
        size = len(packet)
        if not (size >= 28 and packet[0] == 0x45 and ((packet[2] << 8) | packet[3]) == size
                and self.fast_path):
            return self._input(packet, now)
        # RFC 1071: a valid header's words sum to 0 modulo 0xFFFF (ones_sum_mod; it is
        # never all zeros: it starts with 0x45). The drops below come in the general
        # path's order, so they count the same.
        destination = packet[16:20]
        if (packet[9] == 1 and packet[20] == icmpv4.ECHO_REQUEST and not packet[6] & 0x3F
                and not packet[7] and destination == self.address):
            # An unfragmented echo request to us: the header's checksum, then the
            # message's (RFC 792: over the ICMP message), each summed in place.
            source = packet[12:16]
            if ones_sum_mod(packet, 0, 20):
                reason = "ipv4.bad_checksum"
            elif packet[12] in _MARTIAN_SOURCE_FIRST_OCTET or source in self._reject_sources:
                reason = "ipv4.bad_source"
            elif ones_sum_mod(packet, 20, size):
                reason = "icmp.bad_checksum"
            elif self._echo_ignore_all or (
                    size > self._safe_size and size > self.pmtu.get(source, now, self._mtu)):
                return self._input(packet, now)
            else:
                # Valid: the reply, built here (the general path's bytes; tests compare).
                host = self.host
                # host.next_ipv4_id(source), inlined: this is the hottest line of the
                # stack.
                counters = host.ipv4_ids
                bucket = keyed_hash(source, host.id_seed) & _ID_COUNTER_MASK
                ident = counters[bucket]
                counters[bucket] = (ident + 1) & 0xFFFF
                tos = packet[1]
                # The reply header's sum: the two addresses' sum does not change when
                # they swap.
                header_sum = (0x4500 + tos + size + ident + self._ttl_proto
                              + ones_sum_mod(packet, 12, 20))
                header_checksum = 0xFFFF - (header_sum % 0xFFFF or 0xFFFF)
                code = packet[21]
                # RFC 1624: the type word goes from 0x08cc to 0x00cc, so the checksum
                # gains 0x0800 in one's complement arithmetic.
                message_checksum = ((packet[22] << 8) | packet[23]) + 0x0800
                message_checksum = (message_checksum & 0xFFFF) + (message_checksum >> 16)
                if message_checksum == 0xFFFF and (code or packet[24:].strip(b"\x00")):
                    # Both zeros come out as 0xFFFF here; a full sum gives 0xFFFF only
                    # for an all-zero message.
                    message_checksum = 0
                self._stats.echo_replies_v4 += 1  # icmp.echo_reply, folded in on read
                host.last_reason = "icmp.echo_reply"
                return [_ECHO_REPLY_HEAD.pack(0x4500 | tos, size, ident, 0, self._ttl_proto,
                                              header_checksum, destination, source,
                                              0, code, message_checksum) + packet[24:]]
        elif ones_sum_mod(packet, 0, 20):
            reason = "ipv4.bad_checksum"
        elif packet[12] in _MARTIAN_SOURCE_FIRST_OCTET or packet[12:16] in self._reject_sources:
            reason = "ipv4.bad_source"
        elif (destination != self.address and destination not in self._special_destinations
                and packet[16] != 127):
            reason = "ipv4.not_ours"  # a host does not forward
        else:
            return self._input(packet, now)
        # Counted in place rather than by host.drop(): on this path the call would be a
        # fifth of the cost of the whole drop.
        self._drops[reason] += 1
        self.host.last_reason = reason
        return []

    # -- the general path -------------------------------------------------------------
    def _input(self, packet: bytes, now: float) -> list[bytes]:
        host = self.host
        if not self.enabled:
            return host.drop("ipv4.disabled")
        # ip_rcv_core (RFC 791 §3.1, RFC 1122 §3.2.1.1-2)
        size = len(packet)
        if size < wire.HEADER_LEN:
            return host.drop("ipv4.truncated")
        first = packet[0]
        if first >> 4 != 4:
            return host.drop("ipv4.bad_version")
        header_len = (first & 0x0F) << 2
        if header_len < wire.HEADER_LEN:
            return host.drop("ipv4.bad_header_length")
        if size < header_len:
            return host.drop("ipv4.truncated")
        if ones_sum_mod(packet, 0, header_len):  # never all zero: it starts 0x4.
            return host.drop("ipv4.bad_checksum")
        total = (packet[2] << 8) | packet[3]
        if total > size:
            return host.drop("ipv4.truncated")
        if total < header_len:
            return host.drop("ipv4.bad_total_length")
        if total < size:
            packet = packet[:total]  # link padding (RFC 1122 §3.2.1.2 is silent; Linux trims)

        # ip_route_input_slow: martian sources, then what the destination is to us.
        src = packet[12:16]
        if packet[12] in _MARTIAN_SOURCE_FIRST_OCTET or src in self._reject_sources:
            return host.drop("ipv4.bad_source")
        dst = packet[16:20]
        if dst == self.address:
            kind = _LOCAL
        elif dst == _LIMITED_BROADCAST or dst == self.broadcast:
            kind = _BROADCAST
        elif dst == _ALL_HOSTS:
            kind = _MULTICAST
        elif dst == _ZERO or packet[16] == 127:
            return host.drop("ipv4.bad_destination")  # martian destinations
        elif header_len > wire.HEADER_LEN and not 224 <= packet[16] < 240:
            kind = _ELSEWHERE
        else:
            return host.drop("ipv4.not_ours")  # a host does not forward (RFC 1122 §3.3.1)

        options: _Options | None = None
        if header_len > wire.HEADER_LEN:
            # ip_rcv_options: options are checked (and RR/TS filled) on every fragment.
            header = bytearray(packet[:header_len])
            options, pointer = self._compile_options(header, now)
            if pointer:
                datagram = bytes(header) + packet[header_len:]
                return self._error(datagram, header_len, kind, options, icmpv4.PARAM_PROBLEM,
                                   0, bytes((pointer, 0, 0, 0)), now)
            if kind == _ELSEWHERE:
                return host.drop("ipv4.not_ours")  # a host does not forward
            if options.srr:
                if not self.config.accept_source_route:
                    return host.drop("ipv4.source_route")
                if header[options.srr + 2] <= header[options.srr + 1]:
                    # Hops remain: Linux would forward it (ip_options_rcv_srr); we do not.
                    return host.drop("ipv4.source_route_not_done")
            fragmented = packet[6] & 0x3F or packet[7]
            if not fragmented:
                packet = bytes(header) + packet[header_len:]

        if packet[6] & 0x3F or packet[7]:
            completed = self._reassemble(packet, header_len, now)
            if isinstance(completed, str):
                return host.drop(completed)
            packet = completed
            header_len = (packet[0] & 0x0F) * 4
            # The datagram has the first fragment's header, so its options are the first
            # fragment's (ip_frag_reasm keeps IPCB(head)), not those of the fragment that
            # completed it.
            options = None
            if header_len > wire.HEADER_LEN:
                header = bytearray(packet[:header_len])
                options, _ = self._compile_options(header, now)
                # Linux fills the options as the first fragment arrives and ip_frag_reasm
                # then recomputes the checksum (ip_send_check), so a quote of the whole
                # datagram carries a valid one, unlike a quote of an unfragmented packet.
                packet = wire.with_checksum(bytes(header)) + packet[header_len:]
        return self._deliver(packet, header_len, kind, options, now)

    def _deliver(self, packet: bytes, header_len: int, kind: int, options: _Options | None,
                 now: float) -> list[bytes]:
        """ip_local_deliver_finish: hand a whole datagram to its protocol."""
        protocol = packet[9]
        if protocol == icmpv4.PROTOCOL:
            return self._icmp_input(packet, header_len, kind, options, now)
        if protocol == _UDP:
            return self._udp_input(packet, header_len, kind, options, now)
        if protocol == _TCP:
            return self._tcp_input(packet, header_len, kind, options, now)
        if protocol == _IGMP:
            return self.host.drop("igmp.ignored")  # no multicast groups beyond all-hosts
        if protocol == _UDPLITE:
            return self._udplite_input(packet, header_len, kind, options, now)
        if protocol == _PIM:
            # Linux registers pim_rcv for protocol 103 (CONFIG_IP_PIMSM_V2), which drops
            # what no multicast router asked for: no Protocol Unreachable.
            return self.host.drop("pim.ignored")
        # RFC 1122 §3.2.2.1: a host SHOULD send Protocol Unreachable.
        return self._error(packet, header_len, kind, options, icmpv4.DEST_UNREACH,
                           icmpv4.UNREACH_PROTOCOL, b"\x00\x00\x00\x00", now)

    # -- fragments ---------------------------------------------------------------------
    def _reassemble(self, packet: bytes, header_len: int, now: float) -> bytes | str:
        """Add one fragment (ip_defrag / ip_frag_queue); the whole datagram when it is
        complete, else the reason it is not."""
        word = (packet[6] << 8) | packet[7]
        offset = (word & wire.OFFSET_MASK) * 8
        more = bool(word & wire.FLAG_MF)
        data = packet[header_len:]
        if more and len(data) & 7:
            # ip_frag_queue: a fragment that is not the last ends on an 8-byte boundary;
            # the bytes past it are not part of the datagram.
            data = data[:len(data) & ~7]
        key = packet[4:6] + packet[9:10] + packet[12:20]
        result = self.reassembler.add(key, offset, data, more, packet, now,
                                      ecn=packet[1] & wire.ECN_MASK,
                                      size=header_len + len(data),
                                      df=bool(word & wire.FLAG_DF))
        if isinstance(result, str):
            return result
        return self._rebuild(result)

    @staticmethod
    def _rebuild(done: Completed) -> bytes | str:
        """The reassembled datagram: the first fragment's header with the total length,
        the combined ECN (RFC 3168 §5.3) and no fragment bits but DF when a largest
        fragment had it (ip_frag_reasm's max_df_size rule)."""
        first = done.first
        header_len = (first[0] & 0x0F) * 4
        total = header_len + len(done.payload)
        if total > 65535:
            return "frag.too_big"
        ecn = done.ecn
        tos = first[1]
        if ecn & _ECN_NOT_ECT_BIT and ecn != _ECN_NOT_ECT_BIT:
            return "frag.bad_ecn"  # Not-ECT mixed with ECT or CE: ip_frag_ecn_table drops
        if ecn & _ECN_CE_BIT:
            tos |= _ECN_CE
        header = (first[:1] + bytes((tos,)) + total.to_bytes(2, "big") + first[4:6]
                  + (b"\x40\x00" if done.df else b"\x00\x00") + first[8:header_len])
        return wire.with_checksum(header) + done.payload

    def poll(self, now: float) -> list[bytes]:
        """Reassembly timeouts: Time Exceeded (type 11 code 1) for each datagram whose
        first fragment was held (RFC 792, RFC 1122 §3.2.1.4; Linux ip_expire)."""
        out: list[bytes] = []
        for expired in self.reassembler.expire(now):
            first = expired.first
            if first is None:
                continue
            header_len = (first[0] & 0x0F) * 4
            kind = _LOCAL if first[16:20] == self.address else _BROADCAST
            # ip_expire quotes fragment 0 as the queue holds it: its options compiled
            # (Record Route and Timestamp filled; ours at this time, Linux's at arrival),
            # echoed in the error's own header, and its data cut to a multiple of 8
            # when more fragments follow (ip_frag_queue), the header left as it came.
            options = None
            if header_len > wire.HEADER_LEN:
                header = bytearray(first[:header_len])
                options, _ = self._compile_options(header, now)
                first = bytes(header) + first[header_len:]
            if first[6] & 0x20:
                first = first[:header_len + ((len(first) - header_len) & ~7)]
            reply = self._build_error(first, header_len, kind, options, icmpv4.TIME_EXCEEDED,
                                      icmpv4.EXCEEDED_REASSEMBLY, b"\x00\x00\x00\x00", now)
            if isinstance(reply, str):
                self.host.stats.events[reply] += 1
            else:
                self.host.replied("icmp.time_exceeded")
                out.append(reply)
        return out

    def next_deadline(self) -> float | None:
        return self.reassembler.next_deadline()

    # -- output ------------------------------------------------------------------------
    def _send(self, packet: bytes, now: float) -> list[bytes]:
        """Fragment ``packet`` to the path MTU of its destination (ip_fragment)."""
        if len(packet) <= self._safe_size:
            return [packet]
        return wire.fragment(packet, self.pmtu.get(packet[16:20], now, self._mtu))

    def _reply_route(self, packet: bytes, options: _Options | None, now: float,
                     to_broadcast: str = "ipv4.source_route_to_broadcast"
                     ) -> tuple[bytes, bytes] | str:
        """The options of an answer to ``packet`` and where it goes (the sender, or the
        first hop of a reversed source route), or why there is no answer
        (``to_broadcast`` names the reason when the route would aim it at a group)."""
        if options is None:
            return b"", packet[12:16]
        echoed = self._echo_options(packet, options, now)
        if echoed is None:
            return "ipv4.options_echo_failed"
        if echoed[1] != packet[12:16] and not self._address_is_unicast(echoed[1]):
            # A reversed source route must not aim the answer at a broadcast, multicast
            # or local address (RFC 1122 §3.2.2: errors go to a single host).
            return to_broadcast
        return echoed

    def _reply_packet(self, route: tuple[bytes, bytes], tos: int, flags: int, ident: int,
                      protocol: int, payload: bytes) -> bytes:
        return wire.emit(tos=tos, ident=ident, flags_offset=flags, ttl=self.config.ttl,
                         protocol=protocol, src=self.address, dst=route[1],
                         payload=payload, options=route[0])

    # -- ICMP (icmp_rcv) ---------------------------------------------------------------
    def _icmp_input(self, packet: bytes, header_len: int, kind: int,
                    options: _Options | None, now: float) -> list[bytes]:
        host = self.host
        message = packet[header_len:]
        if ones_sum(message) != 0xFFFF:
            return host.drop("icmp.bad_checksum")
        if len(message) < icmpv4.HEADER_LEN:
            return host.drop("icmp.truncated")
        kind_of_message = message[0]
        if kind_of_message > icmpv4.MAX_TYPE:
            return host.drop("icmp.unknown_type")
        # RFC 1122 §3.2.2.6 and §3.2.2.8: echo and timestamp to a broadcast or multicast
        # address MAY be ignored (icmp_echo_ignore_broadcasts); nothing else sent to one
        # is looked at.
        if kind != _LOCAL and (kind_of_message not in _BROADCAST_ACCEPTED_TYPES or (
                kind_of_message in (icmpv4.ECHO_REQUEST, icmpv4.TIMESTAMP)
                and self.config.echo_ignore_broadcasts)):
            return host.drop("icmp.broadcast_ignored")
        if kind_of_message == icmpv4.ECHO_REQUEST:
            return self._echo_reply(packet, header_len, message, options, now)
        if kind_of_message == icmpv4.TIMESTAMP:
            return self._timestamp_reply(packet, header_len, message, options, now)
        if kind_of_message in icmpv4.ERROR_TYPES and kind_of_message != icmpv4.REDIRECT:
            return self._icmp_error_input(message, now)
        return host.drop(_CONSUMED.get(kind_of_message, "icmp.unassigned_type"))

    def _echo_reply(self, packet: bytes, header_len: int, message: bytes,
                    options: _Options | None, now: float) -> list[bytes]:
        """RFC 792 Echo: same identifier, sequence, code and data; Linux icmp_echo →
        icmp_reply: TOS copied (ECN included), TTL from the config, DF clear, options
        echoed by ip_options_echo."""
        host = self.host
        if self.config.echo_ignore_all:
            return host.drop("icmp.echo_ignored")
        route = self._reply_route(packet, options, now)
        if isinstance(route, str):
            return host.drop(route)
        # RFC 1624 incremental update for the type change 8 → 0 (as in the fast path).
        value = int.from_bytes(message[2:4], "big") + 0x0800
        value = (value & 0xFFFF) + (value >> 16)
        if value == 0xFFFF and (message[1] or message[4:].strip(b"\x00")):
            value = 0
        reply = b"\x00" + message[1:2] + value.to_bytes(2, "big") + message[4:]
        out = self._reply_packet(route, packet[1], 0, host.next_ipv4_id(route[1]),
                                 icmpv4.PROTOCOL,
                                 reply)
        host.replied("icmp.echo_reply")
        return self._send(out, now)

    def _timestamp_reply(self, packet: bytes, header_len: int, message: bytes,
                         options: _Options | None, now: float) -> list[bytes]:
        """RFC 792 Timestamp → Timestamp Reply as Linux's icmp_timestamp builds it: code
        0, identifier and sequence kept, the originate time copied, receive and transmit
        times both ``now`` in ms since midnight UTC; further data is not returned."""
        host = self.host
        if not self.config.timestamp_replies:
            return host.drop("icmp.timestamp_ignored")
        if len(message) < icmpv4.HEADER_LEN + 4:
            return host.drop("icmp.timestamp_truncated")
        route = self._reply_route(packet, options, now)
        if isinstance(route, str):
            return host.drop(route)
        stamp = _TIMESTAMP.pack(ms_since_midnight(now))
        reply = icmpv4.emit(icmpv4.TIMESTAMP_REPLY, 0, message[4:8],
                            message[8:12] + stamp + stamp)
        out = self._reply_packet(route, packet[1], 0, host.next_ipv4_id(route[1]),
                                 icmpv4.PROTOCOL,
                                 reply)
        host.replied("icmp.timestamp_reply")
        return self._send(out, now)

    def _icmp_error_input(self, message: bytes, now: float) -> list[bytes]:
        """icmp_unreach: an error about something we sent. Only "fragmentation needed"
        about one of our echo replies changes state (RFC 1191 §6.3; Linux icmp_err →
        ipv4_update_pmtu, which needs the quoted source to be ours)."""
        host = self.host
        quoted = message[icmpv4.HEADER_LEN:]
        if len(quoted) < wire.HEADER_LEN or quoted[0] & 0x0F < 5:
            return host.drop("icmp.bad_error_quote")
        if message[0] == icmpv4.DEST_UNREACH and message[1] == icmpv4.UNREACH_FRAG_NEEDED:
            quoted_header_len = (quoted[0] & 0x0F) * 4
            if (len(quoted) >= quoted_header_len + 8 and quoted[9] == icmpv4.PROTOCOL
                    and quoted[quoted_header_len] == icmpv4.ECHO_REPLY
                    and quoted[12:16] == self.address):
                reported = (message[6] << 8) | message[7]
                # __ip_rt_update_pmtu: below min_pmtu the route is pinned at min_pmtu.
                mtu = max(reported, self.config.min_pmtu)
                if self.pmtu.lower(quoted[16:20], min(mtu, self._mtu), now):
                    host.stats.events["pmtu.updated"] += 1
            return host.drop("icmp.frag_needed_consumed")
        return host.drop("icmp.error_consumed")

    # -- UDP and TCP -------------------------------------------------------------------
    def _udp_input(self, packet: bytes, header_len: int, kind: int,
                   options: _Options | None, now: float) -> list[bytes]:
        host = self.host
        segment = packet[header_len:]
        address_sum = int.from_bytes(packet[12:20], "big")
        echo_ports = self._echo_ports if kind == _LOCAL else ()
        result = transport.udp_input(segment, address_sum, False, echo_ports)
        if isinstance(result, bytes):
            out = self._reply_packet((b"", packet[12:16]), 0, 0,
                                     host.next_ipv4_id(packet[12:16]), _UDP,
                                     result)
            host.replied("udp.echo_reply")
            return self._send(out, now)
        if result != transport.PORT_UNREACHABLE:
            return host.drop(result)
        # __udp4_lib_rcv trimmed the datagram to the UDP length before icmp_send quotes it.
        udp_length = (segment[4] << 8) | segment[5]
        return self._error(packet[:header_len + udp_length], header_len, kind, options,
                           icmpv4.DEST_UNREACH, icmpv4.UNREACH_PORT, b"\x00\x00\x00\x00", now)

    def _udplite_input(self, packet: bytes, header_len: int, kind: int,
                       options: _Options | None, now: float) -> list[bytes]:
        """UDP-Lite (RFC 3828) through __udp4_lib_rcv: no socket listens, so a datagram
        whose checksum holds over its coverage gets Port Unreachable, quoted whole (the
        length field is the coverage: nothing is trimmed)."""
        result = transport.udplite_input(packet[header_len:],
                                         int.from_bytes(packet[12:20], "big"))
        if result != transport.PORT_UNREACHABLE:
            return self.host.drop(result)
        return self._error(packet, header_len, kind, options, icmpv4.DEST_UNREACH,
                           icmpv4.UNREACH_PORT, b"\x00\x00\x00\x00", now)

    def _tcp_input(self, packet: bytes, header_len: int, kind: int,
                   options: _Options | None, now: float) -> list[bytes]:
        """tcp_v4_rcv → tcp_v4_send_reset → ip_send_unicast_reply: TOS without the ECN
        bits, DF set and so IP ID 0, options echoed."""
        host = self.host
        if kind != _LOCAL or host.link_group:
            return host.drop("tcp.not_unicast")  # tcp_v4_rcv: pkt_type != PACKET_HOST
        result = transport.tcp_input(packet[header_len:], int.from_bytes(packet[12:20], "big"),
                                     refuse_ao=True)
        if isinstance(result, str):
            return host.drop(result)
        route = self._reply_route(packet, options, now)
        if isinstance(route, str):
            return host.drop(route)
        out = self._reply_packet(route, packet[1] & ~wire.ECN_MASK & 0xFF, wire.FLAG_DF, 0,
                                 _TCP, result)
        host.replied("tcp.rst")
        return [out]

    # -- ICMP errors (icmp_send) -------------------------------------------------------
    def _error(self, packet: bytes, header_len: int, kind: int, options: _Options | None,
               error_type: int, code: int, rest: bytes, now: float) -> list[bytes]:
        """Send an ICMP error about ``packet`` (as we hold it) or count why not."""
        reply = self._build_error(packet, header_len, kind, options, error_type, code, rest,
                                  now)
        if isinstance(reply, str):
            return self.host.drop(reply)
        self.host.replied(_ERROR_KINDS[(error_type, code)])
        return [reply]

    def _build_error(self, packet: bytes, header_len: int, kind: int,
                     options: _Options | None, error_type: int, code: int, rest: bytes,
                     now: float) -> bytes | str:
        # RFC 1122 §3.2.2: never about a datagram to a broadcast or multicast address,
        # a non-first fragment, or an ICMP error (Linux: an unknown type counts as one).
        if kind in (_BROADCAST, _MULTICAST):
            return "icmp.no_error_for_broadcast"
        if self.host.link_group:  # __icmp_send: "no replies to physical multicast"
            return "icmp.no_error_for_link_broadcast"
        if packet[6] & 0x1F or packet[7]:
            return "icmp.no_error_for_fragment"
        if packet[9] == icmpv4.PROTOCOL:
            if len(packet) <= header_len:
                return "icmp.no_error_for_icmp_error"
            inner = packet[header_len]
            if inner > icmpv4.MAX_TYPE or inner in _NO_ERROR_ABOUT_TYPES:
                return "icmp.no_error_for_icmp_error"
        route = self._reply_route(packet, options, now, "icmp.no_error_for_broadcast")
        if isinstance(route, str):
            return route
        reply_options, destination = route
        # Rate limits (icmpv4_global_allow, icmpv4_xrlim_allow) for the types in
        # icmp_ratemask; the peer is where the error goes.
        if self._ratemask >> error_type & 1:
            refused = self.host.ratelimiter.allow(destination, now, self._peer_interval)
            if refused is not None:
                return refused
        room = min(ICMP_ERROR_LIMIT, self.pmtu.get(destination, now, self._mtu))
        room -= wire.HEADER_LEN + len(reply_options) + icmpv4.HEADER_LEN
        message = icmpv4.emit(error_type, code, rest, packet[:max(room, 0)])
        # icmp_send: tos = RT_TOS(tos) | IPTOS_PREC_INTERNETCONTROL; DF clear.
        return wire.emit(tos=0xC0 | (packet[1] & 0x1E),
                         ident=self.host.next_ipv4_id(destination),
                         flags_offset=0, ttl=self.config.ttl, protocol=icmpv4.PROTOCOL,
                         src=self.address, dst=destination, payload=message,
                         options=reply_options)

    # -- IP options (RFC 791 §3.1; Linux net/ipv4/ip_options.c) ------------------------
    def _address_is_unicast(self, address: bytes) -> bool:
        """inet_addr_type(addr) == RTN_UNICAST: not ours, not loopback, not a broadcast
        (0.0.0.0, 255.255.255.255, the subnet's) and not multicast."""
        first = address[0]
        return not (address in self._reject_sources or first == 127 or 224 <= first < 240)

    def _compile_options(self, header: bytearray, now: float) -> tuple[_Options, int]:
        """ip_options_compile for a received header, in place: Record Route and
        Timestamp get our address and time where there is room, a full Timestamp
        counts an overflow, bytes after End of Options become End. Returns what was
        found and the Parameter Problem pointer (an offset in the header), or 0."""
        options = _Options()
        end = len(header)
        index = wire.HEADER_LEN
        while index < end:
            kind = header[index]
            if kind == wire.OPT_END:
                for rest in range(index + 1, end):
                    header[rest] = wire.OPT_END
                break
            if kind == wire.OPT_NOOP:
                index += 1
                continue
            if end - index < 2:
                return options, index
            length = header[index + 1]
            if length < 2 or length > end - index:
                return options, index
            pointer = self._compile_one(header, index, kind, length, options, now)
            if pointer:
                return options, pointer
            index += length
        return options, 0

    def _compile_one(self, header: bytearray, at: int, kind: int, length: int,
                     options: _Options, now: float) -> int:
        """One option of ``ip_options_compile``; the Parameter Problem pointer or 0."""
        if kind in (wire.OPT_LSRR, wire.OPT_SSRR):
            if length < 3:
                return at + 1
            if header[at + 2] < 4:
                return at + 2
            if options.srr:  # RFC 1812 §5.2.4.1: at most one source route
                return at
            options.srr = at
        elif kind == wire.OPT_RR:
            if options.rr:
                return at
            if length < 3:
                return at + 1
            pointer = header[at + 2]
            if pointer < 4:
                return at + 2
            if pointer <= length:
                if pointer + 3 > length:
                    return at + 2
                header[at + pointer - 1:at + pointer + 3] = self.address
                header[at + 2] = pointer + 4
                options.rr_needaddr = True
            options.rr = at
        elif kind == wire.OPT_TS:
            return self._compile_timestamp(header, at, length, options, now)
        elif kind == wire.OPT_RA:
            if length < 4:
                return at + 1
        elif kind == wire.OPT_CIPSO:
            # cipso_v4_validate: no CIPSO DOI is configured on a host by default, so a
            # CIPSO option is always refused (the first one already): at its length if
            # short, else at its DOI. The error still echoes it (ip_options_echo).
            options.cipso = at
            return at + 1 if length < 8 else at + 2
        return 0

    def _compile_timestamp(self, header: bytearray, at: int, length: int,
                           options: _Options, now: float) -> int:
        if options.ts:
            return at
        if length < 4:
            return at + 1
        pointer = header[at + 2]
        if pointer < 5:
            return at + 2
        flag = header[at + 3] & 0x0F
        if pointer <= length:
            if pointer + 3 > length:
                return at + 2
            stamp = _TIMESTAMP.pack(ms_since_midnight(now))
            if flag == wire.TS_ONLY:
                header[at + pointer - 1:at + pointer + 3] = stamp
                options.ts_needtime = True
                header[at + 2] = pointer + 4
            elif flag == wire.TS_AND_ADDR:
                if pointer + 7 > length:
                    return at + 2
                header[at + pointer - 1:at + pointer + 3] = self.address
                header[at + pointer + 3:at + pointer + 7] = stamp
                options.ts_needaddr = True
                options.ts_needtime = True
                header[at + 2] = pointer + 8
            elif flag == wire.TS_PRESPEC:
                if pointer + 7 > length:
                    return at + 2
                listed = bytes(header[at + pointer - 1:at + pointer + 3])
                if not self._address_is_unicast(listed):
                    header[at + pointer + 3:at + pointer + 7] = stamp
                    options.ts_needtime = True
                    header[at + 2] = pointer + 8
            # Other flags are accepted and left alone.
        elif flag != wire.TS_PRESPEC:
            overflow = header[at + 3] >> 4
            if overflow == 15:
                return at + 3
            header[at + 3] = flag | ((overflow + 1) << 4)
        options.ts = at
        return 0

    def _echo_options(self, packet: bytes, options: _Options,
                      now: float) -> tuple[bytes, bytes] | None:
        """ip_options_echo then ip_options_build: the options of a reply to ``packet``
        (whose header the compile step has already updated). Record Route, Timestamp,
        the reversed source route and CIPSO, in that order, padded with End; None where
        Linux refuses to answer. Also returns where the reply goes: the first hop of a
        reversed source route, else the sender."""
        out = bytearray()
        destination = packet[12:16]
        stamp = _TIMESTAMP.pack(ms_since_midnight(now))
        if options.rr:
            at = options.rr
            length = packet[at + 1]
            pointer = packet[at + 2]
            start = len(out)
            out += packet[at:at + length]
            if options.rr_needaddr and pointer <= length:
                if pointer + 3 > length:
                    return None
                out[start + 2] = pointer + 4
                out[start + pointer - 1:start + pointer + 3] = self.address
        if options.ts:
            at = options.ts
            length = packet[at + 1]
            pointer = packet[at + 2]
            start = len(out)
            out += packet[at:at + length]
            if pointer <= length:
                needaddr = False
                needtime = False
                if options.ts_needaddr:
                    if pointer + 3 > length:
                        return None
                    needaddr = True
                    pointer += 4
                if options.ts_needtime:
                    if pointer + 3 > length:
                        return None
                    if out[start + 3] & 0x0F != wire.TS_PRESPEC:
                        needtime = True
                        pointer += 4
                    elif pointer + 7 <= length:
                        listed = bytes(out[start + pointer - 1:start + pointer + 3])
                        if not self._address_is_unicast(listed):
                            needtime = True
                            pointer += 8
                out[start + 2] = pointer
                if needaddr:
                    out[start + pointer - 9:start + pointer - 5] = self.address
                if needtime:
                    out[start + pointer - 5:start + pointer - 1] = stamp
        if options.srr:
            destination = self._echo_source_route(packet, options.srr, out, destination)
        if options.cipso:
            at = options.cipso
            out += packet[at:at + packet[at + 1]]
        # Each echoed option is at most as long as its original, and the originals are
        # disjoint parts of at most 40 bytes, so the padded result fits in 40 too.
        while len(out) & 3:
            out.append(wire.OPT_END)
        return bytes(out), destination

    @staticmethod
    def _echo_source_route(packet: bytes, at: int, out: bytearray,
                           destination: bytes) -> bytes:
        """The source route of a reply, reversed as Linux's ip_options_echo and
        ip_options_build do (RFC 1122 §3.2.1.8): the hops recorded before the last one,
        newest first, then the sender; the reply goes to the last hop recorded. A route
        whose first hop is the sender itself loses that hop (RFC 1812 §5.2.4.1). Appends
        the option to ``out``; returns the reply's destination."""
        length = packet[at + 1]
        offset = packet[at + 2]
        if offset > length:
            offset = length + 1
        offset -= 4
        slots = 0
        hops: list[bytes] = []
        first_hop = destination
        if offset > 3:
            first_hop = packet[at + offset - 1:at + offset + 3]
            offset -= 4
            slots = 1
            while offset > 3:
                hops.append(packet[at + offset - 1:at + offset + 3])
                offset -= 4
                slots += 1
            if packet[at + offset + 3:at + offset + 7] == packet[12:16]:
                slots -= 1
        if slots < 1:
            return destination
        route = b"".join(hops[:slots - 1]) + destination  # the sender in the last slot
        out += bytes((packet[at], len(route) + 3, 4)) + route
        return first_hop
