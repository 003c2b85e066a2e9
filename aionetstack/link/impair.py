"""Seeded network impairments as a wrapper around any link.

Theory of operation
-------------------
``ImpairedLink(inner, ...)`` is itself a link. Outgoing packets (``send`` /
``send_batch``) and incoming batches (the inner link's ``on_packets``) each go
through one ``_Direction``, which decides per packet, with its own seeded
``random.Random``:

* ``loss``: drop with this probability;
* ``corrupt``: flip one random bit (the receiver's checksums must catch it);
* ``duplicate``: send a second copy;
* ``rate`` (bytes/s): a serialisation queue; a packet leaves when the previous
  one has finished plus ``len / rate``. Like a router's buffer the queue holds
  at most ``queue`` packets (default 1000; None: unbounded): a packet arriving
  at a full queue is tail-dropped (counted in ``dropped`` and ``queue_drops``);
* ``delay`` + uniform(0, ``jitter``) seconds of propagation delay;
* ``reorder``: with this probability the packet is held back by an extra
  ``reorder_delay`` (default ``max(2 * delay, 2 ms)``), so later packets pass it.

Packets that need no delay pass straight through in the same batch. Delayed
packets sit in a heap ``(due, seq, packet)`` served by **one** ``loop.call_at``
handle per direction, re-armed only when the earliest due time moves earlier;
when it fires every due packet goes out in one batch. The same seed gives the
same decisions (timing still follows the real loop clock).

``LinkWrapper`` is the forwarding base shared with ``capture``; it also lets a
wrapped end that no stack owns act as a raw peer (``send`` / ``await recv()``).
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from collections.abc import Sequence
from typing import Any

from aionetstack.link.base import EventLoopLike, Link, PacketBatchCallback, TimerHandleLike
from aionetstack.link.memory import LoopFactory, RawReceiver

# Packets the rate queue holds before it tail-drops (a router's buffer).
DEFAULT_QUEUE = 1000


def check_rate_and_queue(rate: float | None, queue: int | None) -> None:
    """Raise ValueError unless ``rate`` is None or > 0 and ``queue`` None or >= 1."""
    if rate is not None and not rate > 0:
        raise ValueError(f"rate must be > 0 bytes/s or None, not {rate!r}")
    if queue is not None and (isinstance(queue, bool) or not isinstance(queue, int)):
        raise TypeError(f"queue must be an int or None, not {type(queue).__name__}")
    if queue is not None and queue < 1:
        raise ValueError(f"queue must be >= 1 packet or None, not {queue!r}")


class LinkWrapper:
    """A link that forwards to ``inner``; subclasses hook ``_egress``/``_ingress``."""

    def __init__(self, inner: Link, *, loop_factory: LoopFactory | None = None) -> None:
        self.inner = inner
        self._loop: EventLoopLike | None = None
        self._loop_factory = loop_factory
        self._on_packets: PacketBatchCallback | None = None
        self._raw: RawReceiver | None = None
        self._closed = False

    @property
    def mtu(self) -> int:
        return self.inner.mtu

    def attach(self, loop: EventLoopLike, on_packets: PacketBatchCallback) -> None:
        if self._on_packets is not None:
            raise RuntimeError("link is already attached")
        self._loop = loop
        self._on_packets = on_packets
        self._attached(loop)
        self.inner.attach(loop, self._ingress)

    def detach(self) -> None:
        self._on_packets = None
        self.inner.detach()

    def send(self, packet: bytes) -> None:
        self._egress([packet])

    def send_batch(self, packets: Sequence[bytes]) -> None:
        if packets:
            self._egress(packets)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._on_packets = None
        self._closing()
        self.inner.close()
        if self._raw is not None:
            self._raw.close()

    async def recv(self) -> bytes:
        """Receive the next packet (only for a wrapped end that no stack owns)."""
        if self._raw is None:
            loop = self._get_loop()
            self._raw = RawReceiver(loop)
            self.attach(loop, self._raw.on_packets)
        return await self._raw.recv()

    # --- hooks -----------------------------------------------------------
    def _attached(self, loop: EventLoopLike) -> None:
        pass

    def _closing(self) -> None:
        pass

    def _egress(self, packets: Sequence[bytes]) -> None:
        self.inner.send_batch(packets)

    def _ingress(self, batch: list[bytes]) -> None:
        self._deliver(batch)

    def _deliver(self, batch: list[bytes]) -> None:
        if self._on_packets is not None and batch:
            self._on_packets(batch)

    def _get_loop(self) -> EventLoopLike:
        if self._loop is None:
            factory = self._loop_factory
            if factory is None:
                factory = getattr(self.inner, "_loop_factory", None)
            if factory is None:
                raise RuntimeError("link is not attached to a loop")
            self._loop = factory()
        return self._loop


class ImpairmentStats:
    """Counters of one direction."""

    __slots__ = (
        "corrupted",
        "delayed",
        "dropped",
        "duplicated",
        "passed",
        "queue_drops",
        "reordered",
    )

    def __init__(self) -> None:
        self.passed = 0
        self.dropped = 0  # packets lost: ``loss``, or tail-dropped by the rate queue
        self.queue_drops = 0  # packets (copies included) the full rate queue dropped
        self.corrupted = 0
        self.duplicated = 0
        self.reordered = 0
        self.delayed = 0

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


class _Direction:
    """The impairments of one direction, with its own RNG, queue and timer."""

    def __init__(
        self,
        out: Any,  # Callable[[list[bytes]], None]
        *,
        loss: float,
        delay: float,
        jitter: float,
        reorder: float,
        duplicate: float,
        corrupt: float,
        rate: float | None,
        reorder_delay: float,
        seed: int | None,
        queue: int | None = DEFAULT_QUEUE,
    ) -> None:
        self._out = out
        self.loss = loss
        self.delay = delay
        self.jitter = jitter
        self.reorder = reorder
        self.duplicate = duplicate
        self.corrupt = corrupt
        self.rate = rate
        self.reorder_delay = reorder_delay
        self._rng = random.Random(seed)
        self.queue = queue
        self._busy_until = 0.0  # serialisation queue (rate)
        self._in_queue: deque[float] = deque()  # departure times of queued packets
        self._heap: list[tuple[float, int, bytes]] = []
        self._seq = 0
        self._timer: TimerHandleLike | None = None
        self._timer_at = 0.0
        self.loop: EventLoopLike | None = None
        self.stats = ImpairmentStats()
        self.active = bool(loss or delay or jitter or reorder or duplicate or corrupt or rate)

    def process(self, packets: Sequence[bytes]) -> None:
        if not self.active:
            self.stats.passed += len(packets)
            self._out(list(packets))
            return
        rng = self._rng.random
        now_out: list[bytes] = []
        loop = self.loop
        now = loop.time() if loop is not None else 0.0
        stats = self.stats
        for packet in packets:
            if self.loss and rng() < self.loss:
                stats.dropped += 1
                continue
            copies = 2 if self.duplicate and rng() < self.duplicate else 1
            if copies == 2:
                stats.duplicated += 1
            sent = False
            for _ in range(copies):
                p = packet
                if self.corrupt and rng() < self.corrupt:
                    p = self._flip_bit(p)
                    stats.corrupted += 1
                due = self._due(len(p), now)
                if due is None:
                    continue  # tail drop: the rate queue is full
                sent = True
                if due <= now or loop is None:
                    now_out.append(p)
                else:
                    stats.delayed += 1
                    self._seq += 1
                    heapq.heappush(self._heap, (due, self._seq, p))
            if sent:
                stats.passed += 1
            else:
                stats.dropped += 1  # every copy tail-dropped
        if now_out:
            self._out(now_out)
        if self._heap:
            self._arm()

    def _due(self, size: int, now: float) -> float | None:
        """When this packet is delivered; None when the rate queue drops it."""
        due = now
        if self.rate:
            in_queue = self._in_queue
            while in_queue and in_queue[0] <= now:
                in_queue.popleft()  # serialised: left the queue
            if self.queue is not None and len(in_queue) >= self.queue:
                self.stats.queue_drops += 1
                return None
            start = self._busy_until if self._busy_until > now else now
            self._busy_until = due = start + size / self.rate
            in_queue.append(due)
        extra = self.delay
        if self.jitter:
            extra += self._rng.random() * self.jitter
        if self.reorder and self._rng.random() < self.reorder:
            extra += self.reorder_delay
            self.stats.reordered += 1
        return due + extra

    def _flip_bit(self, packet: bytes) -> bytes:
        if not packet:
            return packet
        buf = bytearray(packet)
        bit = self._rng.randrange(len(buf) * 8)
        buf[bit >> 3] ^= 1 << (bit & 7)
        return bytes(buf)

    def _arm(self) -> None:
        loop = self.loop
        assert loop is not None
        due = self._heap[0][0]
        if self._timer is not None:
            if due >= self._timer_at:
                return
            self._timer.cancel()
        self._timer_at = due
        self._timer = loop.call_at(due, self._fire)

    def _fire(self) -> None:
        self._timer = None
        loop = self.loop
        assert loop is not None
        now = max(self._timer_at, loop.time())
        heap = self._heap
        batch: list[bytes] = []
        while heap and heap[0][0] <= now:
            batch.append(heapq.heappop(heap)[2])
        if batch:
            self._out(batch)
        if heap:
            self._arm()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._heap.clear()


class ImpairedLink(LinkWrapper):
    """Wrap ``inner`` with seeded loss, delay, jitter, reordering, duplication,
    corruption and a rate limit (with a ``queue`` of that many packets, tail
    drop), applied to the directions selected by ``egress`` (packets sent) and
    ``ingress`` (packets received)."""

    def __init__(
        self,
        inner: Link,
        *,
        loss: float = 0.0,
        delay: float = 0.0,
        jitter: float = 0.0,
        reorder: float = 0.0,
        duplicate: float = 0.0,
        corrupt: float = 0.0,
        rate: float | None = None,
        seed: int | None = None,
        reorder_delay: float | None = None,
        queue: int | None = DEFAULT_QUEUE,
        egress: bool = True,
        ingress: bool = True,
        loop: EventLoopLike | None = None,
        loop_factory: LoopFactory | None = None,
    ) -> None:
        super().__init__(inner, loop_factory=loop_factory)
        for name, p in (
            ("loss", loss),
            ("reorder", reorder),
            ("duplicate", duplicate),
            ("corrupt", corrupt),
        ):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], not {p!r}")
        if delay < 0 or jitter < 0:
            raise ValueError("delay and jitter must be >= 0")
        check_rate_and_queue(rate, queue)
        if reorder_delay is None:
            reorder_delay = max(2 * delay, 0.002)
        # One seed gives both directions; they get distinct, derived streams.
        seeds: tuple[int | None, int | None] = (
            (None, None) if seed is None else (seed * 2 + 1, seed * 2 + 2)
        )
        knobs = {
            "loss": loss,
            "delay": delay,
            "jitter": jitter,
            "reorder": reorder,
            "duplicate": duplicate,
            "corrupt": corrupt,
            "rate": rate,
            "reorder_delay": reorder_delay,
            "queue": queue,
        }
        self.egress: _Direction | None = (
            _Direction(self.inner.send_batch, seed=seeds[0], **knobs) if egress else None  # type: ignore[arg-type]
        )
        self.ingress: _Direction | None = (
            _Direction(self._deliver, seed=seeds[1], **knobs) if ingress else None  # type: ignore[arg-type]
        )
        if loop is not None:
            self._set_loop(loop)

    def _set_loop(self, loop: EventLoopLike) -> None:
        self._loop = loop
        for d in (self.egress, self.ingress):
            if d is not None:
                d.loop = loop

    def _attached(self, loop: EventLoopLike) -> None:
        self._set_loop(loop)

    def _egress(self, packets: Sequence[bytes]) -> None:
        if self._closed:
            return
        if self.egress is None:
            self.inner.send_batch(packets)
            return
        if self.egress.loop is None and self.egress.active:
            try:
                self._set_loop(self._get_loop())
            except RuntimeError:
                pass
        self.egress.process(packets)

    def _ingress(self, batch: list[bytes]) -> None:
        if self.ingress is None:
            self._deliver(batch)
        else:
            self.ingress.process(batch)

    def _closing(self) -> None:
        for d in (self.egress, self.ingress):
            if d is not None:
                d.close()

    def stats(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        if self.egress is not None:
            out["egress"] = self.egress.stats.as_dict()
        if self.ingress is not None:
            out["ingress"] = self.ingress.stats.as_dict()
        return out
