"""The link contract: devices that move whole IPv4 packets.

A link never imports asyncio. It is attached to an event loop that the aio
layer hands in; the loop is used only through the small structural
``EventLoopLike`` protocol below (an ``asyncio`` loop satisfies it).

Theory of operation
-------------------
* ``attach(loop, on_packets)``: from now on the link delivers received packets
  by calling ``on_packets(batch)`` with a list of ``bytes`` (one IPv4 packet
  each). A link delivers *every* packet available per wakeup in one batch, so
  the stack can process them all and flush its output once.
* ``send(packet)`` / ``send_batch(packets)``: hand packets to the device. They
  never block; a link that cannot write now queues (bounded) and counts drops.
* ``close()``: release the device. Idempotent.
* Wrappers (``impair``, ``capture``) are links around an inner link: they
  implement the same protocol and forward to it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

PacketBatchCallback = Callable[[list[bytes]], None]


class TimerHandleLike(Protocol):
    def cancel(self) -> None: ...


class EventLoopLike(Protocol):
    """What a link may use of an event loop (asyncio's loops qualify)."""

    def time(self) -> float: ...

    def call_soon(self, callback: Callable[..., object], *args: Any) -> TimerHandleLike: ...

    def call_at(
        self, when: float, callback: Callable[..., object], *args: Any
    ) -> TimerHandleLike: ...

    def call_later(
        self, delay: float, callback: Callable[..., object], *args: Any
    ) -> TimerHandleLike: ...

    def add_reader(self, fd: int, callback: Callable[..., object], *args: Any) -> None: ...

    def remove_reader(self, fd: int) -> bool: ...

    def add_writer(self, fd: int, callback: Callable[..., object], *args: Any) -> None: ...

    def remove_writer(self, fd: int) -> bool: ...

    def create_future(self) -> Any: ...


@runtime_checkable
class Link(Protocol):
    """A device that carries whole IPv4 packets."""

    @property
    def mtu(self) -> int: ...

    def attach(self, loop: EventLoopLike, on_packets: PacketBatchCallback) -> None: ...

    def detach(self) -> None: ...

    def send(self, packet: bytes) -> None: ...

    def send_batch(self, packets: Sequence[bytes]) -> None: ...

    def close(self) -> None: ...
