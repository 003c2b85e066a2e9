"""Receive-window reopening: a slow reader must not cause persist-timer stalls."""
from __future__ import annotations

import asyncio
import time

import pytest
from qa_support import B, two_stacks

from aionetstack.core.config import StackConfig


@pytest.mark.parametrize("rbuf", [8 * 1024, 32 * 1024, 256 * 1024])
async def test_slow_reader_window_updates(rbuf):
    cfg = StackConfig(recv_buffer=rbuf, send_buffer=64 * 1024)
    async with two_stacks(cfg) as (a, b):
        done = asyncio.get_running_loop().create_future()

        class Slow(asyncio.Protocol):
            def __init__(self):
                self.n = 0

            def connection_made(self, t):
                self.t = t

            def data_received(self, d):
                self.n += len(d)
                # read in bursts: pause, then resume on the next iteration
                self.t.pause_reading()
                asyncio.get_running_loop().call_later(0.001, self.t.resume_reading)

            def eof_received(self):
                done.set_result(self.n)
        await b.create_server(Slow, B, 80)
        _r, w = await a.open_connection(B, 80)
        n = 2 << 20
        t = time.perf_counter()
        w.write(b"s" * n)
        w.write_eof()
        got = await asyncio.wait_for(done, 9)
        dt = time.perf_counter() - t
        info = w.get_extra_info("tcp_info")
        print(f"rbuf={rbuf}: {dt:.2f}s, {n/dt/1e6:.1f} MB/s, persist probes/rto: {info.rto_expirations}")
        assert got == n
        # window updates reopen the window: no retransmission timeout, and the
        # sender's timers (persist probes) fire only now and then, not per window
        assert info.rto_expirations == 0
        assert a.timer_fires < 50, f"{a.timer_fires} sender timer expiries: window-update stalls"


async def _filled(buf: bytearray, n: int) -> None:
    while len(buf) < n:
        await asyncio.sleep(0.001)


async def test_zero_window_reopen_is_prompt():
    """Receiver pauses until the window is zero, then resumes: the sender must
    restart within a few ms (window update), not after a persist timeout."""
    cfg = StackConfig(recv_buffer=16 * 1024, send_buffer=16 * 1024)
    async with two_stacks(cfg) as (a, b):
        got = asyncio.get_running_loop().create_future()

        class P(asyncio.Protocol):
            def __init__(self):
                self.buf = bytearray()

            def connection_made(self, t):
                self.t = t
                got.set_result(self)

            def data_received(self, d):
                self.buf += d
        await b.create_server(P, B, 80)
        t, _ = await a.create_connection(asyncio.Protocol, B, 80)
        p = await got
        p.t.pause_reading()
        t.write(b"w" * 100_000)
        await asyncio.sleep(0.3)  # window closed, sender probing
        before = len(p.buf)
        fires = a.timer_fires
        t0 = time.perf_counter()
        p.t.resume_reading()
        await asyncio.wait_for(_filled(p.buf, 100_000), 5)
        dt = time.perf_counter() - t0
        print(f"after reopen: {dt*1e3:.1f} ms for the remaining {100_000-before} bytes")
        # the receiver's window update restarts the sender, not its persist
        # timer (one coincidental expiry at most)
        assert a.timer_fires - fires <= 1
