"""Rule 2 (RFC 792 Echo, Linux icmp_echo/icmp_reply) and the fast path's equivalence."""

from __future__ import annotations

import hashlib
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_ipv4_support import PEER, echo_request, header_ok, host, icmp, icmp_ok, ipv4

from stack import Host, HostConfig
from stack.host.host import IPV4_ID_COUNTERS


def test_reply_keeps_identifier_sequence_code_and_data() -> None:
    h = host()
    request = ipv4(icmp(8, 5, bytes.fromhex("beef0007"), b"payload!"))
    (reply,) = h.handle(request, 0.0)
    assert reply[20] == 0 and reply[21] == 5
    assert reply[24:] == request[24:]
    assert icmp_ok(reply) and header_ok(reply)


@pytest.mark.parametrize("tos", [0x00, 0x01, 0x02, 0x03, 0xB7, 0xFF])
def test_tos_is_copied_with_ecn_bits(tos: int) -> None:
    (reply,) = host().handle(echo_request(tos=tos), 0.0)
    assert reply[1] == tos


@pytest.mark.parametrize("flags", [0x0000, 0x4000, 0x8000, 0xC000])
def test_ttl_64_df_clear_reserved_ignored(flags: int) -> None:
    (reply,) = host().handle(echo_request(flags_offset=flags, ttl=3), 0.0)
    assert reply[8] == 64
    assert reply[6:8] == b"\x00\x00"


def test_ttl_follows_config() -> None:
    (reply,) = host(ttl=99).handle(echo_request(), 0.0)
    assert reply[8] == 99 and header_ok(reply)


def test_ip_id_comes_from_the_counter_of_the_destination() -> None:
    """RFC 7739 §5.1, as Linux's ip_idents_reserve: each destination counts on the
    counter its keyed hash selects, so one peer's IDs say nothing of another's."""
    h = host()
    ids = [int.from_bytes(h.handle(echo_request(sequence=n), 0.0)[0][4:6], "big")
           for n in range(3)]
    assert ids == [0, 1, 2]
    assert h.next_ipv4_id(socket.inet_aton(PEER)) == 3
    others = [socket.inet_aton(f"10.9.{n // 250}.{n % 250 + 1}") for n in range(40)]
    assert sum(h.next_ipv4_id(other) == 0 for other in others) >= 38  # fresh counters
    assert h.id_bucket(socket.inet_aton(PEER)) != h.id_bucket(others[0])


def test_ip_id_counters_follow_the_secret() -> None:
    """The same secret gives the same counters (replays repeat); another, others."""
    peers = [socket.inet_aton(f"10.8.0.{n}") for n in range(1, 65)]
    buckets = [[Host(HostConfig(hash_secret=secret)).id_bucket(p) for p in peers]
               for secret in (0, 0, 12345)]
    assert buckets[0] == buckets[1] != buckets[2]
    assert len(set(buckets[0])) > 50  # spread over the 2048 counters


def test_the_counter_is_a_keyed_hash_of_the_destination() -> None:
    """The documented rule (docs/conformance.md, issue 13 row 15), computed apart: the
    BLAKE2b-derived 62-bit seed split into an odd key and an offset, then (destination ×
    key + offset) mod 4294967311 (the first prime above 2**32), masked to 2048 counters."""
    digest = hashlib.blake2b(bytes(8), digest_size=24, person=b"tunstack-hash").digest()
    seed = int.from_bytes(digest[:8], "big") & ((1 << 62) - 1)
    key, offset = (seed >> 31) | 1, seed & 0x7FFFFFFF
    destination = socket.inet_aton(PEER)
    expected = (int.from_bytes(destination, "big") * key + offset) % 4294967311
    assert host().id_bucket(destination) == expected % IPV4_ID_COUNTERS


def test_ip_id_wraps_at_16_bits() -> None:
    h = host()
    h.ipv4_ids[h.id_bucket(socket.inet_aton(PEER))] = 0xFFFF
    first, second = (h.handle(echo_request(), 0.0)[0] for _ in range(2))
    assert (first[4:6], second[4:6]) == (b"\xff\xff", b"\x00\x00")


