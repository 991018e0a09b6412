"""From a finding to a regression case: reproduce, minimize, export.

``reproduce`` runs one input through its target and returns the violation (or None).
``minimize`` shrinks an input while it keeps breaking the *same* rule, repairing
checksums after each cut so the shrunk input still gets as far as the original.
``export`` turns an input into a pcapng case in ``corpus/regress/``: the inbound
packets with their times, the answers the host gives *now* (the fixed answer) as
outbound packets, and the host configuration in the section metadata, so
``replay corpus/regress/<case>.pcapng --expect`` keeps it fixed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fuzz.packets import repair
from fuzz.sequence_codec import ADVANCE_MS, ADVANCE_S, NEXT_TIMER, PACKET, Step, decode, encode
from fuzz.targets import (
    FLUSH_AFTER,
    PACKET_CONFIG,
    SEQUENCE_CONFIGS,
    START_TIME,
    Target,
    full_cross_check,
    make_host,
)
from stack.host.config import HostConfig
from stack.oracle import OracleViolation, find_violations

__all__ = ["reproduce", "check_inputs", "minimize", "export", "timeline", "drive", "ExportError"]


class ExportError(Exception):
    """The input cannot become a regression case; the message says why, in one line."""


def reproduce(target: Target, data: bytes) -> OracleViolation | None:
    """The violation ``data`` causes, judged in full (dpkt on every output)."""
    before = full_cross_check(True)
    try:
        target.run(data)
    except OracleViolation as violation:
        return violation
    finally:
        full_cross_check(before)
    return None


def check_inputs(target: Target, directories: list[Path]
                 ) -> tuple[int, list[tuple[Path, OracleViolation]]]:
    """Every input file under ``directories`` through the full oracle (the dpkt
    cross-check the fuzzing itself only samples): (inputs checked, findings)."""
    checked = 0
    findings: list[tuple[Path, OracleViolation]] = []
    for directory in directories:
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            if not path.is_file():
                continue
            checked += 1
            violation = reproduce(target, path.read_bytes())
            if violation is not None:
                findings.append((path, violation))
    return checked, findings


def _first_rule(target: Target, data: bytes) -> str | None:
    found = reproduce(target, data)
    return found.rules[0] if found is not None else None


def minimize(target: Target, data: bytes, max_attempts: int = 4000,
             progress: Callable[[int], None] | None = None) -> tuple[bytes, str]:
    """The smallest input found that breaks the same first rule as ``data``."""
    rule = _first_rule(target, data)
    if rule is None:
        raise ExportError(f"the input does not fail the {target.name} target")
    attempts = 0

    def keeps_failing(candidate: bytes) -> bool:
        nonlocal attempts
        attempts += 1
        return _first_rule(target, candidate) == rule

    if target.name in ("sequence", "tap"):
        link_header = 14 if target.name == "tap" else 0
        config, steps = decode(data)
        index = 0
        while index < len(steps) and attempts < max_attempts:
            shorter = steps[:index] + steps[index + 1:]
            if keeps_failing(encode(config, shorter)):
                steps = shorter
            else:
                index += 1
        for index, step in enumerate(steps):
            if step.op != PACKET:
                continue

            def rebuild(packet: bytes, index: int = index) -> bytes:
                return encode(config, steps[:index] + [Step.packet(packet)] + steps[index + 1:])

            small = _shrink(step.data, lambda p, rebuild=rebuild: keeps_failing(rebuild(p)),  # type: ignore[misc]
                            lambda: attempts < max_attempts, repairable=True,
                            link_header=link_header)
            steps[index] = Step.packet(small)
        best = encode(config, steps)
    else:
        best = _shrink(data, keeps_failing, lambda: attempts < max_attempts,
                       repairable=target.name in ("ipv4", "ipv6", "referee"))
    if progress is not None:
        progress(attempts)
    return best, rule


def _shrink(data: bytes, keeps_failing: Callable[[bytes], bool], budget: Callable[[], bool],
            *, repairable: bool, link_header: int = 0) -> bytes:
    """Delta debugging by halves: cut chunks while the failure stays; with
    ``repairable`` each cut is also tried with its lengths and checksums repaired."""
    best = data
    chunk = max(len(best) // 2, 1)
    while chunk >= 1 and budget():
        position = link_header
        changed = False
        while position < len(best) and budget():
            cut = best[:position] + best[position + chunk:]
            variants = [cut]
            if repairable or link_header:
                variants.append(cut[:link_header] + repair(cut[link_header:]))
            for variant in variants:
                if variant != best and keeps_failing(variant):
                    best = variant
                    changed = True
                    break
            else:
                position += chunk
        if not changed:
            chunk //= 2
    return best


# -- timelines and export -------------------------------------------------------------

def timeline(target: Target, data: bytes) -> tuple[HostConfig, list[tuple[float, bytes]], float]:
    """(config, [(time, inbound)], end time) that a replay driver reproduces: packets
    at their times, timers run whenever due."""
    if target.name in ("ipv4", "ipv6"):
        version = 0x40 if target.name == "ipv4" else 0x60
        packet = bytes([version | (data[0] & 0x0F)]) + data[1:] if data else data
        return PACKET_CONFIG, [(START_TIME, packet)], START_TIME + FLUSH_AFTER
    if target.name == "sequence":
        config, steps = decode(data)
        now = START_TIME
        events: list[tuple[float, bytes]] = []
        probe = make_host(SEQUENCE_CONFIGS[config])
        for step in steps:
            if step.op == PACKET:
                events.append((now, step.data))
                probe.handle(step.data, now)
            elif step.op == ADVANCE_MS:
                now += step.value / 1000.0
            elif step.op == ADVANCE_S:
                now += float(step.value)
            elif step.op == NEXT_TIMER:
                deadline = probe.next_timer()
                if deadline is not None and deadline > now:
                    now = deadline
        return SEQUENCE_CONFIGS[config], events, now
    raise ExportError(f"the {target.name} target's inputs are not packet timelines")


def drive(host: Any, events: list[tuple[float, bytes]], end: float
          ) -> list[tuple[float, int, bytes]]:
    """Play the timeline as an event loop does; (time, direction, packet) records with
    direction 1 inbound, 2 outbound."""
    records: list[tuple[float, int, bytes]] = []

    def timers_until(limit: float) -> None:
        for _ in range(10000):  # a bound; each poll moves the next timer forward
            deadline = host.next_timer()
            if deadline is None or deadline > limit:
                return
            records.extend((deadline, 2, out) for out in host.poll(deadline))

    for now, packet in events:
        timers_until(now)
        records.append((now, 1, packet))
        records.extend((now, 2, out) for out in host.handle(packet, now))
    timers_until(end)
    return records


def export(target: Target, data: bytes, directory: Path, name: str, *,
           rule: str | None = None, force: bool = False) -> Path:
    """Write the case; refuses (ExportError) while the host still breaks a rule on it,
    unless ``force`` (the recorded answer would then be the wrong one)."""
    from stack.capture import CaptureWriter

    config, events, end = timeline(target, data)
    host: Any = make_host(config)
    try:
        records = drive(host, events, end)
    except Exception as exc:  # noqa: BLE001 - the core must not raise; say so clearly
        raise ExportError(f"the host raises on this input ({type(exc).__name__}: {exc}); "
                          "fix the core first") from None
    # The target judges the input as the fuzzer did: per-answer rules, tables
    # (state.*) and timers (timer.*) as well as what was sent.
    still = reproduce(target, data)
    problems = [str(v) for v in still.violations] if still is not None else []
    problems += [str(v) for v in find_violations(None, [r[2] for r in records if r[1] == 2],
                                                 host)]
    if problems and not force:
        raise ExportError(f"the host still breaks {problems[0]}; fix the core first "
                          "(or --force to record the current answer)")
    directory.mkdir(exist_ok=True)  # one level: the command line checked its parent
    path = directory / f"{name}.pcapng"
    metadata = {"case": name, "origin": "stack-fuzz export", "target": target.name,
                "rule": rule, "config": config.to_json(),
                "input_hex": data.hex() if len(data) <= 4096 else None}
    with CaptureWriter(str(path), linktype=101, metadata=metadata) as writer:
        for when, direction, packet in records:
            writer.write(packet, when, direction)
    return path

