"""Closed-port UDP and TCP answers, shared by the IPv4 and IPv6 layers.

The host runs no sockets: every TCP port is closed, and every UDP port is closed except
the RFC 862 echo service on ``HostConfig.udp_echo_ports``. These functions take the
transport segment (the IP payload, already trimmed to the IP length) and the sum of the
two IP addresses, and say what the host answers. They know nothing of IP headers, so the
IP layer builds the packet around what they return (TTL, TOS, options, ICMP errors).

API
---
``address_sum`` is ``int.from_bytes(src + dst, "big")`` over the inbound packet's source
and destination addresses (4 bytes each for IPv4, 16 for IPv6). A sum does not depend on
the order of its terms, so the same value serves the reply's pseudo-header
(stack/wire/checksum.py).

``udp_input(segment, address_sum, checksum_required, echo_ports, *, zero_length_is_jumbo=False)``
returns one of
  * ``bytes``: the UDP echo reply segment (ports swapped, data kept), to send back to
    the sender from the address it was sent to;
  * ``PORT_UNREACHABLE`` (the string ``"udp.port_unreachable"``): nothing listens; the IP
    layer sends ICMP port unreachable (type 3 code 3) or ICMPv6 (type 1 code 4) if its
    own rules allow (not for broadcast/multicast destinations, rate limits), else drops;
  * a drop reason: ``udp.truncated`` (fewer than 8 bytes), ``udp.bad_length`` (length
    field below 8 or beyond the data), ``udp.no_checksum`` (zero checksum where one is
    required: IPv6, RFC 8200 §8.1), ``udp.bad_checksum``, ``udp.echo_from_port_zero``.
  ``checksum_required`` is False for IPv4 (a zero checksum means none, RFC 768) and True
  for IPv6. ``zero_length_is_jumbo`` is for IPv6: Linux's ``__udp6_lib_rcv`` reads a
  length field of 0 as "the whole payload" (RFC 2675 §4).

``tcp_input(segment, address_sum, *, refuse_ao=False)`` returns the RST segment to send
(bytes), or a drop reason: ``tcp.truncated``, ``tcp.bad_offset``, ``tcp.bad_checksum``,
``tcp.rst_ignored``, and for signed or unparsable options (Linux's
``tcp_parse_auth_options``) ``tcp.md5_signed``, ``tcp.bad_md5_option``,
``tcp.bad_option_length``, ``tcp.bad_ao_option`` and, with ``refuse_ao`` (IPv4),
``tcp.ao_signed``.

Both follow Linux's order of checks (``__udp4_lib_rcv``, ``tcp_v4_rcv``): a segment with a
bad checksum is dropped silently, never answered.
"""

from __future__ import annotations

from collections.abc import Container

from stack.wire import tcp
from stack.wire.checksum import checksum, ones_sum

__all__ = ["PORT_UNREACHABLE", "udp_input", "udplite_input", "tcp_input"]

PORT_UNREACHABLE = "udp.port_unreachable"

_UDP = 17
_TCP = 6
_UDPLITE = 136


def udp_input(segment: bytes, address_sum: int, checksum_required: bool,
              echo_ports: Container[int], *, zero_length_is_jumbo: bool = False) -> bytes | str:
    """What the host answers to one UDP segment; see the module docstring."""
    size = len(segment)
    if size < 8:
        return "udp.truncated"
    length = (segment[4] << 8) | segment[5]
    if length == 0 and zero_length_is_jumbo:
        length = size
    # __udp4_lib_rcv: a length beyond the data or below the header is a short packet;
    # bytes beyond the length are trimmed (pskb_trim_rcsum) and not checksummed.
    if length > size or length < 8:
        return "udp.bad_length"
    if length < size:
        segment = segment[:length]
    stored = (segment[6] << 8) | segment[7]
    if stored == 0:
        if checksum_required:  # udp6_csum_init: a zero checksum is invalid over IPv6
            return "udp.no_checksum"
    elif ones_sum(segment, address_sum + _UDP + length) != 0xFFFF:
        return "udp.bad_checksum"
    dst_port = (segment[2] << 8) | segment[3]
    if dst_port not in echo_ports:
        return PORT_UNREACHABLE
    if segment[0] == 0 and segment[1] == 0:
        return "udp.echo_from_port_zero"  # port 0 is no port to answer to (RFC 768)
    # RFC 862: send the data back. Swapping the ports leaves every pseudo-header and
    # header word sum unchanged, so a verified checksum stays right as it is.
    if stored:
        return segment[2:4] + segment[0:2] + segment[4:]
    reply = segment[2:4] + segment[0:2] + segment[4:6] + b"\x00\x00" + segment[8:]
    value = checksum(reply, address_sum + _UDP + length) or 0xFFFF  # RFC 768: 0 -> 0xFFFF
    return reply[:6] + value.to_bytes(2, "big") + reply[8:]


