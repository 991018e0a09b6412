"""Every corpus case in one of the league's ten categories, by its name.

One ordered table of shell patterns over case names (the names say what a case sends:
corpus/README.md lists them); the first pattern that matches wins, so the specific rules
(a timer, a rate limit, a fragment of a UDP datagram) come before the general ones. The
last category catches the rest: echo requests, IP header checks and ICMP queries.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

__all__ = ["CATEGORIES", "RULES", "category_of", "QUICK_CASES"]

CATEGORIES = (
    "echo",
    "IPv4 options",
    "fragments and reassembly",
    "ICMP errors and rate limits",
    "UDP/TCP closed ports",
    "IPv6 extension headers",
    "IPv6 fragments",
    "neighbour discovery",
    "path MTU",
    "timers",
)

# (category, patterns): first match wins.
RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    # Answers a timer produces: the 30 s reassembly timeout, a token bucket's refill.
    ("timers", ("frag_timeout*", "*_refill")),
    ("path MTU", ("pmtu_*", "v6_pmtu_*")),
    ("neighbour discovery", ("ns_*", "v6_ns_*")),
    ("ICMP errors and rate limits", ("*ratelimit*", "proto_unknown*", "bcast_unknown_protocol",
                                     "icmp_in_*", "icmp_types_*", "v6_in_*", "v6_icmpv6_truncated",
                                     "v6_unknown_next_header", "v6_unknown_next_header_multicast",
                                     "v6_unknown_opt_on_icmpv6_error")),
    ("IPv6 fragments", ("v6_frag_*",)),
    ("IPv6 extension headers", ("v6_hbh_*", "v6_dst_opt*", "v6_dst_padn*", "v6_rh*", "v6_srh_*",
                                "v6_two_dstopts", "v6_no_next_header", "v6_option_overruns_header",
                                "v6_unknown_next_header_after_dstopts")),
    ("fragments and reassembly", ("frag_*",)),
    ("IPv4 options", ("opt_*",)),
    ("UDP/TCP closed ports", ("udp_*", "tcp_*", "v6_udp_*", "v6_tcp_*", "udplite_*",
                              "v6_udplite_*", "bcast_udp_*",
                              "bcast_tcp_*", "mcast_udp_*", "mcast_tcp_*")),
    ("echo", ("*",)),
)

# A representative subset for --quick: one or two cases per category, none that waits
# out a long timer (the refill case waits about a second).
QUICK_CASES = (
    "echo_basic", "v6_echo_basic", "echo_1472",
    "opt_rr", "opt_ts_only",
    "frag_ping_3000", "frag_order_cab",
    "proto_unknown", "v6_unknown_next_header",
    "udp_closed", "tcp_syn", "v6_udp_closed",
    "v6_hbh_pad", "v6_rh0_segments_left_1",
    "v6_frag_ping_3000",
    "ns_global_unicast",
    "pmtu_frag_needed_1280", "v6_pmtu_ptb_1280",
    "udp_closed_ratelimit_refill",
)


def category_of(case: str) -> str:
    """The category of the case named ``case`` (a file stem or a case name)."""
    for category, patterns in RULES:
        if any(fnmatchcase(case, pattern) for pattern in patterns):
            return category
    raise AssertionError("the last rule matches every name")  # pragma: no cover
