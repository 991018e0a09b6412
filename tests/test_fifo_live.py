"""The FIFO referee on a real TUN device in a namespace: a scripted responder makes ping
succeed, the experiment's published (wrong) reply gets its ERR, and the experiment's
instruction file works unchanged against /tmp/tun_cmd and /tmp/tun_resp."""

from __future__ import annotations

import subprocess
from pathlib import Path

from test_live_support import (
    echo_reply_for,
    fifo_ask,
    live_stack,
    needs_root,
    shared_directory,
)

from stack.live.netns import temporary_netns

pytestmark = needs_root

PUBLISHED_REPLY = (
    "4500005481284000400160ddac100002ac10000100005cf5000d0001a1fb006a0000000041c4"
    "000000000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f"
    "3031323334353637")


def _start_ping(namespace: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(["ip", "netns", "exec", namespace, "ping", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen[str], seconds: float) -> tuple[int, str]:
    try:
        out, err = proc.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate(timeout=5)
    return proc.returncode, out + err


def test_scripted_responder_makes_ping_succeed(tmp_path: Path) -> None:
    directory = Path(shared_directory(tmp_path)) / "fifo"
    cmd, resp = str(directory / "cmd"), str(directory / "resp")
    with temporary_netns("ts-live") as namespace, \
            live_stack(namespace, "tsf0", "--fifo", str(directory), "--fifo-wait", "3") as live:
        pinger = _start_ping(namespace, "-c", "3", "-i", "0.3", "-W", "10", "172.16.0.2")
        try:
            answered = 0
            for _ in range(20):
                line = fifo_ask(cmd, resp, "READ", 10)
                if line == "TIMEOUT":
                    continue
                reply = echo_reply_for(bytes.fromhex(line))
                assert reply is not None, line
                assert fifo_ask(cmd, resp, "WRITE " + reply.hex(), 10) == "OK"
                answered += 1
                if answered == 3:
                    break
            code, output = _finish(pinger, 30)
        finally:
            if pinger.poll() is None:
                pinger.kill()
                pinger.wait(timeout=5)
    assert code == 0, output
    assert "3 packets transmitted, 3 received, 0% packet loss" in output
    assert live.returncode == 0, live.stderr
    log = (directory / "session.log").read_text()
    assert log.count(" READ -> 45") >= 3
    assert log.count("-> OK") == 3
    # Our replies copy DF and the request's ID; the log says that is harmless.
    assert "harmless differences from the core's answer" in log
    assert "3 WRITEs sent, 0 refused, 0 sent invalid" in live.stdout, live.stdout


def test_published_wrong_reply_is_refused_with_the_header_checksum(tmp_path: Path) -> None:
    directory = Path(shared_directory(tmp_path)) / "fifo"
    cmd, resp = str(directory / "cmd"), str(directory / "resp")
    with temporary_netns("ts-live") as namespace, \
            live_stack(namespace, "tsf1", "--fifo", str(directory), "--fifo-wait", "10"):
        pinger = _start_ping(namespace, "-c", "1", "-W", "5", "172.16.0.2")
        try:
            request = fifo_ask(cmd, resp, "READ", 15)
            assert request.startswith("45"), request
            answer = fifo_ask(cmd, resp, "WRITE " + PUBLISHED_REPLY, 10)
            code, output = _finish(pinger, 15)
        finally:
            if pinger.poll() is None:
                pinger.kill()
                pinger.wait(timeout=5)
    assert answer == "ERR ipv4 header checksum 0x60dd, expected 0x615d"
    assert code != 0 and "100% packet loss" in output


def test_the_instruction_file_commands_work_unchanged() -> None:
    # ping-respond.md's two commands, verbatim, against the paths it names.
    read_command = 'echo "READ" > /tmp/tun_cmd && timeout 35 cat /tmp/tun_resp'
    for stale in ("/tmp/tun_cmd", "/tmp/tun_resp"):
        assert not Path(stale).exists() or Path(stale).is_fifo(), stale
    with temporary_netns("ts-live") as namespace, \
            live_stack(namespace, "tsf2", "--fifo-cmd", "/tmp/tun_cmd",
                       "--fifo-resp", "/tmp/tun_resp", "--fifo-log",
                       "/tmp/tsf2-session.log") as live:
        pinger = _start_ping(namespace, "-c", "1", "-W", "30", "172.16.0.2")
        try:
            read = subprocess.run(["sh", "-c", read_command], capture_output=True, text=True,
                                  timeout=40, check=False)
            request = bytes.fromhex(read.stdout.strip())
            reply = echo_reply_for(request)
            assert reply is not None, read.stdout
            write_command = (f'echo "WRITE {reply.hex()}" > /tmp/tun_cmd && '
                             'timeout 5 cat /tmp/tun_resp')
            write = subprocess.run(["sh", "-c", write_command], capture_output=True,
                                   text=True, timeout=10, check=False)
            code, output = _finish(pinger, 35)
        finally:
            if pinger.poll() is None:
                pinger.kill()
                pinger.wait(timeout=5)
    Path("/tmp/tsf2-session.log").unlink(missing_ok=True)
    assert write.stdout == "OK\n"
    assert code == 0 and "1 received" in output, output
    assert live.returncode == 0, live.stderr
    assert not Path("/tmp/tun_cmd").exists() and not Path("/tmp/tun_resp").exists()


def test_send_invalid_lets_the_kernel_drop_a_bad_reply(tmp_path: Path) -> None:
    directory = Path(shared_directory(tmp_path)) / "fifo"
    cmd, resp = str(directory / "cmd"), str(directory / "resp")
    with temporary_netns("ts-live") as namespace, \
            live_stack(namespace, "tsf3", "--fifo", str(directory), "--fifo-wait", "10",
                       "--fifo-send-invalid"):
        pinger = _start_ping(namespace, "-c", "1", "-W", "3", "172.16.0.2")
        try:
            request = bytes.fromhex(fifo_ask(cmd, resp, "READ", 15))
            reply = echo_reply_for(request)
            assert reply is not None
            broken = reply[:10] + bytes([reply[10] ^ 0xFF]) + reply[11:]
            answer = fifo_ask(cmd, resp, "WRITE " + broken.hex(), 10)
            code, output = _finish(pinger, 15)
        finally:
            if pinger.poll() is None:
                pinger.kill()
                pinger.wait(timeout=5)
    stored, right = broken[10] << 8 | broken[11], reply[10] << 8 | reply[11]
    assert answer == (f"OK sent despite: ipv4 header checksum 0x{stored:04x}, "
                      f"expected 0x{right:04x}")
    # The packet reached the kernel, which discarded it (ip_rcv_core checks the header
    # checksum): ping saw no reply.
    assert code != 0 and "100% packet loss" in output, output
