"""Issue 13: the differences from Linux that random traffic found, one test per rule.

Each rule also has its kernel recording in corpus/linux (named in the test), which
tests/test_corpus.py replays under the linux profile; these tests pin the bytes and the
counted reasons in the core itself. The packets are the probe set's builders
(stack/record/packets.py), the ones the kernel was recorded with.
"""

from __future__ import annotations

import os
import select
import shutil
import time
from pathlib import Path

import pytest

from stack import Host, HostConfig
from stack.record.packets import (
    ACK,
    NH_FRAGMENT,
    NH_HOPOPTS,
    PROTO_ICMP,
    PROTO_ICMPV6,
    PROTO_PIM,
    SYN,
    addr4,
    echo4,
    echo6,
    echo6_message,
    fragment4,
    fragment6,
    fragment_header,
    icmpv4,
    icmpv6,
    ipv4,
    ipv6,
    options_header,
    tcp4,
    tcp6,
    udp4,
    udp6,
    udplite4,
    udplite6,
)
from stack.wire import ipv4 as wire4
from stack.wire.checksum import ones_sum

PEER4, US4 = "10.1.2.3", "172.16.0.2"
PEER6, US6 = "fd00:16::a:1", "fd00:16::2"
MALFORMED_RR = bytes([7, 2, 4, 0])  # Record Route of length 2
MD5 = bytes([19, 18]) + bytes(range(16))


def answer(host: Host, packet: bytes, now: float = 0.0) -> list[bytes]:
    return host.handle(packet, now)


# -- item 7: icmp_pointers[].error (corpus: icmp_types_linux_counts_as_errors) -----------
@pytest.mark.parametrize("kind", [1, 2, 6, 7, 9, 10, 3, 11])
def test_no_error_about_the_types_linux_counts_as_errors(kind: int) -> None:
    host = Host()
    request = ipv4(PEER4, US4, PROTO_ICMP, icmpv4(kind, 0, bytes(4), b"z" * 8),
                   options=MALFORMED_RR)
    assert answer(host, request) == []
    assert host.last_reason == "icmp.no_error_for_icmp_error"


def test_an_echo_with_the_same_option_still_gets_parameter_problem() -> None:
    host = Host()
    request = echo4(PEER4, US4, options=MALFORMED_RR)
    [problem] = answer(host, request)
    header_len = (problem[0] & 0x0F) * 4
    assert problem[header_len:header_len + 2] == bytes((12, 0))
    assert problem[header_len + 4] == 21  # Linux's pointer: the option's length byte


# -- item 4: PIM (corpus: pim_to_host, v6_pim_to_host) -----------------------------------
def test_pim_is_consumed_over_both_families() -> None:
    host = Host()
    hello = bytes.fromhex("2000dffe000100020069")
    assert answer(host, ipv4(PEER4, US4, PROTO_PIM, hello)) == []
    assert host.last_reason == "pim.ignored"
    assert answer(host, ipv6(PEER6, US6, PROTO_PIM, hello)) == []
    assert host.last_reason == "pim.ignored"
    assert host.stats.drops["pim.ignored"] == 2


# -- item 3: UDP-Lite (corpus: udplite_*, v6_udplite_*) ----------------------------------
@pytest.mark.parametrize("coverage", [0, 8, 13, 19])
def test_udplite_to_a_closed_port_gets_port_unreachable_quoting_it_whole(coverage: int) -> None:
    host = Host()
    request = udplite4(PEER4, US4, 40000, 9, b"lightweight", coverage=coverage)
    [error] = answer(host, request)
    assert host.last_reason == "icmp.port_unreachable"
    assert error[12:20] == addr4(US4) + addr4(PEER4)
    assert error[20:22] == bytes((3, 3)) and error[28:] == request
    assert ones_sum(error[20:]) == 0xFFFF


def test_udplite_over_ipv6_gets_port_unreachable() -> None:
    host = Host()
    request = udplite6(PEER6, US6, 40000, 9, b"lightweight", coverage=8)
    [error] = answer(host, request)
    assert host.last_reason == "icmpv6.port_unreachable"
    assert error[40:42] == bytes((1, 4)) and error[48:] == request


