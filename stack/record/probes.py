"""The probe set: the packets the recorder plays against a host, case by case.

A case is a name, what it sends (``description``), what a correct host does and why
(``expect``), the packets with their delays and how long to listen after the last one.
Packets are built for the case's own peer (:func:`peer_for`), so per-peer ICMP rate
limits of one case never touch another. Adding a case is a decorated function::

    @case("echo_basic", "Echo Request, 56 data bytes",
          "Echo Reply with the same identifier, sequence and data (RFC 792)")
    def _(p: Peer) -> Probes:
        return [echo4(p.v4, HOST4)]

Host addresses are the recorder's: 172.16.0.2/24, fd00:16::2/64 and fe80::2/64.
"""

from __future__ import annotations

import fnmatch
import hashlib
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from stack.record.packets import (
    ACK,
    FIN,
    NH_DSTOPTS,
    NH_FRAGMENT,
    NH_HOPOPTS,
    NH_NONE,
    NH_ROUTING,
    PROTO_ICMP,
    PROTO_ICMPV6,
    PROTO_PIM,
    PROTO_UDP,
    PSH,
    RST,
    SYN,
    URG,
    addr6,
    echo4,
    echo6,
    echo6_message,
    fragment4,
    fragment6,
    fragment_header,
    fragment_of,
    icmpv4,
    icmpv6,
    ipv4,
    ipv6,
    options_header,
    ping_data,
    routing_header,
    tcp4,
    tcp6,
    udp4,
    udp6,
    udplite4,
    udplite6,
)

__all__ = ["Case", "Peer", "CASES", "HOST4", "HOST6", "HOST_LL", "HOST_CONFIG", "peer_for",
           "select_cases", "case", "DEFAULT_LISTEN"]

HOST4 = "172.16.0.2"
HOST6 = "fd00:16::2"
HOST_LL = "fe80::2"
SUBNET_BROADCAST = "172.16.0.255"
# The addresses every recording gives the host (the recorder's and HostConfig's form).
HOST_CONFIG: dict[str, object] = {
    "ipv4": "172.16.0.2/24", "ipv6": ["fd00:16::2/64", "fe80::2/64"], "mtu": 1500,
}
SOLICITED_NODE = "ff02::1:ff00:2"  # RFC 4291 §2.7.1: of both fd00:16::2 and fe80::2
ALL_NODES = "ff02::1"
DEFAULT_LISTEN = 0.3  # seconds after the last probe; every answer Linux gives is immediate

Probes = list[tuple[float, bytes]]


@dataclass(frozen=True)
class Peer:
    """The addresses one case sends from: IPv4 (routed), IPv6 global (on-link) and
    link-local."""

    v4: str
    v6: str
    ll: str


def peer_for(name: str) -> Peer:
    """A peer derived from the case name, so it is stable when cases are added or run
    alone, and distinct per case (per-peer ICMP rate limits, reassembly queues)."""
    d = hashlib.sha256(name.encode()).digest()
    return Peer(v4=f"10.{d[0]}.{d[1]}.{1 + d[2] % 254}",
                v6=f"fd00:16::a:{d[3]:02x}{d[4]:02x}:{d[5]:02x}{d[6]:02x}",
                ll=f"fe80::a:{d[3]:02x}{d[4]:02x}:{d[5]:02x}{d[6]:02x}")


@dataclass(frozen=True)
class Case:
    name: str
    description: str  # what it sends
    expect: str  # what a correct (Linux) host does, and why
    build: Callable[[Peer], Sequence[bytes | tuple[float, bytes]]]
    listen: float = DEFAULT_LISTEN
    # Host configuration for this case when it is not the recorder's (HOST_CONFIG); such
    # a case is played against tunstack only, since the kernel namespace has one set.
    host: dict[str, object] | None = None
    # Why tunstack deliberately answers otherwise than Linux here, if it does; recorded in
    # the capture's metadata, so ``replay --expect`` reports the difference without failing.
    deviation: str | None = None

    @property
    def on_kernel(self) -> bool:
        return self.host is None

    @property
    def peer(self) -> Peer:
        return peer_for(self.name)

    @property
    def probes(self) -> Probes:
        """(delay after the case starts, packet) pairs; bare packets are sent at 0."""
        return [item if isinstance(item, tuple) else (0.0, item) for item in self.build(self.peer)]

    @property
    def duration(self) -> float:
        return max((delay for delay, _ in self.probes), default=0.0) + self.listen


CASES: list[Case] = []


def case(name: str, description: str, expect: str, *, listen: float = DEFAULT_LISTEN,
         host: dict[str, object] | None = None, deviation: str | None = None,
         ) -> Callable[[Callable[[Peer], Sequence[bytes | tuple[float, bytes]]]], object]:
    """Register a case; the decorated function builds its packets for a peer."""
    def register(build: Callable[[Peer], Sequence[bytes | tuple[float, bytes]]]) -> object:
        if any(c.name == name for c in CASES):
            raise ValueError(f"duplicate probe case {name!r}")
        CASES.append(Case(name, description, expect, build, listen, host, deviation))
        return build
    return register


def select_cases(patterns: Sequence[str] | None = None) -> list[Case]:
    """The cases whose name matches any of the shell-style ``patterns`` (all if none)."""
    if not patterns:
        return list(CASES)
    return [c for c in CASES if any(fnmatch.fnmatchcase(c.name, p) for p in patterns)]


# =================================================================================
# IPv4: echo and validation (RFC 791, RFC 792, RFC 1122 §3.2.1)
# =================================================================================
ORIGIN_REQUEST = bytes.fromhex(
    "45000054812840004001615dac100001ac100002080054f5000d0001a1fb006a0000000041c4000000000000"
    "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637")


@case("echo_basic", "Echo Request, 56 data bytes",
      "Echo Reply: identifier, sequence and data kept, TTL 64, DF clear (RFC 792)")
def _echo_basic(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4)]


@case("echo_origin", "the origin's 84-byte Echo Request from 172.16.0.1 (DF set)",
      "Echo Reply to 172.16.0.1 with the same data (the project's worked example)")
def _echo_origin(p: Peer) -> list[bytes]:
    return [ORIGIN_REQUEST]


@case("origin_checksum_e4c0", "Echo Request from 10.0.0.4 to 10.0.0.5 whose header is the "
      "origin's worked example (checksum e4c0), to a host at 10.0.0.5/24",
      "Echo Reply: the header checksum e4c0 is right, so the request is accepted",
      host={"ipv4": "10.0.0.5/24", "ipv6": [], "mtu": 1500})
def _origin_e4c0(p: Peer) -> list[bytes]:
    header = bytes.fromhex("4500005441e0400040010000" "0a000004" "0a000005")
    packet = ipv4("10.0.0.4", "10.0.0.5", PROTO_ICMP, icmpv4(8, 0, b"\x00\x2a\x00\x01",
                                                             ping_data(56)),
                  ident=0x41E0, df=True)
    if packet[:10] != header[:10] or packet[10:12] != b"\xe4\xc0":
        raise AssertionError("the worked example's header changed")
    return [packet]


@case("echo_odd_length", "Echo Request with 57 data bytes (odd length)",
      "Echo Reply; the ICMP checksum pads the odd byte with zero (RFC 1071)")
def _echo_odd(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, size=57)]


@case("echo_empty", "Echo Request with no data (8-byte ICMP message)",
      "Echo Reply of 28 bytes")
def _echo_empty(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, size=0)]


@case("echo_tos_ecn", "Echo Request with TOS 0xb9 (DSCP 46, ECN CE bits 01)",
      "Echo Reply with TOS 0xb9: Linux copies the whole byte, ECN bits included")
def _echo_tos(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, tos=0xB9)]


@case("echo_tos_ce", "Echo Request with TOS 0x03 (ECN CE)",
      "Echo Reply with TOS 0x03: the ECN bits are copied too")
def _echo_ce(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, tos=0x03)]


@case("echo_df", "Echo Request with DF set",
      "Echo Reply with DF clear (the ICMP socket uses IP_PMTUDISC_DONT)")
def _echo_df(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, df=True)]


@case("echo_reserved_flag", "Echo Request with the reserved (evil) flag bit set",
      "Echo Reply: the reserved flag is ignored")
def _echo_evil(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, reserved_flag=True)]


@case("echo_ttl1", "Echo Request with TTL 1", "Echo Reply: TTL only matters when forwarding")
def _echo_ttl1(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, ttl=1)]


@case("echo_ttl0", "Echo Request with TTL 0", "Echo Reply: a host does not check TTL on input")
def _echo_ttl0(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, ttl=0)]


@case("echo_code_nonzero", "Echo Request with code 5",
      "Echo Reply keeping code 5 (icmp_echo copies the header)")
def _echo_code(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, code=5)]


@case("echo_1472", "Echo Request of 1500 bytes (1472 data bytes)",
      "Echo Reply of 1500 bytes, not fragmented")
def _echo_1472(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, size=1472)]


@case("echo_padding", "Echo Request followed by 6 bytes beyond its total length",
      "Echo Reply: bytes past the total length are trimmed, as Ethernet padding")
def _echo_padding(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, size=10) + b"\xee" * 6]


@case("echo_sequence", "three Echo Requests with sequences 1, 2, 3",
      "three Echo Replies, in order (echo replies are not rate limited: icmp_ratemask)")
def _echo_seq(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, seq=s) for s in (1, 2, 3)]


@case("echo_burst", "ten Echo Requests at once",
      "ten Echo Replies: Echo Reply is outside icmp_ratemask")
def _echo_burst(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, seq=s) for s in range(1, 11)]


@case("echo_bad_ip_checksum", "Echo Request with a wrong IPv4 header checksum",
      "nothing: ip_rcv drops it (RFC 1122 §3.2.1.2)")
def _bad_ipsum(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, header_checksum=0x1234)]


@case("echo_bad_icmp_checksum", "Echo Request with a wrong ICMP checksum",
      "nothing: icmp_rcv drops it (RFC 792)")
def _bad_icmpsum(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, bad_checksum=True)]


@case("echo_truncated", "Echo Request whose total length says 20 bytes more than sent",
      "nothing: a truncated datagram is dropped (RFC 1122 §3.2.1.1)")
def _truncated(p: Peer) -> list[bytes]:
    packet = echo4(p.v4, HOST4)
    return [echo4(p.v4, HOST4, total_length=len(packet) + 20)]


@case("echo_totlen_below_header", "Echo Request with total length 16, below the header",
      "nothing: total length shorter than the header is invalid")
def _totlen_small(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, total_length=16)]


@case("bad_version", "an IPv4 packet with version 5",
      "nothing (the TUN driver itself refuses a packet that is neither IPv4 nor IPv6)")
def _bad_version(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, version=5)]


@case("ihl_below_5", "Echo Request with IHL 4",
      "nothing: IHL below 5 is invalid (RFC 791 §3.1)")
def _ihl4(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, ihl=4)]


@case("ihl_beyond_packet", "a 28-byte packet with IHL 15 (60-byte header)",
      "nothing: the header runs past the packet")
def _ihl15(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, size=0, ihl=15)]


@case("dst_not_ours", "Echo Request to 172.16.0.9 (on our subnet, not our address)",
      "nothing: forwarding is off, and Linux sends no ICMP when it does not forward")
def _not_ours(p: Peer) -> list[bytes]:
    return [echo4(p.v4, "172.16.0.9")]


@case("dst_loopback", "Echo Request to 127.0.0.1 arriving on the TUN device",
      "nothing: loopback destinations are martians off the loopback device")
def _dst_lo(p: Peer) -> list[bytes]:
    return [echo4(p.v4, "127.0.0.1")]


@case("src_zero", "Echo Request from 0.0.0.0", "nothing: 0.0.0.0 is not a host to answer")
def _src_zero(p: Peer) -> list[bytes]:
    return [echo4("0.0.0.0", HOST4)]


@case("src_limited_broadcast", "Echo Request from 255.255.255.255",
      "nothing: a broadcast source is a martian")
def _src_bcast(p: Peer) -> list[bytes]:
    return [echo4("255.255.255.255", HOST4)]


@case("src_subnet_broadcast", "Echo Request from 172.16.0.255 (our subnet's broadcast)",
      "an Echo Reply to 172.16.0.255: Linux's martian check covers limited broadcast, "
      "not a subnet's",
      deviation="tunstack drops a datagram whose source is a broadcast address "
                "(RFC 1122 §3.2.1.3) and sends nothing to one (RFC 1122 §3.2.2); so does "
                "Linux with rp_filter on, the usual distribution setting")
def _src_sbcast(p: Peer) -> list[bytes]:
    return [echo4(SUBNET_BROADCAST, HOST4)]


@case("src_multicast", "Echo Request from 224.0.0.5", "nothing: a multicast source is a martian")
def _src_mcast(p: Peer) -> list[bytes]:
    return [echo4("224.0.0.5", HOST4)]


@case("src_ours", "Echo Request from 172.16.0.2, our own address",
      "nothing: our own address as source is a martian (fib_validate_source)")
def _src_ours(p: Peer) -> list[bytes]:
    return [echo4(HOST4, HOST4)]


@case("src_loopback", "Echo Request from 127.0.0.1", "nothing: loopback source is a martian")
def _src_lo(p: Peer) -> list[bytes]:
    return [echo4("127.0.0.1", HOST4)]


# =================================================================================
# IPv4 options (RFC 791 §3.1, RFC 1122 §3.2.1.8; Linux ip_options_compile/_echo)
# =================================================================================
def record_route(slots: int, pointer: int = 4, length: int | None = None) -> bytes:
    return bytes([7, length if length is not None else 3 + 4 * slots, pointer]) + bytes(4 * slots)


