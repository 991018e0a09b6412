"""The cases of ``stack-fuzz diff``: seeded, structured, one peer of their own each.

A case is one to a few inbound packets from a peer no other case of the run uses, its
IPv4 source routes through a router of its own (:func:`hop_of`), so per-peer ICMP rate
limits and reassembly queues stay apart; built from the RFC layouts
with random but plausible values: IPv4 options and IPv6 extension-header chains of every
kind with random lengths and pointers; fragment sequences cut, reordered, overlapped,
duplicated or left with gaps; ICMP and ICMPv6 of every type and code; UDP, UDP-Lite and
TCP with random flags, options and lengths; bad and repaired checksums; truncation and
trailing bytes; a few packets in a row; and mutations of the fuzz seeds
(:mod:`fuzz.seeds`, :class:`fuzz.mutator.PacketMutator`).

Case ``i`` of seed ``s`` draws from ``random.Random(f"{s}/{i}")`` alone, so it is the
same whatever the case count, and :func:`case_for` rebuilds any case from its seed and
index.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from dataclasses import dataclass

from fuzz import packets as p
from fuzz.mutator import PacketMutator, python_byte_mutate
from stack.record.probes import Peer
from stack.wire.checksum import checksum, pseudo_header_sum_v4, pseudo_header_sum_v6

__all__ = ["DiffCase", "FAMILIES", "FAMILY_LABELS", "case_for", "generate", "peer_of", "hop_of",
           "HOST4", "HOST6", "HOST_LL"]

HOST4, HOST6, HOST_LL = "172.16.0.2", "fd00:16::2", "fe80::2"
BROADCAST4, OTHER4, OTHER6 = "172.16.0.255", "192.0.2.55", "2001:db8::55"

FAMILY_LABELS: dict[str, str] = {
    "ipv4.single": "IPv4 single",
    "ipv4.options": "IPv4 options",
    "ipv4.fragments": "IPv4 fragments",
    "ipv4.timeouts": "IPv4 timeouts",
    "ipv6.single": "IPv6 single",
    "ipv6.ext": "IPv6 extension headers",
    "ipv6.fragments": "IPv6 fragments",
    "ipv6.timeouts": "IPv6 timeouts",
    "multi": "multi-packet",
    "mutated": "mutated fuzz seeds",
}
FAMILIES = tuple(FAMILY_LABELS)
_WEIGHTS = (16, 12, 10, 5, 14, 12, 10, 5, 8, 8)


@dataclass(frozen=True)
class DiffCase:
    seed: int
    index: int
    family: str
    note: str  # what was built, for the report
    packets: tuple[bytes, ...]

    @property
    def name(self) -> str:
        return f"diff-{self.seed}-{self.index}"

    @property
    def peer(self) -> Peer:
        return peer_of(self.index)

    @property
    def fragmented(self) -> bool:
        """True when a packet is a fragment: the kernel may answer it after its
        reassembly time, so the case stays open that long."""
        return any(_is_fragment(packet) for packet in self.packets)

    def with_packets(self, packets: tuple[bytes, ...], index: int) -> DiffCase:
        """The same case with other packets, moved to peer ``index`` (minimisation)."""
        old, new = self.peer, peer_of(index)
        moved = tuple(_move(packet, old, new) for packet in packets)
        return DiffCase(self.seed, index, self.family, self.note, moved)


def _is_fragment(packet: bytes) -> bool:
    if len(packet) >= 20 and packet[0] >> 4 == 4:
        return bool(struct.unpack_from("!H", packet, 6)[0] & 0x3FFF)
    if len(packet) >= 40 and packet[0] >> 4 == 6:
        return 44 in _v6_chain(packet)
    return False


def _v6_chain(packet: bytes) -> list[int]:
    chain, next_header, at = [], packet[6], 40
    for _ in range(16):
        chain.append(next_header)
        if next_header not in (0, 43, 60, 44, 51) or at + 2 > len(packet):
            break
        size = 8 if next_header == 44 else (packet[at + 1] + 2) * 4 if next_header == 51 \
            else (packet[at + 1] + 1) * 8
        next_header, at = packet[at], at + size
    return chain


def peer_of(index: int) -> Peer:
    """The addresses case ``index`` sends from: 10.x.y.z, fd00:16::a:…, fe80::a:…."""
    high, low = (index >> 16) & 0xFFFF, index & 0xFFFF
    return Peer(v4=f"10.{(index >> 16) & 0xFF}.{(index >> 8) & 0xFF}.{index & 0xFF}",
                v6=f"fd00:16::a:{high:x}:{low:x}", ll=f"fe80::a:{high:x}:{low:x}")


def hop_of(peer_v4: str) -> str:
    """The router of case ``peer_v4``'s source routes: the peer's address with the top
    bit of its second byte set (10.128.0.5 for 10.0.0.5), so its own, as the peer is,
    for every index below 2**23 (generated cases and minimisation attempts alike).

    A reversed route's first hop is where Linux sends the error (``icmp_route_lookup``
    takes ``replyopts.faddr``), and ``icmpv4_xrlim_allow`` rate-limits errors per
    destination (``inet_peer_xrlim_allow``: a burst of 6, then one per
    ``icmp_ratelimit``): a hop shared by the cases of a run (once 172.16.0.1 and
    192.0.2.55) lets the one kernel answer the first six and then none, while
    tunstack's fresh Host per case answers every one."""
    first, second, third, fourth = (int(part) for part in peer_v4.split("."))
    return f"{first}.{second | 0x80}.{third}.{fourth}"


