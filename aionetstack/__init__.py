"""aionetstack: an asyncio-native user-space TCP/IP stack.

The public names are imported lazily so that the sans-IO layers (``wire``,
``core``) can be used without importing asyncio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aionetstack.core.config import StackConfig
from aionetstack.wire.errors import WireError

__version__ = "0.1.0.dev0"

__all__ = [
    "Stack",
    "StackConfig",
    "TunLink",
    "WireError",
    "__version__",
    "capture",
    "impair",
    "memory_link_pair",
]

_LAZY = {
    "Stack": ("aionetstack.aio.stack", "Stack"),
    "memory_link_pair": ("aionetstack.aio.links", "memory_link_pair"),
    "impair": ("aionetstack.aio.links", "impair"),
    "capture": ("aionetstack.aio.links", "capture"),
    "TunLink": ("aionetstack.link.tun", "TunLink"),
}

if TYPE_CHECKING:
    from aionetstack.aio.links import capture, impair, memory_link_pair
    from aionetstack.aio.stack import Stack
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
