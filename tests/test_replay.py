"""replay: link types and direction, --expect diffs on mutated goldens, bad files, faults,
timers, --responder, reports and -j."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from test_replay_packets import (
    ethernet,
    icmp6_echo,
    icmp_echo,
    null_header,
    pcap_file,
    pcapng_epb,
    pcapng_idb,
    pcapng_shb,
    sll,
    sll2,
    udp_v4,
)

from replay import driver as replay_driver
from replay.cli import main
from stack.capture import (
    DIRECTION_INBOUND,
    DIRECTION_OUTBOUND,
    CaptureWriter,
    read_all,
)
from stack.host.stats import Stats
from stack.wire.checksum import checksum

RESPONDERS = Path(__file__).parent / "responders"
sys.path.insert(0, str(RESPONDERS))
import echo_responder  # noqa: E402

PEER, HOST = "172.16.0.1", "172.16.0.2"
RESPONDER = f"{sys.executable} {RESPONDERS / 'echo_responder.py'}"


def _request(seq: int, data: bytes = b"abcdefgh") -> bytes:
    return icmp_echo(PEER, HOST, 0x77, seq, data)


def _reply(request: bytes, ident: int = 0, ttl: int = 64) -> bytes:
    answer = echo_responder.reply_to(request, ident, ttl, False)
    assert answer is not None
    return answer


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code, out, _err = _run(capsys, *argv, "--json")
    return code, json.loads(out)


def _case(report: dict[str, Any], file: int = 0, case: int = 0) -> dict[str, Any]:
    return report["files"][file]["cases"][case]  # type: ignore[no-any-return]


def _fix_ip_checksum(packet: bytes) -> bytes:
    header = bytearray(packet[:20])
    header[10:12] = b"\0\0"
    header[10:12] = checksum(bytes(header)).to_bytes(2, "big")
    return bytes(header) + packet[20:]


# -- link types and direction -------------------------------------------------------------
REQUEST, REPLY = _request(1), _reply(_request(1))
LINK_CASES = {
    "raw101": (101, lambda p, _d: p),
    "raw12": (12, lambda p, _d: p),
    "raw14": (14, lambda p, _d: p),
    "ipv4_228": (228, lambda p, _d: p),
    "ethernet": (1, lambda p, _d: ethernet(p)),
    "ethernet_vlan": (1, lambda p, _d: ethernet(p, vlan=9)),
    "sll": (113, lambda p, d: sll(p, 0 if d == DIRECTION_INBOUND else 4)),
    "sll2": (276, lambda p, d: sll2(p, 0 if d == DIRECTION_INBOUND else 4)),
    "null": (0, lambda p, _d: null_header(p, 2)),
    "loop": (108, lambda p, _d: null_header(p, 2, big_endian=True)),
}


@pytest.mark.parametrize("name", sorted(LINK_CASES))
@pytest.mark.parametrize("flags", [False, True])
def test_every_link_type_with_and_without_direction_flags(
        name: str, flags: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    linktype, frame = LINK_CASES[name]
    path = tmp_path / f"{name}.pcapng"
    if flags:
        data = (pcapng_shb() + pcapng_idb(linktype)
                + pcapng_epb(frame(REQUEST, DIRECTION_INBOUND), 1_000_000, flags=1)
                + pcapng_epb(frame(REPLY, DIRECTION_OUTBOUND), 1_000_100, flags=2))
    else:
        data = pcap_file([(1.0, frame(REQUEST, DIRECTION_INBOUND)),
                          (1.0001, frame(REPLY, DIRECTION_OUTBOUND))], linktype)
    path.write_bytes(data)
    code, report = _json(capsys, str(path), "--addr", HOST, "--expect", "--responder", RESPONDER)
    case = _case(report)
    assert (case["inbound"], case["expected"], case["got"], case["foreign"]) == (1, 1, 1, 0)
    assert case["mismatches"] == []
    assert code == 0


@pytest.mark.parametrize("flags", [False, True])
def test_ipv6_link_type_and_direction(flags: bool, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    request = icmp6_echo("fd00:16::1", "fd00:16::2", 1, 1)
    reply = icmp6_echo("fd00:16::2", "fd00:16::1", 1, 1, reply=True)
    to_group = icmp6_echo("fd00:16::1", "ff02::1", 1, 2)
    stranger = icmp6_echo("fd00:16::1", "fd00:16::99", 1, 3)
    packets = [(request, 1), (reply, 2), (to_group, 1), (stranger, 0)]
    path = tmp_path / "v6.pcapng"
    if flags:  # the stranger is unflagged: the addresses decide, and it is foreign
        path.write_bytes(pcapng_shb() + pcapng_idb(229) + b"".join(
            pcapng_epb(packet, 10 + n, flags=flag or None)
            for n, (packet, flag) in enumerate(packets)))
    else:
        path.write_bytes(pcap_file([(1.0 + n, packet) for n, (packet, _f) in enumerate(packets)],
                                   229))
    code, report = _json(capsys, str(path), "--addr", "fd00:16::2/64")
    case = _case(report)
    assert (case["inbound"], case["expected"], case["foreign"]) == (2, 1, 1)
    assert code == 0


def test_direction_flags_win_over_addresses(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    # A packet *from* the host's address, flagged inbound (as a spoofing test records it)
    spoofed = icmp_echo(HOST, HOST, 1, 1)
    path = tmp_path / "flags.pcapng"
    path.write_bytes(pcapng_shb() + pcapng_idb(101) + pcapng_epb(spoofed, 5, flags=1)
                     + pcapng_epb(_request(2), 6, flags=2))
    _code, report = _json(capsys, str(path), "--addr", HOST)
    case = _case(report)
    assert (case["inbound"], case["expected"]) == (1, 1)


def test_non_ip_frames_are_counted_and_skipped(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    arp = ethernet(b"\0\x01\x08\0\x06\x04\0\x01" + bytes(20), ethertype=0x0806)
    path = tmp_path / "arp.pcap"
    path.write_bytes(pcap_file([(1.0, arp), (1.1, ethernet(REQUEST))], 1))
    _code, report = _json(capsys, str(path), "--addr", HOST)
    assert (_case(report)["non_ip"], _case(report)["inbound"]) == (1, 1)


# -- golden files and --expect ------------------------------------------------------------
def _golden(tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> Path:
    source = tmp_path / "pings.pcap"
    source.write_bytes(pcap_file([(1.0, _request(1)), (2.0, _request(2)),
                                  (3.0, udp_v4(PEER, HOST, 1000, 7))]))
    golden = tmp_path / "golden.pcapng"
    code, _out, err = _run(capsys, str(source), "--addr", f"{HOST}/24", "--responder",
                           RESPONDER, "--write", str(golden), *extra)
    assert (code, err) == (0, "")
    return golden


def test_write_makes_a_golden_with_flags_and_metadata(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    golden = _golden(tmp_path, capsys)
    records = read_all(golden)
    assert [(r.direction, r.data) for r in records] == [
        (DIRECTION_INBOUND, _request(1)), (DIRECTION_OUTBOUND, _reply(_request(1), 0)),
        (DIRECTION_INBOUND, _request(2)), (DIRECTION_OUTBOUND, _reply(_request(2), 1)),
        (DIRECTION_INBOUND, udp_v4(PEER, HOST, 1000, 7))]
    assert [r.timestamp for r in records] == [1.0, 1.0, 2.0, 2.0, 3.0]
    metadata = records[0].metadata
    assert metadata is not None
    assert metadata["case"] == "pings.pcap"
    assert metadata["addresses"] == [HOST]
    assert metadata["config"]["ipv4"] == f"{HOST}/24"
    assert metadata["recorder"]["responder"] == RESPONDER
    # the golden names its host: no --addr needed to check it
    code, out, _err = _run(capsys, str(golden), "--expect", "--responder", RESPONDER)
    assert code == 0, out
    assert "1 passed, 0 failed" in out


def test_mutated_golden_fails_with_the_field_named(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    golden = _golden(tmp_path, capsys)
    reply = _reply(_request(2), 1)
    mutated = _fix_ip_checksum(reply[:8] + bytes([65]) + reply[9:])
    data = golden.read_bytes()
    assert data.count(reply) == 1
    golden.write_bytes(data.replace(reply, mutated))
    code, out, _err = _run(capsys, str(golden), "--expect", "--responder", RESPONDER)
    assert code == 1
    lines = out.splitlines()
    head = next(line for line in lines if "packet #3" in line)
    assert head.startswith(f"{golden} [pings.pcap] packet #3 (t=2.000000): answer to inbound #2")
    assert "    ipv4.ttl: expected 65, got 64" in lines
    assert (f"    ipv4.checksum: expected 0x{mutated[10:12].hex()}, got 0x{reply[10:12].hex()}"
            in lines)
    assert "0 passed, 1 failed" in out


def test_ignored_field_needs_a_valid_checksum(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    golden = _golden(tmp_path, capsys)
    code, out, _err = _run(capsys, str(golden), "--expect", "--responder", f"{RESPONDER} --ttl 63",
                           "--ignore", "ipv4.ttl")
    assert code == 0, out
    code, out, _err = _run(capsys, str(golden), "--expect", "--ignore", "ipv4.ttl",
                           "--responder", f"{RESPONDER} --ttl 63 --bad-checksum")
    assert code == 1
    bad = bytearray(_reply(_request(1), 0, ttl=63))
    stored = (int.from_bytes(bad[10:12], "big") + 1) & 0xFFFF
    assert f"    ipv4.checksum: invalid (0x{stored:04x})" in out.splitlines()
    assert "ipv4.ttl" not in out


def test_verbose_dissects_both_packets(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    golden = _golden(tmp_path, capsys)
    code, out, _err = _run(capsys, str(golden), "--expect", "-v",
                           "--responder", f"{RESPONDER} --ttl 1")
    assert code == 1
    lines = out.splitlines()
    start = lines.index("    expected:")
    assert lines[start + 10] == "      ipv4.ttl = 64"
    got = lines.index("    got:", start)
    assert lines[got + 10] == "      ipv4.ttl = 1"


def test_missing_and_unexpected_outputs(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """An echo reply nobody recorded is unexpected; a recorded UDP answer nobody sends is
    missing, with what the host did with the inbound packet."""
    extra = udp_v4(HOST, PEER, 7, 1000, b"surprise")
    with CaptureWriter(tmp_path / "g2.pcapng", metadata={"addresses": [HOST]}) as writer:
        writer.write(_request(1), 1.0, DIRECTION_INBOUND)
        writer.write(udp_v4(PEER, HOST, 1, 2), 2.0, DIRECTION_INBOUND)
        writer.write(extra, 2.0, DIRECTION_OUTBOUND)
    code, out, _err = _run(capsys, str(tmp_path / "g2.pcapng"), "--expect",
                           "--responder", RESPONDER)
    assert code == 1
    assert (f"{tmp_path / 'g2.pcapng'} [g2.pcapng] answer to inbound #0 (t=1.000000): "
            f"unexpected {HOST} → {PEER} ICMP echo reply id=119 seq=1 36 B") in out
    assert (f"{tmp_path / 'g2.pcapng'} [g2.pcapng] packet #2 (t=2.000000): expected "
            f"{HOST} → {PEER} UDP 7 → 1000 len=16 36 B; not sent (after inbound #1: "
            "responder.no_answer)") in out


def test_sections_are_cases_with_a_fresh_host(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "two.pcapng"
    with CaptureWriter(path, metadata={"case": "first", "addresses": [HOST]}) as writer:
        writer.write(_request(1), 1.0, DIRECTION_INBOUND)
        writer.write(_reply(_request(1), 0), 1.0, DIRECTION_OUTBOUND)
        writer.new_section({"case": "second", "addresses": [HOST]})
        writer.write(_request(5), 9.0, DIRECTION_INBOUND)
        writer.write(_reply(_request(5), 0), 9.0, DIRECTION_OUTBOUND)  # the ID restarts
    code, report = _json(capsys, str(path), "--expect", "--responder", RESPONDER)
    assert code == 0
    assert [c["name"] for c in report["files"][0]["cases"]] == ["first", "second"]


def test_core_golden_round_trip_with_metadata_config(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Whatever tunstack's core answers, its own golden replays clean, and the config in
    the metadata (here a non-default TTL) is what the replayed host runs with."""
    source = tmp_path / "mixed.pcap"
    source.write_bytes(pcap_file([(1.0, _request(1)), (1.5, udp_v4(PEER, HOST, 5, 33434)),
                                  (2.0, icmp6_echo("fd00:16::1", "fd00:16::2", 3, 4))]))
    first = tmp_path / "first.pcapng"
    assert main([str(source), "--addr", HOST, "--addr", "fd00:16::2", "--write", str(first)]) == 0
    records = read_all(first)
    metadata = dict(records[0].metadata or {})
    metadata["config"] = dict(metadata["config"], ttl=33)
    second = tmp_path / "second.pcapng"
    with CaptureWriter(second, metadata=metadata) as writer:
        for record in records:
            if record.direction == DIRECTION_INBOUND:
                writer.write(record.data or b"", record.timestamp, DIRECTION_INBOUND)
    assert main([str(second), "--write", str(tmp_path / "third.pcapng")]) == 0
    third = read_all(tmp_path / "third.pcapng")
    assert third[0].metadata is not None and third[0].metadata["config"]["ttl"] == 33
    for record in third:
        if record.direction == DIRECTION_OUTBOUND and record.data and record.data[0] >> 4 == 4:
            assert record.data[8] == 33
    capsys.readouterr()
    code, out, _err = _run(capsys, str(first), "--expect")
    assert code == 0, out


