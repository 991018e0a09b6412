"""The kernel recorder: play the probe set against the running Linux kernel.

One network namespace per run, set up by :func:`stack.sut.kernel.kernel_tun` (the same
set-up as the kernel stack under test; ``ts-rec-…``, always deleted). Before the
TUN device exists, the namespace's ``default`` interface configuration is set so that the
device comes up quiet: no router solicitations, no duplicate address detection, no
automatic link-local address. The device gets the host addresses (172.16.0.2/24,
fd00:16::2/64 and fe80::2/64, ``nodad``) and default routes, so every peer is reachable
through it. Each probe is written into the TUN file descriptor at its delay, and every
packet the kernel writes back during the listen time is recorded.

What the kernel says unasked is not an answer and is filtered out (and counted in the
capture's metadata as ``filtered``):

- MLD reports and done messages (ICMPv6 types 131, 132, 143) and router solicitations
  (133): the sysctls cannot stop the report sent when the device joins its
  solicited-node group, so it is dropped by type;
- IGMP (protocol 2);
- anything not addressed to a source of the case's own probes or to ff02::1 (where a
  Neighbour Advertisement answering a DAD probe goes): e.g. a Time Exceeded that an
  earlier case's reassembly queue sends 30 s later to that case's peer.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import platform
import select
import time
from collections.abc import Callable, Iterable

from stack.host.config import HostConfig
from stack.live.netns import run_in
from stack.record.probes import HOST_CONFIG, Case
from stack.record.recording import RecordError, Recording, probe_sources
from stack.sut import StackStartError
from stack.sut.kernel import QUIET_SYSCTLS, kernel_tun

__all__ = ["record_kernel", "QUIET_SYSCTLS", "REPORTED_SYSCTLS", "is_chatter"]

# Recorded in every capture's metadata: the settings the answers depend on.
REPORTED_SYSCTLS: tuple[str, ...] = (
    "net.ipv4.icmp_echo_ignore_all", "net.ipv4.icmp_echo_ignore_broadcasts",
    "net.ipv4.icmp_ratelimit", "net.ipv4.icmp_ratemask", "net.ipv4.icmp_msgs_per_sec",
    "net.ipv4.icmp_msgs_burst", "net.ipv4.icmp_errors_use_inbound_ifaddr",
    "net.ipv4.ip_default_ttl", "net.ipv4.ip_forward", "net.ipv4.ip_no_pmtu_disc",
    "net.ipv4.ipfrag_time", "net.ipv4.ipfrag_high_thresh", "net.ipv4.ipfrag_max_dist",
    "net.ipv4.route.min_pmtu", "net.ipv4.route.mtu_expires",
    "net.ipv4.conf.all.accept_source_route", "net.ipv4.conf.all.rp_filter",
    "net.ipv4.conf.all.accept_redirects", "net.ipv4.tcp_rfc1337",
    "net.ipv6.icmp.ratelimit", "net.ipv6.icmp.ratemask", "net.ipv6.icmp.echo_ignore_all",
    "net.ipv6.icmp.echo_ignore_multicast", "net.ipv6.icmp.echo_ignore_anycast",
    "net.ipv6.ip6frag_time", "net.ipv6.ip6frag_high_thresh",
    "net.ipv6.max_hbh_opts_number", "net.ipv6.max_dst_opts_number",
    "net.ipv6.conf.all.forwarding", "net.ipv6.conf.all.hop_limit",
    "net.ipv6.conf.all.accept_source_route", "net.ipv6.conf.all.seg6_enabled",
    "net.ipv6.flowlabel_reflect", "net.ipv6.auto_flowlabels",
    *QUIET_SYSCTLS,
)

MLD_AND_RS = frozenset({130, 131, 132, 133, 143})
SETTLE = 0.5  # seconds of start-up chatter drained before the first case
MAX_PACKET = 65535 + 4096
QUIET_GAP = 0.005  # seconds without output after a probe before the next one is sent
MAX_ANSWERS_PER_PROBE = 1000  # bounds the loop; a 65535-byte reply is 45 fragments


def is_chatter(packet: bytes, answer_to: Iterable[bytes]) -> bool:
    """True for what the kernel sends unasked (see the module docstring)."""
    if len(packet) >= 20 and packet[0] >> 4 == 4:
        return packet[9] == 2 or packet[16:20] not in answer_to
    if len(packet) >= 40 and packet[0] >> 4 == 6:
        destination = packet[24:40]
        if _icmpv6_type(packet) in MLD_AND_RS:
            return True
        return destination not in answer_to and destination != ALL_NODES_PACKED
    return True


ALL_NODES_PACKED = ipaddress.IPv6Address("ff02::1").packed


def _icmpv6_type(packet: bytes) -> int | None:
    """The ICMPv6 type behind the fixed header and any Hop-by-Hop header (MLD reports
    carry Router Alert in one), or None when it is not ICMPv6."""
    next_header, offset = packet[6], 40
    if next_header == 0 and len(packet) >= 42:
        next_header, offset = packet[40], 40 + (packet[41] + 1) * 8
    if next_header == 58 and len(packet) > offset:
        return packet[offset]
    return None


def _read_sysctls(netns: str, names: Iterable[str]) -> dict[str, str]:
    values = {}
    for name in names:
        done = run_in(netns, ["sysctl", "-n", name])
        values[name] = done.stdout.strip() if done.returncode == 0 else "unavailable"
    return values


def _drain(fd: int, until: float, sink: Callable[[bytes], None]) -> None:
    """Read every packet the kernel writes until monotonic time ``until``."""
    while True:
        left = until - time.monotonic()
        if left <= 0:
            return
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            return
        for _ in range(MAX_ANSWERS_PER_PROBE):  # bounded even if the kernel floods us
            try:
                sink(os.read(fd, MAX_PACKET))
            except BlockingIOError:
                break


def _early_in_a_millisecond() -> float:
    """Wait, if needed, until the wall clock is early in a millisecond, and return it.

    The kernel stamps IP Timestamp options (and ICMP Timestamp replies) in milliseconds
    at the moment it processes the probe, microseconds after the write starts. Writing
    early in a millisecond makes the probe's recorded time fall in the same millisecond,
    so a replay that derives those stamps from the capture's clock gets the kernel's."""
    now = time.time()
    into = (now * 1000.0) % 1.0
    if into > 0.5:
        time.sleep((1.0 - into) / 1000.0 + 0.00002)
        now = time.time()
    return now


def _drain_until_quiet(fd: int, sink: Callable[[bytes], None]) -> None:
    """Read what the kernel has queued, until it stays quiet for :data:`QUIET_GAP`."""
    for _ in range(MAX_ANSWERS_PER_PROBE):
        ready, _, _ = select.select([fd], [], [], QUIET_GAP)
        if not ready:
            return
        try:
            sink(os.read(fd, MAX_PACKET))
        except BlockingIOError:
            return


def _play(fd: int, case: Case) -> tuple[list[tuple[float, int, bytes, str]], int]:
    """Play one case; return its records (wall time, direction, packet, comment) and the
    number of chatter packets filtered out."""
    probes = sorted(case.probes, key=lambda item: item[0])
    answer_to = probe_sources(case)
    records: list[tuple[float, int, bytes, str]] = []
    filtered = 0

    def keep(packet: bytes) -> None:
        nonlocal filtered
        if is_chatter(packet, answer_to):
            filtered += 1
        else:
            records.append((time.time(), 2, packet, ""))

    start = time.monotonic()
    for delay, packet in probes:
        _drain(fd, start + delay, keep)
        comment = ""
        arrival = _early_in_a_millisecond()
        try:
            os.write(fd, packet)
        except OSError as exc:
            # The TUN driver refuses what is neither IPv4 nor IPv6 (tun_get_user): the
            # probe is still recorded, the kernel never saw it.
            comment = f"not delivered: {errno.errorcode.get(exc.errno or 0, exc.strerror)}"
        records.append((arrival, 1, packet, comment))
        # The kernel answers a TUN write in the writer's own softirq, so its answers are
        # queued by now; reading them before the next probe keeps each answer after the
        # probe that caused it, which is how replay attributes answers.
        _drain_until_quiet(fd, keep)
    _drain(fd, start + case.duration, keep)
    return records, filtered


def record_kernel(cases: list[Case], *,
                  progress: Callable[[str], None] | None = None) -> list[Recording]:
    """Play ``cases`` against this machine's kernel, in one temporary namespace."""
    recordings = []
    try:
        with kernel_tun(HostConfig.from_json(HOST_CONFIG), prefix="ts-rec") as (netns, fd, _):
            sysctls = _read_sysctls(netns, REPORTED_SYSCTLS)
            kernel = platform.release()
            _drain(fd, time.monotonic() + SETTLE, lambda _packet: None)
            for index, case in enumerate(cases):
                records, filtered = _play(fd, case)
                if progress:
                    answers = sum(1 for record in records if record[1] == 2)
                    progress(f"[{index + 1}/{len(cases)}] {case.name}: {answers} answer(s)"
                             + (f", {filtered} chatter packet(s) filtered" if filtered else ""))
                recordings.append(Recording.of(case, "linux", records, extra={
                    "kernel": kernel, "sysctls": sysctls, "filtered": filtered,
                    "device": "tun"}))
    except StackStartError as exc:
        raise RecordError(str(exc)) from None
    return recordings
