"""Hypothesis properties of the IPv6 core (issue 3, Proof).

The strategies build mostly-valid packets: a source and destination from the addresses
that matter, a chain of extension headers (options with every action, routing types,
fragments of shared datagrams), an upper layer with a repaired checksum, then perhaps a
mutation followed by another checksum repair. So the properties reach deep code, not
only the first length check.

Properties: ``handle``/``poll`` never raise; every output is a valid IPv6 packet
(lengths, header chain, checksums with the pseudo-header, size within the MTU, errors
within 1280 bytes, from one of our addresses); no error goes to (or is about a packet
sent to) a group except as RFC 4443 §2.4 (e.3) allows; the same inputs give the same
outputs and counters; each ``handle`` counts exactly one reply kind or drop reason.
"""

from __future__ import annotations

import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_ipv6_support import ALL_NODES, LINK_LOCAL, OURS, address

from stack import oracle
from stack.host.config import HostConfig
from stack.host.host import Host
from stack.wire import icmpv6
from stack.wire import ipv6 as wire
from stack.wire.checksum import checksum, ones_sum

MAC = bytes.fromhex("020000000001")
UNSPECIFIED = bytes(16)
PEERS = [address("fd00:16::101"), address("fd00:16::102"), address("fe80::77"),
         address("2001:db8::5"), UNSPECIFIED, address("ff02::1"), OURS, address("::1")]
DESTINATIONS = [OURS, OURS, OURS, LINK_LOCAL, ALL_NODES, wire.solicited_node(OURS),
                address("ff02::2"), address("fd00:16::99"), address("ff01::1")]

option_types = st.sampled_from([0x00, 0x01, 0x05, 0x07, 0x1E, 0x31, 0x5E, 0x9E, 0xC2, 0xC9,
                                0xDE])


@st.composite
def tlv_options(draw: st.DrawFn) -> bytes:
    raw = b""
    for kind in draw(st.lists(option_types, max_size=10)):
        if kind == 0:
            raw += b"\x00"
        else:
            data = draw(st.binary(max_size=10))
            if kind == 1 and draw(st.booleans()):
                data = bytes(len(data))
            raw += bytes((kind, len(data))) + data
    return raw


@st.composite
def extension(draw: st.DrawFn) -> tuple[int, bytes]:
    """One extension header as (its type, its bytes with Next Header 0 to patch)."""
    kind = draw(st.sampled_from([wire.HOP_BY_HOP, wire.DESTINATION_OPTIONS, wire.ROUTING,
                                 wire.FRAGMENT, wire.AUTH]))
    if kind in (wire.HOP_BY_HOP, wire.DESTINATION_OPTIONS):
        return kind, wire.build_options_header(0, draw(tlv_options()))
    if kind == wire.ROUTING:
        return kind, wire.build_routing_header(
            0, draw(st.sampled_from([0, 2, 3, 4, 9])), draw(st.integers(0, 2)),
            bytes(4) + draw(st.sampled_from([b"", OURS, OURS + OURS])))
    if kind == wire.FRAGMENT:
        offset = draw(st.sampled_from([0, 0, 8, 16, 24, 65528]))
        return kind, wire.build_fragment_header(0, offset, draw(st.booleans()),
                                                draw(st.integers(0, 3)))
    return kind, bytes((0, 1, 0, 0)) + bytes(8)


