"""Timing: interleaved repetitions and medians, so that a burst of load from the other
programs on a shared machine hits the subject and its baselines alike."""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Options", "Contender", "race", "median", "run_measured", "Measured"]


@dataclass(frozen=True)
class Options:
    """How hard to work: ``quick`` shrinks every count for CI's short run."""

    quick: bool = False
    repetitions: int = 5
    fuzz_seconds: int = 0  # 0: 30 s per fuzz target (3 s with quick)

    def count(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    @property
    def reps(self) -> int:
        return 1 if self.quick else self.repetitions


@dataclass
class Contender:
    """A named loop to time: ``make()`` returns a fresh callable that does all its work
    and returns how many items it handled (a fresh host per repetition)."""

    name: str
    make: Callable[[], Callable[[], int]]


def _time_once(run: Callable[[], int]) -> float:
    """Items per second of one call, in this process's CPU time: the loops do no I/O, so
    CPU time is what they cost, and the time the scheduler gives to the other programs of
    a shared machine is not billed to whoever was running. The collector is paused, as
    timeit does, so a collection triggered by one contender's garbage is not billed to
    the next."""
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        start = time.process_time()
        items = run()
        elapsed = time.process_time() - start
    finally:
        if enabled:
            gc.enable()
    return items / elapsed if elapsed > 0 else float("inf")


def race(contenders: Sequence[Contender], repetitions: int) -> dict[str, list[float]]:
    """Rates (items/s) of each contender over ``repetitions`` rounds, the contenders
    taking turns within each round (and the order rotating between rounds)."""
    rates: dict[str, list[float]] = {c.name: [] for c in contenders}
    for round_index in range(repetitions):
        shift = round_index % len(contenders)
        for contender in list(contenders[shift:]) + list(contenders[:shift]):
            rates[contender.name].append(_time_once(contender.make()))
    return rates


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


@dataclass
class Measured:
    """A finished child process: its exit code, output, wall time and peak RSS."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float
    max_rss: int  # bytes

    def error_line(self) -> str:
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return text[-1] if text else f"exit code {self.returncode}"


# Runs the measured program as its grandchild and reports the grandchild's peak RSS.
# Why not wait4 on a direct child: Linux carries a process's peak RSS across execve (the
# old address space's high-water mark is folded into the new program's ru_maxrss), and a
# child forked from this process starts out with this process's pages, so every direct
# child would report at least the benchmark's own size. The launcher is small, and a
# program forked from it starts from the launcher's few megabytes instead.
_LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    except OSError as exc:
        sys.stderr.write(f"cannot run {sys.argv[2]}: {exc.strerror}\\n")
        sys.stderr.flush()
    os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as report:
    report.write(str(usage.ru_maxrss))
code = os.waitstatus_to_exitcode(status)
os._exit(code if code >= 0 else 128 - code)
"""


def run_measured(argv: list[str], *, timeout: float, cwd: str | None = None,
                 env: dict[str, str] | None = None) -> Measured:
    """Run ``argv`` to completion (its process group killed after ``timeout`` s) and
    return its exit code (128 + N for a signal N), output, wall time and peak resident
    set size (ru_maxrss, KiB on Linux, via :data:`_LAUNCHER`)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err, \
            tempfile.NamedTemporaryFile("r", prefix="ts-bench-rss-") as rss:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-S", "-c", _LAUNCHER, rss.name, *argv],
                                stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=cwd,
                                env=env, start_new_session=True)
        killer = threading.Timer(timeout, _kill_group, (proc.pid,))
        killer.start()
        try:
            returncode = proc.wait()
        finally:
            killer.cancel()
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        reported = rss.read().strip()
        return Measured(returncode, out.read(), err.read(), seconds,
                        int(reported) * 1024 if reported.isdigit() else 0)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
