"""FIFO referee mode: a person, a script or a language model plays the IP stack.

The protocol (docs/fifo-responder.md tells it to a responder step by step):

- tunstack makes two named pipes, ``cmd`` and ``resp``. A client writes one command line
  to ``cmd`` and then reads one answer line from ``resp`` (tunstack opens ``resp`` when
  a reader is there, writes the line and closes it, so ``cat resp`` ends by itself).
- ``READ``: the answer is the next inbound packet addressed to the stack, as lower-case
  hex, or ``TIMEOUT`` when none came within the configured wait.
- ``WRITE <hex>``: the packet is checked by ``stack.wire.inspect.validate`` (checksums,
  lengths, addresses) and compared, field by field, with what the core would have
  answered to the last READ. The answer is ``OK`` when it went to the kernel, or
  ``ERR <reason>`` when it did not, e.g. ``ERR ipv4 header checksum 0x60dd, expected
  0x615d``. Differences that any correct host may show (IP ID, DF, TTL, traffic class,
  flow label, and the checksums that follow from them) do not make a WRITE fail: they
  are explained in the session log. With ``send_invalid`` an invalid packet is sent all
  the same and the answer is ``OK sent despite: <reasons>``.

Every READ, WRITE and verdict goes to the session log, one line each.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import stat
import time
from collections import deque
from collections.abc import Callable
from typing import TextIO

from stack.live.output import Reporter
from stack.sut import StackUnderTest
from stack.wire.inspect import diff, validate

__all__ = ["FifoError", "FifoReferee", "HARMLESS_FIELDS", "QUEUE_LIMIT", "ANSWER_LIMIT",
           "LINE_LIMIT"]

QUEUE_LIMIT = 256  # inbound packets kept for READ; the oldest goes first when full
LINE_LIMIT = 1 << 20  # longest command line accepted (a 64 KiB packet is 128 KiB of hex)
# Answers waiting for a reader of resp. At the cap the referee stops reading cmd, so a
# client that writes commands and never reads the answers waits in its write() once the
# kernel's pipe buffer (64 KiB) is full, instead of growing the referee's memory.
ANSWER_LIMIT = 64
# Bytes read from cmd per loop turn: a flooding client cannot keep the loop (and the
# device) waiting, and at most this much is held before its lines are run.
READ_BUDGET = LINE_LIMIT + 65536
RESPONSE_PICKUP = 10.0  # seconds an answer waits for its reader before it is given up
RETRY_OPEN = 0.01  # how often the answer pipe is tried while nobody reads it

# Fields in which a correct answer may differ from the core's: the IPv4 ID is any value
# the sender picks (RFC 6864 §4.1: unique only while fragments are in flight), DF may be
# set or not on a reply (Linux clears it, many stacks copy it), TTL/hop limit, traffic
# class and flow label are the sender's choice. ``inspect.diff`` then requires the
# checksums covering them to be valid instead of equal.
HARMLESS_FIELDS = frozenset({
    "ipv4.id", "ipv4.flags.df", "ipv4.ttl", "ipv4.tos",
    "ipv6.flow_label", "ipv6.hop_limit", "ipv6.traffic_class",
})


class FifoError(RuntimeError):
    """The pipes could not be made or opened; the message is one line for the user."""


def _make_fifo(path: str, uid: int, gid: int) -> bool:
    """Create FIFO ``path`` owned by the client (uid, gid), mode 0600; reuse an existing
    FIFO only if it already belongs to the client (a FIFO that existed is never handed
    to anyone: stack-live/files.py's rule). Returns True when this call created it (so
    it is removed on exit)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        try:
            os.mkfifo(path, 0o600)
        except OSError as exc:
            raise FifoError(f"cannot create FIFO {path}: {exc.strerror}") from None
        os.chown(path, uid, gid, follow_symlinks=False)
        return True
    if not stat.S_ISFIFO(info.st_mode):
        raise FifoError(f"{path} exists and is not a FIFO: remove it or choose another path")
    if info.st_uid != uid:
        raise FifoError(f"{path} exists and belongs to uid {info.st_uid}, not to the account "
                        f"stack-live runs as (uid {uid}): remove it or choose another path")
    os.chmod(path, 0o600)
    return False


