"""The live kernel as a stack under test (stack/sut/kernel.py), in a namespace of its own."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from fuzz import packets as p
from stack.host.config import HostConfig
from stack.host.host import Host
from stack.sut import StackStartError, StackUnderTest
from stack.sut.kernel import KERNEL, KernelStack, sysctls_for
from stack.wire.inspect import diff

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/net/tun") or shutil.which("ip") is None,
    reason="needs root, /dev/net/tun and ip (apt-get install iproute2)")

CONFIG = HostConfig(frag_timeout=1.0, icmp_msgs_per_sec=100000, icmp_msgs_burst=100000)
IGNORED = {"ipv4.id", "ipv6.flow_label"}


def _echo4(src: str) -> bytes:
    return p.ipv4(src, "172.16.0.2", 1, p.icmp4(8, 0, b"\x12\x34\x00\x01", b"tunstack"))


def test_sysctls_mirror_the_config() -> None:
    settings = sysctls_for(HostConfig(ttl=33, frag6_timeout=2.0, icmp_msgs_burst=7))
    assert settings["net.ipv4.ip_default_ttl"] == "33"
    assert settings["net.ipv6.ip6frag_time"] == "2"
    assert settings["net.ipv4.icmp_msgs_burst"] == "7"
    # Linux's default IPv6 ratemask, "every error but Packet Too Big", in its own notation
    assert settings["net.ipv6.icmp.ratemask"] == "0-1,3-127"


def test_fractional_reassembly_time_cannot_be_mirrored() -> None:
    with pytest.raises(StackStartError, match="whole seconds"):
        sysctls_for(HostConfig(frag_timeout=1.5))


def _namespaces() -> set[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in listed.splitlines() if line.strip()}


@needs_root
def test_kernel_answers_as_tunstack_does_and_cleans_up() -> None:
    with KernelStack(CONFIG) as kernel:
        assert isinstance(kernel, StackUnderTest)
        assert kernel.capabilities is KERNEL and kernel.netns in _namespaces()
        for packet in (_echo4("10.9.0.1"),
                       p.ipv4("10.9.0.2", "172.16.0.2", 17,
                              p.udp("10.9.0.2", "172.16.0.2", 5, 9, b"closed"))):
            answers = kernel.handle(packet, 0.0)
            ours = Host(CONFIG).handle(packet, 0.0)
            assert len(answers) == len(ours) == 1
            assert [str(d) for d in diff(answers[0], ours[0], IGNORED)] == []
        assert kernel.last_reason == "kernel.answered.1"
        assert kernel.handle(b"\x00" * 20, 0.0) == []  # neither IPv4 nor IPv6: refused
        assert kernel.last_reason.startswith("kernel.not_delivered")
        assert kernel.stats.received == 3 and kernel.stats.sent == 2
    assert kernel.netns not in _namespaces()  # deleted (others' may come and go meanwhile)


@needs_root
def test_timer_output_comes_in_real_time() -> None:
    whole = p.ipv4("10.9.0.3", "172.16.0.2", 1, p.icmp4(8, 0, b"\x00\x01\x00\x01", bytes(64)))
    first = p.fragment_v4(whole, [16])[0]
    with KernelStack(CONFIG) as kernel:
        assert kernel.handle(first, 0.0) == [] and kernel.next_timer() is None
        kernel.flush_learned()
        late = kernel.wait(2.5)  # ipfrag_time 1 s, mirrored from frag_timeout
        assert len(late) == 1 and late[0][20:22] == b"\x0b\x01"  # Time Exceeded, reassembly
