"""The TCP engine's per-segment and per-connection CPU cost, optionally beside another build.

Run: ``.venv/bin/python benchmarks/bench_engine.py [--rounds 5] [--baseline DIR] [--cc newreno]``

Three measurements of the sans-IO engine alone (no parsing, no link, no asyncio),
each with the calls the asyncio driver makes per wakeup:

* ``rx``: the in-order receive path (header prediction): batches of 32 full
  segments received, then one ``packets_to_send`` (the ACK), the events drained,
  the data read, the timer read; microseconds per segment;
* ``tx``: the send path: ``packets_to_send`` with a large send buffer, then one
  ACK for every two segments sent (as a delayed-ACK receiver sends them),
  microseconds per segment sent;
* ``conn``: one connection's whole life in the simulator (handshake, 100 bytes
  each way, both sides close), engine calls only; microseconds per connection.

With ``--baseline DIR`` (a checkout of another commit, built in place, e.g. a
``git worktree``), each round runs both builds in subprocesses, interleaved, so
the machine's drift hits both; the best round of each is printed with the ratio.
This is how a refactoring shows it is "no slower" (issue 8).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the measured build is imported inside the workers
    from aionetstack.core.config import StackConfig
    from aionetstack.core.sim import Simulator
    from aionetstack.core.tcp.connection import TcpConnection

BATCH = 32
MSS = 1448
#: --cc: the congestion control of every measured connection ("" = the build's default)
CC = os.environ.get("BENCH_ENGINE_CC", "")


def _config() -> StackConfig:
    from aionetstack.core.config import StackConfig

    return StackConfig(congestion_control=CC) if CC else StackConfig()


def _established() -> tuple[Simulator, TcpConnection, TcpConnection]:
    """A simulator and the client and server ends of one established connection."""
    from aionetstack.core.sim import SimLink, Simulator

    sim = Simulator(1, trace=False, record_events=False)
    client, server = sim.tcp_pair(_config(), link=SimLink(delay=0.001))
    cc = client.connect(server.addr, server.port)
    sim.run_while(lambda: server.conn is None or cc.state.name != "ESTABLISHED")
    sc = server.conn
    assert sc is not None
    return sim, cc, sc


def bench_rx(batches: int) -> float:
    from aionetstack.wire.tcp import TcpSegment

    sim, cc, sc = _established()
    payload = bytes(MSS)
    seq, tsv, now = sc.rcv_nxt, (sc.ts_recent + 1) & 0xFFFFFFFF, sim.now + 1.0
    total = 0.0
    for _ in range(batches):
        segs = []
        for _i in range(BATCH):
            segs.append(TcpSegment(cc.local_port, sc.local_port, seq, sc.snd_nxt, 0x18, 4000,
                                   header_len=32, ts_val=tsv, ts_ecr=0, payload=payload))  # fmt: skip
            seq = (seq + MSS) & 0xFFFFFFFF
            tsv = (tsv + 1) & 0xFFFFFFFF
        now += 0.001
        t0 = time.perf_counter()
        for s in segs:
            sc.receive(s, now)
        sc.packets_to_send(now)
        while sc.next_event() is not None:
            pass
        sc.read()
        sc.get_timer()
        total += time.perf_counter() - t0
    assert sc.bytes_received == batches * BATCH * MSS, "segments left the fast path"
    return total / (batches * BATCH) * 1e6


def bench_tx(rounds: int) -> float:
    from aionetstack.wire.ipv4 import parse_ipv4
    from aionetstack.wire.tcp import TcpSegment, parse_tcp

    sim, cc, sc = _established()
    now = sim.now + 1.0
    tsv = (sc.ts_recent + 1) & 0xFFFFFFFF
    peer_seq = cc.rcv_nxt
    total = 0.0
    sent = 0
    chunk = bytes(256 * 1024)
    for _ in range(rounds):
        while cc.send_queued < 4 * len(chunk):
            cc.send(chunk, now)
        start = cc.snd_nxt
        t0 = time.perf_counter()
        pkts = cc.packets_to_send(now)
        total += time.perf_counter() - t0
        if not pkts:
            raise RuntimeError("the sender sent nothing")
        hdr, body = parse_ipv4(pkts[-1])
        ecr = parse_tcp(body, hdr.src, hdr.dst).ts_val
        end = cc.snd_nxt
        n = ((end - start) & 0xFFFFFFFF) // MSS
        sent += n
        # one ACK per two segments, and one for the whole flight
        ack_points = [(start + k * MSS) & 0xFFFFFFFF for k in range(2, n + 1, 2)] + [end]
        acks = [
            TcpSegment(
                sc.local_port, cc.local_port, peer_seq, a, 0x10, 0xFFFF,
                header_len=32, ts_val=tsv, ts_ecr=ecr,
            )
            for a in ack_points
        ]
        now += 0.001
        t0 = time.perf_counter()
        for a in acks:
            cc.receive(a, now)
        while cc.next_event() is not None:
            pass
        cc.get_timer()
        total += time.perf_counter() - t0
        tsv = (tsv + 1) & 0xFFFFFFFF
    return total / sent * 1e6


def bench_conn(count: int) -> float:
    from aionetstack.core.sim import SimLink, Simulator

    cpu = 0.0
    for i in range(count):
        sim = Simulator(i, trace=False, record_events=False)
        client, server = sim.tcp_pair(_config(), link=SimLink(delay=0.0005),
                                      measure=time.perf_counter)  # fmt: skip
        client.connect(server.addr, server.port)
        client.write(bytes(100))
        sim.run_while(lambda: len(server.received) < 100)  # noqa: B023
        server.write(bytes(100))
        server.close()
        client.close()
        sim.run_while(lambda: not (client.closed and server.closed))  # noqa: B023
        cpu += client.cpu + server.cpu
    return cpu / count * 1e6


def worker(scale: float) -> dict[str, float]:
    """One round in this process: the best of a few repetitions of each figure."""
    gc.disable()
    bench_rx(20)  # warm-up
    return {
        "rx": min(bench_rx(int(200 * scale)) for _ in range(3)),
        "tx": min(bench_tx(int(60 * scale)) for _ in range(3)),
        "conn": min(bench_conn(int(100 * scale)) for _ in range(2)),
    }


def run_tree(tree: str, scale: float, cc: str) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=tree, BENCH_ENGINE_CC=cc)
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--worker", "--scale", str(scale)],
        cwd=tree, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout.splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (best kept)")
    ap.add_argument("--baseline", help="another build's checkout to measure beside this one")
    ap.add_argument("--scale", type=float, default=1.0, help="work per round (1 = default)")
    ap.add_argument("--cc", default="", help="congestion control of both builds (default: each its own)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.scale)))
        return
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    trees = [("this", here)] + ([("baseline", os.path.abspath(args.baseline))] if args.baseline else [])
    best: dict[str, dict[str, float]] = {name: {} for name, _ in trees}
    for r in range(args.rounds):
        for name, tree in trees if r % 2 == 0 else trees[::-1]:
            for k, v in run_tree(tree, args.scale, args.cc).items():
                best[name][k] = min(v, best[name].get(k, v))
    units = {"rx": "us/segment received", "tx": "us/segment sent", "conn": "us/connection"}
    print(f"engine CPU, best of {args.rounds} interleaved rounds, congestion control: "
          f"{args.cc or 'each build its default'}")  # fmt: skip
    print(f"{'':6}{'this':>10}" + (f"{'baseline':>10}{'ratio':>8}" if args.baseline else ""))
    for k, unit in units.items():
        line = f"{k:6}{best['this'][k]:10.3f}"
        if args.baseline:
            line += f"{best['baseline'][k]:10.3f}{best['this'][k] / best['baseline'][k]:8.3f}"
        print(f"{line}  {unit}")


if __name__ == "__main__":
    main()
