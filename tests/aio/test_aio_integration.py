"""install(stack, loop): the loop's create_connection, create_server,
create_datagram_endpoint and getaddrinfo go through a Stack, so plain asyncio
code (asyncio.open_connection, start_server...) runs over it unchanged; on the
default loop and on uvloop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from typing import Any

import pytest
from aio_support import A_ADDR, B_ADDR, tls_pair

import aionetstack
from aionetstack.aio.datagram import DatagramTransport
from aionetstack.aio.server import Server
from aionetstack.aio.transport import TcpTransport

T = 10.0


async def names(host: str) -> Sequence[str]:
    return {"b.test": [B_ADDR], "a.test": [A_ADDR]}[host]


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(await reader.readline())
    writer.close()


async def test_plain_asyncio_code_over_the_stacks() -> None:
    la, lb = aionetstack.memory_link_pair()
    async with (
        aionetstack.Stack(la, f"{A_ADDR}/24", resolver=names) as a,
        aionetstack.Stack(lb, f"{B_ADDR}/24", resolver=names) as b,
        asyncio.timeout(T),
    ):
        loop = asyncio.get_running_loop()
        # the server side: plain asyncio.start_server, routed to b
        uninstall = aionetstack.install(b)
        server = await asyncio.start_server(echo, "b.test", 7)
        assert isinstance(server, Server)
        assert server.sockets[0].getsockname() == (B_ADDR, 7)
        uninstall()
        # the client side: plain asyncio.open_connection, routed to a
        uninstall = aionetstack.install(a, loop)
        with pytest.raises(RuntimeError, match="already installed"):
            aionetstack.install(b, loop)
        reader, writer = await asyncio.open_connection("b.test", 7)
        assert isinstance(writer.transport, TcpTransport)
        assert writer.get_extra_info("stack") is a
        writer.write(b"through the stack\n")
        assert await reader.readline() == b"through the stack\n"
        writer.close()
        infos = await loop.getaddrinfo("b.test", 80, type=socket.SOCK_STREAM)
        assert infos == [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (B_ADDR, 80))]
        transport, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=("b.test", 9)
        )
        assert isinstance(transport, DatagramTransport)
        assert transport.get_extra_info("peername") == (B_ADDR, 9)
        transport.close()
        # a kernel socket handed over stays the kernel's
        left, right = socket.socketpair()
        kernel_transport, _ = await loop.create_connection(asyncio.Protocol, sock=left)
        assert not isinstance(kernel_transport, TcpTransport)
        kernel_transport.close()
        right.close()
        uninstall()
        # restored: names go to the kernel's resolver again, not the stack's
        assert loop.create_connection.__func__ is type(loop).create_connection  # type: ignore[attr-defined]
        server.close()


async def test_unroutable_arguments_are_refused(stacks: Any) -> None:
    a, _ = stacks
    uninstall = aionetstack.install(a)
    try:
        loop = asyncio.get_running_loop()
        with pytest.raises(ValueError, match="one host"):
            await loop.create_server(asyncio.Protocol, [A_ADDR, "198.18.0.9"], 80)
        with pytest.raises(socket.gaierror, match="resolver="):
            await loop.getaddrinfo("example.test", 80)
    finally:
        uninstall()


@pytest.fixture(scope="module")
def b_tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    return tls_pair(tmp_path_factory.mktemp("tls"), "b.test", "DNS:b.test")


async def test_starttls_with_stream_writer(stacks: Any, b_tls: tuple[Any, Any]) -> None:
    """StreamWriter.start_tls() on both ends (on uvloop too, whose own
    loop.start_tls rejects transports that are not its own)."""
    a, b = stacks
    server_ctx, client_ctx = b_tls

    async def smtp_like(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        writer.write(b"OK\n")
        await writer.drain()
        await writer.start_tls(server_ctx)
        writer.write((await reader.readline()).upper())
        await writer.drain()
        writer.close()

    uninstall = aionetstack.install(a)
    try:
        async with await b.start_server(smtp_like, B_ADDR, 25), asyncio.timeout(T):
            reader, writer = await a.open_connection(B_ADDR, 25)
            writer.write(b"STARTTLS\n")
            assert await reader.readline() == b"OK\n"
            await writer.start_tls(client_ctx, server_hostname="b.test")
            assert writer.get_extra_info("ssl_object").version().startswith("TLS")
            writer.write(b"secret\n")
            assert await reader.readline() == b"SECRET\n"
            writer.close()
    finally:
        uninstall()


async def test_aiohttp_default_connector_over_the_stack(stacks: Any) -> None:
    """aiohttp's own TCPConnector (aiohappyeyeballs: socket, sock_connect,
    create_connection(sock=)) unmodified, to an aiohttp app on the peer stack."""
    aiohttp = pytest.importorskip("aiohttp")
    from aiohttp import web

    from aionetstack.contrib.aiohttp import StackSite

    a, b = stacks

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text=f"hello {request.remote}")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    await StackSite(runner, b, B_ADDR, 8080).start()
    uninstall = aionetstack.install(a)
    try:
        async with asyncio.timeout(T), aiohttp.ClientSession() as session:
            for _ in range(2):  # the second request reuses the pooled connection
                async with session.get(f"http://{B_ADDR}:8080/") as response:
                    # served on b, from a's address: the request crossed the stacks
                    assert await response.text() == f"hello {A_ADDR}"
            opened = [c for c in a.engine.connections() if c.remote_port == 8080]
            assert len(opened) == 1
    finally:
        uninstall()
        await runner.cleanup()


async def test_a_socket_never_handed_over_resets_its_connection(stacks: Any) -> None:
    a, b = stacks
    server = await b.create_server(asyncio.Protocol, B_ADDR, 7)
    uninstall = aionetstack.install(a)
    try:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        async with asyncio.timeout(T):
            await loop.sock_connect(sock, (B_ADDR, 7))
        (conn,) = [c for c in a.engine.connections() if c.remote_port == 7]
        assert conn.state.name == "ESTABLISHED"
        sock.close()
        del sock  # collected: nobody will adopt the connection
        await asyncio.sleep(0.01)
        assert conn.state.name == "CLOSED"
        assert a.stats()["TcpOutRsts"] == 1
    finally:
        uninstall()
        server.close()
