"""``stack-live``: answer real traffic on a TUN or TAP device.

    sudo stack-live tun0                 # then: ping 172.16.0.2 / ping -6 fd00:16::2
    sudo stack-live tap0 --tap --mac 02:00:00:00:00:02
    sudo stack-live tun0 --record live.pcapng -q
    sudo stack-live tun0 --fifo-cmd /tmp/tun_cmd --fifo-resp /tmp/tun_resp

Set-up order, each step failing with one line and a non-zero exit: check the addresses
(no privileges needed), check we are root, open the device (creating it), configure the
kernel side, open the recording, FIFOs and session log, then drop root and answer until
SIGINT/SIGTERM, printing the statistics on the way out. docs/live.md is the manual.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import ipaddress
import json
import os
import sys
import time
from dataclasses import dataclass, field
from typing import IO, Any, NoReturn, TextIO

from stack import __version__, version_text
from stack.capture import LINKTYPE_ETHERNET, LINKTYPE_RAW, CaptureError, CaptureWriter
from stack.host.config import ConfigError, HostConfig
from stack.host.host import Host
from stack.link import EthernetError, LinkHost, format_mac, parse_mac
from stack.link.describe import describe_frame
from stack.live.device import DeviceError, DevicePlan, configure_device, device_mtu
from stack.live.fifo import FifoError, FifoReferee
from stack.live.files import OutputFileError, open_output, require_writable_directory
from stack.live.loop import Answerer, LiveLoop
from stack.live.output import Reporter, format_summary
from stack.live.policy import PolicyError, add_policy_flags, changed_policies, policy_values
from stack.live.privileges import Account, PrivilegeError, drop_privileges, resolve_account
from stack.live.tun import TunError, open_tun
from stack.live.workers import (
    MAX_WORKERS,
    WorkerSet,
    io_path_text,
    stats_from_dict,
    version_io_text,
    worker_config,
)
from stack.wire.inspect import describe

__all__ = ["main", "build_parser", "check_arguments", "LiveError", "Settings", "host_metadata"]

DEFAULT_MAC = "02:00:00:00:00:02"
# Microseconds: about twice the kernel's own echo round trip over veth on the 2-core VM
# (14-17 us median), so that ping -f's next request usually comes within it, and small
# next to a paced ping's interval; an idle stack-live spins this long after its last
# packet and no longer.
DEFAULT_BUSY_POLL_US = 30
# --fifo-wait: a day at most, far below epoll's limit (a C int of milliseconds, about
# 24.8 days), and at least a millisecond, epoll's resolution.
FIFO_WAIT_MIN = 0.001
FIFO_WAIT_MAX = 86400.0


class LiveError(RuntimeError):
    """A usage problem found before touching the system; one line for the user and exit
    status 2 (set-up failures, such as a busy device, are exit status 1)."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line (argparse prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"stack-live: {message} (stack-live --help lists the options)\n")


