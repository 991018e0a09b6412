"""Format-level inspection of any IP packet: dissect, validate, describe, diff.

No policy here: these functions say what the bytes *are*, never what a host should do
about them. They never raise, whatever the bytes.

- :func:`dissect` gives a flat, ordered ``{dotted.field: value}`` map: ``ipv4.*`` or
  ``ipv6.*`` (with extension headers ``ipv6.hbh.*``, ``ipv6.routing.*``, ``ipv6.frag.*``,
  ``ipv6.dest.*``), then ``icmp.*``, ``icmpv6.*`` (NDP options under ``icmpv6.nd.*``,
  MLD under ``icmpv6.mld.*``), ``udp.*`` or ``tcp.*``. The datagram quoted by an ICMP
  error is dissected under ``icmp.quote.`` / ``icmpv6.quote.``. Values are ints, bools,
  strings (addresses, flag names) or bytes (payloads, options). Where the bytes end
  before a header does, a ``<layer>.truncated`` field says so and dissection stops; bytes
  the parser does not decode are kept in a bytes field, so two packets that differ in any
  byte differ in some field.
- :func:`validate` lists :class:`Problem` values: every checksum (IPv4 header, ICMP,
  UDP/TCP/ICMPv6 with their pseudo-headers), every length, address sanity.
- :func:`describe` is a one-line summary for logs.
- :func:`diff` compares an expected and a received packet field by field; checksums
  covering an ignored field must then be valid rather than equal.

Not decoded (kept as bytes): IPv6 jumbograms (RFC 2675), AH/ESP payloads, MLDv2 records.
"""

from __future__ import annotations

import fnmatch
import re
import socket
import struct
from collections.abc import Iterable
from typing import NamedTuple

from stack.wire import ipv4 as ipv4_wire
from stack.wire.checksum import checksum, ones_sum

__all__ = [
    "Problem",
    "FieldDiff",
    "dissect",
    "validate",
    "describe",
    "diff",
    "format_value",
    "format_dissection",
    "is_known_field",
    "CHECKSUM_FIELDS",
]

_IPV4_HEADER = struct.Struct("!BBHHHBBH4s4s")
_IPV6_HEADER = struct.Struct("!IHBB16s16s")
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_HH = struct.Struct("!HH")
_TCP = struct.Struct("!HHIIBBHHH")

PROTO_ICMP = 1
PROTO_TCP = 6
PROTO_UDP = 17
PROTO_ICMPV6 = 58
_EXT_HBH = 0
_EXT_ROUTING = 43
_EXT_FRAGMENT = 44
_EXT_DEST = 60
_EXT_AH = 51
_EXT_NONE = 59

_IPV6_LOOPBACK = bytes(15) + b"\x01"
_MAX_QUOTE_DEPTH = 2  # an error quoting an error quoting an error is not worth a dissection

_ICMP_NAMES = {
    0: "echo reply", 3: "destination unreachable", 4: "source quench", 5: "redirect",
    8: "echo request", 9: "router advertisement", 10: "router solicitation",
    11: "time exceeded", 12: "parameter problem", 13: "timestamp request",
    14: "timestamp reply", 15: "information request", 16: "information reply",
    17: "address mask request", 18: "address mask reply",
}
_UNREACH_NAMES = {
    0: "net unreachable", 1: "host unreachable", 2: "protocol unreachable",
    3: "port unreachable", 4: "fragmentation needed", 5: "source route failed",
    9: "net prohibited", 10: "host prohibited", 13: "administratively prohibited",
}
_TIME_EXCEEDED_NAMES = {0: "ttl exceeded in transit", 1: "fragment reassembly time exceeded"}
_ICMPV6_NAMES = {
    1: "destination unreachable", 2: "packet too big", 3: "time exceeded",
    4: "parameter problem", 128: "echo request", 129: "echo reply",
    130: "multicast listener query", 131: "multicast listener report",
    132: "multicast listener done", 133: "router solicitation", 134: "router advertisement",
    135: "neighbor solicitation", 136: "neighbor advertisement", 137: "redirect",
    143: "multicast listener report v2",
}
_ICMPV6_UNREACH_NAMES = {
    0: "no route", 1: "administratively prohibited", 2: "beyond scope of source",
    3: "address unreachable", 4: "port unreachable", 5: "source policy failed",
    6: "reject route",
}
_PROTOCOL_NAMES = {PROTO_ICMP: "ICMP", PROTO_TCP: "TCP", PROTO_UDP: "UDP",
                   PROTO_ICMPV6: "ICMPv6", 2: "IGMP", 47: "GRE", 50: "ESP", 51: "AH",
                   132: "SCTP"}
_TCP_FLAG_NAMES = ("FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR")
_ND_OPTION_NAMES = {1: "source_lladdr", 2: "target_lladdr", 3: "prefix", 4: "redirected",
                    5: "mtu", 14: "nonce", 25: "rdnss", 31: "dnssl"}

# Which fields each checksum covers, for diff(): a checksum over an ignored field must be
# valid, not equal. Prefixes end with a dot; the pseudo-header adds the addresses.
CHECKSUM_FIELDS: dict[str, tuple[str, ...]] = {
    "ipv4.checksum": ("ipv4.",),
    "icmp.checksum": ("icmp.",),
    "udp.checksum": ("udp.", "ipv4.src", "ipv4.dst", "ipv4.total_length", "ipv4.ihl",
                     "ipv6.src", "ipv6.dst", "ipv6.payload_length"),
    "tcp.checksum": ("tcp.", "ipv4.src", "ipv4.dst", "ipv4.total_length", "ipv4.ihl",
                     "ipv6.src", "ipv6.dst", "ipv6.payload_length"),
    "icmpv6.checksum": ("icmpv6.", "ipv6.src", "ipv6.dst", "ipv6.payload_length"),
}
_LAYERS = frozenset({"packet", "ip", "ipv4", "ipv6", "icmp", "icmpv6", "udp", "tcp"})


class Problem(NamedTuple):
    """One defect of a packet: ``field`` is the dissect() name, ``message`` says both
    the value found and the value expected."""

    field: str
    message: str

    def __str__(self) -> str:
        return self.message


def _ipv4_text(raw: bytes) -> str:
    return f"{raw[0]}.{raw[1]}.{raw[2]}.{raw[3]}"


def _ipv6_text(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6, raw)


