"""TCP header codec (RFC 9293 §3.1). Formats only; closed-port answers are policy and
live in stack/host/transport.py.

```
 0                   1                   2                   3
 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
+-------------------------------+-------------------------------+
|          Source Port          |       Destination Port        |
+-------------------------------+-------------------------------+
|                        Sequence Number                        |
+---------------------------------------------------------------+
|                    Acknowledgment Number                      |
+-------+-------+---------------+-------------------------------+
| DOff  | Rsrvd |    Flags      |            Window             |
+-------+-------+---------------+-------------------------------+
|           Checksum            |         Urgent Pointer        |
+-------------------------------+-------------------------------+
```
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from stack.wire.checksum import checksum

__all__ = ["HEADER_LEN", "PROTOCOL", "FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE",
           "CWR", "OPT_END", "OPT_NOP", "OPT_MD5", "OPT_MD5_LEN", "OPT_AO",
           "OPT_AO_HEADER_LEN", "TcpHeader", "parse",
           "emit"]

HEADER_LEN = 20
PROTOCOL = 6

FIN = 0x01
SYN = 0x02
RST = 0x04
PSH = 0x08
ACK = 0x10
URG = 0x20
ECE = 0x40
CWR = 0x80

# Option kinds (RFC 9293 §3.2; RFC 2385 §3.0 for the MD5 signature, always 18 bytes;
# RFC 5925 §2.2 for TCP-AO: kind, length, KeyID, RNextKeyID, then the MAC).
OPT_END = 0
OPT_NOP = 1
OPT_MD5 = 19
OPT_MD5_LEN = 18
OPT_AO = 29
OPT_AO_HEADER_LEN = 4

_HEADER = struct.Struct("!HHIIBBHHH")


class TcpHeader(NamedTuple):
    src_port: int
    dst_port: int
    seq: int
    ack: int
    data_offset: int  # in 32-bit words
    flags: int  # the low 8 flag bits (CWR .. FIN)
    window: int
    checksum: int
    urgent: int

    @property
    def header_len(self) -> int:
        return self.data_offset * 4


def parse(segment: bytes) -> TcpHeader | None:
    """The fixed header of ``segment``, or None when fewer than 20 bytes are there.
    The data offset is reported as found, not judged (that is policy)."""
    if len(segment) < HEADER_LEN:
        return None
    src, dst, seq, ack, offset_byte, flags, window, value, urgent = _HEADER.unpack_from(segment)
    return TcpHeader(src, dst, seq, ack, offset_byte >> 4, flags, window, value, urgent)


def emit(src_port: int, dst_port: int, seq: int, ack: int, flags: int, window: int,
         address_sum: int, payload: bytes = b"") -> bytes:
    """A TCP segment with a 20-byte header (no options) and its checksum;
    ``address_sum`` is ``int.from_bytes(src + dst, "big")`` of the IP addresses."""
    header = _HEADER.pack(src_port, dst_port, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                          (HEADER_LEN // 4) << 4, flags, window, 0, 0)
    length = HEADER_LEN + len(payload)
    value = checksum(header + payload, address_sum + PROTOCOL + length)
    return header[:16] + value.to_bytes(2, "big") + header[18:] + payload
