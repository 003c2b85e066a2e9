"""``get_extra_info("socket")``: a socket-like object per connection whose
options belong to that connection only (issue 14)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aio_support import A_ADDR, B_ADDR, make_stacks

import aionetstack
from aionetstack.aio.sockopt import TCP_INFO_FORMAT
from aionetstack.core.tcp.connection import TcpConnection

T = 10.0
TCP_INFO = 11
TCP_CONGESTION = 13
TCP_KEEPIDLE = 4
TCP_KEEPINTVL = 5
TCP_KEEPCNT = 6


@contextlib.asynccontextmanager
async def served(
    a: aionetstack.Stack, b: aionetstack.Stack
) -> AsyncIterator[asyncio.Queue[asyncio.StreamWriter]]:
    """A sink server on ``b`` port 80 for the block (under a timeout); yields
    the queue of its accepted streams' writers."""
    accepted: asyncio.Queue[asyncio.StreamWriter] = asyncio.Queue()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accepted.put(writer)
        while await reader.read(65536):
            pass

    server = await b.start_server(handler, B_ADDR, 80)
    async with server, asyncio.timeout(T):
        yield accepted


async def test_socket_addresses_and_identity(stacks: Any) -> None:
    a, b = stacks
    async with served(a, b) as accepted:
        _, writer = await a.open_connection(B_ADDR, 80)
        sock = writer.get_extra_info("socket")
        assert sock is writer.get_extra_info("socket")  # one object per connection
        assert sock.family == socket.AF_INET
        assert sock.type == socket.SOCK_STREAM
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.fileno() == -1
        assert sock.getsockname() == writer.get_extra_info("sockname")
        assert sock.getpeername() == (B_ADDR, 80)
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) == socket.SOCK_STREAM
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
        assert A_ADDR in repr(sock)
        sock.setblocking(False)
        with pytest.raises(ValueError):
            sock.setblocking(True)
        with pytest.raises(OSError) as info:
            sock.send(b"x")
        assert info.value.errno == errno.EOPNOTSUPP
        peer = (await accepted.get()).get_extra_info("socket")
        assert peer.getpeername() == sock.getsockname()
        assert peer.getsockname() == (B_ADDR, 80)
        writer.close()


async def test_options_belong_to_one_connection(stacks: Any) -> None:
    a, b = stacks
    async with served(a, b):
        _, w1 = await a.open_connection(B_ADDR, 80)
        _, w2 = await a.open_connection(B_ADDR, 80)
        s1, s2 = w1.get_extra_info("socket"), w2.get_extra_info("socket")
        c1: TcpConnection = w1.get_extra_info("connection")
        c2: TcpConnection = w2.get_extra_info("connection")
        s1.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s1.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, True)
        s1.setsockopt(socket.IPPROTO_TCP, TCP_KEEPIDLE, 30)
        s1.setsockopt(socket.IPPROTO_TCP, TCP_KEEPINTVL, struct.pack("=i", 5))
        s1.setsockopt(socket.IPPROTO_TCP, TCP_KEEPCNT, 3)
        assert s1.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        assert s1.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 4) == struct.pack("=i", 1)
        assert s1.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert s1.getsockopt(socket.IPPROTO_TCP, TCP_KEEPIDLE) == 30
        assert s1.getsockopt(socket.IPPROTO_TCP, TCP_KEEPINTVL) == 5
        assert s1.getsockopt(socket.IPPROTO_TCP, TCP_KEEPCNT) == 3
        assert (c1.config.nodelay, c1.config.keepalive, c1.config.keepalive_idle) == (
            True,
            True,
            30.0,
        )
        # the other connection and the stack keep the stack's values
        assert s2.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
        assert s2.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 0
        assert c2.config is a.config and not a.config.nodelay
        # Linux's bounds (do_tcp_setsockopt)
        for option, bad in ((TCP_KEEPIDLE, 0), (TCP_KEEPINTVL, 40000), (TCP_KEEPCNT, 128)):
            with pytest.raises(OSError) as info:
                s1.setsockopt(socket.IPPROTO_TCP, option, bad)
            assert info.value.errno == errno.EINVAL
        # buffers are doubled on set, as Linux reports them
        s2.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 100_000)
        s2.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1)
        assert s2.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) == 200_000
        assert s2.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) == 4608
        assert c2.config.recv_buffer == 200_000
        # the transport buffers beyond the new engine limit: a write above it pauses
        w2.transport.set_write_buffer_limits(high=1000)
        w2.write(bytes(10_000))
        assert w2.transport.get_write_buffer_size() > 1000
        await w2.drain()
        w1.close()
        w2.close()


