"""replay.compare: in-order pairing with look-ahead, so one lost answer is one report."""

from __future__ import annotations

from test_replay_packets import icmp_echo, udp_v4

from replay.compare import LOOKAHEAD, Comparator, Expected, Output
from replay.results import Mismatch


def _reply(seq: int, ttl: int = 64) -> bytes:
    return icmp_echo("172.16.0.2", "172.16.0.1", 5, seq, reply=True, ttl=ttl)


def _compare(expected: list[bytes], got: list[bytes],
             ignore: frozenset[str] = frozenset()) -> list[tuple[str, str, list[str]]]:
    found: list[Mismatch] = []
    comparator = Comparator(ignore, 0.001, verbose=False, report=found.append)
    for index, packet in enumerate(expected):
        comparator.add_expected(Expected(index, float(index), packet, "after inbound #0"))
    for packet in got:
        comparator.add_output(Output(0.0, packet, False, "inbound #0"))
    comparator.finish()
    return [(m.kind, m.where, m.details) for m in found]


def test_identical_sequences_match() -> None:
    packets = [_reply(i) for i in range(30)]
    assert _compare(packets, packets) == []


def test_one_missing_answer_is_one_report() -> None:
    packets = [_reply(i) for i in range(30)]
    assert _compare(packets, packets[:12] + packets[13:]) == [
        ("missing", "packet #12 (t=12.000000)", [])]


def test_one_extra_output_is_one_report() -> None:
    packets = [_reply(i) for i in range(30)]
    extra = udp_v4("172.16.0.2", "172.16.0.1", 7, 7)
    got = packets[:5] + [extra] + packets[5:]
    assert _compare(packets, got) == [("unexpected", "answer to inbound #0 (t=0.000000)", [])]


def test_a_changed_field_is_a_diff_and_pairing_continues() -> None:
    packets = [_reply(i) for i in range(20)]
    got = list(packets)
    got[7] = _reply(7, ttl=63)
    [(kind, where, details)] = _compare(packets, got)
    assert (kind, where) == ("diff", "packet #7 (t=7.000000)")
    assert details[0] == "ipv4.ttl: expected 64, got 63"


def test_every_packet_differing_reports_each_pair() -> None:
    packets = [_reply(i) for i in range(LOOKAHEAD * 3)]
    got = [_reply(i, ttl=1) for i in range(LOOKAHEAD * 3)]
    found = _compare(packets, got)
    assert [kind for kind, _where, _details in found] == ["diff"] * len(packets)
    assert _compare(packets, got, frozenset({"ipv4.ttl", "ipv4.checksum"})) == []


def test_different_kinds_are_missing_and_unexpected_not_a_diff() -> None:
    udp = udp_v4("172.16.0.2", "172.16.0.1", 7, 7)
    assert [kind for kind, _w, _d in _compare([udp], [_reply(1)])] == ["missing", "unexpected"]


def test_a_case_keeps_the_first_mismatches_and_counts_all() -> None:
    from replay.results import KEEP_MISMATCHES, CaseResult

    case = CaseResult("c", 0)
    assert case.passed
    for index in range(KEEP_MISMATCHES + 5):
        case.add(Mismatch("missing", f"packet #{index}", "x"))
    assert case.mismatch_count == KEEP_MISMATCHES + 5
    assert len(case.mismatches) == KEEP_MISMATCHES
    assert case.mismatches[-1].where == f"packet #{KEEP_MISMATCHES - 1}"
    assert not case.passed
