"""The asyncio Transport contract, point by point (DESIGN.md).

Every test runs twice through the ``net`` fixture: on two aionetstack stacks
over a memory link, and on the kernel's loopback through asyncio's own
transports. The kernel run proves each test states the contract correctly.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aio_support import Net

T = 10.0  # generous upper bound for any single wait


class Recorder(asyncio.Protocol):
    """Records every callback in order."""

    def __init__(self, *, keep_open_on_eof: bool = False, fail_on_data: bool = False) -> None:
        loop = asyncio.get_running_loop()
        self.events: list[str] = []
        self.data = bytearray()
        self.transport: Any = None
        self.keep_open_on_eof = keep_open_on_eof
        self.fail_on_data = fail_on_data
        self.made = loop.create_future()
        self.eof = loop.create_future()
        self.lost: asyncio.Future[BaseException | None] = loop.create_future()
        self.lost_calls = 0
        self.paused = 0
        self.resumed = 0
        self.want = 0
        self.got_enough: asyncio.Future[None] = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.events.append("made")
        self.transport = transport
        self.made.set_result(None)

    def data_received(self, data: bytes) -> None:
        if self.fail_on_data:
            raise ZeroDivisionError("boom in data_received")
        if not self.events or self.events[-1] != "data":
            self.events.append("data")
        self.data += data
        if self.want and len(self.data) >= self.want and not self.got_enough.done():
            self.got_enough.set_result(None)

    def eof_received(self) -> bool:
        self.events.append("eof")
        self.eof.set_result(None)
        return self.keep_open_on_eof

    def connection_lost(self, exc: Exception | None) -> None:
        self.events.append("lost")
        self.lost_calls += 1
        if not self.lost.done():
            self.lost.set_result(exc)

    def pause_writing(self) -> None:
        self.paused += 1

    def resume_writing(self) -> None:
        self.resumed += 1

    async def wait_bytes(self, n: int) -> None:
        self.want = n
        if len(self.data) >= n:
            return
        async with asyncio.timeout(T):
            await self.got_enough


async def wait(fut: Any) -> Any:
    async with asyncio.timeout(T):
        return await fut


async def test_callback_order_and_connection_lost_once(net: Net) -> None:
    ct, cp, st, sp = await net.pair(Recorder, Recorder)
    st.write(b"hello")
    st.write_eof()
    await wait(cp.eof)  # eof_received returns False: the client closes itself
    assert await wait(cp.lost) is None
    await wait(sp.lost)
    await asyncio.sleep(0.01)
    assert cp.events == ["made", "data", "eof", "lost"]
    assert bytes(cp.data) == b"hello"
    assert cp.lost_calls == 1
    assert sp.events == ["made", "eof", "lost"]
    assert sp.lost_calls == 1
    # closing again, or aborting, never calls connection_lost a second time
    ct.close()
    ct.abort()
    st.abort()
    await asyncio.sleep(0.01)
    assert cp.lost_calls == 1 and sp.lost_calls == 1


async def test_connection_made_runs_before_create_connection_returns(net: Net) -> None:
    ct, cp, st, sp = await net.pair(Recorder, Recorder)
    assert cp.events[:1] == ["made"] and cp.transport is ct
    assert sp.transport is st
    ct.close()
    st.close()


async def test_write_rejects_non_bytes(net: Net) -> None:
    ct, _cp, st, sp = await net.pair(Recorder, Recorder)
    with pytest.raises(TypeError, match="bytes-like"):
        ct.write("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ct.write(12)  # type: ignore[arg-type]
    ct.write(bytearray(b"ab"))
    ct.write(memoryview(b"cd"))
    ct.writelines([b"e", b"f"])
    await sp.wait_bytes(6)
    assert bytes(sp.data) == b"abcdef"
    ct.close()
    st.close()


async def test_write_after_write_eof_raises(net: Net) -> None:
    ct, cp, st, sp = await net.pair(Recorder, lambda: Recorder(keep_open_on_eof=True))
    assert ct.can_write_eof()
    ct.write(b"last")
    ct.write_eof()
    with pytest.raises(RuntimeError, match="write_eof"):
        ct.write(b"more")
    ct.write_eof()  # idempotent
    await wait(sp.eof)
    assert bytes(sp.data) == b"last"
    assert not ct.is_closing()  # half-closed, still reading
    st.write(b"reply")
    await cp.wait_bytes(5)
    st.close()
    await wait(cp.lost)
    await wait(sp.lost)


async def test_write_after_close_is_dropped_silently(net: Net) -> None:
    ct, cp, _st, sp = await net.pair(Recorder, Recorder)
    ct.close()
    assert ct.is_closing()
    ct.write(b"ignored")  # CPython drops it (no exception)
    await wait(cp.lost)
    await wait(sp.eof)
    assert bytes(sp.data) == b""


async def test_eof_received_true_keeps_half_open(net: Net) -> None:
    ct, cp, st, sp = await net.pair(lambda: Recorder(keep_open_on_eof=True), Recorder)
    st.write(b"request")
    st.write_eof()
    await wait(cp.eof)
    await asyncio.sleep(0.02)
    assert not cp.lost.done()
    assert not ct.is_closing()
    ct.write(b"response after eof")
    await sp.wait_bytes(len(b"response after eof"))
    ct.close()
    await wait(sp.eof)
    await wait(cp.lost)
    assert await wait(sp.lost) is None


async def test_eof_received_false_closes(net: Net) -> None:
    ct, cp, st, sp = await net.pair(Recorder, Recorder)
    st.write_eof()
    await wait(cp.eof)
    assert ct.is_closing()
    assert await wait(cp.lost) is None
    await wait(sp.eof)  # the client's close sent its FIN


async def test_close_flushes_then_fins(net: Net) -> None:
    ct, cp, _st, sp = await net.pair(Recorder, Recorder)
    payload = bytes(range(256)) * 4096  # 1 MiB
    ct.write(payload)
    ct.close()
    assert ct.is_closing()
    await wait(sp.eof)
    assert bytes(sp.data) == payload
    assert await wait(cp.lost) is None


async def test_abort_resets_the_peer(net: Net) -> None:
    ct, cp, st, sp = await net.pair(Recorder, Recorder)
    # Unread data on the aborting side makes the kernel send RST too.
    ct.pause_reading()
    st.write(b"unread")
    await asyncio.sleep(0.05)
    ct.abort()
    assert ct.is_closing()
    assert await wait(cp.lost) is None
    exc = await wait(sp.lost)
    assert isinstance(exc, ConnectionResetError)
    await asyncio.sleep(0.01)
    assert cp.lost_calls == 1 and sp.lost_calls == 1


async def test_exception_in_data_received_goes_to_handler_and_closes(net: Net) -> None:
    loop = asyncio.get_running_loop()
    contexts: list[dict[str, Any]] = []
    old = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, ctx: contexts.append(ctx))
    try:
        ct, cp, st, sp = await net.pair(Recorder, lambda: Recorder(fail_on_data=True))
        ct.write(b"trigger")
        exc = await wait(sp.lost)
        assert isinstance(exc, ZeroDivisionError)
        assert st.is_closing()
        assert len(contexts) == 1
        assert isinstance(contexts[0]["exception"], ZeroDivisionError)
        assert "data_received" in contexts[0]["message"]
        assert contexts[0]["transport"] is st
        await wait(cp.lost)  # the peer sees the connection go
    finally:
        loop.set_exception_handler(old)


async def test_get_extra_info(net: Net) -> None:
    ct, _cp, st, _sp = await net.pair(Recorder, Recorder)
    cpeer, csock = ct.get_extra_info("peername"), ct.get_extra_info("sockname")
    speer, ssock = st.get_extra_info("peername"), st.get_extra_info("sockname")
    assert isinstance(cpeer, tuple) and len(cpeer) == 2
    assert cpeer == ssock and speer == csock
    assert cpeer[0] == net.client_host
    sentinel = object()
    assert ct.get_extra_info("no-such-key", sentinel) is sentinel
    assert ct.get_extra_info("no-such-key") is None
    if net.kind == "stack":
        info = ct.get_extra_info("tcp_info")
        assert str(info.state) == "ESTABLISHED"
        assert ct.get_extra_info("stack") is not None
    ct.close()
    st.close()


async def test_write_buffer_limits(net: Net) -> None:
    ct, _cp, st, _sp = await net.pair(Recorder, Recorder)
    assert ct.get_write_buffer_limits() == (16 * 1024, 64 * 1024)
    ct.set_write_buffer_limits(high=1000)
    assert ct.get_write_buffer_limits() == (250, 1000)
    ct.set_write_buffer_limits(low=100)
    assert ct.get_write_buffer_limits() == (100, 400)
    with pytest.raises(ValueError):
        ct.set_write_buffer_limits(high=10, low=20)
    ct.set_write_buffer_limits()
    assert ct.get_write_buffer_size() == 0
    ct.close()
    st.close()


async def test_pause_reading_is_idempotent(net: Net) -> None:
    ct, cp, st, _sp = await net.pair(Recorder, Recorder)
    assert ct.is_reading()
    ct.pause_reading()
    ct.pause_reading()
    assert not ct.is_reading()
    st.write(b"held")
    await asyncio.sleep(0.05)
    assert bytes(cp.data) == b""  # nothing delivered while paused
    ct.resume_reading()
    ct.resume_reading()
    assert ct.is_reading()
    await cp.wait_bytes(4)
    assert bytes(cp.data) == b"held"
    ct.close()
    st.close()


async def test_paused_reader_stalls_sender_and_drain_works(net: Net) -> None:
    """pause_reading shrinks the window: the sender's buffer fills, pause_writing,
    then resume_reading lets everything through and resume_writing follows."""
    ct, cp, st, sp = await net.pair(Recorder, Recorder)
    st.pause_reading()
    chunk = b"x" * 65536
    sent = 0
    stalled = False
    for _ in range(4096):  # at most 256 MiB
        ct.write(chunk)
        sent += len(chunk)
        if cp.paused > cp.resumed:
            # Paused: let the bytes travel; a stalled peer keeps us paused.
            await asyncio.sleep(0.05)
            if cp.paused > cp.resumed:
                stalled = True
                break
        elif sent % (1024 * 1024) == 0:
            await asyncio.sleep(0.01)
    assert stalled, "the sender never stalled on the paused reader"
    assert ct.get_write_buffer_size() > 64 * 1024
    if net.kind == "stack":
        # The paused side advertises a closed window.
        assert st.get_extra_info("tcp_info").rcv_wnd < 64 * 1024
    resumed = cp.resumed
    await asyncio.sleep(0.05)
    assert cp.resumed == resumed  # still paused while the reader is
    st.resume_reading()
    await sp.wait_bytes(sent)
    assert len(sp.data) == sent
    assert cp.resumed == cp.paused
    assert ct.get_write_buffer_size() == 0
    ct.close()
    st.close()


async def test_stream_writer_drain_blocks_on_paused_reader(net: Net) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**16)
    ct, cp, st, sp = await net.pair(lambda: asyncio.StreamReaderProtocol(reader), Recorder)
    writer = asyncio.StreamWriter(ct, cp, reader, loop)
    st.pause_reading()
    chunk = b"y" * 65536
    sent = 0
    drain: asyncio.Task[None] | None = None
    for _ in range(4096):
        writer.write(chunk)
        sent += len(chunk)
        drain = asyncio.ensure_future(writer.drain())
        await asyncio.sleep(0.001 if sent % (1024 * 1024) else 0.01)
        if not drain.done():
            break
        drain = None
    assert drain is not None, "drain() never blocked"
    await asyncio.sleep(0.02)
    assert not drain.done()
    st.resume_reading()
    await wait(drain)
    await sp.wait_bytes(sent)
    writer.close()
    await wait(writer.wait_closed())
    st.close()


class Buffered(asyncio.BufferedProtocol):
    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.buf = bytearray(1000)
        self.data = bytearray()
        self.sizes: list[int] = []
        self.eof = loop.create_future()
        self.lost = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def get_buffer(self, sizehint: int) -> bytearray:
        return self.buf

    def buffer_updated(self, nbytes: int) -> None:
        self.sizes.append(nbytes)
        self.data += self.buf[:nbytes]

    def eof_received(self) -> bool:
        self.eof.set_result(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.set_result(exc)


async def test_buffered_protocol(net: Net) -> None:
    ct, _cp, _st, sp = await net.pair(Recorder, Buffered)
    payload = bytes(range(251)) * 400  # ~100 KB, not a multiple of 1000
    ct.write(payload)
    ct.write_eof()
    await wait(sp.eof)
    assert bytes(sp.data) == payload
    assert max(sp.sizes) <= 1000
    await wait(sp.lost)
    ct.close()
