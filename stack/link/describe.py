"""One-line summaries of Ethernet frames, for ``stack-live --tap``: ARP in tcpdump's
words, IP packets as ``stack.wire.inspect.describe`` tells them."""

from __future__ import annotations

import ipaddress

from stack.link import arp
from stack.link.ethernet import (
    ETHERTYPE_ARP,
    ETHERTYPE_IPV4,
    ETHERTYPE_IPV6,
    HEADER_LENGTH,
    format_mac,
)
from stack.wire.inspect import describe

__all__ = ["describe_frame"]


def describe_frame(frame: bytes) -> str:
    """``02:aa:… → ff:ff:… ARP who-has 172.16.0.2 tell 172.16.0.1 42 B`` and the like."""
    size = len(frame)
    if size < HEADER_LENGTH:
        return f"truncated Ethernet frame {size} B"
    head = f"{format_mac(frame[6:12])} → {format_mac(frame[0:6])}"
    ethertype = (frame[12] << 8) | frame[13]
    payload = frame[HEADER_LENGTH:]
    if ethertype == ETHERTYPE_ARP:
        parsed = arp.parse(payload)
        if isinstance(parsed, str):
            return f"{head} ARP ({parsed}) {size} B"
        sender = ipaddress.IPv4Address(parsed.sender_ip)
        target = ipaddress.IPv4Address(parsed.target_ip)
        if parsed.operation == arp.OP_REQUEST:
            return f"{head} ARP who-has {target} tell {sender} {size} B"
        if parsed.operation == arp.OP_REPLY:
            return f"{head} ARP reply {sender} is-at {format_mac(parsed.sender_mac)} {size} B"
        return f"{head} ARP operation {parsed.operation} {size} B"
    if ethertype in (ETHERTYPE_IPV4, ETHERTYPE_IPV6):
        return f"{head} {describe(payload)}"
    return f"{head} ethertype 0x{ethertype:04x} {size} B"
