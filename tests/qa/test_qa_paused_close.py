"""Data arriving while reading is paused must survive the end of the connection."""
from __future__ import annotations

import asyncio

from qa_support import B, two_stacks


class Server(asyncio.Protocol):
    def __init__(self):
        loop = asyncio.get_running_loop()
        self.data = bytearray()
        self.eof = False
        self.lost = loop.create_future()
        self.made = loop.create_future()

    def connection_made(self, t):
        self.t = t
        t.pause_reading()
        t.write(b"bye")
        t.write_eof()  # half-close: we are done writing
        self.made.set_result(None)

    def data_received(self, d):
        self.data += d

    def eof_received(self):
        self.eof = True
        return True

    def connection_lost(self, exc):
        self.lost.set_result((exc, len(self.data)))


class Client(asyncio.Protocol):
    def connection_made(self, t):
        self.t = t

    def eof_received(self):
        # peer half-closed: send our data, then close
        self.t.write(b"D" * 100_000)
        self.t.close()
        return True


async def test_paused_reader_gets_data_after_orderly_close():
    async with two_stacks() as (a, b):
        holder = {}

        def factory():
            holder["p"] = Server()
            return holder["p"]
        await b.create_server(factory, B, 80)
        await a.create_connection(Client, B, 80)
        await asyncio.sleep(0.3)  # everything has arrived at b, reading still paused
        sp = holder["p"]
        assert not sp.lost.done(), f"connection_lost before resume_reading: {sp.lost.result()}"
        sp.t.resume_reading()
        exc, n = await asyncio.wait_for(sp.lost, 2)
        assert exc is None
        assert n == 100_000 and sp.eof


async def test_streams_backpressure_then_peer_closes():
    """The same through StreamReader (which pauses the transport by itself)."""
    async with two_stacks() as (a, b):
        result = asyncio.get_running_loop().create_future()

        async def cb(r, w):
            w.write(b"bye")
            w.write_eof()
            await asyncio.sleep(0.3)  # do not read: StreamReader pauses at 2*limit
            data = await r.read()
            result.set_result(len(data))
        await b.start_server(cb, B, 80, limit=16 * 1024)
        r, w = await a.open_connection(B, 80)
        assert await r.read() == b"bye"
        w.write(b"E" * 500_000)
        w.close()
        assert await asyncio.wait_for(result, 3) == 500_000
