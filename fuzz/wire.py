"""``stack-fuzz run wire --wire DEV --exec CMD``: fuzz a real stack on the wire.

The stack is one of :mod:`stack.sut.wire`'s: started once in a namespace of its own,
fed in real time, answering in its own time. libFuzzer (atheris) does not fit it: an
execution takes tens of milliseconds of real time (the answer window), the stack's
state carries over from one input to the next, and its coverage is not ours to see. So
this is a bounded loop of our own around the same structure-aware mutator and seeds as
the ``ipv4`` and ``ipv6`` targets (fuzz/mutator.py, fuzz/seeds.py):

1. take a seed, or mutate one input kept earlier (inputs that drew an answer are kept:
   a cheap stand-in for coverage);
2. hand it to the stack and collect its answer (``WireStack.handle``);
3. judge the answer with the oracle (:func:`stack.oracle.find_violations`, with the
   addresses and MTU of the HostConfig the stack is graded against);
4. probe the stack's liveness (an echo request to its address).

A crash (the process ended), a hang (no answer to the probe) or a broken rule is a
finding: the inputs since the stack started are written as a pcapng that ``replay
--wire DEV --exec CMD`` replays, and the run stops (exit 1). Bounded by ``--runs`` and
``--time``, whichever comes first.
"""

from __future__ import annotations

import random
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from fuzz.mutator import PacketMutator, python_byte_mutate
from fuzz.seeds import ipv4_seeds, ipv6_seeds
from stack.capture import DIRECTION_INBOUND, DIRECTION_OUTBOUND, CaptureError, CaptureWriter
from stack.host.config import HostConfig
from stack.host.host import Host
from stack.oracle import find_violations
from stack.sut import StackCrashed, StackError, StackHung
from stack.sut.spec import StackSpec, open_stack

__all__ = ["WireFuzzResult", "fuzz_wire", "command", "KEEP_INPUTS", "MAX_LEN"]

KEEP_INPUTS = 10_000  # inputs kept for a reproducer (the newest)
POOL = 2048  # inputs kept to mutate further
MAX_LEN = 2048  # the ipv4/ipv6 targets' max_len


@dataclass
class WireFuzzResult:
    executions: int = 0
    seconds: float = 0.0
    answered: int = 0  # inputs that drew at least one packet
    verdict: str = "pass"  # pass, crashed, hung, violation
    finding: str = ""  # one line
    reproducer: Path | None = None
    stack_output: list[str] = field(default_factory=list)


def _write_reproducer(path: Path, config: HostConfig, spec: StackSpec, verdict: str,
                      inputs: deque[tuple[float, bytes, list[bytes]]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = CaptureWriter(str(path), metadata={
        "case": path.stem,
        "description": f"stack-fuzz run wire: the inputs up to the {verdict} of "
                       f"{spec.describe()}, with what it answered",
        "config": config.to_json(),
        "recorder": {"tool": "stack-fuzz", "target": "wire", "verdict": verdict},
    })
    try:
        for when, packet, answers in inputs:
            writer.write(packet, when, DIRECTION_INBOUND)
            for answer in answers:
                writer.write(answer, when, DIRECTION_OUTBOUND)
    finally:
        writer.close()
    return path


def fuzz_wire(spec: StackSpec, workdir: Path, *, runs: int | None, seconds: float | None,
              seed: int = 0, config: HostConfig | None = None) -> WireFuzzResult:
    """Fuzz the stack of ``spec`` until a finding, ``runs`` inputs or ``seconds``.
    StackStartError: it cannot be started (one line)."""
    config = config or HostConfig()
    reference = Host(config)  # the oracle's addresses and MTU, never fed
    rng = random.Random(seed)
    seeds = list(ipv4_seeds().values()) + list(ipv6_seeds().values())
    mutator = PacketMutator(rng, lambda data, size: python_byte_mutate(data, size, rng), seeds)
    pool: list[bytes] = list(seeds)
    history: deque[tuple[float, bytes, list[bytes]]] = deque(maxlen=KEEP_INPUTS)
    result = WireFuzzResult()
    stack = open_stack(spec, config)
    start = time.monotonic()
    try:
        while (runs is None or result.executions < runs) and \
                (seconds is None or time.monotonic() - start < seconds):
            fresh = result.executions < len(seeds)
            packet = seeds[result.executions] if fresh else \
                mutator.mutate_packet(rng.choice(pool), MAX_LEN)
            now = time.time()
            result.executions += 1
            try:
                answers = stack.handle(packet, now)
                history.append((now, packet, answers))
                check = getattr(stack, "check_alive", None)
                if callable(check):
                    check(f"after input {result.executions}")
            except StackError as exc:
                history.append((now, packet, []))
                result.verdict = ("crashed" if isinstance(exc, StackCrashed) else
                                  "hung" if isinstance(exc, StackHung) else "error")
                result.finding = str(exc)
                break
            violations = find_violations(packet, answers, reference)
            if violations:
                result.verdict = "violation"
                result.finding = f"{violations[0]} (on input {result.executions})"
                break
            if answers:
                result.answered += 1
                if not fresh:
                    pool.append(packet)
                    if len(pool) > POOL:
                        del pool[len(seeds):len(seeds) + 1]  # the seeds stay
    finally:
        tail = getattr(stack, "output_tail", None)
        if callable(tail):
            result.stack_output = list(tail())
        close = getattr(stack, "close", None)
        if callable(close):
            close()
        result.seconds = time.monotonic() - start
    if result.verdict != "pass":
        path = workdir / "wire" / f"{result.verdict}-{int(time.time())}-{seed}.pcapng"
        try:
            result.reproducer = _write_reproducer(path, config, spec, result.verdict, history)
        except (OSError, CaptureError) as exc:
            result.finding += f" (no reproducer written: {exc})"
    return result


def command(spec: StackSpec, workdir: Path, runs: int | None, seconds: float | None,
            seed: int) -> int:
    """``stack-fuzz run wire`` (fuzz/cli.py checks the flags); StackStartError for a
    stack that cannot be started."""
    result = fuzz_wire(spec, workdir, runs=runs, seconds=seconds, seed=seed)
    rate = result.executions / result.seconds if result.seconds else 0.0
    print(f"wire: {result.executions} runs in {result.seconds:.1f} s, {rate:.0f} exec/s, "
          f"{result.answered} answered ({spec.describe()})")
    if result.verdict == "pass":
        return 0
    print(f"FINDING in wire: {result.verdict}: {result.finding}")
    for line in result.stack_output:
        print(f"    stack: {line}")
    if result.reproducer is not None:
        print(f"reproducer: {result.reproducer}")
        print(f"replay it: replay {result.reproducer} --wire {spec.wire}"
              + (f" --exec {spec.exec_command!r}" if spec.exec_command else ""))
    return 1