@pytest.mark.parametrize("length", [0, 1, 2, 3, 55, 56, 57, 1471, 1472])
def test_both_checksums_right_for_any_length(length: int) -> None:
    data = bytes((7 * i + 3) & 0xFF for i in range(length))
    (reply,) = host().handle(echo_request(data), 0.0)
    assert len(reply) == 28 + length
    assert header_ok(reply) and icmp_ok(reply)


def test_all_zero_message_gets_ffff_checksum() -> None:
    (reply,) = host().handle(ipv4(icmp(8, 0, b"\x00\x00\x00\x00")), 0.0)
    assert reply[20:] == b"\x00\x00\xff\xff\x00\x00\x00\x00"


def test_message_summing_to_ffff_gets_zero_checksum() -> None:
    # A reply whose words sum to 0xFFFF has checksum 0: sequence 0xFFFF does it.
    (reply,) = host().handle(ipv4(icmp(8, 0, b"\x00\x00\xff\xff")), 0.0)
    assert reply[20:] == b"\x00\x00\x00\x00\x00\x00\xff\xff"
    assert icmp_ok(reply)


def test_bad_icmp_checksum_is_dropped() -> None:
    h = host()
    request = bytearray(echo_request())
    request[-1] ^= 1
    assert h.handle(bytes(request), 0.0) == []
    assert h.stats.drops == {"icmp.bad_checksum": 1}
    assert h.last_reason == "icmp.bad_checksum"


def test_echo_ignore_all_switch() -> None:
    h = host(echo_ignore_all=True)
    assert h.handle(echo_request(), 0.0) == []
    assert h.stats.drops == {"icmp.echo_ignored": 1}


def test_ethernet_padding_is_trimmed() -> None:
    request = echo_request(b"ab")
    (reply,) = host().handle(request + bytes(16), 0.0)
    assert len(reply) == len(request) and icmp_ok(reply)


def general_path_host() -> Host:
    h = host()
    h.ipv4.fast_path = False
    return h


@given(data=st.binary(max_size=200), tos=st.integers(0, 255), code=st.integers(0, 255),
       rest=st.binary(min_size=4, max_size=4), flags=st.sampled_from([0, 0x4000, 0x8000]),
       src=st.sampled_from(["172.16.0.1", "10.9.8.7", "192.0.2.200"]))
def test_fast_path_gives_the_general_paths_bytes(data: bytes, tos: int, code: int,
                                                 rest: bytes, flags: int, src: str) -> None:
    request = ipv4(icmp(8, code, rest, data), tos=tos, flags_offset=flags, src=src)
    fast, general = host(), general_path_host()
    assert fast.handle(request, 5.0) == general.handle(request, 5.0)
    assert fast.stats.replies == general.stats.replies == {"icmp.echo_reply": 1}


def test_general_path_gives_zero_for_a_message_summing_to_ffff() -> None:
    h = general_path_host()
    (reply,) = h.handle(ipv4(icmp(8, 0, b"\x00\x00\xff\xff")), 0.0)
    assert reply[20:] == b"\x00\x00\x00\x00\x00\x00\xff\xff"


def test_layer_refuses_other_versions_when_called_directly() -> None:
    h = host()
    assert h.ipv4.input(b"\x65" + echo_request()[1:], 0.0) == []
    assert h.stats.drops == {"ipv4.bad_version": 1}


@given(data=st.binary(max_size=64), corruptions=st.lists(
    st.tuples(st.integers(0, 91), st.integers(0, 255)), max_size=3),
    src=st.sampled_from(["172.16.0.1", "127.0.0.1", "224.1.1.1", "172.16.0.255", "0.0.0.0"]),
    ignore_all=st.booleans())
def test_fast_path_drops_count_as_the_general_path_does(
        data: bytes, corruptions: list[tuple[int, int]], src: str, ignore_all: bool) -> None:
    request = bytearray(echo_request(data, src=src))
    for index, value in corruptions:
        if index < len(request):
            request[index] = value
    fast, general = host(echo_ignore_all=ignore_all), host(echo_ignore_all=ignore_all)
    general.ipv4.fast_path = False
    assert fast.handle(bytes(request), 1.0) == general.handle(bytes(request), 1.0)
    assert (fast.stats.drops, fast.stats.replies) == (general.stats.drops,
                                                      general.stats.replies)
