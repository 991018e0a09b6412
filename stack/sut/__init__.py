"""The stack under test: one abstraction for every kind of stack the harness can judge.

Replay, fuzzing (``stack-fuzz``, ``stack-fuzz diff``) and the FIFO referee all ask one
question of some stack: "here is an inbound packet at time t; what do you send?". Each kind
of stack answers it through the same Host-like interface, :class:`StackUnderTest`:

- in-process: tunstack's :class:`stack.Host` (or :class:`stack.link.LinkHost`), exact and
  instant; it already has this shape;
- pipe: a program speaking hex lines on stdin/stdout (``--responder CMD``);
- kernel: the live Linux kernel behind a TUN in a fresh namespace (``--kernel``);
- wire: a real stack that owns a TUN/TAP/veth device (``--wire DEV [--exec CMD]``).

Each kind says what it can promise in :class:`Capabilities`, so the drivers can adapt
(wait timers out in real time, expect nondeterminism, watch for crashes) while the
comparison, the profiles, the faults and the reports stay the same whatever the kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from stack.host.stats import Stats

__all__ = ["Capabilities", "StackUnderTest", "StackCrashed", "StackError", "StackHung",
           "StackStartError", "IN_PROCESS", "capabilities_of"]


@dataclass(frozen=True)
class Capabilities:
    """What a kind of stack can promise the driver that feeds it."""

    exact_timers: bool  # poll(now) runs timers on the given clock (else: real time)
    deterministic: bool  # the same inputs give the same bytes (IP IDs included)
    can_crash: bool  # the stack is a process or device that may die or hang
    kind: str  # "in-process", "pipe", "kernel", "wire"


IN_PROCESS = Capabilities(exact_timers=True, deterministic=True, can_crash=False,
                          kind="in-process")


class StackError(Exception):
    """The stack misbehaved (timeout, bad output); one line for the report."""


class StackCrashed(StackError):
    """The stack exited, died on a signal or stopped answering its liveness probe."""


class StackHung(StackError):
    """The stack is running but did not read or answer within its timeout, or stopped
    answering its liveness probe."""


class StackStartError(Exception):
    """The stack cannot be started or reached (bad command, no device); one line."""


@runtime_checkable
class StackUnderTest(Protocol):
    """The Host-like interface every stack under test offers.

    ``handle`` takes one inbound IP packet (or Ethernet frame, for link-layer stacks) at
    time ``now`` and returns the packets the stack sent in answer; ``poll`` runs what is
    due at ``now``; ``next_timer`` says when that is (None: nothing pending); ``close``
    stops the stack and everything it started. ``stats`` and ``last_reason`` carry what
    the stack says about itself (tunstack's core names a reason for every packet; other
    kinds leave ``last_reason`` empty or describe what they observed).
    """

    stats: Stats
    last_reason: str

    def handle(self, packet: bytes, now: float) -> list[bytes]: ...

    def poll(self, now: float) -> list[bytes]: ...

    def next_timer(self) -> float | None: ...


def capabilities_of(stack: object) -> Capabilities:
    """What ``stack`` promises: its ``capabilities``, else in-process (tunstack's Host
    and LinkHost, which need no attribute to say so)."""
    found = getattr(stack, "capabilities", None)
    return found if isinstance(found, Capabilities) else IN_PROCESS
