"""write() takes any bytes-like object and copies it before returning."""
from __future__ import annotations

import array
import asyncio

from qa_support import B, server_collect, two_stacks


async def test_write_copies_mutable_buffers():
    async with two_stacks() as (a, b):
        got = await server_collect(b)
        _r, w = await a.open_connection(B, 80)
        ba = bytearray(b"a" * 5000)
        w.write(ba)
        ba[:] = b"b" * 5000
        mv_src = bytearray(b"c" * 10)
        w.write(memoryview(mv_src))
        mv_src[:] = b"d" * 10
        w.write_eof()
        assert await asyncio.wait_for(got, 2) == b"a" * 5000 + b"c" * 10


async def test_write_non_byte_memoryview():
    """memoryview of an int array: 12 bytes, not 3 items (CPython sends 12)."""
    async with two_stacks() as (a, b):
        got = await server_collect(b)
        _r, w = await a.open_connection(B, 80)
        arr = array.array("i", [1, 2, 3])
        w.write(memoryview(arr))
        w.write(b"end")
        w.write_eof()
        data = await asyncio.wait_for(got, 2)
        assert data == arr.tobytes() + b"end"
