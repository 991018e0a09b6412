"""Packet builders shared by the IPv6 tests (no tests here)."""

from __future__ import annotations

import hashlib
import ipaddress
import struct

from stack.wire import icmpv6
from stack.wire import ipv6 as wire
from stack.wire.checksum import checksum

__all__ = ["address", "OURS", "LINK_LOCAL", "ALL_NODES", "peer", "packet", "echo", "udp",
           "tcp", "fragment", "too_big", "options", "normalise", "flow_label", "echo_label"]


def address(text: str) -> bytes:
    return ipaddress.IPv6Address(text).packed


OURS = address("fd00:16::2")
LINK_LOCAL = address("fe80::2")
ALL_NODES = address("ff02::1")


def peer(number: int) -> bytes:
    return address(f"fd00:16::{0x100 + number:x}")


def packet(src: bytes, dst: bytes, next_header: int, payload: bytes, traffic_class: int = 0,
           flow_label: int = 0, hop_limit: int = 64, payload_length: int | None = None) -> bytes:
    length = len(payload) if payload_length is None else payload_length
    return wire.build_header(traffic_class, flow_label, length, next_header, hop_limit, src,
                             dst) + payload


def echo(src: bytes, dst: bytes, data: bytes = b"abcdefgh", code: int = 0) -> bytes:
    return icmpv6.build_echo(icmpv6.ECHO_REQUEST, 0x1234, 1, data, src, dst, code)


def udp(src: bytes, dst: bytes, sport: int, dport: int, data: bytes = b"hello",
        zero: bool = False, length: int | None = None) -> bytes:
    size = 8 + len(data) if length is None else length
    segment = struct.pack("!HHHH", sport, dport, size, 0) + data
    if zero:
        return segment
    value = checksum(segment, int.from_bytes(src + dst, "big") + 17 + len(segment)) or 0xFFFF
    return segment[:6] + value.to_bytes(2, "big") + segment[8:]


def tcp(src: bytes, dst: bytes, sport: int, dport: int, seq: int = 1000, ack: int = 0,
        flags: int = 0x02, data: bytes = b"") -> bytes:
    segment = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 0x50, flags, 1000, 0, 0) + data
    value = checksum(segment, int.from_bytes(src + dst, "big") + 6 + len(segment))
    return segment[:16] + value.to_bytes(2, "big") + segment[18:]


def fragment(src: bytes, dst: bytes, next_header: int, data: bytes, offset: int, more: bool,
             identification: int, before: bytes = b"", first_header: int | None = None,
             traffic_class: int = 0) -> bytes:
    header = wire.build_fragment_header(next_header, offset, more, identification)
    return packet(src, dst, wire.FRAGMENT if first_header is None else first_header,
                  before + header + data, traffic_class=traffic_class)


def too_big(src: bytes, mtu: int, inner: bytes) -> bytes:
    return packet(src, OURS, 58, icmpv6.build_error(2, 0, mtu, inner[:1232], src, OURS))


def options(next_header: int, raw: bytes) -> bytes:
    return wire.build_options_header(next_header, raw)


def normalise(sent: bytes) -> bytes:
    """Zero what Linux fills from per-boot secrets: the flow label, and the
    identification of a Fragment header right after the fixed header."""
    out = bytearray(sent)
    out[1] &= 0xF0
    out[2] = out[3] = 0
    if len(out) >= 48 and out[6] == wire.FRAGMENT:
        out[44:48] = bytes(4)
    return bytes(out)


def _seeds(secret: int) -> tuple[int, int]:
    digest = hashlib.blake2b(secret.to_bytes(8, "big"), digest_size=24,
                             person=b"tunstack-hash").digest()
    mask = (1 << 62) - 1
    return (int.from_bytes(digest[8:16], "big") & mask,
            int.from_bytes(digest[16:24], "big") & mask)


def _keyed(data: bytes, seed: int) -> int:
    """The documented keyed hash (stack/wire/checksum.py), computed apart: the data as a
    number reduced mod 1073741789, times the seed's odd key plus its offset, mod
    4294967311."""
    key, offset = (seed >> 31) | 1, seed & 0x7FFFFFFF
    return (int.from_bytes(data, "big") % 1073741789 * key + offset) % 4294967311


def flow_label(src: bytes, dst: bytes, next_header: int, flow: bytes, secret: int = 0) -> int:
    """Our documented flow label rule (stack/host/ipv6.py, RFC 6437 §3): the low 20 bits
    of a keyed hash, seeded from ``HostConfig.hash_secret``, over the answer's destination
    (the peer), source, Next Header and ``flow`` (its ports, or ICMPv6 type and code)."""
    return _keyed(dst + src + bytes((next_header,)) + flow, _seeds(secret)[0]) & 0xFFFFF


def echo_label(peer: bytes, address: bytes, secret: int = 0) -> int:
    """The label of our echo replies from ``address`` to ``peer`` (a seed of their own,
    over the two addresses)."""
    return _keyed(peer + address, _seeds(secret)[1]) & 0xFFFFF
