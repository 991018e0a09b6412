"""What one fuzz execution costs beyond the host: the ``ipv4`` target per input against
``Host.handle`` alone on the same inputs.

The inputs are the target's seeds and structure-aware mutations of them (the mutator
with a fixed seed, so every run times the same bytes). The target's cost is
``run_ipv4(input)``: a host in a fresh state, the packet, an hour of timers, the
oracle on every output (dpkt on its sample), the host's tables. The baseline is
``handle(input)`` on hosts built beforehand, one per input, untimed: the work the
fuzzer exists to exercise. Both run from the Python sources (``TUNSTACK_PURE_PYTHON``,
as fuzzing does) in a child process, taking turns round by round; the ratio is the
median of the rounds' cost ratios. Target: at most 3x.

``python -m bench.fuzzcost COUNT ROUNDS`` is the child: it prints the per-input costs
of both, in seconds, as JSON.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path

from bench.measure import Options, run_measured
from bench.report import Row, ratio_row, unavailable

__all__ = ["bench_fuzzcost", "measure_costs"]

TARGET = 3.0  # the target's cost per input, at most this many times Host.handle's


def _inputs(count: int) -> list[bytes]:
    from fuzz.targets import TARGETS, new_mutator

    target = TARGETS["ipv4"]
    seeds = list(target.seeds().values())
    rng = random.Random(7)

    def byte_mutate(data: bytes, size: int) -> bytes:
        # libFuzzer's own mutation stands in as one flipped byte.
        if not data:
            return bytes([rng.randrange(256)])
        at = rng.randrange(len(data))
        return (data[:at] + bytes([data[at] ^ (1 << rng.randrange(8))]) + data[at + 1:])[:size]

    mutator = new_mutator(target, 7, byte_mutate)
    inputs = list(seeds)
    while len(inputs) < count:
        inputs.append(mutator.mutate_packet(rng.choice(inputs), target.max_len))
    return inputs[:count]


def measure_costs(count: int, rounds: int) -> dict[str, list[float]]:
    """Seconds per input of the target and of ``Host.handle`` alone, per round."""
    import gc

    from fuzz.targets import PACKET_CONFIG, START_TIME, run_ipv4
    from stack.host.host import Host

    inputs = _inputs(count)
    # As the target sees them: the version nibble forced to 4.
    packets = [bytes([0x40 | (d[0] & 0x0F)]) + d[1:] if d else d for d in inputs]
    costs: dict[str, list[float]] = {"target": [], "handle": []}

    def target_round() -> float:
        start = time.process_time()
        for data in inputs:
            # A finding is still one execution. try costs nothing until it catches (a
            # context manager per input cost more than the oracle's table check), and
            # libFuzzer calls the target bare.
            try:  # noqa: SIM105 (the reason above)
                run_ipv4(data)
            except AssertionError:
                pass
        return (time.process_time() - start) / len(inputs)

    def handle_round() -> float:
        hosts = [Host(PACKET_CONFIG) for _ in packets]
        start = time.process_time()
        for host, packet in zip(hosts, packets, strict=True):
            host.handle(packet, START_TIME)
        return (time.process_time() - start) / len(packets)

    target_round()  # warm up: imports, the oracle's first walk of the host's tables
    gc.disable()
    try:
        for index in range(rounds):
            order = (("target", target_round), ("handle", handle_round))
            for name, run in order if index % 2 == 0 else order[::-1]:
                costs[name].append(run())
    finally:
        gc.enable()
    return costs


def bench_fuzzcost(opts: Options) -> list[Row]:
    count = opts.count(3000, 600)
    rounds = opts.count(max(opts.repetitions, 5), 3)
    what = f"fuzz target ipv4: cost per input vs Host.handle alone ({count} inputs)"
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, TUNSTACK_PURE_PYTHON="1")
    done = run_measured([sys.executable, "-m", "bench.fuzzcost", str(count), str(rounds)],
                        timeout=300, cwd=str(root), env=env)
    if done.returncode != 0:
        return [unavailable("fuzzcost", what, f"the measuring child failed: "
                                              f"{done.error_line()}", f"<= {TARGET:g}x")]
    costs = json.loads(done.stdout)
    target, handle = costs["target"], costs["handle"]
    median_target = sorted(target)[len(target) // 2]
    median_handle = sorted(handle)[len(handle) // 2]
    return [ratio_row("fuzzcost", what, median_target, "s", "Host.handle", median_handle,
                      target=TARGET, at_most=True,
                      note="pure Python, as fuzzing runs; median of paired rounds",
                      samples=target, baseline_samples=handle,
                      paired=list(zip(target, handle, strict=True)))]


if __name__ == "__main__":
    print(json.dumps(measure_costs(int(sys.argv[1]), int(sys.argv[2]))))
