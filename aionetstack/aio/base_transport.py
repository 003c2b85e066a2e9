"""The life cycle every transport of a ``Stack`` shares.

Theory of operation
-------------------
As CPython's ``asyncio/selector_events.py`` keeps the life cycle of its socket
transports in ``_SelectorTransport``, ``StackTransport`` keeps ours in one
place for ``TcpTransport`` and ``DatagramTransport``: it registers itself with
the driver as the ``Owner`` of its engine object, and it ends in one way::

    abort() / _fatal_error(exc) -> _force_close(exc): _release() the engine
        object (a TCP RST, a UDP endpoint closed) and mark the stack dirty
    -> _connection_lost(exc): once; schedules, with call_soon,
    -> _call_connection_lost(exc): protocol.connection_lost(exc) (only if
       connection_made ran), then disown the engine object and tell the
       server that accepted the connection (``on_detach``).

Subclasses write what differs: how they start, how ``close()`` ends them (an
orderly TCP close waits for the write buffer), what ``_release()`` does and
which extra info they give.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from aionetstack.aio.driver import Driver, EngineObject, stack_closed_error

_P = TypeVar("_P", bound=asyncio.BaseProtocol)


class StackTransport(asyncio.BaseTransport, Generic[_P]):
    """The shared part of the transports of a ``Stack`` (see the module docstring)."""

    # CPython's _SelectorTransport logs an OSError from a protocol callback only
    # in debug mode; the datagram transport has always logged every error.
    _log_os_errors = False

    def __init__(
        self,
        driver: Driver,
        obj: EngineObject,
        protocol: _P,
        on_detach: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self._driver = driver
        self._loop = driver.loop
        self._owned = obj
        self._protocol: _P = protocol
        self._on_detach = on_detach  # the accepting server's connection count
        self._started = False  # connection_made ran
        self._closing = False  # close()/abort() called, or connection lost
        self._lost = False  # connection_lost scheduled
        self._conn_lost_writes = 0
        driver.own(obj, self)

    # --- the Owner side (called by the driver) -------------------------------------
    def on_ready(self) -> None:
        raise NotImplementedError

    def on_stack_close(self) -> None:
        """The stack shuts down: abort, unless the application already closed the
        transport (an orphan finishing its data and FIN: the stack lingers for it)."""
        if not self._closing:
            self._force_close(stack_closed_error())

    # --- the end of a transport ------------------------------------------------------
    def _release(self) -> None:
        """Let go of the engine object at once (RST, endpoint closed); mark dirty."""
        raise NotImplementedError

    def _fatal_error(self, exc: BaseException, message: str) -> None:
        if self._log_os_errors or not isinstance(exc, OSError) or self._loop.get_debug():
            self._loop.call_exception_handler(
                {
                    "message": message,
                    "exception": exc,
                    "transport": self,
                    "protocol": self._protocol,
                }
            )
        self._force_close(exc)

    def _force_close(self, exc: BaseException | None) -> None:
        if self._lost:
            return
        self._closing = True
        self._release()
        self._connection_lost(exc)

    def _connection_lost(self, exc: BaseException | None) -> None:
        if self._lost:
            return
        self._lost = True
        self._closing = True
        self._loop.call_soon(self._call_connection_lost, exc)

    def _call_connection_lost(self, exc: BaseException | None) -> None:
        try:
            if self._started:
                self._protocol.connection_lost(exc)  # type: ignore[arg-type]
        finally:
            self._driver.disown(self._owned, self)
            on_detach, self._on_detach = self._on_detach, None
            if on_detach is not None:
                on_detach()

    # --- asyncio.BaseTransport ---------------------------------------------------------
    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "stack":
            return self._driver.host
        return default

    def is_closing(self) -> bool:
        return self._closing

    def abort(self) -> None:
        self._force_close(None)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol  # type: ignore[assignment]

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol
