"""The IPv6 and ICMPv6 codecs (stack/wire/ipv6.py, stack/wire/icmpv6.py) on sample bytes."""

from __future__ import annotations

import pytest
from test_ipv6_support import ALL_NODES, OURS, address

from stack.wire import icmpv6
from stack.wire import ipv6 as wire

PEER = address("fd00:16::101")
MAC = bytes.fromhex("020000000001")

# An Echo Request from fd00:16::101 to fd00:16::2 (traffic class 0xb9, flow label
# 0x12345, data "abcdefgh"): the "echo tc fl" case of test_ipv6_linux.py, to which Linux
# answered with checksum 0xdfb9 (the request's 0xe0b9 less the type change).
SAMPLE = bytes.fromhex(
    "6b912345" "0010" "3a" "40" "fd000016000000000000000000000101"
    "fd000016000000000000000000000002" "8000e0b9123400016162636465666768")


def test_parse_header_of_a_sample() -> None:
    header = wire.parse_header(SAMPLE)
    assert header == wire.Ipv6Header(0xB9, 0x12345, 16, 58, 64, PEER, OURS)
    assert wire.build_header(*header) == SAMPLE[:40]


def test_parse_header_reasons() -> None:
    assert wire.parse_header(SAMPLE[:39]) == "ipv6.truncated"
    assert wire.parse_header(b"\x45" + SAMPLE[1:]) == "ipv6.bad_version"


def test_sample_checksum_with_the_pseudo_header() -> None:
    message = SAMPLE[40:]
    assert icmpv6.is_checksum_valid(message, PEER, OURS)
    assert not icmpv6.is_checksum_valid(message, OURS, address("fd00:16::102"))
    assert icmpv6.build_echo(128, 0x1234, 1, b"abcdefgh", PEER, OURS) == message
    assert wire.is_upper_layer_checksum_valid(message, PEER, OURS, 58)
    assert wire.upper_layer_checksum(message[:2] + b"\0\0" + message[4:], PEER, OURS,
                                     58) == 0xE0B9


@pytest.mark.parametrize(("options", "expected"), [
    (b"", "3a00010400000000"),
    (b"\x05\x02\x00\x00", "3a00050200000100"),
    (b"\x1e\x03\x00\x00\x00", "3a001e0300000000"),  # 1 byte missing: a Pad1
    (b"\x1e\x00", "3a001e0001020000"),
])
def test_options_header_is_padded_to_8(options: bytes, expected: str) -> None:
    assert wire.build_options_header(58, options).hex() == expected


def test_iter_options_reports_each_option_with_its_offset() -> None:
    header = b"\x3a\x01" + b"\x00" + b"\x05\x02\x00\x00" + b"\xc2\x04\x00\x01\x00\x00" \
        + b"\x01\x01\x00"
    found = list(wire.iter_options(header, 2, len(header)))
    assert found == [wire.Option(2, 0, b""), wire.Option(3, 5, b"\0\0"),
                     wire.Option(7, 0xC2, b"\0\1\0\0"), wire.Option(13, 1, b"\0")]
    assert list(wire.iter_options(b"\x3a\x00\x1e\x09\x00\x00\x00\x00", 2, 8)) == [
        "ipv6.bad_option_length"]
    assert list(wire.iter_options(b"\x3a\x00\x00\x00\x00\x00\x00\x1e", 2, 8))[-1] == \
        "ipv6.bad_option_length"


def test_fragment_header_round_trip() -> None:
    raw = wire.build_fragment_header(58, 1448, True, 0xE40FC44C)
    assert raw.hex() == "3a0005a9e40fc44c"  # as Linux writes it (recorded)
    assert wire.parse_fragment_header(b"xx" + raw, 2) == wire.FragmentHeader(58, 1448, True,
                                                                            0xE40FC44C)
    assert wire.parse_fragment_header(raw[:7], 0) is None


def test_routing_header_layout() -> None:
    raw = wire.build_routing_header(58, 0, 1, bytes(4) + OURS)
    assert len(raw) == 24 and raw[:4] == bytes((58, 2, 0, 1))


@pytest.mark.parametrize(("chain", "first", "expected"), [
    (b"", 58, (40, 58, 0)),
    (wire.build_options_header(60) + wire.build_options_header(58), 0, (56, 58, 0)),
    (bytes((58, 1, 0, 0)) + bytes(8), wire.AUTH, (52, 58, 0)),  # AH counts 4-byte units
    (wire.build_fragment_header(17, 0, True, 1), 44, (48, 17, 1)),
    (wire.build_fragment_header(17, 8, False, 1), 44, (40, 44, 8)),  # non-first: stops
    (wire.build_options_header(59), 60, None),  # No Next Header ends the walk
    (wire.build_options_header(60), 60, None),  # the next header runs past the end
])
def test_skip_extension_headers_as_linux(chain: bytes, first: int,
                                         expected: tuple[int, int, int] | None) -> None:
    packet = wire.build_header(0, 0, len(chain) + 8, first, 64, PEER, OURS) + chain + bytes(8)
    assert wire.skip_extension_headers(packet, 40, first) == expected


