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

    # The secret keying what Linux derives from its per-boot random key: which of the
    # IPv4 identification counters a destination uses (RFC 7739 §5.1; ip_idents_reserve)
    # and the IPv6 flow label of each flow (RFC 6437 §3; auto_flowlabels). A fixed
    # default keeps library output deterministic; the same secret replays a recording
    # byte for byte (it travels in to_json); stack-live draws a random one per run.
    hash_secret: int = 0

    def __post_init__(self) -> None:
        # Every field is checked here, once per host, so that neither library users nor
        # recordings' metadata (from_json) can hand the core a value it would choke on:
        # the compiled core rejects a wrong type with TypeError at its first use.
        for name in _FLAGS:
            _require_flag(name, getattr(self, name))
        for name, (low, high) in _WHOLE_NUMBERS.items():
            _require_whole(name, getattr(self, name), low, high)
        for name in _DURATIONS:
            _require_duration(name, getattr(self, name))
        ipv4: ipaddress.IPv4Interface | None = None
        if self.ipv4 is not None:
            if not isinstance(self.ipv4, str):
                raise ConfigError(f"ipv4: {_show(self.ipv4)} is not an address such as "
                                  "172.16.0.2/24 (or null)")
            try:
                ipv4 = ipaddress.IPv4Interface(self.ipv4)
            except ValueError as exc:
                raise ConfigError(f"bad IPv4 address {self.ipv4!r}: {exc}") from None
            if "/" not in self.ipv4:
                raise ConfigError(f"IPv4 address {self.ipv4!r} needs a prefix length, e.g. /24")
        ipv6 = (self.ipv6,) if isinstance(self.ipv6, str) else self.ipv6
        if not isinstance(ipv6, (tuple, list)) or not all(isinstance(t, str) for t in ipv6):
            raise ConfigError(f"ipv6: {_show(self.ipv6)} is not a list of addresses such as "
                              "fd00:16::2/64")
        ipv6_interfaces = []
        for text in ipv6:
            try:
                ipv6_interfaces.append(ipaddress.IPv6Interface(text))
            except ValueError as exc:
                raise ConfigError(f"bad IPv6 address {text!r}: {exc}") from None
        object.__setattr__(self, "ipv6", tuple(ipv6))
        if self.ipv6 and self.mtu < 1280:
            raise ConfigError(f"mtu {self.mtu} below IPv6's minimum of 1280 (RFC 8200 §5)")
        if self.link_address is not None:
            if not isinstance(self.link_address, (bytes, bytearray)) or \
                    len(self.link_address) != 6:
                raise ConfigError(f"link_address: {_show(self.link_address)} is not a MAC "
                                  "address (6 bytes, e.g. 02:00:00:00:00:02)")
            object.__setattr__(self, "link_address", bytes(self.link_address))
        # ICMPv6 types are 0..255 (RFC 4443 §2.1); ports are 1..65535 (port 0 is reserved).
        object.__setattr__(self, "icmpv6_ratemask",
                           _whole_set("icmpv6_ratemask", self.icmpv6_ratemask, 0, 255))
        object.__setattr__(self, "udp_echo_ports",
                           _whole_set("udp_echo_ports", self.udp_echo_ports, 1, 65535))
        # Parsed once, above, not by every Host built from this config (a fuzz target
        # builds one per input: parsing was 44% of its time). Not fields: equality,
        # hashing and to_json see only the texts.
        # RFC 919/922: the subnet's all-ones host address; /31 (RFC 3021) and /32 have none.
        ipv4_parts = None if ipv4 is None else (
            ipv4.ip.packed,
            ipv4.network.broadcast_address.packed if ipv4.network.prefixlen <= 30 else None)
        object.__setattr__(self, "_parsed", (ipv4, tuple(ipv6_interfaces), ipv4_parts, tuple(
            (interface.ip.packed, interface.network.prefixlen)
            for interface in ipv6_interfaces)))

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
                    mac = bytes.fromhex(value.replace(":", "").replace("-", ""))
                except ValueError:
                    mac = b""
                if len(mac) != 6:
                    raise ConfigError(f"link_address: {_show(value)} is not a MAC address "
                                      "(6 bytes, e.g. 02:00:00:00:00:02)")
                value = mac
            # lists (JSON's only sequence) become tuples and sets in __post_init__,
            # after their elements are checked
            values[name] = value
        try:
            return cls(**values)
        except TypeError as exc:
            raise ConfigError(f"bad config: {exc}") from None


