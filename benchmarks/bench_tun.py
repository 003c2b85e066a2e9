"""Benchmark aionetstack against the Linux kernel over a TUN device.

Run as root:  ``python benchmarks/bench_tun.py [--quick] [--uvloop] [--family 4|6|both]``

Safety: the script re-executes itself under ``unshare --net`` so the TUN
devices, addresses and traffic live in a private, throw-away network
namespace (kernel side 198.18.0.1/24, stack 198.18.0.2/24) and vanish when
it exits. (``unshare --net python benchmarks/bench_tun.py`` does the same.)

Kernel-side peers run in a separate Python process (blocking sockets), so
they do not share the stack's interpreter lock. Measured:

* bulk throughput kernel -> stack and stack -> kernel, MTU 1500 and 65535;
* connect latency (stack ``open_connection`` to a kernel listener);
* 1-byte round trip (stack client, kernel echo server);
* connections per second (open + close, 32 in parallel, stack client);
* the ceiling: a pure-Python asyncio TUN-to-TUN forwarder's throughput (with
  ``--family both``, over both families: the kernel is at both ends and the
  copy is family-blind, so its ratio is the kernel's own, the reference).

Results are printed beside the targets from DESIGN.md. ``--family 6`` (or
``--ipv6``) runs the same measurements over IPv6 (kernel side 2001:2::1/64,
stack 2001:2::2/64 on a dual-stack device; RFC 5180's benchmarking range).
``--family both`` measures each figure over IPv4 and IPv6 in turn (A B A B,
both on the same dual-stack device) and prints them side by side with the
ratio IPv6/IPv4 (DESIGN target: IPv6 within 10 % of IPv4).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

KERNEL_IP = "198.18.0.1"
STACK_IP = "198.18.0.2"
KERNEL_IP6 = "2001:2::1"
STACK_IP6 = "2001:2::2"
MiB = 1024 * 1024
SEG = 1448  # payload bytes of a full segment at MTU 1500 (with timestamps)
# CPU seconds of this process (all threads; the kernel's side of our writes is
# in it) per measurement, to print beside throughput: less noisy on a shared host
CPU: list[float] = []
_MARK = "AIONETSTACK_BENCH_NETNS"

# The kernel-side peer: `python -c PEER MODE ARGS...`, prints "ready PORT" then serves.
PEER = r"""
import os, socket, sys, threading, time
mode = sys.argv[1]
KERNEL = os.environ.get("BENCH_KERNEL_IP", "198.18.0.1")
STACK = os.environ.get("BENCH_STACK_IP", "198.18.0.2")
def server(handler):
    s = socket.socket(socket.AF_INET6 if ":" in KERNEL else socket.AF_INET)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((KERNEL, 0)); s.listen(1024)
    print("ready", s.getsockname()[1], flush=True)
    while True:
        c, _ = s.accept()
        threading.Thread(target=handler, args=(c,), daemon=True).start()
def sink(c):
    n = 0
    while d := c.recv(1 << 20): n += len(d)
    c.sendall(n.to_bytes(8, "big")); c.close()
def echo(c):
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while d := c.recv(65536): c.sendall(d)
    c.close()
def accept_many():   # one asyncio loop: no thread per connection
    import asyncio
    async def handle(r, w):
        while await r.read(65536): pass
        w.close()
    async def run():
        srv = await asyncio.start_server(handle, KERNEL, 0, backlog=1024)
        print("ready", srv.sockets[0].getsockname()[1], flush=True)
        await srv.serve_forever()
    asyncio.run(run())
if mode == "sink": server(sink)
elif mode == "echo": server(echo)
elif mode == "accept": accept_many()
elif mode == "send":   # send N bytes to the stack, wait for its close; print seconds
    port, n = int(sys.argv[2]), int(sys.argv[3])
    buf = memoryview(os.urandom(1 << 20))
    t0 = time.perf_counter()
    c = socket.socket(socket.AF_INET6 if ":" in STACK else socket.AF_INET)
    if os.environ.get("BENCH_KERNEL_CC"):  # the kernel sender's congestion control
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, os.environ["BENCH_KERNEL_CC"].encode())
    c.connect((STACK, port))
    left = n
    while left > 0:
        k = c.send(buf[: min(left, len(buf))]); left -= k
    c.shutdown(socket.SHUT_WR)
    while c.recv(65536): pass
    print(time.perf_counter() - t0, flush=True)
