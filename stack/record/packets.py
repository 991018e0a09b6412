"""Packet builders for the probe set: hand-made IPv4/IPv6 packets, malformed on purpose
where a case needs it.

These builders exist because a probe must be able to say things a well-behaved encoder
refuses to (a wrong checksum, a length that lies, an option that overruns the header), so
every field can be overridden. Checksums are computed with :mod:`stack.wire.checksum`.
"""

from __future__ import annotations

import ipaddress
import struct

from stack.wire.checksum import checksum

__all__ = [
    "addr4", "addr6", "ipv4", "icmpv4", "echo4", "udp4", "tcp4", "fragment4",
    "ipv6", "icmpv6", "echo6", "udp6", "tcp6", "options_header", "routing_header",
    "fragment_header", "fragment6", "tcp_segment", "PROTO_ICMP", "PROTO_TCP", "PROTO_UDP",
    "PROTO_ICMPV6", "NH_HOPOPTS", "NH_ROUTING", "NH_FRAGMENT", "NH_DSTOPTS", "NH_NONE",
    "FIN", "SYN", "RST", "PSH", "ACK", "URG",
]

PROTO_ICMP = 1
PROTO_TCP = 6
PROTO_UDP = 17
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
    value = header_checksum if header_checksum is not None else checksum(header)
    header[10:12] = value.to_bytes(2, "big")
    return bytes(header) + payload


def icmpv4(icmp_type: int, code: int, rest: bytes = b"\x00" * 4, data: bytes = b"",
           *, bad_checksum: bool = False) -> bytes:
    """An ICMP message (RFC 792): type, code, checksum, 4 bytes of ``rest``, data."""
    message = bytearray(struct.pack("!BBH", icmp_type, code, 0) + rest + data)
    value = checksum(message) ^ (0x5555 if bad_checksum else 0)
    message[2:4] = value.to_bytes(2, "big")
    return bytes(message)


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


def udp_header(sport: int, dport: int, payload: bytes, pseudo: bytes, *,
               udp_checksum: int | None = None, udp_length: int | None = None) -> bytes:
    length = udp_length if udp_length is not None else 8 + len(payload)
    datagram = bytearray(struct.pack("!HHHH", sport, dport, length, 0) + payload)
    # RFC 768: a computed 0 is sent as all ones; an override is used as given.
    value = checksum(pseudo + datagram) or 0xFFFF if udp_checksum is None else udp_checksum
    datagram[6:8] = value.to_bytes(2, "big")
    return bytes(datagram)


def udp4(src: str, dst: str, sport: int, dport: int, payload: bytes, *,
         udp_checksum: int | None = None, udp_length: int | None = None,
         **ip: object) -> bytes:
    """A UDP datagram in IPv4; ``udp_checksum`` overrides the computed checksum (0: none)."""
    length = udp_length if udp_length is not None else 8 + len(payload)
    pseudo = addr4(src) + addr4(dst) + struct.pack("!BBH", 0, PROTO_UDP, length)
    datagram = udp_header(sport, dport, payload, pseudo, udp_checksum=udp_checksum,
                          udp_length=udp_length)
    return ipv4(src, dst, PROTO_UDP, datagram, **ip)  # type: ignore[arg-type]


def tcp_segment(pseudo: bytes, sport: int, dport: int, seq: int, ack: int, flags: int, *,
                window: int = 64240, options: bytes = b"", payload: bytes = b"",
                data_offset: int | None = None, bad_checksum: bool = False,
                urgent: int = 0) -> bytes:
    """A TCP segment (RFC 9293 §3.1) whose checksum covers ``pseudo`` (without length)."""
    if len(options) % 4:
        options += b"\x00" * (4 - len(options) % 4)
    offset = data_offset if data_offset is not None else (20 + len(options)) // 4
    segment = bytearray(struct.pack("!HHIIBBHHH", sport, dport, seq, ack, offset << 4, flags,
                                    window, 0, urgent) + options + payload)
    value = checksum(pseudo + struct.pack("!H", len(segment)) + segment)
    segment[16:18] = (value ^ (0x5555 if bad_checksum else 0)).to_bytes(2, "big")
    return bytes(segment)


