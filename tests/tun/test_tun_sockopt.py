"""StackSocket's TCP_INFO layout checked against the kernel's: both ends of
one connection across a TUN device report the same bytes at the same offsets
of ``struct tcp_info`` (private namespace only)."""

from __future__ import annotations

import asyncio
import socket
import struct
from typing import Any

from tun_helpers import STACK_ADDRESS, KernelServer, recv_all

import aionetstack
from aionetstack.aio.sockopt import TCP_INFO_FORMAT
from aionetstack.link.tun import TunLink

TCP_INFO = 11
SIZE = struct.calcsize(TCP_INFO_FORMAT)
STATE, SND_MSS, RCV_MSS, BYTES_ACKED, BYTES_RECEIVED = 0, 10, 11, 34, 35
N = 100_000


def kernel_info(conn: socket.socket) -> tuple[Any, ...]:
    """Read N bytes, then the kernel's own tcp_info, parsed with our format."""
    got = 0
    while got < N:
        data = conn.recv(1 << 16)
        assert data
        got += len(data)
    raw = conn.getsockopt(socket.IPPROTO_TCP, TCP_INFO, SIZE)
    assert len(raw) == SIZE  # the kernel's struct is at least this long
    fields = struct.unpack(TCP_INFO_FORMAT, raw)
    conn.sendall(b"k")
    recv_all(conn)  # stay open (ESTABLISHED on both ends) until the stack closes
    return fields


async def test_tcp_info_layout_matches_the_kernel(tun: TunLink) -> None:
    server = KernelServer(kernel_info)
    try:
        async with aionetstack.Stack(tun, STACK_ADDRESS) as stack, asyncio.timeout(60):
            reader, writer = await stack.open_connection(server.sock.getsockname()[0], server.port)
            writer.write(bytes(N))
            await writer.drain()
            assert await reader.readexactly(1) == b"k"
            ours = struct.unpack(
                TCP_INFO_FORMAT,
                writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, TCP_INFO, SIZE),
            )
            writer.close()
            theirs = await asyncio.to_thread(server.result, 30)
        assert ours[STATE] == theirs[STATE] == 1  # TCP_ESTABLISHED
        # what we sent and had acknowledged is what the kernel received
        assert ours[BYTES_ACKED] == theirs[BYTES_RECEIVED] == N
        # one MSS each way: the kernel's send MSS is the one we advertised
        assert theirs[SND_MSS] == ours[RCV_MSS] - 12  # minus the timestamp option
    finally:
        server.close()
