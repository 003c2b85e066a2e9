"""Dual-stack ``Stack``s over a memory link: IPv6 host strings wherever asyncio takes
them, 4-tuple socket addresses, ``create_server(host=None)`` for both families,
``family=``, ping and UDP over IPv6 (2001:2::/48 only)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

import aionetstack
from aionetstack.aio.addresses import parse_host, sockaddr

T = 10.0
A4, B4 = "198.18.0.1", "198.18.0.2"
A6, B6 = "2001:2::1", "2001:2::2"


async def dual_stacks() -> tuple[aionetstack.Stack, aionetstack.Stack]:
    la, lb = aionetstack.memory_link_pair()
    a = aionetstack.Stack(la, [f"{A4}/24", f"{A6}/64"])
    b = aionetstack.Stack(lb, [f"{B4}/24", f"{B6}/64"])
    await a.start()
    await b.start()
    return a, b


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
    writer.close()


def test_addresses_helpers() -> None:
    assert parse_host("2001:2::2") == (6, 0x2001_0002 << 96 | 2)
    assert parse_host("::") == (6, 0) and parse_host("0.0.0.0") == (4, 0)
    assert parse_host(None) is None
    assert sockaddr(0x2001_0002 << 96 | 2, 80) == ("2001:2::2", 80, 0, 0)
    assert sockaddr(0, 80, 6) == ("::", 80, 0, 0)
    assert sockaddr(0xC6120002, 80) == ("198.18.0.2", 80)
    with pytest.raises(ValueError):
        parse_host("2001:2::zz")


async def test_stack_takes_several_addresses_and_one_string_still() -> None:
    a, b = await dual_stacks()
    try:
        assert a.address == A4 and a.addresses == [A4, A6]
        engine = a.engine
        assert engine is not None
        assert engine.route(0x2001_0002 << 96 | 2).source == 0x2001_0002 << 96 | 1
    finally:
        await a.close()
        await b.close()
    la, _lb = aionetstack.memory_link_pair()
    only6 = aionetstack.Stack(la, "2001:2::7/64")
    assert only6.address == "2001:2::7"


async def test_stream_over_ipv6_with_four_tuple_names() -> None:
    a, b = await dual_stacks()
    try:
        async with await b.start_server(echo, B6, 8080), asyncio.timeout(T):
            reader, writer = await a.open_connection(B6, 8080)
            assert writer.get_extra_info("peername") == (B6, 8080, 0, 0)
            sockname = writer.get_extra_info("sockname")
            assert sockname[0] == A6 and len(sockname) == 4
            sock = writer.get_extra_info("socket")
            assert sock.family == socket.AF_INET6
            assert sock.getpeername() == (B6, 8080, 0, 0)
            data = bytes(range(256)) * 1000
            writer.write(data)
            await writer.drain()
            writer.write_eof()
            got = await reader.read(-1)
            assert got == data
            writer.close()
        stats = b.stats()
        assert stats["Ip6InReceives"] > 100 and stats["TcpPassiveOpens"] == 1
        assert stats["Ip6OutRequests"] > 10 and stats["IpOutRequests"] == 0  # counted apart
    finally:
        await a.close()
        await b.close()


async def test_server_for_every_address_serves_both_families() -> None:
    a, b = await dual_stacks()
    try:
        server = await b.start_server(echo, None, 0)
        async with server, asyncio.timeout(T):
            port = server.port
            names = sorted((s.family, s.getsockname()) for s in server.sockets)
            assert names == [
                (socket.AF_INET, ("0.0.0.0", port)),
                (socket.AF_INET6, ("::", port, 0, 0)),
            ]
            for host in (B4, B6):
                reader, writer = await a.open_connection(host, port)
                writer.write(host.encode())
                assert await reader.read(100) == host.encode()
                assert writer.get_extra_info("peername")[0] == host
                writer.close()
            # family= restricts a name's addresses; a wrong family is getaddrinfo's error
            with pytest.raises(socket.gaierror):
                await a.open_connection(B4, port, family=socket.AF_INET6)
            reader, writer = await a.open_connection(B6, port, family=socket.AF_INET6)
            writer.close()
        # a server of one family only
        server6 = await b.start_server(echo, None, 0, family=socket.AF_INET6)
        async with server6, asyncio.timeout(T):
            assert [s.getsockname()[0] for s in server6.sockets] == ["::"]
            with pytest.raises(ConnectionRefusedError):
                await a.open_connection(B4, server6.port)
            _reader, writer = await a.open_connection(B6, server6.port)
            writer.close()
    finally:
        await a.close()
        await b.close()


async def test_ping_both_families() -> None:
    a, b = await dual_stacks()
    try:
        async with asyncio.timeout(T):
            assert await a.ping(B4) >= 0.0
            assert await a.ping(B6) >= 0.0
            assert await b.ping(A6) >= 0.0
        assert b.stats()["Icmp6InEchos"] == 1 and b.stats()["Icmp6OutEchoReplies"] == 1
        assert a.stats()["Icmp6InEchoReplies"] == 1
    finally:
        await a.close()
        await b.close()


class Collect(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.items: asyncio.Queue[Any] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.items.put_nowait((data, addr))

    def error_received(self, exc: Exception) -> None:
        self.items.put_nowait(exc)


async def test_datagrams_over_ipv6() -> None:
    a, b = await dual_stacks()
    try:
        async with asyncio.timeout(T):
            st, sp = await b.create_datagram_endpoint(Collect, local_addr=("::", 5353))
            assert st.get_extra_info("sockname") == ("::", 5353, 0, 0)
            ct, cp = await a.create_datagram_endpoint(Collect, remote_addr=(B6, 5353))
            assert ct.get_extra_info("peername") == (B6, 5353, 0, 0)
            ct.sendto(b"ping")
            data, addr = await sp.items.get()
            assert data == b"ping" and addr[0] == A6 and len(addr) == 4
            st.sendto(b"pong", addr)  # the 4-tuple goes back as asyncio's does
            assert (await cp.items.get())[0] == b"pong"
            big = bytes(range(256)) * 20  # fragmented at the source, reassembled
            ct.sendto(big)
            assert (await sp.items.get())[0] == big
            # a connected endpoint to a closed port: error_received(ConnectionRefusedError)
            rt, rp = await a.create_datagram_endpoint(Collect, remote_addr=(B6, 9))
            rt.sendto(b"anyone?")
            assert isinstance(await rp.items.get(), ConnectionRefusedError)
            # family= for an endpoint without addresses
            ut, _up = await a.create_datagram_endpoint(Collect, family=socket.AF_INET6)
            ut.sendto(b"v6", (B6, 5353))
            assert (await sp.items.get())[0] == b"v6"
            with pytest.raises(ValueError):
                await a.create_datagram_endpoint(
                    Collect, remote_addr=(B4, 9), family=socket.AF_INET6
                )
            for t in (st, ct, rt, ut):
                t.close()
        assert b.stats()["Udp6InDatagrams"] == 3
    finally:
        await a.close()
        await b.close()


async def test_getaddrinfo_both_families() -> None:
    a, b = await dual_stacks()
    try:
        infos = await a.getaddrinfo(B6, 80, type=socket.SOCK_STREAM)
        assert infos == [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (B6, 80, 0, 0))]
        passive = await a.getaddrinfo(None, 80, flags=socket.AI_PASSIVE, type=socket.SOCK_STREAM)
        assert {info[0] for info in passive} == {socket.AF_INET, socket.AF_INET6}
        with pytest.raises(socket.gaierror):
            await a.getaddrinfo(B4, 80, family=socket.AF_INET6)
    finally:
        await a.close()
        await b.close()


def test_cli_takes_ipv6_addresses() -> None:
    from aionetstack.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(
        ["ping", "--address", "198.18.0.2/24,2001:2::2/64", "--kernel-address",
         "198.18.0.1/24, 2001:2:0::1/64", "--gateway", "2001:2::1", "2001:2::1"]
    )  # fmt: skip
    assert args.address == "198.18.0.2/24,2001:2::2/64"
    assert args.kernel_address == "198.18.0.1/24,2001:2::1/64"
    assert args.gateway == "2001:2::1" and args.host == "2001:2::1"
    with pytest.raises(SystemExit):
        parser.parse_args(["ping", "--address", "2001:2::2", "2001:2::1"])  # no prefix length
    with pytest.raises(SystemExit):
        parser.parse_args(["ping", "2001:2::zz"])