def test_only_the_covered_bytes_are_checksummed() -> None:
    host = Host()
    request = udplite4(PEER4, US4, 40000, 9, b"lightweight", coverage=8)
    damaged = request[:-1] + bytes((request[-1] ^ 0xFF,))  # past the coverage
    assert len(answer(host, damaged)) == 1
    full = udplite4(PEER4, US4, 40000, 9, b"lightweight")
    assert answer(host, full[:-1] + bytes((full[-1] ^ 0xFF,))) == []
    assert host.last_reason == "udplite.bad_checksum"


@pytest.mark.parametrize(("fields", "reason"), [
    ({"udp_checksum": 0}, "udplite.no_checksum"),
    ({"udp_checksum": 0x1234}, "udplite.bad_checksum"),
    ({"coverage": 4}, "udplite.bad_coverage"),
    ({"coverage": 200}, "udplite.bad_coverage"),
])
def test_invalid_udplite_is_dropped_silently(fields: dict[str, int], reason: str) -> None:
    for family, request in (("4", udplite4(PEER4, US4, 40000, 9, b"lightweight", **fields)),
                            ("6", udplite6(PEER6, US6, 40000, 9, b"lightweight", **fields))):
        host = Host()
        assert answer(host, request) == [], family
        assert host.last_reason == reason


# -- item 1: TCP-MD5 (corpus: tcp_syn_md5*, tcp_ack_md5, tcp_syn_bad_option_length_*) -----
@pytest.mark.parametrize(("options", "flags", "reason"), [
    (MD5, SYN, "tcp.md5_signed"),
    (bytes([2, 4, 5, 180]) + MD5, SYN, "tcp.md5_signed"),
    (MD5, ACK, "tcp.md5_signed"),
    (MD5 * 2, SYN, "tcp.md5_signed"),
    (bytes([19, 10]) + bytes(8) + bytes([1] * 10), SYN, "tcp.bad_md5_option"),
    (bytes([8, 0xFF]) + bytes(18), SYN, "tcp.bad_option_length"),
])
def test_no_reset_for_a_signed_or_unparsable_segment(options: bytes, flags: int,
                                                      reason: str) -> None:
    host = Host()
    assert answer(host, tcp4(PEER4, US4, 40000, 9, 1, 2 if flags & ACK else 0, flags,
                             options=options)) == []
    assert host.last_reason == reason
    assert answer(host, tcp6(PEER6, US6, 40000, 9, 1, 2 if flags & ACK else 0, flags,
                             options=options)) == []
    assert host.last_reason == reason


@pytest.mark.parametrize("options", [bytes([8, 0xFF]) + bytes(6), bytes([8, 0xFF]) + bytes(10),
                                     bytes([29, 16, 1, 1]) + bytes(12)])
def test_the_walk_stops_below_18_option_bytes(options: bytes) -> None:
    host = Host()
    [reset] = answer(host, tcp4(PEER4, US4, 40000, 9, 1, 0, SYN, options=options))
    assert host.last_reason == "tcp.rst" and reset[33] == 0x14  # RST+ACK


def test_a_tcp_ao_signature_stops_the_reset_over_ipv4_only() -> None:
    """tcp_v4_ao_sign_reset refuses without TCP-AO built; tcp_v6_send_reset ignores it
    (corpus: tcp_syn_ao_mss, v6_tcp_syn_ao_mss)."""
    options = bytes([29, 16, 1, 1]) + bytes(12) + bytes([2, 4, 5, 180])
    host = Host()
    assert answer(host, tcp4(PEER4, US4, 40000, 9, 1, 0, SYN, options=options)) == []
    assert host.last_reason == "tcp.ao_signed"
    [reset] = answer(host, tcp6(PEER6, US6, 40000, 9, 1, 0, SYN, options=options))
    assert host.last_reason == "tcp.rst" and reset[53] == 0x14
    short_ao = bytes([29, 4, 1, 1]) + bytes(16)
    for request in (tcp4(PEER4, US4, 40000, 9, 1, 0, SYN, options=short_ao),
                    tcp6(PEER6, US6, 40000, 9, 1, 0, SYN, options=short_ao)):
        assert answer(host, request) == [] and host.last_reason == "tcp.bad_ao_option"


