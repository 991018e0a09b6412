"""Item 5: ``replay --expect`` over a large capture, against a loop that only reads the
same file with dpkt; and replay's peak RSS on a small and a ten times larger file."""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from pathlib import Path
from typing import IO

from bench.measure import Measured, Options, median, run_measured
from bench.packets import echo_request_v4
from bench.report import Row, ratio_row, unavailable
from stack.host import Host, HostConfig

__all__ = ["bench_replay", "write_echo_capture", "replay_command"]

# The baseline: read every packet of the file and do nothing else.
DPKT_READ_LOOP = """
import sys, dpkt
with open(sys.argv[1], "rb") as f:
    count = sum(1 for _ in dpkt.pcapng.Reader(f))
print(count)
"""


class _BatchedFlush:
    """A file whose ``flush`` is left to ``close``: CaptureWriter flushes after every
    block (so a live recording survives a kill), which would make writing a million
    packets a million system calls; a generated benchmark file needs no such care."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.name = getattr(stream, "name", "<bench>")

    def write(self, data: bytes) -> int:
        return self.stream.write(data)

    def flush(self) -> None:
        """Deliberately nothing: the real flush happens when the file is closed."""


def write_echo_capture(path: Path, packets: int) -> None:
    """A pcapng capture of ``packets`` packets: echo requests to 172.16.0.2 (inbound)
    each followed by tunstack's reply (outbound), 0.1 ms apart, with the host's config
    in the section metadata (as stack-live records it)."""
    from stack.capture import DIRECTION_INBOUND, DIRECTION_OUTBOUND, CaptureWriter

    host = Host(HostConfig())
    # As stack-live's recordings carry it: the whole config, so replay rebuilds the host.
    metadata = {"tool": "python -m bench", "case": "bench-echo",
                "config": host.config.to_json()}
    with open(path, "wb", buffering=1 << 20) as stream:
        writer = CaptureWriter(_BatchedFlush(stream), linktype=101,  # type: ignore[arg-type]
                               metadata=metadata)
        written = 0
        index = 0
        while written < packets:
            now = 1.0 + index * 1e-4
            request = echo_request_v4(index, 84)
            writer.write(request, now, DIRECTION_INBOUND)
            written += 1
            for reply in host.handle(request, now):
                if written < packets:
                    writer.write(reply, now, DIRECTION_OUTBOUND)
                    written += 1
            index += 1
        writer.close()


def replay_command() -> list[str] | str:
    """How to run ``replay`` from this interpreter's environment, or why it cannot be."""
    if importlib.util.find_spec("replay.cli") is None:
        return "the replay command is not written yet (no replay.cli)"
    script = Path(sys.executable).with_name("replay")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "replay"]


def _replay(command: list[str], path: Path, timeout: float) -> Measured:
    return run_measured([*command, str(path), "--expect"], timeout=timeout)


def bench_replay(opts: Options) -> list[Row]:
    large = opts.count(1_000_000, 20_000)
    small = large // 10
    what = f"replay --expect over {large:,} packets: tunstack vs dpkt read-only loop"
    rss_what = f"replay --expect peak RSS, {large:,} vs {small:,} packets"
    command = replay_command()
    if isinstance(command, str):
        return [unavailable("replay", what, command, ">= 0.5x"),
                unavailable("replay", rss_what, command, "<= 1.2x")]
    if importlib.util.find_spec("stack.capture") is None:
        why = "stack.capture (the pcapng writer) is not written yet"
        return [unavailable("replay", what, why, ">= 0.5x"),
                unavailable("replay", rss_what, why, "<= 1.2x")]
    probe = Host(HostConfig())
    if len(probe.handle(echo_request_v4(0, 84), 1.0)) != 1:
        why = f"the core does not answer echo requests ({probe.last_reason})"
        return [unavailable("replay", what, why, ">= 0.5x"),
                unavailable("replay", rss_what, why, "<= 1.2x")]
    timeout = 1800.0
    with tempfile.TemporaryDirectory(prefix="ts-bench-replay-") as tmp:
        big_file, small_file = Path(tmp, "large.pcapng"), Path(tmp, "small.pcapng")
        write_echo_capture(big_file, large)
        write_echo_capture(small_file, small)
        replay_rates: list[float] = []
        dpkt_rates: list[float] = []
        big_rss: list[int] = []
        # One run each: a million packets take half a minute per run, long enough to
        # average the machine's noise out, and the whole benchmark must stay a few minutes.
        reps = 1
        for _ in range(reps):
            ours = _replay(command, big_file, timeout)
            if ours.returncode != 0:
                why = f"replay --expect exited {ours.returncode}: {ours.error_line()}"
                return [unavailable("replay", what, why, ">= 0.5x"),
                        unavailable("replay", rss_what, why, "<= 1.2x")]
            theirs = run_measured([sys.executable, "-c", DPKT_READ_LOOP, str(big_file)],
                                  timeout=timeout)
            if theirs.returncode != 0 or theirs.stdout.strip() != str(large):
                raise RuntimeError(f"the dpkt read loop failed: {theirs.error_line()}")
            replay_rates.append(large / ours.seconds)
            dpkt_rates.append(large / theirs.seconds)
            big_rss.append(ours.max_rss)
        small_rss = [_replay(command, small_file, timeout).max_rss for _ in range(reps)]
        size = os.path.getsize(big_file)
    rss_row = ratio_row("replay", rss_what, median(big_rss), "B", f"{small:,} packets",
                        median(small_rss), target=1.2, at_most=True)
    return [ratio_row("replay", what, median(replay_rates), " packets/s", "dpkt",
                      median(dpkt_rates), target=0.5, samples=replay_rates,
                      baseline_samples=dpkt_rates,
                      note=f"file {size / (1 << 20):.0f} MiB, process start included"),
            rss_row]
