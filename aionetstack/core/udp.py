"""UDP endpoints (RFC 768) with Linux's connected/unconnected semantics.

Theory of operation
-------------------
A ``UdpEndpoint`` is bound to one local (address, port); address 0 means every
local address. The stack demultiplexes an incoming datagram by
``ports[dst_port]`` then ``[dst_addr]`` or ``[0]`` (O(1)), like Linux's
``__udp4_lib_lookup``; a *connected* endpoint only matches datagrams from its
remote (address, port): from anyone else the datagram finds no socket and gets
the ICMP port unreachable a closed port gets.

``connect(remote)`` is Linux's ``ip4_datagram_connect``: route lookup (no route:
ENETUNREACH), broadcast destination without ``allow_broadcast``: EACCES, the
route's source address fixes the local address if it was the wildcard, and the
4-tuple is bound. Only connected endpoints receive ICMP errors (as ``UdpError``
events; ``__udp4_lib_err`` ignores them on unconnected sockets without
IP_RECVERR).

Received datagrams queue as ``UdpDatagramReceived`` events, up to
``recv_buffer`` bytes (beyond: dropped, UdpRcvbufErrors, like a full socket
receive buffer). Each datagram is charged ``DATAGRAM_OVERHEAD`` bytes on top
of its payload (Linux charges skb truesize, not payload, against sk_rcvbuf in
__udp_enqueue_schedule_skb), so a flood of empty datagrams is bounded too.
``UdpError`` events are capped at ``MAX_QUEUED_ERRORS`` unread (Linux keeps a
single pending sk_err without IP_RECVERR; extra errors are dropped). The endpoint never sends by itself: ``sendto`` hands the
datagram to the stack, which routes, builds and (if needed) fragments it.

A *transparent* endpoint (``StackEngine.udp_open_transparent``, one per stack:
the gateway case, Linux's IP_TRANSPARENT + TPROXY) receives every datagram
that no regular endpoint matches, whatever its destination address and port;
each ``UdpDatagramReceived`` then carries the original destination in
``dest``, and ``sendto(..., source=(addr, port))`` sends a reply from any
address and port (the original destination). Its ``datagram_filter``
(``core/verdict.py``) is asked first about each such datagram: accept,
refuse (ICMP port unreachable from the original destination) or drop.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

import attrs

from aionetstack.core.verdict import FlowFilter

DATAGRAM_OVERHEAD = 64  # bytes charged per queued datagram besides its payload
MAX_QUEUED_ERRORS = 16  # unread UdpError events kept per endpoint


@attrs.frozen(slots=True)
class UdpDatagramReceived:
    """A datagram for the endpoint: ``data`` from ``addr`` = (address, port);
    ``dest`` the (address, port) it was sent to (transparent endpoints only)."""

    data: bytes
    addr: tuple[int, int]
    dest: tuple[int, int] | None = None


@attrs.frozen(slots=True)
class UdpError:
    """An ICMP error about a datagram this (connected) endpoint sent."""

    error: OSError


UdpEvent = UdpDatagramReceived | UdpError


class _UdpHost(Protocol):
    def _udp_sendto(
        self,
        endpoint: UdpEndpoint,
        data: bytes | bytearray | memoryview,
        addr: tuple[int, int] | None,
        now: float,
        source: tuple[int, int] | None = None,
    ) -> None: ...

    def _udp_connect(self, endpoint: UdpEndpoint, remote: tuple[int, int]) -> None: ...

    def _udp_close(self, endpoint: UdpEndpoint) -> None: ...


class UdpEndpoint:
    """One bound UDP socket of a StackEngine (create it with ``StackEngine.udp_open``)."""

    __slots__ = (
        "__weakref__",
        "_events",
        "_host",
        "allow_broadcast",
        "closed",
        "datagram_filter",
        "family",
        "ifindex",
        "local_addr",
        "local_port",
        "queued_bytes",
        "queued_errors",
        "recv_buffer",
        "remote",
        "transparent",
    )

    def __init__(
        self,
        host: _UdpHost,
        local_addr: int,
        local_port: int,
        *,
        allow_broadcast: bool,
        recv_buffer: int,
        transparent: bool = False,
        datagram_filter: FlowFilter | None = None,
        family: int = 4,
    ) -> None:
        self._host = host
        self.family = family  # 4, or 6: addresses are 128-bit ints (local_addr 0: ``::``)
        self.transparent = transparent
        self.datagram_filter = datagram_filter
        self.local_addr = local_addr
        self.local_port = local_port
        self.remote: tuple[int, int] | None = None
        self.ifindex: int | None = None  # the route's interface once connected
        self.allow_broadcast = allow_broadcast
        self.recv_buffer = recv_buffer
        self.queued_bytes = 0  # charged: payload + DATAGRAM_OVERHEAD per queued datagram
        self.queued_errors = 0
        self.closed = False
        self._events: deque[UdpEvent] = deque()

    @property
    def connected(self) -> bool:
        return self.remote is not None

    # --- application ----------------------------------------------------
    def sendto(
        self,
        data: bytes | bytearray | memoryview,
        addr: tuple[int, int] | None,
        now: float,
        source: tuple[int, int] | None = None,
    ) -> None:
        """Send one datagram to ``addr`` (None: the connected remote).

        ``source``: the (address, port) to send from; transparent endpoints
        only (others: ValueError), any address. Raises OSError(ENETUNREACH)
        without a route, PermissionError(EACCES)
        for a broadcast destination without ``allow_broadcast``,
        OSError(EDESTADDRREQ) for ``addr=None`` on an unconnected endpoint,
        OSError(EMSGSIZE) beyond 65507 bytes, TypeError/ValueError for bad arguments.
        """
        self._host._udp_sendto(self, data, addr, now, source)

    def send(self, data: bytes | bytearray | memoryview, now: float) -> None:
        """Send to the connected remote."""
        self._host._udp_sendto(self, data, None, now)

    def connect(self, remote: tuple[int, int]) -> None:
        """Linux ip4_datagram_connect: fix the remote (and the source address)."""
        self._host._udp_connect(self, remote)

    def close(self) -> None:
        """Unbind; queued events stay readable. Idempotent."""
        if not self.closed:
            self._host._udp_close(self)
            self.closed = True

    def next_event(self) -> UdpEvent | None:
        events = self._events
        if not events:
            return None
        event = events.popleft()
        if type(event) is UdpDatagramReceived:
            self.queued_bytes -= len(event.data) + DATAGRAM_OVERHEAD
        else:
            self.queued_errors -= 1
        return event

    # --- stack side -----------------------------------------------------------
    def _deliver(
        self, data: bytes, addr: tuple[int, int], dest: tuple[int, int] | None = None
    ) -> bool:
        """Queue a datagram; False when the receive buffer is full (dropped)."""
        size = len(data) + DATAGRAM_OVERHEAD
        if self.queued_bytes + size > self.recv_buffer and self._events:
            return False
        self.queued_bytes += size
        self._events.append(UdpDatagramReceived(data, addr, dest))
        return True

    def _error(self, error: OSError) -> bool:
        """Queue an ICMP error; False (dropped) when MAX_QUEUED_ERRORS are unread."""
        if self.queued_errors >= MAX_QUEUED_ERRORS:
            return False
        self.queued_errors += 1
        self._events.append(UdpError(error))
        return True

    def __repr__(self) -> str:
        if self.transparent:
            return f"UdpEndpoint(transparent, closed={self.closed})"
        return (
            f"UdpEndpoint(local=({self.local_addr:#010x}, {self.local_port}), remote={self.remote}, "
            f"closed={self.closed})"
        )
