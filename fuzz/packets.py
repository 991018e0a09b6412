"""Packet building and repair for the fuzzer: seeds are built here, and the mutator
repairs lengths and checksums here after changing a field.

Independent of the core on purpose (only the RFC 1071 checksum is shared): a bug in the
core's emitters must not be hidden by the same bug in the fuzzer's.
"""

from __future__ import annotations

import ipaddress
import struct

from stack.wire.checksum import checksum, pseudo_header_sum_v4, pseudo_header_sum_v6

__all__ = [
    "ipv4", "ipv6", "icmp4", "icmp6", "udp", "tcp", "ext_header", "fragment_header",
    "fragment_v4", "fragment_v6", "repair", "address", "ethernet", "arp",
    "V4_EXTENSIONS", "V6_EXTENSIONS",
]

V6_EXTENSIONS = frozenset({0, 43, 60})  # hop-by-hop, routing, destination options
V4_EXTENSIONS: frozenset[int] = frozenset()


def address(text: str) -> bytes:
    return ipaddress.ip_address(text).packed


def ipv4(src: str | bytes, dst: str | bytes, protocol: int, payload: bytes, *,
         options: bytes = b"", ttl: int = 64, tos: int = 0, ident: int = 0x1234,
         flags_offset: int = 0) -> bytes:
    """An IPv4 packet; options are padded to 4 bytes with EOL (RFC 791 §3.1)."""
    options = options + b"\x00" * (-len(options) % 4)
    header_len = 20 + len(options)
    header = struct.pack("!BBHHHBBH4s4s", 0x40 | header_len // 4, tos,
                         header_len + len(payload), ident, flags_offset, ttl, protocol, 0,
                         _raw(src), _raw(dst)) + options
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + payload


def ipv6(src: str | bytes, dst: str | bytes, next_header: int, payload: bytes, *,
         hop_limit: int = 64, traffic_class: int = 0, flow: int = 0) -> bytes:
    first = (6 << 28) | (traffic_class << 20) | flow
    return struct.pack("!IHBB16s16s", first, len(payload), next_header, hop_limit,
                       _raw(src), _raw(dst)) + payload


def _raw(text: str | bytes) -> bytes:
    return text if isinstance(text, bytes) else address(text)


def icmp4(icmp_type: int, code: int, rest: bytes = b"\x00\x00\x00\x00",
          body: bytes = b"") -> bytes:
    message = struct.pack("!BBH", icmp_type, code, 0) + rest + body
    return message[:2] + struct.pack("!H", checksum(message)) + message[4:]


def icmp6(src: str | bytes, dst: str | bytes, icmp_type: int, code: int,
          rest: bytes = b"\x00\x00\x00\x00", body: bytes = b"") -> bytes:
    """An ICMPv6 message; its checksum covers the pseudo-header (RFC 4443 §2.3), so it
    is computed for the final destination ``dst``."""
    message = struct.pack("!BBH", icmp_type, code, 0) + rest + body
    pseudo = pseudo_header_sum_v6(_raw(src), _raw(dst), 58, len(message))
    return message[:2] + struct.pack("!H", checksum(message, pseudo)) + message[4:]


def udp(src: str | bytes, dst: str | bytes, sport: int, dport: int, body: bytes) -> bytes:
    segment = struct.pack("!HHHH", sport, dport, 8 + len(body), 0) + body
    return _with_l4_checksum(segment, 17, _raw(src), _raw(dst), 6)


def tcp(src: str | bytes, dst: str | bytes, sport: int, dport: int, *, seq: int = 1000,
        ack: int = 0, flags: int = 0x02, window: int = 65535, options: bytes = b"",
        body: bytes = b"") -> bytes:
    options = options + b"\x00" * (-len(options) % 4)
    offset = (20 + len(options)) // 4
    segment = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, offset << 4, flags, window,
                          0, 0) + options + body
    return _with_l4_checksum(segment, 6, _raw(src), _raw(dst), 16)


