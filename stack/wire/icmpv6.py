"""ICMPv6 message codecs (RFC 4443) and Neighbour Discovery messages (RFC 4861 §4.3, §4.4,
§4.6.1). Formats only: what to answer is stack/host/ipv6.py's business.

Every ``build_*`` function returns a whole ICMPv6 message with its checksum computed over
the IPv6 pseudo-header of ``src``/``dst`` (RFC 4443 §2.3); put it after an IPv6 header with
Next Header 58. The Neighbour Discovery builders and parsers are public for the TAP link
layer (stack/link/), which resolves addresses with them:

* :func:`build_neighbour_solicitation` / :func:`parse_neighbour_solicitation`
* :func:`build_neighbour_advertisement` / :func:`parse_neighbour_advertisement`
* :func:`parse_nd_options` and :func:`link_layer_option` for the options they carry.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from stack.wire.checksum import checksum, ones_sum

__all__ = [
    "DESTINATION_UNREACHABLE", "PACKET_TOO_BIG", "TIME_EXCEEDED", "PARAMETER_PROBLEM",
    "ECHO_REQUEST", "ECHO_REPLY", "ROUTER_SOLICITATION", "ROUTER_ADVERTISEMENT",
    "NEIGHBOUR_SOLICITATION", "NEIGHBOUR_ADVERTISEMENT", "REDIRECT",
    "UNREACH_NO_ROUTE", "UNREACH_PORT", "EXCEEDED_HOP_LIMIT", "EXCEEDED_REASSEMBLY",
    "PARAM_HEADER_FIELD", "PARAM_NEXT_HEADER", "PARAM_OPTION", "PARAM_HEADER_CHAIN",
    "OPTION_SOURCE_LINK_LAYER", "OPTION_TARGET_LINK_LAYER",
    "NA_ROUTER", "NA_SOLICITED", "NA_OVERRIDE",
    "is_error", "message_checksum", "is_checksum_valid",
    "build_echo", "build_error",
    "NdOption", "parse_nd_options", "link_layer_option",
    "NeighbourSolicitation", "NeighbourAdvertisement",
    "build_neighbour_solicitation", "parse_neighbour_solicitation",
    "build_neighbour_advertisement", "parse_neighbour_advertisement",
]

# Types (RFC 4443 §2.1, RFC 4861 §4).
DESTINATION_UNREACHABLE = 1
PACKET_TOO_BIG = 2
TIME_EXCEEDED = 3
PARAMETER_PROBLEM = 4
ECHO_REQUEST = 128
ECHO_REPLY = 129
ROUTER_SOLICITATION = 133
ROUTER_ADVERTISEMENT = 134
NEIGHBOUR_SOLICITATION = 135
NEIGHBOUR_ADVERTISEMENT = 136
REDIRECT = 137

# Codes.
UNREACH_NO_ROUTE = 0
UNREACH_PORT = 4
EXCEEDED_HOP_LIMIT = 0
EXCEEDED_REASSEMBLY = 1
PARAM_HEADER_FIELD = 0  # erroneous header field encountered
PARAM_NEXT_HEADER = 1  # unrecognised Next Header type
PARAM_OPTION = 2  # unrecognised IPv6 option
PARAM_HEADER_CHAIN = 3  # first fragment has an incomplete header chain (RFC 7112)

# Neighbour Discovery options (RFC 4861 §4.6) and advertisement flags (§4.4).
OPTION_SOURCE_LINK_LAYER = 1
OPTION_TARGET_LINK_LAYER = 2
NA_ROUTER = 0x80
NA_SOLICITED = 0x40
NA_OVERRIDE = 0x20

_ICMPV6 = 58


def is_error(message_type: int) -> bool:
    """Error messages have types 0-127 (RFC 4443 §2.1)."""
    return message_type < 128


def _pseudo(src: bytes, dst: bytes, length: int) -> int:
    return int.from_bytes(src + dst, "big") + _ICMPV6 + length


def message_checksum(message: bytes, src: bytes, dst: bytes) -> int:
    """The checksum of ``message`` (its checksum field zero) with the pseudo-header."""
    return checksum(message, _pseudo(src, dst, len(message)))


def is_checksum_valid(message: bytes, src: bytes, dst: bytes) -> bool:
    """True when ``message`` (checksum included) is intact (RFC 4443 §2.3)."""
    return ones_sum(message, _pseudo(src, dst, len(message))) == 0xFFFF


def _finish(head: bytes, rest: bytes, src: bytes, dst: bytes) -> bytes:
    """``head`` is type+code (2 bytes); ``rest`` all after the checksum field."""
    value = checksum(head + rest, _pseudo(src, dst, len(head) + 2 + len(rest)))
    return head + value.to_bytes(2, "big") + rest


def build_echo(message_type: int, identifier: int, sequence: int, data: bytes,
               src: bytes, dst: bytes, code: int = 0) -> bytes:
    """An Echo Request (128) or Echo Reply (129) (RFC 4443 §4.1, §4.2)."""
    return _finish(bytes((message_type, code)),
                   struct.pack("!HH", identifier, sequence) + data, src, dst)


def build_error(message_type: int, code: int, parameter: int, quote: bytes,
                src: bytes, dst: bytes) -> bytes:
    """An error message (RFC 4443 §3): ``parameter`` is the 32-bit field after the
    checksum (unused 0, the MTU, or the Parameter Problem pointer); ``quote`` the start
    of the offending packet, already cut by the caller."""
    return _finish(bytes((message_type, code)),
                   (parameter & 0xFFFFFFFF).to_bytes(4, "big") + quote, src, dst)


# -- Neighbour Discovery (RFC 4861) --------------------------------------------------------

class NdOption(NamedTuple):
    """One option: its ``type`` and its whole body after type and length (``8*len - 2``
    bytes)."""

    type: int
    body: bytes


def parse_nd_options(data: bytes) -> list[NdOption] | str:
    """The options area of an ND message, or ``ndisc.bad_option`` when an option has
    length 0 or overruns the message (RFC 4861 §4.6: the node MUST silently discard)."""
    options = []
    offset = 0
    size = len(data)
    while offset < size:
        if offset + 2 > size:
            return "ndisc.bad_option"
        length = data[offset + 1] * 8
        if length == 0 or offset + length > size:
            return "ndisc.bad_option"
        options.append(NdOption(data[offset], data[offset + 2:offset + length]))
        offset += length
    return options


def link_layer_option(option_type: int, address: bytes) -> bytes:
    """A Source (1) or Target (2) Link-Layer Address option, padded to 8 bytes (§4.6.1)."""
    size = (len(address) + 2 + 7) // 8 * 8
    return bytes((option_type, size // 8)) + address + bytes(size - 2 - len(address))


class NeighbourSolicitation(NamedTuple):
    """RFC 4861 §4.3: the ``target`` address and the options, in order."""

    target: bytes
    options: list[NdOption]

    def link_address(self) -> bytes | None:
        """The body of the first Source Link-Layer Address option (padding included)."""
        return _first_option(self.options, OPTION_SOURCE_LINK_LAYER)


class NeighbourAdvertisement(NamedTuple):
    """RFC 4861 §4.4: ``flags`` holds NA_ROUTER | NA_SOLICITED | NA_OVERRIDE."""

    flags: int
    target: bytes
    options: list[NdOption]

    def link_address(self) -> bytes | None:
        """The body of the first Target Link-Layer Address option (padding included)."""
        return _first_option(self.options, OPTION_TARGET_LINK_LAYER)


def _first_option(options: list[NdOption], option_type: int) -> bytes | None:
    for option in options:
        if option.type == option_type:
            return option.body
    return None


def build_neighbour_solicitation(target: bytes, src: bytes, dst: bytes,
                                 source_link_address: bytes | None = None) -> bytes:
    """A Neighbour Solicitation for ``target``; with ``source_link_address`` it carries
    the Source Link-Layer Address option (which §4.3 forbids when ``src`` is ::)."""
    options = b"" if source_link_address is None else \
        link_layer_option(OPTION_SOURCE_LINK_LAYER, source_link_address)
    return _finish(bytes((NEIGHBOUR_SOLICITATION, 0)), bytes(4) + target + options, src, dst)


def parse_neighbour_solicitation(message: bytes) -> NeighbourSolicitation | str:
    """A Neighbour Solicitation (checksum and hop limit checked by the caller), or a
    reason: ``ndisc.bad_code``, ``ndisc.truncated``, ``ndisc.multicast_target``,
    ``ndisc.bad_option``."""
    return _parse_nd(message, NEIGHBOUR_SOLICITATION)  # type: ignore[return-value]


def build_neighbour_advertisement(target: bytes, flags: int, src: bytes, dst: bytes,
                                  target_link_address: bytes | None = None) -> bytes:
    """A Neighbour Advertisement (RFC 4861 §4.4); ``flags`` from NA_ROUTER, NA_SOLICITED,
    NA_OVERRIDE; with ``target_link_address`` it carries the Target Link-Layer Address
    option (§7.2.4)."""
    options = b"" if target_link_address is None else \
        link_layer_option(OPTION_TARGET_LINK_LAYER, target_link_address)
    return _finish(bytes((NEIGHBOUR_ADVERTISEMENT, 0)),
                   bytes((flags & 0xE0, 0, 0, 0)) + target + options, src, dst)


def parse_neighbour_advertisement(message: bytes) -> NeighbourAdvertisement | str:
    """A Neighbour Advertisement, or a reason as for :func:`parse_neighbour_solicitation`."""
    return _parse_nd(message, NEIGHBOUR_ADVERTISEMENT)  # type: ignore[return-value]


def _parse_nd(message: bytes,
              expected: int) -> NeighbourSolicitation | NeighbourAdvertisement | str:
    if len(message) < 24 or message[0] != expected:
        return "ndisc.truncated"
    if message[1] != 0:  # RFC 4861 §7.1.1
        return "ndisc.bad_code"
    target = message[8:24]
    if target[0] == 0xFF:  # §7.1.1: the target is not a multicast address
        return "ndisc.multicast_target"
    options = parse_nd_options(message[24:])
    if isinstance(options, str):
        return options
    if expected == NEIGHBOUR_SOLICITATION:
        return NeighbourSolicitation(target, options)
    return NeighbourAdvertisement(message[4] & 0xE0, target, options)