def tcp4(src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int,
         *, ip: dict[str, object] | None = None, **segment: object) -> bytes:
    pseudo = addr4(src) + addr4(dst) + bytes([0, PROTO_TCP])
    body = tcp_segment(pseudo, sport, dport, seq, ack, flags, **segment)  # type: ignore[arg-type]
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
    first = (6 << 28) | (traffic_class << 20) | flow_label
    length = payload_length if payload_length is not None else len(payload)
    return (struct.pack("!IHBB", first, length, next_header, hop_limit)
            + addr6(src) + addr6(dst) + payload)


def pseudo6(src: str, dst: str, next_header: int, length: int) -> bytes:
    """The RFC 8200 §8.1 pseudo-header."""
    return addr6(src) + addr6(dst) + struct.pack("!I3xB", length, next_header)


def icmpv6(src: str, dst: str, icmp_type: int, code: int, body: bytes, *,
           bad_checksum: bool = False) -> bytes:
    """An ICMPv6 message (RFC 4443 §2.1) whose checksum covers the pseudo-header of
    ``src`` and the final destination ``dst``; ``body`` follows the 4-byte header."""
    message = bytearray(struct.pack("!BBH", icmp_type, code, 0) + body)
    value = checksum(pseudo6(src, dst, PROTO_ICMPV6, len(message)) + message)
    message[2:4] = (value ^ (0x5555 if bad_checksum else 0)).to_bytes(2, "big")
    return bytes(message)


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
    pseudo = pseudo6(src, dst, PROTO_UDP, 8 + len(payload))
    datagram = udp_header(sport, dport, payload, pseudo, udp_checksum=udp_checksum)
    return ipv6(src, dst, PROTO_UDP, datagram, **ip)  # type: ignore[arg-type]


def tcp6(src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int,
         **segment: object) -> bytes:
    pseudo = addr6(src) + addr6(dst) + b"\x00\x00" + bytes([0, PROTO_TCP])
    # The v6 pseudo-header has a 32-bit length; tcp_segment appends 16 bits, and the
    # two extra zero bytes above make the sum the same (RFC 8200 §8.1).
    body = tcp_segment(pseudo, sport, dport, seq, ack, flags, **segment)  # type: ignore[arg-type]
    return ipv6(src, dst, PROTO_TCP, body)


def options_header(next_header: int, options: bytes, *, pad: bool = True) -> bytes:
    """A Hop-by-Hop or Destination Options header (RFC 8200 §4.3/§4.6) holding the TLV
    ``options``, padded to a multiple of 8 bytes with Pad1/PadN when ``pad``."""
    body = options
    if pad:
        room = (-(2 + len(body))) % 8
        if room == 1:
            body += b"\x00"
        elif room:
            body += bytes([1, room - 2]) + b"\x00" * (room - 2)
    return bytes([next_header, (2 + len(body)) // 8 - 1]) + body


def routing_header(next_header: int, routing_type: int, segments_left: int,
                   addresses: list[str], *, reserved: bytes = b"\x00" * 4) -> bytes:
    """A Routing header (RFC 8200 §4.4) with a list of 16-byte addresses (type 0/2 form)."""
    data = reserved + b"".join(addr6(a) for a in addresses)
    return bytes([next_header, (4 + len(data)) // 8 - 1 if data else 0,
                  routing_type, segments_left]) + data


def fragment_header(next_header: int, offset: int, more: bool, ident: int) -> bytes:
    """A Fragment header (RFC 8200 §4.5); ``offset`` in bytes."""
    return struct.pack("!BBHI", next_header, 0, offset | (1 if more else 0), ident)


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
