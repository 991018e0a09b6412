"""Which stack a driver grades, as one value (:class:`StackSpec`), and opening it per case.

``replay`` and ``stack-fuzz`` build a :class:`StackSpec` from their flags once; each case
then gets a fresh stack from :func:`open_stack`, with the case's HostConfig (tunstack's
core and the kernel are configured from it; a pipe or wire stack configures itself, and
the config only says where to probe it), wrapped in an address map when ``--map`` asks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from stack.host.config import HostConfig
from stack.host.host import Host
from stack.sut import StackUnderTest
from stack.sut.addressmap import AddressMap, MappedStack

__all__ = ["StackSpec", "open_stack"]


@dataclass(frozen=True)
class StackSpec:
    """The stack under test: in-process (the default), pipe, kernel or wire."""

    responder: str | None = None  # pipe: --responder CMD
    responder_timeout: float = 30.0
    kernel: bool = False  # --kernel
    wire: str | None = None  # --wire DEV
    exec_command: str | None = None  # --exec CMD (with --wire)
    ready: float = 10.0  # --ready S
    wire_mac: bytes | None = None  # --wire-mac
    wire_setup: bool = False  # --wire-setup
    maps: tuple[str, ...] = ()  # --map RECORDED=ACTUAL

    @property
    def kind(self) -> str:
        if self.wire is not None:
            return "wire"
        if self.kernel:
            return "kernel"
        return "pipe" if self.responder is not None else "in-process"

    def describe(self) -> str | None:
        """One line for reports and recordings (None: tunstack in-process)."""
        if self.wire is not None:
            return (f"wire {self.wire}" + (f" --exec {self.exec_command!r}"
                                           if self.exec_command else ""))
        if self.kernel:
            return "kernel"
        return self.responder


def open_stack(spec: StackSpec, config: HostConfig,
               core: Callable[[HostConfig], StackUnderTest] = Host) -> StackUnderTest:
    """A fresh stack for one case (``core`` makes the in-process one). StackStartError:
    it cannot be started (one line)."""
    mapping = AddressMap.parse(spec.maps) if spec.maps else None
    stack: StackUnderTest
    if spec.wire is not None:
        from stack.sut.wire import WireStack
        addresses = [text for text in (([config.ipv4] if config.ipv4 else [])
                                       + list(config.ipv6))]
        if mapping is not None:
            addresses = [mapping.actual_interface(text) for text in addresses]
        stack = WireStack(spec.wire, addresses, command=spec.exec_command, ready=spec.ready,
                          mac=spec.wire_mac, setup=spec.wire_setup)
    elif spec.kernel:
        from stack.sut.kernel import KernelStack
        from stack.sut.paced import PacedStack
        stack = PacedStack(KernelStack(mapping.actual_config(config) if mapping else config))
    elif spec.responder is not None:
        from stack.sut.pipe import PipeStack
        stack = PipeStack(spec.responder, spec.responder_timeout)
    else:
        stack = core(mapping.actual_config(config) if mapping else config)
    return MappedStack(stack, mapping) if mapping is not None else stack
