"""The output oracle: each rule fires on a packet that breaks it and stays quiet on
correct answers of the real host."""

from __future__ import annotations

import struct

import pytest

from fuzz import packets as p
from fuzz import seeds
from stack import Host, HostConfig
from stack.oracle import (
    RULES,
    OracleViolation,
    assert_clean,
    check_host,
    check_outputs,
    find_violations,
    format_violations,
)

HOST4, PEER4, HOST6, PEER6 = seeds.HOST4, seeds.PEER4, seeds.HOST6, seeds.PEER6


def echo_reply4(**ip: object) -> bytes:
    return p.ipv4(HOST4, PEER4, 1, p.icmp4(0, 0, b"\x00\x01\x00\x01", b"payload!"), **ip)  # type: ignore[arg-type]


def echo_reply6(dst: str = PEER6) -> bytes:
    return p.ipv6(HOST6, dst, 58, p.icmp6(HOST6, dst, 129, 0, b"\x00\x01\x00\x01", b"x" * 8))


def flip(packet: bytes, at: int) -> bytes:
    mutable = bytearray(packet)
    mutable[at] ^= 0x01
    return bytes(mutable)


@pytest.fixture
def host() -> Host:
    return Host(HostConfig())


def test_correct_answers_break_no_rule(host: Host) -> None:
    for packet in list(seeds.ipv4_seeds().values()) + list(seeds.ipv6_seeds().values()):
        outputs = host.handle(packet, 1000.0)
        assert check_outputs(packet, outputs, host) == [], packet.hex()
    assert check_outputs(None, [echo_reply4(), echo_reply6()], host) == []


@pytest.mark.parametrize(("output", "rule"), [
    (flip(echo_reply4(), 10), "output.bad_ip_checksum"),
    (flip(echo_reply4(), 22), "output.bad_l4_checksum"),
    (flip(echo_reply6(), 42), "output.bad_l4_checksum"),
    (echo_reply4() + b"\x00", "output.bad_length"),
    (echo_reply6()[:-1], "output.bad_length"),
    (p.ipv4(HOST4, PEER4, 1, p.icmp4(0, 0, b"")[:6]), "output.short_icmp"),
    (p.ipv4(HOST4, PEER4, 17, struct.pack("!HHHH", 7, 9, 99, 0)), "output.bad_length"),
    (p.ipv6(HOST6, PEER6, 17, struct.pack("!HHHH", 7, 9, 8, 0)), "output.bad_l4_checksum"),
    (b"\x50" + bytes(30), "output.unparseable"),
    (echo_reply4(ttl=0), "output.zero_ttl"),
    (p.ipv4("172.16.0.9", PEER4, 1, p.icmp4(0, 0)), "output.foreign_source"),
    (p.ipv4(HOST4, "172.16.0.255", 1, p.icmp4(0, 0)), "output.broadcast_destination"),
    (p.ipv4(HOST4, "255.255.255.255", 1, p.icmp4(0, 0)), "output.broadcast_destination"),
    (p.ipv4(HOST4, "224.0.0.1", 1, p.icmp4(0, 0)), "output.multicast_destination"),
    (echo_reply6("ff02::1"), "output.multicast_destination"),
], ids=lambda value: value if isinstance(value, str) else "")
def test_each_rule_fires(host: Host, output: bytes, rule: str) -> None:
    assert rule in RULES
    assert rule in check_outputs(None, [output], host)


def _error4(quoted: bytes, icmp_type: int = 3, code: int = 3) -> bytes:
    return p.ipv4(HOST4, PEER4, 1, p.icmp4(icmp_type, code, bytes(4), quoted))


def test_icmp_error_rules(host: Host) -> None:
    inbound_error = p.ipv4(PEER4, HOST4, 1, p.icmp4(3, 1, bytes(4), bytes(28)))
    assert check_outputs(None, [_error4(inbound_error[:28])], host) == \
        ["icmp.error_about_error"]
    fragment = p.ipv4(PEER4, HOST4, 17, bytes(16), flags_offset=0x2000 | 3)
    assert check_outputs(None, [_error4(fragment)], host) == ["icmp.error_about_fragment"]
    to_broadcast = p.ipv4(PEER4, "172.16.0.255", 17, p.udp(PEER4, "172.16.0.255", 1, 2, b""))
    assert check_outputs(None, [_error4(to_broadcast)], host) == ["icmp.error_about_multicast"]
    big = _error4(p.ipv4(PEER4, HOST4, 17, bytes(600)))
    assert len(big) > 576
    assert check_outputs(None, [big], host) == ["icmp.error_too_big"]
    # An echo request quoted is no error about an error: the rule is quiet.
    assert check_outputs(None, [_error4(seeds.ipv4_seeds()["echo"][:28])], host) == []


