"""asyncio libraries over the stack: aiohttp, TLS, start_tls."""
from __future__ import annotations

import asyncio
import ssl
import subprocess

import pytest
from qa_support import B, two_stacks


@pytest.fixture(scope="module")
def certpair(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    key, crt = d / "k.pem", d / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(crt), "-days", "1", "-subj", "/CN=b.test",
                    "-addext", "subjectAltName=DNS:b.test"], check=True, capture_output=True)
    return str(crt), str(key)


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
