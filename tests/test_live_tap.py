"""stack-live --tap in a namespace: the kernel resolves our MAC by ARP and by neighbour
discovery, and ping / ping -6 are answered through Ethernet frames."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from test_live_support import live_stack, needs_root, ping, shared_directory, wait_answering

from stack.capture import DIRECTION_INBOUND, LINKTYPE_ETHERNET, read_all
from stack.live.netns import run_in, temporary_netns

pytestmark = needs_root

MAC = "02:16:00:00:00:02"


def _neighbour(namespace: str, address: str) -> str:
    shown = run_in(namespace, ["ip", "neigh", "show", address, "dev", "tslt0"], timeout=10)
    return shown.stdout.strip()


def test_tap_mode_answers_arp_nd_ping_and_ping6(tmp_path: Path) -> None:
    record = Path(shared_directory(tmp_path)) / "tap.pcapng"
    with temporary_netns("ts-live") as namespace, \
            live_stack(namespace, "tslt0", "--tap", "--mac", MAC, "--record",
                       str(record)) as live:
        assert f"MAC {MAC}" in live.banner[0]
        assert wait_answering(namespace, "172.16.0.2"), _neighbour(namespace, "172.16.0.2")
        v4 = ping(namespace, "-c", "5", "-i", "0.05", "-W", "2", "-s", "3000", "172.16.0.2")
        assert wait_answering(namespace, "fd00:16::2")
        v6 = ping(namespace, "-6", "-c", "5", "-i", "0.05", "-W", "2", "fd00:16::2")
        arp_entry = _neighbour(namespace, "172.16.0.2")
        nd_entry = _neighbour(namespace, "fd00:16::2")
    assert "5 packets transmitted, 5 received, 0% packet loss" in v4.stdout, v4.stdout
    assert "5 packets transmitted, 5 received, 0% packet loss" in v6.stdout, v6.stdout
    # The kernel learned our MAC by ARP (RFC 826) and from our Neighbour Advertisement's
    # Target Link-Layer Address option (RFC 4861 §7.2.4).
    assert f"lladdr {MAC}" in arp_entry, arp_entry
    assert f"lladdr {MAC}" in nd_entry, nd_entry
    assert live.returncode == 0, live.stderr
    assert "arp.reply" in live.stdout
    records = read_all(str(record))
    assert {r.linktype for r in records} == {LINKTYPE_ETHERNET}
    assert any(r.frame[12:14] == b"\x08\x06" for r in records)
    assert records[0].metadata is not None and records[0].metadata["mode"] == "tap"
    # Every frame carries the host's reason as its comment (Wireshark's frame.comment):
    # an ARP request the host answered says so.
    assert all(r.comment for r in records)
    assert "arp.reply" in {r.comment for r in records if r.frame[12:14] == b"\x08\x06"
                           and r.direction == DIRECTION_INBOUND}
    # The IP packets of an Ethernet recording replay against the core alone: the
    # metadata carries our MAC, so the Neighbour Advertisements match too.
    replay = subprocess.run([sys.executable, "-m", "replay", str(record), "--expect"],
                            capture_output=True, text=True, timeout=120, check=False)
    assert replay.returncode == 0, replay.stdout[-2000:] + replay.stderr[-2000:]
