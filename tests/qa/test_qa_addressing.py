"""Where connections may go: transparent listeners, loopback to self, simultaneous open, hostnames."""
from __future__ import annotations

import asyncio

import pytest
from qa_support import A, B, two_stacks

import aionetstack


async def test_transparent_server_any_destination():
    la, lb = aionetstack.memory_link_pair()
    client = aionetstack.Stack(la, address=A + "/24", gateway=B)
    gw = aionetstack.Stack(lb, address=B + "/24")
    async with client, gw:
        seen = []

        async def cb(r, w):
            seen.append(w.get_extra_info("sockname"))
            w.write(b"hello from " + str(w.get_extra_info("sockname")).encode())
            await w.drain()
            w.close()
        await gw.start_server(cb, transparent=True)
        for dst, port in (("198.19.216.34", 443), ("198.19.1.3", 22), (B, 8080)):
            r, w = await asyncio.wait_for(client.open_connection(dst, port), 3)
            data = await asyncio.wait_for(r.read(), 3)
            assert data == b"hello from " + str((dst, port)).encode()
            assert w.get_extra_info("peername") == (dst, port)
            w.close()
        assert seen == [("198.19.216.34", 443), ("198.19.1.3", 22), (B, 8080)]


async def test_transparent_and_specific_listener_coexist():
    la, lb = aionetstack.memory_link_pair()
    client = aionetstack.Stack(la, address=A + "/24", gateway=B)
    gw = aionetstack.Stack(lb, address=B + "/24")
    async with client, gw:
        async def t_cb(r, w):
            w.write(b"T")
            w.close()

        async def s_cb(r, w):
            w.write(b"S")
            w.close()
        await gw.start_server(t_cb, transparent=True)
        await gw.start_server(s_cb, B, 80)
        r, _w = await client.open_connection(B, 80)
        assert await asyncio.wait_for(r.read(), 2) == b"S"
        r, _w = await client.open_connection("198.19.0.1", 80)
        assert await asyncio.wait_for(r.read(), 2) == b"T"


async def test_loopback_connect_to_self():
    async with two_stacks() as (a, _b):
        async def cb(r, w):
            w.write((await r.read(5))[::-1])
            await w.drain()
            w.close()
        await a.start_server(cb, A, 80)
        r, w = await asyncio.wait_for(a.open_connection(A, 80), 2)
        w.write(b"olleh")
        assert await asyncio.wait_for(r.read(), 2) == b"hello"
        rtt = await a.ping(A)
        assert rtt < 0.1


@pytest.mark.virtual_time
async def test_simultaneous_open():
    """RFC 9293 3.5 figure 8: both ends connect to each other at once."""
    async with two_stacks() as (a, b):
        t1 = asyncio.ensure_future(a.open_connection(B, 6000, local_addr=(A, 5000)))
        t2 = asyncio.ensure_future(b.open_connection(A, 5000, local_addr=(B, 6000)))
        (r1, w1), (r2, w2) = await asyncio.wait_for(asyncio.gather(t1, t2), 5)
        w1.write(b"ping")
        assert await asyncio.wait_for(r2.readexactly(4), 2) == b"ping"
        w2.write(b"pong")
        assert await asyncio.wait_for(r1.readexactly(4), 2) == b"pong"


async def test_getaddrinfo_style_hostnames_rejected_clearly():
    async with two_stacks() as (a, _b):
        with pytest.raises((ValueError, OSError)) as ei:
            await a.open_connection("localhost", 80)
        assert "localhost" in str(ei.value)
