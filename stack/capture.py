"""Reading pcap/pcapng captures and writing pcapng with direction and host metadata.

Reading
-------
``read_capture(source)`` streams :class:`CaptureRecord` values from a pcap (µs, ns and the
"modified" Kuznetzov variant, either byte order) or pcapng file, holding one packet at a
time, so memory stays flat on files of any size. ``source`` is a path or a binary file.
Each record carries:

- ``timestamp``: seconds as a float; ``timestamp_ns``: the same as an exact integer.
- ``frame``: the bytes as captured; ``linktype``: the LINKTYPE_* value of its interface.
- ``data``: the IP packet with the link header removed, or ``None`` when the frame does
  not carry IPv4/IPv6 (ARP, LLDP ...).
- ``direction``: :data:`DIRECTION_INBOUND`, :data:`DIRECTION_OUTBOUND` or
  :data:`DIRECTION_UNKNOWN`, from the pcapng ``epb_flags`` option first, then from the
  Linux cooked (SLL/SLL2) packet type. Deciding by address is the caller's business.
- ``section``: the pcapng section index (0 for pcap); ``metadata``: the JSON object in
  that section's header comment, or ``None``; ``comment``: the packet's own comment.
- ``index`` (0-based, over the whole file), ``offset`` (byte offset of its record).

Link types: RAW (101, and 12/14 as some tools write it), IPV4/IPV6 (228/229), Ethernet
(1, with 802.1Q/802.1ad tags), Linux cooked SLL (113) and SLL2 (276), NULL (0) and LOOP
(108); any other, in a pcap header or a pcapng interface, is an error. A pcapng file may
have several sections and up to :data:`MAX_INTERFACES` interfaces in each.

Every problem with the file raises :class:`CaptureError`, whose message is one line
naming the file and the byte offset; nothing else escapes.

Writing
-------
``CaptureWriter(path_or_file, linktype=101, metadata=None, interface_name=None,
interface_description=None)`` writes one pcapng section per case: the Section Header
Block's comment is the JSON of ``metadata``; the Interface Description Block names the
device (``if_name``, ``if_description``: Wireshark's ``frame.interface_name``, instead of
"interface unknown"); each ``write(data, timestamp, direction, comment)`` appends one
Enhanced Packet Block with the ``epb_flags`` direction and the packet's ``opt_comment``
(why the host sent or what it did with it: ``icmp.echo_reply``, ``frag.held``; Wireshark's
``frame.comment``) and flushes it, so killing the writer loses at most the packet in
flight and the file still reads. ``new_section(metadata)`` starts the next case.

dpkt's pcapng reader drops per-packet options (and with them the direction), so the
blocks are read and written here directly (pcapng: draft-ietf-opsawg-pcapng).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import struct
from collections.abc import Iterator, Mapping
from typing import IO, Any

__all__ = [
    "DIRECTION_UNKNOWN",
    "DIRECTION_INBOUND",
    "DIRECTION_OUTBOUND",
    "LINKTYPE_NULL",
    "LINKTYPE_ETHERNET",
    "LINKTYPE_RAW",
    "LINKTYPE_LOOP",
    "LINKTYPE_LINUX_SLL",
    "LINKTYPE_IPV4",
    "LINKTYPE_IPV6",
    "LINKTYPE_LINUX_SLL2",
    "SUPPORTED_LINKTYPES",
    "MAX_INTERFACES",
    "CaptureError",
    "CaptureRecord",
    "CaptureWriter",
    "read_all",
    "read_capture",
    "strip_link_header",
    "timer_comment",
]

# epb_flags bits 0-1 (pcapng §4.3.1): 00 information not available, 01 inbound, 10 outbound.
DIRECTION_UNKNOWN = 0
DIRECTION_INBOUND = 1
DIRECTION_OUTBOUND = 2

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276
# DLT_RAW is 12 on most systems and 14 on OpenBSD; some tools write the DLT into files.
_RAW_TYPES = frozenset({LINKTYPE_RAW, 12, 14, LINKTYPE_IPV4, LINKTYPE_IPV6})
SUPPORTED_LINKTYPES = frozenset(
    _RAW_TYPES | {LINKTYPE_NULL, LINKTYPE_ETHERNET, LINKTYPE_LOOP, LINKTYPE_LINUX_SLL,
                  LINKTYPE_LINUX_SLL2})

_ETHERTYPE_IPV4 = 0x0800
_ETHERTYPE_IPV6 = 0x86DD
_VLAN_TAGS = frozenset({0x8100, 0x88A8, 0x9100})
# Address families in NULL/LOOP headers: AF_INET is 2 everywhere; AF_INET6 is 10 on
# Linux, 24 on NetBSD/OpenBSD, 28 on FreeBSD, 30 on macOS.
_AF_INET = 2
_AF_INET6 = frozenset({10, 24, 28, 30})
# Linux packet types (include/uapi/linux/if_packet.h): PACKET_HOST 0, BROADCAST 1,
# MULTICAST 2 are received by this host; OUTGOING 4 was sent by it; OTHERHOST 3 (seen
# promiscuously) says nothing about this host.
_SLL_DIRECTION = {0: DIRECTION_INBOUND, 1: DIRECTION_INBOUND, 2: DIRECTION_INBOUND,
                  4: DIRECTION_OUTBOUND}
_ETHERNET_MIN_FRAME = 60  # without FCS: shorter payloads are padded (IEEE 802.3 §3.2.8)

# A record claiming more than this is garbage, not a packet (pcap snaplen maxima are 256 KiB).
_MAX_RECORD = 64 * 1024 * 1024
# Interfaces kept per pcapng section. A real capture has a handful (the obsolete Packet
# Block could name only 65,536); a file of millions of Interface Description Blocks would
# otherwise hold them all in memory (about 100 bytes each) for the packets to name.
MAX_INTERFACES = 65536

_PCAP_MAGIC_US = 0xA1B2C3D4
_PCAP_MAGIC_NS = 0xA1B23C4D
_PCAP_MAGIC_MODIFIED = 0xA1B2CD34  # Kuznetzov's patched libpcap: 24-byte record headers
_PCAPNG_SHB = 0x0A0D0D0A
_PCAPNG_BYTE_ORDER = 0x1A2B3C4D
_BLOCK_IDB = 1
_BLOCK_PB = 2  # obsolete Packet Block
_BLOCK_SPB = 3
_BLOCK_EPB = 6
_OPT_END = 0
_OPT_COMMENT = 1
_OPT_SHB_USERAPPL = 4
_OPT_IF_NAME = 2
_OPT_IF_DESCRIPTION = 3
_OPT_IF_TSRESOL = 9
_OPT_IF_TSOFFSET = 14
_OPT_EPB_FLAGS = 2


class CaptureError(Exception):
    """The capture cannot be read; the message is one line naming file and byte offset."""


class CaptureRecord:
    """One captured packet (see the module docstring for the fields)."""

    __slots__ = ("timestamp", "timestamp_ns", "data", "frame", "linktype", "direction",
                 "section", "metadata", "comment", "index", "offset", "interface")

    def __init__(self, timestamp_ns: int, frame: bytes, linktype: int, direction: int,
                 section: int, metadata: dict[str, Any] | None, index: int, offset: int,
                 interface: int = 0, comment: str | None = None) -> None:
        self.timestamp_ns = timestamp_ns
        self.timestamp = timestamp_ns / 1e9
        self.frame = frame
        self.linktype = linktype
        if linktype in _RAW_TYPES:  # the common case, without a call
            self.data: bytes | None = frame
            self.direction = direction
        else:
            data, link_direction = strip_link_header(frame, linktype)
            self.data = data
            self.direction = direction if direction else link_direction
        self.section = section
        self.metadata = metadata
        self.index = index
        self.offset = offset
        self.interface = interface
        self.comment = comment

    def __repr__(self) -> str:
        return (f"CaptureRecord(index={self.index}, t={self.timestamp:.9f}, "
                f"linktype={self.linktype}, direction={self.direction}, "
                f"section={self.section}, {len(self.frame)} B)")


def _ip_from(payload: bytes, ethertype: int) -> bytes | None:
    if ethertype in (_ETHERTYPE_IPV4, _ETHERTYPE_IPV6):
        return payload
    return None


def _trim_ethernet_padding(frame_length: int, packet: bytes) -> bytes:
    """Drop the padding a short Ethernet frame carries after its IP packet, as Linux
    trims the skb to the IP total length in ip_rcv_core / ipv6_rcv."""
    if frame_length > _ETHERNET_MIN_FRAME or not packet:
        return packet
    version = packet[0] >> 4
    if version == 4 and len(packet) >= 4:
        length = int.from_bytes(packet[2:4], "big")
    elif version == 6 and len(packet) >= 6:
        length = 40 + int.from_bytes(packet[4:6], "big")
    else:
        return packet
    return packet[:length] if 0 < length < len(packet) else packet


def strip_link_header(frame: bytes, linktype: int) -> tuple[bytes | None, int]:
    """Return (the IP packet or None when the frame carries no IP, the direction the link
    header states or DIRECTION_UNKNOWN). Never raises: a short header gives None."""
    if linktype in _RAW_TYPES:
        return frame, DIRECTION_UNKNOWN
    if linktype == LINKTYPE_ETHERNET:
        offset = 12
        if len(frame) < 14:
            return None, DIRECTION_UNKNOWN
        ethertype = int.from_bytes(frame[12:14], "big")
        while ethertype in _VLAN_TAGS and len(frame) >= offset + 8:
            offset += 4
            ethertype = int.from_bytes(frame[offset:offset + 2], "big")
        packet = _ip_from(frame[offset + 2:], ethertype)
        if packet is not None:
            packet = _trim_ethernet_padding(len(frame), packet)
        return packet, DIRECTION_UNKNOWN
    if linktype == LINKTYPE_LINUX_SLL:
        # packet type(2) ARPHRD(2) address length(2) address(8) protocol(2)
        if len(frame) < 16:
            return None, DIRECTION_UNKNOWN
        direction = _SLL_DIRECTION.get(int.from_bytes(frame[0:2], "big"), DIRECTION_UNKNOWN)
        return _ip_from(frame[16:], int.from_bytes(frame[14:16], "big")), direction
    if linktype == LINKTYPE_LINUX_SLL2:
        # protocol(2) reserved(2) ifindex(4) ARPHRD(2) packet type(1) addr len(1) addr(8)
        if len(frame) < 20:
            return None, DIRECTION_UNKNOWN
        direction = _SLL_DIRECTION.get(frame[10], DIRECTION_UNKNOWN)
        return _ip_from(frame[20:], int.from_bytes(frame[0:2], "big")), direction
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if len(frame) < 4:
            return None, DIRECTION_UNKNOWN
        # NULL stores the family in the capturing host's byte order, LOOP in network order;
        # accept either order for both, as the values cannot be confused.
        families = {int.from_bytes(frame[:4], "big"), int.from_bytes(frame[:4], "little")}
        if _AF_INET in families or families & _AF_INET6:
            return frame[4:], DIRECTION_UNKNOWN
        return None, DIRECTION_UNKNOWN
    return None, DIRECTION_UNKNOWN


# -- reading ---------------------------------------------------------------------------
def _open(target: str | os.PathLike[str] | IO[bytes], mode: str) -> tuple[str, IO[bytes], bool]:
    """(name for messages, binary stream, whether we opened it and must close it)."""
    if not isinstance(target, (str, os.PathLike)):
        return str(getattr(target, "name", "<stream>")), target, False
    name = os.fspath(target)
    try:
        stream: IO[bytes] = open(name, mode, buffering=1 << 20)  # noqa: SIM115
    except OSError as exc:
        verb = "open" if mode == "rb" else "create"
        raise CaptureError(f"{name}: cannot {verb}: {exc.strerror}") from None
    return name, stream, True


class _Source:
    """A binary stream that knows its byte offset and its name for error messages."""

    __slots__ = ("stream", "name", "offset", "_owned")

    def __init__(self, source: str | os.PathLike[str] | IO[bytes]) -> None:
        self.name, self.stream, self._owned = _open(source, "rb")
        self.offset = 0

    def error(self, message: str, offset: int | None = None) -> CaptureError:
        where = self.offset if offset is None else offset
        return CaptureError(f"{self.name}: offset {where}: {message}")

    def read(self, size: int) -> bytes:
        try:
            data = self.stream.read(size)
        except OSError as exc:
            raise self.error(f"read failed: {exc.strerror or exc}") from None
        self.offset += len(data)
        return data

    def read_exact(self, size: int, what: str, start: int) -> bytes:
        data = self.read(size)
        if len(data) != size:
            raise self.error(f"truncated {what}: needs {size} bytes, {len(data)} left", start)
        return data

    def close(self) -> None:
        if self._owned:
            self.stream.close()


def read_capture(source: str | os.PathLike[str] | IO[bytes]) -> Iterator[CaptureRecord]:
    """Stream the records of a pcap or pcapng file (see the module docstring).

    Raises :class:`CaptureError` (one line, file and byte offset) for an empty, garbage,
    wrong-magic or truncated file, after yielding the packets before the damage."""
    src = _Source(source)
    try:
        head = src.read(4)
        if not head:
            raise src.error("empty file", 0)
        if len(head) < 4:
            raise src.error(f"truncated file header: {len(head)} bytes", 0)
        magic_le = int.from_bytes(head, "little")
        magic_be = int.from_bytes(head, "big")
        if magic_be == _PCAPNG_SHB:
            yield from _read_pcapng(src, head)
        elif _PCAP_MAGIC_US in (magic_le, magic_be) or _PCAP_MAGIC_NS in (magic_le, magic_be) \
                or _PCAP_MAGIC_MODIFIED in (magic_le, magic_be):
            yield from _read_pcap(src, head)
        else:
            raise src.error(f"not a pcap or pcapng file (magic 0x{magic_be:08x})", 0)
    finally:
        src.close()


def _read_pcap(src: _Source, head: bytes) -> Iterator[CaptureRecord]:
    magic_le = int.from_bytes(head, "little")
    order = "<" if magic_le in (_PCAP_MAGIC_US, _PCAP_MAGIC_NS, _PCAP_MAGIC_MODIFIED) else ">"
    magic = magic_le if order == "<" else int.from_bytes(head, "big")
    header = src.read_exact(20, "pcap file header", 0)
    _major, _minor, _zone, _sigfigs, _snaplen, network = struct.unpack(order + "HHiIII", header)
    # The upper bits of the link-type field carry FCS information (pcap §4); the link
    # type itself is the low 16 bits.
    linktype = network & 0xFFFF
    fcs_bytes = (network >> 28) * 2 if network & 0x04000000 else 0
    if linktype not in SUPPORTED_LINKTYPES:
        raise src.error(f"unsupported link type {linktype}", 20)
    record_size = 24 if magic == _PCAP_MAGIC_MODIFIED else 16
    frac_scale = 1 if magic == _PCAP_MAGIC_NS else 1000
    unpack = struct.Struct(order + "IIII").unpack_from
    read = src.read
    index = 0
    while True:
        start = src.offset
        record = read(record_size)
        if len(record) < record_size:
            if not record:
                return
            raise src.error(f"truncated packet record header: needs {record_size} bytes, "
                            f"{len(record)} left", start)
        seconds, fraction, caplen, _origlen = unpack(record)
        if caplen > _MAX_RECORD:
            raise src.error(f"packet record claims {caplen} bytes: not a packet", start)
        frame = read(caplen)
        if len(frame) < caplen:
            raise src.error(f"truncated packet: needs {caplen} bytes, {len(frame)} left", start)
        if fcs_bytes and linktype == LINKTYPE_ETHERNET:
            frame = frame[:-fcs_bytes]
        yield CaptureRecord(seconds * 1_000_000_000 + fraction * frac_scale, frame, linktype,
                            DIRECTION_UNKNOWN, 0, None, index, start)
        index += 1


class _Interface:
    __slots__ = ("linktype", "snaplen", "units_per_second", "offset_seconds", "name")

    def __init__(self, linktype: int, snaplen: int) -> None:
        self.linktype = linktype
        self.snaplen = snaplen
        self.units_per_second = 1_000_000  # if_tsresol default: microseconds
        self.offset_seconds = 0
        self.name = ""

    def to_ns(self, ticks: int) -> int:
        per_second = self.units_per_second
        if per_second == 1_000_000_000:
            return ticks + self.offset_seconds * 1_000_000_000
        seconds, rest = divmod(ticks, per_second)
        return (seconds + self.offset_seconds) * 1_000_000_000 + rest * 1_000_000_000 // per_second


def _options(body: bytes, start: int, order: str) -> Iterator[tuple[int, bytes]]:
    """The (code, value) options in ``body[start:]``; stops at opt_endofopt or the end."""
    end = len(body)
    pos = start
    while pos + 4 <= end:
        code, length = struct.unpack_from(order + "HH", body, pos)
        if code == _OPT_END:
            return
        pos += 4
        if pos + length > end:
            return  # a damaged option list: keep what was readable
        yield code, body[pos:pos + length]
        pos += (length + 3) & ~3


def _json_comment(text: str) -> dict[str, Any] | None:
    """The section comment as a JSON object, or None (any other comment is just text)."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # deeply nested arrays exhaust the parser's stack
        return None
    return value if isinstance(value, dict) else None


