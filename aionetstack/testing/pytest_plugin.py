"""The aionetstack pytest plugin: virtual time and a lossy pair of stacks.

Registered through the ``pytest11`` entry point (``aionetstack``), so it is
active wherever aionetstack is installed. It needs pytest-asyncio (>= 1.4, for
the ``pytest_asyncio_loop_factories`` hook) to run coroutine tests.

Markers
-------
``@pytest.mark.virtual_time``
    Run this asyncio test, and the async fixtures it uses, on a
    ``VirtualTimeLoop``: ``loop.time()`` starts at 0.0 and jumps to the next
    timer whenever nothing is ready, so ``await asyncio.sleep(10)`` returns at
    once with ``loop.time()`` 10 s later, and a lossy exchange that would take
    30 s of real time takes a fraction of a second. Real I/O (sockets, TUN,
    subprocesses, DNS) raises ``RuntimeError`` on that loop.
``@pytest.mark.impairment(loss=..., delay=..., jitter=..., reorder=..., duplicate=..., corrupt=..., rate=..., queue=..., mtu=..., seed=...)``
    The memory link of the ``stack_pair`` fixture (``memory_link_pair``'s
    knobs; each direction impaired once). ``stack_pair`` may instead be
    parametrised indirectly with a dict of the same keys.

Fixtures
--------
``stack_pair``
    ``(client, server)``: two started ``Stack`` objects, 198.18.0.1/24 and
    198.18.0.2/24, on one memory link; closed after the test. With a seed, the
    stacks' secrets derive from it too, so under ``virtual_time`` the test
    reproduces exactly.
``make_stack_pair``
    ``await make_stack_pair(config=None, **impairments)`` for tests that need
    several pairs or compute their impairments; every pair is closed after
    the test.

Example::

    @pytest.mark.virtual_time
    @pytest.mark.impairment(loss=0.2, delay=0.02, seed=7)
    async def test_request_response_survives_loss(stack_pair):
        client, server = stack_pair
        await server.create_server(EchoProtocol, "198.18.0.2", 7)
        reader, writer = await client.open_connection("198.18.0.2", 7)
        ...
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeVar, cast

import pytest

from aionetstack.testing.loop import VirtualTimeLoop
from aionetstack.testing.pair import open_stack_pair

_F = TypeVar("_F", bound=Callable[..., Any])

try:
    import pytest_asyncio

    _fixture: Any = pytest_asyncio.fixture  # marks the fixture async in strict mode too
except ImportError:  # pragma: no cover - without pytest-asyncio async fixtures cannot run
    _fixture = pytest.fixture


def _async_fixture(func: _F) -> _F:
    return cast(_F, _fixture(func))


VIRTUAL_TIME = "virtual_time"
LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "virtual_time: run this asyncio test and its async fixtures on aionetstack's "
        "VirtualTimeLoop (virtual clock: idle time is skipped; real I/O raises)",
    )
    config.addinivalue_line(
        "markers",
        "impairment(loss, delay, jitter, reorder, duplicate, corrupt, rate, queue, mtu, seed): "
        "the memory link of aionetstack's stack_pair fixture",
    )
    config.pluginmanager.register(_LoopFactories(), "aionetstack-virtual-time")


class _LoopFactories:
    """pytest-asyncio's loop factory hook: the virtual loop for marked tests."""

    @pytest.hookimpl(tryfirst=True, optionalhook=True)
    def pytest_asyncio_loop_factories(
        self, config: pytest.Config, item: pytest.Item
    ) -> Mapping[str, LoopFactory] | None:
        if item.get_closest_marker(VIRTUAL_TIME) is not None:
            return {VIRTUAL_TIME: VirtualTimeLoop}
        hook = item.ihook.pytest_asyncio_loop_factories
        if any(impl.plugin is not self for impl in hook.get_hookimpls()):
            return None  # another implementation (a conftest) chooses
        # The hook is firstresult and must answer: the loop pytest-asyncio would
        # make without any hook (asyncio.new_event_loop follows the policy).
        return {"asyncio": asyncio.new_event_loop}


def _impairments(request: pytest.FixtureRequest) -> dict[str, Any]:
    marker = request.node.get_closest_marker("impairment")
    if marker is not None:
        if marker.args:
            raise TypeError("mark.impairment takes keyword arguments only")
        return dict(marker.kwargs)
    param = getattr(request, "param", None)
    if param is None:
        return {}
    if not isinstance(param, Mapping):
        raise TypeError(f"stack_pair's indirect parameter must be a dict, not {param!r}")
    return dict(param)


@_async_fixture
async def make_stack_pair() -> AsyncIterator[Callable[..., Awaitable[tuple[Any, Any]]]]:
    """An async factory of started (client, server) stack pairs, closed after the test."""
    stacks: list[Any] = []

    async def make(config: Any = None, **impairments: Any) -> tuple[Any, Any]:
        a, b = await open_stack_pair(config, **impairments)
        stacks.extend((a, b))
        return a, b

    try:
        yield make
    finally:
        for stack in reversed(stacks):
            await stack.close()


@_async_fixture
async def stack_pair(
    request: pytest.FixtureRequest,
    make_stack_pair: Callable[..., Awaitable[tuple[Any, Any]]],
) -> tuple[Any, Any]:
    """(client, server) stacks on a memory link impaired as ``mark.impairment`` says."""
    return await make_stack_pair(**_impairments(request))
