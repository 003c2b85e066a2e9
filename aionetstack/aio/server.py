"""TCP servers of a ``Stack``, behaving like ``asyncio.Server``.

Theory of operation
-------------------
A ``Server`` owns one core ``TcpListener``. The engine completes handshakes by
itself and queues established connections on the listener (the accept queue,
bounded by ``backlog``); when ``take_ready()`` lists the listener, the driver
(driver.py) calls ``Server.on_ready()``, which accepts every queued connection
and wraps each in a ``TcpTransport`` with a fresh protocol from the factory; the
transport calls back ``on_detach`` when it is gone (the server counts its
connections). While
the server is not serving (``start_serving=False``) connections stay in the
accept queue, as they would in a kernel's listen backlog.

As in CPython 3.11, ``close()`` stops accepting (the listener is closed) but
leaves accepted connections alone, and ``wait_closed()`` returns once the server
is closed. ``sockets`` lists small socket-like records with ``getsockname()``:
two for a server of every address (``host=None``: ``0.0.0.0`` and ``::``, as
asyncio's two sockets), though one dual-stack listener serves both.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import attrs

from aionetstack.aio.addresses import SockAddr
from aionetstack.aio.driver import Driver
from aionetstack.aio.transport import TcpTransport
from aionetstack.core.listener import TcpListener


class ServerSocket:
    """What ``Server.sockets`` lists: enough of a socket to ask its address."""

    type = socket.SOCK_STREAM
    proto = socket.IPPROTO_TCP

    def __init__(self, sockname: SockAddr) -> None:
        self.sockname = sockname
        self.family = socket.AF_INET6 if len(sockname) == 4 else socket.AF_INET

    def getsockname(self) -> SockAddr:
        return self.sockname

    def fileno(self) -> int:
        return -1

    def __repr__(self) -> str:
        return f"<aionetstack ServerSocket {self.sockname[0]}:{self.sockname[1]}>"


class Server(asyncio.AbstractServer):
    """A listening TCP server of a ``Stack``."""

    def __init__(
        self,
        driver: Driver,
        listener: TcpListener,
        protocol_factory: Callable[[], asyncio.BaseProtocol],
        sockname: SockAddr | list[SockAddr],
        *,
        keep_alive: bool = False,
    ) -> None:
        """``keep_alive``: SO_KEEPALIVE on every accepted connection; ``sockname``:
        the listener's address, or one per family it serves."""
        socknames = sockname if isinstance(sockname, list) else [sockname]
        self._driver = driver
        self._keep_alive = keep_alive
        self._loop = driver.loop
        self._listener: TcpListener | None = listener
        self._protocol_factory = protocol_factory
        self._sockets: list[ServerSocket] | None = [ServerSocket(name) for name in socknames]
        self._serving = False
        self._active_count = 0
        self._waiters: list[asyncio.Future[None]] | None = []
        self._serving_forever_fut: asyncio.Future[None] | None = None
        self.sockname = socknames[0]
        self.port = socknames[0][1]
        driver.own(listener, self)

    def __repr__(self) -> str:
        return f"<aionetstack Server sockets={self.sockets!r}>"

    # --- driver side ---------------------------------------------------
    def on_ready(self) -> None:
        """Accept every queued connection (called by the driver)."""
        listener = self._listener
        if not self._serving or listener is None:
            return
        driver = self._driver
        while True:
            conn = listener.accept()
            if conn is None:
                break
            driver.trace(conn)
            if self._keep_alive:
                conn.set_config(attrs.evolve(conn.config, keepalive=True), self._loop.time())
            try:
                protocol = self._protocol_factory()
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._loop.call_exception_handler(
                    {"message": "protocol factory failed in accept", "exception": exc}
                )
                conn.abort(self._loop.time())
                driver.touch(conn)
                continue
            self._attach()
            TcpTransport(driver, conn, protocol, on_detach=self._detach)

    def on_stack_close(self) -> None:
        self.close()

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
        listener, self._listener = self._listener, None
        if listener is not None:
            self._driver.disown(listener, self)
            listener.close(self._loop.time())  # the RSTs to unaccepted children
            self._driver.mark_dirty()
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
            self.on_ready()  # connections queued while not serving

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
