"""The gateway's stats API: a small JSON-over-HTTP server on loopback.

``await serve_stats(relay, "127.0.0.1", 9090)`` answers, like tun2socks's
REST API, ``GET /`` (everything), ``GET /flows`` (the live flows and the
recently ended ones), ``GET /stats`` (the totals, the dialer's and the
stack's counters), each as one JSON document, with HTTP/1.0 semantics (one
request per connection). It runs on the kernel's sockets, and only on a
loopback address: the flow table names every destination the gateway carries.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json

from aionetstack.gateway.relay import Relay

__all__ = ["serve_stats"]

_MAX_REQUEST = 8192


async def serve_stats(relay: Relay, host: str, port: int) -> asyncio.Server:
    """Start the API; ValueError unless ``host`` is a loopback address."""
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"the stats API serves loopback only, not {host}")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10.0):
                head = await reader.readuntil(b"\r\n\r\n")
            parts = head[:_MAX_REQUEST].split(b"\r\n", 1)[0].split()
            path = parts[1].decode("ascii", "replace") if len(parts) >= 2 else ""
            snap = relay.snapshot()
            views = {
                "/": snap,
                "/flows": {"flows": snap["flows"], "recent": snap["recent"]},
                "/stats": {k: snap[k] for k in ("totals", "dialer", "stack")},
            }
            if parts[:1] != [b"GET"] or path.split("?")[0] not in views:
                status, body = "404 Not Found", {"error": "GET /, /flows or /stats"}
            else:
                status, body = "200 OK", views[path.split("?")[0]]
            data = json.dumps(body, indent=1).encode()
            writer.write(
                f"HTTP/1.0 {status}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
                + data
            )
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass  # a client that went away or sent garbage: nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    return await asyncio.start_server(handle, host, port, limit=_MAX_REQUEST)
