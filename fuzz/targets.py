"""The fuzz targets: what each does with one input, and how the oracle judges it.

Each target is a ``Target``: ``run(data)`` raises (an ``OracleViolation`` naming the
broken rule) when it finds something and returns quietly otherwise; ``mutate`` is its
structure-aware mutator; ``seeds`` its built-in seed inputs. The files ``fuzz/<name>.py``
hand these to atheris; ``stack-fuzz`` and the tests call them directly.

The host under test is built by :func:`make_host`; ``TUNSTACK_FUZZ_HOST=module:callable``
replaces it (a test plants a bug in a subclass of ``Host`` this way to prove the harness
finds bugs).
"""

from __future__ import annotations

import importlib
import io
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fuzz import seeds as seed_sets
from fuzz.mutator import PacketMutator
from fuzz.sequence_codec import ADVANCE_MS, ADVANCE_S, NEXT_TIMER, PACKET, Reader, Step
from stack.host.config import HostConfig
from stack.host.host import Host
from stack.oracle import (
    FragmentLedger,
    OracleViolation,
    Violation,
    check_host,
    find_violations,
    format_violations,
    raise_violations,
)

__all__ = ["Target", "TARGETS", "make_host", "fresh_host", "full_cross_check", "PACKET_CONFIG",
           "SEQUENCE_CONFIGS",
           "TAP_CONFIG", "START_TIME", "DICT_DIR"]

DICT_DIR = Path(__file__).resolve().parent / "dicts"
START_TIME = 1000.0  # the clock of a fresh host: far from 0 so "time went back" is possible
FLUSH_AFTER = 3600.0  # single-packet targets poll this much later to run every timer

# The single-packet targets answer the UDP echo port too, so UDP replies are reached.
PACKET_CONFIG = HostConfig(udp_echo_ports=(7,))
# The sequence target picks one of these with its first integer. Small caps, so a few
# dozen packets reach eviction; a 1280 MTU with a tight global ICMP budget; IPv4 only
# at 576 with the policy switches flipped.
SEQUENCE_CONFIGS = (
    HostConfig(udp_echo_ports=(7,), frag_max_datagrams=4, frag_max_fragments=16,
               frag_mem_limit=16 * 1024, ratelimit_peers=4, pmtu_cache_size=4),
    HostConfig(mtu=1280, udp_echo_ports=(7,), icmp_msgs_per_sec=10, icmp_msgs_burst=4,
               frag_mem_limit=8 * 1024),
    HostConfig(ipv6=(), mtu=576, accept_source_route=True, echo_ignore_broadcasts=False,
               timestamp_replies=False, icmp_ratelimit_ms=0),
)
TAP_CONFIG = HostConfig(link_address=seed_sets.HOST_MAC, udp_echo_ports=(7,))


def make_host(config: HostConfig) -> Host:
    """A fresh host, or the one ``TUNSTACK_FUZZ_HOST`` names (for harness tests)."""
    spec = os.environ.get("TUNSTACK_FUZZ_HOST")
    if spec:
        module, _, attribute = spec.partition(":")
        factory: Callable[[HostConfig], Host] = getattr(importlib.import_module(module),
                                                        attribute)
        return factory(config)
    return Host(config)


_KEPT_HOSTS: dict[int, tuple[HostConfig, Host]] = {}


def fresh_host(config: HostConfig) -> Host:
    """A host in the state of ``Host(config)``: the one kept for ``config``, reset
    (``Host.reset``: building a host cost as much as the packet it answers), or
    :func:`make_host`'s when ``TUNSTACK_FUZZ_HOST`` names another factory."""
    if os.environ.get("TUNSTACK_FUZZ_HOST"):
        return make_host(config)
    kept = _KEPT_HOSTS.get(id(config))
    if kept is not None and kept[0] is config:
        kept[1].reset()
        return kept[1]
    host = Host(config)
    _KEPT_HOSTS[id(config)] = (config, host)
    return host


def _raised(exc: BaseException, where: str) -> OracleViolation:
    return OracleViolation([Violation("exception", f"{where} raised "
                                                    f"{type(exc).__name__}: {exc}")])


def _handle(host: Any, packet: bytes, now: float) -> list[bytes]:
    try:
        return host.handle(packet, now)  # type: ignore[no-any-return]
    except Exception as exc:
        raise _raised(exc, "handle") from exc


def _poll(host: Any, now: float) -> list[bytes]:
    try:
        return host.poll(now)  # type: ignore[no-any-return]
    except Exception as exc:
        raise _raised(exc, "poll") from exc


