"""What ``stack-fuzz coverage`` counts: the codecs the core uses (a rule in code,
fuzz/measure.py ``core_codec_spans``) and the unreached lines it lists; and the
reassembly guard removed as unreachable leaves the host's answers as they were."""

from __future__ import annotations

import ast

from fuzz import packets as p
from fuzz import seeds
from fuzz.cli import _line_ranges
from fuzz.measure import STACK, core_codec_spans
from stack.host.config import HostConfig
from stack.host.host import Host


def _names(spans: dict[str, list[tuple[int, int]]]) -> dict[str, set[str]]:
    """File -> the top-level functions and classes whose lines the spans are."""
    named: dict[str, set[str]] = {}
    for relative, found in spans.items():
        tree = ast.parse((STACK / relative).read_text())
        starts = {first for first, _ in found}
        named[relative] = {node.name for node in tree.body
                           if isinstance(node, ast.FunctionDef | ast.ClassDef)
                           and min([node.lineno, *(d.lineno for d in node.decorator_list)])
                           in starts}
    return named


def test_the_codecs_the_core_uses_follow_its_imports_and_calls() -> None:
    named = _names(core_codec_spans())
    assert all(name.startswith("wire/") for name in named)
    # Named by the host's modules: by import (checksum.ones_sum) and through a module
    # alias (``wire.fragment`` in host/ipv4.py, ``icmpv6.emit`` in host/ipv6.py).
    assert {"ones_sum", "ones_sum_mod", "checksum"} <= named["wire/checksum.py"]
    assert "fragment" in named["wire/ipv4.py"] and "fragment" in named["wire/ipv6.py"]
    # Reached only through another codec function: ipv4.fragment blanks the options
    # later fragments do not copy.
    assert "_blank_uncopied_options" in named["wire/ipv4.py"]
    # Not the host's: the dissector (stack/link/describe.py, stack-live's printer, is
    # no part of Host or LinkHost) and the UDP codec the recorder and tests use.
    assert "wire/inspect.py" not in named and "wire/udp.py" not in named
    source = (STACK / "host" / "ipv4.py").read_text()
    for name in named["wire/ipv4.py"] - {"_blank_uncopied_options", "_option_spans",
                                         "option_copied", "with_checksum"}:
        assert f"wire.{name}" in source or f"import {name}" in source, name


def test_missed_lines_are_listed_as_ranges() -> None:
    assert _line_ranges([7, 3, 4, 5, 10, 11]) == "3-5, 7, 10-11"
    assert _line_ranges([]) == ""


def test_fragments_at_the_largest_offset_get_the_answers_they_always_had() -> None:
    # The reassembler's guard against ends past 65,535 + 65,535 was unreachable (a
    # 13-bit offset plus one packet's data stays below) and is gone: the IPv4 fragment
    # is held (the 65,535 limit is checked on completion), the IPv6 one draws a
    # Parameter Problem pointing at its offset (RFC 8200 §4.5).
    v4 = p.ipv4(seeds.PEER4, seeds.HOST4, 1, bytes(1480), ident=77,
                flags_offset=0x2000 | 65528 // 8)
    host = Host(HostConfig())
    assert host.handle(v4, 1000.0) == [] and host.last_reason == "frag.held"
    assert len(host.ipv4.reassembler) == 1
    v6 = p.ipv6(seeds.PEER6, seeds.HOST6, 44, p.fragment_header(58, 65528, True, 78)
                + bytes(1400))
    out = host.handle(v6, 1000.0)
    assert host.last_reason == "icmpv6.param_problem" and len(out) == 1
    assert out[0][40:48] == bytes([4, 0]) + out[0][42:44] + (42).to_bytes(4, "big")
    assert out[0][48:48 + len(v6)] == v6[:len(out[0]) - 48]


def test_the_seeds_reach_the_answers_they_are_named_for() -> None:
    cases = {
        "echo_record_route_no_room": "ipv4.options_echo_failed",
        "echo_timestamp_addresses_no_room": "ipv4.options_echo_failed",
        "timestamp_request_timestamp_no_room": "ipv4.options_echo_failed",
        "tcp_syn_record_route_no_room": "ipv4.options_echo_failed",
        "echo_reply_checksum_ffff": "icmp.echo_reply",
        "udp_echo_from_port_zero": "udp.echo_from_port_zero",
    }
    v4 = seeds.ipv4_seeds()
    for name, reason in cases.items():
        host = Host(HostConfig(udp_echo_ports=(7,)))
        host.handle(v4[name], 1000.0)
        assert host.last_reason == reason, name
    reply = Host(HostConfig()).handle(v4["echo_reply_checksum_ffff"], 1000.0)[0]
    assert reply[22:24] == b"\x00\x00"  # RFC 1624 §3: 0xFFFF is written as 0 here
    v6 = seeds.ipv6_seeds()
    for name, reason in {"echo_hop_by_hop_ioam_misaligned": "ipv6.bad_ioam_alignment",
                         "echo_hop_by_hop_calipso": "ipv6.calipso_rejected",
                         "neighbour_solicitation_dad_not_solicited_node":
                             "ndisc.dad_not_solicited_node",
                         "neighbour_solicitation_long_link_address":
                             "ndisc.bad_link_address_option"}.items():
        host = Host(HostConfig())
        host.handle(v6[name], 1000.0)
        assert host.last_reason == reason, name
