"""The driver: one ``StackEngine`` on the running asyncio loop.

Theory of operation
-------------------
A ``Driver`` is what the asyncio faces of a ``Stack`` depend on (the role
aioquic's ``QuicConnectionProtocol`` plays for one connection). ``Stack``
builds it in ``start()``; the transports, servers and waiters receive it and
never import ``stack.py``. It owns no task and no thread, and reacts to exactly
three things.

1. **Packets.** The link calls ``on_packets(batch)`` with every packet of a
   wakeup. Each is fed to ``engine.receive``; then ``run`` dispatches the
   engine's ready objects to their owners (transports, servers, datagram
   endpoints, connect and ping waiters), whose protocol callbacks may write,
   and finally flushes once: ``engine.packets_to_send`` -> ``link.send_batch``.
   ACKs of a whole batch, and replies written by callbacks, leave together.
2. **Application calls.** A face calls the engine object directly, then
   ``touch(conn)`` (a TCP connection: the engine is told, with the current
   time, to pull its output) or ``mark_dirty()`` (anything else). Inside
   ``run`` that only sets a flag; outside it schedules one
   ``loop.call_soon`` flush (coalesced: many writes in one loop iteration, one
   flush).
3. **Time.** One ``loop.call_at`` handle serves every timer of every
   connection. After each run the engine's earliest deadline (``get_timer()``,
   O(1) on its heap) is compared with the armed one; the handle is replaced
   only when the deadline moved *earlier*. A handle that fires early (the
   deadline moved later) costs one no-op ``handle_timer``; the engine is driven
   with ``now = max(deadline, loop.time())``.

Every run gives the engine the current time before it dispatches
(``take_ready(now)``): output that a connection owes because of an
application call is built, and its timers armed, at the time of the run, never
at the time of the last input (RFC 7323 4.1, RFC 6298 5.1).

Owners. Each engine object the application holds (a ``TcpConnection``,
``TcpListener``, ``UdpEndpoint`` or ``PingRequest``) has one ``Owner``,
registered with ``own()`` and removed with ``disown()``. The driver calls
``owner.on_ready()`` when ``take_ready`` lists the object, and
``owner.on_stack_close()`` when the stack shuts down. Ready objects without an
owner have their events dropped.
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Callable
from typing import Protocol

from aionetstack.aio.logs import DropWatch, connection_logger
from aionetstack.core.config import StackConfig
from aionetstack.core.icmp import PingRequest
from aionetstack.core.listener import TcpListener
from aionetstack.core.stack import StackEngine
from aionetstack.core.tcp.connection import TcpConnection
from aionetstack.core.udp import UdpEndpoint
from aionetstack.link.base import Link

__all__ = ["Driver", "EngineObject", "Owner", "Tracer", "stack_closed_error"]

# What the engine's take_ready() returns, and what an Owner owns.
EngineObject = TcpConnection | TcpListener | UdpEndpoint | PingRequest
# Stack(tracer=...): receives every state change and timer event of every connection.
Tracer = Callable[[TcpConnection, str], None]

_MAX_RUN_ROUNDS = 8


def stack_closed_error() -> ConnectionAbortedError:
    """The error pending work gets when its stack closes."""
    return ConnectionAbortedError(errno.ECONNABORTED, "stack closed")


class Owner(Protocol):
    """The asyncio face of one engine object: a transport, a server, a waiter."""

    def on_ready(self) -> None:
        """The engine has news for the object: pull its events (called by ``run``)."""

    def on_stack_close(self) -> None:
        """The stack shuts down: fail what is pending, or let go of the object."""


class Driver:
    """Runs one engine on one loop for one link; see the module docstring."""

    __slots__ = (
        "_dirty",
        "_flush_handle",
        "_ifindex",
        "_in_run",
        "_timer",
        "_timer_at",
        "_watch",
        "config",
        "engine",
        "flushes",
        "host",
        "link",
        "loop",
        "owners",
        "stopped",
        "timer_arms",
        "timer_fires",
        "tracer",
        "wakeups",
    )

    def __init__(
        self,
        host: object,
        link: Link,
        engine: StackEngine,
        loop: asyncio.AbstractEventLoop,
        ifindex: int,
        tracer: Tracer | None = None,
    ) -> None:
        self.host = host  # the Stack served (get_extra_info("stack"))
        self.link = link
        self.engine = engine
        self.loop = loop
        self.config: StackConfig = engine.config
        self.tracer = tracer
        self.owners: dict[object, Owner] = {}  # EngineObject -> its Owner
        self.stopped = False  # packets and timers are no longer handled
        self._ifindex = ifindex
        self._in_run = False
        self._dirty = False
        self._flush_handle: asyncio.Handle | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._watch = DropWatch(link)  # rate-limited warnings (logs.py)
        # counters (cheap ints)
        self.wakeups = 0
        self.flushes = 0
        self.timer_fires = 0
        self.timer_arms = 0

    # --- what the faces use -----------------------------------------------------
    def own(self, obj: EngineObject, owner: Owner) -> None:
        """``owner`` receives ``obj``'s news from now on."""
        self.owners[obj] = owner

    def disown(self, obj: EngineObject, owner: Owner) -> None:
        """``owner`` lets go of ``obj`` (nothing happens if another owns it now)."""
        if self.owners.get(obj) is owner:
            del self.owners[obj]

    def mark_dirty(self) -> None:
        """The application called the engine: flush soon (once per loop iteration)."""
        if self._in_run:
            self._dirty = True
        elif self._flush_handle is None:
            self._flush_handle = self.loop.call_soon(self._flush_soon)

    def touch(self, conn: TcpConnection) -> None:
        """The application called a method of ``conn``: let the engine pull its output."""
        self.engine.notify(conn, self.loop.time())  # built now, not at the last input
        self.mark_dirty()

    def trace(self, conn: TcpConnection) -> None:
        """Route ``conn``'s trace lines to the stack's tracer and, at DEBUG, to
        the ``aionetstack.tcp`` logger; the transitions recorded before (the
        first, ``CLOSED -> SYN-SENT``, happens inside ``tcp_connect``) are
        replayed first, in the engine's own format."""
        tracer = self.tracer
        log = connection_logger(conn)
        if tracer is None and log is None:
            return

        def line_out(line: str) -> None:
            if tracer is not None:
                tracer(conn, line)
            if log is not None:
                log(line)

        for when, old, new, cause in conn.transitions:
            line_out(f"{when:.6f} {old} -> {new}: {cause}")
        conn.set_tracer(line_out)

    @property
    def timer(self) -> asyncio.TimerHandle | None:
        """The armed timer handle (None when no deadline is pending)."""
        return self._timer

    # --- the loop's side ----------------------------------------------------------
    def on_packets(self, batch: list[bytes]) -> None:
        """The link's callback: every packet of one wakeup."""
        if self.stopped:
            return
        now = self.loop.time()
        receive = self.engine.receive
        ifindex = self._ifindex
        self.wakeups += 1
        for packet in batch:
            receive(packet, ifindex, now)
        self.run(now)
        if now >= self._watch.next_check:
            self._watch.check(self.engine.stats(), now)

    def _flush_soon(self) -> None:
        self._flush_handle = None
        self.run(self.loop.time())

    def run(self, now: float) -> None:
        """Dispatch ready objects, flush once; repeat while callbacks add work."""
        engine = self.engine
        self._in_run = True
        self._dirty = True
        owners = self.owners
        send_batch = self.link.send_batch
        try:
            for _ in range(_MAX_RUN_ROUNDS):
                ready = engine.take_ready(now)
                for obj in ready:
                    owner = owners.get(obj)
                    if owner is not None:
                        try:
                            owner.on_ready()
                        except Exception as exc:  # a bug in the glue: report, go on
                            self.loop.call_exception_handler(
                                {
                                    "message": "aionetstack: error dispatching events",
                                    "exception": exc,
                                    "object": obj,
                                }
                            )
                    else:
                        _drop_events(obj)
                if not self._dirty:
                    break
                self._dirty = False
                out = engine.packets_to_send(now)
                if out:
                    self.flushes += 1
                    send_batch([packet for _ifindex, packet in out])
            else:
                self._in_run = False
                self.mark_dirty()  # still busy: continue on the next iteration
        finally:
            self._in_run = False
        self._arm_timer()

    def _arm_timer(self) -> None:
        when = self.engine.get_timer()
        if when is None:
            return
        timer = self._timer
        if timer is not None:
            if when >= self._timer_at:
                return
            timer.cancel()
        self._timer_at = when
        self.timer_arms += 1
        self._timer = self.loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self.stopped:
            return
        self.timer_fires += 1
        now = self.loop.time()
        if now < self._timer_at:
            now = self._timer_at
        self.engine.handle_timer(now)
        self.run(now)
        if now >= self._watch.next_check:
            self._watch.check(self.engine.stats(), now)

    def stop(self) -> None:
        """No more packets or timers: the stack is closed."""
        self.stopped = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None


def _drop_events(obj: object) -> None:
    """A ready object with no owner (a connection the application closed, a ping
    that timed out...): drop its events. Pings are answered only by their owner."""
    if isinstance(obj, TcpConnection | UdpEndpoint):
        next_event = obj.next_event
        while next_event() is not None:
            pass
