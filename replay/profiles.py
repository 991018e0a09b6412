"""Comparison profiles: which fields may differ and how far timer outputs may drift.

A recording of Linux differs from tunstack's answers in values that are random or
clock-derived on Linux and counters in tunstack:

- ``ipv4.id``: Linux draws the IP ID of its datagrams from a per-destination hash seeded
  at boot (``ip_select_ident``, net/ipv4/route.c); tunstack counts.
- ``ipv6.flow_label``: Linux hashes the flow (``ip6_make_flowlabel``, auto flow labels,
  RFC 6437); tunstack sends 0.
- ``ipv6.frag.id``: the Fragment header identification (``ipv6_select_ident``), random.
- ``icmp.timestamp.receive`` / ``icmp.timestamp.transmit``: the wall clock at the host
  that answered (RFC 792), which no replay reproduces.
- ``*ipv4.opt.ts*.time``: the times the IP Timestamp option collects (RFC 791, ms since
  midnight UT), in any Timestamp option of the packet or of the datagram an ICMP error
  quotes. Replay derives them from the capture's timestamps, which can sit on the other
  side of a millisecond from the kernel's clock; the option's addresses, pointer,
  overflow and flag still count.

Timer outputs (reassembly Time Exceeded) fire on the kernel's timer wheel, which only
ever fires late: with HZ=250 a 30 s timer sits in the wheel level of 2.048 s granularity
(kernel/time/timer.c, ``calc_wheel_index``), so the recorded output may come up to that
much after the deadline tunstack keeps exactly. The linux profile accepts a timer output
from 2.1 s before the recorded one to 10 ms after it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Profile", "PROFILES", "get_profile", "profile_for"]


@dataclass(frozen=True)
class Profile:
    name: str
    ignore: frozenset[str]
    timer_tolerance: float  # seconds a timer output may be early or late
    description: str
    # how much later than the deadline the recording's own timers may have fired: a
    # timer output may also come this much before the recorded one
    recorded_late: float = 0.0


PROFILES: dict[str, Profile] = {
    "exact": Profile(
        "exact", frozenset(), 0.001,
        "every field equal; timer outputs within 1 ms (goldens written by replay are exact)"),
    "linux": Profile(
        "linux",
        frozenset({"ipv4.id", "ipv6.flow_label", "ipv6.frag.id", "icmp.timestamp.receive",
                   "icmp.timestamp.transmit", "*ipv4.opt.ts*.time"}),
        0.01,
        "Linux recordings: IPv4 ID, IPv6 flow label and fragment ID, ICMP timestamp "
        "receive/transmit times and IP Timestamp option times may differ; timer outputs "
        "from 2.1 s before the recorded time (the kernel's timer wheel fires late) to "
        "10 ms after it",
        recorded_late=2.1),
}


def get_profile(name: str) -> Profile:
    """The profile called ``name``; KeyError names the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f"unknown profile {name!r} (known: {', '.join(PROFILES)})") from None


def profile_for(metadata: dict[str, object] | None, explicit: str | None) -> Profile:
    """The profile of a case: ``--profile`` when given; else the one its metadata names
    (``"profile": "linux"``, or ``"reference": "linux"`` as stack-record writes for kernel
    recordings); else ``exact``. So ``replay corpus/*/*.pcapng --expect`` judges Linux
    recordings and tunstack's goldens each by their own rule."""
    if explicit is not None:
        return get_profile(explicit)
    if metadata:
        named = metadata.get("profile")
        if isinstance(named, str) and named in PROFILES:
            return PROFILES[named]
        if metadata.get("reference") == "linux":
            return PROFILES["linux"]
    return PROFILES["exact"]
