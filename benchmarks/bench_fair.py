"""Fairness against the Linux kernel: one flow of ours and one Linux flow through one `tc tbf` bottleneck.

Run as root:  ``python benchmarks/bench_fair.py [--algo cubic] [--rate 10] [--seconds 20] [--rounds 4]``

Safety: like ``bench_loss.py`` the script re-executes itself under
``unshare --net``; devices, the 198.18.0.0/15 addresses and all traffic stay
in a private, throw-away network namespace.

Theory of operation
-------------------
Both senders send to kernel sinks on ``REF_DST`` (198.18.2.2, a local address)
and both flows' data leave the kernel by the TUN device ``fwd1``, whose root
qdisc is a token bucket (``tc qdisc ... tbf rate R burst B limit L``): that is
the one bottleneck, with the kernel's queue in front of it. An asyncio
forwarder in this process copies ``fwd1`` -> ``fwd2`` (the kernel delivers
what comes in on ``fwd2`` to the sinks) and back, through
``impair(delay=RTT/2)`` each way (no loss: the queue is the only loss).

* **Linux**: a kernel socket (198.18.1.1, ``TCP_CONGESTION`` = ALGO) sends to
  ``REF_DST``; policy routing sends it out of ``fwd1`` and its ACKs back by
  ``fwd2`` (the rules of ``bench_loss.py``): RTT = RTT/2 + RTT/2.
* **ours**: the stack (``congestion_control=ALGO``) on ``ans0`` sends to
  ``REF_DST``; the kernel forwards (``ip_forward=1``, a rule for what comes
  in on ``ans0``) out of ``fwd1``; the sink's ACKs go straight back by
  ``ans0``. The stack's link is ``impair(delay=RTT/4)`` each way, so its RTT
  is RTT/4 + RTT/2 + RTT/4, the same as Linux's.

Each round runs both bulk flows for ``--seconds``; one starts a second before
the other (ours first in odd rounds, Linux first in even ones), so whichever
holds the link must give way. Shares are the bytes each sink got in the last
half of the overlap. The target (issue 10): ours gets between 0.5x and 2x of
its fair share (half the bytes both got).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time

from bench_loss import (
    LINUX_NAME,
    PEER_OPEN,
    REF_DST,
    REF_ROUTES,
    REF_RULES,
    REF_SRC,
    ready_port,
    reap,
)
from bench_tun import ensure_private_netns

KERNEL_IP = "198.18.0.1"
STACK_IP = "198.18.0.2"

# `python -c PEER sink HOST CC` prints "ready PORT", receives one connection and
# prints {"timeline": [[monotonic, bytes so far], ...]} at EOF; `... send HOST CC
# DST PORT UNTIL` sends until CLOCK_MONOTONIC reaches UNTIL, then EOF.
PEER = (
    r"""
import json, os, socket, sys, time
mode, host, cc = sys.argv[1], sys.argv[2], sys.argv[3]
"""
    + PEER_OPEN
    + r"""    n, mark, timeline = 0, 0.0, []
    while d := c.recv(1 << 20):
        n += len(d)
        now = time.monotonic()
        if now >= mark:
            timeline.append((now, n)); mark = now + 0.1
    timeline.append((time.monotonic(), n))
    c.close()
    print(json.dumps({"timeline": timeline}), flush=True)
else:
    dst, port, until = sys.argv[4], int(sys.argv[5]), float(sys.argv[6])
    s.connect((dst, port))
    buf = os.urandom(1 << 16)
    while time.monotonic() < until:
        s.send(buf)
    s.shutdown(socket.SHUT_WR)
    while s.recv(65536): pass
    print("{}", flush=True)
