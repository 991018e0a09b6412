"""IPv6 input policy. (Being written; this minimal layer drops everything.)"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stack.host.host import Host


class Ipv6Layer:
    def __init__(self, host: Host) -> None:
        self.host = host

    def input(self, packet: bytes, now: float) -> list[bytes]:
        return self.host.drop("ipv6.unimplemented")

    def poll(self, now: float) -> list[bytes]:
        return []

    def next_deadline(self) -> float | None:
        return None
