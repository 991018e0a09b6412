"""Packets the benchmarks feed: distinct, valid echo requests (IPv4 and IPv6), their
broken variants for the drop path, fragmented echo requests, and a checker that a
reply really answers its request (so no contender can win by answering wrongly).

Everything here is built by hand with ``struct`` and the project's RFC 1071 checksum,
independently of the core under test.
"""

from __future__ import annotations

import ipaddress
import random
import struct
from collections.abc import Iterator

from stack.wire.checksum import checksum, is_valid, pseudo_header_sum_v6

__all__ = [
    "HOST_V4",
    "HOST_V6",
    "PEER_NET_V4",
    "echo_request_v4",
    "echo_requests_v4",
    "echo_request_v6",
    "echo_requests_v6",
    "ipv4_header",
    "bad_header_checksum",
    "bad_icmp_checksum",
    "not_for_us",
    "fragment_v4",
    "fragment_flood_v4",
    "reassemble_v4",
    "echo_reply_problem",
]

HOST_V4 = bytes([172, 16, 0, 2])  # HostConfig()'s default address
HOST_V6 = ipaddress.IPv6Address("fd00:16::2").packed
PEER_NET_V4 = bytes([172, 16, 0])
NOT_OUR_V4 = bytes([172, 16, 0, 99])  # on our subnet, but not our address
ECHO_ID_BASE = 0x5453  # "TS": the ICMP identifier of the first request; then counts up


def _peer_v4(index: int) -> bytes:
    """172.16.0.x for x in 1, 3..254: every peer on the /24 but the host itself."""
    last = index % 253 + 1
    return PEER_NET_V4 + bytes([last if last < 2 else last + 1])


def _peer_v6(index: int) -> bytes:
    return HOST_V6[:14] + struct.pack("!H", 0x100 + index % 0xFE00)


def _payload(index: int, size: int) -> bytes:
    """``size`` bytes: the index first (as ping puts its timestamp), then ping's 0x08.. pattern."""
    head = struct.pack("!Q", index)
    pattern = bytes((8 + i) & 0xFF for i in range(max(size - 8, 0)))
    return (head + pattern)[:size]


def ipv4_header(src: bytes, dst: bytes, payload_length: int, *, ident: int, protocol: int = 1,
                ttl: int = 64, flags_fragment: int = 0, tos: int = 0) -> bytes:
    """A 20-byte IPv4 header with a correct checksum (RFC 791 §3.1)."""
    header = struct.pack("!BBHHHBBH4s4s", 0x45, tos, 20 + payload_length, ident,
                         flags_fragment, ttl, protocol, 0, src, dst)
    return header[:10] + struct.pack("!H", checksum(header)) + header[12:]


def _icmp_echo(icmp_type: int, ident: int, seq: int, data: bytes, initial: int = 0) -> bytes:
    body = struct.pack("!BBHHH", icmp_type, 0, 0, ident, seq) + data
    return body[:2] + struct.pack("!H", checksum(body, initial)) + body[4:]


