"""Result rows, the table, and the machine they were measured on.

Every row is one figure against one baseline measured in the same run: the ratio is
what the targets are about, never the absolute figure (shared machines are noisy).
A row whose subject is missing (a driver not written yet, no root, no scapy) says
"not available: <why>" instead of a figure.
"""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import sys
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from tabulate import tabulate

from stack import corebuild

__all__ = ["Row", "Machine", "unavailable", "render", "render_markdown", "as_json", "from_json",
           "fmt_rate", "fmt_bytes", "fmt_time"]


@dataclass
class Row:
    """One line of the table. ``met`` is None when the row has no target."""

    bench: str  # the benchmark's --only name
    what: str  # what was measured
    figure: str  # the subject's figure, formatted
    baseline: str = ""  # the baseline's name and figure
    ratio: float | None = None  # subject / baseline (or the row's stated comparison)
    target: str = ""  # e.g. ">= 4x"
    met: bool | None = None
    note: str = ""
    value: float | None = None  # the raw figures, for --json
    baseline_value: float | None = None
    unit: str = ""
    samples: list[float] = field(default_factory=list)  # the subject's, per repetition
    baseline_samples: list[float] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        if self.met is None:
            return "" if not self.target else "n/a"
        return "yes" if self.met else "NO"


def unavailable(bench: str, what: str, why: str, target: str = "") -> Row:
    """The row for a subject that cannot be measured, saying why."""
    return Row(bench, what, f"not available: {why}", target=target)


def ratio_row(bench: str, what: str, value: float, unit: str, baseline_name: str,
              baseline_value: float, *, target: float | None = None, at_most: bool = False,
              note: str = "", samples: list[float] | None = None,
              baseline_samples: list[float] | None = None,
              paired: list[tuple[float, float]] | None = None) -> Row:
    """A row comparing ``value`` with ``baseline_value``: the target, when given, is
    ``ratio >= target`` (or ``<=`` with ``at_most``). The ratio is value / baseline,
    or, given ``paired`` (subject, baseline) samples taken side by side, the median of
    their ratios: runs that alternate share the machine's mood, so pairing them cancels
    much of a shared machine's noise."""
    if paired:
        ratio: float | None = statistics.median(s / b for s, b in paired if b)
    else:
        ratio = value / baseline_value if baseline_value else None
    met = None
    target_text = ""
    if target is not None:
        target_text = f"{'<=' if at_most else '>='} {target:g}x"
        if ratio is not None:
            met = ratio <= target if at_most else ratio >= target
    return Row(bench, what, _fmt(value, unit), f"{baseline_name} {_fmt(baseline_value, unit)}",
               ratio, target_text, met, note, value, baseline_value, unit, samples or [],
               baseline_samples or [])


def _fmt(value: float, unit: str) -> str:
    if unit == "B":
        return fmt_bytes(value)
    if unit == "s":
        return fmt_time(value)
    return fmt_rate(value, unit)


def fmt_rate(value: float, unit: str = "/s") -> str:
    for scale, prefix in ((1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def fmt_bytes(value: float) -> str:
    for scale, suffix in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if value >= scale:
            return f"{value / scale:.3g} {suffix}"
    return f"{value:.0f} B"


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


@dataclass
class Machine:
    """Where and when the figures were taken, and how busy the machine was."""

    date: str
    host: str
    cpu: str
    cores: int
    memory: str
    python: str
    kernel: str
    load_before: float
    load_after: float = 0.0
    core: str = ""  # which build of the core ran (stack/corebuild.py)

    @classmethod
    def probe(cls) -> Machine:
        cpu = platform.processor() or platform.machine()
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as info:
                for line in info:
                    if line.startswith("model name"):
                        cpu = line.split(":", 1)[1].strip()
                        break
        except OSError:
            pass
        memory = ""
        try:
            with open("/proc/meminfo", encoding="utf-8") as info:
                kib = int(info.readline().split()[1])
                memory = f"{kib / (1 << 20):.0f} GiB"
        except (OSError, ValueError, IndexError):
            pass
        return cls(
            date=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            host=platform.node(), cpu=cpu, cores=os.cpu_count() or 1, memory=memory,
            python=platform.python_version(), kernel=platform.release(),
            load_before=os.getloadavg()[0], core=corebuild.describe())

    def finish(self) -> None:
        self.load_after = os.getloadavg()[0]

    @property
    def loaded(self) -> bool:
        """More runnable work than half the cores, besides us: figures are noisier and
        absolute rates lower, though ratios taken in the same run stay comparable."""
        return max(self.load_before, self.load_after) > self.cores * 0.5 + 1

    def describe(self) -> str:
        text = (f"{self.date} on {self.cores}-core {self.cpu}, {self.memory} RAM, "
                f"Python {self.python}, Linux {self.kernel}; core {self.core or 'unknown'}; "
                f"load average "
                f"{self.load_before:.1f} before, {self.load_after:.1f} after")
        if self.loaded:
            text += " (a loaded, shared machine: absolute figures are low, ratios hold)"
        return text


HEADERS = ["benchmark", "figure", "baseline", "ratio", "target", "met"]


def _cells(row: Row) -> list[str]:
    what = f"{row.what} ({row.note})" if row.note else row.what
    ratio = "" if row.ratio is None else f"{row.ratio:.3g}x"
    return [what, row.figure, row.baseline, ratio, row.target, row.verdict]


def render(rows: list[Row], machine: Machine, *, fmt: str = "simple") -> str:
    table = tabulate([_cells(r) for r in rows], headers=HEADERS, tablefmt=fmt,
                     disable_numparse=True)
    missed = [r for r in rows if r.met is False]
    lines = [table, "", f"Measured {machine.describe()}."]
    if missed:
        lines.append("Missed targets: " + "; ".join(f"{r.what} ({r.ratio:.3g}x, target "
                                                      f"{r.target})" for r in missed
                                                      if r.ratio is not None) + ".")
    return "\n".join(lines)


def render_markdown(rows: list[Row], machine: Machine, command: str) -> str:
    """The table for the README and docs/bench.md, with its date and machine."""
    return (f"Measured {machine.describe()}, with `{command}`.\n\n"
            + tabulate([_cells(r) for r in rows], headers=HEADERS, tablefmt="github",
                       disable_numparse=True) + "\n")


def as_json(rows: list[Row], machine: Machine, mode: str) -> dict[str, object]:
    return {"machine": asdict(machine), "mode": mode, "python_executable": sys.executable,
            "rows": [asdict(r) | {"verdict": r.verdict} for r in rows]}


def from_json(report: dict[str, Any]) -> tuple[list[Row], Machine, str]:
    """The rows, machine and mode of a report :func:`as_json` wrote (KeyError or
    TypeError when it is not one)."""
    row_fields = {f.name for f in fields(Row)}
    rows = [Row(**{k: v for k, v in row.items() if k in row_fields})
            for row in report["rows"]]
    return rows, Machine(**report["machine"]), str(report["mode"])
