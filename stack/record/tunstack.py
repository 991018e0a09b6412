"""The tunstack recorder: play the probe set against tunstack's own core.

Each case gets a fresh ``Host`` with the case's configuration and a clock that starts at
:data:`EPOCH`, so a recording depends on nothing but the core: the same core gives the
same bytes, which is what makes ``corpus/regress`` byte-exact goldens. Timers run the
way a driver runs them: before each probe, and after the last one until the listen time
ends, ``poll`` is called at every ``next_timer()`` that falls due.
"""

from __future__ import annotations

import stack
from stack import Host, HostConfig
from stack.record.probes import HOST_CONFIG, Case
from stack.record.recording import RecordError, Recording

__all__ = ["record_tunstack", "EPOCH"]

EPOCH = 1_700_000_000.0  # 2023-11-14T22:13:20Z: a fixed start, so captures are stable
MAX_TIMER_RUNS = 10_000  # a core whose timers never settle is a bug, not a reason to hang


def _run_timers(host: Host, until: float,
                records: list[tuple[float, int, bytes, str]]) -> None:
    for _ in range(MAX_TIMER_RUNS):
        due = host.next_timer()
        if due is None or due > until:
            return
        for packet in host.poll(due):
            records.append((due, 2, packet, ""))
    raise RecordError(f"timers still due after {MAX_TIMER_RUNS} polls")


def record_case(case: Case) -> Recording:
    """Play one case against a fresh host. The clock passed to the host is the capture's
    (EPOCH plus the probe's delay), as replay passes it, so clock-derived answers (ICMP
    and IP timestamps: ms since midnight UT) replay byte for byte."""
    config = dict(case.host or HOST_CONFIG)
    host = Host(HostConfig(**config))  # type: ignore[arg-type]
    records: list[tuple[float, int, bytes, str]] = []
    for delay, packet in sorted(case.probes, key=lambda item: item[0]):
        now = EPOCH + delay
        _run_timers(host, now, records)
        records.append((now, 1, packet, ""))
        try:
            answers = host.handle(packet, now)
        except Exception as exc:  # the core must never raise: say where it did
            raise RecordError(f"case {case.name}: Host.handle raised "
                              f"{type(exc).__name__}: {exc}") from None
        records.extend((now, 2, answer, "") for answer in answers)
    _run_timers(host, EPOCH + case.duration, records)
    return Recording.of(case, "tunstack", records, extra={
        "tunstack": stack.__version__, "epoch": EPOCH})


def record_tunstack(cases: list[Case]) -> list[Recording]:
    return [record_case(case) for case in cases]