# -- item 12: nothing to :: (corpus: v6_src_unspecified, a documented deviation) ---------
def test_nothing_is_sent_to_the_unspecified_address() -> None:
    host = Host()
    assert answer(host, echo6("::", US6)) == []
    assert host.last_reason == "icmpv6.echo_from_unspecified"
    assert answer(host, tcp6("::", US6, 40000, 9, 1, 0, SYN)) == []
    assert host.last_reason == "tcp.to_unspecified"


# -- item 11: ND in a Fragment header (corpus: v6_ns_in_atomic_fragment, v6_ns_fragmented)
def test_neighbour_discovery_in_a_fragment_header_is_ignored() -> None:
    host = Host()
    message = icmpv6(PEER6, US6, 135, 0, bytes(4) + bytes.fromhex("fd000016" + "0" * 23 + "2"))
    assert len(answer(host, ipv6(PEER6, US6, PROTO_ICMPV6, message, hop_limit=255))) == 1
    atomic = ipv6(PEER6, US6, NH_FRAGMENT, fragment_header(PROTO_ICMPV6, 0, False, 7) + message,
                  hop_limit=255)
    assert answer(host, atomic) == [] and host.last_reason == "ndisc.fragmented"
    first, last = fragment6(PEER6, US6, PROTO_ICMPV6, message, [8], 8, hop_limit=255)
    assert answer(host, first) == [] and answer(host, last) == []
    assert host.last_reason == "ndisc.fragmented"


# -- item 10: the Fragment header's reserved byte (corpus: v6_frag_reserved_after_hbh*) --
def test_the_reserved_byte_after_hop_by_hop_is_not_a_length() -> None:
    host = Host()
    message = echo6_message(PEER6, US6, size=56)
    hop = options_header(NH_FRAGMENT, b"")
    first = bytearray(fragment_header(PROTO_ICMPV6, 0, True, 5))
    first[1] = 7
    assert answer(host, ipv6(PEER6, US6, NH_HOPOPTS, hop + bytes(first) + message[:16])) == []
    assert host.last_reason == "frag6.held"
    [reply] = answer(host, ipv6(PEER6, US6, NH_HOPOPTS, hop
                                + fragment_header(PROTO_ICMPV6, 16, False, 5) + message[16:]))
    assert reply[40] == 129 and reply[44:] == message[4:]


# -- item 2: a refused fragment is dropped alone (corpus: v6_frag_refused_*_alone) -------
@pytest.mark.parametrize(("refused", "pointer"), [((65520, 16), 42), ((24, 12), 4)])
def test_a_refused_fragment_is_dropped_alone(refused: tuple[int, int], pointer: int) -> None:
    host = Host()
    message = echo6_message(PEER6, US6, size=43) + bytes(65536)

    def piece(offset: int, length: int, more: bool) -> bytes:
        return ipv6(PEER6, US6, NH_FRAGMENT, fragment_header(PROTO_ICMPV6, offset, more, 9)
                    + message[offset:offset + length])

    assert answer(host, piece(0, 24, True)) == []
    [problem] = answer(host, piece(*refused, True))
    assert problem[40] == 4 and int.from_bytes(problem[44:48], "big") == pointer
    assert answer(host, piece(24, 24, True)) == []
    [reply] = answer(host, piece(48, 3, False))
    assert reply[40] == 129 and reply[44:] == message[4:51]


# -- item 8: the last fragment may fill the MTU (corpus: pmtu_576_*) --------------------
@pytest.mark.parametrize(("payload", "sizes"), [(1105, [572, 573]), (557, [572, 25]),
                                                 (3314, [572] * 5 + [574]), (556, [576])])
def test_the_last_ipv4_fragment_may_fill_the_mtu(payload: int, sizes: list[int]) -> None:
    datagram = ipv4(US4, PEER4, PROTO_ICMP, bytes(range(256)) * 13 + bytes(payload - 3328)
                    if payload > 3328 else (bytes(range(256)) * 13)[:payload])
    pieces = wire4.fragment(datagram, 576)
    assert [len(p) for p in pieces] == sizes
    assert b"".join(p[20:] for p in pieces) == datagram[20:]
    assert [bool(p[6] & 0x20) for p in pieces] == [True] * (len(sizes) - 1) + [False]


