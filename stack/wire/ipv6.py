"""IPv6 header and extension header codecs (RFC 8200). Formats only, no policy.

The fixed header (§3) is 40 bytes; extension headers (§4) follow, each naming the next.
Hop-by-Hop and Destination Options headers (§4.3, §4.6) carry type-length-value options
(§4.2); the Routing header (§4.4) and the Fragment header (§4.5) have fixed fields.

Offsets in this module are from the start of the IPv6 header, the way ICMPv6 Parameter
Problem pointers count them (RFC 4443 §3.4).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import NamedTuple

from stack.wire.checksum import checksum, ones_sum

__all__ = [
    "HEADER_LEN", "MIN_MTU", "MAX_PAYLOAD",
    "HOP_BY_HOP", "TCP", "UDP", "ROUTING", "FRAGMENT", "ESP", "AUTH", "ICMPV6",
    "NO_NEXT_HEADER", "DESTINATION_OPTIONS", "EXTENSION_HEADERS",
    "OPTION_PAD1", "OPTION_PADN", "OPTION_ROUTER_ALERT", "OPTION_JUMBO",
    "Ipv6Header", "parse_header", "build_header",
    "Option", "iter_options", "build_options_header", "pad_options",
    "FragmentHeader", "parse_fragment_header", "build_fragment_header",
    "build_routing_header", "skip_extension_headers",
    "address_sum", "upper_layer_checksum", "is_upper_layer_checksum_valid",
    "fragment", "is_multicast", "is_link_local", "solicited_node",
]

HEADER_LEN = 40
MIN_MTU = 1280  # RFC 8200 §5
MAX_PAYLOAD = 65535  # without a Jumbo Payload option (RFC 2675)

# Next Header values (IANA "Assigned Internet Protocol Numbers").
HOP_BY_HOP = 0
TCP = 6
UDP = 17
ROUTING = 43
FRAGMENT = 44
ESP = 50
AUTH = 51
ICMPV6 = 58
NO_NEXT_HEADER = 59
DESTINATION_OPTIONS = 60

# What Linux's ipv6_ext_hdr() calls an extension header (ESP is not one: it ends the walk).
EXTENSION_HEADERS = frozenset((HOP_BY_HOP, ROUTING, FRAGMENT, AUTH, NO_NEXT_HEADER,
                               DESTINATION_OPTIONS))

# Option types (RFC 8200 §4.2, RFC 2711, RFC 2675).
OPTION_PAD1 = 0x00
OPTION_PADN = 0x01
OPTION_ROUTER_ALERT = 0x05
OPTION_JUMBO = 0xC2

_HEADER = struct.Struct("!IHBB16s16s")


class Ipv6Header(NamedTuple):
    """The fixed header; ``payload_length`` as the field says, not as received."""

    traffic_class: int
    flow_label: int
    payload_length: int
    next_header: int
    hop_limit: int
    src: bytes
    dst: bytes


def parse_header(packet: bytes) -> Ipv6Header | str:
    """The fixed header of ``packet``, or a reason: ``ipv6.truncated``, ``ipv6.bad_version``."""
    if len(packet) < HEADER_LEN:
        return "ipv6.truncated"
    first, length, next_header, hop_limit, src, dst = _HEADER.unpack_from(packet)
    if first >> 28 != 6:
        return "ipv6.bad_version"
    return Ipv6Header((first >> 20) & 0xFF, first & 0xFFFFF, length, next_header, hop_limit,
                      src, dst)


def build_header(traffic_class: int, flow_label: int, payload_length: int, next_header: int,
                 hop_limit: int, src: bytes, dst: bytes) -> bytes:
    """The 40-byte fixed header (RFC 8200 §3)."""
    return _HEADER.pack(0x60000000 | (traffic_class & 0xFF) << 20 | (flow_label & 0xFFFFF),
                        payload_length, next_header, hop_limit, src, dst)


# -- options (RFC 8200 §4.2) ---------------------------------------------------------------

class Option(NamedTuple):
    """One TLV option: ``offset`` of its type byte from the start of the packet; ``data``
    is empty for Pad1."""

    offset: int
    type: int
    data: bytes


def iter_options(packet: bytes, start: int, end: int) -> Iterator[Option | str]:
    """The options of the Hop-by-Hop or Destination Options header whose options area is
    ``packet[start:end]`` (after the two-byte Next Header / Hdr Ext Len prefix). Yields a
    reason string (``ipv6.bad_option_length``) instead of an option that overruns ``end``
    and stops there."""
    offset = start
    while offset < end:
        kind = packet[offset]
        if kind == OPTION_PAD1:
            yield Option(offset, kind, b"")
            offset += 1
            continue
        if offset + 2 > end or offset + 2 + packet[offset + 1] > end:
            yield "ipv6.bad_option_length"
            return
        size = packet[offset + 1]
        yield Option(offset, kind, packet[offset + 2:offset + 2 + size])
        offset += 2 + size


def pad_options(options: bytes) -> bytes:
    """Options followed by Pad1/PadN so that, after the two-byte prefix, the header is a
    multiple of 8 bytes long (RFC 8200 §4.2)."""
    missing = -(len(options) + 2) % 8
    if missing == 0:
        return options
    if missing == 1:
        return options + b"\x00"
    return options + bytes((OPTION_PADN, missing - 2)) + bytes(missing - 2)


def build_options_header(next_header: int, options: bytes = b"") -> bytes:
    """A Hop-by-Hop or Destination Options header holding ``options`` (padded)."""
    body = pad_options(options)
    return bytes((next_header, (len(body) + 2) // 8 - 1)) + body


# -- fragment and routing headers ----------------------------------------------------------

class FragmentHeader(NamedTuple):
    """RFC 8200 §4.5: ``offset`` in bytes (the field times 8)."""

    next_header: int
    offset: int
    more: bool
    identification: int


_FRAGMENT = struct.Struct("!BBHI")


def parse_fragment_header(packet: bytes, at: int) -> FragmentHeader | None:
    """The Fragment header at ``packet[at:]``, or None when fewer than 8 bytes remain."""
    if at + 8 > len(packet):
        return None
    next_header, _reserved, field, identification = _FRAGMENT.unpack_from(packet, at)
    return FragmentHeader(next_header, field & 0xFFF8, bool(field & 1), identification)


def build_fragment_header(next_header: int, offset: int, more: bool,
                          identification: int) -> bytes:
    """A Fragment header; ``offset`` in bytes, a multiple of 8."""
    return _FRAGMENT.pack(next_header, 0, (offset & 0xFFF8) | int(more), identification)


def build_routing_header(next_header: int, routing_type: int, segments_left: int,
                         data: bytes = b"\x00\x00\x00\x00") -> bytes:
    """A Routing header (RFC 8200 §4.4); ``data`` is everything after Segments Left,
    padded with zeros to a multiple of 8 bytes overall."""
    body = data + bytes(-(len(data) + 4) % 8)
    return bytes((next_header, (len(body) + 4) // 8 - 1, routing_type, segments_left)) + body


def skip_extension_headers(packet: bytes, start: int,
                           next_header: int) -> tuple[int, int, int] | None:
    """Walk extension headers from ``start`` as Linux's ``ipv6_skip_exthdr`` does:
    returns ``(offset, next_header, fragment_field)`` of the first header that is not an
    extension header, or of a non-first fragment's data (whose ``next_header`` is then
    FRAGMENT, its type unknowable); None when a header cannot be read or the chain ends
    in No Next Header. ``fragment_field`` is the last Fragment header's offset+flags word."""
    fragment_field = 0
    size = len(packet)
    while next_header in EXTENSION_HEADERS:
        if next_header == NO_NEXT_HEADER or start + 2 > size:
            return None
        if next_header == FRAGMENT:
            if start + 4 > size:
                return None
            fragment_field = (packet[start + 2] << 8) | packet[start + 3]
            if fragment_field & 0xFFF8:
                break
            length = 8
        elif next_header == AUTH:
            length = (packet[start + 1] + 2) << 2  # RFC 4302 §2.2: in 4-byte units
        else:
            length = (packet[start + 1] + 1) << 3
        next_header = packet[start]
        start += length
    return start, next_header, fragment_field


