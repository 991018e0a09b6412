"""Benchmarks of the pure core: echo (IPv4, IPv6), the drop path, fragments, and the
memory a fragment flood can take (issue 9, items 1 to 4)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence

from bench import baselines
from bench.measure import Contender, Options, median, race, run_measured
from bench.packets import (
    bad_header_checksum,
    bad_icmp_checksum,
    echo_reply_problem,
    echo_request_v4,
    echo_requests_v4,
    echo_requests_v6,
    fragment_flood_v4,
    fragment_v4,
    not_for_us,
    reassemble_v4,
)
from bench.report import Row, fmt_bytes, ratio_row, unavailable
from stack.host import Host, HostConfig

__all__ = ["bench_echo4", "bench_echo6", "bench_drop", "bench_frag", "bench_fragflood"]

NOW = 1000.0  # the clock: echo and drops do not depend on it; fragments live 30 s from it
# The slow baselines take the first of the requests: their per-request rate is the same
# over fewer, and a full run stays a few minutes. dpkt answers ~50 k/s, scapy ~1 k/s.
DPKT_COUNT = (25_000, 5_000)
SCAPY_COUNT = (1000, 100)


def _responder_loop(respond: Callable[[bytes], object],
                    packets: Sequence[bytes]) -> Callable[[], Callable[[], int]]:
    def make() -> Callable[[], int]:
        def run() -> int:
            for packet in packets:
                respond(packet)
            return len(packets)
        return run
    return make


class _HostLoop:
    """Times ``Host.handle`` over the packets with a fresh host per repetition, keeping
    the hosts so the answers can be counted afterwards."""

    def __init__(self, packets: Sequence[bytes], per_item: int = 1) -> None:
        self.packets = packets
        self.per_item = per_item  # packets per counted item (fragments per datagram)
        self.hosts: list[Host] = []

    def make(self) -> Callable[[], int]:
        host = Host(HostConfig())
        self.hosts.append(host)
        handle = host.handle
        packets = self.packets

        def run() -> int:
            for packet in packets:
                handle(packet, NOW)
            return len(packets) // self.per_item
        return run

    def shortfall(self, expected_sent: int) -> str:
        """A note when some host sent fewer packets than a correct one would."""
        short = [h.stats.sent for h in self.hosts if h.stats.sent != expected_sent]
        if not short:
            return ""
        return f"a host sent {short[0]} packets, expected {expected_sent}"


def _pairs(rates: dict[str, list[float]], subject: str,
           baseline: str) -> list[tuple[float, float]]:
    """(subject, baseline) rates round by round: the two ran back to back in each round,
    under the same load, so the ratio is taken per round and then its median."""
    return list(zip(rates[subject], rates[baseline], strict=True))


def _echo_problem(requests: Sequence[bytes]) -> str | None:
    """Why the core cannot be timed on these requests (it does not answer them, or
    answers wrongly), or None."""
    host = Host(HostConfig())
    for request in requests[:64]:
        out = host.handle(request, NOW)
        if len(out) != 1:
            return (f"the core answers an echo request with {len(out)} packets "
                    f"({host.last_reason or 'no reason given'})")
        problem = echo_reply_problem(request, out[0])
        if problem:
            return f"the core's echo reply is wrong: {problem}"
    return None


def _check_responders(requests: Sequence[bytes],
                      responders: dict[str, Callable[[bytes], bytes]]) -> None:
    for name, respond in responders.items():
        for request in requests[:32]:
            problem = echo_reply_problem(request, respond(request))
            if problem:
                raise RuntimeError(f"baseline {name} is broken: {problem}")


def _echo(bench: str, family: str, sizes: tuple[int, int], build: Callable[[int, int],
          list[bytes]], minimal: Callable[[bytes], bytes], fullsum: Callable[[bytes], bytes],
          dpkt_responder: Callable[[bytes], bytes], scapy_index: int,
          opts: Options) -> list[Row]:
    rows: list[Row] = []
    count = opts.count(100_000, 5_000)
    scapy = baselines.scapy_responders()
    for size in sizes:
        small = size == sizes[0]
        label = f"{family} echo {size} B"
        requests = build(count, size)
        _check_responders(requests, {"minimal": minimal, "full checksum": fullsum,
                                     "dpkt": dpkt_responder})
        problem = _echo_problem(requests)
        contenders = [Contender("minimal", _responder_loop(minimal, requests)),
                      Contender("fullsum", _responder_loop(fullsum, requests)),
                      Contender("dpkt", _responder_loop(dpkt_responder,
                                                        requests[:opts.count(*DPKT_COUNT)]))]
        host_loop = _HostLoop(requests)
        if problem is None:
            contenders.append(Contender("tunstack", host_loop.make))
        rates = race(contenders, opts.reps)
        scapy_rate = None
        if not isinstance(scapy, str):
            respond = scapy[scapy_index]
            few = requests[:opts.count(*SCAPY_COUNT)]
            _check_responders(few, {"scapy": respond})
            scapy_rate = median(race([Contender("scapy", _responder_loop(respond, few))],
                                     min(opts.reps, 3))["scapy"])
        mins, full, dp = (median(rates[k]) for k in ("minimal", "fullsum", "dpkt"))
        if problem is not None:
            rows.append(unavailable(bench, f"{label}: tunstack vs dpkt", problem,
                                    ">= 4x" if small else ">= 3x"))
            rows.append(ratio_row(bench, f"{label}: minimal responder vs dpkt", mins, "/s",
                                  "dpkt", dp))
            rows.append(ratio_row(bench, f"{label}: full-checksum responder vs minimal",
                                  full, "/s", "minimal", mins))
            if scapy_rate is not None:
                rows.append(ratio_row(bench, f"{label}: scapy vs dpkt", scapy_rate, "/s",
                                      "dpkt", dp))
            continue
        ours = median(rates["tunstack"])
        note = host_loop.shortfall(count)
        samples = rates["tunstack"]
        rows.append(ratio_row(bench, f"{label}: tunstack vs dpkt", ours, "/s", "dpkt", dp,
                              target=4.0 if small else 3.0, note=note, samples=samples,
                              baseline_samples=rates["dpkt"],
                              paired=_pairs(rates, "tunstack", "dpkt")))
        rows.append(ratio_row(bench, f"{label}: tunstack vs minimal responder", ours, "/s",
                              "minimal", mins, target=0.35 if small else None,
                              samples=samples, baseline_samples=rates["minimal"],
                              paired=_pairs(rates, "tunstack", "minimal")))
        rows.append(ratio_row(bench, f"{label}: tunstack vs full-checksum responder", ours,
                              "/s", "full-checksum", full, samples=samples,
                              baseline_samples=rates["fullsum"],
                              paired=_pairs(rates, "tunstack", "fullsum")))
        if scapy_rate is None:
            assert isinstance(scapy, str)
            rows.append(unavailable(bench, f"{label}: tunstack vs scapy", scapy))
        else:
            rows.append(ratio_row(bench, f"{label}: tunstack vs scapy", ours, "/s", "scapy",
                                  scapy_rate))
    return rows


def bench_echo4(opts: Options) -> list[Row]:
    """Item 1: IPv4 echo at 84 B (ping's default) and 1428 B."""
    return _echo("echo4", "IPv4", (84, 1428), echo_requests_v4, baselines.minimal_v4,
                 baselines.fullsum_v4, baselines.dpkt_v4, 0, opts)


def bench_echo6(opts: Options) -> list[Row]:
    """Item 4: IPv6 echo at 104 B (ping -6's default) and 1448 B (the same ICMP data as
    IPv4's 84 and 1428 B), with item 1's targets."""
    return _echo("echo6", "IPv6", (104, 1448), echo_requests_v6, baselines.minimal_v6,
                 baselines.fullsum_v6, baselines.dpkt_v6, 1, opts)


def bench_drop(opts: Options) -> list[Row]:
    """Item 2: packets the host must drop, against a bare checksum-verify loop."""
    count = opts.count(100_000, 5_000)
    valid = echo_requests_v4(count, 84)
    cases = {
        "bad header checksum": [bad_header_checksum(p) for p in valid],
        "bad ICMP checksum": [bad_icmp_checksum(p) for p in valid],
        "not for us": [not_for_us(i, 84) for i in range(count)],
    }
    rows = []
    for case, packets in cases.items():
        what = f"IPv4 drop, {case}: tunstack vs bare verify loop"
        if any(baselines.bare_verify_v4(p) for p in packets[:64]):
            raise RuntimeError(f"the {case} packets pass the bare verify loop")
        host = Host(HostConfig())
        reasons = set()
        problem = None
        for packet in packets[:64]:
            if host.handle(packet, NOW):
                problem = f"the core answers a packet with a {case}"
                break
            reasons.add(host.last_reason)
        if problem is None and any(r.endswith("unimplemented") for r in reasons):
            problem = f"the core drops everything as {', '.join(sorted(reasons))}"
        if problem is not None:
            rows.append(unavailable("drop", what, problem, ">= 0.5x"))
            continue
        host_loop = _HostLoop(packets)
        rates = race([Contender("bare", _responder_loop(baselines.bare_verify_v4, packets)),
                      Contender("tunstack", host_loop.make)], opts.reps)
        rows.append(ratio_row("drop", what, median(rates["tunstack"]), "/s", "bare verify",
                              median(rates["bare"]), target=0.5,
                              note="reason " + ", ".join(sorted(reasons)),
                              samples=rates["tunstack"], baseline_samples=rates["bare"],
                              paired=_pairs(rates, "tunstack", "bare")))
    return rows


def bench_frag(opts: Options) -> list[Row]:
    """Item 3: a 3000-byte echo request in 3 fragments, answered in 3 fragments."""
    count = opts.count(10_000, 1_000)
    whole = [echo_request_v4(i, 3000) for i in range(count)]
    datagrams = [fragment_v4(request, 1500) for request in whole]
    what = "IPv4 3000 B echo in 3 fragments, reply in 3: tunstack datagrams vs its 84 B echo"
    host = Host(HostConfig())
    for request, fragments in zip(whole[:16], datagrams, strict=False):
        out: list[bytes] = []
        for fragment in fragments:
            out = host.handle(fragment, NOW)
        reply = reassemble_v4(out) if len(out) == 3 else None
        if reply is None:
            return [unavailable("frag", what, f"the core answers the last fragment with "
                                f"{len(out)} packets that do not reassemble "
                                f"({host.last_reason or 'no reason given'})")]
        problem = echo_reply_problem(request, reply)
        if problem:
            return [unavailable("frag", what, f"the reassembled reply is wrong: {problem}")]
    echo_requests = echo_requests_v4(opts.count(100_000, 5_000), 84)
    echo_problem = _echo_problem(echo_requests)
    if echo_problem is not None:
        return [unavailable("frag", what, echo_problem)]
    flat = [f for fragments in datagrams for f in fragments]
    frag_loop = _HostLoop(flat, per_item=3)
    echo_loop = _HostLoop(echo_requests)
    rates = race([Contender("frag", frag_loop.make), Contender("echo", echo_loop.make)],
                 opts.reps)
    return [ratio_row("frag", what, median(rates["frag"]), "/s", "echo 84 B",
                      median(rates["echo"]), note=frag_loop.shortfall(3 * count),
                      samples=rates["frag"], baseline_samples=rates["echo"],
                      paired=_pairs(rates, "frag", "echo"))]


def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def flood_memory(count: int, max_datagrams: int) -> dict[str, int]:
    """Run in a child process: feed ``count`` flood fragments to a fresh host and return
    how far its resident set grew at its peak (bytes), with the fragment counters.
    The peak is Linux's VmHWM, reset just before the flood (``clear_refs`` 5), so the
    imports' own peak does not count."""
    import gc

    config = HostConfig(frag_max_datagrams=max_datagrams)
    host = Host(config)
    handle = host.handle
    flood = fragment_flood_v4(count, seed=9)
    gc.collect()
    with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
        refs.write("5")
    before = _status_kib("VmRSS")
    for index, fragment in enumerate(flood):
        # A thousandth of a second apart: 1 M fragments span 1000 s, so the 30 s
        # timeout would retire queues too, were the caps not reached first.
        handle(fragment, NOW + index * 1e-3)
    peak = _status_kib("VmHWM")
    events, drops = host.stats.events, host.stats.drops
    return {"grown": (peak - before) * 1024, "limit": config.frag_mem_limit,
            "held": events.get("frag.held", 0) + drops.get("frag.held", 0),
            "evicted": events.get("frag.evicted", 0),
            "timed_out": events.get("frag.timeout", 0),
            "in_progress": len(host.ipv4.reassembler)}


FLOOD_CHILD = ("import json, sys; from bench.core import flood_memory; "
               "print(json.dumps(flood_memory(int(sys.argv[1]), int(sys.argv[2]))))")


def bench_fragflood(opts: Options) -> list[Row]:
    """Item 3: a flood of never-completed fragments with random IDs (seeded), in a child
    process; its resident set must grow by less than ``frag_mem_limit``. Twice: with
    the default caps (the 1024-datagram cap binds first) and with the datagram cap
    lifted, so that ``frag_mem_limit`` itself is what holds memory down."""
    count = opts.count(1_000_000, 20_000)
    # With the datagram cap lifted the table reaches its steady state (frag_mem_limit
    # full, one eviction per new datagram) within ~5000 fragments: a fifth is plenty.
    lifted_count = max(count // 5, min(count, 20_000))
    default = HostConfig()
    probe = Host(default)
    probe.handle(next(fragment_flood_v4(1, seed=9)), NOW)
    held = probe.last_reason == "frag.held" or probe.stats.events.get("frag.held")
    rows = []
    for flood, max_datagrams, label in (
            (count, default.frag_max_datagrams, "default caps"),
            (lifted_count, 10 * count, "datagram cap lifted")):
        what = (f"IPv4 flood of {flood:,} random-ID fragments, {label}: peak RSS growth "
                f"vs frag_mem_limit")
        if not held:
            rows.append(unavailable("fragflood", what, f"the core does not hold a fragment "
                                    f"({probe.last_reason or 'no reason given'})", "<= 1x"))
            continue
        done = run_measured([sys.executable, "-c", FLOOD_CHILD, str(flood), str(max_datagrams)],
                            timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"the flood child failed: {done.error_line()}")
        found = json.loads(done.stdout)
        note = (f"{found['held']:,} held, {found['evicted']:,} evicted, "
                f"{found['timed_out']:,} timed out, {found['in_progress']:,} in progress "
                "at the end")
        row = ratio_row("fragflood", what, found["grown"], "B", "cap", found["limit"],
                        target=1.0, at_most=True, note=note)
        row.baseline = f"frag_mem_limit {fmt_bytes(found['limit'])}"
        rows.append(row)
    return rows
