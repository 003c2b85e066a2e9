"""The driver and objects nobody owns: they never complete a ping."""

from __future__ import annotations

import asyncio

import aionetstack
from aionetstack.wire.addr import ip_to_int
from aionetstack.wire.icmp import HOST_UNREACH, build_dest_unreachable
from aionetstack.wire.ipv4 import PROTO_ICMP, build_ipv4, parse_ipv4

A = "198.18.0.1"
PEER = "198.18.0.2"


async def test_an_unowned_ping_with_an_icmp_error_resolves_nothing() -> None:
    """An echo request the engine sent for no Stack.ping (no _PingWaiter) that
    comes back with an ICMP error must not complete a pending ping future as a
    success (the driver once matched unowned objects by ident/sequence)."""
    la, peer = aionetstack.memory_link_pair()
    stack = aionetstack.Stack(la, address=f"{A}/24")
    async with stack:
        loop = asyncio.get_running_loop()
        ident, seq = 0x1234, 7
        pending: asyncio.Future[float] = loop.create_future()
        stack._pings[(ident, seq)] = pending  # as if Stack.ping awaited this key
        request = stack.engine.ping(ip_to_int(PEER), ident, seq, b"x" * 16, now=loop.time())
        stack._driver.mark_dirty()
        async with asyncio.timeout(5):
            echo = await peer.recv()
        header, _ = parse_ipv4(echo)
        assert header.protocol == PROTO_ICMP
        error = build_dest_unreachable(HOST_UNREACH, echo)
        peer.send(build_ipv4(ip_to_int(PEER), ip_to_int(A), PROTO_ICMP, error))
        for _ in range(20):
            await asyncio.sleep(0)
            if request.done:
                break
        assert request.done and request.error is not None
        await asyncio.sleep(0)
        assert not pending.done()
        del stack._pings[(ident, seq)]
