"""Benchmarks of the asyncio layer over in-memory links (prints numbers, asserts nothing).

    .venv/bin/python benchmarks/bench_aio.py [--quick] [--uvloop]

* bulk: one-way goodput of one connection between two stacks, MTU 1500 and 65535;
* connect: sequential connect+close latency and concurrent connects per second;
* demux: 1-byte round-trip time on one active connection while 10 / 1,000 /
  10,000 idle connections sit in the same two stacks (the per-packet cost must
  not grow with the number of connections), plus the idle connections' memory;
* families (alone with ``--families``): IPv6 beside IPv4 on dual-stack stacks,
  interleaved (A B A B), in CPU time of this process: bulk per full-size
  segment and connect+close per connection, with the ratio IPv6/IPv4.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import resource
import statistics
import sys
import time
from typing import Any

import aionetstack
from aionetstack.core.config import StackConfig

A, B = "198.18.0.1", "198.18.0.2"


async def make(mtu: int = 1500, config: StackConfig | None = None) -> tuple[Any, Any]:
    la, lb = aionetstack.memory_link_pair(mtu=mtu)
    a = aionetstack.Stack(la, address=f"{A}/24", config=config)
    b = aionetstack.Stack(lb, address=f"{B}/24", config=config)
    await a.start()
    await b.start()
    return a, b


class Sink(asyncio.Protocol):
    def __init__(self, total: int, done: asyncio.Future[float]) -> None:
        self.total = total
        self.got = 0
        self.done = done

    def data_received(self, data: bytes) -> None:
        self.got += len(data)
        if self.got >= self.total and not self.done.done():
            self.done.set_result(time.perf_counter())


async def send_all(writer: asyncio.StreamWriter, total: int) -> None:
    """Write ``total`` bytes in 256 KiB chunks, waiting on ``drain()``."""
    chunk = b"\xa5" * (256 * 1024)
    sent = 0
    while sent < total:
        writer.write(chunk)
        sent += len(chunk)
        await writer.drain()


async def bench_bulk(mtu: int, megabytes: int) -> None:
    a, b = await make(mtu)
    total = megabytes * 1024 * 1024
    loop = asyncio.get_running_loop()
    done: asyncio.Future[float] = loop.create_future()
    server = await b.create_server(lambda: Sink(total, done), B, 5001)
    _reader, writer = await a.open_connection(B, 5001)
    t0 = time.perf_counter()
    await send_all(writer, total)
    t1 = await done
    rate = total / (t1 - t0) / 1e6
    info = writer.get_extra_info("tcp_info")
    print(
        f"bulk  mtu={mtu:<6} {megabytes} MiB in {t1 - t0:.3f} s = {rate:7.1f} MB/s  "
        f"(segs_out={info.segs_out}, retrans={info.total_retrans}, "
        f"sender flushes={a.flushes}, receiver wakeups={b.wakeups})"
    )
    writer.close()
    server.close()
    await a.close()
    await b.close()


async def bench_connect(n_seq: int, n_par: int) -> None:
    a, b = await make()

    class Nop(asyncio.Protocol):
        pass

    server = await b.create_server(Nop, B, 80, backlog=4096)
    t0 = time.perf_counter()
    for _ in range(n_seq):
        t, _p = await a.create_connection(Nop, B, 80)
        t.close()
    t1 = time.perf_counter()
    print(f"connect sequential: {n_seq} in {t1 - t0:.3f} s = {(t1 - t0) / n_seq * 1e6:.1f} us each")

    async def one() -> Any:
        t, _p = await a.create_connection(Nop, B, 80)
        return t

    # 500 at a time: beyond the listen backlog, SYNs are dropped and retried after 1 s
    transports: list[Any] = []
    t0 = time.perf_counter()
    for _ in range(0, n_par, 500):
        transports += await asyncio.gather(*(one() for _ in range(500)))
    t1 = time.perf_counter()
    print(
        f"connect concurrent: {len(transports)} (500 at a time) in {t1 - t0:.3f} s = "
        f"{len(transports) / (t1 - t0):,.0f} connections/s"
    )
    for t in transports:
        t.abort()
    server.close()
    await a.close()
    await b.close()


class Echo(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)


class PingPong(asyncio.Protocol):
    def __init__(self) -> None:
        self.waiter: asyncio.Future[None] | None = None

    def data_received(self, data: bytes) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


def rss_mb() -> float:
    """Current resident set size (Linux /proc), else the peak."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def bench_demux(idle_counts: list[int], rounds: int) -> None:
    config = StackConfig(nodelay=True)
    for idle in idle_counts:
        a, b = await make(config=config)
        server = await b.create_server(Echo, B, 7, backlog=4096)
        gc.collect()
        rss0 = rss_mb()
        idle_transports = []
        for start in range(0, idle, 1000):
            batch = await asyncio.gather(
                *(
                    a.create_connection(asyncio.Protocol, B, 7)
                    for _ in range(min(1000, idle - start))
                )
            )
            idle_transports.extend(t for t, _p in batch)
        await asyncio.sleep(0.05)
        gc.collect()
        rss1 = rss_mb()
        loop = asyncio.get_running_loop()
        transport, proto = await a.create_connection(PingPong, B, 7)
        assert isinstance(proto, PingPong)
        # warm up, then 7 runs: report the best and the median (the machine is shared)
        runs = []
        for n in (200,) + (rounds // 7,) * 7:
            t0 = time.perf_counter()
            for _ in range(n):
                proto.waiter = loop.create_future()
                transport.write(b"x")
                await proto.waiter
            runs.append((time.perf_counter() - t0) / n * 1e6)
        timed = sorted(runs[1:])
        best, median = timed[0], timed[len(timed) // 2]
        conns = a.engine.connection_count + b.engine.connection_count
        print(
            f"demux idle={idle:<6} 1-byte round trip best {best:5.1f} us, median {median:5.1f} us  "
            f"(engine connections: {conns}, RSS growth {rss1 - rss0:.0f} MB for "
            f"{2 * idle} idle endpoints)"
        )
        transport.abort()
        for t in idle_transports:
            t.abort()
        server.close()
        await a.close()
        await b.close()


A6, B6 = "2001:2::1", "2001:2::2"


async def family_cpu(family: int, megabytes: int, connects: int) -> tuple[float, float]:
    """CPU us per full-size segment of a bulk transfer and per connect+close,
    between two dual-stack stacks, over ``family``."""
    la, lb = aionetstack.memory_link_pair()
    a = aionetstack.Stack(la, [f"{A}/24", f"{A6}/64"])
    b = aionetstack.Stack(lb, [f"{B}/24", f"{B6}/64"])
    await a.start()
    await b.start()
    host = B if family == 4 else B6
    total = megabytes * 1024 * 1024
    done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
    server = await b.create_server(lambda: Sink(total, done), host, 5001)
    _reader, writer = await a.open_connection(host, 5001)
    c0 = time.process_time()
    await send_all(writer, total)
    await done
    bulk = (time.process_time() - c0) / (total / (1448 if family == 4 else 1428)) * 1e6
    writer.close()

    class Nop(asyncio.Protocol):
        pass

    c0 = time.process_time()
    for _ in range(connects):
        transport, _ = await a.create_connection(Nop, host, 5001)
        transport.close()
    connect = (time.process_time() - c0) / connects * 1e6
    server.close()
    await a.close()
    await b.close()
    return bulk, connect


async def bench_families(megabytes: int, connects: int, rounds: int) -> None:
    results: dict[int, list[tuple[float, float]]] = {4: [], 6: []}
    for _ in range(rounds):
        for family in (4, 6):
            results[family].append(await family_cpu(family, megabytes, connects))
    print(f"IPv4 vs IPv6, CPU of this process (both stacks), median of {rounds} interleaved")
    for i, name in enumerate(("bulk, us per segment", "connect+close, us")):
        v4 = statistics.median(r[i] for r in results[4])
        v6 = statistics.median(r[i] for r in results[6])
        print(f"  {name:<24} IPv4 {v4:8.2f}  IPv6 {v6:8.2f}  v6/v4 {v6 / v4:.3f}")


async def main(quick: bool, families_only: bool = False) -> None:
    print(f"python {sys.version.split()[0]}, loop {type(asyncio.get_running_loop()).__module__}")
    if families_only:
        await bench_families(8 if quick else 32, 200 if quick else 1000, 3 if quick else 5)
        return
    await bench_bulk(1500, 16 if quick else 64)
    await bench_bulk(65535, 64 if quick else 256)
    await bench_connect(200 if quick else 1000, 1000 if quick else 5000)
    await bench_demux([10, 1000] if quick else [10, 1000, 10000], 1000 if quick else 5000)
    await bench_families(8 if quick else 32, 200 if quick else 1000, 3 if quick else 5)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--uvloop", action="store_true")
    parser.add_argument("--families", action="store_true", help="only IPv4 vs IPv6")
    args = parser.parse_args()
    if args.uvloop:
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(main(args.quick, args.families))
    else:
        asyncio.run(main(args.quick, args.families))
