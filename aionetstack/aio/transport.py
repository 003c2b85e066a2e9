"""The asyncio TCP transport over a core ``TcpConnection``.

Theory of operation
-------------------
A ``TcpTransport`` is a thin adapter between one engine connection and one
asyncio protocol; it owns no task and no timer. It depends on the ``Driver``
(driver.py), never on ``Stack``; its life cycle (abort, fatal errors, the one
``connection_lost``) is the shared ``StackTransport`` (base_transport.py). The
driver calls ``on_ready()`` when ``StackEngine.take_ready()`` lists the
connection; the transport then pulls the connection's events and turns them
into protocol callbacks, in the order asyncio promises::

    connection_made (call_soon) -> data_received* -> eof_received? -> connection_lost (once)

Application calls (``write``, ``write_eof``, ``close``, ``abort``) go straight to
the engine and ``touch`` the connection; the driver flushes once per loop iteration.

Write buffer. ``write()`` never blocks and never copies into a transport-side
buffer: the engine queues everything. The connection's current send buffer
(``conn.send_buffer_size``, Linux's autotuned ``sk_sndbuf``: 87040 bytes
after the handshake at MSS 1448, growing with cwnd up to
``config.send_buffer``, moderated above the stack's memory limit) plays the
role of the kernel socket buffer, and the *transport's* write buffer is what
the engine holds beyond it, as a CPython socket transport's beyond the kernel's::

    get_write_buffer_size() == max(0, conn.send_queued - conn.send_buffer_size)

so bulk writes keep the window full (the buffer grows as cwnd does), while a
stalled peer makes the size grow past the high-water mark (64 KiB default) and
``pause_writing()`` is called; ``SendSpace`` events bring it back under the
low-water mark (16 KiB) and ``resume_writing()`` follows, so
``StreamWriter.drain()`` waits exactly when it should.

Reading. Data is pulled with ``conn.read()`` only while reading is not paused;
``pause_reading()`` therefore lets the engine's receive buffer fill, and the
advertised window shrinks to zero, as with a kernel socket. ``BufferedProtocol``
is served through ``get_buffer``/``buffer_updated``.

``close()`` stops reading and asks the engine for an orderly close (queued data,
then FIN); like CPython's socket transports, ``connection_lost(None)`` follows as
soon as the transport's write buffer is empty (the engine, like a kernel, keeps
delivering the data of the orphaned connection). ``abort()`` sends RST.
Exceptions raised by protocol callbacks go to ``loop.call_exception_handler``
and abort the connection; the protocol's ``connection_lost`` gets the exception.
Writes after ``write_eof()`` raise RuntimeError; writes after ``close()`` or after
the connection is lost are dropped (with a warning after a few), as CPython does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aionetstack.aio.addresses import SockAddr, sockaddr
from aionetstack.aio.base_transport import StackTransport
from aionetstack.aio.driver import Driver
from aionetstack.aio.logs import log_summary
from aionetstack.aio.sockopt import StackSocket
from aionetstack.core.tcp.connection import TcpConnection
from aionetstack.core.tcp.events import (
    ConnectionClosed,
    DataAvailable,
    EofReceived,
    SendSpace,
)

logger = logging.getLogger("aionetstack")

_LOG_THRESHOLD_FOR_CONNLOST_WRITES = 5
_HIGH_WATER = 64 * 1024


def _check_buffer_limits(high: int | None, low: int | None) -> tuple[int, int]:
    if high is None:
        high = _HIGH_WATER if low is None else 4 * low
    if low is None:
        low = high // 4
    if not high >= low >= 0:
        raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
    return high, low


def connected_transport(
    driver: Driver, conn: TcpConnection, protocol: asyncio.BaseProtocol
) -> TcpTransport:
    """A transport for a connection whose handshake just completed, started at
    once: ``connection_made`` runs now, then any events already queued
    (``Stack.create_connection`` calls this from the driver). Raises what
    ``connection_made`` raised, after aborting the connection."""
    waiter: asyncio.Future[None] = driver.loop.create_future()
    transport = TcpTransport(driver, conn, protocol, start=False)
    transport._start(waiter)
    if waiter.exception() is not None:  # connection_made() failed
        transport.abort()
        waiter.result()  # raises it
    return transport


class TcpTransport(StackTransport[asyncio.BaseProtocol], asyncio.Transport):
    """An ``asyncio.Transport`` for one TCP connection of a ``Stack``."""

    # loop.start_tls() / StreamWriter.start_tls() may layer TLS over this transport
    _start_tls_compatible = True

    def __init__(
        self,
        driver: Driver,
        conn: TcpConnection,
        protocol: asyncio.BaseProtocol,
        waiter: asyncio.Future[None] | None = None,
        *,
        on_detach: Callable[[], None] | None = None,
        start: bool = True,
    ) -> None:
        """``start=False``: the caller calls ``_start(waiter)`` itself, at once
        (``connected_transport`` does). ``on_detach``: called once the transport
        is gone (the accepting server counts its connections)."""
        super().__init__(driver, conn, protocol, on_detach)
        self._conn = conn
        self._buffered = isinstance(protocol, asyncio.BufferedProtocol)
        self._high_water = _HIGH_WATER
        self._low_water = _HIGH_WATER // 4
        self._eof = False  # write_eof() called
        self._reading_paused = False
        self._protocol_paused = False
        self._eof_pending = False  # peer FIN seen, eof_received not yet called
        self._eof_delivered = False
        # the connection ended in order while reading was paused: connection_lost
        # waits until the application has taken the data and the EOF
        self._close_pending = False
        self._resume_handle: asyncio.Handle | None = None
        self._names: tuple[SockAddr, SockAddr] | None = None  # built on demand
        self._sock: StackSocket | None = None  # get_extra_info("socket"), built on demand
        if start:
            self._loop.call_soon(self._start, waiter)

    def __repr__(self) -> str:
        state = "closed" if self._lost else "closing" if self._closing else "open"
        sock, peer = self._addresses()
        return (
            f"<TcpTransport {sock[0]}:{sock[1]} -> {peer[0]}:{peer[1]} {state} {self._conn.state}>"
        )

    def _addresses(self) -> tuple[SockAddr, SockAddr]:
        """(sockname, peername), formatted once, when first asked for (IPv6:
        ``(host, port, flowinfo, scope_id)`` as asyncio's)."""
        names = self._names
        if names is None:
            conn = self._conn
            names = self._names = (
                sockaddr(conn.local_addr, conn.local_port),
                sockaddr(conn.remote_addr, conn.remote_port),
            )
        return names

    def _set_send_buffer(self, size: int) -> None:
        """SO_SNDBUF changed (StackSocket): the engine now holds ``size`` bytes
        (``conn.send_buffer_size``); pause or resume the writer accordingly."""
        if self._protocol_paused:
            self._maybe_resume_protocol()
        else:
            self._maybe_pause_protocol()

    # --- driver side ---------------------------------------------------
    def _start(self, waiter: asyncio.Future[None] | None) -> None:
        if self._lost:
            if waiter is not None and not waiter.done():
                waiter.set_exception(ConnectionAbortedError("connection lost before it was made"))
            return
        self._started = True
        try:
            self._protocol.connection_made(self)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal error: protocol.connection_made() call failed.")
            if waiter is not None and not waiter.done():
                waiter.set_exception(exc)
            return
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        self.on_ready()

    def on_ready(self) -> None:
        """Pull and handle the connection's events (called by the driver)."""
        if not self._started:
            return  # events wait in the connection until connection_made ran
        conn = self._conn
        next_event = conn.next_event
        while not self._lost:
            ev = next_event()
            if ev is None:
                break
            kind = type(ev)
            if kind is DataAvailable:
                self._deliver_data()
            elif kind is SendSpace:
                if self._protocol_paused:
                    self._maybe_resume_protocol()
                if self._closing and not self._lost and self.get_write_buffer_size() == 0:
                    self._connection_lost(None)
            elif kind is EofReceived:
                self._eof_pending = True
                self._deliver_eof()
            elif isinstance(ev, ConnectionClosed):
                self._on_closed(ev.error)
        if self._lost:
            # Drain what is left; nobody will read it.
            while next_event() is not None:
                pass

    def _deliver_data(self) -> None:
        if self._reading_paused or self._closing:
            return
        conn = self._conn
        try:
            if self._buffered:
                self._deliver_buffered()
            else:
                data = conn.read()
                if not data:
                    return
                if conn.ack_due:  # the window reopened enough to be announced
                    self._driver.touch(conn)
                self._protocol.data_received(data)  # type: ignore[attr-defined]
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal error: protocol.data_received() call failed.")

    def _deliver_buffered(self) -> None:
        conn = self._conn
        protocol: asyncio.BufferedProtocol = self._protocol  # type: ignore[assignment]
        while conn.readable and not self._reading_paused and not self._closing:
            want = conn.readable
            buf = protocol.get_buffer(want)
            size = memoryview(buf).nbytes
            if not size:
                raise RuntimeError("get_buffer() returned an empty buffer")
            data = conn.read(min(size, want))
            n = len(data)
            if not n:
                return
            if conn.ack_due:
                self._driver.touch(conn)
            memoryview(buf)[:n] = data
            protocol.buffer_updated(n)

    def _deliver_eof(self) -> None:
        if not self._eof_pending or self._eof_delivered or self._closing:
            return
        if self._reading_paused or self._conn.readable:
            return  # after the data, once reading resumes
        self._eof_delivered = True
        try:
            keep_open = self._protocol.eof_received()  # type: ignore[attr-defined]
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal error: protocol.eof_received() call failed.")
            return
        if not keep_open:
            self.close()

    def _on_closed(self, error: OSError | None) -> None:
        if self._lost:
            return
        if error is None and not self._closing:
            # Orderly end: hand over whatever is left first. While reading is
            # paused that waits for resume_reading(): no accepted byte is lost.
            self._deliver_data()
            self._deliver_eof()
            if not self._lost and not self._closing and self._undelivered():
                self._close_pending = True
                return
        if not self._lost:
            self._closing = True
            self._connection_lost(error)

    def _undelivered(self) -> bool:
        """Received data or the peer's EOF not yet handed to the protocol."""
        return bool(self._conn.readable) or (self._eof_pending and not self._eof_delivered)

    def _finish_pending_close(self) -> None:
        if self._close_pending and not self._lost and not self._undelivered():
            self._close_pending = False
            self._closing = True
            self._connection_lost(None)

    def _connection_lost(self, exc: BaseException | None) -> None:
        handle, self._resume_handle = self._resume_handle, None
        if handle is not None:
            handle.cancel()
        super()._connection_lost(exc)

    def _call_connection_lost(self, exc: BaseException | None) -> None:
        try:
            super()._call_connection_lost(exc)
        finally:
            log_summary(self._conn, exc)  # aionetstack.tcp, at DEBUG

    def _release(self) -> None:
        """RFC 9293 3.10.5: RST now (abort, fatal error, the stack closing)."""
        try:
            self._conn.abort(self._loop.time())
        except OSError:
            pass
        self._driver.touch(self._conn)

    # --- BaseTransport ---------------------------------------------------
    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "peername":
            return self._addresses()[1]
        if name == "sockname":
            return self._addresses()[0]
        if name == "tcp_info":
            return self._conn.tcp_info()
        if name == "connection":
            return self._conn
        if name == "socket":
            sock = self._sock
            if sock is None:
                sock = self._sock = StackSocket(
                    self._driver, self._conn, self._addresses, self._set_send_buffer
                )
            return sock
        return super().get_extra_info(name, default)

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        try:
            self._conn.close(self._loop.time())
        except OSError:
            pass
        self._driver.touch(self._conn)
        if self.get_write_buffer_size() == 0:
            self._connection_lost(None)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        super().set_protocol(protocol)
        self._buffered = isinstance(protocol, asyncio.BufferedProtocol)

    # --- ReadTransport ---------------------------------------------------
    def is_reading(self) -> bool:
        return not self._reading_paused and not self._closing

    def pause_reading(self) -> None:
        if not self.is_reading():
            return
        self._reading_paused = True

    def resume_reading(self) -> None:
        if self._closing or not self._reading_paused:
            return
        self._reading_paused = False
        if self._started and self._resume_handle is None:
            self._resume_handle = self._loop.call_soon(self._resume_delivery)

    def _resume_delivery(self) -> None:
        self._resume_handle = None
        if self._reading_paused or self._closing:
            return
        if self._conn.readable:
            self._deliver_data()
        self._deliver_eof()
        self._finish_pending_close()

    # --- WriteTransport --------------------------------------------------
    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._high_water, self._low_water = _check_buffer_limits(high, low)
        self._maybe_pause_protocol()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (self._low_water, self._high_water)

    def get_write_buffer_size(self) -> int:
        conn = self._conn
        size: int = conn.send_queued - conn.send_buffer_size
        return size if size > 0 else 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if type(data) is not bytes and not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(
                f"data argument must be a bytes-like object, not {type(data).__name__!r}"
            )
        if self._eof:
            raise RuntimeError("Cannot call write() after write_eof()")
        if not data:
            return
        if self._closing:
            if self._conn_lost_writes >= _LOG_THRESHOLD_FOR_CONNLOST_WRITES:
                logger.warning("socket.send() raised exception.")
            self._conn_lost_writes += 1
            return
        try:
            self._conn.send(data, self._loop.time())  # copied into the engine's queue
        except OSError as exc:
            self._conn_lost_writes += 1
            if self._conn.error is not None:
                self._force_close(exc)
            return
        self._driver.touch(self._conn)
        if not self._protocol_paused:
            self._maybe_pause_protocol()

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def write_eof(self) -> None:
        if self._closing or self._eof:
            return
        self._eof = True
        try:
            self._conn.shutdown(self._loop.time())
        except OSError:
            pass
        self._driver.touch(self._conn)

    def can_write_eof(self) -> bool:
        return True

    # --- flow control helpers ---------------------------------------------
    def _call_protocol_hook(self, name: str) -> None:
        """``protocol.pause_writing()``/``resume_writing()``: an exception is
        reported to the loop's exception handler, not raised."""
        try:
            getattr(self._protocol, name)()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._loop.call_exception_handler(
                {
                    "message": f"protocol.{name}() failed",
                    "exception": exc,
                    "transport": self,
                    "protocol": self._protocol,
                }
            )

    def _maybe_pause_protocol(self) -> None:
        if self.get_write_buffer_size() <= self._high_water or self._protocol_paused:
            return
        self._protocol_paused = True
        self._call_protocol_hook("pause_writing")

    def _maybe_resume_protocol(self) -> None:
        if self._protocol_paused and self.get_write_buffer_size() <= self._low_water:
            self._protocol_paused = False
            self._call_protocol_hook("resume_writing")
