"""Recordings Wireshark explains: tshark reads what ``stack-live --record`` and
``replay --write`` write and finds, per packet, the direction (``frame.p2p_dir``), the
host's reason as the packet comment (``frame.comment``) and the device's name and
description in the interface block (``frame.interface_name``, no "unknown").

tshark is Debian's ``tshark`` package (CI installs it). The live test runs stack-live
and ping inside a namespace it creates and deletes, as tests/test_live.py does.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from test_live_support import live_stack, needs_root, ping, shared_directory, wait_answering

from stack import __version__
from stack.capture import (
    DIRECTION_INBOUND,
    DIRECTION_OUTBOUND,
    CaptureRecord,
    CaptureWriter,
    read_all,
)
from stack.host.config import HostConfig
from stack.host.host import Host
from stack.live.cli import build_parser, check_arguments, interface_description
from stack.live.netns import run_in, temporary_netns

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
# tshark's frame.p2p_dir: 1 received (epb_flags inbound), 0 sent (outbound).
P2P_DIR = {DIRECTION_INBOUND: "1", DIRECTION_OUTBOUND: "0"}
FIELDS = ("frame.p2p_dir", "frame.comment", "frame.interface_name",
          "frame.interface_description")


def _tshark() -> str:
    path = shutil.which("tshark")
    if path is None:
        pytest.fail("these tests need tshark: apt-get install tshark", pytrace=False)
    return path


def tshark_fields(capture: Path) -> list[dict[str, str]]:
    """One dict per frame, of FIELDS as tshark prints them (``-T fields``)."""
    command = [_tshark(), "-n", "-r", str(capture), "-T", "fields", "-E", "separator=/t",
               "-E", "occurrence=f"]
    for name in FIELDS:
        command += ["-e", name]
    # As root tshark warns on stderr ("Running as user root ..."); only stdout is read.
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return [dict(zip(FIELDS, line.split("\t"), strict=True))
            for line in done.stdout.splitlines()]


def _replay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "replay", *args], capture_output=True,
                          text=True, timeout=120, check=False)


def _check_frames(records: list[CaptureRecord], frames: list[dict[str, str]],
                  name: str, description: str) -> None:
    """tshark sees every packet of ``records`` with its direction, comment and
    interface; an outbound packet carries the comment of the inbound one it answers."""
    assert len(frames) == len(records)
    last_inbound_comment = None
    for record, frame in zip(records, frames, strict=True):
        assert record.comment, record
        assert frame["frame.p2p_dir"] == P2P_DIR[record.direction], (record, frame)
        assert frame["frame.comment"] == record.comment, (record, frame)
        assert frame["frame.interface_name"] == name
        assert frame["frame.interface_description"] == description
        if record.direction == DIRECTION_INBOUND:
            last_inbound_comment = record.comment
        elif not record.comment.endswith("(timer)"):
            assert record.comment == last_inbound_comment, record


def _host_reasons(records: list[CaptureRecord]) -> list[str]:
    """What a fresh host, built from the recording's metadata, says about each inbound
    packet on the recorded clock: the comments the recording must carry."""
    metadata = records[0].metadata
    assert metadata is not None
    host = Host(HostConfig.from_json(metadata["config"]))
    reasons = []
    for record in records:
        if record.direction == DIRECTION_INBOUND:
            assert record.data is not None
            host.handle(record.data, record.timestamp)
            reasons.append(host.last_reason)
    return reasons


def test_replay_write_comments_every_packet_with_its_reason(tmp_path: Path) -> None:
    out = tmp_path / "written.pcapng"
    cases = ["echo_basic", "echo_bad_ip_checksum", "echo_after_ratelimit", "frag_timeout"]
    done = _replay(*(str(CORPUS / "linux" / f"{case}.pcapng") for case in cases),
                   "--write", str(out), "--settle", "61")
    assert done.returncode == 0, done.stderr
    records = read_all(out)
    _check_frames(records, tshark_fields(out), "replay",
                  f"tunstack {__version__} replay --write, RAW")
    by_case: dict[str, list[tuple[int, str | None]]] = {}
    for record in records:
        assert record.metadata is not None
        by_case.setdefault(record.metadata["case"], []).append(
            (record.direction, record.comment))
    assert by_case["echo_basic"] == [(DIRECTION_INBOUND, "icmp.echo_reply"),
                                     (DIRECTION_OUTBOUND, "icmp.echo_reply")]
    assert by_case["echo_bad_ip_checksum"] == [(DIRECTION_INBOUND, "ipv4.bad_checksum")]
    assert (DIRECTION_INBOUND, "icmp.rate_limited") in by_case["echo_after_ratelimit"]
    # two first fragments held, then the reassembly timer's Time Exceeded (RFC 792)
    assert by_case["frag_timeout"] == [(DIRECTION_INBOUND, "frag.held"),
                                       (DIRECTION_INBOUND, "frag.held"),
                                       (DIRECTION_OUTBOUND, "icmp.time_exceeded (timer)")]
    # The written golden replays as itself, comments and all.
    again = _replay(str(out), "--expect")
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]


def test_files_without_comments_read_and_replay_as_before(tmp_path: Path) -> None:
    """A capture without packet comments or interface names (tcpdump's, the corpus's)
    reads with no comment and replays unchanged; tshark says "unknown" for it."""
    source = CORPUS / "linux" / "echo_basic.pcapng"
    plain = tmp_path / "plain.pcapng"
    records = read_all(source)
    with CaptureWriter(plain, metadata=records[0].metadata) as writer:
        for record in records:
            writer.write(record.frame, record.timestamp, record.direction,
                         timestamp_ns=record.timestamp_ns)
    again = read_all(plain)
    assert [(r.frame, r.direction, r.comment) for r in again] == \
        [(r.frame, r.direction, None) for r in records]
    frames = tshark_fields(plain)
    assert [f["frame.comment"] for f in frames] == ["", ""]
    assert [f["frame.interface_name"] for f in frames] == ["unknown", "unknown"]
    done = _replay(str(plain), "--expect")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 0 failed" in done.stdout


@pytest.mark.parametrize("order", ["<", ">"])
def test_a_comment_before_or_after_the_flags_reads_in_either_byte_order(order: str) -> None:
    """Other writers (Wireshark's editcap, dumpcap) put options in any order."""
    def option(code: int, value: bytes) -> bytes:
        return struct.pack(order + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)

    def block(kind: int, body: bytes) -> bytes:
        return struct.pack(order + "II", kind, len(body) + 12) + body + struct.pack(
            order + "I", len(body) + 12)

    packet = bytes.fromhex("4500001c00010000400100007f0000017f0000010800f7ff00000000")
    flags = option(2, struct.pack(order + "I", DIRECTION_OUTBOUND))
    comment = option(1, "icmp.echo_reply, ça va".encode())
    data = (block(0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))
            + block(1, struct.pack(order + "HHI", 101, 0, 0)))
    for options in (flags + comment, comment + flags):
        data += block(6, struct.pack(order + "IIIII", 0, 0, 1, len(packet), len(packet))
                      + packet + options + option(0, b""))
    records = read_all(data)
    assert [(r.direction, r.comment, r.frame) for r in records] == \
        [(DIRECTION_OUTBOUND, "icmp.echo_reply, ça va", packet)] * 2


