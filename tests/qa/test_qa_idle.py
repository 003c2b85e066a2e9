"""Idle CPU: no periodic wakeups with many idle connections."""
from __future__ import annotations

import asyncio
import time

import pytest
from qa_support import B, two_stacks


async def open_many(a, b, n):
    accepted = []

    class P(asyncio.Protocol):
        def connection_made(self, t):
            accepted.append(t)
    await b.create_server(P, B, 80, backlog=n + 10)
    clients = []
    for i in range(0, n, 100):
        res = await asyncio.gather(*[a.create_connection(asyncio.Protocol, B, 80) for _ in range(min(100, n - i))])
        clients += [t for t, p in res]
    for _ in range(100):
        if len(accepted) == n:
            break
        await asyncio.sleep(0.01)
    assert len(accepted) == n
    return clients, accepted


@pytest.mark.virtual_time
async def test_1000_idle_connections_no_wakeups():
    async with two_stacks() as (a, b):
        t0 = time.perf_counter()
        clients, _servers = await open_many(a, b, 1000)
        print(f"1000 connects in {time.perf_counter()-t0:.2f}s")
        # one exchange on each so delayed ACKs are armed and must settle
        for t in clients[:100]:
            t.write(b"x")
        # settle: delayed ACKs, and the stale SYN-RTO heap entries (lazy
        # deletion, rto_initial=1 s) fire once each; after that nothing.
        await asyncio.sleep(1.2)
        fa, fb = a.timer_fires, b.timer_fires
        wa, wb = a.wakeups, b.wakeups
        loop = asyncio.get_running_loop()
        await asyncio.sleep(2.0)
        assert a.timer_fires == fa and b.timer_fires == fb, (a.timer_fires - fa, b.timer_fires - fb)
        assert a.wakeups == wa and b.wakeups == wb
        sched = [h for h in getattr(loop, "_scheduled", []) if not h.cancelled()]
        # at most one stack timer handle each (e.g. none, or a far-away one)
        assert len(sched) <= 2 + 1, sched
        for h in sched:
            assert h.when() - loop.time() > 10, h
        for t in clients:
            t.close()


@pytest.mark.virtual_time
async def test_keepalive_timers_do_not_fire_early():
    from aionetstack.core.config import StackConfig
    async with two_stacks(StackConfig(keepalive=True)) as (a, b):
        _clients, _servers = await open_many(a, b, 50)
        await asyncio.sleep(1.2)
        fa = a.timer_fires
        await asyncio.sleep(1.0)
        assert a.timer_fires == fa


@pytest.mark.virtual_time
async def test_time_wait_does_not_spin():
    async with two_stacks() as (a, b):
        clients, servers = await open_many(a, b, 100)
        for t in clients:
            t.close()
        for t in servers:
            t.close()
        await asyncio.sleep(0.5)
        fa, fb = a.timer_fires, b.timer_fires
        await asyncio.sleep(1.5)
        assert a.timer_fires - fa <= 1 and b.timer_fires - fb <= 1, (a.timer_fires - fa, b.timer_fires - fb)
