"""``Stack``: one virtual host on the running asyncio loop.

Theory of operation
-------------------
A ``Stack`` owns a sans-IO ``StackEngine`` and one link. It is the *driver*
(the role aioquic's ``QuicConnectionProtocol`` plays for one connection): it
owns no task and no thread, and reacts to exactly three things.

1. **Packets.** The link calls ``_on_packets(batch)`` with every packet of a
   wakeup. Each is fed to ``engine.receive``; then ``_run`` dispatches the
   engine's ready objects to their owners (transports, servers, datagram
   endpoints, connect and ping waiters), whose protocol callbacks may write,
   and finally flushes once: ``engine.packets_to_send`` -> ``link.send_batch``.
   ACKs of a whole batch, and replies written by callbacks, leave together.
2. **Application calls.** ``write``/``close``/``sendto``... call the engine
   directly and ``_mark_dirty()``: inside ``_run`` that only sets a flag; outside
   it schedules one ``loop.call_soon(_flush_soon)`` (coalesced: many writes in
   one loop iteration, one flush).
3. **Time.** One ``loop.call_at`` handle per stack serves every timer of every
   connection. After each run the engine's earliest deadline (``get_timer()``,
   O(1) on its heap) is compared with the armed one; the handle is replaced
   only when the deadline moved *earlier*. A handle that fires early (the
   deadline moved later) costs one no-op ``handle_timer``; the engine is driven
   with ``now = max(deadline, loop.time())``.

Everything asynchronous the user awaits (connect, ping, transport start-up) is a
future resolved by the driver. Cancelling a pending ``create_connection``
aborts the half-open connection (RST, removed from the demux table).
"""

from __future__ import annotations

import asyncio
import contextvars
import errno
import os
import random
import ssl as _ssl
from asyncio import sslproto
from collections.abc import Callable
from typing import Any

from aionetstack.aio.datagram import DatagramTransport
from aionetstack.aio.server import Server
from aionetstack.aio.transport import TcpTransport
from aionetstack.core.config import StackConfig
from aionetstack.core.tcp.events import Connected, ConnectionClosed
from aionetstack.core.tcp.states import TcpState
from aionetstack.link.base import Link
from aionetstack.wire.addr import int_to_ip, ip_to_int, parse_interface

__all__ = ["Stack"]

_MAX_RUN_ROUNDS = 8


class _ConnectWaiter:
    """Owner of a connection in SYN-SENT: resolves the connect future.

    With ``make``, the future's result is ``make(conn)``, called by the driver
    as soon as the handshake completes: ``create_connection`` builds its
    transport there (``connection_made`` runs at once) instead of in two more
    loop iterations after the awaiting task resumes.
    """

    __slots__ = ("conn", "ctx", "fut", "make")

    def __init__(
        self, conn: Any, fut: asyncio.Future[Any], make: Callable[[Any], Any] | None = None
    ) -> None:
        self.conn = conn
        self.fut = fut
        self.make = make
        self.ctx = contextvars.copy_context()  # the connecting task's, for make()

    def _on_ready(self) -> None:
        fut = self.fut
        if fut.done():
            return  # further events wait for the transport
        next_event = self.conn.next_event
        while True:
            ev = next_event()
            if ev is None:
                return
            kind = type(ev)
            if kind is Connected:
                make = self.make
                if make is None:
                    fut.set_result(None)
                    return
                try:
                    # in (a copy of) the connecting task's context, as the
                    # factory and connection_made would run in asyncio
                    result = self.ctx.run(make, self.conn)
                except (SystemExit, KeyboardInterrupt):
                    raise
                except BaseException as exc:
                    fut.set_exception(exc)
                else:
                    fut.set_result(result)
                return
            if kind is ConnectionClosed:
                error = ev.error
                if error is None:
                    error = ConnectionAbortedError(errno.ECONNABORTED, "connection aborted")
                fut.set_exception(error)
                return