_INT_MAX = 2**31 - 1  # Linux's sysctls are C ints
# Boolean switches: JSON true/false, never 0/1 (the compiled core takes only bool).
_FLAGS = ("echo_ignore_broadcasts", "echo_ignore_all", "echo_ignore_all_v6",
          "echo_ignore_multicast_v6", "accept_source_route", "timestamp_replies")
# Whole numbers and their ranges (inclusive).
_WHOLE_NUMBERS: dict[str, tuple[int, int]] = {
    # 68: what every IPv4 host must take (RFC 791); 65535: the IPv4 total length field
    "mtu": (68, 65535),
    "ttl": (1, 255),
    "hop_limit": (1, 255),
    "min_pmtu": (68, 65535),
    "icmp_ratelimit_ms": (0, _INT_MAX),
    "icmpv6_ratelimit_ms": (0, _INT_MAX),
    "icmp_ratemask": (0, 2**32 - 1),  # a bit per ICMP type; Linux's is a 32-bit int
    "icmp_msgs_per_sec": (0, _INT_MAX),
    "icmp_msgs_burst": (0, _INT_MAX),
    "ratelimit_peers": (1, _INT_MAX),
    "hash_secret": (0, 2**64 - 1),  # 8 bytes of key (stack/host/host.py)
    "frag_mem_limit": (1, 2**63 - 1),  # ipfrag_high_thresh is a C long
    "frag_max_datagrams": (1, _INT_MAX),
    "frag_max_fragments": (1, _INT_MAX),
    "pmtu_cache_size": (1, _INT_MAX),
}
# Seconds: finite and positive (a timer must fire some time after it is set).
_DURATIONS = ("frag_timeout", "frag6_timeout", "pmtu_expires")
_LONGEST = 10 * 365 * 86400.0  # ten years: beyond it, a timer is a mistake


def _show(value: object) -> str:
    """A value as the message shows it: its repr, shortened to one readable piece."""
    try:
        text = repr(value)
    except ValueError:  # an int past Python's 4300-digit conversion limit
        return f"a number of {value.bit_length()} bits" if isinstance(value, int) else "?"
    return text if len(text) <= 60 else text[:57] + "..."


def _require_flag(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"{name}: {_show(value)} is not true or false")


def _require_whole(name: str, value: object, low: int, high: int) -> None:
    # bool is an int in Python, not in a config: 'true' is no MTU.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name}: {_show(value)} is not a whole number ({low}..{high})")
    if not low <= value <= high:
        raise ConfigError(f"{name}: {_show(value)} outside {low}..{high}")


def _require_duration(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name}: {_show(value)} is not a number of seconds")
    if not 0 < value <= _LONGEST:  # NaN fails every comparison
        raise ConfigError(f"{name}: {_show(value)} is not a duration (more than 0 seconds, "
                          "at most ten years)")


def _whole_set(name: str, values: object, low: int, high: int) -> frozenset[int]:
    """``values`` (a set, list or tuple of whole numbers in low..high) as a frozenset."""
    if not isinstance(values, (frozenset, set, tuple, list)):
        raise ConfigError(f"{name}: {_show(values)} is not a list of whole numbers")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"{name}: element {_show(value)} is not a whole number "
                              f"({low}..{high})")
    return frozenset(values)
