"""Issue 3, rule by rule: what the IPv6 core answers, byte for byte, and why it is silent.

Cases the kernel was recorded on are in test_ipv6_linux.py; here each numbered rule gets
its own test with the exact bytes and the counted reply kind or drop reason.
"""

from __future__ import annotations

import itertools
import random
import struct

import pytest
from test_ipv6_support import (
    ALL_NODES,
    LINK_LOCAL,
    OURS,
    address,
    echo,
    echo_label,
    flow_label,
    fragment,
    normalise,
    options,
    packet,
    peer,
    tcp,
    too_big,
    udp,
)

from stack.host.config import HostConfig
from stack.host.host import Host
from stack.host.ipv6 import ERROR_QUOTE_LIMIT
from stack.wire import icmpv6
from stack.wire import ipv6 as wire
from stack.wire.checksum import checksum

MAC = bytes.fromhex("020000000001")


def handle(host: Host, sent: bytes, now: float = 100.0) -> list[bytes]:
    return host.handle(sent, now)


def expected_echo_reply(src: bytes, request: bytes, traffic_class: int = 0,
                        from_address: bytes = OURS) -> bytes:
    """The reply built independently of the core: header with our flow label rule."""
    message = request[40:]
    body = icmpv6.build_echo(129, int.from_bytes(message[4:6], "big"),
                             int.from_bytes(message[6:8], "big"), message[8:], from_address,
                             src, code=message[1])
    return wire.build_header(traffic_class, echo_label(src, from_address),
                             len(body), 58, 64, from_address, src) + body


def expected_error(kind: int, code: int, parameter: int, offending: bytes,
                   from_address: bytes = OURS) -> bytes:
    src = offending[8:24]
    body = icmpv6.build_error(kind, code, parameter, offending[:ERROR_QUOTE_LIMIT],
                              from_address, src)
    return wire.build_header(0, flow_label(from_address, src, 58, bytes((kind, code))),
                             len(body), 58, 64, from_address, src) + body


# -- rule 1: validation ------------------------------------------------------------------

def test_plain_echo_is_answered_byte_for_byte() -> None:
    host = Host()
    s = peer(1)
    request = packet(s, OURS, 58, echo(s, OURS, data=b"odd-length!"), traffic_class=0x2D)
    assert handle(host, request) == [expected_echo_reply(s, request, traffic_class=0x2D)]
    assert host.last_reason == "icmpv6.echo_reply"


def test_trailing_bytes_are_trimmed_before_answering() -> None:
    host = Host()
    s = peer(2)
    request = packet(s, OURS, 58, echo(s, OURS))
    assert handle(host, request + b"\0\0\0pad") == [expected_echo_reply(s, request)]


@pytest.mark.parametrize(("build", "reason"), [
    (lambda s: packet(s, OURS, 58, echo(s, OURS))[:39], "ipv6.truncated"),
    (lambda s: packet(s, OURS, 58, echo(s, OURS), payload_length=17), "ipv6.bad_length"),
    (lambda s: packet(s, address("fd00:16::99"), 58, echo(s, address("fd00:16::99"))),
     "ipv6.not_ours"),
    (lambda s: packet(s, address("ff02::2"), 58, echo(s, address("ff02::2"))),
     "ipv6.not_member"),
    (lambda s: packet(address("ff02::1"), OURS, 58, echo(address("ff02::1"), OURS)),
     "ipv6.multicast_source"),
    (lambda s: packet(address("::1"), OURS, 58, echo(address("::1"), OURS)),
     "ipv6.loopback_address"),
    (lambda s: packet(OURS, OURS, 58, echo(OURS, OURS)), "ipv6.own_source"),
    (lambda s: packet(s, address("ff01::1"), 58, echo(s, address("ff01::1"))),
     "ipv6.bad_multicast_scope"),
    (lambda s: packet(s, address("ff00::1"), 58, echo(s, address("ff00::1"))),
     "ipv6.bad_multicast_scope"),
])
def test_validation_drops_are_counted_by_reason(build, reason) -> None:  # type: ignore[no-untyped-def]
    host = Host()
    assert handle(host, build(peer(3))) == []
    assert host.last_reason == reason
    assert host.stats.drops[reason] == 1


def test_off_link_sources_are_answered_and_the_unspecified_one_is_not() -> None:
    """Linux with a default route (as the recorder sets it up) answers an off-link
    source; nothing goes to :: (RFC 4291 §2.5.2, issue 13 item 12), which Linux would
    answer through that route: a documented deviation."""
    host = Host()
    src = address("2001:db8::5")
    request = packet(src, OURS, 58, echo(src, OURS))
    assert handle(host, request) == [expected_echo_reply(src, request)]
    unspecified = address("::")
    for request, reason in (
            (packet(unspecified, OURS, 58, echo(unspecified, OURS)),
             "icmpv6.echo_from_unspecified"),
            (packet(unspecified, ALL_NODES, 58, echo(unspecified, ALL_NODES)),
             "icmpv6.echo_from_unspecified"),
            (packet(unspecified, OURS, 6, tcp(unspecified, OURS, 1, 80)), "tcp.to_unspecified")):
        assert handle(host, request) == []
        assert host.last_reason == reason