def _move(packet: bytes, old: Peer, new: Peer) -> bytes:
    """Rewrite a packet's source from ``old`` to ``new`` (and repair its checksums)."""
    buffer = bytearray(packet)
    if len(buffer) >= 20 and buffer[0] >> 4 == 4 and buffer[12:16] == p.address(old.v4):
        buffer[12:16] = p.address(new.v4)
        # the options name the peer and its router too (source routes): move them
        # along, or minimisation attempts would share one router's rate limit
        end = min((buffer[0] & 0x0F) * 4, len(buffer))
        options = bytes(buffer[20:end])
        for before, after in ((old.v4, new.v4), (hop_of(old.v4), hop_of(new.v4))):
            options = options.replace(p.address(before), p.address(after))
        buffer[20:end] = options
    elif len(buffer) >= 40 and buffer[0] >> 4 == 6:
        for before, after in ((old.v6, new.v6), (old.ll, new.ll)):
            if buffer[8:24] == p.address(before):
                buffer[8:24] = p.address(after)
    if bytes(buffer) == packet:
        return packet
    return p.repair(bytes(buffer), lengths=False)


# -- building blocks ---------------------------------------------------------------------

ICMP4_TYPES = (0, 3, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 1, 2, 6, 7, 19, 30,
               37, 40, 42, 43, 253, 255)
ICMP4_ERRORS = frozenset({3, 4, 5, 11, 12})
ICMP6_TYPES = (1, 2, 3, 4, 128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 138, 139,
               140, 141, 142, 143, 144, 145, 148, 151, 160, 100, 101, 127, 200, 201, 255, 0)
ICMP6_ERRORS = frozenset({1, 2, 3, 4, 0, 100, 101, 127})
OTHER_PROTOCOLS = (0, 2, 4, 8, 41, 43, 44, 47, 50, 51, 59, 60, 89, 103, 112, 115, 132,
                   135, 137, 139, 143, 253, 254, 255)
TCP_OPTION_KINDS = (2, 3, 4, 5, 8, 19, 29, 30, 34, 254, 1, 0, 6, 7, 27, 28, 253)


def _choice_weighted(rng: random.Random, common: tuple[int, ...]) -> int:
    return rng.choice(common) if rng.random() < 0.85 else rng.randrange(256)


def _body(rng: random.Random, most: int = 64) -> bytes:
    size = rng.choice((0, 1, 4, 8, 16, 56, rng.randrange(most + 1)))
    return bytes(rng.randrange(256) for _ in range(size))


def _tcp_options(rng: random.Random) -> bytes:
    out = b""
    for _ in range(rng.choice((0, 0, 1, 2, 3, 5))):
        kind = rng.choice(TCP_OPTION_KINDS)
        if kind in (0, 1):
            out += bytes([kind])
            continue
        length = {2: 4, 3: 3, 4: 2, 8: 10, 19: 18, 29: 16, 5: 10, 30: 8, 34: 6}.get(kind, 4)
        if rng.random() < 0.15:
            length = rng.choice((0, 1, 2, 40, rng.randrange(41)))
        out += bytes([kind, length]) + bytes(rng.randrange(256) for _ in range(max(length - 2, 0)))
    return out[:40]


