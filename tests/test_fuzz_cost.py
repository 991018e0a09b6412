"""Cheaper fuzz executions, same power: a host reset in place is a fresh host, the
config is parsed once, and the sampled cross-checks still run where it matters."""

from __future__ import annotations

import dataclasses
from typing import Any

from fuzz import seeds
from fuzz import targets as fuzz_targets
from fuzz.regress import check_inputs, reproduce
from fuzz.targets import PACKET_CONFIG, SEQUENCE_CONFIGS, START_TIME, TARGETS, fresh_host
from stack import Host, HostConfig
from stack.oracle import find_violations


def _state(value: Any, seen: set[int] | None = None) -> Any:
    """Everything a host holds, as plain values: the objects of the stack's own
    classes by their attributes (each object once: the layers point back at the host)."""
    seen = set() if seen is None else seen
    if isinstance(value, dict):
        return {key: _state(item, seen) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_state(item, seen) for item in value]
    if type(value).__module__.startswith("stack.") and not isinstance(value, HostConfig):
        if id(value) in seen:
            return "<seen>"
        seen.add(id(value))
        names: list[str] = []
        for klass in type(value).__mro__:
            names.extend(getattr(klass, "__slots__", ()) or getattr(klass, "__mypyc_attrs__", ()))
        names.extend(getattr(value, "__dict__", {}))
        return {name: _state(getattr(value, name, None), seen) for name in sorted(set(names))
                if not name.startswith("__")}
    return value


def _busy(host: Host) -> None:
    """Fill every table: fragments held, peers rate-limited, a path MTU learnt."""
    now = START_TIME
    for packet in list(seeds.ipv4_seeds().values()) + list(seeds.ipv6_seeds().values()):
        for _ in range(3):
            host.handle(packet, now)
            now += 0.001


def test_a_reset_host_is_a_fresh_host() -> None:
    for config in (PACKET_CONFIG, *SEQUENCE_CONFIGS):
        host = Host(config)
        fresh = _state(Host(config))
        _busy(host)
        assert _state(host) != fresh  # the seeds do change the state
        host.reset()
        assert _state(host) == fresh


def test_a_reset_host_answers_as_a_fresh_one() -> None:
    kept = fresh_host(PACKET_CONFIG)
    _busy(kept)
    for packet in list(seeds.ipv4_seeds().values()) + list(seeds.ipv6_seeds().values()):
        host = fresh_host(PACKET_CONFIG)
        assert host is kept
        new = Host(PACKET_CONFIG)
        assert host.handle(packet, START_TIME) == new.handle(packet, START_TIME)
        assert host.stats.as_dict() == new.stats.as_dict()


def test_the_config_parses_its_addresses_once() -> None:
    config = HostConfig(ipv4="10.1.2.3/30", ipv6=("2001:db8::7/64",))
    assert config.ipv4_interface is config.ipv4_interface
    assert config.ipv4_parts == (bytes([10, 1, 2, 3]), bytes([10, 1, 2, 3]))
    assert config.ipv6_parts == ((bytes.fromhex("20010db8" + "0" * 20 + "0007"), 64),)
    assert HostConfig(ipv4="10.1.2.3/31").ipv4_parts == (bytes([10, 1, 2, 3]), None)
    assert HostConfig(ipv4=None).ipv4_parts is None
    # Not fields: equality, replace and to_json see the texts only.
    assert dataclasses.replace(config, ttl=9).ipv4_parts == config.ipv4_parts
    assert "_parsed" not in config.to_json() and config == HostConfig(
        ipv4="10.1.2.3/30", ipv6=("2001:db8::7/64",))


def test_sampled_readings_are_full_where_findings_are_judged(monkeypatch: Any) -> None:
    """A dpkt-only finding is sampled while fuzzing, yet always reproduced, and the
    final corpus check (stack-fuzz ci's last step) finds it on every input."""
    import stack.oracle as oracle

    def dpkt_disagrees(packet: bytes, parsed: Any, add: Any) -> None:
        add("output.dpkt_disagrees", "planted")

    monkeypatch.setattr(oracle, "_cross_check_dpkt", dpkt_disagrees)
    echo = seeds.ipv4_seeds()["echo"]
    outcomes = []
    for _ in range(fuzz_targets.CROSS_CHECK_EVERY * 2):
        try:
            TARGETS["ipv4"].run(echo)
            outcomes.append(False)
        except AssertionError:
            outcomes.append(True)
    assert 1 <= sum(outcomes) <= 3  # sampled: one input in CROSS_CHECK_EVERY
    found = reproduce(TARGETS["ipv4"], echo)
    assert found is not None and found.rules == ["output.dpkt_disagrees"]
    host = Host(PACKET_CONFIG)
    assert [v.rule for v in find_violations(echo, host.handle(echo, START_TIME), host)] == [
        "output.dpkt_disagrees"]


def test_the_final_corpus_check_runs_every_input_in_full(tmp_path: Any,
                                                         monkeypatch: Any) -> None:
    import stack.oracle as oracle

    for index, data in enumerate(seeds.ipv4_seeds().values()):
        (tmp_path / f"seed-{index}").write_bytes(data)
    checked, findings = check_inputs(TARGETS["ipv4"], [tmp_path, tmp_path / "missing"])
    assert checked == len(seeds.ipv4_seeds()) and findings == []
    monkeypatch.setattr(oracle, "_cross_check_dpkt",
                        lambda packet, parsed, add: add("output.dpkt_disagrees", "planted"))
    checked, findings = check_inputs(TARGETS["ipv4"], [tmp_path])
    answered = 0
    for data in seeds.ipv4_seeds().values():
        host = Host(PACKET_CONFIG)
        answered += bool(host.handle(data, START_TIME)
                         or host.poll(START_TIME + fuzz_targets.FLUSH_AFTER))
    assert len(findings) == answered > 10