# -- dissect -----------------------------------------------------------------------------
def dissect(packet: bytes) -> dict[str, object]:
    """The fields of ``packet`` (an IPv4 or IPv6 packet without link header) as a flat
    ordered map; never raises."""
    fields: dict[str, object] = {}
    _dissect_ip(bytes(packet), "", fields, 0)
    return fields


def _dissect_ip(packet: bytes, prefix: str, out: dict[str, object], depth: int) -> None:
    if not packet:
        out[prefix + "ip.truncated"] = "no bytes"
        return
    version = packet[0] >> 4
    if version == 4:
        _dissect_ipv4(packet, prefix, out, depth)
    elif version == 6:
        _dissect_ipv6(packet, prefix, out, depth)
    else:
        out[prefix + "ip.version"] = version
        out[prefix + "ip.data"] = packet


def _dissect_ipv4(packet: bytes, prefix: str, out: dict[str, object], depth: int) -> None:
    p = prefix + "ipv4."
    size = len(packet)
    if size < 20:
        out[p + "version"] = 4
        out[p + "ihl"] = packet[0] & 0x0F
        out[p + "truncated"] = f"header needs 20 bytes, {size} present"
        out[p + "data"] = packet[1:]
        return
    (ver_ihl, tos, total_length, ident, frag, ttl, protocol, csum, src,
     dst) = _IPV4_HEADER.unpack_from(packet)
    ihl = ver_ihl & 0x0F
    out[p + "version"] = 4
    out[p + "ihl"] = ihl
    out[p + "tos"] = tos
    out[p + "total_length"] = total_length
    out[p + "id"] = ident
    out[p + "flags.reserved"] = bool(frag & 0x8000)
    out[p + "flags.df"] = bool(frag & 0x4000)
    out[p + "flags.mf"] = bool(frag & 0x2000)
    out[p + "frag_offset"] = frag & 0x1FFF
    out[p + "ttl"] = ttl
    out[p + "protocol"] = protocol
    out[p + "checksum"] = csum
    out[p + "src"] = _ipv4_text(src)
    out[p + "dst"] = _ipv4_text(dst)
    header_length = ihl * 4
    if ihl < 5:
        out[p + "truncated"] = f"ihl {ihl} below 5"
        out[p + "data"] = packet[20:]
        return
    if header_length > size:
        out[p + "options"] = packet[20:]
        out[p + "truncated"] = f"header length {header_length}, {size} bytes present"
        return
    if header_length > 20:
        options = packet[20:header_length]
        out[p + "options"] = options  # raw; diff() compares the decoded fields instead
        _dissect_ipv4_options(options, p + "opt.", out)
    end = min(total_length, size) if total_length >= header_length else size
    if total_length > size:
        out[p + "truncated"] = f"total length {total_length}, {size} bytes present"
    elif total_length < size:
        out[p + "trailing"] = packet[max(total_length, header_length):]
    payload = packet[header_length:end]
    if frag & 0x1FFF:
        out[p + "fragment"] = payload
        return
    _dissect_transport(protocol, payload, prefix, out, depth, 4)


_IPV4_OPTION_NAMES = {7: "rr", 68: "ts", 131: "lsrr", 137: "ssrr", 148: "router_alert"}


def _dissect_ipv4_options(options: bytes, p: str, out: dict[str, object]) -> bool:
    """RFC 791 §3.1 option list under ``ipv4.opt.``: ``layout`` (the options in order,
    ``nop``/``eol`` included), then each option's fields; Record Route and the source
    routes as pointer and route, Timestamp (RFC 791, RFC 781) as pointer, overflow, flag
    and one ``time.N`` (and ``addr.N``) per slot. A repeated option gets a number
    (``ts2``). Returns False when the list is malformed (the caller keeps the bytes)."""
    pos = 0
    size = len(options)
    seen: dict[str, int] = {}
    layout: list[str] = []
    decoded = True
    out[p + "layout"] = ""  # filled in below; first in the field order
    while pos < size:
        kind = options[pos]
        if kind == 0:  # End of Option List: the rest is padding, zero unless damaged
            layout.append("eol")
            if any(options[pos + 1:]):
                out[p + "after_end"] = options[pos + 1:]
            break
        if kind == 1:  # No Operation
            layout.append("nop")
            pos += 1
            continue
        if pos + 1 >= size or options[pos + 1] < 2 or pos + options[pos + 1] > size:
            out[p + "malformed"] = options[pos:]
            decoded = False
            break
        length = options[pos + 1]
        body = options[pos:pos + length]
        name = _IPV4_OPTION_NAMES.get(kind, f"type{kind}")
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name}{seen[name]}"
        layout.append(name)
        o = p + name + "."
        if kind in (7, 131, 137) and length >= 3:
            out[o + "length"] = length
            out[o + "pointer"] = body[2]
            out[o + "route"] = ", ".join(
                _ipv4_text(body[i:i + 4]) for i in range(3, length - 3, 4))
            if (length - 3) % 4:
                out[o + "tail"] = body[3 + (length - 3) // 4 * 4:]
        elif kind == 68 and length >= 4:
            flag = body[3] & 0x0F
            out[o + "length"] = length
            out[o + "pointer"] = body[2]
            out[o + "overflow"] = body[3] >> 4
            out[o + "flag"] = flag
            # flag 0: timestamps only; 1 and 3: (address, timestamp) pairs (RFC 791)
            slot = 8 if flag in (1, 3) else 4
            at = 4
            number = 0
            while at + slot <= length:
                if slot == 8:
                    out[o + f"addr.{number}"] = _ipv4_text(body[at:at + 4])
                out[o + f"time.{number}"] = int.from_bytes(body[at + slot - 4:at + slot], "big")
                at += slot
                number += 1
            if at < length:
                out[o + "tail"] = body[at:]
        else:
            out[p + name] = body
        pos += length
    out[p + "layout"] = ",".join(layout)
    return decoded


def _dissect_ipv6(packet: bytes, prefix: str, out: dict[str, object], depth: int) -> None:
    p = prefix + "ipv6."
    size = len(packet)
    if size < 40:
        out[p + "version"] = 6
        out[p + "truncated"] = f"header needs 40 bytes, {size} present"
        out[p + "data"] = packet
        return
    first, payload_length, next_header, hop_limit, src, dst = _IPV6_HEADER.unpack_from(packet)
    out[p + "version"] = 6
    out[p + "traffic_class"] = (first >> 20) & 0xFF
    out[p + "flow_label"] = first & 0xFFFFF
    out[p + "payload_length"] = payload_length
    out[p + "next_header"] = next_header
    out[p + "hop_limit"] = hop_limit
    out[p + "src"] = _ipv6_text(src)
    out[p + "dst"] = _ipv6_text(dst)
    end = 40 + payload_length
    if end > size:
        out[p + "truncated"] = f"payload length {payload_length}, {size - 40} bytes present"
        end = size
    elif end < size:
        out[p + "trailing"] = packet[end:]
    body = packet[40:end]
    header = next_header
    pos = 0
    seen: dict[str, int] = {}
    fragment_offset = 0
    while header in (_EXT_HBH, _EXT_ROUTING, _EXT_FRAGMENT, _EXT_DEST, _EXT_AH):
        name = {_EXT_HBH: "hbh", _EXT_ROUTING: "routing", _EXT_FRAGMENT: "frag",
                _EXT_DEST: "dest", _EXT_AH: "ah"}[header]
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name}{seen[name]}"
        e = p + name + "."
        if pos + 8 > len(body):
            out[e + "truncated"] = f"header needs 8 bytes, {len(body) - pos} present"
            out[e + "data"] = body[pos:]
            return
        following = body[pos]
        if header == _EXT_FRAGMENT:
            field = _U16.unpack_from(body, pos + 2)[0]
            out[e + "next_header"] = following
            out[e + "reserved"] = body[pos + 1]
            fragment_offset = field >> 3
            out[e + "offset"] = fragment_offset
            out[e + "res"] = (field >> 1) & 0x3
            out[e + "m"] = bool(field & 1)
            out[e + "id"] = _U32.unpack_from(body, pos + 4)[0]
            pos += 8
        else:
            # AH counts its length in 4-byte units minus 2 (RFC 4302 §2.2), the others
            # in 8-byte units not counting the first 8 (RFC 8200 §4.3-4.6).
            length = (body[pos + 1] + 2) * 4 if header == _EXT_AH else (body[pos + 1] + 1) * 8
            out[e + "next_header"] = following
            out[e + "length"] = body[pos + 1]
            if pos + length > len(body):
                out[e + "truncated"] = f"header length {length}, {len(body) - pos} present"
                out[e + "data"] = body[pos + 2:]
                return
            if header == _EXT_ROUTING:
                out[e + "type"] = body[pos + 2]
                out[e + "segments_left"] = body[pos + 3]
                out[e + "data"] = body[pos + 4:pos + length]
            else:
                out[e + "options"] = body[pos + 2:pos + length]
            pos += length
        header = following
    payload = body[pos:]
    if fragment_offset:
        out[p + "fragment"] = payload
        return
    if header == _EXT_NONE:
        if payload:
            out[p + "after_no_next_header"] = payload
        return
    _dissect_transport(header, payload, prefix, out, depth, 6)


