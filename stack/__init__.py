"""tunstack: a pure, deterministic userspace IPv4/IPv6 host stack.

``Host(HostConfig(...)).handle(packet, now)`` returns the packets the host sends.
"""

from stack import corebuild

# Before anything below imports the core: compiled modules or their sources (corebuild).
corebuild.select()

from stack.host import ConfigError, Host, HostConfig, Stats  # noqa: E402

__all__ = ["ConfigError", "Host", "HostConfig", "Stats", "version_text"]
__version__ = "0.1.0"


def version_text(program: str) -> str:
    """What ``program --version`` prints: the release and which build of the core runs."""
    return f"{program} {__version__} (core {corebuild.describe()})"