def timestamp(flag: int, slots: int, *, pointer: int = 5, overflow: int = 0,
              prespecified: Sequence[str] = (), length: int | None = None) -> bytes:
    """A Timestamp option: ``flag`` 0 (times), 1 (address + time) or 3 (prespecified)."""
    slot = 4 if flag == 0 else 8
    data = bytearray(slot * slots)
    for i, address in enumerate(prespecified):
        data[i * 8:i * 8 + 4] = bytes(int(x) for x in address.split("."))
    size = length if length is not None else 4 + len(data)
    return bytes([68, size, pointer, (overflow << 4) | flag]) + bytes(data)


def source_route(kind: int, hops: Sequence[str], pointer: int = 4) -> bytes:
    data = b"".join(bytes(int(x) for x in hop.split(".")) for hop in hops)
    return bytes([kind, 3 + len(data), pointer]) + data + b"\x00"  # EOL pads to 4


@case("opt_rr", "Echo Request with Record Route, 9 empty slots",
      "Echo Reply with Record Route echoed, our address recorded (ip_options_echo)")
def _rr(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, options=record_route(9))]


@case("opt_rr_one_slot", "Echo Request with Record Route, 1 empty slot",
      "Echo Reply with the option echoed and the slot filled")
def _rr1(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, options=record_route(1))]


@case("opt_rr_full", "Echo Request with Record Route already full (pointer past the end)",
      "Echo Reply with the option echoed unchanged")
def _rr_full(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, options=record_route(2, pointer=12))]


@case("opt_ts_only", "Echo Request with Timestamp flag 0 (times only), 4 slots",
      "Echo Reply with the option echoed and a time recorded")
def _ts0(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, options=timestamp(0, 4))]


@case("opt_ts_addr", "Echo Request with Timestamp flag 1 (address and time), 4 slots",
      "Echo Reply with the option echoed, our address and a time recorded")
def _ts1(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, options=timestamp(1, 4))]


@case("opt_ts_prespec_ours", "Echo Request with Timestamp flag 3, our address prespecified",
      "Echo Reply with the time filled beside our address")
def _ts3(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, options=timestamp(3, 2, prespecified=[HOST4, "10.9.9.9"]))]


@case("opt_ts_prespec_other", "Echo Request with Timestamp flag 3, another address first",
      "Echo Reply with the option echoed, nothing filled (not our turn)")
def _ts3o(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, options=timestamp(3, 2, prespecified=["10.9.9.9", HOST4]))]


@case("opt_ts_overflow", "Echo Request with a full Timestamp option, overflow 0",
      "Echo Reply with the overflow counter raised to 1")
def _ts_over(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, options=timestamp(0, 2, pointer=13))]


@case("opt_ts_overflow_max", "Echo Request with a full Timestamp option, overflow 15",
      "Parameter Problem pointing at the overflow/flag byte: the counter cannot grow")
def _ts_over15(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, options=timestamp(0, 2, pointer=13, overflow=15))]


@case("opt_ts_bad_flag", "Echo Request with Timestamp flag 2 (undefined)",
      "Echo Reply with the option echoed untouched: Linux accepts an unknown flag on "
      "input")
def _ts_flag2(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, options=timestamp(2, 2))]


@case("opt_ts_short", "Echo Request with a Timestamp option of length 3",
      "Parameter Problem (a Timestamp option needs at least 4 bytes)")
def _ts_short(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, options=bytes([68, 3, 5, 0]))]


@case("opt_ts_bad_pointer", "Echo Request with a Timestamp option whose pointer is 4",
      "Parameter Problem pointing at the pointer byte (it must be at least 5)")
def _ts_ptr(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, options=timestamp(0, 2, pointer=4))]


@case("opt_rr_bad_length", "Echo Request with Record Route of length 2",
      "Parameter Problem pointing at the length byte")
def _rr_len(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, options=bytes([7, 2, 4, 0]))]


@case("opt_rr_bad_pointer", "Echo Request with Record Route whose pointer is 3",
      "Parameter Problem pointing at the pointer byte")
def _rr_ptr(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, options=record_route(2, pointer=3))]


@case("opt_length_overruns", "Echo Request with Record Route claiming 40 bytes in 8",
      "Parameter Problem pointing at the option: it runs past the header")
def _rr_over(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, options=record_route(1, length=40))]


@case("opt_length_zero", "Echo Request with an unknown option of length 0",
      "Parameter Problem: an option length below 2 is malformed")
def _opt_len0(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, options=bytes([0x1E, 0, 0, 0]))]


@case("opt_nop_eol", "Echo Request with NOP, NOP, NOP, EOL",
      "Echo Reply without options: padding is not echoed")
def _nop(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, options=bytes([1, 1, 1, 0]))]


@case("opt_router_alert", "Echo Request with Router Alert",
      "Echo Reply without options: Router Alert is not echoed")
def _ra(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, options=bytes([148, 4, 0, 0]))]


@case("opt_unknown", "Echo Request with unknown option 30, length 4",
      "Echo Reply without options: unknown options are accepted, not echoed")
def _unknown_opt(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, options=bytes([0x1E, 4, 0xAB, 0xCD]))]


@case("opt_security", "Echo Request with the Security option (130), length 11",
      "Echo Reply without options: the security option is accepted, not echoed")
def _sec(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, options=bytes([130, 11]) + bytes(9))]


@case("opt_rr_and_ts", "Echo Request with Record Route and Timestamp together",
      "Echo Reply with both echoed and filled")
def _rr_ts(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, options=record_route(2) + b"\x01" + timestamp(0, 2))]


@case("opt_lsrr", "Echo Request with Loose Source Route via 172.16.0.2",
      "nothing: source-routed packets are dropped (accept_source_route=0)")
def _lsrr(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, options=source_route(131, ["10.9.9.9"]))]


@case("opt_ssrr", "Echo Request with Strict Source Route",
      "nothing: source-routed packets are dropped (accept_source_route=0)")
def _ssrr(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, options=source_route(137, ["10.9.9.9"]))]


@case("opt_lsrr_exhausted", "Echo Request with Loose Source Route, pointer past the end",
      "nothing: still a source-routed packet")
def _lsrr_end(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, options=source_route(131, ["10.9.9.9"], pointer=8))]


@case("opt_rr_on_udp_closed", "UDP to a closed port with Record Route",
      "Port Unreachable; Linux echoes the options into the error's own header too")
def _rr_udp(p: Peer) -> list[bytes]:
    return [udp4(p.v4, HOST4, 40000, 9, b"x" * 16, options=record_route(2))]


@case("opt_ts_prespec_ours_second", "Echo Request with Timestamp flag 3 whose pointer is at "
      "the second slot, which names our address",
      "Echo Reply with the time filled in the second slot and the pointer advanced")
def _ts3b(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, options=timestamp(3, 2, pointer=13,
                                                   prespecified=["10.9.9.9", HOST4]))]


@case("opt_ts_addr_full", "Echo Request with a full Timestamp flag 1 option, overflow 2",
      "Echo Reply with the overflow counter raised to 3")
def _ts1_full(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, options=timestamp(1, 2, pointer=21, overflow=2))]


@case("opt_rr_twice", "Echo Request with two Record Route options",
      "Parameter Problem pointing at the second: an option may appear once")
def _rr2(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, options=record_route(1) + b"\x01" + record_route(1))]


@case("opt_ts_twice", "Echo Request with two Timestamp options",
      "Parameter Problem pointing at the second: an option may appear once")
def _ts2(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, options=timestamp(0, 1) + timestamp(0, 1))]


@case("opt_router_alert_short", "Echo Request with a Router Alert of length 3",
      "Parameter Problem pointing at the length byte: Router Alert needs 4 bytes")
def _ra3(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, options=bytes([148, 3, 0, 1]))]


@case("opt_eol_then_garbage", "Echo Request with EOL followed by non-zero bytes",
      "Echo Reply without options: nothing after EOL is read")
def _eol(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, options=bytes([0, 7, 2, 4]))]


@case("opt_rr_on_fragmented_echo", "a 300-byte Echo Request in two fragments, the first "
      "with Record Route", "one Echo Reply carrying the Record Route option, our address in it")
def _rr_frag(p: Peer) -> list[bytes]:
    whole = echo4(p.v4, HOST4, size=300, options=record_route(2), ident=0x4003)
    return fragment4(whole, [160])


@case("opt_ts_on_udp_closed", "UDP to a closed port with a Timestamp option (flag 1)",
      "Port Unreachable; its header echoes the filled option")
def _ts_udp(p: Peer) -> list[bytes]:
    return [udp4(p.v4, HOST4, 40000, 9, b"x" * 16, options=timestamp(1, 2))]


@case("opt_malformed_on_icmp_error", "Destination Unreachable carrying a malformed option",
      "nothing: never an ICMP error about an ICMP error (RFC 1122 §3.2.2)")
def _opt_err(p: Peer) -> list[bytes]:
    quote = udp4(HOST4, p.v4, 9, 40000, b"q" * 8)
    return [ipv4(p.v4, HOST4, PROTO_ICMP, icmpv4(3, 3, bytes(4), quote),
                 options=bytes([7, 2, 4, 0]))]


@case("opt_malformed_on_unknown_icmp", "ICMP type 42 carrying a malformed option",
      "nothing: Linux sends no error about an ICMP type it does not know")
def _opt_unk(p: Peer) -> list[bytes]:
    return [ipv4(p.v4, HOST4, PROTO_ICMP, icmpv4(42, 0, bytes(4), b"z" * 8),
                 options=bytes([7, 2, 4, 0]))]


@case("opt_malformed_first_fragment", "first fragment of an Echo carrying a malformed option",
      "Parameter Problem: options are checked before reassembly")
def _opt_frag0(p: Peer) -> list[bytes]:
    whole = echo4(p.v4, HOST4, size=100, options=bytes([7, 2, 4, 0]), ident=0x4001)
    return [fragment4(whole, [64])[0]]


@case("opt_malformed_later_fragment", "non-first fragment carrying a malformed option",
      "nothing: no ICMP error about a non-first fragment (RFC 1122 §3.2.2)")
def _opt_frag1(p: Peer) -> list[bytes]:
    whole = echo4(p.v4, HOST4, size=100, options=bytes([7, 2, 4, 0]), ident=0x4002)
    return [fragment4(whole, [64])[1]]


# =================================================================================
# IPv4 fragments (RFC 791, RFC 815; Linux ip_fragment.c)
# =================================================================================
def three_fragments(p: Peer, ident: int) -> list[bytes]:
    """An Echo Request of 200 data bytes in fragments of 64, 72 and 72 payload bytes."""
    return fragment4(echo4(p.v4, HOST4, size=200, ident=ident), [64, 136])


for _order in ("abc", "acb", "bac", "bca", "cab", "cba"):
    def _build(p: Peer, order: str = _order) -> list[bytes]:
        pieces = dict(zip("abc", three_fragments(p, 0x5000), strict=True))
        return [pieces[letter] for letter in order]
    case(f"frag_order_{_order}", f"Echo Request in three fragments sent in order "
         f"{'-'.join(_order.upper())}",
         "one Echo Reply: reassembly works in any arrival order (RFC 815)")(_build)


@case("frag_duplicate_first", "three fragments, the first sent twice",
      "one Echo Reply: an exact duplicate is tolerated")
def _dup0(p: Peer) -> list[bytes]:
    a, b, c = three_fragments(p, 0x5001)
    return [a, a, b, c]


@case("frag_duplicate_last", "three fragments, the last sent twice after completion",
      "one Echo Reply; the late duplicate starts a queue that never completes")
def _dup2(p: Peer) -> list[bytes]:
    a, b, c = three_fragments(p, 0x5002)
    return [a, b, c, c]


@case("frag_duplicate_middle", "three fragments, the middle one sent twice before the last",
      "one Echo Reply: an exact duplicate is tolerated")
def _dup1(p: Peer) -> list[bytes]:
    a, b, c = three_fragments(p, 0x5003)
    return [a, b, b, c]


def overlapping(p: Peer, ident: int, same: bool) -> list[bytes]:
    """Fragments at 0..64, 56..136 (overlapping by 8 bytes) and 136..208."""
    whole = echo4(p.v4, HOST4, size=200, ident=ident)
    header, payload = whole[:20], whole[20:]
    middle = payload[56:136] if same else payload[56:64].replace(payload[56:57], b"\xff") + \
        payload[64:136]
    return [fragment_of(header, payload[:64], 0, more=True),
            fragment_of(header, middle, 56, more=True),
            fragment_of(header, payload[136:], 136, more=False)]


@case("frag_overlap_same_bytes", "three fragments, the middle overlapping the first by 8 "
      "identical bytes", "nothing: any overlap discards the whole datagram (Linux since 4.19)")
def _ov_same(p: Peer) -> list[bytes]:
    return overlapping(p, 0x5004, same=True)


@case("frag_overlap_different_bytes", "three fragments, the middle overlapping the first by 8 "
      "different bytes", "nothing: any overlap discards the whole datagram")
def _ov_diff(p: Peer) -> list[bytes]:
    return overlapping(p, 0x5005, same=False)


@case("frag_overlap_last", "fragments 0..64, 64..144 and a last one at 136..208",
      "nothing: the last fragment overlaps, the datagram is discarded")
def _ov_last(p: Peer) -> list[bytes]:
    whole = echo4(p.v4, HOST4, size=200, ident=0x5006)
    header, payload = whole[:20], whole[20:]
    return [fragment_of(header, payload[:64], 0, more=True),
            fragment_of(header, payload[64:144], 64, more=True),
            fragment_of(header, payload[136:], 136, more=False)]


