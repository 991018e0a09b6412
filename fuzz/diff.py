"""``stack-fuzz diff``: differential fuzzing, the live Linux kernel as the oracle.

The same structured cases (:mod:`fuzz.diff_cases`) go to two stacks of
:mod:`stack.sut`: the *reference*, the kernel of a fresh namespace
(:class:`stack.sut.kernel.KernelStack`, one for the run), and the *other* stack,
tunstack's core (a fresh :class:`stack.Host` per case), any stack of :mod:`stack.sut`
(``--responder CMD``, ``--wire DEV [--exec CMD]``, with ``--map``; a fresh one per case,
as :func:`stack.sut.spec.open_stack` makes it), or, with ``--self-check``, the kernel of
a second fresh namespace. Their answers are compared
as ``replay --expect`` compares a recording (:mod:`replay.compare`, the ``linux``
profile of :mod:`replay.profiles`: IPv4 IDs, flow labels, fragment IDs and timestamp
clocks may differ).

Keeping cases apart on one kernel: every case sends from its own peer addresses and
source-routes through its own router (:func:`fuzz.diff_cases.hop_of`, where Linux sends
the error about a source-routed packet), so per-peer ICMP rate limits and reassembly
queues are its own; the global ICMP limit is
raised (``icmp_msgs_per_sec``/``icmp_msgs_burst``) in the namespace and in the HostConfig
given to tunstack; learned path MTUs are flushed between chunks of cases.

Timers: the reassembly times are lowered to 1 s in the namespace (``ipfrag_time``,
``ip6frag_time``) and in the HostConfig (``frag_timeout``, ``frag6_timeout``), and a
case holding fragments stays open for its reassembly time plus a margin while later
cases run: an answer that comes late is attributed to the case by its destination, the
case's own peer. So a timeout case costs no more than any other.

Each disagreement gets a signature, ``<family>[<addresses>]: <who> <what>`` —
``ipv4.single: only tunstack icmp.3.2`` (an answer only tunstack sent), ``ipv6.ext: only
linux icmpv6.4.1``, ``ipv4.options: differ icmp.0.0 ipv4.opt.rr.pointer`` (the first
differing field that is not a checksum, list indices dropped),
``ipv4.single[src=broadcast]: only linux icmp.3.3`` (the packet the answer is about
comes from or goes to an unusual address: :func:`answer_tag`). The first example of each
is minimised (packets, then bytes dropped while the signature holds) and can be written
with ``--export DIR`` as a pcapng holding the kernel's own answers, in the format of
``corpus/linux`` (``replay FILE --expect`` judges it with the linux profile). Signatures
listed in ``docs/conformance.md`` (the table between ``<!-- diff-deviations -->``
markers; ``*`` matches anything) are deliberate deviations; any other makes the run exit
1.
"""

from __future__ import annotations

import os
import platform
import re
import select
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from fuzz import packets as p
from fuzz.diff_cases import FAMILIES, FAMILY_LABELS, DiffCase, generate
from replay.compare import Comparator, Expected, Output
from replay.profiles import PROFILES, Profile
from stack.host.config import HostConfig
from stack.host.host import Host
from stack.record.probes import Case, Peer
from stack.record.recording import Recording
from stack.sut import StackCrashed, StackError, StackHung, StackStartError, capabilities_of
from stack.sut.kernel import KernelStack, answer_kind
from stack.wire.checksum import checksum
from stack.wire.inspect import diff

__all__ = ["DIFF_CONFIG", "Side", "KernelSide", "HostSide", "Finding", "Outcome",
           "run_diff", "signature_of", "address_tag", "answer_tag", "load_deviations",
           "export_case", "CONFORMANCE", "WINDOW"]

# The HostConfig of both stacks: Linux's defaults but for the global ICMP limit (raised so
# thousands of cases a second never meet it) and the reassembly times (1 s, so timeout
# cases are quick), mirrored in the kernel's namespace by stack.sut.kernel.sysctls_for.
DIFF_CONFIG = HostConfig(icmp_msgs_per_sec=1_000_000, icmp_msgs_burst=1_000_000,
                         frag_timeout=1.0, frag6_timeout=1.0)
