"""Output invariants: what no host may ever send, whatever it was sent.

Shared by every fuzz target, by tests and by replay under faults. Three independent views
of each output must agree: this module's own header walk (lengths, checksums, addresses),
``stack.wire.inspect.validate`` (the project's validator) and dpkt (a parser written by
other people). The rules, by name:

``exception``                 ``handle``/``poll`` raised (reported by the drivers)
``output.not_bytes``          an output is not ``bytes``
``output.unparseable``        not IPv4/IPv6, or shorter than its own header
``output.bad_length``         a length field disagrees with the bytes (IP total/payload
                              length, IHL, UDP length, TCP data offset, extension header)
``output.short_icmp``         an ICMP/ICMPv6 message under 8 bytes: every message type has
                              a 32-bit word after the checksum (RFC 792, RFC 4443 §2.1;
                              Linux's icmp_rcv/icmpv6_rcv drop shorter ones)
``output.bad_ip_checksum``    IPv4 header checksum (RFC 791 §3.1)
``output.bad_l4_checksum``    ICMP, ICMPv6, UDP or TCP checksum (RFC 792, 4443 §2.3, 768, 9293)
``output.invalid``            ``inspect.validate`` reported a problem
``output.dpkt_disagrees``     dpkt reads a different value for a field, or cannot read it
``output.zero_ttl``           TTL / hop limit 0 on a packet we originate
``output.foreign_source``     the source is not one of the host's addresses
``output.broadcast_destination``  255.255.255.255, the subnet broadcast or 0.0.0.0 (the
                              old broadcast, RFC 1122 §3.2.1.3: never a destination)
``output.multicast_destination``  224/4 or ff00::/8 (IPv6 neighbour discovery and MLD
                              excepted: RFC 4861 §7.2.4 and RFC 3810 send them to ff02::/16)
``output.exceeds_mtu``        a packet or fragment larger than the link MTU (RFC 791 §2.3)
``output.bad_fragments``      fragments of one reply that do not reassemble into a valid one
``icmp.error_about_error``    an ICMP error quoting an ICMP error (RFC 1122 §3.2.2,
                              RFC 4443 §2.4 (e.1))
``icmp.error_about_fragment`` an ICMPv4 error about a non-first fragment (RFC 1122 §3.2.2)
``icmp.error_about_multicast``  an ICMPv4 error about a datagram sent to or from a
                              broadcast/multicast address (RFC 1122 §3.2.2); for IPv6 only
                              Packet Too Big and Parameter Problem code 2 may be
                              (RFC 4443 §2.4 (e.3))
``icmp.error_too_big``        an ICMPv4 error over 576 bytes (RFC 1812 §4.3.2.3) or an
                              ICMPv6 error over 1280 (RFC 4443 §2.4 (c))
``output.unspecified_destination``  sent to :: or 0.0.0.0: no host has that address
                              (RFC 4291 §2.5.2, RFC 1122 §3.2.1.3; Linux has no route to it)
``answer.wrong_destination``  an answer not sent to the inbound packet's source (nor, for
                              a source-routed one, through the reversed route to it:
                              RFC 1122 §3.2.1.8, Linux ``ip_options_echo``)
``answer.too_many``           more than one answer (or the fragments of one) to one packet
``icmp.echo_changed``         an echo reply whose identifier, sequence or data differ from
                              the request's, or one to something not an echo request
                              (RFC 792, RFC 4443 §4.2)
``icmp.bad_quote``            an ICMP error whose quote is not the offending packet's first
                              bytes, or holds less than its IP header plus 8 bytes
                              (RFC 792, RFC 1812 §4.3.2.3, RFC 4443 §2.4 (c))
``icmp.bad_pointer``          a Parameter Problem pointer outside the quote or not on a
                              field that can be in error (RFC 792, RFC 4443 §3.4)
``answer.not_reassembled``    an answer to a datagram its IPv4 fragments do not make whole,
                              or with other data than theirs (:class:`FragmentLedger`)
``tcp.bad_reset``             a reset whose ports, sequence or acknowledgment do not follow
                              RFC 9293 §3.10.7.1 from the segment, or one answering a reset
``state.over_cap``            a host table over its configured cap (ARCHITECTURE §3)

The ``answer.*``, ``icmp.echo_changed``, ``icmp.bad_quote`` and ``tcp.bad_reset`` rules
judge an answer against the packet it answers, so they need the inbound packet; when that
packet is a fragment the answer is about the reassembled datagram, and only its addresses
are judged. Timer output (no inbound packet) gets the other rules.

``check_outputs`` returns the broken rules' names; ``find_violations`` the details;
``assert_clean`` raises :class:`OracleViolation` from a function named after the first
broken rule (``broke_icmp_bad_quote``), so that crash deduplication by stack frames
(ClusterFuzz's crash state) keeps distinct bugs apart.
"""

from __future__ import annotations

import functools
import ipaddress
import operator
import struct
import types
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dpkt

from stack.wire import ipv4 as ipv4_wire
from stack.wire.checksum import is_valid, pseudo_header_sum_v4, pseudo_header_sum_v6

if TYPE_CHECKING:
    from stack.host.config import HostConfig
    from stack.host.host import Host
    from stack.host.pmtu import PathMtuCache
    from stack.host.ratelimit import IcmpRateLimiter
    from stack.host.reassembly import Reassembler

__all__ = [
    "RULES",
    "Violation",
    "OracleViolation",
    "find_violations",
    "format_violations",
    "check_outputs",
    "check_host",
    "assert_clean",
    "raise_violations",
    "FragmentLedger",
    "parse_output",
    "ParsedPacket",
]

RULES: dict[str, str] = {
    "exception": "handle or poll raised an exception",
    "output.not_bytes": "an output is not bytes",
    "output.unparseable": "an output is not a whole IPv4/IPv6 packet",
    "output.bad_length": "a length field disagrees with the bytes",
    "output.short_icmp": "an ICMP/ICMPv6 message shorter than its 8-byte header",
    "output.bad_ip_checksum": "IPv4 header checksum is wrong",
    "output.bad_l4_checksum": "ICMP/ICMPv6/UDP/TCP checksum is wrong",
    "output.invalid": "inspect.validate reported a problem",
    "output.dpkt_disagrees": "dpkt reads a field differently",
    "output.zero_ttl": "TTL or hop limit 0",
    "output.foreign_source": "the source is not the host's address",
    "output.broadcast_destination": "sent to a broadcast address",
    "output.multicast_destination": "sent to a multicast address",
    "output.exceeds_mtu": "larger than the MTU",
    "output.bad_fragments": "reply fragments do not reassemble into a valid packet",
    "output.unspecified_destination": "sent to :: or 0.0.0.0",
    "answer.wrong_destination": "an answer not sent to the packet's source",
    "answer.too_many": "more than one answer to one packet",
    "icmp.echo_changed": "an echo reply that does not keep the request's id, sequence, data",
    "icmp.bad_quote": "an ICMP error that does not quote the offending packet",
    "icmp.bad_pointer": "a Parameter Problem pointer off the quote or the faulty field",
    "tcp.bad_reset": "a reset whose ports, seq or ack do not follow RFC 9293 §3.10.7.1",
    "answer.not_reassembled": "an answer to a datagram its fragments do not make",
    "icmp.error_about_error": "ICMP error about an ICMP error",
    "icmp.error_about_fragment": "ICMP error about a non-first fragment",
    "icmp.error_about_multicast": "ICMP error about a broadcast/multicast datagram",
    "icmp.error_too_big": "ICMP error larger than 576 (IPv4) / 1280 (IPv6) bytes",
    "state.over_cap": "a host table is over its cap",
}

