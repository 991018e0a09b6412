"""The benchmark harness: its baselines answer correctly, its packets are what they
claim, and ``python -m bench --quick`` produces every row. No speed is asserted."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import time
from pathlib import Path

import dpkt
import pytest

from bench import baselines
from bench.fuzzbench import parse_libfuzzer_stats
from bench.live import parse_ping
from bench.measure import run_measured
from bench.packets import (
    HOST_V4,
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
from bench.report import Machine, ratio_row, render, render_markdown, unavailable
from stack.wire.checksum import is_valid

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("size", [84, 85, 1428])
def test_ipv4_responders_answer_every_request_correctly(size: int) -> None:
    requests = echo_requests_v4(300, size)
    responders = [baselines.minimal_v4, baselines.fullsum_v4, baselines.dpkt_v4]
    for request in requests:
        for respond in responders:
            assert echo_reply_problem(request, respond(request)) is None, respond.__name__


@pytest.mark.parametrize("size", [104, 105, 1448])
def test_ipv6_responders_answer_every_request_correctly(size: int) -> None:
    for request in echo_requests_v6(300, size):
        for respond in (baselines.minimal_v6, baselines.fullsum_v6, baselines.dpkt_v6):
            assert echo_reply_problem(request, respond(request)) is None, respond.__name__


def test_minimal_reply_bytes_match_a_hand_built_reply() -> None:
    request = echo_request_v4(7, 84)
    reply = baselines.minimal_v4(request)
    # Same header but swapped addresses (TTL kept); type 0; data unchanged.
    assert reply[8] == request[8] and reply[12:16] == request[16:20] == HOST_V4
    assert reply[16:20] == request[12:16]
    assert reply[20] == 0 and reply[24:] == request[24:]
    parsed = dpkt.ip.IP(reply)
    assert parsed.data.type == 0 and parsed.data.echo.seq == 7


def test_echo_reply_problem_names_what_is_wrong() -> None:
    request = echo_request_v4(1, 84)
    good = baselines.minimal_v4(request)
    assert echo_reply_problem(request, bad_header_checksum(good)) == "bad IPv4 header checksum"
    assert echo_reply_problem(request, bad_icmp_checksum(good)) == "bad ICMP checksum"
    assert echo_reply_problem(request, request) == "addresses not swapped"
    v6 = echo_requests_v6(1, 104)[0]
    broken = bytearray(baselines.minimal_v6(v6))
    broken[-1] ^= 1
    assert echo_reply_problem(v6, bytes(broken)) == "bad ICMPv6 checksum"


def test_requests_are_distinct_and_valid() -> None:
    requests = echo_requests_v4(1000, 84)
    assert len(set(requests)) == 1000
    for request in requests:
        assert len(request) == 84
        assert is_valid(request[:20]) and is_valid(request[20:])
        assert request[16:20] == HOST_V4 and request[12:15] == bytes([172, 16, 0])
        assert request[15] not in (0, 2, 255)


def test_bare_verify_accepts_valid_and_rejects_each_drop_case() -> None:
    requests = echo_requests_v4(200, 84)
    assert all(baselines.bare_verify_v4(r) for r in requests)
    assert not any(baselines.bare_verify_v4(bad_header_checksum(r)) for r in requests)
    assert not any(baselines.bare_verify_v4(bad_icmp_checksum(r)) for r in requests)
    assert not any(baselines.bare_verify_v4(not_for_us(i, 84)) for i in range(200))


def test_fragments_reassemble_to_the_datagram() -> None:
    request = echo_request_v4(3, 3000)
    fragments = fragment_v4(request, 1500)
    assert [len(f) for f in fragments] == [1500, 1500, 40]
    assert [struct.unpack("!H", f[6:8])[0] for f in fragments] == [0x2000, 0x2000 | 185, 370]
    assert all(is_valid(f[:20]) for f in fragments)
    assert reassemble_v4(list(reversed(fragments))) == request
    assert reassemble_v4(fragments[:2]) is None  # no last fragment
    assert reassemble_v4([fragments[0], fragments[2]]) is None  # a gap


def test_fragment_flood_is_seeded_and_never_completes() -> None:
    first = list(fragment_flood_v4(500, seed=9))
    assert first == list(fragment_flood_v4(500, seed=9))
    assert first != list(fragment_flood_v4(500, seed=10))
    for fragment in first:
        assert is_valid(fragment[:20])
        assert struct.unpack("!H", fragment[6:8])[0] & 0x2000  # more fragments
        assert (len(fragment) - 20) % 8 == 0


def test_ratio_rows_judge_their_targets() -> None:
    above = ratio_row("x", "a", 10.0, "/s", "base", 2.0, target=4.0)
    assert above.ratio == 5.0 and above.met is True and above.verdict == "yes"
    below = ratio_row("x", "b", 1.0, "s", "base", 1.0, target=0.9, at_most=True)
    assert below.met is False and below.verdict == "NO" and below.target == "<= 0.9x"
    plain = ratio_row("x", "c", 3.0, "/s", "base", 1.0)
    assert plain.met is None and plain.verdict == ""
    paired = ratio_row("x", "e", 5.0, "/s", "base", 1.0, target=2.5,
                       paired=[(2.0, 1.0), (9.0, 3.0), (40.0, 4.0)])
    assert paired.ratio == 3.0 and paired.met is True  # the median of 2, 3 and 10
    missing = unavailable("x", "d", "no replay yet", ">= 0.5x")
    assert missing.figure == "not available: no replay yet" and missing.verdict == "n/a"
    machine = Machine.probe()
    text = render([above, below, plain, missing], machine)
    assert "benchmark" in text and "5x" in text and "Missed targets: b" in text
    markdown = render_markdown([above], machine, "python -m bench")
    assert markdown.splitlines()[2].startswith("| benchmark")


PING_PACED = """PING 172.16.0.2 (172.16.0.2) 56(84) bytes of data.
64 bytes from 172.16.0.2: icmp_seq=1 ttl=64 time=0.179 ms
64 bytes from 172.16.0.2: icmp_seq=2 ttl=64 time=0.123 ms
64 bytes from 172.16.0.2: icmp_seq=3 ttl=64 time=0.125 ms

