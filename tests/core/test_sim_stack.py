"""Whole stack engines as simulator endpoints (StackEndpoint)."""

from __future__ import annotations

import random

import pytest

from aionetstack.core.config import StackConfig
from aionetstack.core.sim import SimLink, Simulator, StackEndpoint

stack = pytest.importorskip("aionetstack.core.stack")

A = 0xC6120001
B = 0xC6120002


def test_two_stacks_transfer_over_lossy_link() -> None:
    sim = Simulator(seed=11)
    ea = stack.StackEngine(StackConfig(), secret=bytes(16), now=0.0)
    eb = stack.StackEngine(StackConfig(), secret=bytes(range(16)), now=0.0)
    ia = ea.add_interface(A, 24, 1500)
    ib = eb.add_interface(B, 24, 1500)
    pa = StackEndpoint(sim, "a", ea, ia)
    pb = StackEndpoint(sim, "b", eb, ib)
    sim.join(pa, pb, SimLink(delay=0.005, loss=0.05))
    listener = eb.tcp_listen(B, 80, 16)
    conn = ea.tcp_connect(B, 80, now=0.0)
    data = random.Random(11).randbytes(200_000)
    conn.send(data, 0.0)
    conn.shutdown(0.0)
    ea.notify(conn, 0.0)
    received = bytearray()
    server = None
    for _ in range(200_000):
        if not sim.step():
            break
        if server is None:
            server = listener.accept()
        if server is not None:
            received += server.read()
            eb.notify(server, sim.now)
            if server.eof_received and len(received) == len(data):
                break
    assert server is not None
    assert bytes(received) == data
