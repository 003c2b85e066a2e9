"""``Stack``: one virtual host on the running asyncio loop.

Theory of operation
-------------------
A ``Stack`` is the application's view of one host: it parses and checks
arguments as asyncio does, opens engine objects (connections, listeners, UDP
endpoints, pings) and wraps each in its asyncio face. ``start()`` builds the
sans-IO ``StackEngine`` and the ``Driver`` (driver.py) that runs it on the
loop: packets, application calls and the one timer handle are the driver's.
The faces (``TcpTransport``, ``Server``, ``DatagramTransport`` and the connect
and ping waiters here) depend on the driver only; nothing imports this module
back.

Everything asynchronous the user awaits (connect, ping, transport start-up) is a
future resolved by the driver. Cancelling a pending ``create_connection``
aborts the half-open connection (RST, removed from the demux table).
"""

from __future__ import annotations

import asyncio
import contextvars
import errno
import functools
import os
import random
import socket
import ssl as _ssl
from asyncio import sslproto, staggered
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

from aionetstack.aio.addresses import SockAddr, parse_host, parse_sockaddr, sockaddr
from aionetstack.aio.datagram import DatagramTransport
from aionetstack.aio.driver import Driver, Tracer, stack_closed_error
from aionetstack.aio.resolver import DnsResolver, Resolver, no_resolver_error
from aionetstack.aio.server import Server
from aionetstack.aio.transport import TcpTransport, connected_transport
from aionetstack.core.config import StackConfig
from aionetstack.core.icmp import PingRequest
from aionetstack.core.stack import StackEngine
from aionetstack.core.tcp.connection import TcpConnection
from aionetstack.core.tcp.events import Connected, ConnectionClosed
from aionetstack.core.tcp.states import TcpState
from aionetstack.core.udp import UdpEndpoint
from aionetstack.core.verdict import FlowFilter, Verdict
from aionetstack.link.base import Link
from aionetstack.wire.addr import format_ip, parse_interface_any

__all__ = ["Stack"]

_ProtocolT = TypeVar("_ProtocolT", bound=asyncio.BaseProtocol)
#: ``filter(src, dst) -> Verdict`` with ``(ip, port)`` pairs (core/verdict.py).
AddressFilter = Callable[[SockAddr, SockAddr], Verdict]

# What a connect future resolves to when the driver builds the transport itself.
_Made = tuple[TcpTransport, asyncio.BaseProtocol]


class _ConnectWaiter:
    """Owner of a connection in SYN-SENT: resolves the connect future.

    With ``make``, the future's result is ``make(conn)``, called by the driver
    as soon as the handshake completes: ``create_connection`` builds its
    transport there (``connection_made`` runs at once) instead of in two more
    loop iterations after the awaiting task resumes.
    """

    __slots__ = ("conn", "ctx", "fut", "make")

    def __init__(
        self,
        conn: TcpConnection,
        fut: asyncio.Future[_Made | None],
        make: Callable[[TcpConnection], _Made] | None = None,
    ) -> None:
        self.conn = conn
        self.fut = fut
        self.make = make
        self.ctx = contextvars.copy_context()  # the connecting task's, for make()

    def on_stack_close(self) -> None:
        if not self.fut.done():
            self.fut.set_exception(stack_closed_error())

    def on_ready(self) -> None:
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
            if isinstance(ev, ConnectionClosed):
                error = ev.error
                if error is None:
                    error = ConnectionAbortedError(errno.ECONNABORTED, "connection aborted")
                fut.set_exception(error)
                return


class _PingWaiter:
    """Owner of an engine PingRequest: resolves the ping future with the reply time."""

    __slots__ = ("fut", "loop", "request")

    def __init__(
        self, request: PingRequest, fut: asyncio.Future[float], loop: asyncio.AbstractEventLoop
    ) -> None:
        self.request = request
        self.fut = fut
        self.loop = loop

    def on_stack_close(self) -> None:
        """Nothing: ``Stack.close`` fails every pending ping future itself."""

    def on_ready(self) -> None:
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

