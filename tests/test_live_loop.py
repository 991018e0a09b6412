"""The stack-live event loop, output and argument checks without a device: the loop
runs over a SOCK_SEQPACKET socket pair, which keeps packet boundaries as a TUN does."""

from __future__ import annotations

import io
import json
import os
import pwd
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from stack import Host, HostConfig
from stack.capture import DIRECTION_INBOUND, DIRECTION_OUTBOUND, CaptureWriter, read_all
from stack.host.stats import Stats
from stack.link.describe import describe_frame
from stack.live.cli import (
    LiveError,
    Settings,
    build_parser,
    check_arguments,
    host_metadata,
    main,
)
from stack.live.loop import LiveLoop
from stack.live.output import Reporter, format_summary
from stack.live.privileges import PrivilegeError, resolve_account
from stack.wire import icmpv4, ipv4

REQUEST = bytes.fromhex(
    "45000054812840004001615dac100001ac100002080054f5000d0001a1fb006a0000000041c4"
    "000000000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f"
    "3031323334353637")


class Exploding:
    """An answerer whose core raises on a packet starting with 0xff: the loop must
    count it and carry on."""

    def __init__(self) -> None:
        self.host = Host(HostConfig())

    @property
    def stats(self) -> Stats:
        return self.host.stats

    @property
    def last_reason(self) -> str:
        return self.host.last_reason

    def handle(self, packet: bytes, now: float) -> list[bytes]:
        if packet[:1] == b"\xff":
            raise RuntimeError("core bug")
        return self.host.handle(packet, now)

    def poll(self, now: float) -> list[bytes]:
        return self.host.poll(now)

    def next_timer(self) -> float | None:
        return self.host.next_timer()


def _run_loop(packets: list[bytes], record: Path | None = None,
              mode: str = "lines") -> tuple[list[bytes], LiveLoop, str]:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ours.setblocking(False)
    out = io.StringIO()
    recorder = CaptureWriter(str(record)) if record else None
    loop = LiveLoop(ours.fileno(), Exploding(), Reporter(out, mode), recorder)
    thread = threading.Thread(target=loop.run)
    thread.start()
    answers: list[bytes] = []
    try:
        theirs.settimeout(5)
        for packet in packets:
            theirs.send(packet)
        # The loop answers each echo; collect what comes back until it goes quiet.
        theirs.settimeout(1)
        while True:
            try:
                answers.append(theirs.recv(65536))
            except TimeoutError:
                break
    finally:
        loop.stop()
        thread.join(timeout=10)
        loop.close()
        if recorder:
            recorder.close()
        ours.close()
        theirs.close()
    assert not thread.is_alive()
    return answers, loop, out.getvalue()


def test_loop_answers_survives_a_core_exception_and_stops_on_request(tmp_path: Path) -> None:
    record = tmp_path / "loop.pcapng"
    answers, loop, text = _run_loop([REQUEST, b"\xff\x00", b"", REQUEST], record)
    assert len(answers) == 2 and all(a[20] == 0 for a in answers)  # two echo replies
    assert loop.core_exceptions == 1
    assert loop.answerer.stats.drops["live.core_exception"] == 1
    lines = text.splitlines()
    assert lines[0].endswith(
        "172.16.0.1 → 172.16.0.2 ICMP echo request id=13 seq=1 84 B ⇒ icmp.echo_reply 84 B")
    assert "⇒ dropped: live.core_exception (RuntimeError: core bug)" in lines[1]
    records = read_all(str(record))
    assert [r.direction for r in records] == [DIRECTION_INBOUND, DIRECTION_OUTBOUND,
                                              DIRECTION_INBOUND, DIRECTION_INBOUND,
                                              DIRECTION_INBOUND, DIRECTION_OUTBOUND]
    assert records[0].frame == REQUEST and records[1].frame == answers[0]
    # each packet's comment is the host's reason, the answers' that of their request
    assert [r.comment for r in records] == [
        "icmp.echo_reply", "icmp.echo_reply", "live.core_exception (RuntimeError: core bug)",
        "ip.empty", "icmp.echo_reply", "icmp.echo_reply"]


def test_json_lines_are_machine_readable() -> None:
    _, _, text = _run_loop([REQUEST], mode="json")
    record = json.loads(text.splitlines()[0])
    assert record["in"] == "172.16.0.1 → 172.16.0.2 ICMP echo request id=13 seq=1 84 B"
    assert record["action"] == "reply" and record["reason"] == "icmp.echo_reply"
    assert record["out_lengths"] == [84]


def test_quiet_prints_nothing_per_packet() -> None:
    _, _, text = _run_loop([REQUEST], mode="quiet")
    assert text == ""


