"""The relay: every TCP and UDP flow that reaches a stack, re-originated by a dialer.

Theory of operation
-------------------
``Relay(stack, dialer)`` opens the stack's transparent TCP server
(``start_server(transparent=True, syn_filter=...)``) and its transparent UDP
endpoint (``create_datagram_endpoint(transparent=True, datagram_filter=...)``),
so it terminates flows to *any* destination routed to the stack, and opens the
matching outbound flow through ``dialer`` (``DirectDialer`` or ``Socks5Dialer``,
``dialers.py``).

*TCP.* Each accepted connection is held with its reading paused while it
dials ``dialer.connect_tcp(dst)``; a failed dial aborts the inside connection
(the client gets an RST at once: "connection reset", never a hang). Then the
two transports are spliced (``_Splice``): each one's protocol writes what it
receives straight into the other transport, no stream, task or copy between
them. The dialer's ``TcpChannel`` hands its transport over with
``attach()``, which first replays what arrived before (a server that speaks
first, bytes right behind the SOCKS5 reply), its EOF and its end.
Backpressure: when a transport's write buffer passes ``buffer_size`` (its
high-water mark; the stack's transport counts beyond the engine's send
buffer) its protocol pauses reading on the other transport, whose TCP window
then closes, and resumes it below the low-water mark: both ways, at most
``buffer_size`` plus one delivered chunk waiting per direction. (Before the
splice, two pump tasks copied through ``StreamReader`` s: 9-23 % more CPU per
relayed byte through Dante.) An EOF is passed on as a half-close
(``write_eof``), both ways; the flow ends when both directions have ended (or
``half_close_timeout`` after the first did). An error on either side aborts
both (the client gets an RST).

*Small pieces.* A proxy that copies in small pieces (microsocks: 1 KiB per
``read()``/``write()``) makes most reads of the outbound socket small (a
loop iteration, a ``recv`` and a stack write each), yet the stack side still
sends full segments: writes within one loop iteration leave together (the
driver flushes once per iteration) and Nagle holds a sub-MSS tail only while
a small segment is unacknowledged (``benchmarks/README.md``, bench_gateway,
has the measurements, and why ``SO_RCVLOWAT`` read coalescing was dropped).

*UDP.* Sessions are keyed by the inside source ``(ip, port)`` only: one
outbound association per source (RFC 4787 4.1 endpoint-independent mapping,
"full cone"), whatever destinations it sends to, and replies from *any*
remote go back to the source with the remote as their source address
(RFC 4787 5 endpoint-independent filtering). The first datagrams wait (at most
``udp_pending``) while the association opens. A session ends after
``udp_timeout`` seconds without a datagram either way (RFC 4787 4.3 asks for
at least 120 s, 5 min recommended; DNS-heavy gateways use less), or when its
association ends (the proxy went away).

*Caps.* At ``max_tcp_flows`` live TCP flows, new SYNs are refused with an RST
before the stack keeps any state (``syn_filter``); at ``max_udp_sessions`` a
datagram of a new flow is refused with ICMP port unreachable
(``datagram_filter``); both are counted in ``RelayStats``. ``tcp_filter`` /
``udp_filter`` (``(src, dst) -> Verdict``) let the application refuse or drop
flows itself (asked for a SYN / the first datagram of a flow only).

*Accounting.* Each flow is a ``Flow`` record (destination, bytes each way, age,
how it ended); ``flows`` lists the live ones, ``recent`` the last ended ones,
``snapshot()`` all of it as JSON-ready data. One INFO line per flow open and
close goes to the ``aionetstack.gateway`` logger.

*Fake-IP DNS* (optional, ``fake_ip=FakeIpPool("198.18.128.0/17")``,
``fakeip.py``): every datagram to port 53 that parses as a query is answered
by the relay itself (an ``A`` or ``AAAA`` record from the pool), and flows to a pool
address are dialed by the name it stands for (SOCKS5 resolves it at the
proxy). Replies to UDP sent by name come from the address the proxy reports.

*Shutdown.* ``stop_accepting()`` refuses new flows; ``close(grace)`` waits up
to ``grace`` seconds for live TCP flows to end, then aborts what is left
(UDP sessions included).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import errno
import ipaddress
import itertools
import logging
from typing import Any

from attrs import asdict, define

from aionetstack.aio.datagram import DatagramTransport, TransparentDatagramProtocol
from aionetstack.aio.server import Server
from aionetstack.aio.stack import AddressFilter, Stack
from aionetstack.core.verdict import Verdict
from aionetstack.gateway.dialers import Dialer, TcpChannel, UdpAssociation
from aionetstack.gateway.fakeip import FakeIpPool

__all__ = ["Flow", "Relay", "RelayStats", "Verdict"]

logger = logging.getLogger("aionetstack.gateway")

Address = tuple[str, int]


@define
class Flow:
    """One relayed flow. ``up`` is inside -> outside, ``down`` the reverse."""

    id: int
    proto: str  # "tcp" or "udp"
    src: Address
    dst: Address  # UDP: the first destination of the session
    opened: float  # the loop's clock
    state: str = "dialing"  # dialing, open, closed
    bytes_up: int = 0
    bytes_down: int = 0
    datagrams_up: int = 0
    datagrams_down: int = 0
    closed: float | None = None
    #: fake-IP mode: the name the destination address stands for
    name: str | None = None
    #: how it ended: "closed" (both sides finished), "reset" (an error or RST),
    #: "dial failed: ...", "idle" (UDP timeout), "association ended",
    #: "half-close timeout", "shutdown"
    end: str | None = None

    def as_dict(self, now: float) -> dict[str, Any]:
        data = asdict(self)
        data["src"] = _show(self.src)
        data["dst"] = _show(self.dst)
        data["age"] = round((self.closed if self.closed is not None else now) - self.opened, 3)
        del data["opened"], data["closed"]
        if self.proto == "tcp":
            del data["datagrams_up"], data["datagrams_down"]
        return data


@define
class RelayStats:
    """The relay's counters (totals over every flow since start)."""

    tcp_opened: int = 0
    tcp_closed: int = 0
    tcp_refused_full: int = 0
    tcp_refused_filter: int = 0
    tcp_dial_failed: int = 0
    udp_opened: int = 0
    udp_closed: int = 0
    udp_refused_full: int = 0
    udp_refused_filter: int = 0
    udp_dial_failed: int = 0
    #: datagrams dropped: queued while the association opened beyond ``udp_pending``
    udp_dropped_pending: int = 0
    #: replies from a remote we cannot name as a source of the inside flow's
    #: family (a name, IPv6 to an IPv4 client or the reverse)
    udp_dropped_reply: int = 0
    #: fake-IP mode: DNS queries answered from the pool; flows to a pool
    #: address nobody was given (refused)
    dns_answered: int = 0
    fake_ip_unknown: int = 0
    bytes_up: int = 0
    bytes_down: int = 0


