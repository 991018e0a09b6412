"""Properties of the IPv4 core, over arbitrary bytes and over mostly-valid packets whose
checksums are repaired after mutation, so the examples reach deep code (options,
reassembly, errors, the transport answers):

* ``handle`` and ``poll`` never raise;
* every ``handle`` counts exactly one reply kind or one drop reason;
* every output parses, has valid checksums and fits the MTU, and none goes to a
  broadcast or multicast address (stack/oracle.py checks all of it, three ways);
* the same inputs give the same outputs.
"""

from __future__ import annotations

import socket
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_ipv4_support import word_checksum

from stack import Host, HostConfig
from stack.oracle import check_host, check_outputs

US = socket.inet_aton("172.16.0.2")
SOURCES = ["172.16.0.1"] * 8 + ["10.1.2.3"] * 4 + [
    "0.0.0.0", "127.0.0.1", "224.0.0.9", "172.16.0.255", "255.255.255.255", "172.16.0.2",
    "240.1.1.1", "0.1.2.3"]
DESTINATIONS = ["172.16.0.2"] * 6 + ["172.16.0.255", "255.255.255.255", "224.0.0.1",
                                     "224.0.0.5", "172.16.0.9", "127.0.0.1", "0.0.0.0"]
CONFIGS = [
    HostConfig(ipv4="172.16.0.2/24"),
    HostConfig(ipv4="172.16.0.2/24", echo_ignore_broadcasts=False, udp_echo_ports=(7,),
               mtu=1280, frag_max_datagrams=4, frag_max_fragments=8, frag_mem_limit=8192,
               pmtu_cache_size=2, ratelimit_peers=2, accept_source_route=True),
    HostConfig(ipv4="172.16.0.2/31", ipv6=(), mtu=576, icmp_ratemask=0),
]

OPTION_PIECES = [
    bytes([1]), bytes([0]), bytes([7, 7, 4]) + bytes(4), bytes([7, 11, 8]) + bytes(8),
    bytes([68, 12, 5, 0]) + bytes(8), bytes([68, 12, 5, 1]) + bytes(8),
    bytes([68, 12, 5, 3]) + US + bytes(4), bytes([68, 8, 9, 0xF1]) + bytes(4),
    bytes([148, 4, 0, 0]), bytes([131, 11, 12]) + bytes([255] * 8),
    bytes([137, 7, 8]) + bytes([224, 0, 0, 1]), bytes([134, 8]) + bytes(6),
    bytes([130, 11]) + bytes(9), bytes([0x9E, 2]), bytes([7, 3, 4]),
]


@st.composite
def options(draw: st.DrawFn) -> bytes:
    raw = b"".join(draw(st.lists(st.sampled_from(OPTION_PIECES), max_size=4)))
    raw = raw[:40]
    if draw(st.booleans()):
        raw = raw + draw(st.binary(max_size=8))
    raw = raw[:40]
    return raw + bytes(-len(raw) % 4)


@st.composite
def transport(draw: st.DrawFn) -> tuple[int, bytes]:
    kind = draw(st.sampled_from(["echo", "timestamp", "icmp", "error", "udp", "tcp", "other"]))
    data = draw(st.binary(max_size=64))
    if kind == "echo":
        return 1, bytes((8, draw(st.integers(0, 3)), 0, 0)) + draw(st.binary(min_size=4,
                                                                             max_size=4)) + data
    if kind == "timestamp":
        return 1, bytes((13, 0, 0, 0)) + bytes(4) + draw(st.binary(max_size=16))
    if kind == "icmp":
        return 1, bytes((draw(st.integers(0, 40)), draw(st.integers(0, 5)), 0, 0)) + data
    if kind == "error":
        quoted_len = draw(st.integers(0, 60))
        quoted = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28 + len(data), 1, 0, 64,
                             draw(st.sampled_from([1, 17, 6])), 0, US,
                             socket.inet_aton("172.16.0.1")) + bytes((0, 0, 0, 0)) + data
        mtu = draw(st.integers(0, 2000))
        return 1, bytes((3, draw(st.sampled_from([1, 3, 4])), 0, 0)) + \
            struct.pack("!HH", 0, mtu) + quoted[:quoted_len]
    if kind == "udp":
        port = draw(st.sampled_from([7, 9, 53, 0]))
        return 17, struct.pack("!HHHH", draw(st.integers(0, 3)), port, 8 + len(data), 0) + data
    if kind == "tcp":
        flags = draw(st.integers(0, 255))
        return 6, struct.pack("!HHIIBBHHH", 1234, 80, draw(st.integers(0, 2**32 - 1)),
                              draw(st.integers(0, 2**32 - 1)), 0x50, flags, 100, 0, 0) + data
    return draw(st.sampled_from([2, 4, 47, 132, 253])), data


