"""TCP servers of a ``Stack``, behaving like ``asyncio.Server``.

Theory of operation
-------------------
A ``Server`` owns one core ``TcpListener``. The engine completes handshakes by
itself and queues established connections on the listener (the accept queue,
bounded by ``backlog``); when ``take_ready()`` lists the listener, the stack
driver calls ``Server._on_ready()``, which accepts every queued connection and
wraps each in a ``TcpTransport`` with a fresh protocol from the factory. While
the server is not serving (``start_serving=False``) connections stay in the
accept queue, as they would in a kernel's listen backlog.

As in CPython 3.11, ``close()`` stops accepting (the listener is closed) but
leaves accepted connections alone, and ``wait_closed()`` returns once the server
is closed. ``sockets`` lists small socket-like records with ``getsockname()``.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aionetstack.aio.transport import TcpTransport

if TYPE_CHECKING:
    from aionetstack.aio.stack import Stack


class ServerSocket:
    """What ``Server.sockets`` lists: enough of a socket to ask its address."""

    family = socket.AF_INET
    type = socket.SOCK_STREAM
    proto = socket.IPPROTO_TCP

    def __init__(self, sockname: tuple[str, int]) -> None:
        self.sockname = sockname

    def getsockname(self) -> tuple[str, int]:
        return self.sockname

    def fileno(self) -> int:
        return -1

    def __repr__(self) -> str:
        return f"<aionetstack ServerSocket {self.sockname[0]}:{self.sockname[1]}>"


class Server(asyncio.AbstractServer):
    """A listening TCP server of a ``Stack``."""

    def __init__(
        self,
        stack: Stack,
        listener: Any,
        protocol_factory: Callable[[], asyncio.BaseProtocol],
        sockname: tuple[str, int],
    ) -> None:
        self._stack = stack
        self._loop = stack._loop
        self._listener: Any = listener
        self._protocol_factory = protocol_factory
        self._sockets: list[ServerSocket] | None = [ServerSocket(sockname)]
        self._serving = False
        self._active_count = 0
        self._waiters: list[asyncio.Future[None]] | None = []
        self._serving_forever_fut: asyncio.Future[None] | None = None
        self.sockname = sockname
        self.port = sockname[1]
        stack._owners[listener] = self

    def __repr__(self) -> str:
        return f"<aionetstack Server sockets={self.sockets!r}>"

    # --- driver side ---------------------------------------------------
    def _on_ready(self) -> None:
        if not self._serving or self._listener is None:
            return
        listener = self._listener
        stack = self._stack
        while True:
            conn = listener.accept()
            if conn is None:
                break
            if stack.tracer is not None:
                stack._trace(conn)
            try:
                protocol = self._protocol_factory()
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._loop.call_exception_handler(
                    {"message": "protocol factory failed in accept", "exception": exc}
                )
                conn.abort(self._loop.time())
                stack._touch(conn)
                continue
            TcpTransport(stack, conn, protocol, server=self)

    def _attach(self) -> None:
        self._active_count += 1

    def _detach(self) -> None:
        self._active_count -= 1
        if self._active_count == 0 and self._sockets is None:
            self._wakeup()

    def _wakeup(self) -> None:
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    # --- asyncio.AbstractServer ------------------------------------------
    @property
    def sockets(self) -> tuple[ServerSocket, ...]:
        return tuple(self._sockets or ())

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def is_serving(self) -> bool:
        return self._serving

    def close(self) -> None:
        if self._sockets is None:
            return
        self._sockets = None
        self._serving = False
        self._stack._servers.discard(self)
        listener, self._listener = self._listener, None
        if listener is not None:
            if self._stack._owners.get(listener) is self:
                del self._stack._owners[listener]
            listener.close(self._loop.time())  # the RSTs to unaccepted children
            self._stack._mark_dirty()
        fut = self._serving_forever_fut
        if fut is not None and not fut.done():
            fut.cancel()
            self._serving_forever_fut = None
        self._wakeup()

    async def start_serving(self) -> None:
        if self._sockets is None:
            raise RuntimeError(f"server {self!r} is closed")
        if not self._serving:
            self._serving = True
            self._on_ready()  # connections queued while not serving

    async def serve_forever(self) -> None:
        if self._serving_forever_fut is not None:
            raise RuntimeError(f"server {self!r} is already being awaited on serve_forever()")
        if self._sockets is None:
            raise RuntimeError(f"server {self!r} is closed")
        await self.start_serving()
        self._serving_forever_fut = self._loop.create_future()
        try:
            await self._serving_forever_fut
        except asyncio.CancelledError:
            try:
                self.close()
                await self.wait_closed()
            finally:
                raise
        finally:
            self._serving_forever_fut = None

    async def wait_closed(self) -> None:
        if self._sockets is None or self._waiters is None:
            return
        waiter = self._loop.create_future()
        self._waiters.append(waiter)
        await waiter

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
        await self.wait_closed()
