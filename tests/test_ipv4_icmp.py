"""Rules 6-10: ICMP errors (RFC 792, RFC 1122 §3.2.2, RFC 1812 §4.3.2.7 as Linux's
icmp_send applies them), TCP closed ports, broadcast and multicast, other ICMP, and the
UDP echo service, through ``Host.handle``."""

from __future__ import annotations

import socket

import pytest
from test_ipv4_support import (
    PEER,
    US,
    echo_request,
    header_ok,
    host,
    icmp,
    icmp_ok,
    ipv4,
    tcp,
    udp,
)

from stack.host.ipv4 import ms_since_midnight


def closed_udp(data: bytes = b"data", src: str = PEER, dst: str = US, **ip: object) -> bytes:
    return ipv4(udp(src, dst, 5000, 9, data), protocol=17, src=src, dst=dst, **ip)  # type: ignore[arg-type]


def test_port_unreachable_quotes_the_datagram() -> None:
    h = host()
    request = closed_udp(tos=0x03)
    (error,) = h.handle(request, 0.0)
    assert error[:2] == b"\x45\xc2"  # TOS: precedence 0xc0 | (tos & 0x1e)
    assert error[6:10] == b"\x00\x00\x40\x01" and error[12:20] == socket.inet_aton(US) + \
        socket.inet_aton(PEER)
    assert error[20:24] == b"\x03\x03" + error[22:24] and error[24:28] == bytes(4)
    assert error[28:] == request
    assert header_ok(error) and icmp_ok(error)
    assert h.stats.replies == {"icmp.port_unreachable": 1}


@pytest.mark.parametrize(("tos", "expected"), [(0xFF, 0xDE), (0x1C, 0xDC), (0xE0, 0xC0),
                                               (0x02, 0xC2), (0x00, 0xC0)])
def test_error_tos_is_precedence_c0_with_the_tos_bits(tos: int, expected: int) -> None:
    (error,) = host().handle(closed_udp(tos=tos), 0.0)
    assert error[1] == expected


def test_error_is_at_most_576_bytes() -> None:
    request = closed_udp(bytes(1000))
    (error,) = host().handle(request, 0.0)
    assert len(error) == 576 and error[28:] == request[:548]
    assert icmp_ok(error)


def test_quote_is_trimmed_to_the_udp_length() -> None:
    segment = udp(PEER, US, 1, 9, b"")
    request = ipv4(segment + bytes(100), protocol=17)
    (error,) = host().handle(request, 0.0)
    assert error[28:] == request[:28]  # header (total length 128 kept) and 8 UDP bytes


def test_protocol_unreachable() -> None:
    h = host()
    request = ipv4(bytes(40), protocol=132)
    (error,) = h.handle(request, 0.0)
    assert error[20:22] == b"\x03\x02" and error[28:] == request
    assert h.stats.replies == {"icmp.protocol_unreachable": 1}


def test_igmp_is_consumed() -> None:
    h = host()
    assert h.handle(ipv4(bytes(8), protocol=2), 0.0) == []
    assert h.stats.drops == {"igmp.ignored": 1}


@pytest.mark.parametrize(("packet", "reason"), [
    (ipv4(icmp(3, 3, bytes(4), bytes(28)), options=bytes([148, 2, 0, 0])),
     "icmp.no_error_for_icmp_error"),
    (ipv4(icmp(30, 0), options=bytes([148, 2, 0, 0])), "icmp.no_error_for_icmp_error"),
    (ipv4(b"", options=bytes([148, 2, 0, 0])), "icmp.no_error_for_icmp_error"),
    (closed_udp(dst="172.16.0.255"), "icmp.no_error_for_broadcast"),
    (closed_udp(dst="255.255.255.255"), "icmp.no_error_for_broadcast"),
    (closed_udp(dst="224.0.0.1"), "icmp.no_error_for_broadcast"),
    (ipv4(bytes(8), protocol=253, dst="172.16.0.255"), "icmp.no_error_for_broadcast"),
    (ipv4(bytes(16), protocol=253, flags_offset=0x2003, options=bytes([148, 2, 0, 0])),
     "icmp.no_error_for_fragment"),
], ids=lambda value: value if isinstance(value, str) else "")
def test_errors_never_sent_about(packet: bytes, reason: str) -> None:
    h = host()
    assert h.handle(packet, 0.0) == []
    assert h.stats.drops == {reason: 1}


def test_error_about_an_echo_request_is_allowed() -> None:
    (error,) = host().handle(echo_request(options=bytes([148, 2, 0, 0])), 0.0)
    assert error[20] == 12


