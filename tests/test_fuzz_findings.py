"""Findings of the fuzzer in code other helpers own, kept as regression tests.

An open one is marked ``xfail(strict=True)``: the suite stays green, and the day the
owner fixes it the test passes, strict xfail fails, and the mark must go. Reproducers
are minimized with ``stack-fuzz minimize`` (hex as printed by the fuzzer).
"""

from __future__ import annotations

import pytest

from fuzz.targets import TARGETS
from stack import Host, HostConfig
from stack.oracle import check_outputs
from stack.wire.inspect import validate

# An IPv4 packet whose options are a Loose Source Route listing 224.0.37.38 followed by
# a malformed option (type 39, length 40 past the header). The core answers with a
# Parameter Problem (pointer 27) and, echoing the source route as ip_options_echo does,
# sends it to the route's last hop: the multicast address 224.0.37.38.
LSRR_MULTICAST_HOP = bytes.fromhex(
    "48000020123420000104cbcc0aefaf50ac100002830708e0002526272829782b")
# The same with a Strict Source Route listing the subnet broadcast 172.16.0.255 and a
# second source route (RFC 1812 §5.2.4.1 allows one): the error goes to 172.16.0.255.
SSRR_BROADCAST_HOP = bytes.fromhex(
    "48000028123400004001fffb0a7f0ad5ac100002890708ac1000ff83030800000d00e0ca12340001")


# Fixed in the IPv4 core (1bfbc94): the error is not sent, as ``icmp.no_error_for_broadcast``.
@pytest.mark.parametrize("packet", [LSRR_MULTICAST_HOP, SSRR_BROADCAST_HOP],
                         ids=["lsrr-multicast-hop", "ssrr-broadcast-hop"])
def test_icmp_error_never_follows_a_source_route_to_a_group(packet: bytes) -> None:
    host = Host(HostConfig(udp_echo_ports=(7,)))
    outputs = host.handle(packet, 1000.0)
    assert check_outputs(packet, outputs, host) == []
    assert outputs == [] and host.last_reason == "icmp.no_error_for_broadcast"


# An ICMPv6 echo request inside an atomic fragment (RFC 6946: offset 0, M clear, so the
# whole datagram) with a wrong ICMPv6 checksum. inspect.validate skips upper-layer
# checksums after any fragment header, so the referee would accept such a reply.
ATOMIC_FRAGMENT_BAD_CHECKSUM = bytes.fromhex(
    "6000000000482c40fd000016000000000000000000000001fd00001600000000"
    "00000000000000023a0000000000000580009fdc007f00020001020304050607"
    "08090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2021222324252627"
    "28292a2a2c2d2e2f7c756e737461636b")


def test_validate_checks_the_checksum_inside_an_atomic_fragment() -> None:
    assert any("checksum" in problem.field for problem in validate(ATOMIC_FRAGMENT_BAD_CHECKSUM))


# The first fragment of a UDP datagram (no options), then its last fragment whose header
# carries a Timestamp option (IHL 13). The reassembled datagram has the first fragment's
# header, but the Port Unreachable echoes options found in the *last* fragment, at its
# offsets, into the first one's bytes: the reply's header claims IHL 10 and its
# "options" are the UDP header (inspect.validate: option 156 overruns the header).
# Linux keeps the head fragment's options (ip_frag_reasm keeps IPCB(head)).
FIRST_FRAGMENT = bytes.fromhex(
    "450000241234200040117a250af71767ac1000029c400009001359f56e6f20636865636b")
LAST_FRAGMENT_WITH_TIMESTAMP = bytes.fromhex(
    "4d0000371234000240112c800af71767ac100002442021700000000000000000000000000000000000"
    "000000000000000000000073756d")


# Fixed in the IPv4 core: the datagram's options are the first fragment's.
def test_error_about_a_reassembled_datagram_echoes_the_first_fragment_s_options() -> None:
    host = Host(HostConfig())
    assert host.handle(FIRST_FRAGMENT, 1000.0) == []
    outputs = host.handle(LAST_FRAGMENT_WITH_TIMESTAMP, 1000.0)
    assert check_outputs(None, outputs, host) == []


# A pcapng Section Header Block claiming a total length of 12 bytes (less than the 28 a
# section header needs): read_capture lets a struct.error out instead of CaptureError.
SHORT_SECTION_HEADER = bytes.fromhex("0a0d0d0a0c0000004d3c2b1a")


# Fixed in capture: a section header shorter than 28 bytes is a CaptureError.
def test_a_short_section_header_is_a_capture_error() -> None:
    from stack.capture import CaptureError, read_all

    with pytest.raises(CaptureError):
        read_all(SHORT_SECTION_HEADER)


def test_every_finding_now_passes_its_target() -> None:
    """The whole harness agrees: each reproducer goes through its target cleanly."""
    from fuzz.regress import reproduce
    from fuzz.sequence_codec import Step, encode

    assert reproduce(TARGETS["ipv4"], LSRR_MULTICAST_HOP) is None
    assert reproduce(TARGETS["ipv4"], SSRR_BROADCAST_HOP) is None
    assert reproduce(TARGETS["referee"], ATOMIC_FRAGMENT_BAD_CHECKSUM) is None
    timeline = encode(0, [Step.packet(FIRST_FRAGMENT), Step.packet(LAST_FRAGMENT_WITH_TIMESTAMP)])
    assert reproduce(TARGETS["sequence"], timeline) is None
    assert reproduce(TARGETS["capture"], SHORT_SECTION_HEADER) is None