def test_an_echo_reply_over_a_576_path_goes_in_two_fragments() -> None:
    host = Host()
    quoted = ipv4(US4, PEER4, PROTO_ICMP, icmpv4(0, 0, bytes(4), bytes(1400)))
    frag_needed = ipv4(PEER4, US4, PROTO_ICMP, icmpv4(3, 4, (576).to_bytes(4, "big"),
                                                      quoted[:28]))
    answer(host, frag_needed)
    out = answer(host, echo4(PEER4, US4, size=1097), 1.0)
    assert [len(p) for p in out] == [572, 573]


# -- item 9: the quote of a reassembled datagram (corpus: frag_udp_closed_timestamp) -----
def test_the_quoted_header_of_a_reassembled_datagram_has_a_valid_checksum() -> None:
    host = Host()
    timestamp = bytes([68, 12, 5, 0]) + bytes(8)
    first, last = fragment4(udp4(PEER4, US4, 40000, 9, b"t" * 64, options=timestamp), [40])
    assert answer(host, first) == []
    [error] = answer(host, last, 0.5)
    quote = error[(error[0] & 0x0F) * 4 + 8:]
    assert quote[20:24] == bytes([68, 12, 9, 0]) and quote[24:28] == (500).to_bytes(4, "big")
    assert ones_sum(quote[:32]) == 0xFFFF


# -- item 6: options before the destination check (corpus: opt_*_not_ours) --------------
@pytest.mark.parametrize(("option", "pointer"), [(bytes.fromhex("8608000000010000"), 22),
                                                 (MALFORMED_RR, 21)])
def test_malformed_options_to_another_host_get_parameter_problem(option: bytes,
                                                                  pointer: int) -> None:
    host = Host()
    request = echo4(PEER4, "192.0.2.55", options=option)
    [problem] = answer(host, request)
    header_len = (problem[0] & 0x0F) * 4
    assert problem[12:20] == addr4(US4) + addr4(PEER4)
    assert problem[header_len] == 12 and problem[header_len + 4] == pointer
    well_formed = echo4(PEER4, "192.0.2.55", options=bytes([1, 1, 1, 0]))
    assert answer(host, well_formed) == [] and host.last_reason == "ipv4.not_ours"
    assert answer(host, echo4(PEER4, "224.0.0.9", options=option)) == []
    assert host.last_reason == "ipv4.not_ours"


def test_config_is_the_recorders() -> None:
    """The addresses these tests use are HostConfig's defaults, the recorder's."""
    assert HostConfig().addresses()[:2] == [US4, US6]


# -- item 13: TAP, a unicast packet in a broadcast or multicast frame -------------------
TAP_MAC = bytes.fromhex("020000000002")
PEER_MAC = bytes.fromhex("02aabbccddee")
BROADCAST_MAC = b"\xff" * 6
V6_MULTICAST_MAC = bytes.fromhex("333300000001")


def tap_answers(destination_mac: bytes, packet: bytes) -> tuple[list[bytes], str]:
    """What a TAP-mode host sends for ``packet`` in a frame to ``destination_mac`` (the
    peer's MAC already known, so answers go straight out), and its reason."""
    from stack.link import LinkHost
    from stack.link.ethernet import emit

    link = LinkHost(Host(HostConfig(link_address=TAP_MAC)))
    link.neighbours.learn(packet[12:16] if packet[0] >> 4 == 4 else packet[8:24], PEER_MAC, 0.0)
    ethertype = 0x0800 if packet[0] >> 4 == 4 else 0x86DD
    frames = link.handle(emit(destination_mac, PEER_MAC, ethertype, packet), 1.0)
    assert link.host.link_group is False  # only for the packet it came with
    return frames, link.last_reason