def test_per_peer_rate_limit_burst_6_then_1_per_second() -> None:
    h = host()
    sent = [len(h.handle(closed_udp(), 10.0 + i * 0.01)) for i in range(10)]
    assert sent == [1] * 6 + [0] * 4
    assert h.stats.drops == {"icmp.rate_limited": 4}
    assert h.handle(closed_udp(), 10.09 + 1.0) != []  # a token a second
    assert h.handle(closed_udp(), 11.2) == []
    other = closed_udp(src="172.16.0.77")
    assert h.handle(other, 11.2) != []  # another peer has its own bucket


def test_global_rate_limit_burst_50() -> None:
    # icmp_global_allow: 50 banked; when they run out the bank refills by 1000/s for the
    # time since the last refill (at most a second, at least 20 ms apart). The first
    # refill finds a stamp a second or more old, so it is a full 50.
    h = host()

    def burst(count: int, now: float, base: int) -> int:
        return sum(len(h.handle(closed_udp(src=f"10.{base}.{n // 200}.{n % 200 + 1}"), now))
                   for n in range(count))

    assert burst(150, 5.0, 1) == 100
    assert h.stats.drops == {"icmp.global_rate_limited": 50}
    assert burst(10, 5.01, 2) == 0  # under 20 ms since the refill
    assert burst(50, 5.03, 3) == 30  # 30 ms at 1000/s


def test_echo_replies_are_not_rate_limited() -> None:
    h = host()
    assert sum(len(h.handle(echo_request(sequence=n), 1.0)) for n in range(100)) == 100


def test_ratemask_decides_what_is_limited() -> None:
    h = host(icmp_ratemask=0)
    assert sum(len(h.handle(closed_udp(), 1.0)) for _ in range(20)) == 20


# -- Rule 7: TCP closed ports -------------------------------------------------------------

def test_syn_gets_rst_ack_with_df_and_id_0() -> None:
    h = host()
    (reset,) = h.handle(ipv4(tcp(PEER, US, 0x02, seq=0x12345678), protocol=6, tos=0x13), 0.0)
    assert reset[:12] == bytes.fromhex("45100028 0000 4000 4006") + reset[10:12]
    assert reset[20:34] == bytes.fromhex("00509c40 00000000 12345679 5014")
    assert reset[34:36] == b"\x00\x00" and reset[38:40] == b"\x00\x00"
    assert header_ok(reset)
    assert h.stats.replies == {"tcp.rst": 1}
    assert h.next_ipv4_id(socket.inet_aton(PEER)) == 0  # the RST took no identification


def test_nothing_answers_a_rst() -> None:
    h = host()
    assert h.handle(ipv4(tcp(PEER, US, 0x14, seq=1, ack=2), protocol=6), 0.0) == []
    assert h.stats.drops == {"tcp.rst_ignored": 1}


def test_tcp_to_broadcast_is_dropped() -> None:
    h = host()
    segment = tcp(PEER, "172.16.0.255", 0x02)
    assert h.handle(ipv4(segment, protocol=6, dst="172.16.0.255"), 0.0) == []
    assert h.stats.drops == {"tcp.not_unicast": 1}


def test_bad_udp_checksum_is_dropped_and_zero_means_none() -> None:
    h = host()
    bad = bytearray(closed_udp())
    bad[-1] ^= 0xFF
    assert h.handle(bytes(bad), 0.0) == []
    assert h.stats.drops == {"udp.bad_checksum": 1}
    none = bytearray(closed_udp())
    none[26:28] = b"\x00\x00"
    assert len(h.handle(bytes(none), 0.0)) == 1


# -- Rule 8: broadcast and multicast ------------------------------------------------------

@pytest.mark.parametrize("dst", ["172.16.0.255", "255.255.255.255", "224.0.0.1"])
def test_echo_to_broadcast_ignored_by_default(dst: str) -> None:
    h = host()
    assert h.handle(echo_request(dst=dst), 0.0) == []
    assert h.stats.drops == {"icmp.broadcast_ignored": 1}


@pytest.mark.parametrize("dst", ["172.16.0.255", "255.255.255.255", "224.0.0.1"])
def test_echo_to_broadcast_answered_with_the_switch(dst: str) -> None:
    (reply,) = host(echo_ignore_broadcasts=False).handle(echo_request(dst=dst), 0.0)
    assert reply[12:20] == socket.inet_aton(US) + socket.inet_aton(PEER)
    assert header_ok(reply) and icmp_ok(reply)