def _dissect_transport(protocol: int, payload: bytes, prefix: str, out: dict[str, object],
                       depth: int, version: int) -> None:
    if protocol == PROTO_ICMP and version == 4:
        _dissect_icmp(payload, prefix, out, depth)
    elif protocol == PROTO_ICMPV6 and version == 6:
        _dissect_icmpv6(payload, prefix, out, depth)
    elif protocol == PROTO_UDP:
        _dissect_udp(payload, prefix + "udp.", out)
    elif protocol == PROTO_TCP:
        _dissect_tcp(payload, prefix + "tcp.", out)
    else:
        out[prefix + ("ipv4." if version == 4 else "ipv6.") + "payload"] = payload


def _dissect_udp(segment: bytes, p: str, out: dict[str, object]) -> None:
    if len(segment) < 8:
        out[p + "truncated"] = f"header needs 8 bytes, {len(segment)} present"
        out[p + "data"] = segment
        return
    src_port, dst_port, length, csum = struct.unpack_from("!HHHH", segment)
    out[p + "src_port"] = src_port
    out[p + "dst_port"] = dst_port
    out[p + "length"] = length
    out[p + "checksum"] = csum
    out[p + "payload"] = segment[8:]


def _dissect_tcp(segment: bytes, p: str, out: dict[str, object]) -> None:
    if len(segment) < 20:
        out[p + "truncated"] = f"header needs 20 bytes, {len(segment)} present"
        out[p + "data"] = segment
        return
    src_port, dst_port, seq, ack, offset_byte, flags, window, csum, urgent = \
        _TCP.unpack_from(segment)
    data_offset = offset_byte >> 4
    out[p + "src_port"] = src_port
    out[p + "dst_port"] = dst_port
    out[p + "seq"] = seq
    out[p + "ack"] = ack
    out[p + "data_offset"] = data_offset
    out[p + "reserved"] = offset_byte & 0x0F
    out[p + "flags"] = ",".join(name for bit, name in enumerate(_TCP_FLAG_NAMES)
                                if flags >> bit & 1) or "none"
    out[p + "window"] = window
    out[p + "checksum"] = csum
    out[p + "urgent"] = urgent
    header_length = data_offset * 4
    if data_offset < 5 or header_length > len(segment):
        out[p + "truncated"] = f"data offset {data_offset}, {len(segment)} bytes present"
        out[p + "data"] = segment[20:]
        return
    if header_length > 20:
        out[p + "options"] = segment[20:header_length]
    out[p + "payload"] = segment[header_length:]


def _icmp_header(message: bytes, p: str, out: dict[str, object],
                 needs: int) -> tuple[int, int] | None:
    """Type, code and checksum, common to ICMP (RFC 792) and ICMPv6 (RFC 4443 §2.1);
    None (and a ``truncated`` field) when even those 4 bytes are not there."""
    if len(message) < 4:
        out[p + "truncated"] = f"header needs {needs} bytes, {len(message)} present"
        out[p + "data"] = message
        return None
    out[p + "type"] = message[0]
    out[p + "code"] = message[1]
    out[p + "checksum"] = _U16.unpack_from(message, 2)[0]
    return message[0], message[1]