class _Order:
    """The structs of one byte order, compiled once per section."""

    def __init__(self, order: str) -> None:
        self.order = order
        self.block_head = struct.Struct(order + "II").unpack
        self.u32_at = struct.Struct(order + "I").unpack_from
        self.epb = struct.Struct(order + "IIIII").unpack_from
        # the option list our writer emits: epb_flags (code 2, length 4), then end
        self.flags_option = struct.pack(order + "HH", _OPT_EPB_FLAGS, 4)


_ORDERS = {"<": _Order("<"), ">": _Order(">")}
_NO_OPTIONS = b"\0\0\0\0"


def _read_pcapng(src: _Source, head: bytes) -> Iterator[CaptureRecord]:
    section = -1
    fmt = _ORDERS["<"]
    interfaces: list[_Interface] = []
    metadata: dict[str, Any] | None = None
    index = 0
    last_ns = 0
    read = src.read
    pending_head: bytes | None = head
    while True:
        if pending_head is not None:  # the 4 bytes read_capture() took to find the format
            start = src.offset - len(pending_head)
            block_head = pending_head + read(4)
            pending_head = None
        else:
            start = src.offset
            block_head = read(8)
        if len(block_head) < 8:
            if not block_head:
                return
            raise src.error(f"truncated block header: needs 8 bytes, {len(block_head)} left",
                            start)
        if block_head[:4] == b"\x0a\x0d\x0d\x0a":  # a Section Header Block: new byte order
            magic_bytes = src.read_exact(4, "section header", start)
            if int.from_bytes(magic_bytes, "little") == _PCAPNG_BYTE_ORDER:
                fmt = _ORDERS["<"]
            elif int.from_bytes(magic_bytes, "big") == _PCAPNG_BYTE_ORDER:
                fmt = _ORDERS[">"]
            else:
                raise src.error("bad pcapng byte-order magic "
                                f"0x{int.from_bytes(magic_bytes, 'big'):08x}", start + 8)
            block_type = _PCAPNG_SHB
            total = fmt.u32_at(block_head, 4)[0]
            header_read = 12
        else:
            block_type, total = fmt.block_head(block_head)
            header_read = 8
        # A block is at least its head and trailer; a section header also holds its byte
        # order magic and version (pcapng §4.1: 28 bytes at the least).
        minimum = 28 if block_type == _PCAPNG_SHB else 12
        if total < minimum or total & 3 or total > _MAX_RECORD:
            raise src.error(f"bad block length {total} (block type 0x{block_type:08x})", start)
        want = total - header_read
        rest = read(want)
        if len(rest) != want:
            raise src.error(f"truncated block (type 0x{block_type:08x}): needs {want} bytes, "
                            f"{len(rest)} left", start)
        end = want - 4  # the body ends where the trailing length begins
        if fmt.u32_at(rest, end)[0] != total:
            raise src.error(f"block length {total} does not match its trailer "
                            f"(block type 0x{block_type:08x})", start)
        if block_type == _BLOCK_EPB and section >= 0:
            # the hot path: one Enhanced Packet Block
            if end < 20:
                raise src.error("enhanced packet block too short", start)
            if_id, ts_high, ts_low, caplen, _origlen = fmt.epb(rest, 0)
            if if_id >= len(interfaces):
                raise src.error(f"packet names interface {if_id}, the section has "
                                f"{len(interfaces)}", start)
            if 20 + caplen > end:
                raise src.error(f"packet claims {caplen} bytes, its block holds {end - 20}",
                                start)
            options_at = 20 + ((caplen + 3) & ~3)
            direction = DIRECTION_UNKNOWN
            comment = None
            if options_at < end:
                if rest[options_at:options_at + 4] == fmt.flags_option and (
                        options_at + 8 == end or rest[options_at + 8:end] == _NO_OPTIONS):
                    direction = fmt.u32_at(rest, options_at + 4)[0] & 0x3
                else:
                    direction, comment = _packet_options(rest[:end], options_at, fmt.order)
                if direction == 3:  # reserved value: no information
                    direction = DIRECTION_UNKNOWN
            iface = interfaces[if_id]
            last_ns = iface.to_ns((ts_high << 32) | ts_low)
            yield CaptureRecord(last_ns, rest[20:20 + caplen], iface.linktype, direction,
                                section, metadata, index, start, if_id, comment)
            index += 1
            continue
        body = rest[:end]
        if block_type == _PCAPNG_SHB:
            # body: major(2) minor(2) section length(8) options
            if len(body) < 12:
                raise src.error("section header too short", start)
            major = struct.unpack_from(fmt.order + "H", body, 0)[0]
            if major != 1:
                raise src.error(f"unsupported pcapng version {major}", start)
            section += 1
            interfaces = []
            metadata = None
            for code, value in _options(body, 12, fmt.order):
                if code == _OPT_COMMENT and metadata is None:
                    metadata = _json_comment(value.decode("utf-8", "replace"))
            continue
        if section < 0:
            raise src.error("pcapng block before the section header", start)
        if block_type == _BLOCK_IDB:
            if len(interfaces) >= MAX_INTERFACES:
                raise src.error(f"more than {MAX_INTERFACES} interfaces in one section: "
                                "not a capture of one host", start)
            interfaces.append(_interface(src, body, fmt.order, start, len(interfaces)))
            continue
        if block_type == _BLOCK_PB:  # obsolete Packet Block: 16-bit interface, drops
            if len(body) < 20:
                raise src.error("packet block too short", start)
            if_id, _drops, ts_high, ts_low, caplen, _origlen = struct.unpack_from(
                fmt.order + "HHIIII", body, 0)
            if if_id >= len(interfaces):
                raise src.error(f"packet names interface {if_id}, the section has "
                                f"{len(interfaces)}", start)
            if 20 + caplen > len(body):
                raise src.error(f"packet claims {caplen} bytes, its block holds "
                                f"{len(body) - 20}", start)
            direction, comment = _packet_options(body, 20 + ((caplen + 3) & ~3), fmt.order)
            iface = interfaces[if_id]
            last_ns = iface.to_ns((ts_high << 32) | ts_low)
            yield CaptureRecord(last_ns, body[20:20 + caplen], iface.linktype,
                                DIRECTION_UNKNOWN if direction == 3 else direction, section,
                                metadata, index, start, if_id, comment)
            index += 1
            continue
        if block_type == _BLOCK_SPB:
            if not interfaces:
                raise src.error("simple packet block without an interface", start)
            if len(body) < 4:
                raise src.error("simple packet block too short", start)
            origlen = struct.unpack_from(fmt.order + "I", body, 0)[0]
            snaplen = interfaces[0].snaplen or origlen
            frame = body[4:4 + min(origlen, snaplen)]
            # A Simple Packet Block has no timestamp: it shares the previous packet's.
            yield CaptureRecord(last_ns, frame, interfaces[0].linktype, DIRECTION_UNKNOWN,
                                section, metadata, index, start, 0)
            index += 1
            continue
        # Other blocks (name resolution, statistics, decryption secrets, custom) carry no
        # packets: skip them.