def echo_request_v4(index: int, size: int, dst: bytes = HOST_V4) -> bytes:
    """Echo request number ``index``, ``size`` bytes in all (84 is ping's default)."""
    data = _payload(index, size - 28)
    icmp = _icmp_echo(8, (ECHO_ID_BASE + index // 65536) & 0xFFFF, index & 0xFFFF, data)
    return ipv4_header(_peer_v4(index), dst, len(icmp), ident=index & 0xFFFF) + icmp


def echo_requests_v4(count: int, size: int) -> list[bytes]:
    """``count`` distinct valid echo requests from 172.16.0.x to 172.16.0.2."""
    return [echo_request_v4(i, size) for i in range(count)]


def echo_request_v6(index: int, size: int) -> bytes:
    """ICMPv6 echo request (RFC 4443 §4.1) number ``index``, ``size`` bytes in all."""
    src = _peer_v6(index)
    data = _payload(index, size - 48)
    length = len(data) + 8
    initial = pseudo_header_sum_v6(src, HOST_V6, 58, length)
    icmp = _icmp_echo(128, (ECHO_ID_BASE + index // 65536) & 0xFFFF, index & 0xFFFF, data,
                      initial)
    header = struct.pack("!IHBB16s16s", 6 << 28, length, 58, 64, src, HOST_V6)
    return header + icmp


def echo_requests_v6(count: int, size: int) -> list[bytes]:
    """``count`` distinct valid ICMPv6 echo requests from fd00:16::x to fd00:16::2."""
    return [echo_request_v6(i, size) for i in range(count)]


def bad_header_checksum(packet: bytes) -> bytes:
    """The same IPv4 packet with its header checksum off by one."""
    wrong = (int.from_bytes(packet[10:12], "big") + 1) & 0xFFFF
    return packet[:10] + wrong.to_bytes(2, "big") + packet[12:]


def bad_icmp_checksum(packet: bytes) -> bytes:
    """The same IPv4 packet with its ICMP checksum off by one (header still valid)."""
    start = (packet[0] & 0x0F) * 4
    wrong = (int.from_bytes(packet[start + 2:start + 4], "big") + 1) & 0xFFFF
    return packet[:start + 2] + wrong.to_bytes(2, "big") + packet[start + 4:]


def not_for_us(index: int, size: int) -> bytes:
    """A valid echo request to 172.16.0.99, an address on our subnet that is not ours."""
    return echo_request_v4(index, size, dst=NOT_OUR_V4)


def fragment_v4(datagram: bytes, mtu: int) -> list[bytes]:
    """Split an IPv4 datagram (20-byte header) into fragments of at most ``mtu`` bytes,
    each carrying a multiple of 8 data bytes but the last (RFC 791 §3.2, fragmentation)."""
    header, data = datagram[:20], datagram[20:]
    chunk = (mtu - 20) // 8 * 8
    ident = int.from_bytes(header[4:6], "big")
    pieces = []
    for offset in range(0, len(data), chunk):
        part = data[offset:offset + chunk]
        more = 0x2000 if offset + chunk < len(data) else 0
        pieces.append(ipv4_header(header[12:16], header[16:20], len(part), ident=ident,
                                  protocol=header[9], ttl=header[8],
                                  flags_fragment=more | offset // 8) + part)
    return pieces


def fragment_flood_v4(count: int, seed: int) -> Iterator[bytes]:
    """``count`` first-or-middle fragments (more-fragments set) of random datagrams: random
    IP IDs, sources, offsets and sizes from a seeded generator, none ever completed. A
    generator, so the flood's own packets do not weigh on the memory being measured."""
    rng = random.Random(seed)
    payload = bytes(range(256)) * 6
    for _ in range(count):
        size = rng.randrange(1, 186) * 8  # 8 .. 1480 bytes
        offset = rng.randrange(0, 1024)  # in 8-byte units
        src = bytes([10, rng.randrange(256), rng.randrange(256), rng.randrange(1, 255)])
        yield ipv4_header(src, HOST_V4, size, ident=rng.randrange(65536),
                          flags_fragment=0x2000 | offset) + payload[:size]


def reassemble_v4(fragments: list[bytes]) -> bytes | None:
    """Join IPv4 fragments of one datagram (any order) into the datagram, or None when
    they do not form one whole (a gap, a missing last fragment, a bad header checksum)."""
    pieces: list[tuple[int, bytes]] = []
    total = None
    header = b""
    for frag in fragments:
        ihl = (frag[0] & 0x0F) * 4
        if not is_valid(frag[:ihl]):
            return None
        flags_fragment = int.from_bytes(frag[6:8], "big")
        offset = (flags_fragment & 0x1FFF) * 8
        data = frag[ihl:int.from_bytes(frag[2:4], "big")]
        if offset == 0:
            header = frag[:ihl]
        if not flags_fragment & 0x2000:
            total = offset + len(data)
        pieces.append((offset, data))
    if total is None or not header:
        return None
    pieces.sort()
    joined = b""
    for offset, data in pieces:
        if offset != len(joined):
            return None
        joined += data
    if len(joined) != total:
        return None
    length = len(header) + total
    fixed = header[:2] + length.to_bytes(2, "big") + header[4:6] + b"\x00\x00" + header[8:10]
    fixed += b"\x00\x00" + header[12:]
    fixed = fixed[:10] + checksum(fixed).to_bytes(2, "big") + fixed[12:]
    return fixed + joined


def echo_reply_problem(request: bytes, reply: bytes) -> str | None:
    """Why ``reply`` is not a valid echo reply to ``request`` (IPv4 or IPv6), or None.
    Checks what any correct responder must get right: addresses swapped, the reply type,
    identifier, sequence and data echoed, and every checksum valid."""
    version = request[0] >> 4
    if not reply or reply[0] >> 4 != version:
        return "not a packet of the request's IP version"
    if version == 4:
        ihl_q, ihl_r = (request[0] & 0x0F) * 4, (reply[0] & 0x0F) * 4
        if not is_valid(reply[:ihl_r]):
            return "bad IPv4 header checksum"
        if int.from_bytes(reply[2:4], "big") != len(reply):
            return "IPv4 total length does not match the packet"
        if reply[12:16] != request[16:20] or reply[16:20] != request[12:16]:
            return "addresses not swapped"
        if reply[9] != 1:
            return "not ICMP"
        icmp_q, icmp_r = request[ihl_q:], reply[ihl_r:]
        if icmp_r[0] != 0 or icmp_r[1] != 0:
            return f"ICMP type/code {icmp_r[0]}/{icmp_r[1]}, expected 0/0"
        if not is_valid(icmp_r):
            return "bad ICMP checksum"
    elif version == 6:
        if int.from_bytes(reply[4:6], "big") != len(reply) - 40:
            return "IPv6 payload length does not match the packet"
        if reply[8:24] != request[24:40] or reply[24:40] != request[8:24]:
            return "addresses not swapped"
        if reply[6] != 58:
            return "not ICMPv6"
        icmp_q, icmp_r = request[40:], reply[40:]
        if icmp_r[0] != 129 or icmp_r[1] != 0:
            return f"ICMPv6 type/code {icmp_r[0]}/{icmp_r[1]}, expected 129/0"
        if not is_valid(icmp_r, pseudo_header_sum_v6(reply[8:24], reply[24:40], 58,
                                                      len(icmp_r))):
            return "bad ICMPv6 checksum"
    else:
        return f"IP version {version}"
    if icmp_r[4:] != icmp_q[4:]:
        return "identifier, sequence or data not echoed"
    return None