def repair(packet: bytearray) -> None:
    """Recompute the header checksum and, for whole datagrams, the transport checksum."""
    header_len = (packet[0] & 0x0F) * 4
    if len(packet) < header_len or header_len < 20:
        return
    packet[10:12] = b"\x00\x00"
    packet[10:12] = word_checksum(bytes(packet[:header_len])).to_bytes(2, "big")
    if ((packet[6] << 8) | packet[7]) & 0x3FFF:
        return
    payload = packet[header_len:]
    protocol = packet[9]
    if protocol == 1 and len(payload) >= 4:
        payload[2:4] = b"\x00\x00"
        payload[2:4] = word_checksum(bytes(payload)).to_bytes(2, "big")
    elif protocol in (6, 17) and len(payload) >= (20 if protocol == 6 else 8):
        where = 16 if protocol == 6 else 6
        payload[where:where + 2] = b"\x00\x00"
        pseudo = bytes(packet[12:20]) + struct.pack("!BBH", 0, protocol, len(payload))
        value = word_checksum(pseudo + bytes(payload))
        if protocol == 17 and value == 0:
            value = 0xFFFF
        payload[where:where + 2] = value.to_bytes(2, "big")
    packet[header_len:] = payload


@st.composite
def mostly_valid(draw: st.DrawFn) -> bytes:
    protocol, payload = draw(transport())
    opts = draw(options()) if draw(st.integers(0, 2)) == 0 else b""
    header_len = 20 + len(opts)
    fragment = draw(st.sampled_from([0, 0, 0, 0x2000, 0x0001, 0x2003, 0x4000, 0x8000]))
    header = struct.pack("!BBHHHBBH4s4s", 0x40 | header_len // 4, draw(st.integers(0, 255)),
                         header_len + len(payload), draw(st.integers(0, 3)), fragment,
                         draw(st.integers(0, 255)), protocol, 0,
                         socket.inet_aton(draw(st.sampled_from(SOURCES))),
                         socket.inet_aton(draw(st.sampled_from(DESTINATIONS)))) + opts
    packet = bytearray(header + payload)
    repair(packet)
    if draw(st.integers(0, 2)) == 0:
        for _ in range(draw(st.integers(1, 3))):
            index = draw(st.integers(0, len(packet) - 1))
            packet[index] = draw(st.integers(0, 255))
        if draw(st.integers(0, 3)):
            repair(packet)
    if draw(st.integers(0, 19)) == 0:
        packet = packet[:draw(st.integers(0, len(packet)))]
    return bytes(packet)


def run(config: HostConfig, packets: list[bytes], times: list[float]) -> list[list[bytes]]:
    host = Host(config)
    answers: list[list[bytes]] = []
    for packet, now in zip(packets, times, strict=False):
        before = sum(host.stats.replies.values()) + sum(host.stats.drops.values())
        out = host.handle(packet, now)
        after = sum(host.stats.replies.values()) + sum(host.stats.drops.values())
        assert after == before + 1, host.last_reason
        assert check_outputs(packet, out, host) == [], (packet.hex(), [o.hex() for o in out])
        answers.append(out)
    for now in (times[-1] + 31.0, times[-1] + 700.0) if times else ():
        out = host.poll(now)
        assert check_outputs(None, out, host) == []
        answers.append(out)
    assert check_host(host) == []
    return answers


TIMES = st.lists(st.floats(0.0, 5.0, allow_nan=False), min_size=1, max_size=30).map(
    lambda steps: [sum(steps[:i + 1]) for i in range(len(steps))])


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(st.binary(max_size=80), min_size=1, max_size=30), TIMES,
       st.sampled_from(CONFIGS))
def test_any_bytes(packets: list[bytes], times: list[float], config: HostConfig) -> None:
    packets = [b"\x45" + p if i % 2 else p for i, p in enumerate(packets)]
    times = (times * len(packets))[:len(packets)]
    assert run(config, packets, times) == run(config, packets, times)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(mostly_valid(), min_size=1, max_size=30), TIMES, st.sampled_from(CONFIGS))
def test_mostly_valid_packets(packets: list[bytes], times: list[float],
                              config: HostConfig) -> None:
    times = (times * len(packets))[:len(packets)]
    assert run(config, packets, times) == run(config, packets, times)


@st.composite
def fragment_sets(draw: st.DrawFn) -> list[bytes]:
    protocol, payload = draw(transport())
    payload = payload + bytes(range(256)) * (draw(st.integers(0, 3000)) // 256)
    if protocol == 17:
        payload = payload[:4] + len(payload).to_bytes(2, "big") + payload[6:]
    packet = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, draw(st.integers(0, 255)),
                                   20 + len(payload), 7, 0, 64, protocol, 0,
                                   socket.inet_aton("172.16.0.1"), US) + payload)
    repair(packet)
    body = bytes(packet[20:])
    size = draw(st.sampled_from([8, 16, 64, 512, 1480]))
    pieces = []
    for offset in range(0, len(body), size):
        more = offset + size < len(body)
        header = bytearray(packet[:20])
        chunk = body[offset:offset + size]
        header[2:4] = (20 + len(chunk)).to_bytes(2, "big")
        header[6:8] = ((0x2000 if more else 0) | offset // 8).to_bytes(2, "big")
        piece = header + chunk
        repair(piece)
        pieces.append(bytes(piece))
    order = draw(st.permutations(range(len(pieces))))
    chosen = [pieces[i] for i in order]
    if draw(st.booleans()) and chosen:
        chosen.insert(draw(st.integers(0, len(chosen))), draw(st.sampled_from(chosen)))
    return chosen


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(fragment_sets(), st.sampled_from(CONFIGS))
def test_fragmented_datagrams(packets: list[bytes], config: HostConfig) -> None:
    times = [i * 0.001 for i in range(len(packets))]
    assert run(config, packets, times) == run(config, packets, times)