def _packet_options(body: bytes, options_at: int, order: str) -> tuple[int, str | None]:
    """(epb_flags direction bits, the first comment) from a packet block's options.

    The walk of :func:`_options`, unrolled: every packet tunstack records carries a
    comment (its reason), so this runs once per packet when reading one."""
    direction = DIRECTION_UNKNOWN
    comment = None
    head = _OPTION_HEAD[order]
    end = len(body)
    pos = options_at
    while pos + 4 <= end:
        code, length = head(body, pos)
        if code == _OPT_END:
            break
        pos += 4
        if pos + length > end:
            break  # a damaged option list: keep what was readable
        if code == _OPT_EPB_FLAGS and length == 4:
            # bits 0-1 of the 32-bit flags: in its lowest-order byte
            direction = body[pos if order == "<" else pos + 3] & 0x3
        elif code == _OPT_COMMENT and comment is None:
            comment = body[pos:pos + length].decode("utf-8", "replace")
        pos += (length + 3) & ~3
    return direction, comment


_OPTION_HEAD = {order: struct.Struct(order + "HH").unpack_from for order in "<>"}


def _interface(src: _Source, body: bytes, order: str, start: int, number: int) -> _Interface:
    """An Interface Description Block: link type, snap length, timestamp resolution."""
    if len(body) < 8:
        raise src.error("interface description too short", start)
    linktype, _reserved, snaplen = struct.unpack_from(order + "HHI", body, 0)
    if linktype not in SUPPORTED_LINKTYPES:  # refused as a pcap file's header would be
        raise src.error(f"interface {number}: unsupported link type {linktype}", start)
    iface = _Interface(linktype, snaplen)
    for code, value in _options(body, 8, order):
        if code == _OPT_IF_TSRESOL and value:
            resolution = value[0]
            exponent = resolution & 0x7F
            if exponent > 30 and not resolution & 0x80:
                raise src.error(f"if_tsresol 10^-{exponent} out of range", start)
            iface.units_per_second = 2 ** exponent if resolution & 0x80 else 10 ** exponent
        elif code == _OPT_IF_TSOFFSET and len(value) == 8:
            iface.offset_seconds = struct.unpack(order + "q", value)[0]
        elif code == _OPT_IF_NAME:
            iface.name = value.decode("utf-8", "replace")
    return iface


