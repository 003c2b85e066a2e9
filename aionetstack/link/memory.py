"""An in-memory wire: two link ends that hand IPv4 packets to each other.

Theory of operation
-------------------
``MemoryLink.pair()`` makes two ends of one perfect wire (no loss, no delay;
impairments are added by wrapping the ends with ``link.impair``). ``send`` on
one end appends the packet to the other end's inbox. The first packet that
lands in an empty inbox schedules *one* ``loop.call_soon`` delivery, which hands
the attached stack every packet that arrived meanwhile in a single
``on_packets(batch)`` call: all packets of one loop iteration form one batch,
exactly as a TUN reader drains its descriptor until EAGAIN.

An end that no stack is attached to is a *raw peer*: tests and tools call
``end.send(packet)`` and ``await end.recv()`` on it. ``recv`` waits on a future
made by ``loop.create_future()``; this module never imports asyncio. The loop is
either given to ``attach`` or obtained lazily from ``loop_factory`` (the aio
factories pass ``asyncio.get_running_loop``).

``RawReceiver`` is the small queue behind ``recv`` and is reused by the link
wrappers (``impair``, ``capture``) so a wrapped end can be a raw peer too.
"""

from __future__ import annotations

import errno
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from aionetstack.link.base import EventLoopLike, PacketBatchCallback, TimerHandleLike

LoopFactory = Callable[[], EventLoopLike]


def _closed_error() -> OSError:
    return OSError(errno.EBADF, "link is closed")


class RawReceiver:
    """A packet queue with an awaitable ``recv()`` for links used as raw peers."""

    __slots__ = ("_closed", "_loop", "_queue", "_waiter")

    def __init__(self, loop: EventLoopLike) -> None:
        self._loop = loop
        self._queue: deque[bytes] = deque()
        self._waiter: Any = None
        self._closed = False

    def on_packets(self, batch: list[bytes]) -> None:
        self._queue.extend(batch)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self) -> None:
        self._closed = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(_closed_error())

    @property
    def pending(self) -> int:
        return len(self._queue)

    async def recv(self) -> bytes:
        while not self._queue:
            if self._closed:
                raise _closed_error()
            waiter = self._waiter = self._loop.create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        return self._queue.popleft()

    def recv_nowait(self) -> bytes | None:
        return self._queue.popleft() if self._queue else None


class MemoryLink:
    """One end of an in-memory wire. Make both ends with ``MemoryLink.pair()``."""

    def __init__(self, mtu: int = 1500, *, loop_factory: LoopFactory | None = None) -> None:
        if not 68 <= mtu <= 65535:
            raise ValueError(f"mtu must be in 68..65535, not {mtu}")
        self._mtu = mtu
        self._loop_factory = loop_factory
        self._loop: EventLoopLike | None = None
        self.peer: MemoryLink | None = None
        self._inbox: list[bytes] = []
        self._on_packets: PacketBatchCallback | None = None
        self._scheduled: TimerHandleLike | None = None
        self._raw: RawReceiver | None = None
        self._closed = False
        # counters
        self.packets_sent = 0
        self.packets_received = 0
        self.bytes_sent = 0
        self.dropped = 0  # oversize packets, or packets sent to a closed end

    @classmethod
    def pair(
        cls, mtu: int = 1500, *, loop_factory: LoopFactory | None = None
    ) -> tuple[MemoryLink, MemoryLink]:
        a = cls(mtu, loop_factory=loop_factory)
        b = cls(mtu, loop_factory=loop_factory)
        a.peer, b.peer = b, a
        return a, b

    # --- Link protocol ---------------------------------------------------
    @property
    def mtu(self) -> int:
        return self._mtu

    @property
    def closed(self) -> bool:
        return self._closed

    def attach(self, loop: EventLoopLike, on_packets: PacketBatchCallback) -> None:
        if self._closed:
            raise _closed_error()
        if self._on_packets is not None:
            raise RuntimeError("link is already attached")
        self._loop = loop
        self._on_packets = on_packets
        if self._inbox:
            self._schedule()

    def detach(self) -> None:
        self._on_packets = None
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None

    def send(self, packet: bytes) -> None:
        peer = self.peer
        if self._closed or peer is None or peer._closed or len(packet) > self._mtu:
            self.dropped += 1
            return
        self.packets_sent += 1
        self.bytes_sent += len(packet)
        peer._inbox.append(packet)
        if peer._scheduled is None:
            peer._schedule()

    def send_batch(self, packets: Sequence[bytes]) -> None:
        peer = self.peer
        if self._closed or peer is None or peer._closed:
            self.dropped += len(packets)
            return
        mtu = self._mtu
        inbox = peer._inbox
        n = 0
        for packet in packets:
            size = len(packet)
            if size > mtu:
                self.dropped += 1
                continue
            inbox.append(packet)
            n += 1
            self.bytes_sent += size
        self.packets_sent += n
        if n and peer._scheduled is None:
            peer._schedule()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.detach()
        self._inbox.clear()
        if self._raw is not None:
            self._raw.close()

    # --- raw peer ------------------------------------------------------
    async def recv(self) -> bytes:
        """Receive the next packet (only for an end that no stack is attached to)."""
        if self._raw is None:
            if self._closed:
                raise _closed_error()
            self._raw = RawReceiver(self._get_loop())
            self.attach(self._get_loop(), self._raw.on_packets)
        return await self._raw.recv()

    # --- internals -------------------------------------------------------
    def _get_loop(self) -> EventLoopLike:
        if self._loop is None:
            if self._loop_factory is None:
                raise RuntimeError("memory link is not attached to a loop")
            self._loop = self._loop_factory()
        return self._loop

    def _schedule(self) -> None:
        if self._on_packets is None:
            # Not attached yet: keep the packets until someone attaches or
            # calls recv() (which attaches a RawReceiver).
            return
        self._scheduled = self._get_loop().call_soon(self._deliver)

    def _deliver(self) -> None:
        self._scheduled = None
        batch = self._inbox
        if not batch or self._on_packets is None:
            return
        self._inbox = []
        self.packets_received += len(batch)
        self._on_packets(batch)
