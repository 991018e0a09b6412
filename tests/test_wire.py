"""Grading real stacks on the wire (``replay --wire DEV --exec CMD``), and the pipe kind's
timeouts and process trees (issue 17 items 7-8).

Every stack runs in a namespace replay makes for the case (``ts-wire-…``, always
deleted); nothing is sent anywhere else. The stacks: ``stack-live`` itself (it must pass
the cases it passes in-process) and tests/responders/wire_stack.py, which misbehaves on
purpose (a wrong TTL, a SIGSEGV, a hang, silence).
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_live_support import needs_root

from replay.cli import main
from stack.capture import DIRECTION_INBOUND, CaptureWriter, read_all
from stack.host.config import HostConfig
from stack.host.host import Host
from stack.sut.addressmap import AddressMap, MapError
from stack.wire.checksum import checksum, is_valid, pseudo_header_sum_v4
from stack.wire.inspect import validate

pytestmark = needs_root

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus" / "linux"
BIN = Path(sys.executable).parent
LIVE = f"{BIN / 'stack-live'}"
WIRE_STACK = f"{sys.executable} {Path(__file__).parent / 'responders' / 'wire_stack.py'}"
CASES = ["echo_basic", "echo_burst", "frag_order_bca", "udp_closed", "v6_echo_basic",
         "v6_udp_closed", "tcp_syn"]


def _files(*names: str) -> list[str]:
    return [str(CORPUS / f"{name}.pcapng") for name in names]


def _replay(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict, str]:
    code = main([*args, "--json"])
    captured = capsys.readouterr()
    report = json.loads(captured.out) if captured.out.strip() else {}
    return code, report, captured.err


def _verdicts(report: dict) -> dict[str, str]:
    return {case["name"]: case["verdict"] for file in report["files"] for case in file["cases"]}


def _no_wire_namespaces() -> bool:
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                             check=False).stdout
    return f"ts-wire{os.getpid()}-" not in listing  # ours: replay runs in this process


# -- tunstack on the wire ----------------------------------------------------------------
@pytest.mark.parametrize("tap", [False, True], ids=["tun", "tap"])
def test_stack_live_on_the_wire_passes_like_in_process(
        tap: bool, capsys: pytest.CaptureFixture[str]) -> None:
    device = "tsw0"
    command = f"{LIVE} {device} --no-configure -q" + (" --tap" if tap else "")
    code, report, err = _replay(capsys, *_files(*CASES), "--expect", "--profile", "linux",
                                "--wire", device, "--exec", command)
    assert (code, err) == (0, "")
    assert _verdicts(report) == dict.fromkeys(CASES, "pass")
    assert report["totals"]["got"] == report["totals"]["expected"] > 0
    assert report["settings"]["stack"] == "wire"
    assert _no_wire_namespaces()


# -- broken stacks get their verdicts ------------------------------------------------------
def test_a_stack_that_answers_wrong_mismatches(capsys: pytest.CaptureFixture[str]) -> None:
    code, report, _err = _replay(capsys, *_files("echo_basic"), "--expect", "--profile",
                                 "linux", "--wire", "tsw1", "--exec",
                                 f"{WIRE_STACK} tsw1 --ttl 63")
    assert code == 1
    assert _verdicts(report) == {"echo_basic": "mismatch"}
    mismatch = report["files"][0]["cases"][0]["mismatches"][0]
    assert mismatch["details"] == ["ipv4.ttl: expected 64, got 63"]


@pytest.mark.parametrize("tap", [False, True], ids=["tun", "tap"])
def test_a_stack_that_crashes_gets_crashed_and_a_reproducer(
        tap: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    command = f"{WIRE_STACK} tsw2 --crash-on 4" + (" --tap" if tap else "")
    junit = tmp_path / "report.xml"
    code, report, _err = _replay(capsys, *_files("echo_burst"), "--expect", "--profile",
                                 "linux", "--wire", "tsw2", "--exec", command,
                                 "--crash-dir", str(tmp_path), "--junit", str(junit))
    assert code == 1
    case = report["files"][0]["cases"][0]
    assert case["verdict"] == "crashed"
    assert report["totals"]["crashed"] == 1
    assert '<error type="crashed" message="crashed: the stack was killed by signal SIGSEGV' \
        in junit.read_text()
    crash = next(m for m in case["mismatches"] if m["kind"] == "crashed")
    assert "was killed by signal SIGSEGV" in crash["summary"]
    assert "crashing on echo sequence 4" in case["stack_output"]
    reproducer = read_all(case["reproducer"])
    requests = [r for r in reproducer if r.direction == DIRECTION_INBOUND]
    # the requests up to the fatal one (the fourth) as recorded, and those that left
    # (5 ms apart) before the death was seen
    recorded = [r for r in read_all(_files("echo_burst")[0])
                if r.direction == DIRECTION_INBOUND]
    assert len(requests) >= 4
    assert [r.data for r in requests] == [r.data for r in recorded[:len(requests)]]
    assert _no_wire_namespaces()


def test_a_stack_that_hangs_gets_hung(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, report, _err = _replay(capsys, *_files("echo_burst"), "--expect", "--profile",
                                 "linux", "--wire", "tsw3", "--exec",
                                 f"{WIRE_STACK} tsw3 --hang-on 9", "--crash-dir",
                                 str(tmp_path))
    assert code == 1
    case = report["files"][0]["cases"][0]
    assert case["verdict"] == "hung"
    hang = next(m for m in case["mismatches"] if m["kind"] == "hung")
    assert "stopped answering its liveness probe" in hang["summary"]
    assert len([r for r in read_all(case["reproducer"])
                if r.direction == DIRECTION_INBOUND]) == 10


# -- bad input: one line, exit 2 -----------------------------------------------------------
@pytest.mark.parametrize(("args", "message"), [
    (["--wire", "tsw-none"], "replay: --wire tsw-none: no such network device\n"),
    (["--wire", "tsw4", "--exec", f"{WIRE_STACK} tsw4 --silent", "--ready", "5"],
     "replay: --wire tsw4: the stack never answered an echo request to 172.16.0.2 within "
     "5 s (--ready); its last output: wire_stack on tsw4\n"),
    (["--wire", "tsw5", "--exec", f"{WIRE_STACK} tsw5 --exit-now"],
     f"replay: --exec '{WIRE_STACK} tsw5 --exit-now' exited with status 7 before creating "
     "tsw5; its last output: giving up at once\n"),
    (["--wire", "tsw6", "--exec", "/nonexistent/stack tsw6"],
     "replay: --exec '/nonexistent/stack tsw6': cannot start /nonexistent/stack: No such "
     "file or directory\n"),
    (["--wire", "tsw7", "--exec",
      "sh -c 'ip tuntap add tsw7 mode tun && ip addr add 10.9.9.1/24 dev tsw7 && sleep 30'"],
     "replay: --wire tsw7: the kernel side has addresses (10.9.9.1/24), so the kernel would "
     "answer in the stack's place: remove them (ip addr flush dev tsw7; sysctl "
     "net.ipv6.conf.tsw7.disable_ipv6=1) or pass --wire-setup\n"),
    (["--wire", "tsw8", "--map", "172.16.0.2"],
     "replay: --map '172.16.0.2': expected RECORDED=ACTUAL, two addresses of one version, "
     "e.g. 172.16.0.2=10.0.0.4 (see replay --help)\n"),
    (["--wire", "tsw8", "--map", "172.16.0.2=fd00::4"],
     "replay: --map '172.16.0.2=fd00::4': 172.16.0.2 and fd00::4 are not both IPv4 or both "
     "IPv6 (see replay --help)\n"),
    (["--exec", "true"], "replay: --exec needs --wire DEV (the device the command's stack "
                         "creates) (see replay --help)\n"),
    (["--wire", "tsw8", "--wire-mac", "nope"],
     "replay: --wire-mac: bad MAC address 'nope': expected six hex bytes, e.g. "
     "02:00:00:00:00:02 (see replay --help)\n"),
])
def test_bad_wire_input_is_one_line_and_exit_2(args: list[str], message: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main([*_files("echo_basic"), "--expect", *args])
    except SystemExit as exc:  # a usage error, found before any case ran
        code = exc.code  # type: ignore[assignment]
    captured = capsys.readouterr()
    assert (code, captured.out) == (2, "")
    assert captured.err == message
    assert _no_wire_namespaces()


# -- --map ------------------------------------------------------------------------------
def _udp_unreachable() -> tuple[bytes, bytes]:
    """An IPv4 UDP datagram 172.16.0.1 -> 172.16.0.2 and the port unreachable about it."""
    payload = b"hello"
    src, dst = bytes([172, 16, 0, 1]), bytes([172, 16, 0, 2])
    udp = bytearray(struct.pack("!HHHH", 40000, 9, 8 + len(payload), 0) + payload)
    udp[6:8] = checksum(bytes(udp), pseudo_header_sum_v4(src, dst, 17, len(udp))).to_bytes(
        2, "big")
    header = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                                   src, dst))
    header[10:12] = checksum(bytes(header)).to_bytes(2, "big")
    datagram = bytes(header + udp)
    answers = Host(HostConfig()).handle(datagram, 1.0)
    assert len(answers) == 1
    return datagram, answers[0]


def test_map_rewrites_both_ways_with_every_checksum_right() -> None:
    datagram, error = _udp_unreachable()
    mapping = AddressMap.parse(["172.16.0.2=10.0.0.4", "172.16.0.1=10.0.0.1"])
    inbound = mapping.inbound(datagram)
    assert inbound[12:20] == bytes([10, 0, 0, 1, 10, 0, 0, 4])
    assert validate(inbound) == []
    # the stack at 10.0.0.4 answers; the answer, mapped back, is what the recording has
    actual = Host(HostConfig(ipv4="10.0.0.4/24")).handle(inbound, 1.0)
    assert validate(actual[0]) == []
    assert mapping.outbound(actual[0]) == error
    # a quoted packet was rewritten too: its addresses and checksums inside the error
    assert actual[0][28 + 12:28 + 20] == bytes([10, 0, 0, 1, 10, 0, 0, 4])


def test_map_keeps_a_bad_checksum_exactly_as_bad() -> None:
    datagram, _error = _udp_unreachable()
    broken = bytearray(datagram)
    broken[10] ^= 0x01  # the IPv4 header checksum off by 256
    mapped = AddressMap.parse(["172.16.0.2=10.0.0.4"]).inbound(bytes(broken))
    back = AddressMap.parse(["10.0.0.4=172.16.0.2"]).inbound(mapped)
    assert back == bytes(broken)
    assert not is_valid(mapped[:20])


def test_map_refuses_a_double_mapping() -> None:
    with pytest.raises(MapError, match="mapped twice"):
        AddressMap.parse(["172.16.0.2=10.0.0.4", "172.16.0.2=10.0.0.5"])


def test_stack_live_at_other_addresses_passes_through_map(
        capsys: pytest.CaptureFixture[str]) -> None:
    command = f"{LIVE} tsw9 --no-configure -q --ipv4 10.0.0.4/24 --ipv6 fd00:99::4/64"
    code, report, err = _replay(capsys, *_files("udp_closed", "echo_basic", "v6_udp_closed"),
                                "--expect", "--profile", "linux", "--wire", "tsw9",
                                "--exec", command, "--map", "172.16.0.2=10.0.0.4",
                                "--map", "fd00:16::2=fd00:99::4")
    assert (code, err) == (0, "")
    assert set(_verdicts(report).values()) == {"pass"}


# -- the pipe kind: timeouts on writes, whole process trees (issue 17 items 7-8) -------------
def _big_echo_capture(path: Path) -> None:
    """One 40 kB IPv4 datagram to the host: 80 kB of hex, more than a pipe holds."""
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20, 1, 0, 64, 17, 0,
                         bytes([172, 16, 0, 1]), bytes([172, 16, 0, 2]))
    packet = header[:2] + (40000).to_bytes(2, "big") + header[4:] + bytes(39980)
    writer = CaptureWriter(str(path), metadata={"ipv4": "172.16.0.2/24"})
    writer.write(packet, 1.0, DIRECTION_INBOUND)
    writer.close()


def test_a_responder_that_never_reads_is_timed_out(tmp_path: Path) -> None:
    capture = tmp_path / "big.pcapng"
    _big_echo_capture(capture)
    done = subprocess.run(
        [str(BIN / "replay"), str(capture), "--json", "--responder-timeout", "1",
         "--crash-dir", str(tmp_path), "--responder",
         f"{sys.executable} -c 'import time; time.sleep(120)'"],
        capture_output=True, text=True, timeout=60, check=False)
    report = json.loads(done.stdout)
    case = report["files"][0]["cases"][0]
    assert (done.returncode, case["verdict"]) == (1, "hung")
    assert case["mismatches"][0]["summary"] == ("responder did not read the packet within "
                                               "1 s (its stdin is full)")


def test_a_responders_children_are_gone_after_replay(tmp_path: Path) -> None:
    capture = tmp_path / "one.pcapng"
    _big_echo_capture(capture)
    pids = tmp_path / "pids"
    script = tmp_path / "spawner.py"
    script.write_text(
        "import subprocess, sys\n"
        "plain = subprocess.Popen(['sleep', '300'])\n"
        "escaped = subprocess.Popen(['setsid', 'sleep', '300'])\n"
        f"open({str(pids)!r}, 'w').write(f'{{plain.pid}} {{escaped.pid}}')\n"
        "for line in sys.stdin:\n"
        "    print(flush=True)\n")
    done = subprocess.run([str(BIN / "replay"), str(capture), "--responder",
                           f"{sys.executable} {script}"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    started = [int(pid) for pid in pids.read_text().split()]
    assert len(started) == 2
    assert [pid for pid in started if _running(pid)] == []


# -- stack-fuzz run wire ------------------------------------------------------------------
def test_fuzzing_stack_live_on_the_wire_finds_nothing(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from fuzz.cli import main as fuzz_main
    code = fuzz_main(["run", "wire", "--wire", "tsf0", "--exec", f"{LIVE} tsf0 --no-configure -q",
                      "--runs", "60", "--time", "120", "--workdir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.startswith("wire: 60 runs in ")
    assert not (tmp_path / "wire").exists()


def test_fuzzing_a_crashing_stack_is_a_finding_that_replays(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from fuzz.cli import main as fuzz_main
    command = f"{WIRE_STACK} tsf1 --crash-on 1"
    code = fuzz_main(["run", "wire", "--wire", "tsf1", "--exec", command, "--runs", "50",
                      "--time", "120", "--workdir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 1
    assert "FINDING in wire: crashed: the stack was killed by signal SIGSEGV" in out
    (reproducer,) = (tmp_path / "wire").iterdir()
    # the reproducer is a replay case: the same stack crashes on it again
    code, report, _err = _replay(capsys, str(reproducer), "--wire", "tsf1", "--exec", command,
                                 "--crash-dir", str(tmp_path / "again"))
    assert code == 1
    assert _verdicts(report) == {reproducer.stem: "crashed"}


@pytest.mark.parametrize(("args", "message"), [
    (["run", "wire", "--runs", "5"], "stack-fuzz: run wire needs --wire DEV (and usually "
                                     "--exec CMD)\n"),
    (["run", "wire", "--wire", "tsf2"], "stack-fuzz: give a bound: --time SECONDS and/or "
                                        "--runs N\n"),
    (["run", "wire", "--wire", "tsf2", "--runs", "3"],
     "stack-fuzz: --wire tsf2: no such network device\n"),
])
def test_bad_wire_fuzz_input_is_one_line_and_exit_2(args: list[str], message: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from fuzz.cli import main as fuzz_main
    assert fuzz_main(args) == 2
    assert capsys.readouterr().err == message


def _running(pid: int) -> bool:
    """``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][:1]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_a_responders_tree_goes_when_replay_is_killed(tmp_path: Path) -> None:
    capture = tmp_path / "one.pcapng"
    _big_echo_capture(capture)
    pids = tmp_path / "pids"
    script = tmp_path / "spawner.py"
    script.write_text(
        "import subprocess, time\n"
        "plain = subprocess.Popen(['sleep', '300'])\n"
        "escaped = subprocess.Popen(['setsid', 'sleep', '300'])\n"
        f"open({str(pids)!r} + '.tmp', 'w').write(f'{{plain.pid}} {{escaped.pid}}')\n"
        f"__import__('os').rename({str(pids)!r} + '.tmp', {str(pids)!r})\n"
        "time.sleep(300)\n")
    replay = subprocess.Popen([str(BIN / "replay"), str(capture), "--responder",
                               f"{sys.executable} {script}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):  # up to 60 s for the responder to start its children
            if pids.exists() or replay.poll() is not None:
                break
            time.sleep(0.1)
        started = [int(pid) for pid in pids.read_text().split()]
        replay.kill()  # SIGKILL: replay itself cleans nothing up
        replay.wait()
        for _ in range(100):  # the reaper's SIGTERM, grace and SIGKILL take about 1 s
            alive = [pid for pid in started if _running(pid)]
            if not alive:
                break
            time.sleep(0.1)
        assert alive == []
    finally:
        if replay.poll() is None:
            replay.kill()
            replay.wait()


def test_wire_setup_clears_what_the_stack_configured(capsys: pytest.CaptureFixture[str]) -> None:
    # stack-live configured: it gives the kernel side 172.16.0.1/24 once it has the device
    command = f"{LIVE} tsw10 -q --no-ipv6"
    code, _report, err = _replay(capsys, *_files("echo_basic"), "--expect", "--profile",
                                 "linux", "--wire", "tsw10", "--exec", command)
    assert code == 2
    assert err.startswith("replay: --wire tsw10: the kernel side has addresses "
                          "(172.16.0.1/24), so the kernel would answer")
    code, report, err = _replay(capsys, *_files("echo_basic"), "--expect", "--profile",
                                "linux", "--wire", "tsw10", "--exec", command, "--wire-setup")
    assert (code, err) == (0, "")
    assert _verdicts(report) == {"echo_basic": "pass"}


def test_wire_without_exec_grades_a_stack_already_running() -> None:
    # the test's own namespace: stack-live runs there, and so does replay
    from test_live_support import live_stack

    from stack.live.netns import run_in, temporary_netns
    with temporary_netns("ts-wiretest") as namespace, \
            live_stack(namespace, "tsw11", "-q", "--no-configure"):
        subprocess.run(["ip", "-n", namespace, "link", "set", "tsw11", "up"], check=True)
        subprocess.run(["ip", "netns", "exec", namespace, "sysctl", "-qw",
                        "net.ipv6.conf.tsw11.disable_ipv6=1"], check=True)
        done = run_in(namespace, [str(BIN / "replay"), *_files("echo_basic", "v6_echo_basic"),
                                  "--expect", "--profile", "linux", "--wire", "tsw11",
                                  "--json"], timeout=120)
        assert done.returncode == 0, done.stderr
        assert set(_verdicts(json.loads(done.stdout)).values()) == {"pass"}


def test_skip_slow_names_the_cases_it_leaves_out(capsys: pytest.CaptureFixture[str]) -> None:
    code = main([*_files("frag_timeout", "echo_basic"), "--expect", "--profile", "linux",
                 "--kernel", "--skip-slow"])
    out = capsys.readouterr().out
    assert code == 0
    frag_timeout = _files("frag_timeout")[0]
    assert f"{frag_timeout} [frag_timeout] skipped: would take 3" in out
    assert "s of real time (--skip-slow 5)" in out
    assert "1 skipped" in out.splitlines()[-1]


def test_a_stack_on_one_end_of_a_veth_pair_is_graded_from_the_other(
        capsys: pytest.CaptureFixture[str]) -> None:
    command = f"{WIRE_STACK} tsw12 --veth tsw12k"
    code, report, err = _replay(capsys, *_files("echo_basic", "v6_echo_basic", "udp_closed"),
                                "--expect", "--profile", "linux", "--wire", "tsw12",
                                "--exec", command)
    assert (code, err) == (0, "")
    assert set(_verdicts(report).values()) == {"pass"}
    events = report["files"][0]["cases"][0]["events"]
    assert events.get("wire.mac_learned") == 1
