"""Dropping root once the device is open and configured.

Answering needs only the open device file descriptor (and the FIFOs and record file,
also opened before the drop), so the process gives up root entirely: supplementary
groups, then the group, then the user (the order matters: after ``setuid`` a process
may no longer change its groups). Linux clears the capability sets on that transition
(capabilities(7), "Effect of user ID changes on capabilities").
"""

from __future__ import annotations

import dataclasses
import os
import pwd
from dataclasses import dataclass

__all__ = ["PrivilegeError", "Account", "resolve_account", "drop_privileges"]


class PrivilegeError(RuntimeError):
    """The account to drop to is unknown, or dropping failed."""


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int
    why: str = ""  # how it was chosen, when the banner should say so


def _lookup(name: str) -> Account:
    try:
        entry = pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
    except (KeyError, ValueError):
        raise PrivilegeError(f"unknown user {name!r} for --user") from None
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid)


def resolve_account(requested: str | None, environ: dict[str, str] | None = None,
                    stay_root: bool = False) -> Account:
    """The account to run as after set-up: ``requested`` (a name or a numeric uid), else
    the user who ran sudo (``SUDO_USER``), else ``nobody``. Without root there is
    nothing to drop: the account is the caller's own, and ``requested`` must be it.

    Root is kept only with ``stay_root``: ``--user root`` (or any name for uid 0)
    without it is refused, and a ``SUDO_USER`` of root (root ran sudo) falls back to
    ``nobody``, so that a packet-answering process never keeps full root by accident."""
    env = os.environ if environ is None else environ
    if os.geteuid() != 0:
        own = pwd.getpwuid(os.geteuid())
        if requested and requested not in (own.pw_name, str(own.pw_uid)):
            raise PrivilegeError(f"--user {requested} needs root (running as {own.pw_name})")
        if stay_root:
            raise PrivilegeError(f"--stay-root needs root (running as {own.pw_name})")
        return Account(own.pw_name, own.pw_uid, own.pw_gid)
    if stay_root:
        if requested and _lookup(requested).uid != 0:
            raise PrivilegeError(f"--stay-root keeps root: it excludes --user {requested}")
        return dataclasses.replace(_lookup("0"), why="--stay-root: root kept after set-up")
    if requested:
        account = _lookup(requested)
        if account.uid == 0:
            raise PrivilegeError(f"--user {requested} would keep full root after set-up: "
                                 "add --stay-root if that is meant")
        return account
    sudo_user = env.get("SUDO_USER")
    if sudo_user:
        account = _lookup(sudo_user)
        if account.uid != 0:
            return account
        return dataclasses.replace(_lookup("nobody"),
                                   why=f"SUDO_USER {sudo_user} is root; --stay-root keeps root")
    return _lookup("nobody")


def drop_privileges(account: Account) -> None:
    """Become ``account`` for good. A no-op when already running as that uid."""
    if os.geteuid() == account.uid and os.getuid() == account.uid:
        return
    try:
        os.setgroups([])
        os.setresgid(account.gid, account.gid, account.gid)
        os.setresuid(account.uid, account.uid, account.uid)
    except OSError as exc:
        raise PrivilegeError(f"cannot drop privileges to {account.name}: {exc.strerror}") \
            from None
    if os.geteuid() == 0 and account.uid != 0:
        raise PrivilegeError(f"still root after dropping to {account.name}")