@pytest.mark.parametrize("mac", [BROADCAST_MAC, V6_MULTICAST_MAC])
@pytest.mark.parametrize(("request_packet", "reason"), [
    (udp4(PEER4, US4, 40000, 9, b"closed"), "icmp.no_error_for_link_broadcast"),
    (ipv4(PEER4, US4, 253, b"unknown"), "icmp.no_error_for_link_broadcast"),
    (echo4(PEER4, US4, options=MALFORMED_RR), "icmp.no_error_for_link_broadcast"),
    (tcp4(PEER4, US4, 40000, 9, 1, 0, SYN), "tcp.not_unicast"),
    (udp6(PEER6, US6, 40000, 9, b"closed"), "icmpv6.no_error_for_link_broadcast"),
    (ipv6(PEER6, US6, 253, bytes(8)), "icmpv6.no_error_for_link_broadcast"),
    (tcp6(PEER6, US6, 40000, 9, 1, 0, SYN), "tcp.not_unicast"),
])
def test_no_error_nor_reset_for_a_packet_in_a_group_frame(mac: bytes, request_packet: bytes,
                                                          reason: str) -> None:
    """RFC 1122 §3.2.2, RFC 4443 §2.4 (e.3): Linux checks skb->pkt_type != PACKET_HOST
    (__icmp_send, icmp6_send, tcp_v4_rcv, tcp_v6_rcv)."""
    frames, why = tap_answers(mac, request_packet)
    assert frames == [] and why == reason
    unicast, _ = tap_answers(TAP_MAC, request_packet)
    assert len(unicast) == 1  # the same packet to our MAC is answered


def test_echo_and_an_option_of_action_10_are_still_answered_in_a_group_frame() -> None:
    frames, why = tap_answers(BROADCAST_MAC, echo4(PEER4, US4))
    assert why == "icmp.echo_reply" and len(frames) == 1
    frames, why = tap_answers(V6_MULTICAST_MAC, echo6(PEER6, US6))
    assert why == "icmpv6.echo_reply" and len(frames) == 1
    option = bytes([0x80 | 0x1E, 0])  # unknown, action 10: Parameter Problem even so
    packet = ipv6(PEER6, US6, 60, options_header(PROTO_ICMPV6, option)
                  + echo6_message(PEER6, US6))
    [frame] = tap_answers(V6_MULTICAST_MAC, packet)[0]
    assert frame[14 + 40] == 4 and frame[14 + 41] == 2  # Parameter Problem code 2


# -- item 16: a TAP recording replays through the link layer ----------------------------
def test_a_tap_recording_replays_byte_for_byte_through_the_link_layer(tmp_path: Path) -> None:
    """As stack-live --tap --record writes it (Ethernet frames, the config with its MAC
    and secret): an ARP exchange, a frame for another MAC that the live host dropped
    (eth.not_for_us) although its UDP would get a Port Unreachable, then echoes whose
    IDs follow. Replay must drive the same LinkHost: fed to a bare Host, the dropped
    frame would be answered and the later IDs shifted."""
    from replay import cli as replay_cli
    from stack.capture import (
        DIRECTION_INBOUND,
        DIRECTION_OUTBOUND,
        LINKTYPE_ETHERNET,
        CaptureWriter,
    )
    from stack.link import LinkHost
    from stack.link.ethernet import emit

    config = HostConfig(link_address=TAP_MAC, hash_secret=0x1234_5678_9ABC_DEF0)
    link = LinkHost(Host(config))
    peer_ip = bytes([172, 16, 0, 1])
    arp = (BROADCAST_MAC + PEER_MAC + b"\x08\x06" + bytes.fromhex("0001080006040001")
           + PEER_MAC + peer_ip + bytes(6) + addr4(US4))
    other_mac = bytes.fromhex("02aabbccdd01")
    closed = udp4("172.16.0.1", US4, 40000, 9, b"not for us")
    frames = [arp, emit(other_mac, PEER_MAC, 0x0800, closed)] + [
        emit(TAP_MAC, PEER_MAC, 0x0800, echo4("172.16.0.1", US4, seq=n)) for n in range(3)]
    assert Host(config).handle(closed, 0.0) != []  # what a bare Host would answer
    path = tmp_path / "tap.pcapng"
    writer = CaptureWriter(str(path), LINKTYPE_ETHERNET, {"case": "tap", "config":
                                                          config.to_json()})
    for n, frame in enumerate(frames):
        now = 100.0 + n / 10
        writer.write(frame, now, DIRECTION_INBOUND)
        for sent in link.handle(frame, now):
            writer.write(sent, now, DIRECTION_OUTBOUND)
    writer.close()
    assert link.stats.drops["eth.not_for_us"] == 1
    assert replay_cli.main([str(path), "--expect"]) == 0


