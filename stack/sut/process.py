"""Starting a stack's process and stopping it with everything it started.

A responder or a stack under ``--exec`` may fork helpers, daemonise, or ``setsid`` out of
its process group; killing its group alone leaves those running after replay ends. So
every such command runs under a small *reaper* (this module run as ``python -m
stack.sut.process CMD...``) that:

- marks itself a child subreaper (``prctl(PR_SET_CHILD_SUBREAPER)``, kernel/sys.c): an
  orphan anywhere below it, ``setsid`` escapees included, is re-parented to the reaper
  rather than to init, so the whole tree stays findable as its descendants;
- asks for SIGTERM when its parent dies (``PR_SET_PDEATHSIG``), so a replay killed with
  SIGKILL still takes the tree down;
- runs the command in a process group of its own, waits for it, and when it ends (or
  the reaper is told to stop) kills every remaining descendant: SIGTERM, a grace
  period, then SIGKILL;
- exits as the command did: the same status, or the same signal.

:class:`StackProcess` is the driver's side: start, ``exited()`` (None while running, else
"exited with status N" / "was killed by signal SIGSEGV"), ``stop()``.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from typing import IO

__all__ = ["StackProcess", "StartError", "cannot_run", "describe_status", "descendants"]

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
GRACE = 1.0  # seconds between SIGTERM and SIGKILL for the tree
STOP_WAIT = 5.0  # seconds the driver waits for the reaper to finish stopping the tree


class StartError(Exception):
    """The command cannot be started (not found, not executable); one line."""


def describe_status(status: int) -> str:
    """A Popen return code as words: 'exited with status 3', 'killed by signal SIGSEGV'."""
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = f"signal {-status}"
        return f"was killed by signal {name}"
    return f"exited with status {status}"


def descendants(root: int) -> list[int]:
    """Every process below ``root`` (by parent pid, from /proc), nearest first."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                text = stat.read()
        except OSError:
            continue
        # the command name is in parentheses and may hold spaces: ppid follows the last ')'
        fields = text[text.rfind(b")") + 2:].split()
        if len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(int(entry))
    found: list[int] = []
    frontier = [root]
    while frontier:
        below = [pid for parent in frontier for pid in children.get(parent, [])]
        found.extend(below)
        frontier = below
    return found


def cannot_run(program: str) -> str | None:
    """Why ``program`` (a path, or a name looked up on PATH) cannot be executed, in the
    words exec would use; None when it can. Checked before the reaper starts, so a bad
    command is one line at once rather than a stack that dies at birth."""
    if shutil.which(program) is not None:
        return None
    if "/" in program and os.path.exists(program):
        return os.strerror(errno.EACCES)
    return os.strerror(errno.ENOENT)


# -- the reaper (runs as its own process) ------------------------------------------------
def _kill_tree(me: int) -> None:
    """SIGTERM then SIGKILL every descendant of ``me``, reaping them, until none is left."""
    for sig, pause in ((signal.SIGTERM, GRACE), (signal.SIGKILL, 0.0)):
        for pid in descendants(me):
            with contextlib.suppress(OSError):
                os.kill(pid, sig)
        deadline = time.monotonic() + pause
        while True:
            with contextlib.suppress(ChildProcessError):
                while os.waitpid(-1, os.WNOHANG)[0] > 0:
                    pass
            if not descendants(me) or time.monotonic() >= deadline:
                break
            time.sleep(0.02)
    for _ in range(100):  # what forked during the SIGKILL round
        left = descendants(me)
        if not left:
            return
        for pid in left:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(-1, 0)


class _Stop(Exception):
    """SIGTERM reached the reaper: stop the tree."""


def _reaper(argv: list[str]) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getppid()
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    def stop(_signum: int, _frame: object) -> None:
        raise _Stop  # out of waitpid, which PEP 475 would otherwise just retry

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches replay, which stops us
    if os.getppid() != parent:  # the driver died before PDEATHSIG was armed
        return 1
    try:
        child = os.fork()
    except OSError:
        return 127
    if child == 0:
        try:
            os.setpgid(0, 0)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.execvp(argv[0], argv)
        except OSError as exc:
            os.write(2, f"cannot start {argv[0]}: {exc.strerror}\n".encode())
        os._exit(127)
    # The pipes are the command's: our copies would keep them open after it dies.
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    status: int | None = None
    try:
        while status is None:
            try:
                pid, raw = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            if pid == child:
                status = raw
    except _Stop:
        pass
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one stop is enough
    _kill_tree(os.getpid())
    if status is None:
        return 0
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)
        return 128 + number
    return os.waitstatus_to_exitcode(status)


# -- the driver's side --------------------------------------------------------------------
class StackProcess:
    """``argv`` running under the reaper, with the given stdin/stdout/stderr."""

    def __init__(self, argv: list[str], *, stdin: int | IO[bytes] | None = None,
                 stdout: int | IO[bytes] | None = None,
                 stderr: int | IO[bytes] | None = None, what: str = "command") -> None:
        self.argv = argv
        problem = cannot_run(argv[0])
        if problem is not None:
            raise StartError(f"{what}: cannot start {argv[0]}: {problem}")
        try:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "stack.sut.process", *argv], stdin=stdin,
                stdout=stdout, stderr=stderr, bufsize=0, start_new_session=True)
        except OSError as exc:
            raise StartError(f"{what}: cannot start the reaper: {exc.strerror}") from None

    @property
    def pid(self) -> int:
        return self.popen.pid

    def exited(self) -> str | None:
        """None while the command runs; else how it ended."""
        code = self.popen.poll()
        return None if code is None else describe_status(code)

    def wait_exit(self, timeout: float) -> str | None:
        """How the command ended, waiting up to ``timeout`` seconds (None: still running)."""
        try:
            return describe_status(self.popen.wait(timeout=timeout))
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        """Stop the command and everything it started (the reaper does the work)."""
        if self.popen.poll() is None:
            with contextlib.suppress(OSError):
                self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=STOP_WAIT)
            except subprocess.TimeoutExpired:
                # the reaper itself is stuck: take its group at least
                with contextlib.suppress(OSError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print("usage: python -m stack.sut.process CMD [ARG...]", file=sys.stderr)
        sys.exit(2)
    sys.exit(_reaper(sys.argv[1:]))
