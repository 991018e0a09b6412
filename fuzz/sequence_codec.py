"""The byte format of the ``sequence`` target: a timeline of packets and clock steps,
read with atheris' FuzzedDataProvider, and its exact inverse for the mutator and seeds.

The provider takes integers from the *end* of the input (the first byte taken is the
most significant) and byte strings from the front, so an input is
``packet bytes in order + reversed(integer bytes in the order they are taken)``.
``decode`` reads with the real provider (the target's reading is the truth) and
``encode(decode(x))`` reads back to the same timeline.

Operations (``ConsumeIntInRange(0, 3)`` each):

0. a packet: length ``0..65535``, then that many bytes, handled at the current time;
1. advance the clock ``0..65535`` ms without polling (the host must cope with time
   having moved when the next packet arrives);
2. jump to ``next_timer()`` (when it is later) and ``poll``;
3. advance ``0..1023`` s and ``poll``.

The first integer picks the host configuration (``0..CONFIG_COUNT-1``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Step", "encode", "decode", "MAX_STEPS", "CONFIG_COUNT", "PACKET", "ADVANCE_MS",
           "NEXT_TIMER", "ADVANCE_S"]

PACKET, ADVANCE_MS, NEXT_TIMER, ADVANCE_S = 0, 1, 2, 3
MAX_STEPS = 64  # a bound on the work one input can ask for (libFuzzer -timeout catches more)
CONFIG_COUNT = 3


@dataclass(frozen=True)
class Step:
    op: int
    value: int = 0  # milliseconds or seconds for clock steps
    data: bytes = b""  # the packet for PACKET

    @staticmethod
    def packet(data: bytes) -> Step:
        return Step(PACKET, len(data), data)

    @staticmethod
    def advance_ms(milliseconds: int) -> Step:
        return Step(ADVANCE_MS, milliseconds)

    @staticmethod
    def advance_s(seconds: int) -> Step:
        return Step(ADVANCE_S, seconds)

    @staticmethod
    def next_timer() -> Step:
        return Step(NEXT_TIMER)


def encode(config: int, steps: list[Step]) -> bytes:
    """The input bytes the target reads as ``config`` then ``steps`` (at most MAX_STEPS)."""
    front = bytearray()
    integers = bytearray([config % CONFIG_COUNT])
    for step in steps[:MAX_STEPS]:
        integers.append(step.op)
        if step.op == PACKET:
            data = step.data[:0xFFFF]
            integers += len(data).to_bytes(2, "big")
            front += data
        elif step.op == ADVANCE_MS:
            integers += (step.value & 0xFFFF).to_bytes(2, "big")
        elif step.op == ADVANCE_S:
            integers += (step.value & 0x3FF).to_bytes(2, "big")
    return bytes(front) + bytes(reversed(integers))


class Reader:
    """The target's way of reading an input, one step at a time."""

    def __init__(self, data: bytes) -> None:
        import atheris

        self._provider = atheris.FuzzedDataProvider(data)
        self.config = self._provider.ConsumeIntInRange(0, CONFIG_COUNT - 1)

    def steps(self) -> list[Step]:
        provider = self._provider
        found: list[Step] = []
        while len(found) < MAX_STEPS and provider.remaining_bytes() > 0:
            op = provider.ConsumeIntInRange(0, 3)
            if op == PACKET:
                data = provider.ConsumeBytes(provider.ConsumeIntInRange(0, 0xFFFF))
                found.append(Step(PACKET, len(data), data))
            elif op == ADVANCE_MS:
                found.append(Step(ADVANCE_MS, provider.ConsumeIntInRange(0, 0xFFFF)))
            elif op == ADVANCE_S:
                found.append(Step(ADVANCE_S, provider.ConsumeIntInRange(0, 0x3FF)))
            else:
                found.append(Step(NEXT_TIMER))
        return found


def decode(data: bytes) -> tuple[int, list[Step]]:
    reader = Reader(data)
    return reader.config, reader.steps()