def _transport(rng: random.Random, src: str, dst: str, v6: bool) -> tuple[int, bytes, str]:
    """(protocol, upper-layer bytes, note) of a random UDP, UDP-Lite, TCP or other."""
    pick = rng.random()
    if pick < 0.35:
        sport, dport = rng.randrange(65536), rng.choice((7, 9, 53, 33434, rng.randrange(65536)))
        segment = p.udp(src, dst, sport, dport, _body(rng, 600))
        if rng.random() < 0.15:
            segment = segment[:6] + b"\x00\x00" + segment[8:]  # no checksum
        if rng.random() < 0.15:
            length = rng.choice((0, 7, len(segment) + 1, len(segment) - 1, rng.randrange(65536)))
            segment = segment[:4] + struct.pack("!H", length & 0xFFFF) + segment[6:]
        return 17, segment, "udp"
    if pick < 0.5:
        return 136, _udp_lite(rng, src, dst), "udp-lite"
    if pick < 0.85:
        flags = rng.choice((0x02, 0x10, 0x12, 0x04, 0x14, 0x01, 0x11, 0x18, 0x00, 0x29,
                            0x03, 0x06, 0xC2, 0xFF, rng.randrange(256)))
        segment = p.tcp(src, dst, rng.randrange(65536), rng.choice((22, 80, rng.randrange(65536))),
                        seq=rng.randrange(1 << 32), ack=rng.randrange(1 << 32), flags=flags,
                        options=_tcp_options(rng), body=_body(rng, 200))
        if rng.random() < 0.1:  # a data offset that lies
            segment = segment[:12] + bytes([rng.randrange(16) << 4]) + segment[13:]
            segment = _fix_l4(segment, 6, src, dst)
        return 6, segment, f"tcp flags {flags:#04x}"
    protocol = rng.choice(OTHER_PROTOCOLS)
    if v6 and protocol in (0, 43, 44, 60, 51):
        protocol = 59
    return protocol, _body(rng, 40), f"protocol {protocol}"


def _fix_l4(segment: bytes, protocol: int, src: str, dst: str) -> bytes:
    at = {6: 16, 17: 6, 136: 6}[protocol]
    zeroed = segment[:at] + b"\x00\x00" + segment[at + 2:]
    s, d = p.address(src), p.address(dst)
    pseudo = (pseudo_header_sum_v4 if len(s) == 4 else pseudo_header_sum_v6)(
        s, d, protocol, len(segment))
    return zeroed[:at] + struct.pack("!H", checksum(zeroed, pseudo)) + zeroed[at + 2:]


def _udp_lite(rng: random.Random, src: str, dst: str) -> bytes:
    """UDP-Lite (RFC 3828): the length field is the checksum coverage (0: all)."""
    body = _body(rng, 200)
    total = 8 + len(body)
    coverage = rng.choice((0, 8, total, min(total, 8 + rng.randrange(len(body) + 1)),
                           rng.choice((1, 7, total + 1, 0xFFFF))))
    header = struct.pack("!HHHH", rng.randrange(65536), rng.choice((9, 33434)), coverage, 0)
    segment = header + body
    s, d = p.address(src), p.address(dst)
    covered = segment[:coverage or total] if 8 <= (coverage or total) <= total else segment
    pseudo = (pseudo_header_sum_v4 if len(s) == 4 else pseudo_header_sum_v6)(s, d, 136, total)
    value = checksum(covered, pseudo) or 0xFFFF
    return segment[:6] + struct.pack("!H", value) + segment[8:]


def _icmp4(rng: random.Random, peer: str) -> tuple[bytes, str]:
    icmp_type = _choice_weighted(rng, ICMP4_TYPES)
    code = rng.choice((0, 0, 0, 1, 2, 3, 4, 13, rng.randrange(256)))
    if icmp_type in ICMP4_ERRORS:
        protocol, inner, _ = _transport(rng, HOST4, peer, v6=False)
        quote = p.ipv4(HOST4, peer, protocol, inner)
        quote = quote[:rng.choice((28, 28, len(quote), rng.randrange(len(quote) + 1)))]
        rest = struct.pack("!HH", 0, rng.choice((0, 576, 1280, 68, rng.randrange(65536)))) \
            if icmp_type == 3 else bytes([rng.randrange(64), 0, 0, 0]) if icmp_type == 12 \
            else p.address(rng.choice((peer, HOST4, OTHER4))) if icmp_type == 5 \
            else bytes(4)
        return p.icmp4(icmp_type, code, rest, quote), f"icmp {icmp_type}/{code} error"
    if icmp_type in (13, 14):
        body = bytes(rng.randrange(256) for _ in range(rng.choice((12, 12, 11, 13, 0))))
    else:
        body = _body(rng, 1400)
    rest = struct.pack("!HH", rng.randrange(65536), rng.randrange(65536))
    return p.icmp4(icmp_type, code, rest, body), f"icmp {icmp_type}/{code}"


