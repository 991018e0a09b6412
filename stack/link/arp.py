"""ARP for IPv4 over Ethernet (RFC 826): the 28-byte packet and its codec."""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = ["ARP_LENGTH", "OP_REQUEST", "OP_REPLY", "ArpPacket", "parse", "emit"]

HTYPE_ETHERNET = 1
PTYPE_IPV4 = 0x0800
OP_REQUEST = 1
OP_REPLY = 2
ARP_LENGTH = 28

_ARP = struct.Struct("!HHBBH6s4s6s4s")


@dataclass(frozen=True)
class ArpPacket:
    operation: int
    sender_mac: bytes
    sender_ip: bytes
    target_mac: bytes
    target_ip: bytes


def parse(payload: bytes) -> ArpPacket | str:
    """The packet, or the drop reason: ``arp.truncated`` or ``arp.unsupported`` (any
    hardware/protocol pair but Ethernet/IPv4, which is all RFC 826 needs here)."""
    if len(payload) < ARP_LENGTH:
        return "arp.truncated"
    htype, ptype, hlen, plen, operation, sha, spa, tha, tpa = _ARP.unpack_from(payload)
    if htype != HTYPE_ETHERNET or ptype != PTYPE_IPV4 or hlen != 6 or plen != 4:
        return "arp.unsupported"
    return ArpPacket(operation, sha, spa, tha, tpa)


def emit(packet: ArpPacket) -> bytes:
    return _ARP.pack(HTYPE_ETHERNET, PTYPE_IPV4, 6, 4, packet.operation, packet.sender_mac,
                     packet.sender_ip, packet.target_mac, packet.target_ip)
