"""The header codecs: stack/wire/ipv4.py, icmpv4.py, udp.py, tcp.py."""

from __future__ import annotations

import dpkt
from test_ipv4_support import PEER, US, header_ok, ipv4, tcp, udp

from stack.wire import icmpv4
from stack.wire import ipv4 as wire
from stack.wire import tcp as tcp_wire
from stack.wire import udp as udp_wire

REQUEST = bytes.fromhex(
    "45000054812840004001615dac100001ac100002080054f5000d0001a1fb006a0000000041c400"
    "0000000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031"
    "323334353637")


def test_parse_the_origin_request() -> None:
    header = wire.parse(REQUEST)
    assert header is not None
    assert (header.ihl, header.tos, header.total_length, header.ident, header.ttl,
            header.protocol, header.checksum) == (5, 0, 84, 0x8128, 64, 1, 0x615D)
    assert header.dont_fragment and not header.more_fragments and not header.is_fragment
    assert header.offset == 0 and header.header_len == 20 and header.options == b""
    assert wire.header_checksum_ok(REQUEST[:20])


def test_parse_refuses_what_is_not_a_whole_header() -> None:
    assert wire.parse(REQUEST[:19]) is None
    assert wire.parse(b"\x65" + REQUEST[1:]) is None
    assert wire.parse(b"\x44" + REQUEST[1:]) is None
    assert wire.parse(b"\x4f" + REQUEST[1:40]) is None


def test_fragment_fields() -> None:
    header = wire.parse(ipv4(b"x" * 8, flags_offset=0x2000 | 185))
    assert header is not None
    assert header.more_fragments and header.is_fragment and header.offset == 1480


def test_emit_matches_dpkt() -> None:
    packet = wire.emit(tos=0x10, ident=7, flags_offset=wire.FLAG_DF, ttl=64, protocol=17,
                       src=bytes([1, 2, 3, 4]), dst=bytes([5, 6, 7, 8]), payload=b"abc",
                       options=bytes([1, 1, 1, 0]))
    parsed = dpkt.ip.IP(packet)
    assert (parsed.hl, parsed.tos, parsed.len, parsed.id, parsed.df, parsed.ttl) == \
        (6, 0x10, 27, 7, 1, 64)
    assert header_ok(packet)
    assert wire.with_checksum(packet[:10] + b"\x12\x34" + packet[12:24]) == packet[:24]


def test_fragment_keeps_copied_options_and_blanks_the_rest() -> None:
    options = bytes([7, 7, 8]) + bytes(4) + bytes([131, 7, 4]) + bytes(4) + bytes([1, 0])
    packet = ipv4(bytes(range(200)), options=options, ident=9)
    pieces = wire.fragment(packet, 100)
    assert [len(p) for p in pieces] == [100, 100, 100, 44]  # 64 data bytes each, then 8
    assert pieces[0][20:36] == options
    assert pieces[1][20:36] == bytes([1] * 7) + bytes([131, 7, 4]) + bytes(4) + bytes([1, 0])
    assert all(header_ok(p) for p in pieces)
    assert b"".join(p[36:] for p in pieces) == bytes(range(200))
    assert [int.from_bytes(p[6:8], "big") for p in pieces] == [0x2000, 0x2008, 0x2010, 0x0018]


def test_fragment_leaves_what_fits_or_may_not_be_split() -> None:
    packet = ipv4(bytes(100))
    assert wire.fragment(packet, 120) == [packet]
    assert wire.fragment(ipv4(bytes(100), flags_offset=wire.FLAG_DF), 60) == \
        [ipv4(bytes(100), flags_offset=wire.FLAG_DF)]
    assert wire.fragment(packet, 27) == [packet]  # no room for 8 data bytes


def test_refragmenting_a_fragment_keeps_its_place() -> None:
    piece = ipv4(bytes(64), flags_offset=0x2000 | 10)
    a, b = wire.fragment(piece, 52)
    assert int.from_bytes(a[6:8], "big") == 0x2000 | 10
    assert int.from_bytes(b[6:8], "big") == 0x2000 | 14


def test_icmp_codec() -> None:
    message = icmpv4.emit(icmpv4.ECHO_REQUEST, 0, b"\x00\x01\x00\x02", b"hi")
    assert icmpv4.parse(message) == icmpv4.IcmpHeader(8, 0, int.from_bytes(message[2:4], "big"),
                                                      b"\x00\x01\x00\x02")
    assert icmpv4.parse(message[:7]) is None
    assert dpkt.icmp.ICMP(message).sum == int.from_bytes(message[2:4], "big")


def test_udp_codec() -> None:
    address_sum = int.from_bytes(bytes([172, 16, 0, 1, 172, 16, 0, 2]), "big")
    segment = udp_wire.emit(5000, 7, b"hello", address_sum)
    assert segment == udp(PEER, US, 5000, 7, b"hello")
    assert udp_wire.parse(segment) == udp_wire.UdpHeader(5000, 7, 13, segment[6] << 8 | segment[7])
    assert udp_wire.parse(segment[:7]) is None


def test_tcp_codec() -> None:
    address_sum = int.from_bytes(bytes([172, 16, 0, 1, 172, 16, 0, 2]), "big")
    segment = tcp_wire.emit(40000, 80, 5, 9, tcp_wire.SYN | tcp_wire.ACK, 512, address_sum,
                            b"abc")
    assert segment == tcp(PEER, US, 0x12, seq=5, ack=9, data=b"abc")
    header = tcp_wire.parse(segment)
    assert header is not None and header.header_len == 20 and header.flags == 0x12
    assert tcp_wire.parse(segment[:19]) is None
