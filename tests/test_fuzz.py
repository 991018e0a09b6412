"""The fuzz harness: codec, repair, mutator, targets on their seeds, and stack-fuzz."""

from __future__ import annotations

import random
import struct
import zipfile
from pathlib import Path

import pytest

from fuzz import packets as p
from fuzz import seeds
from fuzz.cli import main
from fuzz.mutator import PacketMutator, python_byte_mutate
from fuzz.regress import drive, export, minimize, reproduce, timeline
from fuzz.sequence_codec import MAX_STEPS, Step, decode, encode
from fuzz.targets import TARGETS, make_host
from stack.capture import read_all
from stack.wire.inspect import validate

SUPPORT = Path(__file__).resolve().parent / "fuzz_support"


def _mutator(seed: int = 7) -> PacketMutator:
    rng = random.Random(seed)
    donors = list(seeds.ipv4_seeds().values()) + list(seeds.ipv6_seeds().values())
    return PacketMutator(rng, lambda data, size: python_byte_mutate(data, size, rng), donors)


# -- sequence codec ---------------------------------------------------------------------

def test_sequence_codec_reads_back_what_it_wrote() -> None:
    steps = [Step.packet(b"\x45abc"), Step.advance_ms(1500), Step.next_timer(),
             Step.advance_s(61), Step.packet(b""), Step.packet(bytes(300))]
    data = encode(2, steps)
    assert decode(data) == (2, steps)
    # Integers come from the end, first-taken byte most significant; packets from the front.
    assert data[:4] == b"\x45abc"
    assert data[-2:] == bytes([0, 2])  # op 0 (packet) taken after the config index 2


def test_sequence_codec_round_trips_every_seed_and_random_bytes() -> None:
    for data in seeds.sequence_seeds().values():
        assert encode(*decode(data)) == data
    rng = random.Random(3)
    for _ in range(200):
        raw = bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
        config, steps = decode(raw)
        assert decode(encode(config, steps)) == (config, steps)
        assert len(steps) <= MAX_STEPS


# -- packets and repair -----------------------------------------------------------------

def test_repair_restores_every_checksum_after_a_field_change() -> None:
    everything = {**seeds.ipv4_seeds(), **{f"v6_{k}": v for k, v in seeds.ipv6_seeds().items()}}
    # UDP checksum 0 ("none") is deliberate in these two; repair would fill it in.
    for name in ("udp_no_checksum", "v6_udp_zero_checksum"):
        del everything[name]
    for name, packet in everything.items():
        changed = bytearray(packet)
        if packet[0] >> 4 == 4:
            changed[8] = 3  # TTL: the header checksum is now wrong
        else:
            changed[23] ^= 0x40  # source address: the upper-layer checksum is now wrong
        repaired = p.repair(bytes(changed))
        problems = [x for x in validate(repaired) if "checksum" in x.field]
        assert problems == [], (name, problems)


def test_repair_fixes_lengths_too() -> None:
    echo = seeds.ipv4_seeds()["echo"] + b"tail"
    repaired = p.repair(echo)
    assert struct.unpack_from("!H", repaired, 2)[0] == len(echo)
    assert validate(repaired) == []
    assert p.repair(b"") == b"" and p.repair(b"\x45") == b"\x45"


def test_fragments_reassemble_to_the_original() -> None:
    whole = seeds.ipv4_seeds()["echo_large"]
    pieces = p.fragment_v4(whole, [512, 512])
    assert [len(x) - 20 for x in pieces] == [512, 512, len(whole) - 20 - 1024]
    assert b"".join(x[20:] for x in pieces) == whole[20:]
    assert all(validate(x) == [] or "checksum" not in str(validate(x)) for x in pieces)


# -- mutator ----------------------------------------------------------------------------

def test_mutator_is_deterministic_for_a_seed() -> None:
    echo = seeds.ipv4_seeds()["echo"]
    first = [_mutator(11).mutate_packet(echo, 2048) for _ in range(1)]
    again = [_mutator(11).mutate_packet(echo, 2048) for _ in range(1)]
    assert first == again


def test_mutations_mostly_pass_the_checksums() -> None:
    """The point of the mutator: most mutants get past the first checks."""
    mutator = _mutator(5)
    donors = list(seeds.ipv4_seeds().values()) + list(seeds.ipv6_seeds().values())
    valid_checksums = 0
    total = 600
    for index in range(total):
        mutant = mutator.mutate_packet(donors[index % len(donors)], 2048)
        if not any("checksum" in problem.field for problem in validate(mutant)):
            valid_checksums += 1
    assert valid_checksums > total * 0.75