def _check_timer(host: Any, now: float) -> None:
    """After ``poll(now)`` the next timer must lie in the future, or a driver that
    sleeps until ``next_timer()`` would spin forever: a hang."""
    deadline = host.next_timer()
    if deadline is not None and deadline <= now:
        raise_violations([Violation("timer.stuck", f"next_timer() {deadline} is not "
                                                   f"after poll({now})")])


# -- the targets ------------------------------------------------------------------------

def run_ipv4(data: bytes) -> None:
    """One IPv4 packet into a fresh host, then its timers."""
    if data:
        data = bytes([0x40 | (data[0] & 0x0F)]) + data[1:]
    _one_packet(data)


def run_ipv6(data: bytes) -> None:
    """One IPv6 packet into a fresh host, then its timers."""
    if data:
        data = bytes([0x60 | (data[0] & 0x0F)]) + data[1:]
    _one_packet(data)


def _one_packet(data: bytes) -> None:
    host = fresh_host(PACKET_CONFIG)
    validate, cross_check = _sample_checks()
    found = find_violations(data, _handle(host, data, START_TIME), host, validate=validate,
                            cross_check=cross_check)
    later = START_TIME + FLUSH_AFTER
    found += find_violations(None, _poll(host, later), host, validate=validate,
                             cross_check=cross_check)
    # The tables once per input, at the end: whatever the packet left behind (a cap is
    # a bound at every moment, but one packet adds at most one entry to each table).
    found += check_host(host)
    if found:
        raise_violations(found)
    _check_timer(host, later)


# The oracle's own walk (lengths, checksums, addresses, the answer rules) judges every
# output. The two other readings cost more than the host itself, so while fuzzing they
# judge a sample: inspect.validate one input in VALIDATE_EVERY, dpkt one in
# CROSS_CHECK_EVERY (the first input of a process always, so libFuzzer re-running one
# crash file reproduces their findings). Everything is judged in full where
# full_cross_check(True) or TUNSTACK_FUZZ_FULL_CHECK is set: stack-fuzz reproduce,
# minimize, export and the final corpus check of stack-fuzz ci.
VALIDATE_EVERY = 4
CROSS_CHECK_EVERY = 64
FULL_CROSS_CHECK_ENV = "TUNSTACK_FUZZ_FULL_CHECK"
_cross_check = {"seen": 0, "full": bool(os.environ.get(FULL_CROSS_CHECK_ENV))}


def full_cross_check(on: bool) -> bool:
    """Judge every input with every reading (True) or a sample (False); the old setting."""
    old = _cross_check["full"]
    _cross_check["full"] = on
    return bool(old)


def _sample_checks() -> tuple[bool, bool]:
    """(inspect.validate, dpkt) for this input."""
    seen = _cross_check["seen"]
    _cross_check["seen"] = seen + 1
    if _cross_check["full"]:
        return True, True
    return seen % VALIDATE_EVERY == 0, seen % CROSS_CHECK_EVERY == 0


def run_sequence(data: bytes) -> None:
    """Packets and clock steps into one host (see ``fuzz.sequence_codec``)."""
    reader = Reader(data)
    host = fresh_host(SEQUENCE_CONFIGS[reader.config])
    validate, cross_check = _sample_checks()
    ledger = FragmentLedger(host.config.frag_timeout)

    def judge(inbound: bytes | None, out: list[bytes], now: float) -> None:
        found = find_violations(inbound, out, host, validate=validate,
                                cross_check=cross_check)
        if inbound is not None:
            found += ledger.judge(inbound, out, host, now)
        found += check_host(host)  # each step may grow a table: checked after each
        if found:
            raise_violations(found)

    _play(host, reader.steps(), judge)


def run_tap(data: bytes) -> None:
    """A timeline of Ethernet frames and clock steps (the ``sequence`` format, its
    first integer picking one of ``_link_configs()``) into the TAP-mode host: ARP and
    neighbour discovery learning, address resolution with its queue and retries."""
    from stack.link.linkhost import LinkHost

    reader = Reader(data)
    link = LinkHost(fresh_host(TAP_CONFIG), _link_configs()[reader.config])
    _play(link, reader.steps(), lambda inbound, out, now: _check_frames(inbound, out, link))


def _play(host: Any, steps: list[Step],
          judge: Callable[[bytes | None, list[bytes], float], None]) -> None:
    """Drive ``host`` (a Host or a LinkHost) through a timeline; ``judge`` sees each
    inbound packet (None for timers) with what was sent."""
    now = START_TIME
    for step in steps:
        if step.op == PACKET:
            judge(step.data, _handle(host, step.data, now), now)
            continue
        if step.op == ADVANCE_MS:
            now += step.value / 1000.0
            continue
        if step.op == NEXT_TIMER:
            deadline = host.next_timer()
            if deadline is not None and deadline > now:
                now = deadline
        elif step.op == ADVANCE_S:
            now += float(step.value)
        judge(None, _poll(host, now), now)
        _check_timer(host, now)


