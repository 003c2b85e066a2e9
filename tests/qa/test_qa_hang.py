"""The event loop must never be blocked by the engine (run in a subprocess with a watchdog)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import asyncio, sys
    sys.path.insert(0, {qa!r})
    from qa_support import two_stacks
    from test_qa_data import bidir
    async def main():
        async with two_stacks(loss=0.02, seed=1) as (a, b):
            await bidir(a, b, 2 << 20, 3)
    import uvloop
    uvloop.run(main())
    print("ok")
""")


def _limit_memory() -> None:
    """A runaway loop that queues packets must fail here, not exhaust the machine."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def test_lossy_bidir_never_blocks_loop():
    """Regression: _recovery_send once resent the same piece forever when a
    retransmission made in the current wakeup (RACK.rtt == 0) was judged lost
    again. A hang detector with a generous limit, not a speed test."""
    qa = os.path.dirname(os.path.abspath(__file__))
    code = SCRIPT.format(qa=qa)
    for attempt in range(3):
        try:
            r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                               cwd=os.path.dirname(os.path.dirname(qa)), preexec_fn=_limit_memory)
        except subprocess.TimeoutExpired:
            pytest.fail(f"attempt {attempt}: event loop blocked > 60 s (2 MiB normally takes well under 1 s)")
        assert r.returncode == 0 and "ok" in r.stdout, r.stderr[-2000:]
