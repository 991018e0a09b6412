"""Packet builders for the probe set: hand-made IPv4/IPv6 packets, malformed on purpose
where a case needs it.

The well-formed part of every packet comes from the :mod:`stack.wire` codecs; these
builders add what a probe must be able to say and a well-behaved encoder refuses to (a
wrong checksum, a length that lies, an option that overruns the header), so every field
can be overridden.
"""

from __future__ import annotations

import ipaddress
import struct

from stack.wire import icmpv4 as wire_icmpv4
from stack.wire import icmpv6 as wire_icmpv6
from stack.wire import ipv6 as wire_ipv6
from stack.wire import tcp as wire_tcp
from stack.wire import udp as wire_udp
from stack.wire.checksum import checksum
from stack.wire.ipv4 import with_checksum

__all__ = [
    "addr4", "addr6", "ipv4", "icmpv4", "echo4", "udp4", "tcp4", "fragment4",
    "ipv6", "icmpv6", "echo6", "udp6", "tcp6", "options_header", "routing_header",
    "fragment_header", "fragment6", "tcp_segment", "PROTO_ICMP", "PROTO_TCP", "PROTO_UDP",
    "PROTO_ICMPV6", "NH_HOPOPTS", "NH_ROUTING", "NH_FRAGMENT", "NH_DSTOPTS", "NH_NONE",
    "FIN", "SYN", "RST", "PSH", "ACK", "URG", "PROTO_UDPLITE", "PROTO_PIM", "udplite4",
    "udplite6",
]

PROTO_ICMP = 1
PROTO_TCP = 6
PROTO_UDP = 17
PROTO_PIM = 103
PROTO_UDPLITE = 136
PROTO_ICMPV6 = 58
NH_HOPOPTS = 0
NH_ROUTING = 43
NH_FRAGMENT = 44
NH_DSTOPTS = 60
NH_NONE = 59

FIN, SYN, RST, PSH, ACK, URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20


def addr4(text: str) -> bytes:
    return ipaddress.IPv4Address(text).packed


def addr6(text: str) -> bytes:
    return ipaddress.IPv6Address(text).packed


