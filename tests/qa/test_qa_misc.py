"""Assorted TCP behaviours a user relies on."""
from __future__ import annotations

import asyncio
import errno
import os
import ssl
import subprocess
import time

import pytest
from qa_support import A, B, two_stacks

import aionetstack
from aionetstack.core.config import StackConfig


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


async def test_local_addr_and_port_conflict():
    async with two_stacks() as (a, b):
        await b.create_server(asyncio.Protocol, B, 80)
        t, _p = await a.create_connection(asyncio.Protocol, B, 80, local_addr=(A, 5555))
        assert t.get_extra_info("sockname") == (A, 5555)
        # same 4-tuple again
        with pytest.raises(OSError) as ei:
            await a.create_connection(asyncio.Protocol, B, 80, local_addr=(A, 5555))
        assert ei.value.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL)
        # a different destination port from the same local port is fine (Linux allows with reuse)
        with pytest.raises(OSError) as ei:
            await a.create_connection(asyncio.Protocol, B, 80, local_addr=("198.19.0.9", 0))
        assert ei.value.errno == errno.EADDRNOTAVAIL


async def test_ephemeral_port_exhaustion():
    cfg = StackConfig(ephemeral_port_low=40000, ephemeral_port_high=40004)
    async with two_stacks(cfg) as (a, b):
        await b.create_server(asyncio.Protocol, B, 80)
        ts = []
        for _i in range(5):
            t, _p = await a.create_connection(asyncio.Protocol, B, 80)
            ts.append(t)
        with pytest.raises(OSError) as ei:
            await asyncio.wait_for(a.create_connection(asyncio.Protocol, B, 80), 2)
        assert ei.value.errno == errno.EADDRNOTAVAIL
        # different destination port: same ports reusable (unique 4-tuple)
        await b.create_server(asyncio.Protocol, B, 81)
        t, _p = await a.create_connection(asyncio.Protocol, B, 81)
        assert t.get_extra_info("sockname")[1] in range(40000, 40005)


@pytest.mark.virtual_time
async def test_retries2_timeout_on_dead_peer():
    cfg = StackConfig(retries2=3, rto_min=0.05, rto_initial=0.05)
    async with two_stacks(cfg) as (a, b):
        lost = asyncio.get_running_loop().create_future()

        class P(asyncio.Protocol):
            def connection_lost(self, exc):
                lost.set_result(exc)
        await b.create_server(asyncio.Protocol, B, 80)
        t, _p = await a.create_connection(P, B, 80)
        await asyncio.sleep(0.05)
        b.link.close()  # peer vanishes
        t0 = time.monotonic()
        t.write(b"x" * 100)
        exc = await asyncio.wait_for(lost, 5)
        assert isinstance(exc, TimeoutError) and exc.errno == errno.ETIMEDOUT
        print("retries2=3 gave up after", time.monotonic() - t0)


@pytest.mark.virtual_time
async def test_keepalive_detects_dead_peer():
    cfg = StackConfig(keepalive=True, keepalive_idle=0.6, keepalive_interval=0.1, keepalive_count=3)
    async with two_stacks(cfg) as (a, b):
        lost = asyncio.get_running_loop().create_future()

        class P(asyncio.Protocol):
            def connection_lost(self, exc):
                lost.set_result(exc)
        await b.create_server(asyncio.Protocol, B, 80)
        _t, _p = await a.create_connection(P, B, 80)
        # keepalive keeps a live connection alive
        await asyncio.sleep(1.5)
        assert not lost.done()
        b.link.close()
        exc = await asyncio.wait_for(lost, 3)
        assert isinstance(exc, TimeoutError)


async def test_peer_reset_after_data_reader_gets_data_then_error():
    async with two_stacks() as (a, b):
        async def cb(r, w):
            w.write(b"partial")
            await w.drain()
            await asyncio.sleep(0.05)
            w.transport.abort()
        await b.start_server(cb, B, 80)
        r, w = await a.open_connection(B, 80)
        assert await asyncio.wait_for(r.readexactly(7), 2) == b"partial"
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(r.read(), 2)
        # write after reset must not raise synchronously in write()
        w.write(b"more")
        with pytest.raises(ConnectionResetError):
            await w.drain()


async def test_data_after_close_triggers_rst():
    """close() with unread data / data arriving later -> RST (Linux)."""
    async with two_stacks() as (a, b):
        got = asyncio.get_running_loop().create_future()

        class P(asyncio.Protocol):
            def connection_made(self, t):
                got.set_result(t)
        await b.create_server(P, B, 80)
        r, w = await a.open_connection(B, 80)
        st = await got
        st.close()
        await asyncio.sleep(0.05)
        w.write(b"late data")
        await asyncio.sleep(0.05)
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(r.read(), 2)


async def test_server_close_resets_unaccepted():
    async with two_stacks() as (a, b):
        srv = await b.start_server(lambda r, w: None, B, 80, start_serving=False)
        r, _w = await a.open_connection(B, 80)
        srv.close()
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(r.read(), 2)


async def test_seq_wraparound_transfer():
    """Client's ISN near 2**32: transfer crosses the wrap."""
    async with two_stacks() as (a, b):
        got = asyncio.get_running_loop().create_future()

        async def cb(r, w):
            got.set_result(await r.read())
            w.close()
        await b.start_server(cb, B, 80)
        orig = a.engine._isn

        class Fixed:
            def __getattr__(self, name):
                return getattr(orig, name)

            def isn(self, *args):
                return 2**32 - 3000
        a.engine._isn = Fixed()
        try:
            _r, w = await a.open_connection(B, 80)
        finally:
            a.engine._isn = orig
        payload = os.urandom(300_000)
        w.write(payload)
        w.write_eof()
        assert await asyncio.wait_for(got, 5) == payload
        w.close()


