"""The load a server sees at the edge, on the stack and on the kernel in one run (issue 11).

Run as root:  ``python benchmarks/bench_edge.py [--quick] [--only flood,wrk,memory]``

Safety: the script re-executes itself under ``unshare --net`` (as
``bench_tun.py``), so the TUN device, addresses and traffic live in a private,
throw-away network namespace: kernel side 198.18.0.1/16, stack 198.18.0.2/16,
SYN-flood sources spoofed inside 198.18.0.0/16 (198.18.77.0/24, a blackhole
route there, so the kernel's SYN-ACKs to them are dropped as the stack's are).

Kernel-side clients run in separate Python processes (blocking sockets or their
own loop), so they do not share the stack's interpreter lock.

(a) ``flood``: ``hping3 --flood -S`` (``--flood-seconds``, default 20 s) from
    spoofed sources against a stack echo listener while a kernel client
    connects every 100 ms; then the same against a kernel listener
    (``net.ipv4.tcp_syncookies=1``). Success rate, median and p99 connect
    time, the stack's peak RSS.
(b) ``wrk``: one small aiohttp app served by the stack (``StackSite``) and by
    a kernel socket (``web.TCPSite``) from this same process, measured
    interleaved: keep-alive 100 connections, ``Connection: close`` 100
    connections, keep-alive 1,000 connections. Requests/s, latency p50/p99,
    socket errors, and the TUN device's drop counters (sysfs) across each run.
(c) ``memory``: 100,000 short connections (server closes first) churned, then
    idle until TIME-WAIT expired (the run uses ``StackConfig(time_wait=2.0)``:
    not Linux's 60 s); 10,000 idle connections; 1,000 connections each fed by
    a fast sender and drained slowly by the server (the run stops early if the
    process RSS passes ``--rss-cap``). RSS is this process's (stack and
    asyncio objects); for the kernel the process RSS covers only asyncio's
    objects, so the kernel's own TCP memory (``/proc/net/sockstat`` ``mem``,
    pages, machine-wide) is printed beside it. The memory run gives the stack
    a budget (``--memory-budget``, ``StackConfig.tcp_mem`` = budget/2,
    3/4 budget, budget): the slow-reader row prints the stack's peak of
    buffered bytes (its ``tcp_mem`` account: every connection's send and
    receive queues) against it, the pressure periods and the segments refused
    above it (``TCPRcvQDrop``); the kernel's sockstat ``mem`` is its own.
(d) ``rr`` (only with ``--only ...,rr``): the keep-alive exchange of the wrk
    case without aiohttp and wrk: 100 connections, each sending a small
    request when the previous response arrived, both ends in this process,
    over two stacks joined by a memory link and over kernel sockets on
    loopback, interleaved: CPU of this process per request (client and
    server). Steadier than wrk on a shared machine: no other process is
    in the loop.

A table prints the kernel beside the stack. These are figures of the machine
the script ran on: on a shared host they are only indicative.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench_tun import ensure_private_netns  # this directory is on sys.path

KERNEL_IP = "198.18.0.1"
STACK_IP = "198.18.0.2"
SPOOF_NET = "198.18.77.0/24"
SPOOFED = "198.18.77.77"
DEV = "edge0"

# Kernel-side clients: `python -c CLIENT MODE ARGS...`; the result is one JSON line.
CLIENT = r"""
import asyncio, json, os, resource, socket, sys, threading, time
mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

def probe(seconds, every, timeout):
    # a legitimate client: connect, echo 4 bytes, close, every `every` s
    results = []
    def one():
        t0 = time.monotonic()
        try:
            with socket.create_connection((host, port), timeout=timeout) as s:
                t = time.monotonic() - t0
                s.sendall(b"ping"); got = b""
                while len(got) < 4 and (d := s.recv(64)): got += d
        except OSError:
            results.append(None); return
        results.append(t if got == b"ping" else None)
    threads = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        th = threading.Thread(target=one); th.start(); threads.append(th)
        time.sleep(every)
    for th in threads: th.join()
    print(json.dumps(results), flush=True)

