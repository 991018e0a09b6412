"""ICMPv4 message codec (RFC 792, RFC 1122 §3.2.2): types, codes and emit.

Every message starts with type, code and a checksum over the whole message; the next
four bytes depend on the type (identifier and sequence for echo and timestamp, the
pointer for Parameter Problem, the next-hop MTU for "fragmentation needed" (RFC 1191)).
"""

from __future__ import annotations

from typing import Final, NamedTuple

from stack.wire.checksum import checksum

__all__ = [
    "PROTOCOL", "HEADER_LEN", "ECHO_REPLY", "DEST_UNREACH", "SOURCE_QUENCH", "REDIRECT",
    "ECHO_REQUEST", "ROUTER_ADVERT", "ROUTER_SOLICIT", "TIME_EXCEEDED", "PARAM_PROBLEM",
    "TIMESTAMP", "TIMESTAMP_REPLY", "INFO_REQUEST", "INFO_REPLY", "ADDRESS_MASK",
    "ADDRESS_MASK_REPLY", "MAX_TYPE", "ERROR_TYPES", "UNREACH_NET", "UNREACH_HOST",
    "UNREACH_PROTOCOL", "UNREACH_PORT", "UNREACH_FRAG_NEEDED", "EXCEEDED_TTL",
    "EXCEEDED_REASSEMBLY", "IcmpHeader", "parse", "emit",
]

# Final: the compiled core (stack/corebuild.py) reads these as constants, not as module
# attributes looked up per packet.
PROTOCOL: Final = 1
HEADER_LEN: Final = 8

ECHO_REPLY: Final = 0
DEST_UNREACH: Final = 3
SOURCE_QUENCH: Final = 4
REDIRECT: Final = 5
ECHO_REQUEST: Final = 8
ROUTER_ADVERT: Final = 9
ROUTER_SOLICIT: Final = 10
TIME_EXCEEDED: Final = 11
PARAM_PROBLEM: Final = 12
TIMESTAMP: Final = 13
TIMESTAMP_REPLY: Final = 14
INFO_REQUEST: Final = 15
INFO_REPLY: Final = 16
ADDRESS_MASK: Final = 17
ADDRESS_MASK_REPLY: Final = 18
MAX_TYPE: Final = 18  # Linux NR_ICMP_TYPES: anything above is unknown

# The error messages (Linux icmp_pointers[].error); an error is never sent about one.
# (typed: mypyc cannot infer it where stack/host/ipv4.py builds on it at import time)
ERROR_TYPES: Final[frozenset[int]] = frozenset({DEST_UNREACH, SOURCE_QUENCH, REDIRECT,
                                                TIME_EXCEEDED, PARAM_PROBLEM})

UNREACH_NET: Final = 0
UNREACH_HOST: Final = 1
UNREACH_PROTOCOL: Final = 2
UNREACH_PORT: Final = 3
UNREACH_FRAG_NEEDED: Final = 4
EXCEEDED_TTL: Final = 0
EXCEEDED_REASSEMBLY: Final = 1


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
