"""Rule 4: reassembly (RFC 791, RFC 815; Linux ip_defrag/ip_frag_queue/ip_frag_reasm and
inet_frag_queue_insert through stack/host/reassembly.py) and its bounds."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from test_ipv4_support import PEER, echo_request, fragments, header_ok, host, icmp, icmp_ok

from stack import Host
from stack.host.reassembly import Reassembler
from stack.wire.ipv4 import with_checksum

MESSAGE = icmp(8, 0, b"\x00\x09\x00\x02", bytes(range(100)))  # 108 bytes of ICMP


def feed(pieces: list[bytes], now: float = 0.0, **config: object) -> tuple[list[bytes], Host]:
    h = host(**config)
    out: list[bytes] = []
    for piece in pieces:
        out += h.handle(piece, now)
    return out, h


def whole_reply_ok(out: list[bytes]) -> None:
    (reply,) = out
    assert reply[20:22] == b"\x00\x00" and reply[24:] == MESSAGE[4:]
    assert header_ok(reply) and icmp_ok(reply)


@pytest.mark.parametrize("order", [[0, 1, 2], [2, 1, 0], [1, 0, 2], [2, 0, 1]])
def test_any_arrival_order(order: list[int]) -> None:
    pieces = fragments(MESSAGE, [(0, 40, True), (40, 40, True), (80, 28, False)])
    out, h = feed([pieces[i] for i in order])
    whole_reply_ok(out)
    assert h.stats.drops == {"frag.held": 2}


def test_exact_duplicate_is_tolerated() -> None:
    pieces = fragments(MESSAGE, [(56, 52, False), (56, 52, False), (0, 56, True)])
    out, h = feed(pieces)
    whole_reply_ok(out)
    assert h.stats.drops == {"frag.held": 1, "frag.duplicate": 1}


def test_any_overlap_discards_the_datagram_even_when_bytes_agree() -> None:
    pieces = fragments(MESSAGE, [(0, 56, True), (48, 60, False)])
    out, h = feed(pieces)
    assert out == []
    assert h.stats.drops == {"frag.held": 1, "frag.overlap": 1}


def test_after_an_overlap_the_datagram_starts_again() -> None:
    pieces = fragments(MESSAGE, [(0, 56, True), (48, 60, False), (0, 56, True), (56, 52, False)])
    out, _ = feed(pieces)
    whole_reply_ok(out)


def test_non_last_fragment_is_cut_to_a_multiple_of_8() -> None:
    # 60 bytes with MF: Linux keeps 56 (ip_frag_queue), so 56.. completes it.
    out, _ = feed(fragments(MESSAGE, [(0, 60, True), (56, 52, False)]))
    whole_reply_ok(out)


def test_empty_non_last_fragment_discards_the_datagram() -> None:
    out, h = feed(fragments(MESSAGE, [(0, 56, True), (56, 7, True), (56, 52, False)]))
    assert out == []
    assert h.stats.drops["frag.bad_length"] == 1


def test_datagram_over_65535_bytes_is_discarded() -> None:
    # The last fragment may start at 65528 (offset 8191) and still carry 20 bytes: the
    # whole would be 20 + 65548 bytes, which ip_frag_reasm refuses once it is complete.
    payload = icmp(8, 0, bytes(4), bytes(65548 - 8))
    pieces = [(offset, 1480, True) for offset in range(0, 65528, 1480)]
    last_start = pieces[-1][0] + 1480
    pieces[-1] = (pieces[-1][0], 65528 - pieces[-1][0], True)
    assert last_start >= 65528
    out, h = feed(fragments(payload, [*pieces, (65528, 20, False)], ident=7))
    assert out == []
    assert h.stats.drops == {"frag.held": len(pieces), "frag.too_big": 1}


@pytest.mark.parametrize(("tos", "expected"), [((2, 3), 0x03), ((1, 1), 0x01), ((0, 0), 0x00),
                                               ((2, 1), 0x02), ((0, 3), None), ((0, 2), None)])
def test_ecn_of_the_fragments_combines_as_rfc_3168(tos: tuple[int, int],
                                                    expected: int | None) -> None:
    out, h = feed(fragments(MESSAGE, [(0, 56, True), (56, 52, False)], tos=list(tos)))
    if expected is None:
        assert out == [] and h.stats.drops["frag.bad_ecn"] == 1
    else:
        assert out[0][1] == expected


def test_key_includes_source_protocol_and_id() -> None:
    a = fragments(MESSAGE, [(0, 56, True), (56, 52, False)], ident=1)
    b = fragments(MESSAGE, [(0, 56, True), (56, 52, False)], ident=2)
    c = fragments(MESSAGE, [(56, 52, False)], ident=1, src="172.16.0.9")
    out, _ = feed([a[0], b[0], c[0], b[1], a[1]])
    assert len(out) == 2


def test_errors_quote_the_reassembled_datagram() -> None:
    from test_ipv4_support import US, udp
    segment = udp(PEER, US, 1, 9, bytes(100))
    out, _ = feed(fragments(segment, [(0, 56, True), (56, 52, False)], protocol=17))
    (error,) = out
    quote = error[28:]
    assert quote[2:4] == (128).to_bytes(2, "big") and quote[6:8] == b"\x00\x00"
    assert header_ok(quote[:20]) and quote[20:] == segment


# -- timeouts -------------------------------------------------------------------------------

def test_time_exceeded_after_30_s_when_fragment_0_was_held() -> None:
    h = host()
    (first,) = fragments(MESSAGE, [(0, 56, True)], tos=[0x1F])
    assert h.handle(first, 100.0) == []
    assert h.next_timer() == 130.0
    assert h.poll(129.9) == []
    (error,) = h.poll(130.0)
    assert error[1] == 0xDE and error[20:22] == b"\x0b\x01"
    assert error[28:] == first
    assert header_ok(error) and icmp_ok(error)
    assert h.stats.replies == {"icmp.time_exceeded": 1}
    assert h.stats.events["frag.timeout"] == 1
    assert h.next_timer() is None


def test_no_time_exceeded_without_fragment_0() -> None:
    h = host()
    h.handle(fragments(MESSAGE, [(56, 52, False)])[0], 0.0)
    assert h.poll(31.0) == []
    assert h.stats.events["frag.timeout"] == 1


def test_timeout_is_not_extended_by_later_fragments() -> None:
    h = host()
    pieces = fragments(MESSAGE, [(0, 40, True), (40, 40, True), (80, 28, False)])
    h.handle(pieces[0], 0.0)
    h.handle(pieces[1], 29.0)
    assert len(h.poll(30.0)) == 1
    assert h.handle(pieces[2], 30.5) == []  # a new queue: held, incomplete


def test_timeout_follows_config() -> None:
    h = host(frag_timeout=5.0)
    h.handle(fragments(MESSAGE, [(0, 56, True)])[0], 0.0)
    assert h.next_timer() == 5.0


def test_no_time_exceeded_about_an_icmp_error() -> None:
    error_message = icmp(3, 3, bytes(4), echo_request() + bytes(60))
    h = host()
    h.handle(fragments(error_message, [(0, 56, True)])[0], 0.0)
    assert h.poll(30.0) == []
    assert h.stats.events["icmp.no_error_for_icmp_error"] == 1


# -- bounds ---------------------------------------------------------------------------------

def test_fragments_per_datagram_cap() -> None:
    pieces = fragments(bytes(800), [(8 * i, 8, True) for i in range(0, 100, 2)])
    out, h = feed(pieces, frag_max_fragments=10)
    # The 11th fragment discards the datagram; the next ten start it again: 50 → 4 times.
    assert out == [] and h.stats.drops["frag.too_many_fragments"] == 4


def test_datagrams_in_progress_cap_evicts_the_oldest() -> None:
    h = host(frag_max_datagrams=3)
    for ident in range(5):
        h.handle(fragments(MESSAGE, [(0, 56, True)], ident=ident)[0], float(ident))
    assert len(h.ipv4.reassembler) == 3
    assert h.stats.events["frag.evicted"] == 2
    # the oldest two are gone: their second halves start new queues
    assert h.handle(fragments(MESSAGE, [(56, 52, False)], ident=0)[0], 5.0) == []
    assert len(h.handle(fragments(MESSAGE, [(56, 52, False)], ident=4)[0], 5.0)) == 1


def test_memory_cap_holds_under_a_random_fragment_flood() -> None:
    limit = 64 * 1024
    h = host(frag_mem_limit=limit)
    rng = random.Random(1)
    for n in range(20_000):
        offset = rng.randrange(0, 8192) * 8
        size = rng.randrange(8, 1400)
        piece = fragments(rng.randbytes(size), [(0, size, bool(rng.getrandbits(1)))],
                          ident=rng.getrandbits(16), src=f"10.{n % 7}.{n % 5}.1")[0]
        piece = piece[:6] + ((piece[6] & 0xE0) << 8 | offset // 8).to_bytes(2, "big") + piece[8:]
        h.handle(with_checksum(piece[:20]) + piece[20:], n * 0.001)
        assert h.ipv4.reassembler.memory <= limit
    assert h.stats.events["frag.evicted"] > 0


def test_a_million_fragments_stay_within_the_default_4_mib() -> None:
    # Straight at the table, so a million take seconds: pseudo-random offsets, sizes and
    # keys (many datagrams in progress), every one a non-last fragment that never completes.
    limit = 4 * 1024 * 1024
    events: Counter[str] = Counter()
    table = Reassembler(timeout=30.0, mem_limit=limit, max_datagrams=100_000,
                        max_fragments=1024, events=events, prefix="frag")
    data = bytes(1400)
    add = table.add
    peak = 0
    for n in range(1_000_000):
        mixed = (n * 2654435761) & 0xFFFFFFFF
        size = 8 + (mixed >> 8) % 1392 & ~7
        add(mixed % 20_000, (mixed >> 3) % 8192 * 8, data[:size], True, data, n * 1e-5)
        if table.memory > peak:
            peak = table.memory
    assert peak <= limit
    assert peak > limit - 4096  # it did fill up to the cap
    assert events["frag.evicted"] > 0


@pytest.mark.parametrize(("dfs", "flags"), [((True, True), b"\x40\x00"),
                                            ((True, False), b"\x40\x00"),
                                            ((False, True), b"\x00\x00"),
                                            ((False, False), b"\x00\x00")])
def test_reassembled_header_has_df_when_a_largest_fragment_had_it(
        dfs: tuple[bool, bool], flags: bytes) -> None:
    # Recorded from Linux 6.18 (ip_frag_reasm, max_df_size): a 76-byte first fragment and a
    # 72-byte last one to a closed UDP port; the error's quote shows the DF bit.
    from test_ipv4_support import US, udp
    segment = udp(PEER, US, 1, 9, bytes(100))
    pieces = fragments(segment, [(0, 56, True), (56, 52, False)], protocol=17)
    marked = [p[:6] + bytes([p[6] | (0x40 if df else 0)]) + p[7:]
              for p, df in zip(pieces, dfs, strict=True)]
    out, _ = feed([with_checksum(p[:20]) + p[20:] for p in marked])
    (error,) = out
    assert error[34:36] == flags and header_ok(error[28:48])