async def churn(n, parallel):
    # open, read to EOF (the server closes first), close
    ok = failed = 0
    sem = asyncio.Semaphore(parallel)
    async def one():
        nonlocal ok, failed
        async with sem:
            try:
                r, w = await asyncio.wait_for(asyncio.open_connection(host, port), 30)
                await asyncio.wait_for(r.read(), 30); w.close(); ok += 1
            except (OSError, asyncio.TimeoutError):
                failed += 1
    await asyncio.gather(*(one() for _ in range(n)))
    print(json.dumps({"ok": ok, "failed": failed}), flush=True)

async def hold(n):
    # open n connections, report, hold them until stdin closes
    conns, failed = [], 0
    for i in range(0, n, 200):
        res = await asyncio.gather(*(asyncio.wait_for(asyncio.open_connection(host, port), 30)
                                     for _ in range(min(200, n - i))), return_exceptions=True)
        for x in res:
            if isinstance(x, BaseException): failed += 1
            else: conns.append(x)
    print(json.dumps({"ok": len(conns), "failed": failed}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

async def feed(n, seconds):
    # n connections, each writing as fast as the peer accepts, for `seconds`
    chunk = os.urandom(65536)
    sent = 0; failed = 0
    async def one():
        nonlocal sent, failed
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection(host, port), 30)
        except (OSError, asyncio.TimeoutError):
            failed += 1; return
        end = time.monotonic() + seconds
        try:
            while time.monotonic() < end:
                w.write(chunk); sent += len(chunk)
                await asyncio.wait_for(w.drain(), max(0.01, end - time.monotonic()))
        except (OSError, asyncio.TimeoutError):
            pass
        w.transport.abort()
    await asyncio.gather(*(one() for _ in range(n)))
    print(json.dumps({"sent": sent, "failed": failed}), flush=True)

a = [float(x) for x in sys.argv[4:]]
if mode == "probe": probe(*a)
elif mode == "churn": asyncio.run(churn(int(a[0]), int(a[1])))
elif mode == "hold": asyncio.run(hold(int(a[0])))
elif mode == "feed": asyncio.run(feed(int(a[0]), a[1]))
"""


def rss() -> int:
    """This process's resident set, bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def sockstat() -> dict[str, int]:
    """/proc/net/sockstat's TCP line (inuse, orphan, tw, alloc: this namespace; mem: pages)."""
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                parts = line.split()[1:]
                return {parts[i]: int(parts[i + 1]) for i in range(0, len(parts), 2)}
    return {}


def dev_counters() -> dict[str, int]:
    """The TUN device's counters (the kernel's view: tx = towards the stack), as
    ``ip -s link`` reads them (this process's /sys belongs to the original namespace)."""
    out = subprocess.run(["ip", "-j", "-s", "link", "show", "dev", DEV],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    stats = json.loads(out)[0]["stats64"]
    return {
        f"{way}_{name}": int(stats[way][name])
        for way in ("tx", "rx")
        for name in ("packets", "dropped", "errors")
    }


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def fmt_ms(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"{statistics.median(values) * 1e3:.1f} / {pct(values, 0.99) * 1e3:.1f} ms"


def mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


async def client(*args: object) -> Any:
    """Run a kernel-side client to completion; its JSON result."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CLIENT, *map(str, args), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    return json.loads(out.decode().strip().splitlines()[-1])


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str]] = []

    def add(self, name: str, stack: str, kernel: str) -> None:
        self.rows.append((name, stack, kernel))
        print(f"  {name:<46} {stack:>24}   {kernel:>24}", flush=True)

    def show(self) -> None:
        print(f"\n  {'measure':<46} {'stack':>24}   {'kernel':>24}")
        for name, stack, kernel in self.rows:
            print(f"  {name:<46} {stack:>24}   {kernel:>24}")


# --- (a) SYN flood ------------------------------------------------------------------


async def echo_kernel_server(port: int, backlog: int = 128) -> asyncio.Server:
    from aionetstack.cli import serve_echo

    return await asyncio.start_server(serve_echo, KERNEL_IP, port, backlog=backlog)


async def flood_case(host: str, port: int, seconds: float, sample: Callable[[], None]) -> Any:
    """hping3 --flood at host:port while a kernel client probes every 100 ms."""
    flood = await asyncio.create_subprocess_exec(
        "hping3", "--flood", "-S", "-p", str(port), "-a", SPOOFED, host,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await asyncio.sleep(0.3)  # the flood is on before the first legitimate SYN
        probe = asyncio.ensure_future(client("probe", host, port, seconds, 0.1, 15.0))
        while not probe.done():
            sample()
            await asyncio.sleep(0.25)
        return await probe
    finally:
        if flood.returncode is None:
            flood.terminate()  # only the process this script started, by its PID
        await flood.wait()


async def bench_flood(stack: Any, table: Table, seconds: float) -> None:
    from aionetstack.cli import serve_echo

    peak = [rss()]

    def sample() -> None:
        peak[0] = max(peak[0], rss())

    before, dev0 = stack.stats(), dev_counters()
    rss0 = rss()
    async with await stack.start_server(serve_echo, STACK_IP, 7001):
        on_stack = await flood_case(STACK_IP, 7001, seconds, sample)
    after, dev1 = stack.stats(), dev_counters()
    server = await echo_kernel_server(7002)
    async with server:
        on_kernel = await flood_case(KERNEL_IP, 7002, seconds, lambda: None)
    ok_s = [t for t in on_stack if t is not None]
    ok_k = [t for t in on_kernel if t is not None]
    table.add(
        f"SYN flood {seconds:.0f} s: connects ok",
        f"{len(ok_s)}/{len(on_stack)} ({100 * len(ok_s) / max(1, len(on_stack)):.1f} %)",
        f"{len(ok_k)}/{len(on_kernel)} ({100 * len(ok_k) / max(1, len(on_kernel)):.1f} %)",
    )
    table.add("  connect time median / p99", fmt_ms(ok_s), fmt_ms(ok_k))
    table.add(
        "  flood SYNs in / cookies sent (stack)",
        f"{after['TcpInSegs'] - before['TcpInSegs']:,} / "
        f"{after['SyncookiesSent'] - before['SyncookiesSent']:,}",
        "",
    )
    table.add(
        "  TUN: kernel tx packets / tx dropped",
        f"{dev1['tx_packets'] - dev0['tx_packets']:,} / {dev1['tx_dropped'] - dev0['tx_dropped']:,}",
        "",
    )
    table.add("  stack RSS start / peak", f"{mb(rss0)} / {mb(peak[0])}", "")


# --- (b) wrk ------------------------------------------------------------------------

_LAT = re.compile(r"^\s*(50|99)%\s+([\d.]+)(us|ms|s)\s*$")
_TOTAL = re.compile(r"^\s*(\d+) requests in ")
_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def parse_wrk(out: str) -> dict[str, float]:
    result: dict[str, float] = {"rps": 0.0, "errors": 0.0}
    for line in out.splitlines():
        if m := _TOTAL.match(line):
            result["requests"] = float(m.group(1))
        elif line.startswith("Requests/sec:"):
            result["rps"] = float(line.split()[1])
        elif m := _LAT.match(line):
            result[f"p{m.group(1)}"] = float(m.group(2)) * _UNIT[m.group(3)]
        elif line.strip().startswith("Socket errors:"):
            result["errors"] = float(sum(int(x) for x in re.findall(r"\d+", line)))
        elif "Non-2xx" in line:
            result["errors"] += float(line.split()[-1])
    return result


async def run_wrk(
    port: int, host: str, conns: int, seconds: float, close: bool
) -> dict[str, float]:
    args = ["wrk", "-t2", f"-c{conns}", f"-d{seconds:.0f}s", "--latency", "--timeout", "10s"]
    if close:
        args += ["-H", "Connection: close"]
    args.append(f"http://{host}:{port}/")
    d0, cpu0 = dev_counters(), time.process_time()
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate()
    d1, cpu = dev_counters(), time.process_time() - cpu0
    result = parse_wrk(out.decode())
    result["cpu_us"] = cpu / max(1.0, result.get("requests", 0.0)) * 1e6
    result["tx_dropped"] = d1["tx_dropped"] - d0["tx_dropped"]
    result["rx_dropped"] = d1["rx_dropped"] - d0["rx_dropped"]
    return result


def wrk_cell(r: dict[str, float], dev: bool) -> str:
    cell = f"{r['rps']:,.0f}/s {r.get('p50', 0):.1f}/{r.get('p99', 0):.0f} ms {r['cpu_us']:.0f}us"
    if r["errors"]:
        cell += f" e{r['errors']:.0f}"
    if dev:
        cell += f" d{r['tx_dropped']:.0f}"
    return cell


WRK_CASES = {
    "ka100": ("keep-alive, 100 connections", 100, False),
    "close100": ("Connection: close, 100 connections", 100, True),
    "ka1000": ("keep-alive, 1,000 connections", 1000, False),
}


async def bench_wrk(
    stack: Any, table: Table, seconds: float, rounds: int, cases: list[str]
) -> None:
    from aiohttp import web

    from aionetstack.contrib.aiohttp import StackSite

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="Hello, world\n")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await StackSite(runner, stack, STACK_IP, 8080, backlog=1024).start()
    await web.TCPSite(runner, KERNEL_IP, 8080, backlog=1024).start()
    tun = stack.link
    try:
        for label, conns, close in (WRK_CASES[case] for case in cases):
            results: dict[str, list[dict[str, float]]] = {"stack": [], "kernel": []}
            tun_drop0 = tun.stats["tx_dropped"]
            for _ in range(rounds):  # interleaved
                for name, host in (("stack", STACK_IP), ("kernel", KERNEL_IP)):
                    results[name].append(await run_wrk(8080, host, conns, seconds, close))
                    await asyncio.sleep(1.0)
            best = {n: max(rs, key=lambda r: r["rps"]) for n, rs in results.items()}
            ratio = best["stack"]["rps"] / max(1.0, best["kernel"]["rps"])
            table.add(
                f"wrk {label} ({ratio:.2f}x)",
                wrk_cell(best["stack"], True),
                wrk_cell(best["kernel"], False),
            )
            drops = sum(r["tx_dropped"] for r in results["stack"])
            rxd = sum(r["rx_dropped"] for r in results["stack"])
            table.add(
                "  TUN drops: kernel tx / kernel rx / stack tx",
                f"{drops:.0f} / {rxd:.0f} / {tun.stats['tx_dropped'] - tun_drop0}",
                "",
            )
    finally:
        await runner.cleanup()


# --- (d) rr: keep-alive request/response, both ends in this process ----------------

RR_REQUEST = b"GET / HTTP/1.1\r\nHost: edge\r\n\r\n"
RR_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, world\n"
)


class _RrServer(asyncio.Protocol):
    """Answers every request segment with the response (the wrk case's app, bare)."""

    write: Callable[[bytes], None]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.write = transport.write  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.write(RR_RESPONSE)


class _RrClient(asyncio.Protocol):
    """Sends a request, and the next one when the response arrives (a small
    response is one segment: no parsing)."""

    def __init__(self, state: list[Any]) -> None:
        self.state = state  # [responses, target, done future]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport
        self.transport.write(RR_REQUEST)

    def data_received(self, data: bytes) -> None:
        state = self.state
        state[0] += 1
        if state[0] < state[1]:
            self.transport.write(RR_REQUEST)
        elif not state[2].done():
            state[2].set_result(None)


async def rr_round(
    connect: Callable[[Callable[[], asyncio.Protocol]], Awaitable[Any]], conns: int, requests: int
) -> float:
    """CPU microseconds of this process per request/response (both ends)."""
    loop = asyncio.get_running_loop()
    state: list[Any] = [0, requests, loop.create_future()]
    cpu0 = time.process_time()
    made = [await connect(lambda: _RrClient(state)) for _ in range(conns)]
    await state[2]
    cpu = (time.process_time() - cpu0) / state[0] * 1e6
    for transport, _protocol in made:
        transport.close()
    await asyncio.sleep(0.2)
    return cpu


async def bench_rr(table: Table, conns: int, requests: int, rounds: int) -> None:
    """The keep-alive exchange of the wrk case without aiohttp and wrk: two
    stacks over a memory link, and two kernel sockets over loopback, both ends
    in this process, interleaved (best round kept). The engine's and the
    asyncio layer's cost per request, twice (client and server)."""
    from aionetstack.testing.pair import SERVER_ADDRESS, open_stack_pair

    loop = asyncio.get_running_loop()
    a, b = await open_stack_pair()
    kernel_srv = await loop.create_server(_RrServer, "127.0.0.1", 0, backlog=1024)
    port = kernel_srv.sockets[0].getsockname()[1]
    try:
        await b.create_server(_RrServer, SERVER_ADDRESS, 80, backlog=1024)
        best: dict[str, float] = {}
        for _ in range(rounds):
            for name, connect in (
                ("stack", lambda f: a.create_connection(f, SERVER_ADDRESS, 80)),
                ("kernel", lambda f: loop.create_connection(f, "127.0.0.1", port)),
            ):
                cpu = await rr_round(connect, conns, requests)
                best[name] = min(best.get(name, cpu), cpu)
        table.add(
            f"rr keep-alive, {conns} conns, in process ({best['stack'] / best['kernel']:.2f}x cpu)",
            f"{best['stack']:.1f} us CPU/req",
            f"{best['kernel']:.1f} us CPU/req",
        )
    finally:
        kernel_srv.close()
        await a.close()
        await b.close()


# --- (c) memory ---------------------------------------------------------------------


async def settle() -> int:
    gc.collect()
    await asyncio.sleep(0.2)
    return rss()


async def serve_both(
    stack: Any, handler: Callable[[Any, Any], Awaitable[None]], port: int, backlog: int = 1024
) -> tuple[Any, asyncio.Server]:
    s = await stack.start_server(handler, STACK_IP, port, backlog=backlog)
    k = await asyncio.start_server(handler, KERNEL_IP, port, backlog=backlog)
    return s, k


async def bench_memory(
    stack: Any, table: Table, churn: int, idle: int, slow: int, slow_seconds: float, cap: int
) -> None:
    time_wait = stack.config.time_wait

    async def hit_and_close(reader: Any, writer: Any) -> None:
        writer.write(b"x")
        writer.close()

    s, k = await serve_both(stack, hit_and_close, 7101)
    cells = []
    for host in (STACK_IP, KERNEL_IP):
        base, mem0 = await settle(), sockstat().get("mem", 0)
        result = await client("churn", host, 7101, churn, 64)
        peak, tw = rss(), sockstat().get("tw", 0)
        await asyncio.sleep(time_wait + 1.5)
        idle_rss = await settle()
        growth = (idle_rss - base) / base * 100
        cells.append(
            f"{result['ok']:,} ok, {mb(base)}->{mb(peak)}->{mb(idle_rss)} ({growth:+.1f} %)"
            + (f" tw{tw} m{sockstat().get('mem', 0) - mem0:+}p" if host == KERNEL_IP else "")
        )
    table.add(f"{churn:,} short connections (time_wait {time_wait:g} s)", *cells)
    s.close()
    k.close()

    async def sit(reader: Any, writer: Any) -> None:
        await reader.read()
        writer.close()

    s, k = await serve_both(stack, sit, 7102)
    cells = []
    for host in (STACK_IP, KERNEL_IP):
        base, mem0 = await settle(), sockstat().get("mem", 0)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CLIENT, "hold", host, "7102", str(idle),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert proc.stdout is not None and proc.stdin is not None
        result = json.loads(await proc.stdout.readline())
        await asyncio.sleep(1.0)
        held = await settle()
        mem = sockstat().get("mem", 0) - mem0
        proc.stdin.close()
        await proc.wait()
        per = (held - base) / max(1, result["ok"])
        cell = f"{result['ok']:,} ok, +{mb(held - base)} ({per / 1e3:.1f} KB each)"
        cells.append(cell + (f" m{mem:+}p" if host == KERNEL_IP else ""))
        await asyncio.sleep(1.0)
    table.add(f"{idle:,} idle connections", *cells)
    s.close()
    k.close()

    stop = asyncio.Event()

    account = stack.engine.tcp_memory  # the stack's tcp_mem account (bytes buffered)

    async def slow_reader(reader: Any, writer: Any) -> None:
        try:
            while not stop.is_set() and await reader.read(4096):
                await asyncio.sleep(0.1)  # 40 KB/s per connection
        except ConnectionError:
            pass
        writer.close()

    s, k = await serve_both(stack, slow_reader, 7103)
    cells = []
    for host in (STACK_IP, KERNEL_IP):
        stop.clear()
        base, mem0 = await settle(), sockstat().get("mem", 0)
        pressures0, drops0 = account.pressures, account.rcvq_drops
        feeding = asyncio.ensure_future(client("feed", host, 7103, slow, slow_seconds))
        peak, mem, capped, buffered = base, 0, False, 0
        while not feeding.done():
            peak = max(peak, rss())
            buffered = max(buffered, account.allocated)
            mem = max(mem, sockstat().get("mem", 0) - mem0)
            if peak > cap and not capped:
                capped = True  # the stack keeps buffering: stop before the machine suffers
                stop.set()
            await asyncio.sleep(0.25)
        result = feeding.result()
        stop.set()
        cell = f"peak +{mb(peak - base)}, sent {mb(result['sent'])}" + (" CAPPED" if capped else "")
        if host == STACK_IP:
            high = account.high
            cell += (
                f", buffered {mb(buffered)} of {mb(high)} budget (account peak"
                f" {mb(account.peak)}), {account.pressures - pressures0} pressure,"
                f" {account.rcvq_drops - drops0} RcvQDrop"
            )
        cells.append(cell + (f" m{mem:+}p" if host == KERNEL_IP else ""))
        await asyncio.sleep(1.0)
    table.add(f"{slow:,} fast senders, slow readers ({slow_seconds:g} s)", *cells)
    s.close()
    k.close()


# --- main ---------------------------------------------------------------------------


def setup_namespace() -> None:
    for cmd in (
        ["ip", "link", "set", "lo", "up"],
        ["ip", "route", "add", "blackhole", SPOOF_NET],
        ["sysctl", "-qw", "net.ipv4.tcp_syncookies=1"],
        ["sysctl", "-qw", "net.core.somaxconn=4096"],
        ["sysctl", "-qw", "net.ipv4.ip_local_port_range=10000 65000"],
    ):
        subprocess.run(cmd, check=True)


TXQUEUELEN: list[int | None] = []  # --txqueuelen (None: the kernel's default)


async def with_stack(body: Callable[[Any], Awaitable[None]], **config: Any) -> None:
    import aionetstack
    from aionetstack.core.config import StackConfig

    qlen = {"txqueuelen": TXQUEUELEN[0]} if TXQUEUELEN else {}
    link = aionetstack.TunLink(DEV, mtu=1500, kernel_address=f"{KERNEL_IP}/16", **qlen)
    async with aionetstack.Stack(
        link, address=f"{STACK_IP}/16", config=StackConfig(**config)
    ) as stack:
        await body(stack)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        default="flood,wrk,memory",
        help="subset of flood,wrk,memory,rr (rr: not by default)",
    )
    parser.add_argument("--quick", action="store_true", help="short runs, small counts")
    parser.add_argument("--flood-seconds", type=float, default=20.0)
    parser.add_argument("--wrk-seconds", type=float, default=10.0)
    parser.add_argument("--wrk-rounds", type=int, default=1, help="interleaved rounds (best kept)")
    parser.add_argument(
        "--wrk-cases", default=",".join(WRK_CASES), help=f"subset of {','.join(WRK_CASES)}"
    )
    parser.add_argument("--churn", type=int, default=100_000)
    parser.add_argument("--idle", type=int, default=10_000)
    parser.add_argument("--slow", type=int, default=1_000)
    parser.add_argument("--slow-seconds", type=float, default=10.0)
    parser.add_argument("--rss-cap", type=int, default=1 << 30, help="bytes (slow case)")
    parser.add_argument(
        "--memory-budget", type=int, default=64 << 20,
        help="the stack's tcp_mem high mark in the memory run, bytes (low 1/2, pressure 3/4)",
    )  # fmt: skip
    parser.add_argument("--rr-requests", type=int, default=40_000, help="per rr round")
    parser.add_argument("--uvloop", action="store_true")
    parser.add_argument(
        "--txqueuelen", type=int, default=-1,
        help="the TUN device's transmit queue (0: the kernel's 500; default: TunLink's)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.quick:
        args.flood_seconds, args.wrk_seconds = 5.0, 3.0
        args.churn, args.idle, args.slow, args.slow_seconds = 5000, 2000, 200, 4.0
    only = set(args.only.split(","))
    if args.txqueuelen >= 0:
        TXQUEUELEN.append(args.txqueuelen or None)
    cases = [c for c in args.wrk_cases.split(",") if c]
    if set(cases) - set(WRK_CASES):
        parser.error(f"unknown wrk case(s): {', '.join(set(cases) - set(WRK_CASES))}")
    ensure_private_netns()
    setup_namespace()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by wrk and clients
    if args.uvloop:
        import uvloop

        uvloop.install()
    print(f"aionetstack at the edge vs the Linux kernel, over TUN ({DEV}), one run")
    table = Table()
    if "flood" in only:
        asyncio.run(with_stack(lambda s: bench_flood(s, table, args.flood_seconds)))
    if "wrk" in only:
        asyncio.run(
            with_stack(lambda s: bench_wrk(s, table, args.wrk_seconds, args.wrk_rounds, cases))
        )
    if "memory" in only:
        asyncio.run(
            with_stack(
                lambda s: bench_memory(
                    s, table, args.churn, args.idle, args.slow, args.slow_seconds, args.rss_cap
                ),
                time_wait=2.0,
                tcp_mem=(args.memory_budget // 2, args.memory_budget * 3 // 4, args.memory_budget),
            )
        )
    if "rr" in only:
        asyncio.run(bench_rr(table, 100, args.rr_requests, max(2, args.wrk_rounds)))
    table.show()
    print(
        "  wrk cells: requests/s, p50/p99 latency, CPU of this process per request (stack or"
        " aiohttp on the kernel socket);\n  e = socket errors, d = packets the kernel"
        " dropped on the TUN device's transmit queue.\n  memory cells: RSS of this process;"
        " kernel m = change of /proc/net/sockstat TCP mem, pages (machine-wide)."
    )


if __name__ == "__main__":
    main()