# -- unreadable input -------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "ending"), [
    ("empty", "offset 0: empty file"),
    ("garbage", "offset 0: not a pcap or pcapng file (magic 0x1f8b0800)"),
    ("wrong_magic", "offset 0: not a pcap or pcapng file (magic 0xd5c3b2a1)"),
])
def test_bad_files_exit_2_with_one_line(kind: str, ending: str, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    good = pcap_file([(1.0, _request(1)), (2.0, _request(2))])
    data = {"empty": b"",
            "garbage": b"\x1f\x8b\x08\x00" + bytes(range(60)),
            "wrong_magic": b"\xd5" + good[1:]}[kind]
    path = tmp_path / f"{kind}.pcap"
    path.write_bytes(data)
    code, out, err = _run(capsys, str(path), "--addr", HOST, "--expect")
    assert code == 2
    assert out == ""
    assert err == f"replay: {path}: {ending}\n"


def test_truncated_file_replays_what_precedes_the_damage_and_exits_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = pcap_file([(1.0, _request(1)), (2.0, _request(2))])
    path = tmp_path / "truncated.pcap"
    path.write_bytes(good[:-26])
    code, out, err = _run(capsys, str(path), "--addr", HOST, "--json")
    assert code == 2
    assert err == f"replay: {path}: offset 76: truncated packet: needs 36 bytes, 10 left\n"
    report = json.loads(out)
    (entry,) = report["files"]
    (case,) = entry["cases"]
    assert entry["error"] and (case["inbound"], case["got"]) == (1, 1)


def test_missing_addresses_and_bad_metadata_exit_2(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    plain = tmp_path / "plain.pcap"
    plain.write_bytes(pcap_file([(1.0, _request(1))]))
    code, out, err = _run(capsys, str(plain))
    assert (code, out) == (2, "")
    assert err == (f"replay: {plain}: no host addresses: give --addr (e.g. --addr "
                   "172.16.0.2/24) or replay a recording whose section metadata names them\n")
    odd = tmp_path / "odd.pcapng"
    with CaptureWriter(odd, metadata={"config": {"colour": "blue"}}) as writer:
        writer.write(_request(1), 1.0, DIRECTION_INBOUND)
    code, _out, err = _run(capsys, str(odd))
    assert (code, err) == (2, f"replay: {odd}: bad host config: unknown config field 'colour'\n")


def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for argv, message in [
        (["x.pcap", "--loss", "1.5"], "argument --loss: 1.5 is not a probability (0 to 1)"),
        (["x.pcap", "--ignore", "ipv5.id"], "--ignore ipv5.id: unknown field"),
        (["x.pcap", "--profile", "bsd"], "argument --profile: invalid choice: 'bsd'"),
        (["x.pcap", "--responder", "'unclosed"], "--responder \"'unclosed\""),
        (["x.pcap", "--addr", "bogus"], "--addr: bad address 'bogus'"),
        (["x.pcap", "--addr", "10.0.0.1", "--addr", "10.0.0.2"], "--addr: two IPv4 addresses"),
    ]:
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("replay: ") and message in err, err
    path = tmp_path / "nope.pcap"
    code, _out, err = _run(capsys, str(path), "--addr", HOST)
    assert (code, err) == (2, f"replay: {path}: cannot open: No such file or directory\n")


# -- faults -----------------------------------------------------------------------------
def _many_pings(tmp_path: Path) -> Path:
    path = tmp_path / "many.pcap"
    path.write_bytes(pcap_file([(1.0 + i * 0.01, _request(i)) for i in range(60)]))
    return path


FAULTS = ["--loss", "0.1", "--duplicate", "0.1", "--reorder", "0.1", "--corrupt", "0.1",
          "--jitter", "0.02"]


def test_same_seed_same_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _many_pings(tmp_path)
    runs = [_run(capsys, str(path), "--addr", HOST, "--expect", "--json", *FAULTS, "--seed", s)
            for s in ("7", "7", "8")]
    assert runs[0] == runs[1]
    assert runs[0][1] != runs[2][1]
    case = _case(json.loads(runs[0][1]))
    faults = case["faults"]
    assert all(faults[k] > 0 for k in ("lost", "duplicated", "reordered", "corrupted"))
    assert len(case["fault_events"]) >= sum(faults.values())
    assert case["checked_with"] == "stack.oracle"
    assert case["delivered"] == 60 - faults["lost"] + faults["duplicated"]
    human = [_run(capsys, str(path), "--addr", HOST, *FAULTS, "--seed", "7") for _ in range(2)]
    assert human[0] == human[1]
    assert f"faults injected: {faults['lost']} lost" in human[0][1]


def test_faults_reach_the_responder_in_a_deterministic_order(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _many_pings(tmp_path)
    goldens = []
    for name in ("a", "b"):
        golden = tmp_path / f"{name}.pcapng"
        assert main([str(path), "--addr", HOST, "--responder", RESPONDER, "--reorder", "0.3",
                     "--loss", "0.2", "--seed", "3", "--write", str(golden)]) == 0
        goldens.append([(r.timestamp, r.data) for r in read_all(golden)])
    assert goldens[0] == goldens[1]
    sequence = [d[26:28] for _t, d in goldens[0] if d and d[20] == 8]
    assert sequence != sorted(sequence)  # reordered
    assert len(sequence) < 60  # and some lost
    capsys.readouterr()


def test_invariants_under_faults_catch_a_bad_responder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _many_pings(tmp_path)
    code, out, _err = _run(capsys, str(path), "--addr", HOST, "--expect", "--loss", "0.5",
                           "--responder", f"{RESPONDER} --bad-checksum")
    assert code == 1
    assert "output.bad_ip_checksum" in out
    code, out, _err = _run(capsys, str(path), "--addr", HOST, "--expect", "--loss", "0.5",
                           "--responder", RESPONDER)
    assert code == 0, out


# -- timers -----------------------------------------------------------------------------
class _TimerHost:
    """A stand-in core with one timer: every inbound packet arms a 30 s deadline whose
    expiry sends a UDP packet; ``raise_on`` makes handle raise."""

    raise_on: bytes | None = None

    def __init__(self, config: object) -> None:
        self.config = config
        self.stats = Stats()
        self.last_reason = ""
        self.deadline: float | None = None

    def handle(self, packet: bytes, now: float) -> list[bytes]:
        if packet == self.raise_on:
            raise ValueError("boom")
        self.deadline = now + 30.0
        self.stats.events["timer.armed"] += 1
        self.last_reason = "timer.armed"
        return []

    def poll(self, now: float) -> list[bytes]:
        if self.deadline is None or now < self.deadline:
            return []
        self.deadline = None
        return [udp_v4(HOST, PEER, 9, 9, b"timeout")]

    def next_timer(self) -> float | None:
        return self.deadline


def test_timers_fire_on_the_capture_clock(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replay_driver, "Host", _TimerHost)
    source = tmp_path / "frag.pcap"
    source.write_bytes(pcap_file([(100.0, _request(1)), (110.0, _request(2)),
                                  (200.0, _request(3))]))
    golden = tmp_path / "timer.pcapng"
    assert main([str(source), "--addr", HOST, "--write", str(golden), "--settle", "31"]) == 0
    records = read_all(golden)
    assert [(r.timestamp, r.direction) for r in records] == [
        (100.0, 1), (110.0, 1), (140.0, 2), (200.0, 1), (230.0, 2)]
    capsys.readouterr()
    assert _run(capsys, str(golden), "--expect")[0] == 0
    # the recorded timeout moved half a second: the exact profile says so, linux accepts
    shifted = tmp_path / "late.pcapng"
    with CaptureWriter(shifted, metadata=records[0].metadata) as writer:
        for record in records:
            when = record.timestamp + (0.5 if record.timestamp == 140.0 else 0)
            writer.write(record.data or b"", when, record.direction)
    code, out, _err = _run(capsys, str(shifted), "--expect")
    assert code == 1
    assert ("    time: expected 140.500000, got 140.000000 (timer output; tolerance 0.001 s)"
            in out.splitlines())
    assert _run(capsys, str(shifted), "--expect", "--profile", "linux")[0] == 0
    # Linux's timers only fire late: a recorded timeout earlier than ours is a mismatch
    early = tmp_path / "early.pcapng"
    with CaptureWriter(early, metadata=records[0].metadata) as writer:
        for record in records:
            when = record.timestamp - (0.5 if record.timestamp == 140.0 else 0)
            writer.write(record.data or b"", when, record.direction)
    code, out, _err = _run(capsys, str(early), "--expect", "--profile", "linux")
    assert code == 1
    assert ("    time: expected 139.500000, got 140.000000 (timer output; allowed -2.11 s to "
            "+0.01 s)") in out.splitlines()


def test_a_raising_host_is_reported_not_a_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replay_driver, "Host", _TimerHost)
    monkeypatch.setattr(_TimerHost, "raise_on", _request(2))
    source = tmp_path / "boom.pcap"
    source.write_bytes(pcap_file([(1.0, _request(1)), (2.0, _request(2))]))
    code, out, err = _run(capsys, str(source), "--addr", HOST)
    assert code == 1
    assert "Traceback" not in out + err
    assert (f"{source} [boom.pcap] inbound #1 (t=2.000000): host raised ValueError: boom on "
            f"{PEER} → {HOST} ICMP echo request id=119 seq=2 36 B") in out


# -- responders -------------------------------------------------------------------------
@pytest.mark.parametrize(("flags", "message"), [
    ("--garbage", "responder wrote 'this is not hex', not a hex packet"),
    ("--exit-after 1", "responder exited with status 3 before"),
    ("--hang", "responder gave no complete answer within 0.5 s"),
])
def test_misbehaving_responders_fail_the_case(flags: str, message: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.pcap"
    path.write_bytes(pcap_file([(1.0, _request(1)), (2.0, _request(2))]))
    code, out, _err = _run(capsys, str(path), "--addr", HOST, "--responder-timeout", "0.5",
                           "--responder", f"{RESPONDER} {flags}")
    assert code == 1
    assert message in out


def test_responder_that_cannot_start(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.pcap"
    path.write_bytes(pcap_file([(1.0, _request(1))]))
    missing = tmp_path / "no-such-responder"
    code, out, err = _run(capsys, str(path), "--addr", HOST, "--responder", str(missing))
    assert (code, out) == (2, "")
    assert err == (f"replay: --responder '{missing}': cannot start {missing}: "
                   "No such file or directory\n")


# -- reports and parallel runs -----------------------------------------------------------
def test_parallel_output_keeps_the_input_order(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    paths = []
    for index in range(4):
        path = tmp_path / f"f{index}.pcap"
        packets = [(1.0 + i, _request(i)) for i in range(index * 20 + 1)]
        if index == 2:
            packets.append((99.0, _reply(_request(7), 5)))  # a mismatch in the third file
        path.write_bytes(pcap_file(packets))
        paths.append(str(path))
    one = _run(capsys, *paths, "--addr", HOST, "--expect", "--responder", RESPONDER)
    two = _run(capsys, *paths, "--addr", HOST, "--expect", "--responder", RESPONDER, "-j", "3")
    assert one == two
    assert one[0] == 1


def test_junit_and_json_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    golden = _golden(tmp_path, capsys)
    broken = tmp_path / "broken.pcap"
    broken.write_bytes(b"\xa1\xb2")
    junit = tmp_path / "report.xml"
    code, report = _json(capsys, str(golden), str(broken), "--expect", "--responder",
                         f"{RESPONDER} --ttl 9", "--junit", str(junit))
    assert code == 2
    assert report["exit_code"] == 2
    assert report["totals"]["failed"] == 1
    assert report["files"][1]["error"] == f"{broken}: offset 0: truncated file header: 2 bytes"
    mismatch = _case(report)["mismatches"][0]
    assert mismatch["kind"] == "diff"
    assert "ipv4.ttl: expected 64, got 9" in mismatch["details"]
    root = ET.parse(junit).getroot()
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [str(golden), str(broken)]
    failure = suites[0].find("testcase/failure")
    assert failure is not None and "ipv4.ttl: expected 64, got 9" in (failure.text or "")
    error = suites[1].find("testcase/error")
    assert error is not None and error.get("message", "").endswith("truncated file header: 2 bytes")


def test_console_entry_points(tmp_path: Path) -> None:
    path = tmp_path / "one.pcap"
    path.write_bytes(b"")
    script = str(Path(sys.executable).parent / "replay")
    for command in ([sys.executable, "-m", "replay"], [script]):
        done = subprocess.run([*command, str(path)], capture_output=True, text=True, timeout=60,
                              check=False)
        assert (done.returncode, done.stdout, done.stderr) == (
            2, "", f"replay: {path}: offset 0: empty file\n")


def test_linux_profile_ignores_the_ip_id_but_not_the_ttl(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    golden = _golden(tmp_path, capsys)
    reply = _reply(_request(1), 0)
    other_id = _fix_ip_checksum(reply[:4] + struct.pack("!H", 0xBEEF) + reply[6:])
    golden.write_bytes(golden.read_bytes().replace(reply, other_id))
    code, out, _err = _run(capsys, str(golden), "--expect", "--responder", RESPONDER)
    assert code == 1
    assert "    ipv4.id: expected 48879, got 0" in out.splitlines()
    assert _run(capsys, str(golden), "--expect", "--profile", "linux",
                "--responder", RESPONDER)[0] == 0
    code, out, _err = _run(capsys, str(golden), "--expect", "--profile", "linux",
                           "--responder", f"{RESPONDER} --ttl 60")
    assert code == 1
    assert "    ipv4.ttl: expected 64, got 60" in out.splitlines()
    assert "ipv4.id" not in out


def test_verbose_trace_without_expect(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "t.pcap"
    path.write_bytes(pcap_file([(1.0, _request(1)), (2.0, udp_v4(PEER, HOST, 5, 6))]))
    code, out, _err = _run(capsys, str(path), "--addr", HOST, "-v", "--responder", RESPONDER)
    assert code == 0
    prefix = f"{path} [t.pcap] "
    assert out.splitlines()[:3] == [
        f"{prefix}t=1.000000 in  inbound #0: {PEER} → {HOST} ICMP echo request id=119 seq=1 "
        "36 B -> responder.answer",
        f"{prefix}t=1.000000 out: {HOST} → {PEER} ICMP echo reply id=119 seq=1 36 B",
        f"{prefix}t=2.000000 in  inbound #1: {PEER} → {HOST} UDP 5 → 6 len=13 33 B -> "
        "responder.no_answer"]


class _Terminal:
    def __init__(self, tty: bool) -> None:
        self.tty = tty
        self.written: list[str] = []

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> int:
        self.written.append(text)
        return len(text)

    def flush(self) -> None:
        pass


def test_progress_only_on_a_terminal() -> None:
    from replay.report import Progress

    quiet = _Terminal(tty=False)
    progress = Progress(2, quiet)  # type: ignore[arg-type]
    progress.packets_done(10)
    progress.file_done()
    progress.close()
    assert quiet.written == []
    terminal = _Terminal(tty=True)
    progress = Progress(2, terminal)  # type: ignore[arg-type]
    progress.file_done(5)
    progress.file_done(7)
    progress.close()
    assert terminal.written == ["\rreplay: 1/2 files, 5 packets ",
                                "\rreplay: 2/2 files, 12 packets ", "\r\033[K"]


def test_profile_comes_from_the_metadata_unless_given(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reply = _reply(_request(1), 0)
    other_id = _fix_ip_checksum(reply[:4] + struct.pack("!H", 0x1234) + reply[6:])
    paths = []
    for reference in ("linux", "tunstack"):
        path = tmp_path / f"{reference}.pcapng"
        with CaptureWriter(path, metadata={"case": reference, "reference": reference,
                                           "host": {"ipv4": f"{HOST}/24"}}) as writer:
            writer.write(_request(1), 1.0, DIRECTION_INBOUND)
            writer.write(other_id, 1.0, DIRECTION_OUTBOUND)
        paths.append(str(path))
    code, report = _json(capsys, *paths, "--expect", "--responder", RESPONDER)
    cases = [case for entry in report["files"] for case in entry["cases"]]
    assert [(c["name"], c["profile"], c["passed"]) for c in cases] == [
        ("linux", "linux", True), ("tunstack", "exact", False)]
    assert code == 1
    code, report = _json(capsys, paths[0], "--expect", "--profile", "exact",
                         "--responder", RESPONDER)
    assert (code, _case(report)["profile"]) == (1, "exact")


def test_delay_moves_the_timeline_and_its_timers(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replay_driver, "Host", _TimerHost)
    source = tmp_path / "late.pcap"
    source.write_bytes(pcap_file([(100.0, _request(1)), (200.0, _request(2))]))
    golden = tmp_path / "late.pcapng"
    assert main([str(source), "--addr", HOST, "--delay", "5", "--settle", "31",
                 "--write", str(golden)]) == 0
    assert [(r.timestamp, r.direction) for r in read_all(golden)] == [
        (105.0, 1), (135.0, 2), (205.0, 1), (235.0, 2)]
    out = capsys.readouterr().out
    assert "faults injected: 2 delayed" in out


def test_documented_deviations_are_reported_but_do_not_fail(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "deviant.pcapng"
    reason = "tunstack answers with TTL 64 where the recording has 65"
    reply = _reply(_request(1), 0)
    with CaptureWriter(path, metadata={"case": "deviant", "addresses": [HOST],
                                       "deviation": reason}) as writer:
        writer.write(_request(1), 1.0, DIRECTION_INBOUND)
        writer.write(_fix_ip_checksum(reply[:8] + bytes([65]) + reply[9:]), 1.0,
                     DIRECTION_OUTBOUND)
    code, out, _err = _run(capsys, str(path), "--expect", "--responder", RESPONDER)
    assert code == 0
    assert f"{path} [deviant] deviates as documented: {reason}" in out
    assert "ipv4.ttl" not in out
    assert "1 passed, 0 failed (1 of the passed deviate as documented)" in out
    code, report = _json(capsys, str(path), "--expect", "--responder", RESPONDER)
    case = _case(report)
    assert (code, case["passed"], case["excused"], case["deviation"]) == (0, True, True, reason)
    assert "ipv4.ttl: expected 65, got 64" in case["mismatches"][0]["details"]
    # a responder that fails is no deviation
    code, _out, _err = _run(capsys, str(path), "--expect", "--responder", f"{RESPONDER} --garbage")
    assert code == 1
    # and a deviation that is gone is said so, without failing
    code, out, _err = _run(capsys, str(path), "--expect", "--responder", f"{RESPONDER} --ttl 65")
    assert code == 0
    assert "ok (deviation gone)" in out


def test_fault_runs_do_not_depend_on_jobs(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    first = _many_pings(tmp_path)
    second = tmp_path / "other.pcap"
    second.write_bytes(first.read_bytes())
    argv = [str(first), str(second), "--addr", HOST, "--expect", "--json", *FAULTS, "--seed", "4"]
    one = _run(capsys, *argv)
    two = _run(capsys, *argv, "-j", "2")
    assert one == two
    report = json.loads(one[1])
    events = [f["cases"][0]["fault_events"] for f in report["files"]]
    assert events[0] != events[1]  # each file draws from its own stream
