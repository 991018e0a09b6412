"""The wire kind: a real stack that owns a TUN, TAP or veth device (``--wire DEV``).

tunstack works from the kernel side of the device. It checks that side has no address
and IPv6 disabled, so the kernel neither answers nor chatters in the stack's place (or
makes it so with ``setup``); injects each inbound packet with an AF_PACKET socket (for
TAP and veth wrapped in Ethernet to the stack's MAC, given or learned by ARP/ND);
answers the stack's ARP requests and neighbour solicitations for every peer address it
has seen in the inbound packets; and collects what the stack sends.

What is not graded, and counted under ``wire.*`` in :attr:`WireStack.stats` instead:
our own frames (the socket sees them again as PACKET_OUTGOING), link chatter from the
stack (ARP, router solicitations, MLD reports, neighbour solicitations including those
of duplicate address detection) and the answers to our liveness probes. Ethernet
padding is trimmed to the IP length (as Linux's ``ip_rcv_core`` does).

Real time: the first packet of a case sets the clock; each later packet leaves at its
recorded time relative to it. After each packet, output is collected until
:data:`SILENCE` seconds pass without a frame, or until the next inbound packet is due
(``until``, set by the driver), and attributed to that packet. ``poll(now)`` waits until
``now`` in real time (a reassembly timeout is waited out) and returns what came.

With ``command`` (``--exec``) each case runs in a network namespace of its own: the
namespace is made (a unique ``ts-`` name, always deleted) with IPv6 off by default,
``command`` runs in it under the reaper of :mod:`stack.sut.process` and creates DEV;
the stack is ready when it answers an echo request to its address (within ``ready``
seconds, else :class:`StackStartError`); at the end it is stopped with everything it
started. A stack whose process ends is :class:`StackCrashed`; one that is running but
no longer answers the liveness probe is :class:`StackHung`.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import json
import os
import select
import socket
import struct
import subprocess
import tempfile
import time
from collections import deque
from collections.abc import Iterable
from typing import IO

from stack.host.stats import Stats
from stack.link import arp
from stack.link.ethernet import (
    BROADCAST,
    ETHERTYPE_ARP,
    ETHERTYPE_IPV4,
    ETHERTYPE_IPV6,
    emit,
    format_mac,
    ipv4_multicast_mac,
    ipv6_multicast_mac,
)
from stack.link.linkhost import _without_padding as without_padding
from stack.live.netns import NetnsError, inside_netns, temporary_netns
from stack.sut import Capabilities, StackCrashed, StackHung, StackStartError
from stack.sut.process import StackProcess, StartError, cannot_run
from stack.wire.checksum import checksum, pseudo_header_sum_v6

__all__ = ["WIRE", "WireStack", "SILENCE", "LinkKind", "OUTPUT_LINES"]

WIRE = Capabilities(exact_timers=False, deterministic=False, can_crash=True, kind="wire")

NETNS_PREFIX = "ts-wire"  # + our pid + a random suffix (stack.live.netns)
SILENCE = 0.05  # seconds without a frame that end the answer to one inbound packet
LONGEST_ANSWER = 2.0  # seconds one inbound packet's answer may keep coming
PROBE_INTERVAL = 0.1  # seconds between readiness probes
LIVENESS_TIMEOUT = 1.0  # seconds the liveness probe waits for its echo reply
OUTPUT_LINES = 20  # last lines of the stack's output kept for a crash report
# Our probes: this ICMP identifier AND this payload (the corpus's own pings use "ts").
PROBE_ID = 0x5052  # "PR"
PROBE_PAYLOAD = b"tunstack liveness probe"

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
ARPHRD_ETHER = 1

ICMPV6_CHATTER = frozenset({130, 131, 132, 133, 135, 143})  # MLD, RS, NS, MLDv2


class LinkKind:
    TUN = "tun"  # bare IP packets
    TAP = "tap"  # Ethernet frames
    VETH = "veth"  # Ethernet frames, injected from the peer end


def _ip_json(netns: str | None, *args: str) -> list[dict[str, object]]:
    argv = ["ip", *(["-n", netns] if netns else []), "-j", *args]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise StackStartError(f"{' '.join(argv)}: {done.stderr.strip() or 'failed'}")
    found = json.loads(done.stdout or "[]")
    return found if isinstance(found, list) else []


def _ip(netns: str | None, *args: str) -> None:
    argv = ["ip", *(["-n", netns] if netns else []), *args]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise StackStartError(f"{' '.join(argv)}: {done.stderr.strip() or 'failed'}")


def _icmp_echo_v4(source: bytes, destination: bytes, sequence: int) -> bytes:
    body = struct.pack("!BBHHH", 8, 0, 0, PROBE_ID, sequence) + PROBE_PAYLOAD
    body = body[:2] + checksum(body).to_bytes(2, "big") + body[4:]
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 0, 0, 64, 1, 0,
                         source, destination)
    header = header[:10] + checksum(header).to_bytes(2, "big") + header[12:]
    return header + body


def _icmpv6(source: bytes, destination: bytes, message: bytes) -> bytes:
    total = checksum(message, pseudo_header_sum_v6(source, destination, 58, len(message)))
    message = message[:2] + total.to_bytes(2, "big") + message[4:]
    return struct.pack("!IHBB16s16s", 0x60000000, len(message), 58, 255, source,
                       destination) + message


def _icmp_echo_v6(source: bytes, destination: bytes, sequence: int) -> bytes:
    return _icmpv6(source, destination,
                   struct.pack("!BBHHH", 128, 0, 0, PROBE_ID, sequence) + PROBE_PAYLOAD)


def _is_probe_reply(packet: bytes) -> bool:
    """An echo reply to one of our probes (identifier PROBE_ID, payload PROBE_PAYLOAD)."""
    if not packet.endswith(PROBE_PAYLOAD):
        return False
    if len(packet) >= 28 and packet[0] >> 4 == 4 and packet[9] == 1:
        start = (packet[0] & 0x0F) * 4
        return (len(packet) >= start + 8 and packet[start] == 0
                and packet[start + 4:start + 6] == PROBE_ID.to_bytes(2, "big"))
    if len(packet) >= 48 and packet[0] >> 4 == 6 and packet[6] == 58:
        return packet[40] == 129 and packet[44:46] == PROBE_ID.to_bytes(2, "big")
    return False


def _solicited_node(address: bytes) -> bytes:
    """ff02::1:ffXX:XXXX (RFC 4291 §2.7.1)."""
    return bytes.fromhex("ff020000000000000000000001ff") + address[13:]


class WireStack:
    """A :class:`stack.sut.StackUnderTest` on the kernel side of ``device``."""

    capabilities = WIRE

    def __init__(self, device: str, addresses: Iterable[str], *, command: str | None = None,
                 ready: float = 10.0, mac: bytes | None = None, setup: bool = False) -> None:
        self.device = device
        self.command = command
        self.stats = Stats()
        self.last_reason = ""
        self.until: float | None = None  # when the next inbound packet is due (recorded)
        self.output_times: list[float] = []  # the recorded-clock time of each output
        self.interfaces = [ipaddress.ip_interface(text) for text in addresses]
        self.stack_mac = mac
        self._offset: float | None = None  # real (monotonic) minus recorded time
        self._peers: set[bytes] = set()
        self._sequence = 0
        self._process: StackProcess | None = None
        self._output: IO[bytes] | None = None
        self._socket: socket.socket | None = None
        self._exit = contextlib.ExitStack()
        self._pending: deque[tuple[float, bytes]] = deque()
        self.netns: str | None = None
        try:
            self._start(ready, setup)
        except BaseException:
            self.close()
            raise

    # -- set-up -----------------------------------------------------------------------
    def _start(self, ready: float, setup: bool) -> None:
        deadline = time.monotonic() + ready
        if self.command is not None:
            from stack.sut.pipe import split_command
            argv = split_command(self.command, "--exec")
            try:
                # the pid says whose it is (ours to delete; tests look for leftovers)
                self.netns = self._exit.enter_context(
                    temporary_netns(f"{NETNS_PREFIX}{os.getpid()}"))
            except NetnsError as exc:
                raise StackStartError(f"--exec: {exc}") from None
            with inside_netns(self.netns):
                for scope in ("all", "default"):
                    with open(f"/proc/sys/net/ipv6/conf/{scope}/disable_ipv6", "w") as knob:
                        knob.write("1")
            problem = cannot_run(argv[0])
            if problem is not None:
                raise StackStartError(f"--exec {self.command!r}: cannot start {argv[0]}: "
                                      f"{problem}")
            self._output = tempfile.TemporaryFile(prefix="tunstack-stack-output-")  # noqa: SIM115 - closed in close()
            try:
                self._process = StackProcess(["ip", "netns", "exec", self.netns, *argv],
                                             stdout=self._output, stderr=subprocess.STDOUT,
                                             what=f"--exec {self.command!r}")
            except StartError as exc:
                raise StackStartError(str(exc)) from None
        link = self._wait_for_device(deadline)
        self.kind, inject_on, self.our_mac = self._link_kind(link)
        self._prepare_kernel_side(inject_on, setup)
        with inside_netns(self.netns) if self.netns else contextlib.nullcontext():
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self._socket = sock
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.bind((inject_on, ETH_P_ALL))
        sock.setblocking(False)
        self.inject_on = inject_on
        try:
            self._wait_until_ready(deadline, ready)
        except StackCrashed as exc:
            raise StackStartError(f"--wire {self.device}: {exc}") from None
        self._check_kernel_side(inject_on, setup)

    def _wait_for_device(self, deadline: float) -> dict[str, object]:
        while True:
            try:
                links = _ip_json(self.netns, "-d", "link", "show", "dev", self.device)
            except StackStartError:
                links = []
            if links:
                return links[0]
            if self._process is None:
                raise StackStartError(f"--wire {self.device}: no such network device")
            ended = self._process.exited()
            if ended is not None:
                raise StackStartError(f"--exec {self.command!r} {ended} before creating "
                                      f"{self.device}{self._last_words()}")
            if time.monotonic() >= deadline:
                raise StackStartError(f"--exec {self.command!r} did not create "
                                      f"{self.device} within the --ready time"
                                      f"{self._last_words()}")
            time.sleep(0.02)

    def _link_kind(self, link: dict[str, object]) -> tuple[str, str, bytes]:
        """(kind, the device we inject on, its MAC) from ``ip -d link``'s JSON."""
        info = link.get("linkinfo")
        info_kind = info.get("info_kind") if isinstance(info, dict) else None
        data = info.get("info_data") if isinstance(info, dict) else None
        mac_text = link.get("address")
        our_mac = (bytes.fromhex(str(mac_text).replace(":", ""))
                   if link.get("link_type") == "ether" and isinstance(mac_text, str)
                   else b"")
        if info_kind == "tun":
            tap = isinstance(data, dict) and data.get("type") == "tap"
            return (LinkKind.TAP if tap else LinkKind.TUN), self.device, our_mac
        if info_kind == "veth":
            peer = link.get("link")
            if not isinstance(peer, str) or link.get("link_netnsid") is not None:
                raise StackStartError(f"--wire {self.device}: its veth peer is not in this "
                                      "namespace; give the peer's name instead")
            peer_links = _ip_json(self.netns, "link", "show", "dev", peer)
            peer_mac = str(peer_links[0].get("address", "")) if peer_links else ""
            return LinkKind.VETH, peer, bytes.fromhex(peer_mac.replace(":", ""))
        raise StackStartError(f"--wire {self.device}: not a TUN, TAP or veth device "
                              f"({info_kind or link.get('link_type')})")

    def _prepare_kernel_side(self, device: str, setup: bool) -> None:
        """Our side checked (:meth:`_check_kernel_side`) and up."""
        self._check_kernel_side(device, setup)
        _ip(self.netns, "link", "set", "dev", device, "up")
        if device != self.device:
            _ip(self.netns, "link", "set", "dev", self.device, "up")

    def _check_kernel_side(self, device: str, setup: bool) -> None:
        """Our side without addresses and with IPv6 off (else the kernel answers in the
        stack's place, and its RFC 4862 DAD, MLD and RS reach the stack as inputs nobody
        recorded); with ``setup``, made so. Checked again once the stack is ready: a
        stack under --exec may configure the device after creating it."""
        knob = f"/proc/sys/net/ipv6/conf/{device}/disable_ipv6"
        with inside_netns(self.netns) if self.netns else contextlib.nullcontext():
            try:
                with open(knob) as value:
                    ipv6_on = value.read().strip() != "1"
            except FileNotFoundError:  # the kernel has no IPv6 at all
                ipv6_on = False
            if ipv6_on and setup:
                with open(knob, "w") as value:
                    value.write("1")
                ipv6_on = False
        addresses = [f"{a.get('local')}/{a.get('prefixlen')}"
                     for entry in _ip_json(self.netns, "addr", "show", "dev", device)
                     for a in entry.get("addr_info", []) if isinstance(a, dict)]  # type: ignore[attr-defined]
        if addresses and setup:
            _ip(self.netns, "addr", "flush", "dev", device)
            addresses = []
        if addresses or ipv6_on:
            problems = ([f"has addresses ({', '.join(addresses)})"] if addresses else []) \
                + (["has IPv6 enabled"] if ipv6_on else [])
            raise StackStartError(
                f"--wire {self.device}: the kernel side {' and '.join(problems)}, so the "
                "kernel would answer in the stack's place: remove them (ip addr flush dev "
                f"{device}; sysctl net.ipv6.conf.{device}.disable_ipv6=1) or pass --wire-setup")

    def _probe_source(self, interface: ipaddress.IPv4Interface | ipaddress.IPv6Interface
                      ) -> bytes:
        """A neighbour on the stack's own network to probe from: its first host address
        that is not the stack's."""
        for candidate in (interface.network.network_address + 1,
                          interface.network.network_address + 2):
            if candidate != interface.ip:
                return candidate.packed
        return interface.ip.packed  # pragma: no cover - a /32 or /128

    def _probe(self) -> bool:
        """Send one echo request to the stack's address (from a neighbour it can reach)."""
        interface = next((i for i in self.interfaces if i.version == 4), None) \
            or next((i for i in self.interfaces if not i.ip.is_link_local), None) \
            or (self.interfaces[0] if self.interfaces else None)
        if interface is None:
            return False
        source = self._probe_source(interface)
        self._peers.add(source)
        self._sequence = (self._sequence + 1) & 0xFFFF
        if interface.version == 4:
            packet = _icmp_echo_v4(source, interface.ip.packed, self._sequence)
        else:
            packet = _icmp_echo_v6(source, interface.ip.packed, self._sequence)
        if self.kind != LinkKind.TUN and self.stack_mac is None:
            self._solicit(source, interface.ip.packed)
            return True
        self._send(packet)
        return True

    def _solicit(self, source: bytes, target: bytes) -> None:
        """Learn the stack's MAC: an ARP request (IPv4) or a neighbour solicitation."""
        if len(target) == 4:
            request = arp.emit(arp.ArpPacket(arp.OP_REQUEST, self.our_mac, source, bytes(6),
                                             target))
            self._send_frame(emit(BROADCAST, self.our_mac, ETHERTYPE_ARP, request))
            return
        message = struct.pack("!BBHI16sBB6s", 135, 0, 0, 0, target, 1, 1, self.our_mac)
        group = _solicited_node(target)
        packet = _icmpv6(source, group, message)
        self._send_frame(emit(ipv6_multicast_mac(group), self.our_mac, ETHERTYPE_IPV6,
                              packet))

    def _wait_until_ready(self, deadline: float, ready: float) -> None:
        while time.monotonic() < deadline:
            if not self._probe():
                return  # no address to probe: nothing to wait for
            answered = self._collect_probe(min(deadline, time.monotonic() + PROBE_INTERVAL))
            if answered:
                self._drain(SILENCE)
                return
            if self._process is not None:
                ended = self._process.exited()
                if ended is not None:
                    raise StackStartError(f"--exec {self.command!r} {ended} before answering"
                                          f"{self._last_words()}")
        address = next((str(i.ip) for i in self.interfaces), "?")
        raise StackStartError(f"--wire {self.device}: the stack never answered an echo "
                              f"request to {address} within {ready:g} s (--ready)"
                              f"{self._last_words()}")

    def _collect_probe(self, until: float) -> bool:
        """Read until ``until``; True when a probe's echo reply came (the MAC is then
        known too). Everything else is kept for whoever asks next."""
        answered = False
        while not answered:
            remaining = until - time.monotonic()
            if remaining <= 0:
                break
            for packet in self._receive(remaining):
                if _is_probe_reply(packet):
                    self.stats.events["wire.probe_reply"] += 1
                    answered = True
                else:
                    self._pending.append((time.monotonic(), packet))
        return answered

    # -- frames -----------------------------------------------------------------------
    def _send_frame(self, frame: bytes, address: tuple[str, int] | None = None) -> None:
        """One frame to the device (to ``address``, the interface and protocol, on a TUN's
        cooked socket); a full queue or an oversized frame is counted, a failed device
        is the stack's crash."""
        assert self._socket is not None
        try:
            if address is None:
                self._socket.send(frame)
            else:
                self._socket.sendto(frame, address)
        except BlockingIOError:
            self.stats.drops["wire.send_queue_full"] += 1
        except OSError as exc:
            if exc.errno == errno.EMSGSIZE:
                self.stats.drops["wire.larger_than_mtu"] += 1
                return
            raise self._link_lost(exc) from None

    def _link_lost(self, exc: OSError) -> StackCrashed:
        """The device failed under us: a crash, with the process's end when it ended."""
        ended = self._process.wait_exit(1.0) if self._process is not None else None
        if ended is not None:
            return StackCrashed(f"the stack {ended}{self._last_words()}")
        return StackCrashed(f"{self.device} failed while the stack runs ({exc.strerror})"
                            f"{self._last_words()}")

    def _send(self, packet: bytes) -> None:
        """One IP packet to the stack (in Ethernet for TAP/veth)."""
        version = packet[0] >> 4 if packet else 0
        if version == 4 and len(packet) >= 20:
            self._peers.add(packet[12:16])
        elif version == 6 and len(packet) >= 40:
            self._peers.add(packet[8:24])
        if self.kind == LinkKind.TUN:
            protocol = ETHERTYPE_IPV6 if version == 6 else ETHERTYPE_IPV4
            self._send_frame(packet, (self.inject_on, protocol))
            return
        ethertype = ETHERTYPE_IPV6 if version == 6 else ETHERTYPE_IPV4
        self._send_frame(emit(self._destination_mac(packet, version), self.our_mac,
                              ethertype, packet))

    def _destination_mac(self, packet: bytes, version: int) -> bytes:
        if version == 4 and len(packet) >= 20:
            destination = ipaddress.IPv4Address(packet[16:20])
            if destination.is_multicast:
                return ipv4_multicast_mac(packet[16:20])
            if destination == ipaddress.IPv4Address("255.255.255.255") or any(
                    i.version == 4 and destination == i.network.broadcast_address
                    for i in self.interfaces):
                return BROADCAST
        elif version == 6 and len(packet) >= 40 and packet[24] == 0xFF:
            return ipv6_multicast_mac(packet[24:40])
        return self.stack_mac or BROADCAST

    def _receive(self, timeout: float) -> list[bytes]:
        """The IP packets the stack sent within ``timeout`` (at least one read), after
        link chatter is answered or counted."""
        assert self._socket is not None
        packets: list[bytes] = []
        ready, _, _ = select.select([self._socket], [], [], max(0.0, timeout))
        while ready:
            try:
                frame, address = self._socket.recvfrom(65600)
            except BlockingIOError:
                break
            except OSError as exc:  # ENETDOWN, ENXIO: the device went with its owner
                raise self._link_lost(exc) from None
            if address[2] == PACKET_OUTGOING:
                continue  # ours
            packet = self._from_link(frame)
            if packet is not None:
                packets.append(packet)
        return packets

    def _from_link(self, frame: bytes) -> bytes | None:
        """The IP packet in ``frame``, or None for link chatter (answered and counted)."""
        if self.kind == LinkKind.TUN:
            packet = frame
        else:
            if len(frame) < 14:
                self.stats.events["wire.runt"] += 1
                return None
            ethertype = int.from_bytes(frame[12:14], "big")
            if self.stack_mac is None and not frame[6] & 1:
                self.stack_mac = frame[6:12]
                self.stats.events["wire.mac_learned"] += 1
            if ethertype == ETHERTYPE_ARP:
                self._on_arp(frame[14:])
                return None
            if ethertype not in (ETHERTYPE_IPV4, ETHERTYPE_IPV6):
                self.stats.events["wire.other_ethertype"] += 1
                return None
            packet = without_padding(frame[14:], 4 if ethertype == ETHERTYPE_IPV4 else 6)
        if len(packet) >= 41 and packet[0] >> 4 == 6 and packet[6] == 58 \
                and packet[40] in ICMPV6_CHATTER:
            if packet[40] == 135:
                self._on_solicitation(packet)
            self.stats.events[f"wire.chatter.icmpv6_{packet[40]}"] += 1
            return None
        # MLD reports travel behind a Hop-by-Hop header with Router Alert (RFC 2710 §3,
        # RFC 3810 §5): next header 0, then ICMPv6 after the extension header.
        if len(packet) >= 49 and packet[0] >> 4 == 6 and packet[6] == 0 and packet[40] == 58:
            icmp_at = 40 + (packet[41] + 1) * 8
            if len(packet) > icmp_at and packet[icmp_at] in (130, 131, 132, 143):
                self.stats.events[f"wire.chatter.icmpv6_{packet[icmp_at]}"] += 1
                return None
        return packet

    def _on_arp(self, payload: bytes) -> None:
        parsed = arp.parse(payload)
        if isinstance(parsed, str):
            self.stats.events[f"wire.{parsed}"] += 1
            return
        self.stats.events["wire.chatter.arp"] += 1
        if parsed.operation == arp.OP_REQUEST and parsed.target_ip in self._peers:
            reply = arp.emit(arp.ArpPacket(arp.OP_REPLY, self.our_mac, parsed.target_ip,
                                           parsed.sender_mac, parsed.sender_ip))
            self._send_frame(emit(parsed.sender_mac, self.our_mac, ETHERTYPE_ARP, reply))
            self.stats.events["wire.arp_answered"] += 1

    def _on_solicitation(self, packet: bytes) -> None:
        """Answer a neighbour solicitation for a peer (RFC 4861 §7.2.4) with a solicited,
        override advertisement carrying our MAC; DAD probes (from ::) get none."""
        if len(packet) < 64 or self.kind == LinkKind.TUN:
            return
        source, target = packet[8:24], packet[48:64]
        if target not in self._peers or source == bytes(16):
            return
        message = struct.pack("!BBHI16sBB6s", 136, 0, 0, 0x60000000, target, 2, 1,
                              self.our_mac)
        assert self.stack_mac is not None
        self._send_frame(emit(self.stack_mac, self.our_mac, ETHERTYPE_IPV6,
                              _icmpv6(target, source, message)))
        self.stats.events["wire.nd_answered"] += 1

    def _drain(self, silence: float) -> None:
        """Read and discard until ``silence`` seconds pass without a packet."""
        while self._receive(silence):
            pass
        self._pending.clear()

    # -- the StackUnderTest interface ---------------------------------------------------
    def _real(self, recorded: float) -> float:
        if self._offset is None:
            self._offset = time.monotonic() - recorded
        return recorded + self._offset

    def _recorded(self, real: float) -> float:
        assert self._offset is not None
        return real - self._offset

    def _collect(self, until: float, silence: float | None, stop: float) -> list[bytes]:
        """Outputs until real time ``until``, then (with ``silence``) until that long
        passes without one; never past real time ``stop``."""
        outputs: list[bytes] = []

        def keep(when: float, packet: bytes) -> None:
            if _is_probe_reply(packet):
                self.stats.events["wire.probe_reply"] += 1
                return
            outputs.append(packet)
            self.output_times.append(self._recorded(when))

        while self._pending:
            keep(*self._pending.popleft())
        quiet_from = until
        while True:
            end = until if silence is None else max(until, quiet_from + silence)
            wait = min(end, stop) - time.monotonic()
            packets = self._receive(max(0.0, wait))
            stamp = time.monotonic()
            for packet in packets:
                keep(stamp, packet)
            if packets:
                quiet_from = max(quiet_from, stamp)
            elif wait <= 0 or stamp >= min(end, stop):
                break
        return outputs

    def _check_alive(self, after: str) -> None:
        if self._process is not None:
            ended = self._process.exited()
            if ended is not None:
                raise StackCrashed(f"the stack {ended} {after}{self._last_words()}")

    def handle(self, packet: bytes, now: float) -> list[bytes]:
        self.output_times = []
        self.stats.received += 1
        due = self._real(now)
        early = self._collect(due, None, due)  # answers still coming, the stack's timers
        self._check_alive("before this packet")
        self._send(packet)
        sent = time.monotonic()
        stop = sent + LONGEST_ANSWER
        if self.until is not None:  # the next inbound packet leaves then: stop for it
            stop = min(stop, self._real(self.until))
        outputs = early + self._collect(sent, SILENCE, stop)
        self._check_alive("after this packet")
        self.stats.sent += len(outputs)
        self.last_reason = "wire.answer" if outputs else "wire.no_answer"
        return outputs

    def poll(self, now: float) -> list[bytes]:
        self.output_times = []
        due = self._real(now)
        outputs = self._collect(due, SILENCE, due + LONGEST_ANSWER)
        self._check_alive("while its timers ran")
        self.stats.sent += len(outputs)
        return outputs

    def next_timer(self) -> float | None:
        return None  # real time: the driver waits, the stack's timers are its own

    def check_alive(self, after: str = "at the end of the case") -> None:
        """Raise StackCrashed (the process ended) or StackHung (it no longer answers an
        echo request within LIVENESS_TIMEOUT)."""
        self._check_alive(after)
        for _attempt in range(3):
            if not self._probe():
                return
            until = time.monotonic() + LIVENESS_TIMEOUT / 3
            while time.monotonic() < until:
                found = self._receive(until - time.monotonic())
                if any(_is_probe_reply(p) for p in found):
                    self.stats.events["wire.probe_reply"] += 1
                    self._pending.extend((time.monotonic(), p) for p in found
                                         if not _is_probe_reply(p))
                    return
                self._pending.extend((time.monotonic(), p) for p in found)
        self._check_alive(after)
        raise StackHung(f"the stack stopped answering its liveness probe {after} "
                        f"(no echo reply within {LIVENESS_TIMEOUT:g} s){self._last_words()}")

    def output_tail(self) -> list[str]:
        """The last OUTPUT_LINES lines the stack printed (stdout and stderr)."""
        if self._output is None:
            return []
        with contextlib.suppress(OSError):
            self._output.seek(max(0, os.fstat(self._output.fileno()).st_size - 16384))
            text = self._output.read().decode("utf-8", "replace")
            return [line for line in text.splitlines() if line.strip()][-OUTPUT_LINES:]
        return []

    def _last_words(self) -> str:
        tail = self.output_tail()
        return f"; its last output: {tail[-1]}" if tail else ""

    def close(self) -> None:
        """Stop the stack with everything it started; delete its namespace."""
        if self._process is not None:
            self._process.stop()
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        self._exit.close()
        if self._output is not None:
            self._output.close()
            self._output = None

    def describe(self) -> str:
        mac = f", stack MAC {format_mac(self.stack_mac)}" if self.stack_mac else ""
        return f"{self.kind} {self.device}{mac}"
