"""Transparent UDP endpoints and the transparent-flow filters (issue 13).

Stack A is the client; stack B is the gateway. Addresses in 198.18.0.0/24 other
than B's own are on-link for A, so A sends them straight to B."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aio_support import A_ADDR, B_ADDR

from aionetstack.aio.datagram import TransparentDatagramProtocol
from aionetstack.core.verdict import Verdict

T = 10.0


class Collect(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.got: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()
        self.errors: list[Exception] = []

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.got.put_nowait((data, addr))

    def error_received(self, exc: Exception) -> None:
        self.errors.append(exc)


class Gateway(TransparentDatagramProtocol):
    """Answers each datagram from its original destination with ``dest|data``."""

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.seen: list[tuple[tuple[str, int], tuple[str, int]]] = []

    def datagram_received(  # type: ignore[override]
        self, data: bytes, addr: tuple[str, int], dest: tuple[str, int]
    ) -> None:
        self.seen.append((addr, dest))
        self.transport.sendto(f"{dest[0]}:{dest[1]}|".encode() + data, addr, source=dest)


@pytest.mark.virtual_time
async def test_transparent_udp_any_destination_and_reply_source(stacks: Any) -> None:
    a, b = stacks
    gw_transport, gw = await b.create_datagram_endpoint(Gateway, transparent=True)
    # a regular endpoint on B keeps its datagrams
    regular, reg = await b.create_datagram_endpoint(Collect, local_addr=(B_ADDR, 5353))
    client, cl = await a.create_datagram_endpoint(Collect, local_addr=(A_ADDR, 40000))
    async with asyncio.timeout(T):
        client.sendto(b"one", ("198.18.0.77", 53))
        client.sendto(b"two", (B_ADDR, 9999))  # our own address, unbound port
        client.sendto(b"three", (B_ADDR, 5353))  # bound: the regular endpoint
        assert await cl.got.get() == (b"198.18.0.77:53|one", ("198.18.0.77", 53))
        assert await cl.got.get() == (f"{B_ADDR}:9999|two".encode(), (B_ADDR, 9999))
        assert await reg.got.get() == (b"three", (A_ADDR, 40000))
    assert gw.seen == [((A_ADDR, 40000), ("198.18.0.77", 53)), ((A_ADDR, 40000), (B_ADDR, 9999))]
    assert gw_transport.get_extra_info("sockname") == ("0.0.0.0", 0)
    with pytest.raises(ValueError):
        regular.sendto(b"x", (A_ADDR, 1), source=(B_ADDR, 1))  # only transparent ones
    with pytest.raises(OSError):
        await b.create_datagram_endpoint(Gateway, transparent=True)  # one per stack
    gw_transport.close()
    await asyncio.sleep(0)
    # closed: the destination is not ours any more -> dropped, no answer
    before = b.stats()["IpInAddrErrors"]
    client.sendto(b"four", ("198.18.0.77", 53))
    await asyncio.sleep(0.5)
    assert cl.got.empty()
    assert b.stats()["IpInAddrErrors"] == before + 1
    for t in (regular, client):
        t.close()


@pytest.mark.virtual_time
async def test_plain_protocol_reads_last_destination(stacks: Any) -> None:
    a, b = stacks
    transport, proto = await b.create_datagram_endpoint(Collect, transparent=True)
    client, _ = await a.create_datagram_endpoint(Collect, local_addr=(A_ADDR, 40001))
    async with asyncio.timeout(T):
        client.sendto(b"x", ("198.18.0.66", 7))
        assert await proto.got.get() == (b"x", (A_ADDR, 40001))
    assert transport.last_destination == ("198.18.0.66", 7)
    transport.close()
    client.close()


@pytest.mark.virtual_time
async def test_datagram_filter_refuse_sends_port_unreachable(stacks: Any) -> None:
    a, b = stacks
    asked: list[tuple[tuple[str, int], tuple[str, int]]] = []

    def only_port_53(src: tuple[str, int], dst: tuple[str, int]) -> Verdict:
        asked.append((src, dst))
        if dst[1] == 53:
            return Verdict.ACCEPT
        return Verdict.REFUSE if dst[1] == 1 else Verdict.DROP

    transport, gw = await b.create_datagram_endpoint(
        Gateway, transparent=True, datagram_filter=only_port_53
    )
    async with asyncio.timeout(T):
        # connected client endpoints hear about ICMP errors (Linux semantics)
        refused, rp = await a.create_datagram_endpoint(Collect, remote_addr=("198.18.0.50", 1))
        refused.sendto(b"no")
        while not rp.errors:
            await asyncio.sleep(0.01)
        assert isinstance(rp.errors[0], ConnectionRefusedError)
        dropped, dp = await a.create_datagram_endpoint(Collect, remote_addr=("198.18.0.50", 2))
        dropped.sendto(b"silent")
        ok, op = await a.create_datagram_endpoint(Collect, remote_addr=("198.18.0.50", 53))
        ok.sendto(b"yes")
        assert (await op.got.get())[0] == b"198.18.0.50:53|yes"
    assert not dp.errors and dp.got.empty()
    assert [d for _, d in asked] == [("198.18.0.50", 1), ("198.18.0.50", 2), ("198.18.0.50", 53)]
    stats = b.stats()
    assert stats["UdpTransparentRefused"] == 1
    assert stats["UdpTransparentDropped"] == 1
    assert len(gw.seen) == 1
    for t in (transport, refused, dropped, ok):
        t.close()


@pytest.mark.virtual_time
async def test_syn_filter_accept_refuse_drop(stacks: Any) -> None:
    a, b = stacks
    asked: list[tuple[str, int]] = []

    def by_port(src: tuple[str, int], dst: tuple[str, int]) -> Verdict:
        asked.append(dst)
        return {80: Verdict.ACCEPT, 81: Verdict.REFUSE}.get(dst[1], Verdict.DROP)

    async def hello(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hi")
        writer.close()

    with pytest.raises(ValueError):
        await b.start_server(hello, B_ADDR, 1, syn_filter=by_port)  # transparent only
    server = await b.start_server(hello, transparent=True, syn_filter=by_port)
    async with asyncio.timeout(T):
        reader, writer = await a.open_connection("198.18.0.40", 80)
        assert await reader.read() == b"hi"
        writer.close()
        with pytest.raises(ConnectionRefusedError):
            await a.open_connection("198.18.0.40", 81)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(2.5):
            await a.open_connection("198.18.0.40", 82)
    stats = b.stats()
    assert stats["TcpTransparentRefused"] == 1
    assert stats["TcpTransparentDropped"] >= 2  # the SYN and its retransmission(s)
    assert asked[:2] == [("198.18.0.40", 80), ("198.18.0.40", 81)]
    assert set(asked[2:]) == {("198.18.0.40", 82)}
    assert b.engine is not None and b.engine.connection_count <= 1  # nothing kept for 82
    server.close()