ICMP4_ERRORS = frozenset({3, 4, 5, 11, 12})  # unreachable, quench, redirect, time exc., param
ICMP6_ERRORS = frozenset(range(0, 128))  # RFC 4443 §2.1: types 0-127 are errors
ICMP6_LINK_MULTICAST_TYPES = frozenset({130, 131, 132, 133, 134, 135, 136, 137, 143})
IPV6_EXTENSION_HEADERS = frozenset({0, 43, 60, 51})  # hop-by-hop, routing, dest opts, AH
IPV6_FRAGMENT = 44
# Exceptions dpkt raises from its own bugs rather than from malformed bytes (e.g. an
# AttributeError on a fragment header after destination options): not a disagreement.
DPKT_OWN_BUGS = (AttributeError, KeyError, TypeError)
# The upper layers whose checksums are checked, by IP version: ICMP (1) only over IPv4,
# ICMPv6 (58) only over IPv6; anything else dpkt may misread (ICMP after IPv6 headers).
CHECKED_PROTOCOLS = {4: frozenset({1, 6, 17}), 6: frozenset({6, 17, 58})}
IPV4_ERROR_LIMIT = 576  # RFC 1812 §4.3.2.3
IPV6_ERROR_LIMIT = 1280  # RFC 4443 §2.4 (c)


@dataclass(frozen=True)
class Violation:
    rule: str
    detail: str
    output_index: int | None = None

    def __str__(self) -> str:
        where = "" if self.output_index is None else f" (output {self.output_index})"
        return f"{self.rule}{where}: {self.detail}"


class OracleViolation(AssertionError):
    """A broken invariant. ``rules`` are the names; the message names them all first so
    a crash log's first line says what broke."""

    def __init__(self, violations: Sequence[Violation]) -> None:
        self.violations = list(violations)
        self.rules = _unique(v.rule for v in self.violations)
        lines = "\n".join(f"  {v}" for v in self.violations)
        super().__init__(f"oracle: {', '.join(self.rules)}\n{lines}")


@dataclass
class ParsedPacket:
    """The oracle's own reading of one output: enough to apply the rules."""

    version: int
    src: bytes
    dst: bytes
    ttl: int
    protocol: int  # the upper-layer protocol after extension headers
    upper: bytes  # the upper-layer bytes (empty for a non-first fragment)
    fragment: tuple[int, int, bool] | None  # (identification, byte offset, more)
    fragmentable: bytes  # the bytes after the fragment header / IPv4 header
    header_len: int  # the IPv4 header or IPv6 header plus extension headers before data
    pseudo_dst: bytes = b""  # the final destination for the pseudo-header (RFC 8200 §8.1,
    # RFC 9293 §3.1: after a routing header or a source route option)


class _Bad(Exception):
    """Internal: one rule broken while walking the headers."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(detail)
        self.rule = rule
        self.detail = detail


# -- header walk ------------------------------------------------------------------

def parse_output(packet: bytes) -> ParsedPacket:
    """Walk an output's headers strictly (an output must be exactly its lengths). Raises
    ``_Bad`` for a broken length or IPv4 header checksum; upper-layer checksums are
    checked by :func:`_check_upper`."""
    if len(packet) < 1:
        raise _Bad("output.unparseable", "empty")
    version = packet[0] >> 4
    if version == 4:
        return _parse_v4(packet)
    if version == 6:
        return _parse_v6(packet)
    raise _Bad("output.unparseable", f"IP version {version}")


def _parse_v4(packet: bytes) -> ParsedPacket:
    if len(packet) < 20:
        raise _Bad("output.unparseable", f"{len(packet)} bytes, short of an IPv4 header")
    ihl = (packet[0] & 0x0F) * 4
    total = struct.unpack_from("!H", packet, 2)[0]
    if ihl < 20 or ihl > len(packet):
        raise _Bad("output.bad_length", f"IHL {ihl} with {len(packet)} bytes")
    if total != len(packet):
        raise _Bad("output.bad_length", f"total length {total}, {len(packet)} bytes sent")
    if not is_valid(packet[:ihl]):
        raise _Bad("output.bad_ip_checksum", f"header checksum 0x{packet[10]:02x}{packet[11]:02x}")
    ident, flags_offset = struct.unpack_from("!HH", packet, 4)
    more = bool(flags_offset & 0x2000)
    offset = (flags_offset & 0x1FFF) * 8
    body = packet[ihl:]
    fragment = (ident, offset, more) if more or offset else None
    return ParsedPacket(4, packet[12:16], packet[16:20], packet[8], packet[9],
                        body if offset == 0 else b"", fragment, body, ihl,
                        ipv4_wire.final_destination(packet[:ihl]))


def _parse_v6(packet: bytes) -> ParsedPacket:
    if len(packet) < 40:
        raise _Bad("output.unparseable", f"{len(packet)} bytes, short of an IPv6 header")
    payload_length = struct.unpack_from("!H", packet, 4)[0]
    if payload_length + 40 != len(packet):
        raise _Bad("output.bad_length",
                   f"payload length {payload_length}, {len(packet) - 40} bytes sent")
    next_header = packet[6]
    position = 40
    fragment: tuple[int, int, bool] | None = None
    final_destination = packet[24:40]
    for _ in range(16):  # a bound: our replies carry at most a fragment header
        if next_header in IPV6_EXTENSION_HEADERS:
            if position + 8 > len(packet):
                raise _Bad("output.bad_length", f"extension header {next_header} cut short")
            size = (packet[position + 1] + 2) * 4 if next_header == 51 else \
                (packet[position + 1] + 1) * 8
            if position + size > len(packet):
                raise _Bad("output.bad_length", f"extension header {next_header} cut short")
            if next_header == 43 and packet[position + 3] and packet[position + 2] in (0, 2) \
                    and size >= 24:
                final_destination = packet[position + size - 16:position + size]
            next_header = packet[position]
            position += size
        elif next_header == IPV6_FRAGMENT:
            if position + 8 > len(packet):
                raise _Bad("output.bad_length", "fragment header cut short")
            flags_offset, ident = struct.unpack_from("!HI", packet, position + 2)
            fragment = (ident, flags_offset & 0xFFF8, bool(flags_offset & 1))
            next_header = packet[position]
            position += 8
            break
        else:
            break
    body = packet[position:]
    if fragment is not None and fragment[1] == 0 and not fragment[2]:
        fragment = None  # an atomic fragment (RFC 6946) is a whole packet
    upper = b"" if fragment is not None and fragment[1] else body
    return ParsedPacket(6, packet[8:24], packet[24:40], packet[7], next_header, upper,
                        fragment, body, position, final_destination)


def _check_upper(parsed: ParsedPacket) -> None:
    """Lengths and checksums of a whole (unfragmented or reassembled) upper layer."""
    data = parsed.upper
    protocol = parsed.protocol
    if parsed.version == 4:
        pseudo = pseudo_header_sum_v4(parsed.src, parsed.pseudo_dst or parsed.dst, protocol,
                                      len(data))
    else:
        pseudo = pseudo_header_sum_v6(parsed.src, parsed.pseudo_dst or parsed.dst, protocol,
                                      len(data))
    if protocol == 1 and parsed.version == 4:
        if len(data) < 8:
            raise _Bad("output.short_icmp", f"ICMP message of {len(data)} bytes")
        if not is_valid(data):
            raise _Bad("output.bad_l4_checksum", "ICMP checksum")
    elif protocol == 58 and parsed.version == 6:
        if len(data) < 8:
            raise _Bad("output.short_icmp", f"ICMPv6 message of {len(data)} bytes")
        if not is_valid(data, pseudo):
            raise _Bad("output.bad_l4_checksum", "ICMPv6 checksum")
    elif protocol == 17:
        if len(data) < 8:
            raise _Bad("output.bad_length", f"UDP datagram of {len(data)} bytes")
        length, stored = struct.unpack_from("!HH", data, 4)
        if length != len(data):
            raise _Bad("output.bad_length", f"UDP length {length}, {len(data)} bytes")
        if stored == 0 and parsed.version == 6:
            raise _Bad("output.bad_l4_checksum", "UDP checksum 0 over IPv6 (RFC 8200 §8.1)")
        if stored != 0 and not is_valid(data, pseudo):
            raise _Bad("output.bad_l4_checksum", "UDP checksum")
    elif protocol == 6:
        if len(data) < 20:
            raise _Bad("output.bad_length", f"TCP segment of {len(data)} bytes")
        data_offset = (data[12] >> 4) * 4
        if not 20 <= data_offset <= len(data):
            raise _Bad("output.bad_length", f"TCP data offset {data_offset}, {len(data)} bytes")
        if not is_valid(data, pseudo):
            raise _Bad("output.bad_l4_checksum", "TCP checksum")


# -- addresses ----------------------------------------------------------------------

def _host_addresses(host: Host | None) -> frozenset[bytes] | None:
    return None if host is None else _addresses_of(host.config)[0]


def _v4_broadcasts(host: Host | None) -> frozenset[bytes]:
    return _addresses_of(host.config)[1] if host is not None else _NO_HOST_BROADCASTS


_NO_HOST_BROADCASTS = frozenset({b"\xff\xff\xff\xff", b"\x00\x00\x00\x00"})
# By identity: hashing a HostConfig (a dataclass of some twenty fields) cost more than
# the rules themselves. The config is kept with its entry so that its id stays its own.
_ADDRESSES: dict[int, tuple[HostConfig, frozenset[bytes], frozenset[bytes]]] = {}


def _addresses_of(config: HostConfig) -> tuple[frozenset[bytes], frozenset[bytes]]:
    """The host's own addresses, and the IPv4 destinations that are broadcasts."""
    entry = _ADDRESSES.get(id(config))
    if entry is not None and entry[0] is config:
        return entry[1], entry[2]
    found: set[bytes] = set()
    broadcasts = set(_NO_HOST_BROADCASTS)
    if config.ipv4_parts is not None:
        address, broadcast = config.ipv4_parts
        found.add(address)
        if broadcast is not None:  # RFC 3021: a /31 has no broadcast address
            broadcasts.add(broadcast)
    found.update(address for address, _ in config.ipv6_parts)
    if len(_ADDRESSES) >= 64:
        _ADDRESSES.clear()
    _ADDRESSES[id(config)] = (config, frozenset(found), frozenset(broadcasts))
    return frozenset(found), frozenset(broadcasts)


