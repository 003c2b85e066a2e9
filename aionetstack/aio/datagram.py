"""The asyncio datagram (UDP) transport over a core ``UdpEndpoint``.

Theory of operation
-------------------
``create_datagram_endpoint`` opens one engine endpoint; its events arrive through
the stack driver (``_on_ready``) and become ``datagram_received(data, addr)`` and,
for connected endpoints only (the engine enforces this, as Linux's
``__udp4_lib_err`` does), ``error_received(exc)``. ``sendto`` hands the datagram
to the engine at once and marks the stack dirty, so every datagram of a loop
iteration goes out in the stack's single flush. Addresses are
``('198.18.0.2', port)`` tuples, as with kernel sockets.
"""

from __future__ import annotations

import asyncio
import errno
from typing import TYPE_CHECKING, Any

from aionetstack.core.udp import UdpError
from aionetstack.wire.addr import int_to_ip, ip_to_int

if TYPE_CHECKING:
    from aionetstack.aio.stack import Stack


class DatagramTransport(asyncio.DatagramTransport):
    """An ``asyncio.DatagramTransport`` for one UDP endpoint of a ``Stack``."""

    def __init__(
        self,
        stack: Stack,
        endpoint: Any,
        protocol: asyncio.DatagramProtocol,
        sockname: tuple[str, int],
        peername: tuple[str, int] | None,
        waiter: asyncio.Future[None] | None = None,
    ) -> None:
        super().__init__()
        self._stack = stack
        self._loop = stack._loop
        self._endpoint = endpoint
        self._protocol = protocol
        self._sockname = sockname
        self._peername = peername
        self._peer_int = (ip_to_int(peername[0]), peername[1]) if peername else None
        self._closing = False
        self._lost = False
        self._started = False
        self._conn_lost_writes = 0
        stack._owners[endpoint] = self
        self._loop.call_soon(self._start, waiter)

    def _start(self, waiter: asyncio.Future[None] | None) -> None:
        self._started = True
        try:
            self._protocol.connection_made(self)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal error: protocol.connection_made() call failed.")
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        self._on_ready()

    def _on_ready(self) -> None:
        if not self._started:
            return
        next_event = self._endpoint.next_event
        protocol = self._protocol
        while True:
            ev = next_event()
            if ev is None:
                return
            if self._lost:
                continue
            try:
                if type(ev) is UdpError:
                    protocol.error_received(ev.error)
                else:
                    addr, port = ev.addr
                    protocol.datagram_received(bytes(ev.data), (int_to_ip(addr), port))
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._fatal_error(exc, "Fatal error: protocol.datagram_received() call failed.")

    def _fatal_error(self, exc: BaseException, message: str) -> None:
        self._loop.call_exception_handler(
            {"message": message, "exception": exc, "transport": self, "protocol": self._protocol}
        )
        self._force_close(exc)

    def _force_close(self, exc: BaseException | None) -> None:
        if self._lost:
            return
        self._lost = True
        self._closing = True
        self._endpoint.close()
        self._stack._mark_dirty()
        self._loop.call_soon(self._call_connection_lost, exc)

    def _call_connection_lost(self, exc: BaseException | None) -> None:
        try:
            if self._started:
                self._protocol.connection_lost(exc)  # type: ignore[arg-type]
        finally:
            if self._stack._owners.get(self._endpoint) is self:
                del self._stack._owners[self._endpoint]

    # --- DatagramTransport -----------------------------------------------
    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "sockname":
            return self._sockname
        if name == "peername":
            return self._peername if self._peername is not None else default
        if name == "stack":
            return self._stack
        return default

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        self._force_close(None)

    def abort(self) -> None:
        self._force_close(None)

    def get_write_buffer_size(self) -> int:
        return 0

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol  # type: ignore[assignment]

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def sendto(self, data: Any, addr: Any = None) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(
                f"data argument must be a bytes-like object, not {type(data).__name__!r}"
            )
        if self._peername is not None:
            if addr not in (None, self._peername):
                raise ValueError(f"Invalid address: must be None or {self._peername}")
            dest = None
        elif addr is None:
            self._protocol.error_received(
                OSError(errno.EDESTADDRREQ, "Destination address required")
            )
            return
        else:
            try:
                dest = (ip_to_int(addr[0]), int(addr[1]))
            except (ValueError, TypeError, IndexError) as exc:
                raise ValueError(f"Invalid address: {addr!r}") from exc
        if self._closing:
            self._conn_lost_writes += 1
            return
        try:
            self._endpoint.sendto(bytes(data), dest, self._loop.time())
        except OSError as exc:
            self._protocol.error_received(exc)
            return
        self._stack._mark_dirty()
