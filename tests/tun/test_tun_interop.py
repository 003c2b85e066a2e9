"""Interop with the Linux kernel's TCP/IP across a TUN device.

The kernel (198.18.0.1) is the peer; the aionetstack Stack (198.18.0.2) is
driven only through the public API. Kernel clients are real tools (curl,
ping) or Python subprocesses/threads using kernel sockets; kernel servers are
threads from ``tun_helpers``. Every transfer is checked by sha256.
All of it runs in the tier's private network namespace (see conftest).
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tun_helpers import (
    CONCURRENT_CLIENT,
    KERNEL_IP,
    STACK_ADDRESS,
    STACK_IP,
    TUN_NAME,
    KernelServer,
    MiB,
    Nft,
    both_ways,
    closed_port,
    echo,
    need,
    random_payload,
    reset_after_first_byte,
    run_tool,
    sha,
    sink,
    sink_reply_digest,
    source,
)

import aionetstack
from aionetstack.cli import http_payload, serve_echo, serve_http
from aionetstack.link.tun import TunLink

GUARD = 120.0  # seconds: a hang fails the test instead of blocking the run (not a speed check)


@pytest.fixture
async def stack(tun: TunLink) -> AsyncIterator[aionetstack.Stack]:
    async with aionetstack.Stack(tun, address=STACK_ADDRESS) as s:
        yield s


async def in_thread(func: object, *args: object) -> object:
    return await asyncio.wait_for(asyncio.to_thread(func, *args), GUARD)  # type: ignore[arg-type]


# --- kernel client -> stack server ----------------------------------------------


@pytest.mark.parametrize("tun", [1500, 65535], indirect=True, ids=["mtu1500", "mtu65535"])
async def test_curl_downloads_32mib_from_stack(stack: aionetstack.Stack) -> None:
    need("curl")
    size = 32 * MiB
    async with await stack.start_server(serve_http, STACK_IP, 8080):
        rc, out, err = await run_tool(
            "curl", "-sS", "--max-time", "100", f"http://{STACK_IP}:8080/bytes/{size}"
        )
    assert rc == 0, err.decode()
    assert len(out) == size
    assert sha(out) == sha(http_payload(size))


async def test_kernel_ping_gets_replies(stack: aionetstack.Stack) -> None:
    need("ping")
    rc, out, err = await run_tool("ping", "-n", "-c", "3", "-i", "0.2", "-W", "5", STACK_IP)
    assert rc == 0, (out + err).decode()
    assert b"3 received" in out


def _sequential_echo_clients(count: int) -> int:
    ok = 0
    for i in range(count):
        with socket.create_connection((STACK_IP, 7007), timeout=30) as s:
            msg = f"message {i} ".encode() * (1 + i * 37 % 500)
            s.sendall(msg)
            s.shutdown(socket.SHUT_WR)
            got = bytearray()
            while data := s.recv(65536):
                got += data
            ok += bytes(got) == msg
    return ok


async def test_many_sequential_kernel_connections(stack: aionetstack.Stack) -> None:
    async with await stack.start_server(serve_echo, STACK_IP, 7007):
        ok = await in_thread(_sequential_echo_clients, 100)
    assert ok == 100


async def test_200_concurrent_kernel_connections(stack: aionetstack.Stack) -> None:
    async with await stack.start_server(serve_echo, STACK_IP, 7007, backlog=512):
        rc, out, err = await run_tool(
            sys.executable, "-c", CONCURRENT_CLIENT, STACK_IP, "7007", "200"
        )
    assert rc == 0, (out + err).decode()
    assert out.split()[0] == b"200"


async def test_aiohttp_app_on_stack(stack: aionetstack.Stack) -> None:
    """An unmodified aiohttp.web application, served by stack.create_server, fetched by curl."""
    need("curl")
    from aiohttp import web

    big = random_payload(3 * MiB)

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text=f"hello {request.match_info['name']}")

    async def blob(request: web.Request) -> web.Response:
        return web.Response(body=big)

    app = web.Application()
    app.router.add_get("/hello/{name}", hello)
    app.router.add_get("/blob", blob)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        assert runner.server is not None
        async with await stack.create_server(runner.server, STACK_IP, 8081):
            rc, out, err = await run_tool("curl", "-sS", f"http://{STACK_IP}:8081/hello/kernel")
            assert rc == 0, err.decode()
            assert out == b"hello kernel"
            rc, out, err = await run_tool("curl", "-sS", f"http://{STACK_IP}:8081/blob")
            assert rc == 0, err.decode()
            assert sha(out) == sha(big)
    finally:
        await runner.cleanup()


# --- stack client -> kernel server -------------------------------------------------


@pytest.mark.parametrize("tun", [1500, 65535], indirect=True, ids=["mtu1500", "mtu65535"])
async def test_download_32mib_from_kernel(stack: aionetstack.Stack) -> None:
    data = random_payload(32 * MiB)
    with KernelServer(source(data)) as server:
        reader, writer = await stack.open_connection(KERNEL_IP, server.port)
        got = await asyncio.wait_for(reader.read(), GUARD)
        writer.close()
        assert await in_thread(server.result) == len(data)
    assert len(got) == len(data)
    assert sha(got) == sha(data)


@pytest.mark.parametrize("tun", [1500, 65535], indirect=True, ids=["mtu1500", "mtu65535"])
async def test_upload_32mib_to_kernel_then_write_eof(stack: aionetstack.Stack) -> None:
    """write() 32 MiB and write_eof() at once: every byte arrives, then the digest comes back."""
    data = random_payload(32 * MiB)
    with KernelServer(sink_reply_digest) as server:
        reader, writer = await stack.open_connection(KERNEL_IP, server.port)
        writer.write(data)
        writer.write_eof()
        reply = await asyncio.wait_for(reader.read(), GUARD)
        writer.close()
        assert await in_thread(server.result) == (len(data), sha(data))
    assert reply.decode() == sha(data)


async def test_close_right_after_large_write_loses_nothing(stack: aionetstack.Stack) -> None:
    data = random_payload(8 * MiB)
    with KernelServer(sink) as server:
        _, writer = await stack.open_connection(KERNEL_IP, server.port)
        writer.write(data)
        writer.close()  # flush, then FIN: nothing may be lost
        await asyncio.wait_for(writer.wait_closed(), GUARD)
        assert await in_thread(server.result) == (len(data), sha(data))


async def test_both_directions_at_once(stack: aionetstack.Stack) -> None:
    up = random_payload(32 * MiB)
    down = random_payload(32 * MiB)
    with KernelServer(both_ways(down)) as server:
        reader, writer = await stack.open_connection(KERNEL_IP, server.port)

        async def send() -> None:
            writer.write(up)
            writer.write_eof()
            await writer.drain()

        sender = asyncio.create_task(send())
        got = await asyncio.wait_for(reader.read(), GUARD)
        await asyncio.wait_for(sender, GUARD)
        writer.close()
        assert await in_thread(server.result) == (len(up), sha(up))
    assert sha(got) == sha(down)


# --- error paths -------------------------------------------------------------------


async def test_connect_to_closed_kernel_port_is_refused(stack: aionetstack.Stack) -> None:
    with pytest.raises(ConnectionRefusedError):
        await asyncio.wait_for(stack.open_connection(KERNEL_IP, closed_port()), GUARD)


async def test_connect_to_black_hole_times_out_with_syn_backoff(
    tun: TunLink, nft: Nft, tmp_path: Path
) -> None:
    """nftables drops the SYNs: TimeoutError after syn_retries, SYN gaps doubling (pcap)."""
    from scapy.layers.inet import IP, TCP
    from scapy.utils import rdpcap

    port = 9
    nft.drop_port(port)
    pcap = tmp_path / "syn.pcap"
    config = aionetstack.StackConfig(syn_retries=3, rto_initial=0.1)
    async with aionetstack.Stack(
        aionetstack.capture(tun, pcap), address=STACK_ADDRESS, config=config
    ) as stack:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(stack.open_connection(KERNEL_IP, port), GUARD)
    syns = [
        p
        for p in rdpcap(str(pcap))
        if IP in p and TCP in p and p[TCP].dport == port and p[TCP].flags == "S"
    ]
    assert len(syns) == 1 + 3  # the SYN and syn_retries retransmissions
    assert len({p[TCP].seq for p in syns}) == 1
    gaps = [float(b.time - a.time) for a, b in itertools.pairwise(syns)]
    # Exponential backoff 0.1, 0.2, 0.4 s. Only lower bounds: a timer never fires
    # early, while a loaded machine may fire late.
    for i, gap in enumerate(gaps):
        assert gap >= 0.1 * 2**i * 0.9, gaps


async def test_connected_udp_to_closed_kernel_port(stack: aionetstack.Stack) -> None:
    loop = asyncio.get_running_loop()
    errors: asyncio.Future[Exception] = loop.create_future()

    class Proto(asyncio.DatagramProtocol):
        def error_received(self, exc: Exception) -> None:
            if not errors.done():
                errors.set_result(exc)

    port = closed_port()
    transport, _ = await stack.create_datagram_endpoint(Proto, remote_addr=(KERNEL_IP, port))
    try:
        transport.sendto(b"anyone there?")
        exc = await asyncio.wait_for(errors, GUARD)
    finally:
        transport.close()
    assert isinstance(exc, ConnectionRefusedError)


async def test_kernel_reset_gives_connection_reset(stack: aionetstack.Stack) -> None:
    with KernelServer(reset_after_first_byte) as server:
        reader, writer = await stack.open_connection(KERNEL_IP, server.port)
        writer.write(b"x")
        assert await in_thread(server.result) == b"x"
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(reader.read(), GUARD)
        writer.close()


# --- options really negotiated ----------------------------------------------------------


def _opts(pkt: object) -> dict[str, object]:
    from scapy.layers.inet import TCP

    return {name: value for name, value in pkt[TCP].options}  # type: ignore[index]


@pytest.mark.parametrize("tun", [1500, 65535], indirect=True, ids=["mtu1500", "mtu65535"])
async def test_options_negotiated_both_ways(tun: TunLink, tmp_path: Path) -> None:
    """SYN and SYN-ACK, each direction: MSS = MTU - 40, WScale, SAckOK, Timestamps."""
    need("curl")
    from scapy.layers.inet import IP, TCP
    from scapy.utils import rdpcap

    pcap = tmp_path / "opts.pcap"
    data = random_payload(2 * MiB)
    async with aionetstack.Stack(aionetstack.capture(tun, pcap), address=STACK_ADDRESS) as stack:
        with KernelServer(source(data)) as server:  # stack -> kernel
            reader, writer = await stack.open_connection(KERNEL_IP, server.port)
            assert sha(await asyncio.wait_for(reader.read(), GUARD)) == sha(data)
            writer.close()
            kport = server.port
        async with await stack.start_server(serve_http, STACK_IP, 8080):  # kernel -> stack
            rc, out, _ = await run_tool("curl", "-sS", f"http://{STACK_IP}:8080/bytes/{MiB}")
            assert rc == 0 and sha(out) == sha(http_payload(MiB))
    pkts = [p for p in rdpcap(str(pcap)) if IP in p and TCP in p]
    mss = tun.mtu - 40

    def syn(src: str, flags: str, port_field: str, port: int) -> object:
        for p in pkts:
            if p[IP].src == src and p[TCP].flags == flags and getattr(p[TCP], port_field) == port:
                return p
        raise AssertionError(f"no {flags} from {src}")

    for pkt in (
        syn(STACK_IP, "S", "dport", kport),  # stack's SYN
        syn(KERNEL_IP, "SA", "sport", kport),  # kernel's SYN-ACK
        syn(KERNEL_IP, "S", "dport", 8080),  # kernel's SYN
        syn(STACK_IP, "SA", "sport", 8080),  # stack's SYN-ACK
    ):
        opts = _opts(pkt)
        assert opts.get("MSS") == mss, opts
        assert "WScale" in opts and "SAckOK" in opts and "Timestamp" in opts, opts
    # Timestamps stay on for the whole connection, both ways (RFC 7323).
    data_pkts = [p for p in pkts if not p[TCP].flags.S]
    assert data_pkts and all("Timestamp" in _opts(p) for p in data_pkts if not p[TCP].flags.R)
    # Nobody sends a segment larger than the MSS.
    assert max(len(p[TCP].payload) for p in pkts) <= mss


# --- under impairment --------------------------------------------------------------------


async def test_transfers_survive_loss_delay_reorder_duplication(
    tun: TunLink, nft: Nft, tmp_path: Path
) -> None:
    """Kernel side: 2% drops each way (nftables) and a tbf rate limit; stack side:
    impair(loss 1%, delay 5 ms + jitter, reorder, duplicate). 2 MiB each way, intact,
    and SACK blocks seen on the wire from both sides."""
    from scapy.layers.inet import IP, TCP
    from scapy.utils import rdpcap

    nft.random_loss(2, 2)
    subprocess.run(
        ["tc", "qdisc", "add", "dev", TUN_NAME, "root", "tbf", "rate", "200mbit",
         "burst", "256kb", "latency", "100ms"],
        check=True,
    )  # fmt: skip
    pcap = tmp_path / "impaired.pcap"
    link = aionetstack.impair(
        aionetstack.capture(tun, pcap),
        loss=0.01, delay=0.005, jitter=0.002, reorder=0.05, duplicate=0.02, seed=5,
    )  # fmt: skip
    up = random_payload(2 * MiB)
    down = random_payload(2 * MiB)
    async with aionetstack.Stack(link, address=STACK_ADDRESS) as stack:
        with KernelServer(source(down)) as server:
            reader, writer = await stack.open_connection(KERNEL_IP, server.port)
            got = await asyncio.wait_for(reader.read(), GUARD)
            writer.close()
            assert sha(got) == sha(down)
        with KernelServer(sink_reply_digest) as server:
            reader, writer = await stack.open_connection(KERNEL_IP, server.port)
            writer.write(up)
            writer.write_eof()
            reply = await asyncio.wait_for(reader.read(), GUARD)
            writer.close()
            assert reply.decode() == sha(up)
    pkts = [p for p in rdpcap(str(pcap)) if IP in p and TCP in p]
    sack_from = {p[IP].src for p in pkts if "SAck" in _opts(p)}
    assert sack_from == {STACK_IP, KERNEL_IP}, sack_from


async def test_kernel_echo_server_round_trips(stack: aionetstack.Stack) -> None:
    """Many small request/response exchanges on one connection (delayed ACK, Nagle)."""
    with KernelServer(echo) as server:
        reader, writer = await stack.open_connection(KERNEL_IP, server.port)
        for i in range(200):
            msg = f"ping {i}\n".encode()
            writer.write(msg)
            assert await asyncio.wait_for(reader.readexactly(len(msg)), GUARD) == msg
        writer.write_eof()
        assert await asyncio.wait_for(reader.read(), GUARD) == b""
        writer.close()
        assert await in_thread(server.result) == sum(len(f"ping {i}\n") for i in range(200))


# --- flow control against Linux -----------------------------------------------------------


def _slow_sink(conn: socket.socket) -> tuple[int, str]:
    """Read nothing for a while (the kernel's window closes), then everything."""
    import time

    time.sleep(1.0)
    return sink(conn)


async def test_zero_window_from_kernel_then_resume(stack: aionetstack.Stack) -> None:
    """The kernel app stops reading: its window fills, the stack probes, then all arrives."""
    data = random_payload(16 * MiB)
    with KernelServer(_slow_sink) as server:
        reader, writer = await stack.open_connection(KERNEL_IP, server.port)
        writer.write(data)
        writer.write_eof()
        await asyncio.wait_for(writer.drain(), GUARD)
        assert await in_thread(server.result) == (len(data), sha(data))
        assert await asyncio.wait_for(reader.read(), GUARD) == b""
        writer.close()


async def test_slow_reader_on_stack_closes_window(stack: aionetstack.Stack) -> None:
    """The stack's app reads slowly: the advertised window shrinks, Linux waits/probes."""
    data = random_payload(16 * MiB)
    with KernelServer(source(data)) as server:
        reader, writer = await stack.open_connection(KERNEL_IP, server.port)
        await asyncio.sleep(1.0)  # nothing read: the stack's window must close, not overflow
        got = bytearray()
        while chunk := await asyncio.wait_for(reader.read(1 << 20), GUARD):
            got += chunk
        writer.close()
        assert await in_thread(server.result) == len(data)
    assert sha(got) == sha(data)


# --- the kernel probing the stack ----------------------------------------------------------


def _kernel_connect(port: int) -> None:
    socket.create_connection((STACK_IP, port), timeout=30).close()


async def test_kernel_connect_to_closed_stack_port_is_refused(stack: aionetstack.Stack) -> None:
    with pytest.raises(ConnectionRefusedError):
        await in_thread(_kernel_connect, 1)


def _kernel_udp_to_closed_port() -> BaseException | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(10)
        s.connect((STACK_IP, 9999))
        s.send(b"hello?")
        try:
            s.recv(100)
        except OSError as exc:
            return exc
    return None


async def test_kernel_udp_to_closed_stack_port_gets_icmp(stack: aionetstack.Stack) -> None:
    exc = await in_thread(_kernel_udp_to_closed_port)
    assert isinstance(exc, ConnectionRefusedError), exc


def _kernel_udp_exchange(port: int, sizes: list[int]) -> list[bytes]:
    replies = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(10)
        for size in sizes:
            s.sendto(bytes([size % 251]) * size, (STACK_IP, port))
            replies.append(s.recv(65535))
    return replies


async def test_udp_echo_with_fragmentation_both_ways(stack: aionetstack.Stack) -> None:
    """Kernel datagrams up to 20000 bytes (fragmented at MTU 1500) echoed by the stack."""

    class Echo(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            self.transport.sendto(data, addr)  # type: ignore[attr-defined]

    transport, _ = await stack.create_datagram_endpoint(Echo, local_addr=(STACK_IP, 7))
    try:
        sizes = [1, 1472, 1473, 4000, 20000]
        replies = await in_thread(_kernel_udp_exchange, 7, sizes)
    finally:
        transport.close()
    assert [len(r) for r in replies] == sizes
    assert all(r == bytes([n % 251]) * n for r, n in zip(replies, sizes, strict=True))