class _PingWaiter:
    """Owner of an engine PingRequest: resolves the ping future with the reply time."""

    __slots__ = ("fut", "loop", "request")

    def __init__(self, request: Any, fut: asyncio.Future[float], loop: asyncio.AbstractEventLoop):
        self.request = request
        self.fut = fut
        self.loop = loop

    def _on_ready(self) -> None:
        request, fut = self.request, self.fut
        if fut.done() or not request.done:
            return
        if request.error is not None:
            fut.set_exception(request.error)
        else:
            reply = request.reply_time
            fut.set_result(reply if reply is not None else self.loop.time())


# States in which a connection the application closed still sends data or a FIN.
_FINISHING_STATES = frozenset(
    (
        TcpState.ESTABLISHED,
        TcpState.CLOSE_WAIT,
        TcpState.FIN_WAIT_1,
        TcpState.CLOSING,
        TcpState.LAST_ACK,
    )
)

_HOSTS: dict[str, int] = {}  # dotted quad -> int, for hosts parsed before (bounded)


def _parse_sockaddr(addr: Any, what: str) -> tuple[int | None, int]:
    """A ``(host, port)`` pair as asyncio takes it: the host parsed, the port checked."""
    if not isinstance(addr, tuple | list) or len(addr) != 2:
        raise TypeError(f"{what} must be a (host, port) tuple, not {addr!r}")
    host, port = addr
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"{what} port must be an int, not {type(port).__name__}")
    if not 0 <= port <= 65535:
        raise ValueError(f"{what} port must be in 0..65535, got {port}")
    return _parse_host(host, f"{what} host"), port


def _parse_host(host: str | None, what: str = "host") -> int | None:
    if host is None or host == "" or host == "0.0.0.0":
        return None
    if type(host) is str:
        addr = _HOSTS.get(host)
        if addr is not None:
            return addr
    elif not isinstance(host, str):
        raise TypeError(f"{what} must be a dotted-quad string, not {type(host).__name__}")
    addr = ip_to_int(host)
    if type(host) is str:
        if len(_HOSTS) >= 1024:
            _HOSTS.clear()
        _HOSTS[host] = addr
    return addr