def test_solicited_node_groups_are_joined_only_with_a_link_address() -> None:
    group = wire.solicited_node(OURS)
    s = peer(4)
    request = packet(s, group, 58, echo(s, group))
    tun = Host()
    assert handle(tun, request) == [] and tun.last_reason == "ipv6.not_member"
    tap = Host(HostConfig(link_address=MAC))
    assert handle(tap, request) == [expected_echo_reply(s, request)]


def test_ipv6_without_addresses_drops_everything() -> None:
    host = Host(HostConfig(ipv6=()))
    s = peer(5)
    assert handle(host, packet(s, OURS, 58, echo(s, OURS))) == []
    assert host.last_reason == "ipv6.disabled"


# -- rule 2: extension headers -----------------------------------------------------------

@pytest.mark.parametrize(("kind", "to_group", "answer"), [
    (0x1E, False, "echo"), (0x1E, True, "echo"),
    (0x5E, False, None), (0x5E, True, None),
    (0x9E, False, "problem"), (0x9E, True, "problem"),
    (0xDE, False, "problem"), (0xDE, True, None),
])
@pytest.mark.parametrize("header", [wire.HOP_BY_HOP, wire.DESTINATION_OPTIONS])
def test_option_action_bits(header: int, kind: int, to_group: bool, answer: str | None) -> None:
    host = Host()
    s = peer(6)
    dst = ALL_NODES if to_group else OURS
    request = packet(s, dst, header, options(58, bytes((kind, 2, 0, 0))) + echo(s, dst))
    out = handle(host, request)
    if answer is None:
        assert out == [] and host.last_reason == "ipv6.unknown_option"
    elif answer == "echo":
        assert len(out) == 1 and out[0][40] == 129
    else:
        # RFC 4443 §3.4 code 2, pointer at the option type; from our global address even
        # when the packet went to the group (source selection).
        assert out == [expected_error(4, 2, 42, request)]
        assert host.last_reason == "icmpv6.param_problem"


