"""Item 6: ``ping`` against ``stack-live`` and against a raw Python TUN echo loop, runs
alternating, each in a namespace created for the run and deleted after it; and the
Linux kernel over a veth pair between two such namespaces, as the ceiling.

All traffic stays inside namespaces created here (the network rule): the pings run in
the namespace whose TUN device (or veth end) leads to 172.16.0.2.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.measure import Options, median
from bench.packets import echo_request_v4
from bench.report import Row, ratio_row, unavailable
from stack.host import Host, HostConfig
from stack.live.netns import NetnsError, run_in, temporary_netns

__all__ = ["bench_live", "PingResult", "parse_ping", "live_command", "missing_prerequisite",
           "ping_in", "raw_loop", "stack_live", "veth_pair", "TARGET"]

TARGET = "172.16.0.2"
KERNEL_SIDE = "172.16.0.1/24"
RAW_DEVICE = "tsbr0"
LIVE_DEVICE = "tsbl0"


@dataclass
class PingResult:
    transmitted: int
    received: int
    elapsed: float  # seconds, ping's own "time"
    rtts: list[float]  # seconds, one per reply line (empty for -q / -f)
    avg_rtt: float  # seconds, from the summary line
    sequences: list[int] = field(default_factory=list)  # icmp_seq of each of ``rtts``

    def median_rtt_where(self, odd: bool) -> float:
        """The median RTT of the replies whose sequence number is odd (or even)."""
        chosen = [rtt for seq, rtt in zip(self.sequences, self.rtts, strict=True)
                  if bool(seq & 1) == odd]
        return statistics.median(chosen) if chosen else 0.0

    @property
    def lost(self) -> int:
        return self.transmitted - self.received

    @property
    def rate(self) -> float:
        return self.received / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def median_rtt(self) -> float:
        return statistics.median(self.rtts) if self.rtts else self.avg_rtt


_SUMMARY = re.compile(r"(\d+) packets transmitted, (\d+) received.*?time (\d+)ms")
_RTT_LINE = re.compile(r"icmp_seq=(\d+) [^\n]*?time=([\d.]+) ms")
_RTT_SUMMARY = re.compile(r"= [\d.]+/([\d.]+)/[\d.]+/[\d.]+ ms")


def parse_ping(output: str) -> PingResult | None:
    """The counts, time and round-trip times in iputils ping's output, or None."""
    summary = _SUMMARY.search(output)
    if summary is None:
        return None
    replies = _RTT_LINE.findall(output)
    average = _RTT_SUMMARY.search(output)
    return PingResult(int(summary[1]), int(summary[2]), int(summary[3]) / 1000,
                      [float(ms) / 1000 for _, ms in replies],
                      float(average[1]) / 1000 if average else 0.0,
                      [int(seq) for seq, _ in replies])


def ping_in(namespace: str, args: list[str], deadline: int) -> PingResult:
    done = run_in(namespace, ["ping", "-n", "-w", str(deadline), *args, TARGET],
                  timeout=deadline + 15)
    result = parse_ping(done.stdout)
    if result is None:
        raise RuntimeError(f"ping gave no summary: {(done.stderr or done.stdout).strip()}")
    return result


def _wait_reachable(namespace: str, seconds: float) -> bool:
    """Wait until 172.16.0.2 answers one ping (the responder and routes are up)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done = run_in(namespace, ["ping", "-n", "-c", "1", "-W", "1", TARGET])
        if done.returncode == 0:
            return True
        time.sleep(0.1)
    return False


def _ip(namespace: str, *args: str) -> None:
    done = subprocess.run(["ip", "-n", namespace, *args], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def _read_line(proc: subprocess.Popen[str], seconds: float) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], seconds)
    return proc.stdout.readline().strip() if ready else ""


def _stop(proc: subprocess.Popen[str]) -> None:
    """End a responder we started (SIGINT first, so stack-live prints its summary)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def raw_loop(namespace: str, seconds: int, *options: str
             ) -> Iterator[subprocess.Popen[str]]:
    """The raw echo loop answering in ``namespace``; yields its process."""
    proc = subprocess.Popen(
        ["ip", "netns", "exec", namespace, sys.executable, "-m", "bench.rawecho", RAW_DEVICE,
         "--seconds", str(seconds), *options], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        if _read_line(proc, 10) != "ready":
            _stop(proc)
            raise RuntimeError(f"the raw echo loop did not start: "
                               f"{proc.stderr.read().strip() if proc.stderr else ''}")
        _ip(namespace, "addr", "add", KERNEL_SIDE, "dev", RAW_DEVICE)
        _ip(namespace, "link", "set", RAW_DEVICE, "up")
        if not _wait_reachable(namespace, 10):
            raise RuntimeError("the raw echo loop does not answer")
        yield proc
    finally:
        _stop(proc)


def live_command() -> list[str] | str:
    """How to run ``stack-live`` from this interpreter's environment, or why not."""
    if importlib.util.find_spec("stack.live.cli") is None:
        return "stack-live is not written yet (no stack.live.cli)"
    script = Path(sys.executable).with_name("stack-live")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "stack.live.cli"]