def test_the_interface_description_says_kind_and_mtu() -> None:
    tap = check_arguments(build_parser().parse_args(["tap7", "--tap", "--mtu", "9000"]))
    assert interface_description(tap) == f"tunstack {__version__} on tap7, TAP, mtu 9000"


@needs_root
def test_live_recording_names_the_device_and_each_packets_reason(tmp_path: Path) -> None:
    record = Path(shared_directory(tmp_path)) / "live.pcapng"  # nobody writes it
    with temporary_netns("ts-wshark") as namespace:
        with live_stack(namespace, "tsw0", "-q", "--record", str(record)) as live:
            assert wait_answering(namespace, "172.16.0.2"), live.banner
            assert "0% packet loss" in ping(namespace, "-c", "2", "-i", "0.05", "-W", "2",
                                            "-s", "3000", "172.16.0.2").stdout
            assert "0% packet loss" in ping(namespace, "-6", "-c", "1", "-W", "2",
                                            "fd00:16::2").stdout
            # one datagram to a closed UDP port, from inside the namespace
            sent = run_in(namespace, [sys.executable, "-c",
                                      "import socket; s = socket.socket(socket.AF_INET, "
                                      "socket.SOCK_DGRAM); s.sendto(b'x', "
                                      "('172.16.0.2', 9))"], timeout=10)
            assert sent.returncode == 0, sent.stderr
            assert wait_answering(namespace, "172.16.0.2")  # the port unreachable came back
        assert live.returncode == 0, live.stderr
    records = read_all(record)
    _check_frames(records, tshark_fields(record), "tsw0",
                  f"tunstack {__version__} on tsw0, TUN, mtu 1500")
    inbound = [r.comment for r in records if r.direction == DIRECTION_INBOUND]
    assert inbound == _host_reasons(records)
    assert {"icmp.echo_reply", "frag.held", "icmpv6.echo_reply",
            "icmp.port_unreachable"} <= set(inbound)
    # each 3000-byte ping: two fragments held, the third answered (fragmented too)
    assert inbound.count("frag.held") == 4, inbound