# How long a case holding fragments stays open: its reassembly time plus the kernel
# timer wheel's lateness (level 1 of HZ=250 is 32 ms) plus room for a loaded machine.
WINDOW = 1.6
CHUNK = 2000  # cases between route-cache flushes and progress lines
CONFORMANCE = Path(__file__).resolve().parent.parent / "docs" / "conformance.md"
MINIMIZE_ROUNDS = 6
MINIMIZE_START = 1 << 22  # peer indices of minimisation attempts: never a generated case's

Answer = tuple[float, bytes, bool]  # seconds after the case's first packet, packet, timer


class Side(Protocol):
    """One stack of the comparison, fed whole cases: ``send`` a batch, then ``collect``
    its answers (two kernels wait out their reassembly times at the same time)."""

    label: str

    def send(self, cases: Sequence[DiffCase]) -> None: ...

    def collect(self) -> dict[int, list[Answer]]: ...

    def close(self) -> None: ...


def run_side(side: Side, cases: Sequence[DiffCase]) -> dict[int, list[Answer]]:
    side.send(cases)
    return side.collect()


# -- the kernel ------------------------------------------------------------------------

class KernelSide:
    """The kernel of one namespace, fed case after case (see the module docstring)."""

    def __init__(self, config: HostConfig, label: str = "linux") -> None:
        self.label = label
        self.kernel = KernelStack(config, any_destination=True)
        self.stray = 0  # answers to no case's peer, read while no case was being sent
        self._results: dict[int, list[Answer]] = {}
        self._starts: dict[int, float] = {}
        self._owner: dict[bytes, int] = {}
        self._end = 0.0

    def _attribute(self, packet: bytes, now: float, current: int | None,
                   sources: frozenset[bytes] = frozenset()) -> None:
        # Read right after a write of the current case, an answer is that case's when it
        # goes to one of the case's own sources (a mutation may have sent from another
        # case's peer) or to no case's (the first hop of a reversed route); else it is
        # the timer output of the case that sent from its destination, whenever it comes.
        destination = _destination(packet)
        index = current if destination in sources else self._owner.get(destination, current)
        if index is None:
            self.stray += 1
            return
        self._results[index].append((now - self._starts[index], packet, False))

    def send(self, cases: Sequence[DiffCase]) -> None:
        kernel = self.kernel
        kernel.flush_learned()
        self._results = {case.index: [] for case in cases}
        self._starts, self._owner = {}, {}
        end = 0.0
        for case in cases:
            now = time.monotonic()
            for packet in kernel.poll(now):
                self._attribute(packet, now, None)
            start = time.monotonic()
            self._starts[case.index] = start
            peer = case.peer
            sources = frozenset({p.address(a) for a in (peer.v4, peer.v6, peer.ll)}
                                | {pair[0] for pair in map(_addresses, case.packets) if pair})
            for address in sources:
                self._owner[address] = case.index
            for packet in case.packets:
                answers = kernel.handle(packet, 0.0)
                now = time.monotonic()
                for answer in answers:
                    self._attribute(answer, now, case.index, sources)
            if case.fragmented:
                end = time.monotonic() + WINDOW
        self._end = end

    def collect(self) -> dict[int, list[Answer]]:
        kernel = self.kernel
        while True:
            now = time.monotonic()
            for packet in kernel.poll(now):
                self._attribute(packet, now, None)
            left = self._end - now
            if left <= 0:
                break
            select.select([kernel], [], [], left)
        results, self._results = self._results, {}
        return results

    def close(self) -> None:
        self.kernel.close()


def _destination(packet: bytes) -> bytes:
    if len(packet) >= 20 and packet[0] >> 4 == 4:
        return packet[16:20]
    if len(packet) >= 40 and packet[0] >> 4 == 6:
        return packet[24:40]
    return b""


# -- an exact stack (tunstack's core, or anything Host-like) ------------------------------

class _HostLike(Protocol):
    def handle(self, packet: bytes, now: float) -> list[bytes]: ...

    def poll(self, now: float) -> list[bytes]: ...

    def next_timer(self) -> float | None: ...


