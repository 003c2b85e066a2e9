"""What the relay's splice relies on from a stack transport when the other
side delivers small pieces (a proxy copying 1 KiB at a time): writes within
one loop iteration leave as full segments, even with Nagle off, and a lone
small write leaves in the same iteration (no added latency)."""

from __future__ import annotations

import asyncio
import math
import socket
from collections.abc import AsyncIterator

import pytest

import aionetstack

T = 10.0


class Sink(asyncio.Protocol):
    def __init__(self) -> None:
        self.data = bytearray()

    def data_received(self, data: bytes) -> None:
        self.data += data


@pytest.fixture
async def pair() -> AsyncIterator[tuple[aionetstack.Stack, asyncio.Transport, Sink]]:
    la, lb = aionetstack.memory_link_pair()
    a = aionetstack.Stack(la, address="198.18.5.1/24")
    b = aionetstack.Stack(lb, address="198.18.5.2/24")
    for stack in (a, b):
        await stack.start()
    sink = Sink()
    server = await b.create_server(lambda: sink, "198.18.5.2", 80)
    transport, _ = await a.create_connection(asyncio.Protocol, "198.18.5.2", 80)
    # Nagle off: only the per-iteration flush can join the writes
    transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    await asyncio.sleep(0.05)  # the handshake's last ACK, any window update
    yield a, transport, sink
    transport.close()
    server.close()
    for stack in (a, b):
        await stack.close()


async def test_writes_in_one_iteration_leave_as_full_segments(
    pair: tuple[aionetstack.Stack, asyncio.Transport, Sink],
) -> None:
    stack, transport, sink = pair
    before = stack.stats()["TcpOutSegs"]
    pieces = [bytes([i]) * 1024 for i in range(10)]  # 10 KiB: within the initial window
    for piece in pieces:  # as the splice does, one write per piece read
        transport.write(piece)
    async with asyncio.timeout(T):
        while len(sink.data) < 10240:
            await asyncio.sleep(0.01)
    assert bytes(sink.data) == b"".join(pieces)
    mss = transport.get_extra_info("tcp_info").snd_mss
    full = mss - 12  # the timestamp option in every segment
    # 8 segments (7 full ones and the tail), not one per write
    assert stack.stats()["TcpOutSegs"] - before == math.ceil(10240 / full)


async def test_a_lone_small_write_leaves_in_the_same_iteration(
    pair: tuple[aionetstack.Stack, asyncio.Transport, Sink],
) -> None:
    stack, transport, sink = pair
    before = stack.stats()["TcpOutSegs"]
    transport.write(b"ping")
    await asyncio.sleep(0)  # one loop iteration: the flush scheduled by the write
    assert stack.stats()["TcpOutSegs"] - before == 1
    async with asyncio.timeout(T):
        while bytes(sink.data) != b"ping":
            await asyncio.sleep(0.01)