def _dissect_icmp(message: bytes, prefix: str, out: dict[str, object], depth: int) -> None:
    p = prefix + "icmp."
    size = len(message)
    header = _icmp_header(message, p, out, 8)
    if header is None:
        return
    kind, code = header
    if size < 8:
        out[p + "truncated"] = f"header needs 8 bytes, {size} present"
        out[p + "data"] = message[4:]
        return
    if kind in (0, 8, 15, 16):
        name = "echo" if kind in (0, 8) else "info"
        out[p + name + ".id"], out[p + name + ".seq"] = _HH.unpack_from(message, 4)
        out[p + "payload"] = message[8:]
    elif kind in (13, 14):
        # RFC 792 Timestamp: id, seq, then originate/receive/transmit (ms since midnight UT)
        out[p + "timestamp.id"], out[p + "timestamp.seq"] = _HH.unpack_from(message, 4)
        if size < 20:
            out[p + "truncated"] = f"timestamp message needs 20 bytes, {size} present"
            out[p + "data"] = message[8:]
            return
        stamps = struct.unpack_from("!III", message, 8)
        out[p + "timestamp.originate"] = stamps[0]
        out[p + "timestamp.receive"] = stamps[1]
        out[p + "timestamp.transmit"] = stamps[2]
        if size > 20:
            out[p + "payload"] = message[20:]
    elif kind in (17, 18):
        out[p + "mask.id"], out[p + "mask.seq"] = _HH.unpack_from(message, 4)
        out[p + "mask.mask"] = _ipv4_text(message[8:12]) if size >= 12 else message[8:]
        if size > 12:
            out[p + "payload"] = message[12:]
    elif kind in (3, 4, 5, 11, 12):
        if kind == 3:
            out[p + "unused"] = message[4]
            out[p + "length"] = message[5]  # RFC 4884 original datagram length (words)
            out[p + "next_hop_mtu"] = _U16.unpack_from(message, 6)[0]  # RFC 1191
        elif kind == 5:
            out[p + "gateway"] = _ipv4_text(message[4:8])
        elif kind == 11:
            out[p + "length"] = message[5]
            out[p + "unused"] = message[4:5] + message[6:8]
        elif kind == 12:
            out[p + "pointer"] = message[4]
            out[p + "length"] = message[5]
            out[p + "unused"] = message[6:8]
        else:
            out[p + "unused"] = message[4:8]
        quote = message[8:]
        if depth < _MAX_QUOTE_DEPTH and quote:
            _dissect_ip(quote, p + "quote.", out, depth + 1)
        else:
            out[p + "quote"] = quote
    else:
        out[p + "rest"] = message[4:8]
        out[p + "payload"] = message[8:]


def _dissect_icmpv6(message: bytes, prefix: str, out: dict[str, object], depth: int) -> None:
    p = prefix + "icmpv6."
    size = len(message)
    header = _icmp_header(message, p, out, 4)
    if header is None:
        return
    kind, code = header
    needs = {133: 8, 134: 16, 135: 24, 136: 24, 137: 40, 130: 24, 131: 24, 132: 24}.get(kind, 8)
    if size < needs:
        out[p + "truncated"] = f"message needs {needs} bytes, {size} present"
        out[p + "data"] = message[4:]
        return
    if kind in (128, 129):
        out[p + "echo.id"], out[p + "echo.seq"] = _HH.unpack_from(message, 4)
        out[p + "payload"] = message[8:]
    elif kind in (1, 2, 3, 4):
        if kind == 2:
            out[p + "mtu"] = _U32.unpack_from(message, 4)[0]
        elif kind == 4:
            out[p + "pointer"] = _U32.unpack_from(message, 4)[0]
        else:
            out[p + "length"] = message[4]  # RFC 4884
            out[p + "unused"] = message[5:8]
        quote = message[8:]
        if depth < _MAX_QUOTE_DEPTH and quote:
            _dissect_ip(quote, p + "quote.", out, depth + 1)
        else:
            out[p + "quote"] = quote
    elif kind == 133:  # Router Solicitation (RFC 4861 §4.1)
        out[p + "nd.reserved"] = message[4:8]
        _dissect_nd_options(message[8:], p + "nd.", out)
    elif kind == 134:  # Router Advertisement (RFC 4861 §4.2)
        out[p + "nd.cur_hop_limit"] = message[4]
        out[p + "nd.flags"] = message[5]
        out[p + "nd.router_lifetime"] = _U16.unpack_from(message, 6)[0]
        out[p + "nd.reachable_time"] = _U32.unpack_from(message, 8)[0]
        out[p + "nd.retrans_timer"] = _U32.unpack_from(message, 12)[0]
        _dissect_nd_options(message[16:], p + "nd.", out)
    elif kind in (135, 136):  # Neighbor Solicitation/Advertisement (RFC 4861 §4.3-4.4)
        if kind == 136:
            flags = message[4]
            out[p + "nd.router"] = bool(flags & 0x80)
            out[p + "nd.solicited"] = bool(flags & 0x40)
            out[p + "nd.override"] = bool(flags & 0x20)
            out[p + "nd.reserved"] = bytes([flags & 0x1F]) + message[5:8]
        else:
            out[p + "nd.reserved"] = message[4:8]
        out[p + "nd.target"] = _ipv6_text(message[8:24])
        _dissect_nd_options(message[24:], p + "nd.", out)
    elif kind == 137:  # Redirect (RFC 4861 §4.5)
        out[p + "nd.reserved"] = message[4:8]
        out[p + "nd.target"] = _ipv6_text(message[8:24])
        out[p + "nd.destination"] = _ipv6_text(message[24:40])
        _dissect_nd_options(message[40:], p + "nd.", out)
    elif kind in (130, 131, 132):  # MLDv1 (RFC 2710 §3), MLDv2 query extends 130
        out[p + "mld.max_delay"] = _U16.unpack_from(message, 4)[0]
        out[p + "mld.reserved"] = message[6:8]
        out[p + "mld.group"] = _ipv6_text(message[8:24])
        if size > 24:
            out[p + "mld.rest"] = message[24:]
    else:
        out[p + "rest"] = message[4:8]
        out[p + "payload"] = message[8:]


