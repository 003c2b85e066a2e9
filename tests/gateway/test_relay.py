"""The relay on memory links and a virtual clock (no namespace, no kernel).

    client stack C (198.18.0.1) --link--> gateway stack G (198.18.0.2, the Relay)
    G's dialer opens flows on an outside stack O (198.18.1.2) --link--> server stack S (198.18.1.1)

The dialer is a ``Dialer`` over stack O, so every relayed byte crosses two
user-space stacks; the servers on S accept any destination (transparent), so
the client can aim at any address of the routed range.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest

import aionetstack
from aionetstack.aio.datagram import TransparentDatagramProtocol
from aionetstack.gateway import FakeIpPool, Relay, Verdict
from aionetstack.gateway.dialers import DialerStats, TcpChannel, UdpAssociation

T = 20.0
DEST = "198.18.0.77"  # any address: S answers for all of them


class StackUdp(UdpAssociation):
    """A full-cone association over a UDP endpoint of the outside stack."""

    def __init__(self, loop: asyncio.AbstractEventLoop, parent: DialerStats) -> None:
        super().__init__(loop, parent, max_datagram=65000, queue_size=64)
        self.transport: Any = None

    def sendto(self, data: bytes | bytearray | memoryview, addr: tuple[str, int]) -> None:
        if self._close_reason is not None:
            raise self._close_reason
        self.transport.sendto(bytes(data), addr)
        self._count("sent")

    def close(self) -> None:
        super().close()
        if self.transport is not None:
            self.transport.close()


class StackDialer:
    """``Dialer`` over an aionetstack ``Stack`` (here: the outside stack O)."""

    def __init__(self, stack: aionetstack.Stack, limit: int = 2**16) -> None:
        self.stack = stack
        self.stats = DialerStats()
        self.limit = limit
        self.assocs: list[StackUdp] = []
        self.names: dict[str, str] = {}  # the proxy's "DNS", for names dialed
        self.dialed: list[str] = []
        self.delay = 0.0  # a slow handshake after the connect (SOCKS5 would take one)

    async def connect_tcp(self, host: str, port: int) -> TcpChannel:
        self.dialed.append(host)
        try:
            _, channel = await self.stack.create_connection(
                lambda: TcpChannel(self.limit), self.names.get(host, host), port
            )
        except OSError:
            self.stats.tcp_failed += 1
            raise
        await asyncio.sleep(self.delay)
        self.stats.tcp_opened += 1
        return channel

    async def open_tcp(
        self, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return (await self.connect_tcp(host, port)).streams()

    async def open_udp(self) -> UdpAssociation:
        assoc = StackUdp(asyncio.get_running_loop(), self.stats)

        class Side(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                assoc._deliver(data, addr)

        assoc.transport, _ = await self.stack.create_datagram_endpoint(Side)
        self.assocs.append(assoc)
        self.stats.udp_opened += 1
        return assoc

    def close(self) -> None:
        for assoc in self.assocs:
            assoc.close()


def body(size: int) -> bytes:
    return random.Random(size).randbytes(size)


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """``GET N`` -> N bytes then close; ``SINK`` -> read to EOF then ``LEN SHA``;
    ``STALL`` -> as SINK after reading nothing for 8 s; ``HOLD`` -> read to EOF,
    never answer. On port 21 it speaks first (a banner and 100 kB), then
    echoes one line and closes."""
    try:
        if writer.get_extra_info("sockname")[1] == 21:  # speaks first, then echoes a line
            writer.write(b"220 ready\n" + body(100000))
            writer.write(b"echo " + await reader.readline())
            return
        line = (await reader.readline()).split()
        if line[:1] == [b"GET"]:
            writer.write(body(int(line[1])))
            await writer.drain()
        elif line in ([b"SINK"], [b"STALL"]):
            if line == [b"STALL"]:
                await asyncio.sleep(8.0)  # reads nothing for 8 s, then sinks
            digest, total = hashlib.sha256(), 0
            while data := await reader.read(65536):
                digest.update(data)
                total += len(data)
            writer.write(f"{total} {digest.hexdigest()}\n".encode())
            await writer.drain()
        elif line == [b"HOLD"]:
            while await reader.read(65536):  # never answers; ends with the peer
                pass
    except ConnectionError:
        pass  # the relay reset the flow (the tests that do it check how)
    finally:
        writer.close()


class UdpEcho(TransparentDatagramProtocol):
    """On S: echo ``dest|data`` back from the destination; ``TWO`` also answers
    from port +1 (another remote, which a full cone lets through)."""

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(  # type: ignore[override]
        self, data: bytes, addr: tuple[str, int], dest: tuple[str, int]
    ) -> None:
        self.transport.sendto(f"{dest[0]}:{dest[1]}|".encode() + data, addr, source=dest)
        if data == b"TWO":
            self.transport.sendto(b"other", addr, source=(dest[0], dest[1] + 1))


class Net:
    client: aionetstack.Stack
    gateway: aionetstack.Stack
    outside: aionetstack.Stack
    server: aionetstack.Stack
    dialer: StackDialer


@pytest.fixture
async def net() -> AsyncIterator[Net]:
    n = Net()
    lc, lg = aionetstack.memory_link_pair()
    lo, ls = aionetstack.memory_link_pair()
    n.client = aionetstack.Stack(lc, address="198.18.0.1/24")
    n.gateway = aionetstack.Stack(lg, address="198.18.0.2/24")
    n.outside = aionetstack.Stack(lo, address="198.18.1.2/24", gateway="198.18.1.1")
    n.server = aionetstack.Stack(ls, address="198.18.1.1/24")
    for stack in (n.client, n.gateway, n.outside, n.server):
        await stack.start()
    n.dialer = StackDialer(n.outside)
    tcp = await n.server.start_server(
        serve,
        transparent=True,
        syn_filter=lambda src, dst: Verdict.REFUSE if dst[1] == 9 else Verdict.ACCEPT,
    )
    udp, _ = await n.server.create_datagram_endpoint(UdpEcho, transparent=True)
    yield n
    udp.close()
    tcp.close()
    for stack in (n.client, n.gateway, n.outside, n.server):
        await stack.close()


async def settle(relay: Relay) -> None:
    async with asyncio.timeout(T):
        while relay.flows:
            await asyncio.sleep(0.05)


@pytest.mark.virtual_time
async def test_tcp_download_upload_and_half_close(
    net: Net, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aionetstack.gateway")
    async with Relay(net.gateway, net.dialer) as relay:
        async with asyncio.timeout(T):
            reader, writer = await net.client.open_connection(DEST, 80)
            writer.write(b"GET 3000000\n")
            assert await reader.read() == body(3000000)
            writer.close()
            # upload, then a half-close: the answer still comes back
            reader, writer = await net.client.open_connection(DEST, 81)
            data = body(1000000)
            writer.write(b"SINK\n" + data)
            writer.write_eof()
            answer = await reader.read()
            assert answer == f"{len(data)} {hashlib.sha256(data).hexdigest()}\n".encode()
            writer.close()
        await settle(relay)
        ended = list(relay.recent)
        assert [f.end for f in ended] == ["closed", "closed"]
        assert ended[0].dst == (DEST, 80) and ended[0].src[0] == "198.18.0.1"
        assert ended[0].bytes_down == 3000000 and ended[0].bytes_up == len(b"GET 3000000\n")
        assert ended[1].bytes_up == len(data) + 5
        assert relay.stats.tcp_opened == relay.stats.tcp_closed == 2
        snap = relay.snapshot()
        assert snap["totals"]["tcp_flows"] == 0
        assert snap["totals"]["bytes_down"] == 3000000 + len(answer)
        assert snap["recent"][0]["dst"] == f"{DEST}:80"
    lines = [r.getMessage() for r in caplog.records if r.name == "aionetstack.gateway"]
    assert sum(line.startswith("open tcp") for line in lines) == 2
    closes = [line for line in lines if line.startswith("close tcp")]
    assert len(closes) == 2 and "down=3000000" in closes[0] and "end=closed" in closes[0]


@pytest.mark.virtual_time
async def test_a_server_that_speaks_first(net: Net) -> None:
    """Its first bytes reach the dialer's ``TcpChannel`` before the relay
    takes the connection over (the dial's slow end): ``attach()`` hands them
    on first, in order; past the channel's limit (64 KiB here) it had
    paused reading, and the splice resumed it."""
    net.dialer.delay = 1.0
    async with Relay(net.gateway, net.dialer) as relay:
        async with asyncio.timeout(T):
            reader, writer = await net.client.open_connection(DEST, 21)
            assert await reader.readline() == b"220 ready\n"
            assert await reader.readexactly(100000) == body(100000)
            writer.write(b"hello\n")
            assert await reader.read() == b"echo hello\n"
            writer.close()
        await settle(relay)
        assert relay.recent[-1].end == "closed"
        assert relay.recent[-1].bytes_down == len(b"220 ready\n") + 100000 + 11


@pytest.mark.virtual_time
async def test_backpressure_bounds_the_relay(net: Net) -> None:
    """A client that does not read: the server's stream stops, nothing grows."""
    async with Relay(net.gateway, net.dialer, buffer_size=16384) as relay:
        async with asyncio.timeout(T):
            reader, writer = await net.client.open_connection(DEST, 80)
            writer.write(b"GET 50000000\n")
            await asyncio.sleep(5.0)
            flow = relay.flows[0]
            stalled = flow.bytes_down
            await asyncio.sleep(5.0)
            assert flow.bytes_down == stalled  # stopped, not growing
            # what sits in the client and the gateway: the client's receive
            # buffer, the gateway's send buffer and the last chunk the outbound
            # transport delivered before it was paused (the outside stack's
            # whole receive buffer at most here; 256 KiB from a kernel socket's
            # asyncio transport): not 50 MB
            config = net.gateway.config
            chunk = net.outside.config.recv_buffer
            assert stalled < config.recv_buffer + config.send_buffer + chunk + 1_000_000
            # the gateway's own queue towards the client: the engine's send
            # buffer, the transport's high-water mark (buffer_size), one chunk
            assert net.gateway.engine is not None
            queued = max(c.send_queued for c in net.gateway.engine.connections())
            assert queued <= config.send_buffer + 16384 + chunk
            got = 0
            while chunk := await reader.read(1 << 20):
                got += len(chunk)
            assert got == 50000000
            writer.close()
        await settle(relay)


@pytest.mark.virtual_time
async def test_dial_failure_resets_the_client_and_caps_refuse(net: Net) -> None:
    async with Relay(net.gateway, net.dialer, max_tcp_flows=2) as relay:
        async with asyncio.timeout(T):
            # the server refuses port 9: the dial fails, the client is reset
            reader, writer = await net.client.open_connection(DEST, 9)
            with pytest.raises(ConnectionResetError):
                await reader.read()
            writer.close()
            await settle(relay)
            assert relay.stats.tcp_dial_failed == 1
            assert relay.recent[-1].end is not None
            assert relay.recent[-1].end.startswith("dial failed: ECONNREFUSED")
            held = [await net.client.open_connection(DEST, 80) for _ in range(2)]
            for _, w in held:
                w.write(b"HOLD\n")
            while len(relay.flows) < 2:
                await asyncio.sleep(0.01)
            with pytest.raises(ConnectionRefusedError):
                await net.client.open_connection(DEST, 80)
            assert relay.stats.tcp_refused_full == 1
            assert net.gateway.stats()["TcpTransparentRefused"] == 1
            for _, w in held:
                w.transport.abort()  # clients vanish: their flows go
            await settle(relay)
        ends = [f.end or "" for f in list(relay.recent)[-2:]]
        assert all(end.startswith("reset: ECONNRESET") for end in ends), ends


@pytest.mark.virtual_time
async def test_udp_full_cone_idle_timeout_and_cap(net: Net) -> None:
    class Client(asyncio.DatagramProtocol):
        def __init__(self) -> None:
            self.got: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()
            self.errors: list[Exception] = []

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            self.got.put_nowait((data, addr))

        def error_received(self, exc: Exception) -> None:
            self.errors.append(exc)

    async with Relay(net.gateway, net.dialer, udp_timeout=5.0, max_udp_sessions=1) as relay:
        async with asyncio.timeout(T):
            t, p = await net.client.create_datagram_endpoint(
                Client, local_addr=("198.18.0.1", 5000)
            )
            t.sendto(b"q1", (DEST, 53))
            t.sendto(b"q2", ("198.18.0.88", 53))  # another destination: the same session
            assert await p.got.get() == (f"{DEST}:53|q1".encode(), (DEST, 53))
            assert await p.got.get() == (b"198.18.0.88:53|q2", ("198.18.0.88", 53))
            t.sendto(b"TWO", (DEST, 7))
            replies = {await p.got.get(), await p.got.get()}
            assert replies == {(f"{DEST}:7|TWO".encode(), (DEST, 7)), (b"other", (DEST, 8))}
            assert len(relay.flows) == 1 and len(net.dialer.assocs) == 1  # one mapping
            flow = relay.flows[0]
            assert flow.datagrams_up == 3 and flow.datagrams_down == 4
            # a second source is over the cap: ICMP port unreachable
            t2, p2 = await net.client.create_datagram_endpoint(
                Client, remote_addr=("198.18.0.99", 53)
            )
            t2.sendto(b"x")
            while not p2.errors:
                await asyncio.sleep(0.05)
            assert isinstance(p2.errors[0], ConnectionRefusedError)
            assert relay.stats.udp_refused_full == 1
            await asyncio.sleep(6.0)
            assert relay.flows == [] and relay.recent[-1].end == "idle"
            assert net.dialer.assocs[0].is_closing()
            t.close()
            t2.close()


@pytest.mark.virtual_time
async def test_close_with_grace_drains_then_aborts(net: Net) -> None:
    relay = await Relay(net.gateway, net.dialer).start()
    async with asyncio.timeout(T):
        reader, writer = await net.client.open_connection(DEST, 80)
        writer.write(b"HOLD\n")
        while not relay.flows:
            await asyncio.sleep(0.01)
        closing = asyncio.create_task(relay.close(grace=2.0))
        await asyncio.sleep(0.5)
        with pytest.raises(ConnectionRefusedError):  # no new flows while draining
            await net.client.open_connection(DEST, 81)
        await closing
        with pytest.raises(ConnectionResetError):
            await reader.read()
    assert relay.flows == [] and relay.recent[-1].end == "shutdown"


async def test_refusal_filters() -> None:
    la, lb = aionetstack.memory_link_pair()
    async with (
        aionetstack.Stack(la, address="198.18.0.1/24") as client,
        aionetstack.Stack(lb, address="198.18.0.2/24") as gw,
    ):
        relay = Relay(
            gw,
            StackDialer(gw),
            tcp_filter=lambda src, dst: Verdict.REFUSE if dst[1] == 25 else Verdict.ACCEPT,
        )
        async with relay:
            with pytest.raises(ConnectionRefusedError):
                await asyncio.wait_for(client.open_connection(DEST, 25), T)
        assert relay.stats.tcp_refused_filter == 1 and relay.stats.tcp_opened == 0
    with pytest.raises(ValueError):
        Relay(gw, StackDialer(gw), max_tcp_flows=0)


@pytest.mark.virtual_time
async def test_fake_ip_answers_dns_and_dials_by_name(net: Net) -> None:
    from scapy.layers.dns import DNS, DNSQR

    class Client(asyncio.DatagramProtocol):
        def __init__(self) -> None:
            self.got: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            self.got.put_nowait((data, addr))

    net.dialer.names["web.test"] = DEST
    pool = FakeIpPool("198.18.0.128/25")
    async with Relay(net.gateway, net.dialer, fake_ip=pool) as relay:
        async with asyncio.timeout(T):
            t, p = await net.client.create_datagram_endpoint(
                Client, remote_addr=("198.18.0.53", 53)
            )
            t.sendto(bytes(DNS(id=7, rd=1, qd=DNSQR(qname="web.test"))))
            reply, source = await p.got.get()
            assert source == ("198.18.0.53", 53)
            fake = DNS(reply).an[0].rdata
            assert fake == "198.18.0.129" and relay.flows == []  # answered, no session
            reader, writer = await net.client.open_connection(fake, 80)
            writer.write(b"GET 1000\n")
            assert await reader.read() == body(1000)
            writer.close()
            # a pool address nobody was given: refused at once
            reader, writer = await net.client.open_connection("198.18.0.200", 80)
            with pytest.raises(ConnectionResetError):
                await reader.read()
            writer.close()
            t.close()
        await settle(relay)
    assert net.dialer.dialed == ["web.test"]
    assert relay.recent[0].name == "web.test" and relay.recent[0].end == "closed"
    assert relay.stats.dns_answered == 1 and relay.stats.fake_ip_unknown == 1


@pytest.mark.virtual_time
async def test_close_does_not_wait_for_udp_sessions(net: Net) -> None:
    relay = await Relay(net.gateway, net.dialer, udp_timeout=300.0).start()
    async with asyncio.timeout(T):
        t, _ = await net.client.create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=(DEST, 53)
        )
        t.sendto(b"q")
        while not relay.flows:
            await asyncio.sleep(0.01)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await relay.close(grace=30.0)
        assert loop.time() - started < 1.0  # the virtual clock: no grace spent on UDP
        t.close()
    assert relay.flows == [] and relay.recent[-1].end == "shutdown"