def _is_v4_multicast(address: bytes) -> bool:
    return 224 <= address[0] <= 239


def _icmp_type(parsed: ParsedPacket) -> int | None:
    if parsed.upper and ((parsed.version == 4 and parsed.protocol == 1)
                         or (parsed.version == 6 and parsed.protocol == 58)):
        return parsed.upper[0]
    return None


def _quoted_header(message: bytes, version: int) -> ParsedPacket | None:
    """A lenient walk of the invoking packet an ICMP error quotes (it may be truncated
    and its checksums are not ours to judge)."""
    quoted = _lenient_walk(message[8:])
    return quoted if quoted is not None and quoted.version == version else None


def _lenient_walk(packet: bytes) -> ParsedPacket | None:
    """The headers of any packet (an inbound one, or a quote), never raising: None when
    it is not even an IP header. The upper layer is cut to the packet's own length
    field when that is shorter (Linux trims the rest, ``ip_rcv_core``)."""
    if len(packet) >= 20 and packet[0] >> 4 == 4:
        ihl = (packet[0] & 0x0F) * 4
        if ihl < 20:
            return None
        total = struct.unpack_from("!H", packet, 2)[0]
        datagram = packet[:total] if ihl <= total < len(packet) else packet
        flags_offset = struct.unpack_from("!H", packet, 6)[0]
        offset = (flags_offset & 0x1FFF) * 8
        more = bool(flags_offset & 0x2000)
        ident = struct.unpack_from("!H", packet, 4)[0]
        upper = datagram[ihl:] if offset == 0 else b""
        return ParsedPacket(4, packet[12:16], packet[16:20], packet[8], packet[9], upper,
                            (ident, offset, more) if more or offset else None,
                            datagram[ihl:], ihl)
    if len(packet) < 40 or packet[0] >> 4 != 6:
        return None
    payload_length = struct.unpack_from("!H", packet, 4)[0]
    # ip6_rcv_core trims to the payload length, 0 included, but for a jumbogram (a
    # zero length with a Hop-by-Hop header, RFC 2675).
    trim = payload_length < len(packet) - 40 and (payload_length or packet[6] != 0)
    datagram = packet[:40 + payload_length] if trim else packet
    next_header = packet[6]
    position = 40
    fragment: tuple[int, int, bool] | None = None
    for _ in range(16):
        if next_header in IPV6_EXTENSION_HEADERS and position + 2 <= len(datagram):
            size = (datagram[position + 1] + 2) * 4 if next_header == 51 else \
                (datagram[position + 1] + 1) * 8
            next_header = datagram[position]
            position += size
        elif next_header == IPV6_FRAGMENT and position + 8 <= len(datagram):
            flags_offset, ident = struct.unpack_from("!HI", datagram, position + 2)
            offset = flags_offset & 0xFFF8
            if offset or flags_offset & 1:
                fragment = (ident, offset, bool(flags_offset & 1))
            if offset:
                break  # a non-first fragment: what follows is data (ipv6_skip_exthdr)
            next_header = datagram[position]
            position += 8
        else:
            break
    # A header said to run past the datagram's own end (an AH longer than the payload
    # length leaves room for) ends with the datagram: bytes after the payload length are
    # not part of it, as ip6_rcv_core trims them.
    position = min(position, len(datagram))
    upper = datagram[position:] if fragment is None or fragment[1] == 0 else b""
    return ParsedPacket(6, packet[8:24], packet[24:40], packet[7], next_header, upper,
                        fragment, datagram[position:], position)


@dataclass(frozen=True)
class _Inbound:
    """The packet being answered, read leniently: ``datagram`` is its bytes cut to its
    own length field, ``view`` its headers."""

    datagram: bytes
    view: ParsedPacket


def _inbound(packet: bytes | None) -> _Inbound | None:
    if packet is None:
        return None
    view = _lenient_walk(packet)
    if view is None:
        return None
    return _Inbound(packet[:view.header_len] + view.fragmentable, view)


# -- the rules ----------------------------------------------------------------------

