"""stack-live on a real TUN device, in a namespace each test module creates and deletes.

stack-live runs inside the namespace (``ip netns exec``) and ping runs there too, so no
packet leaves it. These tests need root (CI runs them as root); they assert what ping
and the kernel's sockets report, and what the recording holds.
"""

from __future__ import annotations

import errno
import pwd
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_live_support import (
    LIVE,
    Running,
    live_stack,
    loss_of,
    needs_root,
    ping,
    shared_directory,
    wait_answering,
)

from stack.capture import DIRECTION_INBOUND, DIRECTION_OUTBOUND, LINKTYPE_RAW, read_all
from stack.live.netns import run_in, temporary_netns

pytestmark = needs_root

DEVICE = "tsl0"


@pytest.fixture(scope="module")
def answering() -> Iterator[tuple[str, Running]]:
    """One namespace with stack-live answering on tsl0 (quiet: floods print nothing)."""
    with temporary_netns("ts-live") as namespace, live_stack(namespace, DEVICE, "-q") as live:
        assert wait_answering(namespace, "172.16.0.2"), live.banner
        yield namespace, live


@pytest.mark.parametrize("size", [0, 56, 1473, 3000])
def test_ping_ipv4_sizes_without_loss(answering: tuple[str, Running], size: int) -> None:
    # 1473 bytes of payload make 1501-byte datagrams: one byte over the MTU, so both
    # the request and the reply are fragmented; 3000 makes three fragments each way.
    namespace, _ = answering
    done = ping(namespace, "-c", "20", "-i", "0.02", "-W", "2", "-s", str(size), "172.16.0.2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "20 packets transmitted, 20 received, 0% packet loss" in done.stdout, \
        loss_of(done.stdout)


@pytest.mark.parametrize("size", [56, 3000])
def test_ping_ipv6_sizes_without_loss(answering: tuple[str, Running], size: int) -> None:
    namespace, _ = answering
    done = ping(namespace, "-6", "-c", "20", "-i", "0.02", "-W", "2", "-s", str(size),
                "fd00:16::2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "20 packets transmitted, 20 received, 0% packet loss" in done.stdout, \
        loss_of(done.stdout)


def test_flood_ping_without_loss(answering: tuple[str, Running]) -> None:
    namespace, _ = answering
    done = ping(namespace, "-f", "-c", "5000", "-W", "2", "172.16.0.2", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5000 packets transmitted, 5000 received, 0% packet loss" in done.stdout, \
        loss_of(done.stdout)


_UDP_PROBE = textwrap.dedent("""
    import errno, socket, sys
    family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.connect((sys.argv[1], 9))
        sock.send(b"anyone there?")
        try:
            sock.recv(100)
            print("answered")
        except ConnectionRefusedError:
            print("refused", errno.ECONNREFUSED)
        except TimeoutError:
            print("timeout")
""")


@pytest.mark.parametrize("address", ["172.16.0.2", "fd00:16::2"])
def test_udp_to_closed_port_is_refused(answering: tuple[str, Running], address: str) -> None:
    # The port unreachable from the stack reaches the connected socket as ECONNREFUSED
    # (Linux: __udp4_lib_err / __udp6_lib_err set sk_err for a connected socket).
    namespace, _ = answering
    done = run_in(namespace, [sys.executable, "-c", _UDP_PROBE, address], timeout=20)
    assert done.stdout.strip() == f"refused {errno.ECONNREFUSED}", done.stdout + done.stderr


def test_summary_counts_by_reason_on_sigint(tmp_path: Path) -> None:
    with temporary_netns("ts-live") as namespace:
        with live_stack(namespace, "tsl1") as live:
            assert wait_answering(namespace, "172.16.0.2")
            done = ping(namespace, "-c", "3", "-i", "0.05", "-W", "2", "172.16.0.2")
            assert "0% packet loss" in done.stdout
        assert live.returncode == 0, live.stderr
        lines = live.stdout.splitlines()
        echo_lines = [line for line in lines
                      if "172.16.0.1 → 172.16.0.2 ICMP echo request" in line]
        # wait_answering's pings plus the three: each with its verdict on its line.
        assert len(echo_lines) >= 4
        assert all(line.endswith("⇒ icmp.echo_reply 84 B") for line in echo_lines), echo_lines
        assert "--- tsl1 tunstack statistics ---" in lines
        replies = next(line for line in lines if line.startswith("replies: "))
        assert f"icmp.echo_reply {len(echo_lines)}" in replies


def _replay_command() -> list[str]:
    return [sys.executable, "-m", "replay"]


def test_recording_has_both_directions_and_replays(tmp_path: Path) -> None:
    record = Path(shared_directory(tmp_path)) / "live.pcapng"
    with temporary_netns("ts-live") as namespace:
        with live_stack(namespace, "tsl2", "-q", "--record", str(record)) as live:
            assert wait_answering(namespace, "172.16.0.2")
            assert "0% packet loss" in ping(namespace, "-c", "5", "-i", "0.02", "-W", "2",
                                            "-s", "3000", "172.16.0.2").stdout
            assert "0% packet loss" in ping(namespace, "-6", "-c", "5", "-i", "0.02", "-W",
                                            "2", "fd00:16::2").stdout
        assert live.returncode == 0, live.stderr
    records = read_all(str(record))
    assert {r.linktype for r in records} == {LINKTYPE_RAW}
    assert records[0].metadata is not None
    assert records[0].metadata["config"]["ipv4"] == "172.16.0.2/24"
    inbound = [r for r in records if r.direction == DIRECTION_INBOUND]
    outbound = [r for r in records if r.direction == DIRECTION_OUTBOUND]
    # 5 pings of 3 fragments each way, 5 IPv6 echoes; wait_answering adds some.
    assert len(inbound) >= 20 and len(outbound) >= 20
    assert all(r.timestamp > 1e9 for r in records)
    replay = subprocess.run([*_replay_command(), str(record), "--expect"],
                            capture_output=True, text=True, timeout=120, check=False)
    assert replay.returncode == 0, replay.stdout[-2000:] + replay.stderr[-2000:]


# -- errors: one line on stderr, non-zero exit --------------------------------------------
def _one_line_failure(done: subprocess.CompletedProcess[str], expected: str) -> None:
    assert done.returncode != 0, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("stack-live: ") and expected in lines[0], lines[0]


def test_error_bad_address() -> None:
    done = subprocess.run([*LIVE, "tsl9", "--ipv4", "172.16.0.300/24"], capture_output=True,
                          text=True, timeout=60, check=False)
    _one_line_failure(done, "bad address '172.16.0.300/24' for --ipv4")
    done = subprocess.run([*LIVE, "tsl9", "--ipv4", "10.0.0.2/24"], capture_output=True,
                          text=True, timeout=60, check=False)
    _one_line_failure(done, "outside the kernel side's network 172.16.0.0/24")


AS_NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")


def test_error_not_root() -> None:
    with temporary_netns("ts-live") as namespace:
        done = run_in(namespace, [*AS_NOBODY, *LIVE, "tsl9"], timeout=60)
    _one_line_failure(done, "must run as root")


def test_without_root_on_a_device_the_user_owns() -> None:
    # docs/live.md: a persistent device made for a user needs no root with --no-configure.
    with temporary_netns("ts-live") as namespace:
        try:
            for command in (["tuntap", "add", "dev", "tsl10", "mode", "tun", "user", "65534"],
                            ["addr", "add", "10.78.0.1/24", "dev", "tsl10"],
                            ["link", "set", "tsl10", "up"]):
                made = subprocess.run(["ip", "-n", namespace, *command], capture_output=True,
                                      text=True, timeout=30, check=False)
                assert made.returncode == 0, made.stderr
            # Most distributions make /dev/net/tun mode 0666; this machine's is 0600, so
            # the test gives itself such a node in a private mount namespace.
            world_tun = ("unshare", "--mount", "--propagation", "private", "sh", "-c",
                         "mount -t tmpfs tmpfs /dev/net && "
                         "mknod -m 666 /dev/net/tun c 10 200 && exec \"$@\"", "sh")
            with live_stack(namespace, "tsl10", "--no-configure", "--no-ipv6", "--ipv4",
                            "10.78.0.2/24", "-q", runner=world_tun + AS_NOBODY) as live:
                assert wait_answering(namespace, "10.78.0.2")
        finally:
            subprocess.run(["ip", "-n", namespace, "link", "del", "tsl10"],
                           capture_output=True, timeout=30, check=False)
    assert "running as nobody" in live.banner[-1]
    assert live.returncode == 0, live.stderr


def test_error_no_dev_net_tun() -> None:
    # A private mount namespace where /dev/net is an empty tmpfs: no /dev/net/tun.
    with temporary_netns("ts-live") as namespace:
        script = 'mount -t tmpfs tmpfs /dev/net && exec "$@"'
        done = run_in(namespace, ["unshare", "--mount", "--propagation", "private", "sh",
                                  "-c", script, "sh", *LIVE, "tsl9"], timeout=60)
    _one_line_failure(done, "no /dev/net/tun")


def test_error_device_busy() -> None:
    with temporary_netns("ts-live") as namespace, live_stack(namespace, "tsl3", "-q"):
        done = run_in(namespace, [*LIVE, "tsl3"], timeout=60)
    _one_line_failure(done, "device tsl3 is busy")


def test_error_configured_differently() -> None:
    with temporary_netns("ts-live") as namespace:
        try:
            for command in (["tuntap", "add", "dev", "tsl4", "mode", "tun"],
                            ["addr", "add", "10.9.9.1/24", "dev", "tsl4"]):
                made = subprocess.run(["ip", "-n", namespace, *command], capture_output=True,
                                      text=True, timeout=30, check=False)
                assert made.returncode == 0, made.stderr
            done = run_in(namespace, [*LIVE, "tsl4"], timeout=60)
        finally:
            subprocess.run(["ip", "-n", namespace, "link", "del", "tsl4"], capture_output=True,
                           timeout=30, check=False)
    _one_line_failure(done, "tsl4 is already configured differently (has 10.9.9.1/24")


def test_privileges_dropped_to_nobody() -> None:
    with temporary_netns("ts-live") as namespace, live_stack(namespace, "tsl5", "-q") as live:
        pid = live.proc.pid
        status = Path(f"/proc/{pid}/status").read_text()
        uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
        cap_line = next(line for line in status.splitlines() if line.startswith("CapEff:"))
    assert "running as nobody" in live.banner[-1]
    # real, effective, saved and filesystem uid: all nobody's, no capability left.
    assert uid_line.split()[1:] == [str(pwd.getpwnam("nobody").pw_uid)] * 4
    assert int(cap_line.split()[1], 16) == 0


def test_no_configure_uses_the_device_as_the_user_set_it_up() -> None:
    with temporary_netns("ts-live") as namespace:
        try:
            for command in (["tuntap", "add", "dev", "tsl6", "mode", "tun"],
                            ["link", "set", "tsl6", "mtu", "1400", "up"],
                            ["addr", "add", "10.77.0.1/24", "dev", "tsl6"]):
                made = subprocess.run(["ip", "-n", namespace, *command], capture_output=True,
                                      text=True, timeout=30, check=False)
                assert made.returncode == 0, made.stderr
            with live_stack(namespace, "tsl6", "--no-configure", "--no-ipv6",
                            "--ipv4", "10.77.0.2/24") as live:
                assert "(TUN, mtu 1400)" in live.banner[0]
                assert wait_answering(namespace, "10.77.0.2")
                # 1500-byte datagrams over a 1400-byte device: fragmented both ways.
                done = ping(namespace, "-c", "3", "-i", "0.05", "-W", "2", "-s", "1472",
                            "10.77.0.2")
        finally:
            subprocess.run(["ip", "-n", namespace, "link", "del", "tsl6"], capture_output=True,
                           timeout=30, check=False)
    assert "3 received, 0% packet loss" in done.stdout, done.stdout


def test_sigterm_ends_the_loop_with_the_summary() -> None:
    with temporary_netns("ts-live") as namespace, live_stack(namespace, "tsl8", "-q") as live:
        assert wait_answering(namespace, "172.16.0.2")
        live.proc.send_signal(signal.SIGTERM)
        live.proc.wait(timeout=10)
    assert live.returncode == 0
    assert live.stdout.startswith("--- tsl8 tunstack statistics ---\n")