def _icmp6(rng: random.Random, src: str, dst: str) -> tuple[bytes, str]:
    icmp_type = _choice_weighted(rng, ICMP6_TYPES)
    code = rng.choice((0, 0, 0, 1, 2, 3, 4, rng.randrange(256)))
    if icmp_type in ICMP6_ERRORS:
        protocol, inner, _ = _transport(rng, HOST6, src, v6=True)
        quote = p.ipv6(dst, src, protocol, inner)
        quote = quote[:rng.choice((48, len(quote), rng.randrange(len(quote) + 1)))]
        rest = struct.pack("!I", rng.choice((0, 1280, 1279, 1500, 40, rng.randrange(1 << 32))))
        return p.icmp6(src, dst, icmp_type, code, rest, quote), f"icmpv6 {icmp_type}/{code} error"
    if icmp_type in (133, 134, 135, 136, 137):  # neighbour discovery (RFC 4861 §4)
        target = p.address(rng.choice((HOST6, HOST_LL, "ff02::1", src, "fd00:16::99")))
        rest = bytes([rng.choice((0, 0x20, 0x40, 0x60, 0xE0)), 0, 0, 0]) \
            if icmp_type == 136 else bytes(4)
        fixed = {133: b"", 134: bytes(8), 135: target, 136: target,
                 137: target + p.address(rng.choice((HOST6, src)))}[icmp_type]
        options = b""
        for _ in range(rng.choice((0, 0, 1, 2))):
            kind = rng.choice((1, 2, 3, 4, 5, 14, rng.randrange(256)))
            length = rng.choice((1, 1, 0, 2, 3))
            options += bytes([kind, length]) + bytes(rng.randrange(256)
                                                     for _ in range(max(length * 8 - 2, 0)))
        return (p.icmp6(src, dst, icmp_type, code, rest, fixed + options),
                f"icmpv6 {icmp_type}/{code} nd")
    rest = struct.pack("!HH", rng.randrange(65536), rng.randrange(65536))
    return p.icmp6(src, dst, icmp_type, code, rest, _body(rng, 1200)), \
        f"icmpv6 {icmp_type}/{code}"


def _damage(rng: random.Random, packet: bytes) -> tuple[bytes, str]:
    """Now and then: a bad checksum, a cut, trailing bytes or a lying length."""
    pick = rng.random()
    if pick < 0.72 or len(packet) < 21:
        return packet, ""
    buffer = bytearray(packet)
    v4 = packet[0] >> 4 == 4
    if pick < 0.78:
        at = rng.choice((10, 11)) if v4 else rng.randrange(min(40, len(buffer) - 1),
                                                             len(buffer))
        buffer[at] ^= 1 << rng.randrange(8)
        return bytes(buffer), " +bad checksum"
    if pick < 0.84:
        at = rng.randrange(40 if v4 else 42, len(buffer)) if len(buffer) > 42 else len(buffer) - 1
        buffer[at] ^= 1 << rng.randrange(8)  # a payload bit: the upper checksum breaks
        return bytes(buffer), " +bad upper checksum"
    if pick < 0.9:
        return bytes(buffer[:rng.randrange(1 if v4 else 1, len(buffer))]), " +truncated"
    if pick < 0.95:
        return bytes(buffer) + bytes(rng.randrange(256) for _ in range(rng.randint(1, 16))), \
            " +trailing bytes"
    if v4:
        struct.pack_into("!H", buffer, 2, rng.choice((0, 19, 21, len(buffer) + 4,
                                                      rng.randrange(65536))))
        buffer[10:12] = b"\x00\x00"
        struct.pack_into("!H", buffer, 10, _header_checksum(bytes(buffer)))
    else:
        struct.pack_into("!H", buffer, 4, rng.choice((0, 1, len(buffer) - 39,
                                                      rng.randrange(65536))))
    return bytes(buffer), " +length"


def _header_checksum(packet: bytes) -> int:
    header_len = max((packet[0] & 0x0F) * 4, 20)
    return checksum(packet[:10] + b"\x00\x00" + packet[12:header_len])


def _upper4(rng: random.Random, peer: str, dst: str) -> tuple[int, bytes, str]:
    if rng.random() < 0.45:
        message, note = _icmp4(rng, peer)
        return 1, message, note
    return _transport(rng, peer, dst, v6=False)


def _upper6(rng: random.Random, src: str, dst: str) -> tuple[int, bytes, str]:
    if rng.random() < 0.45:
        message, note = _icmp6(rng, src, dst)
        return 58, message, note
    return _transport(rng, src, dst, v6=True)


def _ip4(rng: random.Random, src: str, dst: str, protocol: int, payload: bytes,
         options: bytes = b"") -> bytes:
    flags = rng.choice((0, 0, 0, 0x4000, 0x8000)) if rng.random() < 0.3 else 0
    ttl = rng.choice((64, 64, 64, 1, 0, 255, rng.randrange(256)))
    tos = rng.choice((0, 0, 0, 0xB8, 0x03, 0x01, rng.randrange(256)))
    return p.ipv4(src, dst, protocol, payload, options=options, ttl=ttl, tos=tos,
                  ident=rng.randrange(65536), flags_offset=flags)


