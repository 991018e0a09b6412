"""ICMPv4 message codec (RFC 792, RFC 1122 §3.2.2): types, codes and emit.

Every message starts with type, code and a checksum over the whole message; the next
four bytes depend on the type (identifier and sequence for echo and timestamp, the
pointer for Parameter Problem, the next-hop MTU for "fragmentation needed" (RFC 1191)).
"""

from __future__ import annotations

from typing import NamedTuple

from stack.wire.checksum import checksum

__all__ = [
    "PROTOCOL", "HEADER_LEN", "ECHO_REPLY", "DEST_UNREACH", "SOURCE_QUENCH", "REDIRECT",
    "ECHO_REQUEST", "ROUTER_ADVERT", "ROUTER_SOLICIT", "TIME_EXCEEDED", "PARAM_PROBLEM",
    "TIMESTAMP", "TIMESTAMP_REPLY", "INFO_REQUEST", "INFO_REPLY", "ADDRESS_MASK",
    "ADDRESS_MASK_REPLY", "MAX_TYPE", "ERROR_TYPES", "UNREACH_NET", "UNREACH_HOST",
    "UNREACH_PROTOCOL", "UNREACH_PORT", "UNREACH_FRAG_NEEDED", "EXCEEDED_TTL",
    "EXCEEDED_REASSEMBLY", "IcmpHeader", "parse", "emit",
]

PROTOCOL = 1
HEADER_LEN = 8

ECHO_REPLY = 0
DEST_UNREACH = 3
SOURCE_QUENCH = 4
REDIRECT = 5
ECHO_REQUEST = 8
ROUTER_ADVERT = 9
ROUTER_SOLICIT = 10
TIME_EXCEEDED = 11
PARAM_PROBLEM = 12
TIMESTAMP = 13
TIMESTAMP_REPLY = 14
INFO_REQUEST = 15
INFO_REPLY = 16
ADDRESS_MASK = 17
ADDRESS_MASK_REPLY = 18
MAX_TYPE = 18  # Linux NR_ICMP_TYPES: anything above is unknown

# The error messages (Linux icmp_pointers[].error); an error is never sent about one.
ERROR_TYPES = frozenset({DEST_UNREACH, SOURCE_QUENCH, REDIRECT, TIME_EXCEEDED,
                         PARAM_PROBLEM})

UNREACH_NET = 0
UNREACH_HOST = 1
UNREACH_PROTOCOL = 2
UNREACH_PORT = 3
UNREACH_FRAG_NEEDED = 4
EXCEEDED_TTL = 0
EXCEEDED_REASSEMBLY = 1


class IcmpHeader(NamedTuple):
    type: int
    code: int
    checksum: int
    rest: bytes  # the four type-specific bytes


def parse(message: bytes) -> IcmpHeader | None:
    """The header of ``message``, or None when fewer than 8 bytes are there."""
    if len(message) < HEADER_LEN:
        return None
    return IcmpHeader(message[0], message[1], int.from_bytes(message[2:4], "big"),
                      bytes(message[4:8]))


def emit(kind: int, code: int, rest: bytes, data: bytes = b"") -> bytes:
    """A whole ICMP message with its checksum; ``rest`` is the four bytes after it."""
    message = bytes((kind, code, 0, 0)) + rest + data
    return message[:2] + checksum(message).to_bytes(2, "big") + message[4:]
