"""The live Linux kernel as a stack under test.

:func:`kernel_tun` is the one set-up both the kernel recorder (``stack-record --kernel``)
and :class:`KernelStack` use: a fresh namespace (``temporary_netns("ts-…")``, always
deleted), the quiet sysctls set in its ``default`` interface configuration before the
device exists (no router solicitations, no DAD, no automatic link-local address), any
extra sysctls, then a TUN device carrying the host addresses of a :class:`HostConfig`
with default routes through it, so every peer is reachable.

:class:`KernelStack` answers ``handle(packet, now)`` by writing the packet into the TUN
and reading back what the kernel wrote: the kernel processes a TUN write in the writer's
own softirq (``tun_get_user`` → ``netif_receive_skb``), and its answers are queued on the
device by the time ``write`` returns, so a non-blocking drain right after it collects
them. What the kernel sends later (a reassembly Time Exceeded) is read by ``poll``; the
kernel does not say when its timers are due, so ``next_timer`` is None and a driver waits
in real time (``Capabilities.exact_timers`` is false). Packets the kernel sends unasked
(MLD reports, router solicitations, IGMP, anything not addressed to a source seen) are
chatter (:func:`stack.record.kernel.is_chatter`) and never returned.

:func:`sysctls_for` mirrors a HostConfig's policy in the kernel's settings (TTL, hop
limit, ICMP rate limits, echo switches, reassembly times), so the same config describes
both stacks in a differential run.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import select
import subprocess
import sys
import time
from collections import OrderedDict
from collections.abc import Iterator

from stack.host.config import HostConfig
from stack.host.stats import Stats
from stack.live.netns import NetnsError, inside_netns, run_in, temporary_netns
from stack.live.tun import TunError, open_tun
from stack.sut import Capabilities, StackStartError

__all__ = ["KernelStack", "KERNEL", "destination_of", "kernel_tun", "sysctls_for", "QUIET_SYSCTLS",
           "answer_kind"]

KERNEL = Capabilities(exact_timers=False, deterministic=False, can_crash=False,
                      kind="kernel")

# Set in the namespace before the device exists, so the device inherits them.
QUIET_SYSCTLS: dict[str, str] = {
    "net.ipv6.conf.default.router_solicitations": "0",
    "net.ipv6.conf.default.accept_dad": "0",
    "net.ipv6.conf.default.dad_transmits": "0",
    "net.ipv6.conf.default.addr_gen_mode": "1",  # no automatic link-local address
    "net.ipv6.conf.default.accept_ra": "0",  # nothing we send may reconfigure the host
    "net.ipv6.conf.all.accept_dad": "0",
}

MAX_PACKET = 65535 + 4096
MAX_READS = 1000  # per drain: bounds the loop even if the kernel floods us
SETTLE = 0.3  # seconds of start-up chatter drained before the first packet
DELETE_ATTEMPTS, DELETE_PAUSE = 20, 0.1  # retrying a namespace deletion: 2 s at most
SOURCES_KEPT = 1 << 16  # how many peer addresses answers may go to (oldest forgotten)

_device_numbers = itertools.count()


def sysctls_for(config: HostConfig) -> dict[str, str]:
    """The kernel settings that make a namespace's host behave as ``config`` says.

    Reassembly times are whole seconds in the kernel (``ipfrag_time`` is in seconds,
    read with ``proc_dointvec_jiffies``); a fractional config is refused."""
    for name in ("frag_timeout", "frag6_timeout"):
        value = getattr(config, name)
        if value != int(value) or value < 1:
            raise StackStartError(f"{name} {value} cannot be mirrored in the kernel: "
                                  "it keeps reassembly times in whole seconds")
    settings = {
        "net.ipv4.ip_default_ttl": str(config.ttl),
        "net.ipv6.conf.all.hop_limit": str(config.hop_limit),
        "net.ipv6.conf.default.hop_limit": str(config.hop_limit),
        "net.ipv4.icmp_echo_ignore_broadcasts": str(int(config.echo_ignore_broadcasts)),
        "net.ipv4.icmp_echo_ignore_all": str(int(config.echo_ignore_all)),
        "net.ipv6.icmp.echo_ignore_all": str(int(config.echo_ignore_all_v6)),
        "net.ipv6.icmp.echo_ignore_multicast": str(int(config.echo_ignore_multicast_v6)),
        "net.ipv4.conf.all.accept_source_route": str(int(config.accept_source_route)),
        "net.ipv4.conf.default.accept_source_route": str(int(config.accept_source_route)),
        "net.ipv4.icmp_ratelimit": str(config.icmp_ratelimit_ms),
        "net.ipv4.icmp_ratemask": str(config.icmp_ratemask),
        "net.ipv6.icmp.ratelimit": str(config.icmpv6_ratelimit_ms),
        "net.ipv6.icmp.ratemask": _ranges(config.icmpv6_ratemask),
        "net.ipv4.icmp_msgs_per_sec": str(config.icmp_msgs_per_sec),
        "net.ipv4.icmp_msgs_burst": str(config.icmp_msgs_burst),
        "net.ipv4.ipfrag_time": str(int(config.frag_timeout)),
        "net.ipv6.ip6frag_time": str(int(config.frag6_timeout)),
        "net.ipv4.route.min_pmtu": str(config.min_pmtu),
        "net.ipv4.route.mtu_expires": str(int(config.pmtu_expires)),
    }
    return {name: value for name, value in settings.items() if value}


def _ranges(numbers: frozenset[int]) -> str:
    """``0-1,3-127``: the list format of the kernel's bitmap sysctls."""
    spans: list[list[int]] = []
    for number in sorted(numbers):
        if spans and spans[-1][1] == number - 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    return ",".join(f"{a}-{b}" if a != b else str(a) for a, b in spans)