def _dissect_nd_options(options: bytes, p: str, out: dict[str, object]) -> None:
    """NDP options (RFC 4861 §4.6): type, length in 8-byte units, value."""
    pos = 0
    seen: dict[str, int] = {}
    while pos < len(options):
        if pos + 2 > len(options):
            out[p + "options.truncated"] = options[pos:]
            return
        kind, units = options[pos], options[pos + 1]
        length = units * 8
        if units == 0 or pos + length > len(options):
            # RFC 4861 §4.6: a zero length makes the whole message invalid.
            out[p + "options.malformed"] = options[pos:]
            return
        body = options[pos + 2:pos + length]
        name = _ND_OPTION_NAMES.get(kind, f"option{kind}")
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name}{seen[name]}"
        o = p + name
        if kind in (1, 2):
            out[o] = ":".join(f"{b:02x}" for b in body[:6]) if units == 1 else body
        elif kind == 3 and units == 4:
            out[o + ".prefix_length"] = body[0]
            out[o + ".flags"] = body[1]
            out[o + ".valid_lifetime"] = _U32.unpack_from(body, 2)[0]
            out[o + ".preferred_lifetime"] = _U32.unpack_from(body, 6)[0]
            out[o + ".reserved"] = body[10:14]
            out[o + ".prefix"] = _ipv6_text(body[14:30])
        elif kind == 5 and units == 1:
            out[o + ".reserved"] = body[0:2]
            out[o] = _U32.unpack_from(body, 2)[0]
        else:
            out[o] = body
        pos += length


# -- formatting ---------------------------------------------------------------------------
def _hex(data: bytes, limit: int = 64) -> str:
    if not data:
        return "(empty)"
    if len(data) <= limit:
        return data.hex()
    return f"{data[:limit].hex()}… ({len(data)} B)"