def test_icmpv6_error_rules(host: Host) -> None:
    def error6(quoted: bytes, icmp_type: int = 1, code: int = 4) -> bytes:
        return p.ipv6(HOST6, PEER6, 58, p.icmp6(HOST6, PEER6, icmp_type, code, bytes(4), quoted))

    inbound_error = p.ipv6(PEER6, HOST6, 58, p.icmp6(PEER6, HOST6, 3, 0, bytes(4), bytes(40)))
    assert check_outputs(None, [error6(inbound_error)], host) == ["icmp.error_about_error"]
    multicast = p.ipv6(PEER6, "ff02::1", 17, p.udp(PEER6, "ff02::1", 1, 2, b""))
    assert check_outputs(None, [error6(multicast)], host) == ["icmp.error_about_multicast"]
    # RFC 4443 §2.4 (e.3): Packet Too Big may answer a multicast packet.
    assert check_outputs(None, [error6(multicast, 2, 0)], host) == []
    assert check_outputs(None, [error6(bytes(1300))], host) == ["icmp.error_too_big"]


def test_neighbour_discovery_may_go_to_link_multicast(host: Host) -> None:
    advert = p.ipv6(seeds.HOST6_LL, "ff02::1", 58, p.icmp6(
        seeds.HOST6_LL, "ff02::1", 136, 0, bytes(4), p.address(HOST6)), hop_limit=255)
    assert check_outputs(None, [advert], host) == []


def test_fragmented_reply_is_reassembled_and_checked(host: Host) -> None:
    whole = p.ipv4(HOST4, PEER4, 1, p.icmp4(0, 0, b"\x00\x01\x00\x01", bytes(range(200))))
    pieces = p.fragment_v4(whole, [96])
    assert check_outputs(None, pieces, host) == []
    broken = [pieces[0], p.repair(flip(pieces[1], 40))]
    assert check_outputs(None, broken, host) == ["output.bad_l4_checksum"]
    assert check_outputs(None, [pieces[0]], host) == ["output.bad_fragments"]
    small = Host(HostConfig(mtu=100, ipv6=()))
    assert "output.exceeds_mtu" in check_outputs(None, [whole], small)


def test_violation_message_names_the_rule_first(host: Host) -> None:
    with pytest.raises(OracleViolation) as caught:
        assert_clean(None, [flip(echo_reply4(), 10), echo_reply4(ttl=0)], host)
    assert str(caught.value).splitlines()[0] == \
        "oracle: output.bad_ip_checksum, output.zero_ttl"
    assert caught.value.rules == ["output.bad_ip_checksum", "output.zero_ttl"]
    assert [v.output_index for v in caught.value.violations] == [0, 1]


def test_non_bytes_output_is_a_violation(host: Host) -> None:
    assert check_outputs(None, ["not bytes"], host) == ["output.not_bytes"]


def test_dpkt_and_dissect_disagreement_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    import stack.oracle as oracle

    monkeypatch.setattr(oracle, "_dissect", lambda packet: {"ipv4.ttl": 1})
    found = format_violations(echo_reply4())
    assert [v.rule for v in found] == ["output.dpkt_disagrees"]
    assert "ipv4.ttl: dpkt 64, inspect.dissect 1" in found[0].detail


def test_host_over_its_caps_is_reported() -> None:
    host = Host(HostConfig(frag_max_datagrams=2))
    first = p.fragment_v4(seeds.ipv4_seeds()["echo_large"], [512])[0]
    host.handle(first, 1000.0)
    assert check_host(host) == []
    reassembler = host.ipv4.reassembler
    reassembler._max_datagrams = 0  # as if the table had outgrown its cap
    found = check_host(host)
    assert [v.rule for v in found] == ["state.over_cap"]
    assert "reassembler" in found[0].detail


def test_without_a_host_the_host_rules_are_skipped() -> None:
    foreign = p.ipv4("10.9.9.9", PEER4, 1, p.icmp4(0, 0))
    assert find_violations(None, [foreign]) == []


def test_dpkt_is_no_judge_of_layers_the_oracle_does_not_read() -> None:
    """dpkt wants 8 bytes of ESP header; neither the oracle nor inspect decode ESP, so
    only the IP header fields are compared (a fuzzer finding in the referee target)."""
    for packet in (p.ipv4(HOST4, PEER4, 50, b""), p.ipv6(HOST6, PEER6, 50, b"")):
        assert format_violations(packet) == []
    wrong_ttl = p.ipv4(HOST4, PEER4, 50, b"")
    import stack.oracle as oracle

    assert oracle._dpkt_header_only(wrong_ttl, oracle.parse_output(wrong_ttl)) is not None


