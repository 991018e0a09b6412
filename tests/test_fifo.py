"""The FIFO referee's protocol, driven directly (no device): READ/TIMEOUT, WRITE ->
OK/ERR with the validator's and the comparison's reasons, and the session log."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from stack import Host, HostConfig
from stack.live.fifo import FifoError, FifoReferee
from stack.live.output import Reporter
from stack.wire.checksum import checksum

# The experiment's packets (shared/seeds/llm-ping-responder.txt): the request, and the
# reply as published, whose IPv4 header checksum 0x60dd is wrong (0x615d is right).
REQUEST = bytes.fromhex(
    "45000054812840004001615dac100001ac100002080054f5000d0001a1fb006a0000000041c4"
    "000000000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f"
    "3031323334353637")
PUBLISHED_REPLY = bytes.fromhex(
    "4500005481284000400160ddac100002ac10000100005cf5000d0001a1fb006a0000000041c4"
    "000000000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f"
    "3031323334353637")
# The same reply with the header checksum the validator expects: valid, and still with
# the request's DF and IP ID, where the core sends DF clear and its own ID.
CORRECTED_REPLY = PUBLISHED_REPLY[:10] + b"\x61\x5d" + PUBLISHED_REPLY[12:]


class Client:
    """A referee and a test playing the external responder."""

    def __init__(self, directory: Path, **options: object) -> None:
        self.sent: list[bytes] = []
        self.log = io.StringIO()
        self.cmd = str(directory / "cmd")
        self.resp = str(directory / "resp")
        self.host = Host(HostConfig())
        self.referee = FifoReferee(
            self.host, self.cmd, self.resp, send=self._send,
            reporter=Reporter(io.StringIO(), "quiet"), log=self.log,
            owner=(os.getuid(), os.getgid()), **options)  # type: ignore[arg-type]

    def _send(self, packet: bytes, now_ns: int) -> str | None:
        self.sent.append(packet)
        return None

    def command(self, line: str, now: float = 100.0) -> str:
        """Write ``line`` to cmd, let the referee read it, return the answer line."""
        reader = os.open(self.resp, os.O_RDONLY | os.O_NONBLOCK)
        try:
            writer = os.open(self.cmd, os.O_WRONLY)
            os.write(writer, (line + "\n").encode())
            os.close(writer)
            self.referee.on_command_readable(now)
            self.referee.poll(now)
            return self._collect(reader)
        finally:
            os.close(reader)

    def later(self, now: float) -> str:
        """Let time pass to ``now`` and return what the referee answered then."""
        reader = os.open(self.resp, os.O_RDONLY | os.O_NONBLOCK)
        try:
            self.referee.poll(now)
            return self._collect(reader)
        finally:
            os.close(reader)

    @staticmethod
    def _collect(reader: int) -> str:
        data = b""
        while True:
            try:
                chunk = os.read(reader, 1 << 20)
            except BlockingIOError:
                break
            if not chunk:
                break
            data += chunk
        return data.decode()


@pytest.fixture()
def client(tmp_path: Path) -> Iterator[Client]:
    made = Client(tmp_path)
    try:
        yield made
    finally:
        made.referee.close()


def test_read_returns_the_next_packet_as_hex(client: Client) -> None:
    client.referee.on_inbound(REQUEST, 99.0)
    assert client.command("READ") == REQUEST.hex() + "\n"
    assert "READ -> " + REQUEST.hex() in client.log.getvalue()


def test_read_waits_then_answers_timeout(client: Client) -> None:
    assert client.command("READ", now=100.0) == ""
    assert client.referee.next_deadline() == 130.0
    assert client.later(129.9) == ""
    assert client.later(130.0) == "TIMEOUT\n"
    assert client.referee.counts["timeouts"] == 1


def test_a_packet_arriving_during_the_wait_is_handed_out(client: Client) -> None:
    assert client.command("READ", now=100.0) == ""
    reader = os.open(client.resp, os.O_RDONLY | os.O_NONBLOCK)
    try:
        client.referee.on_inbound(REQUEST, 101.0)
        assert Client._collect(reader) == REQUEST.hex() + "\n"
    finally:
        os.close(reader)
    assert client.referee.next_deadline() is None


def test_the_published_reply_is_refused_for_its_header_checksum(client: Client) -> None:
    client.referee.on_inbound(REQUEST, 99.0)
    client.command("READ")
    answer = client.command("WRITE " + PUBLISHED_REPLY.hex())
    assert answer == "ERR ipv4 header checksum 0x60dd, expected 0x615d\n"
    assert client.sent == []
    assert "-> ERR ipv4 header checksum 0x60dd, expected 0x615d" in client.log.getvalue()


def test_a_valid_equivalent_reply_is_accepted_and_sent(client: Client) -> None:
    client.referee.on_inbound(REQUEST, 99.0)
    client.command("READ")
    assert client.command("WRITE " + CORRECTED_REPLY.hex()) == "OK\n"
    assert client.sent == [CORRECTED_REPLY]
    assert client.referee.counts["writes_ok"] == 1


def test_harmless_differences_from_the_core_are_explained_in_the_log(client: Client) -> None:
    client.referee.on_inbound(REQUEST, 99.0)
    client.command("READ")
    assert client.command("WRITE " + CORRECTED_REPLY.hex()) == "OK\n"
    log = client.log.getvalue()
    # The core clears DF and picks its own ID; both are fine in a reply.
    assert "harmless differences from the core's answer: ipv4.id: expected" in log, log
    assert "ipv4.flags.df: expected 0, got 1" in log, log


def test_a_valid_reply_with_the_wrong_sequence_is_refused_field_by_field(
        client: Client) -> None:
    client.referee.on_inbound(REQUEST, 99.0)
    client.command("READ")
    wrong = bytearray(CORRECTED_REPLY)
    wrong[27] = 2  # sequence 1 -> 2
    wrong[22:24] = b"\x00\x00"
    wrong[22:24] = checksum(bytes(wrong[20:])).to_bytes(2, "big")
    answer = client.command("WRITE " + bytes(wrong).hex())
    assert answer == "ERR icmp.echo.seq: expected 1, got 2\n"
    assert client.sent == []


def test_send_invalid_lets_the_bad_packet_through(tmp_path: Path) -> None:
    client = Client(tmp_path, send_invalid=True)
    try:
        client.referee.on_inbound(REQUEST, 99.0)
        client.command("READ")
        answer = client.command("WRITE " + PUBLISHED_REPLY.hex())
        assert answer == "OK sent despite: ipv4 header checksum 0x60dd, expected 0x615d\n"
        assert client.sent == [PUBLISHED_REPLY]
        assert client.referee.counts["sent_invalid"] == 1
    finally:
        client.referee.close()


@pytest.mark.parametrize(("line", "answer"), [
    ("WRITE 45zz", "ERR bad hex: expected pairs of hex digits"),
    ("WRITE 450", "ERR bad hex: expected pairs of hex digits"),
    ("WRITE", "ERR empty packet"),
    ("HELLO", "ERR unknown command 'HELLO': use READ or WRITE <hex>"),
])
def test_bad_commands_get_one_line_errors(client: Client, line: str, answer: str) -> None:
    assert client.command(line) == answer + "\n"
    assert client.sent == []


def test_hex_with_spaces_and_upper_case_is_accepted(client: Client) -> None:
    text = " ".join(CORRECTED_REPLY.hex().upper()[i:i + 8] for i in range(0, 168, 8))
    assert client.command("write " + text) == "OK\n"
    assert client.sent == [CORRECTED_REPLY]


def test_only_packets_for_the_stack_are_queued(client: Client) -> None:
    router_solicitation = bytes.fromhex(
        "6000000000083afffe800000000000000000000000000001ff020000000000000000000000000002"
        "85007a5100000000")
    client.referee.on_inbound(router_solicitation, 99.0)
    assert client.referee.counts["not_queued"] == 1
    assert client.command("READ") == ""


def test_the_pipes_are_made_and_removed(tmp_path: Path) -> None:
    client = Client(tmp_path)
    assert Path(client.cmd).is_fifo() and Path(client.resp).is_fifo()
    assert oct(Path(client.cmd).stat().st_mode & 0o777) == "0o600"
    client.referee.close()
    assert not Path(client.cmd).exists() and not Path(client.resp).exists()


def test_a_regular_file_in_the_way_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "cmd").write_text("not a pipe")
    with pytest.raises(FifoError, match="exists and is not a FIFO"):
        Client(tmp_path)


def test_a_refused_write_does_not_use_up_the_comparison(client: Client) -> None:
    client.referee.on_inbound(REQUEST, 99.0)
    client.command("READ")
    assert client.command("WRITE " + PUBLISHED_REPLY.hex()).startswith("ERR")
    assert client.command("WRITE " + CORRECTED_REPLY.hex()) == "OK\n"
    last = client.log.getvalue().splitlines()[-1]
    assert "harmless differences from the core's answer: ipv4.id" in last, last
    # A second packet for the same READ has nothing left to be compared with.
    assert client.command("WRITE " + CORRECTED_REPLY.hex()) == "OK\n"
    last = client.log.getvalue().splitlines()[-1]
    assert last.endswith("-> OK; not compared: the core would have sent 1 packet(s) for "
                         "the last READ (icmp.echo_reply)"), last


def test_the_summary_tells_what_the_referee_did(client: Client) -> None:
    client.referee.on_inbound(REQUEST, 99.0)
    client.command("READ")
    client.command("WRITE " + PUBLISHED_REPLY.hex())
    client.command("WRITE " + CORRECTED_REPLY.hex())
    assert client.referee.summary("tun0", 1.5) == (
        "--- tun0 tunstack referee statistics ---\n"
        "1 packets read by the responder (0 READs timed out), 1 WRITEs sent, 1 refused, "
        "0 sent invalid, time 1500ms\n"
        "the core would have answered: icmp.echo_reply 1")


def test_the_responder_instructions_worked_example_is_accepted(client: Client) -> None:
    text = (Path(__file__).resolve().parent.parent / "docs" / "fifo-responder.md").read_text()
    example = text[text.index("## Worked example"):]
    request = bytes.fromhex(example.split("READ  → ")[1].split()[0])
    reply = example.split("WRITE ")[1].split()[0]
    client.referee.on_inbound(request, 99.0)
    assert client.command("READ") == request.hex() + "\n"
    assert client.command("WRITE " + reply) == "OK\n"


def test_a_packet_larger_than_the_pipe_is_handed_out_across_turns(client: Client) -> None:
    # 40000 bytes are 80001 characters of answer: more than a pipe holds (64 KiB), so
    # the referee writes what fits and finishes as the reader drains, never blocking.
    big = REQUEST[:2] + (40000).to_bytes(2, "big") + REQUEST[4:] + bytes(40000 - 84)
    client.referee.on_inbound(big, 99.0)
    reader = os.open(client.resp, os.O_RDONLY | os.O_NONBLOCK)
    try:
        writer = os.open(client.cmd, os.O_WRONLY)
        os.write(writer, b"READ\n")
        os.close(writer)
        client.referee.on_command_readable(100.0)
        received = b""
        for turn in range(100):
            received += Client._collect(reader).encode()
            if received.endswith(b"\n"):
                break
            client.referee.poll(100.0 + turn * 0.01)
    finally:
        os.close(reader)
    assert received == big.hex().encode() + b"\n"
