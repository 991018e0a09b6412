"""What a replay found, as plain values: picklable (for ``-j``) and JSON-ready."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["Mismatch", "CaseResult", "FileResult", "TimelineEvent", "KEEP_MISMATCHES",
           "KEEP_LINES", "KEEP_TIMELINE"]

# What one case keeps in memory, so a huge capture that differs everywhere (or a long
# fault run, or -v) still replays in flat memory; the counts stay exact.
KEEP_MISMATCHES = 1000
KEEP_LINES = 100_000
# Packets of one case kept for the --html ladder diagram (a picture, not a log).
KEEP_TIMELINE = 400


_DIFFERENCES = frozenset({"diff", "missing", "unexpected"})


@dataclass
class Mismatch:
    """One difference or broken rule.

    ``kind``: ``diff`` (fields differ), ``missing`` (an expected output was not sent),
    ``unexpected`` (an output nobody expected), ``violation`` (an invariant broken under
    faults), ``error`` (the host raised, or the responder failed), ``crashed`` (the stack
    under test exited, died on a signal or failed its liveness probe), ``hung`` (it took
    longer than its timeout to read or answer)."""

    kind: str
    where: str  # "packet #12 (t=1.000100 s)"
    summary: str  # one line
    details: list[str] = field(default_factory=list)  # "ipv4.ttl: expected 64, got 63"
    dissection: list[str] = field(default_factory=list)  # -v only
    # Which packets: the expected one's record index in the file, the host's output by
    # its number in the case (0, 1, ...): the --html ladder marks them.
    expected_index: int | None = None
    got_number: int | None = None
    # The packets themselves, hex (--html only: its dissections side by side).
    expected_hex: str = ""
    got_hex: str = ""

    def lines(self) -> list[str]:
        return [f"{self.where}: {self.summary}"] + [f"    {line}" for line in self.details] \
            + [f"    {line}" for line in self.dissection]


@dataclass
class TimelineEvent:
    """One packet of a case as the --html ladder draws it: ``lane`` ``recorded``
    (recorded inbound; ``number`` its record index), ``in`` (delivered to the host, after
    faults; ``note`` is what the host did), ``expected`` (recorded outbound; ``number``
    its record index) or ``got`` (sent by the host; ``number`` counts them from 0,
    ``note`` says ``timer`` for a timer's output)."""

    lane: str
    number: int
    time: float
    summary: str
    note: str = ""
    mismatch: int = -1  # the mismatch about this packet (one the stack failed on), or -1


@dataclass
class CaseResult:
    name: str
    section: int
    inbound: int = 0  # inbound packets in the capture
    delivered: int = 0  # inbound packets handed to the host (after faults)
    expected: int = 0  # outbound packets in the capture
    got: int = 0  # packets the host sent
    foreign: int = 0  # IP packets neither to nor from the host
    non_ip: int = 0  # frames that carry no IP (ARP ...)
    mismatches: list[Mismatch] = field(default_factory=list)  # the first KEEP_MISMATCHES
    mismatch_count: int = 0
    drops: dict[str, int] = field(default_factory=dict)
    replies: dict[str, int] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)
    faults: dict[str, int] | None = None
    fault_events: list[str] = field(default_factory=list)  # the first KEEP_LINES
    checked_with: str = ""  # how outputs were judged: "bytes", "stack.oracle", ...
    profile: str = ""  # the comparison profile used
    # The section metadata's "deviation": why tunstack deliberately answers otherwise
    # than the recording (corpus/README.md). Differences in such a case are reported but
    # do not fail it; an exception or a broken invariant still does.
    deviation: str | None = None
    trace: list[str] = field(default_factory=list)  # -v without --expect; KEEP_LINES
    # --html only: the first KEEP_TIMELINE packets, and how many more there were
    timeline: list[TimelineEvent] = field(default_factory=list)
    timeline_cut: int = 0
    # A stack that can crash (stack.sut): the inbound packets delivered up to a crash or
    # hang, saved as a pcapng, and the last lines the stack printed.
    reproducer: str | None = None
    stack_output: list[str] = field(default_factory=list)
    skipped: str | None = None  # --skip-slow: why the case was not run

    @property
    def verdict(self) -> str:
        """pass, mismatch, crashed, hung, deviates (as documented) or skipped."""
        kinds = {m.kind for m in self.mismatches}
        if "crashed" in kinds:
            return "crashed"
        if "hung" in kinds:
            return "hung"
        if self.excused:
            return "deviates"
        if self.mismatch_count:
            return "mismatch"
        return "skipped" if self.skipped is not None else "pass"

    @property
    def passed(self) -> bool:
        return not self.mismatch_count or self.excused

    @property
    def excused(self) -> bool:
        """Every difference is one the metadata documents as a deliberate deviation."""
        return (self.deviation is not None and bool(self.mismatch_count)
                and len(self.mismatches) == self.mismatch_count
                and all(m.kind in _DIFFERENCES for m in self.mismatches))

    def add(self, mismatch: Mismatch) -> None:
        self.mismatch_count += 1
        if len(self.mismatches) < KEEP_MISMATCHES:
            self.mismatches.append(mismatch)

    def keep_event(self, event: TimelineEvent) -> None:
        """One packet for the --html ladder (the first KEEP_TIMELINE, then counted)."""
        if len(self.timeline) < KEEP_TIMELINE:
            self.timeline.append(event)
        else:
            self.timeline_cut += 1

    def note(self, line: str) -> None:
        """One -v trace line (kept up to KEEP_LINES, then one line saying so)."""
        if len(self.trace) < KEEP_LINES:
            self.trace.append(line)
        elif len(self.trace) == KEEP_LINES:
            self.trace.append(f"… trace cut at {KEEP_LINES} lines")


@dataclass
class FileResult:
    path: str
    cases: list[CaseResult] = field(default_factory=list)
    error: str | None = None  # unreadable input or bad setup: exit 2
    packets: int = 0

    @property
    def failed(self) -> bool:
        return any(not case.passed for case in self.cases)

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        for case, original in zip(data["cases"], self.cases, strict=True):
            case["passed"] = original.passed
            case["excused"] = original.excused
            if not original.timeline:  # kept for --html only
                del case["timeline"], case["timeline_cut"]
            case["verdict"] = original.verdict
        return data
