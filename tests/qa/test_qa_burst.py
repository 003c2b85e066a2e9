"""Connection bursts against a server that accepts promptly."""
from __future__ import annotations

import asyncio

from qa_support import B, two_stacks


async def test_connect_burst_beyond_backlog_is_fast():
    async with two_stacks() as (a, b):
        await b.create_server(asyncio.Protocol, B, 80)  # backlog=128, accepting
        res = await asyncio.wait_for(
            asyncio.gather(*[a.create_connection(asyncio.Protocol, B, 80) for _ in range(300)]), 15)
        assert len(res) == 300
        # no SYN may have to wait for its retransmission (Linux: syncookies)
        assert b.stats()["ListenDrops"] == 0, f"ListenDrops={b.stats()['ListenDrops']}"


async def test_connect_burst_within_backlog_is_fast():
    async with two_stacks() as (a, b):
        await b.create_server(asyncio.Protocol, B, 80, backlog=512)
        await asyncio.wait_for(
            asyncio.gather(*[a.create_connection(asyncio.Protocol, B, 80) for _ in range(300)]), 9)
        st = b.stats()
        assert st["ListenDrops"] == 0 and st["ListenOverflows"] == 0
        assert a.stats()["TcpRetransSegs"] == 0  # no SYN waited for a retransmission
