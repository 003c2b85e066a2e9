"""Two stacks on a memory link: connect, servers, streams, UDP, ICMP, impairments."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import random
from pathlib import Path
from typing import Any

import pytest
from aio_support import A_ADDR, B_ADDR, make_stacks, tls_pair

import aionetstack
from aionetstack.core.config import StackConfig

T = 10.0


async def echo_handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.write_eof()
        await writer.drain()
    finally:
        writer.close()


async def test_streams_echo(stacks: Any) -> None:
    a, b = stacks
    server = await b.start_server(echo_handler, B_ADDR, 7)
    assert server.sockets[0].getsockname() == (B_ADDR, 7)
    async with server:
        async with asyncio.timeout(T):
            reader, writer = await a.open_connection(B_ADDR, 7)
            assert isinstance(reader, asyncio.StreamReader)
            assert isinstance(writer, asyncio.StreamWriter)
            assert writer.get_extra_info("peername") == (B_ADDR, 7)
            sockname = writer.get_extra_info("sockname")
            assert sockname[0] == A_ADDR and sockname[1] >= 32768
            writer.write(b"hello, world\n")
            assert await reader.readline() == b"hello, world\n"
            blob = random.Random(1).randbytes(300_000)
            writer.write(blob)
            await writer.drain()
            writer.write_eof()
            assert await reader.read() == blob
            writer.close()
            await writer.wait_closed()


async def test_server_object(stacks: Any) -> None:
    a, b = stacks
    server = await b.start_server(echo_handler, port=0, start_serving=False)
    assert isinstance(server, asyncio.AbstractServer)
    assert server.get_loop() is asyncio.get_running_loop()
    port = server.sockets[0].getsockname()[1]
    assert port == server.port and port != 0
    assert not server.is_serving()
    connect = asyncio.ensure_future(a.open_connection(B_ADDR, port))
    await asyncio.sleep(0.02)  # handshake completes in the accept queue
    await server.start_serving()
    assert server.is_serving()
    async with asyncio.timeout(T):
        reader, writer = await connect
        writer.write(b"ping")
        assert await reader.readexactly(4) == b"ping"
    task = asyncio.ensure_future(server.serve_forever())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not server.is_serving()
    await server.wait_closed()
    # the listener is gone: a new connect is refused
    with pytest.raises(ConnectionRefusedError):
        async with asyncio.timeout(T):
            await a.open_connection(B_ADDR, port)
    writer.close()


async def test_connect_refused_unreachable_and_cancel(stacks: Any) -> None:
    a, _b = stacks
    with pytest.raises(ConnectionRefusedError):
        async with asyncio.timeout(T):
            await a.open_connection(B_ADDR, 9)
    with pytest.raises(OSError) as info:
        await a.open_connection("203.0.113.5", 80)
    assert info.value.errno == errno.ENETUNREACH


async def test_connect_timeout_and_cancel_abort() -> None:
    config = StackConfig(syn_retries=1, rto_initial=0.05)
    a, b = await make_stacks(config, loss=1.0, seed=1)  # a black hole
    try:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(T):
                await a.open_connection(B_ADDR, 80)
        task = asyncio.ensure_future(a.open_connection(B_ADDR, 80))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # the half-open connection was aborted and left the stack
        await asyncio.sleep(0.01)
        assert not any(type(o).__name__ == "_ConnectWaiter" for o in a._driver.owners.values())
        assert a.engine.connection_count == 0
    finally:
        await a.close()
        await b.close()


async def test_aiohttp_app_served_through_the_stack(stacks: Any) -> None:
    web = pytest.importorskip("aiohttp.web")
    a, b = stacks

    async def hello(request: Any) -> Any:
        return web.Response(text=f"hello {request.match_info['name']}")

    async def upload(request: Any) -> Any:
        body = await request.read()
        return web.Response(text=hashlib.sha256(body).hexdigest())

    app = web.Application()
    app.router.add_get("/hello/{name}", hello)
    app.router.add_post("/upload", upload)
    runner = web.AppRunner(app)
    await runner.setup()
    server = await b.create_server(runner.server, B_ADDR, 8080)
    try:
        async with asyncio.timeout(T):
            reader, writer = await a.open_connection(B_ADDR, 8080)
            writer.write(b"GET /hello/stack HTTP/1.1\r\nHost: x\r\n\r\n")
            status = await reader.readline()
            assert status.startswith(b"HTTP/1.1 200"), status
            headers = {}
            while (line := await reader.readline()) != b"\r\n":
                k, _, v = line.decode().partition(":")
                headers[k.strip().lower()] = v.strip()
            body = await reader.readexactly(int(headers["content-length"]))
            assert body == b"hello stack"
            # keep-alive: a second request with a body on the same connection
            blob = random.Random(2).randbytes(200_000)
            writer.write(
                b"POST /upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                + f"Content-Length: {len(blob)}\r\n\r\n".encode()
                + blob
            )
            await writer.drain()
            rest = await reader.read()
            assert rest.startswith(b"HTTP/1.1 200")
            assert rest.endswith(hashlib.sha256(blob).hexdigest().encode())
            writer.close()
    finally:
        server.close()
        await runner.cleanup()


class UdpRecorder(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.queue.put_nowait(("data", data, addr))

    def error_received(self, exc: Exception) -> None:
        self.queue.put_nowait(("error", exc))

    async def get(self) -> Any:
        async with asyncio.timeout(T):
            return await self.queue.get()


async def test_udp_connected_and_unconnected(stacks: Any) -> None:
    a, b = stacks
    st, sp = await b.create_datagram_endpoint(UdpRecorder, local_addr=(B_ADDR, 5353))
    assert st.get_extra_info("sockname") == (B_ADDR, 5353)
    assert st.get_extra_info("peername") is None
    ct, cp = await a.create_datagram_endpoint(UdpRecorder, remote_addr=(B_ADDR, 5353))
    assert ct.get_extra_info("peername") == (B_ADDR, 5353)
    csock = ct.get_extra_info("sockname")
    assert csock[0] == A_ADDR
    ct.sendto(b"one")
    kind, data, addr = await sp.get()
    assert (kind, data, addr) == ("data", b"one", csock)
    st.sendto(b"two", addr)
    assert await cp.get() == ("data", b"two", (B_ADDR, 5353))
    with pytest.raises(ValueError):
        ct.sendto(b"x", (B_ADDR, 1))
    with pytest.raises(TypeError):
        ct.sendto("text")
    # ICMP port unreachable reaches a connected endpoint as error_received
    ct2, cp2 = await a.create_datagram_endpoint(UdpRecorder, remote_addr=(B_ADDR, 9999))
    ct2.sendto(b"nobody home")
    kind, exc = await cp2.get()
    assert kind == "error" and isinstance(exc, ConnectionRefusedError)
    # ... and is ignored on an unconnected one
    ut, up = await a.create_datagram_endpoint(UdpRecorder, local_addr=(A_ADDR, 0))
    ut.sendto(b"nobody home", (B_ADDR, 9999))
    ut.sendto(b"hi", (B_ADDR, 5353))
    assert (await sp.get())[1] == b"hi"
    await asyncio.sleep(0.02)
    assert up.queue.empty()
    # connecting to a broadcast address needs allow_broadcast (Linux ip4_datagram_connect)
    with pytest.raises(PermissionError):
        await a.create_datagram_endpoint(UdpRecorder, remote_addr=("198.18.0.255", 5353))
    bt, _bp = await a.create_datagram_endpoint(
        UdpRecorder, remote_addr=("198.18.0.255", 5354), allow_broadcast=True
    )
    # broadcasts reach wildcard-bound endpoints (not those bound to a unicast address)
    wt, wp = await b.create_datagram_endpoint(UdpRecorder, local_addr=("0.0.0.0", 5354))
    assert wt.get_extra_info("sockname") == ("0.0.0.0", 5354)
    bt.sendto(b"to all")
    kind, data, _addr = await wp.get()
    assert (kind, data) == ("data", b"to all")
    for t in (st, ct, ct2, ut, bt, wt):
        t.close()


async def test_ping(stacks: Any) -> None:
    a, b = stacks
    rtt = await a.ping(B_ADDR)
    assert 0 <= rtt < T
    rtt = await b.ping(A_ADDR, timeout=2.0)
    assert rtt < 2.0
    assert (a.stats()["IcmpInEchos"], a.stats()["IcmpOutEchoReps"]) == (1, 1)
    with pytest.raises(TimeoutError):
        await a.ping("198.18.0.77", timeout=0.05)
    stats = a.stats()
    assert isinstance(stats, dict) and stats


async def test_ping_over_delay() -> None:
    a, b = await make_stacks(delay=0.01, seed=1)
    try:
        rtt = await a.ping(B_ADDR)
        assert rtt >= 0.019
    finally:
        await a.close()
        await b.close()


async def transfer(a: Any, b: Any, size: int, seed: int = 0) -> None:
    blob = random.Random(seed).randbytes(size)
    got: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read()
        got.set_result(data)
        writer.close()

    server = await b.start_server(sink, B_ADDR, 0)
    async with asyncio.timeout(60):
        _reader, writer = await a.open_connection(B_ADDR, server.port)
        writer.write(blob)
        await writer.drain()
        writer.write_eof()
        data = await got
    writer.close()
    server.close()
    assert len(data) == size
    assert hashlib.sha256(data).digest() == hashlib.sha256(blob).digest()


@pytest.mark.parametrize(
    "knobs",
    [
        {"loss": 0.03},
        {"reorder": 0.1, "delay": 0.002},
        {"duplicate": 0.05},
        {"corrupt": 0.02},
        {"loss": 0.02, "reorder": 0.05, "duplicate": 0.02, "corrupt": 0.01, "delay": 0.001},
    ],
    ids=["loss", "reorder", "duplicate", "corrupt", "all"],
)
async def test_impairments_keep_transfers_intact(knobs: dict[str, float]) -> None:
    config = StackConfig(rto_min=0.02, rto_initial=0.1)
    a, b = await make_stacks(config, seed=42, **knobs)
    try:
        await transfer(a, b, 300_000, seed=3)
        # the impairments really happened
        egress = [a.link.stats()["egress"], b.link.stats()["egress"]]
        for knob, counter in (
            ("loss", "dropped"),
            ("reorder", "reordered"),
            ("duplicate", "duplicated"),
            ("corrupt", "corrupted"),
        ):
            if knobs.get(knob):
                assert sum(e[counter] for e in egress) > 0, counter
        both = [a.stats(), b.stats()]
        if knobs.get("corrupt"):
            assert sum(st["DropIpBadChecksum"] + st["DropTcpBadChecksum"] for st in both) > 0
        if knobs.get("loss"):
            assert both[0]["TcpRetransSegs"] > 0
    finally:
        await a.close()
        await b.close()


async def test_capture_is_read_by_scapy(tmp_path: Path) -> None:
    scapy_all = pytest.importorskip("scapy.all")
    path = tmp_path / "trace.pcap"
    la, lb = aionetstack.memory_link_pair()
    cap = aionetstack.capture(la, path)
    a = aionetstack.Stack(cap, address=f"{A_ADDR}/24")
    b = aionetstack.Stack(lb, address=f"{B_ADDR}/24")
    async with a, b:
        await transfer(a, b, 50_000)
        await asyncio.sleep(0.05)
    count = cap.packets_written
    assert count > 10
    packets = scapy_all.rdpcap(str(path))
    assert len(packets) == count
    tcp = [p for p in packets if p.haslayer(scapy_all.TCP)]
    assert tcp and tcp[0][scapy_all.TCP].flags == "S"
    assert {p[scapy_all.IP].src for p in tcp} == {A_ADDR, B_ADDR}


def test_echo_on_uvloop() -> None:
    uvloop = pytest.importorskip("uvloop")

    async def main() -> None:
        a, b = await make_stacks()
        try:
            server = await b.start_server(echo_handler, B_ADDR, 7)
            reader, writer = await a.open_connection(B_ADDR, 7)
            writer.write(b"over uvloop")
            writer.write_eof()
            assert await reader.read() == b"over uvloop"
            writer.close()
            server.close()
            await transfer(a, b, 200_000)
        finally:
            await a.close()
            await b.close()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(asyncio.wait_for(main(), T))


async def test_many_concurrent_connections(stacks: Any) -> None:
    a, b = stacks
    n = 2000
    served = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal served
        data = await reader.readexactly(8)
        writer.write(data[::-1])
        await writer.drain()
        served += 1
        writer.close()

    server = await b.start_server(handler, B_ADDR, 80, backlog=n)

    async def client(i: int) -> bool:
        reader, writer = await a.open_connection(B_ADDR, 80)
        msg = i.to_bytes(8, "big")
        writer.write(msg)
        reply = await reader.readexactly(8)
        writer.close()
        return reply == msg[::-1]

    async with asyncio.timeout(60):
        results = await asyncio.gather(*(client(i) for i in range(n)))
    assert all(results) and len(results) == n
    assert served == n
    server.close()


@pytest.mark.virtual_time
async def test_addr_in_use_local_addr_and_transparent(stacks: Any) -> None:
    a, b = stacks
    server = await b.start_server(echo_handler, B_ADDR, 22)
    with pytest.raises(OSError) as info:
        await b.start_server(echo_handler, B_ADDR, 22)
    assert info.value.errno == errno.EADDRINUSE
    server.close()
    # local_addr picks the source port
    server = await b.start_server(echo_handler, B_ADDR, 22)
    reader, writer = await a.open_connection(B_ADDR, 22, local_addr=(A_ADDR, 40000))
    assert writer.get_extra_info("sockname") == (A_ADDR, 40000)
    writer.close()
    server.close()
    # a transparent server accepts connections to any address and port (tun2socks)
    seen: list[tuple[str, int]] = []

    async def gateway(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(writer.get_extra_info("sockname"))
        writer.write(await reader.readexactly(3))
        writer.close()

    tserver = await b.start_server(gateway, transparent=True)
    async with asyncio.timeout(T):
        reader, writer = await a.open_connection("198.18.0.99", 1234)
        writer.write(b"abc")
        assert await reader.readexactly(3) == b"abc"
    assert seen == [("198.18.0.99", 1234)]
    writer.close()
    tserver.close()


def test_public_exports() -> None:
    assert aionetstack.Stack is not None
    assert callable(aionetstack.memory_link_pair)
    assert callable(aionetstack.impair)
    assert callable(aionetstack.capture)


async def test_raw_peer_handshake_against_a_stack() -> None:
    """A memory end that no Stack owns speaks raw packets to a stack."""
    from aionetstack.wire.addr import ip_to_int
    from aionetstack.wire.ipv4 import parse_ipv4
    from aionetstack.wire.tcp import ACK, RST, SYN, build_ipv4_tcp, build_tcp_options, parse_tcp

    raw, lb = aionetstack.memory_link_pair()
    stack = aionetstack.Stack(lb, address=f"{B_ADDR}/24")
    async with stack:
        server = await stack.start_server(echo_handler, B_ADDR, 80)
        src, dst = ip_to_int(A_ADDR), ip_to_int(B_ADDR)
        syn = build_ipv4_tcp(
            src, dst, 1, 64, 40000, 80, 1000, 0, SYN, 65535, build_tcp_options(mss=1460), b""
        )
        raw.send(syn)
        async with asyncio.timeout(T):
            _ip, payload = parse_ipv4(await raw.recv())
        synack = parse_tcp(payload, dst, src)
        assert synack.flags == SYN | ACK and synack.ack == 1001
        assert synack.src_port == 80 and synack.dst_port == 40000
        # a SYN to a closed port gets RST
        raw.send(build_ipv4_tcp(src, dst, 2, 64, 40001, 81, 5, 0, SYN, 65535, b"", b""))
        async with asyncio.timeout(T):
            _ip, payload = parse_ipv4(await raw.recv())
        assert parse_tcp(payload).flags & RST
        server.close()


@pytest.fixture(scope="module")
def tls_contexts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    return tls_pair(tmp_path_factory.mktemp("tls"), B_ADDR, f"IP:{B_ADDR}")


async def test_tls_over_the_stack(stacks: Any, tls_contexts: tuple[Any, Any]) -> None:
    a, b = stacks
    server_ctx, client_ctx = tls_contexts
    server = await b.start_server(echo_handler, B_ADDR, 443, ssl=server_ctx)
    async with asyncio.timeout(T):
        # ssl= on open_connection, like asyncio's (asyncio's own SSLProtocol on top)
        reader, writer = await a.open_connection(B_ADDR, 443, ssl=client_ctx)
        assert writer.get_extra_info("ssl_object").version().startswith("TLS")
        blob = random.Random(5).randbytes(100_000)
        writer.write(blob)
        await writer.drain()
        assert await reader.readexactly(len(blob)) == blob
        writer.close()

        # STARTTLS: a plain connection upgraded with StreamWriter.start_tls
        async def starttls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            assert await reader.readline() == b"STARTTLS\n"
            writer.write(b"GO AHEAD\n")  # like SMTP's 220: the client waits for it
            await writer.start_tls(server_ctx)
            writer.write((await reader.readline()).upper())
            await writer.drain()
            writer.close()

        plain = await b.start_server(starttls, B_ADDR, 25)
        reader, writer = await a.open_connection(B_ADDR, 25)
        writer.write(b"STARTTLS\n")
        assert await reader.readline() == b"GO AHEAD\n"
        await writer.start_tls(client_ctx, server_hostname=B_ADDR)
        writer.write(b"secret\n")
        assert await reader.readline() == b"SECRET\n"
        assert writer.get_extra_info("ssl_object") is not None
        writer.close()
    server.close()
    plain.close()
    with pytest.raises(ValueError):
        await a.open_connection(B_ADDR, 443, server_hostname="x")