def format_value(field: str, value: object) -> str:
    """A field value as printed in diffs and dissections (checksums in hex)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, bytes):
        return _hex(value)
    if isinstance(value, int) and field.endswith("checksum"):
        return f"0x{value:04x}"
    return str(value)


def format_dissection(packet: bytes, indent: str = "  ") -> list[str]:
    """One ``field = value`` line per field, for ``-v`` output."""
    return [f"{indent}{name} = {format_value(name, value)}"
            for name, value in dissect(packet).items()]


# -- validate ---------------------------------------------------------------------------
def validate(packet: bytes) -> list[Problem]:
    """Every format defect of ``packet``: checksums, lengths, address sanity. An empty
    list means a well-formed packet. Never raises."""
    return _check(bytes(packet))


class _Findings(list[Problem]):
    """The problems found, and for each checksum field its residue: the one's
    complement sum over what it covers, 0xFFFF when the checksum is right."""

    def __init__(self) -> None:
        super().__init__()
        self.residues: dict[str, int] = {}


def _check(packet: bytes) -> _Findings:
    problems = _Findings()
    if not packet:
        problems.append(Problem("ip.version", "empty packet"))
        return problems
    version = packet[0] >> 4
    if version == 4:
        _validate_ipv4(packet, problems)
    elif version == 6:
        _validate_ipv6(packet, problems)
    else:
        problems.append(Problem("ip.version", f"ip version {version}, expected 4 or 6"))
    return problems


def _check_sum(problems: list[Problem], field: str, label: str, stored: int, data: bytes,
               offset: int, initial: int) -> None:
    """Add a problem naming the stored and the right checksum unless ``data`` (checksum
    at ``offset``) sums correctly; note the residue."""
    residue = ones_sum(data, initial)
    if isinstance(problems, _Findings):
        problems.residues[field] = residue
    if residue == 0xFFFF:
        return
    zeroed = data[:offset] + b"\0\0" + data[offset + 2:]
    expected = checksum(zeroed, initial)
    problems.append(Problem(field, f"{label} 0x{stored:04x}, expected 0x{expected:04x}"))


def _validate_ipv4(packet: bytes, problems: list[Problem]) -> None:
    size = len(packet)
    if size < 20:
        problems.append(Problem("ipv4.truncated", f"ipv4 header needs 20 bytes, packet has {size}"))
        return
    (ver_ihl, _tos, total_length, _ident, frag, _ttl, protocol, csum, src,
     dst) = _IPV4_HEADER.unpack_from(packet)
    ihl = ver_ihl & 0x0F
    header_length = ihl * 4
    if ihl < 5:
        problems.append(Problem("ipv4.ihl", f"ipv4 ihl {ihl}, expected at least 5"))
        return
    if header_length > size:
        problems.append(Problem("ipv4.ihl", f"ipv4 header length {header_length}, "
                                            f"packet has {size} bytes"))
        return
    header = packet[:header_length]
    _check_sum(problems, "ipv4.checksum", "ipv4 header checksum", csum, header, 10, 0)
    if total_length != size:
        problems.append(Problem("ipv4.total_length",
                                f"ipv4 total length {total_length}, packet has {size} bytes"))
    if total_length < header_length:
        problems.append(Problem("ipv4.total_length", f"ipv4 total length {total_length} "
                                                     f"below header length {header_length}"))
        return
    if frag & 0x8000:
        problems.append(Problem("ipv4.flags.reserved", "ipv4 reserved flag set, expected 0"))
    offset = (frag & 0x1FFF) * 8
    end = min(total_length, size)
    payload_length = end - header_length
    if frag & 0x2000 and payload_length % 8:
        problems.append(Problem("ipv4.frag_offset", f"ipv4 fragment with MF has "
                                f"{payload_length} payload bytes, not a multiple of 8"))
    if offset + payload_length > 65535:
        problems.append(Problem("ipv4.frag_offset", f"ipv4 fragment ends at "
                                f"{offset + payload_length}, beyond 65535"))
    if frag & 0x4000 and (frag & 0x3FFF):
        problems.append(Problem("ipv4.flags.df", "ipv4 DF set on a fragment"))
    if header_length > 20:
        _validate_ipv4_options(packet[20:header_length], problems)
    if src[0] >= 224:
        kind = "broadcast" if src == b"\xff\xff\xff\xff" else (
            "multicast" if src[0] < 240 else "reserved (class E)")
        problems.append(Problem("ipv4.src", f"ipv4 source {_ipv4_text(src)} is {kind}"))
    if src[0] == 127 and dst[0] != 127:
        problems.append(Problem("ipv4.src", f"ipv4 source {_ipv4_text(src)} is loopback, "
                                            f"destination {_ipv4_text(dst)} is not"))
    if dst == b"\0\0\0\0":  # RFC 1122 §3.2.1.3 (a): "this host", never a destination
        problems.append(Problem("ipv4.dst", "ipv4 destination 0.0.0.0 is unspecified"))
    if frag & 0x3FFF:
        return  # a fragment's transport checksum covers the reassembled datagram
    payload = packet[header_length:end]
    if protocol == PROTO_ICMP:
        _validate_icmp(payload, problems)
    elif protocol in (PROTO_UDP, PROTO_TCP):
        final_dst = ipv4_wire.final_destination(packet[:header_length])
        _validate_l4(protocol, payload, int.from_bytes(src + final_dst, "big") + protocol
                     + len(payload), problems, "ipv4")


def _validate_ipv4_options(options: bytes, problems: list[Problem]) -> None:
    pos = 0
    while pos < len(options):
        kind = options[pos]
        if kind == 0:
            return
        if kind == 1:
            pos += 1
            continue
        if pos + 1 >= len(options) or options[pos + 1] < 2 \
                or pos + options[pos + 1] > len(options):
            problems.append(Problem("ipv4.options", f"ipv4 option {kind} at offset "
                                    f"{20 + pos} overruns the header"))
            return
        pos += options[pos + 1]


def _validate_icmp(message: bytes, problems: list[Problem]) -> None:
    if len(message) < 8:
        problems.append(Problem("icmp.truncated",
                                f"icmp message has {len(message)} bytes, expected at least 8"))
        if len(message) < 4:
            return
    stored = _U16.unpack_from(message, 2)[0]
    _check_sum(problems, "icmp.checksum", "icmp checksum", stored, message, 2, 0)


def _validate_l4(protocol: int, segment: bytes, pseudo: int, problems: list[Problem],
                 family: str) -> None:
    name = "udp" if protocol == PROTO_UDP else ("tcp" if protocol == PROTO_TCP else "icmpv6")
    minimum = {PROTO_UDP: 8, PROTO_TCP: 20}.get(protocol, 4)
    if len(segment) < minimum:
        problems.append(Problem(f"{name}.truncated", f"{name} header needs {minimum} bytes, "
                                                     f"{len(segment)} present"))
        return
    stored = _U16.unpack_from(segment, 6 if protocol == PROTO_UDP else
                              (16 if protocol == PROTO_TCP else 2))[0]
    if protocol == PROTO_UDP:
        length = _U16.unpack_from(segment, 4)[0]
        if length != len(segment):
            problems.append(Problem("udp.length", f"udp length {length}, "
                                                  f"{family} payload has {len(segment)} bytes"))
        if stored == 0:
            if family == "ipv6":  # RFC 8200 §8.1: mandatory over IPv6
                problems.append(Problem("udp.checksum", "udp checksum 0 (none) over ipv6"))
            return  # RFC 768: zero means no checksum over IPv4
        offset = 6
    elif protocol == PROTO_TCP:
        data_offset = segment[12] >> 4
        if data_offset < 5 or data_offset * 4 > len(segment):
            problems.append(Problem("tcp.data_offset", f"tcp data offset {data_offset}, "
                                                       f"segment has {len(segment)} bytes"))
        offset = 16
    else:
        offset = 2
    _check_sum(problems, f"{name}.checksum", f"{name} checksum", stored, segment, offset, pseudo)


def _validate_ipv6(packet: bytes, problems: list[Problem]) -> None:
    size = len(packet)
    if size < 40:
        problems.append(Problem("ipv6.truncated", f"ipv6 header needs 40 bytes, packet has {size}"))
        return
    _first, payload_length, next_header, _hop, src, dst = _IPV6_HEADER.unpack_from(packet)
    if 40 + payload_length != size:
        problems.append(Problem("ipv6.payload_length",
                                f"ipv6 payload length {payload_length}, "
                                f"packet has {size - 40} bytes after the header"))
    if src[0] == 0xFF:
        problems.append(Problem("ipv6.src", f"ipv6 source {_ipv6_text(src)} is multicast"))
    if src == _IPV6_LOOPBACK:  # RFC 4291 §2.5.3: never sent outside a node
        problems.append(Problem("ipv6.src", "ipv6 source ::1 is loopback"))
    if dst == bytes(16):  # RFC 4291 §2.5.2: never a destination
        problems.append(Problem("ipv6.dst", "ipv6 destination :: is unspecified"))
    body = packet[40:min(size, 40 + payload_length)]
    header = next_header
    pos = 0
    final_dst = dst
    fragmented = False
    while header in (_EXT_HBH, _EXT_ROUTING, _EXT_FRAGMENT, _EXT_DEST, _EXT_AH):
        if pos + 8 > len(body):
            problems.append(Problem("ipv6.next_header", f"ipv6 extension header {header} at "
                                    f"offset {40 + pos} truncated"))
            return
        if header == _EXT_FRAGMENT:
            field = _U16.unpack_from(body, pos + 2)[0]
            # An atomic fragment (offset 0, M clear) is a whole datagram (RFC 6946 §4):
            # its upper-layer checksum covers what follows, so it is checked.
            fragmented = fragmented or field & 0xFFF9 != 0
            if field & 1 and (len(body) - pos - 8) % 8:
                problems.append(Problem("ipv6.frag.offset", "ipv6 fragment with M has "
                                        f"{len(body) - pos - 8} payload bytes, "
                                        "not a multiple of 8"))
            length = 8
        else:
            length = (body[pos + 1] + 2) * 4 if header == _EXT_AH else (body[pos + 1] + 1) * 8
            if pos + length > len(body):
                problems.append(Problem("ipv6.next_header", f"ipv6 extension header {header} "
                                        f"at offset {40 + pos} overruns the packet"))
                return
            if header == _EXT_ROUTING and body[pos + 3] and body[pos + 2] in (0, 2) \
                    and length >= 24:
                # RFC 8200 §8.1: the pseudo-header carries the final destination.
                final_dst = body[pos + length - 16:pos + length]
        header = body[pos]
        pos += length
    if fragmented:
        return  # a fragment's transport checksum covers the reassembled datagram
    payload = body[pos:]
    if header in (PROTO_UDP, PROTO_TCP, PROTO_ICMPV6):
        pseudo = int.from_bytes(src + final_dst, "big") + header + len(payload)
        _validate_l4(header, payload, pseudo, problems, "ipv6")


# -- describe ---------------------------------------------------------------------------
def describe(packet: bytes) -> str:
    """One line: ``172.16.0.1 → 172.16.0.2 ICMP echo request id=13 seq=1 84 B``."""
    fields = dissect(packet)
    size = len(packet)
    if "ipv4.src" in fields:
        head = f"{fields['ipv4.src']} → {fields['ipv4.dst']}"
        if fields.get("ipv4.frag_offset") or fields.get("ipv4.flags.mf"):
            head += (f" frag id={fields['ipv4.id']} off={fields['ipv4.frag_offset'] * 8}"  # type: ignore[operator]
                     + (" MF" if fields["ipv4.flags.mf"] else ""))
    elif "ipv6.src" in fields:
        head = f"{fields['ipv6.src']} → {fields['ipv6.dst']}"
        if "ipv6.frag.id" in fields:
            head += (f" frag id={fields['ipv6.frag.id']} off={fields['ipv6.frag.offset'] * 8}"  # type: ignore[operator]
                     + (" M" if fields["ipv6.frag.m"] else ""))
    else:
        truncated = next((v for k, v in fields.items() if k.endswith("truncated")), None)
        detail = f": {truncated}" if truncated else ""
        return f"malformed IP packet{detail} {size} B"
    return f"{head} {_summary(fields)}{_truncation(fields)} {size} B"


def _truncation(fields: dict[str, object]) -> str:
    for name, value in fields.items():
        if name.endswith(".truncated") and ".quote." not in name:
            return f" [truncated: {value}]"
    return ""


_ICMP_CODE_NAMES = {3: _UNREACH_NAMES, 11: _TIME_EXCEEDED_NAMES}
_ICMPV6_CODE_NAMES = {1: _ICMPV6_UNREACH_NAMES}
# (type, code or None for any) -> the (field, label) pairs shown as label=value
_Details = dict[tuple[int, int | None], tuple[tuple[str, str], ...]]
_ICMP_DETAILS: _Details = {(3, 4): (("next_hop_mtu", "mtu"),),
                           (12, None): (("pointer", "pointer"),)}
_ND_TARGET = (("nd.target", "target"),)
_ICMPV6_DETAILS: _Details = {(2, None): (("mtu", "mtu"),), (4, None): (("pointer", "pointer"),),
                             (135, None): _ND_TARGET, (136, None): _ND_TARGET,
                             (137, None): _ND_TARGET}


def _icmp_summary(fields: dict[str, object], layer: str, label: str, names: dict[int, str],
                  code_names: dict[int, dict[int, str]],
                  details: _Details) -> str:
    kind, code = fields[layer + ".type"], fields[layer + ".code"]
    assert isinstance(kind, int) and isinstance(code, int)
    text = f"{label} {names.get(kind, f'type {kind}')}"
    for group in ("echo", "timestamp"):
        if f"{layer}.{group}.id" in fields:
            return text + (f" id={fields[f'{layer}.{group}.id']}"
                           f" seq={fields[f'{layer}.{group}.seq']}")
    if kind in code_names:
        text += f" ({code_names[kind].get(code, f'code {code}')})"
    elif code:
        text += f" code {code}"
    for name, shown in details.get((kind, code), details.get((kind, None), ())):
        text += f" {shown}={fields.get(f'{layer}.{name}')}"
    return text


def _summary(fields: dict[str, object]) -> str:
    if "icmp.type" in fields:
        return _icmp_summary(fields, "icmp", "ICMP", _ICMP_NAMES, _ICMP_CODE_NAMES,
                             _ICMP_DETAILS)
    if "icmpv6.type" in fields:
        return _icmp_summary(fields, "icmpv6", "ICMPv6", _ICMPV6_NAMES, _ICMPV6_CODE_NAMES,
                             _ICMPV6_DETAILS)
    if "udp.src_port" in fields:
        return f"UDP {fields['udp.src_port']} → {fields['udp.dst_port']} len={fields['udp.length']}"
    if "tcp.src_port" in fields:
        return (f"TCP {fields['tcp.src_port']} → {fields['tcp.dst_port']} "
                f"[{fields['tcp.flags']}] seq={fields['tcp.seq']} ack={fields['tcp.ack']}")
    # no transport header decoded: a non-first fragment, or a protocol not dissected
    protocol = fields.get("ipv6.frag.next_header", fields.get("ipv6.next_header",
                                                              fields.get("ipv4.protocol")))
    name = (_PROTOCOL_NAMES.get(protocol, f"protocol {protocol}") if isinstance(protocol, int)
            else "IP")
    if "ipv4.fragment" in fields or "ipv6.fragment" in fields:
        return f"{name} data"
    return name


# -- diff -------------------------------------------------------------------------------
class FieldDiff(NamedTuple):
    """One field that differs; ``str()`` gives ``ipv4.ttl: expected 64, got 63`` or, for
    a checksum that only had to be valid, ``icmp.checksum: invalid (0x1234)``."""

    field: str
    expected: object
    got: object
    note: str = ""

    def __str__(self) -> str:
        if self.note:
            return f"{self.field}: {self.note}"
        expected, got = self.expected, self.got
        if isinstance(expected, bytes) and isinstance(got, bytes):
            return f"{self.field}: {_bytes_difference(expected, got)}"
        if expected is None:
            return f"{self.field}: not expected, got {format_value(self.field, got)}"
        if got is None:
            return f"{self.field}: expected {format_value(self.field, expected)}, missing"
        return (f"{self.field}: expected {format_value(self.field, expected)}, "
                f"got {format_value(self.field, got)}")


def _bytes_difference(expected: bytes, got: bytes) -> str:
    first = next((i for i, (a, b) in enumerate(zip(expected, got, strict=False)) if a != b),
                 min(len(expected), len(got)))
    if len(expected) != len(got):
        return f"expected {len(expected)} bytes, got {len(got)} (first difference at byte {first})"
    if len(expected) <= 32:
        return f"expected {expected.hex()}, got {got.hex()}"
    return (f"differ at byte {first}: expected {expected[first:first + 16].hex()}…, "
            f"got {got[first:first + 16].hex()}…")


class _Ignore:
    """The --ignore names: exact fields, dotted prefixes (``icmp.timestamp`` covers
    ``icmp.timestamp.receive``) and shell-style patterns whose ``*`` also spans dots
    (``*ipv4.opt.ts*.time`` covers ``icmp.quote.ipv4.opt.ts2.time.0``)."""

    def __init__(self, names: Iterable[str]) -> None:
        names = frozenset(names)
        self.exact = frozenset(n for n in names if "*" not in n)
        self.patterns = [re.compile(fnmatch.translate(n)) for n in sorted(names) if "*" in n]

    def __bool__(self) -> bool:
        return bool(self.exact or self.patterns)

    def __call__(self, field: str) -> bool:
        if not self:
            return False
        candidate = field
        while True:  # the field itself, then each dotted prefix of it
            if candidate in self.exact or any(p.match(candidate) for p in self.patterns):
                return True
            cut = candidate.rfind(".")
            if cut <= 0:
                return False
            candidate = candidate[:cut]


def diff(expected: bytes, got: bytes, ignore: Iterable[str] = frozenset()) -> list[FieldDiff]:
    """The fields in which ``got`` differs from ``expected``, in packet order.

    Fields named in ``ignore`` (or under an ignored prefix such as ``icmp.timestamp``) may
    differ. A checksum covering a differing ignored field must then be valid in ``got``
    rather than equal to the expected one. Two different packets never give an empty
    list: if no field names the difference, a ``packet`` entry does."""
    if expected == got:
        return []
    ignored = _Ignore(ignore)
    want = dissect(expected)
    have = dissect(got)
    for raw in _decoded_raw_fields(want, have):
        del want[raw], have[raw]
    diffs: list[FieldDiff] = []
    ignored_differences = [name for name in want.keys() | have.keys()
                           if want.get(name) != have.get(name) and ignored(name)]
    relaxed = _relaxed_checksums(ignored_differences)
    for name, value in want.items():
        if name in have:
            other = have[name]
            if name in relaxed:
                # equal is not enough either: the covered bytes differ, so an unchanged
                # checksum is a wrong one
                note = _relaxed_checksum(expected, got, name)
                if note:
                    diffs.append(FieldDiff(name, value, other, note))
                continue
            if other == value or ignored(name):
                continue
            diffs.append(FieldDiff(name, value, other))
        elif not ignored(name):
            diffs.append(FieldDiff(name, value, None))
    for name, other in have.items():
        if name not in want and not ignored(name):
            diffs.append(FieldDiff(name, None, other))
    if not diffs and not ignored_differences:
        first = next((i for i, (a, b) in enumerate(zip(expected, got, strict=False)) if a != b),
                     min(len(expected), len(got)))
        diffs.append(FieldDiff("packet", expected, got,
                               f"bytes differ at offset {first} (lengths {len(expected)} "
                               f"and {len(got)})"))
    return diffs


def _decoded_raw_fields(want: dict[str, object], have: dict[str, object]) -> list[str]:
    """The raw ``ipv4.options`` fields (at any quote depth) that both packets also have
    fully decoded under ``ipv4.opt.``: comparing the decoded fields names the option and
    slot that differ, and lets ``--ignore`` reach the Timestamp times alone."""
    found = []
    for name in want:
        if name.endswith("ipv4.options") and name in have:
            opt = name[:-len("options")] + "opt."
            if all(opt + "layout" in fields and opt + "malformed" not in fields
                   for fields in (want, have)):
                found.append(name)
    return found


def _relaxed_checksums(ignored_differences: list[str]) -> set[str]:
    """The checksum fields that must be valid rather than equal, because they cover a
    field that differs and is ignored. A field inside an ICMP quote
    (``icmp.quote.ipv4.id``) is covered by the quote's own checksums and by the
    checksum of every ICMP message around it."""
    relaxed: set[str] = set()
    for name in ignored_differences:
        cut = name.rfind("quote.")
        prefix = name[:cut + 6] if cut >= 0 else ""
        bare = name[len(prefix):]
        for csum_field, covered in CHECKSUM_FIELDS.items():
            if any(bare.startswith(c) if c.endswith(".") else bare == c for c in covered):
                relaxed.add(prefix + csum_field)
        while cut >= 0:  # every enclosing ICMP checksum: "icmp.quote." -> "icmp.checksum"
            relaxed.add(name[:cut] + "checksum")
            cut = name.rfind("quote.", 0, cut)
    return relaxed


def _relaxed_checksum(expected: bytes, got: bytes, field: str) -> str | None:
    """None when checksum ``field`` of ``got`` passes although covered bytes differ:
    valid when the recorded one is valid; when the recorded one is itself wrong (Linux
    quotes a datagram whose options it has just updated, under the header checksum it
    arrived with), equal to it. Else the note saying why not."""
    cut = field.rfind("quote.")
    inner = field[cut + 6:] if cut >= 0 else field
    if cut >= 0:
        if inner != "ipv4.checksum":
            # A quoted datagram is truncated: its transport checksum cannot be checked.
            return None
        depth = field.count("quote.")
        quoted_expected, quoted_got = _quote_bytes(expected, depth), _quote_bytes(got, depth)
        if quoted_expected is None or quoted_got is None:
            return None
        expected, got = quoted_expected, quoted_got
    have = _check(got).residues.get(inner)
    if have is None:
        return None
    stored = _stored_checksum(got, inner)
    if _check(expected).residues.get(inner, 0xFFFF) == 0xFFFF:
        return None if have == 0xFFFF else f"invalid (0x{stored:04x})"
    recorded = _stored_checksum(expected, inner)
    if stored == recorded:
        return None
    return f"expected 0x{recorded:04x} (invalid there too, a stale copy), got 0x{stored:04x}"


def _stored_checksum(packet: bytes, field: str) -> int:
    value = dissect(packet).get(field)
    return value if isinstance(value, int) else 0


def _quote_bytes(packet: bytes | None, depth: int = 1) -> bytes | None:
    """The datagram quoted by the ICMP/ICMPv6 error in ``packet`` (``depth`` levels
    down), or None."""
    for _level in range(depth):
        if not packet:
            return None
        version = packet[0] >> 4
        if version == 4 and len(packet) >= 20:
            start = (packet[0] & 0x0F) * 4 + 8
        elif version == 6:
            start = 48
        else:
            return None
        packet = packet[start:] if len(packet) > start else None
    return packet


def is_known_field(name: str) -> bool:
    """Whether ``name`` starts with a layer dissect() produces (for checking --ignore);
    any pattern with a ``*`` is accepted."""
    if "*" in name:
        return bool(name.strip("*."))
    parts = name.split(".")
    while len(parts) > 2 and parts[0] in ("icmp", "icmpv6") and parts[1] == "quote":
        parts = parts[2:]
    return bool(parts) and parts[0] in _LAYERS and all(parts)

