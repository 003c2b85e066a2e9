"""Public API surface per DESIGN.md."""
from __future__ import annotations

import asyncio
import errno
import inspect

import pytest
from qa_support import A, B, two_stacks

import aionetstack


def params(fn):
    return inspect.signature(fn).parameters


def test_memory_link_pair_knobs():
    p = params(aionetstack.memory_link_pair)
    for name, default in dict(mtu=1500, loss=0.0, delay=0.0, jitter=0.0, reorder=0.0,
                              duplicate=0.0, corrupt=0.0, rate=None, seed=None).items():
        assert name in p, name
        assert p[name].default == default, name


def test_tunlink_signature():
    p = params(aionetstack.TunLink)
    assert p["name"].default == "ans0"
    assert p["mtu"].default == 1500
    assert "kernel_address" in p


def test_impair_capture_signature():
    p = params(aionetstack.impair)
    for n in ("loss", "delay", "seed"):
        assert n in p
    p = params(aionetstack.capture)
    assert list(p)[:2] == ["link", "path"]


def test_stack_signature():
    p = params(aionetstack.Stack)
    assert list(p)[:4] == ["link", "address", "gateway", "config"]
    assert p["gateway"].default is None


def test_stack_methods_signatures():
    S = aionetstack.Stack
    for m in ("open_connection", "create_connection", "create_server", "start_server",
              "create_datagram_endpoint", "ping", "stats"):
        assert callable(getattr(S, m)), m
    assert params(S.create_server)["backlog"].default == 128
    assert "transparent" in params(S.start_server)
    p = params(S.create_datagram_endpoint)
    assert p["local_addr"].default is None and p["remote_addr"].default is None
    assert p["allow_broadcast"].default is False
    assert params(S.ping)["timeout"].default == 1.0


def test_stackconfig():
    c = aionetstack.StackConfig(syn_retries=2)
    assert c.syn_retries == 2
    assert aionetstack.StackConfig().syn_retries == 6
    with pytest.raises(TypeError):
        aionetstack.StackConfig(no_such_knob=1)


def test_checksum():
    from aionetstack.wire import checksum
    assert isinstance(checksum.ACCELERATED, bool)
    # RFC 1071 example
    data = bytes([0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7])
    assert checksum.internet_checksum(data) == (~0xDDF2) & 0xFFFF
    assert checksum.internet_checksum(b"\x01") == (~0x0100) & 0xFFFF
    assert aionetstack.wire.checksum.internet_checksum(b"") == 0xFFFF


def test_stackconfig_rejects_nonsense():
    # A negative retry count or buffer is a user error that should be caught early.
    bad = []
    for kw in (dict(syn_retries=-1), dict(recv_buffer=0), dict(send_buffer=-5),
               dict(rto_min=-1.0), dict(initial_cwnd_segments=0)):
        try:
            aionetstack.StackConfig(**kw)
        except (ValueError, TypeError):
            continue
        bad.append(kw)
    assert not bad, f"accepted: {bad}"


async def test_tcp_info_and_extra_info():
    async with two_stacks() as (a, b):
        got = asyncio.get_running_loop().create_future()

        async def cb(r, w):
            got.set_result(w)
        await b.start_server(cb, B, 80)
        _r, w = await a.open_connection(B, 80)
        sw = await asyncio.wait_for(got, 5)
        t = w.transport
        assert t.get_extra_info("peername") == (B, 80)
        assert t.get_extra_info("sockname")[0] == A
        assert sw.transport.get_extra_info("peername") == t.get_extra_info("sockname")
        assert t.get_extra_info("nope", 42) == 42
        info = t.get_extra_info("tcp_info")
        assert info is not None
        for name in ("state", "rtt", "cwnd", "snd_mss", "bytes_acked"):
            assert hasattr(info, name), name
        w.close()


