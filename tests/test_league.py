"""The league (league/): definition files, the category table, the grader's seam to
replay, the "did not start" row, and the report's table and heatmap from a small fake
result set; tunstack graded in process through the real replay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from league import __main__ as league_cli
from league.build import build_stack
from league.categories import CATEGORIES, QUICK_CASES, category_of
from league.definition import DefinitionError, load_definition, load_shipped
from league.grade import (
    CaseVerdict,
    Finding,
    HarnessError,
    StackResult,
    grade_stack,
    parse_replay_json,
    replay_command,
)
from league.report import render_markdown, render_svg, scores

CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "linux"
CASE_NAMES = sorted(p.stem for p in CORPUS.glob("*.pcapng"))

MYSTACK = """\
name = "mystack"
title = "My stack 0.1"
origin = "a student's project"
device = "tap"
build = ["cc -o {build}/mystack {here}/mystack.c"]
builds = ["{build}/mystack"]
start = "{build}/mystack {dev}"
version = "echo 0.1"
map = ["172.16.0.2=10.0.0.4", "fd00:16::2=fd00::4"]
ready = 2
"""


def write(tmp_path: Path, text: str, name: str = "mystack.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_definition_file_parses_with_its_defaults_and_placeholders(tmp_path: Path) -> None:
    definition = load_definition(write(tmp_path, MYSTACK))
    assert (definition.name, definition.kind, definition.device, definition.device_name) == \
        ("mystack", "wire", "tap", "tap0")
    assert definition.map == ("172.16.0.2=10.0.0.4", "fd00:16::2=fd00::4")
    assert definition.ready == 2.0
    assert definition.expand(definition.start, Path("/b"), "py") == "/b/mystack tap0"
    assert definition.expand(definition.build[0], Path("/b"), "py") == \
        f"cc -o /b/mystack {tmp_path}/mystack.c"


@pytest.mark.parametrize(("text", "why"), [
    ("name = 'x'\nkind = 'wire'\nstart = 's'\n", "device must be 'tun' or 'tap'"),
    ("name = 'x'\ndevice = 'tun'\n", "start is required"),
    ("name = 'x'\nkind = 'boat'\n", "kind must be one of"),
    ("title = 'x'\n", "name is required"),
    ("name = 'a b'\n", "name is required"),
    ("name = 'x'\ndevice = 'tun'\nstart = 's'\nmap = ['10.0.0.4']\n",
     "map entry '10.0.0.4' is not RECORDED=ACTUAL"),
    ("name = 'x'\ncolour = 'red'\n", "unknown field 'colour'"),
    ("name = 'x'\nready = 'soon'\n", "ready must be a number"),
    ("name = 'x'\nbuild = 3\n", "build must be a list of strings"),
    ("name = = 'x'\n", "not TOML"),
])
def test_a_bad_definition_file_is_one_line_naming_the_file(tmp_path: Path, text: str,
                                                           why: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(DefinitionError) as error:
        load_definition(path)
    assert str(error.value).startswith(f"{path}: ")
    assert why in str(error.value)
    assert "\n" not in str(error.value)


def test_bad_definition_file_on_the_command_line_exits_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "name = 'x'\nkind = 'boat'\n")
    with pytest.raises(SystemExit) as exited:
        league_cli.main(["--stack", str(path)])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"league: {path}: kind must be")


def test_unknown_only_name_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        league_cli.main(["--only", "lwip,nosuch"])
    assert exited.value.code == 2
    assert "--only: no stack named 'nosuch'" in capsys.readouterr().err


def test_the_shipped_stacks_load_in_table_order() -> None:
    names = [s.name for s in load_shipped()]
    assert names == ["linux", "tunstack", "tunstack-live", "lwip", "lwipv6", "slirp",
                     "netstack", "pytcp"]


def test_every_corpus_case_has_a_category_and_every_category_has_cases() -> None:
    by_category = {c: [n for n in CASE_NAMES if category_of(n) == c] for c in CATEGORIES}
    assert sum(len(v) for v in by_category.values()) == len(CASE_NAMES) == 316
    assert all(by_category.values())
    assert category_of("frag_timeout") == "timers"
    assert category_of("udp_closed_ratelimit_refill") == "timers"
    assert category_of("udp_closed_ratelimit") == "ICMP errors and rate limits"
    assert category_of("frag_udp_closed") == "fragments and reassembly"
    assert category_of("v6_frag_udp_closed") == "IPv6 fragments"
    assert category_of("opt_rr_on_udp_closed") == "IPv4 options"
    assert category_of("v6_unknown_next_header_after_dstopts") == "IPv6 extension headers"
    assert category_of("v6_unknown_next_header") == "ICMP errors and rate limits"
    assert category_of("ns_dad") == "neighbour discovery"
    assert category_of("v6_pmtu_ptb_1280") == "path MTU"
    assert category_of("bcast_tcp_syn") == "UDP/TCP closed ports"
    assert category_of("bad_version") == "echo"
    assert category_of("udplite_closed") == "UDP/TCP closed ports"
    assert category_of("v6_ns_fragmented") == "neighbour discovery"
    assert category_of("frag_timeout_record_route") == "timers"


def test_the_quick_subset_exists_and_covers_every_category() -> None:
    assert set(QUICK_CASES) <= set(CASE_NAMES)
    assert {category_of(c) for c in QUICK_CASES} == set(CATEGORIES)
    assert "frag_timeout" not in QUICK_CASES  # 30 s of real time


def test_the_replay_command_for_each_kind(tmp_path: Path) -> None:
    wire = load_definition(write(tmp_path, MYSTACK))
    cases = [Path("a.pcapng"), Path("b.pcapng")]
    crash = tmp_path / "crashes"
    assert replay_command(wire, cases, crash, Path("/b"), "py") == [
        "py", "-m", "replay", "a.pcapng", "b.pcapng", "--expect", "--profile", "linux",
        "--json", "--wire", "tap0", "--exec", "/b/mystack tap0", "--crash-dir", str(crash),
        "--map", "172.16.0.2=10.0.0.4", "--map", "fd00:16::2=fd00::4", "--ready", "2"]
    shipped = {s.name: s for s in load_shipped()}
    assert replay_command(shipped["linux"], cases, crash, Path("/b"), "py")[-1] == "--kernel"
    assert replay_command(shipped["tunstack"], cases, crash, Path("/b"), "py")[-1] == "--json"


REPLAY_JSON = {
    "settings": {}, "exit_code": 1, "totals": {},
    "files": [
        {"path": "corpus/linux/echo_basic.pcapng", "error": None,
         "cases": [{"name": "echo_basic", "passed": True, "excused": False, "verdict": "pass",
                    "mismatches": []}]},
        {"path": "corpus/linux/opt_rr.pcapng", "error": None,
         "cases": [{"name": "opt_rr", "passed": False, "excused": False,
                    "mismatches": [{"kind": "diff", "where": "packet #2 (t=0.000100 s)",
                                    "summary": "ipv4.options differ"}]}]},
        {"path": "corpus/linux/frag_ping_of_death.pcapng", "error": None,
         "cases": [{"name": "frag_ping_of_death", "passed": False, "excused": False,
                    "verdict": "crashed", "reproducer": "crashes/frag_ping_of_death.pcapng",
                    "stack_output": ["goroutine 1", "panic: icmp.go:340"],
                    "mismatches": [{"kind": "crashed", "where": "packet #44",
                                    "summary": "the stack exited (status 2)"}]}]},
        {"path": "corpus/linux/frag_timeout.pcapng", "error": None,
         "cases": [{"name": "frag_timeout", "passed": True, "excused": False,
                    "verdict": "skipped", "skipped": "waits 30 s of real time",
                    "mismatches": []}]},
    ],
}


def test_replay_json_gives_verdicts_and_findings() -> None:
    verdicts, findings = parse_replay_json(json.dumps(REPLAY_JSON))
    assert [(v.case, v.verdict) for v in verdicts] == [
        ("echo_basic", "pass"), ("opt_rr", "mismatch"), ("frag_ping_of_death", "crashed"),
        ("frag_timeout", "skipped")]
    assert verdicts[1].summary == "packet #2 (t=0.000100 s): ipv4.options differ"
    assert findings == [Finding("frag_ping_of_death", "crashed",
                                "crashes/frag_ping_of_death.pcapng",
                                "packet #44: the stack exited (status 2); the stack said: "
                                "panic: icmp.go:340")]
    with pytest.raises(HarnessError, match="no JSON report"):
        parse_replay_json("Traceback (most recent call last):")


def fake_results() -> list[StackResult]:
    good = StackResult("good", "Good stack", "wire", version="1.0", origin="here", seconds=12.0,
                       verdicts=[CaseVerdict("echo_basic", "pass"),
                                 CaseVerdict("v6_echo_basic", "pass"),
                                 CaseVerdict("opt_rr", "mismatch"),
                                 CaseVerdict("frag_timeout", "skipped")])
    crashy = StackResult("crashy", "Crashy", "wire", version="2", origin="there", seconds=3.0,
                         verdicts=[CaseVerdict("echo_basic", "pass"),
                                   CaseVerdict("frag_ping_of_death", "crashed")],
                         findings=[Finding("frag_ping_of_death", "crashed",
                                           "corpus/peers/crashy/frag_ping_of_death.pcapng",
                                           "panic: icmp.go:340")])
    absent = StackResult("absent", "Absent", "wire", origin="nowhere", started=False,
                         why="build failed (gcc): lwipv6.h: No such file")
    return [good, crashy, absent]


def test_scores_count_cases_passed_of_cases_run() -> None:
    good = scores(fake_results()[0])
    assert (good["echo"].passed, good["echo"].run) == (2, 2)
    assert (good["IPv4 options"].passed, good["IPv4 options"].run) == (0, 1)
    assert good["timers"].run == 0  # skipped is not run
    assert str(good["timers"]) == "–"


def test_the_report_table_rows() -> None:
    text = render_markdown(fake_results(), date="2026-12-02 00:00 UTC", commit="abc1234",
                           cases=274, command="python -m league")
    lines = text.splitlines()
    assert "| Good stack | 2/2 | 0/1 | – | – | – | – | – | – | – | – | **2/3** |" in lines
    assert "| Crashy | 1/1 | – | 0/1 | – | – | – | – | – | – | – | **1/2** |" in lines
    assert ("| Absent | did not start: build failed (gcc): lwipv6.h: No such file |"
            + " |" * 10) in lines
    assert ("| Crashy | `frag_ping_of_death` | crashed | "
            "`corpus/peers/crashy/frag_ping_of_death.pcapng` | panic: icmp.go:340 |") in lines
    assert "| Good stack | here | 1.0 | wire | 12 s |" in lines
    assert "| Absent | nowhere | unknown | wire | — |" in lines
    assert "at commit `abc1234`, on 274 cases" in text


def test_the_heatmap_colours_each_cell_by_its_share() -> None:
    svg = render_svg(fake_results())
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" width="1120" height="190"')
    # Good stack, echo: all passed (green); IPv4 options: none (red); timers: not run (grey).
    assert '<rect x="190" y="96" width="90" height="26" fill="#28c850"/>' in svg
    assert '<rect x="282" y="96" width="90" height="26" fill="#dc3c50"/>' in svg
    assert '<rect x="1018" y="96" width="90" height="26" fill="#dddddd"/>' in svg
    assert ">did not start: build failed (gcc): lwipv6.h: No such file</text>" in svg
    assert svg.count("<rect") == 1 + 10 + 10 + 1


def test_a_stack_that_fails_to_build_gets_a_did_not_start_row(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "name = 'broken'\ndevice = 'tun'\nstart = 'true'\n"
                           "build = ['echo compiling; echo no compiler here >&2; exit 3']\n"
                           "builds = ['{build}/never']\n", "broken.toml")
    outcome = build_stack(load_definition(path), tmp_path / "build")
    assert not outcome.ok
    assert outcome.why == "build failed (echo): no compiler here"
    out = tmp_path / "out"
    assert league_cli.main(["--stack", str(path), "--quick", "--out", str(out)]) == 0
    page = (out / "league.md").read_text()
    assert "| broken | did not start: build failed (echo): no compiler here |" in page
    assert "did not start: build failed (echo): no compiler here" in \
        (out / "league-heatmap.svg").read_text()
    assert "league: broken: did not start: build failed (echo): no compiler here" in \
        capsys.readouterr().out


def test_tunstack_in_process_is_graded_through_replay(tmp_path: Path) -> None:
    tunstack = {s.name: s for s in load_shipped()}["tunstack"]
    cases = [CORPUS / "echo_basic.pcapng", CORPUS / "v6_udp_closed.pcapng"]
    result = grade_stack(tunstack, cases, "0", tmp_path, budget=300)
    assert result.started, result.why
    assert [(v.case, v.verdict) for v in result.verdicts] == [
        ("echo_basic", "pass"), ("v6_udp_closed", "pass")]
    assert result.findings == []


def test_only_keeps_the_other_rows_of_the_table(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    kept = fake_results()[0]
    (out / "league-results.json").write_text(json.dumps({"cases": 19,
                                                          "stacks": [kept.as_dict()]}))
    assert league_cli.main(["--only", "tunstack", "--quick", "--out", str(out)]) == 0
    stacks = json.loads((out / "league-results.json").read_text())["stacks"]
    assert [s["name"] for s in stacks] == ["tunstack", "good"]
    assert all(v["verdict"] == "pass" for v in stacks[0]["verdicts"])


def test_an_mld_report_behind_its_hop_by_hop_header_is_link_chatter() -> None:
    """lwIP reports its groups when it comes up (NETIF_FLAG_MLD6): an MLDv1 report
    (RFC 2710 §3) behind Hop-by-Hop Router Alert must not be graded as an answer."""
    from stack.host.stats import Stats
    from stack.sut.wire import LinkKind, WireStack

    wire = WireStack.__new__(WireStack)
    wire.kind = LinkKind.TUN
    wire.stats = Stats()
    hop_by_hop = bytes([58, 0, 5, 2, 0, 0, 1, 0])  # Router Alert (MLD), PadN
    report = bytes([131, 0, 0, 0, 0, 0, 0, 0]) + bytes.fromhex("ff020000000000000000000001ff0002")
    header = bytes.fromhex("60000000") + (len(hop_by_hop) + len(report)).to_bytes(2, "big") \
        + bytes([0, 1]) + bytes.fromhex("fe800000000000000000000000000002") \
        + bytes.fromhex("ff020000000000000000000001ff0002")
    assert wire._from_link(header + hop_by_hop + report) is None
    assert wire.stats.events["wire.chatter.icmpv6_131"] == 1
    echo_request = bytes([128, 0, 0, 0, 0, 1, 0, 1]) + bytes(8)  # graded, not chatter
    assert wire._from_link(header + hop_by_hop + echo_request) is not None


def test_stopping_a_stack_stops_its_whole_tree_through_the_reaper() -> None:
    """The reaper leaves waitpid when the driver's SIGTERM arrives (a handler that returns
    makes Python retry it, PEP 475): it kills the tree itself and exits 0, instead of the
    driver killing only the reaper's group after STOP_WAIT and orphaning the stack (which
    runs in a process group of its own) — the league ran every case 5 s longer and left
    one stack process per case behind."""
    import os

    from stack.sut.process import StackProcess, descendants

    process = StackProcess(["sleep", "60"])
    for _ in range(500):  # bounded: until the reaper has forked the command
        if descendants(process.popen.pid):
            break
        os.sched_yield()
    below = descendants(process.popen.pid)
    assert below
    process.stop()
    assert process.popen.returncode == 0
    for pid in below:
        stat = Path(f"/proc/{pid}/stat")
        assert not stat.exists() or stat.read_text().split()[2] == "Z"


def _live_shim_prerequisites() -> None:
    """The live grade needs root and Debian's lwIP: say plainly what is missing."""
    import os
    import shutil

    if os.geteuid() != 0 or not os.path.exists("/dev/net/tun") or shutil.which("ip") is None:
        pytest.skip("needs root, /dev/net/tun and ip (apt-get install iproute2)")
    if not Path("/usr/include/lwip/lwip/init.h").exists() or shutil.which("gcc") is None:
        pytest.fail("liblwip-dev and gcc are missing: apt-get install liblwip-dev gcc",
                    pytrace=False)


def test_lwip_graded_live_on_the_wire(tmp_path: Path) -> None:
    """One real shim end to end: built, started per case on a TUN in replay's namespace,
    graded as Linux would answer. lwIP answers echo with TTL 255 (its ICMP_TTL), Linux
    with 64; it answers a ping to a closed UDP port with Port Unreachable as Linux does."""
    _live_shim_prerequisites()
    lwip = {s.name: s for s in load_shipped()}["lwip"]
    build = tmp_path / "build"
    assert build_stack(lwip, build).ok
    cases = [CORPUS / "echo_basic.pcapng", CORPUS / "udp_closed.pcapng"]
    result = grade_stack(lwip, cases, "test", tmp_path / "crashes", budget=120,
                         build_dir=build)
    assert result.started, result.why
    verdicts = {v.case: v for v in result.verdicts}
    assert verdicts["echo_basic"].verdict == "mismatch"
    assert verdicts["echo_basic"].summary.endswith("(ipv4.ttl: expected 64, got 255)")
    assert result.findings == []