def _rules_for_packet(parsed: ParsedPacket, size: int, host: Host | None,
                      ours: frozenset[bytes] | None, add: Callable[[str, str], None]) -> None:
    mtu = host.config.mtu if host is not None else 65535
    if size > mtu:
        add("output.exceeds_mtu", f"{size} bytes over MTU {mtu}")
    if parsed.ttl == 0:
        add("output.zero_ttl", "TTL/hop limit 0")
    if ours is not None and parsed.src not in ours:
        add("output.foreign_source", f"source {_ntop(parsed.src)}")
    icmp_type = _icmp_type(parsed)
    if parsed.dst == bytes(len(parsed.dst)):
        add("output.unspecified_destination", f"destination {_ntop(parsed.dst)}")
    elif parsed.version == 4:
        if parsed.dst in _v4_broadcasts(host):
            add("output.broadcast_destination", f"destination {_ntop(parsed.dst)}")
        elif _is_v4_multicast(parsed.dst):
            add("output.multicast_destination", f"destination {_ntop(parsed.dst)}")
    else:
        # IPv6 has no broadcast.
        if parsed.dst[0] == 0xFF:
            link_scope_nd = (parsed.dst[1] & 0x0F) == 2 and icmp_type is not None \
                and icmp_type in ICMP6_LINK_MULTICAST_TYPES
            if not link_scope_nd:
                add("output.multicast_destination", f"destination {_ntop(parsed.dst)}")
    if icmp_type is None:
        return
    is_error = icmp_type in (ICMP4_ERRORS if parsed.version == 4 else ICMP6_ERRORS)
    if not is_error:
        return
    limit = IPV4_ERROR_LIMIT if parsed.version == 4 else IPV6_ERROR_LIMIT
    if size > limit:
        add("icmp.error_too_big", f"ICMP error of {size} bytes, limit {limit}")
    if icmp_type == (12 if parsed.version == 4 else 4):
        _rule_parameter_pointer(parsed, add)
    quoted = _quoted_header(parsed.upper, parsed.version)
    if quoted is None:
        return
    quoted_type = _icmp_type(quoted)
    if quoted_type is not None and quoted_type in (
            ICMP4_ERRORS if quoted.version == 4 else ICMP6_ERRORS):
        add("icmp.error_about_error", f"type {icmp_type} quotes an ICMP error of type "
                                      f"{quoted_type}")
    if parsed.version == 4:
        if quoted.fragment is not None and quoted.fragment[1] != 0:
            add("icmp.error_about_fragment",
                f"type {icmp_type} about a fragment at offset {quoted.fragment[1]}")
        if quoted.dst in _v4_broadcasts(host) or _is_v4_multicast(quoted.dst) \
                or _is_v4_multicast(quoted.src) or quoted.src in _v4_broadcasts(host):
            add("icmp.error_about_multicast",
                f"type {icmp_type} about {_ntop(quoted.src)} -> {_ntop(quoted.dst)}")
    else:
        allowed = icmp_type == 2 or (icmp_type == 4 and parsed.upper[1] == 2)
        if (quoted.dst[0] == 0xFF and not allowed) or quoted.src[0] == 0xFF:
            add("icmp.error_about_multicast",
                f"type {icmp_type} about {_ntop(quoted.src)} -> {_ntop(quoted.dst)}")


# -- the rules on an answer, judged against the packet it answers -------------------

_IPV4_OPTION_END = 0
_IPV4_OPTION_NOOP = 1
_TCP_RST = 0x04
_TCP_ACK = 0x10
_TCP_SYN = 0x02
_TCP_FIN = 0x01


def _answer_rules(request: _Inbound, parsed: ParsedPacket, add: Callable[[str, str], None],
                  *, destination: bool = True) -> None:
    if destination:
        _rule_answer_to_sender(request.view, parsed, add)
    if request.view.fragment is not None or parsed.fragment is not None:
        # The answer is about the reassembled datagram (or is itself fragmented: the
        # whole is judged by _check_fragment_set): only where it goes is judged here.
        return
    icmp_type = _icmp_type(parsed)
    if icmp_type is not None:
        errors = ICMP4_ERRORS if parsed.version == 4 else ICMP6_ERRORS
        if icmp_type in errors:
            _rule_quote_is_the_packet(request, parsed, add)
        elif icmp_type == (0 if parsed.version == 4 else 129):
            _rule_echo_reply_keeps_the_request(request.view, parsed, add)
    elif parsed.protocol == 6 and len(parsed.upper) >= 20 and parsed.upper[13] & _TCP_RST:
        _rule_reset_follows_the_segment(request.view, parsed, add)


def _rule_answer_to_sender(request: ParsedPacket, parsed: ParsedPacket,
                           add: Callable[[str, str], None]) -> None:
    """An answer goes back to the source (RFC 1122 §3.2.1.8 / §4.1.3.5), or for a
    source-routed request along the reversed route to it (the route's final address
    is the source: Linux ``ip_options_echo``). Neighbour discovery's answers to ::
    go to ff02::1 (RFC 4861 §7.2.4), judged by the multicast rule."""
    if parsed.version != request.version:
        add("answer.wrong_destination", f"an IPv{parsed.version} answer to an "
                                        f"IPv{request.version} packet")
        return
    if request.src in (parsed.dst, parsed.pseudo_dst):
        return
    if parsed.version == 6 and parsed.dst[0] == 0xFF and request.src == bytes(16):
        return
    add("answer.wrong_destination",
        f"answer to {_ntop(parsed.dst)}, the packet came from {_ntop(request.src)}")


def _rule_echo_reply_keeps_the_request(request: ParsedPacket, parsed: ParsedPacket,
                                       add: Callable[[str, str], None]) -> None:
    """RFC 792 / RFC 4443 §4.2: the reply carries the request's identifier, sequence
    number and data unchanged, and only answers an echo request."""
    request_type = _icmp_type(request)
    if request_type != (8 if parsed.version == 4 else 128):
        add("icmp.echo_changed", f"an echo reply to a packet that is no echo request "
                                 f"(protocol {request.protocol}, type {request_type})")
        return
    if parsed.upper[4:] != request.upper[4:]:
        add("icmp.echo_changed", f"reply {parsed.upper[4:20].hex()}…, request "
                                 f"{request.upper[4:20].hex()}…")


def _rule_quote_is_the_packet(request: _Inbound, parsed: ParsedPacket,
                              add: Callable[[str, str], None]) -> None:
    """An ICMP error quotes the offending datagram from its first byte: at least its
    IP header and 8 bytes more (RFC 792; RFC 1812 §4.3.2.3 and Linux quote as much
    as fits in 576 bytes, RFC 4443 §2.4 (c) in 1280), exactly as it came except what
    the receiving host itself rewrites: an IPv4 header's options (Record Route and
    Timestamp filled in by ``ip_options_compile``) and so its checksum."""
    quote = parsed.upper[8:]
    datagram = request.datagram
    header = request.view.header_len if request.view.version == 4 else 40
    wanted = min(len(datagram), header + 8)
    if len(quote) < wanted:
        add("icmp.bad_quote", f"quotes {len(quote)} bytes of a {len(datagram)}-byte "
                              f"packet, fewer than {wanted}")
        return
    if len(quote) > len(datagram):
        add("icmp.bad_quote", f"quotes {len(quote)} bytes of a {len(datagram)}-byte packet")
        return
    if quote == datagram[:len(quote)]:
        return  # the usual case, and the quick test
    rewritten = _rewritten_on_receipt(datagram) if request.view.version == 4 else {}
    for index in range(len(quote)):
        if quote[index] != datagram[index] and rewritten.get(index, -1) not in (
                -2, quote[index]):
            add("icmp.bad_quote", f"quoted byte {index} is 0x{quote[index]:02x}, the "
                                  f"packet's 0x{datagram[index]:02x}")
            return


