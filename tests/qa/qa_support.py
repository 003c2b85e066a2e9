"""QA helpers: two stacks on an in-memory link (imported by the QA tests)."""
from __future__ import annotations

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
