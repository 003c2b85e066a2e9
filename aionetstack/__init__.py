"""aionetstack: an asyncio-native user-space TCP/IP stack.

The public names are imported lazily so that the sans-IO layers (``wire``,
``core``) can be used without importing asyncio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aionetstack.core.config import StackConfig
from aionetstack.core.tcp.events import (
    Connected,
    ConnectionClosed,
    DataAvailable,
    EofReceived,
    SendSpace,
    TcpEvent,
)
from aionetstack.core.tcp.info import TcpInfo
from aionetstack.link.base import Link
from aionetstack.wire.errors import WireError

__version__ = "0.1.0.dev0"

__all__ = [
    "Connected",
    "ConnectionClosed",
    "DataAvailable",
    "DnsResolver",
    "EofReceived",
    "ImpairedLink",
    "Link",
    "MemoryLink",
    "Resolver",
    "SendSpace",
    "Server",
    "Stack",
    "StackConfig",
    "StackSocket",
    "TcpEvent",
    "TcpInfo",
    "TunLink",
    "WireError",
    "__version__",
    "capture",
    "impair",
    "install",
    "memory_link_pair",
]

_LAZY = {
    "Stack": ("aionetstack.aio.stack", "Stack"),
    "Server": ("aionetstack.aio.server", "Server"),
    "StackSocket": ("aionetstack.aio.sockopt", "StackSocket"),
    "Resolver": ("aionetstack.aio.resolver", "Resolver"),
    "DnsResolver": ("aionetstack.aio.resolver", "DnsResolver"),
    "memory_link_pair": ("aionetstack.aio.links", "memory_link_pair"),
    "impair": ("aionetstack.aio.links", "impair"),
    "capture": ("aionetstack.aio.links", "capture"),
    "install": ("aionetstack.aio.integration", "install"),
    "MemoryLink": ("aionetstack.link.memory", "MemoryLink"),
    "ImpairedLink": ("aionetstack.link.impair", "ImpairedLink"),
    "TunLink": ("aionetstack.link.tun", "TunLink"),
}

if TYPE_CHECKING:
    from aionetstack.aio.integration import install
    from aionetstack.aio.links import capture, impair, memory_link_pair
    from aionetstack.aio.resolver import DnsResolver, Resolver
    from aionetstack.aio.server import Server
    from aionetstack.aio.sockopt import StackSocket
    from aionetstack.aio.stack import Stack
    from aionetstack.link.impair import ImpairedLink
    from aionetstack.link.memory import MemoryLink
    from aionetstack.link.tun import TunLink


def __getattr__(name: str) -> Any:
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'aionetstack' has no attribute {name!r}") from None
    import importlib

    value = getattr(importlib.import_module(module_name), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names only (not ``Any``, ``TYPE_CHECKING``, ``annotations``)."""
    return sorted(__all__)