def udplite_input(segment: bytes, address_sum: int) -> str:
    """What the host answers to one UDP-Lite datagram (RFC 3828): no socket listens, so
    ``PORT_UNREACHABLE`` when it is valid, else the drop reason. Linux's
    ``udplite_checksum_init``: the checksum is mandatory (§3.1), the length field is the
    checksum coverage, 0 meaning the whole datagram, and a coverage below the header or
    beyond the datagram is discarded silently; the checksum covers the pseudo-header
    (with the datagram's own length, §3.2) and the covered bytes."""
    size = len(segment)
    if size < 8:
        return "udplite.truncated"
    if segment[6] == 0 and segment[7] == 0:
        return "udplite.no_checksum"
    coverage = (segment[4] << 8) | segment[5]
    if coverage == 0:
        coverage = size
    elif coverage < 8 or coverage > size:
        return "udplite.bad_coverage"
    if ones_sum(segment[:coverage], address_sum + _UDPLITE + size) != 0xFFFF:
        return "udplite.bad_checksum"
    return PORT_UNREACHABLE


def _authentication_option(segment: bytes, header_len: int, refuse_ao: bool) -> str | None:
    """Why Linux sends no reset for this segment's options, or None: its
    ``tcp_parse_auth_options`` (from ``tcp_v4_send_reset``/``tcp_v6_send_reset``) walks
    the options while at least 18 bytes (an MD5 option) remain. A signature, MD5 (RFC
    2385 §2.0) or, over IPv4 only (``refuse_ao``), TCP-AO (RFC 5925 §7.7: kind 29, longer
    than its 4-byte header) means no reset, as no key exists to sign one (the recorded
    kernel builds no TCP-AO: ``tcp_v4_ao_sign_reset`` refuses, while
    ``tcp_v6_send_reset`` looks at the AO header only when TCP-AO is built, so IPv6
    resets); a malformed length met on the way fails the parse, which also suppresses
    the reset."""
    index = 20
    remaining = header_len - 20
    while remaining >= tcp.OPT_MD5_LEN:
        kind = segment[index]
        if kind == tcp.OPT_END:
            return None
        if kind == tcp.OPT_NOP:
            index += 1
            remaining -= 1
            continue
        size = segment[index + 1]
        if size < 2 or size > remaining:
            return "tcp.bad_option_length"
        if kind == tcp.OPT_MD5:
            return "tcp.md5_signed" if size == tcp.OPT_MD5_LEN else "tcp.bad_md5_option"
        if kind == tcp.OPT_AO:
            if size <= tcp.OPT_AO_HEADER_LEN:
                return "tcp.bad_ao_option"
            if refuse_ao:
                return "tcp.ao_signed"
        index += size
        remaining -= size
    return None


def tcp_input(segment: bytes, address_sum: int, *, refuse_ao: bool = False) -> bytes | str:
    """The RST Linux sends for a segment to a closed port (``tcp_v4_send_reset``,
    ``tcp_v6_send_reset``; RFC 9293 §3.10.7.1), or a drop reason."""
    size = len(segment)
    if size < 20:
        return "tcp.truncated"
    header_len = (segment[12] >> 4) * 4
    if header_len < 20:
        return "tcp.bad_offset"
    if header_len > size:
        return "tcp.truncated"
    if ones_sum(segment, address_sum + _TCP + size) != 0xFFFF:
        return "tcp.bad_checksum"
    flags = segment[13]
    if flags & tcp.RST:  # RFC 9293 §3.10.7.1: a reset is never answered
        return "tcp.rst_ignored"
    if header_len >= 20 + tcp.OPT_MD5_LEN:
        refused = _authentication_option(segment, header_len, refuse_ao)
        if refused is not None:
            return refused
    if flags & tcp.ACK:
        # <SEQ=SEG.ACK><CTL=RST>
        header = segment[2:4] + segment[0:2] + segment[8:12] + b"\x00\x00\x00\x00" \
            + b"\x50\x04\x00\x00"
    else:
        # <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; SYN and FIN each count one.
        sequence = int.from_bytes(segment[4:8], "big")
        acknowledged = (sequence + size - header_len + (flags & tcp.SYN) // tcp.SYN
                        + (flags & tcp.FIN)) & 0xFFFFFFFF
        header = segment[2:4] + segment[0:2] + b"\x00\x00\x00\x00" \
            + acknowledged.to_bytes(4, "big") + b"\x50\x14\x00\x00"
    # Window 0, urgent pointer 0, no options (Linux adds none unless MD5/AO is set up).
    value = checksum(header, address_sum + _TCP + 20)
    return header + value.to_bytes(2, "big") + b"\x00\x00"