@case("frag_nonfinal_not_multiple_of_8", "fragment 0..60 (not a multiple of 8, MF) then 56..end",
      "Echo Reply: Linux trims the non-final fragment to 56 bytes and the next one "
      "fills from 56 (ip_frag_queue)")
def _frag_odd(p: Peer) -> list[bytes]:
    whole = echo4(p.v4, HOST4, size=200, ident=0x5007)
    header, payload = whole[:20], whole[20:]
    return [fragment_of(header, payload[:60], 0, more=True),
            fragment_of(header, payload[56:], 56, more=False)]


@case("frag_tiny", "Echo Request of 48 data bytes in seven 8-byte fragments, reversed",
      "one Echo Reply: 8-byte fragments are legal")
def _tiny(p: Peer) -> list[bytes]:
    return list(reversed(fragment4(echo4(p.v4, HOST4, size=48, ident=0x5008),
                                   [8, 16, 24, 32, 40, 48])))


@case("frag_bad_checksum_piece", "three fragments, the middle one with a bad header checksum",
      "nothing: the bad fragment is dropped and the datagram never completes")
def _frag_badsum(p: Peer) -> list[bytes]:
    a, b, c = three_fragments(p, 0x5009)
    bad = bytearray(b)
    bad[10] ^= 0xFF
    return [a, bytes(bad), c]


@case("frag_ping_3000", "Echo Request of 3000 data bytes in fragments of 1480, 1480, 48",
      "an Echo Reply fragmented to the 1500-byte MTU (`ping -s 3000`)")
def _big(p: Peer) -> list[bytes]:
    return fragment4(echo4(p.v4, HOST4, size=3000, ident=0x500A), [1480, 2960])


@case("frag_ping_3000_reversed", "the 3000-byte Echo Request's fragments in reverse order",
      "an Echo Reply fragmented to the 1500-byte MTU")
def _big_rev(p: Peer) -> list[bytes]:
    return list(reversed(fragment4(echo4(p.v4, HOST4, size=3000, ident=0x500B), [1480, 2960])))


def fragments_of_size(packet: bytes, size: int) -> list[bytes]:
    payload_len = len(packet) - 20
    return fragment4(packet, list(range(size, payload_len, size)))


@case("frag_ping_65535", "Echo Request of exactly 65535 bytes in 45 fragments",
      "an Echo Reply of 65535 bytes, fragmented: the largest legal datagram")
def _max(p: Peer) -> list[bytes]:
    return fragments_of_size(echo4(p.v4, HOST4, size=65535 - 28, ident=0x500C), 1480)


@case("frag_ping_of_death", "fragments of an Echo Request reassembling to 65545 bytes",
      "nothing: a datagram over 65535 bytes is discarded")
def _pod(p: Peer) -> list[bytes]:
    # Build a legal 65535-byte datagram, then stretch its last fragment by 10 bytes.
    pieces = fragments_of_size(echo4(p.v4, HOST4, size=65535 - 28, ident=0x500D), 1480)
    last = pieces[-1]
    header = bytearray(last[:20])
    offset = (int.from_bytes(header[6:8], "big") & 0x1FFF) * 8
    pieces[-1] = fragment_of(bytes(header), last[20:] + b"\x00" * 10, offset, more=False)
    return pieces


@case("frag_offset_beyond_max", "one fragment at offset 65528 with 16 bytes, then fragment 0",
      "nothing: a fragment ending past 65535 is discarded")
def _beyond(p: Peer) -> list[bytes]:
    whole = echo4(p.v4, HOST4, size=100, ident=0x500E)
    header, payload = whole[:20], whole[20:]
    return [fragment_of(header, payload[:16], 65528, more=False),
            fragment_of(header, payload[:64], 0, more=True)]


@case("frag_udp_closed", "UDP to a closed port in three fragments",
      "Port Unreachable quoting the reassembled datagram, cut to fit 576 bytes")
def _frag_udp(p: Peer) -> list[bytes]:
    return fragment4(udp4(p.v4, HOST4, 40001, 9, ping_data(1000), ident=0x500F), [512, 1000])


@case("frag_unknown_protocol", "a datagram of protocol 253 in two fragments",
      "Protocol Unreachable once it is reassembled")
def _frag_proto(p: Peer) -> list[bytes]:
    return fragment4(ipv4(p.v4, HOST4, 253, ping_data(200), ident=0x5010), [96])


@case("frag_single_df_mf", "a single fragment with offset 0, MF clear and DF set",
      "Echo Reply: DF without MF is an ordinary datagram")
def _df_only(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, df=True, ident=0x5011)]


@case("frag_timeout", "fragment 0 of one Echo and a later fragment of another, then silence",
      "one Time Exceeded code 1 quoting fragment 0, 30 to 32 s later (ipfrag_time, fired "
      "late by the timer wheel); none for the datagram whose fragment 0 never came "
      "(ip_expire)", listen=33.0)
def _timeout(p: Peer) -> list[bytes]:
    first = three_fragments(p, 0x5012)[0]
    later = three_fragments(p, 0x5013)[2]
    return [first, later]


# =================================================================================
# Path MTU (RFC 1191; Linux ipv4_update_pmtu, min_pmtu 552)
# =================================================================================
def frag_needed(p: Peer, mtu: int) -> bytes:
    """A Fragmentation Needed from the peer quoting an Echo Reply we sent to it."""
    quoted = ipv4(HOST4, p.v4, PROTO_ICMP, icmpv4(0, 0, struct.pack("!HH", 0x7473, 1),
                                                  ping_data(1400)))
    return ipv4(p.v4, HOST4, PROTO_ICMP, icmpv4(3, 4, struct.pack("!HH", 0, mtu), quoted[:28]))


@case("pmtu_frag_needed_1280", "Fragmentation Needed (MTU 1280) for our replies, then a "
      "1400-byte ping in two fragments",
      "the Echo Reply in fragments of at most 1280 bytes (RFC 1191)")
def _pmtu(p: Peer) -> Probes:
    ping = fragment4(echo4(p.v4, HOST4, size=1400, ident=0x6001), [1000])
    return [(0.0, frag_needed(p, 1280)), (0.05, ping[0]), (0.05, ping[1])]


@case("pmtu_frag_needed_below_min", "Fragmentation Needed with MTU 300, then a 1000-byte ping",
      "the Echo Reply in 548-byte fragments: MTU 300 is clamped to min_pmtu 552")
def _pmtu_low(p: Peer) -> Probes:
    return [(0.0, frag_needed(p, 300)), (0.05, echo4(p.v4, HOST4, size=1000, ident=0x6002))]


@case("pmtu_frag_needed_zero", "Fragmentation Needed with MTU 0 (pre-RFC 1191 router), "
      "then a 1400-byte ping",
      "the Echo Reply in 548-byte fragments: MTU 0 is clamped to min_pmtu 552")
def _pmtu_zero(p: Peer) -> Probes:
    return [(0.0, frag_needed(p, 0)), (0.05, echo4(p.v4, HOST4, size=1400, ident=0x6003))]


@case("pmtu_frag_needed_larger", "Fragmentation Needed with MTU 9000, then a 1400-byte ping",
      "one unfragmented Echo Reply: a path MTU above the link MTU changes nothing")
def _pmtu_big(p: Peer) -> Probes:
    return [(0.0, frag_needed(p, 9000)), (0.05, echo4(p.v4, HOST4, size=1400, ident=0x6004))]


# =================================================================================
# Broadcast and multicast (RFC 1122 §3.2.2.6, icmp_echo_ignore_broadcasts=1)
# =================================================================================
@case("bcast_echo_subnet", "Echo Request to 172.16.0.255",
      "nothing: broadcast echo is ignored (icmp_echo_ignore_broadcasts=1)")
def _bcast(p: Peer) -> list[bytes]:
    return [echo4(p.v4, SUBNET_BROADCAST)]


@case("bcast_echo_limited", "Echo Request to 255.255.255.255",
      "nothing: broadcast echo is ignored")
def _lbcast(p: Peer) -> list[bytes]:
    return [echo4(p.v4, "255.255.255.255")]


@case("bcast_echo_network", "Echo Request to 172.16.0.0, the subnet's network address",
      "nothing: the network address is not ours and forwarding is off")
def _net0(p: Peer) -> list[bytes]:
    return [echo4(p.v4, "172.16.0.0")]


@case("mcast_echo_all_hosts", "Echo Request to 224.0.0.1",
      "nothing: multicast echo is ignored like broadcast")
def _mcast(p: Peer) -> list[bytes]:
    return [echo4(p.v4, "224.0.0.1")]


@case("bcast_timestamp", "Timestamp Request to 172.16.0.255",
      "nothing: broadcast timestamp is ignored like echo")
def _bts(p: Peer) -> list[bytes]:
    return [ipv4(p.v4, SUBNET_BROADCAST, PROTO_ICMP, icmpv4(13, 0, b"\x00\x01\x00\x01",
                                                            bytes(12)))]


@case("bcast_udp_closed", "UDP to a closed port at 172.16.0.255",
      "nothing: no ICMP error about a broadcast datagram (RFC 1122 §3.2.2)")
def _budp(p: Peer) -> list[bytes]:
    return [udp4(p.v4, SUBNET_BROADCAST, 40000, 9, b"hello")]


@case("mcast_udp_closed", "UDP to a closed port at 224.0.0.1",
      "nothing: no ICMP error about a multicast datagram")
def _mudp(p: Peer) -> list[bytes]:
    return [udp4(p.v4, "224.0.0.1", 40000, 9, b"hello")]


@case("bcast_unknown_protocol", "protocol 253 to 172.16.0.255",
      "nothing: no Protocol Unreachable about a broadcast")
def _bproto(p: Peer) -> list[bytes]:
    return [ipv4(p.v4, SUBNET_BROADCAST, 253, b"payload!")]


@case("bcast_tcp_syn", "TCP SYN to 172.16.0.255",
      "nothing: no RST to a broadcast (tcp_v4_rcv only takes unicast)")
def _bsyn(p: Peer) -> list[bytes]:
    return [tcp4(p.v4, SUBNET_BROADCAST, 40000, 9, 1000, 0, SYN)]


# =================================================================================
# Other ICMP types (RFC 792, RFC 950, RFC 1122 §3.2.2)
# =================================================================================
def timestamp_request(p: Peer, data: bytes = struct.pack("!III", 12345678, 0, 0),
                      **kw: object) -> bytes:
    return ipv4(p.v4, HOST4, PROTO_ICMP, icmpv4(13, 0, b"\x12\x34\x00\x01", data,
                                                **kw))  # type: ignore[arg-type]


@case("icmp_timestamp", "Timestamp Request (type 13)",
      "Timestamp Reply: originate copied, receive and transmit set to ms since midnight UT")
def _ts(p: Peer) -> list[bytes]:
    return [timestamp_request(p)]


@case("icmp_timestamp_short", "Timestamp Request with only the originate field (12 bytes)",
      "Timestamp Reply of 20 bytes: 4 bytes of originate time are enough "
      "(icmp_timestamp)")
def _ts_short_req(p: Peer) -> list[bytes]:
    return [timestamp_request(p, struct.pack("!I", 12345678))]


@case("icmp_timestamp_empty", "Timestamp Request with no data (8 bytes)",
      "nothing: too short to carry an originate time")
def _ts_empty(p: Peer) -> list[bytes]:
    return [timestamp_request(p, b"")]


@case("icmp_timestamp_bad_checksum", "Timestamp Request with a wrong checksum",
      "nothing: icmp_rcv drops it")
def _ts_bad(p: Peer) -> list[bytes]:
    return [timestamp_request(p, bad_checksum=True)]


def icmp_to_host(p: Peer, icmp_type: int, code: int = 0, rest: bytes = bytes(4),
                 data: bytes = b"") -> bytes:
    return ipv4(p.v4, HOST4, PROTO_ICMP, icmpv4(icmp_type, code, rest, data))


@case("icmp_info_request", "Information Request (type 15)",
      "nothing: obsolete (RFC 1122 §3.2.2.7), Linux discards it")
def _info(p: Peer) -> list[bytes]:
    return [icmp_to_host(p, 15, rest=b"\x00\x01\x00\x01")]


@case("icmp_address_mask_request", "Address Mask Request (type 17)",
      "nothing: Linux does not answer address mask requests (RFC 950 makes it optional)")
def _mask(p: Peer) -> list[bytes]:
    return [icmp_to_host(p, 17, rest=b"\x00\x01\x00\x01", data=bytes(4))]


def quote_of_our_udp(p: Peer) -> bytes:
    return udp4(HOST4, p.v4, 9, 40000, b"quoted data")[:28]


@case("icmp_in_echo_reply", "an unsolicited Echo Reply (type 0)", "nothing: consumed")
def _in_reply(p: Peer) -> list[bytes]:
    return [icmp_to_host(p, 0, rest=b"\x00\x01\x00\x01", data=b"data")]


@case("icmp_in_dest_unreach", "Destination Unreachable (port) quoting our UDP datagram",
      "nothing: handed to the socket layer, no answer")
def _in_unreach(p: Peer) -> list[bytes]:
    return [icmp_to_host(p, 3, 3, data=quote_of_our_udp(p))]


@case("icmp_in_source_quench", "Source Quench quoting our UDP datagram",
      "nothing: consumed (RFC 6633 deprecates it)")
def _in_quench(p: Peer) -> list[bytes]:
    return [icmp_to_host(p, 4, 0, data=quote_of_our_udp(p))]


@case("icmp_in_redirect", "Redirect (host) quoting our UDP datagram", "nothing to answer")
def _in_redirect(p: Peer) -> list[bytes]:
    return [icmp_to_host(p, 5, 1, rest=bytes([172, 16, 0, 9]), data=quote_of_our_udp(p))]


