"""aionetstack.contrib.aiohttp: a real aiohttp ClientSession (StackConnector)
against a real aiohttp application (StackSite), both over a memory link."""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from aio_support import A_ADDR, B_ADDR, tls_pair

import aionetstack

aiohttp = pytest.importorskip("aiohttp")
from aiohttp import web  # noqa: E402

from aionetstack.contrib.aiohttp import StackConnector, StackSite  # noqa: E402

T = 20.0
BLOB = bytes(range(256)) * 4096  # 1 MiB


def make_app() -> web.Application:
    async def hello(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        return web.Response(text=f"hello {request.match_info['name']} from {peer[0]}")

    async def blob(request: web.Request) -> web.Response:
        return web.Response(body=BLOB)

    async def digest(request: web.Request) -> web.Response:
        return web.Response(text=hashlib.sha256(await request.read()).hexdigest())

    app = web.Application()
    app.router.add_get("/hello/{name}", hello)
    app.router.add_get("/blob", blob)
    app.router.add_post("/digest", digest)
    return app


async def resolve_app(host: str) -> Sequence[str]:
    if host == "app.test":
        return [B_ADDR]
    raise OSError(f"unknown {host}")


@pytest.fixture
async def served() -> AsyncIterator[tuple[aionetstack.Stack, aionetstack.Stack, web.AppRunner]]:
    la, lb = aionetstack.memory_link_pair()
    a = aionetstack.Stack(la, f"{A_ADDR}/24", resolver=resolve_app)
    b = aionetstack.Stack(lb, f"{B_ADDR}/24")
    await a.start()
    await b.start()
    runner = web.AppRunner(make_app())
    await runner.setup()
    try:
        yield a, b, runner
    finally:
        await runner.cleanup()
        await a.close()
        await b.close()


async def test_client_session_to_stack_site(served: Any) -> None:
    a, b, runner = served
    site = StackSite(runner, b, B_ADDR, 0)
    await site.start()
    assert site.port > 0
    assert site.name == f"http://{B_ADDR}:{site.port}"
    assert runner.addresses == [(B_ADDR, site.port)]
    base = f"http://app.test:{site.port}"  # a name: the stack's resolver
    async with asyncio.timeout(T), aiohttp.ClientSession(connector=StackConnector(a)) as session:
        async with session.get(f"{base}/hello/stack") as response:
            assert response.status == 200
            assert await response.text() == f"hello stack from {A_ADDR}"
        async with session.get(f"{base}/blob") as response:
            assert await response.read() == BLOB
        async with session.post(f"{base}/digest", data=BLOB[::-1]) as response:
            assert await response.text() == hashlib.sha256(BLOB[::-1]).hexdigest()
        # keep-alive: the pooled connection served all three
        conns = [c for c in a.engine.connections() if c.remote_port == site.port]
        assert len(conns) == 1
        # a refused connection is aiohttp's own error
        with pytest.raises(aiohttp.ClientConnectorError):
            await session.get(f"http://{B_ADDR}:9/")
        with pytest.raises(aiohttp.ClientConnectorError):
            await session.get(f"http://{B_ADDR}:{site.port}/", proxy="http://198.18.0.9:3128")
    await site.stop()


@pytest.fixture(scope="module")
def app_tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    return tls_pair(tmp_path_factory.mktemp("tls"), "app.test", "DNS:app.test")


async def test_https_by_name(served: Any, app_tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    """TLS over the stack, the certificate checked against the URL's name."""
    a, b, runner = served
    server_ctx, client_ctx = app_tls
    site = StackSite(runner, b, B_ADDR, 443, ssl_context=server_ctx)
    await site.start()
    assert site.name == f"https://{B_ADDR}"  # as TCPSite: yarl omits the default port
    async with asyncio.timeout(T), aiohttp.ClientSession(connector=StackConnector(a)) as session:
        async with session.get("https://app.test/hello/tls", ssl=client_ctx) as response:
            assert await response.text() == f"hello tls from {A_ADDR}"
        # the default context does not trust the self-signed certificate
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await session.get("https://app.test/hello/x")
        async with session.get("https://app.test/hello/noverify", ssl=False) as response:
            assert response.status == 200
    await site.stop()


async def test_site_needs_setup(served: Any) -> None:
    _, b, _ = served
    with pytest.raises(RuntimeError):
        StackSite(web.AppRunner(make_app()), b, B_ADDR, 80)


def test_connector_keywords_are_aiohttps() -> None:
    async def main() -> None:
        la, _ = aionetstack.memory_link_pair()
        connector = StackConnector(aionetstack.Stack(la), limit=3, limit_per_host=2)
        assert (connector.limit, connector.limit_per_host) == (3, 2)
        await connector.close()

    asyncio.run(main())