async def test_stack_outside_async_with():
    la, _lb = aionetstack.memory_link_pair()
    s = aionetstack.Stack(la, address=A + "/24")
    with pytest.raises(RuntimeError):
        await s.open_connection(B, 80)
    with pytest.raises(RuntimeError):
        await s.create_server(asyncio.Protocol, B, 80)
    with pytest.raises(RuntimeError):
        s.stats()


async def test_stack_after_close():
    async with two_stacks() as (a, _b):
        pass
    for coro in (a.open_connection(B, 80), a.create_server(asyncio.Protocol, A, 80),
                 a.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=(A, 5)),
                 a.ping(B)):
        with pytest.raises(RuntimeError):
            await coro


async def test_stack_double_start():
    async with two_stacks() as (a, _b):
        with pytest.raises(RuntimeError):
            await a.start()


def test_bad_address_strings():
    la, _lb = aionetstack.memory_link_pair()
    for bad in ("300.1.1.1/24", "198.18.0.1/33", "hello", ""):
        with pytest.raises(ValueError):
            aionetstack.Stack(la, address=bad)


async def test_wrong_arg_types():
    async with two_stacks() as (a, _b):
        with pytest.raises((TypeError, ValueError)):
            await a.open_connection(B, "80")
        with pytest.raises((TypeError, ValueError, OSError)):
            await a.open_connection(B, 70000)
        with pytest.raises((TypeError, ValueError, OSError)):
            await a.open_connection(B, -1)
        with pytest.raises((TypeError, ValueError, OSError)):
            await a.open_connection(12345, 80)
        with pytest.raises((TypeError, ValueError, OSError)):
            await a.open_connection("not.an.ip", 80)
        with pytest.raises((TypeError, ValueError, OSError)):
            await a.create_server(asyncio.Protocol, B, 70000)


async def test_open_connection_port_zero():
    async with two_stacks() as (a, _b):
        with pytest.raises((OSError, ValueError)):
            async with asyncio.timeout(3):
                await a.open_connection(B, 0)


async def test_bind_conflict_eaddrinuse():
    async with two_stacks() as (_a, b):
        await b.create_server(asyncio.Protocol, B, 80)
        with pytest.raises(OSError) as ei:
            await b.create_server(asyncio.Protocol, B, 80)
        assert ei.value.errno == errno.EADDRINUSE
        # wildcard vs specific conflict
        with pytest.raises(OSError) as ei:
            await b.create_server(asyncio.Protocol, None, 80)
        assert ei.value.errno == errno.EADDRINUSE
        await b.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=(B, 53))
        with pytest.raises(OSError) as ei:
            await b.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=(B, 53))
        assert ei.value.errno == errno.EADDRINUSE


async def test_server_close_frees_port():
    async with two_stacks() as (_a, b):
        s = await b.create_server(asyncio.Protocol, B, 80)
        s.close()
        await s.wait_closed()
        s2 = await b.create_server(asyncio.Protocol, B, 80)
        assert s2.sockets[0].getsockname() == (B, 80)


async def test_bind_foreign_address():
    async with two_stacks() as (_a, b):
        with pytest.raises(OSError) as ei:
            await b.create_server(asyncio.Protocol, "198.19.9.9", 80)
        assert ei.value.errno == errno.EADDRNOTAVAIL


async def test_enetunreach():
    async with two_stacks() as (a, _b):
        with pytest.raises(OSError) as ei:
            await a.open_connection("198.19.1.3", 80)
        assert ei.value.errno == errno.ENETUNREACH


async def test_refused():
    async with two_stacks() as (a, _b):
        with pytest.raises(ConnectionRefusedError):
            async with asyncio.timeout(3):
                await a.open_connection(B, 81)
        assert a.stats()["TcpAttemptFails"] >= 1


async def test_ping():
    async with two_stacks() as (a, _b):
        rtt = await a.ping(B)
        assert 0 <= rtt < 0.5
        with pytest.raises(TimeoutError):
            await a.ping("198.18.0.77", timeout=0.2)
        with pytest.raises(OSError) as ei:
            await a.ping("198.19.0.1", timeout=0.2)
        assert ei.value.errno == errno.ENETUNREACH