@case("icmp_in_time_exceeded", "Time Exceeded quoting our UDP datagram", "nothing: consumed")
def _in_te(p: Peer) -> list[bytes]:
    return [icmp_to_host(p, 11, 0, data=quote_of_our_udp(p))]


@case("icmp_in_parameter_problem", "Parameter Problem quoting our UDP datagram",
      "nothing: consumed")
def _in_pp(p: Peer) -> list[bytes]:
    return [icmp_to_host(p, 12, 0, rest=b"\x08\x00\x00\x00", data=quote_of_our_udp(p))]


@case("icmp_in_timestamp_reply", "an unsolicited Timestamp Reply (type 14)", "nothing")
def _in_tsr(p: Peer) -> list[bytes]:
    return [icmp_to_host(p, 14, rest=b"\x00\x01\x00\x01", data=bytes(12))]


@case("icmp_in_router_advert", "Router Advertisement (type 9)", "nothing: hosts ignore it")
def _in_ra(p: Peer) -> list[bytes]:
    return [icmp_to_host(p, 9, rest=b"\x01\x02\x07\x08", data=bytes([10, 0, 0, 1, 0, 0, 0, 0]))]


@case("icmp_in_router_solicit", "Router Solicitation (type 10)", "nothing: we are no router")
def _in_rs(p: Peer) -> list[bytes]:
    return [icmp_to_host(p, 10)]


@case("icmp_unknown_type", "ICMP type 42", "nothing: unknown types are consumed")
def _in_unknown(p: Peer) -> list[bytes]:
    return [icmp_to_host(p, 42, data=b"unknown!")]


@case("icmp_type_255", "ICMP type 255", "nothing: unknown types are consumed")
def _in_255(p: Peer) -> list[bytes]:
    return [icmp_to_host(p, 255, 255)]


@case("icmp_truncated_header", "an ICMP message of 4 bytes", "nothing: shorter than a header")
def _icmp_short(p: Peer) -> list[bytes]:
    return [ipv4(p.v4, HOST4, PROTO_ICMP, b"\x08\x00\xf7\xff")]


# =================================================================================
# Unknown protocols, UDP and TCP closed ports (RFC 1122 §3.2.2.1, RFC 768, RFC 9293)
# =================================================================================
@case("proto_unknown", "a datagram of protocol 253 (experimental)",
      "Protocol Unreachable (type 3 code 2) quoting it, TOS 0xc0")
def _proto(p: Peer) -> list[bytes]:
    return [ipv4(p.v4, HOST4, 253, b"experimental payload")]


@case("proto_unknown_tos", "protocol 253 with TOS 0x28",
      "Protocol Unreachable with TOS 0xc8: precedence 0xc0 plus the request's TOS "
      "bits (icmp_send)")
def _proto_tos(p: Peer) -> list[bytes]:
    return [ipv4(p.v4, HOST4, 253, b"experimental payload", tos=0x28)]


@case("udp_closed", "UDP to closed port 9", "Port Unreachable (type 3 code 3) quoting it")
def _udp(p: Peer) -> list[bytes]:
    return [udp4(p.v4, HOST4, 40000, 9, b"hello, port 9")]


@case("udp_closed_zero_checksum", "UDP to a closed port with checksum 0 (none)",
      "Port Unreachable: a zero UDP checksum means none was sent (RFC 768)")
def _udp0(p: Peer) -> list[bytes]:
    return [udp4(p.v4, HOST4, 40000, 9, b"no checksum", udp_checksum=0)]


@case("udp_bad_checksum", "UDP to a closed port with a wrong checksum",
      "nothing: a bad UDP checksum is dropped before the port lookup")
def _udp_bad(p: Peer) -> list[bytes]:
    return [udp4(p.v4, HOST4, 40000, 9, b"bad checksum", udp_checksum=0x1234)]


@case("udp_closed_large", "UDP to a closed port with 1400 data bytes",
      "Port Unreachable cut to 576 bytes in total (RFC 1812 §4.3.2.3)")
def _udp_big(p: Peer) -> list[bytes]:
    return [udp4(p.v4, HOST4, 40000, 9, ping_data(1400))]


@case("udp_truncated_header", "a UDP datagram of 6 bytes", "nothing: shorter than a header")
def _udp_short(p: Peer) -> list[bytes]:
    return [ipv4(p.v4, HOST4, PROTO_UDP, b"\x9c\x40\x00\x09\x00\x06")]


@case("udp_length_too_long", "UDP whose length field exceeds the IP payload by 8",
      "nothing: a UDP length past the datagram is malformed")
def _udp_long(p: Peer) -> list[bytes]:
    return [udp4(p.v4, HOST4, 40000, 9, b"abcdefgh", udp_length=24, udp_checksum=0)]


@case("udp_length_short", "UDP whose length field is 8 bytes less than the IP payload",
      "Port Unreachable: Linux trims the datagram to the UDP length (udp_rcv)")
def _udp_shortlen(p: Peer) -> list[bytes]:
    return [udp4(p.v4, HOST4, 40000, 9, b"abcdefghijklmnop", udp_length=16, udp_checksum=0)]


@case("udp_port_zero", "UDP to port 0", "Port Unreachable: no socket listens on 0")
def _udp_port0(p: Peer) -> list[bytes]:
    return [udp4(p.v4, HOST4, 40000, 0, b"zero")]


@case("udp_closed_ratelimit", "ten UDP datagrams to a closed port at once, same peer",
      "six Port Unreachables: the per-peer token bucket allows a burst of 6 (icmp_ratelimit)")
def _udp_rl(p: Peer) -> list[bytes]:
    return [udp4(p.v4, HOST4, 40000 + i, 9, b"burst") for i in range(10)]


@case("udp_closed_ratelimit_refill", "seven UDP datagrams to a closed port, then one more "
      "1.1 s later", "six, then one more: the bucket refills at one per second",
      listen=0.3)
def _udp_rl2(p: Peer) -> Probes:
    return [(0.0, udp4(p.v4, HOST4, 41000 + i, 9, b"burst")) for i in range(7)] + \
        [(1.1, udp4(p.v4, HOST4, 41100, 9, b"after"))]


@case("udp_closed_src_zero", "UDP to a closed port from 0.0.0.0",
      "nothing: no ICMP error to a source that is not a single host (RFC 1122 §3.2.2)")
def _udp_src0(p: Peer) -> list[bytes]:
    return [udp4("0.0.0.0", HOST4, 68, 9, b"from nobody")]


@case("udp_closed_src_subnet_broadcast", "UDP to a closed port from 172.16.0.255",
      "a Port Unreachable to 172.16.0.255: Linux's checks do not see a subnet broadcast "
      "source as a broadcast",
      deviation="no ICMP error goes to a source that is not a single host "
                "(RFC 1122 §3.2.2); Linux with rp_filter on drops it too")
def _udp_srcb(p: Peer) -> list[bytes]:
    return [udp4(SUBNET_BROADCAST, HOST4, 40000, 9, b"from broadcast")]


@case("udp_closed_after_echo", "Echo Request then UDP to a closed port, same peer",
      "Echo Reply then Port Unreachable: echo replies take no rate-limit token")
def _udp_after_echo(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4), udp4(p.v4, HOST4, 40000, 9, b"after echo")]


@case("echo_after_ratelimit", "seven UDP datagrams to a closed port, then an Echo Request, "
      "same peer", "six Port Unreachables, then an Echo Reply: the empty error bucket does "
      "not hold back echo (icmp_ratemask)")
def _echo_after_rl(p: Peer) -> list[bytes]:
    return [udp4(p.v4, HOST4, 42000 + i, 9, b"burst") for i in range(7)] + [echo4(p.v4, HOST4)]


@case("proto_unknown_ratelimit", "eight datagrams of protocol 253 at once, same peer",
      "six Protocol Unreachables: the per-peer bucket covers every Destination Unreachable")
def _proto_rl(p: Peer) -> list[bytes]:
    return [ipv4(p.v4, HOST4, 253, b"experimental", ident=0x100 + i) for i in range(8)]


@case("opt_param_problem_ratelimit", "eight Echo Requests with a malformed option at once",
      "six Parameter Problems: Parameter Problem is in icmp_ratemask")
def _pp_rl(p: Peer) -> list[bytes]:
    return [echo4(p.v4, HOST4, seq=i, options=bytes([7, 2, 4, 0])) for i in range(8)]


@case("icmp_timestamp_burst", "eight Timestamp Requests at once",
      "eight Timestamp Replies: Timestamp Reply is outside icmp_ratemask")
def _ts_burst(p: Peer) -> list[bytes]:
    return [ipv4(p.v4, HOST4, PROTO_ICMP, icmpv4(13, 0, struct.pack("!HH", 0x1234, i),
                                                  struct.pack("!III", 1000 + i, 0, 0)))
            for i in range(8)]


TCP_SEQ = 0x01020304
TCP_ACK = 0x0A0B0C0D


def tcp_to_host(p: Peer, flags: int, *, ip: dict[str, object] | None = None,
                **segment: object) -> bytes:
    return tcp4(p.v4, HOST4, 40000, 9, TCP_SEQ, TCP_ACK if flags & ACK else 0, flags, ip=ip,
                **segment)


@case("tcp_syn", "TCP SYN to closed port 9",
      "RST+ACK, seq 0, ack = seq + 1, window 0 (RFC 9293 §3.10.7.1)")
def _syn(p: Peer) -> list[bytes]:
    return [tcp_to_host(p, SYN)]


@case("tcp_syn_options", "TCP SYN with MSS, SACK-permitted, timestamps and window scale",
      "RST+ACK without options")
def _syn_opts(p: Peer) -> list[bytes]:
    options = bytes.fromhex("020405b40402080a0001e2400000000001030307")
    return [tcp_to_host(p, SYN, options=options)]


@case("tcp_syn_data", "TCP SYN carrying 10 data bytes", "RST+ACK acknowledging seq + 1 + 10")
def _syn_data(p: Peer) -> list[bytes]:
    return [tcp_to_host(p, SYN, payload=b"0123456789")]


@case("tcp_ack", "TCP ACK to a closed port", "RST with seq = the segment's ack, no ACK flag")
def _ack(p: Peer) -> list[bytes]:
    return [tcp_to_host(p, ACK)]


@case("tcp_psh_ack_data", "TCP PSH+ACK with 20 data bytes", "RST with seq = ack")
def _pshack(p: Peer) -> list[bytes]:
    return [tcp_to_host(p, PSH | ACK, payload=b"a" * 20)]


@case("tcp_rst", "TCP RST to a closed port", "nothing: never answer a RST")
def _rst(p: Peer) -> list[bytes]:
    return [tcp_to_host(p, RST)]


@case("tcp_rst_ack", "TCP RST+ACK to a closed port", "nothing: never answer a RST")
def _rstack(p: Peer) -> list[bytes]:
    return [tcp_to_host(p, RST | ACK)]


@case("tcp_fin", "TCP FIN without ACK", "RST+ACK acknowledging seq + 1")
def _fin(p: Peer) -> list[bytes]:
    return [tcp_to_host(p, FIN)]


@case("tcp_fin_ack", "TCP FIN+ACK", "RST with seq = ack")
def _finack(p: Peer) -> list[bytes]:
    return [tcp_to_host(p, FIN | ACK)]


@case("tcp_syn_ack", "TCP SYN+ACK", "RST with seq = ack")
def _synack(p: Peer) -> list[bytes]:
    return [tcp_to_host(p, SYN | ACK)]


@case("tcp_syn_fin", "TCP SYN+FIN",
      "RST+ACK acknowledging seq + 2 (SYN and FIN count one each)")
def _synfin(p: Peer) -> list[bytes]:
    return [tcp_to_host(p, SYN | FIN)]


@case("tcp_null", "TCP with no flags",
      "RST+ACK acknowledging seq (no SYN, FIN or data to count)")
def _null(p: Peer) -> list[bytes]:
    return [tcp_to_host(p, 0)]


@case("tcp_xmas", "TCP FIN+PSH+URG",
      "RST+ACK acknowledging seq + 1 (the FIN)")
def _xmas(p: Peer) -> list[bytes]:
    return [tcp_to_host(p, FIN | PSH | URG, urgent=1)]


@case("mcast_tcp_syn", "TCP SYN to 224.0.0.1", "nothing: no RST to a multicast address")
def _msyn(p: Peer) -> list[bytes]:
    return [tcp4(p.v4, "224.0.0.1", 40000, 9, TCP_SEQ, 0, SYN)]


@case("tcp_bad_checksum", "TCP SYN with a wrong checksum", "nothing: dropped")
def _tcp_bad(p: Peer) -> list[bytes]:
    return [tcp_to_host(p, SYN, bad_checksum=True)]


@case("tcp_short_data_offset", "TCP SYN with data offset 4", "nothing: malformed header")
def _tcp_doff(p: Peer) -> list[bytes]:
    return [tcp_to_host(p, SYN, data_offset=4)]


@case("tcp_truncated_header", "a TCP segment of 12 bytes", "nothing: shorter than a header")
def _tcp_short(p: Peer) -> list[bytes]:
    return [ipv4(p.v4, HOST4, 6, tcp_to_host(p, SYN)[20:32])]


@case("tcp_syn_df_tos", "TCP SYN with DF and TOS 0x10",
      "RST+ACK with DF set, IP ID 0 and the SYN's TOS 0x10")
def _syn_tos(p: Peer) -> list[bytes]:
    return [tcp_to_host(p, SYN, ip={"df": True, "tos": 0x10})]


# =================================================================================
# IPv6: validation and echo (RFC 8200, RFC 4443)
# =================================================================================
@case("v6_echo_basic", "ICMPv6 Echo Request to fd00:16::2, 56 data bytes",
      "Echo Reply, hop limit 64, identifier/sequence/data kept (RFC 4443 §4.2)")
