"""Helpers for the aio tier: two stacks on a memory link, or the kernel.

``net`` is parametrised: ``stack`` (two aionetstack Stacks joined by a memory
link) and ``kernel`` (asyncio's own loop.create_connection / create_server on
127.0.0.1). Contract tests written against ``net`` run on both, which proves
the tests themselves right.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aionetstack
from aionetstack.core.config import StackConfig

A_ADDR = "198.18.0.1"
B_ADDR = "198.18.0.2"

# Small buffers keep the flow-control tests quick (the kernel's are a few MB too).
SMALL = StackConfig(recv_buffer=256 * 1024, send_buffer=256 * 1024)


class Net:
    """Make connected (client, server) transport/protocol pairs."""

    kind = "?"
    client_host = "127.0.0.1"

    async def create_server(
        self, factory: Callable[[], asyncio.BaseProtocol], port: int = 0
    ) -> Any:
        raise NotImplementedError

    async def create_connection(
        self, factory: Callable[[], asyncio.BaseProtocol], port: int
    ) -> tuple[asyncio.Transport, Any]:
        raise NotImplementedError

    async def pair(
        self,
        client_factory: Callable[[], asyncio.BaseProtocol],
        server_factory: Callable[[], asyncio.BaseProtocol],
    ) -> tuple[asyncio.Transport, Any, asyncio.Transport, Any]:
        loop = asyncio.get_running_loop()
        accepted: asyncio.Future[Any] = loop.create_future()

        def factory() -> asyncio.BaseProtocol:
            proto = server_factory()
            orig = proto.connection_made

            def made(transport: asyncio.BaseTransport) -> None:
                orig(transport)
                if not accepted.done():
                    accepted.set_result((transport, proto))

            proto.connection_made = made  # type: ignore[method-assign]
            return proto

        server = await self.create_server(factory)
        port = server.sockets[0].getsockname()[1]
        async with asyncio.timeout(10):
            ct, cp = await self.create_connection(client_factory, port)
            st, sp = await accepted
        server.close()
        return ct, cp, st, sp


class KernelNet(Net):
    kind = "kernel"

    async def create_server(
        self, factory: Callable[[], asyncio.BaseProtocol], port: int = 0
    ) -> Any:
        return await asyncio.get_running_loop().create_server(factory, "127.0.0.1", port)

    async def create_connection(
        self, factory: Callable[[], asyncio.BaseProtocol], port: int
    ) -> tuple[asyncio.Transport, Any]:
        return await asyncio.get_running_loop().create_connection(  # type: ignore[return-value]
            factory, "127.0.0.1", port
        )


class StackNet(Net):
    kind = "stack"
    client_host = B_ADDR

    def __init__(self, a: aionetstack.Stack, b: aionetstack.Stack) -> None:
        self.a = a  # client side
        self.b = b  # server side

    async def create_server(
        self, factory: Callable[[], asyncio.BaseProtocol], port: int = 0
    ) -> Any:
        return await self.b.create_server(factory, B_ADDR, port)

    async def create_connection(
        self, factory: Callable[[], asyncio.BaseProtocol], port: int
    ) -> tuple[asyncio.Transport, Any]:
        return await self.a.create_connection(factory, B_ADDR, port)  # type: ignore[return-value]


async def make_stacks(
    config: StackConfig | None = None, **link_kwargs: Any
) -> tuple[aionetstack.Stack, aionetstack.Stack]:
    la, lb = aionetstack.memory_link_pair(**link_kwargs)
    a = aionetstack.Stack(la, address=f"{A_ADDR}/24", config=config)
    b = aionetstack.Stack(lb, address=f"{B_ADDR}/24", config=config)
    await a.start()
    await b.start()
    return a, b


def tls_pair(directory: Any, name: str, san: str) -> tuple[Any, Any]:
    """A self-signed certificate for ``name`` (subjectAltName ``san``, e.g.
    ``IP:198.18.0.2``) made by the openssl command in ``directory`` (skips
    without it): the server's SSLContext and a client's that trusts it."""
    import shutil
    import ssl
    import subprocess

    import pytest

    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}",
         "-addext", f"subjectAltName={san}"],
        check=True, capture_output=True,
    )  # fmt: skip
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    return server_ctx, ssl.create_default_context(cafile=str(cert))
