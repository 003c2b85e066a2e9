"""TCP listeners: the SYN queue and the accept queue (RFC 9293 3.10.7.2, Linux).

Theory of operation
-------------------
A listener owns two queues, like Linux's ``inet_connection_sock``:

* the *SYN queue*: half-open passive connections as small request records
  (``reqsock.RequestSock``: 4-tuple, ISS/IRS, the SYN's options, the SYN-ACK
  retransmission state), not connections (Linux ``request_sock``); the stack
  demuxes the ACK to them, retransmits their SYN-ACK, and turns a record into a
  ``TcpConnection`` when the ACK completes the handshake. It holds
  ``syn_backlog = min(backlog, StackConfig.max_syn_backlog)`` records;
* the *accept queue*: connections whose handshake completed (any state past
  SYN-RECEIVED), waiting for ``accept()``, bounded by ``backlog``.

A SYN is dropped when the accept queue is full (ListenOverflows and
ListenDrops, Linux ``tcp_conn_request``); a handshake that completes while it
is full still joins it (the bound is kept at SYN time, so a burst of ACKs is
never dropped). When the SYN queue is full, the SYN
is answered with a SYN cookie (``syncookies.py``; ``StackConfig.syncookies``
1, Linux's default; with 2 every SYN is) and leaves no state at all; with
cookies off it is dropped (ListenDrops, TCPReqQFullDrop) and the client's SYN
retransmission retries later. ``cookie_time`` is when the listener last sent
a cookie: an ACK is checked as a cookie only within two minutes of it (Linux
``tcp_synq_no_recent_overflow``). The stack does the admission and the queue
moves; the listener only holds the queues. A record reset or timed out
before its handshake completes just leaves the SYN queue.

``close()`` resets every child the application never accepted (Linux
``inet_csk_listen_stop``) and unbinds the listener. Children become visible to
the application only through ``accept()``; drain their events right after it.
A *transparent* listener matches any destination address and port (the
tun2socks gateway case); its children's local address is the original
destination.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from aionetstack.core.reqsock import RequestSock
    from aionetstack.core.tcp.connection import TcpConnection
    from aionetstack.core.verdict import FlowFilter


class _ListenHost(Protocol):
    def _settle(self) -> None: ...

    def _listener_close(self, listener: TcpListener, now: float | None) -> None: ...

    def _listener_accepted(self, listener: TcpListener, conn: TcpConnection) -> None: ...


class TcpListener:
    """A listening TCP socket of a StackEngine (create it with ``StackEngine.tcp_listen``)."""

    __slots__ = (
        "__weakref__",
        "_host",
        "accept_queue",
        "addr",
        "backlog",
        "closed",
        "cookie_time",
        "family",
        "port",
        "syn_backlog",
        "syn_filter",
        "syn_queue",
        "transparent",
    )

    def __init__(
        self,
        host: _ListenHost,
        addr: int,
        port: int,
        backlog: int,
        *,
        transparent: bool,
        family: int = 4,
    ) -> None:
        self._host = host
        self.family = family  # 4, or 6 (``addr`` a 128-bit int, 0 for ``::``)
        self.addr = addr
        self.port = port
        self.backlog = backlog
        self.syn_backlog = backlog  # the stack sets min(backlog, max_syn_backlog)
        self.cookie_time = -float("inf")
        self.transparent = transparent
        #: transparent listeners: asked about each new SYN before any state
        #: (``core/verdict.py``); set it after ``tcp_listen``.
        self.syn_filter: FlowFilter | None = None
        self.closed = False
        # 4-tuple -> half-open request record, in arrival order
        self.syn_queue: dict[tuple[int, int, int, int], RequestSock] = {}
        self.accept_queue: deque[TcpConnection] = deque()

    @property
    def pending(self) -> int:
        """Connections ready for ``accept()``."""
        self._host._settle()
        return len(self.accept_queue)

    @property
    def syn_pending(self) -> int:
        """Half-open request records (SYN received, SYN-ACK sent, no ACK yet)."""
        self._host._settle()
        return len(self.syn_queue)

    def accept(self) -> TcpConnection | None:
        """The oldest completed connection, or None. Drain its events right away."""
        self._host._settle()
        if not self.accept_queue:
            return None
        conn = self.accept_queue.popleft()
        self._host._listener_accepted(self, conn)
        return conn

    def close(self, now: float | None = None) -> None:
        """Stop listening; RST the children never accepted. Idempotent."""
        if not self.closed:
            self.closed = True
            self._host._listener_close(self, now)

    def __repr__(self) -> str:
        where = "transparent" if self.transparent else f"({self.addr:#010x}, {self.port})"
        return (
            f"TcpListener({where}, backlog={self.backlog}, pending={len(self.accept_queue)}, "
            f"syn_pending={len(self.syn_queue)}, closed={self.closed})"
        )