class _UdpSession:
    __slots__ = ("assoc", "flow", "last_active", "pending", "task")

    def __init__(self, flow: Flow, now: float) -> None:
        self.flow = flow
        self.assoc: UdpAssociation | None = None
        self.pending: collections.deque[tuple[bytes, Address]] = collections.deque()
        self.last_active = now
        self.task: asyncio.Task[None] | None = None


class _Accepted(asyncio.Protocol):
    """An inside TCP connection until its flow is spliced (reading paused)."""

    def __init__(self, relay: Relay) -> None:
        self._relay = relay
        self.lost: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.pause_reading()  # nothing is read before the outbound flow exists
        self._relay._tcp_accepted(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = exc if exc is not None else ConnectionResetError("closed while dialing")


class _Splice:
    """Two transports joined: what one receives, the other sends.

    ``up`` is the protocol of the inside transport, ``down`` the outside
    one's. Backpressure: when a transport's write buffer passes its high-water
    mark, its protocol pauses reading on the OTHER transport (and resumes it
    below the low-water mark), so no byte waits anywhere but in the transports'
    and the stack's own bounded buffers. An EOF is passed on as a half-close.
    """

    __slots__ = ("down", "ended", "eofs", "first", "flow", "inside", "outside", "up")

    def __init__(
        self,
        flow: Flow,
        inside: asyncio.Transport,
        outside: asyncio.Transport,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.flow = flow
        self.inside = inside
        self.outside = outside
        self.eofs = 0
        #: the first direction ended (EOF or error); how the flow ended
        self.first: asyncio.Future[None] = loop.create_future()
        self.ended: asyncio.Future[str] = loop.create_future()
        self.up = _SpliceSide(self, outside, up=True)
        self.down = _SpliceSide(self, inside, up=False)

    def end(self, how: str) -> None:
        if not self.first.done():
            self.first.set_result(None)
        if not self.ended.done():
            self.ended.set_result(how)


class _SpliceSide(asyncio.Protocol):
    """The protocol of one spliced transport; ``sink`` is the other one."""

    def __init__(self, splice: _Splice, sink: asyncio.Transport, *, up: bool) -> None:
        self.splice = splice
        self.sink = sink
        self.up = up

    def data_received(self, data: bytes) -> None:
        if self.up:
            self.splice.flow.bytes_up += len(data)
        else:
            self.splice.flow.bytes_down += len(data)
        self.sink.write(data)

    def eof_received(self) -> bool:
        splice = self.splice
        if self.sink.can_write_eof():
            self.sink.write_eof()  # the half-close, passed on
        splice.eofs += 1
        if splice.eofs == 2:
            splice.end("closed")
        elif not splice.first.done():
            splice.first.set_result(None)
        return True  # keep the transport open: the other direction goes on

    def connection_lost(self, exc: Exception | None) -> None:
        self.splice.end(f"reset: {_reason(exc)}" if exc is not None else "reset")

    def pause_writing(self) -> None:
        # our transport's send buffer is full: stop reading the other one
        self.sink.pause_reading()

    def resume_writing(self) -> None:
        if not self.sink.is_closing():
            self.sink.resume_reading()


class _UdpSide(TransparentDatagramProtocol):
    def __init__(self, relay: Relay) -> None:
        self._relay = relay

    def datagram_received(  # type: ignore[override]
        self, data: bytes, addr: Address, dest: Address
    ) -> None:
        self._relay._udp_in(data, addr[:2], dest[:2])


class Relay:
    """Relay every flow of ``stack`` through ``dialer`` (see the module docstring).

    Use as ``async with Relay(stack, dialer) as relay:`` or ``await
    relay.start()`` ... ``await relay.close(grace)``. The stack must be
    started; the dialer stays the caller's (``close`` does not close it).
    """

    def __init__(
        self,
        stack: Stack,
        dialer: Dialer,
        *,
        max_tcp_flows: int = 4096,
        max_udp_sessions: int = 1024,
        udp_timeout: float = 60.0,
        udp_pending: int = 16,
        buffer_size: int = 256 * 1024,
        half_close_timeout: float = 120.0,
        tcp_filter: AddressFilter | None = None,
        udp_filter: AddressFilter | None = None,
        fake_ip: FakeIpPool | None = None,
        history: int = 256,
    ) -> None:
        if max_tcp_flows < 1 or max_udp_sessions < 1:
            raise ValueError("the flow caps must be at least 1")
        if udp_timeout <= 0 or half_close_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if buffer_size < 1024:
            raise ValueError("buffer_size must be at least 1024")
        self.stack = stack
        self.dialer = dialer
        self.max_tcp_flows = max_tcp_flows
        self.max_udp_sessions = max_udp_sessions
        self.udp_timeout = udp_timeout
        self.udp_pending = udp_pending
        self.buffer_size = buffer_size
        self.half_close_timeout = half_close_timeout
        self.tcp_filter = tcp_filter
        self.udp_filter = udp_filter
        self.fake_ip = fake_ip
        self.stats = RelayStats()
        #: the last ``history`` flows that ended, oldest first
        self.recent: collections.deque[Flow] = collections.deque(maxlen=history)
        self._ids = itertools.count(1)
        self._tcp: dict[int, tuple[Flow, asyncio.Task[Any]]] = {}
        self._udp: dict[Address, _UdpSession] = {}
        self._server: Server | None = None
        self._udp_transport: DatagramTransport | None = None
        self._accepting = False
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- life cycle ---------------------------------------------------------------
    async def start(self) -> Relay:
        self._loop = asyncio.get_running_loop()
        self._accepting = True
        self._server = await self.stack.create_server(
            lambda: _Accepted(self), transparent=True, syn_filter=self._syn_filter
        )
        transport, _ = await self.stack.create_datagram_endpoint(
            lambda: _UdpSide(self), transparent=True, datagram_filter=self._datagram_filter
        )
        self._udp_transport = transport
        return self

    def stop_accepting(self) -> None:
        """Refuse new flows (SYNs get RSTs, new UDP flows ICMP); live ones go on."""
        self._accepting = False

    async def close(self, grace: float = 0.0) -> None:
        """Stop accepting, let live TCP flows finish for up to ``grace``
        seconds, then abort what is left (their flows end as "shutdown").
        UDP sessions have no end of their own to wait for (only an idle
        timeout): they end with the TCP flows."""
        self.stop_accepting()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self._tcp and loop.time() < deadline:
            await asyncio.sleep(min(0.05, max(0.0, deadline - loop.time())))
        tasks = [task for _, task in self._tcp.values()]
        tasks += [s.task for s in self._udp.values() if s.task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._udp_transport is not None:
            self._udp_transport.close()
            self._udp_transport = None

    async def __aenter__(self) -> Relay:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- the flow table -------------------------------------------------------------
    @property
    def flows(self) -> list[Flow]:
        """The live flows (TCP then UDP)."""
        return [flow for flow, _ in self._tcp.values()] + [s.flow for s in self._udp.values()]

    def snapshot(self) -> dict[str, Any]:
        """Live flows, recently ended ones, totals and the stack's counters (JSON-ready)."""
        now = asyncio.get_running_loop().time()
        stats = asdict(self.stats)
        live = self.flows
        for flow in live:
            stats["bytes_up"] += flow.bytes_up
            stats["bytes_down"] += flow.bytes_down
        return {
            "flows": [flow.as_dict(now) for flow in live],
            "recent": [flow.as_dict(now) for flow in self.recent],
            "totals": {
                "tcp_flows": len(self._tcp),
                "udp_sessions": len(self._udp),
                **stats,
            },
            "dialer": asdict(self.dialer.stats),
            "stack": self.stack.stats(),
        }

    def _new_flow(self, proto: str, src: Address, dst: Address) -> Flow:
        assert self._loop is not None
        flow = Flow(next(self._ids), proto, src, dst, self._loop.time())
        logger.info("open %s #%d %s -> %s", proto, flow.id, _show(src), _show(dst))
        return flow

    def _ended(self, flow: Flow, end: str) -> None:
        assert self._loop is not None
        if flow.end is None:
            flow.end = end
        flow.state = "closed"
        flow.closed = self._loop.time()
        stats = self.stats
        stats.bytes_up += flow.bytes_up
        stats.bytes_down += flow.bytes_down
        self.recent.append(flow)
        logger.info(
            "close %s #%d %s -> %s up=%d down=%d duration=%.3fs end=%s",
            flow.proto, flow.id, _show(flow.src), _show(flow.dst), flow.bytes_up, flow.bytes_down,
            flow.closed - flow.opened, flow.end,
        )  # fmt: skip

    # --- admission (called by the engine, before any state) ---------------------
    def _admit(
        self, full: bool, check: AddressFilter | None, src: Address, dst: Address, proto: str
    ) -> Verdict:
        if not self._accepting:
            return Verdict.REFUSE
        verdict = Verdict.REFUSE if full else Verdict.ACCEPT
        if not full and check is not None:
            verdict = check(src, dst)
        if verdict is not Verdict.ACCEPT:
            name = f"{proto}_refused_{'full' if full else 'filter'}"
            setattr(self.stats, name, getattr(self.stats, name) + 1)
        return verdict

    def _syn_filter(self, src: Address, dst: Address) -> Verdict:
        return self._admit(len(self._tcp) >= self.max_tcp_flows, self.tcp_filter, src, dst, "tcp")

    def _datagram_filter(self, src: Address, dst: Address) -> Verdict:
        if src in self._udp:
            return Verdict.ACCEPT  # a datagram of a live session
        return self._admit(
            len(self._udp) >= self.max_udp_sessions, self.udp_filter, src, dst, "udp"
        )

    # --- TCP ------------------------------------------------------------------------------
    def _tcp_accepted(self, side: _Accepted) -> None:
        """A new inside connection (its reading paused until the dial is done)."""
        transport = side.transport
        # IPv6 socket addresses are 4-tuples (flowinfo, scope id): (ip, port) here
        src: Address = transport.get_extra_info("peername")[:2]
        dst: Address = transport.get_extra_info("sockname")[:2]
        if len(self._tcp) >= self.max_tcp_flows or not self._accepting:
            # SYNs admitted together past the cap (the filter keeps no state)
            self.stats.tcp_refused_full += 1
            transport.abort()
            return
        flow = self._new_flow("tcp", src, dst)
        assert self._loop is not None
        work = self._loop.create_task(self._tcp_work(flow, side))
        self._tcp[flow.id] = (flow, work)
        self.stats.tcp_opened += 1

    async def _tcp_work(self, flow: Flow, side: _Accepted) -> None:
        inside = side.transport
        channel: TcpChannel | None = None
        try:
            try:
                channel = await self.dialer.connect_tcp(*self._target(flow, flow.dst))
            except (OSError, ValueError) as exc:
                self.stats.tcp_dial_failed += 1
                flow.end = f"dial failed: {_reason(exc)}"
                return  # (finally) an RST: the client sees the failure at once
            if side.lost is not None:
                flow.end = f"reset: {_reason(side.lost)}"
                return
            flow.state = "open"
            flow.end = await self._splice(flow, inside, channel)
        except asyncio.CancelledError:
            flow.end = "shutdown"
            raise
        finally:
            if flow.end != "closed":
                inside.abort()
                if channel is not None and channel.transport is not None:
                    channel.transport.abort()
            self._tcp.pop(flow.id, None)
            self.stats.tcp_closed += 1
            self._ended(flow, flow.end or "reset")

    async def _splice(self, flow: Flow, inside: asyncio.Transport, channel: TcpChannel) -> str:
        """Join the two transports until both directions ended; how the flow ended."""
        assert self._loop is not None and channel.transport is not None
        outside = channel.transport
        splice = _Splice(flow, inside, outside, self._loop)
        inside.set_protocol(splice.up)
        # What the outbound connection holds already (a server that speaks
        # first, bytes behind the SOCKS5 reply), its EOF or its end, go first.
        channel.attach(splice.down)
        if splice.ended.done():
            return splice.ended.result()
        for transport in (inside, outside):
            transport.set_write_buffer_limits(high=self.buffer_size)
            if not transport.is_reading():
                transport.resume_reading()
        await splice.first
        if not splice.ended.done():
            try:
                async with asyncio.timeout(self.half_close_timeout):
                    await asyncio.shield(splice.ended)
            except TimeoutError:
                return "half-close timeout"
        end = splice.ended.result()
        if end == "closed":
            inside.close()
            outside.close()
        return end

    def _target(self, flow: Flow, dst: Address) -> Address:
        """Where to dial: ``dst``, or in fake-IP mode the name it stands for."""
        pool = self.fake_ip
        if pool is None or dst[0] not in pool:
            return dst
        name = pool.name_for(dst[0])
        if name is None:
            self.stats.fake_ip_unknown += 1
            raise OSError(errno.EHOSTUNREACH, f"{dst[0]} was never given out by fake-IP DNS")
        flow.name = name
        return name, dst[1]

    # --- UDP ------------------------------------------------------------------------------
    def _udp_in(self, data: bytes, src: Address, dst: Address) -> None:
        assert self._loop is not None
        if self.fake_ip is not None and dst[1] == 53 and self._udp_transport is not None:
            reply = self.fake_ip.answer(data)
            if reply is not None:
                self.stats.dns_answered += 1
                self._udp_transport.sendto(reply, src, source=dst)
                return
        session = self._udp.get(src)
        if session is None:
            flow = self._new_flow("udp", src, dst)
            session = self._udp[src] = _UdpSession(flow, self._loop.time())
            self.stats.udp_opened += 1
            session.task = self._loop.create_task(self._udp_session(src, session))
        session.last_active = self._loop.time()
        flow = session.flow
        assoc = session.assoc
        if assoc is None:
            if len(session.pending) >= self.udp_pending:
                self.stats.udp_dropped_pending += 1
                return
            session.pending.append((data, dst))
        else:
            try:
                assoc.sendto(data, self._target(flow, dst))
            except (OSError, ValueError):
                # the association ended (its task ends the session), an unknown
                # fake IP, or a name a direct association cannot send to
                return
        flow.bytes_up += len(data)
        flow.datagrams_up += 1

    async def _udp_session(self, src: Address, session: _UdpSession) -> None:
        flow = session.flow
        loop = asyncio.get_running_loop()
        try:
            try:
                assoc = session.assoc = await self.dialer.open_udp()
            except (OSError, ValueError) as exc:
                self.stats.udp_dial_failed += 1
                flow.end = f"dial failed: {_reason(exc)}"
                return
            flow.state = "open"
            while session.pending:
                data, dst = session.pending.popleft()
                with contextlib.suppress(OSError, ValueError):  # as in _udp_in: that one only
                    assoc.sendto(data, self._target(flow, dst))
            await self._udp_replies(src, session, assoc, loop)
        except asyncio.CancelledError:
            flow.end = "shutdown"
            raise
        except OSError as exc:  # the association ended (proxy gone...)
            flow.end = f"association ended: {_reason(exc)}"
        finally:
            if session.assoc is not None:
                session.assoc.close()
            self._udp.pop(src, None)
            self.stats.udp_closed += 1
            self._ended(flow, flow.end or "closed")

    async def _udp_replies(
        self,
        src: Address,
        session: _UdpSession,
        assoc: UdpAssociation,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        flow = session.flow
        version = _version(src[0])
        while True:
            deadline = session.last_active + self.udp_timeout
            if loop.time() >= deadline:
                flow.end = "idle"
                return
            try:
                async with asyncio.timeout_at(deadline):
                    data, remote = await assoc.recvfrom()
            except TimeoutError:
                continue  # re-checked against the latest activity
            if _version(remote[0]) != version:
                self.stats.udp_dropped_reply += 1
                continue
            transport = self._udp_transport
            if transport is None:
                return
            session.last_active = loop.time()
            flow.bytes_down += len(data)
            flow.datagrams_down += 1
            # RFC 4787 5: from any remote, sent from that remote's address
            transport.sendto(data, src, source=remote)


def _version(host: str) -> int:
    """4 or 6; 0 for a name."""
    try:
        return ipaddress.ip_address(host).version
    except ValueError:
        return 0


def _show(addr: Address) -> str:
    """``198.18.64.1:80``, ``[2001:2::1]:80``."""
    return f"[{addr[0]}]:{addr[1]}" if ":" in addr[0] else f"{addr[0]}:{addr[1]}"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"{errno.errorcode.get(exc.errno, exc.errno)} {exc.strerror or ''}".strip()
    return str(exc) or type(exc).__name__
