"""``stack-fuzz diff``: the case generator, signatures, minimisation, export, the command."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
from pathlib import Path

import pytest

from fuzz import packets as p
from fuzz.cli import main
from fuzz.diff import (
    DIFF_CONFIG,
    HostSide,
    SignatureCount,
    export_case,
    load_deviations,
    mask_timestamps,
    report_lines,
    run_diff,
    tunstack_side,
)
from fuzz.diff_cases import FAMILIES, HOST4, DiffCase, case_for, generate, hop_of, peer_of
from replay.driver import Options, replay_file
from stack.capture import read_capture
from stack.host.host import Host
from stack.wire.checksum import checksum

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/net/tun") or shutil.which("ip") is None,
    reason="needs root, /dev/net/tun and ip (apt-get install iproute2)")


# -- the generator -------------------------------------------------------------------------


def _route_hops(packet: bytes) -> list[bytes]:
    """The addresses of every LSRR/SSRR option of an IPv4 packet (RFC 791 §3.1)."""
    end, at, hops = min((packet[0] & 15) * 4, len(packet)), 20, []
    while at < end and packet[at] != 0:
        if packet[at] == 1:
            at += 1
            continue
        if at + 1 >= end or packet[at + 1] < 2:
            break
        if packet[at] in (131, 137):
            data = packet[at + 3:min(at + packet[at + 1], end)]
            hops += [data[i:i + 4] for i in range(0, len(data) - 3, 4)]
        at += packet[at + 1]
    return hops


def _routed_cases(count: int) -> list[tuple[DiffCase, list[bytes]]]:
    found = []
    for case in generate(2, count):
        if case.family == "mutated":  # a fuzz seed's route, mutated: any address
            continue
        hops = [h for pk in case.packets if len(pk) >= 20 and pk[0] >> 4 == 4
                for h in _route_hops(pk)]
        if hops:
            found.append((case, hops))
    return found


def test_source_routes_go_through_a_router_of_the_case_own() -> None:
    # Linux sends the error about a source-routed packet to the reversed route's first
    # hop and rate-limits errors per destination (icmpv4_xrlim_allow: 6, then 1/s): a
    # router shared by cases (172.16.0.1 once) ran out after six cases on the one kernel
    routed = _routed_cases(3000)
    assert len(routed) > 50
    routers: dict[bytes, int] = {}
    for case, hops in routed:
        own = {p.address(HOST4), p.address(case.peer.v4), p.address(hop_of(case.peer.v4))}
        assert set(hops) <= own, case.name
        routers[p.address(hop_of(case.peer.v4))] = case.index
    assert len(routers) == len(routed)  # no two cases share one
    assert hop_of("10.0.0.5") == "10.128.0.5" and hop_of("10.64.1.2") == "10.192.1.2"


def test_a_moved_case_takes_its_router_along() -> None:
    case, hops = next((c, h) for c, h in _routed_cases(500)
                      if p.address(hop_of(c.peer.v4)) in h)
    moved = case.with_packets(case.packets, 4321)
    new_hops = [h for pk in moved.packets if len(pk) >= 20 and pk[0] >> 4 == 4
                for h in _route_hops(pk)]
    translate = {p.address(case.peer.v4): p.address(peer_of(4321).v4),
                 p.address(hop_of(case.peer.v4)): p.address(hop_of(peer_of(4321).v4))}
    assert new_hops == [translate.get(h, h) for h in hops]


def test_cases_are_the_same_for_a_seed_whatever_the_count() -> None:
    cases = generate(7, 200)
    assert [c.packets for c in generate(7, 200)] == [c.packets for c in cases]
    assert case_for(7, 150) == cases[149]
    assert [c.packets for c in generate(8, 200)] != [c.packets for c in cases]


def test_the_generator_builds_any_case_of_any_seed() -> None:
    # a bug here would stop a run; 100,000 cases of seeds 1-5 were swept once
    for seed in (1, 2, 3):
        assert len(generate(seed, 1500)) == 1500


def test_every_family_and_a_peer_of_its_own() -> None:
    cases = generate(1, 600)
    assert {c.family for c in cases} == set(FAMILIES)
    assert len({c.peer.v4 for c in cases}) == len({c.peer.v6 for c in cases}) == 600
    # fragment cases are the ones that wait for timers
    assert all(c.fragmented for c in cases if c.family.endswith(("fragments", "timeouts")))
    assert not any(c.fragmented for c in cases if c.family == "ipv4.options")
    # the generated packets come from the case's peer (but those cut before the source)
    families_with_own_source = ("ipv4.options", "ipv4.fragments", "ipv4.timeouts")
    for case in cases:
        if case.family in families_with_own_source:
            assert all(pk[12:16] == p.address(case.peer.v4) for pk in case.packets
                       if len(pk) >= 16)


def test_a_moved_case_sends_from_its_new_peer_with_valid_checksums() -> None:
    case = next(c for c in generate(3, 100) if c.family == "ipv4.options"
                and checksum(c.packets[0][:(c.packets[0][0] & 15) * 4]) == 0)
    moved = case.with_packets(case.packets, 4321)
    packet = moved.packets[0]
    assert packet[12:16] == p.address(peer_of(4321).v4)
    assert checksum(packet[:(packet[0] & 15) * 4]) == 0


# -- signatures, with a planted difference ---------------------------------------------------

class TtlBugHost(Host):
    """tunstack with one planted bug: echo replies leave with TTL 63."""

    def handle(self, packet: bytes, now: float) -> list[bytes]:
        out = []
        for answer in super().handle(packet, now):
            header = (answer[0] & 15) * 4
            if answer[0] >> 4 == 4 and answer[9] == 1 and answer[header] == 0:
                fixed = bytearray(answer)
                fixed[8] = 63
                fixed[10:12] = b"\x00\x00"
                fixed[10:12] = struct.pack("!H", checksum(bytes(fixed[:header])))
                answer = bytes(fixed)
            out.append(answer)
        return out


def _planted_run(count: int = 400) -> tuple[dict[str, SignatureCount], int]:
    outcome = run_diff(tunstack_side(), HostSide(lambda: TtlBugHost(DIFF_CONFIG), "planted"),
                       seed=5, count=count, deviations={})
    return outcome.signatures, outcome.cases - outcome.agreed


def test_tunstack_against_itself_agrees_on_every_case() -> None:
    outcome = run_diff(tunstack_side(), tunstack_side(), seed=5, count=400, deviations={})
    assert outcome.agreed == outcome.cases == 400 and not outcome.signatures


def test_a_planted_difference_shows_up_as_its_signature_minimised() -> None:
    signatures, disagreeing = _planted_run()
    assert disagreeing > 0
    # every signature names the planted field of an echo reply (which keeps the request's
    # code), in every family that has echo replies
    assert all(re.fullmatch(r"[a-z0-9.]+: differ icmp\.0\.\d+ ipv4\.ttl", name)
               for name in signatures), signatures.keys()
    assert {"ipv4.options: differ icmp.0.0 ipv4.ttl",
            "ipv4.fragments: differ icmp.0.0 ipv4.ttl"} <= signatures.keys()
    assert sum(entry.count for entry in signatures.values()) >= disagreeing
    example = signatures["ipv4.fragments: differ icmp.0.0 ipv4.ttl"].example
    assert example.lines[0] == "ipv4.ttl: expected 64, got 63"
    # minimised: one fragment is never an echo, so a whole datagram's worth remains, cut
    # to at most the echo header and 8 bytes of data per fragment kept
    assert example.minimised_from >= len(example.case.packets)
    single = signatures["ipv4.options: differ icmp.0.0 ipv4.ttl"].example
    packet = single.case.packets[0]
    assert len(single.case.packets) == 1 and len(packet) <= (packet[0] & 15) * 4 + 16


class CrashOnFragments(Host):
    """A stack that dies on every fragment (as a process would, StackCrashed)."""

    def handle(self, packet: bytes, now: float) -> list[bytes]:
        from stack.sut import StackCrashed

        if len(packet) >= 20 and packet[0] >> 4 == 4 \
                and struct.unpack_from("!H", packet, 6)[0] & 0x3FFF:
            raise StackCrashed("exited on signal SIGSEGV")
        return super().handle(packet, now)


def test_a_stack_that_crashes_gets_a_signature_per_family() -> None:
    outcome = run_diff(tunstack_side(), HostSide(lambda: CrashOnFragments(DIFF_CONFIG), "frail"),
                       seed=6, count=300, deviations={}, minimise=False)
    crashed = {name for name in outcome.signatures if name.endswith("frail crashed")}
    assert {"ipv4.fragments: frail crashed", "ipv4.timeouts: frail crashed"} <= crashed
    example = outcome.signatures["ipv4.fragments: frail crashed"].example
    assert example.lines == ("exited on signal SIGSEGV",)


@needs_root
def test_a_responder_is_compared_case_by_case(capsys: pytest.CaptureFixture[str]) -> None:
    responder = Path(__file__).parent / "responders" / "echo_responder.py"
    status = main(["diff", "--cases", "20", "--seed", "3", "-q", "--no-minimise",
                   "--responder", f"{os.sys.executable} {responder}"])
    out = capsys.readouterr().out
    assert status == 1  # it answers echo only: the kernel's errors are missing
    assert "linux against responder" in out and ": only linux icmp" in out


def test_listed_deviations_do_not_fail_the_run(tmp_path: Path) -> None:
    table = tmp_path / "conformance.md"
    table.write_text("text\n<!-- diff-deviations -->\n| signature | reason |\n|---|---|\n"
                     "| `*: differ icmp.0.0 ipv4.ttl` | planted on purpose |\n"
                     "<!-- /diff-deviations -->\n")
    deviations = load_deviations(table)
    assert deviations == {"*: differ icmp.0.0 ipv4.ttl": "planted on purpose"}
    outcome = run_diff(tunstack_side(), HostSide(lambda: TtlBugHost(DIFF_CONFIG), "planted"),
                       seed=5, count=200, deviations=deviations, minimise=False)
    assert outcome.signatures and not outcome.unlisted()
    assert all(e.deviation == "planted on purpose" for e in outcome.signatures.values())
    assert outcome.deliberate == outcome.cases - outcome.agreed > 0
    lines = report_lines(outcome)
    assert lines[-2] == (f"with the {outcome.deliberate} case(s) of documented deviations: "
                         "200/200 (100.00%)")


def test_the_documented_deviations_parse() -> None:
    deviations = load_deviations()
    assert deviations and all(reason for reason in deviations.values())


def test_export_writes_a_case_replay_reads_back(tmp_path: Path) -> None:
    signatures, _ = _planted_run(200)
    name, entry = next(iter(signatures.items()))
    path = export_case(tmp_path, name, entry)
    records = list(read_capture(str(path)))
    metadata = records[0].metadata
    assert metadata["reference"] == "linux" and metadata["signature"] == name
    assert metadata["host"]["frag_timeout"] == 1.0
    inbound = [r.data for r in records if r.direction == 1]
    assert tuple(inbound) == entry.example.case.packets
    # the reference here is tunstack itself, so replaying the case through tunstack passes
    result = replay_file(str(path), Options(expect=True))
    assert result.error is None and result.cases[0].passed


# -- the timestamp mask ----------------------------------------------------------------------

def _param_problem_quoting(times: bytes) -> bytes:
    quoted = p.ipv4("10.0.0.1", "172.16.0.2", 17, p.udp("10.0.0.1", "172.16.0.2", 1, 2, b""),
                    options=bytes([68, 12, 9, 0]) + times + bytes([134, 2]))
    return p.ipv4("172.16.0.2", "10.0.0.1", 1, p.icmp4(12, 0, bytes([22, 0, 0, 0]), quoted))


def test_timestamp_times_in_a_raw_quote_are_masked() -> None:
    one, two = _param_problem_quoting(b"\x01\x02\x03\x04" + bytes(4)), \
        _param_problem_quoting(b"\x01\x02\x03\x05" + bytes(4))
    assert one != two
    assert mask_timestamps(one) == mask_timestamps(two)
    masked = mask_timestamps(one)
    assert checksum(masked[20:]) == 0  # the ICMP checksum is valid again
    echo = p.ipv4("10.0.0.1", "172.16.0.2", 1, p.icmp4(8, 0, bytes(4), b"x"))
    assert mask_timestamps(echo) == echo


def test_timestamp_times_off_the_slot_grid_are_masked() -> None:
    # flag 1 (address + time), the sender's pointer at 16: one off the grid; two kernels
    # filled two entries a few milliseconds apart (found by --self-check)
    first = bytes.fromhex("4e1c0040254d000040018d64ac1000020a4005ed44242001" + "00" * 11
                          + "ac100002051e949eac100002051e949e" + "00" * 7 + "b789d4d7739e")
    second = first.replace(bytes.fromhex("051e949e"), bytes.fromhex("051e94a1"))
    assert mask_timestamps(first) == mask_timestamps(second)
    masked = mask_timestamps(first)
    assert masked[35:39] == masked[43:47] == bytes.fromhex("ac100002")  # addresses kept
    assert masked[39:43] == masked[47:51] == bytes(4)


# -- the command -------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, message", [
    (["--cases", "0"], "--cases 0: give at least 1"),
    (["--time", "-1"], "--time -1.0: give a positive number of seconds"),
    (["--self-check", "--responder", "cat"], "--self-check and --responder: choose one"),
    (["--exec", "true"], "--exec needs --wire DEV"),
    (["--map", "172.16.0.2=10.0.0.2"], "--map needs --responder or --wire"),
    (["--responder", ""], "--responder: empty command"),
    (["--export", "/proc/version/x"], "--export /proc/version/x: cannot write there"),
])
def test_bad_usage_is_one_line_and_status_2(argv: list[str], message: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_without_root_it_says_so(monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert main(["diff", "--cases", "5"]) == 2
    err = capsys.readouterr().err
    assert err == ("stack-fuzz: diff needs root (network namespaces and a TUN device); "
                   "run it with sudo\n")


@needs_root
def test_the_kernel_side_attributes_answers_to_their_case() -> None:
    from fuzz.diff import KernelSide
    from fuzz.diff_cases import DiffCase

    def echo(src: str) -> bytes:
        return p.ipv4(src, "172.16.0.2", 1, p.icmp4(8, 0, b"\x00\x01\x00\x01", b"x"))

    borrowed = peer_of(10).v4  # case 11 sends from case 10's peer (a mutated source)
    whole = p.ipv4(peer_of(12).v4, "172.16.0.2", 1, p.icmp4(8, 0, bytes(4), bytes(64)))
    cases = [DiffCase(0, 10, "multi", "", (echo(borrowed),)),
             DiffCase(0, 11, "multi", "", (echo(borrowed),)),
             DiffCase(0, 12, "ipv4.timeouts", "", (p.fragment_v4(whole, [16])[0],)),
             DiffCase(0, 13, "ipv4.single", "", (echo(peer_of(13).v4),))]
    side = KernelSide(DIFF_CONFIG)
    try:
        side.send(cases)
        results = side.collect()
    finally:
        side.close()
    assert [len(results[i]) for i in (10, 11, 12, 13)] == [1, 1, 1, 1]
    late, answer, _timer = results[12][0]  # the Time Exceeded, 1 s later, to its case
    assert answer[20] == 11 and late >= 1.0


@needs_root
def test_cases_routed_through_their_own_routers_keep_their_own_error_budget() -> None:
    # Eight cases alike but for their peer: each one's Parameter Problem goes to its own
    # router, so the kernel answers all eight, as tunstack's fresh Host per case does
    # (through a shared router the kernel stopped after six: inet_peer_xrlim_allow).
    from fuzz.diff import KernelSide

    def routed_bad_option(index: int) -> DiffCase:
        peer = peer_of(index).v4
        lsrr = bytes([131, 7, 8]) + p.address(hop_of(peer))  # route used up: to us
        options = lsrr + bytes([148, 2]) + b"\x00\x00\x00"  # Router Alert of length 2
        return DiffCase(0, index, "ipv4.options", "", (
            p.ipv4(peer, HOST4, 1, p.icmp4(8, 0, bytes(4), b"x"), options=options),))

    cases = [routed_bad_option(index) for index in range(20, 28)]
    side = KernelSide(DIFF_CONFIG)
    try:
        side.send(cases)
        results = side.collect()
    finally:
        side.close()
    for case in cases:
        tunstack = Host(DIFF_CONFIG).handle(case.packets[0], 1000.0)
        assert [answer[16:20] for answer in tunstack] == [p.address(hop_of(case.peer.v4))]
        assert [packet[(packet[0] & 15) * 4] for _at, packet, _timer in results[case.index]
                ] == [12], case.name  # Parameter Problem, after the echoed route


@needs_root
def test_the_kernel_agrees_with_a_second_kernel(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "--cases", "300", "--seed", "3", "--self-check", "-q"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("agreement: 300/300 (100.00%)")


@needs_root
def test_a_live_run_against_tunstack_reports_and_exports(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    status = main(["diff", "--cases", "200", "--seed", "4", "-q", "--no-minimise",
                   "--json", str(tmp_path / "out.json"), "--export", str(tmp_path / "cases")])
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["cases"] == 200 and set(report["families"]) == set(FAMILIES)
    assert out.rstrip().splitlines()[-1] == (
        f"agreement: {report['agreed']}/200 ({100 * report['agreed'] / 200:.2f}%)")
    unlisted = [s for s in report["signatures"] if s["deliberate"] is None]
    assert status == (1 if unlisted else 0)
    exported = sorted((tmp_path / "cases").glob("*.pcapng"))
    assert len(exported) == len(report["signatures"])
    for path in exported:  # the kernel's answers, readable as a linux-profile case
        records = list(read_capture(str(path)))
        assert records[0].metadata["reference"] == "linux"