_VERSION: dict[int, int] = {socket.AF_INET: 4, socket.AF_INET6: 6}  # family -> IP version


def _literal(host: str) -> tuple[int, int] | None:
    """``host`` as ``(version, address)`` when it is an IP literal, else None (a name)."""
    try:
        return parse_host(host)
    except ValueError:
        return None


def _version_of(family: int, what: str) -> int:
    """The IP version ``family=`` asks for (0: either)."""
    if family == socket.AF_UNSPEC:
        return 0
    version = _VERSION.get(family)
    if version is None:
        raise OSError(
            errno.EAFNOSUPPORT,
            f"{what}: family={family!r} is not supported (AF_INET, AF_INET6 or AF_UNSPEC)",
        )
    return version


def _of_family(addresses: list[str], version: int) -> list[str]:
    """The addresses of IP version ``version`` (0: all); gaierror when none is."""
    if not version:
        return addresses
    kept = [a for a in addresses if (parse_host(a) or (0, 0))[0] == version]
    if not kept:
        raise socket.gaierror(socket.EAI_ADDRFAMILY, "Address family for hostname not supported")
    return kept


def _check_socket_args(sock: object, family: int, proto: int, what: str) -> int:
    """asyncio's ``sock=``, ``family=`` and ``proto=`` as far as a Stack has them;
    returns the IP version ``family`` asks for (0: either)."""
    if sock is not None:
        raise ValueError(
            f"{what}(sock=...) is not supported: a Stack has no kernel sockets; "
            "pass host and port (the stack opens its own connection)"
        )
    version = _version_of(family, what)
    if proto not in (0, socket.IPPROTO_TCP):
        raise OSError(errno.EPROTONOSUPPORT, f"{what}: proto must be 0 or IPPROTO_TCP")
    return version


def _connect_error(errors: list[OSError], all_errors: bool) -> BaseException:
    """What create_connection raises when every address failed (as asyncio)."""
    if all_errors:
        return ExceptionGroup("create_connection failed", errors)
    if len(errors) == 1 or all(str(e) == str(errors[0]) for e in errors):
        return errors[0]
    return OSError(f"Multiple exceptions: {', '.join(str(e) for e in errors)}")