def _ip6(rng: random.Random, src: str, dst: str, next_header: int, payload: bytes) -> bytes:
    hop_limit = rng.choice((64, 64, 255, 1, 0, rng.randrange(256)))
    return p.ipv6(src, dst, next_header, payload, hop_limit=hop_limit,
                  traffic_class=rng.choice((0, 0, 0xB8, 0x03, rng.randrange(256))),
                  flow=rng.choice((0, rng.randrange(1 << 20))))


# -- IPv4 options (RFC 791 §3.1) -----------------------------------------------------------

def _v4_options(rng: random.Random, peer: str) -> tuple[bytes, str]:
    out, names = b"", []
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
        kind = rng.choice(("nop", "eol", "rr", "ts", "lsrr", "ssrr", "ra", "sec", "cipso",
                           "sid", "unknown", "bad"))
        names.append(kind)
        if kind == "nop":
            out += b"\x01"
        elif kind == "eol":
            out += b"\x00" + (bytes([rng.randrange(256)]) if rng.random() < 0.3 else b"")
        elif kind == "rr":
            slots = rng.choice((1, 2, 3, 9))
            length = 3 + 4 * slots if rng.random() < 0.85 else rng.randrange(2, 40)
            pointer = rng.choice((4, 4, 8, length + 1, rng.randrange(256)))
            out += bytes([7, length, pointer]) + bytes(max(length - 3, 0))
        elif kind == "ts":
            flag = rng.choice((0, 1, 3, 3, rng.randrange(16)))
            slot = 4 if flag == 0 else 8
            count = rng.choice((1, 2, 4))
            length = 4 + slot * count if rng.random() < 0.85 else rng.randrange(2, 40)
            pointer = rng.choice((5, 5, 5 + slot, length + 1, rng.randrange(256)))
            overflow = rng.choice((0, 0, 15, rng.randrange(16)))
            body = b""
            if flag == 3:
                body = b"".join(p.address(rng.choice((HOST4, OTHER4))) + bytes(4)
                                for _ in range(count))
            out += bytes([68, length, pointer, overflow << 4 | flag]) + \
                body.ljust(max(length - 4, 0), b"\x00")[:max(length - 4, 0)]
        elif kind in ("lsrr", "ssrr"):
            # routers of the case's own (hop_of), never one shared by many cases
            hops = [rng.choice((hop_of(peer), HOST4, peer, hop_of(peer)))
                    for _ in range(rng.choice((1, 2)))]
            length = 3 + 4 * len(hops)
            pointer = rng.choice((4, 4, length + 1, 8, rng.randrange(256)))
            out += bytes([131 if kind == "lsrr" else 137, length, pointer]) + \
                b"".join(p.address(h) for h in hops)
        elif kind == "ra":
            out += bytes([148, rng.choice((4, 4, 2, 3)), 0, rng.choice((0, 1))])
        elif kind == "sec":
            out += bytes([130, 11]) + bytes(9)
        elif kind == "cipso":
            out += bytes([134, rng.choice((6, 10, 2))]) + \
                bytes(rng.randrange(256) for _ in range(8))
        elif kind == "sid":
            out += bytes([136, 4, 0, 1])
        elif kind == "unknown":
            out += bytes([rng.randrange(2, 256), 4, 0, 0])
        else:
            out += bytes([rng.choice((7, 68, 131, 148, 130)), rng.choice((0, 1, 2, 41, 255))])
    return out[:40], "+".join(names)


# -- IPv6 extension headers (RFC 8200 §4) ------------------------------------------------

def _tlv_options(rng: random.Random) -> bytes:
    out = b""
    for _ in range(rng.choice((0, 1, 1, 2, 3))):
        kind = rng.choice(("pad1", "padn", "ra", "jumbo", "tunnel", "unknown", "bad"))
        if kind == "pad1":
            out += b"\x00"
        elif kind == "padn":
            size = rng.choice((0, 1, 4, 6))
            out += bytes([1, size]) + bytes(size)
        elif kind == "ra":
            out += bytes([5, 2, 0, rng.choice((0, 1, 2))])
        elif kind == "jumbo":
            out += bytes([0xC2, 4]) + struct.pack("!I", rng.choice((0, 70000, 100)))
        elif kind == "tunnel":
            out += bytes([4, 1, rng.randrange(256)])
        elif kind == "unknown":
            action = rng.choice((0x00, 0x40, 0x80, 0xC0))
            out += bytes([action | rng.choice((0x1E, 0x3E, 0x07, 0x11)), 2, 0, 0])
        else:
            out += bytes([rng.randrange(256), rng.choice((255, 40, 7))])
    return out