class HostSide:
    """A Host-like stack from ``factory``: a fresh one per case (``fresh``), or one for
    the whole run. Every packet of a case arrives at the case's start; an exact stack
    (tunstack's core) then runs its timers on its own clock up to :data:`WINDOW`; any
    other (a pipe or wire stack, :class:`stack.sut.Capabilities`) is polled for that long
    in real time when the case holds fragments. A stack that crashes or hangs on a case
    is recorded in ``failures`` (and, when fresh per case, replaced)."""

    BASE = 1000.0  # the clock of each case starts here

    def __init__(self, factory: Callable[[], _HostLike], label: str = "tunstack",
                 fresh: bool = True) -> None:
        self.label = label
        self.factory = factory
        self.fresh = fresh
        self._shared = None if fresh else factory()
        self._results: dict[int, list[Answer]] = {}
        self.failures: dict[int, str] = {}  # case index -> "crashed", "hung", "failed"
        self.errors: dict[int, str] = {}  # case index -> what the stack error said

    def _answers(self, host: _HostLike, case: DiffCase) -> list[Answer]:
        base = self.BASE
        answers: list[Answer] = []
        for packet in case.packets:
            answers += [(0.0, out, False) for out in host.handle(packet, base)]
        if capabilities_of(host).exact_timers:
            for _ in range(10_000):  # bounded: a timer that never clears ends here
                deadline = host.next_timer()
                if deadline is None or deadline > base + WINDOW:
                    break
                answers += [(deadline - base, out, True) for out in host.poll(deadline)]
        elif case.fragmented:
            start = time.monotonic()
            while (elapsed := time.monotonic() - start) < WINDOW:
                time.sleep(min(0.05, WINDOW - elapsed))
                answers += [(time.monotonic() - start, out, False)
                            for out in host.poll(base + elapsed)]
        return answers

    def send(self, cases: Sequence[DiffCase]) -> None:
        results: dict[int, list[Answer]] = {}
        for case in cases:
            host = self.factory() if self._shared is None else self._shared
            try:
                results[case.index] = self._answers(host, case)
            except StackError as exc:
                self.errors[case.index] = str(exc)
                self.failures[case.index] = ("crashed" if isinstance(exc, StackCrashed) else
                                             "hung" if isinstance(exc, StackHung) else "failed")
                results[case.index] = []
                if self._shared is not None:
                    raise  # one stack for the run, and it is gone: the run cannot go on
            finally:
                close = getattr(host, "close", None)
                if self._shared is None and close is not None:
                    close()
        self._results = results

    def collect(self) -> dict[int, list[Answer]]:
        results, self._results = self._results, {}
        return results

    def close(self) -> None:
        close = getattr(self._shared, "close", None)
        if close is not None:
            close()


# -- comparing ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Finding:
    kind: str  # "differ", "missing" (only the reference answered), "unexpected"
    expected: bytes | None
    got: bytes | None
    lines: tuple[str, ...] = ()


class _Collector(Comparator):
    """replay's comparator, keeping the packets of each mismatch for the signature."""

    def __init__(self, profile: Profile) -> None:
        super().__init__(profile.ignore, profile.timer_tolerance, False, lambda _m: None,
                         profile.recorded_late)
        self.findings: list[Finding] = []

    def _differences(self, want: Expected, have: Output) -> list[str]:
        lines = super()._differences(want, have)
        if lines:
            masked_want, masked_have = mask_timestamps(want.packet), mask_timestamps(have.packet)
            if masked_want != want.packet or masked_have != have.packet:
                return super()._differences(
                    Expected(want.index, want.time, masked_want, want.context),
                    Output(have.time, masked_have, have.timer, have.origin))
        return lines

    def _differ(self, want: Expected, have: Output, lines: list[str]) -> None:
        self.findings.append(Finding("differ", want.packet, have.packet, tuple(lines)))

    def _missing(self, want: Expected) -> None:
        self.findings.append(Finding("missing", want.packet, None))

    def _unexpected(self, have: Output) -> None:
        self.findings.append(Finding("unexpected", None, have.packet))


def compare(expected: Sequence[Answer], got: Sequence[Answer],
            profile: Profile = PROFILES["linux"]) -> list[Finding]:
    collector = _Collector(profile)
    for number, (at, packet, _timer) in enumerate(expected):
        collector.add_expected(Expected(number, at, packet, ""))
    for at, packet, timer in got:
        collector.add_output(Output(at, packet, timer, "case"))
    collector.finish()
    return collector.findings