class _Version(argparse.Action):
    """``--version``: two lines, kept as they are (argparse's own would refill them)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        print(f"{version_text('stack-live')}\n{version_io_text()}")
        parser.exit(0)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="stack-live",
        description="Answer pings and closed-port probes on a TUN (or TAP) device with the "
                    "tunstack host, printing one line per packet.")
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="print the release, the core's build and the I/O paths")
    parser.add_argument("device", nargs="?", default="tun0",
                        help="device name; created if missing (default tun0)")
    parser.add_argument("--tap", action="store_true",
                        help="TAP mode: Ethernet frames, ARP and neighbour discovery")
    parser.add_argument("--mac", default=DEFAULT_MAC,
                        help=f"our MAC address in TAP mode (default {DEFAULT_MAC})")
    addresses = parser.add_argument_group("addresses")
    addresses.add_argument("--ipv4", default="172.16.0.2/24",
                           help="the stack's IPv4 address (default 172.16.0.2/24)")
    addresses.add_argument("--ipv6", action="append", default=None, metavar="ADDR/LEN",
                           help="the stack's IPv6 address, repeatable (default fd00:16::2/64)")
    addresses.add_argument("--link-local", default="fe80::2/64",
                           help="the stack's IPv6 link-local address (default fe80::2/64)")
    addresses.add_argument("--kernel-ipv4", default="172.16.0.1/24",
                           help="the kernel side's IPv4 address (default 172.16.0.1/24)")
    addresses.add_argument("--kernel-ipv6", default="fd00:16::1/64",
                           help="the kernel side's IPv6 address (default fd00:16::1/64)")
    addresses.add_argument("--no-ipv4", action="store_true", help="no IPv4 at all")
    addresses.add_argument("--no-ipv6", action="store_true", help="no IPv6 at all")
    addresses.add_argument("--no-configure", action="store_true",
                           help="leave the kernel side of the device as it is")
    addresses.add_argument("--mtu", type=int, default=None,
                           help="device and host MTU (default 1500, or the device's with "
                                "--no-configure)")
    addresses.add_argument("--udp-echo", type=int, action="append", default=[],
                           metavar="PORT", help="answer UDP on PORT as echo (RFC 862)")
    out = parser.add_argument_group("output")
    out.add_argument("-q", "--quiet", action="store_true", help="no line per packet")
    out.add_argument("--json", action="store_true", help="one JSON object per line")
    out.add_argument("--record", metavar="FILE.pcapng",
                     help="write both directions to a pcapng file, flushed per packet, "
                          "each packet commented with the host's reason (Wireshark's "
                          "frame.comment) and the device named")
    out.add_argument("--busy-poll", type=int, default=DEFAULT_BUSY_POLL_US, metavar="USEC",
                     help="with -q, poll the device this long after each answer before "
                          "sleeping: a flood's next packet is caught awake, at the cost "
                          f"of CPU (default {DEFAULT_BUSY_POLL_US}; 0: off)")
    out.add_argument("--workers", type=int, default=1, metavar="N",
                     help="N processes answering from the device's one queue, each "
                          "with its own host (TUN only; not with --record or --fifo; "
                          "docs/live.md, Workers; default 1)")
    parser.add_argument("--user", help="account to run as after set-up "
                                       "(default: $SUDO_USER, else nobody; never root "
                                       "without --stay-root)")
    parser.add_argument("--stay-root", action="store_true",
                        help="keep root after set-up, and say so in the banner (without "
                             "it root is always dropped: --user root is refused, a "
                             "SUDO_USER of root means nobody)")
    fifo = parser.add_argument_group("FIFO referee (docs/fifo-responder.md)")
    fifo.add_argument("--fifo", metavar="DIR",
                      help="be the referee: make DIR/cmd and DIR/resp and let a client "
                           "answer the traffic")
    fifo.add_argument("--fifo-cmd", metavar="PATH", help="the command pipe (default DIR/cmd)")
    fifo.add_argument("--fifo-resp", metavar="PATH",
                      help="the answer pipe (default DIR/resp)")
    fifo.add_argument("--fifo-wait", type=float, default=30.0, metavar="SECONDS",
                      help="how long READ waits for a packet before TIMEOUT, "
                           f"{FIFO_WAIT_MIN:g} to {FIFO_WAIT_MAX:g} (default 30)")
    fifo.add_argument("--fifo-send-invalid", action="store_true",
                      help="send packets that fail validation anyway")
    fifo.add_argument("--fifo-log", metavar="FILE",
                      help="session log (default DIR/session.log, or tunstack-session.log "
                           "beside the command pipe)")
    fifo.add_argument("--fifo-all", action="store_true",
                      help="READ every inbound packet, not only those addressed to the stack")
    add_policy_flags(parser)
    return parser


@dataclass
class Settings:
    """The checked command line."""

    device: str
    tap: bool
    config: HostConfig
    plan: DevicePlan | None  # None: --no-configure
    mode: str
    record: str | None
    user: str | None
    fifo_cmd: str | None = None
    fifo_resp: str | None = None
    fifo_log: str | None = None
    fifo_dir: str | None = None
    fifo_wait: float = 30.0
    fifo_send_invalid: bool = False
    fifo_all: bool = False
    kernel: list[str] = field(default_factory=list)
    mtu_given: bool = True
    busy_poll: float = 0.0  # seconds
    workers: int = 1
    stay_root: bool = False
    account: Account | None = None  # None: resolved when run


def _interface(text: str, version: int, what: str) -> ipaddress.IPv4Interface | \
        ipaddress.IPv6Interface:
    if "/" not in text:
        raise LiveError(f"bad address {text!r} for {what}: give a prefix length, "
                        f"e.g. {'172.16.0.2/24' if version == 4 else 'fd00:16::2/64'}")
    try:
        iface = ipaddress.ip_interface(text)
    except ValueError:
        raise LiveError(f"bad address {text!r} for {what}") from None
    if iface.version != version:
        raise LiveError(f"bad address {text!r} for {what}: not an IPv{version} address")
    return iface


def check_arguments(args: argparse.Namespace) -> Settings:
    """Everything that needs no privileges: addresses, modes, paths."""
    if args.quiet and args.json:
        raise LiveError("-q and --json exclude each other")
    for flag in ("record", "user", "fifo", "fifo_cmd", "fifo_resp", "fifo_log"):
        if getattr(args, flag) == "":
            raise LiveError(f"--{flag.replace('_', '-')} needs a value, not an empty one")
    if not 0 <= args.busy_poll <= 1_000_000:
        raise LiveError("--busy-poll must be 0 to 1000000 microseconds")
    if not 1 <= args.workers <= MAX_WORKERS:
        raise LiveError(f"--workers must be 1 to {MAX_WORKERS}")
    if args.workers > 1:
        # One recording and one referee session each need every packet in one process.
        for flag, given in (("--tap", args.tap), ("--record", args.record),
                            ("--fifo", args.fifo or args.fifo_cmd or args.fifo_resp)):
            if given:
                raise LiveError(f"--workers {args.workers} and {flag} exclude each other "
                                "(give --workers 1)")
    stack_v4 = None if args.no_ipv4 else _interface(args.ipv4, 4, "--ipv4")
    stack_v6: list[ipaddress.IPv4Interface | ipaddress.IPv6Interface] = []
    if not args.no_ipv6:
        stack_v6 = [_interface(t, 6, "--ipv6") for t in (args.ipv6 or ["fd00:16::2/64"])]
        if args.link_local and args.link_local.lower() != "none":
            link_local = _interface(args.link_local, 6, "--link-local")
            if not link_local.ip.is_link_local:
                raise LiveError(f"bad address {args.link_local!r} for --link-local: not in "
                                "fe80::/10")
            stack_v6.append(link_local)
    for port in args.udp_echo:
        if not 1 <= port <= 65535:
            raise LiveError(f"--udp-echo {port}: a UDP port is 1..65535")
    if stack_v4 is None and not stack_v6:
        raise LiveError("--no-ipv4 and --no-ipv6 leave the stack no address")
    kernel: list[ipaddress.IPv4Interface | ipaddress.IPv6Interface] = []
    if not args.no_configure:
        if stack_v4 is not None:
            kernel_v4 = _interface(args.kernel_ipv4, 4, "--kernel-ipv4")
            _check_pair(stack_v4, kernel_v4, "--ipv4", "--kernel-ipv4")
            kernel.append(kernel_v4)
        if stack_v6:
            kernel_v6 = _interface(args.kernel_ipv6, 6, "--kernel-ipv6")
            # Every global address: the kernel routes only its own prefix into the
            # device (link-local ones are on-link whatever the prefix).
            for ours in stack_v6:
                if not ours.ip.is_link_local:
                    _check_pair(ours, kernel_v6, "--ipv6", "--kernel-ipv6")
            kernel.append(kernel_v6)
    mac = None
    if args.tap:
        try:
            mac = parse_mac(args.mac)
        except EthernetError as exc:
            raise LiveError(str(exc)) from None
    elif args.mac != DEFAULT_MAC:
        raise LiveError("--mac needs --tap (a TUN device has no link-layer address)")
    try:
        config = HostConfig(
            ipv4=str(stack_v4) if stack_v4 is not None else None,
            ipv6=tuple(str(i) for i in stack_v6),
            mtu=args.mtu if args.mtu is not None else 1500,
            link_address=mac,
            udp_echo_ports=tuple(args.udp_echo),
            # A fresh secret per run unless --hash-secret gives one, as Linux draws one
            # per boot (IPv4 ID counters, flow labels); the recording's config metadata
            # carries it, so a replay rebuilds the same host and matches byte for byte.
            **{"hash_secret": int.from_bytes(os.urandom(8), "big"),
               **policy_values(args)})  # type: ignore[arg-type]
    except (ConfigError, PolicyError) as exc:
        raise LiveError(str(exc)) from None
    plan = None if args.no_configure else DevicePlan(args.device, config.mtu, tuple(kernel))
    mode = "quiet" if args.quiet else "json" if args.json else "lines"
    settings = Settings(args.device, args.tap, config, plan, mode, args.record, args.user,
                        kernel=[str(k) for k in kernel], mtu_given=args.mtu is not None,
                        busy_poll=args.busy_poll / 1e6, stay_root=args.stay_root,
                        workers=args.workers)
    _check_fifo(args, settings)
    try:
        settings.account = resolve_account(args.user, stay_root=args.stay_root)
    except PrivilegeError as exc:
        raise LiveError(str(exc)) from None
    return settings


def _check_pair(ours: ipaddress.IPv4Interface | ipaddress.IPv6Interface,
                kernel: ipaddress.IPv4Interface | ipaddress.IPv6Interface,
                flag: str, kernel_flag: str) -> None:
    if ours.ip == kernel.ip:
        raise LiveError(f"bad address: {flag} and {kernel_flag} are both {ours.ip}")
    if ours.ip not in kernel.network:
        raise LiveError(f"bad address: {flag} {ours.ip} is outside the kernel side's "
                        f"network {kernel.network}, so the kernel would not route to it")


def _check_fifo(args: argparse.Namespace, settings: Settings) -> None:
    if not FIFO_WAIT_MIN <= args.fifo_wait <= FIFO_WAIT_MAX:  # also false for nan
        raise LiveError(f"--fifo-wait {args.fifo_wait:g}: give {FIFO_WAIT_MIN:g} to "
                        f"{FIFO_WAIT_MAX:g} seconds")
    explicit = args.fifo_cmd or args.fifo_resp
    if not args.fifo and not explicit:
        for flag in ("fifo_send_invalid", "fifo_all", "fifo_log"):
            if getattr(args, flag):
                raise LiveError(f"--{flag.replace('_', '-')} needs --fifo or --fifo-cmd/"
                                "--fifo-resp")
        return
    if args.tap:
        raise LiveError("the FIFO referee works on TUN devices (IP packets), not with --tap")
    if not args.fifo and not (args.fifo_cmd and args.fifo_resp):
        raise LiveError("give --fifo DIR, or both --fifo-cmd and --fifo-resp")
    directory = args.fifo
    settings.fifo_dir = directory
    settings.fifo_cmd = args.fifo_cmd or os.path.join(directory, "cmd")
    settings.fifo_resp = args.fifo_resp or os.path.join(directory, "resp")
    if os.path.abspath(settings.fifo_cmd) == os.path.abspath(settings.fifo_resp):
        raise LiveError("the command and answer pipes must be two different paths")
    settings.fifo_log = args.fifo_log or (
        os.path.join(directory, "session.log") if directory else
        os.path.join(os.path.dirname(os.path.abspath(settings.fifo_cmd)),
                     "tunstack-session.log"))
    settings.fifo_wait = args.fifo_wait
    settings.fifo_send_invalid = args.fifo_send_invalid
    settings.fifo_all = args.fifo_all


def host_metadata(settings: Settings) -> dict[str, object]:
    """What a recording's section header carries so ``replay --expect`` can rebuild the
    host: every HostConfig field."""
    config = settings.config
    return {
        "tool": "stack-live",
        "device": settings.device,
        "mode": "tap" if settings.tap else "tun",
        "config": config.to_json(),
        "kernel": settings.kernel,
        "fifo": settings.fifo_cmd is not None,
    }


def interface_description(settings: Settings) -> str:
    """The recording's if_description, shown by Wireshark beside the interface name:
    ``tunstack 0.1.0 on tun0, TUN, mtu 1500``."""
    kind = "TAP" if settings.tap else "TUN"
    return f"tunstack {__version__} on {settings.device}, {kind}, mtu {settings.config.mtu}"


def _banner(settings: Settings, account: Account, stream: TextIO, io_text: str) -> None:
    config = settings.config
    kind = "TAP" if settings.tap else "TUN"
    mac = f", MAC {format_mac(config.link_address)}" if config.link_address else ""
    lines = [f"stack-live: tunstack answers on {settings.device} ({kind}, mtu {config.mtu}"
             f"{mac}) as {', '.join(config.addresses())}"]
    if settings.plan is not None:
        lines.append(f"kernel side: {', '.join(settings.kernel)}")
    else:
        lines.append("kernel side: left as it was (--no-configure)")
    policies = changed_policies(config)
    if policies:
        lines.append(f"policy not Linux's default: {' '.join(policies)}")
    lines.append("try:")
    if config.ipv4_interface is not None:
        lines.append(f"  ping {config.ipv4_interface.ip}")
    globals_v6 = [i.ip for i in config.ipv6_interfaces if not i.ip.is_link_local]
    if globals_v6:
        lines.append(f"  ping -6 {globals_v6[0]}")
    if settings.fifo_cmd is not None:
        lines.append(f"FIFO referee: write READ or WRITE <hex> to {settings.fifo_cmd}, read "
                     f"the answer from {settings.fifo_resp}; log: {settings.fifo_log}")
    if settings.record:
        lines.append(f"recording to {settings.record}")
    lines.append(io_text)
    why = f" ({account.why})" if account.why else ""
    lines.append(f"running as {account.name}{why}; Ctrl-C to stop")
    stream.write("\n".join(lines) + "\n")
    stream.flush()


def _device_config(settings: Settings) -> HostConfig:
    """The host's configuration once the device is open: with --no-configure and no
    --mtu, the host answers with the MTU the device already has."""
    config = settings.config
    if settings.plan is not None or settings.mtu_given:
        return config
    mtu = device_mtu(settings.device)
    if mtu == config.mtu:
        return config
    try:
        return dataclasses.replace(config, mtu=mtu)
    except ConfigError as exc:
        raise LiveError(f"{settings.device}: {exc}") from None


def _open_referee(settings: Settings, account: Account, host: Host, loop: LiveLoop,
                  reporter: Reporter) -> tuple[FifoReferee, TextIO]:
    """The pipes, their directory and the session log, made while still root and
    handed to ``account``."""
    assert settings.fifo_cmd and settings.fifo_resp and settings.fifo_log
    if settings.fifo_dir is not None and os.path.lexists(settings.fifo_dir) and \
            not os.path.isdir(settings.fifo_dir):
        raise FifoError(f"--fifo {settings.fifo_dir}: exists and is not a directory")
    if settings.fifo_dir is not None and not os.path.isdir(settings.fifo_dir):
        # Made only where the account could make it itself, as the files are.
        require_writable_directory(os.path.dirname(os.path.abspath(settings.fifo_dir)),
                                   account, f"--fifo {settings.fifo_dir}")
        try:
            os.mkdir(settings.fifo_dir, mode=0o700)
        except OSError as exc:
            raise FifoError(f"cannot create {settings.fifo_dir}: {exc.strerror}") from None
        os.chown(settings.fifo_dir, account.uid, account.gid)
    for flag, path in (("--fifo-cmd", settings.fifo_cmd), ("--fifo-resp", settings.fifo_resp)):
        require_writable_directory(os.path.dirname(os.path.abspath(path)), account,
                                   f"{flag} {path}")
    log = io.TextIOWrapper(open_output(settings.fifo_log, account, append=True,
                                       what="--fifo-log"), encoding="utf-8")
    try:
        referee = FifoReferee(host, settings.fifo_cmd, settings.fifo_resp,
                              send=loop.send_for_referee, reporter=reporter, log=log,
                              wait=settings.fifo_wait, send_invalid=settings.fifo_send_invalid,
                              everything=settings.fifo_all, owner=(account.uid, account.gid))
    except BaseException:
        log.close()
        raise
    return referee, log


def _print_summary(settings: Settings, host: Host, loop: LiveLoop,
                   referee: FifoReferee | None, elapsed: float,
                   workers: dict[str, int] | None = None) -> None:
    extra: dict[str, int] = dict(workers or {})
    if loop.core_exceptions:
        extra["core exceptions"] = loop.core_exceptions
    if loop.write_errors:
        extra["device write errors"] = loop.write_errors
    if settings.mode == "json":
        print(json.dumps({"summary": host.stats.as_dict(), "elapsed": round(elapsed, 3),
                          "fifo": referee.counts if referee is not None else {},
                          "core_latency": loop.latency.as_dict(),
                          **{k.replace(" ", "_"): v for k, v in extra.items()}}))
    elif referee is not None:
        print(referee.summary(settings.device, elapsed))
        if extra:
            print("; ".join(f"{name} {count}" for name, count in extra.items()))
    else:
        print(format_summary(settings.device, host.stats, elapsed, extra))
        if loop.latency.count:
            print(loop.latency.text())
    sys.stdout.flush()


def _start_workers(settings: Settings, fd: int) -> tuple[WorkerSet | None, str]:
    """Fork the workers after the first, or say why there is one process only (fork
    refused: a process limit, a sandbox): today's loop then answers alone."""
    if settings.workers == 1:
        return None, ""
    config = worker_config(settings.config, settings.workers)
    mode = settings.mode

    def serve(number: int, handoff: int) -> dict[str, Any]:
        host = Host(config)
        reporter = Reporter(sys.stdout, mode, describe)
        # Only the first worker busy-polls: spinning the others too starves the
        # senders of a 2-core machine (one flood went to 0.55x with every worker
        # spinning); they sleep until the first is busy and a packet waits.
        loop = LiveLoop(fd, host, reporter, None, busy_poll=0.0)
        loop.shared_queue = True
        loop.handoff_to = handoff
        loop.install_signal_handlers()
        try:
            loop.run()
        finally:
            loop.close()
            sys.stdout.flush()
        return {"stats": host.stats.as_dict(), "handed_off": loop.handed_off,
                "core_exceptions": loop.core_exceptions, "write_errors": loop.write_errors,
                "latency": loop.latency.totals()}

    sys.stdout.flush()  # a forked copy of unwritten output would be printed twice
    sys.stderr.flush()
    try:
        return WorkerSet.start(settings.workers, serve), ""
    except OSError as exc:
        return None, f"--workers {settings.workers} unavailable: fork: {exc.strerror}"


