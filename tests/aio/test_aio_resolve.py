"""asyncio's parameters and name resolution on a Stack (issue 14): the
``resolver`` hook, the DNS stub resolver over the stack (answered here by a
small DNS server on the peer stack; tests/tun runs it against dnsmasq)."""

from __future__ import annotations

import asyncio
import errno
import socket
import struct
from collections.abc import Sequence
from typing import Any

import pytest
from aio_support import A_ADDR, B_ADDR, make_stacks

import aionetstack
from aionetstack.aio.resolver import DnsResolver
from aionetstack.core.config import StackConfig
from aionetstack.core.tcp.connection import TcpConnection
from aionetstack.wire.addr import int_to_ip
from aionetstack.wire.dns import RCODE_NXDOMAIN, TYPE_A, TYPE_AAAA, build_response, parse_response

T = 10.0
C_ADDR = "198.18.0.3"  # nobody: SYNs to it are lost


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(await reader.read(100))
    writer.close()


def table(names: dict[str, list[str]]) -> Any:
    async def resolver(host: str) -> Sequence[str]:
        await asyncio.sleep(0)
        return names[host]

    return resolver


async def stacks_with(resolver: Any = None, config: StackConfig | None = None) -> Any:
    """Stack A (with ``resolver`` / ``config``) and stack B on a memory link."""
    la, lb = aionetstack.memory_link_pair()
    a = aionetstack.Stack(la, f"{A_ADDR}/24", config=config, resolver=resolver)
    b = aionetstack.Stack(lb, f"{B_ADDR}/24")
    await a.start()
    await b.start()
    return a, b


async def test_resolver_hook_names_a_server() -> None:
    a, b = await stacks_with(table({"server.test": [B_ADDR]}))
    try:
        async with await b.start_server(echo, B_ADDR, 7), asyncio.timeout(T):
            reader, writer = await a.open_connection("server.test", 7)
            assert writer.get_extra_info("peername") == (B_ADDR, 7)
            writer.write(b"hi")
            assert await reader.read() == b"hi"
            assert await a.resolve("server.test") == [B_ADDR]
            assert await a.resolve(B_ADDR) == [B_ADDR]  # literals never reach the hook
            assert await a.ping("server.test") >= 0.0
            infos = await a.getaddrinfo("server.test", "80", type=socket.SOCK_STREAM)
            assert infos == [
                (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (B_ADDR, 80))
            ]
            with pytest.raises(socket.gaierror):
                await a.resolve("server.test", flags=socket.AI_NUMERICHOST)
    finally:
        await a.close()
        await b.close()


async def test_without_resolution_the_error_says_how(stacks: Any) -> None:
    a, _ = stacks
    with pytest.raises(socket.gaierror) as info:
        await a.open_connection("localhost", 80)
    assert info.value.errno == socket.EAI_NONAME
    assert "resolver=" in str(info.value) and "nameservers" in str(info.value)


async def test_bad_resolver_answers() -> None:
    a, b = await stacks_with(table({"bad.test": ["not-an-ip"], "none.test": []}))
    try:
        with pytest.raises(socket.gaierror) as info:
            await a.resolve("bad.test")
        assert info.value.errno == socket.EAI_FAIL
        with pytest.raises(socket.gaierror) as info:
            await a.resolve("none.test")
        assert info.value.errno == socket.EAI_NODATA
    finally:
        await a.close()
        await b.close()


async def test_addresses_in_turn_and_happy_eyeballs() -> None:
    a, b = await stacks_with(
        table({"refused.test": [B_ADDR, B_ADDR], "lossy.test": [C_ADDR, B_ADDR]})
    )
    try:
        async with await b.start_server(echo, B_ADDR, 7), asyncio.timeout(T):
            # every address refuses: one error when they agree, all with all_errors
            with pytest.raises(ConnectionRefusedError):
                await a.open_connection("refused.test", 9)
            with pytest.raises(ExceptionGroup) as group:
                await a.open_connection("refused.test", 9, all_errors=True)
            assert len(group.value.exceptions) == 2
            # the first address is a black hole: the second, 0.1 s later, wins
            loop = asyncio.get_running_loop()
            opens = a.stats()["TcpActiveOpens"]
            start = loop.time()
            _, writer = await a.open_connection(
                "lossy.test", 7, happy_eyeballs_delay=0.1, interleave=1
            )
            assert writer.get_extra_info("peername") == (B_ADDR, 7)
            assert loop.time() - start < a.config.rto_initial  # not after a SYN timeout
            # the losing attempt was cancelled: its half-open connection is gone
            await asyncio.sleep(0)
            losers = [c for c in a.engine.connections() if int_to_ip(c.remote_addr) == C_ADDR]
            assert a.stats()["TcpActiveOpens"] - opens == 2  # both attempts started
            assert losers == []  # the loser aborted and out of the demux table
            writer.close()
    finally:
        await a.close()
        await b.close()