def test_mutator_changes_structure() -> None:
    """Options, extension headers and fragment layouts all appear among the mutants."""
    mutator = _mutator(9)
    v4, v6 = seeds.ipv4_seeds()["echo"], seeds.ipv6_seeds()["echo"]
    ihls = {mutator.mutate_packet(v4, 2048)[0] & 0x0F for _ in range(300)}
    next_headers = {mutator.mutate_packet(v6, 2048)[6] for _ in range(300)}
    assert len(ihls) > 3
    assert {0, 44, 60} <= next_headers
    layouts = [mutator.fragment_layout(seeds.ipv4_seeds()["echo_large"]) for _ in range(30)]
    assert any(len(layout) > 1 for layout in layouts)


def test_sequence_and_frame_mutations_stay_within_max_size() -> None:
    mutator = _mutator(13)
    for data in seeds.sequence_seeds().values():
        for _ in range(20):
            assert len(mutator.mutate_sequence(data, 4096)) <= 4096
    for frame in seeds.tap_seeds().values():
        for _ in range(20):
            assert len(mutator.mutate_frame(frame, 200)) <= 200


def test_mutators_take_any_bytes() -> None:
    """libFuzzer hands the mutator whatever is in the corpus: nothing may raise."""
    mutator = _mutator(21)
    rng = random.Random(4)
    starts = [bytes([0x45]) + bytes(19), bytes([0x40]) + bytes(40), bytes([0x60]) + bytes(60),
              bytes([0x4F, 0, 0, 0x10]) + bytes(60), b"", b"\x45"]
    for index in range(1500):
        if index < len(starts) * 50:
            data = starts[index % len(starts)]
        else:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(120)))
        if data and index % 2:
            data = bytes([rng.choice((0x40, 0x45, 0x46, 0x60)) | (data[0] & 0x0F)]) + data[1:]
        mutator.mutate_packet(data, 256)
        mutator.mutate_frame(data, 256)
        mutator.mutate_sequence(data, 1024)
        mutator.fragment_layout(data)


# -- targets ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(TARGETS))
def test_every_seed_passes_its_target(name: str) -> None:
    target = TARGETS[name]
    for seed_name, data in target.seeds().items():
        assert reproduce(target, data) is None, seed_name


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_targets_survive_random_and_mutated_inputs(name: str) -> None:
    """Mutated seeds through each target: only OracleViolation may come out (and the
    planted-bug test shows one does when it should)."""
    target = TARGETS[name]
    mutator = _mutator(17)
    inputs = list(target.seeds().values())
    for index in range(60):
        data = inputs[index % len(inputs)]
        if target.mutate is not None:
            data = target.mutate(mutator, data, target.max_len)
        else:
            data = python_byte_mutate(data, target.max_len, random.Random(index))
        reproduce(target, data)


def test_sequence_target_catches_a_stuck_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    from stack.host.host import Host

    monkeypatch.setattr(Host, "next_timer", lambda self: 5.0)  # always in the past
    found = reproduce(TARGETS["sequence"], encode(0, [Step.next_timer()]))
    assert found is not None and found.rules == ["timer.stuck"]


def test_handle_raising_is_the_exception_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    from stack.host.host import Host

    def explode(self: Host, packet: bytes, now: float) -> list[bytes]:
        raise IndexError("boom")

    monkeypatch.setattr(Host, "handle", explode)
    found = reproduce(TARGETS["ipv4"], seeds.ipv4_seeds()["echo"])
    assert found is not None and found.rules == ["exception"]
    assert "IndexError: boom" in str(found)


def test_capture_target_accepts_clear_errors() -> None:
    assert reproduce(TARGETS["capture"], b"not a capture at all") is None
    assert reproduce(TARGETS["capture"], seeds.capture_seeds()["tunstack_pcapng"][:-7]) is None


def test_host_factory_can_be_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(SUPPORT))
    monkeypatch.setenv("TUNSTACK_FUZZ_HOST", "planted_host:make")
    from stack.host.config import HostConfig

    assert type(make_host(HostConfig())).__name__ == "PlantedHost"


# -- minimize and export ----------------------------------------------------------------

def _planted_input() -> bytes:
    stream_id = bytes([136, 4, 0, 1])
    return seeds._echo4(options=stream_id, body=bytes(range(120)))


def test_minimize_keeps_the_rule_and_shrinks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(SUPPORT))
    monkeypatch.setenv("TUNSTACK_FUZZ_HOST", "planted_host:make")
    target = TARGETS["ipv4"]
    data = _planted_input()
    small, rule = minimize(target, data)
    assert rule == "output.bad_l4_checksum"
    assert len(small) < len(data)
    assert len(small) <= 40  # header + the option + an 8-byte echo (payload cut away)
    found = reproduce(target, small)
    assert found is not None and found.rules[0] == rule


