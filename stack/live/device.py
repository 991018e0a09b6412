"""Configuring the kernel side of a TUN/TAP device over netlink (pyroute2).

``configure_device`` brings the device up, sets its MTU and gives the kernel its
addresses, so that ``ping 172.16.0.2`` routes into the device through the connected
route the kernel adds for the prefix. It refuses, with one line, to touch a device that
already carries other addresses ("configured differently"): changing someone else's
configuration behind their back is worse than stopping.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl.ifaddrmsg import IFA_F_NODAD

__all__ = ["DeviceError", "DevicePlan", "configure_device", "device_mtu"]

Interface = ipaddress.IPv4Interface | ipaddress.IPv6Interface


class DeviceError(RuntimeError):
    """The device could not be configured; the message is one line for the user."""


@dataclass(frozen=True)
class DevicePlan:
    """What the kernel side of the device should look like."""

    name: str
    mtu: int | None = None  # None: leave the device's MTU as it is
    kernel_addresses: tuple[Interface, ...] = field(default_factory=tuple)


def _index(ipr: IPRoute, name: str) -> int:
    found = ipr.link_lookup(ifname=name)
    if not found:
        raise DeviceError(f"no network device {name}")
    return int(found[0])


def _current_addresses(ipr: IPRoute, index: int) -> list[Interface]:
    """The addresses the kernel has on the device, link-local IPv6 ones left out: the
    kernel makes those itself when the device comes up (addrconf_dev_config)."""
    found: list[Interface] = []
    for message in ipr.get_addr(index=index):
        text = message.get_attr("IFA_ADDRESS")
        if text is None:
            continue
        iface = ipaddress.ip_interface(f"{text}/{message['prefixlen']}")
        if isinstance(iface, ipaddress.IPv6Interface) and iface.ip.is_link_local:
            continue
        found.append(iface)
    return found


def _refuse_shared_prefix(ipr: IPRoute, index: int, plan: DevicePlan) -> None:
    """Refuse a prefix the kernel already has on another device (a second stack-live in
    the same namespace with the defaults): Linux would add a second connected route for
    it, and the first one (fib_table_lookup takes the older) keeps the traffic, so the
    new stack would see nothing, or a share of it, silently."""
    names = {int(link["index"]): link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
    for message in ipr.get_addr():
        other = int(message["index"])
        text = message.get_attr("IFA_ADDRESS")
        if other == index or text is None:
            continue
        theirs = ipaddress.ip_interface(f"{text}/{message['prefixlen']}")
        if isinstance(theirs, ipaddress.IPv6Interface) and theirs.ip.is_link_local:
            continue
        for ours in plan.kernel_addresses:
            if ours.version == theirs.version and ours.network.overlaps(theirs.network):
                where = f"{names.get(other, f'device {other}')} ({theirs})"
                clash = (f"is already on {where}" if ours.network == theirs.network else
                         f"overlaps {theirs.network}, already on {where}")
                raise DeviceError(
                    f"{ours.network} {clash}: a second device with it would give the "
                    "kernel two routes for one prefix; choose another --kernel-ipv4/--ipv4 or "
                    "--kernel-ipv6/--ipv6, or stop the other")


def configure_device(plan: DevicePlan) -> None:
    """Bring ``plan.name`` up with ``plan.mtu`` and add ``plan.kernel_addresses``.

    Idempotent: addresses already present are kept. Any other address on the device
    (not link-local) is an error, as is a netlink refusal; both raise DeviceError."""
    try:
        with IPRoute() as ipr:
            index = _index(ipr, plan.name)
            present = _current_addresses(ipr, index)
            wanted = set(plan.kernel_addresses)
            foreign = [str(a) for a in present if a not in wanted]
            if foreign:
                raise DeviceError(
                    f"{plan.name} is already configured differently (has "
                    f"{', '.join(foreign)}; tunstack would set "
                    f"{', '.join(str(a) for a in plan.kernel_addresses) or 'no address'}): "
                    "remove those addresses, pass matching --kernel-ipv4/--kernel-ipv6, "
                    "or use --no-configure")
            _refuse_shared_prefix(ipr, index, plan)
            if plan.mtu is not None:
                ipr.link("set", index=index, mtu=plan.mtu)
            ipr.link("set", index=index, state="up")
            for iface in plan.kernel_addresses:
                if iface in present:
                    continue
                # IFA_F_NODAD: the address is usable at once. With duplicate address
                # detection (RFC 4862 §5.4) the kernel's IPv6 address stays tentative for
                # about a second and the first `ping -6` fails to bind its source.
                flags = IFA_F_NODAD if iface.version == 6 else 0
                ipr.addr("add", index=index, address=str(iface.ip),
                         prefixlen=iface.network.prefixlen, flags=flags)
    except NetlinkError as exc:
        raise DeviceError(f"configuring {plan.name}: {exc.args[-1] if exc.args else exc}") \
            from None


def device_mtu(name: str) -> int:
    """The MTU the kernel has for device ``name``."""
    try:
        with IPRoute() as ipr:
            index = _index(ipr, name)
            links = ipr.get_links(index)
            return int(links[0].get_attr("IFLA_MTU"))
    except NetlinkError as exc:
        raise DeviceError(f"reading the MTU of {name}: {exc.args[-1] if exc.args else exc}") \
            from None
