"""``--map RECORDED=ACTUAL``: grade a stack configured with other addresses than the
capture's by rewriting addresses both ways, every checksum kept right.

Inbound packets have each RECORDED address replaced by its ACTUAL one before the stack
sees them; the stack's outputs get the reverse before they are compared. Every checksum
that covers a rewritten address is updated incrementally (RFC 1624 eqn. 3, one 16-bit
word at a time): the IPv4 header checksum, the TCP/UDP/ICMPv6 checksum over the
pseudo-header (RFC 768, RFC 9293 §3.1, RFC 8200 §8.1), and, for an ICMP or ICMPv6 error,
the addresses of the packet it quotes (RFC 792, RFC 4443 §2.4), that packet's own header
and transport checksums, and the outer ICMP checksum over the changed quote. An
incremental update keeps a checksum that was wrong exactly as wrong (a recorded bad
checksum stays bad), and needs neither the whole datagram (a first fragment's UDP
checksum covers data it does not carry) nor a quote that is complete.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from stack.host.config import HostConfig
from stack.host.stats import Stats
from stack.sut import Capabilities, StackUnderTest, capabilities_of
from stack.wire.checksum import incremental_update

__all__ = ["AddressMap", "MappedStack", "MapError"]

_ICMP_ERRORS_V4 = frozenset({3, 4, 5, 11, 12})
_ICMP_ERRORS_V6 = frozenset({1, 2, 3, 4})
_IPV6_EXTENSIONS = frozenset({0, 43, 60})  # hop-by-hop, routing, destination options
_FRAGMENT = 44


class MapError(ValueError):
    """A ``--map`` that does not parse; one line."""


def _adjust(data: bytearray, field: int, old: bytes, new: bytes) -> None:
    """Update the 16-bit checksum at ``data[field:field+2]`` for ``old`` -> ``new``
    (same length, even, aligned as in the checksummed data). A UDP checksum of 0 means
    "none" (RFC 768) and stays 0."""
    if field + 2 > len(data):
        return
    value = int.from_bytes(data[field:field + 2], "big")
    for index in range(0, len(old), 2):
        value = incremental_update(value, int.from_bytes(old[index:index + 2], "big"),
                                   int.from_bytes(new[index:index + 2], "big"))
    data[field:field + 2] = value.to_bytes(2, "big")


class AddressMap:
    """RECORDED -> ACTUAL address pairs (IPv4 and IPv6)."""

    def __init__(self, pairs: Iterable[tuple[bytes, bytes]]) -> None:
        self.forward = dict(pairs)
        self.backward = {actual: recorded for recorded, actual in self.forward.items()}

    @classmethod
    def parse(cls, texts: Iterable[str]) -> AddressMap:
        pairs: list[tuple[bytes, bytes]] = []
        for text in texts:
            recorded, sep, actual = text.partition("=")
            try:
                if not sep:
                    raise ValueError
                left = ipaddress.ip_address(recorded.strip())
                right = ipaddress.ip_address(actual.strip())
            except ValueError:
                raise MapError(f"--map {text!r}: expected RECORDED=ACTUAL, two addresses "
                               "of one version, e.g. 172.16.0.2=10.0.0.4") from None
            if left.version != right.version:
                raise MapError(f"--map {text!r}: {left} and {right} are not both IPv4 or "
                               "both IPv6")
            if any(left.packed == old for old, _new in pairs):
                raise MapError(f"--map {text!r}: {left} is mapped twice")
            pairs.append((left.packed, right.packed))
        return cls(pairs)

    # -- configuration ------------------------------------------------------------------
    def actual_interface(self, text: str) -> str:
        """``172.16.0.2/24`` -> ``10.0.0.4/24`` when mapped (the prefix kept)."""
        interface = ipaddress.ip_interface(text)
        new = self.forward.get(interface.ip.packed)
        if new is None:
            return text
        return f"{ipaddress.ip_address(new)}/{interface.network.prefixlen}"

    def actual_config(self, config: HostConfig) -> HostConfig:
        fields = config.to_json()
        fields["ipv4"] = self.actual_interface(config.ipv4) if config.ipv4 else None
        fields["ipv6"] = [self.actual_interface(text) for text in config.ipv6]
        return HostConfig.from_json(fields)

    # -- packets ------------------------------------------------------------------------
    def inbound(self, packet: bytes) -> bytes:
        """A recorded packet as the stack must see it."""
        return self._rewrite(packet, self.forward)

    def outbound(self, packet: bytes) -> bytes:
        """One of the stack's outputs as the recording would show it."""
        return self._rewrite(packet, self.backward)

    def _rewrite(self, packet: bytes, table: dict[bytes, bytes]) -> bytes:
        if not table or not packet:
            return packet
        data = bytearray(packet)
        self._rewrite_in_place(data, table)
        return bytes(data)

    def _rewrite_in_place(self, data: bytearray, table: dict[bytes, bytes]) -> None:
        """Rewrite the IP packet in ``data`` (maybe a truncated quote) in place."""
        version = data[0] >> 4
        if version == 4 and len(data) >= 20:
            self._ipv4(data, table)
        elif version == 6 and len(data) >= 40:
            self._ipv6(data, table)

    def _ipv4(self, data: bytearray, table: dict[bytes, bytes]) -> None:
        header = (data[0] & 0x0F) * 4
        changes: list[tuple[bytes, bytes]] = []
        for start in (12, 16):
            old = bytes(data[start:start + 4])
            new = table.get(old)
            if new is not None:
                data[start:start + 4] = new
                changes.append((old, new))
        for old, new in changes:
            _adjust(data, 10, old, new)
        offset = int.from_bytes(data[6:8], "big") & 0x1FFF
        if offset or header < 20 or len(data) < header:
            return  # a later fragment carries no transport header
        self._transport(data, header, data[9], changes, table, errors=_ICMP_ERRORS_V4,
                        icmp=1)

    def _ipv6(self, data: bytearray, table: dict[bytes, bytes]) -> None:
        changes: list[tuple[bytes, bytes]] = []
        for start in (8, 24):
            old = bytes(data[start:start + 16])
            new = table.get(old)
            if new is not None:
                data[start:start + 16] = new
                changes.append((old, new))
        next_header, position = data[6], 40
        for _ in range(16):  # a bounded walk over the extension headers
            if next_header in _IPV6_EXTENSIONS and position + 2 <= len(data):
                next_header, position = data[position], position + (data[position + 1] + 1) * 8
            elif next_header == _FRAGMENT and position + 8 <= len(data):
                if int.from_bytes(data[position + 2:position + 4], "big") >> 3:
                    return  # not the first fragment
                next_header, position = data[position], position + 8
            else:
                break
        if position <= len(data):
            self._transport(data, position, next_header, changes, table,
                            errors=_ICMP_ERRORS_V6, icmp=58)

    def _transport(self, data: bytearray, start: int, protocol: int,
                   changes: list[tuple[bytes, bytes]], table: dict[bytes, bytes], *,
                   errors: frozenset[int], icmp: int) -> None:
        field = {6: start + 16, 17: start + 6, 58: start + 2}.get(protocol)
        if field is not None and not (protocol == 17 and data[field:field + 2] == b"\0\0"):
            for old, new in changes:  # the pseudo-header
                _adjust(data, field, old, new)
        if protocol == icmp and len(data) >= start + 8 and data[start] in errors:
            quote_start = start + 8
            before = bytes(data[quote_start:])
            quote = bytearray(before)
            if quote:
                self._rewrite_in_place(quote, table)
                data[quote_start:] = quote
                if len(before) % 2:  # the checksum pads an odd tail with a zero byte
                    before, quote = before + b"\0", quote + b"\0"
                _adjust(data, start + 2, before, bytes(quote))


class MappedStack:
    """A stack under test seen through an :class:`AddressMap`."""

    def __init__(self, inner: StackUnderTest, mapping: AddressMap) -> None:
        self.inner = inner
        self.mapping = mapping
        self.capabilities: Capabilities = capabilities_of(inner)
        self.stats: Stats = inner.stats  # the same object: the inner stack counts
        self.last_reason = inner.last_reason

    @property
    def output_times(self) -> list[float] | None:
        return getattr(self.inner, "output_times", None)

    def __getattr__(self, name: str) -> object:  # until, check_alive, output_tail, close
        return getattr(self.inner, name)

    def __setattr__(self, name: str, value: object) -> None:
        if name == "until":
            setattr(self.inner, name, value)
        else:
            object.__setattr__(self, name, value)

    def handle(self, packet: bytes, now: float) -> list[bytes]:
        outputs = self.inner.handle(self.mapping.inbound(packet), now)
        self.last_reason = self.inner.last_reason
        return [self.mapping.outbound(p) for p in outputs]

    def poll(self, now: float) -> list[bytes]:
        return [self.mapping.outbound(p) for p in self.inner.poll(now)]

    def next_timer(self) -> float | None:
        return self.inner.next_timer()
