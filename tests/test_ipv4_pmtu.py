"""Rule 4's fragmentation of replies and rule 5's path MTU (RFC 791 §3.2, RFC 1191 §6.3;
Linux ip_fragment, icmp_unreach → icmp_err → ipv4_update_pmtu, __ip_rt_update_pmtu)."""

from __future__ import annotations

import socket

from test_ipv4_support import (
    PEER,
    US,
    echo_request,
    fragments,
    header_ok,
    host,
    icmp,
    icmp_ok,
    ipv4,
    udp,
)

from stack import Host

PING_3000 = icmp(8, 0, b"\x00\x09\x00\x01", bytes(range(256)) * 11 + bytes(184))  # 3008


def ping_3000(h: Host, src: str = PEER, now: float = 0.0) -> list[bytes]:
    out: list[bytes] = []
    for piece in fragments(PING_3000, [(0, 1480, True), (1480, 1480, True),
                                       (2960, 48, False)], src=src):
        out += h.handle(piece, now)
    return out


def reassemble(pieces: list[bytes]) -> bytes:
    data = b"".join(p[(p[0] & 0x0F) * 4:] for p in pieces)
    return data


def test_ping_s_3000_gets_a_fragmented_reply() -> None:
    h = host()
    pieces = ping_3000(h)
    assert [len(p) for p in pieces] == [1500, 1500, 68]
    assert [p[6:8].hex() for p in pieces] == ["2000", "20b9", "0172"]  # MF; offsets 0/185/370
    assert len({p[4:6] for p in pieces}) == 1  # one identification
    assert all(header_ok(p) and p[8] == 64 for p in pieces)
    message = reassemble(pieces)
    assert message[:2] == b"\x00\x00" and message[4:] == PING_3000[4:]
    assert icmp_ok(bytes(20) + message)


def test_reply_fragments_follow_the_configured_mtu() -> None:
    pieces = ping_3000(host(mtu=1280))
    assert [len(p) for p in pieces] == [1276, 1276, 516]
    assert all(len(p) <= 1280 for p in pieces)


def frag_needed(mtu: int, quoted: bytes, src: str = PEER) -> bytes:
    return ipv4(icmp(3, 4, mtu.to_bytes(4, "big"), quoted[:28]), src=src)


def our_echo_reply(h: Host, src: str = PEER) -> bytes:
    return h.handle(echo_request(bytes(1300), src=src), 0.0)[0]


def test_frag_needed_about_our_echo_reply_lowers_the_path_mtu() -> None:
    h = host()
    assert h.handle(frag_needed(1000, our_echo_reply(h)), 1.0) == []
    assert h.stats.drops["icmp.frag_needed_consumed"] == 1
    assert h.stats.events["pmtu.updated"] == 1
    pieces = h.handle(echo_request(bytes(1300)), 2.0)
    assert [len(p) for p in pieces] == [996, 352]
    other = h.handle(echo_request(bytes(1300), src="172.16.0.9"), 2.0)
    assert [len(p) for p in other] == [1328]


def test_frag_needed_below_min_pmtu_pins_552() -> None:
    h = host()
    h.handle(frag_needed(300, our_echo_reply(h)), 1.0)
    assert [len(p) for p in h.handle(echo_request(bytes(1300)), 2.0)] == [548, 548, 272]
    h.handle(frag_needed(0, our_echo_reply(h)), 3.0)
    assert [len(p) for p in h.handle(echo_request(bytes(1300)), 4.0)] == [548, 548, 272]


def test_icmp_error_room_follows_the_path_mtu() -> None:
    h = host()
    h.handle(frag_needed(300, our_echo_reply(h)), 1.0)
    request = ipv4(udp(PEER, US, 1, 9, bytes(1000)), protocol=17)
    (error,) = h.handle(request, 2.0)
    assert len(error) == 552 and error[28:] == request[:524]


def test_frag_needed_only_about_an_echo_reply_from_us() -> None:
    h = host()
    crafted = ipv4(icmp(0, 0, b"\x00\x01\x00\x01"), src=US, dst=PEER)
    h.handle(frag_needed(1000, crafted), 1.0)  # never sent, but it is ours: Linux obeys
    assert h.stats.events["pmtu.updated"] == 1
    udp_quote = ipv4(udp(US, "172.16.0.9", 9, 1, b"abcd"), protocol=17, src=US,
                     dst="172.16.0.9")
    foreign = ipv4(icmp(0, 0, b"\x00\x01\x00\x01"), src="172.16.0.5", dst="172.16.0.8")
    request_quote = ipv4(icmp(8, 0, b"\x00\x01\x00\x01"), src=US, dst="172.16.0.7")
    for quote in (udp_quote, foreign, request_quote):
        h.handle(frag_needed(700, quote, src="172.16.0.9"), 1.0)
    assert h.stats.events["pmtu.updated"] == 1
    assert len(h.ipv4.pmtu) == 1


def test_path_mtu_only_goes_down_and_expires() -> None:
    h = host(pmtu_expires=600.0)
    h.handle(frag_needed(1000, our_echo_reply(h)), 1.0)
    h.handle(frag_needed(1200, our_echo_reply(h)), 2.0)
    assert h.ipv4.pmtu.get(socket.inet_aton(PEER), 3.0, 1500) == 1000
    assert [len(p) for p in h.handle(echo_request(bytes(1300)), 600.9)] == [996, 352]
    assert [len(p) for p in h.handle(echo_request(bytes(1300)), 601.0)] == [1328]


def test_path_mtu_cache_is_bounded() -> None:
    h = host(pmtu_cache_size=4)
    for n in range(10):
        src = f"10.0.0.{n + 1}"
        h.handle(frag_needed(1000, our_echo_reply(h, src), src=src), 1.0)
    assert len(h.ipv4.pmtu) == 4
    assert h.stats.events["pmtu.updated"] == 10