def mask_timestamps(packet: bytes) -> bytes:
    """``packet`` with the times of every IP Timestamp option zeroed, in its own header
    and in the header an ICMP error quotes, checksums made valid again. The linux
    profile already ignores those times where the dissector decodes the option; a
    malformed option list (a Timestamp option before a bad one, which Linux compiles
    and stamps before refusing the packet) is left raw, so it is masked here: the
    millisecond each host stamped differs between any two hosts (RFC 791 §3.1)."""
    if len(packet) < 20 or packet[0] >> 4 != 4:
        return packet
    buffer = bytearray(packet)
    header = (buffer[0] & 0x0F) * 4
    outer = _zero_timestamps(buffer, 0)
    quote = header + 8
    if (buffer[9] == 1 and not int.from_bytes(buffer[6:8], "big") & 0x1FFF
            and len(buffer) >= quote + 20 and buffer[header] in (3, 4, 5, 11, 12)
            and buffer[quote] >> 4 == 4 and _zero_timestamps(buffer, quote)):
        buffer[quote + 10:quote + 12] = b"\x00\x00"
        buffer[header + 2:header + 4] = b"\x00\x00"
        buffer[header + 2:header + 4] = checksum(bytes(buffer[header:])).to_bytes(2, "big")
    if outer:
        buffer[10:12] = b"\x00\x00"
        buffer[10:12] = checksum(bytes(buffer[:header])).to_bytes(2, "big")
    return bytes(buffer)


def _zero_timestamps(buffer: bytearray, start: int) -> bool:
    """Zero the time words of the Timestamp options of the IPv4 header at ``start``."""
    end = min(start + (buffer[start] & 0x0F) * 4, len(buffer))
    at, changed = start + 20, False
    while at < end:
        kind = buffer[at]
        if kind == 0:
            break
        if kind == 1:
            at += 1
            continue
        if at + 1 >= end or buffer[at + 1] < 2:
            break
        length = buffer[at + 1]
        if kind == 68 and length >= 4 and at + 3 < end:
            # the host writes entries from the sender's pointer on, each ending with its
            # time, and leaves the pointer after the last: walk back from there (a
            # pointer off the slot grid moves the times off it too)
            step = 4 if buffer[at + 3] & 0x0F == 0 else 8
            filled_to = min(buffer[at + 2], length + 1) - 1
            for offset in range(filled_to - 4, step - 1, -step):
                word = at + offset
                if word + 4 <= end and buffer[word:word + 4] != b"\x00\x00\x00\x00":
                    buffer[word:word + 4] = b"\x00\x00\x00\x00"
                    changed = True
        at += length
    return changed


_INDEX = re.compile(r"\.\d+(?=\.|$)")


def signature_of(family: str, finding: Finding, reference: str, other: str,
                 ignore: Iterable[str] = PROFILES["linux"].ignore) -> str:
    """``<family>: <who> <what>`` (see the module docstring)."""
    if finding.kind == "missing" and finding.expected is not None:
        return f"{family}: only {reference} {answer_kind(finding.expected)}"
    if finding.kind == "unexpected" and finding.got is not None:
        return f"{family}: only {other} {answer_kind(finding.got)}"
    assert finding.expected is not None and finding.got is not None
    fields = [d.field for d in diff(finding.expected, finding.got, ignore)]
    # a checksum differs because what it covers does: name the covered field if any
    named = [f for f in fields if not f.endswith("checksum")] or fields
    name = _INDEX.sub("", named[0]) if named else "time"
    return f"{family}: differ {answer_kind(finding.expected)} {name}"