def _ext_header(rng: random.Random, kind: int, next_header: int) -> bytes:
    if kind in (0, 60):
        header = p.ext_header(next_header, _tlv_options(rng))
        if rng.random() < 0.1:  # a length that lies
            header = bytes([header[0], rng.choice((0, 1, 5, 255))]) + header[2:]
        return header
    if kind == 43:
        routing_type = rng.choice((0, 2, 3, 4, 253, rng.randrange(256)))
        segments = rng.choice((0, 0, 1, 2))
        addresses = b"".join(p.address(rng.choice((OTHER6, HOST6)))
                             for _ in range(max(segments, 1)))
        body = bytes([routing_type, segments]) + bytes(4) + addresses
        return bytes([next_header, (len(body) + 2) // 8 - 1]) + body
    if kind == 44:  # an atomic fragment (RFC 6946), reserved bytes sometimes set
        atomic = bytearray(p.fragment_header(next_header, 0, False, rng.randrange(1 << 32)))
        if rng.random() < 0.2:
            atomic[1] = rng.randrange(256)
        return bytes(atomic)
    if kind == 51:  # AH (RFC 4302): length in 4-byte units minus 2
        return bytes([next_header, 4]) + bytes(22)
    return b""


def _v6_chain_case(rng: random.Random, src: str, dst: str) -> tuple[bytes, str]:
    kinds = [rng.choice((0, 60, 43, 44, 60, 0, 51)) for _ in range(rng.choice((1, 1, 2, 3, 4)))]
    upper, payload, note = _upper6(rng, src, dst)
    body = payload
    next_header = upper
    for kind in reversed(kinds):
        body = _ext_header(rng, kind, next_header) + body
        next_header = kind
    return _ip6(rng, src, dst, next_header, body), \
        "ext " + ",".join(str(k) for k in kinds) + f" / {note}"


# -- fragment sequences --------------------------------------------------------------------

def _cut_sizes(rng: random.Random, total: int) -> list[int]:
    sizes: list[int] = []
    left = total
    for _ in range(rng.choice((1, 1, 2, 3, 5))):
        size = 8 * rng.randint(1, max(1, min(left, 1400) // 8))
        sizes.append(size)
        left -= size
        if left <= 8:
            break
    return sizes


def _fragment_ops(rng: random.Random, pieces: list[bytes], v6: bool,
                  incomplete: bool) -> tuple[list[bytes], str]:
    notes = []
    if incomplete and len(pieces) > 1:
        drop = rng.choice(("first", "last", "middle")) if len(pieces) > 2 else \
            rng.choice(("first", "last"))
        index = {"first": 0, "last": len(pieces) - 1,
                 "middle": rng.randrange(1, max(len(pieces) - 1, 2))}[drop]
        del pieces[index]
        notes.append(f"without {drop}")
    elif incomplete:
        notes.append("alone")
    if rng.random() < 0.2 and pieces:
        pieces.append(rng.choice(pieces))
        notes.append("duplicate")
    if rng.random() < 0.15 and len(pieces) > 1:
        piece = bytearray(rng.choice(pieces[1:]))
        # an overlap: move a piece back by 8 bytes (its data then covers its neighbour's)
        at = 42 if v6 else 6
        value = struct.unpack_from("!H", piece, at)[0]
        if value & 0xFFF8 if v6 else value & 0x1FFF:
            struct.pack_into("!H", piece, at, value - (8 if v6 else 1))
            pieces.append(bytes(piece) if v6 else p.repair(bytes(piece), lengths=False))
            notes.append("overlap")
    if rng.random() < 0.08 and pieces:
        first = pieces[0]
        pieces[0] = first[:len(first) - rng.randint(1, 7)] if len(first) > 60 else first
        if not v6:
            pieces[0] = p.repair(pieces[0], checksums=False)
            pieces[0] = pieces[0][:10] + struct.pack("!H", _header_checksum(pieces[0])) \
                + pieces[0][12:]
        else:
            pieces[0] = p.repair(pieces[0], checksums=False)
        notes.append("not a multiple of 8")
    order = rng.random()
    if order < 0.3:
        pieces.reverse()
        notes.append("reversed")
    elif order < 0.5:
        rng.shuffle(pieces)
        notes.append("shuffled")
    return pieces, " ".join(notes)


def _fragments4(rng: random.Random, peer: str, incomplete: bool) -> tuple[tuple[bytes, ...], str]:
    protocol, upper, note = (1, *_echo_body(rng, 64 if incomplete else 3000)) \
        if rng.random() < 0.6 else _upper4(rng, peer, HOST4)
    options, option_note = _v4_options(rng, peer) if rng.random() < 0.2 else (b"", "")
    whole = p.ipv4(peer, HOST4, protocol, upper, options=options, ident=rng.randrange(65536),
                   ttl=64, tos=rng.choice((0, 0xB8)))
    data = len(whole) - (whole[0] & 0x0F) * 4
    pieces = p.fragment_v4(whole, _cut_sizes(rng, data)) if data > 8 else [whole]
    if len(pieces) == 1:
        # a single fragment: MF on, or (for a complete one) an offset
        piece = bytearray(whole)
        struct.pack_into("!H", piece, 6, 0x2000 if incomplete else
                         rng.choice((0x2000, 0x6000, 0x0001, 0x1FFF)))
        pieces = [p.repair(bytes(piece), lengths=False)]
    pieces, ops = _fragment_ops(rng, pieces, v6=False, incomplete=incomplete)
    return tuple(pieces), f"{note} {option_note} in {len(pieces)} fragments {ops}".strip()


def _echo_body(rng: random.Random, most: int) -> tuple[bytes, str]:
    size = rng.choice((8, 24, 100, 1472, 1480, 2000, rng.randrange(most + 1)))
    size = min(size, most)
    return p.icmp4(8, 0, struct.pack("!HH", rng.randrange(65536), rng.randrange(65536)),
                   bytes(rng.randrange(256) for _ in range(size))), f"echo {size}"


def _fragments6(rng: random.Random, src: str, incomplete: bool) -> tuple[tuple[bytes, ...], str]:
    if rng.random() < 0.6:
        size = min(rng.choice((8, 24, 100, 1232, 1452, 2000, rng.randrange(3000))),
                   64 if incomplete else 3000)
        upper, protocol = p.icmp6(src, HOST6, 128, 0, struct.pack("!HH", 1, 1),
                                  bytes(rng.randrange(256) for _ in range(size))), 58
        note = f"echo {size}"
    else:
        protocol, upper, note = _upper6(rng, src, HOST6)
    whole = p.ipv6(src, HOST6, protocol, upper)
    ident = rng.randrange(1 << 32)
    data = len(whole) - 40
    pieces = p.fragment_v6(whole, _cut_sizes(rng, data), ident) if data > 8 else \
        p.fragment_v6(whole, [], ident)
    if not pieces:  # nothing to cut: one empty first fragment, M set
        body = p.fragment_header(protocol, 0, True, ident)
        pieces = [p.ipv6(src, HOST6, 44, body)]
    if rng.random() < 0.15:  # an extension header before the Fragment header
        kind = rng.choice((0, 60))
        header = _ext_header(rng, kind, 44)
        pieces = [_prepend_v6(piece, kind, header) for piece in pieces]
        note += " behind ext"
    pieces, ops = _fragment_ops(rng, pieces, v6=True, incomplete=incomplete)
    return tuple(pieces), f"{note} in {len(pieces)} fragments {ops}".strip()


def _prepend_v6(packet: bytes, kind: int, header: bytes) -> bytes:
    """Insert extension header ``header`` of type ``kind`` (whose own next header is the
    packet's first) right after the fixed header."""
    fixed = bytearray(packet[:40])
    fixed[6] = kind
    struct.pack_into("!H", fixed, 4, len(packet) - 40 + len(header))
    return bytes(fixed) + header + packet[40:]


# -- the families ----------------------------------------------------------------------------

def _ipv4_single(rng: random.Random, peer: Peer) -> tuple[tuple[bytes, ...], str]:
    src, dst = peer.v4, HOST4
    where = rng.random()
    if where < 0.06:
        dst = rng.choice((BROADCAST4, "255.255.255.255", "224.0.0.1", OTHER4, "127.0.0.1"))
    elif where < 0.1:
        src = rng.choice(("0.0.0.0", "127.0.0.1", HOST4, "224.0.0.5", BROADCAST4))
    protocol, upper, note = _upper4(rng, src, dst)
    packet, damage = _damage(rng, _ip4(rng, src, dst, protocol, upper))
    return (packet,), f"{note}{damage}" + (f" {src}→{dst}" if where < 0.1 else "")


def _ipv4_options(rng: random.Random, peer: Peer) -> tuple[tuple[bytes, ...], str]:
    options, names = _v4_options(rng, peer.v4)
    dst = OTHER4 if rng.random() < 0.08 else HOST4
    if rng.random() < 0.5:
        protocol, upper, note = 1, *_echo_body(rng, 200)
    else:
        protocol, upper, note = _upper4(rng, peer.v4, dst)
    packet, damage = _damage(rng, _ip4(rng, peer.v4, dst, protocol, upper, options))
    return (packet,), f"options {names} / {note}{damage}"


def _ipv6_single(rng: random.Random, peer: Peer) -> tuple[tuple[bytes, ...], str]:
    src, dst = rng.choice((peer.v6, peer.v6, peer.ll)), rng.choice((HOST6, HOST6, HOST_LL))
    where = rng.random()
    if where < 0.08:
        dst = rng.choice(("ff02::1", "ff02::1:ff00:2", "ff02::2", OTHER6, "::1", "ff05::1"))
    elif where < 0.12:
        src = rng.choice(("::", "::1", HOST6, "ff02::1", "::ffff:10.0.0.1"))
    next_header, upper, note = _upper6(rng, src, dst)
    packet, damage = _damage(rng, _ip6(rng, src, dst, next_header, upper))
    return (packet,), f"{note}{damage}" + (f" {src}→{dst}" if where < 0.12 else "")


def _ipv6_ext(rng: random.Random, peer: Peer) -> tuple[tuple[bytes, ...], str]:
    packet, note = _v6_chain_case(rng, peer.v6, HOST6 if rng.random() < 0.9 else "ff02::1")
    packet, damage = _damage(rng, packet)
    return (packet,), note + damage


def _multi(rng: random.Random, peer: Peer) -> tuple[tuple[bytes, ...], str]:
    count = rng.choice((2, 3, 4, 8))
    v6 = rng.random() < 0.5
    packets: list[bytes] = []
    notes: list[str] = []
    same = rng.random() < 0.4  # the same packet again and again: rate limits
    for position in range(count):
        if same and position:
            packets.append(packets[0])
            continue
        family = _ipv6_single if v6 else _ipv4_single
        built, note = (family if rng.random() < 0.7 else (_ipv6_ext if v6 else _ipv4_options))(
            rng, peer)
        packets += built
        notes.append(note)
    return tuple(packets), f"{count} packets: " + "; ".join(notes) + (" (repeated)" if same else "")


class _Mutations:
    """Mutations of the fuzz seeds, moved to the case's peer."""

    def __init__(self) -> None:
        from fuzz.seeds import PEER4, PEER6, PEER6_LL, ipv4_seeds, ipv6_seeds

        self.seeds = sorted({**ipv4_seeds(), **ipv6_seeds()}.items())
        self.old = Peer(PEER4, PEER6, PEER6_LL)

    def __call__(self, rng: random.Random, peer: Peer) -> tuple[tuple[bytes, ...], str]:
        name, seed = rng.choice(self.seeds)
        mutator = PacketMutator(rng, lambda data, size: python_byte_mutate(data, size, rng),
                                [packet for _, packet in self.seeds])
        packet = _move(seed, self.old, peer)
        for _ in range(rng.choice((1, 1, 2, 3))):
            packet = mutator.mutate_packet(packet, 4096)
        moved = _move(packet, self.old, peer)
        return (moved,), f"seed {name} mutated"


_MUTATIONS: _Mutations | None = None


def _mutated(rng: random.Random, peer: Peer) -> tuple[tuple[bytes, ...], str]:
    global _MUTATIONS
    if _MUTATIONS is None:
        _MUTATIONS = _Mutations()
    return _MUTATIONS(rng, peer)


Builder = Callable[[random.Random, Peer], tuple[tuple[bytes, ...], str]]
_BUILDERS: dict[str, Builder] = {
    "ipv4.single": _ipv4_single,
    "ipv4.options": _ipv4_options,
    "ipv4.fragments": lambda rng, peer: _fragments4(rng, peer.v4, incomplete=False),
    "ipv4.timeouts": lambda rng, peer: _fragments4(rng, peer.v4, incomplete=True),
    "ipv6.single": _ipv6_single,
    "ipv6.ext": _ipv6_ext,
    "ipv6.fragments": lambda rng, peer: _fragments6(rng, peer.v6, incomplete=False),
    "ipv6.timeouts": lambda rng, peer: _fragments6(rng, peer.v6, incomplete=True),
    "multi": _multi,
    "mutated": _mutated,
}


def case_for(seed: int, index: int) -> DiffCase:
    """Case ``index`` of seed ``seed``: the same bytes on every run and machine."""
    rng = random.Random(f"{seed}/{index}")
    family = rng.choices(FAMILIES, _WEIGHTS)[0]
    packets, note = _BUILDERS[family](rng, peer_of(index))
    return DiffCase(seed, index, family, note, tuple(packets[:16]))


def generate(seed: int, count: int, start: int = 1) -> list[DiffCase]:
    """``count`` cases of seed ``seed``, indices from ``start`` (0 is never used: its
    IPv4 peer would be 10.0.0.0)."""
    return [case_for(seed, index) for index in range(start, start + count)]
