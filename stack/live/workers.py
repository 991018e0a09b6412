"""``stack-live --workers N``: N processes answering from the device's one queue.

Why one shared queue, not ``IFF_MULTI_QUEUE``: the tun driver picks a queue per packet
by the flow hash (tun_automq_select_queue: ``__skb_get_hash_symmetric``), and the flow
dissector has no ports for ICMP (proto_ports_offset), so every echo request from one
peer hashes alike and lands on one queue: four ``ping -f`` from the kernel side kept one
of two queues busy and the other idle (measured, docs/live.md). Several processes
reading one queue share whatever arrives: the first one free takes the next packet.

Each worker has its own ``Host``, so the state a host keeps across packets follows
these rules (docs/live.md, "Workers"):

* reassembly: a fragment (IPv4 MF or offset, IPv6 with any extension header) read by
  a worker other than the first is handed to the first over a datagram socket, so all
  pieces of a datagram meet in one host, as Linux's RSS hashes fragments on addresses
  only (the ports are in the first piece alone);
* rate limits: the global ICMP budget (icmp_msgs_per_sec, icmp_msgs_burst) is divided
  by N, and each per-peer token interval multiplied by N, so that with packets spread
  evenly the aggregate matches Linux's (a peer's per-worker burst of 6 still adds up
  to N x 6);
* path MTU: learned by the worker that reads the Fragmentation Needed / Packet Too Big,
  and by it alone; the others keep the interface MTU for that peer until a message of
  their own reaches them (the peer resends its too-big notice for each oversized reply).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stack.host.config import HostConfig
from stack.host.stats import Stats

__all__ = ["worker_config", "for_first_worker", "Worker", "WorkerSet", "MAX_WORKERS",
           "io_path_text", "version_io_text", "stats_from_dict"]

MAX_WORKERS = 64
# The IPv6 next-header values answered by any worker: everything else (extension
# headers, the fragment header among them) goes to the first one.
_V6_ANY_WORKER = frozenset({6, 17, 58, 59, 136})  # TCP, UDP, ICMPv6, no next, UDP-Lite


def worker_config(config: HostConfig, workers: int) -> HostConfig:
    """One worker's share of ``config`` (the module docstring's rate-limit rule)."""
    if workers == 1:
        return config

    def share(value: int) -> int:
        return max(1, value // workers) if value else 0

    return dataclasses.replace(
        config,
        icmp_msgs_per_sec=share(config.icmp_msgs_per_sec),
        icmp_msgs_burst=share(config.icmp_msgs_burst),
        icmp_ratelimit_ms=config.icmp_ratelimit_ms * workers,
        icmpv6_ratelimit_ms=config.icmpv6_ratelimit_ms * workers)


def for_first_worker(packet: bytes) -> bool:
    """Whether ``packet`` must be answered by the first worker: an IPv4 fragment (MF
    set or a fragment offset), or an IPv6 packet whose next header is an extension
    header (a fragment header may follow any of them, RFC 8200 section 4.1)."""
    if len(packet) < 20:
        return False
    version = packet[0] >> 4
    if version == 4:
        return bool(packet[6] & 0x3F or packet[7])
    if version == 6 and len(packet) >= 40:
        return packet[6] not in _V6_ANY_WORKER
    return False


@dataclass
class Worker:
    """A forked worker: its pid and the pipe its totals come back on."""

    number: int
    pid: int
    totals: int  # read end
    exit_status: int | None = None


@dataclass
class WorkerSet:
    """The workers after the first (which is the calling process)."""

    workers: list[Worker] = field(default_factory=list)
    handoff: int = -1  # the first worker's end of the fragment socket (-1: none)
    problems: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, count: int, serve: Callable[[int, int], dict[str, Any]]) -> WorkerSet:
        """Fork ``count - 1`` workers; each runs ``serve(number, handoff_fd)`` and sends
        back what it returns (JSON). The caller is worker 0 and reads ``handoff``."""
        first, others = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        first.setblocking(False)
        workers = cls(handoff=first.detach())
        try:
            for number in range(1, count):
                read_end, write_end = os.pipe()
                pid = os.fork()
                if pid == 0:  # the worker: never returns into the caller's code
                    status = 1
                    try:
                        os.close(read_end)
                        os.close(workers.handoff)
                        for worker in workers.workers:
                            os.close(worker.totals)
                        totals = serve(number, others.fileno())
                        with os.fdopen(write_end, "w", encoding="utf-8") as out:
                            json.dump(totals, out)
                        status = 0
                    except BaseException as exc:  # noqa: BLE001 - one line, then exit
                        print(f"stack-live: worker {number} failed: "
                              f"{type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                    finally:
                        os._exit(status)
                os.close(write_end)
                workers.workers.append(Worker(number, pid, read_end))
        finally:
            others.close()
        return workers

    def stop(self) -> list[dict[str, Any]]:
        """SIGTERM every worker and collect its totals; a worker that died says so in
        ``problems``."""
        for worker in self.workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signal.SIGTERM)
        totals: list[dict[str, Any]] = []
        for worker in self.workers:
            with os.fdopen(worker.totals, encoding="utf-8") as source:
                text = source.read()
            _, status = os.waitpid(worker.pid, 0)
            worker.exit_status = os.waitstatus_to_exitcode(status)
            try:
                totals.append(json.loads(text))
            except ValueError:
                self.problems.append(f"worker {worker.number} exited with status "
                                     f"{worker.exit_status} and no totals")
        with contextlib.suppress(OSError):
            os.close(self.handoff)
        return totals


def stats_from_dict(data: object) -> Stats:
    """The ``Stats`` a worker sent back with ``Stats.as_dict``."""
    stats = Stats()
    if isinstance(data, dict):
        stats.received = int(data.get("received", 0))
        stats.sent = int(data.get("sent", 0))
        for name in ("replies", "drops", "events"):
            counts = data.get(name, {})
            if isinstance(counts, dict):
                getattr(stats, name).update({str(k): int(v) for k, v in counts.items()})
    return stats


def io_path_text(workers: int, busy_poll_us: int, fast_path: bool,
                 fallback: str = "") -> str:
    """The banner's ``I/O:`` line: which path moves the packets, and why not the one
    asked for (``fallback``)."""
    spin = f", {busy_poll_us} us busy-poll" if busy_poll_us and fast_path else ""
    per_process = ("blocking read, one write per answer" if fast_path
                   else "epoll, up to 64 reads per wake-up")
    if workers > 1:
        # Only the first worker spins (stack/live/cli.py, _start_workers).
        text = (f"I/O: {workers} worker processes sharing the device's queue (fragments "
                f"to the first), each {per_process}{spin and ', the first with' + spin[1:]}")
    else:
        text = f"I/O: one process, {per_process}{spin}"
    return f"{text} ({fallback})" if fallback else text


def version_io_text() -> str:
    """What ``stack-live --version`` adds about the I/O paths this build has."""
    cores = os.cpu_count() or 1
    return ("I/O paths: epoll loop (lines, --json, --fifo, --tap); blocking fast path with "
            "busy-poll (-q on TUN); --workers N processes on the device's one queue "
            f"(1 to {MAX_WORKERS}; this machine has {cores} cores)")