async def test_same_option_on_many_connections_shares_one_config(stacks: Any) -> None:
    """TCP_NODELAY on every connection (aiohttp's habit) evolves the stack's
    config once, not per connection; a value already set changes nothing."""
    a, b = stacks
    async with served(a, b):
        writers = [(await a.open_connection(B_ADDR, 80))[1] for _ in range(3)]
        conns: list[TcpConnection] = [w.get_extra_info("connection") for w in writers]
        for w in writers:
            w.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        first = conns[0].config
        assert first is not a.config and first.nodelay and not a.config.nodelay
        assert all(c.config is first for c in conns)
        writers[1].get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        assert conns[1].config is first  # already set: untouched
        # a further option starts from that connection's own config, not the stack's
        writers[2].get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        assert conns[2].config.nodelay and conns[2].config.keepalive
        assert not conns[0].config.keepalive and conns[0].config is first
        writers[0].get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
        assert conns[0].config == a.config and not conns[0].config.nodelay
        for w in writers:
            w.close()


async def test_unsupported_option_is_enoprotoopt(stacks: Any) -> None:
    a, b = stacks
    async with served(a, b):
        _, writer = await a.open_connection(B_ADDR, 80)
        sock = writer.get_extra_info("socket")
        for level, option in (
            (socket.SOL_SOCKET, socket.SO_BROADCAST),
            (socket.IPPROTO_TCP, 99),
            (socket.IPPROTO_IP, socket.IP_TOS),
        ):
            with pytest.raises(OSError) as info:
                sock.setsockopt(level, option, 1)
            assert info.value.errno == errno.ENOPROTOOPT
            with pytest.raises(OSError) as info:
                sock.getsockopt(level, option)
            assert info.value.errno == errno.ENOPROTOOPT
        writer.close()


async def test_tcp_info_and_congestion(stacks: Any) -> None:
    a, b = stacks
    async with served(a, b):
        _, writer = await a.open_connection(B_ADDR, 80)
        writer.write(b"x" * 5000)
        await writer.drain()
        await asyncio.sleep(0.05)
        sock = writer.get_extra_info("socket")
        raw = sock.getsockopt(socket.IPPROTO_TCP, TCP_INFO, 512)
        assert len(raw) == struct.calcsize(TCP_INFO_FORMAT) == 232
        fields = struct.unpack(TCP_INFO_FORMAT, raw)
        info = writer.get_extra_info("tcp_info")
        assert fields[0] == 1  # TCP_ESTABLISHED
        assert fields[5] & 1 and fields[5] & 2  # timestamps, SACK
        assert fields[10] == info.snd_mss  # tcpi_snd_mss
        assert fields[31] == info.total_retrans
        assert fields[34] == info.bytes_acked == 5000  # tcpi_bytes_acked
        assert sock.getsockopt(socket.IPPROTO_TCP, TCP_INFO, 8) == raw[:8]
        name = sock.getsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, 16)
        assert name == b"cubic".ljust(16, b"\0")  # the default, as upstream Linux
        sock.setsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, b"cubic")  # the current one
        sock.setsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, "newreno")
        assert sock.getsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, 16) == b"reno".ljust(16, b"\0")
        sock.setsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, b"bbr")
        assert sock.getsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, 16) == b"bbr".ljust(16, b"\0")
        assert writer.get_extra_info("tcp_info").congestion_control == "bbr"
        with pytest.raises(OSError) as err:
            sock.setsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, b"vegas")
        assert err.value.errno == errno.ENOENT
        writer.close()


