"""Seed directories and libFuzzer runs: what ``stack-fuzz run`` and ``ci`` drive.

A run of target T uses ``<workdir>/T/``: ``seeds/`` (rewritten each run from the
built-in seeds and every packet of ``corpus/``), ``corpus/`` (what libFuzzer keeps,
kept between runs) and ``artifacts/`` (crash-*, timeout-*, oom-* files).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from fuzz import seeds as seed_sets
from fuzz.packets import ethernet
from fuzz.runner import ARGV0_ENV, MUTATOR_ENV
from fuzz.sequence_codec import MAX_STEPS, Step, encode
from fuzz.targets import TARGETS, Target

__all__ = ["FuzzRun", "prepare_seeds", "run_libfuzzer", "ROOT", "DEFAULT_WORKDIR",
           "DEFAULT_CORPUS", "target_script", "ARTIFACT_PREFIXES", "libfuzzer_options"]

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_WORKDIR = ROOT / "fuzz" / "work"
DEFAULT_CORPUS = ROOT / "corpus"
ARTIFACT_PREFIXES = ("crash-", "timeout-", "oom-", "leak-", "slow-unit-")
PER_INPUT_TIMEOUT = 10  # seconds: an input that takes longer is a hang (libFuzzer -timeout)
RSS_LIMIT_MB = 2048  # an input that grows memory past this is a finding (libFuzzer -rss_limit_mb)


def libfuzzer_options(target: Target) -> str:
    """The ``<target>.options`` file ClusterFuzz(Lite) and OSS-Fuzz read next to a
    fuzzer: its input size bound and its dictionary (both as ``stack-fuzz run`` uses)."""
    return f"[libfuzzer]\nmax_len = {target.max_len}\ndict = {target.name}.dict\n"


def target_script(target: Target) -> Path:
    return Path(__file__).resolve().parent / f"{target.name}.py"


def _name(data: bytes, label: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", label)[:60]
    return f"{safe}-{hashlib.sha1(data).hexdigest()[:10]}"


def corpus_inputs(target: Target, corpus: Path) -> dict[str, bytes]:
    """Inputs for ``target`` made from the captures under ``corpus``: each packet for
    the packet targets; each capture's inbound packets as timelines for ``sequence``,
    and as frames (IP packets wrapped in Ethernet to us) for ``tap``; the capture files
    themselves for ``capture``."""
    found: dict[str, bytes] = {}
    if not corpus.is_dir():
        return found
    if target.name == "capture":
        for path in sorted(corpus.rglob("*.pcap*")):
            if path.is_file() and path.stat().st_size <= target.max_len:
                data = path.read_bytes()
                found[_name(data, path.stem)] = data
        return found
    timelines: dict[str, list[Step]] = {}
    for label, frame, linktype, direction in seed_sets.corpus_packets(corpus):
        capture_name = label.rsplit("-", 1)[0]
        packet = _ip_of(frame, linktype)
        if target.name == "tap":
            if linktype == 1:
                data = frame
            elif packet is not None:
                ethertype = 0x86DD if packet[:1] and packet[0] >> 4 == 6 else 0x0800
                data = ethernet(seed_sets.HOST_MAC, seed_sets.PEER_MAC, ethertype, packet)
            else:
                continue
        elif packet is None or not _fits_version(target.name, packet):
            continue
        else:
            data = packet
        if target.name in ("sequence", "tap"):
            if direction == 2:  # our answers are not inputs
                continue
            steps = timelines.setdefault(capture_name, [])
            steps.append(Step.packet(data))
            steps.append(Step.advance_ms(10))  # 10 ms apart: the capture's gaps do not matter
            continue
        if len(data) <= target.max_len:
            found[_name(data, label)] = data
    for capture_name, steps in timelines.items():
        for start in range(0, len(steps), MAX_STEPS):  # long captures: several inputs
            data = encode(0, steps[start:start + MAX_STEPS])
            if len(data) <= target.max_len:
                found[_name(data, capture_name)] = data
    return found


def _fits_version(target_name: str, packet: bytes) -> bool:
    """The ipv4 target takes IPv4 packets, the ipv6 target IPv6 ones, the rest both."""
    version = packet[0] >> 4 if packet else 0
    return {"ipv4": version == 4, "ipv6": version == 6}.get(target_name, True)


def _ip_of(frame: bytes, linktype: int) -> bytes | None:
    from stack.capture import strip_link_header

    try:
        packet, _ = strip_link_header(frame, linktype)
    except Exception:  # noqa: BLE001 - a frame the reader cannot strip is not a seed
        return None
    return packet


def prepare_seeds(target: Target, directory: Path, corpus: Path | None = DEFAULT_CORPUS
                  ) -> int:
    """Write the built-in seeds and the corpus inputs into ``directory`` (emptied
    first); returns how many."""
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.iterdir():
        if old.is_file():
            old.unlink()
    inputs = {_name(data, name): data for name, data in target.seeds().items()}
    if corpus is not None:
        inputs.update(corpus_inputs(target, corpus))
    for name, data in inputs.items():
        (directory / name).write_bytes(data)
    return len(inputs)


@dataclass
class FuzzRun:
    """What one libFuzzer run reported."""

    target: str
    returncode: int
    seconds: float
    executions: int = 0
    exec_per_sec: float = 0.0
    coverage: int = 0  # libFuzzer's "cov:" (instrumented edges reached)
    features: int = 0  # libFuzzer's "ft:"
    corpus_size: int = 0
    artifacts: list[Path] = field(default_factory=list)
    log: str = ""

    @property
    def found(self) -> bool:
        return bool(self.artifacts) or self.returncode not in (0,)


_STATUS = re.compile(r"#(\d+)\s*:?\s+\S*\s*cov: (\d+) ft: (\d+) corp: (\d+)")
_FORK_STATUS = re.compile(r"#(\d+): cov: (\d+) ft: (\d+) corp: (\d+) exec/s:? (\d+)")
_EXECS = re.compile(r"stat::number_of_executed_units:\s+(\d+)")
_RATE = re.compile(r"stat::average_exec_per_sec:\s+(\d+)")
_DONE = re.compile(r"Done (\d+) runs in (\d+) second")


def run_libfuzzer(target: Target, *, workdir: Path = DEFAULT_WORKDIR,
                  seconds: float | None = None, runs: int | None = None, jobs: int = 1,
                  plain: bool = False, corpus: Path | None = DEFAULT_CORPUS,
                  seed: int | None = None, fresh: bool = False,
                  extra: list[str] | None = None, echo: bool = False) -> FuzzRun:
    """Run ``fuzz/<target>.py`` under libFuzzer in a child process, bounded by
    ``seconds`` and/or ``runs``; ``jobs`` > 1 uses libFuzzer's fork mode."""
    base = workdir / target.name
    seeds_dir, kept, artifacts = base / "seeds", base / "corpus", base / "artifacts"
    if fresh and kept.is_dir():
        for old in kept.iterdir():
            old.unlink()
    prepare_seeds(target, seeds_dir, corpus)
    kept.mkdir(parents=True, exist_ok=True)
    artifacts.mkdir(parents=True, exist_ok=True)
    before = {p.name for p in artifacts.iterdir()}
    command = [sys.executable, str(target_script(target)), str(kept), str(seeds_dir),
               f"-max_len={target.max_len}", f"-timeout={PER_INPUT_TIMEOUT}",
               f"-rss_limit_mb={RSS_LIMIT_MB}", f"-artifact_prefix={artifacts}/",
               "-print_final_stats=1"]
    if target.dictionary.is_file():
        command.append(f"-dict={target.dictionary}")
    if seconds is not None:
        command.append(f"-max_total_time={max(1, int(seconds))}")
    if runs is not None:
        command.append(f"-runs={runs}")
    if seed is not None:
        command.append(f"-seed={seed}")
    if jobs > 1:
        command.append(f"-fork={jobs}")
    command += extra or []
    environment = dict(os.environ)
    environment[MUTATOR_ENV] = "plain" if plain else "structured"
    if jobs > 1:
        wrapper = base / "worker.sh"
        wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{target_script(target)}" "$@"\n')
        wrapper.chmod(0o755)
        environment[ARGV0_ENV] = str(wrapper)
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               env=environment, text=True, errors="replace")
    lines: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if echo:
            sys.stderr.write(line)
    process.wait()
    elapsed = time.monotonic() - started
    log = "".join(lines)
    result = FuzzRun(target.name, process.returncode, elapsed, log=log)
    for pattern in (_STATUS, _FORK_STATUS):
        for match in pattern.finditer(log):
            result.executions = max(result.executions, int(match.group(1)))
            result.coverage = max(result.coverage, int(match.group(2)))
            result.features = max(result.features, int(match.group(3)))
            result.corpus_size = int(match.group(4))
    executions = _EXECS.findall(log)
    if executions:
        result.executions = max(result.executions, sum(int(n) for n in executions))
    rates = _RATE.findall(log)
    if rates and jobs == 1:  # libFuzzer's own figure leaves out the start-up
        result.exec_per_sec = float(rates[-1])
    else:
        result.exec_per_sec = result.executions / elapsed if elapsed > 0 else 0.0
    result.artifacts = sorted(p for p in artifacts.iterdir()
                              if p.name not in before and p.name.startswith(ARTIFACT_PREFIXES))
    return result


def all_targets() -> list[Target]:
    return list(TARGETS.values())
