"""Seed inputs: a built-in set (so every target works on an empty corpus) plus every
packet of the captures in ``corpus/``.

The built-in packets are aimed at the default ``HostConfig`` (172.16.0.2/24,
fd00:16::2, fe80::2) from its neighbour (172.16.0.1, fd00:16::1, fe80::1), one per
branch a host has: every ICMP type it answers or consumes, options, extension headers,
fragments, closed ports, neighbour discovery.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Iterator
from pathlib import Path

from fuzz import packets as p
from fuzz.sequence_codec import Step, encode

__all__ = ["ipv4_seeds", "ipv6_seeds", "sequence_seeds", "tap_seeds", "tap_timelines",
           "capture_seeds",
           "corpus_packets", "PEER4", "HOST4", "PEER6", "HOST6", "HOST6_LL", "PEER6_LL",
           "HOST_MAC", "PEER_MAC"]

HOST4, PEER4, OTHER4 = "172.16.0.2", "172.16.0.1", "198.51.100.7"
HOST6, PEER6 = "fd00:16::2", "fd00:16::1"
HOST6_LL, PEER6_LL = "fe80::2", "fe80::1"
HOST_MAC = bytes.fromhex("020000000002")
PEER_MAC = bytes.fromhex("020000000001")
BROADCAST_MAC = b"\xff" * 6
PAYLOAD = bytes(range(48)) + b"tunstack"  # 56 bytes, as ping sends


def _echo4(ident: int = 0x77, seq: int = 1, body: bytes = PAYLOAD, **ip: object) -> bytes:
    return p.ipv4(PEER4, HOST4, 1, p.icmp4(8, 0, struct.pack("!HH", ident, seq), body), **ip)  # type: ignore[arg-type]


def _echo6(dst: str = HOST6, src: str = PEER6, body: bytes = PAYLOAD) -> bytes:
    return p.ipv6(src, dst, 58, p.icmp6(src, dst, 128, 0, b"\x00\x77\x00\x01", body))


def ipv4_seeds() -> dict[str, bytes]:
    """One IPv4 packet per behaviour worth reaching."""
    record_route = bytes([7, 15, 4]) + bytes(12)
    timestamp = bytes([68, 12, 5, 0x00]) + bytes(8)  # timestamps only
    timestamp_addr = bytes([68, 20, 5, 0x01]) + bytes(16)  # address + timestamp pairs
    lsrr = bytes([131, 11, 4]) + p.address(HOST4) + p.address(OTHER4)
    router_alert = bytes([148, 4, 0, 0])
    echo_reply_of_ours = p.ipv4(HOST4, PEER4, 1, p.icmp4(0, 0, b"\x00\x77\x00\x01", PAYLOAD))
    udp_probe = p.ipv4(HOST4, PEER4, 17, p.udp(HOST4, PEER4, 40000, 33434, b"probe"))
    seeds = {
        "echo": _echo4(),
        "echo_df_tos": _echo4(flags_offset=0x4000, tos=0xB8),
        "echo_record_route": _echo4(options=record_route),
        "echo_timestamp": _echo4(options=timestamp),
        "echo_timestamp_addresses": _echo4(options=timestamp_addr),
        "echo_lsrr": _echo4(options=lsrr),
        "echo_router_alert_nop": _echo4(options=router_alert + b"\x01\x01\x01\x00"),
        "echo_unknown_option": _echo4(options=bytes([0x9E, 4, 1, 2])),
        "echo_ttl1": _echo4(ttl=1),
        "echo_large": _echo4(body=bytes(1400)),
        "echo_broadcast": p.ipv4(PEER4, "172.16.0.255", 1,
                                 p.icmp4(8, 0, b"\x00\x01\x00\x01", PAYLOAD)),
        "echo_multicast": p.ipv4(PEER4, "224.0.0.1", 1, p.icmp4(8, 0, b"\x00\x01\x00\x01")),
        "echo_other_host": p.ipv4(PEER4, OTHER4, 1, p.icmp4(8, 0, b"\x00\x01\x00\x01")),
        "timestamp_request": p.ipv4(PEER4, HOST4, 1, p.icmp4(13, 0, b"\x00\x05\x00\x01",
                                                             bytes(12))),
        "address_mask_request": p.ipv4(PEER4, HOST4, 1, p.icmp4(17, 0, b"\x00\x05\x00\x01",
                                                                bytes(4))),
        "information_request": p.ipv4(PEER4, HOST4, 1, p.icmp4(15, 0, b"\x00\x05\x00\x01")),
        "echo_reply_inbound": p.ipv4(PEER4, HOST4, 1, p.icmp4(0, 0, b"\x00\x77\x00\x01")),
        "port_unreachable_inbound": p.ipv4(PEER4, HOST4, 1, p.icmp4(3, 3, bytes(4),
                                                                    udp_probe[:28])),
        "frag_needed_inbound": p.ipv4(PEER4, HOST4, 1, p.icmp4(
            3, 4, struct.pack("!HH", 0, 1000), echo_reply_of_ours[:28])),
        "time_exceeded_inbound": p.ipv4(PEER4, HOST4, 1, p.icmp4(11, 0, bytes(4),
                                                                 echo_reply_of_ours[:28])),
        "parameter_problem_inbound": p.ipv4(PEER4, HOST4, 1, p.icmp4(
            12, 0, b"\x14\x00\x00\x00", echo_reply_of_ours[:28])),
        "redirect_inbound": p.ipv4(PEER4, HOST4, 1, p.icmp4(5, 1, p.address("172.16.0.9"),
                                                            echo_reply_of_ours[:28])),
        "source_quench_inbound": p.ipv4(PEER4, HOST4, 1, p.icmp4(4, 0, bytes(4),
                                                                 echo_reply_of_ours[:28])),
        "udp_closed": p.ipv4(PEER4, HOST4, 17, p.udp(PEER4, HOST4, 40000, 33434, b"x" * 32)),
        "udp_echo": p.ipv4(PEER4, HOST4, 17, p.udp(PEER4, HOST4, 40000, 7, b"hello")),
        "udp_no_checksum": p.ipv4(PEER4, HOST4, 17,
                                  struct.pack("!HHHH", 40000, 33434, 12, 0) + b"abcd"),
        "udp_broadcast": p.ipv4(PEER4, "255.255.255.255", 17,
                                p.udp(PEER4, "255.255.255.255", 68, 67, bytes(20))),
        "tcp_syn": p.ipv4(PEER4, HOST4, 6, p.tcp(PEER4, HOST4, 40000, 80, options=bytes(
            [2, 4, 5, 0xB4, 4, 2, 8, 10]) + bytes(8) + bytes([1, 3, 3, 7]))),
        "tcp_ack_data": p.ipv4(PEER4, HOST4, 6, p.tcp(PEER4, HOST4, 40000, 22, flags=0x18,
                                                      ack=5, body=b"GET /")),
        "tcp_rst": p.ipv4(PEER4, HOST4, 6, p.tcp(PEER4, HOST4, 40000, 80, flags=0x04)),
        "tcp_fin": p.ipv4(PEER4, HOST4, 6, p.tcp(PEER4, HOST4, 40000, 80, flags=0x01)),
        "unknown_protocol": p.ipv4(PEER4, HOST4, 253, b"experimental"),
        "igmp_query": p.ipv4(PEER4, "224.0.0.1", 2, bytes([0x11, 100, 0xEE, 0x9B]) + bytes(4),
                             options=router_alert, ttl=1),
    }
    seeds.update(_ipv4_corner_seeds())
    fragments = p.fragment_v4(_echo4(ident=9, body=bytes(range(256)) * 2), [200, 200])
    seeds["echo_first_fragment"] = fragments[0]
    seeds["echo_middle_fragment"] = fragments[1]
    seeds["echo_last_fragment"] = fragments[2]
    return seeds


def _ipv4_corner_seeds() -> dict[str, bytes]:
    """The corners of the answers: options with a pointer that leaves no room in the
    reply (ip_options_echo refuses: no answer), an echo whose reply's incremental
    checksum comes out as 0xFFFF (RFC 1624 §3), UDP echoes Linux would not answer."""
    # Room for the recorded address, but not for the echoed one after it: the compile
    # step moves the pointer to 8, ip_options_echo then finds 8 + 3 > 10.
    rr_no_room = bytes([7, 10, 4]) + bytes(7) + bytes(2)
    ts_addr_no_room = bytes([68, 14, 5, 0x01]) + bytes(10) + bytes(2)
    ts_only_no_room = bytes([68, 10, 5, 0x00]) + bytes(6) + bytes(2)
    return {
        "echo_record_route_no_room": _echo4(options=rr_no_room),
        "echo_timestamp_addresses_no_room": _echo4(options=ts_addr_no_room),
        "timestamp_request_timestamp_no_room": p.ipv4(
            PEER4, HOST4, 1, p.icmp4(13, 0, b"\x00\x05\x00\x01", bytes(12)),
            options=ts_only_no_room),
        "tcp_syn_record_route_no_room": p.ipv4(PEER4, HOST4, 6, p.tcp(PEER4, HOST4, 40000, 80),
                                               options=rr_no_room),
        "echo_reply_checksum_ffff": _echo4_checksum(0xF7FF),
        "echo_reply_checksum_ffff_options": _echo4_checksum(0xF7FF, options=bytes([148, 4, 0, 0])),
        "udp_echo_from_port_zero": p.ipv4(PEER4, HOST4, 17, p.udp(PEER4, HOST4, 0, 7, b"hi")),
        "udp_echo_no_checksum": p.ipv4(PEER4, HOST4, 17,
                                       struct.pack("!HHHH", 40000, 7, 12, 0) + b"abcd"),
        # Enough option bytes for the TCP-AO/MD5 scan (RFC 5925 §7.7) to step over NOPs.
        "tcp_syn_nop_options": p.ipv4(PEER4, HOST4, 6, p.tcp(
            PEER4, HOST4, 40000, 80, options=bytes([1, 1, 2, 4, 5, 0xB4]) + bytes([1] * 12)
            + bytes(2))),
        # ip_options_compile's Parameter Problems: a source route too short to hold its
        # pointer, a Record Route and an address+timestamp option with no room for one.
        "echo_lsrr_too_short": _echo4(options=bytes([131, 2, 1, 0])),
        "echo_record_route_short": _echo4(options=bytes([7, 6, 4]) + bytes(5)),
        "echo_timestamp_addresses_short": _echo4(options=bytes([68, 8, 5, 0x01]) + bytes(4)),
        "echo_timestamp_prespecified_short": _echo4(options=bytes([68, 8, 5, 0x03])
                                                    + bytes(4)),
        "echo_timestamp_short": _echo4(options=bytes([68, 6, 5, 0x00]) + bytes(2)),
    }


def _echo4_checksum(checksum: int, **ip: object) -> bytes:
    """An echo request whose ICMP checksum field is ``checksum``: its identifier is the
    word that makes it so (a checksum is the complement of the ones' sum, RFC 1071)."""
    probe = p.icmp4(8, 0, struct.pack("!HH", 0, 1), PAYLOAD)
    rest = (~int.from_bytes(probe[2:4], "big")) & 0xFFFF  # the sum of everything else
    ident = ((~checksum & 0xFFFF) - rest) % 0xFFFF
    return p.ipv4(PEER4, HOST4, 1, p.icmp4(8, 0, struct.pack("!HH", ident, 1), PAYLOAD),
                  **ip)  # type: ignore[arg-type]


def _zero_payload_length(packet: bytes) -> bytes:
    return packet[:4] + b"\x00\x00" + packet[6:]


def _echo6_checksum(checksum: int) -> bytes:
    """An echo request whose ICMPv6 checksum field is ``checksum`` (see _echo4_checksum)."""
    probe = p.icmp6(PEER6, HOST6, 128, 0, struct.pack("!HH", 0, 1), PAYLOAD)
    rest = (~int.from_bytes(probe[2:4], "big")) & 0xFFFF
    ident = ((~checksum & 0xFFFF) - rest) % 0xFFFF
    return p.ipv6(PEER6, HOST6, 58, p.icmp6(PEER6, HOST6, 128, 0, struct.pack("!HH", ident, 1),
                                            PAYLOAD))


def ipv6_seeds() -> dict[str, bytes]:
    """One IPv6 packet per behaviour worth reaching."""
    solicited = "ff02::1:ff00:2"
    slla = bytes([1, 1]) + PEER_MAC
    echo_reply_of_ours = p.ipv6(HOST6, PEER6, 58,
                                p.icmp6(HOST6, PEER6, 129, 0, b"\x00\x77\x00\x01", PAYLOAD))
    udp_probe = p.ipv6(HOST6, PEER6, 17, p.udp(HOST6, PEER6, 40000, 33434, b"probe"))

    def with_ext(chain: list[tuple[int, bytes]], upper_type: int, upper: bytes) -> bytes:
        """Extension headers (type, options) in order, then the upper layer."""
        types = [t for t, _ in chain] + [upper_type]
        body = upper
        for index in range(len(chain) - 1, -1, -1):
            ext_type, content = chain[index]
            if ext_type == 43:
                body = bytes([types[index + 1]]) + content + body
            else:
                body = p.ext_header(types[index + 1], content) + body
        return p.ipv6(PEER6, HOST6, types[0], body)

    echo_body = p.icmp6(PEER6, HOST6, 128, 0, b"\x00\x77\x00\x02", PAYLOAD)
    seeds = {
        "echo": _echo6(),
        "echo_link_local": _echo6(HOST6_LL, PEER6_LL),
        "echo_all_nodes": _echo6("ff02::1", PEER6_LL),
        "echo_other_host": _echo6("fd00:16::99"),
        "echo_large": _echo6(body=bytes(1400)),
        "echo_hop_by_hop_router_alert": with_ext([(0, bytes([5, 2, 0, 0]))], 58, echo_body),
        "echo_hop_by_hop_unknown_skip": with_ext([(0, bytes([0x1E, 2, 0, 0]))], 58, echo_body),
        "echo_hop_by_hop_unknown_discard": with_ext([(0, bytes([0x5E, 2, 0, 0]))], 58,
                                                    echo_body),
        "echo_hop_by_hop_unknown_icmp": with_ext([(0, bytes([0x9E, 2, 0, 0]))], 58, echo_body),
        "echo_hop_by_hop_unknown_icmp_unicast": with_ext([(0, bytes([0xDE, 2, 0, 0]))], 58,
                                                         echo_body),
        "echo_destination_options": with_ext([(60, bytes([1, 4]) + bytes(4))], 58, echo_body),
        "echo_hop_then_destination": with_ext([(0, b""), (60, b"")], 58, echo_body),
        "echo_routing_type0": p.repair(with_ext([(43, bytes([2, 0, 1]) + bytes(4)
                                         + p.address("fd00:16::9"))], 58, echo_body)),
        "echo_routing_segments_left_0": with_ext([(43, bytes([2, 4, 0]) + bytes(4)
                                                   + p.address("fd00:16::9"))], 58, echo_body),
        "echo_atomic_fragment": p.ipv6(PEER6, HOST6, 44,
                                       p.fragment_header(58, 0, False, 5) + echo_body),
        "no_next_header": p.ipv6(PEER6, HOST6, 59, b""),
        "unknown_next_header": p.ipv6(PEER6, HOST6, 253, b"experimental"),
        "neighbour_solicitation": p.ipv6(PEER6_LL, solicited, 58, p.icmp6(
            PEER6_LL, solicited, 135, 0, bytes(4), p.address(HOST6) + slla), hop_limit=255),
        "neighbour_solicitation_dad": p.ipv6("::", solicited, 58, p.icmp6(
            "::", solicited, 135, 0, bytes(4), p.address(HOST6)), hop_limit=255),
        "neighbour_solicitation_unicast": p.ipv6(PEER6, HOST6, 58, p.icmp6(
            PEER6, HOST6, 135, 0, bytes(4), p.address(HOST6) + slla), hop_limit=255),
        "neighbour_advertisement": p.ipv6(PEER6_LL, HOST6_LL, 58, p.icmp6(
            PEER6_LL, HOST6_LL, 136, 0, b"\x60\x00\x00\x00", p.address(PEER6_LL)
            + bytes([2, 1]) + PEER_MAC), hop_limit=255),
        "router_solicitation": p.ipv6(PEER6_LL, "ff02::2", 58, p.icmp6(
            PEER6_LL, "ff02::2", 133, 0, bytes(4), slla), hop_limit=255),
        "router_advertisement": p.ipv6(PEER6_LL, "ff02::1", 58, p.icmp6(
            PEER6_LL, "ff02::1", 134, 0, bytes([64, 0, 0x07, 0x08]), bytes(8)
            + bytes([5, 1, 0, 0]) + struct.pack("!I", 1400)), hop_limit=255),
        "mld_query": p.ipv6(PEER6_LL, "ff02::1", 0, p.ext_header(58, bytes([5, 2, 0, 0]))
                            + p.icmp6(PEER6_LL, "ff02::1", 130, 0, b"\x03\xe8\x00\x00",
                                      bytes(16)), hop_limit=1),
        "packet_too_big_inbound": p.ipv6(PEER6, HOST6, 58, p.icmp6(
            PEER6, HOST6, 2, 0, struct.pack("!I", 1280), echo_reply_of_ours)),
        "port_unreachable_inbound": p.ipv6(PEER6, HOST6, 58, p.icmp6(
            PEER6, HOST6, 1, 4, bytes(4), udp_probe)),
        "time_exceeded_inbound": p.ipv6(PEER6, HOST6, 58, p.icmp6(
            PEER6, HOST6, 3, 0, bytes(4), echo_reply_of_ours)),
        "parameter_problem_inbound": p.ipv6(PEER6, HOST6, 58, p.icmp6(
            PEER6, HOST6, 4, 1, struct.pack("!I", 6), echo_reply_of_ours)),
        "echo_reply_inbound": p.ipv6(PEER6, HOST6, 58, p.icmp6(
            PEER6, HOST6, 129, 0, b"\x00\x77\x00\x01")),
        "udp_closed": p.ipv6(PEER6, HOST6, 17, p.udp(PEER6, HOST6, 40000, 33434, b"x" * 32)),
        "udp_closed_multicast": p.ipv6(PEER6_LL, "ff02::1", 17,
                                       p.udp(PEER6_LL, "ff02::1", 40000, 33434, b"x")),
        "udp_echo": p.ipv6(PEER6, HOST6, 17, p.udp(PEER6, HOST6, 40000, 7, b"hello")),
        "udp_zero_checksum": p.ipv6(PEER6, HOST6, 17,
                                    struct.pack("!HHHH", 40000, 33434, 12, 0) + b"abcd"),
        "tcp_syn": p.ipv6(PEER6, HOST6, 6, p.tcp(PEER6, HOST6, 40000, 80)),
        "tcp_ack": p.ipv6(PEER6, HOST6, 6, p.tcp(PEER6, HOST6, 40000, 80, flags=0x10, ack=9)),
        "tcp_rst": p.ipv6(PEER6, HOST6, 6, p.tcp(PEER6, HOST6, 40000, 80, flags=0x04)),
    }
    seeds.update({
        # Hop-by-Hop options Linux parses: IOAM misaligned (offset 2), CALIPSO (no DOI).
        "echo_hop_by_hop_ioam_misaligned": with_ext([(0, bytes([0x31, 2, 0, 0]))], 58,
                                                    echo_body),
        "echo_hop_by_hop_calipso": with_ext([(0, bytes([0x07, 2, 0, 0]))], 58, echo_body),
        # Neighbour Discovery's validity checks (RFC 4861 §7.1.1, RFC 4862 §5.4.3).
        "neighbour_solicitation_dad_not_solicited_node": p.ipv6("::", "ff02::1", 58, p.icmp6(
            "::", "ff02::1", 135, 0, bytes(4), p.address(HOST6)), hop_limit=255),
        "neighbour_solicitation_dad_with_link_address": p.ipv6("::", solicited, 58, p.icmp6(
            "::", solicited, 135, 0, bytes(4), p.address(HOST6) + slla), hop_limit=255),
        "neighbour_solicitation_long_link_address": p.ipv6(PEER6, HOST6, 58, p.icmp6(
            PEER6, HOST6, 135, 0, bytes(4), p.address(HOST6) + bytes([1, 2]) + PEER_MAC
            + bytes(8)), hop_limit=255),
        "echo_reply_checksum_ffff": _echo6_checksum(0x0100),
        # Jumbo Payload (RFC 2675 §3): with a payload length too, and claiming more
        # than the packet holds.
        "echo_jumbo_with_payload_length": p.ipv6(PEER6, HOST6, 0, bytes([58, 0, 0xC2, 4])
                                                 + (70000).to_bytes(4, "big") + echo_body),
        "echo_jumbo_beyond_packet": _zero_payload_length(p.ipv6(
            PEER6, HOST6, 0, bytes([58, 0, 0xC2, 4]) + (70000).to_bytes(4, "big")
            + echo_body)),
        "echo_hop_by_hop_option_overruns": with_ext([(0, bytes([0x1E, 5, 0, 0]))], 58,
                                                    echo_body),
        "fragment_header_truncated": p.ipv6(PEER6, HOST6, 44, bytes(4)),
        # Errors quoting our packets whose header chain the walk must follow or give up
        # on: an Authentication Header (RFC 4302 §2.2), a cut Fragment header.
        "packet_too_big_quoting_auth": p.ipv6(PEER6, HOST6, 58, p.icmp6(
            PEER6, HOST6, 2, 0, struct.pack("!I", 1280), p.ipv6(
                HOST6, PEER6, 51, bytes([58, 1, 0, 0]) + bytes(8) + echo_reply_of_ours[40:]))),
        "packet_too_big_quoting_cut_fragment": p.ipv6(PEER6, HOST6, 58, p.icmp6(
            PEER6, HOST6, 2, 0, struct.pack("!I", 1280), p.ipv6(HOST6, PEER6, 44, bytes(2)))),
        "udp_echo_from_unspecified": p.ipv6("::", HOST6, 17, p.udp("::", HOST6, 40000, 7,
                                                                   b"hi")),
        "udplite_multicast": p.ipv6(PEER6_LL, "ff02::1", 136,
                                    struct.pack("!HHHH", 40000, 33434, 8, 0) + b"lite"),
        # Bytes after the UDP datagram: the Port Unreachable quotes it trimmed.
        "udp_closed_trailing_bytes": p.ipv6(PEER6, HOST6, 17, p.udp(
            PEER6, HOST6, 40000, 33434, b"x" * 8) + b"trailer"),
    })
    fragments = p.fragment_v6(_echo6(body=bytes(range(256)) * 2), [200, 200], ident=77)
    seeds["echo_first_fragment"] = fragments[0]
    seeds["echo_middle_fragment"] = fragments[1]
    seeds["echo_last_fragment"] = fragments[2]
    return seeds


def sequence_seeds() -> dict[str, bytes]:
    """Timelines for the sequence target (see ``fuzz.sequence_codec``)."""
    big4 = _echo4(ident=21, body=bytes(range(256)) * 8)  # reassembles to 2076 bytes
    frags4 = p.fragment_v4(big4, [600, 600, 600])
    big6 = _echo6(body=bytes(range(256)) * 8)
    frags6 = p.fragment_v6(big6, [600, 600, 600], ident=31)
    small4 = p.fragment_v4(_echo4(ident=22, body=bytes(200)), [96])
    ptb6 = ipv6_seeds()["packet_too_big_inbound"]
    frag_needed = ipv4_seeds()["frag_needed_inbound"]
    udp4 = ipv4_seeds()["udp_closed"]
    udp6 = ipv6_seeds()["udp_closed"]

    def packets(items: list[bytes], clock: int = 0) -> list[Step]:
        steps: list[Step] = []
        for item in items:
            steps.append(Step.packet(item))
            if clock:
                steps.append(Step.advance_ms(clock))
        return steps

    timelines = {
        "reassemble_v4_in_order": packets(frags4),
        "reassemble_v4_reversed": packets(frags4[::-1]),
        # ECT(0) and CE pieces of one datagram: the whole is CE (RFC 3168 §5.3,
        # ip_frag_ecn_table).
        "reassemble_v4_ecn_ce": packets([_with_tos(piece, 0x02 if index else 0x03)
                                         for index, piece in enumerate(frags4)]),
        "reassemble_v4_overlap": packets([frags4[0], frags4[1], frags4[1][:-8], frags4[2],
                                          frags4[3]]),
        "reassemble_v6_in_order": packets(frags6),
        "reassemble_v6_shuffled": packets([frags6[2], frags6[0], frags6[3], frags6[1]]),
        "timeout_v4_first_held": [Step.packet(small4[0]), Step.advance_s(31), Step.next_timer()],
        "timeout_v6_first_held": [Step.packet(frags6[0]), Step.advance_s(61), Step.next_timer()],
        "timeout_without_first": [Step.packet(small4[1]), Step.next_timer()],
        "ratelimit_v4": packets([udp4] * 10, clock=50),
        "ratelimit_v6": packets([udp6] * 10) + [Step.advance_s(2)] + packets([udp6] * 3),
        "pmtu_v6_then_big_echo": packets([ptb6, ipv6_seeds()["echo_large"]]),
        "pmtu_v4_then_big_echo": packets([frag_needed, ipv4_seeds()["echo_large"]]),
        # The reply's Record Route is not copied (RFC 791 §3.1): later fragments blank it.
        "pmtu_v4_then_big_echo_options": packets([frag_needed, _echo4(
            body=bytes(1400), options=bytes([7, 7, 4]) + bytes(4) + bytes(1))]),
        "pmtu_expiry": packets([ptb6]) + [Step.advance_s(700)]
        + packets([ipv6_seeds()["echo_large"]]),
        # Eight datagrams in progress (distinct IP identifications), a cap of four.
        "many_datagrams": packets([p.fragment_v4(_with_ip_ident(_echo4(ident=100 + i,
                                                                       body=bytes(64)),
                                                                0x100 + i), [32])[0]
                                   for i in range(8)], clock=10),
        "mixed": packets([ipv4_seeds()["echo"], ipv6_seeds()["echo"], frags4[0]], clock=500)
        + [Step.next_timer()],
    }
    configured = {name: (0, steps) for name, steps in timelines.items()}
    configured.update(_cap_timelines())
    configured.update(_source_route_timelines())
    return {name: encode(config, steps) for name, (config, steps) in configured.items()}


def _source_route_timelines() -> dict[str, tuple[int, list[Step]]]:
    """Source-routed echoes for the configuration that accepts them (SEQUENCE_CONFIGS
    2): the route used up (pointer past the end) over three hops, so the reply's
    reversed route has several (ip_options_echo), and one whose first hop is the sender
    (RFC 1812 §5.2.4.1: the reversed route drops it)."""
    hops = [p.address(a) for a in ("198.51.100.7", "198.51.100.8", "198.51.100.9")]
    exhausted = bytes([131, 15, 16]) + b"".join(hops) + bytes(1)
    via_sender = bytes([137, 15, 16]) + p.address(PEER4) + b"".join(hops[1:]) + bytes(1)
    return {
        "source_route_three_hops": (2, [Step.packet(_echo4(ident=61, options=exhausted))]),
        "source_route_first_hop_sender": (2, [Step.packet(_echo4(ident=62,
                                                                options=via_sender))]),
        "source_route_only_the_sender": (2, [Step.packet(_echo4(
            ident=63, options=bytes([131, 7, 8]) + p.address(PEER4) + bytes(1)))]),
        # Hops left: Linux would forward it (ip_options_rcv_srr); a host does not.
        "source_route_hops_left": (2, [Step.packet(_echo4(
            ident=64, options=bytes([131, 11, 4]) + b"".join(hops[:2]) + bytes(1)))]),
        # Timestamp requests go unanswered in this configuration (timestamp_replies off).
        "timestamp_request_ignored": (2, [Step.packet(ipv4_seeds()["timestamp_request"])]),
        # An empty packet between two echoes (ip.empty).
        "empty_packet": (2, [Step.packet(_echo4(ident=65)), Step.packet(b""),
                             Step.packet(_echo4(ident=66))]),
    }


def _with_tos(packet: bytes, tos: int) -> bytes:
    return p.repair(packet[:1] + bytes([tos]) + packet[2:])


def _with_ip_ident(packet: bytes, ident: int) -> bytes:
    return p.repair(packet[:4] + struct.pack("!H", ident) + packet[6:])


def _peer4(index: int) -> str:
    return f"10.{64 + index // 250}.{index % 250}.1"


def _peer6(index: int) -> str:
    return f"2001:db8:{index:x}::1"


def _cap_timelines() -> dict[str, tuple[int, list[Step]]]:
    """Timelines past each of the host's caps, for the sequence configurations with
    small ones (fuzz.targets.SEQUENCE_CONFIGS: 0 has 4 peers, 4 path MTUs, 4 datagrams
    of at most 16 fragments in 16 KiB; 1 a global budget of 10 errors a second, burst
    4, in 8 KiB of fragments), and the 65,535-byte limit of a datagram."""
    def closed_udp4(peer: str) -> bytes:
        return p.ipv4(peer, HOST4, 17, p.udp(peer, HOST4, 5000, 9, b"cap"))

    def closed_udp6(peer: str) -> bytes:
        return p.ipv6(peer, HOST6, 17, p.udp(peer, HOST6, 5000, 9, b"cap"))

    def frag_needed(peer: str, mtu: int) -> bytes:
        # RFC 1191: about our echo reply to ``peer``, whose path MTU this lowers.
        ours = p.ipv4(HOST4, peer, 1, p.icmp4(0, 0, b"\x00\x01\x00\x01", bytes(8)))
        return p.ipv4(peer, HOST4, 1, p.icmp4(3, 4, struct.pack("!HH", 0, mtu), ours[:28]))

    def too_big6(peer: str) -> bytes:
        ours = p.ipv6(HOST6, peer, 58, p.icmp6(HOST6, peer, 129, 0, b"\x00\x01\x00\x01",
                                                 bytes(1400)))
        return p.ipv6(peer, HOST6, 58, p.icmp6(peer, HOST6, 2, 0, struct.pack("!I", 1280),
                                                 ours[:1232]))

    def each(items: list[bytes], clock: int = 1) -> list[Step]:
        return [step for item in items for step in (Step.packet(item), Step.advance_ms(clock))]

    many = range(7)
    # One datagram cut into 8-byte pieces: more fragments than the cap of 16.
    pieces = p.fragment_v4(_echo4(ident=40, body=bytes(range(160))), [8] * 22)
    heavy = [p.fragment_v4(_with_ip_ident(_echo4(ident=50, body=bytes(3000)), 0x5000 + i),
                           [1480])[0] for i in range(8)]
    beyond = p.ipv4(PEER4, HOST4, 1, bytes(16), ident=77, flags_offset=65528 // 8)
    beyond6 = p.ipv6(PEER6, HOST6, 44, p.fragment_header(58, 65528, True, 78) + bytes(16))
    return {
        "cap_ratelimit_peers": (0, each([closed_udp4(_peer4(i)) for i in many]
                                        + [closed_udp6(_peer6(i)) for i in many])),
        "cap_global_ratelimit": (1, each([closed_udp4(_peer4(i)) for i in range(12)])
                                 + [Step.advance_ms(10)]
                                 + each([closed_udp6(_peer6(i)) for i in range(6)], 30)),
        "cap_pmtu_v4": (0, each([frag_needed(_peer4(i), 576 + 8 * i) for i in many])
                        + [Step.advance_s(601)]
                        + each([frag_needed(_peer4(0), 600)])),
        "cap_pmtu_v6": (0, each([too_big6(_peer6(i)) for i in many])),
        "cap_fragments_per_datagram": (0, each(pieces)),
        "cap_fragment_memory": (1, each(heavy)),
        "cap_beyond_65535": (0, each([beyond, beyond6])),
        # One datagram alone past the 8 KiB of configuration 1: the last piece held
        # back, so it is evicted rather than completed.
        "cap_one_datagram_over_memory": (1, each(p.fragment_v4(
            _echo4(ident=51, body=bytes(9000)), [1480] * 6)[:-1])),
    }


def tap_seeds() -> dict[str, bytes]:
    """Ethernet frames for a TAP-mode host whose link address is ``HOST_MAC``."""
    v4, v6 = ipv4_seeds(), ipv6_seeds()
    to_host = lambda ethertype, payload: p.ethernet(HOST_MAC, PEER_MAC, ethertype, payload)  # noqa: E731
    return {
        "arp_request": p.ethernet(BROADCAST_MAC, PEER_MAC, 0x0806,
                                  p.arp(1, PEER_MAC, PEER4, bytes(6), HOST4)),
        "arp_request_other": p.ethernet(BROADCAST_MAC, PEER_MAC, 0x0806,
                                        p.arp(1, PEER_MAC, PEER4, bytes(6), "172.16.0.77")),
        "arp_reply": to_host(0x0806, p.arp(2, PEER_MAC, PEER4, HOST_MAC, HOST4)),
        "arp_gratuitous": p.ethernet(BROADCAST_MAC, PEER_MAC, 0x0806,
                                     p.arp(1, PEER_MAC, PEER4, bytes(6), PEER4)),
        "ipv4_echo": to_host(0x0800, v4["echo"]),
        "ipv4_udp_closed": to_host(0x0800, v4["udp_closed"]),
        "ipv4_broadcast_frame": p.ethernet(BROADCAST_MAC, PEER_MAC, 0x0800, v4["echo"]),
        "ipv6_tcp_syn_broadcast_frame": p.ethernet(BROADCAST_MAC, PEER_MAC, 0x86DD,
                                                   v6["tcp_syn"]),
        "ipv6_echo": to_host(0x86DD, v6["echo"]),
        "ipv6_neighbour_solicitation": p.ethernet(bytes.fromhex("3333ff000002"), PEER_MAC,
                                                  0x86DD, v6["neighbour_solicitation"]),
        "ipv6_neighbour_advertisement": to_host(0x86DD, v6["neighbour_advertisement"]),
        # A solicited-node group is joined in TAP mode only: DAD's checks are reached here.
        "ipv6_dad_with_link_address": p.ethernet(
            bytes.fromhex("3333ff000002"), PEER_MAC, 0x86DD,
            v6["neighbour_solicitation_dad_with_link_address"]),
        "ipv6_router_advertisement": p.ethernet(bytes.fromhex("333300000001"), PEER_MAC,
                                                0x86DD, v6["router_advertisement"]),
        "vlan_tagged": to_host(0x8100, b"\x00\x05\x08\x00" + v4["echo"]),
        "runt": to_host(0x0800, b""),
    }


def tap_timelines() -> dict[str, bytes]:
    """The tap target's inputs: each frame alone, and exchanges that need several."""
    frames = tap_seeds()
    timelines = {name: encode(0, [Step.packet(frame)]) for name, frame in frames.items()}
    to_host = lambda ethertype, payload: p.ethernet(HOST_MAC, PEER_MAC, ethertype, payload)  # noqa: E731
    first_fragment = to_host(0x0800, ipv4_seeds()["echo_first_fragment"])
    exchanges = {
        # an echo answered to a neighbour learnt from its ARP reply
        "learn_then_echo": (0, [Step.packet(frames["arp_reply"]),
                                Step.packet(frames["ipv4_echo"])]),
        # a reassembly timeout sends Time Exceeded: resolution, retries, then the reply
        "timeout_then_resolve": (1, [Step.packet(first_fragment), Step.advance_s(31),
                                     Step.packet(frames["arp_reply"]), Step.next_timer()]),
        # the same with no answer: the solicitation is retried, then the queue dropped
        "timeout_unresolved": (0, [Step.packet(first_fragment), Step.advance_s(31),
                                   Step.next_timer(), Step.next_timer(), Step.next_timer()]),
        "solicit_then_advertise": (0, [Step.packet(frames["ipv6_neighbour_solicitation"]),
                                       Step.packet(frames["ipv6_neighbour_advertisement"]),
                                       Step.packet(frames["ipv6_echo"])]),
        "stale_neighbour": (2, [Step.packet(frames["arp_request"]), Step.advance_s(5),
                                Step.packet(frames["ipv4_udp_closed"]), Step.next_timer()]),
    }
    # Past the small caps of link configuration 1 (two neighbours, two destinations
    # resolving, one packet queued for each; fuzz.targets._link_configs).
    peers = [(f"172.16.0.{10 + i}", bytes([2, 0, 0, 0, 0, 0x10 + i])) for i in range(4)]
    learn = [Step.packet(p.ethernet(BROADCAST_MAC, mac, 0x0806,
                                    p.arp(1, mac, peer, bytes(6), HOST4))) for peer, mac in peers]
    held = [Step.packet(p.ethernet(HOST_MAC, mac, 0x0800, p.fragment_v4(p.ipv4(
        peer, HOST4, 1, p.icmp4(8, 0, b"\x00\x09\x00\x01", bytes(64)), ident=0x600 + i),
        [32])[0])) for i, (peer, mac) in enumerate(peers)]
    exchanges.update({
        "cap_neighbours": (1, [*learn, *(Step.packet(frames["ipv4_echo"]),)]),
        "cap_resolution_queue": (1, [*held, *held, Step.advance_s(31), Step.next_timer(),
                                     Step.next_timer(), Step.next_timer()]),
    })
    for name, (config, steps) in exchanges.items():
        timelines[name] = encode(config, steps)
    return timelines


def capture_seeds() -> dict[str, bytes]:
    """Small pcap and pcapng files, written by the project's writer and by dpkt."""
    import io
    import tempfile

    import dpkt

    from stack.capture import CaptureWriter

    files: dict[str, bytes] = {}
    packets = [ipv4_seeds()["echo"], ipv6_seeds()["echo"]]
    with tempfile.TemporaryDirectory(prefix="tunstack-fuzz-") as work:
        path = Path(work) / "seed.pcapng"
        writer = CaptureWriter(str(path), linktype=101, metadata={"config": {}})
        for index, packet in enumerate(packets):
            writer.write(packet, 1.0 + index, 1 + index % 2)
        writer.close()
        files["tunstack_pcapng"] = path.read_bytes()
    for linktype, name in ((101, "raw"), (12, "dlt_raw"), (228, "ipv4")):
        buffer = io.BytesIO()
        legacy = dpkt.pcap.Writer(buffer, linktype=linktype)
        legacy.writepkt(packets[0], ts=1.5)
        files[f"pcap_{name}"] = buffer.getvalue()
    buffer = io.BytesIO()
    ethernet = dpkt.pcap.Writer(buffer, linktype=1)
    ethernet.writepkt(tap_seeds()["ipv4_echo"], ts=2.0)
    files["pcap_ethernet"] = buffer.getvalue()
    buffer = io.BytesIO()
    nanos = dpkt.pcap.Writer(buffer, linktype=101, nano=True)
    nanos.writepkt(packets[1], ts=3.25)
    files["pcap_nanoseconds"] = buffer.getvalue()
    buffer = io.BytesIO()
    ng = dpkt.pcapng.Writer(buffer, linktype=101)
    ng.writepkt(packets[1], ts=4.0)
    files["pcapng_dpkt"] = buffer.getvalue()
    return files


def corpus_packets(root: Path) -> Iterator[tuple[str, bytes, int, int]]:
    """(name, frame, linktype, direction) for every packet of every capture under
    ``root``; a capture the reader rejects is skipped with a note on stderr after its
    readable packets (the corpus helper's tests own the corpus's validity)."""
    from stack.capture import CaptureError, read_capture

    for path in sorted(root.rglob("*")):
        if path.suffix not in (".pcap", ".pcapng") or not path.is_file():
            continue
        try:
            for record in read_capture(path):
                yield (f"{path.stem}-{record.index}", record.frame, record.linktype,
                       record.direction)
        except CaptureError as exc:
            print(f"stack-fuzz: skipping the rest of {path}: {exc}", file=sys.stderr)
