"""Host configuration: addresses, sizes, caps and policy switches.

Every default is Linux's (sysctl names in the comments), so a fresh ``HostConfig()``
answers as a freshly booted Linux host would.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass, field
from typing import Any

__all__ = ["HostConfig", "ConfigError"]


class ConfigError(ValueError):
    """A configuration value that cannot describe a host (bad address, MTU, cap)."""


@dataclass(frozen=True)
class HostConfig:
    # Addresses with prefix length: "172.16.0.2/24"; None disables IPv4.
    ipv4: str | None = "172.16.0.2/24"
    # IPv6 addresses with prefix length; a link-local one is usual beside a global one.
    ipv6: tuple[str, ...] | list[str] = ("fd00:16::2/64", "fe80::2/64")
    mtu: int = 1500
    # TAP mode: our Ethernet address (6 bytes). When set, Neighbour Advertisements carry
    # the Target Link-Layer Address option (RFC 4861 §7.2.4); on TUN there is none.
    link_address: bytes | None = None
    ttl: int = 64  # net.ipv4.ip_default_ttl
    hop_limit: int = 64  # net.ipv6.conf.*.hop_limit

    # ICMP policy
    echo_ignore_broadcasts: bool = True  # net.ipv4.icmp_echo_ignore_broadcasts
    echo_ignore_all: bool = False  # net.ipv4.icmp_echo_ignore_all
    echo_ignore_all_v6: bool = False  # net.ipv6.icmp.echo_ignore_all
    echo_ignore_multicast_v6: bool = False  # net.ipv6.icmp.echo_ignore_multicast
    accept_source_route: bool = False  # net.ipv4.conf.*.accept_source_route
    timestamp_replies: bool = True  # Linux answers ICMP Timestamp (type 13)

    # ICMP error rate limits (per peer: token bucket, burst 6 as Linux XRLIM_BURST_FACTOR)
    icmp_ratelimit_ms: int = 1000  # net.ipv4.icmp_ratelimit
    icmp_ratemask: int = 0x1818  # net.ipv4.icmp_ratemask: unreach, quench, time exceeded, param
    icmpv6_ratelimit_ms: int = 100  # net.ipv6.icmp.ratelimit (100 on Linux 6.18, recorded)
    # net.ipv6.icmp.ratemask default "0-1,3-127": every error but Packet Too Big
    icmpv6_ratemask: frozenset[int] = field(
        default_factory=lambda: frozenset(t for t in range(128) if t != 2)
    )
    icmp_msgs_per_sec: int = 1000  # net.ipv4.icmp_msgs_per_sec (global, shared with IPv6)
    icmp_msgs_burst: int = 50  # net.ipv4.icmp_msgs_burst
    ratelimit_peers: int = 4096  # cap on per-peer buckets; oldest evicted first

    # Reassembly (net.ipv4.ipfrag_* / net.ipv6.ip6frag_*)
    frag_mem_limit: int = 4 * 1024 * 1024  # ipfrag_high_thresh
    frag_timeout: float = 30.0  # ipfrag_time
    frag6_timeout: float = 60.0  # ip6frag_time
    frag_max_datagrams: int = 1024
    frag_max_fragments: int = 1024

    # Path MTU cache (RFC 1191 / RFC 8201)
    pmtu_cache_size: int = 1024
    pmtu_expires: float = 600.0  # net.ipv4.route.mtu_expires
    min_pmtu: int = 552  # net.ipv4.route.min_pmtu

    # UDP echo service (RFC 862), off by default
    udp_echo_ports: frozenset[int] | tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not 68 <= self.mtu <= 65535:
            raise ConfigError(f"mtu {self.mtu} outside 68..65535")
        if self.ipv6 and self.mtu < 1280:
            raise ConfigError(f"mtu {self.mtu} below IPv6's minimum of 1280 (RFC 8200 §5)")
        if not 1 <= self.ttl <= 255 or not 1 <= self.hop_limit <= 255:
            raise ConfigError("ttl and hop_limit must be 1..255")
        for name in ("frag_mem_limit", "frag_max_datagrams", "frag_max_fragments",
                     "pmtu_cache_size", "ratelimit_peers"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")
        if self.ipv4 is not None:
            try:
                iface = ipaddress.IPv4Interface(self.ipv4)
            except ValueError as exc:
                raise ConfigError(f"bad IPv4 address {self.ipv4!r}: {exc}") from None
            if "/" not in self.ipv4:
                raise ConfigError(f"IPv4 address {self.ipv4!r} needs a prefix length, e.g. /24")
            del iface
        if isinstance(self.ipv6, str):
            object.__setattr__(self, "ipv6", (self.ipv6,))
        for text in self.ipv6:
            try:
                ipaddress.IPv6Interface(text)
            except ValueError as exc:
                raise ConfigError(f"bad IPv6 address {text!r}: {exc}") from None
        object.__setattr__(self, "ipv6", tuple(self.ipv6))
        object.__setattr__(self, "udp_echo_ports", frozenset(self.udp_echo_ports))
        # Parsed once here, not by every Host built from this config (a fuzz target
        # builds one per input: parsing was 44% of its time). Not fields: equality,
        # hashing and to_json see only the texts.
        ipv4 = None if self.ipv4 is None else ipaddress.IPv4Interface(self.ipv4)
        ipv6 = tuple(ipaddress.IPv6Interface(text) for text in self.ipv6)
        # RFC 919/922: the subnet's all-ones host address; /31 (RFC 3021) and /32 have none.
        ipv4_parts = None if ipv4 is None else (
            ipv4.ip.packed,
            ipv4.network.broadcast_address.packed if ipv4.network.prefixlen <= 30 else None)
        object.__setattr__(self, "_parsed", (ipv4, ipv6, ipv4_parts, tuple(
            (interface.ip.packed, interface.network.prefixlen) for interface in ipv6)))

    @property
    def ipv4_interface(self) -> ipaddress.IPv4Interface | None:
        return self._parsed[0]  # type: ignore[attr-defined,no-any-return]

    @property
    def ipv6_interfaces(self) -> tuple[ipaddress.IPv6Interface, ...]:
        return self._parsed[1]  # type: ignore[attr-defined,no-any-return]

    @property
    def ipv4_parts(self) -> tuple[bytes, bytes | None] | None:
        """(our IPv4 address, the subnet broadcast or None) as bytes; None without IPv4."""
        return self._parsed[2]  # type: ignore[attr-defined,no-any-return]

    @property
    def ipv6_parts(self) -> tuple[tuple[bytes, int], ...]:
        """(address, prefix length) of each IPv6 address, in configuration order."""
        return self._parsed[3]  # type: ignore[attr-defined,no-any-return]

    def addresses(self) -> list[str]:
        """Every address of the host, without prefix, IPv4 first."""
        found = [str(self.ipv4_interface.ip)] if self.ipv4_interface else []
        return found + [str(i.ip) for i in self.ipv6_interfaces]

    def to_json(self) -> dict[str, object]:
        """Every field as JSON-ready values (sets sorted, MAC as aa:bb:…), read back by
        :meth:`from_json`; recordings carry it so a replay rebuilds the same host."""
        out: dict[str, object] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, frozenset):
                value = sorted(value)
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, bytes):
                value = ":".join(f"{b:02x}" for b in value)
            out[f.name] = value
        return out

    @classmethod
    def from_json(cls, fields: dict[str, Any], **overrides: Any) -> HostConfig:
        """The config :meth:`to_json` wrote (any subset of fields; the rest default),
        with ``overrides`` applied. Raises ConfigError naming a bad or unknown field."""
        known = {f.name for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for name, value in {**fields, **overrides}.items():
            if name not in known:
                raise ConfigError(f"unknown config field {name!r}")
            if name == "link_address" and isinstance(value, str):
                try:
                    value = bytes.fromhex(value.replace(":", "").replace("-", ""))
                except ValueError:
                    raise ConfigError(f"link_address {value!r} is not a MAC address") from None
            elif name in ("icmpv6_ratemask", "udp_echo_ports") and isinstance(value, list):
                value = frozenset(value)
            elif name == "ipv6" and isinstance(value, list):
                value = tuple(value)
            values[name] = value
        try:
            return cls(**values)
        except TypeError as exc:
            raise ConfigError(f"bad config: {exc}") from None
