"""Opening a Linux TUN/TAP device (Documentation/networking/tuntap.rst)."""

from __future__ import annotations

import errno
import fcntl
import os
import struct

__all__ = ["open_tun", "TunError", "IFF_TUN", "IFF_TAP", "IFF_NO_PI"]

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000  # no 4-byte packet-information prefix: reads are bare packets


class TunError(RuntimeError):
    """The device could not be opened; the message is one line for the user."""


def open_tun(name: str, *, tap: bool = False, nonblocking: bool = True) -> int:
    """Open (creating if missing) TUN device ``name`` (TAP with ``tap``) and return its
    file descriptor: each read gives one packet (one frame for TAP)."""
    if not name or len(name.encode()) > 15 or "/" in name or " " in name:
        raise TunError(f"bad interface name {name!r} (1 to 15 characters, no '/' or space)")
    flags = (IFF_TAP if tap else IFF_TUN) | IFF_NO_PI
    mode = os.O_RDWR | (os.O_NONBLOCK if nonblocking else 0)
    try:
        fd = os.open("/dev/net/tun", mode)
    except FileNotFoundError:
        raise TunError("no /dev/net/tun: load the tun module (modprobe tun)") from None
    except PermissionError:
        raise TunError("cannot open /dev/net/tun: permission denied (run as root)") from None
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", name.encode(), flags))
    except OSError as exc:
        os.close(fd)
        if exc.errno == errno.EBUSY:
            raise TunError(f"device {name} is busy: another program holds it") from None
        if exc.errno == errno.EPERM:
            raise TunError(f"cannot create {name}: operation not permitted (run as root)") from None
        if exc.errno == errno.EINVAL:
            raise TunError(f"{name} exists and is not a {'TAP' if tap else 'TUN'} device") from None
        raise TunError(f"cannot open {name}: {exc.strerror}") from None
    return fd
