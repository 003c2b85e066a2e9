"""A small user program on the public API, checked by ``mypy --strict``
(test_aio_typing.py) and run: the types asyncio's stubs would give."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from typing import assert_type

import aionetstack
from aionetstack import Link, Server, Stack, StackConfig, TcpInfo


class Greeter(asyncio.Protocol):
    def __init__(self) -> None:
        self.received = bytearray()
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.received += data

    def eof_received(self) -> bool:
        self.done.set_result(None)
        return False


async def names(host: str) -> Sequence[str]:
    return ["198.18.0.2"] if host == "server.test" else []


async def hello(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"hello " + await reader.readline())
    writer.close()


async def main() -> str:
    la, lb = aionetstack.memory_link_pair()
    link: Link = la
    client = Stack(link, "198.18.0.1/24", config=StackConfig(), resolver=names)
    async with client, Stack(lb, "198.18.0.2/24") as server_stack:
        server = await server_stack.start_server(hello, "198.18.0.2", 7)
        assert_type(server, Server)
        transport, protocol = await client.create_connection(Greeter, "server.test", 7)
        assert_type(protocol, Greeter)
        assert_type(transport, asyncio.Transport)
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        info = transport.get_extra_info("tcp_info")
        assert isinstance(info, TcpInfo)
        transport.write(b"typed\n")
        await protocol.done
        transport.close()
        server.close()
        stats = client.stats()
        assert_type(stats, dict[str, int])
        return protocol.received.decode()


if __name__ == "__main__":
    print(asyncio.run(main()))
