"""Fairness (issue 10): two of our flows through one bottleneck converge to
shares within 20 % of each other, for each congestion controller.

The dumbbell is the simulator's own: one ``SimLink`` with a rate and a queue
passed to both joins is a single FIFO bottleneck the two data directions
share (tail drop when its queue is full); each ACK path has a link of its
own. The second flow starts a second after the first, which by then holds
the whole link, so the test sees the first flow give way, not two flows
that started equal and stayed so. Shares are the bytes each receiver got
in the second half of the run.
"""

from __future__ import annotations

import pytest

from aionetstack.core.config import StackConfig
from aionetstack.core.sim import SimLink, Simulator, TcpEndpoint

RATE = 1.25e6  # 10 Mbit/s
DELAY = 0.01  # each way: 20 ms RTT
BDP_PACKETS = int(RATE * 2 * DELAY / 1500) + 1  # 17 full-sized packets
BULK = 200_000_000  # more than either flow can send in the run


def dumbbell(
    cc: str, *, queue: int, until: float, batch: float = 0.0, seed: int = 0
) -> tuple[list[int], SimLink]:
    """Bytes each of two flows delivered over the second half of ``until``."""
    sim = Simulator(seed, trace=False, record_events=False)
    cfg = StackConfig(congestion_control=cc)
    bottleneck = SimLink(delay=DELAY, rate=RATE, queue=queue, batch=batch)
    flows: list[tuple[TcpEndpoint, TcpEndpoint]] = []
    for i in range(2):
        c = TcpEndpoint(sim, f"client{i}", 0xC6120001 + 2 * i, 40000 + i, cfg)
        s = TcpEndpoint(sim, f"server{i}", 0xC6120002 + 2 * i, 80, cfg)
        sim.join(c, s, bottleneck, SimLink(delay=DELAY, batch=batch))
        s.listen()
        flows.append((c, s))

    def start(c: TcpEndpoint, s: TcpEndpoint) -> None:
        c.connect(s.addr, s.port)
        c.write(bytes(BULK))

    sim.at(0.0, lambda: start(*flows[0]))
    sim.at(1.0, lambda: start(*flows[1]))
    half: list[int] = []
    sim.at(until / 2, lambda: half.extend(len(s.received) for _c, s in flows))
    sim.run(until=until)
    assert len(half) == 2
    return [len(s.received) - h for (_c, s), h in zip(flows, half, strict=True)], bottleneck


def assert_fair(shares: list[int], seconds: float) -> None:
    a, b = shares
    assert min(a, b) >= 0.8 * max(a, b), shares
    # and between them they keep the link busy (payload over wire bytes ~0.96)
    assert a + b >= 0.85 * RATE * seconds, shares


@pytest.mark.parametrize("batch", [0.0, 0.001])
@pytest.mark.parametrize("cc", ["newreno", "cubic"])
def test_two_loss_based_flows_share_a_one_bdp_bottleneck(cc: str, batch: float) -> None:
    # 30 s, shares over the last 15: a few of CUBIC's epochs at this BDP
    shares, bottleneck = dumbbell(cc, queue=BDP_PACKETS, until=30.0, batch=batch)
    assert bottleneck.dropped > 0  # the queue overflowed: losses drove the convergence
    assert_fair(shares, 15.0)


@pytest.mark.parametrize("batch", [0.0, 0.001])
def test_two_bbr_flows_share_a_deep_bottleneck(batch: float) -> None:
    # BBR v1 converges through its bandwidth probing and PROBE_RTT, slower than
    # a loss-based controller: 40 s, shares over the last 20. A deep buffer (six
    # BDPs) is BBR's cwnd-limited regime (2 BDP each); in a one-BDP buffer two
    # v1 flows overrun the queue, as Linux's do (v2/v3 added loss bounds)
    shares, _bottleneck = dumbbell("bbr", queue=6 * BDP_PACKETS, until=40.0, batch=batch)
    assert_fair(shares, 20.0)
