"""Randomised application behaviour: the callback order contract must always hold."""
from __future__ import annotations

import asyncio
import random

import pytest
from qa_support import B, two_stacks

from aionetstack.core.config import StackConfig


class Checked(asyncio.Protocol):
    def __init__(self, keep_half_open):
        self.ev = []
        self.keep = keep_half_open
        self.lost = asyncio.get_running_loop().create_future()
        self.t = None

    def connection_made(self, t):
        self.ev.append("made")
        self.t = t

    def data_received(self, d):
        assert self.ev and self.ev[0] == "made"
        assert "eof" not in self.ev, "data after eof"
        assert not self.lost.done(), "data after lost"
        self.ev.append("data")

    def eof_received(self):
        assert "eof" not in self.ev, "eof twice"
        assert not self.lost.done()
        self.ev.append("eof")
        return self.keep

    def connection_lost(self, exc):
        assert not self.lost.done(), "connection_lost twice"
        self.ev.append("lost")
        self.lost.set_result(exc)


OPS = ["write", "write", "write", "bigwrite", "write_eof", "close", "abort", "pause", "resume", "sleep", "sleep"]


async def drive(t, rng):
    for _ in range(rng.randrange(1, 8)):
        op = rng.choice(OPS)
        try:
            if op == "write":
                t.write(b"w" * rng.randrange(1, 3000))
            elif op == "bigwrite":
                t.write(b"B" * rng.randrange(50_000, 300_000))
            elif op == "write_eof":
                t.write_eof()
            elif op == "close":
                t.close()
            elif op == "abort":
                t.abort()
            elif op == "pause":
                t.pause_reading()
            elif op == "resume":
                t.resume_reading()
            else:
                await asyncio.sleep(rng.random() * 0.02)
        except RuntimeError:
            assert op in ("write", "bigwrite")  # write after write_eof
    if rng.random() < 0.5:
        t.resume_reading()
    await asyncio.sleep(0.05)
    t.close()


@pytest.mark.parametrize("seed", range(int(__import__("os").environ.get("QA_SEEDS", "12"))))
async def test_random_ops(seed, catch_errors):
    rng = random.Random(seed)
    knobs = rng.choice([{}, dict(loss=0.02, seed=seed), dict(delay=0.003, reorder=0.1, seed=seed)])
    cfg = StackConfig(send_buffer=32 * 1024, recv_buffer=32 * 1024)
    async with two_stacks(cfg, **knobs) as (a, b):
        server_protos = []

        def sf():
            p = Checked(rng.random() < 0.5)
            server_protos.append(p)
            return p
        await b.create_server(sf, B, 80)
        clients = []
        for _i in range(4):
            _t, p = await a.create_connection(lambda: Checked(rng.random() < 0.5), B, 80)
            clients.append(p)
        for _ in range(300):  # a lost third ACK waits for the SYN-ACK retransmission (1 s)
            if len(server_protos) == 4 and all(p.t is not None for p in server_protos):
                break
            await asyncio.sleep(0.01)
        assert len(server_protos) == 4
        await asyncio.gather(*[drive(p.t, random.Random(seed * 100 + i)) for i, p in enumerate(clients + server_protos)])
        # every connection ends: closed on both sides (abort everything still lingering after 3 s)
        try:
            await asyncio.wait_for(asyncio.gather(*[p.lost for p in clients + server_protos]), 3)
        except TimeoutError as exc:
            stuck = [(p.ev[-3:], p.t) for p in clients + server_protos if not p.lost.done()]
            raise AssertionError(f"connection_lost never came: {stuck}") from exc
        for p in clients + server_protos:
            assert p.ev[0] == "made" and p.ev[-1] == "lost" and p.ev.count("lost") == 1
    assert not [e for e in catch_errors.errors if "exception" in e and not isinstance(e["exception"], OSError)], catch_errors.errors