def _with_l4_checksum(segment: bytes, protocol: int, src: bytes, dst: bytes,
                      at: int) -> bytes:
    if len(src) == 4:
        pseudo = pseudo_header_sum_v4(src, dst, protocol, len(segment))
    else:
        pseudo = pseudo_header_sum_v6(src, dst, protocol, len(segment))
    value = checksum(segment, pseudo)
    if protocol == 17 and value == 0:
        value = 0xFFFF  # RFC 768: a computed zero is sent as all ones
    return segment[:at] + struct.pack("!H", value) + segment[at + 2:]


def ext_header(next_header: int, options: bytes) -> bytes:
    """A hop-by-hop or destination options header (RFC 8200 §4.3), padded with PadN."""
    body = options
    pad = -(len(body) + 2) % 8
    if pad == 1:
        body += b"\x00"
    elif pad:
        body += bytes([1, pad - 2]) + b"\x00" * (pad - 2)
    return bytes([next_header, (len(body) + 2) // 8 - 1]) + body


def fragment_header(next_header: int, offset: int, more: bool, ident: int) -> bytes:
    return struct.pack("!BBHI", next_header, 0, offset | int(more), ident)


def _cuts(total: int, sizes: list[int]) -> list[tuple[int, int, bool]]:
    """(start, end, more fragments) of each piece when ``total`` bytes are cut into
    ``sizes`` and the rest."""
    found: list[tuple[int, int, bool]] = []
    offset = 0
    for size in [*sizes, total]:
        end = min(offset + size, total)
        if end <= offset:
            break
        found.append((offset, end, end < total))
        offset = end
    return found


def fragment_v4(packet: bytes, sizes: list[int]) -> list[bytes]:
    """Cut a whole IPv4 packet into fragments of the given data sizes (multiples of 8
    but the last; the rest goes into the last fragment). Options are copied into every
    fragment, as if each had the copied flag (the seeds use none that do not)."""
    header_len = (packet[0] & 0x0F) * 4
    header, data = packet[:header_len], packet[header_len:]
    ident, flags_offset = struct.unpack_from("!HH", header, 4)
    pieces: list[bytes] = []
    for start, end, more in _cuts(len(data), sizes):
        piece = bytearray(header + data[start:end])
        struct.pack_into("!HHH", piece, 2, len(piece), ident,
                         (flags_offset & 0x4000) | (0x2000 if more else 0) | start // 8)
        pieces.append(repair(bytes(piece)))
    return pieces


def fragment_v6(packet: bytes, sizes: list[int], ident: int) -> list[bytes]:
    """Cut a whole IPv6 packet (without extension headers) into fragments."""
    fixed, next_header, data = bytearray(packet[:40]), packet[6], packet[40:]
    fixed[6] = 44
    pieces: list[bytes] = []
    for start, end, more in _cuts(len(data), sizes):
        body = fragment_header(next_header, start, more, ident) + data[start:end]
        struct.pack_into("!H", fixed, 4, len(body))
        pieces.append(bytes(fixed) + body)
    return pieces


def ethernet(dst: bytes, src: bytes, ethertype: int, payload: bytes) -> bytes:
    return dst + src + struct.pack("!H", ethertype) + payload


def arp(op: int, sender_mac: bytes, sender_ip: str, target_mac: bytes, target_ip: str) -> bytes:
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, sender_mac,
                       address(sender_ip), target_mac, address(target_ip))


# -- repair ----------------------------------------------------------------------------

def repair(packet: bytes, *, lengths: bool = True, checksums: bool = True) -> bytes:
    """Make ``packet``'s lengths and checksums consistent again after a mutation:
    IPv4 total length and header checksum, IPv6 payload length, UDP length, and the
    ICMP/ICMPv6/UDP/TCP checksum when this packet holds the start of its upper layer.
    Anything it cannot walk is returned as it is (the fuzzer wants those too)."""
    if not packet:
        return packet
    version = packet[0] >> 4
    if version == 4 and len(packet) >= 20:
        return _repair_v4(bytearray(packet), lengths, checksums)
    if version == 6 and len(packet) >= 40:
        return _repair_v6(bytearray(packet), lengths, checksums)
    return packet


def _repair_v4(packet: bytearray, lengths: bool, checksums: bool) -> bytes:
    header_len = (packet[0] & 0x0F) * 4
    if header_len < 20 or header_len > len(packet):
        return bytes(packet)
    if lengths:
        struct.pack_into("!H", packet, 2, min(len(packet), 0xFFFF))
    offset = struct.unpack_from("!H", packet, 6)[0] & 0x1FFF
    more = bool(packet[6] & 0x20)
    if checksums and offset == 0:
        end = min(struct.unpack_from("!H", packet, 2)[0], len(packet))
        _repair_upper(packet, header_len, max(end, header_len), packet[9], bytes(packet[12:16]),
                      bytes(packet[16:20]), whole=not more, lengths=lengths)
    if checksums:
        struct.pack_into("!H", packet, 10, 0)
        struct.pack_into("!H", packet, 10, checksum(packet[:header_len]))
    return bytes(packet)


def _repair_v6(packet: bytearray, lengths: bool, checksums: bool) -> bytes:
    if lengths:
        struct.pack_into("!H", packet, 4, min(len(packet) - 40, 0xFFFF))
    next_header = packet[6]
    position = 40
    whole = True
    for _ in range(32):
        if next_header in V6_EXTENSIONS and position + 2 <= len(packet):
            next_header, position = packet[position], position + (packet[position + 1] + 1) * 8
        elif next_header == 51 and position + 2 <= len(packet):
            next_header, position = packet[position], position + (packet[position + 1] + 2) * 4
        elif next_header == 44 and position + 8 <= len(packet):
            offset_flags = struct.unpack_from("!H", packet, position + 2)[0]
            if offset_flags & 0xFFF8:
                return bytes(packet)  # a non-first fragment has no upper header to repair
            whole = not offset_flags & 1
            next_header, position = packet[position], position + 8
        else:
            break
    if checksums and position <= len(packet):
        _repair_upper(packet, position, len(packet), next_header, bytes(packet[8:24]),
                      _final_destination(packet), whole=whole, lengths=lengths)
    return bytes(packet)


def _final_destination(packet: bytearray) -> bytes:
    """The pseudo-header destination: the last address of a routing header with segments
    left (RFC 8200 §8.1), else the IPv6 destination."""
    next_header = packet[6]
    position = 40
    for _ in range(32):
        if next_header not in V6_EXTENSIONS or position + 8 > len(packet):
            break
        if next_header == 43:
            size = (packet[position + 1] + 1) * 8
            segments_left = packet[position + 3]
            if segments_left and packet[position + 2] in (0, 2) and size >= 24 \
                    and position + size <= len(packet):
                return bytes(packet[position + size - 16:position + size])
        next_header, position = packet[position], position + (packet[position + 1] + 1) * 8
    return bytes(packet[24:40])


def _repair_upper(packet: bytearray, start: int, end: int, protocol: int, src: bytes,
                  dst: bytes, *, whole: bool, lengths: bool) -> None:
    """Fix the upper-layer checksum (and UDP length) of ``packet[start:end]``. In the
    first fragment of a datagram (``whole`` false) only the UDP length is fixed: the
    checksum covers data this fragment does not hold (the sequence mutator fixes it
    before cutting)."""
    segment = packet[start:end]
    at = {1: 2, 58: 2, 17: 6, 6: 16}.get(protocol)
    minimum = {1: 4, 58: 4, 17: 8, 6: 18}.get(protocol, 0)
    if at is None or len(segment) < minimum or (protocol == 1 and len(src) != 4):
        return
    if protocol == 58 and len(src) != 16:
        return
    if protocol == 17 and lengths and whole:
        struct.pack_into("!H", packet, start + 4, len(segment))
    if not whole:
        return
    struct.pack_into("!H", packet, start + at, 0)
    segment = packet[start:end]
    if protocol == 1:
        value = checksum(segment)
    elif len(src) == 4:
        value = checksum(segment, pseudo_header_sum_v4(src, dst, protocol, len(segment)))
    else:
        value = checksum(segment, pseudo_header_sum_v6(src, dst, protocol, len(segment)))
    if protocol == 17 and value == 0:
        value = 0xFFFF
    struct.pack_into("!H", packet, start + at, value)