"""
)

# Our flow is forwarded to a local address: TCP early demux would find the sink's
# socket for what comes in on ans0 and ip_forward() drops a packet that has one
# (silently, no counter), so it is off in this namespace.
OURS_RULES = [
    "sysctl -qw net.ipv4.ip_forward=1",
    "sysctl -qw net.ipv4.ip_early_demux=0",
    f"ip rule add pref 99 iif ans0 to {REF_DST} lookup 101",
]


async def spawn(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", PEER, *args, stdout=asyncio.subprocess.PIPE
    )


async def timeline(proc: asyncio.subprocess.Process) -> list[tuple[float, int]]:
    assert proc.stdout is not None
    line = await proc.stdout.readline()
    await proc.wait()
    if not line:
        raise RuntimeError(f"kernel sink failed (exit status {proc.returncode})")
    return [(t, n) for t, n in json.loads(line)["timeline"]]


def bytes_between(tl: list[tuple[float, int]], t0: float, t1: float) -> int:
    """Bytes received in [t0, t1] from a timeline of cumulative counts."""

    def at(t: float) -> int:
        best = 0
        for when, n in tl:
            if when > t:
                break
            best = n
        return best

    return at(t1) - at(t0)


async def ours_send(algo: str, delay: float, start: float, until: float, port: int) -> None:
    import aionetstack

    tun = aionetstack.TunLink("ans0", mtu=1500, kernel_address=f"{KERNEL_IP}/24")
    link = aionetstack.impair(tun, delay=delay)
    config = aionetstack.StackConfig(congestion_control=algo)
    stack = aionetstack.Stack(link, address=f"{STACK_IP}/24", gateway=KERNEL_IP, config=config)
    async with stack:
        await asyncio.sleep(max(0.0, start - time.monotonic()))
        reader, writer = await stack.open_connection(REF_DST, port)
        chunk = os.urandom(1 << 16)
        while time.monotonic() < until:
            writer.write(chunk)
            await writer.drain()
        writer.write_eof()
        await reader.read()
        writer.close()


async def linux_send(cc: str, start: float, until: float, port: int) -> asyncio.subprocess.Process:
    await asyncio.sleep(max(0.0, start - time.monotonic()))
    return await spawn("send", REF_SRC, cc, REF_DST, str(port), str(until))


async def one_round(args: argparse.Namespace, ours_first: bool) -> tuple[int, int]:
    """Bytes (ours, Linux) in the last half of the overlap."""
    import aionetstack

    rtt = args.rtt / 1000
    a = aionetstack.impair(aionetstack.TunLink("fwd1", mtu=1500), delay=rtt / 2)
    b = aionetstack.TunLink("fwd2", mtu=1500)
    procs: list[asyncio.subprocess.Process] = []
    try:
        for cmd in REF_ROUTES:
            subprocess.run(cmd.split(), check=True)
        subprocess.run(
            ["tc", "qdisc", "replace", "dev", "fwd1", "root", "tbf", "rate", f"{args.rate}mbit",
             "burst", str(args.burst), "limit", str(args.limit)],
            check=True,
        )  # fmt: skip
        loop = asyncio.get_running_loop()
        a.attach(loop, b.send_batch)
        b.attach(loop, a.send_batch)
        cc = LINUX_NAME.get(args.algo, args.algo)
        sinks = [await spawn("sink", REF_DST, cc) for _ in range(2)]
        procs += sinks
        ports = [await ready_port(p) for p in sinks]
        t0 = time.monotonic() + 0.5
        first, second = t0, t0 + 1.0
        end = second + args.seconds
        ours_start, linux_start = (first, second) if ours_first else (second, first)
        ours = asyncio.ensure_future(ours_send(args.algo, rtt / 4, ours_start, end, ports[0]))
        sender = await linux_send(cc, linux_start, end, ports[1])
        procs.append(sender)
        tl_ours, tl_linux, _done = await asyncio.wait_for(
            asyncio.gather(timeline(sinks[0]), timeline(sinks[1]), ours),
            args.seconds + 60.0,
        )
        await sender.wait()
        mid = second + args.seconds / 2
        return bytes_between(tl_ours, mid, end), bytes_between(tl_linux, mid, end)
    finally:
        reap(*procs)
        a.close()
        b.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--algo", default="cubic", help="ours and Linux's (newreno = reno)")
    parser.add_argument("--rate", type=float, default=10.0, help="bottleneck, Mbit/s")
    parser.add_argument("--burst", type=int, default=10_000, help="tbf burst, bytes")
    parser.add_argument("--limit", type=int, default=25_000, help="tbf queue, bytes (~1 BDP)")
    parser.add_argument("--rtt", type=float, default=20.0, help="path RTT, ms (without queue)")
    parser.add_argument("--seconds", type=float, default=20.0, help="overlap per round")
    parser.add_argument("--rounds", type=int, default=4, help="ours first in odd rounds")
    args = parser.parse_args()

    ensure_private_netns()
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    for cmd in [*REF_RULES, *OURS_RULES]:
        subprocess.run(cmd.split(), check=True)
    print(
        f"one {args.algo} flow of ours vs one Linux {LINUX_NAME.get(args.algo, args.algo)} flow, "
        f"tbf {args.rate:g} Mbit/s burst {args.burst} limit {args.limit}, RTT {args.rtt:g} ms, "
        f"{args.seconds:g} s overlap (shares: its last half), {args.rounds} rounds",
        flush=True,
    )
    shares: list[float] = []
    for r in range(1, args.rounds + 1):
        ours_first = r % 2 == 1
        ours, linux = asyncio.run(one_round(args, ours_first))
        total = ours + linux
        share = ours / (total / 2) if total else 0.0
        shares.append(share)
        print(
            f"  round {r} ({'ours' if ours_first else 'Linux'} first): ours "
            f"{ours / args.seconds * 2 / 1e6:.3f} MB/s, Linux {linux / args.seconds * 2 / 1e6:.3f}"
            f" MB/s, link {total / args.seconds * 2 * 8 / 1e6:.2f} Mbit/s; ours/fair share "
            f"{share:.2f} {'ok' if 0.5 <= share <= 2.0 else 'MISS'}",
            flush=True,
        )
    med = statistics.median(shares)
    verdict = "ok" if 0.5 <= med <= 2.0 else "MISS"
    print(f"median ours/fair share {med:.2f} (target 0.5-2.0: {verdict})")


if __name__ == "__main__":
    main()
