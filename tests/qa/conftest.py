"""QA helpers: two stacks on an in-memory link."""
from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

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


@pytest.fixture
def loop_errors() -> LoopErrors:
    h = LoopErrors()
    asyncio.get_event_loop_policy()  # noqa
    return h


@pytest.fixture
async def catch_errors() -> Any:
    loop = asyncio.get_running_loop()
    h = LoopErrors()
    old = loop.get_exception_handler()
    loop.set_exception_handler(h)
    try:
        yield h
    finally:
        loop.set_exception_handler(old)


if __import__("os").environ.get("QA_UVLOOP"):
    @pytest.fixture(scope="session")
    def event_loop_policy():
        import uvloop
        return uvloop.EventLoopPolicy()


class WatchdogTimeout(BaseException):
    """Raised by the watchdog in the main thread (BaseException: escapes the engine's handlers)."""


@pytest.fixture(autouse=True)
def _watchdog():
    """Fail (instead of hanging the run) when the event loop is blocked by a busy loop."""
    import signal

    def fire(signum, frame):
        raise WatchdogTimeout("QA watchdog: test blocked for 20 s (busy loop in the stack?)")
    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, 20)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
