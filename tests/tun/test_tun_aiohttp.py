"""aionetstack.contrib.aiohttp against the kernel across a TUN device: curl
fetches from a StackSite; a ClientSession with StackConnector fetches from a
kernel aiohttp server (web.TCPSite on 198.18.0.1, or 2001:2::1 over IPv6).
Private namespace only."""

from __future__ import annotations

import asyncio
import hashlib
import shutil

import pytest
from tun_helpers import (
    KERNEL6,
    KERNEL_IP,
    STACK6,
    STACK_ADDRESS,
    STACK_ADDRESSES,
    STACK_IP,
    curl,
    greeter_app,
)

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


async def test_curl_fetches_from_stack_site_over_both_families(tun6: TunLink) -> None:
    """A site on every address (``host=None``, as ``TCPSite``) of a dual-stack
    stack: curl fetches over IPv6 and IPv4 from the same port."""
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    runner = web.AppRunner(greeter_app("stack", BLOB))
    await runner.setup()
    try:
        async with aionetstack.Stack(tun6, STACK_ADDRESSES) as stack, asyncio.timeout(GUARD):
            site = StackSite(runner, stack, None, 8082)
            await site.start()
            for url, peer in ((f"[{STACK6}]", KERNEL6), (STACK_IP, KERNEL_IP)):
                out = await curl(f"http://{url}:8082/")
                assert out == f"stack greets {peer}".encode()
                out = await curl(f"http://{url}:8082/blob")
                assert hashlib.sha256(out).digest() == hashlib.sha256(BLOB).digest()
            await site.stop()
            stats = stack.stats()
            assert stats["Ip6InReceives"] > 100 and stats["TcpPassiveOpens"] == 4
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("family", [4, 6])
async def test_client_session_fetches_from_kernel_aiohttp(
    family: int, request: pytest.FixtureRequest
) -> None:
    """IPv4 on a plain device; IPv6 (a URL ``http://[2001:2::1]:port/``) on a
    dual-stack one, and then nothing is sent over IPv4."""
    if family == 4:
        tun, addresses, kernel, ours, url_host = (
            "tun",
            STACK_ADDRESS,
            KERNEL_IP,
            STACK_IP,
            KERNEL_IP,
        )
    else:
        tun, addresses, kernel, ours, url_host = (
            "tun6",
            STACK_ADDRESSES,
            KERNEL6,
            STACK6,
            f"[{KERNEL6}]",
        )
    link: TunLink = request.getfixturevalue(tun)
    runner = web.AppRunner(greeter_app("kernel", BLOB))
    await runner.setup()
    try:
        kernel_site = web.TCPSite(runner, kernel, 0)  # kernel sockets, same loop
        await kernel_site.start()
        port = kernel_site.port
        async with aionetstack.Stack(link, addresses) as stack, asyncio.timeout(GUARD):
            connector = StackConnector(stack)
            async with aiohttp.ClientSession(connector=connector) as session:
                async with session.get(f"http://{url_host}:{port}/") as response:
                    assert await response.text() == f"kernel greets {ours}"
                async with session.get(f"http://{url_host}:{port}/blob") as response:
                    assert await response.read() == BLOB
            stats = stack.stats()
            if family == 6:
                assert stats["Ip6OutRequests"] > 0 and stats["IpOutRequests"] == 0
            else:
                assert stats["IpOutRequests"] > 0 and stats["Ip6OutRequests"] == 0
    finally:
        await runner.cleanup()