"""


class Peer:
    """A kernel-side peer process (inherits the private namespace)."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", PEER, *args], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        if not line or line[0] != "ready":
            self.close()
            raise RuntimeError(f"kernel peer {args} did not start")
        self.port = int(line[1])

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()  # our own child, by PID
        self.proc.wait()


def ensure_private_netns() -> None:
    """Re-exec under `unshare --net` unless this process is already in a private namespace."""
    if os.environ.get(_MARK) == str(os.getpid()):
        return
    try:
        if os.stat("/proc/self/ns/net").st_ino != os.stat("/proc/1/ns/net").st_ino:
            return  # already in a namespace other than init's (e.g. `unshare --net python ...`)
    except OSError:
        # /proc/1/ns may be unreadable (containers): a fresh namespace has only `lo`
        if [name for _index, name in socket.if_nameindex()] == ["lo"]:
            return
    if os.geteuid() != 0:
        sys.exit("bench_tun: must run as root (it creates TUN devices in a private namespace)")
    if shutil.which("unshare") is None:
        sys.exit("bench_tun: `unshare` (util-linux) is needed to create a private namespace")
    # exec keeps the PID, so the marker names this very process.
    os.environ[_MARK] = str(os.getpid())
    os.execvp("unshare", ["unshare", "--net", sys.executable, *sys.argv])


async def _wait_eof(reader: asyncio.StreamReader) -> bytes:
    return await reader.read()


