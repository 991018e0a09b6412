"""pmd-pytcp 0.3.8 (PyPI, by PyTCP's author) answering on a TAP device.

Runs in the league's own virtualenv (league/build/pytcp-venv), never the project's.
PyTCP opens its TUN without IFF_NO_PI, so the league drives it over TAP (where it does set
IFF_NO_PI); the device name must start with "tap" (PyTCP derives its default MAC from
it), and its link-local address is the EUI-64 one of the MAC we give it
(02:00:00:00:00:02 -> fe80::ff:fe00:2), hence the league's --map for fe80::2.

usage: python pytcp_tap.py DEV [IPV4/LEN [IPV6/LEN]]
"""

from __future__ import annotations

import asyncio
import fcntl
import socket
import struct
import sys

from pmd_net_addr import Ip4IfAddr, Ip6IfAddr, MacAddress
from pmd_pytcp import __version__, stack
from pmd_pytcp.runtime.fib import Route, RouteScope
from pmd_pytcp.stack.route import DEFAULT_IP4_NETWORK, DEFAULT_IP6_NETWORK

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1


def bring_up(name: str) -> None:
    """Set the device up, as the C shims do: PyTCP leaves that to the administrator."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH", name.encode(), 0)
        flags = struct.unpack("16sH", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH", name.encode(), flags | IFF_UP))


async def serve(name: str, ip4: str, ip6: str) -> None:
    stack.init()
    interface = stack.initialize_interface__tap(
        interface_name=name, mac_address=MacAddress("02:00:00:00:00:02"))
    bring_up(name)
    stack.add_interface(**interface, ip4_support=True, ip4_host=Ip4IfAddr(ip4), ip4_dhcp=False,
                        ip6_support=True, ip6_host=Ip6IfAddr(ip6), ip6_gua_autoconfig=False)
    # The corpus's peers sit outside the subnets (10.x.y.z, fd00:16::a:...): on-link
    # default routes, as `ip route add default dev DEV` would make.
    for fib, network in ((stack.ip4_fib, DEFAULT_IP4_NETWORK),
                         (stack.ip6_fib, DEFAULT_IP6_NETWORK)):
        fib.add(route=Route(destination=network, scope=RouteScope.LINK, oif=1))
    await stack.start()
    print(f"pytcp-tap: pmd-pytcp {__version__} answers on {name} as {ip4}, {ip6}",
          file=sys.stderr, flush=True)
    await asyncio.Event().wait()


def main() -> int:
    if len(sys.argv) < 2 or not sys.argv[1].startswith("tap"):
        print("usage: pytcp_tap.py tapN [IPV4/LEN [IPV6/LEN]] (PyTCP needs a tap* name)",
              file=sys.stderr)
        return 2
    ip4 = sys.argv[2] if len(sys.argv) > 2 else "172.16.0.2/24"
    ip6 = sys.argv[3] if len(sys.argv) > 3 else "fd00:16::2/64"
    asyncio.run(serve(sys.argv[1], ip4, ip6))
    return 0


if __name__ == "__main__":
    sys.exit(main())
