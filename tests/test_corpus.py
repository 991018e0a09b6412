"""The corpus: the Linux captures match the probe set and tunstack answers like them
(except the documented deviations), the goldens are byte-exact, the README lists every
case, and a sample re-recorded live from this kernel still matches the committed one."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from replay import cli as replay_cli
from replay.profiles import get_profile
from stack.capture import DIRECTION_INBOUND, read_all
from stack.record.probes import CASES
from stack.wire import inspect

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
LINUX = sorted((CORPUS / "linux").glob("*.pcapng"))
REGRESS = sorted((CORPUS / "regress").glob("*.pcapng"))
README = (CORPUS / "README.md").read_text()
KERNEL_CASES = {c.name: c for c in CASES if c.on_kernel}

# Quick, varied cases re-recorded live: one or more from every family of rules.
LIVE_SAMPLE = [
    "echo_basic", "echo_tos_ecn", "opt_rr", "opt_ts_addr", "opt_rr_bad_pointer",
    "frag_order_cab", "frag_overlap_same_bytes", "frag_ping_3000", "pmtu_frag_needed_1280",
    "bcast_echo_subnet", "icmp_timestamp", "proto_unknown", "udp_closed_large",
    "udp_closed_ratelimit", "tcp_syn", "tcp_ack", "v6_echo_basic", "v6_dst_option_action_10",
    "v6_rh0_segments_left_1", "v6_unknown_next_header", "v6_frag_not_multiple_of_8",
    "v6_frag_first_without_upper_header", "v6_pmtu_ptb_1280", "v6_udp_closed_large",
    "ns_link_local_unicast",
]


def deviations() -> set[str]:
    """The case names listed under the README's deviations heading."""
    section = README.split("## Where tunstack deliberately answers differently", 1)[1]
    section = section.split("\n## ", 1)[0]
    return set(re.findall(r"^- `([a-z0-9_]+)`", section, re.MULTILINE))


def test_linux_corpus_is_the_probe_set() -> None:
    assert len(LINUX) >= 100
    assert {p.stem for p in LINUX} == set(KERNEL_CASES)


@pytest.mark.parametrize("path", LINUX, ids=lambda p: p.stem)
def test_linux_capture_matches_its_case(path: Path) -> None:
    records = read_all(path)
    case = KERNEL_CASES[path.stem]
    metadata = records[0].metadata
    assert metadata is not None
    assert (metadata["case"], metadata["reference"]) == (case.name, "linux")
    assert (metadata["description"], metadata["expect"]) == (case.description, case.expect)
    assert metadata["listen"] == case.listen
    assert metadata.get("deviation") == case.deviation
    assert metadata["kernel"] and metadata["sysctls"]["net.ipv4.ipfrag_time"] == "30"
    assert all(r.linktype == 101 and r.direction in (1, 2) for r in records)
    # the probes in the capture are the probe set's bytes: a changed builder or case
    # shows up here and needs a re-recording
    inbound = [r.data for r in records if r.direction == DIRECTION_INBOUND]
    assert inbound == [packet for _delay, packet in case.probes]


def test_readme_lists_every_case() -> None:
    listed = set(re.findall(r"^- `([a-z0-9_]+)`", README, re.MULTILINE))
    missing = {p.stem for p in LINUX + REGRESS} - listed
    assert not missing, f"corpus/README.md does not list: {sorted(missing)}"


def _replay_report(paths: list[Path], *extra: str,
                   capsys: pytest.CaptureFixture[str]) -> dict[str, bool]:
    replay_cli.main([*map(str, paths), "--expect", "--json", *extra])
    report = json.loads(capsys.readouterr().out)
    return {case["name"]: case["passed"] for entry in report["files"]
            for case in entry["cases"]}


def test_tunstack_answers_like_linux_except_documented(
        capsys: pytest.CaptureFixture[str]) -> None:
    results = _replay_report(LINUX, "--profile", "linux", capsys=capsys)
    assert len(results) == len(LINUX)
    failing = {name for name, passed in results.items() if not passed}
    assert not failing, (
        f"tunstack differs from Linux in {sorted(failing)}: fix the core, or give the case "
        "a deviation with its reason (stack/record/probes.py) and list it in corpus/README.md")


def test_documented_deviations_are_the_declared_ones(
        capsys: pytest.CaptureFixture[str]) -> None:
    declared = {name for name, case in KERNEL_CASES.items() if case.deviation}
    assert deviations() == declared
    # each still deviates: a case that starts matching Linux should lose its deviation
    paths = [p for p in LINUX if p.stem in declared]
    replay_cli.main([*map(str, paths), "--expect", "--json"])
    report = json.loads(capsys.readouterr().out)
    still = {case["name"] for entry in report["files"] for case in entry["cases"]
             if case["excused"]}
    assert still == declared


def test_regress_goldens_are_byte_exact(capsys: pytest.CaptureFixture[str]) -> None:
    assert REGRESS
    results = _replay_report(REGRESS, capsys=capsys)
    assert results and all(results.values()), results


def _can_record_live() -> bool:
    return os.geteuid() == 0 and os.path.exists("/dev/net/tun") and os.path.isdir("/run")


@pytest.mark.skipif(not _can_record_live(), reason="needs root and /dev/net/tun")
def test_kernel_still_answers_like_the_committed_captures() -> None:
    from stack.record.kernel import record_kernel
    ignore = get_profile("linux").ignore
    before = set(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else set()
    # TUNSTACK_RERECORD=all re-records every case but the 33 s frag_timeout (~90 s).
    names = LIVE_SAMPLE if os.environ.get("TUNSTACK_RERECORD") != "all" else \
        [name for name in KERNEL_CASES if name != "frag_timeout"]
    fresh = record_kernel([KERNEL_CASES[name] for name in names])
    after = set(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else set()
    assert not {n for n in after - before if n.startswith("ts-rec-")}, "namespace left behind"
    changed = []
    for recording in fresh:
        name = recording.case.name
        committed = [r.frame for r in read_all(CORPUS / "linux" / f"{name}.pcapng")
                     if r.direction != DIRECTION_INBOUND]  # link type 101: the IP packet
        now = recording.answers
        if len(committed) != len(now):
            changed.append(f"{name}: {len(committed)} answers committed, {len(now)} now")
            continue
        for index, (old, new) in enumerate(zip(committed, now, strict=True)):
            differences = inspect.diff(old, new, ignore)
            if differences:
                changed.append(f"{name} answer {index}: "
                               + "; ".join(str(d) for d in differences[:4]))
    assert not changed, "the kernel's behaviour changed:\n" + "\n".join(changed)
