"""tunstack: a pure, deterministic userspace IPv4/IPv6 host stack.

``Host(HostConfig(...)).handle(packet, now)`` returns the packets the host sends.
"""

from stack.host import ConfigError, Host, HostConfig, Stats

__all__ = ["ConfigError", "Host", "HostConfig", "Stats"]
__version__ = "0.1.0"
