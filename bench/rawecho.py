"""The raw Python TUN echo loop: the live benchmark's baseline.

``python -m bench.rawecho TUN --seconds N`` opens TUN (run it inside a namespace with
``ip netns exec``), prints ``ready``, and answers every IPv4 ICMP echo request to
172.16.0.2 with :func:`bench.baselines.minimal_v4`: one blocking read and one write per
packet, no validation. It is what a person would write in ten minutes, and the floor
of per-packet cost for a Python program on TUN. It exits after N seconds (SIGALRM), or
on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from bench.baselines import minimal_v4
from bench.packets import HOST_V4
from stack.live.tun import TunError, open_tun

__all__ = ["main", "serve", "serve_alternating"]


def serve(fd: int) -> None:
    """Answer echo requests on ``fd`` until a signal ends the process."""
    read, write = os.read, os.write
    while True:
        packet = read(fd, 65536)
        # IPv4, ICMP, to us, type 8: everything else (IPv6 router solicitations, MLD
        # reports the kernel sends on a new device) is ignored.
        if (len(packet) >= 28 and packet[0] >> 4 == 4 and packet[9] == 1
                and packet[16:20] == HOST_V4 and packet[(packet[0] & 0x0F) << 2] == 8):
            write(fd, minimal_v4(packet))


def serve_alternating(fd: int) -> None:
    """Answer echo requests with odd sequence numbers by tunstack's ``Host.handle`` and
    the others by the minimal responder, in one process and one loop: ping's per-packet
    RTTs then compare the two answers under the same scheduling, wake-ups and load."""
    from stack.host import Host, HostConfig

    handle = Host(HostConfig()).handle
    read, write = os.read, os.write
    while True:
        packet = read(fd, 65536)
        if (len(packet) >= 28 and packet[0] >> 4 == 4 and packet[9] == 1
                and packet[16:20] == HOST_V4 and packet[(packet[0] & 0x0F) << 2] == 8):
            header_len = (packet[0] & 0x0F) << 2
            if packet[header_len + 7] & 1:  # the low byte of the echo sequence number
                for reply in handle(packet, time.time()):
                    write(fd, reply)
            else:
                write(fd, minimal_v4(packet))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rawecho",
                                     description="A raw TUN echo loop (benchmark baseline).")
    parser.add_argument("device", help="TUN device name to open (created if missing)")
    parser.add_argument("--seconds", type=int, default=120,
                        help="exit after this many seconds (default 120)")
    parser.add_argument("--alternate", action="store_true",
                        help="answer odd sequence numbers with tunstack's Host.handle, "
                             "even ones with the minimal responder")
    args = parser.parse_args(argv)
    if args.seconds < 1:
        parser.error("--seconds must be at least 1")
    try:
        fd = open_tun(args.device, nonblocking=False)
    except TunError as exc:
        print(f"rawecho: {exc}", file=sys.stderr)
        return 1
    # Bounded by time whatever happens to the parent: SIGALRM's default action ends us.
    signal.alarm(args.seconds)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    print("ready", flush=True)
    try:
        (serve_alternating if args.alternate else serve)(fd)
    except KeyboardInterrupt:
        pass
    except OSError as exc:  # the device went away under us
        print(f"rawecho: {exc.strerror}", file=sys.stderr)
        return 1
    finally:
        os.close(fd)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
