"""stack.capture: every link type, direction sources, pcapng sections, errors, writing."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import dpkt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_replay_packets import (
    ethernet,
    icmp6_echo,
    icmp_echo,
    null_header,
    pcap_file,
    pcapng_epb,
    pcapng_idb,
    pcapng_shb,
    pcapng_spb,
    sll,
    sll2,
)

from stack.capture import (
    DIRECTION_INBOUND,
    DIRECTION_OUTBOUND,
    DIRECTION_UNKNOWN,
    CaptureError,
    CaptureWriter,
    read_all,
    read_capture,
    strip_link_header,
)

PING = icmp_echo("172.16.0.1", "172.16.0.2", 13, 1)
PING6 = icmp6_echo("fd00:16::1", "fd00:16::2", 7, 3)


@pytest.mark.parametrize("linktype", [101, 12, 14, 228])
def test_raw_link_types_give_the_packet(linktype: int) -> None:
    [record] = read_all(pcap_file([(1.25, PING)], linktype))
    assert record.data == PING
    assert record.frame == PING
    assert record.linktype == linktype
    assert record.direction == DIRECTION_UNKNOWN
    assert record.timestamp_ns == 1_250_000_000


def test_ipv6_link_type() -> None:
    [record] = read_all(pcap_file([(2.0, PING6)], 229))
    assert record.data == PING6


@pytest.mark.parametrize("big_endian", [False, True])
@pytest.mark.parametrize("nano", [False, True])
def test_pcap_byte_orders_and_resolutions(nano: bool, big_endian: bool) -> None:
    data = pcap_file([(10.000001, PING), (11.5, PING6)], nano=nano, big_endian=big_endian)
    records = read_all(data)
    assert [r.timestamp_ns for r in records] == [10_000_001_000, 11_500_000_000]
    assert [r.data for r in records] == [PING, PING6]
    assert [r.index for r in records] == [0, 1]
    assert [r.offset for r in records] == [24, 24 + 16 + len(PING)]


def test_modified_pcap_has_24_byte_records() -> None:
    header = struct.pack("<IHHiIII", 0xA1B2CD34, 2, 4, 0, 0, 65535, 101)
    record = struct.pack("<IIII", 5, 7, len(PING), len(PING)) + b"\xaa" * 8 + PING
    [got] = read_all(header + record)
    assert got.data == PING
    assert got.timestamp_ns == 5_000_007_000


def test_ethernet_with_vlan_padding_and_arp() -> None:
    short = icmp_echo("172.16.0.1", "172.16.0.2", 1, 1, b"")  # 28 bytes: padded to 60
    padded = ethernet(short) + b"\0" * (60 - 14 - len(short))
    arp = ethernet(b"\0\x01\x08\0\x06\x04\0\x01" + b"\0" * 20, ethertype=0x0806)
    frames = [(1.0, ethernet(PING)), (2.0, ethernet(PING6, vlan=5)), (3.0, padded), (4.0, arp)]
    records = read_all(pcap_file(frames, 1))
    assert [r.data for r in records] == [PING, PING6, short, None]
    assert records[2].frame == padded


@pytest.mark.parametrize(("packet_type", "direction"), [
    (0, DIRECTION_INBOUND), (1, DIRECTION_INBOUND), (2, DIRECTION_INBOUND),
    (3, DIRECTION_UNKNOWN), (4, DIRECTION_OUTBOUND)])
def test_linux_cooked_direction(packet_type: int, direction: int) -> None:
    [one] = read_all(pcap_file([(1.0, sll(PING, packet_type))], 113))
    [two] = read_all(pcap_file([(1.0, sll2(PING6, packet_type))], 276))
    assert (one.data, one.direction) == (PING, direction)
    assert (two.data, two.direction) == (PING6, direction)


@pytest.mark.parametrize(("linktype", "family", "big_endian", "packet"), [
    (0, 2, False, PING), (0, 2, True, PING), (0, 10, False, PING6), (0, 24, False, PING6),
    (0, 28, True, PING6), (0, 30, False, PING6), (108, 2, True, PING), (108, 30, True, PING6)])
def test_null_and_loop(linktype: int, family: int, big_endian: bool, packet: bytes) -> None:
    [record] = read_all(pcap_file([(1.0, null_header(packet, family, big_endian))], linktype))
    assert record.data == packet


def test_null_with_unknown_family_is_not_ip() -> None:
    assert strip_link_header(null_header(PING, 7), 0) == (None, DIRECTION_UNKNOWN)
    assert strip_link_header(b"\x02\0", 0) == (None, DIRECTION_UNKNOWN)
    assert strip_link_header(b"\0" * 10, 113) == (None, DIRECTION_UNKNOWN)
    assert strip_link_header(PING, 147) == (None, DIRECTION_UNKNOWN)


def test_pcapng_interfaces_flags_resolutions_and_sections() -> None:
    data = (pcapng_shb('{"case": "one", "addresses": ["172.16.0.2"]}')
            + pcapng_idb(101)  # microseconds by default
            + pcapng_idb(113, tsresol=9)
            + pcapng_epb(PING, 1_500_000, 0, flags=DIRECTION_INBOUND)
            + pcapng_epb(sll(PING, 4), 1_600_000_123, 1)  # direction from SLL
            + pcapng_epb(PING, 1_700_000, 0, flags=DIRECTION_OUTBOUND)
            + pcapng_spb(PING)  # shares the previous timestamp
            + struct.pack("<II", 5, 12) + struct.pack("<I", 12)  # statistics block: skipped
            + pcapng_shb("not json", order=">") + pcapng_idb(229, tsresol=0x80 | 10, order=">")
            + pcapng_epb(PING6, 3 * 1024, 0, flags=DIRECTION_OUTBOUND, order=">"))
    records = read_all(data)
    assert [(r.section, r.interface, r.direction, r.timestamp_ns, r.data) for r in records] == [
        (0, 0, DIRECTION_INBOUND, 1_500_000_000, PING),
        (0, 1, DIRECTION_OUTBOUND, 1_600_000_123, PING),
        (0, 0, DIRECTION_OUTBOUND, 1_700_000_000, PING),
        (0, 0, DIRECTION_UNKNOWN, 1_700_000_000, PING),
        (1, 0, DIRECTION_OUTBOUND, 3_000_000_000, PING6),
    ]
    assert records[0].metadata == {"case": "one", "addresses": ["172.16.0.2"]}
    assert records[4].metadata is None
    assert [r.linktype for r in records] == [101, 113, 101, 101, 229]


def test_comments_that_are_not_a_json_object_give_no_metadata() -> None:
    for comment in ("plain words", "[1, 2]", "[" * 60_000, '{"unterminated": '):
        data = pcapng_shb(comment) + pcapng_idb(101) + pcapng_epb(PING, 1)
        assert read_all(data)[0].metadata is None


def test_epb_flags_win_over_sll_packet_type() -> None:
    data = pcapng_shb() + pcapng_idb(113) + pcapng_epb(sll(PING, 0), 1, 0, flags=2)
    assert read_all(data)[0].direction == DIRECTION_OUTBOUND


def test_writer_round_trip_and_dpkt_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "golden.pcapng"
    meta = {"case": "echo", "addresses": ["172.16.0.2", "fd00:16::2"], "config": {"ttl": 64}}
    with CaptureWriter(path, metadata=meta) as writer:
        writer.write(PING, 1.000000001, DIRECTION_INBOUND)
        writer.write(PING, 1.5, DIRECTION_OUTBOUND, comment="answer")
        writer.new_section({"case": "v6"})
        writer.write(PING6, 2.0, DIRECTION_INBOUND)
    records = read_all(path)
    assert [(r.section, r.direction, r.timestamp_ns, r.data, r.comment) for r in records] == [
        (0, DIRECTION_INBOUND, 1_000_000_001, PING, None),
        (0, DIRECTION_OUTBOUND, 1_500_000_000, PING, "answer"),
        (1, DIRECTION_INBOUND, 2_000_000_000, PING6, None),
    ]
    assert records[0].metadata == meta
    assert records[2].metadata == {"case": "v6"}
    with path.open("rb") as stream:
        assert [bytes(buf) for _ts, buf in dpkt.pcapng.Reader(stream)] == [PING, PING, PING6]


def test_writer_flushes_every_packet(tmp_path: Path) -> None:
    """What a kill -9 would leave: the file as it is on disk while the writer is open."""
    path = tmp_path / "live.pcapng"
    writer = CaptureWriter(path, metadata={"case": "live"})
    writer.write(PING, 1.0, DIRECTION_INBOUND)
    writer.write(PING6, 2.0, DIRECTION_OUTBOUND)
    snapshot = path.read_bytes()  # read by another handle, before close()
    assert [r.data for r in read_all(snapshot)] == [PING, PING6]
    writer.close()
    assert path.read_bytes() == snapshot


def test_writer_to_a_stream_leaves_it_open() -> None:
    stream = io.BytesIO()
    with CaptureWriter(stream, linktype=1) as writer:
        writer.write(ethernet(PING), 3.0)
    assert not stream.closed
    [record] = read_all(stream.getvalue())
    assert (record.linktype, record.data) == (1, PING)


def _error(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "bad.pcap"
    path.write_bytes(data)
    with pytest.raises(CaptureError) as caught:
        list(read_capture(path))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message


def test_bad_files_give_one_line_with_offset(tmp_path: Path) -> None:
    good = pcap_file([(1.0, PING), (2.0, PING)])
    assert _error(b"", tmp_path).endswith("offset 0: empty file")
    assert _error(b"\xd4\xc3", tmp_path).endswith("offset 0: truncated file header: 2 bytes")
    assert _error(b"GIF89a" + b"\0" * 40, tmp_path).endswith(
        "offset 0: not a pcap or pcapng file (magic 0x47494638)")
    assert _error(good[:30], tmp_path).endswith(
        "offset 24: truncated packet record header: needs 16 bytes, 6 left")
    cut = len(good) - 5
    assert _error(good[:cut], tmp_path).endswith(
        f"offset {24 + 16 + len(PING)}: truncated packet: needs {len(PING)} bytes, "
        f"{len(PING) - 5} left")
    assert _error(good[:20], tmp_path).endswith(
        "offset 0: truncated pcap file header: needs 20 bytes, 16 left")
    assert _error(pcap_file([], linktype=147), tmp_path).endswith(
        "offset 20: unsupported link type 147")
    huge = pcap_file([]) + struct.pack("<IIII", 1, 0, 0x7FFFFFFF, 0x7FFFFFFF)
    assert _error(huge, tmp_path).endswith(
        "offset 24: packet record claims 2147483647 bytes: not a packet")


def test_bad_pcapng_blocks(tmp_path: Path) -> None:
    head = pcapng_shb() + pcapng_idb(101)
    epb = pcapng_epb(PING, 1, 0, flags=1)
    at = len(head)
    assert _error(head + epb[:-4], tmp_path).endswith(
        f"offset {at}: truncated block (type 0x00000006): needs {len(epb) - 8} bytes, "
        f"{len(epb) - 12} left")
    bad_trailer = epb[:-4] + struct.pack("<I", len(epb) + 4)
    assert _error(head + bad_trailer, tmp_path).endswith(
        f"offset {at}: block length {len(epb)} does not match its trailer "
        "(block type 0x00000006)")
    odd = epb[:4] + struct.pack("<I", 13) + epb[8:]
    assert _error(head + odd, tmp_path).endswith(
        f"offset {at}: bad block length 13 (block type 0x00000006)")
    wrong_interface = pcapng_epb(PING, 1, 3)
    assert _error(head + wrong_interface, tmp_path).endswith(
        f"offset {at}: packet names interface 3, the section has 1")
    bad_magic = pcapng_shb()[:8] + b"\x01\x02\x03\x04" + pcapng_shb()[12:]
    assert _error(bad_magic, tmp_path).endswith("offset 8: bad pcapng byte-order magic 0x01020304")


def test_packets_before_the_damage_are_yielded(tmp_path: Path) -> None:
    path = tmp_path / "cut.pcap"
    path.write_bytes(pcap_file([(1.0, PING), (2.0, PING)])[:-3])
    seen = []
    with pytest.raises(CaptureError):
        for record in read_capture(path):
            seen.append(record.data)
    assert seen == [PING]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match=r"nope\.pcap: cannot open: No such file"):
        list(read_capture(tmp_path / "nope.pcap"))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.sampled_from(["pcap", "pcapng"]))
def test_arbitrary_bytes_raise_only_capture_error(tail: bytes, kind: str) -> None:
    head = (pcap_file([(1.0, PING)]) if kind == "pcap"
            else pcapng_shb("{}") + pcapng_idb(1) + pcapng_epb(ethernet(PING), 5, flags=1))
    for data in (head + tail, head[: len(tail) % len(head)] + tail):
        try:
            for record in read_all(data):
                assert isinstance(record.frame, bytes)
        except CaptureError as error:
            assert "\n" not in str(error)
