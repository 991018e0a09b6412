"""``stack-live --workers N`` (stack/live/workers.py): the state rules of several hosts
on one device queue, the fragment hand-off between workers, the banner's I/O line, and
the fallback to one process when fork is refused. The live tests run stack-live in a
namespace of their own (test_live_support), so no packet leaves it."""

from __future__ import annotations

import io
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from test_live_support import live_stack, loss_of, needs_root, ping, wait_answering

from bench.packets import echo_request_v4, echo_request_v6, fragment_v4
from stack import Host, HostConfig
from stack.live.loop import CoreLatency, LiveLoop
from stack.live.output import Reporter
from stack.live.workers import for_first_worker, stats_from_dict, worker_config

ROOT = Path(__file__).resolve().parent.parent


def test_worker_config_shares_the_global_icmp_budget() -> None:
    config = HostConfig()
    assert worker_config(config, 1) is config
    share = worker_config(config, 4)
    # Linux's defaults: 1000 messages/s and a burst of 50, shared by IPv4 and IPv6.
    assert (share.icmp_msgs_per_sec, share.icmp_msgs_burst) == (250, 12)
    assert share.icmp_ratelimit_ms == 4 * config.icmp_ratelimit_ms
    assert share.icmpv6_ratelimit_ms == 4 * config.icmpv6_ratelimit_ms
    assert share.frag_mem_limit == config.frag_mem_limit  # only the first reassembles
    off = worker_config(HostConfig(icmp_msgs_per_sec=0, icmp_msgs_burst=3), 8)
    assert (off.icmp_msgs_per_sec, off.icmp_msgs_burst) == (0, 1)  # off stays off


def test_fragments_and_extension_headers_go_to_the_first_worker() -> None:
    whole = echo_request_v4(1, 84)
    pieces = fragment_v4(echo_request_v4(2, 3000), 1500)
    assert not for_first_worker(whole)
    assert len(pieces) == 3 and all(for_first_worker(p) for p in pieces)
    plain_v6 = echo_request_v6(1, 104)
    assert not for_first_worker(plain_v6)
    with_fragment_header = plain_v6[:6] + bytes([44]) + plain_v6[7:]
    assert for_first_worker(with_fragment_header)
    assert not for_first_worker(b"\x45" + bytes(10))  # too short to be anything


def test_core_latency_and_stats_merge_across_workers() -> None:
    first, second = CoreLatency(), CoreLatency()
    host = Host(HostConfig())
    for elapsed in (5_000, 9_000):
        first.add(elapsed, host)
    second.add(2_000, host)
    second.add(40_000, host)
    first.merge(second.totals())
    assert (first.count, first.total, first.low, first.high) == (4, 56_000, 2_000, 40_000)
    assert first.squares == 5_000**2 + 9_000**2 + 2_000**2 + 40_000**2
    host.handle(echo_request_v4(1, 84), 1.0)
    again = stats_from_dict(host.stats.as_dict())
    assert again.as_dict() == host.stats.as_dict()


def _socket_device() -> tuple[socket.socket, socket.socket]:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ours.setblocking(False)
    theirs.settimeout(5)
    return ours, theirs


def _running(loop: LiveLoop) -> threading.Thread:
    thread = threading.Thread(target=loop.run)  # not the main thread: the epoll path
    thread.start()
    return thread


def test_a_later_worker_hands_fragments_over_and_answers_the_rest() -> None:
    device, kernel = _socket_device()
    to_first, at_first = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    at_first.settimeout(5)
    loop = LiveLoop(device.fileno(), Host(HostConfig()), Reporter(io.StringIO(), "quiet"))
    loop.shared_queue = True
    loop.handoff_to = to_first.fileno()
    thread = _running(loop)
    pieces = fragment_v4(echo_request_v4(7, 3000), 1500)
    whole = echo_request_v4(8, 84)
    try:
        for piece in pieces:
            kernel.send(piece)
        kernel.send(whole)
        handed = [at_first.recv(65536) for _ in pieces]
        reply = kernel.recv(65536)
    finally:
        loop.stop()
        thread.join(5)
        loop.close()
    assert handed == pieces  # byte for byte, in order
    assert reply == Host(HostConfig()).handle(whole, 1.0)[0]
    assert loop.handed_off == 3 and loop.answerer.stats.received == 1


def test_the_first_worker_answers_what_is_handed_over() -> None:
    device, kernel = _socket_device()
    to_first, at_first = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    at_first.setblocking(False)
    loop = LiveLoop(device.fileno(), Host(HostConfig()), Reporter(io.StringIO(), "quiet"))
    loop.shared_queue = True
    loop.handoff_from = at_first.fileno()
    thread = _running(loop)
    request = echo_request_v4(9, 3000)
    pieces = fragment_v4(request, 1500)
    try:
        for piece in pieces:
            to_first.send(piece)
        replies = [kernel.recv(65536) for _ in range(3)]
    finally:
        loop.stop()
        thread.join(5)
        loop.close()
    expected = Host(HostConfig())
    for piece in pieces:
        answer = expected.handle(piece, 1.0)
    assert replies == answer  # the reassembled echo's reply, in three fragments


