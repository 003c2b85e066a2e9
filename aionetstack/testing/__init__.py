"""aionetstack.testing: test an asyncio application under a bad network, fast.

``VirtualTimeLoop`` (loop.py) is an asyncio loop on a virtual clock: idle time
is skipped, so a 30-second lossy exchange over memory links runs in a fraction
of a second of wall time and reproduces exactly from its seed.
``open_stack_pair`` (pair.py) starts two stacks on an impaired memory link.
``run(coro)`` is ``asyncio.run`` on a ``VirtualTimeLoop``.

Under pytest the plugin (pytest_plugin.py, registered through the ``pytest11``
entry point) adds the ``virtual_time`` marker and the ``stack_pair`` /
``make_stack_pair`` fixtures::

    import pytest

    @pytest.mark.virtual_time
    @pytest.mark.impairment(loss=0.05, delay=0.02, seed=1)
    async def test_my_protocol(stack_pair):
        client, server = stack_pair
        ...  # client.create_connection(...), server.create_server(...)

This package belongs to the ``aio`` layer: it imports asyncio.
"""

from __future__ import annotations

from aionetstack.testing.loop import VirtualTimeLoop, run
from aionetstack.testing.pair import CLIENT_ADDRESS, SERVER_ADDRESS, open_stack_pair

__all__ = ["CLIENT_ADDRESS", "SERVER_ADDRESS", "VirtualTimeLoop", "open_stack_pair", "run"]