def test_reset_along_a_reversed_source_route_checksums_to_the_final_destination() -> None:
    # A fuzzing finding (sequence target): a TCP reset to a strict-source-routed SYN
    # goes to the route's first hop, 172.16.0.0, with 172.16.0.1 last in the option; its
    # checksum covers the final destination (RFC 9293 §3.1), as Linux's reset does.
    from stack.wire.inspect import validate
    from stack.wire.ipv4 import final_destination

    reset = bytes.fromhex("4700003000004000400641f2ac100002ac100000890704ac1000010000509c"
                          "4000000000000003e950140000b7330000")
    assert final_destination(reset[:28]) == bytes([172, 16, 0, 1])
    assert final_destination(b"\x45" + reset[1:20]) == bytes([172, 16, 0, 0])  # no option
    assert validate(reset) == []
    assert check_outputs(None, [reset], None) == []
    broken = reset[:44] + bytes([0xB7, 0x34]) + reset[46:]  # summed to the first hop
    assert check_outputs(None, [broken], None) == ["output.bad_l4_checksum"]


def test_ipv6_carrying_icmp_for_ipv4_is_not_a_dpkt_disagreement() -> None:
    # A fuzzing finding (referee target): IPv6 whose destination options lead to next
    # header 1 (ICMP for IPv4) with nothing after them. dpkt tries to read an ICMP
    # message and runs out of data; the oracle checks no ICMP checksum over IPv6, so it
    # compares the headers only, and the packet is as valid as validate() says.
    from stack.wire.inspect import validate

    packet = bytes.fromhex("6500002700103c00403ab64bac1001017f000001820b000000000000"
                           "00000000000000000044000001010400000000050200000102000045")
    assert validate(packet) == []
    assert "output.dpkt_disagrees" not in check_outputs(None, [packet], None)


# -- the answer rules: judged against the packet answered -------------------------------

def _answer(host: Host, name: str, version: int = 4) -> tuple[bytes, bytes]:
    packet = (seeds.ipv4_seeds() if version == 4 else seeds.ipv6_seeds())[name]
    outputs = host.handle(packet, 1000.0)
    assert len(outputs) == 1, name
    assert check_outputs(packet, outputs, host) == [], name
    return packet, outputs[0]


def _set(packet: bytes, at: int, value: bytes) -> bytes:
    """``packet`` with ``value`` written at ``at``, lengths and checksums repaired."""
    return p.repair(packet[:at] + value + packet[at + len(value):])


def test_an_echo_reply_keeps_identifier_sequence_and_data(host: Host) -> None:
    for version, name, start in ((4, "echo", 20), (6, "echo", 40)):
        request, reply = _answer(host, name, version)
        for offset in (4, 6, 9):  # identifier, sequence, data
            wrong = _set(reply, start + offset, bytes([reply[start + offset] ^ 0x40]))
            assert check_outputs(request, [wrong], host) == ["icmp.echo_changed"]
    # An echo reply to a packet that is no echo request.
    udp = seeds.ipv4_seeds()["udp_closed"]
    _, reply = _answer(Host(HostConfig()), "echo")
    assert "icmp.echo_changed" in check_outputs(udp, [reply], host)


def test_an_answer_goes_to_the_sender(host: Host) -> None:
    request, reply = _answer(host, "echo")
    other = p.repair(reply[:16] + p.address("172.16.0.77") + reply[20:])
    assert check_outputs(request, [other], host) == ["answer.wrong_destination"]
    request6, reply6 = _answer(host, "udp_closed", 6)
    to_self = p.repair(reply6[:24] + p.address("fd00:16::77") + reply6[40:])
    assert "answer.wrong_destination" in check_outputs(request6, [to_self], host)


def test_nothing_goes_to_an_unspecified_address(host: Host) -> None:
    for reply in (echo_reply6("::"), p.ipv4(HOST4, "0.0.0.0", 1, p.icmp4(0, 0))):
        assert check_outputs(None, [reply], host) == ["output.unspecified_destination"]


def test_at_most_one_answer_per_packet(host: Host) -> None:
    request, reply = _answer(host, "echo")
    assert check_outputs(request, [reply, reply], host) == ["answer.too_many"]
    # The fragments of one reply are one answer.
    big = seeds.ipv4_seeds()["echo_large"]
    small = Host(HostConfig(mtu=576, ipv6=()))
    pieces = small.handle(big, 1000.0)
    assert len(pieces) > 1 and check_outputs(big, pieces, small) == []
    # Timer output answers no packet: several are fine.
    assert check_outputs(None, [reply, reply], host) == []