# -- checksums and fragmentation -----------------------------------------------------------

def address_sum(packet: bytes) -> int:
    """``int.from_bytes(src + dst)`` of an IPv6 packet: the address part of the
    pseudo-header sum (RFC 8200 §8.1), as stack.host.transport expects it."""
    return int.from_bytes(packet[8:40], "big")


def upper_layer_checksum(message: bytes, src: bytes, dst: bytes, next_header: int) -> int:
    """The checksum to store in ``message`` (its checksum field zero), with the IPv6
    pseudo-header (RFC 8200 §8.1)."""
    return checksum(message, int.from_bytes(src + dst, "big") + next_header + len(message))


def is_upper_layer_checksum_valid(message: bytes, src: bytes, dst: bytes,
                                  next_header: int) -> bool:
    """True when ``message`` sums to 0xFFFF with the IPv6 pseudo-header."""
    initial = int.from_bytes(src + dst, "big") + next_header + len(message)
    return ones_sum(message, initial) == 0xFFFF


def fragment(packet: bytes, mtu: int, identification: int) -> list[bytes]:
    """Split ``packet`` (no extension headers: what this host originates) into fragments
    of at most ``mtu`` bytes (RFC 8200 §4.5). Each carries ``(mtu - 48) & ~7`` bytes of
    data, as Linux's ``ip6_fragment`` cuts. A packet that fits is returned as it is."""
    if len(packet) <= mtu:
        return [packet]
    next_header = packet[6]
    head = packet[:6]
    tail = packet[7:HEADER_LEN]
    data = memoryview(packet)[HEADER_LEN:]
    step = (mtu - HEADER_LEN - 8) & ~7
    pieces = []
    for offset in range(0, len(data), step):
        chunk = bytes(data[offset:offset + step])
        more = offset + step < len(data)
        length = len(chunk) + 8
        pieces.append(head[:4] + length.to_bytes(2, "big") + bytes((FRAGMENT,)) + tail
                      + _FRAGMENT.pack(next_header, 0, offset | int(more), identification)
                      + chunk)
    return pieces


# -- addresses (RFC 4291) ------------------------------------------------------------------

def is_multicast(address: bytes) -> bool:
    """ff00::/8 (RFC 4291 §2.7)."""
    return address[0] == 0xFF


def is_link_local(address: bytes) -> bool:
    """fe80::/10 (RFC 4291 §2.5.6)."""
    return address[0] == 0xFE and address[1] & 0xC0 == 0x80


def solicited_node(address: bytes) -> bytes:
    """The solicited-node multicast group of ``address``: ff02::1:ffXX:XXXX (RFC 4291 §2.7.1)."""
    return b"\xff\x02" + bytes(9) + b"\x01\xff" + address[13:16]
