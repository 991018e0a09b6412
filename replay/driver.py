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
from replay.responder import ExternalResponder, ResponderError, ResponderStartError
from replay.results import KEEP_LINES, CaseResult, FileResult, Mismatch, TimelineEvent
from stack import __version__
from stack.capture import (
    DIRECTION_INBOUND,
    DIRECTION_OUTBOUND,
    CaptureError,
    CaptureRecord,
    CaptureWriter,
    read_capture,
    timer_comment,
)
from stack.host.host import Host
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
    responder: str | None = None
    responder_timeout: float = 30.0
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
            if options.responder:
                recorder["responder"] = options.responder
            self.writer = golden.start_case({
                "case": name,
                "description": f"replay of {os.path.basename(path)} section {section}",
                "addresses": self.config.addresses(),
                "config": self.config.to_json(),
                "recorder": recorder,
            })
        # last, so nothing above can fail with a responder process left running
        self.host: Host | ExternalResponder = (
            ExternalResponder(options.responder, options.responder_timeout)
            if options.responder else Host(self.config))
        self.clock = float("-inf")
        self.last_time: float | None = None
        self.broken = False  # the host raised or the responder failed: stop feeding it
        profile = profile_for(metadata, options.profile)
        self.result.profile = profile.name
        self.tolerance = (profile.timer_tolerance if options.tolerance is None
                          else options.tolerance)
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
        packet = record.data
        if packet is None:
            result.non_ip += 1
            return
        direction = self.classifier.classify(packet, record.direction)
        if direction == DIRECTION_INBOUND:
            result.inbound += 1
            label = f"inbound #{record.index}"
            if self.faults is None:
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

    def _fail(self, where: str, summary: str) -> None:
        self.result.add(Mismatch("error", where, summary))
        self.broken = True

    def _deliver(self, time: float, packet: bytes, label: str) -> None:
        self._run_timers(time)
        if self.broken:
            return
        if time > self.clock:
            self.clock = time
        now = self.clock
        self.result.delivered += 1
        try:
            outputs = self.host.handle(packet, now)
        except ResponderError as exc:
            self._fail(f"{label} ({_at(now)})", str(exc))
            return
        except Exception as exc:  # the core must never raise: report it, don't crash
            self._fail(f"{label} ({_at(now)})",
                       f"host raised {type(exc).__name__}: {exc} on {describe(packet)}")
            return
        reason = self.host.last_reason
        self.last_inbound = f"after {label}: {reason}" if reason else f"after {label}"
        if self.options.timeline:
            self.result.keep_event(TimelineEvent("in", self.result.delivered - 1, now,
                                                 describe(packet), reason))
        self._emitted(now, packet, outputs, label, timer=False, comment=reason)

    def _emitted(self, now: float, inbound: bytes | None, outputs: list[bytes], label: str,
                 timer: bool, comment: str = "") -> None:
        """``comment``: why (the host's reason), each written packet's --write comment."""
        first_number = self.result.got
        self.result.got += len(outputs)
        if self.writer is not None:
            if inbound is not None:
                self.writer.write(inbound, now, DIRECTION_INBOUND, comment)
            for output in outputs:
                self.writer.write(output, now, DIRECTION_OUTBOUND, comment)
        if self.options.timeline:
            for number, output in enumerate(outputs, first_number):
                self.result.keep_event(TimelineEvent("got", number, now, describe(output),
                                                     "timer" if timer else ""))
        if self.compare:
            for number, output in enumerate(outputs, first_number):
                self.comparator.add_output(Output(now, output, timer, label, number))
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
            self._run_timers(end)
            if self.compare:
                self.comparator.finish()
            if self.check and check_host is not None and isinstance(self.host, Host):
                for violation in check_host(self.host):
                    self.result.add(Mismatch("violation", "end of case",
                                                           str(violation)))
        finally:
            if isinstance(self.host, ExternalResponder):
                self.host.close()
        stats = self.host.stats
        self.result.drops = dict(sorted(stats.drops.items()))
        self.result.replies = dict(sorted(stats.replies.items()))
        self.result.events = dict(sorted(stats.events.items()))
        return self.result

    def abandon(self) -> None:
        if isinstance(self.host, ExternalResponder):
            self.host.close()


def replay_file(path: str, options: Options, golden: GoldenWriter | None = None,
                progress: Callable[[int], None] | None = None) -> FileResult:
    """Replay every case of ``path``. Unreadable input and bad setup end up in
    ``FileResult.error`` (one line), as do a failing ``--write`` target and a
    responder that cannot start; nothing raises."""
    result = FileResult(path)
    driver: _CaseDriver | None = None
    count = 0
    try:
        for record in read_capture(path):
            count += 1
            if driver is None or record.section != driver.result.section:
                if driver is not None:
                    result.cases.append(driver.finish())
                    driver = None
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
    except ResponderStartError as exc:
        result.error = str(exc)
    finally:
        if driver is not None:
            driver.abandon()
    if progress is not None:
        progress(count % PROGRESS_EVERY)
    result.packets = count
    return result
