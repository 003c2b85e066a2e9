"""QA helpers: two stacks on an in-memory link (imported by the QA tests)."""
from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aionetstack
from aionetstack.core.config import StackConfig

A = "198.18.0.1"
B = "198.18.0.2"


@contextlib.asynccontextmanager
async def two_stacks(config: StackConfig | None = None, **link_kw: Any):
    la, lb = aionetstack.memory_link_pair(**link_kw)
    a = aionetstack.Stack(la, address=A + "/24", config=config)
    b = aionetstack.Stack(lb, address=B + "/24", config=config)
    async with a, b:
        yield a, b


class LoopErrors:
    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []

    def __call__(self, loop: Any, ctx: dict[str, Any]) -> None:
        self.errors.append(ctx)


async def server_collect(b: Any, port: int = 80) -> Any:
    """A server on ``b`` at B:port; the future gets everything the first client sends."""
    got = asyncio.get_running_loop().create_future()

    async def cb(r: Any, w: Any) -> None:
        got.set_result(await r.read())
        w.close()

    await b.start_server(cb, B, port)
    return got