@st.composite
def upper_layer(draw: st.DrawFn, src: bytes, dst: bytes) -> tuple[int, bytes]:
    kind = draw(st.sampled_from(["echo", "echo", "ns", "ptb", "error", "icmp", "udp", "tcp",
                                 "unknown", "none"]))
    # Mostly small, sometimes over the MTU (replies to fragment, quotes to cut).
    data = draw(st.binary(max_size=64)) + bytes(draw(st.sampled_from([0, 0, 0, 1500, 3000])))
    if kind == "echo":
        return 58, icmpv6.build_echo(128, draw(st.integers(0, 65535)), 1, data, src, dst,
                                     code=draw(st.sampled_from([0, 0, 7])))
    if kind == "ns":
        target = draw(st.sampled_from([OURS, LINK_LOCAL, address("fd00:16::77"), ALL_NODES]))
        link = draw(st.sampled_from([None, MAC, bytes(10)]))
        return 58, icmpv6.build_neighbour_solicitation(target, src, dst, link)
    if kind == "ptb":
        inner = wire.build_header(0, 0, 8 + len(data), 58, 64, dst, src) + \
            icmpv6.build_echo(129, 1, 1, data, dst, src)
        return 58, icmpv6.build_error(2, 0, draw(st.sampled_from([1000, 1280, 1300, 9000])),
                                      inner, src, dst)
    if kind == "error":
        return 58, icmpv6.build_error(draw(st.integers(0, 4)), 0, 0, data, src, dst)
    if kind == "icmp":
        return 58, icmpv6.build_error(draw(st.integers(0, 255)), draw(st.integers(0, 3)), 0,
                                      data, src, dst)
    if kind == "udp":
        port = draw(st.sampled_from([7, 9999]))
        segment = struct.pack("!HHHH", 5555, port, 8 + len(data), 0) + data
        value = checksum(segment, int.from_bytes(src + dst, "big") + 17 + len(segment))
        return 17, segment[:6] + (value or 0xFFFF).to_bytes(2, "big") + segment[8:]
    if kind == "tcp":
        flags = draw(st.sampled_from([0x02, 0x10, 0x04, 0x11, 0x03]))
        segment = struct.pack("!HHIIBBHHH", 5555, 80, 7, 9, 0x50, flags, 100, 0, 0) + data
        value = checksum(segment, int.from_bytes(src + dst, "big") + 6 + len(segment))
        return 6, segment[:16] + value.to_bytes(2, "big") + segment[18:]
    if kind == "unknown":
        return draw(st.sampled_from([253, 50, 132])), data
    return 59, data


@st.composite
def ipv6_packet(draw: st.DrawFn) -> bytes:
    src = draw(st.sampled_from(PEERS))
    dst = draw(st.sampled_from(DESTINATIONS))
    chain = draw(st.lists(extension(), max_size=3))
    upper, body = draw(upper_layer(src, dst))
    # Patch each header's Next Header to name what follows it.
    kinds = [kind for kind, _ in chain] + [upper]
    headers = b"".join(bytes((kinds[index + 1],)) + raw[1:]
                       for index, (_, raw) in enumerate(chain))
    payload = headers + body
    packet = wire.build_header(draw(st.integers(0, 255)), draw(st.integers(0, 0xFFFFF)),
                               len(payload), kinds[0], draw(st.sampled_from([255, 64, 1])),
                               src, dst) + payload
    mutation = draw(st.sampled_from(["none", "none", "flip", "truncate", "extend", "length"]))
    if mutation == "flip" and len(packet) > 0:
        at = draw(st.integers(0, len(packet) - 1))
        packet = packet[:at] + bytes((draw(st.integers(0, 255)),)) + packet[at + 1:]
    elif mutation == "truncate":
        packet = packet[:draw(st.integers(0, len(packet)))]
    elif mutation == "extend":
        packet += draw(st.binary(min_size=1, max_size=16))
    elif mutation == "length" and len(packet) >= 6:
        packet = packet[:4] + draw(st.integers(0, 65535)).to_bytes(2, "big") + packet[6:]
    if draw(st.booleans()):
        packet = repair(packet)
    return packet if packet[:1] and packet[0] >> 4 == 6 else b"\x60" + packet[1:]


