#!/usr/bin/env python3
"""A tiny IPv4 ping responder speaking replay's --responder line protocol.

It stands in for "another implementation" in the tests: it reads one hex packet per
line on stdin and answers each with zero or more hex lines and then an empty line. It
answers ICMP echo requests (no options, not fragmented, valid checksums) with an echo
reply: addresses swapped, TTL 64, IP ID from a counter starting at 0, DF clear, TOS
copied. Everything else gets no answer. It imports nothing from tunstack, on purpose.

Flags make it misbehave the ways the tests need:
  --ttl N          send replies with TTL N
  --bad-checksum   leave the IPv4 header checksum off by one
  --garbage        answer the first packet with a line that is not hex
  --exit-after N   exit after answering N packets
  --hang           never answer
"""

from __future__ import annotations

import argparse
import sys
import time


def internet_checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def reply_to(packet: bytes, ident: int, ttl: int, bad_checksum: bool) -> bytes | None:
    if len(packet) < 28 or packet[0] != 0x45 or packet[9] != 1:
        return None
    total_length = int.from_bytes(packet[2:4], "big")
    if total_length != len(packet) or int.from_bytes(packet[6:8], "big") & 0x3FFF:
        return None
    if internet_checksum(packet[:20]) or internet_checksum(packet[20:]) or packet[20] != 8:
        return None
    message = bytearray(packet[20:])
    message[0] = 0
    message[2:4] = b"\0\0"
    message[2:4] = internet_checksum(bytes(message)).to_bytes(2, "big")
    header = bytearray(packet[:20])
    header[4:6] = ident.to_bytes(2, "big")
    header[6:8] = b"\0\0"
    header[8] = ttl
    header[10:12] = b"\0\0"
    header[12:16], header[16:20] = packet[16:20], packet[12:16]
    checksum = internet_checksum(bytes(header))
    if bad_checksum:
        checksum = (checksum + 1) & 0xFFFF
    header[10:12] = checksum.to_bytes(2, "big")
    return bytes(header) + bytes(message)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ttl", type=int, default=64)
    parser.add_argument("--bad-checksum", action="store_true")
    parser.add_argument("--garbage", action="store_true")
    parser.add_argument("--exit-after", type=int)
    parser.add_argument("--hang", action="store_true")
    args = parser.parse_args()
    ident = 0
    answered = 0
    for line in sys.stdin:
        if args.hang:
            time.sleep(60)
        if args.garbage:
            print("this is not hex", flush=True)
            continue
        packet = bytes.fromhex(line.strip())
        reply = reply_to(packet, ident, args.ttl, args.bad_checksum)
        if reply is not None:
            ident = (ident + 1) & 0xFFFF
            print(reply.hex())
        print(flush=True)
        answered += 1
        if args.exit_after is not None and answered >= args.exit_after:
            return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
