"""Ethernet II framing (IEEE 802.3 clause 3.2.6 with a type field, RFC 894 for IPv4 and
RFC 2464 for IPv6): a 14-byte header of destination, source and EtherType."""

from __future__ import annotations

import re
import struct

__all__ = [
    "ETHERTYPE_IPV4", "ETHERTYPE_ARP", "ETHERTYPE_IPV6", "ETHERTYPE_VLAN", "ETHERTYPE_QINQ",
    "HEADER_LENGTH", "BROADCAST", "EthernetError", "parse_mac", "format_mac",
    "is_group", "emit", "ipv4_multicast_mac", "ipv6_multicast_mac",
]

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_ARP = 0x0806
ETHERTYPE_IPV6 = 0x86DD
ETHERTYPE_VLAN = 0x8100
ETHERTYPE_QINQ = 0x88A8
HEADER_LENGTH = 14
BROADCAST = b"\xff" * 6

_HEADER = struct.Struct("!6s6sH")
_MAC_TEXT = re.compile(r"^[0-9a-fA-F]{1,2}([:-][0-9a-fA-F]{1,2}){5}$")


class EthernetError(ValueError):
    """A MAC address in text that is not one."""


def parse_mac(text: str) -> bytes:
    """``"02:00:00:00:00:02"`` (or with dashes) to 6 bytes; a group (multicast or
    broadcast) address is refused: a host's own address is always individual."""
    if not _MAC_TEXT.match(text.strip()):
        raise EthernetError(f"bad MAC address {text!r}: expected six hex bytes, "
                            "e.g. 02:00:00:00:00:02")
    mac = bytes(int(part, 16) for part in re.split("[:-]", text.strip()))
    if is_group(mac):
        raise EthernetError(f"bad MAC address {text!r}: a multicast address cannot be "
                            "a host's (the lowest bit of the first byte must be 0)")
    if mac == bytes(6):
        raise EthernetError(f"bad MAC address {text!r}: all zeros")
    return mac


def format_mac(mac: bytes) -> str:
    return ":".join(f"{byte:02x}" for byte in mac)


def is_group(mac: bytes) -> bool:
    """The I/G bit (IEEE 802 §8.2): set for multicast and broadcast addresses."""
    return bool(mac[0] & 1)


def emit(destination: bytes, source: bytes, ethertype: int, payload: bytes) -> bytes:
    """One frame. No padding to 60 bytes: a TAP device takes short frames, and on real
    Ethernet the driver pads (Linux leaves it to the NIC as well)."""
    return _HEADER.pack(destination, source, ethertype) + payload


def ipv4_multicast_mac(address: bytes) -> bytes:
    """RFC 1112 §6.4: 01:00:5e followed by the low 23 bits of the group address."""
    return b"\x01\x00\x5e" + bytes([address[1] & 0x7F]) + address[2:4]


def ipv6_multicast_mac(address: bytes) -> bytes:
    """RFC 2464 §7: 33:33 followed by the last four bytes of the group address."""
    return b"\x33\x33" + address[12:16]