async def bench_bulk_in(stack: Any, size: int) -> float:
    """kernel -> stack: a kernel client sends `size` bytes to a stack discard server."""
    done = asyncio.get_running_loop().create_future()

    async def discard(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        n = 0
        while data := await reader.read(1 << 20):
            n += len(data)
        writer.close()
        if not done.done():
            done.set_result(n)

    server = await stack.start_server(discard, STACK_IP, 5001)
    c0 = time.process_time()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", PEER, "send", "5001", str(size), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    received = await done
    CPU.append(time.process_time() - c0)
    server.close()
    assert received == size, (received, size)
    return size / float(out) / 1e6


async def write_all(writer: asyncio.StreamWriter, size: int, chunk: bytes) -> None:
    """Write `size` bytes, `chunk` after `chunk` (waiting for the buffer to drain), then EOF."""
    left = size
    while left > 0:
        writer.write(chunk[: min(left, len(chunk))])
        left -= len(chunk)
        await writer.drain()
    writer.write_eof()


async def bench_bulk_out(stack: Any, size: int) -> float:
    """stack -> kernel: the stack writes `size` bytes to a kernel sink, waits for its count."""
    peer = await asyncio.to_thread(Peer, "sink")
    try:
        chunk = os.urandom(1 << 20)
        t0 = time.perf_counter()
        c0 = time.process_time()
        reader, writer = await stack.open_connection(KERNEL_IP, peer.port)
        await write_all(writer, size, chunk)
        count = int.from_bytes(await reader.read(), "big")
        elapsed = time.perf_counter() - t0
        CPU.append(time.process_time() - c0)
        writer.close()
    finally:
        peer.close()
    assert count == size, (count, size)
    return size / elapsed / 1e6


async def bench_connect(stack: Any, n: int) -> float:
    """Median microseconds of `await stack.open_connection()` to a kernel listener."""
    peer = await asyncio.to_thread(Peer, "accept")
    samples = []
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            _, writer = await stack.open_connection(KERNEL_IP, peer.port)
            samples.append(time.perf_counter() - t0)
            writer.close()
    finally:
        peer.close()
    return statistics.median(samples) * 1e6


async def bench_rtt(stack: Any, n: int) -> float:
    """Median microseconds for 1 byte out and back (stack client, kernel echo)."""
    peer = await asyncio.to_thread(Peer, "echo")
    samples = []
    try:
        reader, writer = await stack.open_connection(KERNEL_IP, peer.port)
        for _ in range(n):
            t0 = time.perf_counter()
            writer.write(b"x")
            await reader.readexactly(1)
            samples.append(time.perf_counter() - t0)
        writer.close()
    finally:
        peer.close()
    return statistics.median(samples) * 1e6


async def bench_conn_rate(stack: Any, n: int, parallel: int = 32) -> float:
    """Connections per second: open, write 1 byte, close; `parallel` at a time."""
    peer = await asyncio.to_thread(Peer, "accept")
    try:
        sem = asyncio.Semaphore(parallel)

        async def one() -> None:
            async with sem:
                _, writer = await stack.open_connection(KERNEL_IP, peer.port)
                writer.write(b"x")
                writer.close()

        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        elapsed = time.perf_counter() - t0
    finally:
        peer.close()
    return n / elapsed


DUAL = False  # a dual-stack device (--family 6 or both), whichever family is measured


async def with_stack(mtu: int, body: Callable[[Any], Any]) -> Any:
    import aionetstack

    if DUAL:
        link = aionetstack.TunLink(
            "ans0", mtu=mtu, kernel_address=["198.18.0.1/24", f"{KERNEL_IP6}/64"]
        )
        address: str | list[str] = ["198.18.0.2/24", f"{STACK_IP6}/64"]
    else:
        link = aionetstack.TunLink("ans0", mtu=mtu, kernel_address=f"{KERNEL_IP}/24")
        address = f"{STACK_IP}/24"
    async with aionetstack.Stack(link, address=address) as stack:
        return await body(stack)


FAMILY = 4  # the family measured now (use_family)


def use_family(family: int) -> None:
    """Measure over IPv4 or IPv6 (2001:2::/64) from now on: the stack's side, and
    the kernel peers' (through the environment they inherit)."""
    global KERNEL_IP, STACK_IP, SEG, FAMILY
    FAMILY = family
    if family == 6:
        KERNEL_IP, STACK_IP = KERNEL_IP6, STACK_IP6
        SEG = 1428  # MTU 1500 - 40 (IPv6) - 20 (TCP) - 12 (timestamps)
    else:
        KERNEL_IP, STACK_IP = "198.18.0.1", "198.18.0.2"
        SEG = 1448
    os.environ["BENCH_KERNEL_IP"] = KERNEL_IP
    os.environ["BENCH_STACK_IP"] = STACK_IP


def segments(size: int, mtu: int, family: int) -> float:
    """Full-size segments in ``size`` bytes (timestamps on)."""
    if mtu == 1500:
        return size / SEG
    return size / (mtu - (72 if family == 6 else 52))


async def forwarder_ceiling(mtu: int, size: int, family: int = 4) -> float:
    """A pure-Python asyncio TUN-to-TUN forwarder: the ceiling for Python over TUN.

    Two devices; the kernel's TCP connects 198.18.1.1 -> 198.18.2.2 (IPv6:
    2001:2:1::1 -> 2001:2:2::2) via fwd1 and the script copies every packet
    between fwd1 and fwd2 unchanged, with routes and policy rules so that what
    comes out of fwd2 is delivered locally again (kernel <-> Python <-> kernel,
    as the stack is driven). The copy costs the same for both families, so
    the ratio of the two is the kernel's own: the reference for the stack's.
    """
    import aionetstack

    a = aionetstack.TunLink("fwd1", mtu=mtu)
    b = aionetstack.TunLink("fwd2", mtu=mtu)
    if family == 6:
        client, server = "2001:2:1::1", "2001:2:2::2"
        ip = "ip -6"
        cmds = [
            "ip link set fwd1 up",
            "ip link set fwd2 up",
            f"ip -6 addr replace {client}/128 dev lo nodad",
            f"ip -6 addr replace {server}/128 dev lo nodad",
        ]
    else:
        client, server = "198.18.1.1", "198.18.2.2"
        ip = "ip"
        cmds = [
            "ip link set fwd1 up",
            "ip link set fwd2 up",
            f"ip addr replace {client}/32 dev lo",
            f"ip addr replace {server}/32 dev lo",
            "sysctl -qw net.ipv4.conf.all.rp_filter=0",
            "sysctl -qw net.ipv4.conf.fwd1.rp_filter=0",
            "sysctl -qw net.ipv4.conf.fwd2.rp_filter=0",
            "sysctl -qw net.ipv4.conf.fwd1.accept_local=1",
            "sysctl -qw net.ipv4.conf.fwd2.accept_local=1",
        ]
    cmds += [
        # locally generated: to the server leaves by fwd1, replies to the client by
        # fwd2; what arrives from a device goes to the local table (pref 200) as usual.
        f"{ip} rule add pref 100 iif lo to {server} lookup 101",
        f"{ip} rule add pref 101 iif lo to {client} lookup 102",
        f"{ip} route add default dev fwd1 table 101",
        f"{ip} route add default dev fwd2 table 102",
        f"{ip} rule add pref 200 lookup local",
        f"{ip} rule del pref 0",
    ]
    undo = [
        f"{ip} rule add pref 0 lookup local",
        f"{ip} rule del pref 100",
        f"{ip} rule del pref 101",
        f"{ip} rule del pref 200",
    ]
    af = socket.AF_INET6 if family == 6 else socket.AF_INET
    try:
        for cmd in cmds:
            subprocess.run(cmd.split(), check=True)
        loop = asyncio.get_running_loop()
        a.attach(loop, b.send_batch)
        b.attach(loop, a.send_batch)
        srv = socket.socket(af)
        srv.bind((server, 0))
        srv.listen(1)
        port = srv.getsockname()[1]

        def receive() -> int:
            conn, _ = srv.accept()
            n = 0
            while data := conn.recv(1 << 20):
                n += len(data)
            conn.close()
            return n

        def send() -> float:
            buf = memoryview(os.urandom(1 << 20))
            c = socket.socket(af)
            c.bind((client, 0))
            c.connect((server, port))
            t0 = time.perf_counter()
            left = size
            while left > 0:
                left -= c.send(buf[: min(left, len(buf))])
            c.shutdown(socket.SHUT_WR)
            c.recv(1)
            elapsed = time.perf_counter() - t0
            c.close()
            return elapsed

        rx = asyncio.ensure_future(asyncio.to_thread(receive))
        elapsed = await asyncio.to_thread(send)
        got = await rx
        srv.close()
        assert got == size
        return size / elapsed / 1e6
    finally:
        for cmd in undo:
            subprocess.run(cmd.split(), check=False, stderr=subprocess.DEVNULL)
        a.close()
        b.close()


TESTS = ("in1500", "out1500", "in65535", "out65535", "connect", "rtt", "rate", "forwarder")


def main() -> None:
    global DUAL
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller transfers and counts")
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop")
    parser.add_argument(
        "--family", choices=("4", "6", "both"), default="4",
        help="IPv4, IPv6 (2001:2::/64), or both interleaved side by side with the ratio "
        "(default: %(default)s)",
    )  # fmt: skip
    parser.add_argument("--ipv6", action="store_true", help="the same as --family 6")
    parser.add_argument("--no-forwarder", action="store_true", help="skip the ceiling measurement")
    parser.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(TESTS)}")
    parser.add_argument(
        "--repeat", type=int, default=1,
        help="run each measurement N times; print the median (and min..max)",
    )  # fmt: skip
    parser.add_argument(
        "--kernel-cc", default="",
        help="congestion control of the kernel sender in kernel -> stack (default: the kernel's)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.kernel_cc:
        os.environ["BENCH_KERNEL_CC"] = args.kernel_cc  # inherited by the peer process
    only = {t for t in args.only.split(",") if t}
    if only - set(TESTS):
        parser.error(f"unknown test(s): {', '.join(sorted(only - set(TESTS)))}")
    if args.no_forwarder and not only:
        only = set(TESTS) - {"forwarder"}
    wanted = only or set(TESTS)
    family = "6" if args.ipv6 else args.family
    families = (4, 6) if family == "both" else (int(family),)
    DUAL = 6 in families
    ensure_private_netns()
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    if args.uvloop:
        import uvloop

        uvloop.install()
    scale = 4 if args.quick else 1
    repeat = max(1, args.repeat)
    both = len(families) == 2

    def spread(values: list[float]) -> str:
        return f"  ({min(values):,.0f}..{max(values):,.0f})" if len(values) > 1 else ""

    def row(name: str, results: dict[int, list[float]], unit: str, target: str,
            higher_is_better: bool = True, cpu: dict[int, float] | None = None) -> None:  # fmt: skip
        meds = {f: statistics.median(v) for f, v in results.items()}
        if not both:
            (f,) = results
            extra = f", CPU {cpu[f]:.2f} us/seg" if cpu else ""
            print(f"  {name:<40} {meds[f]:>10,.0f} {unit:<5} {target}{extra}{spread(results[f])}",
                  flush=True)  # fmt: skip
            return
        ratio = meds[6] / meds[4]
        ok = ratio >= 0.9 if higher_is_better else ratio <= 1.1
        verdict = ("OK" if ok else "BEHIND") if target else "(the kernel's own)"
        cells = "".join(f" {meds[f]:>9,.0f} {unit:<4}" for f in (4, 6))
        extra = f"  CPU us/seg {cpu[4]:.2f} / {cpu[6]:.2f}" if cpu else ""
        print(f"  {name:<32}{cells} {ratio:>6.3f}  {verdict}{extra}"
              f"{spread(results[4])}{spread(results[6])}", flush=True)  # fmt: skip

    def measure(
        make: Callable[[], Any], size: int = 0, mtu: int = 0
    ) -> tuple[dict[int, list[float]], dict[int, float]]:
        """Each family in turn, ``repeat`` rounds (A B A B); the values per family
        and, for a transfer of ``size`` bytes, the median CPU us per segment."""
        values: dict[int, list[float]] = {f: [] for f in families}
        cpu: dict[int, list[float]] = {f: [] for f in families}
        for _ in range(repeat):
            for f in families:
                use_family(f)
                CPU.clear()
                values[f].append(asyncio.run(make()))
                if size and CPU:
                    cpu[f].append(CPU[-1] / segments(size, mtu, f) * 1e6)
        return values, {f: statistics.median(c) for f, c in cpu.items() if c}

    names = " and ".join(f"IPv{f}" for f in families)
    print(
        f"aionetstack over TUN vs the Linux kernel, {names} "
        f"(loop: {'uvloop' if args.uvloop else 'asyncio'}"
        f"{f', median of {repeat}' if repeat > 1 else ''}"
        f"{', interleaved, one dual-stack device' if both else ''})"
    )
    if both:
        print(f"  {'measure':<32} {'IPv4':>14} {'IPv6':>14} {'v6/v4':>6}  (target: within 10 %)")
    else:
        print(f"  {'measure':<40} {'result':>16} target (DESIGN.md)")
    for mtu, size, target in (
        (1500, 256 * MiB, ">= 150 MB/s"),
        (65535, 1024 * MiB, ">= 1000 MB/s"),
    ):
        size //= scale
        if f"in{mtu}" in wanted:
            v, cpu = measure(lambda m=mtu, n=size: with_stack(m, lambda s: bench_bulk_in(s, n)),
                             size, mtu)  # fmt: skip
            row(f"kernel -> stack, MTU {mtu}", v, "MB/s", target, cpu=cpu)
        if f"out{mtu}" in wanted:
            v, cpu = measure(lambda m=mtu, n=size: with_stack(m, lambda s: bench_bulk_out(s, n)),
                             size, mtu)  # fmt: skip
            row(f"stack -> kernel, MTU {mtu}", v, "MB/s", target, cpu=cpu)
    if "connect" in wanted:
        v, _ = measure(lambda: with_stack(1500, lambda s: bench_connect(s, 2000 // scale)))
        row("connect latency (median)", v, "us", "<= 150 us", higher_is_better=False)
    if "rtt" in wanted:
        v, _ = measure(lambda: with_stack(1500, lambda s: bench_rtt(s, 10000 // scale)))
        row("1-byte round trip (median)", v, "us", "<= 100 us", higher_is_better=False)
    if "rate" in wanted:
        v, _ = measure(lambda: with_stack(1500, lambda s: bench_conn_rate(s, 5000 // scale)))
        row("connections/s (32 parallel)" if both else "connections/s (open+close, 32 parallel)",
            v, "/s", ">= 5000 /s")  # fmt: skip
    if "forwarder" in wanted:
        for mtu, size in ((1500, 512 * MiB), (65535, 2048 * MiB)):
            ref = "419 MB/s" if mtu == 1500 else "1790 MB/s"
            name = f"ceiling: asyncio TUN forwarder, MTU {mtu}"
            try:
                v, _ = measure(lambda m=mtu, n=size // scale: forwarder_ceiling(m, n, FAMILY))
            except Exception as exc:
                print(f"  {name}: n/a ({exc})")
            else:
                if both:
                    row(f"forwarder (kernel both ends), {mtu}", v, "MB/s", "")
                else:
                    row(name, v, "MB/s", f"(DESIGN.md: {ref})")


if __name__ == "__main__":
    main()
