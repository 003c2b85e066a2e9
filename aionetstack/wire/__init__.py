"""aionetstack.wire: stateless packet codecs (no state, no I/O, no clock).

Submodules: ``errors``, ``checksum``, ``siphash``, ``seq``, ``addr``, ``ipv4``,
``ipv6``, ``tcp``, ``udp``, ``icmp``, ``icmpv6``, ``pcap``. They are imported on first attribute
access, so ``import aionetstack.wire`` stays cheap::

    from aionetstack.wire import checksum, tcp
    aionetstack.wire.checksum.internet_checksum(b"...")
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING

from aionetstack.wire.errors import (
    BadHeaderError,
    BadOptionError,
    ChecksumError,
    ParameterProblemError,
    TruncatedError,
    WireError,
)

if TYPE_CHECKING:
    from aionetstack.wire import (
        addr,
        checksum,
        icmp,
        icmpv6,
        ipv4,
        ipv6,
        pcap,
        seq,
        siphash,
        tcp,
        udp,
    )

__all__ = [
    "BadHeaderError",
    "BadOptionError",
    "ChecksumError",
    "ParameterProblemError",
    "TruncatedError",
    "WireError",
    "addr",
    "checksum",
    "errors",
    "icmp",
    "icmpv6",
    "ipv4",
    "ipv6",
    "pcap",
    "seq",
    "siphash",
    "tcp",
    "udp",
]

# the lower-case names of __all__ are the submodules, imported on first use
_SUBMODULES = frozenset(name for name in __all__ if name.islower())


def __getattr__(name: str) -> ModuleType:
    if name in _SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