def repair(packet: bytes) -> bytes:
    """Recompute the upper-layer checksum after a mutation, where it can be found."""
    if len(packet) < 40:
        return packet
    found = wire.skip_extension_headers(packet, 40, packet[6])
    if found is None:
        return packet
    offset, upper, _ = found
    spot = {58: 2, 17: 6, 6: 16}.get(upper)
    if spot is None or offset + spot + 2 > len(packet):
        return packet
    segment = bytearray(packet[offset:])
    segment[spot:spot + 2] = b"\0\0"
    value = checksum(bytes(segment), int.from_bytes(packet[8:40], "big") + upper + len(segment))
    segment[spot:spot + 2] = value.to_bytes(2, "big")
    return packet[:offset] + bytes(segment)


@st.composite
def fragmented(draw: st.DrawFn) -> list[bytes]:
    """A whole packet split into fragments (RFC 8200 §4.5), perhaps shuffled, perhaps
    with one piece lost or repeated: reassembly completes, overlaps or times out."""
    src = draw(st.sampled_from(PEERS[:3]))
    dst = draw(st.sampled_from(DESTINATIONS[:5]))
    upper, body = draw(upper_layer(src, dst))
    size = draw(st.sampled_from([8, 16, 24, 48, 1232]))
    identification = draw(st.integers(0, 3))
    pieces = []
    for at in range(0, max(len(body), 1), size):
        header = wire.build_fragment_header(upper, at, at + size < len(body), identification)
        chunk = header + body[at:at + size]
        pieces.append(wire.build_header(draw(st.sampled_from([0, 1, 2, 3])), 0, len(chunk),
                                        wire.FRAGMENT, 64, src, dst) + chunk)
    pieces = draw(st.permutations(pieces))
    if len(pieces) > 1 and draw(st.booleans()):
        victim = draw(st.integers(0, len(pieces) - 1))
        pieces.insert(victim, pieces[victim] if draw(st.booleans()) else pieces.pop(victim))
    return pieces


@st.composite
def timed_sequence(draw: st.DrawFn) -> list[tuple[bytes, float]]:
    out: list[tuple[bytes, float]] = []
    for _ in range(draw(st.integers(1, 6))):
        group = draw(fragmented()) if draw(st.booleans()) else [draw(ipv6_packet())]
        out += [(one, draw(st.sampled_from([0.0, 0.01, 0.5, 61.0]))) for one in group]
    return out


sequences = timed_sequence()


def run(config: HostConfig,
        inputs: list[tuple[bytes, float]]) -> tuple[list[list[bytes]], dict[str, object]]:
    host = Host(config)
    now = 0.0
    outputs = []
    for count, (sent, step) in enumerate(inputs, 1):
        now += step
        outputs.append(host.handle(sent, now))
        assert sum(host.stats.replies.values()) + sum(host.stats.drops.values()) == count
    outputs.append(host.poll(now + 61.0))
    return outputs, host.stats.as_dict()