def test_an_icmp_error_quotes_the_packet(host: Host) -> None:
    for version in (4, 6):
        request, error = _answer(host, "udp_closed", version)
        header = 20 + 8 if version == 4 else 40 + 8
        changed = _set(error, header + 13, bytes([error[header + 13] ^ 0x01]))  # quoted TTL etc.
        assert check_outputs(request, [changed], host) == ["icmp.bad_quote"]
        short = p.repair(error[:header + (20 if version == 4 else 40) + 4])
        assert check_outputs(request, [short], host) == ["icmp.bad_quote"]
    # The options of an IPv4 quote may differ: Linux fills Record Route on receipt.
    request = p.ipv4(PEER4, HOST4, 17, p.udp(PEER4, HOST4, 5, 9, b"x"),
                     options=bytes([7, 7, 4]) + bytes(4))
    outputs = host.handle(request, 1000.0)
    assert len(outputs) == 1 and check_outputs(request, outputs, host) == []


def test_a_parameter_problem_points_at_the_faulty_field(host: Host) -> None:
    bad_option = p.ipv4(PEER4, HOST4, 1, p.icmp4(8, 0, b"\x00\x01\x00\x01"),
                        options=bytes([68, 3, 5, 0]))  # Timestamp too short for its pointer
    outputs = host.handle(bad_option, 1000.0)
    assert len(outputs) == 1 and check_outputs(bad_option, outputs, host) == []
    pointer = outputs[0][24]
    for wrong in (pointer + 8, 2, 19):
        moved = _set(outputs[0], 24, bytes([wrong]))
        assert "icmp.bad_pointer" in check_outputs(bad_option, [moved], host), wrong
    request, error = _answer(host, "echo_hop_by_hop_unknown_icmp_unicast", 6)
    assert error[40] == 4 and error[41] == 2  # code 2: an unrecognised option
    for wrong in (int.from_bytes(error[44:48], "big") + 1, 6, 2000):
        moved = _set(error, 44, wrong.to_bytes(4, "big"))
        assert "icmp.bad_pointer" in check_outputs(request, [moved], host), wrong


def test_a_reset_follows_rfc_9293_from_the_segment(host: Host) -> None:
    for version in (4, 6):
        start = 20 if version == 4 else 40
        for name in ("tcp_syn", "tcp_ack_data" if version == 4 else "tcp_ack"):
            request, reset = _answer(host, name, version)
            for field in (4, 8):  # the sequence number, the acknowledgment
                wrong = _set(reset, start + field, (int.from_bytes(
                    reset[start + field:start + field + 4], "big") ^ 1).to_bytes(4, "big"))
                found = check_outputs(request, [wrong], host)
                # With ACK set in the segment the reset's ack field is unused (zero).
                assert found in (["tcp.bad_reset"], []), (name, field)
                assert found or (field == 8 and not reset[start + 13] & 0x10)
        rst = seeds.ipv4_seeds()["tcp_rst"] if version == 4 else seeds.ipv6_seeds()["tcp_rst"]
        assert "tcp.bad_reset" in check_outputs(rst, [reset], host)


def test_each_rule_raises_from_a_frame_of_its_own(host: Host) -> None:
    import traceback

    frames = set()
    for outputs in ([flip(echo_reply4(), 10)], [echo_reply4(ttl=0)]):
        with pytest.raises(OracleViolation) as caught:
            assert_clean(None, outputs, host)
        frames.add(traceback.extract_tb(caught.value.__traceback__)[-1].name)
    assert frames == {"broke_output_bad_ip_checksum", "broke_output_zero_ttl"}


def test_a_quote_of_a_packet_cut_by_its_payload_length_is_whole() -> None:
    """CI's fuzz step found it: an IPv6 packet whose payload length (2) leaves room for
    only the start of an AH header, followed by 64 bytes of trailer. The host trims the
    trailer (as ip6_rcv_core does) and quotes the 42-byte datagram whole in its
    Parameter Problem; the oracle used to read the AH length from the trailer and want
    48 bytes."""
    request = bytes.fromhex(
        "6000200000023340fd000016000000000000000aaa7bee93fd00001600000000"
        "00000000000000029c4081c8a07ccb47577543b86d62e9544cf4321002893e6a"
        "be8e6926713b179397c313b7e952d002cc5342294e8d6580fbdcc3560cf0fb52"
        "fe2747b08d65b0194f0a")
    host = Host(HostConfig())
    outputs = host.handle(request, 1000.0)
    assert len(outputs) == 1 and outputs[0][40] == 4  # ICMPv6 Parameter Problem
    assert outputs[0][48:] == request[:42]  # the datagram, without the trailer
    assert check_outputs(request, outputs, host) == []
