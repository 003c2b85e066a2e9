"""Host strings and socket addresses of both families, as asyncio shows them.

The engine holds addresses as ints; an IPv6 address is never below 2**32 there
(``core/routing.py``), so formatting needs no family. asyncio's socket
addresses are ``(host, port)`` for IPv4 and ``(host, port, flowinfo,
scope_id)`` for IPv6 (``socket.getsockname()`` of an ``AF_INET6`` socket);
both are accepted back wherever asyncio takes them (a 2-tuple for IPv6 too).
"""

from __future__ import annotations

import socket
from typing import Any

from aionetstack.wire.addr import int_to_ip, int_to_ip6, parse_ip

__all__ = ["SockAddr", "address_family", "parse_host", "parse_sockaddr", "sockaddr"]

#: ``(host, port)`` or ``(host, port, flowinfo, scope_id)``
SockAddr = tuple[Any, ...]

_MASK = 0xFFFFFFFF
_HOSTS: dict[str, tuple[int, int]] = {}  # literal -> (version, int), for hosts parsed before
_ANY: dict[str, tuple[int, int]] = {"0.0.0.0": (4, 0), "::": (6, 0)}


def parse_host(host: object, what: str = "host") -> tuple[int, int] | None:
    """``(version, address)`` of an IP literal of either family (``"::"``: the IPv6
    wildcard, ``(6, 0)``); None for None or ``""`` (any address, any family).
    ValueError for anything else (a name must be resolved first)."""
    if host is None or host == "":
        return None
    if type(host) is str:
        known = _HOSTS.get(host)
        if known is not None:
            return known
    elif not isinstance(host, str):
        raise TypeError(f"{what} must be an IP address string, not {type(host).__name__}")
    text = str(host)
    parsed = _ANY.get(text) or parse_ip(text)
    if len(_HOSTS) >= 1024:
        _HOSTS.clear()
    _HOSTS[text] = parsed
    return parsed


def parse_sockaddr(addr: Any, what: str) -> tuple[tuple[int, int] | None, int]:
    """A socket address as asyncio takes it (``(host, port)``, or an IPv6
    ``(host, port, flowinfo, scope_id)``): the host parsed, the port checked."""
    if not isinstance(addr, tuple | list) or len(addr) not in (2, 4):
        raise TypeError(f"{what} must be a (host, port) tuple, not {addr!r}")
    host, port = addr[0], addr[1]
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"{what} port must be an int, not {type(port).__name__}")
    if not 0 <= port <= 65535:
        raise ValueError(f"{what} port must be in 0..65535, got {port}")
    parsed = parse_host(host, f"{what} host")
    if len(addr) == 4 and parsed is not None and parsed[0] != 6:
        raise TypeError(f"{what}: a 4-tuple address is IPv6, not {host!r}")
    return parsed, port


def sockaddr(addr: int, port: int, family: int = 0) -> SockAddr:
    """asyncio's form of ``addr:port`` (``family`` 6 for the wildcard ``::``)."""
    if addr > _MASK or family == 6:
        return (int_to_ip6(addr), port, 0, 0)
    return (int_to_ip(addr), port)


def address_family(addr: int, family: int = 0) -> socket.AddressFamily:
    """``AF_INET6`` for an IPv6 address (or ``family`` 6), else ``AF_INET``."""
    return socket.AF_INET6 if addr > _MASK or family == 6 else socket.AF_INET