def _link_configs() -> tuple[Any, ...]:
    """Linux's defaults; tiny caps (two neighbours, two destinations resolving, one
    packet queued, one solicitation); short lifetimes, to reach expiry in a timeline."""
    from stack.link.linkhost import LinkConfig

    return (LinkConfig(),
            LinkConfig(neighbour_capacity=2, pending_destinations=2, queue_per_destination=1,
                       solicit_attempts=1),
            LinkConfig(neighbour_lifetime=1.0, solicit_interval=0.5))


def _check_frames(inbound: bytes | None, frames: list[bytes], link: Any) -> None:
    """Frames: a 14-byte header from our MAC; ARP to the broadcast or a unicast MAC;
    IP inside judged by the oracle; a group destination only for what may be multicast."""
    from stack.link.ethernet import is_group

    problems: list[Violation] = []
    packets: list[bytes] = []
    for index, frame in enumerate(frames):
        if not isinstance(frame, bytes) or len(frame) < 14:
            problems.append(Violation("frame.malformed", f"{frame!r:.60}", index))
            continue
        if frame[6:12] != link.mac:
            problems.append(Violation("frame.foreign_source", frame[6:12].hex(), index))
        ethertype = int.from_bytes(frame[12:14], "big")
        if ethertype == 0x0806:
            if len(frame) < 42 or frame[22:28] != link.mac:
                problems.append(Violation("frame.bad_arp", frame[14:42].hex(), index))
        elif ethertype in (0x0800, 0x86DD):
            packet = frame[14:]
            packets.append(packet)
            if is_group(frame[0:6]) and not (packet[:1] and packet[0] >> 4 == 6
                                             and packet[24:25] == b"\xff"):
                problems.append(Violation("frame.group_destination",
                                          f"{frame[0:6].hex()} for a unicast packet", index))
        else:
            problems.append(Violation("frame.unknown_ethertype", f"0x{ethertype:04x}", index))
    if problems:
        raise_violations(problems)
    validate, cross_check = _sample_checks()
    found = find_violations(None, packets, link.host, validate=validate,
                            cross_check=cross_check)
    if found:
        raise_violations(found)
    extra = check_host(link)
    # Address resolution queues (RFC 1122 §2.3.2.2: keep at least one packet, bounded).
    pending = getattr(link, "_pending", {})
    if len(pending) > link.link.pending_destinations:
        extra.append(Violation("state.over_cap", f"{len(pending)} destinations resolving"))
    for address, waiting in pending.items():
        if len(waiting.packets) > link.link.queue_per_destination:
            extra.append(Violation("state.over_cap", f"{len(waiting.packets)} packets wait "
                                                     f"for {address.hex()}"))
    if extra:
        raise_violations(extra)


def run_capture(data: bytes) -> None:
    """Bytes as a capture file: the reader gives records or its ``CaptureError``, and
    whatever it reads, the writer writes back to the same records."""
    from stack.capture import CaptureError, CaptureWriter, read_capture

    records = []
    try:
        for record in read_capture(io.BytesIO(data)):
            records.append(record)
            if len(records) >= 64:
                break
    except CaptureError as error:
        text = str(error)
        if not text or "\n" in text:
            raise_violations([Violation("capture.bad_error", repr(text))])
    except Exception as exc:
        raise _raised(exc, "read_capture") from exc
    if not records:
        return
    linktype = records[0].linktype
    # pcapng stores 64-bit timestamps: a file may claim more (a huge if_tsresol or
    # if_tsoffset), which can be read but not written back.
    same = [r for r in records if r.linktype == linktype and 0 <= r.timestamp_ns < 1 << 64]
    if not same:
        return
    buffer = io.BytesIO()
    try:
        writer = CaptureWriter(buffer, linktype=linktype, metadata=same[0].metadata)
        for record in same:
            writer.write(record.frame, record.timestamp, record.direction,
                         timestamp_ns=record.timestamp_ns)
        writer.close()
        again = list(read_capture(io.BytesIO(buffer.getvalue())))
    except Exception as exc:
        raise _raised(exc, "capture round trip") from exc
    for before, after in zip(same, again, strict=False):
        if (before.frame, before.timestamp_ns, before.direction, before.data) != \
                (after.frame, after.timestamp_ns, after.direction, after.data):
            raise_violations([Violation("capture.round_trip",
                                        f"record {before.index}: {before!r} != {after!r}")])
    if len(again) != len(same):
        raise_violations([Violation("capture.round_trip",
                                    f"{len(same)} records written, {len(again)} read")])


