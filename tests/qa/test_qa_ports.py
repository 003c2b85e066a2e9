"""Ports and 4-tuples: ephemeral ports, conflicts, exhaustion, reuse after TIME-WAIT."""
from __future__ import annotations

import asyncio
import errno

import pytest
from qa_support import A, B, two_stacks

from aionetstack.core.config import StackConfig


async def test_server_port_zero_ephemeral():
    async with two_stacks() as (a, b):
        srv = await b.create_server(asyncio.Protocol, B, 0)
        port = srv.sockets[0].getsockname()[1]
        assert 1024 <= port <= 65535
        t, _p = await a.create_connection(asyncio.Protocol, B, port)
        t.close()
        srv2 = await b.create_server(asyncio.Protocol, None, 0)
        assert srv2.sockets[0].getsockname()[1] != port


async def test_local_addr_and_port_conflict():
    async with two_stacks() as (a, b):
        await b.create_server(asyncio.Protocol, B, 80)
        t, _p = await a.create_connection(asyncio.Protocol, B, 80, local_addr=(A, 5555))
        assert t.get_extra_info("sockname") == (A, 5555)
        # same 4-tuple again
        with pytest.raises(OSError) as ei:
            await a.create_connection(asyncio.Protocol, B, 80, local_addr=(A, 5555))
        assert ei.value.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL)
        # a different destination port from the same local port is fine (Linux allows with reuse)
        with pytest.raises(OSError) as ei:
            await a.create_connection(asyncio.Protocol, B, 80, local_addr=("198.19.0.9", 0))
        assert ei.value.errno == errno.EADDRNOTAVAIL


async def test_ephemeral_port_exhaustion():
    cfg = StackConfig(ephemeral_port_low=40000, ephemeral_port_high=40004)
    async with two_stacks(cfg) as (a, b):
        await b.create_server(asyncio.Protocol, B, 80)
        ts = []
        for _i in range(5):
            t, _p = await a.create_connection(asyncio.Protocol, B, 80)
            ts.append(t)
        with pytest.raises(OSError) as ei:
            await asyncio.wait_for(a.create_connection(asyncio.Protocol, B, 80), 2)
        assert ei.value.errno == errno.EADDRNOTAVAIL
        # different destination port: same ports reusable (unique 4-tuple)
        await b.create_server(asyncio.Protocol, B, 81)
        t, _p = await a.create_connection(asyncio.Protocol, B, 81)
        assert t.get_extra_info("sockname")[1] in range(40000, 40005)


async def test_reconnect_same_port_server_in_time_wait():
    """Server closed first (server side in TIME-WAIT); the client reconnects from the
    same local port at once: the TIME-WAIT SYN rule (RFC 6191 / Linux) must let it in."""
    async with two_stacks() as (a, b):
        async def cb(r, w):
            w.write(b"bye")
            w.close()
        await b.start_server(cb, B, 80)
        for _i in range(3):
            r, w = await asyncio.wait_for(a.open_connection(B, 80, local_addr=(A, 45000)), 3)
            assert await asyncio.wait_for(r.read(), 2) == b"bye"
            w.close()
            await w.wait_closed()
            await asyncio.sleep(0.05)
            # the server's TIME-WAIT is a compact entry, no longer a connection
            states = sorted(str(c.state) for c in b.engine.connections())
            assert states == [] and len(b.engine.time_wait_keys()) == 1, states