def test_fragment_cuts_as_linux_and_joins_back() -> None:
    body = bytes(range(256)) * 12
    packet = wire.build_header(0, 5, len(body), 58, 64, OURS, PEER) + body
    pieces = wire.fragment(packet, 1500, 7)
    assert [len(p) for p in pieces] == [1496, 1496, 224]
    assert [p[42:44].hex() for p in pieces] == ["0001", "05a9", "0b50"]
    assert b"".join(p[48:] for p in pieces) == body
    assert all(p[6] == 44 and p[40] == 58 and p[44:48] == b"\0\0\0\x07" for p in pieces)
    assert all(int.from_bytes(p[4:6], "big") == len(p) - 40 for p in pieces)
    assert wire.fragment(packet[:1500], 1500, 7) == [packet[:1500]]
    assert [len(p) for p in wire.fragment(packet, 1280, 1)] == [1280, 1280, 656]


def test_addresses() -> None:
    assert wire.solicited_node(OURS) == address("ff02::1:ff00:2")
    assert wire.is_multicast(ALL_NODES) and not wire.is_multicast(OURS)
    assert wire.is_link_local(address("fe80::1")) and wire.is_link_local(address("febf::1"))
    assert not wire.is_link_local(address("fec0::1"))
    assert wire.address_sum(SAMPLE) == int.from_bytes(PEER + OURS, "big")


def test_neighbour_solicitation_round_trip() -> None:
    group = wire.solicited_node(OURS)
    message = icmpv6.build_neighbour_solicitation(OURS, PEER, group, MAC)
    assert message.hex() == ("8700" + message[2:4].hex() + "00000000"
                             + OURS.hex() + "0101" + MAC.hex())
    assert icmpv6.is_checksum_valid(message, PEER, group)
    parsed = icmpv6.parse_neighbour_solicitation(message)
    assert isinstance(parsed, icmpv6.NeighbourSolicitation)
    assert parsed.target == OURS and parsed.link_address() == MAC
    assert parsed.options == [icmpv6.NdOption(1, MAC)]


def test_neighbour_advertisement_round_trip() -> None:
    flags = icmpv6.NA_SOLICITED | icmpv6.NA_OVERRIDE
    message = icmpv6.build_neighbour_advertisement(OURS, flags, OURS, PEER, MAC)
    assert message[4] == 0x60 and message[24:26] == b"\x02\x01" and message[26:32] == MAC
    parsed = icmpv6.parse_neighbour_advertisement(message)
    assert isinstance(parsed, icmpv6.NeighbourAdvertisement)
    assert (parsed.flags, parsed.target, parsed.link_address()) == (flags, OURS, MAC)
    bare = icmpv6.build_neighbour_advertisement(OURS, icmpv6.NA_SOLICITED, OURS, PEER)
    parsed_bare = icmpv6.parse_neighbour_advertisement(bare)
    assert isinstance(parsed_bare, icmpv6.NeighbourAdvertisement)
    assert len(bare) == 24 and parsed_bare.link_address() is None


@pytest.mark.parametrize(("message", "reason"), [
    (bytes((135, 0)) + bytes(20), "ndisc.truncated"),
    (bytes((135, 1)) + bytes(22), "ndisc.bad_code"),
    (bytes((135, 0)) + bytes(6) + ALL_NODES, "ndisc.multicast_target"),
    (bytes((135, 0)) + bytes(6) + OURS + b"\x01\x00" + bytes(6), "ndisc.bad_option"),
    (bytes((135, 0)) + bytes(6) + OURS + b"\x01\x02" + bytes(6), "ndisc.bad_option"),
    (bytes((135, 0)) + bytes(6) + OURS + b"\x01", "ndisc.bad_option"),
])
def test_neighbour_solicitation_reasons(message: bytes, reason: str) -> None:
    assert icmpv6.parse_neighbour_solicitation(message) == reason


def test_link_layer_option_pads_to_8() -> None:
    assert icmpv6.link_layer_option(2, MAC).hex() == "0201" + MAC.hex()
    assert icmpv6.link_layer_option(1, b"").hex() == "0101000000000000"
    assert len(icmpv6.link_layer_option(1, bytes(8))) == 16


def test_error_layout() -> None:
    quote = bytes(range(48))
    message = icmpv6.build_error(4, 2, 42, quote, OURS, PEER)
    assert message[:2] == b"\x04\x02" and message[4:8] == b"\0\0\0\x2a"
    assert message[8:] == quote and icmpv6.is_checksum_valid(message, OURS, PEER)
    assert icmpv6.is_error(4) and not icmpv6.is_error(128)
