"""Opening a Linux TUN/TAP device (Documentation/networking/tuntap.rst)."""

from __future__ import annotations

import errno
import fcntl
import os
import struct

__all__ = ["open_tun", "open_tun_queues", "TunError", "MultiQueueUnavailable", "IFF_TUN",
           "IFF_TAP", "IFF_NO_PI", "IFF_MULTI_QUEUE"]

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000  # no 4-byte packet-information prefix: reads are bare packets
# One queue per open file (Linux 3.8): the kernel picks a queue per packet by its flow
# hash (tun_select_queue: __skb_get_hash_symmetric, then the flow table that remembers
# the queue the last packet of that hash was written on).
IFF_MULTI_QUEUE = 0x0100


class TunError(RuntimeError):
    """The device could not be opened; the message is one line for the user."""


class MultiQueueUnavailable(TunError):
    """The device cannot have several queues here; the caller falls back to one."""


def open_tun(name: str, *, tap: bool = False, nonblocking: bool = True,
             multi_queue: bool = False) -> int:
    """Open (creating if missing) TUN device ``name`` (TAP with ``tap``) and return its
    file descriptor: each read gives one packet (one frame for TAP). With
    ``multi_queue`` the descriptor is one queue of a multi-queue device; opening the
    same name again adds a queue."""
    if not name or len(name.encode()) > 15 or "/" in name or " " in name:
        raise TunError(f"bad interface name {name!r} (1 to 15 characters, no '/' or space)")
    flags = (IFF_TAP if tap else IFF_TUN) | IFF_NO_PI | (IFF_MULTI_QUEUE if multi_queue else 0)
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
        if exc.errno == errno.EINVAL and multi_queue:
            # tun_set_iff: an existing device made without IFF_MULTI_QUEUE, or a kernel
            # without multi-queue support (before 3.8), refuses the flag.
            raise MultiQueueUnavailable(f"{name} cannot have several queues (it exists as "
                                        "a single-queue device, or the kernel has no "
                                        "IFF_MULTI_QUEUE)") from None
        if exc.errno == errno.EINVAL:
            raise TunError(f"{name} exists and is not a {'TAP' if tap else 'TUN'} device") from None
        raise TunError(f"cannot open {name}: {exc.strerror}") from None
    return fd


def open_tun_queues(name: str, queues: int, *, tap: bool = False) -> list[int]:
    """Open ``queues`` queues of the multi-queue device ``name`` (non-blocking), or raise
    ``MultiQueueUnavailable`` (nothing left open) so the caller can use ``open_tun``."""
    fds: list[int] = []
    try:
        for _ in range(queues):
            fds.append(open_tun(name, tap=tap, multi_queue=True))
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    return fds
