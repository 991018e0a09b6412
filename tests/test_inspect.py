"""stack.wire.inspect: dissect, validate, describe and diff, checked against dpkt-built packets."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st
from test_replay_packets import (
    icmp6_echo,
    icmp6_message,
    icmp_echo,
    ipv4_packet,
    tcp_v4,
    udp_v4,
    v6,
)

from stack.wire.checksum import checksum
from stack.wire.inspect import Problem, describe, diff, dissect, is_known_field, validate

# The wrong echo reply published in the LLM ping-responder write-up: its IPv4 header
# checksum was miscomputed.
PUBLISHED_WRONG_REPLY = bytes.fromhex(
    "4500005481284000400160ddac100002ac10000100005cf5000d0001a1fb006a0000000041c4"
    "000000000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f"
    "3031323334353637")


def _fix_ipv4_checksum(packet: bytes) -> bytes:
    header_length = (packet[0] & 0x0F) * 4
    header = bytearray(packet[:header_length])
    header[10:12] = b"\0\0"
    header[10:12] = checksum(bytes(header)).to_bytes(2, "big")
    return bytes(header) + packet[header_length:]


def _set(packet: bytes, offset: int, value: bytes) -> bytes:
    return packet[:offset] + value + packet[offset + len(value):]


def test_published_wrong_reply() -> None:
    assert validate(PUBLISHED_WRONG_REPLY) == [
        Problem("ipv4.checksum", "ipv4 header checksum 0x60dd, expected 0x615d")]
    assert str(validate(PUBLISHED_WRONG_REPLY)[0]) == "ipv4 header checksum 0x60dd, expected 0x615d"
    assert validate(_fix_ipv4_checksum(PUBLISHED_WRONG_REPLY)) == []
    assert describe(PUBLISHED_WRONG_REPLY) == (
        "172.16.0.2 → 172.16.0.1 ICMP echo reply id=13 seq=1 84 B")


def test_dissect_echo_request_fields_in_order() -> None:
    packet = icmp_echo("172.16.0.1", "172.16.0.2", 13, 1, b"xyz", ttl=63, ip_id=0x1234, df=True)
    fields = dissect(packet)
    assert list(fields.items()) == [
        ("ipv4.version", 4), ("ipv4.ihl", 5), ("ipv4.tos", 0), ("ipv4.total_length", 31),
        ("ipv4.id", 0x1234), ("ipv4.flags.reserved", False), ("ipv4.flags.df", True),
        ("ipv4.flags.mf", False), ("ipv4.frag_offset", 0), ("ipv4.ttl", 63),
        ("ipv4.protocol", 1), ("ipv4.checksum", int.from_bytes(packet[10:12], "big")),
        ("ipv4.src", "172.16.0.1"), ("ipv4.dst", "172.16.0.2"),
        ("icmp.type", 8), ("icmp.code", 0), ("icmp.checksum", int.from_bytes(packet[22:24], "big")),
        ("icmp.echo.id", 13), ("icmp.echo.seq", 1), ("icmp.payload", b"xyz")]
    assert describe(packet) == "172.16.0.1 → 172.16.0.2 ICMP echo request id=13 seq=1 31 B"


def test_dissect_icmp_error_quotes_the_datagram() -> None:
    original = udp_v4("172.16.0.1", "172.16.0.2", 40000, 33434, b"probe")
    quote = original[:28]
    body = bytes([3, 3, 0, 0, 0, 0, 0, 0]) + quote
    body = body[:2] + checksum(body).to_bytes(2, "big") + body[4:]
    error = ipv4_packet("172.16.0.2", "172.16.0.1", 1, body, tos=0xC0)
    fields = dissect(error)
    assert fields["icmp.type"] == 3
    assert fields["icmp.quote.ipv4.total_length"] == len(original)
    assert fields["icmp.quote.ipv4.truncated"] == f"total length {len(original)}, 28 bytes present"
    assert fields["icmp.quote.udp.src_port"] == 40000
    assert fields["icmp.quote.udp.dst_port"] == 33434
    assert fields["icmp.quote.udp.payload"] == b""
    assert validate(error) == []
    assert describe(error) == ("172.16.0.2 → 172.16.0.1 ICMP destination unreachable "
                               "(port unreachable) 56 B")


def test_dissect_timestamp_udp_tcp_and_options() -> None:
    stamp = struct.pack("!BBHHHIII", 14, 0, 0, 7, 9, 1000, 2000, 3000)
    stamp = stamp[:2] + checksum(stamp).to_bytes(2, "big") + stamp[4:]
    rr = bytes([7, 11, 8]) + bytes([172, 16, 0, 2]) + bytes(4) + bytes([0])
    fields = dissect(ipv4_packet("172.16.0.2", "172.16.0.1", 1, stamp, options=rr))
    assert fields["ipv4.ihl"] == 8
    assert fields["ipv4.opt.rr.pointer"] == 8
    assert fields["ipv4.opt.rr.route"] == "172.16.0.2, 0.0.0.0"
    assert (fields["icmp.timestamp.originate"], fields["icmp.timestamp.receive"],
            fields["icmp.timestamp.transmit"]) == (1000, 2000, 3000)
    udp = dissect(udp_v4("172.16.0.1", "172.16.0.2", 5, 7, b"hi"))
    assert (udp["udp.src_port"], udp["udp.dst_port"], udp["udp.length"], udp["udp.payload"]) == (
        5, 7, 10, b"hi")
    tcp = tcp_v4("172.16.0.1", "172.16.0.2", 1234, 80, flags=0x14, seq=99)
    assert dissect(tcp)["tcp.flags"] == "RST,ACK"
    assert describe(tcp) == "172.16.0.1 → 172.16.0.2 TCP 1234 → 80 [RST,ACK] seq=99 ack=0 40 B"
    assert validate(tcp) == []


def test_dissect_ipv6_echo_ndp_and_fragment() -> None:
    echo = icmp6_echo("fd00:16::1", "fd00:16::2", 7, 3, flow=0x12345)
    fields = dissect(echo)
    assert (fields["ipv6.flow_label"], fields["ipv6.next_header"], fields["icmpv6.echo.id"],
            fields["icmpv6.echo.seq"]) == (0x12345, 58, 7, 3)
    ns = icmp6_message("fe80::1", "ff02::1:ff00:2", 135, 0,
                       bytes(4) + v6("fd00:16::2") + bytes([1, 1, 2, 0, 0, 0, 0, 1]))
    fields = dissect(ns)
    assert fields["icmpv6.nd.target"] == "fd00:16::2"
    assert fields["icmpv6.nd.source_lladdr"] == "02:00:00:00:00:01"
    assert validate(ns) == []
    fragment_header = bytes([58, 0]) + struct.pack("!HI", (0 << 3) | 1, 0xDEADBEEF)
    inner = echo[40:]
    frag = (struct.pack("!IHBB16s16s", 0x60000000, 8 + len(inner), 44, 64, v6("fd00:16::1"),
                        v6("fd00:16::2")) + fragment_header + inner)
    fields = dissect(frag)
    assert (fields["ipv6.frag.id"], fields["ipv6.frag.m"], fields["ipv6.frag.offset"]) == (
        0xDEADBEEF, True, 0)
    assert fields["icmpv6.echo.id"] == 7  # the first fragment still shows its header
    assert describe(frag).startswith("fd00:16::1 → fd00:16::2 frag id=3735928559 off=0 M")


def test_validate_names_both_values() -> None:
    udp = udp_v4("172.16.0.1", "172.16.0.2", 5, 7, b"hi")
    broken = _set(udp, 26, b"\x12\x34")
    stored_ok = int.from_bytes(udp[26:28], "big")
    assert validate(broken) == [Problem("udp.checksum",
                                        f"udp checksum 0x1234, expected 0x{stored_ok:04x}")]
    long_udp = _set(udp, 24, struct.pack("!H", 12))
    assert Problem("udp.length", "udp length 12, ipv4 payload has 10 bytes") in validate(long_udp)
    cut = _fix_ipv4_checksum(_set(udp, 2, struct.pack("!H", 40)))
    assert Problem("ipv4.total_length",
                   "ipv4 total length 40, packet has 30 bytes") in validate(cut)
    spoofed = _fix_ipv4_checksum(_set(udp, 12, bytes([224, 0, 0, 1])))
    assert Problem("ipv4.src", "ipv4 source 224.0.0.1 is multicast") in validate(spoofed)
    echo6 = icmp6_echo("fd00:16::1", "fd00:16::2", 7, 3)
    bad6 = _set(echo6, 42, b"\0\0")
    assert [p.field for p in validate(bad6)] == ["icmpv6.checksum"]
    assert validate(bad6)[0].message.startswith("icmpv6 checksum 0x0000, expected 0x")
    short6 = echo6[:-2]
    assert Problem("ipv6.payload_length",
                   "ipv6 payload length 16, packet has 14 bytes after the header") in validate(
                       short6)
    to_nobody = _fix_ipv4_checksum(_set(udp, 16, bytes(4)))
    assert Problem("ipv4.dst", "ipv4 destination 0.0.0.0 is unspecified") in validate(to_nobody)
    loop6 = icmp6_echo("::1", "fd00:16::2", 1, 1)
    assert Problem("ipv6.src", "ipv6 source ::1 is loopback") in validate(loop6)
    to_unspecified = icmp6_echo("fd00:16::2", "::", 1, 1, reply=True)
    assert validate(to_unspecified) == [
        Problem("ipv6.dst", "ipv6 destination :: is unspecified")]
    assert validate(b"") == [Problem("ip.version", "empty packet")]
    assert validate(b"\x50" * 30) == [Problem("ip.version", "ip version 5, expected 4 or 6")]


def test_udp_zero_checksum_is_none_over_ipv4_and_forbidden_over_ipv6() -> None:
    udp = _set(udp_v4("172.16.0.1", "172.16.0.2", 5, 7, b"hi"), 26, b"\0\0")
    assert validate(udp) == []
    segment = struct.pack("!HHHH", 5, 7, 10, 0) + b"hi"
    packet6 = struct.pack("!IHBB16s16s", 0x60000000, 10, 17, 64, v6("fd00:16::1"),
                          v6("fd00:16::2")) + segment
    assert validate(packet6) == [Problem("udp.checksum", "udp checksum 0 (none) over ipv6")]


def test_diff_names_the_field() -> None:
    expected = icmp_echo("172.16.0.2", "172.16.0.1", 13, 1, reply=True)
    got = _fix_ipv4_checksum(_set(expected, 8, bytes([63])))
    assert [str(d) for d in diff(expected, got)] == [
        "ipv4.ttl: expected 64, got 63",
        f"ipv4.checksum: expected 0x{expected[10]:02x}{expected[11]:02x}, "
        f"got 0x{got[10]:02x}{got[11]:02x}"]
    assert diff(expected, expected) == []


def test_ignored_field_requires_a_valid_checksum() -> None:
    expected = icmp_echo("172.16.0.2", "172.16.0.1", 13, 1, reply=True, ip_id=100)
    other_id = _set(expected, 4, struct.pack("!H", 200))
    assert [str(d) for d in diff(expected, other_id, {"ipv4.id"})] == [
        f"ipv4.checksum: invalid (0x{int.from_bytes(expected[10:12], 'big'):04x})"]
    assert diff(expected, _fix_ipv4_checksum(other_id), {"ipv4.id"}) == []
    # the ICMP checksum covers an ignored ICMP field the same way
    icmp_changed = _set(expected, 26, struct.pack("!H", 9))
    assert [str(d) for d in diff(expected, icmp_changed, {"icmp.echo.seq"})] == [
        f"icmp.checksum: invalid (0x{int.from_bytes(expected[22:24], 'big'):04x})"]


def test_ignore_by_prefix_and_payload_lengths() -> None:
    stamp = struct.pack("!BBHHHIII", 14, 0, 0, 7, 9, 1000, 2000, 3000)
    def reply(receive: int, transmit: int) -> bytes:
        body = stamp[:12] + struct.pack("!II", receive, transmit)
        body = body[:2] + checksum(body).to_bytes(2, "big") + body[4:]
        return ipv4_packet("172.16.0.2", "172.16.0.1", 1, body)
    assert diff(reply(2000, 3000), reply(5, 6), {"icmp.timestamp"}) == []
    assert [d.field for d in diff(reply(2000, 3000), reply(5, 6))] == [
        "icmp.checksum", "icmp.timestamp.receive", "icmp.timestamp.transmit"]
    short = icmp_echo("172.16.0.2", "172.16.0.1", 1, 1, b"abcd", reply=True)
    long = icmp_echo("172.16.0.2", "172.16.0.1", 1, 1, b"abcdef", reply=True)
    texts = [str(d) for d in diff(short, long)]
    assert "icmp.payload: expected 4 bytes, got 6 (first difference at byte 4)" in texts
    assert "ipv4.total_length: expected 32, got 34" in texts


def test_diff_of_different_protocols_lists_missing_and_extra_fields() -> None:
    echo = icmp_echo("172.16.0.2", "172.16.0.1", 1, 1, reply=True)
    udp = udp_v4("172.16.0.2", "172.16.0.1", 1, 1)
    texts = [str(d) for d in diff(echo, udp)]
    assert "icmp.type: expected 0, missing" in texts
    assert "udp.src_port: not expected, got 1" in texts


def test_known_field_names() -> None:
    assert is_known_field("ipv4.id")
    assert is_known_field("icmp.quote.ipv4.id")
    assert is_known_field("icmp.timestamp")
    assert not is_known_field("ipv5.id")
    assert not is_known_field("ipv4..id")


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=160))
def test_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    for packet in (data, b"\x45" + data, b"\x46" + data, b"\x4f" + data, b"\x60" + data):
        fields = dissect(packet)
        assert fields
        validate(packet)
        assert describe(packet).endswith(f" {len(packet)} B")
        diff(packet, data)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=1000), st.integers(min_value=0, max_value=255),
       st.sampled_from(["v4", "udp", "v6", "tcp"]))
def test_any_changed_byte_shows_in_the_diff(position: int, value: int, kind: str) -> None:
    packet = {"v4": icmp_echo("172.16.0.1", "172.16.0.2", 3, 4, b"payload!"),
              "udp": udp_v4("172.16.0.1", "172.16.0.2", 9, 10, b"x"),
              "tcp": tcp_v4("172.16.0.1", "172.16.0.2", 1, 2),
              "v6": icmp6_echo("fd00:16::1", "fd00:16::2", 5, 6)}[kind]
    position %= len(packet)
    changed = _set(packet, position, bytes([value]))
    assert bool(diff(packet, changed)) == (changed != packet)


def _icmp_error(kind: int, code: int, rest: bytes) -> bytes:
    body = bytes([kind, code, 0, 0]) + rest + icmp_echo("172.16.0.1", "172.16.0.2", 1, 1)[:28]
    body = body[:2] + checksum(body).to_bytes(2, "big") + body[4:]
    return ipv4_packet("172.16.0.2", "172.16.0.1", 1, body)


def test_describe_names_errors_and_their_details() -> None:
    head = "172.16.0.2 → 172.16.0.1 ICMP "
    assert describe(_icmp_error(3, 4, b"\0\0\x05\xdc")) == (
        head + "destination unreachable (fragmentation needed) mtu=1500 56 B")
    assert describe(_icmp_error(11, 1, bytes(4))) == (
        head + "time exceeded (fragment reassembly time exceeded) 56 B")
    assert describe(_icmp_error(12, 0, b"\x05\0\0\0")) == head + "parameter problem pointer=5 56 B"
    assert describe(_icmp_error(42, 0, bytes(4))) == head + "type 42 56 B"
    inner = b"\x60" + bytes(39)
    too_big = icmp6_message("fd00:16::2", "fd00:16::1", 2, 0, struct.pack("!I", 1280) + inner)
    assert describe(too_big) == "fd00:16::2 → fd00:16::1 ICMPv6 packet too big mtu=1280 88 B"
    problem = icmp6_message("fd00:16::2", "fd00:16::1", 4, 1, struct.pack("!I", 40) + inner)
    assert describe(problem) == (
        "fd00:16::2 → fd00:16::1 ICMPv6 parameter problem code 1 pointer=40 88 B")
    assert dissect(problem)["icmpv6.quote.ipv6.version"] == 6
    assert validate(too_big) == []


def test_describe_fragments_and_other_protocols() -> None:
    whole = icmp_echo("172.16.0.1", "172.16.0.2", 1, 1, bytes(40))
    later = bytearray(ipv4_packet("172.16.0.1", "172.16.0.2", 1, whole[28:44], ident=77))
    later[6:8] = (0x2000 | 1).to_bytes(2, "big")  # MF, offset 8 bytes
    assert describe(bytes(later)) == "172.16.0.1 → 172.16.0.2 frag id=77 off=8 MF ICMP data 36 B"
    assert describe(ipv4_packet("172.16.0.1", "172.16.0.2", 47, b"gre!")) == (
        "172.16.0.1 → 172.16.0.2 GRE 24 B")
    assert describe(ipv4_packet("172.16.0.1", "172.16.0.2", 253, b"")) == (
        "172.16.0.1 → 172.16.0.2 protocol 253 20 B")
    assert describe(b"\x45\0\0") == "malformed IP packet: header needs 20 bytes, 3 present 3 B"


def _with_options(options: bytes, ident: int = 0) -> bytes:
    message = icmp_echo("172.16.0.1", "172.16.0.2", 1, 1)[20:]
    return ipv4_packet("172.16.0.1", "172.16.0.2", 1, message, options=options, ident=ident)


def test_ipv4_options_are_decoded_slot_by_slot() -> None:
    # Timestamp with addresses (flag 1): two slots, the first filled; then NOP, EOL, pad
    ts = bytes([68, 20, 13, 0x01]) + bytes([172, 16, 0, 2]) + (1234).to_bytes(4, "big") \
        + bytes(8)
    fields = dissect(_with_options(ts + bytes([1, 0, 0, 0])))
    assert fields["ipv4.opt.layout"] == "ts,nop,eol"
    assert [(k, v) for k, v in fields.items() if k.startswith("ipv4.opt.ts.")] == [
        ("ipv4.opt.ts.length", 20), ("ipv4.opt.ts.pointer", 13), ("ipv4.opt.ts.overflow", 0),
        ("ipv4.opt.ts.flag", 1), ("ipv4.opt.ts.addr.0", "172.16.0.2"),
        ("ipv4.opt.ts.time.0", 1234), ("ipv4.opt.ts.addr.1", "0.0.0.0"),
        ("ipv4.opt.ts.time.1", 0)]
    assert fields["ipv4.options"] == ts + bytes([1, 0, 0, 0])
    broken = dissect(_with_options(bytes([7, 9, 4, 0])))
    assert broken["ipv4.options"] == bytes([7, 9, 4, 0])
    assert broken["ipv4.opt.malformed"] == bytes([7, 9, 4, 0])


def test_ignore_patterns_reach_into_quotes() -> None:
    def stamped(time: int) -> bytes:
        return _with_options(bytes([68, 8, 9, 0]) + time.to_bytes(4, "big"))

    def error_quoting(quoted: bytes) -> bytes:
        body = bytes([12, 0, 0, 0, 20, 0, 0, 0]) + quoted[:36]
        body = body[:2] + checksum(body).to_bytes(2, "big") + body[4:]
        return ipv4_packet("172.16.0.2", "172.16.0.1", 1, body)

    assert [d.field for d in diff(stamped(5), stamped(6))] == [
        "ipv4.checksum", "ipv4.opt.ts.time.0"]
    assert diff(stamped(5), stamped(6), {"*ipv4.opt.ts*.time"}) == []
    # Linux quotes the datagram with its Timestamp filled in under the checksum it
    # arrived with: a stale checksum in both, equal, passes; a different one does not
    arrived = stamped(0)[10:12]
    recorded, ours = bytearray(stamped(5)), bytearray(stamped(6))
    recorded[10:12] = ours[10:12] = arrived
    assert diff(error_quoting(bytes(recorded)), error_quoting(bytes(ours)),
                {"*ipv4.opt.ts*.time"}) == []
    ours[10:12] = b"\x12\x34"
    assert [str(d) for d in diff(error_quoting(bytes(recorded)), error_quoting(bytes(ours)),
                                 {"*ipv4.opt.ts*.time"})] == [
        f"icmp.quote.ipv4.checksum: expected 0x{arrived.hex()} (invalid there too, "
        "a stale copy), got 0x1234"]
    assert is_known_field("*ipv4.opt.ts*.time")


def test_atomic_fragments_are_checked_like_whole_packets() -> None:
    """RFC 6946: a Fragment header with offset 0 and M clear wraps a whole datagram."""
    echo = icmp6_echo("fd00:16::1", "fd00:16::2", 7, 3)
    inner = echo[40:]

    def wrapped(offset_and_m: int, message: bytes) -> bytes:
        header = struct.pack("!IHBB16s16s", 0x60000000, 8 + len(message), 44, 64,
                             v6("fd00:16::1"), v6("fd00:16::2"))
        return header + bytes([58, 0]) + struct.pack("!HI", offset_and_m, 9) + message

    bad = inner[:2] + b"\0\0" + inner[4:]
    assert validate(wrapped(0, inner)) == []
    assert [p.field for p in validate(wrapped(0, bad))] == ["icmpv6.checksum"]
    # a real first fragment (M set) cannot be checked: its checksum covers the whole
    padded = bad + bytes(-len(bad) % 8)
    assert validate(wrapped(1, padded)) == []