def _v6echo(p: Peer) -> list[bytes]:
    return [echo6(p.v6, HOST6)]


@case("v6_echo_link_local", "Echo Request from a link-local peer to fe80::2",
      "Echo Reply from fe80::2")
def _v6ll(p: Peer) -> list[bytes]:
    return [echo6(p.ll, HOST_LL)]


@case("v6_echo_traffic_class", "Echo Request with traffic class 0xb9",
      "Echo Reply with traffic class 0xb9, copied whole")
def _v6tc(p: Peer) -> list[bytes]:
    return [echo6(p.v6, HOST6, traffic_class=0xB9)]


@case("v6_echo_flow_label", "Echo Request with flow label 0x12345",
      "Echo Reply; its flow label is Linux's own hash (auto_flowlabels) and ignored "
      "in comparisons")
def _v6fl(p: Peer) -> list[bytes]:
    return [echo6(p.v6, HOST6, flow_label=0x12345)]


@case("v6_echo_odd_length", "Echo Request with 57 data bytes", "Echo Reply")
def _v6odd(p: Peer) -> list[bytes]:
    return [echo6(p.v6, HOST6, size=57)]


@case("v6_echo_empty", "Echo Request with no data", "Echo Reply of 48 bytes")
def _v6empty(p: Peer) -> list[bytes]:
    return [echo6(p.v6, HOST6, size=0)]


@case("v6_echo_code_nonzero", "Echo Request with code 3",
      "Echo Reply keeping code 3")
def _v6code(p: Peer) -> list[bytes]:
    return [echo6(p.v6, HOST6, code=3)]


@case("v6_echo_1452", "Echo Request of 1500 bytes", "Echo Reply of 1500 bytes, unfragmented")
def _v6full(p: Peer) -> list[bytes]:
    return [echo6(p.v6, HOST6, size=1452)]


@case("v6_echo_hop_limit_1", "Echo Request with hop limit 1", "Echo Reply")
def _v6hl1(p: Peer) -> list[bytes]:
    return [echo6(p.v6, HOST6, hop_limit=1)]


@case("v6_echo_padding", "Echo Request followed by 6 bytes past its payload length",
      "Echo Reply: trailing bytes are trimmed")
def _v6pad(p: Peer) -> list[bytes]:
    return [echo6(p.v6, HOST6, size=10) + b"\xee" * 6]


@case("v6_echo_truncated", "Echo Request whose payload length exceeds the bytes sent",
      "nothing: ipv6_rcv drops a truncated packet")
def _v6trunc(p: Peer) -> list[bytes]:
    return [echo6(p.v6, HOST6, payload_length=200)]


@case("v6_echo_bad_checksum", "Echo Request with a wrong ICMPv6 checksum", "nothing")
def _v6badsum(p: Peer) -> list[bytes]:
    return [echo6(p.v6, HOST6, bad_checksum=True)]


@case("v6_echo_burst", "ten Echo Requests at once", "ten Echo Replies (echo is not limited)")
def _v6burst(p: Peer) -> list[bytes]:
    return [echo6(p.v6, HOST6, seq=s) for s in range(1, 11)]


@case("v6_dst_not_ours", "Echo Request to fd00:16::9", "nothing: forwarding is off")
def _v6notours(p: Peer) -> list[bytes]:
    return [echo6(p.v6, "fd00:16::9")]


@case("v6_src_multicast", "Echo Request from ff02::1", "nothing: multicast source is invalid")
def _v6srcm(p: Peer) -> list[bytes]:
    return [echo6("ff02::1", HOST6)]


@case("v6_src_unspecified", "Echo Request from ::",
      "an Echo Reply to ::: Linux answers even the unspecified source",
      deviation="tunstack sends nothing to :: (RFC 4291 §2.5.2: never a destination; "
      "issue 13 item 12); Linux routes its reply to :: out of the default route")
def _v6src0(p: Peer) -> list[bytes]:
    return [echo6("::", HOST6)]


@case("v6_src_loopback", "Echo Request from ::1 on the TUN device", "nothing: a martian")
def _v6srclo(p: Peer) -> list[bytes]:
    return [echo6("::1", HOST6)]


@case("v6_src_ours", "Echo Request from fd00:16::2, our own address",
      "nothing: Linux drops a packet from its own address")
def _v6srcours(p: Peer) -> list[bytes]:
    return [echo6(HOST6, HOST6)]


@case("v6_echo_all_nodes", "Echo Request from a link-local peer to ff02::1",
      "Echo Reply from fe80::2 (echo_ignore_multicast=0)")
def _v6allnodes(p: Peer) -> list[bytes]:
    return [echo6(p.ll, ALL_NODES)]


@case("v6_echo_all_nodes_global_src", "Echo Request from a global peer to ff02::1",
      "Echo Reply from fd00:16::2, the source Linux selects for a global peer")
def _v6allnodes_g(p: Peer) -> list[bytes]:
    return [echo6(p.v6, ALL_NODES)]


@case("v6_echo_global_to_link_local", "Echo Request from a global peer to fe80::2",
      "Echo Reply from fe80::2")
def _v6gll(p: Peer) -> list[bytes]:
    return [echo6(p.v6, HOST_LL)]


@case("v6_echo_all_routers", "Echo Request to ff02::2",
      "nothing: a host is not in the all-routers group")
def _v6allrouters(p: Peer) -> list[bytes]:
    return [echo6(p.ll, "ff02::2")]


@case("v6_echo_solicited_node", "Echo Request to our solicited-node group ff02::1:ff00:2",
      "nothing: on a TUN device (IFF_NOARP) Linux joins no solicited-node group")
def _v6sn(p: Peer) -> list[bytes]:
    return [echo6(p.ll, SOLICITED_NODE)]


@case("v6_no_next_header", "a packet with Next Header 59 and 8 bytes after it",
      "nothing: No Next Header is consumed (RFC 8200 §4.7)")
def _v6nnh(p: Peer) -> list[bytes]:
    return [ipv6(p.v6, HOST6, NH_NONE, b"ignored!")]


@case("v6_unknown_next_header", "a packet with Next Header 253",
      "Parameter Problem code 1, pointer 6 (the Next Header field) (RFC 8200 §4)")
def _v6unh(p: Peer) -> list[bytes]:
    return [ipv6(p.v6, HOST6, 253, b"unknown payload!")]


@case("v6_unknown_next_header_after_dstopts", "Destination Options then Next Header 253",
      "Parameter Problem code 1 pointing at the Destination Options' Next Header (40)")
def _v6unh2(p: Peer) -> list[bytes]:
    return [ipv6(p.v6, HOST6, NH_DSTOPTS, options_header(253, b"") + b"unknown payload!")]


@case("v6_unknown_next_header_multicast", "Next Header 253 to ff02::1",
      "nothing: no code 1 Parameter Problem about a multicast destination (RFC 4443 "
      "§2.4(e.3))")
def _v6unh_m(p: Peer) -> list[bytes]:
    return [ipv6(p.ll, ALL_NODES, 253, b"unknown payload!")]


# =================================================================================
# IPv6 extension headers (RFC 8200 §4; Linux exthdrs.c ip6_parse_tlv)
# =================================================================================
def echo_behind(p: Peer, headers: list[tuple[int, Callable[[int], bytes]]], *,
                dst: str = HOST6, src: str | None = None) -> bytes:
    """An Echo Request behind extension headers: each entry is (its header type, a
    function of the next header type giving its bytes)."""
    source = src or p.v6
    chain = echo6_message(source, dst)
    following = PROTO_ICMPV6
    for kind, make in reversed(headers):
        chain = make(following) + chain
        following = kind
    return ipv6(source, dst, following, chain)


def with_option(option: bytes, kind: int = NH_HOPOPTS) -> tuple[int, Callable[[int], bytes]]:
    return (kind, lambda nh: options_header(nh, option))


@case("v6_hbh_pad", "Echo Request behind an empty Hop-by-Hop header (PadN)",
      "Echo Reply")
def _hbh(p: Peer) -> list[bytes]:
    return [echo_behind(p, [with_option(b"")])]


@case("v6_hbh_pad1", "Echo Request behind Hop-by-Hop with six Pad1 options",
      "Echo Reply")
def _hbh_pad1(p: Peer) -> list[bytes]:
    return [echo_behind(p, [with_option(b"\x00" * 6)])]


@case("v6_hbh_padn_nonzero", "Echo Request behind Hop-by-Hop whose PadN holds non-zero bytes",
      "nothing: Linux drops PadN with non-zero contents (RFC 4942 §2.1.9.5)")
def _hbh_padnz(p: Peer) -> list[bytes]:
    return [echo_behind(p, [with_option(b"\x01\x04\xaa\xbb\xcc\xdd")])]


@case("v6_dst_padn_too_long", "Echo Request behind Destination Options with 14 bytes of PadN",
      "nothing: Linux drops more than 7 bytes of padding in a row")
def _dst_padlong(p: Peer) -> list[bytes]:
    return [echo_behind(p, [(NH_DSTOPTS, lambda nh: bytes([nh, 1, 1, 12]) + bytes(12))])]


def unknown_option(action: int) -> bytes:
    """An unknown option whose two high bits are ``action`` (RFC 8200 §4.2)."""
    return bytes([(action << 6) | 0x1E, 2, 0, 0])


for _kind, _label in ((NH_HOPOPTS, "hbh"), (NH_DSTOPTS, "dst")):
    for _action, _meaning in ((0, "Echo Reply: action 00 skips the option"),
                              (1, "nothing: action 01 discards silently"),
                              (2, "Parameter Problem code 2 pointing at the option (action 10)"),
                              (3, "Parameter Problem code 2 pointing at the option (action 11, "
                                  "unicast destination)")):
        def _build_opt(p: Peer, kind: int = _kind, action: int = _action) -> list[bytes]:
            return [echo_behind(p, [with_option(unknown_option(action), kind)])]
        case(f"v6_{_label}_option_action_{_action:02b}",
             f"Echo Request behind {'Hop-by-Hop' if _kind == NH_HOPOPTS else 'Destination'} "
             f"Options holding an unknown option with action bits {_action:02b}",
             _meaning)(_build_opt)


@case("v6_dst_option_action_10_multicast", "Echo Request to ff02::1 behind Destination "
      "Options with an unknown option, action 10",
      "Parameter Problem code 2 even for a multicast destination (RFC 4443 §2.4(e))")
def _dst10m(p: Peer) -> list[bytes]:
    return [echo_behind(p, [with_option(unknown_option(2), NH_DSTOPTS)], dst=ALL_NODES,
                        src=p.ll)]


@case("v6_dst_option_action_11_multicast", "Echo Request to ff02::1 behind Destination "
      "Options with an unknown option, action 11",
      "nothing: action 11 sends no error about a multicast destination")
def _dst11m(p: Peer) -> list[bytes]:
    return [echo_behind(p, [with_option(unknown_option(3), NH_DSTOPTS)], dst=ALL_NODES,
                        src=p.ll)]


@case("v6_hbh_too_many_options", "Echo Request behind Hop-by-Hop with nine unknown skip options",
      "nothing: Linux allows at most 8 (net.ipv6.max_hbh_opts_number)")
def _hbh_many(p: Peer) -> list[bytes]:
    return [echo_behind(p, [with_option(unknown_option(0) * 9)])]


@case("v6_hbh_router_alert", "Echo Request behind Hop-by-Hop with Router Alert (value 0)",
      "Echo Reply")
def _hbh_ra(p: Peer) -> list[bytes]:
    return [echo_behind(p, [with_option(b"\x05\x02\x00\x00")])]


@case("v6_hbh_not_first", "Echo Request behind Destination Options then Hop-by-Hop",
      "Parameter Problem code 1 pointing at the Next Header that names Hop-by-Hop (40)")
def _hbh_late(p: Peer) -> list[bytes]:
    return [echo_behind(p, [with_option(b"", NH_DSTOPTS), with_option(b"")])]


@case("v6_hbh_and_dst", "Echo Request behind Hop-by-Hop and Destination Options",
      "Echo Reply")
def _hbh_dst(p: Peer) -> list[bytes]:
    return [echo_behind(p, [with_option(b""), with_option(b"", NH_DSTOPTS)])]


@case("v6_option_overruns_header", "Destination Options whose option length runs past it",
      "nothing: ip6_parse_tlv discards a malformed option list silently")
def _opt_over(p: Peer) -> list[bytes]:
    return [echo_behind(p, [(NH_DSTOPTS, lambda nh: bytes([nh, 0, 0x1E, 10, 0, 0, 0, 0]))])]


@case("v6_hbh_option_action_10_multicast", "Echo Request to ff02::1 behind Hop-by-Hop with "
      "an unknown option, action 10",
      "Parameter Problem code 2 even for a multicast destination (RFC 4443 §2.4(e))")
def _hbh10m(p: Peer) -> list[bytes]:
    return [echo_behind(p, [with_option(unknown_option(2))], dst=ALL_NODES, src=p.ll)]


@case("v6_hbh_jumbo_with_payload_length", "Echo Request behind Hop-by-Hop with a Jumbo "
      "Payload option while the Payload Length is not 0",
      "Parameter Problem code 0 pointing at the option (RFC 2675 §3)")
def _jumbo(p: Peer) -> list[bytes]:
    return [echo_behind(p, [with_option(b"\xc2\x04\x00\x01\x11\x70")])]


@case("v6_two_dstopts", "Echo Request behind two Destination Options headers",
      "Echo Reply: a repeated header is processed, not refused")
def _two_dst(p: Peer) -> list[bytes]:
    return [echo_behind(p, [with_option(b"", NH_DSTOPTS), with_option(b"", NH_DSTOPTS)])]


