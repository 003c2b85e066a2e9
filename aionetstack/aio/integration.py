"""Unmodified asyncio libraries over a ``Stack``: ``install(stack, loop)``.

Theory of operation
-------------------
Libraries written for plain asyncio open their connections with
``loop.create_connection``, ``loop.create_server``,
``loop.create_datagram_endpoint`` and ``loop.getaddrinfo`` (or with
``asyncio.open_connection`` / ``asyncio.start_server``, which call the first
two). ``install(stack, loop)`` routes those four methods of one loop to the
stack, so such a library runs over it without a line changed; and
``loop.start_tls`` (``StreamWriter.start_tls``) layers asyncio's TLS over a
stack transport on any loop, uvloop included (whose own accepts only its
transports)::

    async def main() -> None:
        async with aionetstack.Stack(link, "198.18.0.2/24") as stack:
            aionetstack.install(stack)  # the running loop
            async with websockets.connect("ws://198.18.0.1:8765") as ws: ...

The methods are replaced on the loop *instance* (the class is untouched:
other loops are not affected), which works on asyncio's loops and on uvloop's
(its compiled ``Loop`` keeps an instance ``__dict__``); ``install`` returns a
function that restores them.

Libraries that make their own sockets and hand them over (aiohttp's default
``TCPConnector``, through aiohappyeyeballs: ``socket.socket()``,
``loop.sock_connect``, then ``loop.create_connection(sock=sock)``) are routed
too: ``sock_connect`` of an IPv4 TCP socket opens the connection on the stack
instead, and ``create_connection(sock=)`` adopts it (the socket, never
connected, is closed; one never handed over has its stack connection reset
when it is collected). Any other socket passed with ``sock=`` keeps the loop's
own behaviour. Everything else, the stack refuses or accepts as its own
methods do (``Stack.create_connection`` ...): host names go through the
stack's resolver.
"""

from __future__ import annotations

import asyncio
import socket
import ssl as _ssl
import weakref
from asyncio import sslproto
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from aionetstack.aio.addresses import sockaddr
from aionetstack.aio.transport import TcpTransport
from aionetstack.core.tcp.connection import TcpConnection

if TYPE_CHECKING:
    from aionetstack.aio.stack import Stack

__all__ = ["ROUTED", "StackRoutes", "install"]

ROUTED = (
    "create_connection",
    "create_server",
    "create_datagram_endpoint",
    "getaddrinfo",
    "start_tls",
    "sock_connect",
)
_ATTR = "_aionetstack_routes"


