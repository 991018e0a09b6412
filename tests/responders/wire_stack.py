#!/usr/bin/env python3
"""A stack on a TUN or TAP device that misbehaves on purpose, for the wire-kind tests.

It answers with tunstack's core (``Host``, or ``LinkHost`` with ``--tap``) on DEV, and:
  --ttl N          answers with TTL N (a mismatch against any recording)
  --crash-on N     dies of SIGSEGV on the inbound echo request with sequence number N
  --hang-on N      stops reading the device (but keeps running) at echo sequence N
  --silent         never answers anything (never ready)
  --exit-now       prints a line and exits 7 before opening the device
  --children FILE  starts a plain child and a setsid one (both sleep), writes their pids
  --veth PEER      makes DEV one end of a veth pair (PEER the other) and answers on DEV
                   with an AF_PACKET socket, as a userspace stack on a veth does

Its stdout says what it does, so the crash report shows its last words.
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import socket
import subprocess
import sys
import time

from stack.host.config import HostConfig
from stack.host.host import Host
from stack.link import LinkHost
from stack.live.tun import open_tun

PROBE_ID = 0x5052  # replay's liveness probes (stack.sut.wire): never misbehave on those


def echo_sequence(packet: bytes) -> int | None:
    """The sequence number of an IPv4 echo request that is not replay's probe."""
    if len(packet) >= 28 and packet[0] == 0x45 and packet[9] == 1 and packet[20] == 8 \
            and int.from_bytes(packet[24:26], "big") != PROBE_ID:
        return int.from_bytes(packet[26:28], "big")
    return None


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("device")
    parser.add_argument("--tap", action="store_true")
    parser.add_argument("--ttl", type=int, default=64)
    parser.add_argument("--crash-on", type=int)
    parser.add_argument("--hang-on", type=int)
    parser.add_argument("--silent", action="store_true")
    parser.add_argument("--exit-now", action="store_true")
    parser.add_argument("--children")
    parser.add_argument("--veth", metavar="PEER")
    args = parser.parse_args()
    print(f"wire_stack on {args.device}", flush=True)
    if args.exit_now:
        print("giving up at once", flush=True)
        return 7
    if args.children:
        plain = subprocess.Popen(["sleep", "300"])
        escaped = subprocess.Popen(["setsid", "sleep", "300"])
        with open(args.children, "w") as out:
            out.write(f"{plain.pid} {escaped.pid}\n")
    if args.veth:
        args.tap = True  # Ethernet frames, as on a TAP
        subprocess.run(["ip", "link", "add", args.device, "type", "veth", "peer", "name",
                        args.veth], check=True)
        subprocess.run(["ip", "link", "set", args.device, "up"], check=True)
        packet_socket = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
        packet_socket.bind((args.device, 3))
        fd = packet_socket.fileno()
    else:
        fd = open_tun(args.device, tap=args.tap, nonblocking=False)
    host = Host(HostConfig(ttl=args.ttl, link_address=b"\x02\x00\x00\x00\x00\x09"
                           if args.tap else None))
    stack: Host | LinkHost = LinkHost(host) if args.tap else host
    start = time.monotonic()
    while True:
        ready, _, _ = select.select([fd], [], [], 0.05)
        now = time.monotonic() - start
        outputs = stack.poll(now)
        if ready:
            if args.veth:
                data, address = packet_socket.recvfrom(65600)
                if address[2] == socket.PACKET_OUTGOING:
                    continue  # our own
            else:
                data = os.read(fd, 65600)
            packet = data[14:] if args.tap and len(data) > 14 else data
            sequence = echo_sequence(packet) if not args.tap or data[12:14] == b"\x08\x00" \
                else None
            if sequence is not None and sequence == args.crash_on:
                print(f"crashing on echo sequence {sequence}", flush=True)
                os.kill(os.getpid(), signal.SIGSEGV)
            if sequence is not None and sequence == args.hang_on:
                print(f"hanging on echo sequence {sequence}", flush=True)
                while True:
                    time.sleep(60)
            outputs += stack.handle(data, now)
        for output in outputs if not args.silent else []:
            os.write(fd, output)


if __name__ == "__main__":
    sys.exit(main())
