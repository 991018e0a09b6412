"""TAP mode: Ethernet II, ARP and the link side of IPv6 neighbour discovery around a
``stack.Host``.

API
---
``LinkHost(host: Host, link: LinkConfig | None = None)``
    ``host.config.link_address`` (6 bytes, individual) is our MAC; ``ConfigError`` if
    it is missing. ``LinkConfig`` sets the neighbour cache (capacity 256, lifetime 60 s)
    and address resolution (3 solicitations 1 s apart, 3 packets queued per neighbour,
    64 neighbours resolving at once).
``LinkHost.handle(frame: bytes, now: float) -> list[bytes]``
    One inbound Ethernet II frame (no FCS) in, the frames to send out. Pure like the
    core: no I/O, clock or randomness, and it never raises, whatever the bytes. Every
    frame is counted in ``stats`` exactly once: IP frames by the core (its reply kind or
    drop reason), the others here: ``arp.reply``; drops ``eth.truncated``,
    ``eth.not_for_us``, ``eth.bad_source``, ``eth.unknown_ethertype``,
    ``eth.version_mismatch``, ``arp.truncated``, ``arp.unsupported``,
    ``arp.bad_sender``, ``arp.address_conflict``, ``arp.not_for_us``,
    ``arp.neighbour_updated`` (not for us, but a known sender's entry refreshed),
    ``arp.reply_consumed``, ``arp.bad_operation``.
``LinkHost.poll(now) -> list[bytes]``, ``LinkHost.next_timer() -> float | None``
    The core's timers plus resolution retries; a neighbour that never answers costs its
    queued packets (events ``neighbour.unresolved``, ``neighbour.queue_dropped``).
``LinkHost.stats``, ``LinkHost.last_reason``
    The wrapped host's, so drivers print one set of counters.
``LinkHost.neighbours``
    The ``NeighbourCache`` (``lookup(ip, now)``, ``learn(ip, mac, now)``, ``len()``).

What it does
------------
- Frames addressed to our MAC, broadcast, IPv6 all-nodes and our solicited-node groups
  (and IPv4 multicast, which the core judges) are taken; others are dropped.
- ARP per RFC 826 with the merge flag: a sender already in the cache is refreshed by
  any ARP; a request for our address adds the sender and is answered; probes from
  0.0.0.0 (RFC 5227) are answered without learning.
- IPv6: Neighbor Solicitations and Advertisements go to the core, which answers NS with
  an NA carrying our Target Link-Layer Address option; on the way in, their link-layer
  options teach the cache.
- Answers go back to the MAC the request came from; other packets (timer output) are
  sent to the cached MAC or wait while an ARP request / NS resolves it.
- Ethernet padding is trimmed by the IP length before the core sees the packet.

Not done: 802.1Q tags (dropped as ``eth.unknown_ethertype``), proxy ARP, gratuitous ARP
announcements of our own address, and Neighbor Unreachability Detection beyond the
cache lifetime.
"""

from stack.link.ethernet import EthernetError, format_mac, parse_mac
from stack.link.linkhost import LinkConfig, LinkHost
from stack.link.neighbours import NeighbourCache

__all__ = ["EthernetError", "LinkConfig", "LinkHost", "NeighbourCache", "format_mac",
           "parse_mac"]
