"""Closed-port UDP/TCP answers (stack/host/transport.py), checked against segments that
dpkt builds and checksums independently."""

from __future__ import annotations

import socket

import dpkt
import pytest

from stack.host.transport import PORT_UNREACHABLE, tcp_input, udp_input
from stack.wire.checksum import incremental_update, is_valid

PEER = socket.inet_aton("172.16.0.1")
US = socket.inet_aton("172.16.0.2")
ADDRESS_SUM = int.from_bytes(PEER + US, "big")


def tcp_segment(flags: int, seq: int = 1000, ack: int = 0, payload: bytes = b"",
                opts: bytes = b"", sport: int = 40000, dport: int = 80) -> bytes:
    segment = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags,
                           win=64240, opts=opts, data=payload)
    segment.off = 5 + len(opts) // 4
    packet = dpkt.ip.IP(src=PEER, dst=US, p=6, data=segment)
    return bytes(packet)[20:]


def udp_segment(payload: bytes, sport: int = 5000, dport: int = 7) -> bytes:
    packet = dpkt.ip.IP(src=PEER, dst=US, p=17,
                        data=dpkt.udp.UDP(sport=sport, dport=dport, ulen=8 + len(payload),
                                          data=payload))
    return bytes(packet)[20:]


def tcp_checksum_ok(segment: bytes) -> bool:
    return is_valid(segment, ADDRESS_SUM + 6 + len(segment))


# -- TCP (RFC 9293 §3.10.7.1, Linux tcp_v4_send_reset) ----------------------------------

def test_syn_gets_rst_ack_with_ack_seq_plus_one() -> None:
    reply = tcp_input(tcp_segment(dpkt.tcp.TH_SYN, seq=0x12345678,
                                  opts=b"\x02\x04\x05\xb4\x01\x01\x04\x02"), ADDRESS_SUM)
    assert isinstance(reply, bytes)
    assert reply[:16] == bytes.fromhex("0050 9c40 00000000 12345679 5014 0000")
    assert reply[18:] == b"\x00\x00"
    assert tcp_checksum_ok(reply)


def test_ack_segment_gets_bare_rst_with_seq_from_ack() -> None:
    reply = tcp_input(tcp_segment(dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH, seq=7, ack=0xdeadbeef,
                                  payload=b"hello"), ADDRESS_SUM)
    assert isinstance(reply, bytes)
    assert reply[:16] == bytes.fromhex("0050 9c40 deadbeef 00000000 5004 0000")
    assert tcp_checksum_ok(reply)


def test_syn_fin_and_payload_all_count_in_the_ack() -> None:
    reply = tcp_input(tcp_segment(dpkt.tcp.TH_SYN | dpkt.tcp.TH_FIN, seq=0xFFFFFFFE,
                                  payload=b"abc"), ADDRESS_SUM)
    assert isinstance(reply, bytes)
    assert reply[8:12] == (0xFFFFFFFE + 5 - (1 << 32)).to_bytes(4, "big")  # wraps
    assert tcp_checksum_ok(reply)


def test_bare_segment_without_flags_gets_rst_ack() -> None:
    reply = tcp_input(tcp_segment(0, seq=100, payload=b"xy"), ADDRESS_SUM)
    assert isinstance(reply, bytes)
    assert reply[8:14] == bytes.fromhex("00000066 5014")


def test_rst_is_never_answered() -> None:
    assert tcp_input(tcp_segment(dpkt.tcp.TH_RST), ADDRESS_SUM) == "tcp.rst_ignored"
    assert tcp_input(tcp_segment(dpkt.tcp.TH_RST | dpkt.tcp.TH_ACK, ack=5),
                     ADDRESS_SUM) == "tcp.rst_ignored"


def test_bad_tcp_checksum_is_dropped() -> None:
    segment = bytearray(tcp_segment(dpkt.tcp.TH_SYN))
    segment[16] ^= 0x01
    assert tcp_input(bytes(segment), ADDRESS_SUM) == "tcp.bad_checksum"