class Stack:
    """A user-space TCP/IP host on a link, bound to the running event loop.

    Use as ``async with Stack(link, address="198.18.0.2/24") as stack:`` or call
    ``await stack.start()`` / ``await stack.close()``. ``address`` may list
    several interface addresses of both families (``["198.18.0.2/24",
    "2001:2::2/64"]``: a dual-stack host) and ``gateway`` one default gateway
    per family. The stack owns the link:
    closing the stack closes it. ``tracer(conn, line)``, when given, receives
    every state change and timer event of every connection (as text lines).

    Host names are resolved by ``resolver(host) -> Sequence[str]`` (an async
    callable returning address strings) when given, else by a DNS stub resolver
    over this stack when ``config.nameservers`` lists servers (resolver.py);
    without either, a host name raises ``socket.gaierror`` saying so.
    """

    def __init__(
        self,
        link: Link,
        address: str | Sequence[str] = "198.18.0.2/24",
        gateway: str | Sequence[str] | None = None,
        config: StackConfig | None = None,
        *,
        secret: bytes | None = None,
        tracer: Tracer | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        if not isinstance(link, Link):
            raise TypeError(
                f"link must be an aionetstack link (TunLink, memory_link_pair(), ...), "
                f"not {type(link).__name__}"
            )
        self.link = link
        self.tracer = tracer
        self.config = config if config is not None else StackConfig()
        interfaces = [address] if isinstance(address, str) else list(address)
        if not interfaces or not all(isinstance(a, str) for a in interfaces):
            raise TypeError(f"address must be an interface string or a list of them: {address!r}")
        #: (version, address, prefixlen) of each interface address, in order
        self._interfaces = [parse_interface_any(a) for a in interfaces]
        version, addr, _plen = self._interfaces[0]
        #: the first address; ``addresses`` lists them all
        self.address = format_ip(version, addr)
        self.addresses = [format_ip(v, a) for v, a, _p in self._interfaces]
        self.interface = address if isinstance(address, str) else interfaces[0]
        gateways = [] if not gateway else [gateway] if isinstance(gateway, str) else list(gateway)
        self._gateways: list[tuple[int, int]] = []
        for text in gateways:
            parsed = parse_host(text, "gateway")
            if parsed is None or not parsed[1]:
                raise ValueError(f"bad gateway {text!r}")
            self._gateways.append(parsed)
        self._secret = secret
        self._driver: Driver | None = None  # built by start()
        self._pings: dict[tuple[int, int], asyncio.Future[float]] = {}
        self._ping_ident = random.randrange(1, 0xFFFF)
        self._ping_seq = 0
        self._started = False
        self._closed = False  # close() called: the API refuses new work
        cfg = self.config
        if resolver is None and cfg.nameservers:
            resolver = DnsResolver(
                self, cfg.nameservers, timeout=cfg.resolver_timeout, attempts=cfg.resolver_attempts
            )
        self.resolver: Resolver | None = resolver

    def __repr__(self) -> str:
        return f"<aionetstack Stack {self.interface} on {self.link!r}>"

    # --- life cycle ----------------------------------------------------------
    async def start(self) -> Stack:
        if self._started:
            raise RuntimeError("stack already started")
        loop = asyncio.get_running_loop()
        engine = StackEngine(self.config, secret=self._secret, now=loop.time())
        (version, addr, plen), *more = self._interfaces
        ifindex = engine.add_interface(addr, plen, self.link.mtu, family=version)
        for version, addr, plen in more:
            engine.add_address(ifindex, addr, plen, family=version)
        for version, gateway in self._gateways:
            engine.set_gateway(gateway, family=version)
        driver = self._driver = Driver(self, self.link, engine, loop, ifindex, self.tracer)
        self.link.attach(loop, driver.on_packets)
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
        driver = self._driver
        if self._closed or driver is None:
            self._closed = True
            return
        self._closed = True
        owners = driver.owners
        for server in [owner for owner in owners.values() if isinstance(owner, Server)]:
            server.close()
        # Transports the application closed with data still queued are orphans
        # finishing: they stay (the linger loop below waits for them; what is
        # left then is reset and its ConnectionClosed ends them).
        for owner in list(owners.values()):
            owner.on_stack_close()
        for fut in self._pings.values():
            if not fut.done():
                fut.set_exception(stack_closed_error())
        loop = driver.loop
        driver.run(loop.time())
        # let connection_lost callbacks run before the link goes away
        await asyncio.sleep(0)
        deadline = loop.time() + linger
        while _orphans_sending(driver.engine) and loop.time() < deadline:
            await asyncio.sleep(0.005)
        driver.engine.close(loop.time())  # RST what is left, close listeners and endpoints
        driver.run(loop.time())
        driver.stop()
        self.link.detach()
        self.link.close()

    async def __aenter__(self) -> Stack:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def engine(self) -> StackEngine | None:
        """The sans-IO ``StackEngine`` (for inspection and tests); None before start()."""
        return self._driver.engine if self._driver is not None else None

    # the driver's counters (0 before start())
    @property
    def wakeups(self) -> int:
        """Packet batches handled."""
        return self._driver.wakeups if self._driver is not None else 0

    @property
    def flushes(self) -> int:
        """Batches sent."""
        return self._driver.flushes if self._driver is not None else 0

    @property
    def timer_fires(self) -> int:
        """Timer handle expiries."""
        return self._driver.timer_fires if self._driver is not None else 0

    @property
    def timer_arms(self) -> int:
        """Timer handles armed."""
        return self._driver.timer_arms if self._driver is not None else 0

    def stats(self) -> dict[str, int]:
        """The engine's counters (``netstat -s`` names); after ``close()`` the
        final ones."""
        driver = self._driver
        if driver is None:
            raise RuntimeError("stack is not started (use 'async with stack' or start())")
        return dict(driver.engine.stats())

    # --- names -------------------------------------------------------------------
    async def resolve(self, host: str, *, flags: int = 0) -> list[str]:
        """The addresses of ``host``: itself when it is a literal, else the
        resolver's answer (``socket.gaierror`` as ``getaddrinfo`` raises;
        ``AI_NUMERICHOST`` in ``flags`` refuses names)."""
        if not isinstance(host, str):
            raise TypeError(f"host must be a str, not {type(host).__name__}")
        if _literal(host) is not None:
            return [host]
        if flags & socket.AI_NUMERICHOST:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        resolver = self.resolver
        if resolver is None:
            raise no_resolver_error(host)
        addresses = list(await resolver(host))
        for address in addresses:
            if not isinstance(address, str) or _literal(address) is None:
                raise socket.gaierror(
                    socket.EAI_FAIL, f"resolver returned {address!r} for {host!r}: not an address"
                )
        if not addresses:
            raise socket.gaierror(socket.EAI_NODATA, "No address associated with hostname")
        return addresses

    async def getaddrinfo(
        self,
        host: str | None,
        port: int | str | None,
        *,
        family: int = 0,
        type: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> list[tuple[socket.AddressFamily, socket.SocketKind, int, str, SockAddr]]:
        """``loop.getaddrinfo`` through this stack's resolver (IPv6 addresses as
        ``(host, port, flowinfo, scope_id)``)."""
        if family not in (socket.AF_UNSPEC, socket.AF_INET, socket.AF_INET6):
            raise socket.gaierror(socket.EAI_FAMILY, "ai_family not supported")
        if port is None:
            number = 0
        elif isinstance(port, str):
            try:
                number = int(port) if port.isdigit() else socket.getservbyname(port)
            except OSError:
                raise socket.gaierror(socket.EAI_SERVICE, f"unknown service {port!r}") from None
        else:
            number = port
        if host is None:
            passive = flags & socket.AI_PASSIVE
            addresses = ["0.0.0.0", "::"] if passive else ["127.0.0.1"]
        else:
            addresses = await self.resolve(host, flags=flags)
        version = _VERSION.get(family, 0)
        if version:
            try:
                addresses = _of_family(addresses, version)
            except socket.gaierror:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        kinds = [(socket.SOCK_STREAM, socket.IPPROTO_TCP), (socket.SOCK_DGRAM, socket.IPPROTO_UDP)]
        result: list[tuple[socket.AddressFamily, socket.SocketKind, int, str, SockAddr]] = []
        for address in addresses:
            ip_version, value = parse_host(address) or (4, 0)
            af = socket.AF_INET6 if ip_version == 6 else socket.AF_INET
            result.extend(
                (af, kind, number_proto, "", sockaddr(value, number, ip_version))
                for kind, number_proto in kinds
                if type in (0, kind) and proto in (0, number_proto)
            )
        return result

    def _running(self) -> Driver:
        """The driver, or RuntimeError when the stack is not started or closed."""
        driver = self._driver
        if driver is None:
            raise RuntimeError("stack is not started (use 'async with stack' or start())")
        if self._closed:
            raise RuntimeError("stack is closed")
        return driver

    # --- TCP -------------------------------------------------------------------
    async def _connect(
        self,
        host: str,
        port: int,
        local_addr: tuple[str, int] | None,
        make: Callable[[TcpConnection], _Made] | None = None,
    ) -> tuple[TcpConnection, _Made | None]:
        """Open a connection; returns it, and with ``make`` what ``make(conn)``
        returned (called by the driver when the handshake completes, see
        ``_ConnectWaiter``)."""
        driver = self._running()
        remote = parse_host(host)
        if remote is None or not remote[1]:
            raise OSError(errno.EINVAL, f"invalid remote host {host!r}")
        version = remote[0]
        la: int | None = None
        lp: int | None = None
        if local_addr is not None:
            local, port_or_0 = parse_sockaddr(local_addr, "local_addr")
            if local is not None:
                if local[0] != version:
                    raise OSError(errno.EAFNOSUPPORT, "local_addr and host are of two families")
                la = local[1]
            lp = port_or_0 or None
        loop = driver.loop
        conn = driver.engine.tcp_connect(
            remote[1], port, local_addr=la, local_port=lp, now=loop.time(), family=version
        )
        driver.trace(conn)
        fut: asyncio.Future[_Made | None] = loop.create_future()
        waiter = _ConnectWaiter(conn, fut, make)
        driver.own(conn, waiter)
        driver.mark_dirty()
        try:
            made = await fut
        except BaseException:
            if fut.done() and not fut.cancelled() and not fut.exception():
                made = fut.result()
                if made is not None:
                    # cancelled after make() built the transport: it owns the connection
                    made[0].abort()
                    raise
            driver.disown(conn, waiter)
            if conn.error is None and not self._closed:
                try:
                    conn.abort(loop.time())
                except OSError:
                    pass
                driver.touch(conn)
            raise
        return conn, made

    async def create_connection(
        self,
        protocol_factory: Callable[[], _ProtocolT],
        host: str | None = None,
        port: int | None = None,
        *,
        ssl: _ssl.SSLContext | bool | None = None,
        family: int = 0,
        proto: int = 0,
        flags: int = 0,
        sock: object = None,
        local_addr: tuple[str, int] | None = None,
        server_hostname: str | None = None,
        ssl_handshake_timeout: float | None = None,
        ssl_shutdown_timeout: float | None = None,
        happy_eyeballs_delay: float | None = None,
        interleave: int | None = None,
        all_errors: bool = False,
    ) -> tuple[asyncio.Transport, _ProtocolT]:
        """Open a TCP connection like ``loop.create_connection``; awaits the handshake
        (and the TLS handshake when ``ssl`` is given, through asyncio's SSLProtocol).

        A host name is resolved (see ``resolve``); its addresses are tried in
        turn, or, with ``happy_eyeballs_delay``, raced with that stagger (RFC
        8305 5, as asyncio). ``interleave`` reorders by family: one family
        here. ``sock`` is refused (no kernel sockets); ``family`` may be
        ``AF_UNSPEC``, ``AF_INET`` or ``AF_INET6`` (the addresses of that family)."""
        version = _check_socket_args(sock, family, proto, "create_connection")
        if host is None or port is None:
            raise ValueError("host and port was not specified and no sock specified")
        if server_hostname is not None and not ssl:
            raise ValueError("server_hostname is only meaningful with ssl")
        if ssl_handshake_timeout is not None and not ssl:
            raise ValueError("ssl_handshake_timeout is only meaningful with ssl")
        if ssl and server_hostname is None:
            server_hostname = host  # the name, not the address, is checked (as asyncio)
        self._running()
        addresses = _of_family(await self.resolve(host, flags=flags), version)
        connect = functools.partial(
            self._connect_to,
            protocol_factory,
            port=port,
            local_addr=local_addr,
            ssl=ssl,
            server_hostname=server_hostname,
            ssl_handshake_timeout=ssl_handshake_timeout,
            ssl_shutdown_timeout=ssl_shutdown_timeout,
        )
        if len(addresses) == 1:
            return await connect(addresses[0])
        errors: list[OSError] = []
        if happy_eyeballs_delay is None:
            for address in addresses:
                try:
                    return await connect(address)
                except OSError as exc:
                    errors.append(exc)
            raise _connect_error(errors, all_errors)
        winner, _index, exceptions = await staggered.staggered_race(
            [functools.partial(connect, address) for address in addresses], happy_eyeballs_delay
        )
        if winner is not None:
            made: tuple[asyncio.Transport, _ProtocolT] = winner
            return made
        for failure in exceptions:
            if isinstance(failure, OSError):
                errors.append(failure)
            elif failure is not None:
                raise failure
        raise _connect_error(errors, all_errors)

    async def _connect_to(
        self,
        protocol_factory: Callable[[], _ProtocolT],
        host: str,
        *,
        port: int,
        local_addr: tuple[str, int] | None,
        ssl: _ssl.SSLContext | bool | None,
        server_hostname: str | None,
        ssl_handshake_timeout: float | None,
        ssl_shutdown_timeout: float | None,
        established: TcpConnection | None = None,
    ) -> tuple[asyncio.Transport, _ProtocolT]:
        """One connection attempt to the address ``host``; with ``established``
        (a connection ``_connect`` opened before: ``install``'s ``sock_connect``)
        only its transport and protocol are made."""
        driver = self._running()
        if not ssl:

            def make(conn: TcpConnection) -> tuple[TcpTransport, _ProtocolT]:
                # Called by the driver once the handshake is complete (_ConnectWaiter).
                try:
                    protocol = protocol_factory()
                except BaseException:
                    conn.abort(driver.loop.time())
                    driver.touch(conn)
                    raise
                return connected_transport(driver, conn, protocol), protocol

            if established is not None:
                return make(established)
            _conn, made = await self._connect(host, port, local_addr, make)
            assert made is not None  # make() ran
            return cast(tuple[asyncio.Transport, _ProtocolT], made)
        if established is not None:
            conn = established
        else:
            conn, _ = await self._connect(host, port, local_addr)
        protocol = protocol_factory()
        waiter: asyncio.Future[None] = driver.loop.create_future()
        tls = self._tls_protocol(
            driver.loop,
            protocol,
            ssl,
            waiter,
            server_side=False,
            server_hostname=server_hostname,
            ssl_handshake_timeout=ssl_handshake_timeout,
            ssl_shutdown_timeout=ssl_shutdown_timeout,
        )
        transport = TcpTransport(driver, conn, tls)
        try:
            await waiter
        except BaseException:
            transport.abort()
            raise
        return tls._app_transport, protocol

    @staticmethod
    def _tls_protocol(
        loop: asyncio.AbstractEventLoop,
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
            loop,
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
        **kwds: Any,
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Like ``asyncio.open_connection``: real StreamReader/StreamWriter; the
        keywords (``ssl=``, ``local_addr=``, ``happy_eyeballs_delay=``...) are
        ``create_connection``'s."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=limit, loop=loop)
        protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
        transport, _ = await self.create_connection(lambda: protocol, host, port, **kwds)
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        return reader, writer

    async def create_server(
        self,
        protocol_factory: Callable[[], asyncio.BaseProtocol],
        host: str | None = None,
        port: int | None = 0,
        *,
        family: int = socket.AF_UNSPEC,
        flags: int = socket.AI_PASSIVE,
        sock: object = None,
        backlog: int = 128,
        transparent: bool = False,
        start_serving: bool = True,
        ssl: _ssl.SSLContext | None = None,
        reuse_address: bool | None = None,
        reuse_port: bool | None = None,
        keep_alive: bool | None = None,
        ssl_handshake_timeout: float | None = None,
        ssl_shutdown_timeout: float | None = None,
        syn_filter: AddressFilter | None = None,
    ) -> Server:
        """Listen like ``loop.create_server``. ``port=0`` (or None) picks an
        ephemeral port (``server.port``); ``transparent=True`` accepts any
        destination address and port (a tun2socks-style gateway); ``ssl``
        serves TLS; ``keep_alive=True`` turns SO_KEEPALIVE on for every accepted
        connection. A host name listens on its first address. A stack's
        listeners never wait for TIME-WAIT (``reuse_address`` is always in
        effect); ``reuse_port=True`` (several listeners sharing a port) is not
        supported and raises ValueError, as asyncio does on a platform
        without SO_REUSEPORT; ``sock`` is refused.

        ``syn_filter(src, dst) -> Verdict`` (transparent only; ``(ip, port)``
        pairs): asked about each new SYN before any state is kept: ACCEPT,
        REFUSE (an RST from ``dst``) or DROP (``aionetstack.core.verdict``)."""
        version = _check_socket_args(sock, family, 0, "create_server")
        if reuse_port:
            raise ValueError("reuse_port is not supported by aionetstack's Stack")
        del reuse_address  # accepted: the stack never refuses a port for TIME-WAIT
        if syn_filter is not None and not transparent:
            raise ValueError("syn_filter needs transparent=True")
        driver = self._running()
        if isinstance(host, str) and host and _literal(host) is None:
            host = (await self.resolve(host, flags=flags))[0]
        if ssl is not None:
            if not isinstance(ssl, _ssl.SSLContext):
                raise TypeError(f"ssl argument must be an SSLContext or None, got {ssl!r}")
            inner_factory = protocol_factory

            def protocol_factory() -> asyncio.BaseProtocol:
                return self._tls_protocol(
                    driver.loop,
                    inner_factory(),
                    ssl,
                    None,
                    server_side=True,
                    server_hostname=None,
                    ssl_handshake_timeout=ssl_handshake_timeout,
                    ssl_shutdown_timeout=ssl_shutdown_timeout,
                )

        parsed = parse_host(host)
        if parsed is not None and version and parsed[0] != version:
            raise socket.gaierror(socket.EAI_ADDRFAMILY, f"{host!r} is not of family {family!r}")
        # host None: every address of both families (as asyncio's two sockets),
        # unless family= names one
        ip_version, addr = parsed if parsed is not None else (version, 0)
        listener = driver.engine.tcp_listen(
            addr, port or 0, backlog, transparent=transparent, family=ip_version
        )
        if syn_filter is not None:
            listener.syn_filter = _core_filter(syn_filter)
        socknames = [sockaddr(addr, listener.port, v) for v in (ip_version,) if v] or [
            sockaddr(0, listener.port, 4),
            sockaddr(0, listener.port, 6),
        ]
        server = Server(driver, listener, protocol_factory, socknames, keep_alive=bool(keep_alive))
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
        syn_filter: AddressFilter | None = None,
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
            syn_filter=syn_filter,
            **tls,
        )

    # --- UDP -------------------------------------------------------------------
    async def create_datagram_endpoint(
        self,
        protocol_factory: Callable[[], asyncio.DatagramProtocol],
        local_addr: tuple[str, int] | None = None,
        remote_addr: tuple[str, int] | None = None,
        *,
        family: int = 0,
        proto: int = 0,
        flags: int = 0,
        allow_broadcast: bool = False,
        transparent: bool = False,
        datagram_filter: AddressFilter | None = None,
    ) -> tuple[DatagramTransport, asyncio.DatagramProtocol]:
        """Open a UDP endpoint like ``loop.create_datagram_endpoint``: the family
        is ``family=``'s, else the addresses' (IPv4 without any).

        ``transparent=True`` (no addresses then): receive every datagram no
        other endpoint takes, whatever its destination (see ``aio/datagram.py``
        for the destination and ``sendto(..., source=)``); ``datagram_filter(src,
        dst) -> Verdict`` is asked about each such datagram first (REFUSE: an
        ICMP port unreachable from ``dst``)."""
        driver = self._running()
        if transparent:
            if local_addr is not None or remote_addr is not None or allow_broadcast:
                raise ValueError("a transparent endpoint takes no addresses")
            core_filter = _core_filter(datagram_filter) if datagram_filter is not None else None
            return await self._open_datagram(
                driver, driver.engine.udp_open_transparent(core_filter), protocol_factory,
                ("0.0.0.0", 0), None,
            )  # fmt: skip
        if datagram_filter is not None:
            raise ValueError("datagram_filter needs transparent=True")
        del flags  # no names here: literal addresses
        if proto not in (0, socket.IPPROTO_UDP):
            raise OSError(errno.EPROTONOSUPPORT, "proto must be 0 or IPPROTO_UDP")
        version = _version_of(family, "create_datagram_endpoint")
        la: int | None = None
        lp: int | None = None
        if local_addr is not None:
            local, port_or_0 = parse_sockaddr(local_addr, "local_addr")
            if local is not None:
                version = _same_version(version, local[0])
                la = local[1]
            lp = port_or_0 or None
        remote: tuple[int, int] | None = None
        if remote_addr is not None:
            r, rport = parse_sockaddr(remote_addr, "remote_addr")
            if r is None or not r[1]:
                raise OSError(errno.EINVAL, "invalid remote address")
            version = _same_version(version, r[0])
            remote = (r[1], rport)
        version = version or 4
        endpoint = driver.engine.udp_open(
            local_addr=la, local_port=lp, remote=remote, allow_broadcast=allow_broadcast,
            family=version,
        )  # fmt: skip
        # like getsockname(): the wildcard shows as 0.0.0.0 until connect picks a source
        sockname = sockaddr(endpoint.local_addr, endpoint.local_port, version)
        peername = sockaddr(remote[0], remote[1], version) if remote is not None else None
        return await self._open_datagram(driver, endpoint, protocol_factory, sockname, peername)

    @staticmethod
    async def _open_datagram(
        driver: Driver,
        endpoint: UdpEndpoint,
        protocol_factory: Callable[[], asyncio.DatagramProtocol],
        sockname: SockAddr,
        peername: SockAddr | None,
    ) -> tuple[DatagramTransport, asyncio.DatagramProtocol]:
        try:
            protocol = protocol_factory()
        except BaseException:
            endpoint.close()  # the port must not stay bound
            raise
        waiter: asyncio.Future[None] = driver.loop.create_future()
        transport = DatagramTransport(driver, endpoint, protocol, sockname, peername, waiter)
        try:
            await waiter
        except BaseException:
            transport.abort()
            raise
        return transport, protocol

    # --- ICMP ------------------------------------------------------------------
    async def ping(self, host: str, timeout: float = 1.0, *, payload: bytes = b"") -> float:
        """Send one ICMP (or ICMPv6) echo request; return the round-trip time in seconds."""
        driver = self._running()
        parsed = parse_host((await self.resolve(host))[0])
        if parsed is None or not parsed[1]:
            raise OSError(errno.EINVAL, f"invalid host {host!r}")
        version, dest = parsed
        self._ping_seq = (self._ping_seq + 1) & 0xFFFF
        key = (self._ping_ident, self._ping_seq)
        loop = driver.loop
        fut: asyncio.Future[float] = loop.create_future()
        self._pings[key] = fut
        if not payload:
            payload = os.urandom(8) + bytes(48)
        sent = loop.time()
        try:
            request = driver.engine.ping(dest, key[0], key[1], payload, now=sent, family=version)
            waiter = _PingWaiter(request, fut, loop)
            driver.own(request, waiter)
            driver.mark_dirty()
            try:
                async with asyncio.timeout(timeout):
                    received = await fut
            finally:
                driver.disown(request, waiter)
                if not request.done:
                    request.cancel()
        finally:
            self._pings.pop(key, None)
        return max(received - sent, 0.0)


def _core_filter(check: AddressFilter) -> FlowFilter:
    """An ``(ip, port)`` filter as the engine calls it (ints)."""

    def core(src: int, sport: int, dst: int, dport: int) -> Verdict:
        return check(sockaddr(src, sport), sockaddr(dst, dport))

    return core


def _same_version(version: int, other: int) -> int:
    """The addresses (and ``family=``) of one endpoint are of one IP version."""
    if version and version != other:
        raise ValueError("the addresses and family= of an endpoint must be of one family")
    return other


def _orphans_sending(engine: StackEngine) -> bool:
    """Connections still sending data or a FIN (the application closed them)."""
    return any(conn.state in _FINISHING_STATES for conn in engine.connections())
