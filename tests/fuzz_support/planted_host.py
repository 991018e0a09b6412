"""A test-only host with a planted bug, to prove the fuzz harness finds bugs.

``PlantedHost`` answers like ``Host`` except that an echo reply to a request carrying
the IPv4 Stream Identifier option (type 136, RFC 791 §3.1; none of the seeds has it)
leaves with its ICMP checksum off by one. The fuzzer must reach that option through its
mutations, get past the request's checksums (the mutator repairs them) and then the
oracle must notice the reply's checksum.
"""

from __future__ import annotations

from stack.host.config import HostConfig
from stack.host.host import Host

STREAM_ID = 136


def _has_stream_id(packet: bytes) -> bool:
    if len(packet) < 20 or packet[0] >> 4 != 4:
        return False
    options = packet[20:(packet[0] & 0x0F) * 4]
    position = 0
    while position < len(options):
        kind = options[position]
        if kind == STREAM_ID:
            return True
        if kind == 0:
            return False
        if kind == 1:
            position += 1
            continue
        if position + 1 >= len(options) or options[position + 1] < 2:
            return False
        position += options[position + 1]
    return False


class PlantedHost(Host):
    def handle(self, packet: bytes, now: float) -> list[bytes]:
        out = super().handle(packet, now)
        if not _has_stream_id(packet):
            return out
        planted = []
        for reply in out:
            header_len = (reply[0] & 0x0F) * 4
            if reply[0] >> 4 == 4 and reply[9] == 1 and len(reply) >= header_len + 4 \
                    and reply[header_len] == 0:
                broken = bytearray(reply)
                broken[header_len + 3] ^= 0x01  # the planted bug: checksum off by one
                reply = bytes(broken)
            planted.append(reply)
        return planted


def make(config: HostConfig) -> Host:
    return PlantedHost(config)
