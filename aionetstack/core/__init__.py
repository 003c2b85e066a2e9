"""aionetstack.core: the sans-IO engines (no asyncio, no clock, no file descriptors).

``StackEngine`` (``core/stack.py``) is one IPv4 host: interfaces and routing
(``routing.py``), IPv4 validation/reassembly/fragmentation (``ipv4.py``), ICMP
(``icmp.py``), UDP endpoints (``udp.py``), TCP listeners (``listener.py``) and
demux onto the TCP engine (``core/tcp``), with ``netstat -s``-style counters
(``stats.py``). Names are imported lazily so ``import aionetstack.core.config``
stays cheap and free of import cycles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "PingRequest",
    "StackConfig",
    "StackEngine",
    "TcpListener",
    "UdpDatagramReceived",
    "UdpEndpoint",
    "UdpError",
]

_LAZY = {
    "PingRequest": "aionetstack.core.icmp",
    "StackConfig": "aionetstack.core.config",
    "StackEngine": "aionetstack.core.stack",
    "TcpListener": "aionetstack.core.listener",
    "UdpDatagramReceived": "aionetstack.core.udp",
    "UdpEndpoint": "aionetstack.core.udp",
    "UdpError": "aionetstack.core.udp",
}

if TYPE_CHECKING:
    from aionetstack.core.config import StackConfig
    from aionetstack.core.icmp import PingRequest
    from aionetstack.core.listener import TcpListener
    from aionetstack.core.stack import StackEngine
    from aionetstack.core.udp import UdpDatagramReceived, UdpEndpoint, UdpError


def __getattr__(name: str) -> Any:
    try:
        module_name = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'aionetstack.core' has no attribute {name!r}") from None
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value
