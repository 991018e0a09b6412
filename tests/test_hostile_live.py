"""stack-live under hostile input (issue 17 items 9, 10, 11, 14 and the extras) and its
policy flags and core latency (issue 18 items 3, 4).

Every bad command line is one ``stack-live: …`` line on stderr, exit status 2, and no
traceback; the FIFO referee gives one answer per command whatever a client writes; files
given to ``--record``/``--fifo-log`` are never someone else's afterwards. The live tests
run stack-live in a namespace of their own (tests/test_live_support.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import pwd
import re
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import test_live_support
from test_bench import EXPECTED_ROWS
from test_fifo import CORRECTED_REPLY, REQUEST, Client
from test_link import OTHER_MAC, OUR_IP, PEER_IP, PEER_MAC, arp_frame, make_link
from test_live_support import (
    LIVE,
    fifo_ask,
    live_stack,
    needs_root,
    ping,
    shared_directory,
    wait_answering,
)

import bench.live
from bench.measure import Options
from stack import HostConfig
from stack.capture import DIRECTION_OUTBOUND, read_capture
from stack.link.describe import describe_frame
from stack.live.cli import build_parser, check_arguments, main
from stack.live.fifo import ANSWER_LIMIT, LINE_LIMIT
from stack.live.files import OutputFileError, open_output
from stack.live.loop import CoreLatency
from stack.live.netns import temporary_netns
from stack.live.output import Reporter, format_summary
from stack.live.policy import (
    POLICIES,
    by_sysctl,
    changed_policies,
    format_value,
    policy_rows,
)
from stack.live.privileges import Account, PrivilegeError, resolve_account

needs_euid_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (CI runs as root)")


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """main(argv) must exit 2 with one stack-live line on stderr; returns that line."""
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("stack-live: "), captured.err
    assert captured.out == ""
    return lines[0]


# -- item 9: --fifo-wait -------------------------------------------------------------------
@pytest.mark.parametrize("wait", ["1e7", "inf", "nan", "-1", "0", "-inf", "86400.5", "1e-4"])
def test_fifo_wait_out_of_range_is_refused_at_start(
        wait: str, capsys: pytest.CaptureFixture[str]) -> None:
    line = _refused(["tsh9", "--fifo", "/tmp/ts-nowhere", f"--fifo-wait={wait}"], capsys)
    assert f"--fifo-wait {float(wait):g}: give 0.001 to 86400 seconds" in line, line


def test_fifo_wait_limits_are_accepted() -> None:
    for wait in ("0.001", "86400"):
        args = build_parser().parse_args(["tsh9", "--fifo", "/tmp/d", "--fifo-wait", wait])
        assert check_arguments(args).fifo_wait == float(wait)


def test_the_issue_command_is_one_line_without_traceback() -> None:
    done = subprocess.run([*LIVE, "tun0", "--fifo", "/tmp/ts-nowhere", "--fifo-wait", "1e7"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr == "stack-live: --fifo-wait 1e+07: give 0.001 to 86400 seconds\n"


# -- item 11: flags that must be refused ---------------------------------------------------
@pytest.mark.parametrize("port", ["70000", "-1", "0", "65536"])
def test_udp_echo_outside_the_port_range_is_refused(
        port: str, capsys: pytest.CaptureFixture[str]) -> None:
    line = _refused(["tsh9", "--udp-echo", "7", "--udp-echo", port], capsys)
    assert line == f"stack-live: --udp-echo {int(port)}: a UDP port is 1..65535"


def test_udp_echo_port_limits_are_accepted() -> None:
    args = build_parser().parse_args(["tsh9", "--udp-echo", "1", "--udp-echo", "65535"])
    assert check_arguments(args).config.udp_echo_ports == frozenset({1, 65535})


@pytest.mark.parametrize("addresses", [
    ["fd00:16::2/64", "fd00:99::2/64"],
    ["fd00:16::2/64", "fd00:16::3/64", "2001:db8::2/64"],
])
def test_every_ipv6_address_is_checked_against_the_kernel_prefix(
        addresses: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["tsh9"] + [item for a in addresses for item in ("--ipv6", a)]
    line = _refused(argv, capsys)
    outside = addresses[-1].split("/")[0]
    assert line == (f"stack-live: bad address: --ipv6 {outside} is outside the kernel side's "
                    "network fd00:16::/64, so the kernel would not route to it")


def test_a_second_ipv6_inside_the_prefix_and_a_link_local_one_are_fine() -> None:
    args = build_parser().parse_args(["tsh9", "--ipv6", "fd00:16::2/64", "--ipv6",
                                      "fd00:16::7/64", "--ipv6", "fe80::9/64"])
    config = check_arguments(args).config
    assert config.ipv6 == ("fd00:16::2/64", "fd00:16::7/64", "fe80::9/64", "fe80::2/64")


# -- item 10: the FIFO referee, one command, one answer ------------------------------------
@pytest.fixture()
def client(tmp_path: Path) -> Iterator[Client]:
    made = Client(tmp_path)
    try:
        yield made
    finally:
        made.referee.close()


def _write_cmd(client: Client, data: bytes) -> None:
    writer = os.open(client.cmd, os.O_WRONLY)
    try:
        os.write(writer, data)
    finally:
        os.close(writer)


def test_a_too_long_line_is_one_err_and_is_skipped_to_its_newline(client: Client) -> None:
    # 3 MiB of hex (more than the 1 MiB limit, across many reads), then READ on the same
    # line stream: one ERR for the long line, then READ's own answer; nothing stale.
    client.referee.on_inbound(REQUEST, 99.0)
    reader = os.open(client.resp, os.O_RDONLY | os.O_NONBLOCK)
    writer = os.open(client.cmd, os.O_WRONLY | os.O_NONBLOCK)
    try:
        pending = b"WRITE " + b"ab" * (3 * LINE_LIMIT // 2) + b"\nREAD\n"
        answers = ""
        for turn in range(2000):
            if pending:
                with contextlib.suppress(BlockingIOError):
                    pending = pending[os.write(writer, pending[:65536]):]
            client.referee.on_command_readable(100.0 + turn * 1e-3)
            client.referee.poll(100.0 + turn * 1e-3)
            answers += Client._collect(reader)
            if not pending and answers.count("\n") >= 2:
                break
    finally:
        os.close(writer)
        os.close(reader)
    assert answers == "ERR command too long (over 1 MiB): discarded\n" + REQUEST.hex() + "\n"
    assert client.sent == []


def test_a_client_dying_mid_line_does_not_glue_onto_the_next_command(client: Client) -> None:
    client.referee.on_inbound(REQUEST, 99.0)
    _write_cmd(client, b"WRITE 4500")  # and the client is gone: the writer closed
    client.referee.on_command_readable(100.0)
    assert client.command("READ") == REQUEST.hex() + "\n"
    assert client.referee.counts["partial_lines"] == 1
    assert "in the middle of a line; discarded b'WRITE 4500'" in client.log.getvalue()
    # The pipe was reopened for the next client: the protocol goes on.
    assert client.command("WRITE " + CORRECTED_REPLY.hex()) == "OK\n"


def test_a_second_command_before_the_first_answer_is_read_is_refused(client: Client) -> None:
    _write_cmd(client, b"READ\n")  # a READ waiting for a packet: its answer is due
    client.referee.on_command_readable(100.0)
    # A second client (or the same one, not waiting) asks meanwhile: not run.
    assert client.command("WRITE " + CORRECTED_REPLY.hex(), now=101.0) == (
        "ERR busy: the answer to an earlier command is not read yet (one client at a "
        "time; read RESP after each command)\n")
    assert client.sent == []
    assert client.referee.counts["busy"] == 1


def test_writes_without_reading_the_answers_do_not_grow_memory(client: Client) -> None:
    # A client that writes commands and never reads RESP: the referee holds at most
    # ANSWER_LIMIT answers, then stops reading, so the client's writes meet a full pipe.
    line = ("WRITE " + CORRECTED_REPLY.hex() + "\n").encode()
    writer = os.open(client.cmd, os.O_WRONLY | os.O_NONBLOCK)
    written = 0
    try:
        for _ in range(5000):
            try:
                os.write(writer, line)
            except BlockingIOError:
                break
            written += 1
            client.referee.on_command_readable(100.0)
    finally:
        os.close(writer)
    assert written < 5000, "the pipe never filled: the referee kept reading"
    assert len(client.referee._answers) == ANSWER_LIMIT
    assert not client.referee.accepting()
    assert len(client.referee._buffer) <= len(line)
    # Once the answers are read, the held-back commands are taken up again.
    reader = os.open(client.resp, os.O_RDONLY | os.O_NONBLOCK)
    try:
        client.referee.poll(100.5)
        first = Client._collect(reader)
    finally:
        os.close(reader)
    assert first.splitlines()[0] == "OK"
    assert client.referee.accepting()


def test_the_instruction_file_commands_still_work(client: Client) -> None:
    # docs/fifo-responder.md's loop: one command, its answer, the next command.
    client.referee.on_inbound(REQUEST, 99.0)
    assert client.command("READ") == REQUEST.hex() + "\n"
    assert client.command("WRITE " + CORRECTED_REPLY.hex()) == "OK\n"
    assert client.command("READ", now=101.0) == ""  # waits: nothing queued
    assert client.later(131.0) == "TIMEOUT\n"


# -- item 14: files and privileges ---------------------------------------------------------
def _nobody() -> Account:
    entry = pwd.getpwnam("nobody")
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid)


@pytest.fixture()
def shared(tmp_path: Path) -> Path:
    return Path(shared_directory(tmp_path))


@needs_euid_root
def test_a_symlink_is_not_followed(shared: Path) -> None:
    precious = shared / "precious"
    precious.write_bytes(b"root's secret\n")
    os.chmod(precious, 0o600)
    (shared / "link.pcapng").symlink_to(precious)
    for append in (False, True):
        with pytest.raises(OutputFileError, match="is a symbolic link"):
            open_output(str(shared / "link.pcapng"), _nobody(), append=append, what="--record")
    assert precious.read_bytes() == b"root's secret\n"
    assert precious.stat().st_uid == 0 and stat.S_IMODE(precious.stat().st_mode) == 0o600


@needs_euid_root
def test_an_existing_file_of_someone_else_is_neither_written_nor_chowned(shared: Path) -> None:
    precious = shared / "session.log"
    precious.write_bytes(b"root's\n")
    os.chmod(precious, 0o600)
    with pytest.raises(OutputFileError, match="exists and belongs to uid 0, not to nobody"):
        open_output(str(precious), _nobody(), append=True, what="--fifo-log")
    assert precious.read_bytes() == b"root's\n" and precious.stat().st_uid == 0


@needs_euid_root
def test_a_hard_link_is_refused(shared: Path) -> None:
    original = shared / "original"
    original.write_bytes(b"x")
    os.chown(original, _nobody().uid, _nobody().gid)
    os.link(original, shared / "second-name")
    with pytest.raises(OutputFileError, match="2 hard links"):
        open_output(str(shared / "second-name"), _nobody(), append=True, what="--fifo-log")


@needs_euid_root
def test_a_new_file_is_created_for_the_account(shared: Path) -> None:
    path = shared / "new.pcapng"
    with open_output(str(path), _nobody(), append=False, what="--record") as stream:
        stream.write(b"data")
        assert stream.name == str(path)
    assert path.stat().st_uid == _nobody().uid and path.read_bytes() == b"data"


@needs_euid_root
def test_the_accounts_own_file_is_reused_truncated_or_appended(shared: Path) -> None:
    path = shared / "mine"
    path.write_bytes(b"old\n")
    os.chown(path, _nobody().uid, _nobody().gid)
    with open_output(str(path), _nobody(), append=True, what="--fifo-log") as stream:
        stream.write(b"new\n")
    assert path.read_bytes() == b"old\nnew\n"
    with open_output(str(path), _nobody(), append=False, what="--record") as stream:
        stream.write(b"fresh")
    assert path.read_bytes() == b"fresh" and path.stat().st_uid == _nobody().uid


@needs_euid_root
def test_a_directory_the_account_cannot_write_is_refused(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)  # root's: nobody may not create files in it
    with pytest.raises(OutputFileError, match="nobody may not write in"):
        open_output(str(tmp_path / "x.pcapng"), _nobody(), append=False, what="--record")
    assert not (tmp_path / "x.pcapng").exists()


@needs_euid_root
def test_root_is_kept_only_with_stay_root() -> None:
    for name in ("root", "0"):
        with pytest.raises(PrivilegeError, match=f"--user {name} would keep full root"):
            resolve_account(name, {})
    fallback = resolve_account(None, {"SUDO_USER": "root"})
    assert fallback.name == "nobody" and "SUDO_USER root is root" in fallback.why
    kept = resolve_account(None, {"SUDO_USER": "root"}, stay_root=True)
    assert kept.uid == 0 and "--stay-root" in kept.why
    with pytest.raises(PrivilegeError, match="excludes --user nobody"):
        resolve_account("nobody", {}, stay_root=True)


@needs_euid_root
def test_user_root_without_stay_root_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    line = _refused(["tsh9", "--user", "0"], capsys)
    assert line == ("stack-live: --user 0 would keep full root after set-up: add --stay-root "
                    "if that is meant")


@needs_root
def test_fifo_pipes_are_made_only_where_the_account_could_make_them(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)  # root's own: nobody may not create anything in it
    with temporary_netns("ts-live") as namespace:
        made_dir = subprocess.run(["ip", "netns", "exec", namespace, *LIVE, "tsh12", "-q",
                                   "--fifo", str(tmp_path / "fifo")],
                                  capture_output=True, text=True, timeout=60, check=False)
        pipes = subprocess.run(["ip", "netns", "exec", namespace, *LIVE, "tsh12", "-q",
                                "--fifo-cmd", str(tmp_path / "cmd"), "--fifo-resp",
                                str(tmp_path / "resp"), "--fifo-log", "/tmp/ts-never.log"],
                               capture_output=True, text=True, timeout=60, check=False)
    assert made_dir.returncode == 1 and made_dir.stderr == (
        f"stack-live: --fifo {tmp_path}/fifo: nobody may not write in {tmp_path}, so "
        "stack-live will not write there for it: choose a directory nobody can write\n")
    assert pipes.returncode == 1 and pipes.stderr.startswith(
        f"stack-live: --fifo-cmd {tmp_path}/cmd: nobody may not write in {tmp_path}"), \
        pipes.stderr
    assert sorted(os.listdir(tmp_path)) == []
    assert not os.path.exists("/tmp/ts-never.log")


@needs_root
def test_stack_live_refuses_a_symlinked_record_and_a_foreign_fifo_log(shared: Path) -> None:
    precious = shared / "shadow"
    precious.write_text("secret\n")
    os.chmod(precious, 0o600)
    (shared / "rec.pcapng").symlink_to(precious)
    with temporary_netns("ts-live") as namespace:
        record = subprocess.run(["ip", "netns", "exec", namespace, *LIVE, "tsh1", "-q",
                                 "--record", str(shared / "rec.pcapng")],
                                capture_output=True, text=True, timeout=60, check=False)
        log = subprocess.run(["ip", "netns", "exec", namespace, *LIVE, "tsh1", "-q",
                              "--fifo", str(shared / "fifo"), "--fifo-log", str(precious)],
                             capture_output=True, text=True, timeout=60, check=False)
    assert record.returncode == 1 and record.stderr == (
        f"stack-live: --record {shared}/rec.pcapng: is a symbolic link; stack-live does not "
        "follow links for files it writes as root\n"), record.stderr
    assert log.returncode == 1 and log.stderr.startswith(
        f"stack-live: --fifo-log {precious}: exists and belongs to uid 0, not to "), log.stderr
    assert precious.read_text() == "secret\n"
    assert precious.stat().st_uid == 0 and stat.S_IMODE(precious.stat().st_mode) == 0o600


# -- issue 18 item 3: every policy on the command line -------------------------------------
ADDRESS_FIELDS = {"ipv4", "ipv6", "mtu", "link_address", "udp_echo_ports"}


def test_every_hostconfig_field_has_a_flag_or_an_address_flag() -> None:
    fields = {f.name for f in dataclasses.fields(HostConfig)}
    assert {p.field for p in POLICIES} == fields - ADDRESS_FIELDS
    assert len({p.flag for p in POLICIES}) == len(POLICIES)


def test_help_lists_every_policy_flag_with_its_sysctl() -> None:
    text = build_parser().format_help()
    for policy in POLICIES:
        assert policy.option in text, policy.option
        if policy.sysctl:
            assert policy.sysctl in " ".join(text.split()), policy.sysctl


def test_docs_live_lists_the_policy_table() -> None:
    docs = (Path(__file__).resolve().parent.parent / "docs" / "live.md").read_text()
    for flag, sysctl, default in policy_rows():
        assert f"| `{flag}` | {sysctl} | {default} |" in docs, flag


@pytest.mark.parametrize(("argv", "field", "value"), [
    (["--icmp-echo-ignore-broadcasts", "0"], "echo_ignore_broadcasts", False),
    (["--icmp-echo-ignore-all", "1"], "echo_ignore_all", True),
    (["--icmp-ratelimit", "250"], "icmp_ratelimit_ms", 250),
    (["--icmp-ratemask", "0x1819"], "icmp_ratemask", 0x1819),
    (["--icmp-ratemask", "6169"], "icmp_ratemask", 6169),
    (["--icmp-msgs-per-sec", "0"], "icmp_msgs_per_sec", 0),
    (["--icmp-msgs-burst", "7"], "icmp_msgs_burst", 7),
    (["--accept-source-route", "1"], "accept_source_route", True),
    (["--ipfrag-high-thresh", "65536"], "frag_mem_limit", 65536),
    (["--ipfrag-time", "2.5"], "frag_timeout", 2.5),
    (["--timestamp-replies", "0"], "timestamp_replies", False),
    (["--icmpv6-ratemask", "1-4,128"], "icmpv6_ratemask", frozenset({1, 2, 3, 4, 128})),
    (["--ip-default-ttl", "77"], "ttl", 77),
    (["--sysctl", "net.ipv4.icmp_echo_ignore_broadcasts=0"], "echo_ignore_broadcasts", False),
    (["--sysctl", "net/ipv6/icmp/ratelimit=5"], "icmpv6_ratelimit_ms", 5),
    (["--sysctl", "ipfrag_time=9"], "frag_timeout", 9.0),
])
def test_policy_flags_set_the_host_config(argv: list[str], field: str, value: object) -> None:
    config = check_arguments(build_parser().parse_args(["tsh9", *argv])).config
    assert getattr(config, field) == value
    assert getattr(config, field) != getattr(HostConfig(), field)
    # The recording's metadata carries it, and replay's reader rebuilds the same host.
    assert HostConfig.from_json(config.to_json()) == config


@pytest.mark.parametrize(("argv", "message"), [
    (["--icmp-echo-ignore-broadcasts", "2"], "--icmp-echo-ignore-broadcasts takes 0 or 1, "
                                              "not '2'"),
    (["--icmp-echo-ignore-all", "yes"], "--icmp-echo-ignore-all takes 0 or 1, not 'yes'"),
    # Syntax here, ranges by HostConfig's own check, named by the flag either way.
    (["--icmp-ratelimit", "-1"], "--icmp-ratelimit: -1 outside 0..2147483647"),
    (["--icmp-ratelimit", "1.5"], "--icmp-ratelimit takes an integer, not '1.5'"),
    (["--icmp-ratemask", "x"], "--icmp-ratemask takes an integer, not 'x'"),
    (["--icmp-ratemask", "0x100000000"], "--icmp-ratemask: 4294967296 outside 0..4294967295"),
    (["--ipfrag-time", "nan"], "--ipfrag-time: nan is not a duration (more than 0 seconds, "
                               "at most ten years)"),
    (["--ipfrag-time", "inf"], "--ipfrag-time: inf is not a duration"),
    (["--ipfrag-time", "0"], "--ipfrag-time: 0.0 is not a duration"),
    (["--ipfrag-time", "soon"], "--ipfrag-time takes a number of seconds, not 'soon'"),
    (["--ipfrag-high-thresh", "0"], "--ipfrag-high-thresh: 0 outside 1..9223372036854775807"),
    (["--ip-default-ttl", "256"], "--ip-default-ttl: 256 outside 1..255"),
    (["--icmpv6-ratemask", "3-1"], "--icmpv6-ratemask takes ICMPv6 types 0..255 as ranges"),
    (["--icmpv6-ratemask", "0-256"], "--icmpv6-ratemask takes ICMPv6 types 0..255 as ranges"),
    (["--min-pmtu", "67"], "--min-pmtu: 67 outside 68..65535"),
    (["--sysctl", "net.ipv4.tcp_sack=1"], "--sysctl 'net.ipv4.tcp_sack=1': give NAME=VALUE"),
    (["--sysctl", "icmp_ratelimit"], "--sysctl 'icmp_ratelimit': give NAME=VALUE"),
    (["--sysctl", "net.ipv4.icmp_ratelimit=x"], "--sysctl net.ipv4.icmp_ratelimit takes an "
                                                "integer, not 'x'"),
    (["--sysctl", "net.ipv4.ip_default_ttl=0"], "--sysctl net.ipv4.ip_default_ttl: 0 outside "
                                                "1..255"),
    (["--icmp-ratelimit", "5", "--sysctl", "net.ipv4.icmp_ratelimit=6"],
     "--icmp-ratelimit and --sysctl net.ipv4.icmp_ratelimit set the same policy"),
])
def test_bad_policy_values_are_one_line_and_exit_2(
        argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    line = _refused(["tsh9", *argv], capsys)
    assert message in line, line


def test_every_policy_parser_takes_back_what_it_prints() -> None:
    defaults = HostConfig()
    for policy in POLICIES:
        value = getattr(defaults, policy.field)
        assert policy.parse(format_value(policy, value)) == value, policy.flag
        assert by_sysctl(policy.sysctl or policy.flag) is policy


@pytest.mark.parametrize("flag", ["--record", "--user", "--fifo", "--fifo-log"])
def test_an_empty_path_or_name_is_refused(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    line = _refused(["tsh9", flag, ""], capsys)
    assert line == f"stack-live: {flag} needs a value, not an empty one"


def test_changed_policies_name_only_what_differs() -> None:
    assert changed_policies(HostConfig()) == []
    config = HostConfig(echo_ignore_broadcasts=False, icmp_ratemask=0x1819)
    assert changed_policies(config) == ["--icmp-echo-ignore-broadcasts 0",
                                        "--icmp-ratemask 0x1819"]
    assert changed_policies(HostConfig(icmpv6_ratemask=frozenset())) == [
        "--icmpv6-ratemask ''"]


# -- issue 18 item 4: the core's latency -----------------------------------------------------
class _Reason:
    last_reason = "icmp.echo_reply"


def test_core_latency_is_ping_style() -> None:
    latency = CoreLatency()
    assert latency.text() == "" and latency.as_dict() == {"answered": 0}
    answerer = _Reason()
    for ns in (4000, 6000, 5000):
        latency.add(ns, answerer)  # type: ignore[arg-type]
    answerer.last_reason = "frag.reassembled"
    latency.add(9000, answerer)  # type: ignore[arg-type]
    # mean 6 us; deviations -2, 0, -1, 3: mdev sqrt(14/4) = 1.87 us
    assert latency.as_dict() == {"answered": 4, "min_us": 4.0, "avg_us": 6.0, "max_us": 9.0,
                                 "mdev_us": 1.9, "slowest": "frag.reassembled"}
    assert latency.text() == ("core latency min/avg/max/mdev = 4.0/6.0/9.0/1.9 us over 4 "
                              "answered packets (read to write); slowest: frag.reassembled")


# -- live: a non-default policy recorded and replayed; the latency line ------------------
@needs_root
def test_a_policy_flag_is_live_recorded_and_replayed_byte_for_byte(tmp_path: Path) -> None:
    record = Path(shared_directory(tmp_path)) / "ttl.pcapng"
    with temporary_netns("ts-live") as namespace, \
            live_stack(namespace, "tsh2", "--ip-default-ttl", "77", "--icmp-ratelimit", "0",
                       "--sysctl", "net.ipv6.icmp.echo_ignore_all=1",
                       "--record", str(record)) as live:
        assert wait_answering(namespace, "172.16.0.2")
        pinged = ping(namespace, "-c", "3", "-i", "0.05", "-W", "2", "172.16.0.2")
        ignored = ping(namespace, "-6", "-c", "2", "-i", "0.05", "-W", "1", "fd00:16::2")
    assert ("policy not Linux's default: --ip-default-ttl 77 --icmpv6-echo-ignore-all 1 "
            "--icmp-ratelimit 0") in live.banner, live.banner
    assert "ttl=77" in pinged.stdout, pinged.stdout
    assert "100% packet loss" in ignored.stdout, ignored.stdout
    assert live.returncode == 0, live.stderr
    records = list(read_capture(record))
    assert any(r.data[8] == 77 for r in records if r.direction == DIRECTION_OUTBOUND)
    # Core latency in the Ctrl-C statistics, per answered packet.
    assert "core latency min/avg/max/mdev = " in live.stdout, live.stdout
    assert "slowest: icmp.echo_reply" in live.stdout, live.stdout
    replay = subprocess.run([sys.executable, "-m", "replay", str(record), "--expect"],
                            capture_output=True, text=True, timeout=120, check=False)
    # A host rebuilt with the defaults would answer TTL 64 to the pings and answer the
    # IPv6 ones: both would mismatch.
    assert replay.returncode == 0, replay.stdout[-2000:] + replay.stderr[-2000:]
    assert "1 passed, 0 failed" in replay.stdout, replay.stdout


@needs_root
def test_json_summary_carries_the_core_latency() -> None:
    with temporary_netns("ts-live") as namespace, \
            live_stack(namespace, "tsh3", "--json") as live:
        assert wait_answering(namespace, "172.16.0.2")
        ping(namespace, "-c", "2", "-i", "0.05", "-W", "2", "172.16.0.2")
    summary = json.loads(live.stdout.strip().splitlines()[-1])
    latency = summary["core_latency"]
    assert latency["answered"] >= 2 and latency["slowest"] == "icmp.echo_reply"
    assert 0 < latency["min_us"] <= latency["avg_us"] <= latency["max_us"]



# -- extras: a gratuitous ARP is told as what it did ----------------------------------------
def test_a_gratuitous_arp_from_a_known_neighbour_is_logged_as_a_cache_update() -> None:
    link = make_link()
    link.handle(arp_frame(1, PEER_MAC, PEER_IP, OUR_IP), 1.0)  # the peer is learned
    # RFC 5227 §3 announcement: sender and target are the peer's address, a new MAC.
    announcement = arp_frame(1, OTHER_MAC, PEER_IP, PEER_IP)
    out = io.StringIO()
    reporter = Reporter(out, "lines", describe_frame)
    replies = link.handle(announcement, 2.0)
    reporter.packet(2.0, announcement, link.last_reason, replies)
    reporter.flush()
    assert replies == [] and link.last_reason == "arp.neighbour_updated"
    assert link.neighbours.lookup(PEER_IP, 2.0) == OTHER_MAC
    assert out.getvalue().rstrip().endswith("⇒ neighbour cache updated: arp.neighbour_updated")
    assert "1 updated the neighbour cache, 0 dropped" in format_summary(
        "tap0", link.stats, 1.0)
    # From a stranger it teaches nothing, and says so.
    stranger = make_link()
    assert stranger.handle(announcement, 2.0) == []
    assert stranger.last_reason == "arp.not_for_us"
    assert stranger.neighbours.lookup(PEER_IP, 2.0) is None


# -- extras: a second stack-live with the same kernel-side prefix ---------------------------
@needs_root
def test_a_second_stack_live_with_the_same_prefix_is_refused() -> None:
    with temporary_netns("ts-live") as namespace, live_stack(namespace, "tsh4", "-q"):
        second = subprocess.run(["ip", "netns", "exec", namespace, *LIVE, "tsh5", "-q"],
                                capture_output=True, text=True, timeout=60, check=False)
        other_v6 = subprocess.run(["ip", "netns", "exec", namespace, *LIVE, "tsh6", "-q",
                                   "--no-ipv4", "--kernel-ipv6", "fd00:16:0:0:1::1/80",
                                   "--ipv6", "fd00:16:0:0:1::2/80"],
                                  capture_output=True, text=True, timeout=60, check=False)
        routes = subprocess.run(["ip", "-n", namespace, "route", "show", "172.16.0.0/24"],
                                capture_output=True, text=True, timeout=30, check=False)
    assert second.returncode == 1
    assert second.stderr == (
        "stack-live: 172.16.0.0/24 is already on tsh4 (172.16.0.1/24): a second device with "
        "it would give the kernel two routes for one prefix; choose another "
        "--kernel-ipv4/--ipv4 or --kernel-ipv6/--ipv6, or stop the other\n"), second.stderr
    # A prefix inside the first one's overlaps it as well.
    assert other_v6.returncode == 1
    assert ("stack-live: fd00:16:0:0:1::/80 overlaps fd00:16::/64, already on tsh4 "
            "(fd00:16::1/64)") in other_v6.stderr, \
        other_v6.stderr
    assert len(routes.stdout.strip().splitlines()) == 1, routes.stdout


@needs_root
def test_quiet_fast_path_times_every_answered_packet() -> None:
    # -q on TUN takes the blocking fast path, which keeps the sums in locals.
    with temporary_netns("ts-live") as namespace, live_stack(namespace, "tsh7", "-q") as live:
        assert wait_answering(namespace, "172.16.0.2")
        ping(namespace, "-c", "4", "-i", "0.05", "-W", "2", "172.16.0.2")
        ping(namespace, "-c", "1", "-W", "2", "-s", "3000", "172.16.0.2")  # reassembled
    assert live.returncode == 0, live.stderr
    answered = re.search(r"received, (\d+) answered", live.stdout)
    timed = re.search(r"core latency min/avg/max/mdev = ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) "
                      r"us over (\d+) answered packets \(read to write\); slowest: (\S+)",
                      live.stdout)
    assert answered and timed, live.stdout
    assert int(timed.group(5)) == int(answered.group(1)) >= 5
    low, mean, high = (float(timed.group(i)) for i in (1, 2, 3))
    assert 0 < low <= mean <= high
    assert timed.group(6) == "icmp.echo_reply"


@needs_root
def test_sudo_user_root_drops_to_nobody_and_stay_root_keeps_root_saying_so() -> None:
    def uids(pid: int) -> list[str]:
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
        return next(line for line in status if line.startswith("Uid:")).split()[1:]

    with temporary_netns("ts-live") as namespace:
        with live_stack(namespace, "tsh8", "-q", runner=("env", "SUDO_USER=root")) as live:
            dropped = uids(live.proc.pid)
        with live_stack(namespace, "tsh8", "-q", "--stay-root",
                        runner=("env", "SUDO_USER=root")) as kept_live:
            kept = uids(kept_live.proc.pid)
    assert live.banner[-1] == ("running as nobody (SUDO_USER root is root; --stay-root keeps "
                               "root); Ctrl-C to stop")
    assert dropped == [str(pwd.getpwnam("nobody").pw_uid)] * 4
    assert kept_live.banner[-1] == ("running as root (--stay-root: root kept after set-up); "
                                    "Ctrl-C to stop")
    assert kept == ["0"] * 4


# -- a fresh machine without ping: one clear line naming the package -------------------------
def test_without_ping_the_live_bench_rows_say_what_to_install(
        monkeypatch: pytest.MonkeyPatch) -> None:
    real_which = bench.live.shutil.which
    monkeypatch.setattr(bench.live.shutil, "which",
                        lambda name: None if name == "ping" else real_which(name))
    monkeypatch.setattr(bench.live.os, "geteuid", lambda: 0)
    rows = bench.live.bench_live(Options(quick=True))
    assert [r.what for r in rows] == EXPECTED_ROWS["live"]
    assert {r.figure for r in rows} == {
        "not available: no ping command (apt-get install iputils-ping)"}


def test_without_ping_a_live_test_fails_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(test_live_support.shutil, "which", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match="^no ping command: apt-get install "
                                                    "iputils-ping$"):
        ping("ts-never-made", "-c", "1", "172.16.0.2")


# -- item 10 live: a client flooding WRITEs and never reading -----------------------------
def _rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return int(next(line for line in status if line.startswith("VmRSS:")).split()[1])


@needs_root
def test_a_write_flood_without_reading_leaves_stack_live_small(tmp_path: Path) -> None:
    directory = Path(shared_directory(tmp_path)) / "fifo"
    cmd = str(directory / "cmd")
    line = ("WRITE " + CORRECTED_REPLY.hex() + "\n").encode()
    with temporary_netns("ts-live") as namespace, \
            live_stack(namespace, "tsh10", "--fifo", str(directory)) as live:
        before = _rss_kib(live.proc.pid)
        writer = os.open(cmd, os.O_WRONLY | os.O_NONBLOCK)
        written = refused_in_a_row = 0
        try:
            # 20000 commands at most; the pipe filling (the referee no longer reading)
            # for 50 tries in a row, 20 ms apart, ends it sooner.
            while written < 20000 and refused_in_a_row < 50:
                try:
                    os.write(writer, line)
                except BlockingIOError:
                    refused_in_a_row += 1
                    time.sleep(0.02)
                    continue
                written += 1
                refused_in_a_row = 0
        finally:
            os.close(writer)
        after = _rss_kib(live.proc.pid)
    assert refused_in_a_row == 50, f"the referee read all {written} commands"
    assert after - before < 4096, (before, after)  # kB; before the fix: ~1 kB a command
    assert live.returncode == 0, live.stderr
    assert "commands refused as busy" in live.stdout, live.stdout


@needs_root
def test_a_100_mib_line_to_stack_live_gets_one_answer(tmp_path: Path) -> None:
    directory = Path(shared_directory(tmp_path)) / "fifo"
    cmd, resp = str(directory / "cmd"), str(directory / "resp")
    with temporary_netns("ts-live") as namespace, \
            live_stack(namespace, "tsh11", "--fifo", str(directory)) as live:
        writer = os.open(cmd, os.O_WRONLY)  # blocking: the referee reads as we write
        try:
            block = b"ab" * (1 << 19)  # 1 MiB
            os.write(writer, b"WRITE ")
            for _ in range(100):
                os.write(writer, block)
            os.write(writer, b"\n")
        finally:
            os.close(writer)
        # An empty line is no command: fifo_ask only reads the long line's answer.
        first = fifo_ask(cmd, resp, "", 10)
        second = fifo_ask(cmd, resp, "WRITE " + CORRECTED_REPLY.hex(), 10)
    # One ERR for the 100 MiB line, nothing more; the next command has its own answer.
    assert (first, second) == ("ERR command too long (over 1 MiB): discarded", "OK"), \
        (first, second)
    assert live.returncode == 0, live.stderr
