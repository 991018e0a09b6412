"""Opening ``--record`` and ``--fifo-log`` as root without handing anyone a file.

``stack-live`` opens its output files while still root, for the account it will drop to.
Whoever may run ``sudo stack-live`` chooses the paths, so a path must not become a way to
overwrite, or to be given, a file they could not otherwise write (``/etc/shadow``, or a
symbolic link to it in ``/tmp``). The rules:

- the directory must be one the account could write itself (its permission bits for the
  account's uid and groups: ``/etc`` is refused for ``nobody``, ``/tmp`` is fine);
- the last component is never followed if it is a symbolic link (``O_NOFOLLOW``);
- a new file is created with ``O_EXCL`` (nobody can slip one in between) and given to
  the account with ``fchown`` on the open descriptor;
- an existing file is used only if it is a regular file, with one link, that already
  belongs to the account: never chowned, truncated for a recording, appended to for a
  log. Anything else is refused with one line.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
from typing import IO

from stack.live.privileges import Account

__all__ = ["OutputFileError", "open_output", "may_write_directory",
           "require_writable_directory"]


class OutputFileError(RuntimeError):
    """An output path refused or not openable; one line for the user."""


def _groups(account: Account) -> set[int]:
    try:
        return set(os.getgrouplist(account.name, account.gid))
    except OSError:
        return {account.gid}


def may_write_directory(directory: str, account: Account) -> bool:
    """Whether ``account`` could create a file in ``directory``: write and search
    permission in its mode bits for the account's uid, else its groups, else others
    (as Linux's generic_permission checks them, ACLs left aside). Root may always."""
    if account.uid == 0:
        return True
    info = os.stat(directory)
    if info.st_uid == account.uid:
        bits = stat.S_IWUSR | stat.S_IXUSR
    elif info.st_gid in _groups(account):
        bits = stat.S_IWGRP | stat.S_IXGRP
    else:
        bits = stat.S_IWOTH | stat.S_IXOTH
    return info.st_mode & bits == bits


def require_writable_directory(directory: str, account: Account, what: str) -> None:
    """Raise OutputFileError (``what`` first) unless ``account`` may create files in
    ``directory``: stack-live makes nothing, as root, where the account could not."""
    try:
        writable = may_write_directory(directory, account)
    except OSError as exc:
        raise OutputFileError(f"{what}: {directory}: {exc.strerror}") from None
    if not writable:
        raise OutputFileError(f"{what}: {account.name} may not write in {directory}, so "
                              f"stack-live will not write there for it: choose a "
                              f"directory {account.name} can write")


def open_output(path: str, account: Account, *, append: bool, what: str) -> IO[bytes]:
    """``path`` opened for writing (binary, buffered) under the rules above; ``what``
    names the flag in messages. Raises OutputFileError."""
    require_writable_directory(os.path.dirname(os.path.abspath(path)), account,
                               f"{what} {path}")
    flags = os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o666)
        created = True
    except FileExistsError:
        fd = _open_existing(path, flags | (os.O_APPEND if append else 0), account, what)
        created = False
    except OSError as exc:
        raise OutputFileError(f"{what} {path}: cannot create: {exc.strerror}") from None
    try:
        if created:
            if os.geteuid() == 0 and account.uid != 0:
                os.fchown(fd, account.uid, account.gid)
        elif not append:
            os.ftruncate(fd, 0)
        stream = io.BufferedWriter(io.FileIO(fd, "ab" if append else "wb"), 1 << 20)
    except OSError as exc:
        os.close(fd)
        raise OutputFileError(f"{what} {path}: {exc.strerror}") from None
    stream.raw.name = path  # type: ignore[attr-defined]  # messages name the path
    return stream


def _open_existing(path: str, flags: int, account: Account, what: str) -> int:
    try:
        # O_NONBLOCK: a FIFO put in the way must not hang the open (it is refused below).
        fd = os.open(path, flags | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OutputFileError(f"{what} {path}: is a symbolic link; stack-live does not "
                                  "follow links for files it writes as root") from None
        if exc.errno == errno.ENXIO:  # a FIFO nobody reads
            raise OutputFileError(f"{what} {path}: exists and is not a regular file") \
                from None
        raise OutputFileError(f"{what} {path}: cannot open: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OutputFileError(f"{what} {path}: exists and is not a regular file")
        if info.st_uid != account.uid:
            raise OutputFileError(
                f"{what} {path}: exists and belongs to uid {info.st_uid}, not to "
                f"{account.name}: stack-live writes only files it creates or that "
                f"belong to {account.name}")
        if info.st_nlink != 1:
            raise OutputFileError(f"{what} {path}: exists with {info.st_nlink} hard links; "
                                  "refused (one of them may be another file's name)")
        os.set_blocking(fd, True)
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        raise
    return fd