def _rewritten_on_receipt(datagram: bytes) -> dict[int, int]:
    """The IPv4 header bytes a host may rewrite before quoting them, as Linux's
    ``ip_options_compile`` does: the header checksum and the pointer, flags and slots
    of Record Route and Timestamp options (-2: any value), and every byte after End of
    Options Lists, which becomes End (0)."""
    ihl = min((datagram[0] & 0x0F) * 4, len(datagram))
    rewritten = {10: -2, 11: -2}
    index = 20
    while index < ihl:
        kind = datagram[index]
        if kind == _IPV4_OPTION_END:
            rewritten.update((rest, 0) for rest in range(index + 1, ihl))
            break
        if kind == _IPV4_OPTION_NOOP:
            index += 1
            continue
        length = datagram[index + 1] if index + 1 < ihl else 0
        if length < 2:
            break
        if kind in (7, 68):  # Record Route, Timestamp (RFC 791 §3.1)
            rewritten.update((field, -2) for field in range(index + 2,
                                                            min(index + length, ihl)))
        index += length
    return rewritten


def _rule_parameter_pointer(parsed: ParsedPacket, add: Callable[[str, str], None]) -> None:
    """A Parameter Problem pointer names a byte of the quoted packet (RFC 792: an
    octet of the original header; RFC 4443 §3.4: an offset in the invoking packet)
    that can be in error for its code."""
    message = parsed.upper
    quote = message[8:]
    if parsed.version == 4:
        if message[1] != 0 or len(quote) < 20:
            return  # codes 1 and 2 carry no pointer
        pointer = message[4]
        ihl = (quote[0] & 0x0F) * 4
        if not 20 <= pointer < min(ihl, len(quote)):
            add("icmp.bad_pointer", f"pointer {pointer} outside the options of a quoted "
                                    f"{ihl}-byte header ({len(quote)} bytes quoted)")
        elif pointer not in _ipv4_option_fields(quote[:ihl]):
            add("icmp.bad_pointer", f"pointer {pointer} is on no option's type, length, "
                                    f"pointer or flags byte")
        return
    pointer = struct.unpack_from("!I", message, 4)[0]
    code = message[1]
    headers, chain_end = _ipv6_header_chain(quote)
    # A header the packet is too short to hold is pointed at where it would start:
    # just past the end (Linux ipv6_frag_rcv's fail_hdr).
    missing_header = code == 0 and pointer == chain_end == len(quote)
    if pointer >= len(quote) and not missing_header:
        add("icmp.bad_pointer", f"pointer {pointer} beyond the {len(quote)} bytes quoted")
        return
    if code == 0:
        fine = pointer < chain_end + 8
    elif code == 1:
        fine = pointer == 6 or pointer in headers
    elif code == 2:
        fine = pointer in _ipv6_option_types(quote, headers)
    elif code == 3:
        fine = pointer == 0
    else:
        return
    if not fine:
        add("icmp.bad_pointer", f"code {code} pointer {pointer} is on no field that code "
                                f"names (headers at {sorted(headers)})")


def _ipv4_option_fields(header: bytes) -> set[int]:
    """The offsets where a Parameter Problem about IPv4 options may point: each
    option's type, length, pointer and overflow/flags bytes (Linux
    ``ip_options_compile`` points at one of them), up to the first malformed one."""
    fields: set[int] = set()
    index = 20
    while index < len(header):
        kind = header[index]
        fields.add(index)
        if kind == _IPV4_OPTION_END:
            break
        if kind == _IPV4_OPTION_NOOP:
            index += 1
            continue
        fields.update(range(index + 1, min(index + 4, len(header))))
        length = header[index + 1] if index + 1 < len(header) else 0
        if length < 2:
            break
        index += length
    return fields


def _ipv6_header_chain(packet: bytes) -> tuple[dict[int, int], int]:
    """The extension headers of a (quoted) IPv6 packet: {offset: header type} and
    where the chain ends (the upper layer, or the header that stopped the walk)."""
    headers: dict[int, int] = {}
    next_header = packet[6]
    position = 40
    for _ in range(16):
        if position + 2 > len(packet) or next_header not in IPV6_EXTENSION_HEADERS | {
                IPV6_FRAGMENT}:
            break
        headers[position] = next_header
        if next_header == IPV6_FRAGMENT:
            size = 8
        elif next_header == 51:
            size = (packet[position + 1] + 2) * 4
        else:
            size = (packet[position + 1] + 1) * 8
        next_header = packet[position]
        position += size
    return headers, position


def _ipv6_option_types(packet: bytes, headers: dict[int, int]) -> set[int]:
    """The offsets of option type bytes in the Hop-by-Hop and Destination Options
    headers (RFC 8200 §4.2), where code 2 points."""
    found: set[int] = set()
    for start, kind in headers.items():
        if kind not in (0, 60) or start + 2 > len(packet):
            continue
        end = min(start + (packet[start + 1] + 1) * 8, len(packet))
        index = start + 2
        while index < end:
            found.add(index)
            if packet[index] == 0:  # Pad1
                index += 1
            elif index + 1 < end:
                index += 2 + packet[index + 1]
            else:
                break
    return found


def _rule_reset_follows_the_segment(request: ParsedPacket, parsed: ParsedPacket,
                                    add: Callable[[str, str], None]) -> None:
    """RFC 9293 §3.10.7.1 (CLOSED): a reset is never sent for a reset; for a segment
    with ACK, <SEQ=SEG.ACK><CTL=RST>; otherwise <SEQ=0><ACK=SEG.SEQ+SEG.LEN>
    <CTL=RST,ACK>, SYN and FIN each counting one (Linux ``tcp_v4_send_reset``)."""
    segment = request.upper
    reset = parsed.upper
    if request.protocol != 6 or len(segment) < 20:
        add("tcp.bad_reset", f"a reset answering protocol {request.protocol}")
        return
    flags = segment[13]
    if flags & _TCP_RST:
        add("tcp.bad_reset", "a reset answering a reset")
        return
    if reset[0:2] != segment[2:4] or reset[2:4] != segment[0:2]:
        add("tcp.bad_reset", f"ports {reset[0:4].hex()}, segment's {segment[0:4].hex()}")
        return
    sequence, acknowledged = struct.unpack_from("!II", reset, 4)
    if flags & _TCP_ACK:
        wanted = (struct.unpack_from("!I", segment, 8)[0], 0, _TCP_RST)
    else:
        data = len(segment) - (segment[12] >> 4) * 4
        length = data + (1 if flags & _TCP_SYN else 0) + (1 if flags & _TCP_FIN else 0)
        wanted = (0, (struct.unpack_from("!I", segment, 4)[0] + length) & 0xFFFFFFFF,
                  _TCP_RST | _TCP_ACK)
    got = (sequence, acknowledged if reset[13] & _TCP_ACK else 0, reset[13] & 0x3F)
    if got != wanted:
        add("tcp.bad_reset", f"seq/ack/flags {got}, RFC 9293 §3.10.7.1 gives {wanted}")


def _rule_one_answer(request: ParsedPacket, answers: int,
                     add: Callable[[str, str], None]) -> None:
    """One packet, at most one answer (the fragments of one reply count once): Linux
    sends one reply or one ICMP error per packet (``icmp_reply``, ``icmp_send``)."""
    if answers > 1:
        add("answer.too_many", f"{answers} answers to one IPv{request.version} packet")


# -- answers to fragmented datagrams: judged against the fragments sent ---------------

