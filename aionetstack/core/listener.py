"""TCP listeners: the SYN queue and the accept queue (RFC 9293 3.10.7.2, Linux).

Theory of operation
-------------------
A listener owns two queues, like Linux's ``inet_connection_sock``:

* the *SYN queue*: children in SYN-RECEIVED (created by the TCP engine's
  ``TcpConnection.accept`` from a SYN, already in the stack's 4-tuple demux
  table, retransmitting their SYN-ACK on their own timers);
* the *accept queue*: children whose handshake completed (any state past
  SYN-RECEIVED), waiting for ``accept()``.

Both are bounded by ``backlog``. Without SYN cookies a SYN is dropped when the
accept queue is full (counted ListenOverflows and ListenDrops, Linux
``tcp_conn_request``) or when the SYN queue plus the accept queue already hold
``backlog`` children (ListenDrops): the client's SYN retransmission retries
later. The stack does the admission and the queue moves; the listener only
holds the queues. A child reset before ``accept()`` just leaves the SYN queue.

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
        "port",
        "syn_filter",
        "syn_queue",
        "transparent",
    )

    def __init__(
        self, host: _ListenHost, addr: int, port: int, backlog: int, *, transparent: bool
    ) -> None:
        self._host = host
        self.addr = addr
        self.port = port
        self.backlog = backlog
        self.transparent = transparent
        #: transparent listeners: asked about each new SYN before any state
        #: (``core/verdict.py``); set it after ``tcp_listen``.
        self.syn_filter: FlowFilter | None = None
        self.closed = False
        # 4-tuple -> child, in arrival order
        self.syn_queue: dict[tuple[int, int, int, int], TcpConnection] = {}
        self.accept_queue: deque[TcpConnection] = deque()

    @property
    def pending(self) -> int:
        """Connections ready for ``accept()``."""
        self._host._settle()
        return len(self.accept_queue)

    @property
    def syn_pending(self) -> int:
        """Children still in SYN-RECEIVED."""
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
