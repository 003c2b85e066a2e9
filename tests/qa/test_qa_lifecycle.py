"""Stack shutdown with connections in various states."""
from __future__ import annotations

import asyncio

import pytest
from qa_support import A, B

import aionetstack


async def _stacks():
    la, lb = aionetstack.memory_link_pair()
    a = aionetstack.Stack(la, address=A + "/24")
    b = aionetstack.Stack(lb, address=B + "/24")
    await a.start()
    await b.start()
    return a, b


@pytest.mark.virtual_time
async def test_stack_close_resets_orphaned_connections():
    a, b = await _stacks()
    try:
        got = asyncio.get_running_loop().create_future()

        async def cb(r, w):
            w.transport.pause_reading()  # slow reader: the client's data stays queued
            got.set_result((r, w))
        await b.start_server(cb, B, 80)
        _r, w = await a.open_connection(B, 80)
        sr, sw = await got
        # more than the peer's window (128 KiB at first: tcp_rmem[1]), less than
        # that and the client's send buffer (87040 bytes after the handshake):
        # close() hands the rest to the engine
        w.write(b"x" * 200_000)
        w.close()
        await w.wait_closed()  # transport done; the engine still owns the data
        assert [str(c.state) for c in a.engine.connections()] == ["FIN-WAIT-1"]
        await a.close()
        sw.transport.resume_reading()
        # The peer must learn that the connection is gone (RST), not wait forever.
        with pytest.raises(ConnectionResetError):
            async with asyncio.timeout(2):
                while await sr.read(1 << 20):
                    pass
    finally:
        await a.close()
        await b.close()


async def test_stack_close_resets_open_transport_peer():
    a, b = await _stacks()
    try:
        got = asyncio.get_running_loop().create_future()

        async def cb(r, w):
            got.set_result((r, w))
        await b.start_server(cb, B, 80)
        r, _w = await a.open_connection(B, 80)
        sr, _sw = await got
        await a.close()
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(sr.read(), 2)
        with pytest.raises(ConnectionAbortedError):
            await asyncio.wait_for(r.read(), 2)
    finally:
        await b.close()


async def test_stack_close_during_connect():
    a, b = await _stacks()
    await b.close()  # nobody answers
    task = asyncio.ensure_future(a.open_connection(B, 80))
    await asyncio.sleep(0.05)
    await a.close()
    with pytest.raises(ConnectionAbortedError):
        await asyncio.wait_for(task, 1)
    assert a.engine.connections() == []  # the SYN-SENT connection was reset and removed


async def test_stack_close_pending_ping():
    a, b = await _stacks()
    await b.close()
    task = asyncio.ensure_future(a.ping(B, timeout=5))
    await asyncio.sleep(0.01)
    await a.close()
    with pytest.raises(ConnectionAbortedError):
        await asyncio.wait_for(task, 1)


async def test_stack_close_idempotent_and_link_closed():
    a, b = await _stacks()
    await a.close()
    await a.close()
    assert a.link.closed
    await b.close()


async def test_server_serve_forever_cancel_on_stack_close():
    a, b = await _stacks()
    srv = await b.start_server(lambda r, w: None, B, 80)
    task = asyncio.ensure_future(srv.serve_forever())
    await asyncio.sleep(0)
    await b.close()
    await asyncio.sleep(0)
    assert not srv.is_serving()
    # serve_forever should end (cancelled) when its server is closed, as asyncio's does
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 1)
    await a.close()