class StackRoutes:
    """The loop methods, answered by ``stack``; ``originals`` are the loop's own
    (bound) methods, used for calls that hand over a kernel socket."""

    def __init__(self, stack: Stack, originals: Mapping[str, Callable[..., Any]]) -> None:
        self.stack = stack
        self.originals = originals
        # kernel sockets whose connect the stack made instead (sock_connect),
        # until create_connection(sock=) adopts the connection
        self._opened: weakref.WeakKeyDictionary[socket.socket, list[TcpConnection | None]] = (
            weakref.WeakKeyDictionary()
        )

    async def create_connection(
        self, protocol_factory: Callable[[], Any], host: Any = None, port: Any = None, **kwargs: Any
    ) -> Any:
        sock = kwargs.get("sock")
        if sock is not None:
            entry = self._opened.pop(sock, None)
            if entry is None:
                return await self.originals["create_connection"](
                    protocol_factory, host, port, **kwargs
                )
            return await self._adopt(protocol_factory, entry, **kwargs)
        return await self.stack.create_connection(protocol_factory, host, port, **kwargs)

    async def sock_connect(self, sock: socket.socket, address: Any) -> None:
        """A TCP kernel socket (IPv4 or IPv6) connecting (aiohappyeyeballs, under
        aiohttp's default connector, does so): the stack opens the connection
        instead, and ``create_connection(sock=sock)`` adopts it. A socket never
        handed over has its connection aborted when it is collected."""
        if sock.family not in (socket.AF_INET, socket.AF_INET6) or sock.type != socket.SOCK_STREAM:
            await self.originals["sock_connect"](sock, address)
            return
        host, port = address[0], address[1]
        resolved = (await self.stack.resolve(host))[0]
        conn, _ = await self.stack._connect(resolved, port, None)
        entry: list[TcpConnection | None] = [conn]
        self._opened[sock] = entry
        weakref.finalize(sock, _abandon, self.stack, entry)

    async def _adopt(
        self,
        protocol_factory: Callable[[], Any],
        entry: list[TcpConnection | None],
        *,
        sock: socket.socket,
        ssl: _ssl.SSLContext | bool | None = None,
        server_hostname: str | None = None,
        ssl_handshake_timeout: float | None = None,
        ssl_shutdown_timeout: float | None = None,
        **ignored: Any,
    ) -> Any:
        """create_connection(sock=) for a socket sock_connect connected: the
        stack's connection gets the transport; the socket, never used, closes."""
        conn, entry[0] = entry[0], None
        sock.close()
        assert conn is not None
        host = sockaddr(conn.remote_addr, 0)[0]
        if ssl and server_hostname is None:
            raise ValueError("You must set server_hostname when using ssl without a host")
        return await self.stack._connect_to(
            protocol_factory,
            host,
            port=conn.remote_port,
            local_addr=None,
            ssl=ssl,
            server_hostname=server_hostname,
            ssl_handshake_timeout=ssl_handshake_timeout,
            ssl_shutdown_timeout=ssl_shutdown_timeout,
            established=conn,
        )

    async def create_server(
        self, protocol_factory: Callable[[], Any], host: Any = None, port: Any = None, **kwargs: Any
    ) -> Any:
        if kwargs.get("sock") is not None:
            return await self.originals["create_server"](protocol_factory, host, port, **kwargs)
        if isinstance(host, list | tuple):  # asyncio listens on every host given
            if len(host) != 1:
                raise ValueError("a Stack listens on one address: give one host")
            host = host[0]
        return await self.stack.create_server(protocol_factory, host, port, **kwargs)

    async def create_datagram_endpoint(
        self,
        protocol_factory: Callable[[], Any],
        local_addr: Any = None,
        remote_addr: Any = None,
        *,
        family: int = 0,
        proto: int = 0,
        flags: int = 0,
        sock: Any = None,
        **kwargs: Any,
    ) -> Any:
        if sock is not None:
            return await self.originals["create_datagram_endpoint"](
                protocol_factory, local_addr, remote_addr, family=family, proto=proto,
                flags=flags, sock=sock, **kwargs,
            )  # fmt: skip
        if remote_addr is not None:
            host, port = remote_addr[0], remote_addr[1]
            remote_addr = ((await self.stack.resolve(host, flags=flags))[0], port)
        return await self.stack.create_datagram_endpoint(
            protocol_factory, local_addr, remote_addr, family=family, proto=proto, **kwargs
        )

    async def start_tls(
        self,
        transport: asyncio.BaseTransport,
        protocol: asyncio.BaseProtocol,
        sslcontext: _ssl.SSLContext,
        *,
        server_side: bool = False,
        server_hostname: str | None = None,
        ssl_handshake_timeout: float | None = None,
        ssl_shutdown_timeout: float | None = None,
    ) -> asyncio.Transport:
        """TLS over a stack transport on any loop (uvloop accepts only its own
        transports); as CPython's ``BaseEventLoop.start_tls``. Other transports
        go to the loop's own method."""
        if not isinstance(transport, TcpTransport):
            result: asyncio.Transport = await self.originals["start_tls"](
                transport, protocol, sslcontext, server_side=server_side,
                server_hostname=server_hostname, ssl_handshake_timeout=ssl_handshake_timeout,
                ssl_shutdown_timeout=ssl_shutdown_timeout,
            )  # fmt: skip
            return result
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        # typeshed is stricter than the runtime: timeouts may be None
        ssl_protocol = sslproto.SSLProtocol(
            loop,
            protocol,
            sslcontext,
            waiter,
            server_side,
            server_hostname,
            ssl_handshake_timeout=ssl_handshake_timeout,  # type: ignore[arg-type]
            ssl_shutdown_timeout=ssl_shutdown_timeout,
            call_connection_made=False,
        )
        # pause reading: no byte may reach the old protocol after the switch
        transport.pause_reading()
        transport.set_protocol(ssl_protocol)
        made = loop.call_soon(ssl_protocol.connection_made, transport)
        resumed = loop.call_soon(transport.resume_reading)
        try:
            await waiter
        except BaseException:
            transport.close()
            made.cancel()
            resumed.cancel()
            raise
        return ssl_protocol._app_transport

    async def getaddrinfo(
        self,
        host: Any,
        port: Any,
        *,
        family: int = 0,
        type: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> Any:
        if isinstance(host, bytes):
            host = host.decode("idna")
        if isinstance(port, bytes):
            port = port.decode()
        return await self.stack.getaddrinfo(
            host, port, family=family, type=type, proto=proto, flags=flags
        )


def _abandon(stack: Stack, entry: list[TcpConnection | None]) -> None:
    """A socket sock_connect connected went away unused: reset its connection."""
    conn = entry[0]
    driver = stack._driver
    if conn is None or driver is None or driver.stopped or conn.error is not None:
        return
    try:
        conn.abort(driver.loop.time())
    except OSError:
        return
    driver.touch(conn)


def install(stack: Stack, loop: asyncio.AbstractEventLoop | None = None) -> Callable[[], None]:
    """Route ``loop``'s (default: the running loop's) ``create_connection``,
    ``create_server``, ``create_datagram_endpoint`` and ``getaddrinfo`` to
    ``stack``; returns the function that undoes it. See the module docstring."""
    if loop is None:
        loop = asyncio.get_running_loop()
    if _ATTR in loop.__dict__:
        raise RuntimeError(f"a Stack is already installed on {loop!r}")
    routes = StackRoutes(stack, {name: getattr(loop, name) for name in ROUTED})
    for name in ROUTED:
        setattr(loop, name, getattr(routes, name))
    setattr(loop, _ATTR, routes)
    target = loop

    def uninstall() -> None:
        for name in (*ROUTED, _ATTR):
            target.__dict__.pop(name, None)

    return uninstall