def check_valid(packets: list[bytes], config: HostConfig) -> None:
    """Every output is a whole, correct IPv6 packet; fragments join into one."""
    ours = {i.ip.packed for i in config.ipv6_interfaces}
    whole: list[bytes] = []
    pieces: dict[bytes, list[bytes]] = {}
    for sent in packets:
        assert sent[0] >> 4 == 6 and len(sent) >= 40
        assert int.from_bytes(sent[4:6], "big") == len(sent) - 40
        assert sent[7] > 0 and sent[8:24] in ours
        assert len(sent) <= config.mtu
        if sent[6] == wire.FRAGMENT:
            pieces.setdefault(sent[44:48], []).append(sent)
        else:
            whole.append(sent)
    for group in pieces.values():
        group.sort(key=lambda p: int.from_bytes(p[42:44], "big") & 0xFFF8)
        data = b""
        for piece in group:
            assert int.from_bytes(piece[42:44], "big") & 0xFFF8 == len(data)
            data += piece[48:]
        assert int.from_bytes(group[-1][42:44], "big") & 1 == 0
        first = group[0]
        whole.append(first[:4] + len(data).to_bytes(2, "big") + first[40:41] + first[7:40]
                     + data)
    for sent in whole:
        upper = sent[6]
        body = sent[40:]
        pseudo = int.from_bytes(sent[8:40], "big") + upper + len(body)
        assert upper in (58, 17, 6)
        assert ones_sum(body, pseudo) == 0xFFFF
        dst = sent[24:40]
        if upper == 58 and body[0] < 128:
            assert len(sent) <= 1280  # RFC 4443 §2.4 (c)
            assert dst[0] != 0xFF and dst != UNSPECIFIED
            quoted_dst = body[8 + 24:8 + 40]
            if quoted_dst[:1] == b"\xff":  # §2.4 (e.3): only code 2 about a group
                assert body[0] == 4 and body[1] == 2
            quote = body[8:]
            found = wire.skip_extension_headers(quote, 40, quote[6]) \
                if len(quote) >= 40 else None
            if found is not None and found[1] == 58 and found[0] < len(quote):
                assert quote[found[0]] >= 128  # §2.4 (e.1): never about an error
        elif dst[0] == 0xFF:
            # Only a Neighbour Advertisement defending an address goes to a group.
            assert upper == 58 and body[0] == 136 and dst == ALL_NODES
        if upper == 17:
            assert int.from_bytes(body[4:6], "big") == len(body)
        if upper == 6:
            assert body[12] >> 4 == 5


CONFIGS = [HostConfig(), HostConfig(link_address=MAC, udp_echo_ports=(7,)),
           HostConfig(ipv6=("fd00:16::2/64", "fe80::2/64", "2001:db8::2/48"))]

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(st.sampled_from(CONFIGS), sequences)
def test_outputs_are_valid_and_deterministic(config: HostConfig,
                                             inputs: list[tuple[bytes, float]]) -> None:
    outputs, stats = run(config, inputs)
    for batch in outputs:
        check_valid(batch, config)
    assert run(config, inputs) == (outputs, stats)


@SETTINGS
@given(st.binary(max_size=200), st.floats(0, 100))
def test_handle_never_raises_for_any_bytes(raw: bytes, now: float) -> None:
    host = Host()
    out = host.handle(b"\x60" + raw, now)
    check_valid(out, host.config)
    host.poll(now + 100)


def oracle_findings(inbound: bytes | None, outputs: list[bytes], host: Host) -> list[str]:
    """The shared oracle's findings."""
    return [v.rule for v in oracle.find_violations(inbound, outputs, host)]


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(sequences)
def test_the_shared_oracle_agrees(inputs: list[tuple[bytes, float]]) -> None:
    """stack.oracle (dpkt and the project validator) finds nothing wrong either."""
    host = Host(HostConfig(link_address=MAC))
    now = 0.0
    for sent, step in inputs:
        now += step
        assert oracle_findings(sent, host.handle(sent, now), host) == []
    assert oracle_findings(None, host.poll(now + 61.0), host) == []
    assert oracle.check_host(host) == []  # every table within its cap


def test_nothing_answers_the_unspecified_source() -> None:
    """Linux answers an echo from :: by sending to :: (corpus/linux/v6_src_unspecified);
    RFC 4291 §2.5.2 forbids that destination, so the host sends nothing and the oracle
    names the rule a reply to :: breaks."""
    host = Host()
    unspecified = bytes(16)
    request = wire.build_header(0, 0, 16, 58, 64, unspecified, OURS) + \
        icmpv6.build_echo(128, 1, 1, b"abcdefgh", unspecified, OURS)
    assert host.handle(request, 1.0) == []
    assert host.last_reason == "icmpv6.echo_from_unspecified"
    reply = wire.build_header(0, 0, 16, 58, 64, OURS, unspecified) + \
        icmpv6.build_echo(129, 1, 1, b"abcdefgh", OURS, unspecified)
    assert "output.unspecified_destination" in oracle_findings(request, [reply], host)
