"""The gateway: relay every flow of a stack to the outside world (issue 13).

``relay`` (``Relay``, ``Flow``, ``RelayStats``) terminates every TCP and UDP
flow that reaches a ``Stack`` and re-originates it through an outbound dialer:
``dialers`` (``DirectDialer``, ``Socks5Dialer`` and the ``Dialer`` protocol
they share) over a sans-IO SOCKS5 codec (``socks5``), on the kernel's sockets.
``Verdict`` is what the flow filters return; ``FakeIpPool`` (``fakeip``) is
the optional fake-IP DNS mode. The ``aionetstack gateway``
command (``cli.py``) runs it all on a TUN device.
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
from aionetstack.gateway.fakeip import FakeIpPool
from aionetstack.gateway.relay import Flow, Relay, RelayStats, Verdict

__all__ = [
    "Dialer",
    "DialerStats",
    "DirectDialer",
    "DirectUdpAssociation",
    "FakeIpPool",
    "Flow",
    "Relay",
    "RelayStats",
    "Socks5Dialer",
    "Socks5UdpAssociation",
    "UdpAssociation",
    "UdpStats",
    "Verdict",
]
