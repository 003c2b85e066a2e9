"""UDP datagram endpoints."""
from __future__ import annotations

import asyncio
import errno

import pytest
from qa_support import A, B, two_stacks


class U(asyncio.DatagramProtocol):
    def __init__(self):
        self.q = asyncio.Queue()
        self.errors = []
        self.lost = asyncio.get_running_loop().create_future()
        self.made = False

    def connection_made(self, t):
        self.made = True
        self.t = t

    def datagram_received(self, d, addr):
        self.q.put_nowait((d, addr))

    def error_received(self, exc):
        self.errors.append(exc)

    def connection_lost(self, exc):
        self.lost.set_result(exc)


async def test_udp_roundtrip_and_names():
    async with two_stacks() as (a, b):
        st, sp = await b.create_datagram_endpoint(U, local_addr=(B, 53))
        assert sp.made
        assert st.get_extra_info("sockname") == (B, 53)
        assert st.get_extra_info("peername") is None
        ct, cp = await a.create_datagram_endpoint(U, remote_addr=(B, 53))
        assert ct.get_extra_info("peername") == (B, 53)
        sock = ct.get_extra_info("sockname")
        assert sock[0] == A and sock[1] > 0
        ct.sendto(b"q1")
        d, addr = await asyncio.wait_for(sp.q.get(), 2)
        assert d == b"q1" and addr == sock
        st.sendto(b"a1", addr)
        d, addr2 = await asyncio.wait_for(cp.q.get(), 2)
        assert d == b"a1" and addr2 == (B, 53)
        with pytest.raises(TypeError):
            ct.sendto("str")
        with pytest.raises(ValueError):
            ct.sendto(b"x", (B, 54))
        ct.close()
        assert ct.is_closing()
        assert (await asyncio.wait_for(cp.lost, 1)) is None


async def test_udp_empty_and_large_datagram():
    async with two_stacks() as (a, b):
        _st, sp = await b.create_datagram_endpoint(U, local_addr=(B, 9))
        ct, cp = await a.create_datagram_endpoint(U, local_addr=(A, 0))
        ct.sendto(b"", (B, 9))
        d, _ = await asyncio.wait_for(sp.q.get(), 2)
        assert d == b""
        big = bytes(range(256)) * 200  # 51200 bytes: fragmented
        ct.sendto(big, (B, 9))
        d, _ = await asyncio.wait_for(sp.q.get(), 2)
        assert d == big
        assert b.stats()["IpReasmOKs"] == 1
        ct.sendto(b"x" * 70000, (B, 9))
        await asyncio.sleep(0.01)
        assert cp.errors and cp.errors[-1].errno == errno.EMSGSIZE


async def test_udp_port_unreachable_connected_only():
    async with two_stacks() as (a, b):
        ct, cp = await a.create_datagram_endpoint(U, remote_addr=(B, 9999))
        ut, up = await a.create_datagram_endpoint(U, local_addr=(A, 0))
        ct.sendto(b"x")
        ut.sendto(b"y", (B, 9999))
        await asyncio.sleep(0.05)
        assert len(cp.errors) == 1 and isinstance(cp.errors[0], ConnectionRefusedError)
        assert up.errors == []
        assert b.stats()["UdpNoPorts"] == 2


async def test_udp_broadcast_requires_flag():
    async with two_stacks() as (a, b):
        with pytest.raises(PermissionError):
            await a.create_datagram_endpoint(U, remote_addr=("198.18.0.255", 9))
        ut, up = await a.create_datagram_endpoint(U, local_addr=(A, 0))
        ut.sendto(b"y", ("198.18.0.255", 9))
        await asyncio.sleep(0)
        assert up.errors and isinstance(up.errors[0], PermissionError)
        _st, sp = await b.create_datagram_endpoint(U, local_addr=("0.0.0.0", 9))
        bt, _bp = await a.create_datagram_endpoint(U, local_addr=(A, 0), allow_broadcast=True)
        bt.sendto(b"all", ("198.18.0.255", 9))
        d, addr = await asyncio.wait_for(sp.q.get(), 2)
        assert d == b"all" and addr[0] == A


async def test_udp_unconnected_sendto_without_addr():
    async with two_stacks() as (a, _b):
        ut, up = await a.create_datagram_endpoint(U, local_addr=(A, 0))
        ut.sendto(b"x")
        assert up.errors and up.errors[0].errno == errno.EDESTADDRREQ


async def test_udp_flood_receive_buffer():
    """A flood beyond the receive buffer is dropped and counted, never raised."""
    from aionetstack.core.config import StackConfig
    async with two_stacks(StackConfig(recv_buffer=64 * 1024)) as (a, b):
        class Slow(U):
            pass
        _st, sp = await b.create_datagram_endpoint(U, local_addr=(B, 9))
        ct, _cp = await a.create_datagram_endpoint(U, remote_addr=(B, 9))
        for i in range(3000):
            ct.sendto(i.to_bytes(4, "big") * 100)
        await asyncio.sleep(0.1)
        n = sp.q.qsize()
        s = b.stats()
        assert n + s["UdpRcvbufErrors"] + s["DropUdpRcvbuf"] >= 3000 or n == 3000
        got = [int.from_bytes(sp.q.get_nowait()[0][:4], "big") for _ in range(n)]
        assert got == sorted(got)


async def test_udp_close_with_stack():
    async with two_stacks() as (a, _b):
        ut, up = await a.create_datagram_endpoint(U, local_addr=(A, 0))
    assert ut.is_closing()
    assert up.lost.done()