@pytest.mark.virtual_time
async def test_udp_reply_of_the_other_family_is_dropped(net: Net) -> None:
    """A reply the inside client cannot be sent from (an IPv6 remote to an
    IPv4 client, or a name) is counted and dropped; the session goes on."""

    class Client(asyncio.DatagramProtocol):
        def __init__(self) -> None:
            self.got: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            self.got.put_nowait((data, addr))

    async with Relay(net.gateway, net.dialer, udp_timeout=5.0) as relay:
        async with asyncio.timeout(T):
            t, p = await net.client.create_datagram_endpoint(
                Client, local_addr=("198.18.0.1", 5000)
            )
            t.sendto(b"q1", (DEST, 53))
            assert await p.got.get() == (f"{DEST}:53|q1".encode(), (DEST, 53))
            assoc = net.dialer.assocs[0]
            assoc._deliver(b"v6", ("2001:2::9", 53))
            assoc._deliver(b"name", ("example.org", 53))
            assoc._deliver(b"v4", ("198.18.0.66", 53))
            assert await p.got.get() == (b"v4", ("198.18.0.66", 53))
            assert relay.stats.udp_dropped_reply == 2
            assert relay.flows[0].datagrams_down == 2
            t.close()


@pytest.mark.virtual_time
async def test_half_close_timeout_ends_a_flow_left_half_open(net: Net) -> None:
    """The server finished (its EOF passed on); the client never does: the
    flow ends ``half_close_timeout`` later, not never."""
    async with Relay(net.gateway, net.dialer, half_close_timeout=3.0) as relay:
        async with asyncio.timeout(T):
            reader, writer = await net.client.open_connection(DEST, 80)
            writer.write(b"GET 10\n")
            assert await reader.read() == body(10)  # to the server's EOF
            await asyncio.sleep(1.0)
            assert len(relay.flows) == 1  # half-open: the client may still send
            await asyncio.sleep(3.0)
            assert relay.flows == [] and relay.recent[-1].end == "half-close timeout"
            writer.close()


@pytest.mark.virtual_time
async def test_upload_backpressure_bounds_the_relay(net: Net) -> None:
    """A server that does not read: the client's upload stops, nothing grows,
    and every byte arrives once the server reads."""
    data = random.Random(7).randbytes(30_000_000)
    async with Relay(net.gateway, net.dialer, buffer_size=16384) as relay:
        async with asyncio.timeout(T):
            reader, writer = await net.client.open_connection(DEST, 80)
            writer.write(b"STALL\n" + data)  # the client stack queues it all
            await asyncio.sleep(4.0)
            flow = relay.flows[0]
            stalled = flow.bytes_up
            await asyncio.sleep(2.0)
            assert flow.bytes_up == stalled  # stopped, not growing
            # the server's receive buffer, the outside stack's send buffer, the
            # relay's high-water mark and one delivered chunk: not 30 MB
            chunk = net.gateway.config.recv_buffer
            out = net.outside.config
            assert stalled < out.recv_buffer + out.send_buffer + 16384 + chunk + 1_000_000
            writer.write_eof()
            answer = await reader.readline()
            assert answer == f"{len(data)} {hashlib.sha256(data).hexdigest()}\n".encode()
            writer.close()
        await settle(relay)
