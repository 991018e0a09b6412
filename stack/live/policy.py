"""Every host policy switch and cap of ``HostConfig`` as a ``stack-live`` flag.

One table, ``POLICIES``, says for each ``HostConfig`` field the flag, the Linux sysctl it
mirrors (the flag is that sysctl's last part with ``-`` for ``_``, so ``--icmp-ratelimit``
is ``net.ipv4.icmp_ratelimit``; tunstack's own caps, which Linux has no knob for, say
so) and the parser that reads a value. The value's range is HostConfig's own check
(stack/host/config.py), so stack-live refuses exactly what a host cannot be. The flags,
``--sysctl NAME=VALUE``, the ``--help`` text, the banner's list of changed policies and
docs/live.md's table all come from it. Values are written as ``sysctl`` shows them: 0/1
switches, integers (masks also in hex), seconds, and IPv6's ratemask as a list of type
ranges (``0-1,3-127``).

The addresses, the MTU, the MAC and ``--udp-echo`` keep their own flags (they are
checked against each other and against the kernel side).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from stack.host.config import ConfigError, HostConfig

__all__ = ["Policy", "POLICIES", "PolicyError", "add_policy_flags", "policy_values",
           "changed_policies", "format_value", "by_sysctl", "policy_rows"]


class PolicyError(ValueError):
    """A policy value that cannot be used; one line for the user."""


@dataclass(frozen=True)
class Policy:
    field: str  # the HostConfig field
    flag: str  # the command-line flag, without the dashes
    sysctl: str  # the Linux sysctl mirrored, or "" for a tunstack cap
    metavar: str
    parse: Callable[[str], object]
    help: str

    @property
    def option(self) -> str:
        return f"--{self.flag}"


# The parsers read the text as sysctl writes it; the ranges are HostConfig's, checked in
# _parse, so that one place says what a host may be configured with.
def _switch(text: str) -> bool:
    """A sysctl switch: 0 or 1, nothing else (Linux's proc_dointvec_minmax 0..1)."""
    if text.strip() not in ("0", "1"):
        raise PolicyError("takes 0 or 1")
    return text.strip() == "1"


def _integer(text: str) -> int:
    try:
        return int(text.strip(), 0)  # 0x1818 as well as 6168
    except ValueError:
        raise PolicyError("takes an integer") from None


def _seconds(text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise PolicyError("takes a number of seconds") from None


def _type_ranges(text: str) -> frozenset[int]:
    """ICMPv6 types as net.ipv6.icmp.ratemask writes them: ``0-1,3-127`` (a bitmap
    list, Linux's proc_do_large_bitmap); an empty text is no type."""
    types: set[int] = set()
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        try:
            low, high = int(first), int(last or first)
        except ValueError:
            raise PolicyError("takes ICMPv6 types 0..255 as ranges, e.g. 0-1,3-127") from None
        # An ICMPv6 type is one byte (RFC 4443 §2.1), and a range is written low-high.
        if not 0 <= low <= high <= 255:
            raise PolicyError("takes ICMPv6 types 0..255 as ranges, e.g. 0-1,3-127")
        types.update(range(low, high + 1))
    return frozenset(types)


POLICIES: tuple[Policy, ...] = (
    Policy("ttl", "ip-default-ttl", "net.ipv4.ip_default_ttl", "TTL", _integer,
           "TTL of the packets we send"),
    Policy("hop_limit", "hop-limit", "net.ipv6.conf.all.hop_limit", "HOPS",
           _integer, "hop limit of the IPv6 packets we send"),
    Policy("echo_ignore_broadcasts", "icmp-echo-ignore-broadcasts",
           "net.ipv4.icmp_echo_ignore_broadcasts", "0/1", _switch,
           "1: ignore echo and timestamp requests to broadcast and multicast addresses"),
    Policy("echo_ignore_all", "icmp-echo-ignore-all", "net.ipv4.icmp_echo_ignore_all",
           "0/1", _switch, "1: answer no IPv4 echo request"),
    Policy("echo_ignore_all_v6", "icmpv6-echo-ignore-all", "net.ipv6.icmp.echo_ignore_all",
           "0/1", _switch, "1: answer no IPv6 echo request"),
    Policy("echo_ignore_multicast_v6", "icmpv6-echo-ignore-multicast",
           "net.ipv6.icmp.echo_ignore_multicast", "0/1", _switch,
           "1: ignore IPv6 echo requests to multicast addresses"),
    Policy("accept_source_route", "accept-source-route",
           "net.ipv4.conf.all.accept_source_route", "0/1", _switch,
           "1: take IPv4 packets with a source route (LSRR/SSRR) whose route is done; "
           "0: drop every one (ipv4.source_route)"),
    Policy("timestamp_replies", "timestamp-replies", "", "0/1", _switch,
           "0: answer no ICMP Timestamp request"),
    Policy("icmp_ratelimit_ms", "icmp-ratelimit", "net.ipv4.icmp_ratelimit", "MS",
           _integer, "milliseconds per ICMP error to one peer (0: no limit)"),
    Policy("icmp_ratemask", "icmp-ratemask", "net.ipv4.icmp_ratemask", "MASK",
           _integer, "bit n set: ICMP type n is rate limited"),
    Policy("icmpv6_ratelimit_ms", "icmpv6-ratelimit", "net.ipv6.icmp.ratelimit", "MS",
           _integer, "milliseconds per ICMPv6 error to one peer (0: no limit)"),
    Policy("icmpv6_ratemask", "icmpv6-ratemask", "net.ipv6.icmp.ratemask", "TYPES",
           _type_ranges, "ICMPv6 types rate limited, as ranges (0-1,3-127)"),
    Policy("icmp_msgs_per_sec", "icmp-msgs-per-sec", "net.ipv4.icmp_msgs_per_sec", "N",
           _integer, "ICMP errors per second, all peers together"),
    Policy("icmp_msgs_burst", "icmp-msgs-burst", "net.ipv4.icmp_msgs_burst", "N",
           _integer, "ICMP errors that may go at once, all peers together"),
    Policy("ratelimit_peers", "icmp-ratelimit-peers", "", "N", _integer,
           "peers whose error budget is remembered (oldest forgotten first)"),
    Policy("frag_mem_limit", "ipfrag-high-thresh", "net.ipv4.ipfrag_high_thresh", "BYTES",
           _integer, "memory for datagrams being reassembled"),
    Policy("frag_timeout", "ipfrag-time", "net.ipv4.ipfrag_time", "SECONDS",
           _seconds, "how long an incomplete IPv4 datagram is kept"),
    Policy("frag6_timeout", "ip6frag-time", "net.ipv6.ip6frag_time", "SECONDS",
           _seconds, "how long an incomplete IPv6 datagram is kept"),
    Policy("frag_max_datagrams", "ipfrag-max-datagrams", "", "N", _integer,
           "datagrams reassembled at once"),
    Policy("frag_max_fragments", "ipfrag-max-fragments", "", "N", _integer,
           "fragments kept per datagram"),
    Policy("pmtu_cache_size", "pmtu-cache-size", "", "N", _integer,
           "destinations whose path MTU is remembered"),
    Policy("pmtu_expires", "mtu-expires", "net.ipv4.route.mtu_expires", "SECONDS",
           _seconds, "how long a learned path MTU is kept"),
    Policy("min_pmtu", "min-pmtu", "net.ipv4.route.min_pmtu", "BYTES", _integer,
           "smallest path MTU a Packet Too Big / Fragmentation Needed may set"),
    Policy("hash_secret", "hash-secret", "", "N", _integer,
           "the secret keying the IPv4 ID counters and IPv6 flow labels (Linux's per-boot "
           "key); default: a random one per run, recorded in --record's metadata"),
)

_BY_FIELD = {p.field: p for p in POLICIES}


def by_sysctl(name: str) -> Policy | None:
    """The policy for a sysctl name (``net.ipv4.icmp_ratelimit``, also with ``/``), or for
    a flag name (``icmp-ratelimit``, ``icmp_ratelimit``)."""
    key = name.strip().replace("/", ".")
    for policy in POLICIES:
        if key and key in (policy.sysctl, policy.flag, policy.flag.replace("-", "_"),
                           policy.field):
            return policy
    return None


def format_value(policy: Policy, value: object) -> str:
    """``value`` as the flag takes it (what ``sysctl`` would print)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, frozenset):
        return _ranges_text(sorted(value))
    if policy.field == "icmp_ratemask" and isinstance(value, int):
        return f"{value:#x}"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _ranges_text(types: list[int]) -> str:
    runs: list[list[int]] = []
    for t in types:
        if runs and runs[-1][1] == t - 1:
            runs[-1][1] = t
        else:
            runs.append([t, t])
    return ",".join(str(low) if low == high else f"{low}-{high}" for low, high in runs)


def _help(policy: Policy, default: object) -> str:
    mirrors = policy.sysctl or "tunstack's own cap; Linux has no sysctl for it"
    if policy.field == "timestamp_replies":
        mirrors = "no sysctl: Linux always answers"
    return f"{policy.help} ({mirrors}; default {format_value(policy, default)})"


def add_policy_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per POLICIES row, and ``--sysctl NAME=VALUE`` for any of them. The
    values stay text here: ``policy_values`` parses them, so an error is one line."""
    group = parser.add_argument_group(
        "host policy (as the Linux sysctl named; docs/live.md lists them)")
    defaults = HostConfig()
    for policy in POLICIES:
        group.add_argument(policy.option, dest=f"policy_{policy.field}", default=None,
                           metavar=policy.metavar,
                           help=_help(policy, getattr(defaults, policy.field)))
    group.add_argument("--sysctl", action="append", default=[], metavar="NAME=VALUE",
                       help="any of the above by its sysctl name, e.g. "
                            "net.ipv4.icmp_echo_ignore_broadcasts=0 (repeatable)")


def _parse(policy: Policy, text: str, given_as: str) -> object:
    """The flag's syntax and range, then HostConfig's own check of the field (the one
    place that validates a host for every driver), either failing as one line that
    names the flag."""
    try:
        value = policy.parse(text)
    except PolicyError as exc:
        raise PolicyError(f"{given_as} {exc}, not {text!r}") from None
    try:
        HostConfig(**{policy.field: value})  # type: ignore[arg-type]
    except ConfigError as exc:
        # "icmp_ratelimit_ms: -1 outside 0..2147483647": the flag, not the field
        reason = str(exc).removeprefix(f"{policy.field}: ")
        raise PolicyError(f"{given_as}: {reason}") from None
    return value


def policy_values(args: argparse.Namespace) -> dict[str, object]:
    """The HostConfig fields the command line sets, checked; raises PolicyError."""
    values: dict[str, object] = {}
    given: dict[str, str] = {}
    for assignment in args.sysctl:
        name, equals, text = assignment.partition("=")
        policy = by_sysctl(name)
        if not equals or policy is None:
            raise PolicyError(f"--sysctl {assignment!r}: give NAME=VALUE with a NAME from "
                              "stack-live --help's host policy list")
        values[policy.field] = _parse(policy, text, f"--sysctl {name.strip()}")
        given[policy.field] = f"--sysctl {name.strip()}"
    for policy in POLICIES:
        text = getattr(args, f"policy_{policy.field}", None)
        if text is None:
            continue
        if policy.field in given:
            raise PolicyError(f"{policy.option} and {given[policy.field]} set the same "
                              "policy: give one")
        values[policy.field] = _parse(policy, text, policy.option)
    return values


def changed_policies(config: HostConfig) -> list[str]:
    """``--flag VALUE`` for every policy that is not the default, in table order."""
    defaults = HostConfig()
    # hash_secret is drawn at random per run: it differs from the default every time and
    # says nothing of the policy (the recording's metadata keeps it).
    return [f"{p.option} {format_value(p, getattr(config, p.field)) or repr('')}"
            for p in POLICIES if getattr(config, p.field) != getattr(defaults, p.field)
            and p.field != "hash_secret"]


def policy_rows(policies: Iterable[Policy] = POLICIES) -> list[tuple[str, str, str]]:
    """(flag, sysctl, default) for docs/live.md's table; a test keeps the two equal."""
    defaults = HostConfig()
    return [(f"{p.option} {p.metavar}", p.sysctl or "—",
             format_value(p, getattr(defaults, p.field))) for p in policies]