def test_checksum_uses_both_addresses() -> None:
    other = int.from_bytes(PEER + socket.inet_aton("172.16.0.3"), "big")
    assert tcp_input(tcp_segment(dpkt.tcp.TH_SYN), other) == "tcp.bad_checksum"


@pytest.mark.parametrize(("segment", "reason"), [
    (b"", "tcp.truncated"),
    (bytes(19), "tcp.truncated"),
    (bytes(12) + b"\x40" + bytes(7), "tcp.bad_offset"),
    (bytes(12) + b"\x60" + bytes(7), "tcp.truncated"),
])
def test_malformed_tcp_headers(segment: bytes, reason: str) -> None:
    assert tcp_input(segment, ADDRESS_SUM) == reason


# -- UDP (RFC 768, RFC 862, Linux __udp4_lib_rcv) ------------------------------------------

def test_closed_udp_port_asks_for_port_unreachable() -> None:
    assert udp_input(udp_segment(b"data", dport=9), ADDRESS_SUM, False, ()) == PORT_UNREACHABLE


def test_udp_echo_swaps_ports_and_keeps_data() -> None:
    request = udp_segment(b"hello, odd", sport=5000, dport=7)
    reply = udp_input(request, ADDRESS_SUM, False, frozenset({7}))
    assert isinstance(reply, bytes)
    assert reply == udp_segment(b"hello, odd", sport=7, dport=5000)


def test_udp_echo_without_checksum_gets_one() -> None:
    request = bytearray(udp_segment(b"abc"))
    request[6:8] = b"\x00\x00"
    reply = udp_input(bytes(request), ADDRESS_SUM, False, {7})
    assert reply == udp_segment(b"abc", sport=7, dport=5000)


def test_zero_checksum_required_over_ipv6() -> None:
    request = bytearray(udp_segment(b"abc"))
    request[6:8] = b"\x00\x00"
    assert udp_input(bytes(request), ADDRESS_SUM, True, {7}) == "udp.no_checksum"


def test_bad_udp_checksum_is_dropped_not_answered() -> None:
    request = bytearray(udp_segment(b"abc", dport=9))
    request[-1] ^= 0xFF
    assert udp_input(bytes(request), ADDRESS_SUM, False, ()) == "udp.bad_checksum"


def test_bytes_beyond_udp_length_are_trimmed() -> None:
    request = udp_segment(b"abcd")
    reply = udp_input(request + b"trailing", ADDRESS_SUM, False, {7})
    assert reply == udp_segment(b"abcd", sport=7, dport=5000)


@pytest.mark.parametrize(("length", "reason"), [(7, "udp.bad_length"),
                                                 (0, "udp.bad_length"),
                                                 (13, "udp.bad_length")])
def test_bad_udp_length(length: int, reason: str) -> None:
    request = bytearray(udp_segment(b"abcd"))
    request[4:6] = length.to_bytes(2, "big")
    assert udp_input(bytes(request), ADDRESS_SUM, False, ()) == reason


def test_zero_length_is_the_whole_payload_for_ipv6_jumbo_rule() -> None:
    request = bytearray(udp_segment(b"abcd"))
    request[4:6] = b"\x00\x00"
    # The checksum was computed with length 12 in the pseudo-header and header; with a
    # zero length field the header sum changes by 12, so fix the checksum for that.
    stored = int.from_bytes(request[6:8], "big")
    request[6:8] = incremental_update(stored, 12, 0).to_bytes(2, "big")
    assert udp_input(bytes(request), ADDRESS_SUM, True, (), zero_length_is_jumbo=True) \
        == PORT_UNREACHABLE


def test_truncated_udp_and_port_zero() -> None:
    assert udp_input(b"\x00" * 7, ADDRESS_SUM, False, ()) == "udp.truncated"
    assert udp_input(udp_segment(b"x", sport=0), ADDRESS_SUM, False, {7}) \
        == "udp.echo_from_port_zero"