# -- writing ---------------------------------------------------------------------------
def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def _block(block_type: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    total = len(body) + 12
    return struct.pack("<II", block_type, total) + body + struct.pack("<I", total)


_MAX_TICKS = 2**64 - 1  # an Enhanced Packet Block's timestamp: 64 bits
_INFINITY = float("inf")


def timer_comment(replies_before: Mapping[str, int], replies_after: Mapping[str, int]) -> str:
    """The comment a recording gives the packets a host's timer sent (``poll``): the
    reply kinds it counted meanwhile (``icmp.time_exceeded (timer)``), or ``timer`` when
    it counted none (a TAP host's neighbour solicitation retry). Packets answering an
    inbound one carry the host's ``last_reason`` instead."""
    kinds = sorted(kind for kind, count in replies_after.items()
                   if count > replies_before.get(kind, 0))
    return f"{', '.join(kinds)} (timer)" if kinds else "timer"


class CaptureWriter:
    """Write pcapng, one section per case, packets with their direction.

    Timestamps are stored with nanosecond resolution (``if_tsresol`` 9). Every block is
    handed to the operating system as soon as it is complete (one ``write`` plus a
    flush), so a crash loses at most the block being built. ``interface_name`` and
    ``interface_description``, when given, go into every section's interface block."""

    def __init__(self, target: str | os.PathLike[str] | IO[bytes], linktype: int = LINKTYPE_RAW,
                 metadata: dict[str, Any] | None = None, application: str = "tunstack",
                 interface_name: str | None = None,
                 interface_description: str | None = None) -> None:
        self.name, self._stream, self._owned = _open(target, "wb")
        self.linktype = linktype
        self.application = application
        self.interface_name = interface_name
        self.interface_description = interface_description
        self.packets = 0
        self.sections = 0
        self._closed = False
        self._written = 0  # bytes of whole blocks handed to the operating system
        self._failed = False
        # if_tsoffset (seconds) of each interface of the current section, by interface ID
        self._offsets: list[int] = []
        try:
            self.new_section(metadata)
        except CaptureError:  # not even the header fits (a full disk): no open file left
            self.close()
            raise

    def _emit(self, block: bytes) -> None:
        if self._closed:
            raise ValueError("write to a closed CaptureWriter")
        try:
            self._stream.write(block)
            self._stream.flush()
        except OSError as exc:
            # A full disk: the file keeps every whole block before this one (cut back
            # to them on close), and this writer writes nothing more.
            self._failed = True
            raise CaptureError(f"{self.name}: write failed: {exc.strerror or exc}; "
                               f"the {self._written} bytes written before are kept") from None
        self._written += len(block)

    def new_section(self, metadata: dict[str, Any] | None = None) -> None:
        """Start a section (a case): its header comment is ``metadata`` as JSON, and it
        gets one interface of this writer's link type."""
        options = b""
        if metadata is not None:
            options += _option(_OPT_COMMENT, json.dumps(metadata, sort_keys=False).encode())
        options += _option(_OPT_SHB_USERAPPL, self.application.encode())
        options += _option(_OPT_END, b"")
        shb_body = struct.pack("<IHHq", _PCAPNG_BYTE_ORDER, 1, 0, -1) + options
        self._offsets = [0]
        self._emit(_block(_PCAPNG_SHB, shb_body) + _block(_BLOCK_IDB, self._idb_body()))
        self.sections += 1

    def _idb_body(self, tsoffset: int | None = None) -> bytes:
        """An interface block of this writer's link type, named and described when given,
        nanosecond resolution, with ``if_tsoffset`` (seconds) when not None."""
        body = struct.pack("<HHI", self.linktype, 0, 0)
        if self.interface_name:
            body += _option(_OPT_IF_NAME, self.interface_name.encode())
        if self.interface_description:
            body += _option(_OPT_IF_DESCRIPTION, self.interface_description.encode())
        body += _option(_OPT_IF_TSRESOL, bytes([9]))
        if tsoffset is not None:
            body += _option(_OPT_IF_TSOFFSET, struct.pack("<q", tsoffset))
        return body + _option(_OPT_END, b"")

    def _interface_for(self, ticks: int) -> tuple[int, int]:
        """(interface ID, nanoseconds after its if_tsoffset) for a timestamp of ``ticks``
        ns since 1970. Interface 0 holds 1970 to 2554; a time outside (before 1970, as a
        capture with a negative if_tsoffset has) gets an interface whose if_tsoffset
        (pcapng §4.2, signed seconds) starts at its second, added once and shared by the
        next 584 years."""
        for number, offset in enumerate(self._offsets):
            relative = ticks - offset * 1_000_000_000
            if 0 <= relative <= _MAX_TICKS:
                return number, relative
        offset = ticks // 1_000_000_000
        if not -2**63 <= offset < 2**63:
            raise CaptureError(f"{self.name}: timestamp {ticks / 1e9:.9g} s cannot be "
                               "written: pcapng keeps about ±2.9e11 years")
        self._emit(_block(_BLOCK_IDB, self._idb_body(offset)))
        self._offsets.append(offset)
        return len(self._offsets) - 1, ticks - offset * 1_000_000_000

    def write(self, data: bytes, timestamp: float, direction: int = DIRECTION_UNKNOWN,
              comment: str | None = None, timestamp_ns: int | None = None) -> None:
        """Append one packet (``data`` is the frame for this writer's link type: the bare
        IP packet for RAW) with its direction (``DIRECTION_*``) and ``comment``, its
        ``opt_comment`` (none when empty). Any time pcapng can hold is written exactly
        (before 1970 too); CaptureError says which one it cannot (NaN, infinite, beyond
        ±2.9e11 years) or that the write failed."""
        if timestamp_ns is not None:
            ticks = timestamp_ns
        elif -_INFINITY < timestamp * 1e9 < _INFINITY:  # NaN fails both
            ticks = round(timestamp * 1e9)
        else:
            raise CaptureError(f"{self.name}: timestamp {timestamp} s cannot be written")
        if 0 <= ticks <= _MAX_TICKS:  # the common case: interface 0, no offset
            interface = 0
        else:
            interface, ticks = self._interface_for(ticks)
        options = _option(_OPT_EPB_FLAGS, struct.pack("<I", direction & 0x3))
        if comment:
            options += _option(_OPT_COMMENT, comment.encode())
        options += _option(_OPT_END, b"")
        length = len(data)
        body = (struct.pack("<IIIII", interface, ticks >> 32, ticks & 0xFFFFFFFF, length,
                            length) + data + b"\0" * (-length % 4) + options)
        self._emit(_block(_BLOCK_EPB, body))
        self.packets += 1

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._owned and self._failed:
            # The buffer still holds the block that did not fit: closing tries it again
            # and fails again (or writes part of it). The file is then cut back to its
            # whole blocks, through its own descriptor (never by name: a path may have
            # been replaced meanwhile), so it reads to its end.
            with contextlib.suppress(OSError):
                descriptor = os.dup(self._stream.fileno())
                try:
                    with contextlib.suppress(OSError):
                        self._stream.close()
                    os.ftruncate(descriptor, self._written)
                finally:
                    os.close(descriptor)
            with contextlib.suppress(OSError):
                self._stream.close()
        elif self._owned:
            self._stream.close()
        else:
            with contextlib.suppress(OSError, ValueError):
                self._stream.flush()

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def read_all(source: str | os.PathLike[str] | IO[bytes] | bytes) -> list[CaptureRecord]:
    """Every record of a (small) capture, e.g. in tests; ``bytes`` are read as a file."""
    if isinstance(source, bytes):
        return list(read_capture(io.BytesIO(source)))
    return list(read_capture(source))
