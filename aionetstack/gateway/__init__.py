"""The gateway: relay every flow of a stack to the outside world (issue 13).

This package holds the outbound side so far: ``dialers`` (``DirectDialer``,
``Socks5Dialer`` and the ``Dialer`` protocol they share) over a sans-IO SOCKS5
codec (``socks5``). It runs on the kernel's sockets through asyncio.
"""

from __future__ import annotations

from aionetstack.gateway.dialers import (
    Dialer,
    DialerStats,
    DirectDialer,
    DirectUdpAssociation,
    Socks5Dialer,
    Socks5UdpAssociation,
    UdpAssociation,
    UdpStats,
)

__all__ = [
    "Dialer",
    "DialerStats",
    "DirectDialer",
    "DirectUdpAssociation",
    "Socks5Dialer",
    "Socks5UdpAssociation",
    "UdpAssociation",
    "UdpStats",
]