_REFEREE_EXPECTED: list[bytes] = []
# Oracle rules that inspect.validate deliberately leaves alone: it judges formats, and
# an ICMP message of 4-7 bytes is well formed as far as RFC 4443 §2.1's general format
# goes (the host core drops it; the oracle forbids the host from sending one).
REFEREE_TOLERATED = frozenset({"output.short_icmp"})


def run_referee(data: bytes) -> None:
    """A "reply" into the referee's validator and differ: they never raise, ``validate``
    agrees with the oracle's own checksum and length checks (and with dpkt), and
    ``diff`` of two different packets is never empty."""
    from stack.live.fifo import HARMLESS_FIELDS
    from stack.wire.inspect import describe, diff, dissect, validate

    if not _REFEREE_EXPECTED:
        _REFEREE_EXPECTED.extend(list(seed_sets.ipv4_seeds().values())
                                 + list(seed_sets.ipv6_seeds().values()))
    expected = _REFEREE_EXPECTED[len(data) % len(_REFEREE_EXPECTED)]
    try:
        problems = validate(data)
        dissect(data)
        describe(data)
        differences = diff(expected, data)
        diff(expected, data, HARMLESS_FIELDS)
        same = diff(data, data)
    except Exception as exc:
        raise _raised(exc, "inspect") from exc
    found: list[Violation] = []
    if same:
        found.append(Violation("referee.diff_self", "; ".join(map(str, same))))
    if expected != data and not differences:
        found.append(Violation("referee.diff_empty", "two different packets, no difference"))
    if not problems:
        for violation in format_violations(data):
            if violation.rule in REFEREE_TOLERATED:
                continue
            found.append(Violation("referee.validate_accepts",
                                   f"validate() found nothing but {violation}"))
    if found:
        raise_violations(found)


# -- registry ---------------------------------------------------------------------------

Mutate = Callable[[PacketMutator, bytes, int], bytes]


@dataclass(frozen=True)
class Target:
    name: str
    summary: str
    run: Callable[[bytes], None]
    mutate: Mutate | None  # None: libFuzzer's own mutations only
    seeds: Callable[[], dict[str, bytes]]
    max_len: int
    # A finding can become a replay case in corpus/regress/. Not for tap: replay feeds
    # the IP packets of a capture to a Host, not frames to a LinkHost (export the IP
    # packet through the ipv4/ipv6 target instead).
    exportable: bool

    @property
    def dictionary(self) -> Path:
        return DICT_DIR / f"{self.name}.dict"


def _packet_mutation(mutator: PacketMutator, data: bytes, max_size: int) -> bytes:
    return mutator.mutate_packet(data, max_size)


def _sequence_mutation(mutator: PacketMutator, data: bytes, max_size: int) -> bytes:
    return mutator.mutate_sequence(data, max_size)


def _frame_sequence_mutation(mutator: PacketMutator, data: bytes, max_size: int) -> bytes:
    return mutator.mutate_sequence(data, max_size, frames=True)


TARGETS: dict[str, Target] = {
    "ipv4": Target("ipv4", "one IPv4 packet into a fresh host", run_ipv4, _packet_mutation,
                   seed_sets.ipv4_seeds, 2048, True),
    "ipv6": Target("ipv6", "one IPv6 packet into a fresh host", run_ipv6, _packet_mutation,
                   seed_sets.ipv6_seeds, 2048, True),
    "sequence": Target("sequence", "packets and clock steps into one host", run_sequence,
                       _sequence_mutation, seed_sets.sequence_seeds, 16384, True),
    "tap": Target("tap", "Ethernet frames and clock steps into the TAP-mode host", run_tap,
                  _frame_sequence_mutation, seed_sets.tap_timelines, 16384, False),
    "capture": Target("capture", "bytes as a pcap/pcapng file into the reader", run_capture,
                      None, seed_sets.capture_seeds, 4096, False),
    "referee": Target("referee", "a reply into the referee's validate/diff", run_referee,
                      _packet_mutation, lambda: {**{f"v4_{k}": v for k, v in
                                                    seed_sets.ipv4_seeds().items()},
                                                 **{f"v6_{k}": v for k, v in
                                                    seed_sets.ipv6_seeds().items()}},
                      2048, False),
}


def donors_for(target: Target) -> list[bytes]:
    """Whole packets the mutator splices from: the IP seeds (and the target's own)."""
    if target.name in ("sequence", "capture", "tap"):
        return list(seed_sets.ipv4_seeds().values()) + list(seed_sets.ipv6_seeds().values())
    return list(target.seeds().values())


def new_mutator(target: Target, seed: int, byte_mutate: Callable[[bytes, int], bytes]
                ) -> PacketMutator:
    frames = list(seed_sets.tap_seeds().values()) if target.name == "tap" else []
    return PacketMutator(random.Random(seed), byte_mutate, donors_for(target), frames)
