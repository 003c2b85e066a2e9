"""``TcpChannel``: an outbound connection handed over with what it received
(over an ``AF_UNIX`` socket pair: no network, no namespace needed)."""

from __future__ import annotations

import asyncio
import socket

import pytest

from aionetstack.gateway.dialers import TcpChannel

T = 5.0


class Recorder(asyncio.Protocol):
    """What a protocol that takes over a channel sees, in order."""

    def __init__(self) -> None:
        self.events: list[object] = []
        self.done = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.events.append(data)

    def eof_received(self) -> bool:
        self.events.append("eof")
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.events.append(("lost", type(exc).__name__ if exc else None))
        if not self.done.done():
            self.done.set_result(None)


async def channel_pair(limit: int = 1 << 16) -> tuple[TcpChannel, socket.socket]:
    ours, theirs = socket.socketpair()
    theirs.setblocking(False)
    _, channel = await asyncio.get_running_loop().create_connection(
        lambda: TcpChannel(limit), sock=ours
    )
    return channel, theirs


async def until(check: object) -> None:
    async with asyncio.timeout(T):
        while not check():  # type: ignore[operator]
            await asyncio.sleep(0.01)


async def test_handshake_bytes_then_the_rest_handed_over_in_order() -> None:
    channel, peer = await channel_pair()
    peer.send(b"\x05\x00HELLO first words")
    assert await channel.readexactly(2) == b"\x05\x00"  # the handshake's part
    peer.send(b" and more")
    peer.shutdown(socket.SHUT_WR)
    await until(lambda: channel._eof)
    taker = Recorder()
    channel.attach(taker)
    assert taker.events == [b"HELLO first words and more", "eof"]
    assert channel.transport is not None and not channel.transport.is_closing()
    channel.transport.write(b"reply")  # the other direction still works
    await until(lambda: _recv(peer) == b"reply")
    with pytest.raises(RuntimeError):
        channel.attach(Recorder())
    channel.transport.close()
    peer.close()


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(100)
    except BlockingIOError:
        return b""


async def test_live_data_after_attach_goes_to_the_new_protocol() -> None:
    channel, peer = await channel_pair()
    taker = Recorder()
    channel.attach(taker)
    assert taker.events == []  # nothing was waiting
    peer.send(b"later")
    await until(lambda: taker.events == [b"later"])
    peer.close()
    await until(lambda: taker.events == [b"later", "eof"])  # half-open: ours to close
    assert channel.transport is not None
    channel.transport.close()
    await asyncio.wait_for(taker.done, T)
    assert taker.events == [b"later", "eof", ("lost", None)]


async def test_a_connection_that_ended_before_the_hand_over() -> None:
    channel, peer = await channel_pair()
    peer.send(b"last words")
    peer.close()
    await until(lambda: channel._eof)
    assert channel.transport is not None
    channel.transport.close()  # e.g. given up on before the hand-over
    await until(lambda: channel._closed)
    taker = Recorder()
    channel.attach(taker)
    assert taker.events == [b"last words", "eof", ("lost", None)]


async def test_readexactly_errors_and_the_buffer_bound() -> None:
    channel, peer = await channel_pair(limit=4096)
    peer.send(b"x" * 10000)  # past the limit: reading pauses, nothing is lost
    await until(lambda: channel.transport is not None and not channel.transport.is_reading())
    assert await channel.readexactly(9000) == b"x" * 9000  # resumes to get them
    peer.send(b"yz")
    peer.shutdown(socket.SHUT_WR)
    with pytest.raises(asyncio.IncompleteReadError) as info:
        await asyncio.wait_for(channel.readexactly(2000), T)
    assert info.value.partial == b"x" * 1000 + b"yz"
    peer.close()
    with pytest.raises(ValueError):
        TcpChannel(0)


async def test_streams_hand_over() -> None:
    channel, peer = await channel_pair()
    peer.send(b"banner\n")
    await until(lambda: bytes(channel._buffer) == b"banner\n")
    reader, writer = channel.streams()
    assert await asyncio.wait_for(reader.readline(), T) == b"banner\n"
    writer.write(b"ping")
    await writer.drain()
    await until(lambda: _recv(peer) == b"ping")
    peer.send(b"pong")
    peer.shutdown(socket.SHUT_WR)
    assert await asyncio.wait_for(reader.read(), T) == b"pong"
    writer.close()
    peer.close()
