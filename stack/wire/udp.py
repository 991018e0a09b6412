"""UDP header codec (RFC 768). Formats only; what to answer is in stack/host/transport.py.

```
 0      7 8     15 16    23 24    31
+--------+--------+--------+--------+
|   source port   |    dest port    |
+--------+--------+--------+--------+
|     length      |    checksum     |
+--------+--------+--------+--------+
```
The checksum covers a pseudo-header (addresses, protocol 17, the UDP length), the header
and the data. A transmitted 0 means "no checksum" over IPv4 (RFC 768); a computed 0 is
sent as 0xFFFF. Over IPv6 the checksum is mandatory (RFC 8200 §8.1).
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from stack.wire.checksum import checksum

__all__ = ["HEADER_LEN", "PROTOCOL", "UdpHeader", "parse", "emit"]

HEADER_LEN = 8
PROTOCOL = 17  # IANA protocol number, also IPv6 next header

_HEADER = struct.Struct("!HHHH")


class UdpHeader(NamedTuple):
    src_port: int
    dst_port: int
    length: int
    checksum: int


def parse(segment: bytes) -> UdpHeader | None:
    """The header of ``segment``, or None when fewer than 8 bytes are there. Lengths
    and checksums are not judged here: that is policy."""
    if len(segment) < HEADER_LEN:
        return None
    return UdpHeader(*_HEADER.unpack_from(segment))


def emit(src_port: int, dst_port: int, payload: bytes, address_sum: int) -> bytes:
    """A whole UDP segment with its checksum. ``address_sum`` is
    ``int.from_bytes(src + dst, "big")`` of the IP addresses it travels between."""
    length = HEADER_LEN + len(payload)
    header = _HEADER.pack(src_port, dst_port, length, 0)
    value = checksum(header + payload, address_sum + PROTOCOL + length) or 0xFFFF
    return header[:6] + value.to_bytes(2, "big") + payload
