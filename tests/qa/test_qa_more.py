"""More user-level expectations."""
from __future__ import annotations

import array
import asyncio
import errno
import time

import pytest
from qa_support import A, B, two_stacks
from scapy.layers.inet import ICMP, IP, TCP  # type: ignore

import aionetstack
from aionetstack.core.config import StackConfig


async def _server_collect(b, port=80):
    got = asyncio.get_running_loop().create_future()

    async def cb(r, w):
        got.set_result(await r.read())
        w.close()
    await b.start_server(cb, B, port)
    return got


async def test_write_copies_mutable_buffers():
    async with two_stacks() as (a, b):
        got = await _server_collect(b)
        _r, w = await a.open_connection(B, 80)
        ba = bytearray(b"a" * 5000)
        w.write(ba)
        ba[:] = b"b" * 5000
        mv_src = bytearray(b"c" * 10)
        w.write(memoryview(mv_src))
        mv_src[:] = b"d" * 10
        w.write_eof()
        assert await asyncio.wait_for(got, 2) == b"a" * 5000 + b"c" * 10


async def test_write_non_byte_memoryview():
    """memoryview of an int array: 12 bytes, not 3 items (CPython sends 12)."""
    async with two_stacks() as (a, b):
        got = await _server_collect(b)
        _r, w = await a.open_connection(B, 80)
        arr = array.array("i", [1, 2, 3])
        w.write(memoryview(arr))
        w.write(b"end")
        w.write_eof()
        data = await asyncio.wait_for(got, 2)
        assert data == arr.tobytes() + b"end"


async def test_server_port_zero_ephemeral():
    async with two_stacks() as (a, b):
        srv = await b.create_server(asyncio.Protocol, B, 0)
        port = srv.sockets[0].getsockname()[1]
        assert 1024 <= port <= 65535
        t, _p = await a.create_connection(asyncio.Protocol, B, port)
        t.close()
        srv2 = await b.create_server(asyncio.Protocol, None, 0)
        assert srv2.sockets[0].getsockname()[1] != port


async def test_icmp_host_unreach_during_connect():
    """ICMP host unreachable in SYN-SENT is a soft error reported on timeout."""
    cfg = StackConfig(syn_retries=1, rto_initial=0.1)
    la, lb = aionetstack.memory_link_pair()
    a = aionetstack.Stack(la, address=A + "/24", config=cfg)
    async with a:
        task = asyncio.ensure_future(a.open_connection(B, 80))
        syn = IP(await asyncio.wait_for(lb.recv(), 1))
        assert syn[TCP].flags == "S"
        lb.send(bytes(IP(src=B, dst=A) / ICMP(type=3, code=1) / bytes(syn)[:28]))
        t0 = time.monotonic()
        with pytest.raises(OSError) as ei:
            await asyncio.wait_for(task, 3)
        print(repr(ei.value), time.monotonic() - t0)
        assert ei.value.errno in (errno.ETIMEDOUT, errno.EHOSTUNREACH)
        assert "no route" in str(ei.value).lower() or ei.value.errno == errno.EHOSTUNREACH


async def test_icmp_frag_needed_lowers_mss():
    """PMTUD: ICMP frag-needed with next-hop MTU 576 -> segments shrink, data still flows."""
    la, lb = aionetstack.memory_link_pair()
    a = aionetstack.Stack(la, address=A + "/24")
    async with a:
        asyncio.get_running_loop().create_future()
        task = asyncio.ensure_future(a.open_connection(B, 80))
        syn = IP(await asyncio.wait_for(lb.recv(), 1))
        isn = 5000
        lb.send(bytes(IP(src=B, dst=A) / TCP(sport=80, dport=syn[TCP].sport, flags="SA", seq=isn,
                                             ack=syn[TCP].seq + 1, window=65535, options=[("MSS", 1460)])))
        _r, w = await asyncio.wait_for(task, 1)
        IP(await lb.recv())
        w.write(b"z" * 3000)
        seg = IP(await lb.recv())
        while not len(seg[TCP].payload):
            seg = IP(await lb.recv())
        assert len(seg) == 1500 or len(seg[TCP].payload) > 1000
        lb.send(bytes(IP(src=B, dst=A) / ICMP(type=3, code=4, nexthopmtu=576) / bytes(seg)[:28]))
        await asyncio.sleep(0.01)
        info = w.get_extra_info("tcp_info")
        assert info.snd_mss <= 576 - 40, info.snd_mss


async def test_timer_churn_bulk_transfer():
    """One call_at handle re-armed only when the deadline moves earlier: arms << packets."""
    async with two_stacks() as (a, b):
        got = await _server_collect(b)
        _r, w = await a.open_connection(B, 80)
        a0, b0 = a.timer_arms, b.timer_arms
        w.write(b"t" * (8 << 20))
        w.write_eof()
        await asyncio.wait_for(got, 5)
        segs = a.stats()["TcpOutSegs"]
        print(f"arms a={a.timer_arms-a0} b={b.timer_arms-b0} segs={segs} fires a={a.timer_fires} b={b.timer_fires}")
        assert a.timer_arms - a0 < segs / 20
        assert b.timer_arms - b0 < segs / 20


@pytest.mark.parametrize("mtu", [1500, 9000, 65535])
async def test_throughput_numbers(mtu):
    async with two_stacks(mtu=mtu) as (a, b):
        got = await _server_collect(b)
        _r, w = await a.open_connection(B, 80)
        n = 32 << 20
        t = time.perf_counter()
        chunk = b"u" * (1 << 20)
        for _ in range(n >> 20):
            w.write(chunk)
            await w.drain()
        w.write_eof()
        data = await asyncio.wait_for(got, 9)
        dt = time.perf_counter() - t
        assert len(data) == n
        print(f"MTU {mtu}: {n/dt/1e6:.0f} MB/s one way")


async def test_connect_rate():
    async with two_stacks() as (a, b):
        await b.create_server(asyncio.Protocol, B, 80, backlog=4096)
        n = 500
        t = time.perf_counter()
        for _ in range(n):
            tr, _p = await a.create_connection(asyncio.Protocol, B, 80)
            tr.close()
        dt = time.perf_counter() - t
        print(f"sequential connect+close: {dt/n*1e6:.0f} us each")
        assert b.stats()["TcpPassiveOpens"] == n
        assert a.stats()["TcpAttemptFails"] == 0


async def test_getaddrinfo_style_hostnames_rejected_clearly():
    async with two_stacks() as (a, _b):
        with pytest.raises((ValueError, OSError)) as ei:
            await a.open_connection("localhost", 80)
        assert "localhost" in str(ei.value)