class FifoReferee:
    """Serves the cmd/resp pipes; the event loop calls ``on_command_readable`` when
    ``fileno()`` is readable, ``on_inbound`` for each device packet and ``poll`` each
    turn. ``send(packet, now_ns)`` puts an accepted packet on the device and returns
    None or the kernel's refusal."""

    def __init__(self, host: StackUnderTest, cmd_path: str, resp_path: str, *,
                 send: Callable[[bytes, int], str | None], reporter: Reporter,
                 log: TextIO, wait: float = 30.0, send_invalid: bool = False,
                 everything: bool = False, owner: tuple[int, int] = (0, 0)) -> None:
        # The reference "what would the stack answer" is a stack under test (stack.sut):
        # tunstack's core as stack-live builds it, or any other kind with its config.
        self.host = host
        self.cmd_path = cmd_path
        self.resp_path = resp_path
        self.send = send
        self.reporter = reporter
        self.log = log
        self.wait = wait
        self.send_invalid = send_invalid
        self.everything = everything
        config = getattr(host, "config", None)
        self._ours = {ipaddress.ip_address(a).packed
                      for a in (config.addresses() if config is not None else ())}
        self._created: list[str] = []
        for path in (cmd_path, resp_path):
            if _make_fifo(path, *owner):
                self._created.append(path)
        # Both pipes are reopened after root is dropped (resp for each answer, cmd each
        # time its last writer leaves), and their directory may not be searchable by
        # the account we drop to. O_PATH handles, reopened through /proc/self/fd, check
        # only the pipes' own permissions.
        self._cmd_handle = os.open(cmd_path, os.O_PATH | os.O_CLOEXEC)
        self._cmd_open_path = self._reopen_path(self._cmd_handle, cmd_path)
        self._resp_handle = os.open(resp_path, os.O_PATH | os.O_CLOEXEC)
        self._resp_open_path = self._reopen_path(self._resp_handle, resp_path)
        # Read-only, so that end-of-file says the last client closed its end (pipe(7));
        # a non-blocking open does not wait for a writer, and epoll reports no hang-up
        # until a writer has come and gone (Linux pipe_poll).
        self._cmd_fd = os.open(self._cmd_open_path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        self._buffer = b""
        self._discarding = False  # inside a too-long line: skip up to its newline
        self._queue: deque[bytes] = deque()
        self._read_deadline: float | None = None  # a READ waiting for a packet
        self._answers: deque[tuple[str, float]] = deque()  # (line, give-up time)
        self._writing: tuple[int, bytes, float] | None = None  # an answer being written
        self._next_try = 0.0
        self._expected: list[bytes] = []
        self._expected_reason = ""
        self._sent_since_read = 0
        self._have_read = False
        self.counts = {"reads": 0, "timeouts": 0, "writes_ok": 0, "writes_err": 0,
                       "sent_invalid": 0, "not_queued": 0, "queue_overflow": 0,
                       "answers_lost": 0, "busy": 0, "partial_lines": 0}

    # -- plumbing ------------------------------------------------------------------
    @staticmethod
    def _reopen_path(handle: int, path: str) -> str:
        through_proc = f"/proc/self/fd/{handle}"
        return through_proc if os.path.exists(through_proc) else path  # /proc not mounted

    def fileno(self) -> int:
        """The command pipe; it changes when the last client closes it (reopened)."""
        return self._cmd_fd

    def accepting(self) -> bool:
        """Whether to read commands now: not while ANSWER_LIMIT answers wait unread."""
        return len(self._answers) < ANSWER_LIMIT

    def close(self) -> None:
        if self._writing is not None:
            with contextlib.suppress(OSError):
                os.close(self._writing[0])
            self._writing = None
        for fd in (self._cmd_fd, self._cmd_handle, self._resp_handle):
            with contextlib.suppress(OSError):
                os.close(fd)
        for path in self._created:
            with contextlib.suppress(OSError):
                os.unlink(path)

    def _log(self, now: float, text: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
        self.log.write(f"{stamp}.{int((now % 1) * 1e6):06d}Z {text}\n")
        self.log.flush()
        self.reporter.note(now, f"fifo: {text}")

    def _answer(self, line: str, now: float) -> None:
        self._answers.append((line, now + RESPONSE_PICKUP))
        self._deliver(now)

    def _deliver(self, now: float) -> None:
        """Hand queued answers to readers of resp, one line per open, in order. Writes
        never block the loop: a long line that does not fit the pipe is finished on
        later turns, as the reader drains it."""
        while True:
            if self._writing is None:
                if not self._answers:
                    return
                line, give_up = self._answers[0]
                try:
                    fd = os.open(self._resp_open_path,
                                 os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
                except OSError as exc:
                    if exc.errno != errno.ENXIO:  # ENXIO: no reader yet (fifo(7))
                        self._log(now, f"cannot open {self.resp_path}: {exc.strerror}")
                    if now >= give_up:
                        self._answers.popleft()
                        self.counts["answers_lost"] += 1
                        self._log(now, f"nobody read the answer {line[:40]!r}; dropped it")
                        continue
                    self._next_try = now + RETRY_OPEN
                    return
                self._answers.popleft()
                self._writing = (fd, (line + "\n").encode(), give_up)
            fd, rest, give_up = self._writing
            try:
                rest = rest[os.write(fd, rest):]
            except BlockingIOError:
                pass
            except OSError as exc:  # EPIPE: the reader went away
                self._log(now, f"writing the answer failed: {exc.strerror}")
                rest = b""
            if rest and now < give_up:
                self._writing = (fd, rest, give_up)
                self._next_try = now + RETRY_OPEN
                return
            if rest:
                self.counts["answers_lost"] += 1
                self._log(now, "the reader stopped reading an answer; gave it up")
            os.close(fd)
            self._writing = None

    # -- inbound packets -------------------------------------------------------------
    def _for_stack(self, packet: bytes) -> bool:
        if self.everything:
            return True
        if len(packet) >= 20 and packet[0] >> 4 == 4:
            return packet[16:20] in self._ours
        if len(packet) >= 40 and packet[0] >> 4 == 6:
            return packet[24:40] in self._ours
        return False

    def on_inbound(self, packet: bytes, now: float) -> None:
        if not self._for_stack(packet):
            # Router solicitations, MLD reports and the like: not for the responder.
            self.counts["not_queued"] += 1
            return
        if len(self._queue) >= QUEUE_LIMIT:
            self._queue.popleft()
            self.counts["queue_overflow"] += 1
        self._queue.append(packet)
        if self._read_deadline is not None:
            self._read_deadline = None
            self._hand_out(now)

    def _hand_out(self, now: float) -> None:
        packet = self._queue.popleft()
        # What the core would answer: the yardstick for the WRITEs that follow.
        try:
            self._expected = self.host.handle(packet, now)
            self._expected_reason = self.host.last_reason
        except Exception as exc:  # noqa: BLE001 - a core bug must not stop the referee
            self.host.stats.drops["live.core_exception"] += 1
            self._expected, self._expected_reason = [], f"core exception {exc!r}"
        self._sent_since_read = 0
        self._have_read = True
        self.counts["reads"] += 1
        text = packet.hex()
        self._log(now, f"READ -> {text} (core would answer: "
                  f"{self._expected_reason}, {len(self._expected)} packet(s))")
        self._answer(text, now)

    # -- commands ----------------------------------------------------------------------
    def on_command_readable(self, now: float) -> None:
        """Read what clients wrote (at most READ_BUDGET bytes) and run its lines."""
        budget = READ_BUDGET
        while budget > 0 and self.accepting():
            try:
                chunk = os.read(self._cmd_fd, 65536)
            except BlockingIOError:
                break
            if not chunk:
                self._writers_gone(now)
                break
            budget -= len(chunk)
            self._take(chunk, now)

    def _take(self, chunk: bytes, now: float) -> None:
        if self._discarding:
            end = chunk.find(b"\n")
            if end < 0:
                return
            self._discarding = False
            chunk = chunk[end + 1:]
        self._buffer += chunk
        self._run_lines(now)
        if len(self._buffer) > LINE_LIMIT:
            # One command, one answer: the rest of the line, however long, is skipped.
            self._buffer = b""
            self._discarding = True
            self._too_long(now)

    def _run_lines(self, now: float) -> None:
        while self.accepting():
            end = self._buffer.find(b"\n")
            if end < 0:
                return
            raw, self._buffer = self._buffer[:end], self._buffer[end + 1:]
            if len(raw) > LINE_LIMIT:
                self._too_long(now)
            else:
                self._command(raw.decode("ascii", "replace").strip(), now)

    def _too_long(self, now: float) -> None:
        self._log(now, "command longer than 1 MiB; discarded up to its newline")
        self._answer("ERR command too long (over 1 MiB): discarded", now)

    def _writers_gone(self, now: float) -> None:
        """End of file: every client closed the command pipe. An unfinished line is
        dropped (its client is gone and nobody reads an answer to it), so it cannot be
        glued to the next client's command; the pipe is reopened for the next one."""
        if self._buffer or self._discarding:
            self.counts["partial_lines"] += 1
            self._log(now, f"a client closed {self.cmd_path} in the middle of a line; "
                      f"discarded {self._buffer[:40]!r}")
            self._buffer = b""
            self._discarding = False
        # Open the new end before closing the old, so the pipe (and anything a new
        # client already wrote into it) stays.
        fresh = os.open(self._cmd_open_path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        os.close(self._cmd_fd)
        self._cmd_fd = fresh

    def _command(self, line: str, now: float) -> None:
        if not line:
            return
        verb, _, rest = line.partition(" ")
        verb = verb.upper()
        if self._read_deadline is not None or self._answers or self._writing is not None:
            # One client at a time (docs/fifo-responder.md): a command that comes while
            # an earlier one is unanswered is a second client, or one that did not read
            # its answer. It is not run, so nothing happens behind the first one's back.
            self.counts["busy"] += 1
            self._log(now, f"{verb[:20]!r} refused: an earlier command's answer is not "
                      "read yet")
            self._answer("ERR busy: the answer to an earlier command is not read yet "
                         "(one client at a time; read RESP after each command)", now)
            return
        if verb == "READ":
            if self._queue:
                self._hand_out(now)
            else:
                self._read_deadline = now + self.wait
        elif verb == "WRITE":
            self._write(rest, now)
        else:
            self._log(now, f"unknown command {line[:60]!r}")
            self._answer(f"ERR unknown command {verb[:20]!r}: use READ or WRITE <hex>", now)

    def _write(self, text: str, now: float) -> None:
        compact = "".join(text.split())
        if compact.lower().startswith("0x"):
            compact = compact[2:]
        try:
            packet = bytes.fromhex(compact)
        except ValueError:
            self._verdict(now, compact, "ERR bad hex: expected pairs of hex digits")
            return
        if not packet:
            self._verdict(now, compact, "ERR empty packet")
            return
        problems = [p.message for p in validate(packet)]
        expected = self._expected_for_next_write()
        wrong, harmless = self._compare(expected, packet)
        notes = []
        if expected is None:
            notes.append(self._no_comparison())
        if wrong and problems:
            notes.append("also differs from the core's answer: " + "; ".join(wrong))
        if harmless:
            notes.append("harmless differences from the core's answer: " + "; ".join(harmless))
        if problems and not self.send_invalid:
            self._verdict(now, compact, "ERR " + "; ".join(problems), notes)
            return
        if wrong and not problems:
            self._verdict(now, compact, "ERR " + "; ".join(wrong), notes)
            return
        refusal = self.send(packet, time.time_ns())
        if refusal is not None:
            self._verdict(now, compact, f"ERR the kernel refused the packet: {refusal}", notes)
            return
        self._sent_since_read += 1
        if problems:
            self.counts["sent_invalid"] += 1
            self._verdict(now, compact, "OK sent despite: " + "; ".join(problems), notes)
        else:
            self._verdict(now, compact, "OK", notes)

    def _expected_for_next_write(self) -> bytes | None:
        """The core's answer the next WRITE stands for: the n-th packet of the core's
        answer to the last READ for the n-th packet sent after it (a fragmented reply is
        n WRITEs). A refused WRITE does not use up a place."""
        index = self._sent_since_read
        if not self._have_read or index >= len(self._expected):
            return None
        return self._expected[index]

    def _no_comparison(self) -> str:
        if not self._have_read:
            return "no READ yet: nothing to compare with"
        return (f"not compared: the core would have sent {len(self._expected)} packet(s) "
                f"for the last READ ({self._expected_reason})")

    def _compare(self, expected: bytes | None, got: bytes) -> tuple[list[str], list[str]]:
        """(differences that make the WRITE wrong, harmless differences), as text."""
        if expected is None:
            return [], []
        # The validator has passed every checksum by now, so a checksum that differs
        # only follows from the fields that differ: those are named, not the checksum.
        wrong = [str(d) for d in diff(expected, got, HARMLESS_FIELDS)
                 if not d.field.endswith("checksum")]
        harmless = [str(d) for d in diff(expected, got)
                    if d.field in HARMLESS_FIELDS or d.field.endswith("checksum")]
        return wrong, harmless

    def _verdict(self, now: float, hex_text: str, answer: str,
                 notes: list[str] | None = None) -> None:
        if answer.startswith("OK"):
            self.counts["writes_ok"] += 1
        else:
            self.counts["writes_err"] += 1
        extra = "".join(f"; {note}" for note in notes or [])
        self._log(now, f"WRITE {hex_text} -> {answer}{extra}")
        self._answer(answer, now)

    def summary(self, device: str, elapsed: float) -> str:
        """The closing statistics of a referee session (the host's counters say what
        the core would have answered, not what was sent)."""
        counts = self.counts
        lines = [f"--- {device} tunstack referee statistics ---",
                 f"{counts['reads']} packets read by the responder ({counts['timeouts']} "
                 f"READs timed out), {counts['writes_ok']} WRITEs sent, "
                 f"{counts['writes_err']} refused, {counts['sent_invalid']} sent invalid, "
                 f"time {int(round(elapsed * 1000))}ms"]
        if counts["not_queued"]:
            lines.append(f"{counts['not_queued']} inbound packets not addressed to the stack "
                         "were not offered (--fifo-all offers them)")
        if counts["busy"] or counts["partial_lines"]:
            lines.append(f"{counts['busy']} commands refused as busy (sent before the "
                         f"previous answer was read), {counts['partial_lines']} unfinished "
                         "lines of clients that closed the pipe discarded")
        if counts["queue_overflow"] or counts["answers_lost"]:
            lines.append(f"{counts['queue_overflow']} packets dropped from a full queue, "
                         f"{counts['answers_lost']} answers nobody read")
        replies = self.host.stats.replies
        if replies:
            lines.append("the core would have answered: " + ", ".join(
                f"{kind} {n}" for kind, n in sorted(replies.items())))
        drops = self.host.stats.drops
        if drops:
            lines.append("the core would have dropped: " + ", ".join(
                f"{reason} {n}" for reason, n in sorted(drops.items())))
        return "\n".join(lines)

    # -- time ------------------------------------------------------------------------
    def poll(self, now: float) -> None:
        if self._read_deadline is not None and now >= self._read_deadline:
            self._read_deadline = None
            self.counts["timeouts"] += 1
            self._log(now, f"READ -> TIMEOUT (no packet in {self.wait:g} s)")
            self._answer("TIMEOUT", now)
        if (self._answers or self._writing) and now >= self._next_try:
            self._deliver(now)
        if self._buffer and self.accepting():  # lines held back while answers piled up
            self._run_lines(now)

    def next_deadline(self) -> float | None:
        deadlines = []
        if self._read_deadline is not None:
            deadlines.append(self._read_deadline)
        if self._answers or self._writing:
            deadlines.append(self._next_try)
        return min(deadlines) if deadlines else None
