"""tunstack: a pure, deterministic userspace IPv4/IPv6 host stack.

``Host(HostConfig(...)).handle(packet, now)`` returns the packets the host sends.
"""

from stack import corebuild

# Before anything below imports the core: compiled modules or their sources (corebuild).
corebuild.select()

from stack.host import ConfigError, Host, HostConfig, Stats  # noqa: E402

__all__ = ["ConfigError", "Host", "HostConfig", "Stats"]
__version__ = "0.1.0"
