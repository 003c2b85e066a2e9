"""Unmodified asyncio libraries over the stack with ``aionetstack.install``,
against real kernel peers across a TUN device (private namespace only):
websockets server and client, aiohttp's web.TCPSite, asyncio streams."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from tun_helpers import KERNEL_IP, STACK_ADDRESS, STACK_IP, curl, greeter_app

import aionetstack
from aionetstack.aio.transport import TcpTransport
from aionetstack.link.tun import TunLink

GUARD = 60.0
websockets = pytest.importorskip("websockets")
from websockets.asyncio.client import connect  # noqa: E402
from websockets.asyncio.server import ServerConnection, serve  # noqa: E402
from websockets.sync.client import connect as sync_connect  # noqa: E402
from websockets.sync.server import serve as sync_serve  # noqa: E402


async def shout(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(str(message).upper())


async def test_websockets_server_on_the_stack_kernel_client(tun: TunLink) -> None:
    async with aionetstack.Stack(tun, STACK_ADDRESS) as stack, asyncio.timeout(GUARD):
        uninstall = aionetstack.install(stack)
        try:
            async with serve(shout, STACK_IP, 8765) as server:
                assert server.sockets[0].getsockname() == (STACK_IP, 8765)

                def kernel_client() -> list[str]:  # kernel sockets, its own thread
                    with sync_connect(f"ws://{STACK_IP}:8765", open_timeout=20) as ws:
                        replies = []
                        for text in ("hello", "stack"):
                            ws.send(text)
                            replies.append(str(ws.recv(timeout=20)))
                        return replies

                assert await asyncio.to_thread(kernel_client) == ["HELLO", "STACK"]
        finally:
            uninstall()


@pytest.fixture
def kernel_ws_server(tun: TunLink) -> Iterator[int]:
    """A websockets (sync, kernel sockets) echo server on 198.18.0.1, in a thread."""

    def handler(ws: Any) -> None:
        for message in ws:
            ws.send(f"kernel: {message}")

    with sync_serve(handler, KERNEL_IP, 0) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield server.socket.getsockname()[1]
        server.shutdown()
    thread.join(10)


async def test_websockets_client_on_the_stack_kernel_server(
    tun: TunLink, kernel_ws_server: int
) -> None:
    async with aionetstack.Stack(tun, STACK_ADDRESS) as stack, asyncio.timeout(GUARD):
        uninstall = aionetstack.install(stack)
        try:
            async with connect(f"ws://{KERNEL_IP}:{kernel_ws_server}") as ws:
                assert isinstance(ws.transport, TcpTransport)  # our transport, not a socket
                await ws.send("from the stack")
                assert await ws.recv() == "kernel: from the stack"
        finally:
            uninstall()


async def test_aiohttp_tcpsite_unmodified_fetched_by_curl(tun: TunLink) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    from aiohttp import web

    app = greeter_app("TCPSite on the stack")
    runner = web.AppRunner(app)
    await runner.setup()
    async with aionetstack.Stack(tun, STACK_ADDRESS) as stack, asyncio.timeout(GUARD):
        uninstall = aionetstack.install(stack)
        try:
            site = web.TCPSite(runner, STACK_IP, 8083)  # aiohttp's own site class
            await site.start()
            out = await curl(f"http://{STACK_IP}:8083/")
            assert out == f"TCPSite on the stack greets {KERNEL_IP}".encode()
        finally:
            await runner.cleanup()
            uninstall()


async def test_aiohttp_default_client_to_kernel_aiohttp(tun: TunLink) -> None:
    """aiohttp.ClientSession() with its own TCPConnector, unmodified, over the
    stack to a kernel aiohttp server (started before install: kernel sockets)."""
    import aiohttp
    from aiohttp import web

    blob = bytes(range(256)) * 4096
    app = greeter_app("kernel", blob)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, KERNEL_IP, 0)
        await site.start()
        async with aionetstack.Stack(tun, STACK_ADDRESS) as stack, asyncio.timeout(GUARD):
            uninstall = aionetstack.install(stack)
            try:
                async with aiohttp.ClientSession() as session:
                    async with session.get(f"http://{KERNEL_IP}:{site.port}/") as response:
                        assert await response.text() == f"kernel greets {STACK_IP}"
                    async with session.get(f"http://{KERNEL_IP}:{site.port}/blob") as response:
                        assert await response.read() == blob
            finally:
                uninstall()
    finally:
        await runner.cleanup()