@pytest.mark.parametrize(("raw", "reason"), [
    (bytes((1, 4, 0, 0, 0, 1)), "ipv6.bad_padding"),  # PadN with a non-zero byte
    (bytes((0,) * 6) + bytes((1, 2, 0, 0)) + bytes(4), "ipv6.bad_padding"),  # 10 pad bytes
    (bytes((0x1E, 0)) * 9, "ipv6.too_many_options"),
    (bytes((0x1E, 9, 0, 0)), "ipv6.bad_option_length"),
])
def test_malformed_options_are_dropped_silently(raw: bytes, reason: str) -> None:
    host = Host()
    s = peer(7)
    header = bytes((58, (len(raw) + 2 + 7) // 8 - 1)) + raw + bytes(-(len(raw) + 2) % 8)
    assert handle(host, packet(s, OURS, 60, header + echo(s, OURS))) == []
    assert host.last_reason == reason


def test_pad1_and_padn_of_zeros_are_skipped() -> None:
    host = Host()
    s = peer(8)
    header = bytes((58, 0, 0, 1, 3, 0, 0, 0))
    request = packet(s, OURS, 60, header + echo(s, OURS))
    assert len(handle(host, request)) == 1 and host.last_reason == "icmpv6.echo_reply"


@pytest.mark.parametrize(("routing_type", "segments_left", "outcome"), [
    (0, 0, "icmpv6.echo_reply"),
    (0, 1, "icmpv6.param_problem"),
    (2, 1, "icmpv6.param_problem"),
    (9, 0, "icmpv6.echo_reply"),
    (4, 0, "ipv6.segment_routing_disabled"),
    (4, 1, "ipv6.segment_routing_disabled"),
    (3, 0, "ipv6.rpl_routing_disabled"),
])
def test_routing_headers(routing_type: int, segments_left: int, outcome: str) -> None:
    host = Host()
    s = peer(9)
    routing = wire.build_routing_header(58, routing_type, segments_left,
                                        bytes(4) + address("fd00:16::3"))
    request = packet(s, OURS, 43, routing + echo(s, OURS))
    out = handle(host, request)
    assert host.last_reason == outcome
    if outcome == "icmpv6.param_problem":
        assert out == [expected_error(4, 0, 42, request)]  # points at the Routing Type


def test_routing_header_to_a_group_is_dropped() -> None:
    host = Host()
    s = peer(10)
    routing = wire.build_routing_header(58, 0, 1, bytes(20))
    assert handle(host, packet(s, ALL_NODES, 43, routing + echo(s, ALL_NODES))) == []
    assert host.last_reason == "ipv6.routing_to_multicast"


@pytest.mark.parametrize(("chain", "pointer"), [
    (lambda: b"", 6),
    (lambda: options(253, b""), 40),
    (lambda: options(60, b"") + options(253, b""), 48),
    (lambda: options(0, b""), 40),  # Hop-by-Hop not first
])
def test_unknown_next_header_points_at_the_field_naming_it(chain, pointer: int) -> None:  # type: ignore[no-untyped-def]
    host = Host()
    s = peer(11)
    first = 60 if chain() else 253
    request = packet(s, OURS, first, chain() + bytes(8))
    assert handle(host, request) == [expected_error(4, 1, pointer, request)]


def test_no_next_header_is_consumed() -> None:
    host = Host()
    s = peer(12)
    assert handle(host, packet(s, OURS, 60, options(59, b"") + b"ignored")) == []
    assert host.last_reason == "ipv6.no_next_header"


# -- rule 3: echo ------------------------------------------------------------------------

def test_echo_to_all_nodes_is_answered_from_the_global_address() -> None:
    host = Host()
    s = peer(13)
    request = packet(s, ALL_NODES, 58, echo(s, ALL_NODES))
    assert handle(host, request) == [expected_echo_reply(s, request)]


def test_echo_to_all_nodes_from_a_link_local_peer_comes_from_link_local() -> None:
    host = Host()
    s = address("fe80::77")
    request = packet(s, ALL_NODES, 58, echo(s, ALL_NODES))
    assert handle(host, request) == [expected_echo_reply(s, request, from_address=LINK_LOCAL)]


def test_echo_to_the_link_local_address_is_answered_from_it() -> None:
    host = Host()
    s = peer(14)
    request = packet(s, LINK_LOCAL, 58, echo(s, LINK_LOCAL))
    assert handle(host, request) == [expected_echo_reply(s, request,
                                                         from_address=LINK_LOCAL)]


def test_echo_switches() -> None:
    s = peer(15)
    request = packet(s, OURS, 58, echo(s, OURS))
    ignoring = Host(HostConfig(echo_ignore_all_v6=True))
    assert handle(ignoring, request) == [] and ignoring.last_reason == "icmpv6.echo_ignored"
    group = packet(s, ALL_NODES, 58, echo(s, ALL_NODES))
    no_groups = Host(HostConfig(echo_ignore_multicast_v6=True))
    assert handle(no_groups, group) == [] and no_groups.last_reason == "icmpv6.echo_ignored"
    assert len(handle(no_groups, request)) == 1


def test_echo_with_a_bad_checksum_is_dropped_on_both_paths() -> None:
    s = peer(16)
    message = echo(s, OURS)
    broken = message[:2] + bytes(((message[2] + 1) & 0xFF,)) + message[3:]
    host = Host()
    assert handle(host, packet(s, OURS, 58, broken)) == []
    assert host.last_reason == "icmpv6.bad_checksum"
    assert handle(host, packet(s, OURS, 60, options(58, b"") + broken)) == []
    assert host.last_reason == "icmpv6.bad_checksum"


def test_fast_and_full_paths_agree() -> None:
    """The same request through the straight line and through the walk (here sent as an
    atomic fragment, which the walk treats as a whole packet) gives the same reply."""
    for size in (0, 1, 7, 100, 1231, 1232, 1233, 3000):
        s = peer(17)
        message = echo(s, OURS, data=bytes(range(256)) * (size // 256) + bytes(size % 256))
        fast = handle(Host(), packet(s, OURS, 58, message, traffic_class=0x11))
        full = handle(Host(), fragment(s, OURS, 58, message, 0, False, 1,
                                       traffic_class=0x11))
        assert fast == full


def test_incremental_update_at_the_checksum_edges() -> None:
    """Requests whose reply checksum is 0 (request 0x0100), and a request that stores
    its checksum as 0xFFFF (the other zero): the fast path agrees with a full sum."""
    s = peer(46)
    base = echo(s, OURS, data=b"\0\0")
    stored = int.from_bytes(base[2:4], "big")
    for wanted in (0x0100, 0x0000, 0xFFFF, 0x00FF, 0xFEFF):
        # Adding w to the data word subtracts w from the checksum (one's complement).
        word = (stored - wanted) % 0xFFFF
        message = base[:2] + wanted.to_bytes(2, "big") + base[4:8] + word.to_bytes(2, "big")
        assert icmpv6.is_checksum_valid(message, s, OURS)
        fast = handle(Host(), packet(s, OURS, 58, message))
        full = handle(Host(), fragment(s, OURS, 58, message, 0, False, 1))
        assert fast == full and len(fast) == 1
        assert icmpv6.is_checksum_valid(fast[0][40:], OURS, s)


def test_checksum_incremental_update_matches_a_full_recomputation() -> None:
    rng = random.Random(3)
    host = Host()
    for round_number in range(300):
        s = peer(rng.randrange(1, 60000))
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 64)))
        request = packet(s, OURS, 58, icmpv6.build_echo(
            128, rng.randrange(65536), rng.randrange(65536), data, s, OURS,
            code=rng.randrange(256)))
        assert handle(host, request, float(round_number)) == [expected_echo_reply(s, request)]


# -- rule 4: fragments -------------------------------------------------------------------

def fragments_of(src: bytes, message: bytes, size: int, identification: int,
                 next_header: int = 58) -> list[bytes]:
    return [fragment(src, OURS, next_header, message[at:at + size], at,
                     at + size < len(message), identification)
            for at in range(0, len(message), size)]


def test_reassembly_in_any_order() -> None:
    s = peer(18)
    message = echo(s, OURS, data=bytes(range(90)))
    whole = packet(s, OURS, 58, message)
    pieces = fragments_of(s, message, 24, 77)
    for order in itertools.permutations(pieces):
        host = Host()
        outputs = [handle(host, piece) for piece in order]
        assert outputs[:-1] == [[]] * (len(pieces) - 1)
        assert host.stats.drops["frag6.held"] == len(pieces) - 1
        assert outputs[-1] == [expected_echo_reply(s, whole)]


def test_time_exceeded_when_the_first_fragment_was_held() -> None:
    """Recorded from Linux with ip6frag_time=2: the quote is the first fragment as
    received, Fragment header included."""
    host = Host()
    s = peer(0x11)
    message = echo(s, OURS, data=bytes(100))
    first = fragment(s, OURS, 58, message[:48], 0, True, 5)
    assert handle(host, first, 10.0) == []
    assert host.next_timer() == 70.0
    assert host.poll(69.9) == []
    out = host.poll(70.0)
    recorded = bytes.fromhex(
        "6001bd8e00683a40fd000016000000000000000000000002fd000016000000000000000000000111"
        "03013b43000000006000000000382c40fd000016000000000000000000000111fd00001600000000"
        "00000000000000023a00000100000005800071e31234000100000000000000000000000000000000"
        "000000000000000000000000000000000000000000000000"
    )
    assert [normalise(o) for o in out] == [normalise(recorded)]
    assert host.stats.replies["icmpv6.time_exceeded"] == 1
    assert host.next_timer() is None


def test_no_time_exceeded_without_the_first_fragment() -> None:
    host = Host()
    s = peer(19)
    message = echo(s, OURS, data=bytes(100))
    assert handle(host, fragment(s, OURS, 58, message[48:], 48, False, 5), 10.0) == []
    assert host.poll(71.0) == []
    assert host.stats.events["frag6.timeout"] == 1


def test_overlap_discards_the_whole_datagram() -> None:
    host = Host()
    s = peer(20)
    message = echo(s, OURS, data=bytes(100))
    assert handle(host, fragment(s, OURS, 58, message[:48], 0, True, 5)) == []
    assert handle(host, fragment(s, OURS, 58, message[40:], 40, False, 5)) == []
    assert host.last_reason == "frag6.overlap"
    assert len(host.ipv6.reassembler) == 0


@pytest.mark.parametrize(("first_data", "next_header"), [
    (b"\x80\0\0\0", 58),  # half an ICMPv6 header
    (b"\0\1\0\2", 17),  # half a UDP header
    (bytes(16), 6),  # 16 of TCP's 20 bytes
    (b"\x3a\x01\0\0", 60),  # a Destination Options header cut short
])
def test_first_fragment_without_the_whole_chain(first_data: bytes, next_header: int) -> None:
    host = Host()
    s = peer(21)
    first = fragment(s, OURS, next_header, first_data, 0, True, 9)
    assert handle(host, first) == [expected_error(4, 3, 0, first)]


def test_non_final_fragment_not_a_multiple_of_8_points_at_payload_length() -> None:
    """The refused fragment is discarded alone (RFC 8200 §4.5; ipv6_frag_rcv answers
    before it looks the queue up): the datagram's other fragments still reassemble."""
    host = Host()
    s = peer(22)
    message = echo(s, OURS)
    last = fragment(s, OURS, 58, message[8:], 8, False, 9)
    assert handle(host, last) == [] and len(host.ipv6.reassembler) == 1
    bad = fragment(s, OURS, 58, message[:12], 0, True, 9)
    assert handle(host, bad) == [expected_error(4, 0, 4, bad)]
    assert len(host.ipv6.reassembler) == 1
    first = fragment(s, OURS, 58, message[:8], 0, True, 9)
    assert handle(host, first) == [expected_echo_reply(s, packet(s, OURS, 58, message))]


def test_fragment_beyond_65535_points_at_the_offset_field() -> None:
    host = Host()
    s = peer(23)
    bad = fragment(s, OURS, 58, bytes(16), 65528, False, 9)
    assert handle(host, bad) == [expected_error(4, 0, 42, bad)]


def test_atomic_fragment_is_a_whole_packet() -> None:
    host = Host()
    s = peer(24)
    request = fragment(s, OURS, 58, echo(s, OURS), 0, False, 9)
    assert handle(host, request) == [expected_echo_reply(s, packet(s, OURS, 58,
                                                                   echo(s, OURS)))]
    assert len(host.ipv6.reassembler) == 0
    unknown = fragment(s, OURS, 253, bytes(8), 0, False, 9)
    assert handle(host, unknown) == [expected_error(4, 1, 40, unknown)]


def test_second_fragment_header_gets_parameter_problem() -> None:
    host = Host()
    s = peer(25)
    inner = wire.build_fragment_header(58, 0, False, 3) + echo(s, OURS)
    request = fragment(s, OURS, 44, inner, 0, False, 8)
    assert handle(host, request) == [expected_error(4, 0, 48, request)]


def test_memory_stays_bounded_under_a_flood() -> None:
    config = HostConfig(frag_mem_limit=64 * 1024, frag_max_datagrams=64,
                        frag_max_fragments=16)
    host = Host(config)
    rng = random.Random(7)
    for count in range(20000):
        s = peer(rng.randrange(1, 4000))
        offset = rng.randrange(1, 4000) * 8
        handle(host, fragment(s, OURS, 58, bytes(rng.randrange(1, 40) * 8), offset,
                              True, rng.randrange(1 << 32)), count * 0.001)
        reassembler = host.ipv6.reassembler
        assert reassembler.memory <= config.frag_mem_limit
        assert len(reassembler) <= config.frag_max_datagrams
    assert host.stats.events["frag6.evicted"] > 0


def reassemble(pieces: list[bytes]) -> bytes:
    """Join our own reply fragments back into one packet."""
    data = b"".join(p[48:] for p in sorted(pieces, key=lambda p: p[42] << 8 | p[43]))
    first = pieces[0]
    return (first[:4] + (len(data)).to_bytes(2, "big") + bytes((first[40],)) + first[7:40]
            + data)


def test_replies_bigger_than_the_link_mtu_are_fragmented() -> None:
    host = Host()
    s = peer(26)
    request = packet(s, OURS, 58, echo(s, OURS, data=bytes(range(256)) * 12))
    out = handle(host, request)
    assert [len(p) for p in out] == [1496, 1496, 232]  # as Linux cuts (recorded)
    assert {p[44:48] for p in out} == {bytes(4)}  # identification from host.next_frag6_id
    assert reassemble(out) == expected_echo_reply(s, request)
    again = handle(host, request)
    assert {p[44:48] for p in again} == {b"\0\0\0\x01"}


def test_packet_too_big_lowers_the_path_mtu_but_never_below_1280() -> None:
    host = Host()
    s = peer(27)
    request = packet(s, OURS, 58, echo(s, OURS, data=bytes(1400)))
    reply = handle(host, request)[0]
    assert len(reply) == 1448
    router = address("fd00:16::1")
    assert handle(host, too_big(router, 1000, reply)) == []
    assert host.last_reason == "icmpv6.packet_too_big_below_minimum"
    assert len(handle(host, request)) == 1
    assert handle(host, too_big(router, 1300, reply)) == []
    assert host.stats.events["pmtu6.updated"] == 1
    assert [len(p) for p in handle(host, request)] == [1296, 208]
    assert handle(host, too_big(router, 1400, reply)) == []  # never raised by a report
    assert [len(p) for p in handle(host, request)] == [1296, 208]
    # The path MTU expires (net.ipv6.route.mtu_expires, 600 s).
    assert [len(p) for p in handle(host, request, 100.0 + 601)] == [1448]


def test_packet_too_big_about_udp_changes_nothing() -> None:
    host = Host()
    s = peer(28)
    inner = packet(OURS, s, 17, udp(OURS, s, 2, 1, data=bytes(1400)))
    assert handle(host, too_big(address("fd00:16::1"), 1280, inner)) == []
    assert host.last_reason == "icmpv6.packet_too_big_no_socket"
    assert len(handle(host, packet(s, OURS, 58, echo(s, OURS, data=bytes(1400))))) == 1


# -- rule 5: errors ----------------------------------------------------------------------

def test_port_unreachable_byte_for_byte() -> None:
    host = Host()
    s = peer(29)
    request = packet(s, OURS, 17, udp(s, OURS, 1000, 9999))
    assert handle(host, request) == [expected_error(1, 4, 0, request)]
    assert host.last_reason == "icmpv6.port_unreachable"


def test_port_unreachable_quotes_up_to_the_udp_length() -> None:
    host = Host()
    s = peer(30)
    request = packet(s, OURS, 17, udp(s, OURS, 1000, 9999) + b"TRAILING")
    assert handle(host, request) == [expected_error(1, 4, 0, request[:-8])]


def test_error_quote_is_cut_to_1280_bytes() -> None:
    host = Host()
    s = peer(31)
    request = packet(s, OURS, 17, udp(s, OURS, 1000, 9999, data=bytes(3000)))
    out = handle(host, request)
    assert [len(p) for p in out] == [1280]
    assert out == [expected_error(1, 4, 0, request)]


@pytest.mark.parametrize(("build", "reason"), [
    (lambda s: packet(s, OURS, 60, options(58, bytes((0x9E, 2, 0, 0)))
                      + icmpv6.build_error(1, 4, 0, bytes(48), s, OURS)),
     "icmpv6.no_error_about_error"),
    (lambda s: packet(s, ALL_NODES, 253, bytes(8)), "icmpv6.no_error_to_multicast"),
    (lambda s: packet(address("::"), OURS, 253, bytes(8)), "icmpv6.no_error_to_unspecified"),
])
def test_errors_never_sent(build, reason: str) -> None:  # type: ignore[no-untyped-def]
    host = Host()
    assert handle(host, build(peer(32))) == []
    assert host.last_reason == reason


def test_errors_are_rate_limited_per_peer_deterministically() -> None:
    """net.ipv6.icmp.ratelimit is 100 ms with a burst of 6 (recorded: 6 at once, then
    one every 100 ms)."""
    def run() -> list[int]:
        host = Host()
        s = peer(33)
        sent = []
        for step in range(40):
            now = 50.0 + step * 0.02
            sent.append(len(handle(host, packet(s, OURS, 17, udp(s, OURS, step, 9)), now)))
        return sent
    first = run()
    assert first == run()
    # As recorded at the same 20 ms spacing: seven at once (six banked, one earned
    # meanwhile), then one per 100 ms: every fifth send, give or take one (tokens
    # accrue from the last send, and 0.02 is not exact in binary).
    assert first[:7] == [1] * 7
    allowed = [step for step, count in enumerate(first) if count]
    assert all(gap in (4, 5, 6) for gap in map(int.__sub__, allowed[7:], allowed[6:-1]))
    assert sum(first) == 13


def test_global_error_budget_is_shared_with_ipv4() -> None:
    """net.ipv4.icmp_msgs_burst (50) banked, plus the one refill ``icmp_global_allow``
    grants on first use, at one instant; the budget is the host's, shared by both."""
    host = Host()
    answered = 0
    for number in range(130):
        s = peer(100 + number)
        answered += len(handle(host, packet(s, OURS, 17, udp(s, OURS, 1, 9))))
    assert answered == 100
    assert host.stats.drops["icmpv6.global_rate_limited"] == 30
    assert host.ratelimiter.allow(b"\x0a\0\0\x05", 100.0, 1.0) == "icmp.global_rate_limited"


def test_echo_replies_are_not_rate_limited() -> None:
    host = Host()
    s = peer(34)
    request = packet(s, OURS, 58, echo(s, OURS))
    assert sum(len(handle(host, request)) for _ in range(100)) == 100


@pytest.mark.parametrize(("zero", "reason"), [(True, "udp.no_checksum"),
                                               (False, "udp.bad_checksum")])
def test_udp_checksum_is_mandatory(zero: bool, reason: str) -> None:
    host = Host()
    s = peer(35)
    segment = udp(s, OURS, 1000, 9999, zero=zero)
    if not zero:
        segment = segment[:6] + b"\x12\x34" + segment[8:]
    assert handle(host, packet(s, OURS, 17, segment)) == []
    assert host.last_reason == reason


def test_udp_echo_service() -> None:
    host = Host(HostConfig(udp_echo_ports=(7,)))
    s = peer(36)
    request = packet(s, OURS, 17, udp(s, OURS, 5555, 7, data=b"ping"))
    assert handle(host, request) == [
        wire.build_header(0, flow_label(OURS, s, 17, bytes.fromhex("000715b3")), 12, 17, 64,
                          OURS, s) + udp(OURS, s, 7, 5555, data=b"ping")]
    assert host.last_reason == "udp.echo_reply"


# -- rule 6: TCP -------------------------------------------------------------------------

def test_rst_for_a_syn_as_linux_sends_it() -> None:
    host = Host()
    s = peer(37)
    request = packet(s, OURS, 6, tcp(s, OURS, 1234, 80, seq=1000), traffic_class=0xB9)
    header = struct.pack("!HHIIBBHHH", 80, 1234, 0, 1001, 0x50, 0x14, 0, 0, 0)
    value = checksum(header, int.from_bytes(OURS + s, "big") + 6 + 20)
    rst = header[:16] + value.to_bytes(2, "big") + header[18:]
    # DSCP copied, ECN cleared (tcp_v6_send_reset), hop limit 64.
    assert handle(host, request) == [
        wire.build_header(0xB8, flow_label(OURS, s, 6, rst[:4]), 20, 6, 64, OURS, s) + rst]
    assert host.last_reason == "tcp.rst"


def test_no_rst_to_a_rst_or_to_a_group() -> None:
    host = Host()
    s = peer(38)
    assert handle(host, packet(s, OURS, 6, tcp(s, OURS, 1, 2, flags=0x04))) == []
    assert host.last_reason == "tcp.rst_ignored"
    assert handle(host, packet(s, ALL_NODES, 6, tcp(s, ALL_NODES, 1, 2))) == []
    assert host.last_reason == "tcp.multicast"


# -- rule 7: neighbour solicitation ------------------------------------------------------

def solicitation(src: bytes, dst: bytes, target: bytes = OURS, link: bytes | None = None,
                 hop_limit: int = 255) -> bytes:
    return packet(src, dst, 58, icmpv6.build_neighbour_solicitation(target, src, dst, link),
                  hop_limit=hop_limit)


def advertisement(target: bytes, dst: bytes, flags: int, link: bytes | None = None) -> bytes:
    message = icmpv6.build_neighbour_advertisement(target, flags, target, dst, link)
    return wire.build_header(0, 0, len(message), 58, 255, target, dst) + message


def test_unicast_solicitation_on_tun_recorded_bytes() -> None:
    host = Host()
    s = peer(0x14)
    out = handle(host, solicitation(s, OURS, link=MAC))
    assert [o.hex() for o in out] == [  # recorded from Linux: S flag, no options, flow 0
        "6000000000183aff" "fd000016000000000000000000000002" "fd000016000000000000000000000114"
        "88003f5040000000fd000016000000000000000000000002"]
    assert host.last_reason == "ndisc.neighbour_advertisement"


def test_solicitation_to_all_nodes_sets_override() -> None:
    host = Host()
    s = peer(39)
    assert handle(host, solicitation(s, ALL_NODES)) == [
        advertisement(OURS, s, icmpv6.NA_SOLICITED | icmpv6.NA_OVERRIDE)]


def test_solicitation_for_the_link_local_address_is_answered_from_it() -> None:
    host = Host()
    s = peer(40)
    assert handle(host, solicitation(s, OURS, target=LINK_LOCAL)) == [
        advertisement(LINK_LOCAL, s, icmpv6.NA_SOLICITED)]


@pytest.mark.parametrize(("build", "reason"), [
    (lambda s: solicitation(s, OURS, hop_limit=64), "ndisc.bad_hop_limit"),
    (lambda s: solicitation(s, OURS, target=address("fd00:16::77")), "ndisc.not_our_target"),
    (lambda s: solicitation(s, OURS, link=bytes(10)), "ndisc.bad_link_address_option"),
    (lambda s: solicitation(s, OURS, target=ALL_NODES), "ndisc.multicast_target"),
    (lambda s: solicitation(address("::"), ALL_NODES), "ndisc.dad_not_solicited_node"),
])
def test_solicitations_dropped(build, reason: str) -> None:  # type: ignore[no-untyped-def]
    host = Host()
    assert handle(host, build(peer(41))) == []
    assert host.last_reason == reason


def test_tap_mode_advertises_the_link_address_to_multicast_solicitations() -> None:
    """As recorded from Linux on a TAP device (02:00:00:00:00:02): a multicast NS with
    SLLA gets ``8800.. 60000000 <target> 0201 <mac>``, a unicast one no option."""
    host = Host(HostConfig(link_address=MAC))
    s = peer(42)
    group = wire.solicited_node(OURS)
    assert handle(host, solicitation(s, group, link=MAC)) == [
        advertisement(OURS, s, icmpv6.NA_SOLICITED | icmpv6.NA_OVERRIDE, MAC)]
    # Unicast: no option (Linux's inc_opt is the multicast flag).
    assert handle(host, solicitation(s, OURS, link=MAC)) == [
        advertisement(OURS, s, icmpv6.NA_SOLICITED)]
    # Multicast without the sender's link address: Linux cannot answer.
    assert handle(host, solicitation(s, group)) == []
    assert host.last_reason == "ndisc.no_source_link_address"


def test_tap_mode_defends_an_address_against_duplicate_detection() -> None:
    host = Host(HostConfig(link_address=MAC))
    unspecified = address("::")
    group = wire.solicited_node(OURS)
    assert handle(host, solicitation(unspecified, group)) == [
        advertisement(OURS, ALL_NODES, icmpv6.NA_OVERRIDE, MAC)]
    assert handle(host, solicitation(unspecified, group, link=MAC)) == []
    assert host.last_reason == "ndisc.dad_with_link_address"


# -- rule 8: flow label ------------------------------------------------------------------

def test_flow_label_rule() -> None:
    """RFC 6437 §3 as Linux's auto_flowlabels: each answer carries its own flow's keyed
    hash, not the request's label (flowlabel_reflect=0); one flow, one label, the same
    in every fragment; another secret, other labels; NAs carry 0."""
    host = Host()
    s = peer(43)
    ours = echo_label(s, OURS)
    for request, label in (
            (packet(s, OURS, 58, echo(s, OURS), flow_label=0xABCDE), ours),
            (packet(s, OURS, 58, echo(s, OURS, code=3)), ours),
            (packet(s, OURS, 60, options(58, b"") + echo(s, OURS), flow_label=0x12345),
             ours),
            (packet(s, OURS, 253, bytes(8), flow_label=0xFEDCB),
             flow_label(OURS, s, 58, bytes((4, 1)))),
            (packet(s, OURS, 6, tcp(s, OURS, 1, 2), flow_label=0x00001),
             flow_label(OURS, s, 6, bytes.fromhex("00020001")))):
        answer = handle(host, request)[0]
        assert int.from_bytes(answer[1:4], "big") & 0xFFFFF == label
    assert ours != echo_label(peer(44), OURS)
    other = Host(HostConfig(hash_secret=99)).handle(packet(s, OURS, 58, echo(s, OURS)), 0.0)
    assert int.from_bytes(other[0][1:4], "big") & 0xFFFFF == echo_label(s, OURS,
                                                                         secret=99) != ours
    big = handle(host, packet(s, OURS, 58, echo(s, OURS, data=bytes(3000))))
    assert len(big) == 3 and {p[1:4] for p in big} == {big[0][1:4]}
    assert int.from_bytes(big[0][1:4], "big") & 0xFFFFF == ours
    solicit = packet(s, OURS, 58, icmpv6.build_neighbour_solicitation(OURS, s, OURS),
                     flow_label=0x77777, hop_limit=255)
    assert handle(host, solicit)[0][1:4] == bytes(3)
    first = fragment(s, OURS, 58, echo(s, OURS)[:8], 0, True, 1)
    first = first[:1] + bytes((0x0A, 0xBC, 0xDE)) + first[4:]
    handle(host, first, 200.0)
    assert int.from_bytes(host.poll(260.0)[0][1:4], "big") & 0xFFFFF == flow_label(
        OURS, s, 58, bytes((3, 1)))


# -- counting ----------------------------------------------------------------------------

def test_every_packet_counts_exactly_one_reply_or_drop() -> None:
    host = Host()
    s = peer(45)
    sent = [packet(s, OURS, 58, echo(s, OURS)), packet(s, OURS, 253, bytes(8)),
            packet(s, OURS, 59, b""), *fragments_of(s, echo(s, OURS, data=bytes(40)), 24, 3)]
    for count, one in enumerate(sent, 1):
        handle(host, one)
        assert sum(host.stats.replies.values()) + sum(host.stats.drops.values()) == count


def test_remaining_drops() -> None:
    host = Host()
    s = peer(47)
    # Destination Options header running past the packet.
    assert handle(host, packet(s, OURS, 60, bytes((58, 4)) + bytes(6))) == []
    assert host.last_reason == "ipv6.truncated_options"
    # Routing header running past the packet.
    assert handle(host, packet(s, OURS, 43, bytes((58, 4, 0, 0)) + bytes(4))) == []
    assert host.last_reason == "ipv6.truncated_routing"
    # A Neighbour Advertisement is for the link layer, not answered.
    advert = icmpv6.build_neighbour_advertisement(s, icmpv6.NA_SOLICITED, s, OURS)
    assert handle(host, packet(s, OURS, 58, advert, hop_limit=255)) == []
    assert host.last_reason == "ndisc.advertisement_consumed"
    # Packet Too Big whose quote has no readable upper header.
    quote = wire.build_header(0, 0, 8, 60, 64, OURS, s) + options(59, b"")
    assert handle(host, too_big(s, 1300, quote)) == []
    assert host.last_reason == "icmpv6.packet_too_big_unreadable"


def test_reassembled_datagram_over_65535_is_dropped() -> None:
    """ip6_frag_reasm: the unfragmentable part plus the data must fit a payload length."""
    host = Host()
    s = peer(48)
    before = options(44, bytes((0x1E, 200)) + bytes(200))
    last = fragment(s, OURS, 58, bytes(16), 65512, False, 4, before=before, first_header=60)
    assert handle(host, last) == []
    step = 60000
    for at in range(0, 65512, step):
        size = min(step, 65512 - at)
        out = handle(host, fragment(s, OURS, 58, bytes(size), at, True, 4, before=before,
                                    first_header=60))
    assert out == [] and host.last_reason == "frag6.too_big"


def test_jumbogram_is_trimmed_to_its_jumbo_length() -> None:
    """RFC 2675: payload length 0 and a Jumbo Payload option over 65535."""
    host = Host()
    s = peer(49)
    message = echo(s, OURS, data=bytes(70000))
    hop_by_hop = options(58, bytes((0xC2, 4)) + (8 + len(message)).to_bytes(4, "big"))
    request = packet(s, OURS, 0, hop_by_hop + message, payload_length=0)
    assert handle(host, request + bytes(8)) == [] and host.last_reason == "icmpv6.echo_too_big"
    echo_host = Host(HostConfig(udp_echo_ports=(7,)))
    datagram = udp(s, OURS, 5, 7, data=bytes(70000), length=0)
    hop_by_hop = options(17, bytes((0xC2, 4)) + (8 + len(datagram)).to_bytes(4, "big"))
    jumbo_udp = packet(s, OURS, 0, hop_by_hop + datagram, payload_length=0)
    assert handle(echo_host, jumbo_udp) == [] and echo_host.last_reason == "udp.echo_too_big"
    trimmed = packet(s, OURS, 0, hop_by_hop + message[:-1], payload_length=0)
    assert handle(host, trimmed) == [] and host.last_reason == "ipv6.bad_length"


def test_tap_mode_bytes_as_recorded() -> None:
    mac = bytes.fromhex("020000000002")
    host = Host(HostConfig(link_address=mac))
    s = peer(1)
    group = wire.solicited_node(OURS)
    out = handle(host, solicitation(s, group, link=bytes.fromhex("020000000099")))
    assert [o[40:].hex() for o in out] == [
        "88001b5860000000fd0000160000000000000000000000020201020000000002"]
    unspecified = address("::")
    out = handle(host, solicitation(unspecified, group))
    assert [o[24:40] + o[40:] for o in out] == [ALL_NODES + bytes.fromhex(
        "88005a6c20000000fd0000160000000000000000000000020201020000000002")]


def test_udp_echo_of_a_reassembled_datagram_is_fragmented() -> None:
    host = Host(HostConfig(udp_echo_ports=(7,)))
    s = peer(50)
    datagram = udp(s, OURS, 5555, 7, data=bytes(range(256)) * 12)
    out: list[bytes] = []
    for piece in fragments_of(s, datagram, 1448, 12, next_header=17):
        out += handle(host, piece)
    assert [len(p) for p in out] == [1496, 1496, 232]
    label = flow_label(OURS, s, 17, bytes.fromhex("000715b3"))
    assert reassemble(out) == wire.build_header(0, label, len(datagram), 17, 64, OURS, s) + udp(
        OURS, s, 7, 5555, data=bytes(range(256)) * 12)


def test_udp_echo_of_a_length_zero_datagram_says_its_length() -> None:
    """RFC 2675 §4: length 0 means the whole payload (Linux reads it so); the echo is a
    normal datagram with a real length and a checksum to match."""
    host = Host(HostConfig(udp_echo_ports=(7,)))
    s = peer(51)
    request = packet(s, OURS, 17, udp(s, OURS, 5555, 7, data=b"jumbo?", length=0))
    assert handle(host, request) == [
        wire.build_header(0, flow_label(OURS, s, 17, bytes.fromhex("000715b3")), 14, 17, 64,
                          OURS, s) + udp(OURS, s, 7, 5555, data=b"jumbo?")]
