"""Resource leaks on error paths."""
from __future__ import annotations

import asyncio

import pytest
from qa_support import A, B, two_stacks


async def test_protocol_factory_raises_in_create_connection():
    async with two_stacks() as (a, b):
        peer = asyncio.get_running_loop().create_future()

        class P(asyncio.Protocol):
            def connection_made(self, t):
                peer.set_result(self)

            def connection_lost(self, exc):
                self.exc = exc
                self.lost = True
        await b.create_server(P, B, 80)

        def bad_factory():
            raise ValueError("factory failed")
        with pytest.raises(ValueError):
            await a.create_connection(bad_factory, B, 80)
        await asyncio.sleep(0.1)
        # nothing of that attempt may stay alive on the client
        assert [str(c.state) for c in a.engine.connections()] == [], a.engine.connections()
        # The client reset the connection at once. The server either never saw it
        # (reset while still in the accept queue: dropped, as BSD does) or saw it
        # end; it must not be left believing in it.
        await asyncio.sleep(0.1)
        if peer.done():
            assert getattr(peer.result(), "lost", False), "peer never learned the connection is gone"
        assert all(str(c.state) != "ESTABLISHED" for c in b.engine.connections())


async def test_cancel_during_tls_handshake_no_leak(tmp_path):
    import ssl
    import subprocess
    key, crt = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(crt), "-days", "1", "-subj", "/CN=b.test"], check=True, capture_output=True)
    async with two_stacks() as (a, b):
        # a plain TCP server that never speaks TLS: the client handshake hangs
        await b.create_server(asyncio.Protocol, B, 443)
        cctx = ssl.create_default_context(cafile=str(crt))
        task = asyncio.ensure_future(a.open_connection(B, 443, ssl=cctx, server_hostname="b.test"))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.1)
        assert all(str(c.state) not in ("ESTABLISHED",) for c in a.engine.connections()), a.engine.connections()


async def test_many_connect_cancel_cycles_no_growth():
    async with two_stacks(delay=0.01) as (a, b):
        await b.create_server(asyncio.Protocol, B, 80)
        for i in range(50):
            task = asyncio.ensure_future(a.open_connection(B, 80))
            await asyncio.sleep(0.001 * (i % 5))
            task.cancel()
            try:
                _r, w = await task
                w.close()
            except asyncio.CancelledError:
                pass
        await asyncio.sleep(0.3)
        assert len(a._driver.owners) == 0, a._driver.owners
        live = [c for c in a.engine.connections() if str(c.state) in ("ESTABLISHED", "SYN-SENT")]
        assert live == []
        blive = [c for c in b.engine.connections() if str(c.state) in ("ESTABLISHED", "SYN-RECEIVED")]
        assert blive == [], blive


async def test_owners_cleaned_after_normal_close():
    async with two_stacks() as (a, b):
        async def cb(r, w):
            await r.read()
            w.close()
        await b.start_server(cb, B, 80)
        for _ in range(20):
            _r, w = await a.open_connection(B, 80)
            w.write(b"x")
            w.close()
            await w.wait_closed()
        await asyncio.sleep(0.2)
        assert len(a._driver.owners) == 0, a._driver.owners
        # only the listener remains an owner on b
        assert len(b._driver.owners) == 1, b._driver.owners


async def test_datagram_factory_raises_releases_port():
    async with two_stacks() as (a, _b):
        def bad():
            raise ValueError("nope")
        with pytest.raises(ValueError):
            await a.create_datagram_endpoint(bad, local_addr=(A, 5353))
        t, _p = await a.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=(A, 5353))
        t.close()


async def test_datagram_connection_made_raises_no_hang():
    class Bad(asyncio.DatagramProtocol):
        def connection_made(self, t):
            raise RuntimeError("bad made")
    async with two_stacks() as (a, _b):
        loop = asyncio.get_running_loop()
        errs = []
        loop.set_exception_handler(lambda _loop, c: errs.append(c))
        # asyncio's behaviour (selector_events: _fatal_error): the endpoint is returned,
        # the error goes to the loop's exception handler and the transport closes.
        bad_t, _bad_p = await asyncio.wait_for(
            a.create_datagram_endpoint(Bad, local_addr=(A, 5354)), 1
        )
        await asyncio.sleep(0.01)
        assert bad_t.is_closing()
        assert [type(c.get("exception")) for c in errs] == [RuntimeError]
        assert errs[0]["message"] == "Fatal error: protocol.connection_made() call failed."
        # the port must be usable again
        t, _p = await a.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=(A, 5354))
        t.close()
        loop.set_exception_handler(None)
