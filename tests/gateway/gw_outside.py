"""The servers "outside" the gateway, run by test_gateway_netns.py in the
second private namespace (where 198.18.64.0/24 is local):

* 8080: ``aionetstack.cli.serve_http`` (``GET /bytes/N``);
* 8081: SINK: read to EOF, answer ``LEN SHA256`` (a half-closed request);
* 8082: UPLOAD: a line ``N``, then N bytes; answer ``N SHA256`` (no half-close).
"""

from __future__ import annotations

import asyncio
import hashlib
import sys

from aionetstack.cli import serve_http


async def sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    digest, total = hashlib.sha256(), 0
    try:
        while data := await reader.read(65536):
            digest.update(data)
            total += len(data)
        writer.write(f"{total} {digest.hexdigest()}\n".encode())
        await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def upload(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        size = int(await reader.readline())
        digest, left = hashlib.sha256(), size
        while left:
            data = await reader.read(min(left, 65536))
            if not data:
                return
            digest.update(data)
            left -= len(data)
        writer.write(f"{size} {digest.hexdigest()}\n".encode())
        await writer.drain()
    except (ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def main() -> None:
    servers = [
        # every address of both families ("localhost" may resolve to ::1 first)
        await asyncio.start_server(serve_http, None, 8080),
        await asyncio.start_server(sink, None, 8081),
        await asyncio.start_server(upload, None, 8082),
    ]
    print("ready", flush=True)
    await asyncio.Event().wait()
    del servers


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