def test_summary_reads_like_ping_statistics() -> None:
    stats = Stats()
    stats.received, stats.sent = 5, 3
    stats.replies["icmp.echo_reply"] = 3
    stats.drops.update({"ipv4.bad_checksum": 1, "ipv6.not_member": 1, "frag.held": 2})
    assert format_summary("tun0", stats, 2.5, {"core exceptions": 1}) == (
        "--- tun0 tunstack statistics ---\n"
        "5 packets received, 3 answered (3 packets sent), 2 held for reassembly, 2 dropped, "
        "time 2500ms\n"
        "replies: icmp.echo_reply 3\n"
        "drops: frag.held 2, ipv4.bad_checksum 1, ipv6.not_member 1\n"
        "core exceptions 1")


def test_arp_frames_are_described_like_tcpdump() -> None:
    request = (b"\xff" * 6 + bytes.fromhex("02aabbccddee") + b"\x08\x06"
               + bytes.fromhex("0001080006040001") + bytes.fromhex("02aabbccddee")
               + bytes([172, 16, 0, 1]) + bytes(6) + bytes([172, 16, 0, 2]))
    assert describe_frame(request) == (
        "02:aa:bb:cc:dd:ee → ff:ff:ff:ff:ff:ff ARP who-has 172.16.0.2 tell 172.16.0.1 42 B")
    frame = bytes(6) + bytes.fromhex("02aabbccddee") + b"\x08\x00" + REQUEST
    assert describe_frame(frame).endswith("ICMP echo request id=13 seq=1 84 B")


def _settings(*argv: str) -> Settings:
    return check_arguments(build_parser().parse_args(list(argv)))


def test_defaults_make_the_documented_host() -> None:
    settings = _settings()
    assert settings.device == "tun0"
    assert settings.busy_poll == 30e-6 and _settings("--busy-poll", "0").busy_poll == 0
    assert settings.config.addresses() == ["172.16.0.2", "fd00:16::2", "fe80::2"]
    assert settings.kernel == ["172.16.0.1/24", "fd00:16::1/64"]
    recorded = host_metadata(settings)["config"]
    assert isinstance(recorded, dict)
    assert {k: recorded[k] for k in ("ipv4", "ipv6", "mtu", "link_address", "udp_echo_ports")} == {
        "ipv4": "172.16.0.2/24", "ipv6": ["fd00:16::2/64", "fe80::2/64"], "mtu": 1500,
        "link_address": None, "udp_echo_ports": []}
    # every field is recorded, so a replay rebuilds exactly this host
    assert HostConfig.from_json(recorded) == settings.config


@pytest.mark.parametrize(("argv", "message"), [
    (["--mac", "02:00:00:00:00:09"], "--mac needs --tap"),
    (["--tap", "--mac", "01:00:00:00:00:09"], "bad MAC address"),
    (["--ipv6", "fd00:17::2/64"], "outside the kernel side's network fd00:16::/64"),
    (["--ipv4", "172.16.0.1/24"], "--ipv4 and --kernel-ipv4 are both 172.16.0.1"),
    (["--ipv4", "fd00::2/64"], "not an IPv4 address"),
    (["--ipv4", "172.16.0.2"], "give a prefix length"),
    (["--link-local", "fd00:16::9/64"], "not in fe80::/10"),
    (["--mtu", "1000"], "below IPv6's minimum of 1280"),
    (["--no-ipv4", "--no-ipv6"], "leave the stack no address"),
    (["-q", "--json"], "exclude each other"),
    (["--busy-poll", "-1"], "--busy-poll must be 0 to 1000000 microseconds"),
    (["--fifo-cmd", "/tmp/x"], "both --fifo-cmd and --fifo-resp"),
    (["--fifo-send-invalid"], "needs --fifo"),
    (["--fifo", "/tmp/d", "--tap"], "not with --tap"),
    (["--fifo", "/tmp/d", "--fifo-wait", "0"], "--fifo-wait 0: give 0.001 to 86400 seconds"),
])
def test_bad_arguments_are_refused_before_touching_anything(argv: list[str],
                                                            message: str) -> None:
    with pytest.raises(LiveError, match=message.replace("(", r"\(")):
        _settings(*argv)


def test_fifo_paths_default_inside_the_directory() -> None:
    settings = _settings("--fifo", "/run/ts")
    assert (settings.fifo_cmd, settings.fifo_resp, settings.fifo_log) == (
        "/run/ts/cmd", "/run/ts/resp", "/run/ts/session.log")
    settings = _settings("--fifo-cmd", "/tmp/tun_cmd", "--fifo-resp", "/tmp/tun_resp")
    assert settings.fifo_log == "/tmp/tunstack-session.log"


def test_main_prints_one_line_and_fails_on_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tsl9", "--ipv4", "999.1.1.1/24"]) == 2
    err = capsys.readouterr().err
    assert err == "stack-live: bad address '999.1.1.1/24' for --ipv4\n"


def test_stop_from_another_thread_wakes_an_idle_loop() -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    loop = LiveLoop(ours.fileno(), Host(HostConfig()), Reporter(io.StringIO(), "quiet"))
    thread = threading.Thread(target=loop.run)
    thread.start()
    time.sleep(0.05)
    loop.stop()
    thread.join(timeout=10)
    alive = thread.is_alive()
    loop.close()
    ours.close()
    theirs.close()
    assert not alive