def load_deviations(path: Path = CONFORMANCE) -> dict[str, str]:
    """The deliberate deviations of docs/conformance.md: signature pattern -> reason,
    from the table between ``<!-- diff-deviations -->`` and its closing marker."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return {}
    start, end = text.find("<!-- diff-deviations -->"), text.find("<!-- /diff-deviations -->")
    table: dict[str, str] = {}
    if start < 0 or end < start:
        return table
    for line in text[start:end].splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].startswith("`") and cells[0].endswith("`"):
            table[cells[0].strip("`")] = cells[1]
    return table


def deviation_for(signature: str, deviations: dict[str, str]) -> str | None:
    """The reason ``signature`` is deliberate: the first listed pattern that matches it
    (``*`` matches anything; every other character, brackets included, itself)."""
    for pattern, reason in deviations.items():
        if re.fullmatch(".*".join(re.escape(part) for part in pattern.split("*")), signature):
            return reason
    return None


# -- the run -----------------------------------------------------------------------------

@dataclass
class Example:
    case: DiffCase
    reference: list[Answer]
    other: list[Answer]
    lines: tuple[str, ...]
    minimised_from: int = 0  # packets before minimisation (0: not minimised)


@dataclass
class SignatureCount:
    count: int
    example: Example
    deviation: str | None = None


@dataclass
class Outcome:
    reference: str
    other: str
    seed: int
    cases: int = 0
    agreed: int = 0
    seconds: float = 0.0
    families: dict[str, list[int]] = field(default_factory=dict)  # family -> [cases, agreed]
    signatures: dict[str, SignatureCount] = field(default_factory=dict)
    stray: int = 0
    deliberate: int = 0  # cases whose every signature is a documented deviation
    exported: list[Path] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.cases / self.seconds if self.seconds > 0 else 0.0

    @property
    def percent(self) -> float:
        return 100.0 * self.agreed / self.cases if self.cases else 100.0

    def unlisted(self) -> list[str]:
        return [name for name, entry in self.signatures.items() if entry.deviation is None]

    def to_json(self) -> dict[str, Any]:
        return {
            "reference": self.reference, "other": self.other, "seed": self.seed,
            "cases": self.cases, "agreed": self.agreed, "percent": round(self.percent, 3),
            "deliberate": self.deliberate,
            "seconds": round(self.seconds, 2), "cases_per_second": round(self.rate, 1),
            "stray_answers": self.stray,
            "families": {name: {"cases": n, "agreed": a} for name, (n, a) in
                         self.families.items()},
            "signatures": [
                {"signature": name, "count": entry.count, "deliberate": entry.deviation,
                 "example": {"case": entry.example.case.name,
                             "family": entry.example.case.family,
                             "note": entry.example.case.note,
                             "packets": [packet.hex() for packet in entry.example.case.packets],
                             "reference": [a[1].hex() for a in entry.example.reference],
                             "other": [a[1].hex() for a in entry.example.other],
                             "lines": list(entry.example.lines)}}
                for name, entry in sorted(self.signatures.items(),
                                          key=lambda item: -item[1].count)],
            "exported": [str(path) for path in self.exported],
        }


_HOST_ADDRESSES = frozenset(p.address(a) for a in ("172.16.0.2", "fd00:16::2", "fe80::2"))
_BROADCASTS = frozenset(p.address(a) for a in ("172.16.0.255", "255.255.255.255"))


def _address_class(address: bytes) -> str | None:
    """None for an ordinary unicast address, else what is special about it."""
    if address in _HOST_ADDRESSES:
        return "ours"
    if address in _BROADCASTS:
        return "broadcast"
    if len(address) == 4:
        first = address[0]
        return ("unspecified" if address == bytes(4) else "loopback" if first == 127
                else "multicast" if 224 <= first < 240 else None)
    if address == bytes(16):
        return "unspecified"
    if address == bytes(15) + b"\x01":
        return "loopback"
    if address[0] == 0xFF:
        return "multicast"
    if address[:12] == bytes(10) + b"\xff\xff":
        return "mapped"
    return None


def _tag(pairs: Iterable[tuple[bytes, bytes]]) -> str:
    tags = set()
    for src, dst in pairs:
        source = _address_class(src)
        if source is not None:
            tags.add(f"src={source}")
        target = _address_class(dst)
        if target != "ours":
            tags.add(f"dst={target or 'other'}")
    return f"[{','.join(sorted(tags))}]" if tags else ""


def _addresses(packet: bytes) -> tuple[bytes, bytes] | None:
    if len(packet) >= 20 and packet[0] >> 4 == 4:
        return packet[12:16], packet[16:20]
    if len(packet) >= 40 and packet[0] >> 4 == 6:
        return packet[8:24], packet[24:40]
    return None


def address_tag(case: DiffCase) -> str:
    """``[src=broadcast]``, ``[dst=multicast,dst=other]`` …: what is unusual about the
    addresses of a case's packets (empty when every packet goes from an ordinary peer
    to one of ours), so that a deliberate deviation about odd addresses (a packet from
    the subnet broadcast) keeps a signature of its own."""
    return _tag(pair for pair in map(_addresses, case.packets) if pair is not None)


def answer_tag(answer: bytes) -> str:
    """The :func:`address_tag` of the inbound packet an answer is about: the packet an
    ICMP error quotes, else the answer's addresses turned round (an echo reply or a
    reset goes back to the request's source). So in a case of many packets a finding
    is tagged by the packet it concerns, not by its neighbours."""
    pair = _addresses(answer)
    if pair is None:
        return ""
    v4 = len(pair[0]) == 4
    start = (answer[0] & 0x0F) * 4 if v4 else 40
    protocol = answer[9] if v4 else answer[6]
    errors = (3, 4, 5, 11, 12) if v4 else (1, 2, 3, 4)
    if protocol == (1 if v4 else 58) and len(answer) > start and answer[start] in errors:
        quoted = _addresses(answer[start + 8:])
        if quoted is not None:
            return _tag([quoted])
    return _tag([(pair[1], pair[0])])


def _signatures(case: DiffCase, reference: list[Answer], other: list[Answer],
                labels: tuple[str, str]) -> tuple[list[str], tuple[str, ...]]:
    findings = compare(reference, other)
    names = list(dict.fromkeys(
        signature_of(case.family + answer_tag(f.expected or f.got or b""), f, *labels)
        for f in findings))
    lines = tuple(line for f in findings for line in
                  (f.lines or (f"{f.kind}: {answer_kind(f.expected or f.got or b'')}",)))
    return names, lines


def run_diff(reference: Side, other: Side, *, seed: int, count: int,
             time_limit: float | None = None, minimise: bool = True,
             deviations: dict[str, str] | None = None,
             progress: Callable[[str], None] | None = None) -> Outcome:
    """Run ``count`` cases of ``seed`` (or as many as ``time_limit`` seconds allow)."""
    deviations = load_deviations() if deviations is None else deviations
    outcome = Outcome(reference.label, other.label, seed,
                      families={name: [0, 0] for name in FAMILIES})
    labels = (reference.label, other.label)
    started = time.monotonic()
    done = 0
    while done < count:
        if time_limit is not None and time.monotonic() - started >= time_limit:
            break
        chunk = generate(seed, min(CHUNK, count - done), start=done + 1)
        done += len(chunk)
        reference.send(chunk)
        other.send(chunk)
        expected, got = reference.collect(), other.collect()
        failures = getattr(other, "failures", {})
        for case in chunk:
            names, lines = _signatures(case, expected[case.index], got[case.index], labels)
            if case.index in failures:  # the other stack died or hung on this case
                names = [f"{case.family}{address_tag(case)}: {other.label} "
                         f"{failures[case.index]}"]
                lines = (getattr(other, "errors", {}).get(case.index, failures[case.index]),)
            tally = outcome.families[case.family]
            tally[0] += 1
            outcome.cases += 1
            if not names:
                tally[1] += 1
                outcome.agreed += 1
            elif all(deviation_for(name, deviations) for name in names):
                outcome.deliberate += 1
            for name in names:
                entry = outcome.signatures.get(name)
                if entry is None:
                    outcome.signatures[name] = SignatureCount(
                        1, Example(case, expected[case.index], got[case.index], lines),
                        deviation_for(name, deviations))
                else:
                    entry.count += 1
        if progress:
            elapsed = time.monotonic() - started
            progress(f"[{done}/{count}] {done / elapsed:.0f} cases/s, agreement "
                     f"{outcome.agreed}/{outcome.cases} ({outcome.percent:.2f}%), "
                     f"{len(outcome.signatures)} signature(s)")
    outcome.seconds = time.monotonic() - started
    outcome.stray = getattr(reference, "stray", 0) + getattr(other, "stray", 0)
    if minimise and outcome.signatures:
        minimise_examples(outcome.signatures, reference, other, labels)
    return outcome


# -- minimising ---------------------------------------------------------------------------

def _shorter(packet: bytes) -> list[bytes]:
    """Candidates for a smaller packet: its payload cut by half and to nothing, the
    lengths and checksums repaired (a damaged one is kept as it is when it was)."""
    if len(packet) >= 20 and packet[0] >> 4 == 4:
        header = (packet[0] & 0x0F) * 4
    elif len(packet) >= 40 and packet[0] >> 4 == 6:
        header = 40
    else:
        return []
    keep = {header + 8, header + (len(packet) - header) // 2}
    return [p.repair(packet[:size]) for size in sorted(keep) if header < size < len(packet)]


def minimise_examples(signatures: dict[str, SignatureCount], reference: Side, other: Side,
                      labels: tuple[str, str]) -> None:
    """Drop packets, then bytes, from each signature's example while the signature still
    shows: bounded rounds, each one batch of candidates (on fresh peers) for every
    example still shrinking."""
    next_index = MINIMIZE_START
    shrinking = dict(signatures)
    for _ in range(MINIMIZE_ROUNDS):
        batch: list[tuple[str, DiffCase]] = []
        for name, entry in shrinking.items():
            packets = entry.example.case.packets
            candidates: list[tuple[bytes, ...]] = []
            if len(packets) > 1:
                candidates += [packets[:i] + packets[i + 1:] for i in range(len(packets))]
            for i, packet in enumerate(packets):
                candidates += [packets[:i] + (small,) + packets[i + 1:]
                               for small in _shorter(packet)]
            for candidate in [c for c in candidates if c and c != packets][:16]:
                batch.append((name, entry.example.case.with_packets(candidate, next_index)))
                next_index += 1
        if not batch:
            return
        cases = [case for _, case in batch]
        reference.send(cases)
        other.send(cases)
        expected, got = reference.collect(), other.collect()
        improved: dict[str, SignatureCount] = {}
        for name, case in batch:
            found, lines = _signatures(case, expected[case.index], got[case.index], labels)
            if name not in found:
                continue
            entry = signatures[name]
            size = (len(case.packets), sum(map(len, case.packets)))
            best = entry.example.case
            if size < (len(best.packets), sum(map(len, best.packets))):
                entry.example = Example(case, expected[case.index], got[case.index], lines,
                                        entry.example.minimised_from or len(best.packets))
                improved[name] = entry
        shrinking = improved


# -- export ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class _ExportCase(Case):
    """A probe-set case whose peer is the diff case's own."""

    diff_peer: Peer = Peer("", "", "")

    @property
    def peer(self) -> Peer:
        return self.diff_peer