class Stack:
    """A user-space TCP/IP host on a link, bound to the running event loop.

    Use as ``async with Stack(link, address="198.18.0.2/24") as stack:`` or call
    ``await stack.start()`` / ``await stack.close()``. The stack owns the link:
    closing the stack closes it. ``tracer(conn, line)``, when given, receives
    every state change and timer event of every connection (as text lines).
    """

    def __init__(
        self,
        link: Link,
        address: str = "198.18.0.2/24",
        gateway: str | None = None,
        config: StackConfig | None = None,
        *,
        secret: bytes | None = None,
        tracer: Callable[[Any, str], None] | None = None,
    ) -> None:
        if not isinstance(link, Link):
            raise TypeError(
                f"link must be an aionetstack link (TunLink, memory_link_pair(), ...), "
                f"not {type(link).__name__}"
            )
        self.link = link
        self.tracer = tracer
        self.config = config if config is not None else StackConfig()
        self._addr, self._prefixlen = parse_interface(address)
        self.address = int_to_ip(self._addr)
        self.interface = address
        self._gateway = ip_to_int(gateway) if gateway else None
        self._secret = secret
        self._loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self._engine: Any = None
        self._ifindex = 0
        self._owners: dict[Any, Any] = {}
        self._servers: set[Server] = set()
        self._pings: dict[tuple[int, int], asyncio.Future[float]] = {}
        self._ping_ident = random.randrange(1, 0xFFFF)
        self._ping_seq = 0
        self._in_run = False
        self._dirty = False
        self._flush_handle: asyncio.Handle | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._started = False
        self._closed = False  # close() called: the API refuses new work
        self._stopped = False  # the driver no longer handles packets or timers
        # driver counters (cheap ints)
        self.wakeups = 0
        self.flushes = 0
        self.timer_fires = 0
        self.timer_arms = 0

    def __repr__(self) -> str:
        return f"<aionetstack Stack {self.interface} on {self.link!r}>"

    # --- life cycle ----------------------------------------------------------
    async def start(self) -> Stack:
        if self._started:
            raise RuntimeError("stack already started")
        from aionetstack.core.stack import StackEngine  # type: ignore[import-not-found,unused-ignore]

        loop = asyncio.get_running_loop()
        self._loop = loop
        self._engine = StackEngine(self.config, secret=self._secret, now=loop.time())
        self._ifindex = self._engine.add_interface(self._addr, self._prefixlen, self.link.mtu)
        if self._gateway is not None:
            self._engine.set_gateway(self._gateway)
        self.link.attach(loop, self._on_packets)
        self._started = True
        return self

    async def close(self, *, linger: float = 2.0) -> None:
        """Shut the stack down and close the link.

        Servers close; connections and endpoints the application still holds are
        aborted (their protocols get ConnectionAbortedError). Connections the
        application already closed may still owe the peer data or their FIN: they
        get up to ``linger`` seconds to finish, then whatever is left is reset, so
        no peer is left believing in a connection that no longer exists.
        """
        if self._closed or not self._started:
            self._closed = True
            self._stopped = True
            return
        self._closed = True
        for server in list(self._servers):
            server.close()
        for owner in list(self._owners.values()):
            if isinstance(owner, TcpTransport):
                if owner._closing and not owner._lost:
                    # closed by the application, data still queued: an orphan
                    # finishing (the linger loop below waits for it; what is
                    # left then is reset and its ConnectionClosed ends it)
                    continue
                owner._force_close(ConnectionAbortedError(errno.ECONNABORTED, "stack closed"))
            elif isinstance(owner, DatagramTransport):
                owner.close()
            elif isinstance(owner, _ConnectWaiter) and not owner.fut.done():
                owner.fut.set_exception(ConnectionAbortedError(errno.ECONNABORTED, "stack closed"))
        for fut in self._pings.values():
            if not fut.done():
                fut.set_exception(ConnectionAbortedError(errno.ECONNABORTED, "stack closed"))
        self._run(self._loop.time())
        # let connection_lost callbacks run before the link goes away
        await asyncio.sleep(0)
        loop = self._loop
        deadline = loop.time() + linger
        while self._orphans_sending() and loop.time() < deadline:
            await asyncio.sleep(0.005)
        self._engine.close(loop.time())  # RST what is left, close listeners and endpoints
        self._run(loop.time())
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        self.link.detach()
        self.link.close()

    def _orphans_sending(self) -> bool:
        """Connections still sending data or a FIN (the application closed them)."""
        return any(conn.state in _FINISHING_STATES for conn in self._engine.connections())

    async def __aenter__(self) -> Stack:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def engine(self) -> Any:
        """The sans-IO ``StackEngine`` (for inspection and tests)."""
        return self._engine

    def stats(self) -> dict[str, int]:
        """The engine's counters (``netstat -s`` names)."""
        self._check_running()
        stats: dict[str, int] = dict(self._engine.stats())
        return stats

    def _check_running(self) -> None:
        if not self._started:
            raise RuntimeError("stack is not started (use 'async with stack' or start())")
        if self._closed:
            raise RuntimeError("stack is closed")

    # --- the driver ------------------------------------------------------------
    def _on_packets(self, batch: list[bytes]) -> None:
        if self._stopped:
            return
        now = self._loop.time()
        receive = self._engine.receive
        ifindex = self._ifindex
        self.wakeups += 1
        for packet in batch:
            receive(packet, ifindex, now)
        self._run(now)

    def _mark_dirty(self) -> None:
        if self._in_run:
            self._dirty = True
        elif self._flush_handle is None and self._started:
            self._flush_handle = self._loop.call_soon(self._flush_soon)

    def _touch(self, conn: Any) -> None:
        """The application called a method of ``conn``: let the engine pull its output."""
        self._engine.notify(conn, self._loop.time())  # output built now, not at the last input
        self._mark_dirty()

    def _trace(self, conn: Any) -> None:
        tracer = self.tracer
        if tracer is not None:
            conn.set_tracer(lambda line: tracer(conn, line))

    def _flush_soon(self) -> None:
        self._flush_handle = None
        self._run(self._loop.time())

    def _run(self, now: float) -> None:
        """Dispatch ready objects, flush once; repeat while callbacks add work."""
        engine = self._engine
        if engine is None:
            return
        self._in_run = True
        self._dirty = True
        owners = self._owners
        send_batch = self.link.send_batch
        try:
            for _ in range(_MAX_RUN_ROUNDS):
                ready = engine.take_ready(now)
                if ready:
                    for obj in ready:
                        owner = owners.get(obj)
                        if owner is not None:
                            try:
                                owner._on_ready()
                            except Exception as exc:  # a bug in the glue: report, go on
                                self._loop.call_exception_handler(
                                    {
                                        "message": "aionetstack: error dispatching events",
                                        "exception": exc,
                                        "object": obj,
                                    }
                                )
                        else:
                            self._unowned(obj)
                if not self._dirty:
                    break
                self._dirty = False
                out = engine.packets_to_send(now)
                if out:
                    self.flushes += 1
                    send_batch([packet for _ifindex, packet in out])
            else:
                self._in_run = False
                self._mark_dirty()  # still busy: continue on the next iteration
        finally:
            self._in_run = False
        self._arm_timer()

    @staticmethod
    def _unowned(obj: Any) -> None:
        """A ready object with no owner (a connection the application closed, a
        ping that timed out...): drop its events. Pings are answered only by
        their ``_PingWaiter``."""
        next_event = getattr(obj, "next_event", None)
        if next_event is not None:
            while next_event() is not None:
                pass

    def _arm_timer(self) -> None:
        when = self._engine.get_timer()
        if when is None:
            return
        timer = self._timer
        if timer is not None:
            if when >= self._timer_at:
                return
            timer.cancel()
        self._timer_at = when
        self.timer_arms += 1
        self._timer = self._loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._stopped:
            return
        self.timer_fires += 1
        now = self._loop.time()
        if now < self._timer_at:
            now = self._timer_at
        self._engine.handle_timer(now)
        self._run(now)

    # --- TCP -------------------------------------------------------------------
    async def _connect(
        self,
        host: str,
        port: int,
        local_addr: tuple[str, int] | None,
        make: Callable[[Any], Any] | None = None,
    ) -> Any:
        """Open a connection; returns it, or with ``make`` what ``make(conn)`` returned
        (called by the driver when the handshake completes, see ``_ConnectWaiter``)."""
        self._check_running()
        remote = _parse_host(host)
        if remote is None:
            raise OSError(errno.EINVAL, f"invalid remote host {host!r}")
        la: int | None = None
        lp: int | None = None
        if local_addr is not None:
            la, port_or_0 = _parse_sockaddr(local_addr, "local_addr")
            lp = port_or_0 or None
        loop = self._loop
        conn = self._engine.tcp_connect(remote, port, local_addr=la, local_port=lp, now=loop.time())
        if self.tracer is not None:
            self._trace(conn)
        fut: asyncio.Future[Any] = loop.create_future()
        self._owners[conn] = _ConnectWaiter(conn, fut, make)
        self._mark_dirty()
        try:
            result = await fut
        except BaseException:
            if make is not None and fut.done() and not fut.cancelled() and not fut.exception():
                # cancelled after make() built the transport: it owns the connection
                fut.result()[0].abort()
                raise
            if isinstance(self._owners.get(conn), _ConnectWaiter):
                del self._owners[conn]
            if conn.error is None and not self._closed:
                try:
                    conn.abort(loop.time())
                except OSError:
                    pass
                self._touch(conn)
            raise
        return conn if make is None else result

    async def create_connection(
        self,
        protocol_factory: Callable[[], asyncio.BaseProtocol],
        host: str,
        port: int,
        *,
        local_addr: tuple[str, int] | None = None,
        ssl: _ssl.SSLContext | bool | None = None,
        server_hostname: str | None = None,
        ssl_handshake_timeout: float | None = None,
        ssl_shutdown_timeout: float | None = None,
    ) -> tuple[asyncio.Transport, asyncio.BaseProtocol]:
        """Open a TCP connection like ``loop.create_connection``; awaits the handshake
        (and the TLS handshake when ``ssl`` is given, through asyncio's SSLProtocol)."""
        if server_hostname is not None and not ssl:
            raise ValueError("server_hostname is only meaningful with ssl")
        if ssl_handshake_timeout is not None and not ssl:
            raise ValueError("ssl_handshake_timeout is only meaningful with ssl")
        if not ssl:

            def make(conn: Any) -> tuple[TcpTransport, asyncio.BaseProtocol]:
                # Called by the driver once the handshake is complete (_ConnectWaiter).
                try:
                    protocol = protocol_factory()
                except BaseException:
                    conn.abort(self._loop.time())
                    self._touch(conn)
                    raise
                waiter: asyncio.Future[None] = self._loop.create_future()
                transport = TcpTransport(self, conn, protocol, waiter, start=False)
                transport._start(waiter)  # connection_made, then any events already queued
                if waiter.exception() is not None:  # connection_made() failed
                    transport.abort()
                    waiter.result()  # raises it
                return transport, protocol

            transport, protocol = await self._connect(host, port, local_addr, make)
            return transport, protocol
        conn = await self._connect(host, port, local_addr)
        protocol = protocol_factory()
        loop = self._loop
        waiter: asyncio.Future[None] = loop.create_future()
        tls = self._tls_protocol(
            protocol,
            ssl,
            waiter,
            server_side=False,
            server_hostname=host if server_hostname is None else server_hostname,
            ssl_handshake_timeout=ssl_handshake_timeout,
            ssl_shutdown_timeout=ssl_shutdown_timeout,
        )
        transport = TcpTransport(self, conn, tls)
        try:
            await waiter
        except BaseException:
            transport.abort()
            raise
        return tls._app_transport, protocol

    def _tls_protocol(
        self,
        protocol: asyncio.BaseProtocol,
        ssl: _ssl.SSLContext | bool,
        waiter: asyncio.Future[None] | None,
        *,
        server_side: bool,
        server_hostname: str | None,
        ssl_handshake_timeout: float | None,
        ssl_shutdown_timeout: float | None,
    ) -> sslproto.SSLProtocol:
        """asyncio's own TLS layer (what loop.create_connection(ssl=...) uses)."""
        if isinstance(ssl, bool):  # ssl=True: the default context, as asyncio does
            context = _ssl.create_default_context()
            if not server_hostname:
                context.check_hostname = False
        else:
            context = ssl
        # typeshed is stricter than the runtime: waiter may be None, timeouts floats
        return sslproto.SSLProtocol(
            self._loop,
            protocol,
            context,
            waiter,  # type: ignore[arg-type]
            server_side,
            server_hostname,
            ssl_handshake_timeout=ssl_handshake_timeout,  # type: ignore[arg-type]
            ssl_shutdown_timeout=ssl_shutdown_timeout,
        )

    async def open_connection(
        self,
        host: str,
        port: int,
        *,
        limit: int = 2**16,
        local_addr: tuple[str, int] | None = None,
        **tls: Any,
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Like ``asyncio.open_connection``: real StreamReader/StreamWriter
        (``ssl=``, ``server_hostname=``... as for ``create_connection``)."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=limit, loop=loop)
        protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
        transport, _ = await self.create_connection(
            lambda: protocol, host, port, local_addr=local_addr, **tls
        )
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        return reader, writer

    async def create_server(
        self,
        protocol_factory: Callable[[], asyncio.BaseProtocol],
        host: str | None = None,
        port: int = 0,
        *,
        backlog: int = 128,
        transparent: bool = False,
        start_serving: bool = True,
        ssl: _ssl.SSLContext | None = None,
        ssl_handshake_timeout: float | None = None,
        ssl_shutdown_timeout: float | None = None,
    ) -> Server:
        """Listen like ``loop.create_server``. ``port=0`` picks an ephemeral port
        (``server.port``); ``transparent=True`` accepts any destination address
        and port (a tun2socks-style gateway); ``ssl`` serves TLS."""
        self._check_running()
        if ssl is not None:
            if not isinstance(ssl, _ssl.SSLContext):
                raise TypeError(f"ssl argument must be an SSLContext or None, got {ssl!r}")
            inner_factory = protocol_factory

            def protocol_factory() -> asyncio.BaseProtocol:
                return self._tls_protocol(
                    inner_factory(),
                    ssl,
                    None,
                    server_side=True,
                    server_hostname=None,
                    ssl_handshake_timeout=ssl_handshake_timeout,
                    ssl_shutdown_timeout=ssl_shutdown_timeout,
                )

        addr = _parse_host(host)
        listener = self._engine.tcp_listen(
            addr if addr is not None else 0, port, backlog, transparent=transparent
        )
        bound_port: int = listener.port
        sockname = (int_to_ip(addr) if addr is not None else "0.0.0.0", int(bound_port))
        server = Server(self, listener, protocol_factory, sockname)
        self._servers.add(server)
        if start_serving:
            await server.start_serving()
        return server

    async def start_server(
        self,
        client_connected_cb: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any],
        host: str | None = None,
        port: int = 0,
        *,
        backlog: int = 128,
        limit: int = 2**16,
        transparent: bool = False,
        start_serving: bool = True,
        **tls: Any,
    ) -> Server:
        """Like ``asyncio.start_server``: the callback gets real streams
        (``ssl=``... as for ``create_server``)."""
        loop = asyncio.get_running_loop()

        def factory() -> asyncio.StreamReaderProtocol:
            reader = asyncio.StreamReader(limit=limit, loop=loop)
            return asyncio.StreamReaderProtocol(reader, client_connected_cb, loop=loop)

        return await self.create_server(
            factory,
            host,
            port,
            backlog=backlog,
            transparent=transparent,
            start_serving=start_serving,
            **tls,
        )

    # --- UDP -------------------------------------------------------------------
    async def create_datagram_endpoint(
        self,
        protocol_factory: Callable[[], asyncio.DatagramProtocol],
        local_addr: tuple[str, int] | None = None,
        remote_addr: tuple[str, int] | None = None,
        *,
        allow_broadcast: bool = False,
    ) -> tuple[DatagramTransport, asyncio.DatagramProtocol]:
        """Open a UDP endpoint like ``loop.create_datagram_endpoint``."""
        self._check_running()
        la: int | None = None
        lp: int | None = None
        if local_addr is not None:
            la, port_or_0 = _parse_sockaddr(local_addr, "local_addr")
            lp = port_or_0 or None
        remote: tuple[int, int] | None = None
        if remote_addr is not None:
            r, rport = _parse_sockaddr(remote_addr, "remote_addr")
            if r is None:
                raise OSError(errno.EINVAL, "invalid remote address")
            remote = (r, rport)
        endpoint = self._engine.udp_open(
            local_addr=la, local_port=lp, remote=remote, allow_broadcast=allow_broadcast
        )
        # like getsockname(): the wildcard shows as 0.0.0.0 until connect picks a source
        sockname = (int_to_ip(endpoint.local_addr), int(endpoint.local_port))
        peername = (int_to_ip(remote[0]), remote[1]) if remote is not None else None
        try:
            protocol = protocol_factory()
        except BaseException:
            endpoint.close()  # the port must not stay bound
            raise
        waiter: asyncio.Future[None] = self._loop.create_future()
        transport = DatagramTransport(self, endpoint, protocol, sockname, peername, waiter)
        try:
            await waiter
        except BaseException:
            transport.abort()
            raise
        return transport, protocol

    # --- ICMP ------------------------------------------------------------------
    async def ping(self, host: str, timeout: float = 1.0, *, payload: bytes = b"") -> float:
        """Send one ICMP echo request; return the round-trip time in seconds."""
        self._check_running()
        dest = _parse_host(host)
        if dest is None:
            raise OSError(errno.EINVAL, f"invalid host {host!r}")
        self._ping_seq = (self._ping_seq + 1) & 0xFFFF
        key = (self._ping_ident, self._ping_seq)
        loop = self._loop
        fut: asyncio.Future[float] = loop.create_future()
        self._pings[key] = fut
        if not payload:
            payload = os.urandom(8) + bytes(48)
        sent = loop.time()
        try:
            request = self._engine.ping(dest, key[0], key[1], payload, now=sent)
            self._owners[request] = _PingWaiter(request, fut, loop)
            self._mark_dirty()
            try:
                async with asyncio.timeout(timeout):
                    received = await fut
            finally:
                self._owners.pop(request, None)
                if not request.done:
                    request.cancel()
        finally:
            self._pings.pop(key, None)
        return max(received - sent, 0.0)
