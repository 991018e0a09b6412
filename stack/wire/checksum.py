"""The Internet checksum (RFC 1071) and its incremental update (RFC 1624), and the keyed
hash the host picks its IPv4 ID counters and IPv6 flow labels with (``keyed_hash``).

Why ``int.from_bytes``: the one's complement sum of 16-bit words is the value of the
whole buffer, read as one big-endian integer, modulo 0xFFFF (because 2**16 == 1 mod 0xFFFF).
CPython does that in C, which beats a ``struct`` loop over words by an order of magnitude.
"""

from __future__ import annotations

from typing import Final

from mypy_extensions import i64

__all__ = [
    "ones_sum_mod",
    "ones_sum",
    "checksum",
    "is_valid",
    "incremental_update",
    "pseudo_header_sum_v4",
    "pseudo_header_sum_v6",
    "keyed_hash",
    "HASH_PRIME",
]


# Whether this module runs compiled by mypyc (stack/corebuild.py), for ones_sum_mod.
_COMPILED: Final = not __file__.endswith(".py")


def ones_sum_mod(data: bytes, start: i64, end: i64) -> int:
    """The one's complement sum of the big-endian 16-bit words of ``data[start:end]`` (an
    odd last byte padded with a zero) modulo 0xFFFF: 0 exactly when a checksummed region
    holding its checksum is valid and not all zero (RFC 1071 §1). The echo fast paths'
    verification.

    Two ways to the same number, by build. Compiled, the loop below is C: twice as fast
    as ``int.from_bytes`` on a ping, and it stays within this module's code, where the
    big-integer conversion and division run through libpython's, which costs most when
    the caches are cold (a paced ping wakes a sleeping responder: docs/bench.md).
    Interpreted, the loop would be 20x slower than one big integer, so the sources keep
    that (2**16 == 1 mod 0xFFFF, see the module docstring)."""
    # The C loop runs only compiled, where coverage.py, which reads the Python sources'
    # bytecode, cannot see it: excluded from line coverage (tests/test_checksum.py
    # checks the sum in whichever build runs, and CI runs both).
    if _COMPILED:  # pragma: no cover
        words: i64 = 0
        index: i64 = start
        while index < end - 1:
            words += (i64(data[index]) << 8) | i64(data[index + 1])
            index += 2
        if index < end:
            words += i64(data[index]) << 8
        return int(words % 0xFFFF)
    total = int.from_bytes(data[start:end], "big")
    return (total << 8 if (end - start) & 1 else total) % 0xFFFF


def ones_sum(data: bytes | bytearray | memoryview, initial: int = 0) -> int:
    """One's complement sum of ``data`` (odd length padded with a zero byte), plus
    ``initial``, folded to 16 bits. A non-zero total never folds to 0 (RFC 1071 §1:
    one's complement arithmetic has no positive zero for a non-zero sum); it gives 0xFFFF."""
    total = int.from_bytes(data, "big")
    if len(data) & 1:
        total <<= 8
    total += initial
    if not total:
        return 0
    return total % 0xFFFF or 0xFFFF


def checksum(data: bytes | bytearray | memoryview, initial: int = 0) -> int:
    """The checksum to store: the complement of :func:`ones_sum`, with the checksum
    field of ``data`` zeroed by the caller."""
    return ~ones_sum(data, initial) & 0xFFFF


def is_valid(data: bytes | bytearray | memoryview, initial: int = 0) -> bool:
    """True when ``data`` (checksum field included) sums to 0xFFFF (RFC 1071 §1)."""
    return ones_sum(data, initial) == 0xFFFF


def incremental_update(old_checksum: int, old_word: int, new_word: int) -> int:
    """RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for one 16-bit word changed.

    The result is made canonical the way a full recomputation over non-zero data is:
    a full recomputation never stores 0xFFFF unless every covered byte is zero, so
    0xFFFF becomes 0x0000 here (callers whose data can be all zeros recompute instead)."""
    total = (~old_checksum & 0xFFFF) + (~old_word & 0xFFFF) + new_word
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    result = ~total & 0xFFFF
    return 0 if result == 0xFFFF else result


def pseudo_header_sum_v4(src: bytes, dst: bytes, protocol: int, length: int) -> int:
    """Unfolded sum of the IPv4 pseudo-header (RFC 768, RFC 9293 §3.1), to pass as
    ``initial``; src and dst are the 4-byte addresses."""
    return int.from_bytes(src + dst, "big") + protocol + length


def pseudo_header_sum_v6(src: bytes, dst: bytes, next_header: int, length: int) -> int:
    """Unfolded sum of the IPv6 pseudo-header (RFC 8200 §8.1); src and dst are 16 bytes."""
    return int.from_bytes(src + dst, "big") + next_header + length


# keyed_hash's moduli: the first prime above 2**32, and the last below 2**30 (for folding
# longer inputs, so that every step of the compiled loop stays within 63 bits).
HASH_PRIME: Final = 4294967311
_FOLD_PRIME: Final = 1073741789


def keyed_hash(data: bytes, seed: int) -> int:
    """A keyed hash of ``data`` below HASH_PRIME: ``(x * key + offset) mod HASH_PRIME``
    (Carter and Wegman's universal family), with ``key`` (odd) and ``offset`` the 31-bit
    halves of the 62-bit ``seed``, and ``x`` the big-endian number ``data`` spells, reduced
    modulo _FOLD_PRIME when ``data`` is longer than 4 bytes. An address of 4 bytes is
    hashed whole: two IPv4 destinations share an ID counter only by the key. Not a
    cryptographic function (Linux uses siphash: docs/conformance.md).

    Two ways to the same number, by build, as ``ones_sum_mod``: compiled, a loop of 63-bit
    integers in C (Horner's rule modulo _FOLD_PRIME, word by word; one big integer was
    slower there); interpreted, one big integer, since the loop would be slow in Python.
    A call into zlib's CRC-32, used before, cost the IPv4 echo fast path 12% of its
    instructions (callgrind)."""
    key = (seed >> 31) | 1
    offset = seed & 0x7FFFFFFF
    if _COMPILED:  # pragma: no cover (compiled only: tests/test_checksum.py checks both)
        end: i64 = len(data)
        index: i64 = 0
        x: i64 = 0
        if end <= 4:
            while index < end:
                x = (x << 8) | i64(data[index])
                index += 1
        else:
            while index + 4 <= end:
                x = ((x << 32) | (i64(data[index]) << 24) | (i64(data[index + 1]) << 16)
                     | (i64(data[index + 2]) << 8) | i64(data[index + 3])) % _FOLD_PRIME
                index += 4
            while index < end:
                x = ((x << 8) | i64(data[index])) % _FOLD_PRIME
                index += 1
        return int((x * i64(key) + i64(offset)) % HASH_PRIME)
    value = int.from_bytes(data, "big")
    if len(data) > 4:
        value %= _FOLD_PRIME
    return (value * key + offset) % HASH_PRIME