@pytest.mark.virtual_time
async def test_many_concurrent_connections_transfer():
    async with two_stacks(loss=0.005, seed=11) as (a, b):
        async def cb(r, w):
            data = await r.read()
            w.write(data[::-1])
            await w.drain()
            w.close()
        await b.start_server(cb, B, 80, backlog=300)

        async def one(i):
            r, w = await a.open_connection(B, 80)
            msg = os.urandom(1000 + i * 37)
            w.write(msg)
            w.write_eof()
            back = await r.read()
            w.close()
            return back == msg[::-1]
        res = await asyncio.wait_for(asyncio.gather(*[one(i) for i in range(200)]), 9)
        assert all(res)


async def test_aiohttp_web_server_over_stack():
    from aiohttp import web

    async def handler(request):
        body = await request.read()
        return web.Response(body=b"echo:" + body)
    async with two_stacks() as (a, b):
        server = web.Server(handler)
        await b.create_server(server, B, 80)
        r, w = await a.open_connection(B, 80)
        for i in range(3):
            body = b"x" * (i * 3000)
            w.write(b"POST / HTTP/1.1\r\nHost: b\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            status = await asyncio.wait_for(r.readline(), 2)
            assert status.startswith(b"HTTP/1.1 200"), status
            headers = {}
            while (line := await r.readline()) != b"\r\n":
                k, v = line.decode().split(":", 1)
                headers[k.strip().lower()] = v.strip()
            n = int(headers["content-length"])
            assert await r.readexactly(n) == b"echo:" + body
        w.close()
        await server.shutdown(1)


@pytest.fixture(scope="module")
def certpair(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    key, crt = d / "k.pem", d / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(crt), "-days", "1", "-subj", "/CN=b.test",
                    "-addext", "subjectAltName=DNS:b.test"], check=True, capture_output=True)
    return str(crt), str(key)


async def test_tls_over_stack(certpair):
    crt, key = certpair
    sctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    sctx.load_cert_chain(crt, key)
    cctx = ssl.create_default_context(cafile=crt)
    async with two_stacks() as (a, b):
        async def cb(r, w):
            w.write((await r.readline()).upper())
            await w.drain()
            w.close()
        await b.start_server(cb, B, 443, ssl=sctx)
        r, w = await asyncio.wait_for(a.open_connection(B, 443, ssl=cctx, server_hostname="b.test"), 5)
        w.write(b"secret\n")
        assert await asyncio.wait_for(r.readline(), 3) == b"SECRET\n"
        assert w.get_extra_info("ssl_object") is not None
        w.close()


async def test_streamwriter_start_tls(certpair):
    if type(asyncio.get_running_loop()).__module__.startswith("uvloop"):
        pytest.skip("uvloop: see test_qa_uvloop.py::test_start_tls_under_uvloop")
    crt, key = certpair
    sctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    sctx.load_cert_chain(crt, key)
    cctx = ssl.create_default_context(cafile=crt)
    async with two_stacks() as (a, b):
        async def cb(r, w):
            assert await r.readline() == b"STARTTLS\n"
            w.write(b"OK\n")
            await w.drain()
            await w.start_tls(sctx)
            w.write((await r.readline()).upper())
            await w.drain()
        await b.start_server(cb, B, 25)
        r, w = await a.open_connection(B, 25)
        w.write(b"STARTTLS\n")
        assert await r.readline() == b"OK\n"
        await asyncio.wait_for(w.start_tls(cctx, server_hostname="b.test"), 5)
        w.write(b"hi\n")
        assert await asyncio.wait_for(r.readline(), 3) == b"HI\n"


@pytest.mark.virtual_time
async def test_keepalive_short_idle_keeps_live_connection():
    ka = StackConfig(keepalive=True, keepalive_idle=0.2, keepalive_interval=0.05, keepalive_count=3)
    la, lb = aionetstack.memory_link_pair()
    a = aionetstack.Stack(la, address=A + "/24", config=ka)
    b = aionetstack.Stack(lb, address=B + "/24")  # the peer has no keepalive at all
    async with a, b:
        lost = asyncio.get_running_loop().create_future()

        class P(asyncio.Protocol):
            def connection_lost(self, exc):
                lost.set_result(exc)
        await b.create_server(asyncio.Protocol, B, 80)
        await a.create_connection(P, B, 80)
        await asyncio.sleep(1.5)
        assert not lost.done(), lost.result()


async def test_reconnect_same_port_server_in_time_wait():
    """Server closed first (server side in TIME-WAIT); the client reconnects from the
    same local port at once: the TIME-WAIT SYN rule (RFC 6191 / Linux) must let it in."""
    async with two_stacks() as (a, b):
        async def cb(r, w):
            w.write(b"bye")
            w.close()
        await b.start_server(cb, B, 80)
        for _i in range(3):
            r, w = await asyncio.wait_for(a.open_connection(B, 80, local_addr=(A, 45000)), 3)
            assert await asyncio.wait_for(r.read(), 2) == b"bye"
            w.close()
            await w.wait_closed()
            await asyncio.sleep(0.05)
            # the server's TIME-WAIT is a compact entry, no longer a connection
            states = sorted(str(c.state) for c in b.engine.connections())
            assert states == [] and len(b.engine.time_wait_keys()) == 1, states
