"""Rule 1: validation (RFC 791 §3.1, RFC 1122 §3.2.1; Linux ip_rcv_core and
ip_route_input_slow). Every drop is counted under one reason."""

from __future__ import annotations

import pytest
from test_ipv4_support import echo_request, host, icmp, ipv4

from stack import Host


def dropped(h: Host, packet: bytes) -> str:
    assert h.handle(packet, 0.0) == []
    assert sum(h.stats.drops.values()) == 1 and not h.stats.replies
    return h.last_reason


@pytest.mark.parametrize(("packet", "reason"), [
    (b"", "ip.empty"),
    (b"\x45" + bytes(10), "ipv4.truncated"),
    (b"\x44" + echo_request()[1:], "ipv4.bad_header_length"),
    (b"\x46" + echo_request()[1:], "ipv4.bad_checksum"),  # options would start in ICMP
    (echo_request()[:10] + b"\x00\x00" + echo_request()[12:], "ipv4.bad_checksum"),
    (echo_request(total=200), "ipv4.truncated"),
    (echo_request(total=19), "ipv4.bad_total_length"),
    (b"\x35" + echo_request()[1:], "ip.bad_version"),
])
def test_malformed_headers(packet: bytes, reason: str) -> None:
    assert dropped(host(), packet) == reason


def test_header_longer_than_packet() -> None:
    packet = b"\x4f" + echo_request()[1:20]
    assert dropped(host(), packet) == "ipv4.truncated"


@pytest.mark.parametrize("src", ["0.0.0.0", "255.255.255.255", "172.16.0.255", "224.0.0.5",
                                 "239.1.1.1", "127.0.0.1", "127.3.3.3", "172.16.0.2"])
def test_martian_sources_are_dropped(src: str) -> None:
    assert dropped(host(), echo_request(src=src)) == "ipv4.bad_source"


@pytest.mark.parametrize("src", ["0.1.2.3", "172.16.0.0", "10.0.0.1", "240.0.0.1"])
def test_sources_linux_accepts(src: str) -> None:
    (reply,) = host().handle(echo_request(src=src), 0.0)
    assert reply[16:20] == bytes(int(x) for x in src.split("."))


@pytest.mark.parametrize(("dst", "reason"), [
    ("172.16.0.9", "ipv4.not_ours"), ("172.16.0.0", "ipv4.not_ours"),
    ("10.1.1.1", "ipv4.not_ours"), ("224.0.0.5", "ipv4.not_ours"),
    ("0.0.0.0", "ipv4.bad_destination"), ("127.0.0.1", "ipv4.bad_destination"),
])
def test_destinations_not_ours(dst: str, reason: str) -> None:
    assert dropped(host(), echo_request(dst=dst)) == reason


def test_ipv4_disabled() -> None:
    from stack import HostConfig
    h = Host(HostConfig(ipv4=None))
    assert dropped(h, echo_request()) == "ipv4.disabled"


def test_every_packet_counts_exactly_once() -> None:
    h = host()
    packets = [echo_request(), echo_request(src="127.0.0.1"), ipv4(icmp(0)), b"\x45",
               ipv4(b"", protocol=2)]
    for packet in packets:
        h.handle(packet, 0.0)
    assert sum(h.stats.replies.values()) + sum(h.stats.drops.values()) == len(packets)
    assert h.stats.received == len(packets) and h.stats.sent == 1
