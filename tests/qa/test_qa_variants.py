"""Less common configurations: options off, nodelay, small buffers."""
from __future__ import annotations

import asyncio
import time

import pytest
from qa_support import B, two_stacks
from test_qa_data import bidir

from aionetstack.core.config import StackConfig


@pytest.mark.parametrize("cfg", [
    StackConfig(sack=False),
    StackConfig(timestamps=False),
    StackConfig(window_scaling=False),
    StackConfig(sack=False, timestamps=False, window_scaling=False),
    StackConfig(recv_buffer=16 * 1024, send_buffer=16 * 1024),
    StackConfig(nodelay=True),
    StackConfig(initial_cwnd_segments=1),
], ids=["nosack", "nots", "nowscale", "bare", "tinybuf", "nodelay", "iw1"])
@pytest.mark.parametrize("knobs", [dict(loss=0.02, reorder=0.02, seed=21), dict(corrupt=0.01, duplicate=0.02, seed=22)],
                         ids=["lossy", "corrupt"])
async def test_bidir_variants(cfg, knobs):
    async with two_stacks(cfg, **knobs) as (a, b):
        t = time.perf_counter()
        await bidir(a, b, 512 * 1024, 9)
        print(f"{time.perf_counter()-t:.2f}s")


async def test_nodelay_removes_split_write_stall():
    async with two_stacks(StackConfig(nodelay=True)) as (a, b):
        async def cb(r, w):
            try:
                while True:
                    await r.readexactly(300)
                    w.write(b"r" * 100)
            except asyncio.IncompleteReadError:
                w.close()
        await b.start_server(cb, B, 7)
        r, w = await a.open_connection(B, 7)
        n = 50
        t = time.perf_counter()
        for _i in range(n):
            w.write(b"h" * 100)
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            w.write(b"b" * 200)
            await r.readexactly(100)
        per = (time.perf_counter() - t) / n
        print(f"nodelay split-write request/response: {per*1e3:.2f} ms")
        # with TCP_NODELAY no exchange waits for the delayed-ACK timer
        assert a.timer_fires + b.timer_fires < n // 5
        w.close()
