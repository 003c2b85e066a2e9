"""The public link factories: ``memory_link_pair``, ``impair``, ``capture``.

Theory of operation
-------------------
The link implementations live in ``aionetstack.link`` and never import asyncio;
these factories give them ``asyncio.get_running_loop`` as their loop factory so
that an end used as a raw peer (``end.send(p)``, ``await end.recv()``) or an
impaired end sending before a stack attaches finds the running loop lazily
(the pair may be created outside a coroutine).

``memory_link_pair(..., loss=...)``'s impairment knobs *are* the ``impair``
wrapper: each end is wrapped with an egress-only ``ImpairedLink`` (so each
direction of the wire is impaired exactly once, with its own derived seed).
"""

from __future__ import annotations

import asyncio
import os
from typing import cast

from aionetstack.link.base import EventLoopLike, Link
from aionetstack.link.capture import CaptureLink
from aionetstack.link.impair import DEFAULT_QUEUE, ImpairedLink, check_rate_and_queue
from aionetstack.link.memory import MemoryLink

__all__ = ["CaptureLink", "ImpairedLink", "MemoryLink", "capture", "impair", "memory_link_pair"]


def _loop_factory() -> EventLoopLike:
    return cast(EventLoopLike, asyncio.get_running_loop())


def _current_loop() -> EventLoopLike | None:
    try:
        return cast(EventLoopLike, asyncio.get_running_loop())
    except RuntimeError:
        return None


def memory_link_pair(
    mtu: int = 1500,
    loss: float = 0.0,
    delay: float = 0.0,
    jitter: float = 0.0,
    reorder: float = 0.0,
    duplicate: float = 0.0,
    corrupt: float = 0.0,
    rate: float | None = None,
    seed: int | None = None,
    *,
    queue: int | None = DEFAULT_QUEUE,
) -> tuple[MemoryLink | ImpairedLink, MemoryLink | ImpairedLink]:
    """Two ends of an in-memory wire, optionally impaired (both directions).

    With ``rate``, each direction queues at most ``queue`` packets (None:
    unbounded) and tail-drops the rest, as a router's buffer does."""
    check_rate_and_queue(rate, queue)
    a, b = MemoryLink.pair(mtu, loop_factory=_loop_factory)
    knobs = (loss, delay, jitter, reorder, duplicate, corrupt, rate)
    if not any(knobs):
        return a, b
    # each end impairs only what it sends: every direction once, its own seed
    return (
        _impaired(a, knobs, None if seed is None else seed * 7919, queue, ingress=False),
        _impaired(b, knobs, None if seed is None else seed * 7919 + 1, queue, ingress=False),
    )


def impair(
    link: Link,
    loss: float = 0.0,
    delay: float = 0.0,
    jitter: float = 0.0,
    reorder: float = 0.0,
    duplicate: float = 0.0,
    corrupt: float = 0.0,
    rate: float | None = None,
    seed: int | None = None,
    *,
    queue: int | None = DEFAULT_QUEUE,
) -> ImpairedLink:
    """Wrap any link (TUN too) with seeded impairments in both directions
    (with ``rate``: at most ``queue`` packets queued per direction, tail drop)."""
    knobs = (loss, delay, jitter, reorder, duplicate, corrupt, rate)
    return _impaired(link, knobs, seed, queue, ingress=True)


def _impaired(
    link: Link,
    knobs: tuple[float, float, float, float, float, float, float | None],
    seed: int | None,
    queue: int | None,
    *,
    ingress: bool,
) -> ImpairedLink:
    loss, delay, jitter, reorder, duplicate, corrupt, rate = knobs
    return ImpairedLink(
        link,
        loss=loss,
        delay=delay,
        jitter=jitter,
        reorder=reorder,
        duplicate=duplicate,
        corrupt=corrupt,
        rate=rate,
        queue=queue,
        seed=seed,
        egress=True,
        ingress=ingress,
        loop=_current_loop(),
        loop_factory=_loop_factory,
    )


def capture(link: Link, path: str | os.PathLike[str], *, format: str | None = None) -> CaptureLink:
    """Wrap any link and write both directions to a capture file (closed with
    the link): pcapng, with each packet's direction, when ``path`` ends in
    ``.pcapng`` or ``format="pcapng"``; classic pcap otherwise."""
    return CaptureLink(link, path, format=format, loop_factory=_loop_factory)
