"""Outbound dialers for the gateway relay: direct kernel sockets and SOCKS5.

Theory of operation
-------------------
A relay terminates flows in the user-space stack and re-originates them from
the KERNEL through a ``Dialer``:

* ``await dialer.connect_tcp(host, port)`` returns a ``TcpChannel``: the
  connection, handshake done, not yet handed over; ``channel.attach(protocol)``
  gives its transport to ``protocol`` together with what arrived before (the
  relay splices it so), ``channel.streams()`` as asyncio streams.
* ``await dialer.open_tcp(host, port)`` returns asyncio streams. Backpressure is
  asyncio's own: ``StreamWriter.drain()`` waits while the kernel send buffer and
  the transport buffer are above the high-water mark, and the ``StreamReader``
  stops reading the socket once ``limit`` bytes are buffered unread, so a slow
  side pauses the other and nothing grows without bound. ``write_eof()`` is a
  half-close (``shutdown(SHUT_WR)``).
* ``await dialer.open_udp()`` returns a ``UdpAssociation``: one outbound UDP
  context with endpoint-independent mapping (RFC 4787 "full cone": ``sendto``
  any remote, ``recvfrom`` datagrams from any remote). It is bounded: payloads
  over ``max_datagram`` are dropped on send, datagrams are dropped on receive
  when ``queue_size`` are waiting unread, and the kernel refusing a send (full
  buffer, unreachable) drops it; every drop is counted in ``UdpStats``. UDP
  never raises on loss: only misuse (a name where an address is needed) raises.

``DirectDialer`` opens kernel sockets bound to a source address
(``bind_address``), an interface (``SO_BINDTODEVICE``) and/or carrying a
firewall mark (``SO_MARK``), so that the relay's own traffic is routed around
the TUN device instead of looping back into it. ``Socks5Dialer`` speaks SOCKS5
(RFC 1928, username/password RFC 1929) to a proxy reached through a
``DirectDialer`` (so the proxy connection gets the same anti-loop options):
CONNECT for TCP, UDP ASSOCIATE for UDP, names passed to the proxy unresolved
(ATYP 3). The wire codec is sans-IO (``aionetstack.gateway.socks5``; its
docstring says why it is ours rather than python-socks or socksio).

Errors are builtin ``OSError`` subclasses with the errno the failure means,
whether it comes from the kernel (direct) or from a SOCKS5 reply code:
``ConnectionRefusedError``, ``OSError(ENETUNREACH)``, ``OSError(EHOSTUNREACH)``,
``TimeoutError`` (a reply "TTL expired", or any handshake step taking longer
than ``timeout``), ``PermissionError`` (ruleset or authentication refusal).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import errno
import ipaddress
import socket
import urllib.parse
from typing import Protocol, runtime_checkable

from attrs import define, field

from aionetstack.gateway import socks5

#: ``(host, port)``: host is an IP address literal, or a name where allowed.
Address = tuple[str, int]

#: RFC 768 over IPv4: 65535 - 20 (IPv4 header) - 8 (UDP header).
MAX_UDP_PAYLOAD = 65507
DEFAULT_TIMEOUT = 10.0
DEFAULT_UDP_QUEUE = 256
#: The ``StreamReader`` limit (asyncio's default is 64 KiB). The reader pauses
#: the socket above twice this; an asyncio socket transport reads up to 256 KiB
#: at a time, so with 64 KiB a fast bulk download paused and resumed the socket
#: every few reads (an epoll unregister and register each: 8 % of the gateway's
#: time relaying one flow through Dante at MTU 65535, py-spy). Memory is spent
#: only while data waits, never for idle flows.
DEFAULT_STREAM_LIMIT = 256 * 1024
#: Datagrams read per readiness callback before yielding to the loop.
_READ_BATCH = 32

# Linux socket options (asm-generic/socket.h, linux/in.h); the socket module
# exports them on Linux builds, the fallbacks are the same numbers.
SO_MARK: int = getattr(socket, "SO_MARK", 36)
SO_BINDTODEVICE: int = getattr(socket, "SO_BINDTODEVICE", 25)
IP_BIND_ADDRESS_NO_PORT: int = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)


@define
class UdpStats:
    """Counters of UDP associations (one association's, or a dialer's sum)."""

    #: Datagrams handed to the kernel.
    sent: int = 0
    #: Datagrams queued for ``recvfrom``.
    received: int = 0
    #: Outbound payloads over ``max_datagram`` (or whose header pushes them over).
    dropped_too_big: int = 0
    #: Sends the kernel refused (buffer full, unreachable, ...).
    dropped_send_error: int = 0
    #: Inbound datagrams while ``queue_size`` were already waiting unread.
    dropped_queue_full: int = 0
    #: Inbound SOCKS5 datagrams with FRAG != 0 (RFC 1928 7: no reassembly).
    dropped_fragment: int = 0
    #: Inbound SOCKS5 datagrams with an unparsable header.
    dropped_malformed: int = 0
    #: Errors reading the socket (an ICMP error queued on it, ...).
    receive_errors: int = 0


@define
class DialerStats:
    """A dialer's counters: dials, and every association's UDP counters summed."""

    tcp_opened: int = 0
    tcp_failed: int = 0
    udp_opened: int = 0
    udp_failed: int = 0
    udp: UdpStats = field(factory=UdpStats)


class UdpAssociation:
    """One outbound UDP context (full cone); see the module docstring.

    Subclasses implement ``sendto`` and feed ``_deliver``. ``recvfrom`` returns
    datagrams still queued after the association closed, then raises the
    reason it closed: ``ConnectionAbortedError`` after ``close()``,
    ``ConnectionResetError`` when a SOCKS5 control connection ended.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        parent: DialerStats,
        *,
        max_datagram: int,
        queue_size: int,
    ) -> None:
        #: Largest payload ``sendto`` accepts (larger ones are dropped, counted).
        self.max_datagram = max_datagram
        #: This association's counters (the dialer's ``stats.udp`` sums them).
        self.stats = UdpStats()
        self._loop = loop
        self._parent = parent
        self._queue: collections.deque[tuple[bytes, Address]] = collections.deque()
        self._queue_size = queue_size
        self._waiter: asyncio.Future[None] | None = None
        self._close_reason: OSError | None = None
        self._closed: asyncio.Future[None] = loop.create_future()
        self._readers: list[socket.socket] = []

    def sendto(self, data: bytes | bytearray | memoryview, addr: Address) -> None:
        """Send one datagram to ``addr``; never blocks, drops (counted) on failure.

        Once the association has closed it raises the reason it closed (as
        ``recvfrom`` does), so a relay learns the flow is over."""
        raise NotImplementedError

    async def recvfrom(self) -> tuple[bytes, Address]:
        """The next datagram and the ``(host, port)`` it came from."""
        while not self._queue:
            if self._close_reason is not None:
                raise self._close_reason
            if self._waiter is not None:
                raise RuntimeError("recvfrom() is already being awaited")
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._queue.popleft()

    def get_local_address(self) -> Address:
        """The kernel socket's own address (the first one, for a direct dialer)."""
        return _addr(self._readers[0].getsockname()) if self._readers else ("", 0)

    def is_closing(self) -> bool:
        return self._close_reason is not None

    def close(self) -> None:
        """End the association: sockets closed, ``recvfrom`` waiters woken."""
        self._shutdown(ConnectionAbortedError(errno.ECONNABORTED, "UDP association closed"))

    async def wait_closed(self) -> None:
        await asyncio.shield(self._closed)

    # -- for subclasses -------------------------------------------------------

    def _count(self, name: str) -> None:
        setattr(self.stats, name, getattr(self.stats, name) + 1)
        setattr(self._parent.udp, name, getattr(self._parent.udp, name) + 1)

    def _watch(self, sock: socket.socket) -> None:
        """Read ``sock`` whenever the loop says it is readable."""
        self._readers.append(sock)
        self._loop.add_reader(sock.fileno(), self._read_ready, sock)

    def _read_ready(self, sock: socket.socket) -> None:
        for _ in range(_READ_BATCH):
            try:
                data, addr = sock.recvfrom(MAX_UDP_PAYLOAD + 1)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                # An ICMP error reported on the socket (Linux __udp4_lib_err).
                self._count("receive_errors")
                continue
            self._on_datagram(data, _addr(addr))

    def _on_datagram(self, data: bytes, addr: Address) -> None:
        self._deliver(data, addr)

    def _deliver(self, data: bytes, addr: Address) -> None:
        if len(self._queue) >= self._queue_size:
            self._count("dropped_queue_full")
            return
        self._queue.append((data, addr))
        self._count("received")
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _send(
        self, sock: socket.socket, packet: bytes | bytearray | memoryview, addr: Address | None
    ) -> None:
        try:
            if addr is None:
                sock.send(packet)
            else:
                sock.sendto(packet, addr)
        except OSError:
            self._count("dropped_send_error")
        else:
            self._count("sent")

    def _shutdown(self, reason: OSError) -> None:
        if self._close_reason is not None:
            return
        self._close_reason = reason
        for sock in self._readers:
            self._loop.remove_reader(sock.fileno())
            sock.close()
        self._readers.clear()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        if not self._closed.done():
            self._closed.set_result(None)