@case("v6_unknown_opt_on_icmpv6_error", "Destination Unreachable behind Destination Options "
      "with an unknown option, action 10",
      "nothing: no error about an ICMPv6 error (RFC 4443 §2.4(e.1))")
def _opt_on_err(p: Peer) -> list[bytes]:
    quote = udp6(HOST6, p.v6, 9, 40000, b"quoted")
    message = icmpv6(p.v6, HOST6, 1, 4, bytes(4) + quote)
    return [ipv6(p.v6, HOST6, NH_DSTOPTS, options_header(PROTO_ICMPV6, unknown_option(2))
                 + message)]


def routed(p: Peer, routing_type: int, segments_left: int, reserved: bytes = bytes(4)) -> bytes:
    return echo_behind(p, [(NH_ROUTING, lambda nh: routing_header(
        nh, routing_type, segments_left, ["fd00:16::99"], reserved=reserved))])


@case("v6_rh0_segments_left_0", "Echo Request behind Routing type 0, Segments Left 0",
      "Echo Reply: a routing header with nothing left to do is ignored (RFC 8200 §4.4)")
def _rh0_0(p: Peer) -> list[bytes]:
    return [routed(p, 0, 0)]


@case("v6_rh0_segments_left_1", "Echo Request behind Routing type 0, Segments Left 1",
      "Parameter Problem code 0 pointing at the routing type (RFC 5095)")
def _rh0_1(p: Peer) -> list[bytes]:
    return [routed(p, 0, 1)]


@case("v6_rh2_segments_left_1", "Echo Request behind Routing type 2, Segments Left 1",
      "Parameter Problem code 0 at the routing type: Mobile IPv6 is not enabled")
def _rh2_1(p: Peer) -> list[bytes]:
    return [routed(p, 2, 1)]


@case("v6_rh_unknown_segments_left_0", "Echo Request behind Routing type 253, Segments Left 0",
      "Echo Reply: ignored when nothing is left")
def _rhu_0(p: Peer) -> list[bytes]:
    return [routed(p, 253, 0)]


@case("v6_rh_unknown_segments_left_1", "Echo Request behind Routing type 253, Segments Left 1",
      "Parameter Problem code 0 pointing at the routing type")
def _rhu_1(p: Peer) -> list[bytes]:
    return [routed(p, 253, 1)]


@case("v6_srh_segments_left_0", "Echo Request behind a Segment Routing Header, Segments Left 0",
      "nothing: with seg6_enabled=0 Linux discards any packet carrying an SRH")
def _srh0(p: Peer) -> list[bytes]:
    return [routed(p, 4, 0, reserved=b"\x00\x00\x00\x00")]


@case("v6_srh_segments_left_1", "Echo Request behind a Segment Routing Header, Segments Left 1",
      "nothing: with seg6_enabled=0 Linux discards any packet carrying an SRH")
def _srh1(p: Peer) -> list[bytes]:
    return [routed(p, 4, 1, reserved=b"\x00\x00\x00\x00")]


# =================================================================================
# IPv6 fragments (RFC 8200 §4.5, RFC 5722, RFC 6946, RFC 7112)
# =================================================================================
def v6_three_fragments(p: Peer, ident: int) -> list[bytes]:
    return fragment6(p.v6, HOST6, PROTO_ICMPV6, echo6_message(p.v6, HOST6, size=200),
                     [64, 136], ident)


for _order in ("abc", "acb", "bac", "bca", "cab", "cba"):
    def _build6(p: Peer, order: str = _order) -> list[bytes]:
        pieces = dict(zip("abc", v6_three_fragments(p, 0x70000), strict=True))
        return [pieces[letter] for letter in order]
    case(f"v6_frag_order_{_order}", f"ICMPv6 Echo Request in three fragments sent in order "
         f"{'-'.join(_order.upper())}", "one Echo Reply: reassembly in any order")(_build6)


@case("v6_frag_duplicate", "three fragments, the first sent twice",
      "one Echo Reply: an exact duplicate is tolerated")
def _v6dup(p: Peer) -> list[bytes]:
    a, b, c = v6_three_fragments(p, 0x70001)
    return [a, a, b, c]


@case("v6_frag_overlap", "three fragments, the middle overlapping the first by 8 bytes",
      "nothing: overlapping fragments discard the datagram (RFC 5722)")
def _v6ov(p: Peer) -> list[bytes]:
    message = echo6_message(p.v6, HOST6, size=200)
    def piece(start: int, end: int, more: bool) -> bytes:
        return ipv6(p.v6, HOST6, NH_FRAGMENT, fragment_header(PROTO_ICMPV6, start, more, 0x70002)
                    + message[start:end])
    return [piece(0, 64, True), piece(56, 136, True), piece(136, len(message), False)]


@case("v6_frag_atomic", "Echo Request in an atomic fragment (offset 0, M clear)",
      "Echo Reply without a Fragment header (RFC 6946)")
def _v6atomic(p: Peer) -> list[bytes]:
    return fragment6(p.v6, HOST6, PROTO_ICMPV6, echo6_message(p.v6, HOST6), [], 0x70003)


@case("v6_frag_not_multiple_of_8", "a first fragment of 60 bytes with M set",
      "Parameter Problem code 0 pointing at the Payload Length (4) (RFC 8200 §4.5)")
def _v6odd8(p: Peer) -> list[bytes]:
    message = echo6_message(p.v6, HOST6, size=200)
    return [ipv6(p.v6, HOST6, NH_FRAGMENT, fragment_header(PROTO_ICMPV6, 0, True, 0x70004)
                 + message[:60])]


@case("v6_frag_beyond_max", "a fragment at offset 65528 carrying 16 bytes",
      "Parameter Problem code 0 pointing at the Fragment Offset field (42)")
def _v6beyond(p: Peer) -> list[bytes]:
    message = echo6_message(p.v6, HOST6, size=200)
    return [ipv6(p.v6, HOST6, NH_FRAGMENT, fragment_header(PROTO_ICMPV6, 65528, True, 0x70005)
                 + message[:16])]


@case("v6_frag_ping_3000", "Echo Request of 3000 data bytes in fragments of 1448",
      "an Echo Reply sent in fragments that fit the 1500-byte MTU")
def _v6big(p: Peer) -> list[bytes]:
    return fragment6(p.v6, HOST6, PROTO_ICMPV6, echo6_message(p.v6, HOST6, size=3000),
                     [1448, 2896], 0x70006)


@case("v6_frag_first_without_upper_header", "first fragment holding only a Destination "
      "Options header, the ICMPv6 header in the second",
      "Parameter Problem code 3: the header chain is incomplete (RFC 7112)")
def _v6_7112(p: Peer) -> list[bytes]:
    chain = options_header(PROTO_ICMPV6, b"") + echo6_message(p.v6, HOST6, size=64)
    return fragment6(p.v6, HOST6, NH_DSTOPTS, chain, [8], 0x70007)


@case("v6_frag_first_split_dstopts", "first fragment cutting a 24-byte Destination Options "
      "header in half", "Parameter Problem code 3 (RFC 7112)")
def _v6_7112b(p: Peer) -> list[bytes]:
    chain = options_header(PROTO_ICMPV6, bytes([1, 20]) + bytes(20)) + \
        echo6_message(p.v6, HOST6, size=64)
    return fragment6(p.v6, HOST6, NH_DSTOPTS, chain, [16], 0x70008)


@case("v6_frag_atomic_beside_pending", "the first fragment of a datagram, then an atomic "
      "fragment with the same identification",
      "Echo Reply to the atomic fragment at once: it never joins a queue (RFC 6946 §4)")
def _v6atomic2(p: Peer) -> list[bytes]:
    first = v6_three_fragments(p, 0x7000B)[0]
    atomic = fragment6(p.v6, HOST6, PROTO_ICMPV6, echo6_message(p.v6, HOST6, seq=2), [],
                       0x7000B)
    return [first, *atomic]


@case("v6_frag_tiny_last", "an Echo Request in fragments of 64 and 8 bytes",
      "one Echo Reply: an 8-byte last fragment is legal")
def _v6tiny(p: Peer) -> list[bytes]:
    return fragment6(p.v6, HOST6, PROTO_ICMPV6, echo6_message(p.v6, HOST6, size=64), [64],
                     0x7000C)


@case("v6_frag_udp_closed", "UDP to a closed port in two fragments",
      "Port Unreachable about the reassembled datagram")
def _v6fudp(p: Peer) -> list[bytes]:
    datagram = udp6(p.v6, HOST6, 40000, 9, ping_data(600))[40:]
    return fragment6(p.v6, HOST6, PROTO_UDP, datagram, [304], 0x70009)


@case("v6_frag_ping_of_death", "fragments reassembling to a payload over 65535 bytes",
      "Parameter Problem code 0 pointing at the Fragment Offset (42) of the fragment "
      "ending past 65535")
def _v6pod(p: Peer) -> list[bytes]:
    message = echo6_message(p.v6, HOST6, size=65535 - 8 + 16)
    return fragment6(p.v6, HOST6, PROTO_ICMPV6, message, list(range(1448, len(message), 1448)),
                     0x7000A)


# =================================================================================
# IPv6 path MTU (RFC 8201)
# =================================================================================
def packet_too_big(p: Peer, mtu: int) -> bytes:
    """A Packet Too Big from the peer quoting an Echo Reply we sent it."""
    reply = ipv6(HOST6, p.v6, PROTO_ICMPV6, icmpv6(HOST6, p.v6, 129, 0,
                                                   struct.pack("!HH", 0x7473, 1)
                                                   + ping_data(1400)))
    return ipv6(p.v6, HOST6, PROTO_ICMPV6,
                icmpv6(p.v6, HOST6, 2, 0, struct.pack("!I", mtu) + reply[:1232]))


@case("v6_pmtu_ptb_1280", "Packet Too Big (MTU 1280) for our replies, then a 1400-byte ping",
      "the Echo Reply is sent in fragments of at most 1280 bytes (RFC 8201)")
def _v6pmtu(p: Peer) -> Probes:
    return [(0.0, packet_too_big(p, 1280)), (0.05, echo6(p.v6, HOST6, size=1400))]


@case("v6_pmtu_ptb_below_minimum", "Packet Too Big with MTU 600, then a 1400-byte ping",
      "one unfragmented Echo Reply: Linux ignores a Packet Too Big below 1280 (RFC "
      "8201 §4)")
def _v6pmtu_low(p: Peer) -> Probes:
    return [(0.0, packet_too_big(p, 600)), (0.05, echo6(p.v6, HOST6, size=1400))]


@case("v6_pmtu_ptb_larger", "Packet Too Big with MTU 9000, then a 1400-byte ping",
      "one unfragmented reply: a larger MTU changes nothing")
def _v6pmtu_big(p: Peer) -> Probes:
    return [(0.0, packet_too_big(p, 9000)), (0.05, echo6(p.v6, HOST6, size=1400))]


# =================================================================================
# IPv6 errors, UDP and TCP (RFC 4443 §2.4, RFC 8200 §8.1)
# =================================================================================
@case("v6_udp_closed", "UDP to closed port 9", "Port Unreachable (type 1 code 4)")
def _v6udp(p: Peer) -> list[bytes]:
    return [udp6(p.v6, HOST6, 40000, 9, b"hello, port 9")]


@case("v6_udp_closed_link_local", "UDP to closed port 9 at fe80::2",
      "Port Unreachable from fe80::2")
def _v6udpll(p: Peer) -> list[bytes]:
    return [udp6(p.ll, HOST_LL, 40000, 9, b"hello, port 9")]


@case("v6_udp_zero_checksum", "UDP to a closed port with checksum 0",
      "nothing: the IPv6 UDP checksum is mandatory (RFC 8200 §8.1)")
def _v6udp0(p: Peer) -> list[bytes]:
    return [udp6(p.v6, HOST6, 40000, 9, b"no checksum", udp_checksum=0)]


@case("v6_udp_bad_checksum", "UDP to a closed port with a wrong checksum", "nothing")
def _v6udpbad(p: Peer) -> list[bytes]:
    return [udp6(p.v6, HOST6, 40000, 9, b"bad checksum", udp_checksum=0x1234)]


@case("v6_udp_closed_large", "UDP to a closed port with 1400 data bytes",
      "Port Unreachable cut to 1280 bytes in total (RFC 4443 §2.4(c))")
def _v6udpbig(p: Peer) -> list[bytes]:
    return [udp6(p.v6, HOST6, 40000, 9, ping_data(1400))]


@case("v6_udp_closed_multicast", "UDP to a closed port at ff02::1",
      "nothing: no error about a multicast destination (RFC 4443 §2.4(e.3))")
def _v6udpm(p: Peer) -> list[bytes]:
    return [udp6(p.ll, ALL_NODES, 40000, 9, b"hello")]


@case("v6_udp_closed_ratelimit", "ten UDP datagrams to a closed port at once, same peer",
      "six Port Unreachables: Linux's per-peer token bucket allows a burst of 6")
def _v6udprl(p: Peer) -> list[bytes]:
    return [udp6(p.v6, HOST6, 40000 + i, 9, b"burst") for i in range(10)]


@case("v6_udp_closed_ratelimit_refill", "seven UDP datagrams to a closed port at once, then "
      "one 0.2 s and one 1.1 s later",
      "six, then one for each later datagram: the IPv6 bucket refills within "
      "net.ipv6.icmp.ratelimit (100 ms on Linux 6.18)")
def _v6udprl2(p: Peer) -> Probes:
    return [(0.0, udp6(p.v6, HOST6, 41000 + i, 9, b"burst")) for i in range(7)] + \
        [(0.2, udp6(p.v6, HOST6, 41100, 9, b"after")), (1.1, udp6(p.v6, HOST6, 41101, 9, b"late"))]


