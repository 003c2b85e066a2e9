"""The asyncio datagram (UDP) transport over a core ``UdpEndpoint``.

Theory of operation
-------------------
``create_datagram_endpoint`` opens one engine endpoint; its events arrive through
the driver (``on_ready``) and become ``datagram_received(data, addr)`` and,
for connected endpoints only (the engine enforces this, as Linux's
``__udp4_lib_err`` does), ``error_received(exc)``. ``sendto`` hands the datagram
to the engine at once and marks the stack dirty, so every datagram of a loop
iteration goes out in the stack's single flush. Addresses are
``('198.18.0.2', port)`` tuples, as with kernel sockets. The life cycle
(abort, fatal errors, the one ``connection_lost``) is the shared
``StackTransport`` (base_transport.py); ``close()`` is ``abort()``: a UDP
endpoint has nothing to finish.

A *transparent* endpoint (``create_datagram_endpoint(factory,
transparent=True)``) receives every datagram routed to the stack that no
regular endpoint takes, whatever its destination. The original destination
travels with each datagram, as asyncio's own style would have it, through the
protocol: a ``TransparentDatagramProtocol`` gets
``datagram_received(data, addr, dest)``; any other protocol gets the usual
``datagram_received(data, addr)`` and reads ``transport.last_destination``
(set before each call). Replies name their source:
``transport.sendto(data, addr, source=(ip, port))``, any address and port
(normally the original destination, so the client sees its peer answer).
"""

from __future__ import annotations

import asyncio
import errno
from typing import Any

from aionetstack.aio.addresses import SockAddr, parse_sockaddr, sockaddr
from aionetstack.aio.base_transport import StackTransport
from aionetstack.aio.driver import Driver
from aionetstack.core.udp import UdpEndpoint, UdpError


class TransparentDatagramProtocol(asyncio.DatagramProtocol):
    """The protocol of a transparent endpoint: each datagram with its original
    destination (see the module docstring)."""

    def datagram_received(  # type: ignore[override]
        self, data: bytes, addr: SockAddr, dest: SockAddr
    ) -> None:
        """``data`` from ``addr`` sent to ``dest`` (``('198.18.64.1', 53)``)."""


class DatagramTransport(StackTransport[asyncio.DatagramProtocol], asyncio.DatagramTransport):
    """An ``asyncio.DatagramTransport`` for one UDP endpoint of a ``Stack``."""

    _log_os_errors = True

    def __init__(
        self,
        driver: Driver,
        endpoint: UdpEndpoint,
        protocol: asyncio.DatagramProtocol,
        sockname: SockAddr,
        peername: SockAddr | None,
        waiter: asyncio.Future[None] | None = None,
    ) -> None:
        super().__init__(driver, endpoint, protocol)
        self._endpoint = endpoint
        #: transparent endpoints: the destination of the datagram being delivered
        self.last_destination: SockAddr | None = None
        self._sockname = sockname
        self._peername = peername
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
        self.on_ready()

    def on_ready(self) -> None:
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
                if isinstance(ev, UdpError):
                    protocol.error_received(ev.error)
                else:
                    addr, port = ev.addr
                    dest = ev.dest
                    if dest is None:
                        protocol.datagram_received(bytes(ev.data), sockaddr(addr, port))
                        continue
                    where = self.last_destination = sockaddr(dest[0], dest[1])
                    if isinstance(protocol, TransparentDatagramProtocol):
                        protocol.datagram_received(bytes(ev.data), sockaddr(addr, port), where)
                    else:
                        protocol.datagram_received(bytes(ev.data), sockaddr(addr, port))
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._fatal_error(exc, "Fatal error: protocol.datagram_received() call failed.")

    def on_stack_close(self) -> None:
        """The stack shuts down: as ``close()`` (``connection_lost(None)``)."""
        self._force_close(None)

    def _release(self) -> None:
        self._endpoint.close()  # the port is free at once
        self._driver.mark_dirty()

    # --- DatagramTransport -----------------------------------------------
    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "sockname":
            return self._sockname
        if name == "peername":
            return self._peername if self._peername is not None else default
        return super().get_extra_info(name, default)

    def close(self) -> None:
        self._force_close(None)

    def get_write_buffer_size(self) -> int:
        return 0

    def sendto(self, data: Any, addr: Any = None, *, source: Any = None) -> None:
        """As asyncio's; ``source=(ip, port)``: the address to send from
        (transparent endpoints only, and required there)."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(
                f"data argument must be a bytes-like object, not {type(data).__name__!r}"
            )
        src: tuple[int, int] | None = None
        if source is not None or self._endpoint.transparent:
            if not self._endpoint.transparent:
                raise ValueError("source= needs a transparent endpoint")
            src = _address(source, "source")
        if self._peername is not None:
            if addr is not None and tuple(addr[:2]) != self._peername[:2]:
                raise ValueError(f"Invalid address: must be None or {self._peername}")
            dest = None
        elif addr is None:
            self._protocol.error_received(
                OSError(errno.EDESTADDRREQ, "Destination address required")
            )
            return
        else:
            dest = _address(addr, "address")
        if self._closing:
            self._conn_lost_writes += 1
            return
        try:
            self._endpoint.sendto(bytes(data), dest, self._loop.time(), src)
        except OSError as exc:
            self._protocol.error_received(exc)
            return
        self._driver.mark_dirty()


def _address(addr: Any, what: str) -> tuple[int, int]:
    """A sendto address (``(host, port)``, or IPv6's 4-tuple) as the engine takes it."""
    try:
        parsed, port = parse_sockaddr(addr, what)
    except (ValueError, TypeError, IndexError) as exc:
        raise ValueError(f"Invalid {what}: {addr!r}") from exc
    if parsed is None:
        raise ValueError(f"Invalid {what}: {addr!r}")
    return parsed[1], port