class FragmentLedger:
    """The IPv4 fragments a host was sent, kept independently of its reassembly, so an
    answer to a fragmented datagram can be judged against what the fragments make:
    ``answer.not_reassembled`` when the host answers (an echo reply, a UDP or TCP
    segment) a datagram its fragments do not make whole — a gap, no last fragment —
    or answers other bytes than theirs (each byte as first received: Linux discards
    the datagram on any other overlap, RFC 5722 §4 applied to IPv4 as
    ``ip_frag_queue`` does). A datagram is forgotten when the host answers it, when
    the host no longer holds it (completed and consumed, discarded, evicted, timed
    out) and after the host's reassembly timeout."""

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._datagrams: dict[bytes, tuple[float, dict[int, int], list[int]]] = {}

    def judge(self, inbound: bytes, outputs: Sequence[object], host: Any, now: float
              ) -> list[Violation]:
        """Note one inbound packet (what ``host`` answered with ``outputs`` at ``now``)
        and return the broken rule, if any."""
        # What the host no longer holds (evicted, timed out, discarded) is forgotten;
        # so is what timed out by the clock (a late fragment restarts the queue).
        view = _lenient_walk(inbound)
        fragment = view is not None and view.version == 4 and view.fragment is not None
        # The key stack/host/ipv4.py files a datagram under (identification, protocol,
        # addresses: RFC 791 §3.2), to ask whether the host still holds it.
        key = inbound[4:6] + inbound[9:10] + inbound[12:20] if fragment else b""
        held = host.ipv4.reassembler
        for old in [k for k, (start, _, _) in self._datagrams.items()
                    if now >= start + self._timeout or (k not in held and k != key)]:
            del self._datagrams[old]
        if view is None or view.fragment is None or not fragment:
            return []
        answers = _answers_to_datagram(outputs)
        if not answers:
            if key not in host.ipv4.reassembler:
                # None in progress: completed and consumed (dropped after reassembly),
                # discarded, or never started.
                self._datagrams.pop(key, None)
                return []
            if host.last_reason not in ("frag.held", "frag.duplicate"):
                return []  # dropped before reassembly: the datagram lives on without it
        start, data, end = self._datagrams.setdefault(key, (now, {}, []))
        offset = view.fragment[1]
        piece = view.fragmentable
        if view.fragment[2]:
            piece = piece[:len(piece) & ~7]  # ip_frag_queue: a non-last fragment's end &= ~7
        else:
            end.append(offset + len(piece))
        for index, byte in enumerate(piece):
            data.setdefault(offset + index, byte)
        if not answers:
            return []
        del self._datagrams[key]
        return _rule_answer_is_the_datagram(data, end, answers)


def _answers_to_datagram(outputs: Sequence[object]) -> list[ParsedPacket]:
    """The outputs (or the fragments of one) that answer a whole datagram: an echo
    reply, or a UDP/TCP answer (an ICMP error may be about one fragment, the first,
    before reassembly), judged by the first piece."""
    pieces: list[ParsedPacket] = []
    for packet in outputs:
        if not isinstance(packet, bytes) or packet[:1] == b"" or packet[0] >> 4 != 4:
            continue
        try:
            pieces.append(parse_output(packet))
        except _Bad:
            continue
    pieces.sort(key=lambda piece: piece.fragment[1] if piece.fragment else 0)
    if not pieces:
        return []
    first = pieces[0]
    if first.protocol == 1:
        return pieces if first.upper and first.upper[0] == 0 else []
    return pieces if first.protocol in (6, 17) else []


def _rule_answer_is_the_datagram(data: dict[int, int], end: list[int],
                                 pieces: list[ParsedPacket]) -> list[Violation]:
    if not end:
        return [Violation("answer.not_reassembled", "an answer before the last fragment")]
    length = end[0]
    missing = next((i for i in range(length) if i not in data), None)
    if missing is not None:
        return [Violation("answer.not_reassembled",
                          f"an answer to a datagram of {length} bytes with byte {missing} "
                          f"never sent")]
    datagram = bytes(data[i] for i in range(length))
    reply = b"".join(piece.fragmentable for piece in pieces)
    if pieces[0].protocol == 1 and reply[4:] != datagram[4:]:
        return [Violation("answer.not_reassembled", "the echo reply's data are not the "
                                                    "fragments' data")]
    # RFC 768: the UDP length field may end the datagram before its IP length.
    if pieces[0].protocol == 17 and (len(reply) > len(datagram)
                                     or reply[8:] != datagram[8:len(reply)]):
        return [Violation("answer.not_reassembled", "the UDP answer's data are not the "
                                                    "fragments' data")]
    return []


def _ntop(address: bytes) -> str:
    return str(ipaddress.ip_address(address))


# -- dpkt cross-check -----------------------------------------------------------------

def _dpkt_fields(packet: bytes) -> dict[str, object]:
    """The fields dpkt reads, under ``inspect.dissect``'s flat names."""
    fields: dict[str, object] = {}
    if packet[0] >> 4 == 4:
        ip4 = dpkt.ip.IP(packet)
        fields.update({
            "ipv4.version": ip4.v, "ipv4.ihl": ip4.hl, "ipv4.tos": ip4.tos,
            "ipv4.total_length": ip4.len, "ipv4.id": ip4.id, "ipv4.ttl": ip4.ttl,
            "ipv4.protocol": ip4.p, "ipv4.checksum": ip4.sum,
            "ipv4.src": _ntop(ip4.src), "ipv4.dst": _ntop(ip4.dst),
            "ipv4.flags.df": bool(ip4.df), "ipv4.flags.mf": bool(ip4.mf),
            "ipv4.frag_offset": ip4.offset,  # dpkt: in 8-byte units
        })
        upper: Any = ip4.data
        icmp_class: Any = dpkt.icmp.ICMP
        icmp_prefix = "icmp"
    else:
        ip6 = dpkt.ip6.IP6(packet)
        fields.update({
            "ipv6.version": ip6.v, "ipv6.traffic_class": ip6.fc, "ipv6.flow_label": ip6.flow,
            "ipv6.payload_length": ip6.plen, "ipv6.next_header": ip6.nxt,
            "ipv6.hop_limit": ip6.hlim, "ipv6.src": _ntop(ip6.src), "ipv6.dst": _ntop(ip6.dst),
        })
        upper = ip6.data
        icmp_class = dpkt.icmp6.ICMP6
        icmp_prefix = "icmpv6"
    if isinstance(upper, icmp_class):
        fields.update({f"{icmp_prefix}.type": upper.type, f"{icmp_prefix}.code": upper.code,
                       f"{icmp_prefix}.checksum": upper.sum})
    elif isinstance(upper, dpkt.udp.UDP):
        fields.update({"udp.src_port": upper.sport, "udp.dst_port": upper.dport,
                       "udp.length": upper.ulen, "udp.checksum": upper.sum})
    elif isinstance(upper, dpkt.tcp.TCP):
        fields.update({"tcp.src_port": upper.sport, "tcp.dst_port": upper.dport,
                       "tcp.seq": upper.seq, "tcp.ack": upper.ack, "tcp.window": upper.win,
                       "tcp.data_offset": upper.off, "tcp.checksum": upper.sum})
    return fields


