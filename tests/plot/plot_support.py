"""Shared by the plot tests: a lossy transfer to capture, a PNG header reader."""

from __future__ import annotations

import asyncio
import hashlib
import struct
from pathlib import Path
from typing import Any

import aionetstack
from aionetstack import plot

SIZE = 200_000
CLIENT, SERVER = "198.18.0.1", "198.18.0.2"


async def transfer(path: Path, samples: list[dict[str, float]]) -> dict[str, Any]:
    a, b = aionetstack.memory_link_pair()
    lossy = aionetstack.capture(aionetstack.impair(a, loss=0.04, delay=0.01, seed=3), path)
    got: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got.set_result(await reader.read(-1))
        writer.close()

    async with aionetstack.Stack(lossy, address=f"{CLIENT}/24") as client, \
               aionetstack.Stack(b, address=f"{SERVER}/24") as server:  # fmt: skip
        await server.start_server(sink, SERVER, 5001)
        _, writer = await client.open_connection(SERVER, 5001)
        loop = asyncio.get_running_loop()
        t0 = loop.time()

        async def sampler() -> None:
            while True:
                info = writer.get_extra_info("tcp_info")
                samples.append(plot.tcp_info_sample(info, loop.time() - t0))
                await asyncio.sleep(0.005)

        task = asyncio.create_task(sampler())
        blob = bytes(range(256)) * (SIZE // 256) + b"x" * (SIZE % 256)
        writer.write(blob)
        writer.write_eof()
        data = await asyncio.wait_for(got, 120)
        task.cancel()
        info = writer.get_extra_info("tcp_info")
        assert hashlib.sha256(data).digest() == hashlib.sha256(blob).digest()
        port = writer.get_extra_info("sockname")[1]
        writer.close()
        await asyncio.sleep(1)
    return {"info": info, "port": port}


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", head[16:24])
    return width, height
