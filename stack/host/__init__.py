"""Policy: what a host answers and why."""

from stack.host.config import ConfigError, HostConfig
from stack.host.host import Host
from stack.host.stats import Stats

__all__ = ["ConfigError", "Host", "HostConfig", "Stats"]
