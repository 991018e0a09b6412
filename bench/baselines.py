"""The contenders tunstack is measured against, written for speed, not for safety.

* ``minimal_v4``/``minimal_v6``: a hand-written echo responder that validates nothing,
  swaps the addresses, changes the type and patches the ICMP checksum incrementally
  (RFC 1624 eqn. 3): the floor of per-packet work in Python, and the answer used by the
  raw TUN echo loop of the live benchmark.
* ``fullsum_v4``/``fullsum_v6``: the same, recomputing both checksums over the whole
  header and message with ``int.from_bytes`` (RFC 1071 via one big integer).
* ``dpkt_v4``/``dpkt_v6``: parse with dpkt, edit the fields, let dpkt rebuild.
* ``scapy_v4``/``scapy_v6``: the same with scapy, when it is installed (``bench`` extra).
* ``bare_verify_v4``: the least a stack must do before dropping a packet: verify the
  header checksum, compare the destination, verify the ICMP checksum.

Each takes one request and returns one reply; ``bench.packets.echo_reply_problem`` is
run on each before timing, so none can win by answering wrongly.
"""

from __future__ import annotations

from collections.abc import Callable

import dpkt

from bench.packets import HOST_V4

__all__ = [
    "minimal_v4",
    "minimal_v6",
    "fullsum_v4",
    "fullsum_v6",
    "dpkt_v4",
    "dpkt_v6",
    "scapy_responders",
    "bare_verify_v4",
]

Responder = Callable[[bytes], bytes]


def minimal_v4(packet: bytes) -> bytes:
    """Swap the addresses and turn type 8 into 0, patching the ICMP checksum by RFC 1624
    (eqn. 3 with m - m' = 0x0800: HC' = HC + 0x0800 with end-around carry). Swapping the
    addresses leaves the header sum alone, and TTL is left as the request had it."""
    ihl = (packet[0] & 0x0F) << 2
    total = (packet[ihl + 2] << 8 | packet[ihl + 3]) + 0x0800
    total = (total & 0xFFFF) + (total >> 16)
    return b"".join((packet[:12], packet[16:20], packet[12:16], packet[20:ihl], b"\x00",
                     packet[ihl + 1:ihl + 2], total.to_bytes(2, "big"), packet[ihl + 4:]))


def minimal_v6(packet: bytes) -> bytes:
    """Swap the addresses and turn type 128 into 129 (RFC 4443 §4.2): the pseudo-header
    sum is unchanged by the swap, so the checksum moves by m - m' = -0x0100, i.e. plus
    0xFEFF with end-around carry (RFC 1624). The hop limit is left as it was."""
    total = (packet[42] << 8 | packet[43]) + 0xFEFF
    total = (total & 0xFFFF) + (total >> 16)
    return b"".join((packet[:8], packet[24:40], packet[8:24], b"\x81", packet[41:42],
                     total.to_bytes(2, "big"), packet[44:]))


def _fold_complement(total: int) -> bytes:
    """RFC 1071 over a buffer read as one integer: the sum of 16-bit words modulo 0xFFFF."""
    return (~(total % 0xFFFF) & 0xFFFF).to_bytes(2, "big")


def fullsum_v4(packet: bytes) -> bytes:
    """Build the reply, then compute both checksums from scratch."""
    ihl = (packet[0] & 0x0F) << 2
    header = b"".join((packet[:8], b"\x40", packet[9:10], b"\x00\x00", packet[16:20],
                       packet[12:16], packet[20:ihl]))
    header = header[:10] + _fold_complement(int.from_bytes(header, "big")) + header[12:]
    message = b"".join((b"\x00", packet[ihl + 1:ihl + 2], b"\x00\x00", packet[ihl + 4:]))
    total = int.from_bytes(message, "big") << (8 * (len(message) & 1))
    return header + message[:2] + _fold_complement(total) + message[4:]


def fullsum_v6(packet: bytes) -> bytes:
    """Build the reply, then compute the ICMPv6 checksum over pseudo-header and message."""
    message = b"".join((b"\x81", packet[41:42], b"\x00\x00", packet[44:]))
    length = len(message)
    total = (int.from_bytes(packet[8:40], "big") + 58 + length
             + (int.from_bytes(message, "big") << (8 * (length & 1))))
    return b"".join((packet[:7], b"\x40", packet[24:40], packet[8:24], message[:2],
                     _fold_complement(total), message[4:]))


def dpkt_v4(packet: bytes) -> bytes:
    """Parse with dpkt, turn the request around, and let dpkt rebuild (it recomputes a
    checksum only when the field is 0)."""
    ip = dpkt.ip.IP(packet)
    icmp = ip.data
    icmp.type = dpkt.icmp.ICMP_ECHOREPLY
    icmp.sum = 0
    ip.src, ip.dst = ip.dst, ip.src
    ip.ttl = 64
    ip.sum = 0
    return bytes(ip)


def dpkt_v6(packet: bytes) -> bytes:
    ip = dpkt.ip6.IP6(packet)
    icmp = ip.data
    icmp.type = dpkt.icmp6.ICMP6_ECHO_REPLY
    icmp.sum = 0
    ip.src, ip.dst = ip.dst, ip.src
    ip.hlim = 64
    return bytes(ip)


def scapy_responders() -> tuple[Responder, Responder] | str:
    """The scapy responders (IPv4, IPv6), or why they are not available."""
    try:
        from scapy.layers.inet import ICMP, IP
        from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, IPv6
    except ImportError:
        return "scapy is not installed (pip install -e '.[bench]')"

    def scapy_v4(packet: bytes) -> bytes:
        request = IP(packet)
        echo = request[ICMP]
        reply = IP(src=request.dst, dst=request.src, ttl=64, tos=request.tos) / ICMP(
            type=0, id=echo.id, seq=echo.seq) / bytes(echo.payload)
        return bytes(reply)

    def scapy_v6(packet: bytes) -> bytes:
        request = IPv6(packet)
        echo = request[ICMPv6EchoRequest]
        reply = IPv6(src=request.dst, dst=request.src, hlim=64) / ICMPv6EchoReply(
            id=echo.id, seq=echo.seq, data=echo.data)
        return bytes(reply)

    return scapy_v4, scapy_v6


def bare_verify_v4(packet: bytes, ours: bytes = HOST_V4) -> bool:
    """True when the packet would be answered: header checksum (RFC 1071, read as one
    integer), destination, ICMP checksum; stops at the first failure, as a drop does."""
    ihl = (packet[0] & 0x0F) << 2
    if int.from_bytes(packet[:ihl], "big") % 0xFFFF:
        return False
    if packet[16:20] != ours:
        return False
    message = packet[ihl:]
    return not (int.from_bytes(message, "big") << (8 * (len(message) & 1))) % 0xFFFF
