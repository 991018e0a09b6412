"""The structure-aware mutator: changes what a packet *means* (a header field, the
option list, the extension header chain, the fragment layout, the quoted packet of an
ICMP error), then repairs lengths and checksums so the result gets past the first
checks, and now and then leaves them broken so the checks themselves stay covered.

libFuzzer calls the custom mutator *instead of* its own mutations, so one strategy here
is libFuzzer's own byte mutation (``atheris.Mutate``, which also inserts dictionary
entries) followed by the same repair.

Every choice comes from a ``random.Random`` seeded with libFuzzer's seed, so a run is
reproducible with ``-seed=N``.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Sequence

from fuzz import packets as p
from fuzz.sequence_codec import ADVANCE_S, NEXT_TIMER, PACKET, Step, decode, encode

__all__ = ["PacketMutator", "python_byte_mutate", "REPAIR_PROBABILITY"]

ByteMutate = Callable[[bytes, int], bytes]
REPAIR_PROBABILITY = 0.9  # the rest keeps broken checksums/lengths to exercise the checks

V4_ADDRESSES = [p.address(a) for a in (
    "172.16.0.2", "172.16.0.1", "172.16.0.255", "255.255.255.255", "0.0.0.0", "224.0.0.1",
    "239.255.255.250", "127.0.0.1", "198.51.100.7", "172.16.0.0", "240.0.0.1", "10.0.0.2")]
V6_ADDRESSES = [p.address(a) for a in (
    "fd00:16::2", "fe80::2", "fd00:16::1", "fe80::1", "::", "::1", "ff02::1",
    "ff02::1:ff00:2", "ff02::2", "ff05::1", "fd00:16::99", "::ffff:172.16.0.2",
    "2001:db8::1")]
PROTOCOLS = [1, 2, 4, 6, 17, 41, 47, 50, 58, 59, 0, 43, 44, 60, 253, 255]
ICMP4_TYPES = [(8, 0), (0, 0), (13, 0), (14, 0), (15, 0), (17, 0), (18, 0), (3, 0), (3, 1),
               (3, 3), (3, 4), (4, 0), (5, 1), (11, 0), (11, 1), (12, 0), (12, 1), (9, 0),
               (10, 0), (42, 0), (43, 0), (255, 255)]
ICMP6_TYPES = [(128, 0), (129, 0), (1, 0), (1, 3), (1, 4), (2, 0), (3, 0), (3, 1), (4, 0),
               (4, 1), (4, 2), (130, 0), (131, 0), (133, 0), (134, 0), (135, 0), (136, 0),
               (137, 0), (143, 0), (139, 0), (160, 0), (200, 0), (127, 0), (255, 0)]
PORTS = [7, 33434, 0, 53, 80, 65535, 9, 19, 13]
TCP_FLAGS = [0x02, 0x10, 0x12, 0x04, 0x14, 0x01, 0x11, 0x18, 0x00, 0xFF, 0x29, 0x03, 0x06]


def python_byte_mutate(data: bytes, max_size: int, rng: random.Random | None = None) -> bytes:
    """A small stand-in for ``atheris.Mutate`` when not under libFuzzer (tests, the
    replay of inputs): flip, set, insert or erase a few bytes."""
    rng = rng or random.Random(len(data))
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(4)
        if choice == 0 and buffer:
            buffer[rng.randrange(len(buffer))] ^= 1 << rng.randrange(8)
        elif choice == 1 and buffer:
            buffer[rng.randrange(len(buffer))] = rng.choice((0, 1, 0x7F, 0x80, 0xFF))
        elif choice == 2 and len(buffer) < max_size:
            at = rng.randrange(len(buffer) + 1)
            buffer[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif buffer:
            at = rng.randrange(len(buffer))
            del buffer[at:at + rng.randint(1, 8)]
    return bytes(buffer[:max_size])


class PacketMutator:
    """Structure-aware mutations of IP packets, Ethernet frames and sequences.

    ``donors`` are whole packets (the seeds) used for splicing: a new upper layer, a
    quoted packet for an ICMP error, an inserted step in a sequence."""

    def __init__(self, rng: random.Random, byte_mutate: ByteMutate,
                 donors: Sequence[bytes], frame_donors: Sequence[bytes] = ()) -> None:
        self.rng = rng
        self.byte_mutate = byte_mutate
        self.donors = [d for d in donors if d]
        self.frame_donors = [d for d in frame_donors if d]

    # -- entry points (one per target input format) -----------------------------------
    def mutate_packet(self, data: bytes, max_size: int) -> bytes:
        rng = self.rng
        if len(data) < 20 or data[0] >> 4 not in (4, 6):
            if self.donors and rng.random() < 0.5:
                data = rng.choice(self.donors)
            else:
                return self.byte_mutate(data, max_size)
        strategy = rng.choices(
            ("bytes", "field", "options", "upper", "payload", "address", "fragment", "splice"),
            (25, 25, 15, 15, 6, 6, 6, 4))[0]
        if strategy == "bytes":
            mutated = self.byte_mutate(data, max_size)
        elif data[0] >> 4 == 4:
            mutated = self._mutate_v4(data, strategy)
        else:
            mutated = self._mutate_v6(data, strategy)
        return self.finish(mutated, max_size)

    def finish(self, packet: bytes, max_size: int) -> bytes:
        """Repair with REPAIR_PROBABILITY; otherwise leave the mutation as it is or
        break one checksum on purpose."""
        rng = self.rng
        packet = packet[:max_size]
        if rng.random() < REPAIR_PROBABILITY:
            return p.repair(packet, lengths=rng.random() < 0.95)
        if rng.random() < 0.5 and len(packet) > 12:
            repaired = bytearray(p.repair(packet))
            at = rng.choice([10, 11, len(repaired) - 1]) if repaired[0] >> 4 == 4 \
                else rng.randrange(len(repaired))
            repaired[at] ^= 1 << rng.randrange(8)
            return bytes(repaired)
        return packet

    def mutate_frame(self, frame: bytes, max_size: int) -> bytes:
        """An Ethernet frame: the IP packet inside as above, or the link fields."""
        rng = self.rng
        if len(frame) < 14:
            return self.byte_mutate(frame, max_size)
        header, payload = frame[:14], frame[14:]
        ethertype = struct.unpack_from("!H", header, 12)[0]
        choice = rng.random()
        if choice < 0.15:
            field = bytearray(header)
            at = rng.choice((0, 6, 12))
            if at == 12:
                field[12:14] = struct.pack("!H", rng.choice((0x0800, 0x86DD, 0x0806, 0x8100,
                                                             0x88A8, 0x0000, 0xFFFF)))
            else:
                field[at:at + 6] = rng.choice((b"\xff" * 6, bytes.fromhex("333300000001"),
                                               bytes.fromhex("3333ff000002"),
                                               bytes.fromhex("020000000002"),
                                               bytes.fromhex("01005e000001"), bytes(6)))
            return bytes(field) + payload
        if ethertype == 0x0806 and len(payload) >= 28 and choice < 0.7:
            arp = bytearray(payload)
            at = rng.choice((0, 2, 4, 5, 6, 8, 14, 18, 24))
            size = {4: 1, 5: 1, 8: 6, 18: 6}.get(at, 2 if at < 8 else 4)
            arp[at:at + size] = self._value(size, bytes(arp[at:at + size]))
            return header + bytes(arp)
        if ethertype in (0x0800, 0x86DD) or (payload and payload[0] >> 4 in (4, 6)):
            return header + self.mutate_packet(payload, max(max_size - 14, 0))
        return self.byte_mutate(frame, max_size)

    def mutate_sequence(self, data: bytes, max_size: int, frames: bool = False) -> bytes:
        """A timeline: mutate one packet, insert/delete/duplicate/swap steps, change a
        clock step, or cut a whole packet into a fragment layout. With ``frames`` the
        timeline's packets are Ethernet frames (the tap target)."""
        rng = self.rng
        config, steps = decode(data)
        packet_steps = [i for i, s in enumerate(steps) if s.op == PACKET]
        action = rng.choices(("packet", "insert", "delete", "duplicate", "swap", "clock",
                              "fragment", "config", "peers"), (45, 12, 8, 8, 6, 8, 10, 3, 5))[0]
        if action == "packet" and packet_steps:
            at = rng.choice(packet_steps)
            mutate = self.mutate_frame if frames else self.mutate_packet
            steps[at] = Step.packet(mutate(steps[at].data, 4096))
        elif action == "insert" or not steps:
            at = rng.randint(0, len(steps))
            steps.insert(at, self._random_step(frames))
        elif action == "delete" and len(steps) > 1:
            del steps[rng.randrange(len(steps))]
        elif action == "duplicate":
            at = rng.randrange(len(steps))
            steps.insert(rng.randint(0, len(steps)), steps[at])
        elif action == "swap" and len(steps) > 1:
            a, b = rng.randrange(len(steps)), rng.randrange(len(steps))
            steps[a], steps[b] = steps[b], steps[a]
        elif action == "clock":
            steps.insert(rng.randint(0, len(steps)), rng.choice((
                Step.advance_ms(rng.choice((1, 20, 999, 1000, 1001, 30000, 65535))),
                Step.advance_s(rng.choice((1, 29, 30, 31, 59, 60, 61, 599, 600, 601, 1023))),
                Step.next_timer())))
        elif action == "fragment" and packet_steps:
            at = rng.choice(packet_steps)
            link_header = steps[at].data[:14] if frames else b""
            pieces = self.fragment_layout(steps[at].data[len(link_header):])
            steps[at:at + 1] = [Step.packet(link_header + piece) for piece in pieces]
        elif action == "config":
            config = rng.randrange(8)
        elif action == "peers" and packet_steps:
            # The same packet from more distinct sources than a per-peer table holds
            # (the rate limiter, path MTUs, neighbours, reassembly: ARCHITECTURE §3).
            at = rng.choice(packet_steps)
            link_header = steps[at].data[:14] if frames else b""
            packet = steps[at].data[len(link_header):]
            copies = [Step.packet(link_header + self.other_source(packet, index))
                      for index in range(rng.choice((3, 5, 9, 17)))]
            steps[at + 1:at + 1] = copies
        else:
            steps.insert(rng.randint(0, len(steps)), self._random_step(frames))
        encoded = encode(config, steps)
        while len(encoded) > max_size and steps:
            steps.pop(rng.randrange(len(steps)))
            encoded = encode(config, steps)
        return encoded

    def other_source(self, packet: bytes, index: int) -> bytes:
        """``packet`` from another unicast source (the ``index``-th), checksums repaired
        for the new pseudo-header."""
        if len(packet) >= 20 and packet[0] >> 4 == 4:
            source = bytes([10, 200 + index // 256 % 50, index % 256, 1])
            return p.repair(packet[:12] + source + packet[16:], lengths=False)
        if len(packet) >= 40 and packet[0] >> 4 == 6:
            source = bytes.fromhex("20010db8") + index.to_bytes(4, "big") + bytes(7) + b"\x01"
            return p.repair(packet[:8] + source + packet[24:], lengths=False)
        return packet

    def fragment_layout(self, packet: bytes) -> list[bytes]:
        """Cut a whole packet into fragments: in order, reversed, shuffled, with a
        duplicate, an overlap or a hole. Checksums are repaired on the whole first, so
        only the layout is wrong, when it is."""
        rng = self.rng
        packet = p.repair(packet)
        if len(packet) < 28 or packet[0] >> 4 not in (4, 6):
            return [packet]
        header_len = (packet[0] & 0x0F) * 4 if packet[0] >> 4 == 4 else 40
        if header_len < 20:
            return [packet]
        data_len = len(packet) - header_len
        if data_len < 16:
            return [packet]
        sizes: list[int] = []
        used = 0
        while used < data_len - 8 and len(sizes) < 12:
            size = 8 * rng.randint(1, max(1, min(data_len - used, 1400) // 8))
            sizes.append(size)
            used += size
        if packet[0] >> 4 == 4:
            pieces = p.fragment_v4(packet, sizes)
        else:
            pieces = p.fragment_v6(packet, sizes, ident=rng.choice((0, 1, 0xFFFFFFFF,
                                                                    rng.getrandbits(32))))
        layout = rng.randrange(6)
        if layout == 1:
            pieces.reverse()
        elif layout == 2:
            rng.shuffle(pieces)
        elif layout == 3:
            pieces.insert(rng.randint(0, len(pieces)), rng.choice(pieces))
        elif layout == 4 and len(pieces) > 1:
            pieces.insert(rng.randint(0, len(pieces)),
                          self._shift_fragment(rng.choice(pieces), rng.choice((-8, 8, 16))))
        elif layout == 5 and len(pieces) > 2:
            del pieces[rng.randrange(len(pieces))]
        return pieces

    # -- IPv4 -------------------------------------------------------------------------
    def _mutate_v4(self, data: bytes, strategy: str) -> bytes:
        rng = self.rng
        header_len = max(20, min((data[0] & 0x0F) * 4, len(data)))
        header, options, body = bytearray(data[:20]), data[20:header_len], data[header_len:]
        if strategy == "field":
            name, at, size = rng.choice((("vihl", 0, 1), ("tos", 1, 1), ("len", 2, 2),
                                         ("id", 4, 2), ("frag", 6, 2), ("ttl", 8, 1),
                                         ("proto", 9, 1), ("sum", 10, 2)))
            if name == "frag":
                header[6:8] = struct.pack("!H", rng.choice((0x2000, 0x4000, 0x8000, 0x6000,
                                                             0x2000 | rng.randrange(0x2000),
                                                             rng.randrange(0x2000), 0)))
            elif name == "proto":
                header[9] = rng.choice(PROTOCOLS)
            elif name == "vihl":
                header[0] = rng.choice((0x45, 0x44, 0x46, 0x4F, 0x65, 0x40 | rng.randrange(16)))
            else:
                header[at:at + size] = self._value(size, bytes(header[at:at + size]))
        elif strategy == "options":
            options = self._mutate_v4_options(options)
        elif strategy == "address":
            at = rng.choice((12, 16))
            header[at:at + 4] = rng.choice(V4_ADDRESSES)
        elif strategy == "fragment":
            return self._fragment_v4(bytes(header), options, body)
        elif strategy in ("upper", "payload", "splice"):
            body = self._mutate_upper(body, header[9], 4, strategy)
        options = options[:40]
        options += b"\x00" * (-len(options) % 4)
        if strategy != "field" or rng.random() < 0.8:
            header[0] = (header[0] & 0xF0) | (20 + len(options)) // 4
        return bytes(header) + options + body

    def _mutate_v4_options(self, options: bytes) -> bytes:
        rng = self.rng
        parsed = _split_v4_options(options)
        action = rng.randrange(5)
        if action == 0 or not parsed:
            parsed.insert(rng.randint(0, len(parsed)), self._v4_option())
        elif action == 1:
            del parsed[rng.randrange(len(parsed))]
        elif action == 2:
            parsed.insert(rng.randint(0, len(parsed)), rng.choice(parsed))
        else:
            at = rng.randrange(len(parsed))
            option = bytearray(parsed[at])
            if len(option) > 1:
                index = rng.randrange(1, min(len(option), 4))
                option[index] = rng.choice((0, 1, 2, 3, 4, 5, 8, 9, 12, 13, 39, 40, 255,
                                            (option[index] + 4) & 0xFF,
                                            (option[index] - 4) & 0xFF))
            parsed[at] = bytes(option)
        return b"".join(parsed)

    def _v4_option(self) -> bytes:
        rng = self.rng
        slots = rng.randint(0, 9)
        choice = rng.randrange(10)
        if choice == 0:
            return bytes([7, 3 + 4 * slots, rng.choice((4, 8, 3 + 4 * slots + 1))]) \
                + bytes(4 * slots)
        if choice == 1:
            flag = rng.choice((0, 1, 3, 2))
            width = 4 if flag == 0 else 8
            count = rng.randint(0, 36 // width)
            return bytes([68, 4 + width * count, rng.choice((5, 5 + width, 4 + width * count
                                                             + 1)), (rng.randrange(16) << 4)
                          | flag]) + bytes(width * count)
        if choice in (2, 3):
            hops = b"".join(rng.choice(V4_ADDRESSES) for _ in range(slots % 4))
            return bytes([131 if choice == 2 else 137, 3 + len(hops), rng.choice((4, 8))]) + hops
        if choice == 4:
            return bytes([148, 4, 0, 0])
        if choice == 5:
            return b"\x01"
        if choice == 6:
            return b"\x00"
        if choice == 7:
            return bytes([130, 11]) + bytes(9)
        if choice == 8:
            return bytes([136, 4, 0, 1])
        return bytes([rng.randrange(256), rng.choice((0, 1, 2, 4, 40))]) + bytes(2)

    def _fragment_v4(self, header: bytes, options: bytes, body: bytes) -> bytes:
        rng = self.rng
        offset = rng.choice((0, 0, 1, 2, 8, 185, 0x1FFF, rng.randrange(0x2000)))
        more = rng.random() < 0.6
        if len(body) > 8 and rng.random() < 0.5:  # cut the piece this fragment carries
            start = 8 * rng.randrange(len(body) // 8)
            body = body[start:start + 8 * rng.randint(1, max(1, (len(body) - start) // 8))]
        flags = struct.unpack_from("!H", header, 6)[0] & 0x4000
        mutable = bytearray(header)
        struct.pack_into("!H", mutable, 6, flags | (0x2000 if more else 0) | offset)
        options = options + b"\x00" * (-len(options) % 4)
        mutable[0] = 0x40 | (20 + len(options[:40])) // 4
        return bytes(mutable) + options[:40] + body

    # -- IPv6 -------------------------------------------------------------------------
    def _mutate_v6(self, data: bytes, strategy: str) -> bytes:
        rng = self.rng
        fixed = bytearray(data[:40])
        chain, upper_type, upper = _split_v6_chain(data)
        if strategy == "field":
            at, size = rng.choice(((0, 1), (1, 3), (4, 2), (6, 1), (7, 1)))
            if at == 6:
                upper_type = rng.choice(PROTOCOLS)
            elif at == 7:
                fixed[7] = rng.choice((0, 1, 2, 64, 254, 255))
            elif at == 0:
                fixed[0] = rng.choice((0x60, 0x6F, 0x40, 0x70, 0x00, rng.randrange(256)))
            else:
                fixed[at:at + size] = self._value(size, bytes(fixed[at:at + size]))
        elif strategy in ("options", "fragment"):
            chain = self._mutate_v6_chain(chain, strategy == "fragment")
        elif strategy == "address":
            at = rng.choice((8, 24))
            fixed[at:at + 16] = rng.choice(V6_ADDRESSES)
        else:
            upper = self._mutate_upper(upper, upper_type, 6, strategy)
        return _join_v6(bytes(fixed), chain, upper_type, upper)

    def _mutate_v6_chain(self, chain: list[tuple[int, bytes]],
                         fragment: bool) -> list[tuple[int, bytes]]:
        rng = self.rng
        if fragment:
            offset = rng.choice((0, 0, 8, 1280, 0xFFF8, 8 * rng.randrange(0x2000)))
            header = (44, bytes([0]) + struct.pack("!HI", offset | (rng.random() < 0.6),
                                                   rng.choice((0, 1, 77, 0xFFFFFFFF))))
            existing = [i for i, (kind, _) in enumerate(chain) if kind == 44]
            if existing and rng.random() < 0.7:
                chain[existing[0]] = header
            else:
                chain.insert(rng.randint(0, len(chain)), header)
            return chain
        action = rng.randrange(6)
        if action <= 1 or not chain:
            chain.insert(0 if rng.random() < 0.7 else rng.randint(0, len(chain)),
                         self._v6_extension())
        elif action == 2:
            del chain[rng.randrange(len(chain))]
        elif action == 3 and len(chain) > 1:
            a, b = rng.randrange(len(chain)), rng.randrange(len(chain))
            chain[a], chain[b] = chain[b], chain[a]
        else:
            at = rng.randrange(len(chain))
            kind, content = chain[at]
            mutable = bytearray(content)
            if len(mutable) > 1:
                index = rng.randrange(len(mutable))
                mutable[index] = self._value(1, bytes(mutable[index:index + 1]))[0]
            chain[at] = (kind, bytes(mutable))
        return chain[:8]

    def _v6_extension(self) -> tuple[int, bytes]:
        """(type, bytes after the next-header byte)."""
        rng = self.rng
        kind = rng.choice((0, 60, 43, 0, 60))
        if kind == 43:
            routing_type = rng.choice((0, 2, 3, 4, 253))
            segments = rng.choice((0, 1, 2))
            addresses = b"".join(rng.choice(V6_ADDRESSES) for _ in range(max(segments, 1)))
            return 43, bytes([len(addresses) // 8, routing_type, segments]) + bytes(4) + addresses
        options = b""
        for _ in range(rng.randint(0, 3)):
            option_type = rng.choice((0, 1, 5, 4, 0xC2, 0x1E, 0x5E, 0x9E, 0xDE, 0x3E,
                                      rng.randrange(256)))
            if option_type == 0:
                options += b"\x00"
                continue
            length = {5: 2, 4: 1, 0xC2: 4}.get(option_type, rng.choice((0, 1, 2, 4, 6)))
            options += bytes([option_type, length]) + bytes(length)
        return kind, p.ext_header(0, options)[1:]

    # -- upper layers -----------------------------------------------------------------
    def _mutate_upper(self, upper: bytes, protocol: int, version: int, strategy: str) -> bytes:
        rng = self.rng
        if strategy == "payload":
            if rng.random() < 0.5 and len(upper) > 8:
                return upper[:rng.randrange(len(upper))]
            return upper + bytes(rng.randrange(256) for _ in range(rng.choice((1, 8, 64))))
        if strategy == "splice" and self.donors:
            donor = rng.choice(self.donors)
            if protocol in (1, 58) and len(upper) >= 8 and upper[0] in (1, 2, 3, 4, 5, 11, 12):
                return upper[:8] + donor[:rng.choice((28, 48, 68, len(donor)))]
            _, _, donor_upper = (_split_v6_chain(donor) if donor[0] >> 4 == 6
                                 else (None, None, donor[(donor[0] & 0x0F) * 4:]))
            return donor_upper
        mutable = bytearray(upper)
        if protocol in (1, 58) and len(mutable) >= 8:
            if rng.random() < 0.5:
                mutable[0:2] = bytes(rng.choice(ICMP4_TYPES if version == 4 else ICMP6_TYPES))
            else:
                at = rng.choice((4, 5, 6, 7, rng.randrange(len(mutable))))
                mutable[at] = self._value(1, bytes(mutable[at:at + 1]))[0]
        elif protocol == 17 and len(mutable) >= 8:
            at = rng.choice((0, 2, 4))
            mutable[at:at + 2] = struct.pack("!H", rng.choice(PORTS)) if at < 4 else \
                self._value(2, bytes(mutable[4:6]))
        elif protocol == 6 and len(mutable) >= 20:
            choice = rng.randrange(4)
            if choice == 0:
                mutable[13] = rng.choice(TCP_FLAGS)
            elif choice == 1:
                mutable[12] = rng.choice((0x50, 0x40, 0xF0, 0x60, 0x00)) | (mutable[12] & 0x0F)
            elif choice == 2:
                mutable[2:4] = struct.pack("!H", rng.choice(PORTS))
            else:
                at = rng.choice((4, 8))
                mutable[at:at + 4] = self._value(4, bytes(mutable[at:at + 4]))
        elif mutable:
            at = rng.randrange(len(mutable))
            mutable[at] = rng.randrange(256)
        return bytes(mutable)

    # -- helpers ----------------------------------------------------------------------
    def _value(self, size: int, current: bytes) -> bytes:
        """An interesting replacement for a field of ``size`` bytes."""
        rng = self.rng
        number = int.from_bytes(current, "big") if current else 0
        top = (1 << (8 * size)) - 1
        candidates = [0, 1, top, top >> 1, (top >> 1) + 1, (number + 1) & top,
                      (number - 1) & top, number ^ (1 << rng.randrange(8 * size)),
                      rng.getrandbits(8 * size)]
        return rng.choice(candidates).to_bytes(size, "big")

    def _random_step(self, frames: bool = False) -> Step:
        rng = self.rng
        choice = rng.randrange(5)
        if choice == 0:
            return Step.advance_ms(rng.choice((0, 10, 1000, 30000)))
        if choice == 1:
            return Step(rng.choice((NEXT_TIMER, ADVANCE_S)), rng.choice((1, 30, 61, 600)))
        donors = self.frame_donors if frames else self.donors
        if donors:
            return Step.packet(rng.choice(donors))
        return Step.advance_ms(1)

    def _shift_fragment(self, fragment: bytes, delta: int) -> bytes:
        """The same fragment claiming a different offset (an overlap or a hole)."""
        mutable = bytearray(fragment)
        if fragment[0] >> 4 == 4 and len(mutable) >= 20:
            word = struct.unpack_from("!H", mutable, 6)[0]
            offset = max((word & 0x1FFF) + delta // 8, 0) & 0x1FFF
            struct.pack_into("!H", mutable, 6, (word & 0xE000) | offset)
            return p.repair(bytes(mutable))
        if len(mutable) >= 48 and mutable[6] == 44:
            word = struct.unpack_from("!H", mutable, 42)[0]
            offset = max((word & 0xFFF8) + delta, 0) & 0xFFF8
            struct.pack_into("!H", mutable, 42, offset | (word & 7))
        return bytes(mutable)


def _split_v4_options(options: bytes) -> list[bytes]:
    """Options as a list (lenient: a bad length ends the list with the rest as one)."""
    found: list[bytes] = []
    at = 0
    while at < len(options):
        kind = options[at]
        if kind in (0, 1):
            found.append(options[at:at + 1])
            at += 1
            continue
        length = options[at + 1] if at + 1 < len(options) else 0
        if length < 2:
            found.append(options[at:])
            break
        found.append(options[at:at + length])
        at += length
    return found


def _split_v6_chain(packet: bytes) -> tuple[list[tuple[int, bytes]], int, bytes]:
    """(extension headers as (type, bytes after their next-header byte), upper type,
    upper bytes), leniently: an extension header running past the end is upper data."""
    chain: list[tuple[int, bytes]] = []
    next_header = packet[6] if len(packet) > 6 else 59
    at = 40
    while len(chain) < 16 and at + 8 <= len(packet):
        if next_header == 44:
            size = 8
        elif next_header in (0, 43, 60):
            size = (packet[at + 1] + 1) * 8
        elif next_header == 51:
            size = (packet[at + 1] + 2) * 4
        else:
            break
        if at + size > len(packet):
            break
        chain.append((next_header, packet[at + 1:at + size]))
        next_header = packet[at]
        at += size
    return chain, next_header, packet[at:]


def _join_v6(fixed: bytes, chain: list[tuple[int, bytes]], upper_type: int,
             upper: bytes) -> bytes:
    types = [kind for kind, _ in chain] + [upper_type]
    body = b"".join(bytes([types[i + 1]]) + content for i, (_, content) in enumerate(chain))
    packet = bytearray(fixed) + body + upper
    packet[6] = types[0]
    return bytes(packet)
