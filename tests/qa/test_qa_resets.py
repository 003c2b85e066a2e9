"""Resets the application sees: peer RST after data, data after close, unaccepted children."""
from __future__ import annotations

import asyncio

import pytest
from qa_support import B, two_stacks


async def test_peer_reset_after_data_reader_gets_data_then_error():
    async with two_stacks() as (a, b):
        async def cb(r, w):
            w.write(b"partial")
            await w.drain()
            await asyncio.sleep(0.05)
            w.transport.abort()
        await b.start_server(cb, B, 80)
        r, w = await a.open_connection(B, 80)
        assert await asyncio.wait_for(r.readexactly(7), 2) == b"partial"
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(r.read(), 2)
        # write after reset must not raise synchronously in write()
        w.write(b"more")
        with pytest.raises(ConnectionResetError):
            await w.drain()


async def test_data_after_close_triggers_rst():
    """close() with unread data / data arriving later -> RST (Linux)."""
    async with two_stacks() as (a, b):
        got = asyncio.get_running_loop().create_future()

        class P(asyncio.Protocol):
            def connection_made(self, t):
                got.set_result(t)
        await b.create_server(P, B, 80)
        r, w = await a.open_connection(B, 80)
        st = await got
        st.close()
        await asyncio.sleep(0.05)
        w.write(b"late data")
        await asyncio.sleep(0.05)
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(r.read(), 2)


async def test_server_close_resets_unaccepted():
    async with two_stacks() as (a, b):
        srv = await b.start_server(lambda r, w: None, B, 80, start_serving=False)
        r, _w = await a.open_connection(B, 80)
        srv.close()
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(r.read(), 2)