# -- item 5: the reassembly Time Exceeded quotes fragment 0 as held (corpus:
# frag_timeout_record_route) -------------------------------------------------------------
def test_time_exceeded_quotes_fragment_0_as_held_and_echoes_its_record_route() -> None:
    host = Host()
    record_route = bytes([7, 15, 4]) + bytes(12)  # 3 slots (padded with End: 16 bytes)
    whole = echo4(PEER4, US4, size=200, options=record_route)
    header_len = (whole[0] & 0x0F) * 4
    header = whole[:header_len]
    header = (header[:2] + (header_len + 60).to_bytes(2, "big") + header[4:6] + b"\x20\x00"
              + header[8:])
    held = wire4.with_checksum(header) + whole[header_len:header_len + 60]  # MF: 56 kept
    assert answer(host, held) == [] and host.last_reason == "frag.held"
    [error] = host.poll(40.0)
    error_header = (error[0] & 0x0F) * 4
    assert error_header == 20 + 16  # the Record Route echoed: ours twice, then End
    assert error[20:23] == bytes([7, 15, 12]) and error[23:31] == addr4(US4) * 2
    quote = error[error_header + 8:]
    assert quote[:4] == held[:4]  # the header as it came: total length 96
    assert quote[20:27] == bytes([7, 15, 8]) + addr4(US4)  # filled on receipt
    assert len(quote) == header_len + 56 and quote[header_len:] == held[header_len:-4]


needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/net/tun") or shutil.which("ip") is None,
    reason="the kernel on a TAP device needs root, /dev/net/tun and ip")


@needs_root
def test_the_kernel_on_a_tap_device_answers_as_the_link_layer_does() -> None:
    """Item 13 against the live kernel (stack-record records through TUN, which has no
    link layer): a UDP datagram to a closed port and a SYN, each in a broadcast frame
    and in a frame to the device's MAC, to a TAP device in a fresh namespace; the kinds
    of IPv4 answers (protocol, first byte) must be tunstack's LinkHost's."""
    from stack.link import LinkHost
    from stack.link.ethernet import emit
    from stack.live.netns import inside_netns, run_in, temporary_netns
    from stack.live.tun import open_tun

    probes = [(mac, packet) for packet in (udp4("172.16.0.1", US4, 40000, 9, b"closed"),
                                           tcp4("172.16.0.1", US4, 40000, 9, 1, 0, SYN))
              for mac in (BROADCAST_MAC, TAP_MAC)]

    def kinds(frames: list[bytes]) -> list[tuple[int, int]]:
        return [(f[14 + 9], f[14 + 20]) for f in frames if f[12:14] == b"\x08\x00"]

    link = LinkHost(Host(HostConfig(link_address=TAP_MAC)))
    link.neighbours.learn(addr4("172.16.0.1"), PEER_MAC, 0.0)
    ours = [kinds(link.handle(emit(mac, PEER_MAC, 0x0800, packet), 1.0))
            for mac, packet in probes]
    with temporary_netns("ts-lintap") as namespace:
        with inside_netns(namespace):
            fd = open_tun("tslt0", tap=True)
        try:
            for command in (["link", "set", "tslt0", "address", "02:00:00:00:00:02"],
                            ["addr", "add", "172.16.0.2/24", "dev", "tslt0"],
                            ["link", "set", "tslt0", "up"],
                            ["neigh", "replace", "172.16.0.1", "lladdr", "02:aa:bb:cc:dd:ee",
                             "dev", "tslt0", "nud", "permanent"]):
                run_in(namespace, ["ip", *command])
            _read_frames(fd, 0.5)  # the kernel's own start-up chatter
            kernel = []
            for mac, packet in probes:
                os.write(fd, emit(mac, PEER_MAC, 0x0800, packet))
                kernel.append(kinds(_read_frames(fd, 0.4)))
        finally:
            os.close(fd)
    assert kernel == ours == [[], [(1, 3)], [], [(6, 0)]]


def _read_frames(fd: int, wait: float) -> list[bytes]:
    frames = []
    deadline = time.monotonic() + wait
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            break
        frames.append(os.read(fd, 65535))
    return frames
