"""Fixtures of the aio tier (helpers live in aio_support.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aio_support import SMALL, KernelNet, Net, StackNet, make_stacks

import aionetstack


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> Any:
    """The Transport contract, the socket options and the loop integration run
    on asyncio's default loop and on uvloop."""
    factories: dict[str, Any] = {"asyncio": asyncio.new_event_loop}
    both = ("transport_contract", "test_aio_sockopt", "test_aio_integration")
    if any(name in item.nodeid for name in both):
        try:
            import uvloop
        except ImportError:
            pass
        else:
            factories["uvloop"] = uvloop.new_event_loop
    return factories


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The kernel runs prove the tests against CPython's own transports; uvloop's
    transports differ in details (messages, a low-water default of 16), so the
    uvloop runs check our stack only."""
    keep, drop = [], []
    for item in items:
        (drop if "[uvloop-kernel]" in item.nodeid else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture
async def stacks() -> AsyncIterator[tuple[aionetstack.Stack, aionetstack.Stack]]:
    a, b = await make_stacks()
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


@pytest.fixture(params=["stack", "kernel"])
async def net(request: pytest.FixtureRequest) -> AsyncIterator[Net]:
    if request.param == "kernel":
        yield KernelNet()
        return
    a, b = await make_stacks(SMALL)
    try:
        yield StackNet(a, b)
    finally:
        await a.close()
        await b.close()