def _collect_workers(workers: WorkerSet | None, host: Host, loop: LiveLoop) -> dict[str, int]:
    """Stop the other workers and fold their counts into the first's ``host`` and
    ``loop``, so that the summary is the whole device's; returns the summary's extra
    counts."""
    if workers is None:
        return {}
    handed = 0
    for totals in workers.stop():
        host.stats.merge(stats_from_dict(totals.get("stats")))
        loop.latency.merge(totals.get("latency", {}))
        handed += int(totals.get("handed_off", 0))
        loop.core_exceptions += int(totals.get("core_exceptions", 0))
        loop.write_errors += int(totals.get("write_errors", 0))
    for problem in workers.problems:
        print(f"stack-live: {problem}", file=sys.stderr)
    return {"workers": len(workers.workers) + 1, "fragments handed to the first worker": handed}


def run(settings: Settings) -> int:
    """Set up, drop root, answer until a signal, print the summary. Returns 0."""
    account = settings.account or resolve_account(settings.user, stay_root=settings.stay_root)
    if os.geteuid() != 0 and settings.plan is not None:
        raise LiveError("must run as root to create and configure the device "
                        f"(sudo stack-live {settings.device} …, or --no-configure on a "
                        "device you own)")
    fd = open_tun(settings.device, tap=settings.tap)
    recorder: CaptureWriter | None = None
    record_file: IO[bytes] | None = None
    referee: FifoReferee | None = None
    log: TextIO | None = None
    loop: LiveLoop | None = None
    try:
        if settings.plan is not None:
            configure_device(settings.plan)
        settings.config = _device_config(settings)
        host = Host(worker_config(settings.config, settings.workers))
        answerer: Answerer = LinkHost(host) if settings.tap else host
        if settings.record:
            record_file = open_output(settings.record, account, append=False,
                                      what="--record")
            recorder = CaptureWriter(record_file,
                                     LINKTYPE_ETHERNET if settings.tap else LINKTYPE_RAW,
                                     host_metadata(settings),
                                     interface_name=settings.device,
                                     interface_description=interface_description(settings))
        reporter = Reporter(sys.stdout, settings.mode,
                            describe_frame if settings.tap else describe)
        loop = LiveLoop(fd, answerer, reporter, recorder, busy_poll=settings.busy_poll)
        if settings.fifo_cmd is not None:
            referee, log = _open_referee(settings, account, host, loop, reporter)
            loop.referee = referee
        drop_privileges(account)
        # After dropping root, so that every worker runs as the account.
        workers, fallback = _start_workers(settings, fd)
        if settings.workers > 1 and workers is None:
            host = Host(settings.config)  # the only worker: the whole budget
            loop.answerer = host
        elif workers is not None:
            loop.shared_queue = True
            loop.handoff_from = workers.handoff
        loop.install_signal_handlers()
        _banner(settings, account, sys.stderr,
                io_path_text(settings.workers if workers is not None else 1,
                             round(settings.busy_poll * 1e6), loop.may_block(), fallback))
        started = time.monotonic()
        try:
            loop.run()
        finally:
            extra = _collect_workers(workers, host, loop)
        _print_summary(settings, host, loop, referee, time.monotonic() - started, extra)
        return 0
    finally:
        if referee is not None:
            referee.close()
        if log is not None:
            log.close()
        if recorder is not None:
            recorder.close()
        if record_file is not None:
            record_file.close()
        if loop is not None:
            loop.close()
        os.close(fd)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = check_arguments(args)
    except LiveError as exc:
        print(f"stack-live: {exc}", file=sys.stderr)
        return 2
    try:
        return run(settings)
    except (LiveError, TunError, DeviceError, PrivilegeError, FifoError, CaptureError,
            ConfigError, OutputFileError) as exc:
        print(f"stack-live: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # stdout closed by a reader (stack-live | head): stop quietly, like cat does.
        return 0
    except OSError as exc:
        # Anything else the system refused during set-up (chown on a file system
        # without owners, a full disk for the recording …): one line, no traceback.
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"stack-live: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # Ctrl-C during set-up, before the loop's own handler is installed.
        print("stack-live: interrupted during set-up", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