async def test_nagle_is_per_connection() -> None:
    """Two small writes a moment apart: with Nagle the second waits for the ACK
    (0.5 s away on this link); after TCP_NODELAY it leaves at once."""
    a, b = await make_stacks(delay=0.25)
    try:
        async with served(a, b):
            sent = []
            for nodelay in (False, True):
                _, writer = await a.open_connection(B_ADDR, 80)
                conn: TcpConnection = writer.get_extra_info("connection")
                if nodelay:
                    writer.get_extra_info("socket").setsockopt(
                        socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
                    )
                before = conn.data_segs_out
                writer.write(b"a")
                await asyncio.sleep(0.02)
                writer.write(b"b")
                await asyncio.sleep(0.02)
                sent.append(conn.data_segs_out - before)
                writer.close()
            assert sent == [1, 2]
    finally:
        await a.close()
        await b.close()


async def test_keepalive_probes_on_one_connection(stacks: Any) -> None:
    a, b = stacks
    async with served(a, b) as accepted:
        _, w_ka = await a.open_connection(B_ADDR, 80)
        peer_ka: TcpConnection = (await accepted.get()).get_extra_info("connection")
        _, w_plain = await a.open_connection(B_ADDR, 80)
        peer_plain: TcpConnection = (await accepted.get()).get_extra_info("connection")
        sock = w_ka.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, TCP_KEEPIDLE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, TCP_KEEPINTVL, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        ka_in, plain_in = peer_ka.segs_in, peer_plain.segs_in
        await asyncio.sleep(1.3)
        assert peer_ka.segs_in > ka_in  # a probe arrived (and was answered)
        assert peer_plain.segs_in == plain_in
        assert w_ka.get_extra_info("tcp_info").state.name == "ESTABLISHED"
        w_ka.close()
        w_plain.close()


async def test_aiohttp_and_stream_users_set_nodelay(stacks: Any) -> None:
    """What aiohttp does on every connection, and the usual stream idiom, unchanged."""
    tcp_helpers = pytest.importorskip("aiohttp.tcp_helpers")
    a, b = stacks
    async with served(a, b):
        _, writer = await a.open_connection(B_ADDR, 80)
        tcp_helpers.tcp_nodelay(writer.transport, True)
        conn: TcpConnection = writer.get_extra_info("connection")
        assert conn.config.nodelay
        sock = writer.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
        assert not conn.config.nodelay
        writer.close()


async def test_congestion_control_switch(stacks: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a second algorithm, TCP_CONGESTION switches one connection, keeping cwnd."""
    from aionetstack.aio import sockopt
    from aionetstack.core import config as config_module
    from aionetstack.core.tcp import congestion, connection

    class Other(congestion.NewReno):
        __slots__ = ()
        name = "other"

    real = congestion.make_congestion_control

    def make(name: str, mss: int, initial: int) -> Any:
        return Other(mss, initial) if name == "other" else real(name, mss, initial)

    monkeypatch.setattr(config_module, "CONGESTION_CONTROLS", ("newreno", "other"))
    monkeypatch.setattr(sockopt, "CONGESTION_CONTROLS", ("newreno", "other"))
    monkeypatch.setattr(connection, "make_congestion_control", make)
    monkeypatch.setattr(sockopt, "make_congestion_control", make)
    a, b = stacks
    async with served(a, b):
        _, writer = await a.open_connection(B_ADDR, 80)
        conn: TcpConnection = writer.get_extra_info("connection")
        cwnd = conn.tcp_info().cwnd
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, b"other")
        assert sock.getsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, 16).rstrip(b"\0") == b"other"
        assert conn.config.congestion_control == "other"
        assert conn.tcp_info().cwnd == cwnd
        writer.write(b"y" * 3000)
        await writer.drain()
        writer.close()
