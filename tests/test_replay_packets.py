"""Packet and capture builders shared by the capture, inspect and replay tests.

Packets are built with dpkt, independently of tunstack's own codecs, so the tests check
our parsers against a second implementation. Capture files are assembled by hand with
struct, so every link type and option can be crafted, including ones no writer emits.
"""

from __future__ import annotations

import socket
import struct

import dpkt

from stack.wire.checksum import checksum


def v4(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET, text)


def v6(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6, text)


def ipv4_packet(src: str, dst: str, protocol: int, payload: bytes, *, ttl: int = 64,
                ident: int = 0, df: bool = False, tos: int = 0, options: bytes = b"") -> bytes:
    """An IPv4 packet with a correct header checksum (the payload is taken as is)."""
    header_length = 20 + len(options)
    header = bytearray(struct.pack("!BBHHHBBH4s4s", 0x40 | header_length // 4, tos,
                                   header_length + len(payload), ident,
                                   0x4000 if df else 0, ttl, protocol, 0, v4(src), v4(dst)))
    header += options
    header[10:12] = checksum(bytes(header)).to_bytes(2, "big")
    return bytes(header) + payload


def icmp_echo(src: str, dst: str, ident: int, seq: int, data: bytes = b"abcdefgh", *,
              reply: bool = False, ttl: int = 64, ip_id: int = 0, df: bool = False) -> bytes:
    message = dpkt.icmp.ICMP(type=0 if reply else 8, code=0,
                             data=dpkt.icmp.ICMP.Echo(id=ident, seq=seq, data=data))
    return ipv4_packet(src, dst, 1, bytes(message), ttl=ttl, ident=ip_id, df=df)


def udp_v4(src: str, dst: str, sport: int, dport: int, data: bytes = b"hello") -> bytes:
    ip = dpkt.ip.IP(src=v4(src), dst=v4(dst), p=17, ttl=64,
                    data=dpkt.udp.UDP(sport=sport, dport=dport, data=data))
    ip.data.ulen = 8 + len(data)
    ip.len = 20 + 8 + len(data)
    # dpkt fills the UDP checksum only through IP.__bytes__ when sum is 0
    return bytes(ip)


def tcp_v4(src: str, dst: str, sport: int, dport: int, flags: int = dpkt.tcp.TH_SYN,
           seq: int = 1000) -> bytes:
    ip = dpkt.ip.IP(src=v4(src), dst=v4(dst), p=6, ttl=64,
                    data=dpkt.tcp.TCP(sport=sport, dport=dport, flags=flags, seq=seq, win=512))
    ip.len = 40
    return bytes(ip)


def icmp6_echo(src: str, dst: str, ident: int, seq: int, data: bytes = b"abcdefgh", *,
               reply: bool = False, hop_limit: int = 64, flow: int = 0) -> bytes:
    message = dpkt.icmp6.ICMP6(type=129 if reply else 128, code=0,
                               data=dpkt.icmp6.ICMP6.Echo(id=ident, seq=seq, data=data))
    ip = dpkt.ip6.IP6(src=v6(src), dst=v6(dst), nxt=58, hlim=hop_limit, data=message)
    ip.flow = flow
    ip.plen = len(bytes(message))
    return bytes(ip)


def icmp6_message(src: str, dst: str, kind: int, code: int, body: bytes,
                  hop_limit: int = 255) -> bytes:
    """An ICMPv6 message whose bytes after the checksum are ``body``, checksum filled."""
    length = 4 + len(body)
    pseudo = int.from_bytes(v6(src) + v6(dst), "big") + 58 + length
    total = checksum(bytes([kind, code, 0, 0]) + body, pseudo)
    message = bytes([kind, code]) + total.to_bytes(2, "big") + body
    header = struct.pack("!IHBB16s16s", 0x60000000, length, 58, hop_limit, v6(src), v6(dst))
    return header + message


# -- capture files ----------------------------------------------------------------------
def pcap_file(frames: list[tuple[float, bytes]], linktype: int = 101, *, nano: bool = False,
              big_endian: bool = False) -> bytes:
    order = ">" if big_endian else "<"
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 262144, linktype)
    for timestamp, frame in frames:
        seconds = int(timestamp)
        fraction = round((timestamp - seconds) * (1e9 if nano else 1e6))
        out += struct.pack(order + "IIII", seconds, fraction, len(frame), len(frame)) + frame
    return out


def _option(code: int, value: bytes, order: str = "<") -> bytes:
    return struct.pack(order + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def _block(kind: int, body: bytes, order: str = "<") -> bytes:
    body += b"\0" * (-len(body) % 4)
    return struct.pack(order + "II", kind, len(body) + 12) + body + struct.pack(
        order + "I", len(body) + 12)


def pcapng_shb(comment: str | None = None, order: str = "<") -> bytes:
    options = _option(1, comment.encode(), order) + _option(0, b"", order) if comment else b""
    return _block(0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1) + options, order)


def pcapng_idb(linktype: int, tsresol: int | None = None, order: str = "<") -> bytes:
    options = (_option(9, bytes([tsresol]), order) + _option(0, b"", order)
               if tsresol is not None else b"")
    return _block(1, struct.pack(order + "HHI", linktype, 0, 0) + options, order)


def pcapng_epb(frame: bytes, ticks: int, interface: int = 0, flags: int | None = None,
               order: str = "<") -> bytes:
    body = struct.pack(order + "IIIII", interface, ticks >> 32, ticks & 0xFFFFFFFF,
                       len(frame), len(frame)) + frame + b"\0" * (-len(frame) % 4)
    if flags is not None:
        body += _option(2, struct.pack(order + "I", flags), order) + _option(0, b"", order)
    return _block(6, body, order)


def pcapng_spb(frame: bytes, order: str = "<") -> bytes:
    return _block(3, struct.pack(order + "I", len(frame)) + frame, order)


# -- link headers -----------------------------------------------------------------------
def ethernet(packet: bytes, ethertype: int | None = None, vlan: int | None = None) -> bytes:
    if ethertype is None:
        ethertype = 0x0800 if packet[0] >> 4 == 4 else 0x86DD
    tag = struct.pack("!HH", 0x8100, vlan) if vlan is not None else b""
    return b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + tag + struct.pack("!H", ethertype) + packet


def sll(packet: bytes, packet_type: int) -> bytes:
    ethertype = 0x0800 if packet[0] >> 4 == 4 else 0x86DD
    return struct.pack("!HHH8sH", packet_type, 0xFFFE, 0, b"", ethertype) + packet


def sll2(packet: bytes, packet_type: int) -> bytes:
    ethertype = 0x0800 if packet[0] >> 4 == 4 else 0x86DD
    return struct.pack("!HHIHBB8s", ethertype, 0, 7, 0xFFFE, packet_type, 0, b"") + packet


def null_header(packet: bytes, family: int, big_endian: bool = False) -> bytes:
    return family.to_bytes(4, "big" if big_endian else "little") + packet
