"""Dead peers detected (retries2, keepalive) and live ones kept."""
from __future__ import annotations

import asyncio
import errno
import time

import pytest
from qa_support import A, B, two_stacks

import aionetstack
from aionetstack.core.config import StackConfig


@pytest.mark.virtual_time
async def test_retries2_timeout_on_dead_peer():
    cfg = StackConfig(retries2=3, rto_min=0.05, rto_initial=0.05)
    async with two_stacks(cfg) as (a, b):
        lost = asyncio.get_running_loop().create_future()

        class P(asyncio.Protocol):
            def connection_lost(self, exc):
                lost.set_result(exc)
        await b.create_server(asyncio.Protocol, B, 80)
        t, _p = await a.create_connection(P, B, 80)
        await asyncio.sleep(0.05)
        b.link.close()  # peer vanishes
        t0 = time.monotonic()
        t.write(b"x" * 100)
        exc = await asyncio.wait_for(lost, 5)
        assert isinstance(exc, TimeoutError) and exc.errno == errno.ETIMEDOUT
        print("retries2=3 gave up after", time.monotonic() - t0)


@pytest.mark.virtual_time
async def test_keepalive_detects_dead_peer():
    cfg = StackConfig(keepalive=True, keepalive_idle=0.6, keepalive_interval=0.1, keepalive_count=3)
    async with two_stacks(cfg) as (a, b):
        lost = asyncio.get_running_loop().create_future()

        class P(asyncio.Protocol):
            def connection_lost(self, exc):
                lost.set_result(exc)
        await b.create_server(asyncio.Protocol, B, 80)
        _t, _p = await a.create_connection(P, B, 80)
        # keepalive keeps a live connection alive
        await asyncio.sleep(1.5)
        assert not lost.done()
        b.link.close()
        exc = await asyncio.wait_for(lost, 3)
        assert isinstance(exc, TimeoutError)


@pytest.mark.virtual_time
async def test_keepalive_short_idle_keeps_live_connection():
    ka = StackConfig(keepalive=True, keepalive_idle=0.2, keepalive_interval=0.05, keepalive_count=3)
    la, lb = aionetstack.memory_link_pair()
    a = aionetstack.Stack(la, address=A + "/24", config=ka)
    b = aionetstack.Stack(lb, address=B + "/24")  # the peer has no keepalive at all
    async with a, b:
        lost = asyncio.get_running_loop().create_future()

        class P(asyncio.Protocol):
            def connection_lost(self, exc):
                lost.set_result(exc)
        await b.create_server(asyncio.Protocol, B, 80)
        await a.create_connection(P, B, 80)
        await asyncio.sleep(1.5)
        assert not lost.done(), lost.result()
