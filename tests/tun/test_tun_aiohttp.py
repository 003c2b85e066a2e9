"""aionetstack.contrib.aiohttp against the kernel across a TUN device: curl
fetches from a StackSite; a ClientSession with StackConnector fetches from a
kernel aiohttp server (web.TCPSite on 198.18.0.1). Private namespace only."""

from __future__ import annotations

import asyncio
import hashlib
import shutil

import pytest
from tun_helpers import KERNEL_IP, STACK_ADDRESS, STACK_IP, curl, greeter_app

import aionetstack
from aionetstack.link.tun import TunLink

aiohttp = pytest.importorskip("aiohttp")
from aiohttp import web  # noqa: E402

from aionetstack.contrib.aiohttp import StackConnector, StackSite  # noqa: E402

GUARD = 60.0
BLOB = bytes(range(256)) * 8192  # 2 MiB


async def test_curl_fetches_from_stack_site(tun: TunLink) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    runner = web.AppRunner(greeter_app("stack", BLOB))
    await runner.setup()
    try:
        async with aionetstack.Stack(tun, STACK_ADDRESS) as stack, asyncio.timeout(GUARD):
            site = StackSite(runner, stack, STACK_IP, 8082)
            await site.start()
            for path, want in ((b"", f"stack greets {KERNEL_IP}".encode()), (b"blob", BLOB)):
                out = await curl(f"http://{STACK_IP}:8082/{path.decode()}")
                assert hashlib.sha256(out).digest() == hashlib.sha256(want).digest()
            await site.stop()
    finally:
        await runner.cleanup()


async def test_client_session_fetches_from_kernel_aiohttp(tun: TunLink) -> None:
    runner = web.AppRunner(greeter_app("kernel", BLOB))
    await runner.setup()
    try:
        kernel_site = web.TCPSite(runner, KERNEL_IP, 0)  # kernel sockets, same loop
        await kernel_site.start()
        port = kernel_site.port
        async with aionetstack.Stack(tun, STACK_ADDRESS) as stack, asyncio.timeout(GUARD):
            connector = StackConnector(stack)
            async with aiohttp.ClientSession(connector=connector) as session:
                async with session.get(f"http://{KERNEL_IP}:{port}/") as response:
                    assert await response.text() == f"kernel greets {STACK_IP}"
                async with session.get(f"http://{KERNEL_IP}:{port}/blob") as response:
                    assert await response.read() == BLOB
    finally:
        await runner.cleanup()
