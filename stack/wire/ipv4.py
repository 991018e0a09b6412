"""IPv4 header codec (RFC 791 §3.1): parse, emit, options walking and fragmentation.

Formats only: whether a packet is acceptable, and what to answer, is policy and lives in
stack/host/ipv4.py.

```
 0                   1                   2                   3
 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
+-------+-------+---------------+-------------------------------+
|Version|  IHL  |   DSCP/ECN    |          Total Length         |
+-------+-------+---------------+-----+-------------------------+
|         Identification        |Flags|     Fragment Offset     |
+---------------+---------------+-----+-------------------------+
|  Time to Live |    Protocol   |        Header Checksum        |
+---------------+---------------+-------------------------------+
|                        Source Address                         |
+---------------------------------------------------------------+
|                     Destination Address                       |
+---------------------------------------------------------------+
|                    Options                    |    Padding    |
+---------------------------------------------------------------+
```
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import NamedTuple

from stack.wire.checksum import checksum, ones_sum

__all__ = [
    "final_destination",
    "HEADER_LEN", "MAX_HEADER_LEN", "FLAG_RESERVED", "FLAG_DF", "FLAG_MF", "OFFSET_MASK",
    "ECN_MASK", "OPT_END", "OPT_NOOP", "OPT_SEC", "OPT_LSRR", "OPT_TS", "OPT_CIPSO",
    "OPT_RR", "OPT_SID", "OPT_SSRR", "OPT_RA", "TS_ONLY", "TS_AND_ADDR", "TS_PRESPEC",
    "Ipv4Header", "parse", "emit", "header_checksum_ok", "with_checksum", "fragment",
    "option_copied",
]

HEADER_LEN = 20
MAX_HEADER_LEN = 60

# Flags and fragment offset share a 16-bit word.
FLAG_RESERVED = 0x8000
FLAG_DF = 0x4000
FLAG_MF = 0x2000
OFFSET_MASK = 0x1FFF  # in 8-byte units

ECN_MASK = 0x03  # the low two bits of the TOS byte (RFC 3168 §5)

# Option types (RFC 791 §3.1; IANA "IP Option Numbers"). The top bit is "copied on
# fragmentation", the next two the class, the low five the number.
OPT_END = 0
OPT_NOOP = 1
OPT_SEC = 130
OPT_LSRR = 131
OPT_TS = 68
OPT_CIPSO = 134
OPT_RR = 7
OPT_SID = 136
OPT_SSRR = 137
OPT_RA = 148  # Router Alert, RFC 2113

# Timestamp option flags (low nibble of its fourth byte; the high nibble is overflow).
TS_ONLY = 0
TS_AND_ADDR = 1
TS_PRESPEC = 3

_HEADER = struct.Struct("!BBHHHBBH4s4s")


class Ipv4Header(NamedTuple):
    ihl: int  # header length in 32-bit words
    tos: int
    total_length: int
    ident: int
    flags_offset: int  # the whole 16-bit word: flags in the top 3 bits
    ttl: int
    protocol: int
    checksum: int
    src: bytes
    dst: bytes
    options: bytes

    @property
    def header_len(self) -> int:
        return self.ihl * 4

    @property
    def offset(self) -> int:
        """The fragment offset in bytes."""
        return (self.flags_offset & OFFSET_MASK) * 8

    @property
    def more_fragments(self) -> bool:
        return bool(self.flags_offset & FLAG_MF)

    @property
    def dont_fragment(self) -> bool:
        return bool(self.flags_offset & FLAG_DF)

    @property
    def is_fragment(self) -> bool:
        return bool(self.flags_offset & (FLAG_MF | OFFSET_MASK))


def parse(packet: bytes) -> Ipv4Header | None:
    """The header of ``packet``, or None if it is not a whole IPv4 header (version 4,
    IHL of 5 or more, all of it present). Checksum and lengths are not judged here."""
    if len(packet) < HEADER_LEN or packet[0] >> 4 != 4:
        return None
    ihl = packet[0] & 0x0F
    if ihl < 5 or len(packet) < ihl * 4:
        return None
    _, tos, total, ident, flags_offset, ttl, protocol, value, src, dst = \
        _HEADER.unpack_from(packet)
    return Ipv4Header(ihl, tos, total, ident, flags_offset, ttl, protocol, value, src, dst,
                      bytes(packet[HEADER_LEN:ihl * 4]))


def header_checksum_ok(header: bytes) -> bool:
    """True when the header (IHL * 4 bytes, checksum included) sums to 0xFFFF."""
    return ones_sum(header) == 0xFFFF


def with_checksum(header: bytes) -> bytes:
    """``header`` with its checksum field recomputed (RFC 791 §3.1)."""
    zeroed = header[:10] + b"\x00\x00" + header[12:]
    return zeroed[:10] + checksum(zeroed).to_bytes(2, "big") + zeroed[12:]


def emit(*, tos: int, ident: int, flags_offset: int, ttl: int, protocol: int, src: bytes,
         dst: bytes, payload: bytes, options: bytes = b"") -> bytes:
    """A whole packet: header (with ``options``, a multiple of 4 bytes) and payload."""
    header_len = HEADER_LEN + len(options)
    header = _HEADER.pack(0x40 | (header_len // 4), tos, header_len + len(payload), ident,
                          flags_offset, ttl, protocol, 0, src, dst) + options
    return header[:10] + checksum(header).to_bytes(2, "big") + header[12:] + payload


def _option_spans(options: bytes) -> Iterator[tuple[int, int, int]]:
    """(offset, kind, length) of each multi-byte option in an options area, up to End of
    Option List or the first option that does not fit (RFC 791 §3.1)."""
    index = 0
    while index < len(options):
        kind = options[index]
        if kind == OPT_END:
            return
        if kind == OPT_NOOP:
            index += 1
            continue
        if index + 1 >= len(options):
            return
        length = options[index + 1]
        if length < 2 or index + length > len(options):
            return
        yield index, kind, length
        index += length


def final_destination(header: bytes) -> bytes:
    """The destination a transport pseudo-header carries (RFC 9293 §3.1, RFC 768): for a
    datagram sent along a loose or strict source route, the last address of the route
    option, the final destination (the header's own destination is then the first hop;
    Linux checksums a reset this way too, from the request's addresses); otherwise the
    header's destination. ``header`` is the IPv4 header, options included."""
    options = header[20:(header[0] & 0x0F) * 4]
    for index, kind, length in _option_spans(options):
        if kind in (OPT_LSRR, OPT_SSRR) and length >= 7:
            return options[index + length - 4:index + length]
    return header[16:20]


def option_copied(kind: int) -> bool:
    """The "copied" flag (RFC 791 §3.1): the option goes into every fragment."""
    return bool(kind & 0x80)


def _blank_uncopied_options(options: bytes) -> bytes:
    """Options for every fragment after the first: uncopied options become NOOPs and the
    header keeps its length (Linux ``ip_options_fragment``)."""
    out = bytearray(options)
    for index, kind, length in _option_spans(options):
        if not option_copied(kind):
            out[index:index + length] = bytes([OPT_NOOP]) * length
    return bytes(out)


def fragment(packet: bytes, mtu: int) -> list[bytes]:
    """Split ``packet`` (a whole datagram with a valid header) into fragments of at most
    ``mtu`` bytes (RFC 791 §3.2 "Fragmentation"): every fragment but the last carries a
    multiple of 8 data bytes, and the last may fill the MTU (Linux's ``ip_do_fragment``
    rounds a piece down only when more follow: 1105 bytes at MTU 576 go as 552 + 553);
    all keep the identification, TOS and TTL; later fragments keep the header length
    with uncopied options turned into NOOPs, as Linux does. A packet that fits, or has
    DF set, is returned whole."""
    if len(packet) <= mtu:
        return [packet]
    header_len = (packet[0] & 0x0F) * 4
    flags_offset = int.from_bytes(packet[6:8], "big")
    if flags_offset & FLAG_DF:
        return [packet]
    chunk = (mtu - header_len) & ~7
    if chunk < 8:
        return [packet]
    base_offset = (flags_offset & OFFSET_MASK) * 8
    original_more = flags_offset & FLAG_MF
    flag_bits = flags_offset & FLAG_RESERVED
    payload = packet[header_len:]
    header = packet[:header_len]
    later_header = header[:HEADER_LEN] + _blank_uncopied_options(header[HEADER_LEN:])
    pieces: list[bytes] = []
    room = mtu - header_len
    start = 0
    while start < len(payload):
        last = len(payload) - start <= room
        data = payload[start:] if last else payload[start:start + chunk]
        more = original_more if last else FLAG_MF
        word = flag_bits | more | ((base_offset + start) // 8)
        head = header if start == 0 else later_header
        head = (head[:2] + (header_len + len(data)).to_bytes(2, "big") + head[4:6]
                + word.to_bytes(2, "big") + head[8:])
        pieces.append(with_checksum(head) + data)
        start += len(data)
    return pieces
