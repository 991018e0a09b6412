"""stack/wire/checksum.py against a plain 16-bit word loop (RFC 1071 §4.1)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from test_ipv4_support import word_checksum

from stack.wire.checksum import (
    checksum,
    incremental_update,
    is_valid,
    keyed_hash,
    ones_sum,
    ones_sum_mod,
    pseudo_header_sum_v4,
)


def test_rfc1071_example_words() -> None:
    # RFC 1071 §3 example: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2.
    assert ones_sum(bytes.fromhex("0001f203f4f5f6f7")) == 0xDDF2
    assert checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D


def test_zero_and_all_ones() -> None:
    assert ones_sum(b"") == 0
    assert checksum(b"\x00\x00") == 0xFFFF
    assert ones_sum(b"\xff\xff\xff\xff") == 0xFFFF  # never folds to 0
    assert checksum(b"\xff\xff") == 0


def test_odd_length_is_padded_with_zero() -> None:
    assert ones_sum(b"\x12") == 0x1200
    assert ones_sum(b"\x12\x34\x56") == 0x1234 + 0x5600


@given(st.binary(max_size=300))
def test_checksum_matches_word_loop(data: bytes) -> None:
    assert checksum(data) == word_checksum(data)


def test_sum_in_place_of_the_rfc1071_example() -> None:
    data = bytes.fromhex("aaaa0001f203f4f5f6f7bb")
    assert ones_sum_mod(data, 2, 10) == 0xDDF2
    assert ones_sum_mod(data, 2, 2) == 0
    assert ones_sum_mod(b"\xff\xff", 0, 2) == 0  # a valid sum: 0xFFFF is 0 mod 0xFFFF
    assert ones_sum_mod(data, 10, 11) == 0xBB00  # an odd byte is padded with a zero


@given(st.binary(max_size=300), st.integers(0, 300), st.integers(0, 300))
def test_sum_in_place_matches_word_loop(data: bytes, start: int, end: int) -> None:
    # Both builds' ways (a C loop compiled, one big integer interpreted) must agree
    # with the plain loop; tests/test_corebuild.py runs the stack in both builds.
    start, end = sorted((min(start, len(data)), min(end, len(data))))
    folded = 0xFFFF - word_checksum(data[start:end])  # the end-around-carry sum
    assert ones_sum_mod(data, start, end) == folded % 0xFFFF


@given(st.binary(min_size=2, max_size=300).filter(lambda d: any(d)))
def test_stored_checksum_validates(data: bytes) -> None:
    body = b"\x00\x00" + data
    stored = checksum(body).to_bytes(2, "big") + data
    assert is_valid(stored)


@given(st.binary(min_size=4, max_size=64).filter(lambda d: len(d) % 2 == 0),
       st.integers(0, 0xFFFF))
def test_incremental_update_equals_recomputation(data: bytes, new_word: int) -> None:
    body = b"\x00\x00" + data
    old = checksum(body)
    changed = b"\x00\x00" + new_word.to_bytes(2, "big") + data[2:]
    if not any(changed):
        return  # all-zero data: RFC 1624 §3's one ambiguous case, recomputed by callers
    updated = incremental_update(old, int.from_bytes(data[:2], "big"), new_word)
    assert updated == checksum(changed)


def test_pseudo_header_is_symmetric_in_addresses() -> None:
    a, b = bytes([172, 16, 0, 1]), bytes([172, 16, 0, 2])
    assert ones_sum(b"", pseudo_header_sum_v4(a, b, 17, 12)) == \
        ones_sum(b"", pseudo_header_sum_v4(b, a, 17, 12))


@given(st.binary(max_size=48), st.integers(min_value=0, max_value=(1 << 62) - 1))
def test_keyed_hash_is_the_documented_rule(data: bytes, seed: int) -> None:
    """Whichever build runs (CI runs both): (x × key + offset) mod 4294967311, x the
    data as a big-endian number, reduced mod 1073741789 beyond 4 bytes."""
    key, offset = (seed >> 31) | 1, seed & 0x7FFFFFFF
    x = int.from_bytes(data, "big")
    if len(data) > 4:
        x %= 1073741789
    assert keyed_hash(data, seed) == (x * key + offset) % 4294967311
