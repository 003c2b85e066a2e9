"""Stack.close(): connections the application closed get ``linger`` to finish."""

from __future__ import annotations

import asyncio
from typing import Any

from aio_support import B_ADDR, make_stacks

from aionetstack.core.config import StackConfig

T = 10.0


class Client(asyncio.Protocol):
    def __init__(self) -> None:
        self.lost: list[BaseException | None] = []

    def connection_lost(self, exc: BaseException | None) -> None:
        self.lost.append(exc)


class Sink(asyncio.Protocol):
    def __init__(self) -> None:
        self.data = bytearray()
        self.eof = False
        loop = asyncio.get_running_loop()
        self.made: asyncio.Future[None] = loop.create_future()
        self.done: asyncio.Future[BaseException | None] = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.made.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.data += data

    def eof_received(self) -> bool:
        self.eof = True
        return False

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self.done.done():
            self.done.set_result(exc)


async def test_stack_close_lets_a_closed_transport_finish_its_queue() -> None:
    """Data queued beyond send_buffer by a transport the application closed is
    delivered in full, followed by a clean FIN, when the stack closes; the
    client's connection_lost runs exactly once."""
    config = StackConfig(send_buffer=8 * 1024)
    a, b = await make_stacks(config)
    try:
        sink = Sink()
        server = await b.create_server(lambda: sink, B_ADDR, 9000)
        payload = bytes(range(256)) * 800  # 200 KiB, far beyond send_buffer
        async with asyncio.timeout(T):
            transport, client = await a.create_connection(Client, B_ADDR, 9000)
            assert isinstance(client, Client)
            await sink.made
            transport.write(payload)
            assert transport.get_write_buffer_size() > 0
            transport.close()  # no wait: the data is still queued
            assert transport.is_closing()
            await a.close()
            exc = await sink.done
        assert exc is None
        assert sink.eof
        assert bytes(sink.data) == payload
        await asyncio.sleep(0)
        assert len(client.lost) == 1
        server.close()
    finally:
        await a.close()
        await b.close()


async def test_stack_close_resets_a_closed_transport_after_linger() -> None:
    """linger=0: what a closed transport still owes is reset; connection_lost
    still runs exactly once."""
    config = StackConfig(send_buffer=8 * 1024)
    a, b = await make_stacks(config)
    try:
        server = await b.create_server(Sink, B_ADDR, 9001)
        async with asyncio.timeout(T):
            transport, client = await a.create_connection(Client, B_ADDR, 9001)
            assert isinstance(client, Client)
            transport.write(bytes(200 * 1024))
            transport.close()
            await a.close(linger=0)
            for _ in range(3):
                await asyncio.sleep(0)
        assert len(client.lost) == 1
        server.close()
    finally:
        await a.close()
        await b.close()


async def test_stack_close_aborts_open_transports(stacks: Any) -> None:
    a, b = stacks
    server = await b.create_server(Sink, B_ADDR, 9002)
    async with asyncio.timeout(T):
        _transport, client = await a.create_connection(Client, B_ADDR, 9002)
        assert isinstance(client, Client)
        await a.close()
        await asyncio.sleep(0)
    assert len(client.lost) == 1
    assert isinstance(client.lost[0], ConnectionAbortedError)
    server.close()
