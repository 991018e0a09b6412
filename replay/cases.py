"""Who the host is in a capture: its configuration, its addresses, each packet's direction.

A case (one pcap file, or one pcapng section) gets a fresh host. Its HostConfig comes,
in order of precedence, from:

1. ``--addr`` on the command line (repeatable; IPv4 and IPv6; a bare address gets the
   prefix length /24 or /64), which replaces the addresses of
2. the section metadata: ``config`` or ``host`` (a dict of HostConfig fields, as
   tunstack's own recordings write it), else top-level ``ipv4``/``ipv6``, else
   ``addresses``.

A case with neither is an error. Direction, when the capture does not say (pcapng
``epb_flags``, SLL packet type): a packet from one of the host's addresses to
another address is outbound; a packet to one of its addresses or to a broadcast/multicast
group it listens to is inbound; anything else is foreign and skipped.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any

from stack.capture import DIRECTION_INBOUND, DIRECTION_OUTBOUND, DIRECTION_UNKNOWN
from stack.host.config import ConfigError, HostConfig

__all__ = [
    "SetupError",
    "DIRECTION_FOREIGN",
    "build_config",
    "case_name",
    "DirectionClassifier",
    "parse_addresses",
]

DIRECTION_FOREIGN = -1  # neither to nor from the host: skipped


class SetupError(Exception):
    """A case cannot be set up (no addresses, bad config); one line for the user."""


def parse_addresses(texts: list[str] | tuple[str, ...]) -> tuple[str | None, tuple[str, ...]]:
    """(the IPv4 interface or None, the IPv6 interfaces) from address strings; a bare
    address gets /24 (IPv4) or /64 (IPv6). Raises SetupError naming a bad one."""
    ipv4: str | None = None
    ipv6: list[str] = []
    for text in texts:
        try:
            iface = ipaddress.ip_interface(text.strip())
        except ValueError:
            raise SetupError(f"bad address {text!r}: expected e.g. 172.16.0.2/24 or "
                             "fd00:16::2/64") from None
        if "/" not in text:
            iface = ipaddress.ip_interface(f"{iface.ip}/{24 if iface.version == 4 else 64}")
        if iface.version == 4:
            if ipv4 is not None:
                raise SetupError(f"two IPv4 addresses ({ipv4}, {iface}): a host has one")
            ipv4 = str(iface)
        else:
            ipv6.append(str(iface))
    return ipv4, tuple(ipv6)


def build_config(metadata: dict[str, Any] | None, cli_addresses: tuple[str, ...]) -> HostConfig:
    """The HostConfig of a case (see the module docstring)."""
    fields: dict[str, Any] = {}
    have_addresses = False
    if metadata:
        # "config" (stack-live, replay --write) or "host" (stack-record): HostConfig fields
        key = "config" if "config" in metadata else "host"
        config = metadata.get(key)
        if config is not None:
            if not isinstance(config, dict):
                raise SetupError(f"section metadata: {key} is not a JSON object")
            fields.update(config)
            have_addresses = True  # HostConfig's defaults are addresses too
        elif "ipv4" in metadata or "ipv6" in metadata:
            fields["ipv4"] = metadata.get("ipv4")
            fields["ipv6"] = metadata.get("ipv6") or ()
            have_addresses = True
        elif metadata.get("addresses"):
            addresses = metadata["addresses"]
            if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
                raise SetupError("section metadata: addresses is not a list of strings")
            fields["ipv4"], fields["ipv6"] = parse_addresses(addresses)
            have_addresses = True
    if cli_addresses:
        fields["ipv4"], fields["ipv6"] = parse_addresses(cli_addresses)
        have_addresses = True
    if not have_addresses:
        raise SetupError("no host addresses: give --addr (e.g. --addr 172.16.0.2/24) or "
                         "replay a recording whose section metadata names them")
    try:
        return HostConfig.from_json(fields)
    except (ConfigError, ValueError) as exc:
        raise SetupError(f"bad host config: {exc}") from None


def case_name(path: str, section: int, metadata: dict[str, Any] | None) -> str:
    """The case's name: the metadata's ``case`` (or ``name``), else the file name, with
    ``#N`` for sections after the first."""
    if metadata:
        for key in ("case", "name"):
            if isinstance(metadata.get(key), str) and metadata[key]:
                return str(metadata[key])
    base = os.path.basename(path)
    return base if section == 0 else f"{base}#{section}"


class DirectionClassifier:
    """Direction by address, for packets whose capture does not state it."""

    def __init__(self, config: HostConfig) -> None:
        ours: set[bytes] = set()
        groups: set[bytes] = set()
        iface4 = config.ipv4_interface
        if iface4 is not None:
            ours.add(iface4.ip.packed)
            groups.add(b"\xff\xff\xff\xff")
            groups.add(ipaddress.IPv4Address("224.0.0.1").packed)  # all-hosts (RFC 1112)
            if iface4.network.prefixlen < 31:
                groups.add(iface4.network.broadcast_address.packed)
        for iface6 in config.ipv6_interfaces:
            ours.add(iface6.ip.packed)
            # solicited-node multicast (RFC 4291 §2.7.1): ff02::1:ff + the low 24 bits
            groups.add(bytes.fromhex("ff0200000000000000000001ff") + iface6.ip.packed[13:])
        if config.ipv6:
            groups.add(ipaddress.IPv6Address("ff02::1").packed)  # all-nodes
            groups.add(ipaddress.IPv6Address("ff01::1").packed)
        self.ours = frozenset(ours)
        self.listened = frozenset(ours | groups)

    def classify(self, packet: bytes, stated: int) -> int:
        if stated != DIRECTION_UNKNOWN:
            return stated
        version = packet[0] >> 4 if packet else 0
        if version == 4 and len(packet) >= 20:
            src, dst = packet[12:16], packet[16:20]
        elif version == 6 and len(packet) >= 40:
            src, dst = packet[8:24], packet[24:40]
        else:
            return DIRECTION_FOREIGN
        if src in self.ours and dst not in self.ours:
            return DIRECTION_OUTBOUND  # also to a group: our own multicast is outbound
        if dst in self.listened:
            return DIRECTION_INBOUND
        return DIRECTION_FOREIGN