def test_export_writes_a_case_replay_reproduces(tmp_path: Path) -> None:
    target = TARGETS["sequence"]
    data = seeds.sequence_seeds()["timeout_v4_first_held"]
    path = export(target, data, tmp_path, "case-one", rule=None)
    records = read_all(path)
    assert records[0].metadata is not None
    assert records[0].metadata["case"] == "case-one"
    assert records[0].metadata["config"]["frag_max_datagrams"] == 4
    config, events, end = timeline(target, data)
    expected = drive(make_host(config), events, end)
    assert [(r.direction, r.data) for r in records] == [(d, pkt) for _, d, pkt in expected]
    # the fragment went in, the Time Exceeded came out 30 s later
    assert [r.direction for r in records] == [1, 2]
    assert records[1].timestamp == pytest.approx(records[0].timestamp + 30.0)
    from replay.cli import main as replay_main

    assert replay_main([str(path), "--expect"]) == 0


def test_export_refuses_while_the_host_still_breaks_a_rule(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.syspath_prepend(str(SUPPORT))
    monkeypatch.setenv("TUNSTACK_FUZZ_HOST", "planted_host:make")
    crash = tmp_path / "crash-planted"
    crash.write_bytes(_planted_input())
    status = main(["export", str(crash), "-t", "ipv4", "--directory", str(tmp_path / "out")])
    assert status == 1
    assert "still breaks output.bad_l4_checksum" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# -- the command line -------------------------------------------------------------------

def test_cli_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path) -> None:
    assert main(["run", "nosuch", "--time", "1"]) == 2
    assert main(["run", "ipv4"]) == 2
    assert main(["reproduce", str(tmp_path / "missing"), "-t", "ipv4"]) == 2
    assert main(["minimize", str(tmp_path / "crash-x")]) == 2
    assert main(["export", str(tmp_path / "x"), "-t", "capture"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 5 and all(line.startswith("stack-fuzz: ") for line in lines)


def test_cli_seeds_zip_and_reproduce(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = tmp_path / "ipv6_seed_corpus.zip"
    assert main(["seeds", "ipv6", "--zip", str(archive), "--corpus", str(tmp_path)]) == 0
    with zipfile.ZipFile(archive) as opened:
        assert len(opened.namelist()) == len(seeds.ipv6_seeds())
    echo = tmp_path / "echo"
    echo.write_bytes(seeds.ipv6_seeds()["echo"])
    assert main(["reproduce", str(echo), "-t", "ipv6"]) == 0
    assert "no violation" in capsys.readouterr().out


def test_cli_run_is_bounded_and_reports_its_rate(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["run", "capture", "--runs", "300", "--seed", "1", "--workdir",
                   str(tmp_path), "--corpus", str(tmp_path / "none")])
    out = capsys.readouterr().out
    _assert_ran(status, out, tmp_path / "capture")
    assert (tmp_path / "capture" / "seeds").is_dir()


def _assert_ran(status: int, out: str, work: Path) -> None:
    """A run went through libFuzzer: it reports its runs and rate, and either found
    nothing (0) or reports a finding whose reproducer it kept (1): the code under test
    belongs to others and may have a bug the fuzzer finds today."""
    assert status in (0, 1), out
    assert "exec/s" in out
    runs = int(out.split(" runs in ", 1)[0].rsplit(" ", 1)[-1])
    assert runs > 0
    if status == 1:
        assert "FINDING in " in out and "reproducer (" in out
        assert list((work / "artifacts").glob("crash-*")), out


def test_cli_jobs_uses_libfuzzer_fork_mode(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Fork mode starts workers by executing argv[0]: the wrapper must make that work."""
    status = main(["run", "capture", "--time", "3", "--jobs", "2", "--seed", "1",
                   "--workdir", str(tmp_path), "--corpus", str(tmp_path / "none")])
    out = capsys.readouterr().out
    _assert_ran(status, out, tmp_path / "capture")
    assert (tmp_path / "capture" / "worker.sh").read_text().startswith("#!/bin/sh\nexec ")


def test_coverage_is_measured_on_each_target_s_part_of_stack(tmp_path: Path) -> None:
    from fuzz.measure import measure

    (tmp_path / "echo").write_bytes(seeds.ipv4_seeds()["echo"])
    one = measure("ipv4", [tmp_path])
    (tmp_path / "timestamp").write_bytes(seeds.ipv4_seeds()["echo_timestamp"])
    two = measure("ipv4", [tmp_path])
    assert one.inputs == 1 and two.inputs == 2
    assert 0 < one.covered < two.covered < two.statements == one.statements
