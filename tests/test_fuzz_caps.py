"""The fuzz inputs reach every cap of the host (ARCHITECTURE §3): seeds past each one,
and a mutator move that sends one packet from many peers."""

from __future__ import annotations

import random
from pathlib import Path

from fuzz import seeds
from fuzz.mutator import PacketMutator
from fuzz.regress import reproduce
from fuzz.sequence_codec import ADVANCE_MS, ADVANCE_S, PACKET, decode
from fuzz.targets import SEQUENCE_CONFIGS, START_TIME, TARGETS
from stack import Host


def _play(name: str) -> Host:
    config, steps = decode(seeds.sequence_seeds()[name])
    host = Host(SEQUENCE_CONFIGS[config])
    now = START_TIME
    for step in steps:
        if step.op == PACKET:
            host.handle(step.data, now)
        elif step.op == ADVANCE_MS:
            now += step.value / 1000
        elif step.op == ADVANCE_S:
            now += step.value
    return host


def test_the_seeds_go_past_every_cap() -> None:
    peers = _play("cap_ratelimit_peers")
    assert len(peers.ratelimiter) == SEQUENCE_CONFIGS[0].ratelimit_peers  # 14 peers seen
    assert _play("cap_global_ratelimit").stats.drops["icmp.global_rate_limited"] > 0
    assert len(_play("cap_pmtu_v4").ipv4.pmtu) == SEQUENCE_CONFIGS[0].pmtu_cache_size
    assert len(_play("cap_pmtu_v6").ipv6.pmtu) == SEQUENCE_CONFIGS[0].pmtu_cache_size
    assert _play("cap_fragments_per_datagram").stats.drops["frag.too_many_fragments"] == 1
    assert _play("cap_fragment_memory").stats.events["frag.evicted"] > 0
    assert _play("many_datagrams").stats.events["frag.evicted"] > 0
    beyond = _play("cap_beyond_65535")
    assert beyond.stats.replies["icmpv6.param_problem"] == 1  # a fragment past 65,535


def test_the_cap_seeds_break_no_rule() -> None:
    for name, data in seeds.sequence_seeds().items():
        assert reproduce(TARGETS["sequence"], data) is None, name
    for name, data in seeds.tap_timelines().items():
        assert reproduce(TARGETS["tap"], data) is None, name


def test_the_link_caps_are_reached() -> None:
    from fuzz.targets import TAP_CONFIG, _link_configs
    from stack.link.linkhost import LinkHost

    for name, lifetime_config in (("cap_neighbours", 1), ("cap_resolution_queue", 1)):
        config, steps = decode(seeds.tap_timelines()[name])
        assert config == lifetime_config
        link = LinkHost(Host(TAP_CONFIG), _link_configs()[config])
        now = START_TIME
        for step in steps:
            if step.op == PACKET:
                link.handle(step.data, now)
            elif step.op == ADVANCE_S:
                now += step.value
                link.poll(now)
        caps = _link_configs()[config]
        assert len(link.neighbours) <= caps.neighbour_capacity
        assert len(getattr(link, "_pending", {})) <= caps.pending_destinations


def test_the_peers_move_sends_a_packet_from_many_sources() -> None:
    target = TARGETS["sequence"]
    mutator = PacketMutator(random.Random(3), lambda data, size: data,
                            list(seeds.ipv4_seeds().values()), [])
    timeline = seeds.sequence_seeds()["ratelimit_v4"]
    sources: set[bytes] = set()
    for attempt in range(200):
        mutator.rng = random.Random(attempt)
        _, steps = decode(mutator.mutate_sequence(timeline, target.max_len))
        sources |= {step.data[12:16] for step in steps if step.op == PACKET}
    assert len(sources) > SEQUENCE_CONFIGS[0].ratelimit_peers * 2
    moved = mutator.other_source(seeds.ipv4_seeds()["udp_closed"], 7)
    assert moved[12:16] == bytes([10, 200, 7, 1])
    assert reproduce(TARGETS["ipv4"], moved) is None  # checksums repaired: still answered


def test_coverage_by_area_counts_what_the_inputs_reach(tmp_path: Path) -> None:
    from fuzz.measure import AREAS, measure_areas

    inputs = tmp_path / "sequence"
    inputs.mkdir()
    for name, data in seeds.sequence_seeds().items():
        (inputs / name).write_bytes(data)
    areas = {area.area: area for area in measure_areas({"sequence": [inputs]})}
    assert list(areas) == list(AREAS)
    host = areas["stack/host"]
    assert 0.5 * host.statements < host.covered < host.statements
    assert "host/config.py" not in host.missing  # reported apart
    assert all(name.startswith("host/") for name in host.missing)
    nothing = measure_areas({"sequence": [tmp_path / "missing"]})
    assert nothing[0].covered < host.covered