class TcpChannel(asyncio.Protocol):
    """An outbound TCP connection from its dial until its hand-over.

    The protocol a dialer connects with (``loop.create_connection(TcpChannel,
    ...)``, or a ``Stack``'s). It keeps what arrives (at most ``limit`` bytes:
    reading pauses above it), which a handshake reads with ``readexactly``;
    then ``attach(protocol)`` hands the transport to its user together with
    what was received and not read (bytes a server that speaks first sent,
    or that followed a SOCKS5 reply), its EOF and how it ended, in order: the
    public replacement for reaching into a ``StreamReader``'s buffer.
    ``streams()`` hands it over as asyncio streams instead.
    """

    def __init__(self, limit: int = DEFAULT_STREAM_LIMIT) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._eof = False
        self._closed = False
        self._error: Exception | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._attached: asyncio.BaseProtocol | None = None

    # --- asyncio.Protocol (until attach) ---------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) > self.limit and self.transport is not None:
            self.transport.pause_reading()  # bounded; reading resumes after attach
        self._wake()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake()
        return True  # half-open: the user decides (the relay passes it on)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._error = exc
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    # --- before the hand-over ------------------------------------------------
    def write(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    async def readexactly(self, n: int) -> bytes:
        """Exactly ``n`` bytes; ``asyncio.IncompleteReadError`` at EOF, the
        connection's error if it was lost first."""
        while len(self._buffer) < n:
            if self._error is not None:
                raise self._error
            if self._eof or self._closed:
                partial = bytes(self._buffer)
                self._buffer.clear()
                raise asyncio.IncompleteReadError(partial, n)
            if self.transport is not None and not self.transport.is_reading():
                self.transport.resume_reading()
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    # --- the hand-over -----------------------------------------------------
    def attach(self, protocol: asyncio.BaseProtocol) -> None:
        """Make ``protocol`` the transport's protocol, then give it, in order,
        the bytes received and not read, the EOF (a ``False`` return closes
        the transport, as asyncio does) and the loss, as it would have seen
        them. ``connection_made`` is not called (call it first if the
        protocol needs it). Reading stays as it was (paused if the buffer
        was full): the caller resumes it."""
        if self._attached is not None:
            raise RuntimeError("this connection was handed over already")
        transport = self.transport
        if transport is None:
            raise RuntimeError("not connected")
        self._attached = protocol
        transport.set_protocol(protocol)
        data, self._buffer = bytes(self._buffer), bytearray()
        if data:
            protocol.data_received(data)  # type: ignore[attr-defined]
        if self._eof and not protocol.eof_received():  # type: ignore[attr-defined]
            transport.close()
        if self._closed:
            protocol.connection_lost(self._error)

    def streams(
        self, limit: int | None = None
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Hand the connection over as asyncio streams (``limit``: the reader's,
        default the channel's)."""
        transport = self.transport
        if transport is None:
            raise RuntimeError("not connected")
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=limit or self.limit, loop=loop)
        protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
        protocol.connection_made(transport)
        self.attach(protocol)
        if not transport.is_closing() and not transport.is_reading():
            transport.resume_reading()
        return reader, asyncio.StreamWriter(transport, protocol, reader, loop)


@runtime_checkable
class Dialer(Protocol):
    """What the gateway relay needs from an outbound path."""

    stats: DialerStats

    async def connect_tcp(self, host: str, port: int) -> TcpChannel:
        """A TCP connection to ``(host, port)`` (``host`` may be a name), not
        yet handed over: the relay attaches its own protocol to it."""
        ...

    async def open_tcp(
        self, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """The same as asyncio streams (``(await connect_tcp(...)).streams()``)."""
        ...

    async def open_udp(self) -> UdpAssociation:
        """A new full-cone UDP association."""
        ...

    def close(self) -> None:
        """Close every UDP association this dialer opened and still holds."""
        ...


def _addr(sockaddr: tuple[object, ...]) -> Address:
    return (str(sockaddr[0]), int(sockaddr[1]))  # type: ignore[call-overload]


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _family(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> socket.AddressFamily:
    return socket.AF_INET if ip.version == 4 else socket.AF_INET6


class _DialerBase:
    def __init__(self, max_datagram: int, udp_queue: int) -> None:
        if not 0 < max_datagram <= MAX_UDP_PAYLOAD:
            raise ValueError(f"max_datagram must be in 1..{MAX_UDP_PAYLOAD}")
        if udp_queue < 1:
            raise ValueError("udp_queue must be at least 1")
        self.max_datagram = max_datagram
        self.udp_queue = udp_queue
        self.stats = DialerStats()
        self._associations: set[UdpAssociation] = set()

    async def connect_tcp(self, host: str, port: int) -> TcpChannel:
        raise NotImplementedError

    async def open_tcp(
        self, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """``connect_tcp`` handed over as asyncio streams."""
        return (await self.connect_tcp(host, port)).streams()

    def _track(self, assoc: UdpAssociation) -> UdpAssociation:
        self.stats.udp_opened += 1
        self._associations.add(assoc)
        assoc._closed.add_done_callback(lambda _: self._associations.discard(assoc))
        return assoc

    def close(self) -> None:
        for assoc in list(self._associations):
            assoc.close()


class DirectUdpAssociation(UdpAssociation):
    """UDP straight from kernel sockets (one per address family, made on demand)."""

    def __init__(self, dialer: DirectDialer, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(
            loop, dialer.stats, max_datagram=dialer.max_datagram, queue_size=dialer.udp_queue
        )
        self._dialer = dialer
        self._sockets: dict[int, socket.socket] = {}

    def _socket(self, family: socket.AddressFamily) -> socket.socket:
        sock = self._sockets.get(family)
        if sock is None:
            sock = self._dialer.make_socket(family, socket.SOCK_DGRAM)
            self._sockets[family] = sock
            self._watch(sock)
        return sock

    def sendto(self, data: bytes | bytearray | memoryview, addr: Address) -> None:
        """Send to an IP address (a name raises ``ValueError``: resolve it first)."""
        ip = _ip(addr[0])
        if ip is None:
            raise ValueError(f"direct UDP needs an IP address, not {addr[0]!r}")
        if self._close_reason is not None:
            raise self._close_reason
        if len(data) > self.max_datagram:
            self._count("dropped_too_big")
            return
        try:
            sock = self._socket(_family(ip))
        except OSError:
            self._count("dropped_send_error")
            return
        self._send(sock, data, (str(ip), addr[1]))

    def _shutdown(self, reason: OSError) -> None:
        self._sockets.clear()
        super()._shutdown(reason)


class DirectDialer(_DialerBase):
    """Kernel sockets, optionally pinned so they cannot loop into the TUN device.

    ``bind_address``: source IP of every socket of its family (TCP binds use
    ``IP_BIND_ADDRESS_NO_PORT``, so the port is picked at connect time and binds
    do not exhaust ports; Linux ``inet_bind``); with it set, names resolve to
    that family only. ``interface``: ``SO_BINDTODEVICE``. ``mark``: ``SO_MARK``
    (policy routing: ``ip rule add fwmark MARK lookup TABLE``). The last two
    need CAP_NET_RAW / CAP_NET_ADMIN. ``timeout`` bounds name resolution plus
    the connect (all addresses tried in turn) of ``open_tcp``.
    """

    def __init__(
        self,
        *,
        bind_address: str | None = None,
        interface: str | None = None,
        mark: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        limit: int = DEFAULT_STREAM_LIMIT,
        max_datagram: int = MAX_UDP_PAYLOAD,
        udp_queue: int = DEFAULT_UDP_QUEUE,
    ) -> None:
        super().__init__(max_datagram, udp_queue)
        self.bind_ip = _ip(bind_address) if bind_address is not None else None
        if bind_address is not None and self.bind_ip is None:
            raise ValueError(f"bind_address must be an IP address: {bind_address!r}")
        if interface is not None and not 0 < len(interface.encode()) < 16:  # IFNAMSIZ
            raise ValueError(f"bad interface name {interface!r}")
        self.interface = interface
        self.mark = mark
        self.timeout = timeout
        self.limit = limit

    def make_socket(self, family: socket.AddressFamily, type: socket.SocketKind) -> socket.socket:
        """A non-blocking kernel socket with the dialer's mark, device and source."""
        sock = socket.socket(family, type)
        try:
            sock.setblocking(False)
            if self.mark is not None:
                sock.setsockopt(socket.SOL_SOCKET, SO_MARK, self.mark)
            if self.interface is not None:
                sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, self.interface.encode())
            if self.bind_ip is not None and _family(self.bind_ip) == family:
                if type == socket.SOCK_STREAM:
                    # Best effort: an old kernel without it still binds, less lazily.
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
                sock.bind((str(self.bind_ip), 0))
        except BaseException:
            sock.close()
            raise
        return sock

    async def _resolve(
        self, host: str, port: int, type: socket.SocketKind
    ) -> list[tuple[socket.AddressFamily, Address]]:
        ip = _ip(host)
        wanted = _family(self.bind_ip) if self.bind_ip is not None else None
        if ip is not None:
            if wanted is not None and _family(ip) != wanted:
                raise OSError(errno.EAFNOSUPPORT, f"{host} is not of bind_address's family")
            return [(_family(ip), (str(ip), port))]
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, family=wanted or 0, type=type
        )
        seen: list[tuple[socket.AddressFamily, Address]] = []
        for family, _, _, _, sockaddr in infos:
            item = (family, _addr(sockaddr))
            if item not in seen:
                seen.append(item)
        return seen

    async def connect_tcp(self, host: str, port: int) -> TcpChannel:
        try:
            async with asyncio.timeout(self.timeout):
                return await self._connect(host, port)
        except BaseException:
            self.stats.tcp_failed += 1
            raise

    async def _connect(self, host: str, port: int) -> TcpChannel:
        loop = asyncio.get_running_loop()
        last: OSError | None = None
        for family, sockaddr in await self._resolve(host, port, socket.SOCK_STREAM):
            sock = self.make_socket(family, socket.SOCK_STREAM)
            try:
                await loop.sock_connect(sock, sockaddr)
            except OSError as exc:
                sock.close()
                last = exc
                continue
            except BaseException:
                sock.close()
                raise
            _, channel = await loop.create_connection(lambda: TcpChannel(self.limit), sock=sock)
            self.stats.tcp_opened += 1
            return channel
        raise last or OSError(errno.EHOSTUNREACH, f"no address for {host!r}")

    async def open_udp(self) -> DirectUdpAssociation:
        assoc = DirectUdpAssociation(self, asyncio.get_running_loop())
        try:
            # The main family's socket now, so a bad mark/interface/address raises here.
            assoc._socket(_family(self.bind_ip) if self.bind_ip else socket.AF_INET)
        except BaseException:
            self.stats.udp_failed += 1
            assoc.close()
            raise
        self._track(assoc)
        return assoc


class Socks5UdpAssociation(UdpAssociation):
    """A SOCKS5 UDP ASSOCIATE (RFC 1928 7): datagrams go to and come from the
    proxy's relay with the RSV/FRAG/ATYP header; the association lives as long
    as its TCP control connection and ends (``ConnectionResetError``) when the
    proxy closes it."""

    def __init__(
        self,
        dialer: Socks5Dialer,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        control: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    ) -> None:
        super().__init__(
            loop, dialer.stats, max_datagram=dialer.max_datagram, queue_size=dialer.udp_queue
        )
        self._sock = sock
        self._control_writer = control[1]
        #: The proxy's UDP relay address (BND.ADDR/BND.PORT of the reply).
        self.relay = _addr(sock.getpeername())
        self._watch(sock)
        self._watcher = loop.create_task(self._watch_control(control[0]))

    def sendto(self, data: bytes | bytearray | memoryview, addr: Address) -> None:
        """Send to ``addr`` through the relay; a name goes to the proxy as ATYP 3."""
        if self._close_reason is not None:
            raise self._close_reason
        packet = socks5.encode_udp(addr[0], addr[1], data)
        if len(data) > self.max_datagram or len(packet) > MAX_UDP_PAYLOAD:
            self._count("dropped_too_big")
            return
        self._send(self._sock, packet, None)

    def _on_datagram(self, data: bytes, addr: Address) -> None:
        # The socket is connected to the relay: the kernel only lets its
        # datagrams in (Linux compute_score matches the connected peer).
        try:
            parsed = socks5.decode_udp(data)
        except OSError:
            self._count("dropped_malformed")
            return
        if parsed.frag != 0:
            self._count("dropped_fragment")
            return
        self._deliver(parsed.payload, (parsed.host, parsed.port))

    async def _watch_control(self, reader: asyncio.StreamReader) -> None:
        reason: OSError = ConnectionResetError(
            errno.ECONNRESET, "SOCKS5 control connection closed: UDP association ended"
        )
        try:
            while await reader.read(4096):
                pass  # RFC 1928 says nothing more is sent on it; ignore anything.
        except OSError as exc:
            reason = exc
        self._shutdown(reason)

    def _shutdown(self, reason: OSError) -> None:
        if self._close_reason is not None:
            return
        super()._shutdown(reason)
        self._control_writer.close()
        if self._watcher is not asyncio.current_task():
            self._watcher.cancel()


class Socks5Dialer(_DialerBase):
    """SOCKS5 (RFC 1928) with optional username/password (RFC 1929).

    The proxy is reached through ``via`` (a ``DirectDialer``: give it a mark,
    interface or source address so the proxy connection avoids the TUN
    device). ``timeout`` bounds each handshake step (method selection,
    authentication, the request's reply) on its own; ``via.timeout`` bounds
    the connect to the proxy.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        via: DirectDialer | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_datagram: int = MAX_UDP_PAYLOAD - socks5.MAX_UDP_HEADER_LEN,
        udp_queue: int = DEFAULT_UDP_QUEUE,
    ) -> None:
        super().__init__(max_datagram, udp_queue)
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        self._userpass = (
            socks5.encode_userpass(username, password)
            if username is not None and password is not None
            else None
        )
        self.host = host
        self.port = port
        self.via = via if via is not None else DirectDialer(timeout=timeout)
        self.timeout = timeout

    @classmethod
    def from_url(cls, url: str, **kwargs: object) -> Socks5Dialer:
        """``[socks5://][USER:PASS@]HOST:PORT`` (IPv6 hosts in brackets)."""
        parts = urllib.parse.urlsplit(url if "://" in url else f"socks5://{url}")
        if parts.scheme not in ("socks5", "socks5h") or parts.hostname is None or not parts.port:
            raise ValueError(f"not a SOCKS5 address: {url!r}")
        user = urllib.parse.unquote(parts.username) if parts.username is not None else None
        pwd = urllib.parse.unquote(parts.password) if parts.password is not None else None
        return cls(parts.hostname, parts.port, username=user, password=pwd, **kwargs)  # type: ignore[arg-type]

    async def connect_tcp(self, host: str, port: int) -> TcpChannel:
        """CONNECT (RFC 1928 4); the channel then carries the relayed bytes."""
        try:
            channel, _ = await self._request(socks5.CMD_CONNECT, host, port)
        except BaseException:
            self.stats.tcp_failed += 1
            raise
        self.stats.tcp_opened += 1
        return channel

    async def open_udp(self) -> Socks5UdpAssociation:
        """UDP ASSOCIATE (RFC 1928 4, 7)."""
        loop = asyncio.get_running_loop()
        try:
            # All zeros: we do not know the address the proxy will see us from
            # (RFC 1928 4, "MUST use a port number and address of all zeros").
            channel, reply = await self._request(socks5.CMD_UDP_ASSOCIATE, "0.0.0.0", 0)
            reader, writer = channel.streams()
            try:
                relay = await self._relay_address(reply, writer, loop)
                sock = self.via.make_socket(_family(relay[0]), socket.SOCK_DGRAM)
                try:
                    sock.connect((str(relay[0]), relay[1]))  # UDP: no packet, no wait
                except BaseException:
                    sock.close()
                    raise
            except BaseException:
                writer.transport.abort()
                raise
        except BaseException:
            self.stats.udp_failed += 1
            raise
        assoc = Socks5UdpAssociation(self, loop, sock, (reader, writer))
        self._track(assoc)
        return assoc

    async def _relay_address(
        self, reply: socks5.Reply, writer: asyncio.StreamWriter, loop: asyncio.AbstractEventLoop
    ) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]:
        ip = _ip(reply.host)
        if ip is None:
            async with asyncio.timeout(self.timeout):
                infos = await loop.getaddrinfo(reply.host, reply.port, type=socket.SOCK_DGRAM)
            ip = ipaddress.ip_address(infos[0][4][0])
        elif ip.is_unspecified:
            # A relay on "any address" is reached at the address we reached the proxy at.
            ip = ipaddress.ip_address(writer.get_extra_info("peername")[0])
        return ip, reply.port

    async def _request(self, command: int, host: str, port: int) -> tuple[TcpChannel, socks5.Reply]:
        request = socks5.encode_request(command, host, port)  # ValueError before any I/O
        channel = await self.via.connect_tcp(self.host, self.port)
        try:
            reply = await self._handshake(channel, request)
        except BaseException:
            assert channel.transport is not None
            channel.transport.abort()
            raise
        return channel, reply

    async def _handshake(self, channel: TcpChannel, request: bytes) -> socks5.Reply:
        # RFC 1928 3: method selection.
        method = socks5.parse_method_choice(
            await self._step(channel, socks5.encode_greeting(self._userpass is not None), 2)
        )
        if method == socks5.METHOD_USERPASS:
            if self._userpass is None:
                raise socks5.violation("proxy chose username/password, which we did not offer")
            # RFC 1929 2.
            socks5.parse_userpass_reply(await self._step(channel, self._userpass, 2))
        # RFC 1928 4 and 6: the request and its reply (5 bytes tell the length).
        head = await self._step(channel, request, 5)
        length = socks5.reply_length(head)
        assert length is not None  # 5 bytes always reach the name's length byte
        rest = await self._step(channel, b"", length - len(head))
        return socks5.parse_reply(head + rest)

    async def _step(self, channel: TcpChannel, out: bytes, n: int) -> bytes:
        """Send ``out``, then read exactly ``n`` bytes, within ``timeout``
        (the messages are a few hundred bytes at most: no drain needed)."""
        try:
            async with asyncio.timeout(self.timeout):
                if out:
                    channel.write(out)
                return await channel.readexactly(n)
        except asyncio.IncompleteReadError:
            raise ConnectionResetError(
                errno.ECONNRESET, "SOCKS5 proxy closed the connection during the handshake"
            ) from None
