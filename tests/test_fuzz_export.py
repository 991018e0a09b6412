"""stack-fuzz export refuses an input while the host still breaks a rule on it: the
rules on what was sent, and also the tables (``state.*``) and timers (``timer.*``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fuzz import seeds
from fuzz import targets as fuzz_targets
from fuzz.regress import ExportError, export
from fuzz.sequence_codec import Step, encode
from stack.oracle import Violation, raise_violations

TIMELINE = encode(0, [Step.packet(seeds.ipv4_seeds()["echo"]), Step.advance_ms(5),
                      Step.next_timer()])


def test_a_clean_input_is_exported(tmp_path: Path) -> None:
    written = export(fuzz_targets.TARGETS["sequence"], TIMELINE, tmp_path, "clean")
    assert written.exists()


def test_a_table_over_its_cap_is_refused(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(fuzz_targets, "check_host", lambda host: [
        Violation("state.over_cap", "host.ratelimiter: 5 peers")])
    with pytest.raises(ExportError, match="state.over_cap"):
        export(fuzz_targets.TARGETS["sequence"], TIMELINE, tmp_path, "over-cap")
    assert not (tmp_path / "over-cap.pcapng").exists()
    written = export(fuzz_targets.TARGETS["sequence"], TIMELINE, tmp_path, "over-cap",
                     force=True)
    assert written.exists()


def test_a_stuck_timer_is_refused(tmp_path: Path, monkeypatch: Any) -> None:
    def stuck(host: Any, now: float) -> None:
        raise_violations([Violation("timer.stuck", f"next_timer() {now} is not after "
                                                   f"poll({now})")])

    monkeypatch.setattr(fuzz_targets, "_check_timer", stuck)
    with pytest.raises(ExportError, match="timer.stuck"):
        export(fuzz_targets.TARGETS["ipv4"], seeds.ipv4_seeds()["echo"], tmp_path, "stuck")
