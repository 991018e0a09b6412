"""TAP link layer: Ethernet II, ARP (RFC 826), the neighbour cache and ND learning,
byte for byte where bytes matter. Pure: no device, no namespace."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stack import Host, HostConfig
from stack.host.config import ConfigError
from stack.link import EthernetError, LinkConfig, LinkHost, NeighbourCache, parse_mac
from stack.link.ethernet import ipv4_multicast_mac, ipv6_multicast_mac
from stack.link.linkhost import _without_padding
from stack.wire import icmpv6, ipv6

OUR_MAC = bytes.fromhex("020000000002")
PEER_MAC = bytes.fromhex("02aabbccddee")
OTHER_MAC = bytes.fromhex("02aabbccdd01")
OUR_IP = bytes([172, 16, 0, 2])
PEER_IP = bytes([172, 16, 0, 1])


def make_link(**link: int) -> LinkHost:
    host = Host(HostConfig(link_address=OUR_MAC))
    return LinkHost(host, LinkConfig(**link) if link else None)


def arp_frame(operation: int, sender_mac: bytes, sender_ip: bytes, target_ip: bytes,
              destination: bytes = b"\xff" * 6, target_mac: bytes = bytes(6)) -> bytes:
    return (destination + sender_mac + b"\x08\x06" + b"\x00\x01\x08\x00\x06\x04"
            + operation.to_bytes(2, "big") + sender_mac + sender_ip + target_mac + target_ip)


def test_arp_request_for_our_address_is_answered_byte_for_byte() -> None:
    link = make_link()
    frames = link.handle(arp_frame(1, PEER_MAC, PEER_IP, OUR_IP), 1.0)
    assert frames == [bytes.fromhex(
        "02aabbccddee" "020000000002" "0806"  # to the asker, from us, ARP
        "0001" "0800" "06" "04" "0002"  # Ethernet/IPv4, reply
        "020000000002" "ac100002"  # sender: our MAC and address
        "02aabbccddee" "ac100001")]  # target: the asker
    assert link.stats.received == 1 and link.stats.sent == 1
    assert link.stats.replies["arp.reply"] == 1
    assert link.last_reason == "arp.reply"
    # RFC 826: being the target, we add the asker to the table.
    assert link.neighbours.lookup(PEER_IP, 2.0) == PEER_MAC


def test_arp_for_another_address_is_not_answered_nor_learned() -> None:
    link = make_link()
    assert link.handle(arp_frame(1, PEER_MAC, PEER_IP, bytes([172, 16, 0, 9])), 1.0) == []
    assert link.stats.drops["arp.not_for_us"] == 1
    assert link.neighbours.lookup(PEER_IP, 1.0) is None


def test_arp_merge_refreshes_a_known_sender_even_when_not_the_target() -> None:
    link = make_link()
    link.handle(arp_frame(1, PEER_MAC, PEER_IP, OUR_IP), 1.0)
    # The same sender, a new MAC, asking for someone else: the merge flag updates it.
    link.handle(arp_frame(1, OTHER_MAC, PEER_IP, bytes([172, 16, 0, 9])), 2.0)
    assert link.neighbours.lookup(PEER_IP, 2.0) == OTHER_MAC


def test_arp_reply_to_us_is_learned_and_consumed() -> None:
    link = make_link()
    reply = arp_frame(2, PEER_MAC, PEER_IP, OUR_IP, destination=OUR_MAC, target_mac=OUR_MAC)
    assert link.handle(reply, 1.0) == []
    assert link.stats.drops["arp.reply_consumed"] == 1
    assert link.neighbours.lookup(PEER_IP, 1.0) == PEER_MAC


def test_arp_probe_is_answered_without_learning() -> None:
    # RFC 5227 §2.1.1: a probe has sender address 0.0.0.0.
    link = make_link()
    frames = link.handle(arp_frame(1, PEER_MAC, bytes(4), OUR_IP), 1.0)
    assert len(frames) == 1 and frames[0][:6] == PEER_MAC
    assert frames[0][-4:] == bytes(4)
    assert len(link.neighbours) == 0


@pytest.mark.parametrize(("frame", "reason"), [
    (arp_frame(1, PEER_MAC, OUR_IP, OUR_IP), "arp.address_conflict"),
    (arp_frame(1, b"\x01" + PEER_MAC[1:], PEER_IP, OUR_IP), "eth.bad_source"),
    (arp_frame(3, PEER_MAC, PEER_IP, OUR_IP), "arp.bad_operation"),
    (arp_frame(1, PEER_MAC, PEER_IP, OUR_IP)[:30], "arp.truncated"),
    (arp_frame(1, PEER_MAC, PEER_IP, OUR_IP)[:14] + b"\x00\x06" + bytes(26), "arp.unsupported"),
    (b"\x02\x00", "eth.truncated"),
    (OTHER_MAC + PEER_MAC + b"\x08\x00" + bytes(20), "eth.not_for_us"),
    (OUR_MAC + PEER_MAC + b"\x88\xcc" + bytes(20), "eth.unknown_ethertype"),
    (OUR_MAC + PEER_MAC + b"\x08\x00" + b"\x60" + bytes(39), "eth.version_mismatch"),
])
def test_frames_dropped_with_their_reason(frame: bytes, reason: str) -> None:
    link = make_link()
    assert link.handle(frame, 1.0) == []
    assert link.stats.drops == {reason: 1}
    assert link.stats.received == 1
    assert link.last_reason == reason


def test_neighbour_cache_is_bounded_and_evicts_the_oldest() -> None:
    cache = NeighbourCache(capacity=2, lifetime=60.0)
    cache.learn(b"\x01" * 4, OTHER_MAC, 1.0)
    cache.learn(b"\x02" * 4, OTHER_MAC, 2.0)
    cache.learn(b"\x01" * 4, PEER_MAC, 3.0)  # refreshing moves it to the young end
    cache.learn(b"\x03" * 4, OTHER_MAC, 4.0)
    assert len(cache) == 2 and cache.evictions == 1
    assert cache.lookup(b"\x02" * 4, 4.0) is None
    assert cache.lookup(b"\x01" * 4, 4.0) == PEER_MAC


def test_neighbour_cache_forgets_stale_entries() -> None:
    cache = NeighbourCache(capacity=4, lifetime=60.0)
    cache.learn(PEER_IP, PEER_MAC, 10.0)
    assert cache.lookup(PEER_IP, 70.0) == PEER_MAC
    assert cache.lookup(PEER_IP, 70.5) is None
    assert len(cache) == 0


def test_arp_flood_of_senders_keeps_the_cache_bounded() -> None:
    link = make_link(neighbour_capacity=8)
    for n in range(100):
        link.handle(arp_frame(1, PEER_MAC, bytes([172, 16, 1, n]), OUR_IP), float(n))
    assert len(link.neighbours) == 8
    assert link.stats.replies["arp.reply"] == 100


def test_unresolved_destination_is_queued_solicited_and_released() -> None:
    link = make_link(queue_per_destination=2)
    packet = bytes.fromhex("45000014000000004001") + b"\x00\x00" + OUR_IP + PEER_IP
    frames = link._route(packet, None, None, 10.0)
    # The first packet asks: an ARP request, broadcast, for the peer's address.
    assert frames == [b"\xff" * 6 + OUR_MAC + b"\x08\x06" + bytes.fromhex(
        "0001080006040001") + OUR_MAC + OUR_IP + bytes(6) + PEER_IP]
    assert link.next_timer() == 11.0
    # Two more packets wait; the queue keeps the newest two.
    assert link._route(packet + b"1", None, None, 10.1) == []
    assert link._route(packet + b"2", None, None, 10.2) == []
    assert link.stats.events["neighbour.queue_dropped"] == 1
    assert link.poll(11.0) == frames  # the second ARP request, a second later
    reply = arp_frame(2, PEER_MAC, PEER_IP, OUR_IP, destination=OUR_MAC, target_mac=OUR_MAC)
    released = link.handle(reply, 11.5)
    assert released == [PEER_MAC + OUR_MAC + b"\x08\x00" + packet + b"1",
                        PEER_MAC + OUR_MAC + b"\x08\x00" + packet + b"2"]
    assert link.next_timer() is None


def test_resolution_gives_up_after_three_solicitations() -> None:
    link = make_link()
    packet = bytes.fromhex("45000014000000004001") + b"\x00\x00" + OUR_IP + PEER_IP
    assert len(link._route(packet, None, None, 0.0)) == 1
    assert len(link.poll(1.0)) == 1
    assert len(link.poll(2.0)) == 1
    assert link.poll(3.0) == []
    assert link.stats.events["neighbour.unresolved"] == 1
    assert link.stats.events["neighbour.queue_dropped"] == 1
    assert link.next_timer() is None


def test_ipv6_resolution_sends_a_neighbour_solicitation() -> None:
    link = make_link()
    peer = ipaddress.IPv6Address("fd00:16::1").packed
    ours = ipaddress.IPv6Address("fd00:16::2").packed
    packet = ipv6.build_header(0, 0, 0, ipv6.NO_NEXT_HEADER, 64, ours, peer)
    [frame] = link._route(packet, None, None, 0.0)
    group = ipv6.solicited_node(peer)
    assert frame[:14] == ipv6_multicast_mac(group) + OUR_MAC + b"\x86\xdd"
    assert frame[14:54] == ipv6.build_header(0, 0, 32, ipv6.ICMPV6, 255, ours, group)
    solicitation = icmpv6.parse_neighbour_solicitation(frame[54:])
    assert not isinstance(solicitation, str)
    assert solicitation.target == peer
    assert solicitation.link_address() == OUR_MAC
    assert icmpv6.is_checksum_valid(frame[54:], ours, group)


def _neighbour_solicitation_frame(source: bytes, target: bytes, mac: bytes) -> bytes:
    group = ipv6.solicited_node(target)
    message = icmpv6.build_neighbour_solicitation(target, source, group, mac)
    packet = ipv6.build_header(0, 0, len(message), ipv6.ICMPV6, 255, source, group) + message
    return ipv6_multicast_mac(group) + mac + b"\x86\xdd" + packet


def test_neighbour_solicitation_teaches_the_cache() -> None:
    link = make_link()
    peer = ipaddress.IPv6Address("fd00:16::1").packed
    ours = ipaddress.IPv6Address("fd00:16::2").packed
    link.handle(_neighbour_solicitation_frame(peer, ours, PEER_MAC), 5.0)
    assert link.neighbours.lookup(peer, 5.0) == PEER_MAC


def test_neighbour_solicitation_is_answered_with_our_mac() -> None:
    # The IPv6 core answers; the link layer frames the advertisement to the asker.
    link = make_link()
    peer = ipaddress.IPv6Address("fd00:16::1").packed
    ours = ipaddress.IPv6Address("fd00:16::2").packed
    frames = link.handle(_neighbour_solicitation_frame(peer, ours, PEER_MAC), 5.0)
    assert len(frames) == 1, link.last_reason
    frame = frames[0]
    assert frame[:14] == PEER_MAC + OUR_MAC + b"\x86\xdd"
    assert frame[14 + 24:14 + 40] == peer
    advertisement = icmpv6.parse_neighbour_advertisement(frame[54:])
    assert not isinstance(advertisement, str)
    assert advertisement.target == ours
    assert advertisement.link_address() == OUR_MAC


def test_ipv4_echo_is_answered_to_the_sender_mac() -> None:
    link = make_link()
    request = bytes.fromhex(
        "45000054812840004001615dac100001ac100002080054f5000d0001a1fb006a0000000041c4"
        "000000000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f"
        "3031323334353637")
    frames = link.handle(OUR_MAC + PEER_MAC + b"\x08\x00" + request + bytes(6), 1.0)
    assert len(frames) == 1, link.last_reason
    assert frames[0][:14] == PEER_MAC + OUR_MAC + b"\x08\x00"
    reply = frames[0][14:]
    assert reply[12:16] == OUR_IP and reply[16:20] == PEER_IP and reply[20] == 0
    assert link.stats.replies["icmp.echo_reply"] == 1


def test_ethernet_padding_is_trimmed_by_the_ip_length() -> None:
    packet = bytes.fromhex("45000014000000004001") + b"\x00\x00" + PEER_IP + OUR_IP
    assert _without_padding(packet + bytes(26), 4) == packet
    assert _without_padding(packet, 4) == packet
    six = ipv6.build_header(0, 0, 2, 59, 64, bytes(16), bytes(16)) + b"ab"
    assert _without_padding(six + bytes(4), 6) == six


def test_multicast_mac_mappings() -> None:
    assert ipv4_multicast_mac(bytes([224, 129, 2, 3])) == bytes.fromhex("01005e010203")
    group = ipaddress.IPv6Address("ff02::1:ff00:2").packed
    assert ipv6_multicast_mac(group) == bytes.fromhex("3333ff000002")


@pytest.mark.parametrize("text", ["01:00:00:00:00:01", "00:00:00:00:00:00", "02:00:00:00:00",
                                  "zz:00:00:00:00:01"])
def test_bad_mac_addresses_are_refused(text: str) -> None:
    with pytest.raises(EthernetError):
        parse_mac(text)


def test_parse_mac_accepts_dashes() -> None:
    assert parse_mac("02-AA-bb-cc-dd-ee") == PEER_MAC


def test_link_host_needs_a_mac() -> None:
    with pytest.raises(ConfigError):
        LinkHost(Host(HostConfig()))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120), st.sampled_from([OUR_MAC, b"\xff" * 6, OTHER_MAC]),
       st.sampled_from([b"\x08\x00", b"\x08\x06", b"\x86\xdd", b"\x12\x34"]))
def test_any_frame_is_counted_once_and_never_raises(body: bytes, destination: bytes,
                                                    ethertype: bytes) -> None:
    link = make_link()
    link.handle(destination + PEER_MAC + ethertype + body, 1.0)
    link.handle(body, 2.0)
    assert link.stats.received == 2


def test_neighbour_advertisement_releases_waiting_ipv6_packets() -> None:
    link = make_link()
    peer = ipaddress.IPv6Address("fd00:16::1").packed
    ours = ipaddress.IPv6Address("fd00:16::2").packed
    packet = ipv6.build_header(0, 0, 0, ipv6.NO_NEXT_HEADER, 64, ours, peer)
    assert len(link._route(packet, None, None, 0.0)) == 1  # the solicitation
    message = icmpv6.build_neighbour_advertisement(
        peer, icmpv6.NA_SOLICITED | icmpv6.NA_OVERRIDE, peer, ours, PEER_MAC)
    advert = ipv6.build_header(0, 0, len(message), ipv6.ICMPV6, 255, peer, ours) + message
    frames = link.handle(OUR_MAC + PEER_MAC + b"\x86\xdd" + advert, 0.5)
    assert frames == [PEER_MAC + OUR_MAC + b"\x86\xdd" + packet]
    assert link.neighbours.lookup(peer, 0.5) == PEER_MAC
    assert link.next_timer() is None
    # The same advertisement with hop limit 64 crossed a router: not believed (§7.1.2).
    stale = make_link()
    stale._route(packet, None, None, 0.0)
    routed = advert[:7] + b"\x40" + advert[8:]
    assert stale.handle(OUR_MAC + PEER_MAC + b"\x86\xdd" + routed, 0.5) == []
    assert stale.neighbours.lookup(peer, 0.5) is None