--- 172.16.0.2 ping statistics ---
4 packets transmitted, 3 received, 25% packet loss, time 4ms
rtt min/avg/max/mdev = 0.123/0.142/0.179/0.026 ms
"""

PING_FLOOD = """PING 172.16.0.2 (172.16.0.2) 56(84) bytes of data.

--- 172.16.0.2 ping statistics ---
3000 packets transmitted, 3000 received, 0% packet loss, time 75ms
rtt min/avg/max/mdev = 0.007/0.016/0.118/0.003 ms, ipg/ewma 0.024/0.016 ms
"""


def test_parse_ping_reads_iputils_output() -> None:
    paced = parse_ping(PING_PACED)
    assert paced is not None
    assert (paced.transmitted, paced.received, paced.lost) == (4, 3, 1)
    assert paced.median_rtt == pytest.approx(0.125e-3)
    assert paced.sequences == [1, 2, 3]
    assert paced.median_rtt_where(odd=True) == pytest.approx(0.152e-3)  # seq 1 and 3
    assert paced.median_rtt_where(odd=False) == pytest.approx(0.123e-3)
    flood = parse_ping(PING_FLOOD)
    assert flood is not None
    assert flood.rate == pytest.approx(40_000)
    assert flood.rtts == [] and flood.median_rtt == pytest.approx(0.016e-3)
    assert flood.sequences == [] and flood.median_rtt_where(odd=True) == 0.0
    assert parse_ping("ping: connect: Network is unreachable") is None


LIBFUZZER_TAIL = """#4096\tpulse  cov: 812 ft: 1400 corp: 60/2Kb exec/s: 1365 rss: 50Mb
Done 3760 runs in 3 second(s)
stat::number_of_executed_units: 3760
stat::average_exec_per_sec:     1253
stat::new_units_added:          12
stat::slowest_unit_time_sec:    0
stat::peak_rss_mb:              50
"""


def test_parse_libfuzzer_stats() -> None:
    stats = parse_libfuzzer_stats(LIBFUZZER_TAIL)
    assert stats["number_of_executed_units"] == 3760
    assert stats["average_exec_per_sec"] == 1253
    assert stats["peak_rss_mb"] == 50
    done_only = parse_libfuzzer_stats(
        "#2000\tDONE   cov: 10 ft: 20 corp: 3/1b exec/s: 999 rss: 40Mb")
    assert done_only == {"number_of_executed_units": 2000, "average_exec_per_sec": 999}
    assert parse_libfuzzer_stats("garbage") == {}


def test_run_measured_reports_the_programs_own_peak_rss() -> None:
    # This process holds 200 MB; a child's ru_maxrss would include it, the launcher's not.
    ballast = bytearray(200_000_000)
    done = run_measured([sys.executable, "-c", "x = bytearray(60_000_000); print(len(x))"],
                        timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "60000000"
    assert 60_000_000 < done.max_rss < 150_000_000
    missing = run_measured(["/nonexistent/program"], timeout=10)
    assert missing.returncode == 127
    assert missing.error_line() == "cannot run /nonexistent/program: No such file or directory"
    del ballast


def test_bad_flags_give_one_line_and_exit_2() -> None:
    done = subprocess.run([sys.executable, "-m", "bench", "--only", "nosuch"], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "unknown benchmark 'nosuch'" in done.stderr
    assert "Traceback" not in done.stderr


# What --quick must produce, benchmark by benchmark: each row is either a figure or a
# "not available: <why>", never missing and never a failure.
EXPECTED_ROWS = {
    "echo4": ["IPv4 echo 84 B: tunstack vs dpkt", "IPv4 echo 1428 B: tunstack vs dpkt"],
    "drop": ["IPv4 drop, bad header checksum: tunstack vs bare verify loop",
             "IPv4 drop, bad ICMP checksum: tunstack vs bare verify loop",
             "IPv4 drop, not for us: tunstack vs bare verify loop"],
    "frag": ["IPv4 3000 B echo in 3 fragments, reply in 3: tunstack datagrams vs its 84 B echo"],
    "fragflood": ["IPv4 flood of 20,000 random-ID fragments, default caps: peak RSS growth "
                  "vs frag_mem_limit",
                  "IPv4 flood of 20,000 random-ID fragments, datagram cap lifted: peak RSS "
                  "growth vs frag_mem_limit"],
    "echo6": ["IPv6 echo 104 B: tunstack vs dpkt", "IPv6 echo 1448 B: tunstack vs dpkt"],
    "replay": ["replay --expect over 20,000 packets: tunstack vs dpkt read-only loop",
               "replay --expect peak RSS, 20,000 vs 2,000 packets"],
    "live": ["live ping -f -c 2000: stack-live vs raw TUN loop",
             "live ping -c 100 -i 0.002 median RTT: stack-live vs raw TUN loop",
             "live: stack-live packets lost (flood and paced runs)",
             "live ping -c 200 -i 0.002 to one responder alternating Host.handle (odd "
             "icmp_seq) and the minimal responder (even): median RTT"],
    "capacity": ["capacity: 4 concurrent ping -f -c 1000: stack-live vs kernel over veth "
                 "(total answered packets/s)",
                 "capacity: 16 concurrent ping -f -c 1000: stack-live vs kernel over veth "
                 "(total answered packets/s)",
                 "capacity: packets lost by stack-live under 16 floods",
                 "capacity: CPU (user+sys) per 100,000 answered packets, 4 floods: "
                 "stack-live vs raw TUN loop",
                 "capacity: one ping -f -c 1000, stack-live --busy-poll 0 vs the C tutorial "
                 "stack (issue 19's 12.0k pps, not measured here)",
                 "capacity: 4 concurrent ping -f -c 1000: stack-live --workers 2 vs kernel "
                 "over veth (total answered packets/s)",
                 "capacity: 4 concurrent ping -f -c 1000: stack-live --workers 2 vs "
                 "--workers 1"],
}


def _expected_fuzz_rows() -> list[str]:
    """One row per atheris target, or the one row saying why there are none."""
    try:
        from fuzz.targets import TARGETS
    except ImportError:
        return ["fuzz: executions/s of each atheris target over 1 s"]
    return [f"fuzz target {name}, instrumented, 1 s" for name in TARGETS]


def test_quick_run_produces_every_row(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    expected = EXPECTED_ROWS | {"fuzz": _expected_fuzz_rows()}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--fuzz-seconds", "1", "--json", str(out),
         "--only", ",".join(expected)], cwd=ROOT, capture_output=True, text=True,
        check=False, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    report = json.loads(out.read_text())
    assert report["mode"] == "quick"
    rows = report["rows"]
    assert not [r for r in rows if r["figure"].startswith("failed:")]
    found = {r["what"]: r for r in rows}
    for bench, names in expected.items():
        for name in names:
            assert name in found, f"{bench}: no row {name!r}"
            row = found[name]
            assert row["bench"] == bench
            if not row["figure"].startswith("not available: "):
                assert row["value"] is not None and row["value"] >= 0
                assert row["verdict"] in (("yes", "NO") if row["target"] else ("",))
    for row in rows:  # every printed row made it to the table too
        assert row["what"] in done.stdout
    # The saved run prints again, as the README's markdown table.
    again = subprocess.run([sys.executable, "-m", "bench", "--from-json", str(out),
                            "--markdown"], cwd=ROOT, capture_output=True, text=True,
                           check=False)
    assert again.returncode == 0, again.stderr
    lines = again.stdout.splitlines()
    assert lines[0].startswith("Measured ") and lines[0].endswith("`python -m bench --quick`.")
    assert lines[2].startswith("| benchmark ")
    assert len([line for line in lines if line.startswith("| ")]) == len(rows) + 1  # + header


def test_from_json_rejects_what_is_not_a_report(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"rows": 3}')
    for path in (bad, tmp_path / "missing.json"):
        done = subprocess.run([sys.executable, "-m", "bench", "--from-json", str(path)],
                              cwd=ROOT, capture_output=True, text=True, check=False)
        assert done.returncode == 2
        assert done.stderr.startswith("bench: ") and len(done.stderr.splitlines()) == 1


def test_process_tree_cpu_counts_the_children_too() -> None:
    from bench.capacity import process_tree_cpu

    # A parent that sleeps while its child burns CPU: only the tree sees the child's.
    code = ("import os,time\nif os.fork()==0:\n    end=time.process_time()+0.3\n"
            "    while time.process_time()<end: pass\n    os._exit(0)\ntime.sleep(3)")
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 10
        while process_tree_cpu(proc.pid) < 0.3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process_tree_cpu(proc.pid) >= 0.3
    finally:
        proc.kill()
        proc.wait()
    assert process_tree_cpu(proc.pid) == 0.0  # gone: nothing to read