def _slug(signature: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", signature.lower()).strip("_")[:80]


def export_case(directory: Path, signature: str, entry: SignatureCount,
                config: HostConfig = DIFF_CONFIG) -> Path:
    """Write ``entry``'s example as a corpus case: the inbound packets and the
    reference's (the kernel's) answers, link type 101, the case in the section's JSON."""
    example = entry.example
    case = example.case
    packets = case.packets
    probe = _ExportCase(
        name=f"diff_{_slug(signature)}", description=f"{case.note} ({case.name})",
        expect=f"as the kernel answered; stack-fuzz diff signature {signature!r}",
        build=lambda _peer: list(packets), listen=WINDOW, host=config.to_json(),
        deviation=entry.deviation, diff_peer=case.peer)
    start = time.time()
    records = [(start, 1, packet, "") for packet in packets]
    records += [(start + max(at, 0.0), 2, answer, "") for at, answer, _t in example.reference]
    records.sort(key=lambda record: record[0])
    recording = Recording.of(probe, "linux", records, extra={
        "kernel": platform.release(), "device": "tun", "signature": signature,
        "generator": {"seed": case.seed, "index": case.index, "family": case.family}})
    directory.mkdir(parents=True, exist_ok=True)
    return recording.save(directory)


def tunstack_side(config: HostConfig = DIFF_CONFIG) -> HostSide:
    return HostSide(lambda: Host(config), "tunstack")


def kernel_available() -> str | None:
    """Why the kernel cannot be used here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces and a TUN device); run it with sudo"
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun (modprobe tun)"
    return None


# -- the command ----------------------------------------------------------------------------

class DiffUsageError(Exception):
    """Bad flags or an unusable machine: one line, exit status 2."""


def _check_writable(path: Path, what: str) -> None:
    parent = path if what == "--export" else path.parent
    probe = parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK):
        raise DiffUsageError(f"{what} {path}: cannot write there")


def report_lines(outcome: Outcome) -> list[str]:
    """The tables: agreement per family, then the signatures, then the last line."""
    from tabulate import tabulate

    families = [(FAMILY_LABELS[name], n, a, f"{100.0 * a / n:.2f}%" if n else "-")
                for name, (n, a) in outcome.families.items()]
    lines = [tabulate(families, headers=["family", "cases", "agree", "%"]), ""]
    if outcome.signatures:
        rows = []
        for name, entry in sorted(outcome.signatures.items(), key=lambda item: -item[1].count):
            example = entry.example
            shown = example.lines[0] if example.lines else ""
            packets = len(example.case.packets)
            shrunk = (f" (minimised from {example.minimised_from})"
                      if example.minimised_from and example.minimised_from != packets else "")
            rows.append((name, entry.count, "yes" if entry.deviation else "NO",
                         f"{example.case.name}, {packets} packet(s){shrunk}: "
                         f"{example.case.note[:60]} | {shown[:70]}"))
        lines += [tabulate(rows, headers=["signature", "count", "documented", "example"]), ""]
    else:
        lines += ["no disagreement", ""]
    if outcome.deliberate:
        agreed = outcome.agreed + outcome.deliberate
        lines.append(f"with the {outcome.deliberate} case(s) of documented deviations: "
                     f"{agreed}/{outcome.cases} ({100.0 * agreed / outcome.cases:.2f}%)")
    lines.append(f"agreement: {outcome.agreed}/{outcome.cases} ({outcome.percent:.2f}%)")
    return lines


def command(args: Any) -> int:
    """``stack-fuzz diff`` (fuzz/cli.py parses the flags)."""
    import json

    from stack.sut.addressmap import AddressMap, MapError
    from stack.sut.pipe import split_command
    from stack.sut.spec import StackSpec, open_stack

    if args.cases < 1:
        raise DiffUsageError(f"--cases {args.cases}: give at least 1")
    if args.time is not None and not 0 < args.time < 1e9:
        raise DiffUsageError(f"--time {args.time}: give a positive number of seconds")
    chosen = [flag for flag, given in (("--self-check", args.self_check),
                                       ("--responder", args.responder is not None),
                                       ("--wire", args.wire is not None)) if given]
    if len(chosen) > 1:
        raise DiffUsageError(f"{' and '.join(chosen)}: choose one stack to compare")
    if args.exec_command is not None and args.wire is None:
        raise DiffUsageError("--exec needs --wire DEV (the device the command's stack creates)")
    if args.map and not (args.responder or args.wire):
        raise DiffUsageError("--map needs --responder or --wire (a stack with other addresses)")
    try:
        for flag, text in (("--responder", args.responder), ("--exec", args.exec_command)):
            if text is not None:
                split_command(text, flag)
        if args.map:
            AddressMap.parse(args.map)
    except (StackStartError, MapError) as exc:
        raise DiffUsageError(str(exc)) from None
    if args.export is not None:
        _check_writable(Path(args.export), "--export")
    if args.json is not None:
        _check_writable(Path(args.json), "--json")
    why = kernel_available()
    if why:
        raise DiffUsageError(f"diff {why}")
    deviations = load_deviations(Path(args.conformance))
    sides: list[Side] = []
    try:
        reference: Side = KernelSide(DIFF_CONFIG)
        sides.append(reference)
        other: Side
        if args.self_check:
            other = KernelSide(DIFF_CONFIG, label="linux-b")
        elif args.responder or args.wire:
            spec = StackSpec(responder=args.responder, wire=args.wire,
                             exec_command=args.exec_command, maps=tuple(args.map))
            label = "responder" if args.responder else "wire"
            other = HostSide(lambda: open_stack(spec, DIFF_CONFIG), label)
        else:
            other = tunstack_side()
        sides.append(other)
        print(f"stack-fuzz diff: {args.cases} case(s) of seed {args.seed}, {reference.label} "
              f"against {other.label}" + (f", at most {args.time:g} s" if args.time else ""),
              flush=True)
        outcome = run_diff(reference, other, seed=args.seed, count=args.cases,
                           time_limit=args.time, minimise=not args.no_minimise,
                           deviations={} if args.self_check else deviations,
                           progress=None if args.quiet else
                           (lambda line: print(line, flush=True)))
        if args.export is not None:
            for name, entry in outcome.signatures.items():
                outcome.exported.append(export_case(Path(args.export), name, entry))
    except StackStartError as exc:
        raise DiffUsageError(str(exc)) from None
    except StackError as exc:
        print(f"stack-fuzz: diff: {other.label} failed: {exc}")
        return 1
    finally:
        for side in sides:
            side.close()
    print(f"{outcome.cases} case(s) in {outcome.seconds:.1f} s: {outcome.rate:.0f} cases/s"
          + (f"; {outcome.stray} late answer(s) no case was waiting for" if outcome.stray
             else ""))
    for path in outcome.exported:
        print(f"exported {path}")
    if args.json is not None:
        Path(args.json).write_text(json.dumps(outcome.to_json(), indent=1) + "\n",
                                   encoding="utf-8")
    for line in report_lines(outcome):
        print(line)
    if args.self_check:
        return 1 if outcome.signatures else 0
    return 1 if outcome.unlisted() else 0