def _cross_check_dpkt(packet: bytes, parsed: ParsedPacket,
                      add: Callable[[str, str], None]) -> None:
    try:
        fields = _dpkt_fields(packet)
    except Exception as exc:  # noqa: BLE001 - dpkt raises many types on bytes it dislikes
        cut_fields = _dpkt_without_quote(packet, parsed)
        if cut_fields is None and parsed.protocol not in CHECKED_PROTOCOLS[parsed.version]:
            cut_fields = _dpkt_header_only(packet, parsed)
        if cut_fields is None:
            if isinstance(exc, DPKT_OWN_BUGS):
                return  # dpkt tripped over itself, not over the packet: no verdict
            add("output.dpkt_disagrees", f"dpkt cannot read it: {type(exc).__name__}: {exc}")
            return
        fields = cut_fields
    prefix = "ipv4" if parsed.version == 4 else "ipv6"
    ours: dict[str, object] = {f"{prefix}.src": _ntop(parsed.src),
                               f"{prefix}.dst": _ntop(parsed.dst)}
    ours["ipv4.ttl" if parsed.version == 4 else "ipv6.hop_limit"] = parsed.ttl
    if parsed.version == 4:
        ours["ipv4.protocol"] = parsed.protocol
    for name, value in ours.items():
        if name in fields and _normalise(fields[name]) != _normalise(value):
            add("output.dpkt_disagrees", f"{name}: dpkt {fields.get(name)!r}, ours {value!r}")
    icmp_type = _icmp_type(parsed)
    icmp_field = "icmp.type" if parsed.version == 4 else "icmpv6.type"
    if icmp_type is not None and parsed.fragment is None and fields.get(icmp_field) != icmp_type:
        add("output.dpkt_disagrees", f"{icmp_field}: dpkt {fields.get(icmp_field)!r}, "
                                     f"ours {icmp_type}")
    dissected = _dissect(packet)
    for name, value in dissected.items():
        if name in fields and _normalise(value) != _normalise(fields[name]):
            add("output.dpkt_disagrees",
                f"{name}: dpkt {fields[name]!r}, inspect.dissect {value!r}")


def _dpkt_without_quote(packet: bytes, parsed: ParsedPacket) -> dict[str, object] | None:
    """dpkt parses the datagram an ICMP error quotes, and has bugs of its own there
    (e.g. an AttributeError on a quoted hop-by-hop header). When the message is an ICMP
    error, read the packet cut after the ICMP header instead and compare the fields that
    the cut does not change; None when that fails too (a real disagreement)."""
    icmp_type = _icmp_type(parsed)
    errors = ICMP4_ERRORS if parsed.version == 4 else ICMP6_ERRORS
    if icmp_type is None or icmp_type not in errors or parsed.fragment is not None:
        return None
    cut = bytearray(packet[:parsed.header_len + 8])
    if parsed.version == 4:
        struct.pack_into("!H", cut, 2, len(cut))
    else:
        struct.pack_into("!H", cut, 4, len(cut) - 40)
    try:
        fields = _dpkt_fields(bytes(cut))
    except Exception:  # noqa: BLE001 - see above
        return None
    for changed in ("ipv4.total_length", "ipv4.checksum", "ipv6.payload_length",
                    "icmp.checksum", "icmpv6.checksum"):
        fields.pop(changed, None)
    return fields


def _dpkt_header_only(packet: bytes, parsed: ParsedPacket) -> dict[str, object] | None:
    """For an upper layer this module does not judge (ESP, AH, an unknown protocol),
    dpkt's reading of that layer is no verdict on the packet (``inspect`` keeps such
    payloads as bytes too): read the IP header alone and compare its fields."""
    if parsed.version == 4:
        cut = bytearray(packet[:parsed.header_len])
        cut[9] = 255  # a protocol dpkt leaves as raw bytes
        struct.pack_into("!H", cut, 2, len(cut))
        changed: tuple[str, ...] = ("ipv4.total_length", "ipv4.checksum", "ipv4.protocol")
    else:
        cut = bytearray(packet[:40])
        cut[6] = 59  # no next header
        struct.pack_into("!H", cut, 4, 0)
        changed = ("ipv6.payload_length", "ipv6.next_header")
    try:
        fields = _dpkt_fields(bytes(cut))
    except Exception:  # noqa: BLE001 - dpkt cannot read even the header: a disagreement
        return None
    for name in changed:
        fields.pop(name, None)
    return fields


def _normalise(value: object) -> object:
    """One form for values both parsers may spell differently: booleans as ints and
    addresses as their bytes (``::ffff:172.16.0.2`` and ``::ffff:ac10:2`` are one)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return value.packed
    if isinstance(value, str) and (":" in value or value.count(".") == 3):
        try:
            return ipaddress.ip_address(value).packed
        except ValueError:
            return value
    return value


def _dissect(packet: bytes) -> dict[str, object]:
    from stack.wire import inspect

    return dict(inspect.dissect(packet))


def _validate(packet: bytes) -> list[str]:
    """inspect.validate's format problems. Its address-sanity problems are left to the
    address rules above, which follow what Linux sends: an echo reply to the
    unspecified source :: is one (corpus/linux/v6_src_unspecified.pcapng)."""
    from stack.wire import inspect

    return [str(problem) for problem in inspect.validate(packet)
            if not problem.field.endswith((".src", ".dst"))]


# -- entry points -------------------------------------------------------------------

def find_violations(inbound: bytes | None, outputs: Sequence[object],
                    host: Host | None = None, *, validate: bool = True,
                    cross_check: bool = True) -> list[Violation]:
    """Every broken rule in ``outputs``, what ``host`` sent in answer to ``inbound``
    (None for timer output). ``host`` gives the MTU and the addresses; without it the
    address and MTU rules that need it are skipped. ``validate=False`` and
    ``cross_check=False`` leave out ``inspect.validate`` and dpkt's readings (the fuzz
    targets sample them: each costs more than the host)."""
    found: list[Violation] = []
    if not outputs:
        return found  # most fuzz inputs are dropped: nothing to judge
    ours = _host_addresses(host)
    request = _inbound(inbound)
    answers = 0
    fragments: dict[tuple[bytes, bytes, int, int], list[tuple[int, ParsedPacket, int]]] = {}
    for index, output in enumerate(outputs):
        def add(rule: str, detail: str, index: int = index) -> None:
            found.append(Violation(rule, detail, index))

        if not isinstance(output, bytes):
            add("output.not_bytes", f"{type(output).__name__}")
            continue
        try:
            parsed = parse_output(output)
            if parsed.fragment is None:
                _check_upper(parsed)
        except _Bad as bad:
            add(bad.rule, bad.detail)
            continue
        for problem in (_validate(output) if validate else ()):
            add("output.invalid", problem)
        _rules_for_packet(parsed, len(output), host, ours, add)
        if request is not None:
            _answer_rules(request, parsed, add)
        if cross_check:
            _cross_check_dpkt(output, parsed, add)
        if parsed.fragment is not None:
            key = (parsed.src, parsed.dst, parsed.protocol, parsed.fragment[0])
            if key not in fragments:
                answers += 1
            fragments.setdefault(key, []).append((parsed.fragment[1], parsed, index))
        else:
            answers += 1
    if request is not None:
        _rule_one_answer(request.view, answers,
                         lambda rule, detail: found.append(Violation(rule, detail)))
    for pieces in fragments.values():
        found.extend(_check_fragment_set(pieces, request))
    return found


def _check_fragment_set(pieces: list[tuple[int, ParsedPacket, int]],
                        request: _Inbound | None = None) -> list[Violation]:
    """Reassemble the fragments of one reply (all sent together by a host that
    fragments its own reply, RFC 791 §3.2 / RFC 8200 §4.5) and check the whole."""
    pieces.sort(key=lambda piece: piece[0])
    index = pieces[0][2]
    expected = 0
    data = bytearray()
    for offset, parsed, _ in pieces:
        if offset != expected:
            return [Violation("output.bad_fragments", f"gap or overlap at {offset}", index)]
        if parsed.fragment is not None and parsed.fragment[2] and len(parsed.fragmentable) % 8:
            return [Violation("output.bad_fragments",
                              f"non-last fragment of {len(parsed.fragmentable)} bytes", index)]
        data += parsed.fragmentable
        expected = offset + len(parsed.fragmentable)
    last = pieces[-1][1]
    if last.fragment is not None and last.fragment[2]:
        return [Violation("output.bad_fragments", "no last fragment", index)]
    first = pieces[0][1]
    whole = ParsedPacket(first.version, first.src, first.dst, first.ttl, first.protocol,
                         bytes(data), None, bytes(data), first.header_len, first.pseudo_dst)
    try:
        _check_upper(whole)
    except _Bad as bad:
        return [Violation(bad.rule, f"reassembled reply: {bad.detail}", index)]
    found: list[Violation] = []
    if request is not None:
        _answer_rules(request, whole, lambda rule, detail: found.append(
            Violation(rule, f"reassembled reply: {detail}", index)), destination=False)
    return found


def format_violations(packet: bytes) -> list[Violation]:
    """The format rules alone (lengths, checksums, dpkt and ``inspect.dissect``
    agreeing), for a packet judged without a host: the referee's differential check."""
    found: list[Violation] = []
    try:
        parsed = parse_output(packet)
        if parsed.fragment is None:
            _check_upper(parsed)
    except _Bad as bad:
        return [Violation(bad.rule, bad.detail)]
    _cross_check_dpkt(packet, parsed, lambda rule, detail: found.append(Violation(rule, detail)))
    return found


