"""Many connections, each fed by a fast writer and drained by a slow reader,
stay within the stack's memory budget (``StackConfig.tcp_mem``, issue 11).

Two Stacks on a memory link; every client writes with ``drain()`` as fast as
it is let, every server reads a little and sleeps. Each stack's account of
buffered bytes (send + receive queues of all its connections) is sampled
while the load runs.
"""

from __future__ import annotations

import asyncio

from aio_support import B_ADDR, make_stacks

from aionetstack.core.config import StackConfig

N = 300  # connections (benchmarks/bench_edge.py runs 1,000)
BUDGET = 8 * 1024 * 1024  # tcp_mem's high mark, per stack
HIGH_WATER = 64 * 1024  # asyncio's default write-buffer high-water mark
CHUNK = 16 * 1024


async def test_slow_readers_fast_writers_stay_within_the_budget() -> None:
    config = StackConfig(tcp_mem=(BUDGET // 2, BUDGET * 3 // 4, BUDGET))
    a, b = await make_stacks(config)
    stop = asyncio.Event()
    received = [0] * N
    peaks = [0, 0]

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        i = int((await reader.readexactly(4)).decode())
        while not stop.is_set():
            data = await reader.read(2000)  # a slow reader: 2 kB per 20 ms
            if not data:
                break
            received[i] += len(data)
            await asyncio.sleep(0.02)
        writer.close()

    async def feed(i: int) -> None:
        _reader, writer = await a.open_connection(B_ADDR, 8080)
        writer.write(b"%04d" % i)
        chunk = b"x" * CHUNK
        while not stop.is_set():
            writer.write(chunk)
            await writer.drain()  # paused while the send buffer is full
        writer.transport.abort()

    async def sample() -> None:
        while not stop.is_set():
            for k, stack in enumerate((a, b)):
                engine = stack.engine
                assert engine is not None
                peaks[k] = max(peaks[k], engine.tcp_memory.allocated)
            await asyncio.sleep(0.01)

    server = await b.start_server(serve, B_ADDR, 8080, backlog=N)
    try:
        tasks = [asyncio.create_task(feed(i)) for i in range(N)]
        sampler = asyncio.create_task(sample())
        await asyncio.sleep(3.0)
        stop.set()
        await asyncio.gather(*tasks, sampler, return_exceptions=True)
        stats_a, stats_b = a.stats(), b.stats()
    finally:
        server.close()
        await a.close()
        await b.close()
    # without the budget the servers' receive queues alone would hold up to
    # N x 128 KiB (37.5 MiB) and the clients' send buffers N x 87040 bytes
    # plus their transports' 64 KiB each
    assert stats_b["TCPMemoryPressures"] >= 1
    # the receiving stack: within the budget, give or take two segments per
    # connection (an empty receive queue always takes a segment, as Linux's)
    assert peaks[1] <= BUDGET + N * 2 * 1500, peaks
    assert stats_b["TCPMemoryPeak"] <= BUDGET + N * 2 * 1500
    # the sending stack: its send buffers moderated; beyond the budget only
    # what asyncio lets each writer queue in its transport (high-water + a write)
    assert stats_a["TCPSndbufModerated"] > 0
    assert peaks[0] <= BUDGET + N * (HIGH_WATER + CHUNK), peaks
    # every connection made progress
    assert min(received) > 0, sorted(received)[:5]
