"""Hostile input (issue 17): every command gives one line and its documented exit code,
never a traceback; the core keeps its state on a clock that is not finite.

Each test runs the exact input of the issue and variations of its own."""

from __future__ import annotations

import json
import math
import os
import struct
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_replay_packets import (
    _block,
    _option,
    icmp_echo,
    ipv4_packet,
    pcap_file,
    pcapng_epb,
    pcapng_idb,
    pcapng_shb,
    udp_v4,
)

from fuzz import seeds as fuzz_seeds
from fuzz.cli import MAX_INPUT_BYTES
from fuzz.cli import main as fuzz_main
from replay.cli import main as replay_main
from stack import Host, HostConfig
from stack.capture import (
    DIRECTION_INBOUND,
    DIRECTION_OUTBOUND,
    MAX_INTERFACES,
    CaptureError,
    CaptureWriter,
    read_all,
)
from stack.host.config import ConfigError
from stack.host.host import NOT_FINITE, time_is_finite
from stack.link import LinkHost
from stack.wire.checksum import checksum

ROOT = Path(__file__).resolve().parent.parent
PEER, HOST = "172.16.0.1", "172.16.0.2"
REQUEST = icmp_echo(PEER, HOST, 0x77, 1)


def _replay(capfd: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, list[str]]:
    """replay's exit code, stdout and stderr lines; no traceback, from any process."""
    code = replay_main(list(argv))
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
    return code, out, err.splitlines()


