"""The same echo under uvloop."""
from __future__ import annotations

import asyncio
import time

import pytest

uvloop = pytest.importorskip("uvloop")

from qa_support import A, B, two_stacks  # noqa: E402


async def _echo_session():
    async with two_stacks(loss=0.01, seed=9) as (a, b):
        async def cb(r, w):
            while data := await r.read(65536):
                w.write(data)
                await w.drain()
            w.close()
        srv = await b.start_server(cb, B, 7)
        r, w = await a.open_connection(B, 7)
        t = time.perf_counter()
        for _i in range(200):
            w.write(b"p" * 100)
            assert await r.readexactly(100) == b"p" * 100
        per = (time.perf_counter() - t) / 200
        payload = bytes(range(256)) * 4096
        reader = asyncio.ensure_future(r.readexactly(len(payload)))
        w.write(payload)
        await w.drain()
        assert await asyncio.wait_for(reader, 10) == payload
        w.write_eof()
        assert await r.read() == b""
        w.close()
        await w.wait_closed()
        srv.close()
        await srv.wait_closed()
    async with two_stacks() as (a, b):  # lossless: ping and UDP have no retransmission
        await a.ping(B)
        # UDP too
        got = asyncio.get_running_loop().create_future()

        class U(asyncio.DatagramProtocol):
            def datagram_received(self, d, addr):
                got.set_result((d, addr))
        await b.create_datagram_endpoint(U, local_addr=(B, 53))
        t2, _ = await a.create_datagram_endpoint(asyncio.DatagramProtocol, remote_addr=(B, 53))
        t2.sendto(b"dns?")
        d, addr = await asyncio.wait_for(got, 2)
        assert d == b"dns?" and addr[0] == A
        return per


def test_echo_under_uvloop():
    loop = uvloop.new_event_loop()
    try:
        per = loop.run_until_complete(asyncio.wait_for(_echo_session(), 20))
        print(f"uvloop 100B rtt {per*1e6:.0f} us")
    finally:
        loop.close()


def test_uvloop_stack_close_with_open_conns():
    async def main():
        async with two_stacks() as (a, b):
            lost = asyncio.get_running_loop().create_future()

            class P(asyncio.Protocol):
                def connection_lost(self, exc):
                    lost.set_result(exc)
            await b.create_server(asyncio.Protocol, B, 80)
            await a.create_connection(P, B, 80)
            await a.close()
        return await asyncio.wait_for(lost, 2)
    loop = uvloop.new_event_loop()
    try:
        exc = loop.run_until_complete(main())
        assert isinstance(exc, ConnectionAbortedError)
    finally:
        loop.close()


def test_start_tls_under_uvloop(tmp_path):
    """uvloop accepts only its own transports in loop.start_tls(); with
    aionetstack.install(stack) the loop's start_tls layers TLS over stack
    transports (issue 14), so StreamWriter.start_tls works under uvloop too."""
    import ssl
    import subprocess

    import aionetstack
    key, crt = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(crt), "-days", "1", "-subj", "/CN=b.test",
                    "-addext", "subjectAltName=DNS:b.test"], check=True, capture_output=True)
    sctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    sctx.load_cert_chain(str(crt), str(key))
    cctx = ssl.create_default_context(cafile=str(crt))

    async def main():
        async with two_stacks() as (a, b):
            uninstall = aionetstack.install(a)

            async def cb(r, w):
                await r.readline()
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
            uninstall()
    loop = uvloop.new_event_loop()
    try:
        loop.run_until_complete(asyncio.wait_for(main(), 8))
    finally:
        loop.close()
