"""Packet builders shared by the IPv4 tests (test_ipv4_*.py, test_reassembly.py,
test_ratelimit.py). They compute checksums with a plain word loop, independent of the
``int.from_bytes`` code under test."""

from __future__ import annotations

import socket
import struct

from stack import Host, HostConfig

US = "172.16.0.2"
PEER = "172.16.0.1"


def word_checksum(data: bytes) -> int:
    """RFC 1071 the slow, obvious way: add 16-bit words, fold carries, complement."""
    if len(data) & 1:
        data += b"\x00"
    total = 0
    for (word,) in struct.iter_unpack("!H", data):
        total += word
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4(payload: bytes, *, src: str = PEER, dst: str = US, protocol: int = 1, tos: int = 0,
         ttl: int = 64, ident: int = 0x1234, flags_offset: int = 0, options: bytes = b"",
         total: int | None = None, header_checksum: int | None = None) -> bytes:
    header_len = 20 + len(options)
    header = struct.pack("!BBHHHBBH4s4s", 0x40 | header_len // 4, tos,
                         header_len + len(payload) if total is None else total, ident,
                         flags_offset, ttl, protocol, 0, socket.inet_aton(src),
                         socket.inet_aton(dst)) + options
    value = word_checksum(header) if header_checksum is None else header_checksum
    return header[:10] + value.to_bytes(2, "big") + header[12:] + payload


def icmp(kind: int, code: int = 0, rest: bytes = b"\x00\x00\x00\x00", data: bytes = b"") -> bytes:
    message = bytes((kind, code, 0, 0)) + rest + data
    return message[:2] + word_checksum(message).to_bytes(2, "big") + message[4:]


def echo_request(data: bytes = b"abcdefgh", ident: int = 0x1234, sequence: int = 1,
                 **ip: object) -> bytes:
    return ipv4(icmp(8, 0, struct.pack("!HH", ident, sequence), data), **ip)  # type: ignore[arg-type]


def udp(src: str, dst: str, sport: int, dport: int, data: bytes) -> bytes:
    length = 8 + len(data)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 17, length)
    segment = struct.pack("!HHHH", sport, dport, length, 0) + data
    value = word_checksum(pseudo + segment) or 0xFFFF
    return segment[:6] + value.to_bytes(2, "big") + segment[8:]


def tcp(src: str, dst: str, flags: int, seq: int = 0, ack: int = 0, data: bytes = b"") -> bytes:
    segment = struct.pack("!HHIIBBHHH", 40000, 80, seq, ack, 0x50, flags, 512, 0, 0) + data
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6,
                                                                         len(segment))
    value = word_checksum(pseudo + segment)
    return segment[:16] + value.to_bytes(2, "big") + segment[18:]


def fragments(datagram_payload: bytes, pieces: list[tuple[int, int, bool]], *,
              protocol: int = 1, ident: int = 0x4242, src: str = PEER,
              tos: list[int] | None = None, options: bytes = b"") -> list[bytes]:
    """Fragments of one datagram: each piece is (offset in bytes, length, more)."""
    out = []
    for index, (offset, length, more) in enumerate(pieces):
        out.append(ipv4(datagram_payload[offset:offset + length], src=src, protocol=protocol,
                        ident=ident, flags_offset=offset // 8 | (0x2000 if more else 0),
                        tos=tos[index] if tos else 0, options=options if offset == 0 else b""))
    return out


def host(**config: object) -> Host:
    return Host(HostConfig(ipv4="172.16.0.2/24", **config))  # type: ignore[arg-type]


def header_ok(packet: bytes) -> bool:
    header_len = (packet[0] & 0x0F) * 4
    return word_checksum(packet[:header_len]) == 0


def icmp_ok(packet: bytes) -> bool:
    header_len = (packet[0] & 0x0F) * 4
    return word_checksum(packet[header_len:]) == 0
