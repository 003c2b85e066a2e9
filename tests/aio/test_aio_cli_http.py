"""The CLI's tiny HTTP service (cli.serve_http), served over an in-memory link."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from aio_support import B_ADDR

from aionetstack.cli import http_payload, http_payload_chunks, serve_http

T = 10.0
MiB = 1 << 20


async def request(stacks: Any, line: str) -> tuple[str, dict[str, str], bytes]:
    """One request on a fresh connection: (status line, headers, body)."""
    a, b = stacks
    server = await b.start_server(serve_http, B_ADDR, 8080)
    async with server:
        async with asyncio.timeout(T):
            reader, writer = await a.open_connection(B_ADDR, 8080)
            writer.write(f"{line}\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            status, *rest = head.decode("latin-1").split("\r\n")
            headers = {
                k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in rest if h)
            }
            body = await reader.read()
            writer.close()
    return status, headers, body


@pytest.mark.parametrize("size", ["²", "١٢", "12a", "-1", "", "+5"])
async def test_bytes_rejects_what_is_not_an_ascii_number(stacks: Any, size: str) -> None:
    status, _, _ = await request(stacks, f"GET /bytes/{size} HTTP/1.1")
    assert status == "HTTP/1.1 400 Bad Request"


@pytest.mark.parametrize("size", [str((64 * MiB) + 1), str(1 << 31), "9" * 5000])
async def test_bytes_caps_the_size_at_64_mib(stacks: Any, size: str) -> None:
    status, headers, _ = await request(stacks, f"HEAD /bytes/{size} HTTP/1.1")
    assert status == "HTTP/1.1 413 Content Too Large"
    assert headers["content-length"] == "10"


async def test_head_of_the_largest_body(stacks: Any) -> None:
    status, headers, body = await request(stacks, f"HEAD /bytes/{64 * MiB:08d} HTTP/1.1")
    assert status == "HTTP/1.1 200 OK"
    assert headers["content-length"] == str(64 * MiB)
    assert body == b""


async def test_bytes_body_is_streamed_and_unchanged(stacks: Any) -> None:
    size = 2 * MiB + 3  # three chunks, the last not a multiple of 4
    status, headers, body = await request(stacks, f"GET /bytes/{size} HTTP/1.1")
    assert status == "HTTP/1.1 200 OK"
    assert headers["content-length"] == str(size)
    assert body == random.Random(size).randbytes(size)


@pytest.mark.parametrize("size", [0, 1, 3, 4, 5, 4096, 65537, MiB + 7])
def test_payload_chunks_equal_the_whole_payload(size: int) -> None:
    whole = http_payload(size)
    assert whole == random.Random(size).randbytes(size)
    for chunk in (4, 4096, MiB):
        parts = list(http_payload_chunks(size, chunk))
        assert all(len(p) <= chunk for p in parts)
        assert b"".join(parts) == whole
    with pytest.raises(ValueError):
        list(http_payload_chunks(size, 6))


async def test_root_and_not_found(stacks: Any) -> None:
    status, _, body = await request(stacks, "GET / HTTP/1.1")
    assert status == "HTTP/1.1 200 OK" and body.startswith(b"Hello")
    status, _, _ = await request(stacks, "GET /nope HTTP/1.1")
    assert status == "HTTP/1.1 404 Not Found"
