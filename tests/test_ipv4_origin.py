"""The Proof section of issue 2: the two worked examples of the project's origin."""

from __future__ import annotations

from stack import Host, HostConfig
from stack.wire.checksum import checksum
from stack.wire.inspect import validate

REQUEST = bytes.fromhex(
    "45000054812840004001615dac100001ac100002080054f5000d0001a1fb006a0000000041c400"
    "0000000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031"
    "323334353637")
PUBLISHED_REPLY = bytes.fromhex(
    "4500005481284000400160ddac100002ac10000100005cf5000d0001a1fb006a0000000041c400"
    "0000000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031"
    "323334353637")


def test_header_checksum_of_the_level_ip_example_is_e4c0() -> None:
    header = bytes.fromhex("4500005441e0400040010000 0a000004 0a000005")
    assert checksum(header) == 0xE4C0


def test_request_gets_a_valid_reply_byte_for_byte() -> None:
    host = Host(HostConfig(ipv4="172.16.0.2/24"))
    assert validate(REQUEST) == []
    (reply,) = host.handle(REQUEST, 0.0)
    # TOS 0, total 84, IP ID 0 (the host's first), DF clear, TTL 64, checksum 0x2286,
    # addresses swapped; type 0 with the checksum 0x5cf5 (0x54f5 + 0x0800), data kept.
    assert reply == bytes.fromhex("450000540000000040012286ac100002ac100001") + \
        b"\x00\x00\x5c\xf5" + REQUEST[24:]
    assert validate(reply) == []
    assert host.stats.replies == {"icmp.echo_reply": 1}


def test_the_published_reply_has_a_wrong_header_checksum() -> None:
    problems = validate(PUBLISHED_REPLY)
    assert [(p.field, p.message) for p in problems] == [
        ("ipv4.checksum", "ipv4 header checksum 0x60dd, expected 0x615d")]
    # 0x615d is right: the request's checksum, as swapping the addresses changes no sum.
    fixed = PUBLISHED_REPLY[:10] + b"\x61\x5d" + PUBLISHED_REPLY[12:]
    assert validate(fixed) == []