async def test_asyncio_parameters(stacks: Any) -> None:
    a, b = stacks
    with pytest.raises(ValueError, match="sock"):
        await a.create_connection(asyncio.Protocol, sock=socket.socket())
    with pytest.raises(ValueError, match="sock"):
        await b.create_server(asyncio.Protocol, sock=object())
    # an IPv4 address asked for as IPv6: getaddrinfo's error, as asyncio
    with pytest.raises(socket.gaierror) as gai:
        await a.create_connection(asyncio.Protocol, B_ADDR, 7, family=socket.AF_INET6)
    assert gai.value.errno == socket.EAI_ADDRFAMILY
    with pytest.raises(OSError) as info:
        await a.create_connection(asyncio.Protocol, B_ADDR, 7, family=socket.AF_UNIX)
    assert info.value.errno == errno.EAFNOSUPPORT
    with pytest.raises(ValueError, match="reuse_port"):
        await b.create_server(asyncio.Protocol, B_ADDR, 7, reuse_port=True)
    with pytest.raises(ValueError, match="host and port"):
        await a.create_connection(asyncio.Protocol)
    accepted: asyncio.Queue[asyncio.BaseTransport] = asyncio.Queue()

    class Keep(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            accepted.put_nowait(transport)

    server = await b.create_server(
        Keep,
        B_ADDR,
        None,
        family=socket.AF_INET,
        reuse_address=True,
        reuse_port=False,
        keep_alive=True,
        backlog=5,
    )
    async with server, asyncio.timeout(T):
        transport, protocol = await a.create_connection(
            asyncio.Protocol,
            B_ADDR,
            server.port,
            family=socket.AF_INET,
            proto=socket.IPPROTO_TCP,
            flags=socket.AI_NUMERICHOST,
            local_addr=(A_ADDR, 0),
        )
        assert type(protocol) is asyncio.Protocol
        served = await accepted.get()
        conn: TcpConnection = served.get_extra_info("connection")
        assert conn.config.keepalive  # keep_alive=True
        assert served.get_extra_info("socket").getsockopt(
            socket.SOL_SOCKET, socket.SO_KEEPALIVE
        )
        assert not transport.get_extra_info("connection").config.keepalive
        transport.close()


async def test_stats_after_close() -> None:
    a, b = await make_stacks()
    server = await b.start_server(echo, B_ADDR, 7)
    async with asyncio.timeout(T):
        reader, writer = await a.open_connection(B_ADDR, 7)
        writer.write(b"x")
        await reader.read()
    server.close()
    before = a.stats()
    await a.close()
    await b.close()
    after = a.stats()
    assert after["TcpActiveOpens"] == before["TcpActiveOpens"] == 1
    assert after["TcpOutSegs"] >= before["TcpOutSegs"] > 0  # the final counts, RSTs included
    assert after.keys() == before.keys()


class DnsServer(asyncio.DatagramProtocol):
    """A tiny authoritative server on the peer stack (UDP and TCP, port 53)."""

    def __init__(self, zone: dict[str, list[str]], *, truncate: bool = False) -> None:
        self.zone = zone
        self.truncate = truncate
        self.udp = 0
        self.tcp = 0
        self.asked: list[tuple[str, int]] = []
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def answer(self, query: bytes) -> bytes:
        question = parse_response(
            bytes([query[0], query[1], query[2] | 0x80]) + query[3:]
        )  # the question, read with the response parser
        name, qtype = question.qname, question.qtype
        self.asked.append((name, qtype))
        if name not in self.zone:
            return build_response(query, rcode=RCODE_NXDOMAIN)
        ips = [ip for ip in self.zone[name] if (":" in ip) == (qtype == TYPE_AAAA)]
        return build_response(query, [(name, qtype, 30, ip) for ip in ips])

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.udp += 1
        if self.truncate:
            self.transport.sendto(build_response(data, truncated=True), addr)
        else:
            self.transport.sendto(self.answer(data), addr)

    async def serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.tcp += 1
        (n,) = struct.unpack("!H", await reader.readexactly(2))
        reply = self.answer(await reader.readexactly(n))
        writer.write(struct.pack("!H", len(reply)) + reply)
        await writer.drain()
        writer.close()


async def test_dns_resolver_over_the_stack() -> None:
    cfg = StackConfig(nameservers=[C_ADDR, B_ADDR], resolver_timeout=0.3, resolver_attempts=2)
    a, b = await stacks_with(config=cfg)
    try:
        assert isinstance(a.resolver, DnsResolver)
        zone = {"www.example.test": ["198.18.0.2", "198.18.0.20"]}
        dns = DnsServer(zone)
        await b.create_datagram_endpoint(lambda: dns, local_addr=(B_ADDR, 53))
        async with await b.start_server(echo, B_ADDR, 7), asyncio.timeout(T):
            # the first server (C) never answers: after 0.3 s the second does
            _, writer = await a.open_connection("www.example.test", 7)
            assert writer.get_extra_info("peername") == (B_ADDR, 7)
            writer.close()
            assert dns.udp == 1 and a.resolver.queries == 2
            # cached for its TTL: no new query
            assert await a.resolve("WWW.example.test.") == zone["www.example.test"]
            assert dns.udp == 1
            with pytest.raises(socket.gaierror) as info:
                await a.resolve("missing.example.test")
            assert info.value.errno == socket.EAI_NONAME
            # truncated over UDP: asked again over TCP
            dns.truncate = True
            srv = await b.start_server(dns.serve_tcp, B_ADDR, 53)
            zone["big.example.test"] = [f"198.18.1.{i}" for i in range(1, 41)]
            assert await a.resolve("big.example.test") == zone["big.example.test"]
            assert dns.tcp == 1 and a.resolver.tcp_queries == 1
            srv.close()
    finally:
        await a.close()
        await b.close()


async def test_dns_resolver_gives_up_with_eai_again() -> None:
    cfg = StackConfig(nameservers=[C_ADDR], resolver_timeout=0.1, resolver_attempts=2)
    a, b = await stacks_with(config=cfg)
    try:
        async with asyncio.timeout(T):
            with pytest.raises(socket.gaierror) as info:
                await a.resolve("www.example.test")
        assert info.value.errno == socket.EAI_AGAIN
        assert a.resolver.queries == 2  # attempts x servers
    finally:
        await a.close()
        await b.close()


def test_nameservers_are_addresses() -> None:
    with pytest.raises(ValueError, match="nameservers"):
        StackConfig(nameservers=["dns.example"])
    with pytest.raises(ValueError, match="nameservers"):
        StackConfig(nameservers=["2001:2::zz"])
    servers = StackConfig(nameservers=["198.18.0.1", "2001:2::1"]).nameservers
    assert servers == ("198.18.0.1", "2001:2::1")


async def test_dns_resolver_asks_aaaa_on_a_dual_stack() -> None:
    """A dual-stack stack asks A and AAAA (RFC 3596), here of an IPv6 name
    server; the IPv6 addresses come first and are connected to first."""
    b4, b6 = B_ADDR, "2001:2::2"
    cfg = StackConfig(nameservers=[b6], resolver_timeout=1.0)
    la, lb = aionetstack.memory_link_pair()
    a = aionetstack.Stack(la, [f"{A_ADDR}/24", "2001:2::1/64"], config=cfg)
    b = aionetstack.Stack(lb, [f"{b4}/24", f"{b6}/64"])
    await a.start()
    await b.start()
    try:
        zone = {"dual.test": [b4, b6], "v4only.test": [b4], "v6only.test": [b6]}
        dns = DnsServer(zone)
        await b.create_datagram_endpoint(lambda: dns, local_addr=("::", 53))
        async with await b.start_server(echo, None, 7), asyncio.timeout(T):
            assert await a.resolve("dual.test") == [b6, b4]
            assert sorted(dns.asked) == [("dual.test", TYPE_A), ("dual.test", TYPE_AAAA)]
            _, writer = await a.open_connection("dual.test", 7)
            assert writer.get_extra_info("peername") == (b6, 7, 0, 0)
            writer.close()
            infos = await a.getaddrinfo("dual.test", 7, family=socket.AF_INET)
            assert [info[4] for info in infos] == [(b4, 7)] * 2  # stream and datagram
            assert len(dns.asked) == 2  # cached
            # one family has nothing (NODATA): the other's answer
            assert await a.resolve("v4only.test") == [b4]
            assert await a.resolve("v6only.test") == [b6]
            with pytest.raises(socket.gaierror) as info:
                await a.resolve("missing.test")
            assert info.value.errno == socket.EAI_NONAME
    finally:
        await a.close()
        await b.close()
