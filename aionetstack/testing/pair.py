"""``open_stack_pair``: two started stacks joined by an (impaired) memory link.

Both stacks' secrets (ISNs, ephemeral ports, SYN cookies) are derived from the
``seed`` when one is given, so on a ``VirtualTimeLoop`` a scenario is a pure
function of its seed: the same seed gives the same packets, losses and timings.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aionetstack.aio.stack import Stack
    from aionetstack.core.config import StackConfig

__all__ = ["CLIENT_ADDRESS", "SERVER_ADDRESS", "open_stack_pair"]

CLIENT_ADDRESS = "198.18.0.1"
SERVER_ADDRESS = "198.18.0.2"

# The knobs of memory_link_pair() that open_stack_pair() passes through.
IMPAIRMENTS = frozenset(
    {"mtu", "loss", "delay", "jitter", "reorder", "duplicate", "corrupt", "rate", "seed", "queue"}
)


def _secret(seed: int | None, side: bytes) -> bytes | None:
    if seed is None:
        return None  # a random secret, as in production
    return hashlib.blake2b(str(seed).encode(), digest_size=16, person=b"ans-test-" + side).digest()


async def open_stack_pair(
    config: StackConfig | None = None, **impairments: Any
) -> tuple[Stack, Stack]:
    """Start a client stack (198.18.0.1/24) and a server stack (198.18.0.2/24)
    joined by ``memory_link_pair(**impairments)`` on the running loop.

    ``impairments`` are ``memory_link_pair``'s: ``loss``, ``delay``, ``jitter``,
    ``reorder``, ``duplicate``, ``corrupt``, ``rate``, ``queue``, ``mtu`` and
    ``seed`` (each direction is impaired once, with its own stream derived from
    the seed). The caller closes both stacks (``await stack.close()``).
    """
    unknown = set(impairments) - IMPAIRMENTS
    if unknown:
        raise TypeError(f"unknown impairment(s): {', '.join(sorted(unknown))}")
    from aionetstack.aio.links import memory_link_pair
    from aionetstack.aio.stack import Stack

    seed = impairments.get("seed")
    la, lb = memory_link_pair(**impairments)
    a = Stack(la, address=f"{CLIENT_ADDRESS}/24", config=config, secret=_secret(seed, b"a"))
    b = Stack(lb, address=f"{SERVER_ADDRESS}/24", config=config, secret=_secret(seed, b"b"))
    await a.start()
    try:
        await b.start()
    except BaseException:
        await a.close()
        raise
    return a, b