@contextlib.contextmanager
def stack_live(namespace: str, command: list[str], *options: str
               ) -> Iterator[subprocess.Popen[str]]:
    """``stack-live`` answering in ``namespace`` with ``options``; yields its process
    (``ip netns exec`` execs the command, so that is stack-live's own pid)."""
    # stack-live configures the kernel side itself (172.16.0.1/24 by default) and
    # answers as 172.16.0.2; -q: no line per packet, which would dominate the time.
    proc = subprocess.Popen(["ip", "netns", "exec", namespace, *command, LIVE_DEVICE, "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if not _wait_reachable(namespace, 15):
            _stop(proc)
            err = proc.stderr.read().strip().splitlines() if proc.stderr else []
            raise RuntimeError(f"stack-live does not answer ping"
                               f"{': ' + err[-1] if err else ''}")
        yield proc
    finally:
        _stop(proc)


@contextlib.contextmanager
def veth_pair() -> Iterator[str]:
    """Two namespaces joined by a veth pair: 172.16.0.1 in the one yielded (where ping
    runs), 172.16.0.2 in the other."""
    with temporary_netns("ts-bench") as near, temporary_netns("ts-bench") as far:
        _ip(near, "link", "add", "tsbv0", "type", "veth", "peer", "name", "tsbv1", "netns",
            far)
        _ip(near, "addr", "add", KERNEL_SIDE, "dev", "tsbv0")
        _ip(far, "addr", "add", f"{TARGET}/24", "dev", "tsbv1")
        _ip(near, "link", "set", "tsbv0", "up")
        _ip(far, "link", "set", "tsbv1", "up")
        if not _wait_reachable(near, 10):
            raise RuntimeError("the veth pair does not pass ping")
        yield near


@dataclass
class _Runs:
    floods: list[PingResult]
    paced: list[PingResult]

    def rate(self) -> float:
        return median([r.rate for r in self.floods])

    def rtt(self) -> float:
        return median([r.median_rtt for r in self.paced])

    def lost(self) -> tuple[int, int]:
        runs = self.floods + self.paced
        return sum(r.lost for r in runs), sum(r.transmitted for r in runs)


def _measure(namespace: str, flood_count: int, paced_count: int) -> tuple[PingResult,
                                                                           PingResult]:
    flood = ping_in(namespace, ["-q", "-f", "-c", str(flood_count)], 120)
    paced = ping_in(namespace, ["-c", str(paced_count), "-i", "0.002"], 60)
    return flood, paced


def _join(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def missing_prerequisite() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces and TUN devices)"
    if shutil.which("ping") is None:
        return "no ping command (apt-get install iputils-ping)"
    if shutil.which("ip") is None:
        return "no ip command (apt-get install iproute2)"
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun"
    return None


def bench_live(opts: Options) -> list[Row]:
    flood_count = opts.count(20_000, 2_000)
    paced_count = opts.count(500, 100)
    flood_what = f"live ping -f -c {flood_count}: stack-live vs raw TUN loop"
    rtt_what = f"live ping -c {paced_count} -i 0.002 median RTT: stack-live vs raw TUN loop"
    loss_what = "live: stack-live packets lost (flood and paced runs)"
    alternating_count = opts.count(2000, 200)
    alternating_what = (f"live ping -c {alternating_count} -i 0.002 to one responder "
                        "alternating Host.handle (odd icmp_seq) and the minimal responder "
                        "(even): median RTT")
    missing = missing_prerequisite()
    if missing:
        # Every row the run would have, each saying what is missing and how to get it.
        return [unavailable("live", flood_what, missing, ">= 0.85x"),
                unavailable("live", rtt_what, missing, "<= 1.2x"),
                unavailable("live", loss_what, missing, "none lost"),
                unavailable("live", alternating_what, missing)]
    command = live_command()
    if not isinstance(command, str):
        probe = Host(HostConfig())
        if len(probe.handle(echo_request_v4(0, 84), 1.0)) != 1:
            command = f"the core does not answer echo requests ({probe.last_reason})"
    # Each round runs the raw loop and stack-live, each in a fresh namespace, in turn:
    # which goes first alternates from round to round (ABBA), so neither always runs on
    # a machine the other has just warmed or loaded. Paced RTTs and flood rates swing by
    # 2-3x from run to run on a shared machine, hence twice the usual repetitions.
    reps = opts.count(2 * opts.reps, opts.reps)
    raw = _Runs([], [])
    ours = _Runs([], [])
    live_problem = command if isinstance(command, str) else None

    def measure_raw() -> None:
        with temporary_netns("ts-bench") as namespace, raw_loop(namespace, 300):
            flood, paced = _measure(namespace, flood_count, paced_count)
            raw.floods.append(flood)
            raw.paced.append(paced)

    def measure_ours() -> None:
        nonlocal live_problem
        if live_problem is not None:
            return
        assert not isinstance(command, str)
        try:
            with temporary_netns("ts-bench") as namespace, stack_live(namespace, command):
                flood, paced = _measure(namespace, flood_count, paced_count)
                ours.floods.append(flood)
                ours.paced.append(paced)
        except RuntimeError as exc:
            live_problem = str(exc)

    for round_number in range(reps):
        first, second = ((measure_raw, measure_ours) if round_number % 2 == 0
                         else (measure_ours, measure_raw))
        first()
        second()
    with veth_pair() as near:
        kernel_flood, kernel_paced = _measure(near, flood_count, paced_count)
    # The same paced ping against one responder that answers odd sequence numbers with
    # Host.handle and even ones with the minimal responder: each pair of neighbouring
    # packets meets the same scheduler and load, so this isolates the core's own cost
    # per packet woken from sleep, which the rows above mix with run-to-run noise.
    with temporary_netns("ts-bench") as namespace, raw_loop(namespace, 300, "--alternate"):
        alternating = ping_in(namespace, ["-c", str(alternating_count), "-i", "0.002"], 60)

    raw_lost, raw_sent = raw.lost()
    raw_note = f"raw loop lost {raw_lost} of {raw_sent}" if raw_lost else ""
    rows: list[Row] = []
    if live_problem is not None:
        rows += [unavailable("live", flood_what, live_problem, ">= 0.85x"),
                 unavailable("live", rtt_what, live_problem, "<= 1.2x"),
                 unavailable("live", loss_what, live_problem, "none lost")]
    else:
        lost, sent = ours.lost()
        rows += [
            ratio_row("live", flood_what, ours.rate(), " packets/s", "raw loop", raw.rate(),
                      target=0.85, note=_join(raw_note, "ratio: median of paired runs"),
                      samples=[r.rate for r in ours.floods],
                      baseline_samples=[r.rate for r in raw.floods],
                      paired=[(o.rate, r.rate) for o, r in zip(ours.floods, raw.floods,
                                                               strict=False)]),
            ratio_row("live", rtt_what, ours.rtt(), "s", "raw loop", raw.rtt(), target=1.2,
                      at_most=True, note="ratio: median of paired runs",
                      samples=[r.median_rtt for r in ours.paced],
                      baseline_samples=[r.median_rtt for r in raw.paced],
                      paired=[(o.median_rtt, r.median_rtt) for o, r in zip(
                          ours.paced, raw.paced, strict=False)]),
            Row("live", loss_what, f"{lost} of {sent}", target="none lost", met=lost == 0,
                value=float(lost), unit="packets"),
        ]
    rows.append(ratio_row("live", f"kernel over veth, ping -f -c {flood_count}: vs raw "
                          "TUN loop (the ceiling)", kernel_flood.rate, " packets/s",
                          "raw loop", raw.rate()))
    rows.append(ratio_row("live", "kernel over veth, median RTT: vs raw TUN loop",
                          kernel_paced.median_rtt, "s", "raw loop", raw.rtt()))
    rows.append(ratio_row(
        "live", alternating_what, alternating.median_rtt_where(odd=True), "s", "minimal",
        alternating.median_rtt_where(odd=False),
        note=f"{alternating.lost} of {alternating.transmitted} lost" if alternating.lost
        else ""))
    return rows