def _stack_live(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stack.live.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, check=False, timeout=60)


@pytest.mark.parametrize(("args", "message"), [
    (["--workers", "0"], "--workers must be 1 to 64"),
    (["--workers", "65"], "--workers must be 1 to 64"),
    (["--workers", "2", "--record", "x.pcapng"], "--workers 2 and --record exclude"),
    (["--workers", "2", "--tap"], "--workers 2 and --tap exclude"),
    (["--workers", "3", "--fifo", "/tmp/nowhere"], "--workers 3 and --fifo exclude"),
])
def test_workers_usage_errors_are_one_line(args: list[str], message: str) -> None:
    done = _stack_live("tsw9", *args)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr


def test_version_names_the_io_paths() -> None:
    done = _stack_live("--version")
    assert done.returncode == 0
    first, second = done.stdout.splitlines()
    assert first.startswith("stack-live ") and "core " in first
    assert second.startswith("I/O paths: epoll loop") and "--workers N" in second


def _answered(summary: str) -> int:
    line = next(line for line in summary.splitlines() if line.startswith("replies: "))
    return int(line.split("icmp.echo_reply ")[1].split(",")[0])


def _floods(namespace: str, count: int, floods: int) -> list[str]:
    procs = [subprocess.Popen(["ip", "netns", "exec", namespace, "ping", "-n", "-q", "-f",
                               "-c", str(count), "-w", "60", "172.16.0.2"],
                              stdout=subprocess.PIPE, text=True) for _ in range(floods)]
    return [proc.communicate(timeout=90)[0] for proc in procs]


@needs_root
def test_two_workers_answer_floods_and_fragments_in_one_summary() -> None:
    from stack.live.netns import temporary_netns

    with temporary_netns("ts-work") as namespace:
        with live_stack(namespace, "tsw0", "-q", "--workers", "2") as live:
            assert any(line.startswith("I/O: 2 worker processes sharing the device's queue")
                       for line in live.banner), live.banner
            assert wait_answering(namespace, "172.16.0.2")
            big = subprocess.Popen(["ip", "netns", "exec", namespace, "ping", "-n", "-q",
                                    "-c", "20", "-i", "0.01", "-s", "3000", "172.16.0.2"],
                                   stdout=subprocess.PIPE, text=True)
            floods = _floods(namespace, 2000, 3)
            fragmented = big.communicate(timeout=60)[0]
            six = ping(namespace, "-6", "-c", "3", "-i", "0.05", "-s", "3000", "fd00:16::2")
        assert live.returncode == 0, live.stderr
    assert all("0% packet loss" in out for out in floods), [loss_of(o) for o in floods]
    assert " 0% packet loss" in fragmented, loss_of(fragmented)  # reassembled
    assert " 0% packet loss" in six.stdout, loss_of(six.stdout)
    answered = _answered(live.stdout)
    # Both workers' answers are in the one summary: the floods, the fragmented pings,
    # and the few of wait_answering.
    assert 3 * 2000 + 20 <= answered <= 3 * 2000 + 20 + 10, live.stdout + live.stderr
    assert "workers 2; fragments handed to the first worker " in live.stdout


@needs_root
def test_workers_fall_back_to_one_process_when_fork_is_refused() -> None:
    from stack.live.netns import temporary_netns

    if shutil.which("prlimit") is None:  # util-linux, essential on Debian
        pytest.fail("no prlimit command: apt-get install util-linux", pytrace=False)
    # No processes at all for the account stack-live drops to: root set-up still works
    # (RLIMIT_NPROC does not bind root), the workers' fork is refused.
    with temporary_netns("ts-work") as namespace:
        with live_stack(namespace, "tsw1", "-q", "--workers", "2",
                        runner=("prlimit", "--nproc=0")) as live:
            assert wait_answering(namespace, "172.16.0.2")
            done = ping(namespace, "-c", "5", "-i", "0.05", "172.16.0.2")
        assert live.returncode == 0, live.stderr
    io_line = next(line for line in live.banner if line.startswith("I/O: "))
    assert io_line.startswith("I/O: one process, blocking read"), io_line
    assert io_line.endswith("(--workers 2 unavailable: fork: Resource temporarily "
                            "unavailable)"), io_line
    assert " 0% packet loss" in done.stdout
    assert "workers" not in live.stdout


def test_banner_io_line_names_the_path() -> None:
    from stack.live.workers import io_path_text

    assert io_path_text(1, 30, True) == ("I/O: one process, blocking read, one write per "
                                         "answer, 30 us busy-poll")
    assert io_path_text(1, 0, False) == "I/O: one process, epoll, up to 64 reads per wake-up"
    assert io_path_text(2, 30, True).endswith("each blocking read, one write per answer, "
                                              "the first with 30 us busy-poll")