def _sysctl(netns: str, settings: dict[str, str]) -> None:
    if not settings:
        return
    done = run_in(netns, ["sysctl", "-q", "-w", *(f"{k}={v}" for k, v in settings.items())])
    if done.returncode != 0:
        raise StackStartError(f"cannot set sysctls in {netns}: "
                              f"{done.stderr.strip() or 'sysctl failed'}")


def _configure_device(netns: str, device: str, config: HostConfig) -> None:
    commands = [["ip", "link", "set", device, "mtu", str(config.mtu)]]
    if config.ipv4 is not None:
        commands.append(["ip", "addr", "add", config.ipv4, "dev", device])
    commands += [["ip", "-6", "addr", "add", a, "dev", device, "nodad"] for a in config.ipv6]
    commands.append(["ip", "link", "set", device, "up"])
    if config.ipv4 is not None:
        commands.append(["ip", "route", "add", "default", "dev", device])
    if config.ipv6:
        commands.append(["ip", "-6", "route", "add", "default", "dev", device])
    for argv in commands:
        done = run_in(netns, argv)
        if done.returncode != 0:
            raise StackStartError(f"{' '.join(argv)}: {done.stderr.strip() or 'failed'}")


@contextlib.contextmanager
def kernel_tun(config: HostConfig, sysctls: dict[str, str] | None = None,
               prefix: str = "ts-kern") -> Iterator[tuple[str, int, str]]:
    """A fresh namespace whose kernel owns ``config``'s addresses on a TUN device:
    yields (namespace, TUN file descriptor, device name); everything is deleted on exit.
    Raises :class:`StackStartError` (one line) when it cannot be set up."""
    if os.geteuid() != 0:
        raise StackStartError("the kernel stack needs root (network namespaces and TUN)")
    device = f"tsk{os.getpid() % 100000}{next(_device_numbers)}"[:15]
    name = ""
    try:
        with temporary_netns(prefix) as netns:
            name = netns
            _sysctl(netns, QUIET_SYSCTLS)
            with inside_netns(netns):
                fd = open_tun(device)
            try:
                _configure_device(netns, device, config)
                _sysctl(netns, dict(sysctls or {}))
                yield netns, fd, device
            finally:
                os.close(fd)
    except (NetnsError, TunError) as exc:
        raise StackStartError(str(exc)) from None
    finally:
        if name:
            _make_sure_deleted(name)