@case("v6_udp_closed_src_unspecified", "UDP to a closed port from ::",
      "nothing: no error to the unspecified source (RFC 4443 §2.4(e))")
def _v6udp_src0(p: Peer) -> list[bytes]:
    return [udp6("::", HOST6, 40000, 9, b"from nobody")]


@case("v6_icmpv6_truncated", "an ICMPv6 message of 2 bytes", "nothing: shorter than a header")
def _v6short(p: Peer) -> list[bytes]:
    return [ipv6(p.v6, HOST6, PROTO_ICMPV6, b"\x80\x00")]


@case("v6_tcp_syn_multicast", "TCP SYN to ff02::1", "nothing: no RST to a multicast address")
def _v6msyn(p: Peer) -> list[bytes]:
    return [tcp6(p.ll, ALL_NODES, 40000, 9, TCP_SEQ, 0, SYN)]


@case("v6_echo_ll_to_global", "Echo Request from a link-local peer to fd00:16::2",
      "Echo Reply from fd00:16::2 to the link-local peer")
def _v6llg(p: Peer) -> list[bytes]:
    return [echo6(p.ll, HOST6)]


@case("v6_param_problem_ratelimit", "eight packets with Next Header 253 at once, same peer",
      "as many Parameter Problems as the per-peer bucket allows (type 4 is in the ratemask)")
def _v6pp_rl(p: Peer) -> list[bytes]:
    return [ipv6(p.v6, HOST6, 253, bytes([i]) * 8) for i in range(8)]


@case("v6_tcp_syn", "TCP SYN to closed port 9", "RST+ACK, ack = seq + 1")
def _v6syn(p: Peer) -> list[bytes]:
    return [tcp6(p.v6, HOST6, 40000, 9, TCP_SEQ, 0, SYN)]


@case("v6_tcp_ack", "TCP ACK to a closed port", "RST with seq = ack")
def _v6ack(p: Peer) -> list[bytes]:
    return [tcp6(p.v6, HOST6, 40000, 9, TCP_SEQ, TCP_ACK, ACK)]


@case("v6_tcp_rst", "TCP RST to a closed port", "nothing")
def _v6rst(p: Peer) -> list[bytes]:
    return [tcp6(p.v6, HOST6, 40000, 9, TCP_SEQ, 0, RST)]


@case("v6_tcp_fin", "TCP FIN to a closed port", "RST+ACK acknowledging seq + 1")
def _v6fin(p: Peer) -> list[bytes]:
    return [tcp6(p.v6, HOST6, 40000, 9, TCP_SEQ, 0, FIN)]


@case("v6_tcp_bad_checksum", "TCP SYN with a wrong checksum", "nothing")
def _v6tcpbad(p: Peer) -> list[bytes]:
    return [tcp6(p.v6, HOST6, 40000, 9, TCP_SEQ, 0, SYN, bad_checksum=True)]


@case("v6_tcp_syn_link_local", "TCP SYN to fe80::2", "RST+ACK from fe80::2")
def _v6synll(p: Peer) -> list[bytes]:
    return [tcp6(p.ll, HOST_LL, 40000, 9, TCP_SEQ, 0, SYN)]


# =================================================================================
# Inbound ICMPv6 (RFC 4443 §2.4(b, d))
# =================================================================================
def icmpv6_to_host(p: Peer, icmp_type: int, code: int, body: bytes) -> bytes:
    return ipv6(p.v6, HOST6, PROTO_ICMPV6, icmpv6(p.v6, HOST6, icmp_type, code, body))


def quote6(p: Peer) -> bytes:
    return udp6(HOST6, p.v6, 9, 40000, b"quoted data")


@case("v6_in_echo_reply", "an unsolicited Echo Reply", "nothing")
def _v6inr(p: Peer) -> list[bytes]:
    return [icmpv6_to_host(p, 129, 0, b"\x00\x01\x00\x01data")]


@case("v6_in_dest_unreach", "Destination Unreachable quoting our UDP", "nothing")
def _v6inu(p: Peer) -> list[bytes]:
    return [icmpv6_to_host(p, 1, 4, bytes(4) + quote6(p))]


@case("v6_in_time_exceeded", "Time Exceeded quoting our UDP", "nothing")
def _v6inte(p: Peer) -> list[bytes]:
    return [icmpv6_to_host(p, 3, 0, bytes(4) + quote6(p))]


@case("v6_in_parameter_problem", "Parameter Problem quoting our UDP", "nothing")
def _v6inpp(p: Peer) -> list[bytes]:
    return [icmpv6_to_host(p, 4, 0, b"\x00\x00\x00\x06" + quote6(p))]


@case("v6_in_unknown_error", "ICMPv6 type 100 (an unassigned error type)",
      "nothing: unknown errors are passed up and consumed (RFC 4443 §2.4(b))")
def _v6inue(p: Peer) -> list[bytes]:
    return [icmpv6_to_host(p, 100, 0, bytes(4) + quote6(p))]


@case("v6_in_unknown_informational", "ICMPv6 type 200 (an unassigned informational type)",
      "nothing: unknown informational messages are discarded (RFC 4443 §2.4(a))")
def _v6inui(p: Peer) -> list[bytes]:
    return [icmpv6_to_host(p, 200, 0, b"info")]


@case("v6_in_router_solicitation", "Router Solicitation from a link-local peer",
      "nothing: a host ignores it (RFC 4861 §6.2.6)")
def _v6rs(p: Peer) -> list[bytes]:
    return [ipv6(p.ll, "ff02::2", PROTO_ICMPV6, icmpv6(p.ll, "ff02::2", 133, 0, bytes(4)),
                 hop_limit=255)]


@case("v6_in_node_information", "Node Information Query (type 139)", "nothing: Linux ignores it")
def _v6niq(p: Peer) -> list[bytes]:
    return [icmpv6_to_host(p, 139, 0, bytes(12) + addr6(HOST6))]


# =================================================================================
# Neighbour Discovery on TUN (RFC 4861 §7.1.1, §7.2.4)
# =================================================================================
def solicitation(src: str, dst: str, target: str, *, hop_limit: int = 255, code: int = 0,
                 bad_checksum: bool = False) -> bytes:
    return ipv6(src, dst, PROTO_ICMPV6,
                icmpv6(src, dst, 135, code, bytes(4) + addr6(target), bad_checksum=bad_checksum),
                hop_limit=hop_limit)


@case("ns_global_multicast", "Neighbour Solicitation for fd00:16::2 to its solicited-node group",
      "nothing: on a TUN device (IFF_NOARP) Linux joins no solicited-node group "
      "(addrconf_join_solict)")
def _ns1(p: Peer) -> list[bytes]:
    return [solicitation(p.v6, SOLICITED_NODE, HOST6)]


@case("ns_link_local_unicast", "Neighbour Solicitation for fe80::2 sent to fe80::2",
      "Neighbour Advertisement from fe80::2, Solicited set")
def _ns2(p: Peer) -> list[bytes]:
    return [solicitation(p.ll, HOST_LL, HOST_LL)]


@case("ns_global_unicast", "Neighbour Solicitation for fd00:16::2 sent to fd00:16::2",
      "Neighbour Advertisement (a unicast reachability probe)")
def _ns3(p: Peer) -> list[bytes]:
    return [solicitation(p.v6, HOST6, HOST6)]


@case("ns_hop_limit_64", "Neighbour Solicitation with hop limit 64",
      "nothing: ND messages need hop limit 255 (RFC 4861 §7.1.1)")
def _ns4(p: Peer) -> list[bytes]:
    return [solicitation(p.v6, SOLICITED_NODE, HOST6, hop_limit=64)]


@case("ns_target_not_ours", "Neighbour Solicitation for fd00:16::9", "nothing: not our address")
def _ns5(p: Peer) -> list[bytes]:
    return [solicitation(p.v6, "ff02::1:ff00:9", "fd00:16::9")]


@case("ns_dad", "Duplicate Address Detection probe (from ::) for fd00:16::2",
      "nothing: on a TUN device Linux joins no solicited-node group, so the probe is "
      "not for us")
def _ns6(p: Peer) -> list[bytes]:
    return [solicitation("::", SOLICITED_NODE, HOST6)]


@case("ns_bad_checksum", "Neighbour Solicitation with a wrong checksum", "nothing")
def _ns7(p: Peer) -> list[bytes]:
    return [solicitation(p.v6, SOLICITED_NODE, HOST6, bad_checksum=True)]


@case("ns_code_nonzero", "Neighbour Solicitation with code 1",
      "nothing: ND messages need code 0 (RFC 4861 §7.1.1)")
def _ns8(p: Peer) -> list[bytes]:
    return [solicitation(p.v6, SOLICITED_NODE, HOST6, code=1)]


@case("ns_option_length_zero", "Neighbour Solicitation with an option of length 0",
      "nothing: an ND option of length 0 is invalid (RFC 4861 §4.6)")
def _ns10(p: Peer) -> list[bytes]:
    return [ipv6(p.v6, HOST6, PROTO_ICMPV6,
                 icmpv6(p.v6, HOST6, 135, 0, bytes(4) + addr6(HOST6) + bytes([1, 0]) + bytes(6)),
                 hop_limit=255)]


@case("ns_target_multicast", "Neighbour Solicitation whose target is ff02::1",
      "nothing: a multicast target is invalid (RFC 4861 §7.1.1)")
def _ns9(p: Peer) -> list[bytes]:
    return [solicitation(p.v6, SOLICITED_NODE, ALL_NODES)]


# =================================================================================
# Issue 13: what random traffic found where tunstack and Linux differed
# =================================================================================
_MALFORMED_RR = bytes([7, 2, 4, 0])  # Record Route of length 2: Parameter Problem at it
_MD5_OPTION = bytes([19, 18]) + bytes(range(16))  # RFC 2385 §3.0: kind 19, length 18
_AO_OPTION = bytes([29, 16, 1, 1]) + bytes(range(12))  # RFC 5925 §2.2: kind 29


@case("icmp_types_linux_counts_as_errors", "ICMP types 1, 2, 6, 7, 9 and 10, each with a "
      "malformed option", "nothing: Linux's icmp_pointers marks these types as errors, "
      "and no ICMP error is sent about an error (RFC 1122 §3.2.2)")
def _icmp_error_like(p: Peer) -> list[bytes]:
    return [ipv4(p.v4, HOST4, PROTO_ICMP, icmpv4(kind, 0, bytes(4), b"z" * 8),
                 options=_MALFORMED_RR, ident=0x1300 + kind) for kind in (1, 2, 6, 7, 9, 10)]


@case("pim_to_host", "a PIM Hello (protocol 103) to 172.16.0.2",
      "nothing: Linux has a PIM handler (pim_rcv) that consumes it without multicast "
      "routing")
def _pim4(p: Peer) -> list[bytes]:
    return [ipv4(p.v4, HOST4, PROTO_PIM, bytes.fromhex("2000dffe00010002 0069"))]


@case("v6_pim_to_host", "a PIM Hello (Next Header 103) to fd00:16::2",
      "nothing: consumed by Linux's PIM handler (pim6_rcv), no Parameter Problem")
def _pim6(p: Peer) -> list[bytes]:
    return [ipv6(p.v6, HOST6, PROTO_PIM, bytes.fromhex("2000dffe00010002 0069"))]


@case("udplite_closed", "UDP-Lite (protocol 136) to closed port 9, full coverage",
      "Port Unreachable quoting it (RFC 3828 §3.3; __udp4_lib_rcv)")
def _udplite(p: Peer) -> list[bytes]:
    return [udplite4(p.v4, HOST4, 40000, 9, b"lightweight")]


@case("udplite_closed_partial", "UDP-Lite to closed port 9 covering its header only",
      "Port Unreachable: the checksum covers the coverage, the rest may be damaged")
def _udplite_partial(p: Peer) -> list[bytes]:
    return [udplite4(p.v4, HOST4, 40000, 9, b"lightweight", coverage=8)]


@case("udplite_closed_partial_odd", "UDP-Lite covering 13 of its 19 bytes",
      "Port Unreachable (an odd coverage is padded as RFC 1071 pads)")
def _udplite_odd(p: Peer) -> list[bytes]:
    return [udplite4(p.v4, HOST4, 40000, 9, b"lightweight", coverage=13)]


@case("udplite_bad_checksum", "UDP-Lite with a wrong checksum", "nothing")
def _udplite_bad(p: Peer) -> list[bytes]:
    return [udplite4(p.v4, HOST4, 40000, 9, b"lightweight", udp_checksum=0x1234)]


@case("udplite_zero_checksum", "UDP-Lite with checksum 0",
      "nothing: UDP-Lite has no 'no checksum' (RFC 3828 §3.1, udplite_checksum_init)")
def _udplite_zero(p: Peer) -> list[bytes]:
    return [udplite4(p.v4, HOST4, 40000, 9, b"lightweight", udp_checksum=0)]


@case("udplite_coverage_illegal", "UDP-Lite with coverage 4 (below its header)",
      "nothing: an illegal coverage is discarded (RFC 3828 §3.1)")
def _udplite_cov4(p: Peer) -> list[bytes]:
    return [udplite4(p.v4, HOST4, 40000, 9, b"lightweight", coverage=4)]


@case("udplite_coverage_beyond", "UDP-Lite whose coverage exceeds the datagram",
      "nothing: a coverage beyond the datagram is discarded (RFC 3828 §3.1)")
def _udplite_beyond(p: Peer) -> list[bytes]:
    return [udplite4(p.v4, HOST4, 40000, 9, b"lightweight", coverage=200)]


