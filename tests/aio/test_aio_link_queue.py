"""The rate limit's queue: bounded (tail drop), and the rate knob checked alike
by memory_link_pair and impair."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import pytest

import aionetstack
from aionetstack.link.impair import DEFAULT_QUEUE, ImpairedLink
from aionetstack.link.memory import MemoryLink


def packet(i: int, size: int = 100) -> bytes:
    return i.to_bytes(4, "big") + bytes(size - 4)


class _Handle:
    def __init__(self, loop: FakeLoop, when: float, callback: Callable[[], object]) -> None:
        self.loop, self.when, self.callback = loop, when, callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeLoop:
    """Just enough of a loop for ImpairedLink: a clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0
        self.timers: list[_Handle] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], object], *args: Any) -> _Handle:
        handle = _Handle(self, when, lambda: callback(*args))
        self.timers.append(handle)
        return handle

    def advance(self, seconds: float) -> None:
        self.now += seconds
        while True:
            due = [h for h in self.timers if not h.cancelled and h.when <= self.now]
            if not due:
                return
            for h in due:
                self.timers.remove(h)
                h.callback()


class Recorder:
    """An inner link that only records what is sent through it."""

    mtu = 1500

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send_batch(self, packets: Sequence[bytes]) -> None:
        self.sent.extend(packets)

    def close(self) -> None:
        pass


def make(rate: float, queue: int | None) -> tuple[ImpairedLink, Recorder, FakeLoop]:
    inner, loop = Recorder(), FakeLoop()
    link = ImpairedLink(
        inner,  # type: ignore[arg-type]
        rate=rate,
        queue=queue,
        ingress=False,
        loop=loop,  # type: ignore[arg-type]
    )
    return link, inner, loop


def test_rate_queue_tail_drops_when_full() -> None:
    link, inner, loop = make(rate=1000.0, queue=5)  # 1000-byte packets: 1 s each
    link.send_batch([packet(i, 1000) for i in range(20)])
    assert link.egress is not None
    stats = link.stats()["egress"]
    assert stats["queue_drops"] == 15
    assert stats["dropped"] == 15
    assert stats["passed"] == 5
    assert len(link.egress._heap) == 5
    # the heap does not grow: later packets are dropped too
    link.send(packet(99, 1000))
    assert link.stats()["egress"]["queue_drops"] == 16
    assert len(link.egress._heap) == 5
    # two packets serialised: room for two more, tail-dropped beyond that
    loop.advance(2.0)
    assert [int.from_bytes(p[:4], "big") for p in inner.sent] == [0, 1]
    link.send_batch([packet(i, 1000) for i in range(20, 24)])
    assert link.stats()["egress"]["queue_drops"] == 18
    loop.advance(100.0)
    assert [int.from_bytes(p[:4], "big") for p in inner.sent] == [0, 1, 2, 3, 4, 20, 21]
    link.close()


def test_rate_queue_default_and_unbounded() -> None:
    link, _, _ = make(rate=1000.0, queue=DEFAULT_QUEUE)
    link.send_batch([packet(i) for i in range(DEFAULT_QUEUE + 500)])
    assert link.stats()["egress"]["queue_drops"] == 500
    link.close()
    link, _, _ = make(rate=1000.0, queue=None)
    link.send_batch([packet(i) for i in range(DEFAULT_QUEUE + 500)])
    assert link.stats()["egress"]["queue_drops"] == 0
    assert link.egress is not None and len(link.egress._heap) == DEFAULT_QUEUE + 500
    link.close()


def test_duplicates_that_the_queue_drops() -> None:
    inner, loop = Recorder(), FakeLoop()
    link = ImpairedLink(
        inner,  # type: ignore[arg-type]
        rate=1000.0,
        queue=3,
        duplicate=1.0,
        ingress=False,
        loop=loop,  # type: ignore[arg-type]
        seed=1,
    )
    link.send_batch([packet(i, 1000) for i in range(4)])
    stats = link.stats()["egress"]
    # 8 copies: 3 queued (packets 0, 0, 1), 5 dropped; packets 2 and 3 lost entirely
    assert (stats["passed"], stats["queue_drops"], stats["dropped"]) == (2, 5, 2)
    link.close()


async def test_memory_link_pair_queue_limit() -> None:
    a, b = aionetstack.memory_link_pair(rate=1000, queue=4)
    a.send_batch([packet(i, 1000) for i in range(10)])
    assert a.stats()["egress"]["queue_drops"] == 6
    a.close()
    b.close()
    inner_a, inner_b = MemoryLink.pair(loop_factory=asyncio.get_running_loop)  # type: ignore[arg-type]
    w = aionetstack.impair(inner_a, rate=1000, queue=2)
    w.send_batch([packet(i, 1000) for i in range(10)])
    assert w.stats()["egress"]["queue_drops"] == 8
    w.close()
    inner_b.close()


@pytest.mark.parametrize("rate", [0, 0.0, -1])
def test_rate_must_be_positive_everywhere(rate: float) -> None:
    with pytest.raises(ValueError, match="rate"):
        aionetstack.memory_link_pair(rate=rate)
    inner, _ = MemoryLink.pair()
    with pytest.raises(ValueError, match="rate"):
        aionetstack.impair(inner, rate=rate)


@pytest.mark.parametrize("queue", [0, -3])
def test_queue_must_be_positive(queue: int) -> None:
    with pytest.raises(ValueError, match="queue"):
        aionetstack.memory_link_pair(rate=1000, queue=queue)
    inner, _ = MemoryLink.pair()
    with pytest.raises(ValueError, match="queue"):
        aionetstack.impair(inner, rate=1000, queue=queue)
    with pytest.raises(TypeError, match="queue"):
        aionetstack.impair(inner, rate=1000, queue=1.5)  # type: ignore[arg-type]