def _make_sure_deleted(name: str) -> None:
    """``ip netns del`` cannot unlink /run/netns/NAME while another mount namespace
    holds a copy of its bind mount (a process started meanwhile by ``ip netns exec`` or
    ``unshare -m`` elsewhere on the machine): retry for a while, then say so on stderr
    rather than leave it silently."""
    path = f"/run/netns/{name}"
    for _ in range(DELETE_ATTEMPTS):
        if not os.path.exists(path):
            return
        time.sleep(DELETE_PAUSE)
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
    if os.path.exists(path):
        print(f"warning: network namespace {name} could not be deleted (held by another "
              f"mount namespace); delete it with: ip netns del {name}", file=sys.stderr)


def _source(packet: bytes) -> bytes | None:
    if len(packet) >= 20 and packet[0] >> 4 == 4:
        return packet[12:16]
    if len(packet) >= 40 and packet[0] >> 4 == 6:
        return packet[8:24]
    return None


def destination_of(packet: bytes) -> bytes:
    """The destination address of an IPv4 or IPv6 packet (empty when it is neither)."""
    if len(packet) >= 20 and packet[0] >> 4 == 4:
        return packet[16:20]
    if len(packet) >= 40 and packet[0] >> 4 == 6:
        return packet[24:40]
    return b""