def test_no_broadcast_address_on_a_31_bit_prefix() -> None:
    from stack import Host, HostConfig
    h = Host(HostConfig(ipv4="172.16.0.2/31"))
    assert h.handle(echo_request(src="172.16.0.3", dst="172.16.0.3"), 0.0) == []
    assert h.stats.drops == {"ipv4.not_ours": 1}


# -- Rule 9: other ICMP --------------------------------------------------------------------

@pytest.mark.parametrize(("message", "reason"), [
    (icmp(0, 0, b"\x00\x01\x00\x02"), "icmp.echo_reply_consumed"),
    (icmp(3, 1, bytes(4), echo_request()), "icmp.error_consumed"),
    (icmp(11, 0, bytes(4), echo_request()), "icmp.error_consumed"),
    (icmp(3, 1, bytes(4), bytes(10)), "icmp.bad_error_quote"),
    (icmp(5, 0, bytes(4), echo_request()), "icmp.redirect_ignored"),
    (icmp(14, 0, bytes(4), bytes(12)), "icmp.timestamp_reply_consumed"),
    (icmp(15, 0), "icmp.information_ignored"),
    (icmp(17, 0, bytes(4), bytes(4)), "icmp.address_mask_ignored"),
    (icmp(9, 0), "icmp.router_discovery_ignored"),
    (icmp(7, 0), "icmp.unassigned_type"),
    (icmp(19, 0), "icmp.unknown_type"),
    (icmp(8, 0)[:7], "icmp.truncated"),
], ids=lambda value: value if isinstance(value, str) else "")
def test_consumed_and_counted(message: bytes, reason: str) -> None:
    h = host()
    assert h.handle(ipv4(message), 0.0) == []
    assert h.stats.drops == {reason: 1}


def test_timestamp_reply_as_linux_builds_it() -> None:
    now = 1_700_000_000.123
    stamp = ms_since_midnight(now).to_bytes(4, "big")
    request = ipv4(icmp(13, 3, b"\x00\x01\x00\x02", b"\x11\x11\x11\x11" + bytes(20)), tos=0x5B)
    (reply,) = host().handle(request, now)
    assert reply[1] == 0x5B and reply[2:4] == (40).to_bytes(2, "big")
    assert reply[20:22] == b"\x0e\x00"  # code forced to 0
    assert reply[24:] == b"\x00\x01\x00\x02\x11\x11\x11\x11" + stamp + stamp
    assert icmp_ok(reply) and header_ok(reply)


def test_short_timestamp_and_switch() -> None:
    h = host()
    assert h.handle(ipv4(icmp(13, 0, bytes(4), bytes(3))), 0.0) == []
    assert h.stats.drops == {"icmp.timestamp_truncated": 1}
    h = host(timestamp_replies=False)
    assert h.handle(ipv4(icmp(13, 0, bytes(4), bytes(12))), 0.0) == []
    assert h.stats.drops == {"icmp.timestamp_ignored": 1}


# -- Rule 10: the UDP echo service (RFC 862) ----------------------------------------------

def test_udp_echo_service_on_configured_ports() -> None:
    h = host(udp_echo_ports=[7])
    request = ipv4(udp(PEER, US, 5000, 7, b"hello"), protocol=17, tos=0x10)
    (reply,) = h.handle(request, 0.0)
    assert reply[1] == 0 and reply[6:10] == b"\x00\x00\x40\x11"
    assert reply[20:] == udp(US, PEER, 7, 5000, b"hello")
    assert header_ok(reply)
    assert h.stats.replies == {"udp.echo_reply": 1}


def test_udp_echo_is_off_by_default_and_not_for_broadcast() -> None:
    assert host().handle(ipv4(udp(PEER, US, 5000, 7, b"x"), protocol=17), 0.0)[0][20] == 3
    h = host(udp_echo_ports=[7])
    to_all = ipv4(udp(PEER, "172.16.0.255", 5000, 7, b"x"), protocol=17, dst="172.16.0.255")
    assert h.handle(to_all, 0.0) == []


def test_big_udp_echo_reply_is_fragmented() -> None:
    h = host(udp_echo_ports=[7], mtu=1280)
    data = bytes(range(256)) * 8
    pieces = []
    for piece in _fragments_of(udp(PEER, US, 5000, 7, data)):
        pieces += h.handle(piece, 0.0)
    assert [len(p) for p in pieces] == [1276, 820]  # 2056 UDP bytes: 1256 + 800
    assert b"".join(p[20:] for p in pieces) == udp(US, PEER, 7, 5000, data)


def _fragments_of(segment: bytes) -> list[bytes]:
    from test_ipv4_support import fragments
    return fragments(segment, [(0, 1480, True), (1480, len(segment) - 1480, False)],
                     protocol=17)
