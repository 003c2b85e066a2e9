"""Bulk transfers under load: timer churn, MTUs, connect rate, many connections, sequence wrap."""
from __future__ import annotations

import asyncio
import os
import time

import pytest
from qa_support import B, server_collect, two_stacks


async def test_timer_churn_bulk_transfer():
    """One call_at handle re-armed only when the deadline moves earlier: arms << packets."""
    async with two_stacks() as (a, b):
        got = await server_collect(b)
        _r, w = await a.open_connection(B, 80)
        a0, b0 = a.timer_arms, b.timer_arms
        w.write(b"t" * (8 << 20))
        w.write_eof()
        await asyncio.wait_for(got, 5)
        segs = a.stats()["TcpOutSegs"]
        print(f"arms a={a.timer_arms-a0} b={b.timer_arms-b0} segs={segs} fires a={a.timer_fires} b={b.timer_fires}")
        assert a.timer_arms - a0 < segs / 20
        assert b.timer_arms - b0 < segs / 20


@pytest.mark.parametrize("mtu", [1500, 9000, 65535])
async def test_throughput_numbers(mtu):
    async with two_stacks(mtu=mtu) as (a, b):
        got = await server_collect(b)
        _r, w = await a.open_connection(B, 80)
        n = 32 << 20
        t = time.perf_counter()
        chunk = b"u" * (1 << 20)
        for _ in range(n >> 20):
            w.write(chunk)
            await w.drain()
        w.write_eof()
        data = await asyncio.wait_for(got, 9)
        dt = time.perf_counter() - t
        assert len(data) == n
        print(f"MTU {mtu}: {n/dt/1e6:.0f} MB/s one way")


async def test_connect_rate():
    async with two_stacks() as (a, b):
        await b.create_server(asyncio.Protocol, B, 80, backlog=4096)
        n = 500
        t = time.perf_counter()
        for _ in range(n):
            tr, _p = await a.create_connection(asyncio.Protocol, B, 80)
            tr.close()
        dt = time.perf_counter() - t
        print(f"sequential connect+close: {dt/n*1e6:.0f} us each")
        assert b.stats()["TcpPassiveOpens"] == n
        assert a.stats()["TcpAttemptFails"] == 0


async def test_seq_wraparound_transfer():
    """Client's ISN near 2**32: transfer crosses the wrap."""
    async with two_stacks() as (a, b):
        got = asyncio.get_running_loop().create_future()

        async def cb(r, w):
            got.set_result(await r.read())
            w.close()
        await b.start_server(cb, B, 80)
        orig = a.engine._isn

        class Fixed:
            def __getattr__(self, name):
                return getattr(orig, name)

            def isn(self, *args):
                return 2**32 - 3000
        a.engine._isn = Fixed()
        try:
            _r, w = await a.open_connection(B, 80)
        finally:
            a.engine._isn = orig
        payload = os.urandom(300_000)
        w.write(payload)
        w.write_eof()
        assert await asyncio.wait_for(got, 5) == payload
        w.close()


@pytest.mark.virtual_time
async def test_many_concurrent_connections_transfer():
    async with two_stacks(loss=0.005, seed=11) as (a, b):
        async def cb(r, w):
            data = await r.read()
            w.write(data[::-1])
            await w.drain()
            w.close()
        await b.start_server(cb, B, 80, backlog=300)

        async def one(i):
            r, w = await a.open_connection(B, 80)
            msg = os.urandom(1000 + i * 37)
            w.write(msg)
            w.write_eof()
            back = await r.read()
            w.close()
            return back == msg[::-1]
        res = await asyncio.wait_for(asyncio.gather(*[one(i) for i in range(200)]), 9)
        assert all(res)