class KernelStack:
    """The kernel of a fresh namespace behind a TUN, as a :class:`StackUnderTest`.

    ``config`` gives the addresses and MTU of the device and, through
    :func:`sysctls_for`, the policy; ``sysctls`` are set after those (and win). Use it
    as a context manager or call :meth:`close`.

    By default an answer is returned only when it goes to a source of a packet handled
    so far (as the recorder filters); ``any_destination`` returns answers to any
    address, for a driver that attributes them by destination itself (``stack-fuzz
    diff``; a source-routed packet's error goes to the first hop of the reversed
    route). Chatter by type (MLD, router solicitations, IGMP) is dropped either way."""

    capabilities = KERNEL

    def __init__(self, config: HostConfig, *, sysctls: dict[str, str] | None = None,
                 any_destination: bool = False) -> None:
        from stack.record.kernel import is_chatter  # the recorder's filter, one definition

        self._is_chatter = is_chatter
        self.config = config
        self.stats = Stats()
        self.last_reason = ""
        self.filtered = 0  # chatter packets read and dropped
        self._late: list[bytes] = []  # read before a write: not answers to it
        self._sources: OrderedDict[bytes, None] = OrderedDict()
        self._any_destination = any_destination
        self._closed = False
        self._exit = contextlib.ExitStack()
        try:
            settings = {**sysctls_for(config), **(sysctls or {})}
            self.netns, self._fd, self.device = self._exit.enter_context(
                kernel_tun(config, settings))
            self._settle()
        except BaseException:
            self._exit.close()
            raise

    # -- the StackUnderTest interface ----------------------------------------------------
    def handle(self, packet: bytes, now: float) -> list[bytes]:
        del now  # the kernel keeps its own clock
        if self._closed:
            raise StackStartError("the kernel stack is closed")
        self.stats.received += 1
        source = _source(packet)
        if source is not None:
            self._sources[source] = None
            self._sources.move_to_end(source)
            if len(self._sources) > SOURCES_KEPT:
                self._sources.popitem(last=False)
        self._late += self._drain()  # what came before this write is not its answer
        try:
            os.write(self._fd, packet)
        except OSError as exc:
            # The TUN driver refuses what is neither IPv4 nor IPv6 (tun_get_user), or
            # what is shorter than the header it names: the kernel never saw it.
            name = errno.errorcode.get(exc.errno or 0, "error").lower()
            self.last_reason = f"kernel.not_delivered.{name}"
            self.stats.drops[self.last_reason] += 1
            return []
        answers = self._drain()
        self._count(answers)
        self.last_reason = (f"kernel.answered.{len(answers)}" if answers
                            else "kernel.no_answer")
        if not answers:
            self.stats.drops["kernel.no_answer"] += 1
        return answers

    def poll(self, now: float) -> list[bytes]:
        del now
        if self._closed:
            return []
        out, self._late = self._late + self._drain(), []
        self._count(out)
        return out

    def next_timer(self) -> float | None:
        """None: the kernel does not say when its timers are due (wait in real time)."""
        return None

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._exit.close()

    def fileno(self) -> int:
        """The TUN descriptor, readable when the kernel has sent something (select)."""
        return self._fd

    def __enter__(self) -> KernelStack:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- between cases -------------------------------------------------------------------
    def flush_learned(self) -> None:
        """Forget learned path MTUs and cached routes (``ip route flush cache``, and for
        IPv6 ``ip -6 route flush cache``), and neighbour entries, so an earlier case's
        Packet Too Big cannot shape a later case's answers. A TUN has no link layer, so
        the neighbour flush is for completeness (a no-op on it)."""
        for argv in (["ip", "route", "flush", "cache"], ["ip", "-6", "route", "flush", "cache"],
                     ["ip", "neigh", "flush", "all"]):
            run_in(self.netns, argv)

    def wait(self, seconds: float) -> list[bytes]:
        """Read what the kernel sends during the next ``seconds`` of real time (its timer
        outputs), chatter filtered; each wake-up reads at most MAX_READS packets."""
        until = time.monotonic() + seconds
        out: list[bytes] = []
        while not self._closed:
            left = until - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select([self._fd], [], [], left)
            if ready:
                out += self._drain()
        self._count(out)
        return out

    # -- reading -------------------------------------------------------------------------
    def _drain(self) -> list[bytes]:
        """Everything queued on the device now (non-blocking), chatter filtered."""
        out: list[bytes] = []
        for _ in range(MAX_READS):
            try:
                packet = os.read(self._fd, MAX_PACKET)
            except BlockingIOError:
                break
            answer_to = (destination_of(packet),) if self._any_destination else self._sources
            if self._is_chatter(packet, answer_to):
                self.filtered += 1
            else:
                out.append(packet)
        return out

    def _settle(self) -> None:
        until = time.monotonic() + SETTLE
        while (left := until - time.monotonic()) > 0:
            ready, _, _ = select.select([self._fd], [], [], left)
            if ready:
                self.filtered += len(self._drain())

    def _count(self, packets: list[bytes]) -> None:
        self.stats.sent += len(packets)
        for packet in packets:
            self.stats.replies[answer_kind(packet)] += 1


def answer_kind(packet: bytes) -> str:
    """``icmp.3.3``, ``icmpv6.1.4``, ``tcp.rst-ack``, ``ipv4.fragment`` …: what an answer
    is, in a few characters (for statistics and differential signatures)."""
    if len(packet) >= 20 and packet[0] >> 4 == 4:
        start = (packet[0] & 0x0F) * 4
        protocol = packet[9]
        if int.from_bytes(packet[6:8], "big") & 0x1FFF:
            return "ipv4.fragment"
        return _upper_kind("icmp", protocol, packet, start, f"ipv4.proto.{protocol}")
    if len(packet) >= 40 and packet[0] >> 4 == 6:
        next_header = packet[6]
        if next_header == 44:
            return "ipv6.fragment"
        return _upper_kind("icmpv6", next_header, packet, 40, f"ipv6.next.{next_header}")
    return "other"


def _upper_kind(icmp: str, protocol: int, packet: bytes, start: int, other: str) -> str:
    if protocol in (1, 58) and len(packet) >= start + 2:
        return f"{icmp}.{packet[start]}.{packet[start + 1]}"
    if protocol == 6 and len(packet) >= start + 14:
        flags = packet[start + 13]
        return "tcp." + "-".join(name for bit, name in ((0x02, "syn"), (0x04, "rst"),
                                                        (0x10, "ack")) if flags & bit)
    if protocol == 17:
        return "udp"
    return other
