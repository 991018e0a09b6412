"""stack-record: the probe builders, the probe set, the chatter filter, the tunstack
recorder and the command line."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from stack.capture import DIRECTION_INBOUND, DIRECTION_OUTBOUND, read_all
from stack.record import cli
from stack.record.kernel import is_chatter
from stack.record.packets import (
    PROTO_ICMPV6,
    SYN,
    echo4,
    echo6,
    fragment4,
    fragment6,
    options_header,
    tcp4,
    udp4,
    udp6,
)
from stack.record.probes import CASES, HOST4, HOST6, peer_for, select_cases
from stack.record.recording import probe_sources
from stack.record.tunstack import EPOCH, record_case
from stack.wire import inspect
from stack.wire.checksum import is_valid, pseudo_header_sum_v4

ORIGIN_HEADER = bytes.fromhex("4500005441e040004001e4c00a0000040a000005")


def by_name(name: str):  # type: ignore[no-untyped-def]
    return next(c for c in CASES if c.name == name)


# -- builders ------------------------------------------------------------------------
def test_origin_header_checksum_is_e4c0() -> None:
    packet = by_name("origin_checksum_e4c0").probes[0][1]
    assert packet[:20] == ORIGIN_HEADER
    assert is_valid(packet[:20])


def test_origin_request_is_the_published_bytes() -> None:
    packet = by_name("echo_origin").probes[0][1]
    assert packet.hex() == (
        "45000054812840004001615dac100001ac100002080054f5000d0001a1fb006a0000000041c4"
        "000000000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f"
        "3031323334353637")


def test_echo4_bytes() -> None:
    packet = echo4("10.0.0.1", "10.0.0.2", echo_id=1, seq=2, size=4, ident=0x0203, df=True)
    assert packet.hex() == "450000200203400040010000"[:20] + packet[10:12].hex() + \
        "0a0000010a000002" + "0800" + packet[22:24].hex() + "00010002" + "00010203"
    assert is_valid(packet[:20]) and is_valid(packet[20:])
    assert inspect.validate(packet) == []


def test_options_are_padded_and_counted_in_ihl() -> None:
    packet = echo4("10.0.0.1", "10.0.0.2", options=bytes([7, 7, 4, 0, 0, 0, 0]))
    assert packet[0] == 0x47 and packet[20:28] == bytes([7, 7, 4, 0, 0, 0, 0, 0])
    assert is_valid(packet[:28])


def test_udp_and_tcp_checksums_verify_and_zero_means_none() -> None:
    packet = udp4("10.0.0.1", "10.0.0.2", 1, 9, b"odd")
    pseudo = pseudo_header_sum_v4(packet[12:16], packet[16:20], 17, len(packet) - 20)
    assert is_valid(packet[20:], pseudo)
    assert udp4("10.0.0.1", "10.0.0.2", 1, 9, b"x", udp_checksum=0)[26:28] == b"\x00\x00"
    segment = tcp4("10.0.0.1", "10.0.0.2", 1, 9, 5, 0, SYN)
    pseudo = pseudo_header_sum_v4(segment[12:16], segment[16:20], 6, 20)
    assert is_valid(segment[20:], pseudo) and segment[33] == SYN
    for v6 in (udp6("fd00::1", "fd00::2", 1, 9, b"abc"), echo6("fd00::1", "fd00::2", size=7)):
        assert inspect.validate(v6) == []


def test_fragment4_pieces_reassemble_to_the_payload() -> None:
    whole = echo4("10.0.0.1", "10.0.0.2", size=200, ident=77)
    pieces = fragment4(whole, [64, 136])
    assert [len(p) - 20 for p in pieces] == [64, 72, 72]
    assert [(int.from_bytes(p[6:8], "big") & 0x1FFF) * 8 for p in pieces] == [0, 64, 136]
    assert [bool(p[6] & 0x20) for p in pieces] == [True, True, False]
    assert b"".join(p[20:] for p in pieces) == whole[20:]
    assert all(is_valid(p[:20]) and p[4:6] == whole[4:6] for p in pieces)


def test_fragment6_headers() -> None:
    chain = options_header(PROTO_ICMPV6, b"") + bytes(30)
    pieces = fragment6("fd00::1", "fd00::2", 60, chain, [16], ident=0x01020304)
    assert [p[6] for p in pieces] == [44, 44]
    assert pieces[0][40:48] == bytes([60, 0, 0, 1, 1, 2, 3, 4])
    assert pieces[1][40:48] == bytes([60, 0, 0, 16, 1, 2, 3, 4])
    assert pieces[0][48:] + pieces[1][48:] == chain


# -- the probe set -------------------------------------------------------------------
def test_probe_set_size_and_unique_names() -> None:
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
    assert sum(c.on_kernel for c in CASES) >= 100


def test_only_the_reassembly_timeouts_listen_long() -> None:
    # Every other case is over in a few seconds, so recording the set stays quick.
    assert sorted(c.name for c in CASES if c.duration > 5) == [
        "frag_timeout", "frag_timeout_record_route"]


def test_peers_are_stable_and_distinct() -> None:
    assert peer_for("echo_basic") == peer_for("echo_basic")
    peers = [c.peer for c in CASES]
    assert len({p.v4 for p in peers}) == len(peers)
    assert len({p.v6 for p in peers}) == len(peers)
    for peer in peers:
        assert ipaddress.IPv4Address(peer.v4) in ipaddress.IPv4Network("10.0.0.0/8")
        assert ipaddress.IPv6Address(peer.v6) in ipaddress.IPv6Network("fd00:16::/64")
        assert ipaddress.IPv6Address(peer.ll).is_link_local


def test_select_cases_by_pattern() -> None:
    assert [c.name for c in select_cases(["tcp_syn", "tcp_rst*"])] == \
        ["tcp_syn", "tcp_rst", "tcp_rst_ack"]  # probe-set order
    assert select_cases(["no_such_case"]) == []
    assert len(select_cases(None)) == len(CASES)


# -- the chatter filter ---------------------------------------------------------------
def test_chatter_filter_keeps_answers_and_drops_reports() -> None:
    case = by_name("v6_echo_basic")
    sources = probe_sources(case)
    answer = echo6(HOST6, case.peer.v6)
    assert not is_chatter(answer, sources)
    # an MLDv2 report behind a Hop-by-Hop header with Router Alert, to ff02::16
    report = echo6(HOST6, "ff02::16")
    mld = report[:6] + b"\x00" + report[7:40] + options_header(
        PROTO_ICMPV6, b"\x05\x02\x00\x00") + bytes([143]) + report[41:]
    assert is_chatter(mld, sources)
    # an answer to another case's peer (a late Time Exceeded) is not this case's
    assert is_chatter(echo4(HOST4, by_name("udp_closed").peer.v4), sources)
    assert is_chatter(echo6(HOST6, "ff02::2"), sources)
    assert not is_chatter(echo6(HOST6, "ff02::1"), sources)
    assert is_chatter(b"\x45", sources)


# -- the tunstack recorder ------------------------------------------------------------
def test_tunstack_recording_is_deterministic_and_saved(tmp_path: Path) -> None:
    case = by_name("origin_checksum_e4c0")
    first, second = record_case(case), record_case(case)
    assert first.records == second.records
    assert [d for _t, d, _p, _c in first.records] == [DIRECTION_INBOUND, DIRECTION_OUTBOUND]
    reply = first.answers[0]
    assert reply[12:16] == bytes([10, 0, 0, 5]) and reply[16:20] == bytes([10, 0, 0, 4])
    assert reply[20] == 0 and reply[28:] == case.probes[0][1][28:]  # echo reply, same data
    path = first.save(tmp_path)
    records = read_all(path)
    assert [r.data for r in records] == [case.probes[0][1], reply]
    assert records[0].timestamp == EPOCH
    metadata = records[0].metadata
    assert metadata is not None
    assert metadata["case"] == case.name and metadata["reference"] == "tunstack"
    assert metadata["host"] == {"ipv4": "10.0.0.5/24", "ipv6": [], "mtu": 1500}


def test_tunstack_recorder_runs_timers() -> None:
    recording = record_case(by_name("frag_timeout"))
    times = [t - EPOCH for t, d, _p, _c in recording.records if d == DIRECTION_OUTBOUND]
    assert times == [30.0]  # ipfrag_time after fragment 0 arrived
    assert recording.answers[0][20:22] == b"\x0b\x01"  # Time Exceeded, reassembly


# -- the command line ---------------------------------------------------------------
def test_cli_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--list", "--markdown", "--case", "tcp_syn"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("- `tcp_syn`: sends TCP SYN to closed port 9. A correct host: RST+ACK")


def test_cli_no_match(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--list", "--case", "nothing_like_this"]) == 2
    assert capsys.readouterr().err == "stack-record: no case matches nothing_like_this\n"


def test_cli_tunstack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--tunstack", str(tmp_path), "--case", "echo_basic", "-q"]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["echo_basic.pcapng"]
    assert capsys.readouterr().err == ""


def test_cli_bad_output_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert cli.main(["--tunstack", str(blocker), "--case", "echo_basic"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("stack-record: ") and err.count("\n") == 1


def test_cli_needs_a_target(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([])
    assert exit_info.value.code == 2


def test_cli_kernel_needs_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli.os, "geteuid", lambda: 1000)
    assert cli.main(["--kernel", str(tmp_path / "out"), "--case", "echo_basic"]) == 1
    assert capsys.readouterr().err == \
        "stack-record: --kernel needs root (network namespaces and TUN)\n"
    assert not (tmp_path / "out").exists()


def test_tunstack_recordings_replay_exactly(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """The recorder drives the core the way replay does (the capture's clock, timers at
    next_timer), so every case it records replays byte for byte."""
    from replay import cli as replay_cli
    assert cli.main(["--tunstack", str(tmp_path), "-q"]) == 0
    paths = sorted(str(p) for p in tmp_path.iterdir())
    assert len(paths) == len(CASES)
    capsys.readouterr()
    assert replay_cli.main([*paths, "--expect"]) == 0, capsys.readouterr().out[-2000:]