def test_root_drops_to_the_sudo_user_then_nobody() -> None:
    if os.geteuid() != 0:
        assert resolve_account(None, {}).uid == os.geteuid()
        return
    nobody = pwd.getpwnam("nobody")
    assert resolve_account(None, {"SUDO_USER": "nobody"}).uid == nobody.pw_uid
    assert resolve_account(None, {}).name == "nobody"
    assert resolve_account(str(nobody.pw_uid), {"SUDO_USER": "root"}).name == "nobody"
    with pytest.raises(PrivilegeError, match="unknown user 'no-such-user-ts'"):
        resolve_account("no-such-user-ts", {})


def test_a_bad_flag_is_one_line_too(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--mtu", "big"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err == (
        "stack-live: argument --mtu: invalid int value: 'big' "
        "(stack-live --help lists the options)\n")


def _wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    """Poll ``condition`` until it holds or ``seconds`` pass (a bound, not a timing)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def _run_in_main_thread(loop: LiveLoop, drive: Callable[[], None]) -> None:
    """Run ``loop`` here, in the main thread with its signal handlers (so it may take the
    blocking fast path), while ``drive`` runs in a thread; put pytest's handlers back."""
    saved = {number: signal.getsignal(number)
             for number in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)}
    thread = threading.Thread(target=drive)
    try:
        loop.install_signal_handlers()
        thread.start()
        loop.run()
    finally:
        thread.join(timeout=10)
        for number, handler in saved.items():
            signal.signal(number, handler)
    assert not thread.is_alive()
    # The fast path leaves things as it found them.
    assert {n: signal.getsignal(n) for n in saved} == saved
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert not os.get_blocking(loop.fd)


def _run_quiet_in_main_thread(host: Host, drive: Callable[[socket.socket, LiveLoop], None],
                              busy_poll: float = 0.0) -> None:
    """A quiet loop over a socket pair, run by ``_run_in_main_thread``; ``drive`` gets
    the far end and the loop."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ours.setblocking(False)
    theirs.settimeout(5)
    loop = LiveLoop(ours.fileno(), host, Reporter(io.StringIO(), "quiet"), busy_poll=busy_poll)
    try:
        _run_in_main_thread(loop, lambda: drive(theirs, loop))
    finally:
        loop.close()
        ours.close()
        theirs.close()


@pytest.mark.parametrize("busy_poll", [0.0, 0.002])
def test_quiet_fast_path_reads_blocking_yields_to_a_timer_and_stops_on_a_signal(
        busy_poll: float) -> None:
    host = Host(HostConfig())
    # A 2000-byte echo request in two fragments: the first is held for reassembly,
    # which arms a timer (the reassembly timeout) that only the epoll path serves.
    big = ipv4.emit(tos=0, ident=0x4242, flags_offset=0, ttl=64, protocol=1,
                    src=bytes([172, 16, 0, 1]), dst=bytes([172, 16, 0, 2]),
                    payload=icmpv4.emit(8, 0, bytes.fromhex("00070001"), bytes(1972)))
    first, second = ipv4.fragment(big, 1500)
    seen: dict[str, object] = {}

    def drive(theirs: socket.socket, loop: LiveLoop) -> None:
        fd = loop.fd
        try:
            theirs.send(REQUEST)
            seen["echo"] = theirs.recv(65536)
            seen["blocking while idle"] = os.get_blocking(fd)
            theirs.send(first)
            seen["epoll while a fragment is held"] = _wait_for(lambda: not os.get_blocking(fd))
            theirs.send(second)
            seen["reply"] = [theirs.recv(65536), theirs.recv(65536)]
            seen["blocking again"] = _wait_for(lambda: os.get_blocking(fd))
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    _run_quiet_in_main_thread(host, drive, busy_poll)
    echo = seen["echo"]
    assert isinstance(echo, bytes) and echo[20] == 0 and echo[24:] == REQUEST[24:]
    assert seen["blocking while idle"] is True
    assert seen["epoll while a fragment is held"] is True
    reply = seen["reply"]
    assert isinstance(reply, list)
    assert [len(part) for part in reply] == [1500, 520] and reply[0][20] == 0
    assert seen["blocking again"] is True
    assert host.stats.replies["icmp.echo_reply"] == 2
    assert host.next_timer() is None


def test_quiet_fast_path_stop_from_another_thread() -> None:
    answers: list[bytes] = []
    blocking: list[bool] = []

    def drive(theirs: socket.socket, loop: LiveLoop) -> None:
        try:
            theirs.send(REQUEST)
            answers.append(theirs.recv(65536))
            blocking.append(os.get_blocking(loop.fd))
        finally:
            # The loop sleeps in a blocking read; the SIGALRM tick lets it see the stop.
            loop.stop()

    _run_quiet_in_main_thread(Host(HostConfig()), drive)
    assert len(answers) == 1 and answers[0][20] == 0
    assert blocking == [True]
