"""The timeline driver: feed a capture's inbound packets to a fresh host per case, on the
capture's clock, and compare what it sends with what the capture recorded.

Timing: each inbound packet is handed to ``handle(packet, now=its timestamp)``; before
it, ``poll`` runs at every ``next_timer()`` deadline that falls due, so reassembly
timeouts replay deterministically. After the last packet of a case, timers run up to the
case's last timestamp (plus ``--settle``, plus the timer tolerance under ``--expect``).

Comparison (``--expect`` without faults): the host's outputs are compared in order with
the recorded outbound packets, field by field (:mod:`replay.compare`); timer outputs must
also fall within the profile's tolerance of the recorded time.

Under faults, ``--expect`` checks invariants instead of bytes: no exception, every
output valid, no forbidden reply (:mod:`stack.oracle`), host tables within their caps.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from replay.cases import (
    DirectionClassifier,
    SetupError,
    build_config,
    case_name,
)
from replay.compare import Comparator, Expected, Output
from replay.faults import FaultInjector, FaultSpec
from replay.profiles import profile_for
from replay.results import KEEP_LINES, CaseResult, FileResult, Mismatch, TimelineEvent
from stack import __version__
from stack.capture import (
    DIRECTION_INBOUND,
    DIRECTION_OUTBOUND,
    LINKTYPE_ETHERNET,
    CaptureError,
    CaptureRecord,
    CaptureWriter,
    read_capture,
    strip_link_header,
    timer_comment,
)
from stack.host.host import Host
from stack.link import LinkHost
from stack.sut import (
    StackCrashed,
    StackError,
    StackHung,
    StackStartError,
    StackUnderTest,
    capabilities_of,
)
from stack.sut.addressmap import MapError
from stack.sut.spec import StackSpec, open_stack
from stack.wire.inspect import describe, validate

try:  # the fuzz helper's invariants; inspect.validate alone when it is absent
    from stack.oracle import check_host, find_violations
    ORACLE = "stack.oracle"
except ImportError:  # pragma: no cover - depends on the tree's state
    find_violations = None  # type: ignore[assignment]
    check_host = None  # type: ignore[assignment]
    ORACLE = "inspect.validate"

__all__ = ["Options", "replay_file", "GoldenWriter", "ORACLE"]

PROGRESS_EVERY = 4096  # records between progress callbacks
# A real-time stack's timer outputs come this much later than the recorded ones at most:
# our collection windows and the scheduling of two processes on a busy machine.
REAL_TIME_SLACK = 0.25
REPRODUCER_PACKETS = 100_000  # inbound packets kept per case for a crash reproducer


class _TapReplay:
    """A TAP recording replayed through the link layer stack-live ran (issue 13 item
    16): each recorded frame goes to the same LinkHost, so a frame it dropped
    (``eth.not_for_us``) is dropped again and the ARP and neighbour traffic is
    replayed too; what it sends is compared as IP packets (ARP frames are not IP)."""

    def __init__(self, host: Host) -> None:
        self.link = LinkHost(host)
        self.stats = host.stats  # one object for the host's life (reset in place)
        self.frame = b""  # the recorded frame of the packet handed to handle()

    @property
    def last_reason(self) -> str:
        return self.link.last_reason

    @last_reason.setter
    def last_reason(self, value: str) -> None:
        self.link.last_reason = value

    def handle(self, packet: bytes, now: float) -> list[bytes]:
        return _ip_of(self.link.handle(self.frame, now))

    def poll(self, now: float) -> list[bytes]:
        return _ip_of(self.link.poll(now))

    def next_timer(self) -> float | None:
        return self.link.next_timer()


def _ip_of(frames: list[bytes]) -> list[bytes]:
    packets = (strip_link_header(frame, LINKTYPE_ETHERNET)[0] for frame in frames)
    return [packet for packet in packets if packet is not None]


@dataclass(frozen=True)
class Options:
    expect: bool = False
    addresses: tuple[str, ...] = ()
    profile: str | None = None  # None: each case's metadata chooses (profiles.profile_for)
    ignore: frozenset[str] = frozenset()  # added to the profile's
    tolerance: float | None = None  # None: the profile's
    settle: float = 0.0
    verbose: bool = False
    faults: FaultSpec | None = None
    stack: StackSpec = StackSpec()  # the stack under test: tunstack in-process by default
    skip_slow: float | None = None  # real-time stacks: skip cases longer than this (s)
    crash_dir: str | None = None  # where crash and hang reproducers go (None: a new
    # private directory under $TMPDIR, made when the first one is written)
    # --html: keep each case's first packets (results.KEEP_TIMELINE) and the packets of
    # every mismatch, for its ladder diagrams and dissections
    timeline: bool = False


class GoldenWriter:
    """``--write``: one pcapng section per case, created when the case starts. Every
    section's interface is named ``replay`` and described alike (Wireshark 4.0 shows
    the first section's interface block for the packets of every section). The first
    failure (a full disk, a time pcapng cannot hold) becomes ``error``, one line; the
    replay goes on without writing, and the file keeps every packet written before."""

    INTERFACE_NAME = "replay"
    INTERFACE_DESCRIPTION = f"tunstack {__version__} replay --write, RAW"

    def __init__(self, path: str) -> None:
        self.path = path
        self._writer: CaptureWriter | None = None
        self.error: str | None = None

    def start_case(self, metadata: dict[str, Any]) -> GoldenWriter:
        if self.error is None:
            try:
                if self._writer is None:
                    self._writer = CaptureWriter(
                        self.path, metadata=metadata, interface_name=self.INTERFACE_NAME,
                        interface_description=self.INTERFACE_DESCRIPTION)
                else:
                    self._writer.new_section(metadata)
            except CaptureError as exc:
                self.error = str(exc)
        return self

    def write(self, data: bytes, timestamp: float, direction: int,
              comment: str | None = None) -> None:
        if self.error is None and self._writer is not None:
            try:
                self._writer.write(data, timestamp, direction, comment)
            except CaptureError as exc:
                self.error = str(exc)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def _at(time: float) -> str:
    return f"t={time:.6f}"


class _CaseDriver:
    """One case: a fresh host (or responder), fed record by record, judged at the end."""

    def __init__(self, path: str, section: int, metadata: dict[str, Any] | None,
                 options: Options, golden: GoldenWriter | None) -> None:
        self.options = options
        self.config = build_config(metadata, options.addresses)
        name = case_name(path, section, metadata)
        self.result = CaseResult(name=name, section=section)
        if metadata and isinstance(metadata.get("deviation"), str) and options.expect:
            self.result.deviation = metadata["deviation"]
        self.classifier = DirectionClassifier(self.config)
        spec = options.faults
        self.faults = (FaultInjector(spec, f"{os.path.basename(path)}/{section}")
                       if spec is not None and spec.active else None)
        self.compare = options.expect and self.faults is None
        self.check = options.expect and self.faults is not None
        self.result.checked_with = ("bytes" if self.compare else ORACLE if self.check else "")
        self.writer: GoldenWriter | None = None
        if golden is not None:
            recorder: dict[str, object] = {"tool": "replay", "source": path, "section": section}
            if self.faults is not None and spec is not None:
                recorder["faults"] = spec.describe()
            if options.stack.describe():
                recorder["responder"] = options.stack.describe()
            self.writer = golden.start_case({
                "case": name,
                "description": f"replay of {os.path.basename(path)} section {section}",
                "addresses": self.config.addresses(),
                "config": self.config.to_json(),
                "recorder": recorder,
            })
        self.path = path
        # last, so nothing above can fail with a responder process left running
        self.host: StackUnderTest = open_stack(options.stack, self.config, Host)
        self.tap: bool | None = None  # decided by the first record (feed)
        capabilities = capabilities_of(self.host)
        self.real_time = not capabilities.exact_timers
        self.can_crash = capabilities.can_crash
        self.delivered: list[tuple[float, bytes]] = []  # for a reproducer
        self.waiting: tuple[float, bytes, str] | None = None  # real time: the next's due
        self.clock = float("-inf")
        self.last_time: float | None = None
        self.broken = False  # the host raised or the responder failed: stop feeding it
        profile = profile_for(metadata, options.profile)
        self.result.profile = profile.name
        self.tolerance = (profile.timer_tolerance if options.tolerance is None
                          else options.tolerance)
        if self.real_time:
            self.tolerance += REAL_TIME_SLACK
        if capabilities.kind == "kernel":
            # the kernel under test fires its timers late on the same wheel as the one
            # recorded (profiles.py): either may be the later one by up to that much
            self.tolerance += profile.recorded_late
        self.comparator = Comparator(profile.ignore | options.ignore, self.tolerance,
                                     options.verbose, self.result.add, profile.recorded_late,
                                     keep_packets=options.timeline)
        self.last_inbound = "before the first inbound packet"

    # -- feeding ---------------------------------------------------------------------
    def feed(self, record: CaptureRecord) -> None:
        result = self.result
        time = record.timestamp
        if self.last_time is None or time > self.last_time:
            self.last_time = time
        if self.tap is None:
            # An Ethernet recording of a TAP-mode host replays through its link layer
            # (in-process, without faults: they work on IP packets).
            core = self.host
            self.tap = (record.linktype == LINKTYPE_ETHERNET and isinstance(core, Host)
                        and self.config.link_address is not None and self.faults is None)
            if self.tap and isinstance(core, Host):
                self.host = _TapReplay(core)
        packet = record.data
        if self.tap and isinstance(self.host, _TapReplay):
            self.host.frame = record.frame
            if packet is None and record.direction == DIRECTION_INBOUND:
                # ARP and the like: no IP to compare, but the link layer must see it
                result.non_ip += 1
                self._deliver(time, b"", f"inbound #{record.index}")
                return
        if packet is None:
            result.non_ip += 1
            return
        direction = self.classifier.classify(packet, record.direction)
        if direction == DIRECTION_INBOUND:
            result.inbound += 1
            if self.options.timeline:
                result.keep_event(TimelineEvent("recorded", record.index, time,
                                                describe(packet)))
            label = f"inbound #{record.index}"
            if self.faults is None and self.real_time:
                # deliver the one before, now that we know when this one leaves: its
                # answers are collected until then (stack.sut.wire)
                self._deliver_waiting(time)
                self.waiting = (time, packet, label)
            elif self.faults is None:
                self._deliver(time, packet, label)
            else:
                for when, faulty, fault_label in self.faults.push(time, packet, label):
                    self._deliver(when, faulty, fault_label)
        elif direction == DIRECTION_OUTBOUND:
            result.expected += 1
            if self.options.timeline:
                result.keep_event(TimelineEvent("expected", record.index, time,
                                                describe(packet)))
            if self.compare:
                self.comparator.add_expected(Expected(record.index, time, packet,
                                                      self.last_inbound))
        else:
            result.foreign += 1

    def _fail(self, where: str, summary: str, kind: str = "error") -> None:
        self.result.add(Mismatch(kind, where, summary))
        self.broken = True

    def _stack_failed(self, where: str, exc: StackError) -> None:
        """The stack under test crashed, hung or misbehaved: the verdict, the stack's
        last words and a reproducer (the inbound packets delivered so far)."""
        kind = ("crashed" if isinstance(exc, StackCrashed)
                else "hung" if isinstance(exc, StackHung) else "error")
        self._fail(where, str(exc), kind)
        tail = getattr(self.host, "output_tail", None)
        if callable(tail):
            self.result.stack_output = list(tail())
        if kind != "error":
            self.result.reproducer = self._write_reproducer(kind)

    def _write_reproducer(self, kind: str) -> str | None:
        name = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.result.name)
        try:
            directory = self.options.crash_dir or _private_directory()
            os.makedirs(directory, exist_ok=True)
            path = os.path.join(directory, f"{name}-{kind}.pcapng")
            writer = CaptureWriter(path, metadata={
                "case": self.result.name,
                "description": f"the inbound packets up to the {kind} stack "
                               f"({self.options.stack.describe()}) of {self.result.name}",
                "config": self.config.to_json(),
                "recorder": {"tool": "replay", "source": self.path,
                             "verdict": kind},
            })
            try:
                for when, packet in self.delivered:
                    writer.write(packet, when, DIRECTION_INBOUND)
            finally:
                writer.close()
        except (OSError, CaptureError) as exc:
            self.result.note(f"no reproducer written: {exc}")
            return None
        return path

    def _deliver_waiting(self, next_time: float | None) -> None:
        if self.waiting is None:
            return
        time, packet, label = self.waiting
        self.waiting = None
        if hasattr(self.host, "until"):
            self.host.until = next_time  # type: ignore[attr-defined]
        self._deliver(time, packet, label)

    def _deliver(self, time: float, packet: bytes, label: str) -> None:
        self._run_timers(time)
        if self.broken:
            return
        if time > self.clock:
            self.clock = time
        now = self.clock
        self.result.delivered += 1
        if self.can_crash and len(self.delivered) < REPRODUCER_PACKETS:
            self.delivered.append((now, packet))
        try:
            outputs = self.host.handle(packet, now)
        except StackError as exc:
            self._stack_failed(f"{label} ({_at(now)})", exc)
            self._keep_failed_inbound(now, packet)
            return
        except Exception as exc:  # the core must never raise: report it, don't crash
            self._fail(f"{label} ({_at(now)})",
                       f"host raised {type(exc).__name__}: {exc} on {describe(packet)}")
            self._keep_failed_inbound(now, packet)
            return
        reason = self.host.last_reason
        self.last_inbound = f"after {label}: {reason}" if reason else f"after {label}"
        if self.options.timeline:
            self.result.keep_event(TimelineEvent("in", self.result.delivered - 1, now,
                                                 describe(packet), reason))
        self._emitted(now, packet, outputs, label, timer=False, comment=reason)

    def _keep_failed_inbound(self, now: float, packet: bytes) -> None:
        """--html: the packet the stack failed on goes in the ladder, linked to the
        failure just reported (crashed, hung, error)."""
        if self.options.timeline:
            result = self.result
            self.result.keep_event(TimelineEvent(
                "in", result.delivered - 1, now, describe(packet), result.mismatches[-1].kind
                if result.mismatches else "", mismatch=result.mismatch_count - 1))

    def _emitted(self, now: float, inbound: bytes | None, outputs: list[bytes], label: str,
                 timer: bool, comment: str = "") -> None:
        """``comment``: why (the host's reason), each written packet's --write comment."""
        first_number = self.result.got
        self.result.got += len(outputs)
        if self.writer is not None:
            if inbound:  # b"": a TAP recording's non-IP frame, no IP packet to write
                self.writer.write(inbound, now, DIRECTION_INBOUND, comment)
            for output in outputs:
                self.writer.write(output, now, DIRECTION_OUTBOUND, comment)
        times = getattr(self.host, "output_times", None) if self.real_time else None
        if self.options.timeline:
            for index, output in enumerate(outputs):
                when = times[index] if times and index < len(times) else now
                self.result.keep_event(TimelineEvent("got", first_number + index, when,
                                                     describe(output),
                                                     "timer" if timer else ""))
        if self.compare:
            for index, output in enumerate(outputs):
                when = times[index] if times and index < len(times) else now
                self.comparator.add_output(Output(when, output, timer, label,
                                                  first_number + index))
        elif self.check:
            self._check_invariants(inbound, outputs, label, now)
        if self.options.verbose and not self.options.expect:
            trace = self.result.note
            if inbound is not None:
                trace(f"{_at(now)} in  {label}: {describe(inbound)} -> "
                             f"{self.host.last_reason or 'no reason'}")
            for output in outputs:
                trace(f"{_at(now)} out{' (timer)' if timer else ''}: {describe(output)}")

    def _run_timers(self, until: float) -> None:
        host = self.host
        if self.real_time:
            return  # its timers run on their own; finish waits them out (_wait_out)
        while not self.broken:
            deadline = host.next_timer()
            if deadline is None or deadline > until:
                return
            now = max(deadline, self.clock)
            self.clock = now
            # a copy: stats.replies may be one Counter folded in place
            replied_before = dict(host.stats.replies) if self.writer is not None else {}
            try:
                outputs = host.poll(now)
            except Exception as exc:  # reported, never a traceback
                self._fail(f"timer ({_at(now)})", f"host.poll raised {type(exc).__name__}: {exc}")
                return
            comment = (timer_comment(replied_before, host.stats.replies)
                       if self.writer is not None and outputs else "")
            self._emitted(now, None, outputs, f"timer ({_at(now)})", timer=True,
                          comment=comment)
            if host.next_timer() == deadline:
                self._fail(f"timer ({_at(now)})",
                           f"next_timer() still says {deadline} after poll({now})")
                return

    # -- judging -----------------------------------------------------------------------
    def _check_invariants(self, inbound: bytes | None, outputs: list[bytes], label: str,
                          now: float) -> None:
        where = f"{label} ({_at(now)})"
        if find_violations is not None:
            host = self.host if isinstance(self.host, Host) else None
            for violation in find_violations(inbound, outputs, host):
                details = []
                if violation.output_index is not None:
                    details.append(f"output: {describe(outputs[violation.output_index])}")
                if inbound is not None:
                    details.append(f"inbound: {describe(inbound)}")
                self.result.add(Mismatch("violation", where, str(violation),
                                                       details))
            return
        for index, output in enumerate(outputs):
            for problem in validate(output):
                self.result.add(Mismatch(
                    "violation", where, f"output.invalid (output {index}): {problem}",
                    [f"output: {describe(output)}"]))

    def finish(self) -> CaseResult:
        try:
            if self.faults is not None:
                for when, packet, label in self.faults.flush():
                    self._deliver(when, packet, label)
                log = self.faults.log
                self.result.faults = log.counts()
                self.result.fault_events = log.events[:KEEP_LINES]
            # the last packet of the capture, or of the timeline if faults delayed it
            end = max(self.clock, self.last_time if self.last_time is not None else self.clock)
            end += self.options.settle
            if self.options.expect:
                end += self.tolerance
            if self.real_time:
                self._deliver_waiting(None)
                self._wait_out(end)
            else:
                self._run_timers(end)
            if self.compare:
                self.comparator.finish()
            if self.check and check_host is not None and isinstance(self.host, Host):
                for violation in check_host(self.host):
                    self.result.add(Mismatch("violation", "end of case",
                                                           str(violation)))
        finally:
            self._close()
        stats = self.host.stats
        self.result.drops = dict(sorted(stats.drops.items()))
        self.result.replies = dict(sorted(stats.replies.items()))
        self.result.events = dict(sorted(stats.events.items()))
        return self.result

    def _wait_out(self, end: float) -> None:
        """A real-time stack: wait until ``end`` on the case's clock, collecting what
        its timers send, then check it is still alive."""
        if self.broken:
            return
        now = max(end, self.clock)
        try:
            outputs = self.host.poll(now)
            self._emitted(now, None, outputs, f"timer ({_at(now)})", timer=True)
            check = getattr(self.host, "check_alive", None)
            if callable(check):
                check()
        except StackError as exc:
            self._stack_failed(f"end of case ({_at(now)})", exc)

    def _close(self) -> None:
        close = getattr(self.host, "close", None)
        if callable(close):
            close()

    def abandon(self) -> None:
        self._close()


_REPRODUCERS: list[str] = []  # this process's private directory, once made


def _private_directory() -> str:
    """A directory only we can write (mkdtemp: mode 0700, a fresh name), for reproducers
    when --crash-dir is not given: a fixed name in /tmp could be someone's symlink."""
    if not _REPRODUCERS:
        _REPRODUCERS.append(tempfile.mkdtemp(prefix="replay-reproducers-"))
    return _REPRODUCERS[0]


def _slow_sections(path: str, options: Options) -> dict[int, str]:
    """``--skip-slow``: the sections of ``path`` that would take longer than
    ``options.skip_slow`` seconds of real time (recorded span plus --settle), and why.
    An unreadable file has none here: the replay itself reports the damage."""
    spans: dict[int, list[float]] = {}
    try:
        for record in read_capture(path):
            span = spans.setdefault(record.section, [record.timestamp, record.timestamp])
            span[0] = min(span[0], record.timestamp)
            span[1] = max(span[1], record.timestamp)
    except CaptureError:
        pass
    limit = options.skip_slow if options.skip_slow is not None else float("inf")
    return {section: (f"would take {last - first + options.settle:.1f} s of real time "
                      f"(--skip-slow {limit:g})")
            for section, (first, last) in spans.items()
            if last - first + options.settle > limit}


def replay_file(path: str, options: Options, golden: GoldenWriter | None = None,
                progress: Callable[[int], None] | None = None) -> FileResult:
    """Replay every case of ``path``. Unreadable input and bad setup end up in
    ``FileResult.error`` (one line), as do a failing ``--write`` target and a
    responder that cannot start; nothing raises."""
    result = FileResult(path)
    driver: _CaseDriver | None = None
    count = 0
    slow = _slow_sections(path, options) if options.skip_slow is not None else {}
    skipping: int | None = None
    try:
        for record in read_capture(path):
            count += 1
            if record.section == skipping:
                continue
            if driver is None or record.section != driver.result.section:
                if driver is not None:
                    result.cases.append(driver.finish())
                    driver = None
                if record.section in slow:
                    skipping = record.section
                    skipped = CaseResult(case_name(path, record.section, record.metadata),
                                         record.section)
                    skipped.skipped = slow[record.section]
                    result.cases.append(skipped)
                    continue
                driver = _CaseDriver(path, record.section, record.metadata, options, golden)
            driver.feed(record)
            if progress is not None and count % PROGRESS_EVERY == 0:
                progress(PROGRESS_EVERY)
        if driver is not None:
            result.cases.append(driver.finish())
            driver = None
    except CaptureError as exc:
        # What was read before the damage is still replayed and reported (a recording
        # cut short by a kill loses nothing before its last whole packet); the file
        # still counts as unreadable.
        if driver is not None:
            result.cases.append(driver.finish())
            driver = None
        result.error = str(exc)
    except SetupError as exc:
        result.error = f"{path}: {exc}"
    except (StackStartError, MapError) as exc:
        result.error = str(exc)
    finally:
        if driver is not None:
            driver.abandon()
    if progress is not None:
        progress(count % PROGRESS_EVERY)
    result.packets = count
    return result