def check_outputs(inbound: bytes | None, outputs: Sequence[object],
                  host: Host | None = None) -> list[str]:
    """The names of the broken rules, each once, in order of first appearance."""
    return _unique(v.rule for v in find_violations(inbound, outputs, host))


def check_host(host: Any) -> list[Violation]:
    """Every table the host keeps, found by type, against its cap (ARCHITECTURE §3).
    Works on a ``Host`` and on anything wrapping one (TAP mode) that keeps tables."""
    pmtu_class, ratelimiter_class, reassembler_class = _table_classes()
    found: list[Violation] = []
    for name, table in _tables_of(host):
        if not table and not getattr(table, "memory", 0):  # type: ignore[truthy-bool]
            continue  # an empty table is within any cap (most fuzz inputs leave them so)
        if isinstance(table, reassembler_class):
            if len(table) > table._max_datagrams:
                found.append(Violation("state.over_cap", f"{name}: {len(table)} datagrams"))
            if table.memory > table._mem_limit:
                found.append(Violation("state.over_cap", f"{name}: {table.memory} bytes"))
            if table.memory < 0:
                found.append(Violation("state.over_cap", f"{name}: memory {table.memory}"))
        elif isinstance(table, ratelimiter_class):
            if len(table) > table._cap:
                found.append(Violation("state.over_cap", f"{name}: {len(table)} peers"))
        else:
            cap = table._cap if isinstance(table, pmtu_class) else _declared_cap(table)
            if cap is not None and len(table) > cap:  # type: ignore[arg-type]
                found.append(Violation("state.over_cap", f"{name}: {len(table)} entries, "  # type: ignore[arg-type]
                                                         f"cap {cap}"))
    return found


@functools.cache
def _table_classes() -> tuple[type[PathMtuCache], type[IcmpRateLimiter], type[Reassembler]]:
    """Imported on first use (the host imports this module's users, not the reverse)."""
    from stack.host.pmtu import PathMtuCache
    from stack.host.ratelimit import IcmpRateLimiter
    from stack.host.reassembly import Reassembler

    return PathMtuCache, IcmpRateLimiter, Reassembler


def _declared_cap(table: object) -> int | None:
    """The cap of a table that declares one (``capacity``, e.g. the neighbour cache)."""
    if not hasattr(table, "__len__"):
        return None
    for attribute in ("capacity", "cap"):
        value = getattr(table, attribute, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


# Per host class: the tables' names and one getter fetching them all in one call.
_TABLE_PATHS: dict[type, tuple[tuple[str, ...], Callable[[object], tuple[object, ...]]]] = {}


def _tables_of(host: object) -> list[tuple[str, object]]:
    """The host's tables (what it holds that has a length). Where they live is learnt
    once per host class (a walk over the attributes is slow; the fuzz targets check
    a host per input) and learnt again when a remembered path has gone."""
    known = _TABLE_PATHS.get(type(host))
    if known is not None:
        known_names, get_all = known
        try:
            return list(zip(known_names, get_all(host), strict=True))
        except AttributeError:
            pass  # this host lacks a table others of its class had: walk it
    walked = [(path, value) for path, value in _tables(host, (), set(), depth=0)
              if hasattr(value, "__len__")]
    names = tuple(".".join(("host", *path)) for path, _ in walked)
    if walked:
        getter = operator.attrgetter(*(".".join(path) for path, _ in walked))
        get: Callable[[object], tuple[object, ...]] = (
            getter if len(walked) > 1 else lambda owner: (getter(owner),))
    else:
        get = lambda owner: ()  # noqa: E731
    _TABLE_PATHS[type(host)] = (names, get)
    return [(name, value) for name, (_, value) in zip(names, walked, strict=True)]


def _tables(owner: object, path: tuple[str, ...], seen: set[int], depth: int
            ) -> Iterable[tuple[tuple[str, ...], object]]:
    """Walk the attributes of the host and its layers (a few levels deep) and yield
    every object of the stack's own classes: the candidates for bounded tables."""
    if id(owner) in seen or depth > 3:
        return
    seen.add(id(owner))
    names: list[str] = []
    for klass in type(owner).__mro__:
        # mypyc's native classes (stack/corebuild.py) list theirs in __mypyc_attrs__.
        names.extend(getattr(klass, "__slots__", ()) or getattr(klass, "__mypyc_attrs__", ()))
    names.extend(getattr(owner, "__dict__", {}))
    for attribute in names:
        value = getattr(owner, attribute, None)
        if value is None or isinstance(value, int | float | str | bytes | bool | dict | list
                                       | tuple | set | frozenset):
            continue
        if type(value).__module__.startswith("stack."):
            yield (*path, attribute), value
            yield from _tables(value, (*path, attribute), seen, depth + 1)


def assert_clean(inbound: bytes | None, outputs: Sequence[object],
                 host: Host | None = None, *, state: bool = True,
                 cross_check: bool = True) -> None:
    """Raise :class:`OracleViolation` when any rule is broken (the fuzz targets' oracle),
    from the function :func:`raise_violations` names after the first broken rule."""
    violations = find_violations(inbound, outputs, host, cross_check=cross_check)
    if state and host is not None:
        violations += check_host(host)
    if violations:
        raise_violations(violations)


_RAISERS: dict[str, Callable[[Sequence[Violation]], None]] = {}


def _raise(violations: Sequence[Violation]) -> None:
    raise OracleViolation(violations)


def raise_violations(violations: Sequence[Violation]) -> None:
    """Raise :class:`OracleViolation` from a frame of its own for the first broken rule
    (``broke_icmp_bad_quote`` for ``icmp.bad_quote``). Fuzzers deduplicate crashes by
    their top stack frames (ClusterFuzz's crash state): one raising function for every
    rule would fold distinct bugs into one. The frames are copies of ``_raise`` under
    the rule's name, made once per rule."""
    rule = violations[0].rule
    raiser = _RAISERS.get(rule)
    if raiser is None:
        name = "broke_" + "".join(c if c.isalnum() else "_" for c in rule)
        code = _raise.__code__.replace(co_name=name, co_qualname=name)
        raiser = types.FunctionType(code, _raise.__globals__, name)
        _RAISERS[rule] = raiser
    raiser(violations)


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