# -- IPv4 ---------------------------------------------------------------------------
def ipv4(src: str, dst: str, protocol: int, payload: bytes, *, ttl: int = 64, tos: int = 0,
         ident: int = 0x1234, df: bool = False, mf: bool = False, offset: int = 0,
         reserved_flag: bool = False, options: bytes = b"", total_length: int | None = None,
         ihl: int | None = None, header_checksum: int | None = None,
         version: int = 4) -> bytes:
    """An IPv4 packet (RFC 791 §3.1). ``options`` are padded with EOL to a multiple of
    4 bytes; ``offset`` is in bytes (a multiple of 8); overrides make it malformed."""
    if len(options) % 4:
        options += b"\x00" * (4 - len(options) % 4)
    header_len = 20 + len(options)
    flags = (0x8000 if reserved_flag else 0) | (0x4000 if df else 0) | (0x2000 if mf else 0)
    header = bytearray(struct.pack(
        "!BBHHHBBH4s4s",
        (version << 4) | (ihl if ihl is not None else header_len // 4), tos,
        total_length if total_length is not None else header_len + len(payload),
        ident, flags | (offset // 8), ttl, protocol, 0, addr4(src), addr4(dst)))
    header += options
    if header_checksum is None:
        return with_checksum(bytes(header)) + payload
    header[10:12] = header_checksum.to_bytes(2, "big")
    return bytes(header) + payload


def icmpv4(icmp_type: int, code: int, rest: bytes = b"\x00" * 4, data: bytes = b"",
           *, bad_checksum: bool = False) -> bytes:
    """An ICMP message (RFC 792): type, code, checksum, 4 bytes of ``rest``, data."""
    message = wire_icmpv4.emit(icmp_type, code, rest, data)
    return _spoil_checksum(message, 2) if bad_checksum else message


def _spoil_checksum(data: bytes, at: int) -> bytes:
    """``data`` with the 16-bit checksum at ``at`` made wrong (never accidentally right)."""
    value = int.from_bytes(data[at:at + 2], "big") ^ 0x5555
    return data[:at] + value.to_bytes(2, "big") + data[at + 2:]


def ping_data(size: int) -> bytes:
    """``size`` bytes of the pattern ping(8) sends: 0x00, 0x01, 0x02 …"""
    return bytes(i & 0xFF for i in range(size))


def echo4(src: str, dst: str, echo_id: int = 0x7473, seq: int = 1, size: int = 56, *,
          code: int = 0, data: bytes | None = None, bad_checksum: bool = False,
          **ip: object) -> bytes:
    """An ICMP Echo Request with ``size`` bytes of ping's data pattern; keywords beyond
    the ICMP fields (``ident`` for the IP identification, ``df`` …) go to :func:`ipv4`."""
    body = data if data is not None else ping_data(size)
    message = icmpv4(8, code, struct.pack("!HH", echo_id, seq), body, bad_checksum=bad_checksum)
    return ipv4(src, dst, PROTO_ICMP, message, **ip)  # type: ignore[arg-type]


def udp_datagram(sport: int, dport: int, payload: bytes, address_sum: int, *,
                 udp_checksum: int | None = None, udp_length: int | None = None) -> bytes:
    """A UDP datagram from :func:`stack.wire.udp.emit`; ``udp_length`` makes the length
    field lie (the checksum then covers the lie, as a sender's would), ``udp_checksum``
    replaces the checksum (0: none sent)."""
    datagram = bytearray(wire_udp.emit(sport, dport, payload, address_sum))
    if udp_length is not None:
        datagram[4:8] = udp_length.to_bytes(2, "big") + b"\x00\x00"
        value = checksum(datagram, address_sum + PROTO_UDP + udp_length) or 0xFFFF
        datagram[6:8] = value.to_bytes(2, "big")
    if udp_checksum is not None:
        datagram[6:8] = udp_checksum.to_bytes(2, "big")
    return bytes(datagram)


def udp4(src: str, dst: str, sport: int, dport: int, payload: bytes, *,
         udp_checksum: int | None = None, udp_length: int | None = None,
         **ip: object) -> bytes:
    """A UDP datagram in IPv4; ``udp_checksum`` overrides the computed checksum (0: none)."""
    datagram = udp_datagram(sport, dport, payload, address_sum(src, dst),
                            udp_checksum=udp_checksum, udp_length=udp_length)
    return ipv4(src, dst, PROTO_UDP, datagram, **ip)  # type: ignore[arg-type]


def udplite_datagram(sport: int, dport: int, payload: bytes, address_sum: int, *,
                     coverage: int = 0, udp_checksum: int | None = None) -> bytes:
    """A UDP-Lite datagram (RFC 3828 §3.1): the length field is the checksum coverage
    (0: the whole datagram); the checksum covers the pseudo-header with the datagram's
    real length and the first ``coverage`` bytes (a coverage beyond the datagram covers
    all of it). ``udp_checksum`` replaces it (0: the illegal zero checksum)."""
    datagram = struct.pack("!HHHH", sport, dport, coverage, 0) + payload
    covered = datagram if coverage == 0 else datagram[:coverage]
    value = checksum(covered, address_sum + PROTO_UDPLITE + len(datagram)) or 0xFFFF
    if udp_checksum is not None:
        value = udp_checksum
    return datagram[:6] + value.to_bytes(2, "big") + datagram[8:]


def udplite4(src: str, dst: str, sport: int, dport: int, payload: bytes, *,
             coverage: int = 0, udp_checksum: int | None = None, **ip: object) -> bytes:
    datagram = udplite_datagram(sport, dport, payload, address_sum(src, dst),
                                coverage=coverage, udp_checksum=udp_checksum)
    return ipv4(src, dst, PROTO_UDPLITE, datagram, **ip)  # type: ignore[arg-type]


def udplite6(src: str, dst: str, sport: int, dport: int, payload: bytes, *,
             coverage: int = 0, udp_checksum: int | None = None) -> bytes:
    datagram = udplite_datagram(sport, dport, payload, address_sum(src, dst),
                                coverage=coverage, udp_checksum=udp_checksum)
    return ipv6(src, dst, PROTO_UDPLITE, datagram)


def tcp_segment(address_sum: int, sport: int, dport: int, seq: int, ack: int, flags: int,
                *, window: int = 64240, options: bytes = b"", payload: bytes = b"",
                data_offset: int | None = None, bad_checksum: bool = False,
                urgent: int = 0) -> bytes:
    """A TCP segment from :func:`stack.wire.tcp.emit`, with ``options`` (padded to 4
    bytes), an urgent pointer or a lying ``data_offset`` added where a probe needs them."""
    segment = wire_tcp.emit(sport, dport, seq, ack, flags, window, address_sum, payload)
    if options or urgent or data_offset is not None:
        options += bytes(-len(options) % 4)
        offset = data_offset if data_offset is not None else (20 + len(options)) // 4
        head = bytearray(segment[:20])
        head[12], head[16:20] = offset << 4, b"\x00\x00" + urgent.to_bytes(2, "big")
        segment = bytes(head) + options + payload
        value = checksum(segment, address_sum + PROTO_TCP + len(segment))
        segment = segment[:16] + value.to_bytes(2, "big") + segment[18:]
    return _spoil_checksum(segment, 16) if bad_checksum else segment


def address_sum(src: str, dst: str) -> int:
    """The pseudo-header's address part, as the wire codecs take it (RFC 768, RFC 8200
    §8.1): both addresses read as one big-endian integer."""
    return int.from_bytes(ipaddress.ip_address(src).packed + ipaddress.ip_address(dst).packed,
                          "big")


def tcp4(src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int,
         *, ip: dict[str, object] | None = None, **segment: object) -> bytes:
    body = tcp_segment(address_sum(src, dst), sport, dport, seq, ack, flags,
                       **segment)  # type: ignore[arg-type]
    return ipv4(src, dst, PROTO_TCP, body, **(ip or {}))  # type: ignore[arg-type]


def fragment4(packet: bytes, cuts: list[int]) -> list[bytes]:
    """Split an unfragmented IPv4 ``packet`` into fragments whose payloads start at the
    byte offsets ``[0, *cuts]`` (multiples of 8). Options are copied only into the first
    fragment (the test packets carry none that must be copied)."""
    header_len = (packet[0] & 0x0F) * 4
    header, payload = packet[:header_len], packet[header_len:]
    bounds = [0, *cuts, len(payload)]
    pieces = []
    for start, end in zip(bounds, bounds[1:], strict=False):
        pieces.append(fragment_of(header, payload[start:end], start, more=end < len(payload)))
    return pieces


def fragment_of(header: bytes, piece: bytes, offset: int, *, more: bool) -> bytes:
    """One IPv4 fragment: ``header`` (of the whole datagram) carrying ``piece`` at byte
    ``offset``, with MF set when ``more``."""
    head = bytearray(header)
    flags = int.from_bytes(head[6:8], "big") & 0x4000
    head[2:4] = (len(head) + len(piece)).to_bytes(2, "big")
    head[6:8] = (flags | (0x2000 if more else 0) | (offset // 8)).to_bytes(2, "big")
    head[10:12] = b"\x00\x00"
    head[10:12] = checksum(head).to_bytes(2, "big")
    return bytes(head) + piece


# -- IPv6 ---------------------------------------------------------------------------
def ipv6(src: str, dst: str, next_header: int, payload: bytes, *, hop_limit: int = 64,
         traffic_class: int = 0, flow_label: int = 0,
         payload_length: int | None = None) -> bytes:
    """An IPv6 packet (RFC 8200 §3)."""
    length = payload_length if payload_length is not None else len(payload)
    return wire_ipv6.build_header(traffic_class, flow_label, length, next_header, hop_limit,
                                  addr6(src), addr6(dst)) + payload


def icmpv6(src: str, dst: str, icmp_type: int, code: int, body: bytes, *,
           bad_checksum: bool = False) -> bytes:
    """An ICMPv6 message (RFC 4443 §2.1) whose checksum covers the pseudo-header of
    ``src`` and the final destination ``dst``; ``body`` follows the 4-byte header."""
    message = bytes((icmp_type, code, 0, 0)) + body
    value = wire_icmpv6.message_checksum(message, addr6(src), addr6(dst))
    message = message[:2] + value.to_bytes(2, "big") + message[4:]
    return _spoil_checksum(message, 2) if bad_checksum else message


def echo6_message(src: str, dst: str, ident: int = 0x7473, seq: int = 1, size: int = 56, *,
                  code: int = 0, bad_checksum: bool = False) -> bytes:
    return icmpv6(src, dst, 128, code, struct.pack("!HH", ident, seq) + ping_data(size),
                  bad_checksum=bad_checksum)


def echo6(src: str, dst: str, ident: int = 0x7473, seq: int = 1, size: int = 56, *,
          code: int = 0, bad_checksum: bool = False, **ip: object) -> bytes:
    """An ICMPv6 Echo Request with ``size`` bytes of ping's data pattern."""
    message = echo6_message(src, dst, ident, seq, size, code=code, bad_checksum=bad_checksum)
    return ipv6(src, dst, PROTO_ICMPV6, message, **ip)  # type: ignore[arg-type]


def udp6(src: str, dst: str, sport: int, dport: int, payload: bytes, *,
         udp_checksum: int | None = None, **ip: object) -> bytes:
    datagram = udp_datagram(sport, dport, payload, address_sum(src, dst),
                            udp_checksum=udp_checksum)
    return ipv6(src, dst, PROTO_UDP, datagram, **ip)  # type: ignore[arg-type]


def tcp6(src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int,
         **segment: object) -> bytes:
    body = tcp_segment(address_sum(src, dst), sport, dport, seq, ack, flags,
                       **segment)  # type: ignore[arg-type]
    return ipv6(src, dst, PROTO_TCP, body)


def options_header(next_header: int, options: bytes) -> bytes:
    """A Hop-by-Hop or Destination Options header (RFC 8200 §4.3/§4.6) holding the TLV
    ``options``, padded to a multiple of 8 bytes with Pad1/PadN."""
    return wire_ipv6.build_options_header(next_header, options)


def routing_header(next_header: int, routing_type: int, segments_left: int,
                   addresses: list[str], *, reserved: bytes = b"\x00" * 4) -> bytes:
    """A Routing header (RFC 8200 §4.4) with a list of 16-byte addresses (type 0/2 form)."""
    data = reserved + b"".join(addr6(a) for a in addresses)
    return wire_ipv6.build_routing_header(next_header, routing_type, segments_left, data)


def fragment_header(next_header: int, offset: int, more: bool, ident: int) -> bytes:
    """A Fragment header (RFC 8200 §4.5); ``offset`` in bytes."""
    return wire_ipv6.build_fragment_header(next_header, offset, more, ident)


def fragment6(src: str, dst: str, next_header: int, fragmentable: bytes, cuts: list[int],
              ident: int, **ip: object) -> list[bytes]:
    """Fragment ``fragmentable`` (which starts with the header ``next_header`` names) at
    byte offsets ``cuts`` (multiples of 8), each piece behind a Fragment header."""
    bounds = [0, *cuts, len(fragmentable)]
    packets = []
    for start, end in zip(bounds, bounds[1:], strict=False):
        frag = fragment_header(next_header, start, end < len(fragmentable), ident)
        packets.append(ipv6(src, dst, NH_FRAGMENT, frag + fragmentable[start:end],
                            **ip))  # type: ignore[arg-type]
    return packets