def _fuzz(capfd: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    """stack-fuzz's exit code (argparse's too) and stderr lines; no traceback."""
    try:
        code = fuzz_main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
    return code, err.splitlines()


def _pings(path: Path, count: int = 3, comment: str | None = None) -> Path:
    """A pcapng of ``count`` echo requests to HOST, with ``comment`` as section metadata."""
    blocks = [pcapng_shb(comment), pcapng_idb(101)]
    blocks += [pcapng_epb(icmp_echo(PEER, HOST, 0x77, seq), seq * 1_000_000, flags=1)
               for seq in range(1, count + 1)]
    path.write_bytes(b"".join(blocks))
    return path


def _idb(linktype: int = 101, *, tsresol: int | None = None, tsoffset: int | None = None
         ) -> bytes:
    options = b""
    if tsresol is not None:
        options += _option(9, bytes([tsresol]))
    if tsoffset is not None:
        options += _option(14, struct.pack("<q", tsoffset))
    if options:
        options += _option(0, b"")
    return _block(1, struct.pack("<HHI", linktype, 0, 0) + options)


# -- item 1: every HostConfig field is checked, in one place --------------------------------
# (the metadata's JSON text for the field, what the one line must name)
BAD_FIELDS = [
    ('"echo_ignore_all": 1', "echo_ignore_all: 1 is not true or false"),
    ('"ttl": 64.0', "ttl: 64.0 is not a whole number"),
    ('"mtu": 1500.5', "mtu: 1500.5 is not a whole number"),
    ('"frag_mem_limit": 1e400', "frag_mem_limit: inf is not a whole number"),
    ('"icmp_ratelimit_ms": NaN', "icmp_ratelimit_ms: nan is not a whole number"),
    ('"icmp_ratemask": "x"', "icmp_ratemask: 'x' is not a whole number"),
    ('"link_address": 5', "link_address: 5 is not a MAC address"),
    ('"link_address": [2, 0, 0, 0, 0, 2]', "link_address: [2, 0, 0, 0, 0, 2] is not a MAC"),
    ('"udp_echo_ports": [{}]', "udp_echo_ports: element {} is not a whole number"),
    # variations
    ('"udp_echo_ports": [70000]', "udp_echo_ports: element 70000 is not a whole number"),
    ('"udp_echo_ports": [true]', "udp_echo_ports: element True is not a whole number"),
    ('"udp_echo_ports": 7', "udp_echo_ports: 7 is not a list of whole numbers"),
    ('"icmpv6_ratemask": [256]', "icmpv6_ratemask: element 256 is not a whole number"),
    ('"ttl": true', "ttl: True is not a whole number"),
    ('"ttl": 0', "ttl: 0 outside 1..255"),
    ('"hop_limit": 256', "hop_limit: 256 outside 1..255"),
    ('"mtu": -1', "mtu: -1 outside 68..65535"),
    ('"icmp_msgs_per_sec": -5', "icmp_msgs_per_sec: -5 outside 0..2147483647"),
    ('"icmp_ratemask": 4294967296', "icmp_ratemask: 4294967296 outside 0..4294967295"),
    ('"frag_timeout": Infinity', "frag_timeout: inf is not a duration"),
    ('"frag6_timeout": 0', "frag6_timeout: 0 is not a duration"),
    ('"pmtu_expires": "600"', "pmtu_expires: '600' is not a number of seconds"),
    ('"timestamp_replies": "yes"', "timestamp_replies: 'yes' is not true or false"),
    ('"ipv6": [5]', "ipv6: [5] is not a list of addresses"),
    ('"ipv6": {"a": 1}', "ipv6: {'a': 1} is not a list of addresses"),
    ('"link_address": "02:00:00"', "link_address: '02:00:00' is not a MAC address"),
    ('"link_address": "zz:zz:zz:zz:zz:zz"', "is not a MAC address"),
    ('"ratelimit_peers": 0', "ratelimit_peers: 0 outside 1..2147483647"),
    ('"nonsense": 1', "unknown config field 'nonsense'"),
]


@pytest.mark.parametrize(("field", "named"), BAD_FIELDS)
def test_bad_metadata_field_is_one_line_naming_file_field_and_value(
        tmp_path: Path, capfd: pytest.CaptureFixture[str], field: str, named: str) -> None:
    path = _pings(tmp_path / "hostile.pcapng",
                  comment='{"config": {"ipv4": "172.16.0.2/24", ' + field + "}}")
    code, _out, err = _replay(capfd, str(path), "--expect")
    assert code == 2
    assert len(err) == 1, err
    assert err[0].startswith(f"replay: {path}: bad host config: ")
    assert named in err[0]


def test_bad_ipv4_ipv6_at_the_top_of_the_metadata(tmp_path: Path,
                                                  capfd: pytest.CaptureFixture[str]) -> None:
    for comment, named in (('{"ipv4": 7}', "ipv4: 7 is not an address"),
                           ('{"ipv4": "172.16.0.2/24", "ipv6": {"x": 1}}', "ipv6: {'x': 1}"),
                           ('{"ipv4": "172.16.0.2/40"}', "bad IPv4 address '172.16.0.2/40'")):
        path = _pings(tmp_path / "top.pcapng", comment=comment)
        code, _out, err = _replay(capfd, str(path))
        assert (code, len(err)) == (2, 1), err
        assert err[0].startswith(f"replay: {path}: ") and named in err[0]


def test_bad_metadata_with_two_jobs_is_one_line_per_bad_file(tmp_path: Path) -> None:
    bad = _pings(tmp_path / "bad.pcapng",
                 comment='{"config": {"ipv4": "172.16.0.2/24", "echo_ignore_all": 1}}')
    good = _pings(tmp_path / "good.pcapng", comment='{"config": {"ipv4": "172.16.0.2/24"}}')
    done = subprocess.run([sys.executable, "-m", "replay", str(bad), str(good), "-j", "2"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert "Traceback" not in done.stderr + done.stdout
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"replay: {bad}: bad host config: echo_ignore_all: 1 is not true or false"]
    # the good file is still replayed by the other worker
    assert "replay: 2 file(s), 1 case(s), 3 packets in, 3 out, 1 unreadable" in done.stdout


def test_the_constructor_checks_every_field_for_library_users() -> None:
    with pytest.raises(ConfigError, match=r"^echo_ignore_all: 1 is not true or false$"):
        HostConfig(echo_ignore_all=1)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^mtu: True is not a whole number"):
        HostConfig(mtu=True)
    with pytest.raises(ConfigError, match=r"^frag_timeout: nan is not a duration"):
        HostConfig(frag_timeout=math.nan)
    with pytest.raises(ConfigError, match=r"^link_address: b'\\x02' is not a MAC"):
        HostConfig(link_address=b"\x02")
    # what stays accepted: lists where tuples and sets are kept, an int where seconds go
    config = HostConfig(ipv6=["fd00:16::2/64"], udp_echo_ports=[7, 9],  # type: ignore[arg-type]
                        icmpv6_ratemask=[1, 3], frag_timeout=30,  # type: ignore[arg-type]
                        link_address=bytearray(b"\x02\0\0\0\0\x02"))  # type: ignore[arg-type]
    assert config.ipv6 == ("fd00:16::2/64",)
    assert config.udp_echo_ports == frozenset({7, 9})
    assert config.icmpv6_ratemask == frozenset({1, 3})
    assert config.link_address == b"\x02\0\0\0\0\x02"
    # and every config written by to_json reads back equal
    for original in (HostConfig(), config, HostConfig(ipv4=None, ipv6=(), mtu=576)):
        assert HostConfig.from_json(json.loads(json.dumps(original.to_json()))) == original


# -- item 2: a pcapng interface of an unknown link type -------------------------------------
def test_pcapng_of_unknown_link_type_is_exit_2_like_pcap(tmp_path: Path,
                                                         capfd: pytest.CaptureFixture[str]) -> None:
    pcapng = tmp_path / "dlt147.pcapng"
    pcapng.write_bytes(pcapng_shb() + pcapng_idb(147) + pcapng_epb(REQUEST, 1, flags=1)
                       + pcapng_epb(REQUEST, 2, flags=1))
    pcap = tmp_path / "dlt147.pcap"
    pcap.write_bytes(pcap_file([(1.0, REQUEST)], linktype=147))
    code, _out, err = _replay(capfd, str(pcapng), "--addr", HOST, "--expect")
    assert (code, err) == (2, [f"replay: {pcapng}: offset 28: interface 0: unsupported link "
                               "type 147"])
    code, _out, err = _replay(capfd, str(pcap), "--addr", HOST, "--expect")
    assert (code, err) == (2, [f"replay: {pcap}: offset 20: unsupported link type 147"])
    # a second interface, after packets of a good one: those are replayed, then exit 2
    mixed = tmp_path / "mixed.pcapng"
    mixed.write_bytes(pcapng_shb() + pcapng_idb(101) + pcapng_epb(REQUEST, 1, flags=1)
                      + pcapng_idb(65535))
    code, out, err = _replay(capfd, str(mixed), "--addr", HOST)
    assert code == 2 and len(err) == 1 and "interface 1: unsupported link type 65535" in err[0]
    assert "1 packets in" in out


# -- item 3: --write with odd timestamps ----------------------------------------------------
def test_write_keeps_times_before_1970_exactly(tmp_path: Path,
                                               capfd: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "negative.pcapng"
    # if_tsoffset -100 s: the packets are at -99 s and -98.5 s
    source.write_bytes(pcapng_shb() + _idb(tsoffset=-100)
                       + pcapng_epb(REQUEST, 1_000_000, flags=1)
                       + pcapng_epb(icmp_echo(PEER, HOST, 0x77, 2), 1_500_000, flags=1))
    golden = tmp_path / "golden.pcapng"
    code, _out, err = _replay(capfd, str(source), "--addr", HOST, "--write", str(golden))
    assert (code, err) == (0, [])
    records = read_all(golden)
    assert [(r.direction, r.timestamp_ns) for r in records] == [
        (DIRECTION_INBOUND, -99_000_000_000), (DIRECTION_OUTBOUND, -99_000_000_000),
        (DIRECTION_INBOUND, -98_500_000_000), (DIRECTION_OUTBOUND, -98_500_000_000)]
    # and the golden replays, byte for byte
    code, out, err = _replay(capfd, str(golden), "--expect")
    assert (code, err) == (0, []) and "1 passed" in out


def test_write_of_seconds_resolution_and_huge_times(tmp_path: Path,
                                                    capfd: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "seconds.pcapng"
    # if_tsresol 10^0: whole seconds; 2**40 s is after the year 2554 (beyond 64-bit ns)
    source.write_bytes(pcapng_shb() + _idb(tsresol=0)
                       + pcapng_epb(REQUEST, 5, flags=1)
                       + pcapng_epb(icmp_echo(PEER, HOST, 0x77, 2), 2**40, flags=1))
    golden = tmp_path / "golden.pcapng"
    code, _out, err = _replay(capfd, str(source), "--addr", HOST, "--write", str(golden))
    assert (code, err) == (0, [])
    assert [r.timestamp_ns for r in read_all(golden)] == [
        5_000_000_000, 5_000_000_000, 2**40 * 10**9, 2**40 * 10**9]
    # beyond what pcapng can hold (±2**63 s): one line, exit 2, the packets before kept
    beyond = tmp_path / "beyond.pcapng"
    beyond.write_bytes(pcapng_shb() + _idb(tsresol=0) + pcapng_epb(REQUEST, 5, flags=1)
                       + pcapng_epb(icmp_echo(PEER, HOST, 0x77, 2), 2**64 - 1, flags=1))
    code, _out, err = _replay(capfd, str(beyond), "--addr", HOST, "--write", str(golden))
    assert code == 2 and len(err) == 1
    assert err[0].startswith(f"replay: {golden}: timestamp 1.84467441e+19 s cannot be written")
    assert [r.timestamp_ns for r in read_all(golden)] == [5_000_000_000, 5_000_000_000]


def test_writer_refuses_times_it_cannot_hold_with_one_line(tmp_path: Path) -> None:
    with CaptureWriter(tmp_path / "w.pcapng") as writer:
        for bad in (math.nan, math.inf, -math.inf, 1e300):
            with pytest.raises(CaptureError, match=r"cannot be written$"):
                writer.write(REQUEST, bad)
        writer.write(REQUEST, -0.5)
        writer.write(REQUEST, 0, timestamp_ns=2**64 + 7)
    assert [r.timestamp_ns for r in read_all(tmp_path / "w.pcapng")] == [
        -500_000_000, 2**64 + 7]


# -- item 4: an output that is one of the inputs --------------------------------------------
def test_write_onto_an_input_is_refused_and_the_input_kept(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    first = _pings(tmp_path / "a.pcapng", comment='{"config": {}}')
    second = _pings(tmp_path / "b.pcapng", comment='{"config": {}}')
    before = second.read_bytes()
    symlink = tmp_path / "link.pcapng"
    symlink.symlink_to(second)
    hardlink = tmp_path / "hard.pcapng"
    os.link(second, hardlink)
    for flag, output in (("--write", second), ("--write", symlink), ("--write", hardlink),
                         ("--junit", second), ("--html", hardlink)):
        with pytest.raises(SystemExit) as exited:
            replay_main([str(first), str(second), flag, str(output)])
        out, err = capfd.readouterr()
        assert exited.value.code == 2
        assert err == (f"replay: {flag} {output} is the input {second}: refusing to "
                       "overwrite it (see replay --help)\n")
        assert second.read_bytes() == before
    with pytest.raises(SystemExit):
        replay_main([str(first), "--write", str(tmp_path / "o"), "--junit", str(tmp_path / "o")])
    assert capfd.readouterr().err.endswith("is the --write output: give two files "
                                           "(see replay --help)\n")
    with pytest.raises(SystemExit):
        replay_main([str(first), "--junit", str(tmp_path / "r"), "--html", str(tmp_path / "r")])
    assert capfd.readouterr().err == (f"replay: --html {tmp_path / 'r'} is the --junit output: "
                                      "give two files (see replay --help)\n")
    # an output that is not an input is fine
    code, _out, err = _replay(capfd, str(first), str(second), "--write",
                              str(tmp_path / "out.pcapng"))
    assert (code, err) == (0, [])


# -- item 5: --write onto a full disk --------------------------------------------------------
def test_write_onto_dev_full_is_one_line(tmp_path: Path,
                                         capfd: pytest.CaptureFixture[str]) -> None:
    source = _pings(tmp_path / "a.pcapng", comment='{"config": {}}')
    code, _out, err = _replay(capfd, str(source), "--write", "/dev/full")
    assert code == 2
    assert err == ["replay: /dev/full: write failed: No space left on device; the 0 bytes "
                   "written before are kept"]


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs mounted for the test and always unmounted."""
    if os.geteuid() != 0:  # as root, conftest.py makes sure mount is there
        pytest.skip("mounting a tmpfs needs root")
    point = tmp_path / f"full-{uuid.uuid4().hex[:8]}"
    point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(point)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)


def test_write_onto_a_full_disk_keeps_what_was_written(
        tmp_path: Path, small_tmpfs: Path, capfd: pytest.CaptureFixture[str]) -> None:
    source = _pings(tmp_path / "many.pcapng", count=1500, comment='{"config": {}}')
    golden = small_tmpfs / "golden.pcapng"
    code, out, err = _replay(capfd, str(source), "--write", str(golden))
    assert code == 2 and len(err) == 1
    assert err[0].startswith(f"replay: {golden}: write failed: No space left on device; the ")
    kept = int(err[0].split("; the ")[1].split()[0])
    assert golden.stat().st_size == kept > 60_000
    records = read_all(golden)  # the file reads to its end: no torn block
    assert len(records) > 400
    assert [r.direction for r in records[:4]] == [DIRECTION_INBOUND, DIRECTION_OUTBOUND] * 2
    assert "1500 packets in" in out  # the replay itself went on


# -- item 6: memory bounded with the number of interface blocks -----------------------------
def test_interfaces_beyond_the_cap_are_refused(tmp_path: Path,
                                               capfd: pytest.CaptureFixture[str]) -> None:
    idb = pcapng_idb(101)
    many = tmp_path / "idbs.pcapng"
    many.write_bytes(pcapng_shb() + idb * MAX_INTERFACES
                     + pcapng_epb(REQUEST, 1, interface=MAX_INTERFACES - 1, flags=1) + idb)
    offset = 28 + len(idb) * MAX_INTERFACES + len(pcapng_epb(REQUEST, 1, flags=1))
    code, out, err = _replay(capfd, str(many), "--addr", HOST)
    assert code == 2
    assert err == [f"replay: {many}: offset {offset}: more than {MAX_INTERFACES} interfaces "
                   "in one section: not a capture of one host"]
    assert "1 packets in" in out  # the packet on the last interface kept was replayed
    # each section has its own interfaces: the cap is per section
    sections = tmp_path / "sections.pcapng"
    sections.write_bytes((pcapng_shb() + idb * 3 + pcapng_epb(REQUEST, 1, 2, flags=1)) * 2)
    assert [r.interface for r in read_all(sections)] == [2, 2]


# -- item 12: stack-fuzz bad input -----------------------------------------------------------
@pytest.mark.parametrize(("argv", "line"), [
    (["run", "ipv4", "--time", "nan"],
     "stack-fuzz run: argument --time: nan is not a duration (0.001 to 604800 s)"),
    (["run", "ipv4", "--time", "inf"], "stack-fuzz run: argument --time: inf is not a duration"),
    (["run", "ipv4", "--time", "0"], "stack-fuzz run: argument --time: 0 is not a duration"),
    (["run", "ipv4", "--runs", "-5"],
     "stack-fuzz run: argument --runs: -5 is not a whole number from 1"),
    (["run", "ipv4", "--runs", "0"], "stack-fuzz run: argument --runs: 0 is not a whole number"),
    (["run", "ipv4", "--runs", "x"], "stack-fuzz run: argument --runs: 'x' is not a whole"),
    (["run", "ipv4", "--runs", "9", "--jobs", "-1"], "stack-fuzz run: argument --jobs"),
    (["ci", "--time-per-target", "nan"], "stack-fuzz ci: argument --time-per-target"),
    (["run", "wire", "--ready", "nan"], "stack-fuzz run: argument --ready: nan is not a"),
    (["coverage", "--runs", "-1"], "stack-fuzz coverage: argument --runs"),
    (["minimize", "x", "--attempts", "-3"], "stack-fuzz minimize: argument --attempts"),
    (["run", "ipv4", "--runs", "10", "--workdir", "/proc/nope"],
     "stack-fuzz: /proc/nope: No such file or directory"),
    (["seeds", "ipv4", "--zip", "/nonexistent/x.zip"],
     "stack-fuzz: --zip /nonexistent/x.zip: No such file or directory"),
    (["seeds", "ipv4", "--out", "/etc/passwd"], "stack-fuzz: --out /etc/passwd: not a directory"),
    (["seeds", "ipv4", "--out", "/etc"], "stack-fuzz: --out /etc: holds files that are not"),
    (["export", "/dev/zero", "-t", "ipv4"],
     f"stack-fuzz: /dev/zero: larger than {MAX_INPUT_BYTES} bytes: not a fuzz input"),
    (["export", "X", "-t", "ipv4", "--directory", "/nonexistent/dir"],
     "stack-fuzz export: argument --directory: /nonexistent/dir: no such directory, nor"),
    (["export", "X", "-t", "ipv4", "--directory", "/etc/passwd"],
     "stack-fuzz export: argument --directory: /etc/passwd: not a directory"),
    (["export", "X", "-t", "ipv4", "--name", "../../x"],
     "stack-fuzz export: argument --name: '../../x' is not a plain file name"),
    (["export", "X", "-t", "ipv4", "--name", ".."],
     "stack-fuzz export: argument --name: '..' is not a plain"),
    (["run", "ipv4", "--runs", "9", "--seed", "-1"],
     "stack-fuzz run: argument --seed: -1 is not a libFuzzer seed"),
    (["nosuch"], "stack-fuzz: argument command: invalid choice: 'nosuch'"),
])
def test_stack_fuzz_bad_input_is_one_line_exit_2(capfd: pytest.CaptureFixture[str],
                                                 argv: list[str], line: str) -> None:
    code, err = _fuzz(capfd, *argv)
    assert code == 2
    assert len(err) == 1, err
    assert err[0].startswith(line), err[0]


def test_stack_fuzz_export_into_an_unwritable_directory(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    crash = tmp_path / "crash-echo"
    crash.write_bytes(fuzz_seeds.ipv4_seeds()["echo"])
    code, err = _fuzz(capfd, "export", str(crash), "-t", "ipv4", "--directory", "/proc")
    assert code == 2 and len(err) == 1
    assert err[0].startswith("stack-fuzz: /proc/fuzz-ipv4-echo.pcapng: cannot create: ")
    # the same input into a directory that exists and with a plain name is written there
    code, err = _fuzz(capfd, "export", str(crash), "-t", "ipv4", "--directory",
                      str(tmp_path), "--name", "echo-case")
    assert (code, err) == (0, [])
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".pcapng"] == ["echo-case.pcapng"]


def test_stack_fuzz_seeds_into_a_seed_directory_again(tmp_path: Path,
                                                      capfd: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "seeds"
    for _ in range(2):  # a directory of seeds may be refilled
        code, err = _fuzz(capfd, "seeds", "ipv4", "--out", str(out), "--corpus",
                          str(tmp_path / "none"))
        assert (code, err) == (0, [])
    (out / "notes.txt").write_text("mine")
    code, err = _fuzz(capfd, "seeds", "ipv4", "--out", str(out), "--corpus", str(tmp_path))
    assert code == 2 and "holds files that are not seeds (notes.txt" in err[0]
    assert (out / "notes.txt").read_text() == "mine"


# -- item 13: a clock that is not finite -----------------------------------------------------
NOT_FINITE_TIMES = (math.nan, math.inf, -math.inf)


def _closed_port(peer: int) -> bytes:
    return udp_v4(f"172.16.{peer // 250}.{peer % 250 + 1}", HOST, 4000, 33434)


def _fragment(ident: int) -> bytes:
    """The first fragment of a datagram that never completes (MF set, offset 0)."""
    packet = bytearray(ipv4_packet(PEER, HOST, 17, bytes(16), ident=ident))
    packet[6:8] = b"\x20\x00"
    packet[10:12] = b"\0\0"
    packet[10:12] = checksum(bytes(packet[:20])).to_bytes(2, "big")
    return bytes(packet)


@pytest.mark.parametrize("bad", NOT_FINITE_TIMES)
def test_a_clock_that_is_not_finite_is_a_drop_and_changes_nothing(bad: float) -> None:
    hosts = Host(), Host()
    for host in hosts:  # the global ICMP burst (50) used up, as in the issue
        for peer in range(60):
            host.handle(_closed_port(peer), 1.0)
        host.handle(_fragment(9), 1.0)
    tested, twin = hosts
    assert tested.handle(_closed_port(0), bad) == []
    assert tested.last_reason == NOT_FINITE
    assert tested.stats.drops[NOT_FINITE] == 1
    assert tested.poll(bad) == []
    assert tested.stats.events[NOT_FINITE] == 1
    assert tested.next_timer() == twin.next_timer()
    # the next 100 calls at valid times answer byte for byte as a host that never saw it
    for step in range(100):
        now = 1.0 + step * 0.05
        packet = _closed_port(step % 70) if step % 3 else REQUEST
        assert tested.handle(packet, now) == twin.handle(packet, now)
        assert tested.last_reason == twin.last_reason
    assert tested.poll(40.0) == twin.poll(40.0) != []  # the fragment's Time Exceeded...
    assert tested.stats.replies == twin.stats.replies


def test_time_is_finite() -> None:
    assert [time_is_finite(t) for t in (0.0, -1.0, 1e308, *NOT_FINITE_TIMES)] == [
        True, True, True, False, False, False]


@pytest.mark.parametrize("bad", NOT_FINITE_TIMES)
def test_link_host_drops_a_clock_that_is_not_finite(bad: float) -> None:
    our_mac, peer_mac = bytes.fromhex("020000000002"), bytes.fromhex("02aabbccddee")
    arp_request = (b"\xff" * 6 + peer_mac + b"\x08\x06\x00\x01\x08\x00\x06\x04\x00\x01"
                   + peer_mac + bytes([172, 16, 0, 1]) + bytes(6) + bytes([172, 16, 0, 2]))
    ping_frame = our_mac + peer_mac + b"\x08\x00" + REQUEST
    links = [LinkHost(Host(HostConfig(link_address=our_mac))) for _ in range(2)]
    tested, twin = links
    for link in links:  # a reply waiting for the peer's address: a pending resolution
        link.handle(ping_frame, 1.0)
    assert tested.handle(arp_request, bad) == []
    assert tested.last_reason == NOT_FINITE
    assert tested.poll(bad) == []
    assert tested.stats.events[NOT_FINITE] == 1
    assert tested.next_timer() == twin.next_timer()
    for now in (1.5, 2.0, 2.5, 3.0, 4.5):
        assert tested.poll(now) == twin.poll(now)
    assert tested.handle(arp_request, 5.0) == twin.handle(arp_request, 5.0)
    assert tested.handle(ping_frame, 5.0) == twin.handle(ping_frame, 5.0) != []


# -- the missing system package line ---------------------------------------------------------
def test_missing_packages_names_each_missing_command_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import conftest

    monkeypatch.setattr(conftest.shutil, "which", lambda name: None)
    assert conftest.missing_packages({"test_replay_html", "test_capture"}, as_root=False) == [
        ("chromium", "chromium")]
    assert conftest.missing_packages({"test_bench"}, as_root=False) == []  # it skips
    assert conftest.missing_packages({"test_bench"}, as_root=True) == [
        ("ping", "iputils-ping"), ("ip", "iproute2")]
    assert conftest.missing_packages({"test_capture"}, as_root=True) == []
    monkeypatch.setattr(conftest.shutil, "which",
                        lambda name: "/usr/bin/x" if name == "chromium-browser" else None)
    assert conftest.missing_packages({"test_replay_html"}, as_root=True) == []


def _pytest_without_system_commands(module: str, only: str) -> subprocess.CompletedProcess[str]:
    """pytest on one test module, with a PATH that holds nothing but this Python."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         str(ROOT / "tests" / module), "-k", only],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PATH": str(Path(sys.executable).parent)})


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/dev/net/tun"),
                    reason="the check applies where the live tests run: root and a TUN")
def test_a_missing_system_command_is_one_line_naming_its_package() -> None:
    done = _pytest_without_system_commands("test_bench.py", "parse_ping")
    assert done.returncode == 4, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        "ERROR: the tests need ping, ip: apt-get install iproute2 iputils-ping"]
    # a module that runs no system command still runs without them
    done = _pytest_without_system_commands("test_capture.py", "one_line")
    assert done.returncode == 0, done.stdout + done.stderr
