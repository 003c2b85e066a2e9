"""QA helpers: two stacks on an in-memory link."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest
from qa_support import LoopErrors


@pytest.fixture
def loop_errors() -> LoopErrors:
    h = LoopErrors()
    asyncio.get_event_loop_policy()
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
        raise WatchdogTimeout("QA watchdog: test blocked for 60 s (busy loop in the stack?)")
    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, 60)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
