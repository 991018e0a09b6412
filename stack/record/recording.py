"""A recorded case and how it is written: one pcapng per case, link type 101, inbound
probes and outbound answers flagged by direction, the case described in the section
header's JSON comment."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stack.capture import DIRECTION_INBOUND, LINKTYPE_RAW, CaptureError, CaptureWriter
from stack.record.probes import HOST_CONFIG, Case

__all__ = ["Recording", "RecordError", "probe_sources", "FORMAT"]

FORMAT = "tunstack-record/1"


class RecordError(RuntimeError):
    """The recorder could not run; the message is one line for the user."""


def probe_sources(case: Case) -> frozenset[bytes]:
    """The packed source addresses of a case's probes: where its answers may go."""
    sources = set()
    for _delay, packet in case.probes:
        if len(packet) >= 20 and packet[0] >> 4 == 4:
            sources.add(packet[12:16])
        elif len(packet) >= 40 and packet[0] >> 4 == 6:
            sources.add(packet[8:24])
    return frozenset(sources)


@dataclass
class Recording:
    """One case as recorded: (timestamp, direction, packet, comment) in time order."""

    case: Case
    reference: str  # "linux" or "tunstack"
    records: list[tuple[float, int, bytes, str]]
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, case: Case, reference: str, records: list[tuple[float, int, bytes, str]],
           extra: dict[str, Any]) -> Recording:
        peer = case.peer
        metadata: dict[str, Any] = {
            "format": FORMAT,
            "case": case.name,
            "description": case.description,
            "expect": case.expect,
            "reference": reference,
            "host": dict(case.host or HOST_CONFIG),
            "peer": {"ipv4": peer.v4, "ipv6": peer.v6, "link_local": peer.ll},
            "listen": case.listen,
        }
        if reference == "linux" and case.deviation:
            metadata["deviation"] = case.deviation
        metadata.update(extra)
        return cls(case, reference, records, metadata)

    @property
    def answers(self) -> list[bytes]:
        return [packet for _t, direction, packet, _c in self.records
                if direction != DIRECTION_INBOUND]

    def save(self, directory: Path) -> Path:
        path = directory / f"{self.case.name}.pcapng"
        try:
            with CaptureWriter(path, linktype=LINKTYPE_RAW, metadata=self.metadata,
                               application="tunstack stack-record") as writer:
                for timestamp, direction, packet, comment in self.records:
                    writer.write(packet, timestamp, direction, comment=comment or None)
        except CaptureError as exc:
            raise RecordError(str(exc)) from None
        return path