@case("v6_udplite_closed", "UDP-Lite to closed port 9 over IPv6, full coverage",
      "Port Unreachable (ICMPv6 type 1 code 4; __udp6_lib_rcv)")
def _v6udplite(p: Peer) -> list[bytes]:
    return [udplite6(p.v6, HOST6, 40000, 9, b"lightweight")]


@case("v6_udplite_closed_partial", "UDP-Lite over IPv6 covering its header only",
      "Port Unreachable")
def _v6udplite_partial(p: Peer) -> list[bytes]:
    return [udplite6(p.v6, HOST6, 40000, 9, b"lightweight", coverage=8)]


@case("v6_udplite_bad_checksum", "UDP-Lite over IPv6 with a wrong checksum", "nothing")
def _v6udplite_bad(p: Peer) -> list[bytes]:
    return [udplite6(p.v6, HOST6, 40000, 9, b"lightweight", udp_checksum=0x1234)]


@case("v6_udplite_zero_checksum", "UDP-Lite over IPv6 with checksum 0", "nothing")
def _v6udplite_zero(p: Peer) -> list[bytes]:
    return [udplite6(p.v6, HOST6, 40000, 9, b"lightweight", udp_checksum=0)]


@case("v6_udplite_coverage_illegal", "UDP-Lite over IPv6 with coverage 4", "nothing")
def _v6udplite_cov4(p: Peer) -> list[bytes]:
    return [udplite6(p.v6, HOST6, 40000, 9, b"lightweight", coverage=4)]


@case("tcp_syn_md5", "TCP SYN to a closed port carrying a TCP-MD5 option",
      "nothing: tcp_v4_send_reset finds an MD5 signature and no key to check it "
      "(RFC 2385 §2.0)")
def _syn_md5(p: Peer) -> list[bytes]:
    return [tcp_to_host(p, SYN, options=_MD5_OPTION)]


@case("tcp_syn_mss_md5", "TCP SYN with MSS then TCP-MD5", "nothing")
def _syn_mss_md5(p: Peer) -> list[bytes]:
    return [tcp_to_host(p, SYN, options=bytes([2, 4, 5, 180]) + _MD5_OPTION)]


@case("tcp_ack_md5", "TCP ACK to a closed port carrying a TCP-MD5 option", "nothing")
def _ack_md5(p: Peer) -> list[bytes]:
    return [tcp_to_host(p, ACK, options=_MD5_OPTION)]


@case("tcp_syn_md5_bad_length", "TCP SYN with an MD5 option of length 10, 20 option bytes",
      "nothing: tcp_parse_auth_options refuses the malformed option")
def _syn_md5_len(p: Peer) -> list[bytes]:
    return [tcp_to_host(p, SYN, options=bytes([19, 10]) + bytes(8) + bytes([1] * 10))]


@case("tcp_syn_md5_twice", "TCP SYN with two MD5 options", "nothing")
def _syn_md5_twice(p: Peer) -> list[bytes]:
    return [tcp_to_host(p, SYN, options=_MD5_OPTION * 2)]


@case("tcp_syn_ao", "TCP SYN with a TCP-AO option (kind 29, length 16) and no other option",
      "RST+ACK: with 16 option bytes, fewer than 18 remain, so tcp_parse_auth_options "
      "never looks")
def _syn_ao(p: Peer) -> list[bytes]:
    return [tcp_to_host(p, SYN, options=_AO_OPTION)]


@case("tcp_syn_ao_mss", "TCP SYN with a TCP-AO option then MSS (20 option bytes)",
      "nothing: a TCP-AO signature and no key to sign a reset with (tcp_v4_ao_sign_reset)")
def _syn_mss_ao(p: Peer) -> list[bytes]:
    return [tcp_to_host(p, SYN, options=_AO_OPTION + bytes([2, 4, 5, 180]))]


@case("v6_tcp_syn_ao_mss", "TCP SYN over IPv6 with a TCP-AO option then MSS",
      "RST+ACK: unlike IPv4's, tcp_v6_send_reset looks at an AO header only when TCP-AO "
      "is built, and this kernel has none")
def _v6syn_mss_ao(p: Peer) -> list[bytes]:
    return [tcp6(p.v6, HOST6, 40000, 9, TCP_SEQ, 0, SYN,
                 options=_AO_OPTION + bytes([2, 4, 5, 180]))]


@case("tcp_syn_ao_too_short", "TCP SYN whose TCP-AO option has length 4 (20 option bytes)",
      "nothing: an AO option no longer than its header fails tcp_parse_auth_options")
def _syn_ao_short(p: Peer) -> list[bytes]:
    return [tcp_to_host(p, SYN, options=bytes([29, 4, 1, 1]) + bytes(16))]


@case("tcp_syn_bad_option_length_long", "TCP SYN whose first option's length overruns, "
      "20 option bytes", "nothing: tcp_parse_auth_options fails with -EINVAL")
def _syn_badopt_long(p: Peer) -> list[bytes]:
    return [tcp_to_host(p, SYN, options=bytes([8, 0xFF]) + bytes(18))]


@case("tcp_syn_bad_option_length_short", "TCP SYN whose first option's length overruns, "
      "8 option bytes", "RST+ACK: tcp_parse_auth_options stops once fewer than 18 option "
      "bytes (an MD5 option) remain")
def _syn_badopt_short(p: Peer) -> list[bytes]:
    return [tcp_to_host(p, SYN, options=bytes([8, 0xFF]) + bytes(6))]


@case("tcp_syn_bad_option_length_12", "TCP SYN whose first option's length overruns, "
      "12 option bytes", "RST+ACK, as with 8")
def _syn_badopt_12(p: Peer) -> list[bytes]:
    return [tcp_to_host(p, SYN, options=bytes([8, 0xFF]) + bytes(10))]


@case("v6_tcp_syn_md5", "TCP SYN over IPv6 carrying a TCP-MD5 option",
      "nothing (tcp_v6_send_reset)")
def _v6syn_md5(p: Peer) -> list[bytes]:
    return [tcp6(p.v6, HOST6, 40000, 9, TCP_SEQ, 0, SYN, options=_MD5_OPTION)]


@case("v6_tcp_syn_bad_option_length_long", "TCP SYN over IPv6 whose option overruns, "
      "20 option bytes", "nothing")
def _v6syn_badopt(p: Peer) -> list[bytes]:
    return [tcp6(p.v6, HOST6, 40000, 9, TCP_SEQ, 0, SYN, options=bytes([8, 0xFF]) + bytes(18))]


@case("v6_ns_in_atomic_fragment", "Neighbour Solicitation for fd00:16::2 behind an atomic "
      "Fragment header", "nothing: ndisc_rcv drops fragmented ND messages (RFC 6980 §5)")
def _v6ns_atomic(p: Peer) -> list[bytes]:
    message = icmpv6(p.v6, HOST6, 135, 0, bytes(4) + addr6(HOST6))
    return [ipv6(p.v6, HOST6, NH_FRAGMENT, fragment_header(PROTO_ICMPV6, 0, False, 0x1311)
                 + message, hop_limit=255)]


@case("v6_ns_fragmented", "Neighbour Solicitation for fd00:16::2 in two fragments",
      "nothing: a reassembled ND message is dropped too (RFC 6980 §5)")
def _v6ns_frag(p: Peer) -> list[bytes]:
    message = icmpv6(p.v6, HOST6, 135, 0, bytes(4) + addr6(HOST6))
    return fragment6(p.v6, HOST6, PROTO_ICMPV6, message, [8], 0x1312, hop_limit=255)


def _hbh_fragments(p: Peer, reserved: int, cut: int) -> list[bytes]:
    """An Echo Request in two fragments behind a Hop-by-Hop header, the first fragment's
    reserved byte set to ``reserved``."""
    message = echo6_message(p.v6, HOST6, size=56)
    hop = options_header(NH_FRAGMENT, b"")
    first = bytearray(fragment_header(PROTO_ICMPV6, 0, True, 0x1310 + reserved))
    first[1] = reserved
    second = fragment_header(PROTO_ICMPV6, cut, False, 0x1310 + reserved)
    return [ipv6(p.v6, HOST6, NH_HOPOPTS, hop + bytes(first) + message[:cut]),
            ipv6(p.v6, HOST6, NH_HOPOPTS, hop + second + message[cut:])]


@case("v6_frag_reserved_after_hbh", "Echo Request in two fragments behind Hop-by-Hop, the "
      "first Fragment header's reserved byte 3", "the Echo Reply: the reserved field is "
      "ignored (RFC 8200 §4.5)")
def _v6frag_res(p: Peer) -> list[bytes]:
    return _hbh_fragments(p, 3, 32)


@case("v6_frag_reserved_after_hbh_short", "the same with 16 bytes in the first fragment and "
      "reserved byte 7", "the Echo Reply")
def _v6frag_res_short(p: Peer) -> list[bytes]:
    return _hbh_fragments(p, 7, 16)


def _echo6_pieces(p: Peer, ident: int, pieces: list[tuple[int, int, bool]]) -> list[bytes]:
    """Fragments of one 51-byte Echo Request message: (offset, length, more) each; a piece
    past the message is filled with zeros."""
    message = echo6_message(p.v6, HOST6, size=43) + bytes(65536)
    return [ipv6(p.v6, HOST6, NH_FRAGMENT, fragment_header(PROTO_ICMPV6, offset, more, ident)
                 + message[offset:offset + length]) for offset, length, more in pieces]


@case("v6_frag_refused_beyond_65535_alone", "Echo in fragments 0+24 (M), 65520+16 (M), "
      "24+24 (M), 48+3", "Parameter Problem (pointer 42) for the second alone, then the Echo "
      "Reply: a refused fragment is discarded by itself (RFC 8200 §4.5)")
def _v6frag_refused_big(p: Peer) -> list[bytes]:
    return _echo6_pieces(p, 0x1320, [(0, 24, True), (65520, 16, True), (24, 24, True),
                                     (48, 3, False)])


@case("v6_frag_refused_not_multiple_of_8_alone", "Echo in fragments 0+24 (M), 24+12 (M), "
      "24+24 (M), 48+3", "Parameter Problem (pointer 4) for the second alone, then the Echo "
      "Reply")
def _v6frag_refused_odd(p: Peer) -> list[bytes]:
    return _echo6_pieces(p, 0x1321, [(0, 24, True), (24, 12, True), (24, 24, True),
                                     (48, 3, False)])


@case("pmtu_576_last_fragment_full", "Fragmentation Needed (MTU 576), then an Echo Request "
      "with 1097 data bytes", "the Echo Reply in 2 fragments: the last one may carry "
      "MTU - header bytes, 553, not a multiple of 8 (ip_do_fragment)")
def _pmtu_576(p: Peer) -> Probes:
    return [(0.0, frag_needed(p, 576)), (0.05, echo4(p.v4, HOST4, size=1097, ident=0x1330))]


@case("v6_echo_last_fragment_full", "Echo Request of 2898 payload bytes in two fragments",
      "the Echo Reply in 2 fragments of 1448 and 1450 data bytes: the last may be "
      "MTU - 48 bytes, not a multiple of 8 (ip6_fragment)")
def _v6echo_last_full(p: Peer) -> list[bytes]:
    message = echo6_message(p.v6, HOST6, size=2890)
    return fragment6(p.v6, HOST6, PROTO_ICMPV6, message, [1448], 0x1331)


@case("frag_udp_closed_timestamp", "UDP to a closed port in two fragments, a Timestamp "
      "option in the header", "Port Unreachable quoting the reassembled header with the "
      "option as filled and a valid header checksum")
def _frag_ts(p: Peer) -> list[bytes]:
    return fragment4(udp4(p.v4, HOST4, 40000, 9, b"t" * 64, options=timestamp(0, 2),
                          ident=0x1340), [40])


@case("opt_cipso_not_ours", "Echo Request with a CIPSO option to 192.0.2.55 (another host)",
      "Parameter Problem from 172.16.0.2: Linux compiles options (ip_rcv_options) before it "
      "finds the packet is not its own")
def _cipso_not_ours(p: Peer) -> list[bytes]:
    return [echo4(p.v4, "192.0.2.55", options=bytes.fromhex("8608000000010000"))]


@case("opt_malformed_not_ours", "Echo Request with a malformed Record Route to 192.0.2.55",
      "Parameter Problem from 172.16.0.2, as for our own address")
def _rr_not_ours(p: Peer) -> list[bytes]:
    return [echo4(p.v4, "192.0.2.55", options=_MALFORMED_RR)]


@case("pmtu_576_echo_3306", "Fragmentation Needed (MTU 576), then an Echo Request with 3306 "
      "data bytes in three fragments", "the Echo Reply in 552-byte pieces, the last one too: "
      "a reply longer than the device MTU is built in pieces of the path MTU "
      "(ip_append_data) and sent as built")
def _pmtu_576_big(p: Peer) -> Probes:
    ping = fragment4(echo4(p.v4, HOST4, size=3306, ident=0x1332), [1480, 2960])
    return [(0.0, frag_needed(p, 576)), (0.05, ping[0]), (0.05, ping[1]), (0.05, ping[2])]


@case("frag_timeout_record_route", "fragment 0 of an Echo with Record Route, 60 data bytes "
      "(not a multiple of 8) and MF set, then silence",
      "Time Exceeded 30 to 32 s later quoting fragment 0 as held: Record Route filled, data "
      "cut to 56 bytes, the header as it came; the error echoes the Record Route "
      "(ip_expire)", listen=33.0)
def _timeout_rr(p: Peer) -> list[bytes]:
    whole = echo4(p.v4, HOST4, size=200, options=record_route(3), ident=0x1350)
    header_len = (whole[0] & 0x0F) * 4
    return [fragment_of(whole[:header_len], whole[header_len:header_len + 60], 0, more=True)]
