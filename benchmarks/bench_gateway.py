"""Benchmark the gateway: relay throughput beside the raw stack's, in one run.

Run as root:  ``python benchmarks/bench_gateway.py [--quick] [--mtu 1500]``

Safety: like bench_tun.py the script re-executes itself under ``unshare
--net`` (the *inside*: TUN devices, kernel side 198.18.0.1/24, stack
198.18.0.2/24), and makes a second private namespace (the *outside*, held by
a ``sleep`` it starts and kills) joined by a veth pair, where
``198.18.64.0/24`` is local and ``microsocks`` and an HTTP server
(``aionetstack.cli.serve_http``) run. Both vanish when it exits.

Measured, for each MTU (1500 and 65535 unless ``--mtu``), with kernel
``curl`` as the client (one process, ``-Z`` for parallel flows):

* *raw*: ``aionetstack serve --http`` on the TUN device; curl downloads from
  the stack itself (198.18.0.2): the user-space stack's own ceiling;
* *gateway*: ``aionetstack gateway --route 198.18.64.0/24 --socks5 PROXY``;
  curl downloads from 198.18.64.1 through the TUN device, the stack, the
  relay, the kernel and the proxy;
* *redsocks*: the kernel-based alternative users run today: Debian's
  ``redsocks`` (libevent, one process) on 127.0.0.1:12345 with an nftables
  ``nat output`` rule redirecting 198.18.64.0/24 to it, relaying to the same
  proxy. The client's TCP ends in the kernel, so the MTU of this path is the
  inside namespace's loopback MTU (set to the case's MTU for this phase); the
  veth to the proxy stays at 1500 for gateway and redsocks alike (GSO/GRO make
  its MTU matter little). Skipped, with a note, if redsocks or nft is missing;
* *alone*: curl's own SOCKS5 client straight to the proxy (no transparent
  relay at all): what the proxy path carries by itself.

Each of gateway, redsocks and alone runs through both proxies of the outside
(``--proxy`` picks one): ``microsocks`` (the issue's; version 1.0.3 copies
1 KiB per read()/write() pair, which caps every path through it) and Dante.
All run in turn for each MTU, ``--rounds N`` times over (default 1) to
interleave them (A B C A B C); the median is shown. Beside the raw and gateway
rates, the aionetstack process's CPU seconds per GB moved: on a 2-core machine
shared by curl, the proxy, the HTTP server and the relay, the throughput ratio
depends on who else needs the CPU; the CPU cost per byte does not.

``--baseline DIR`` adds a *baseline* column: the gateway of another source
tree (a worktree of an older commit with its Cython extension built),
run in the same rounds (A B C, then C B A), for before/after figures.

1 flow of 64 MiB and 50 parallel flows of 8 MiB each (``--quick``: 8 MiB and
50 x 1 MiB). The issue's target: gateway >= 70 % of raw.

``--memory N`` measures memory instead (not speed): the gateway process's
resident set (``VmRSS``) before and after N idle TCP flows (kernel sockets
holding an HTTP connection open through microsocks) and N UDP sessions (one
datagram each from N sockets, relayed by Dante's UDP ASSOCIATE), per flow.
The issue's target: <= 20 KB per idle TCP flow.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

MiB = 1 << 20
DANTE = """\
logoutput: stderr
internal: 198.18.200.2 port = 1081
external: 198.18.200.2
clientmethod: none
socksmethod: none
user.privileged: root
user.unprivileged: nobody
client pass { from: 0/0 to: 0/0 }
socks pass { from: 0/0 to: 0/0 command: connect udpassociate udpreply }
"""
REDSOCKS = """\
base { log_debug = off; log_info = off; log = stderr; daemon = off; redirector = iptables; }
redsocks { local_ip = 127.0.0.1; local_port = 12345; ip = 198.18.200.2; port = PORT;
           type = socks5; }
"""
#: nat output: every TCP connection this namespace opens to the routed range
#: goes to redsocks (which finds the original destination with SO_ORIGINAL_DST)
REDIRECT = """\
table ip ansbench_redsocks {
    chain out {
        type nat hook output priority -100; policy accept;
        ip daddr 198.18.64.0/24 tcp dport 8080 redirect to :12345
    }
}
"""
_MARK = "AIONETSTACK_BENCH_NETNS"
SERVER = """
import asyncio
from aionetstack.cli import serve_http
async def main():
    server = await asyncio.start_server(serve_http, "0.0.0.0", 8080)
    await server.serve_forever()
asyncio.run(main())
"""


def ensure_private_netns() -> None:
    """Re-exec under `unshare --net` (exec keeps the PID: the marker names us)."""
    if os.environ.get(_MARK) == str(os.getpid()):
        return
    if os.geteuid() != 0:
        sys.exit("bench_gateway: must run as root (TUN devices in a private namespace)")
    for tool in ("unshare", "nsenter", "microsocks", "danted", "curl", "ip"):
        if shutil.which(tool) is None:
            sys.exit(f"bench_gateway: {tool} is needed (make system-deps)")
    os.environ[_MARK] = str(os.getpid())
    os.execvp("unshare", ["unshare", "--net", sys.executable, *sys.argv])


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def stop(proc: subprocess.Popen[bytes], grace: float) -> None:
    """End one of our own children (by PID): SIGTERM, SIGKILL after ``grace`` s."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_port(host: str, port: int, what: str) -> None:
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                sys.exit(f"bench_gateway: {what} does not listen on {host}:{port}")
            time.sleep(0.05)


@contextmanager
def outside() -> Iterator[None]:
    """The outside namespace: veth, the routed range local, server and proxy."""
    holder = subprocess.Popen(["unshare", "--net", "--", "sleep", "3600"])
    procs: list[subprocess.Popen[bytes]] = []
    try:
        ours = os.stat("/proc/self/ns/net").st_ino
        while os.stat(f"/proc/{holder.pid}/ns/net").st_ino == ours:
            time.sleep(0.01)
        enter = ["nsenter", "-t", str(holder.pid), "-n", "--"]
        sh("ip", "link", "set", "lo", "up")
        sh(
            "ip",
            "link",
            "add",
            "bgo",
            "type",
            "veth",
            "peer",
            "name",
            "bgi",
            "netns",
            str(holder.pid),
        )
        sh("ip", "addr", "add", "198.18.200.1/24", "dev", "bgo")
        sh("ip", "link", "set", "bgo", "up")
        for cmd in (
            ["ip", "link", "set", "lo", "up"],
            ["ip", "addr", "add", "198.18.200.2/24", "dev", "bgi"],
            ["ip", "link", "set", "bgi", "up"],
            ["ip", "route", "add", "local", "198.18.64.0/24", "dev", "lo"],
        ):
            sh(*enter, *cmd)
        conf = f"/tmp/aionetstack-bench-danted-{os.getpid()}.conf"
        with open(conf, "w") as f:
            f.write(DANTE)
        for argv in (
            [sys.executable, "-c", SERVER],
            ["microsocks", "-i", "198.18.200.2", "-p", "1080"],
            ["danted", "-f", conf, "-N", "2", "-p", conf + ".pid"],
        ):
            procs.append(
                subprocess.Popen(
                    [*enter, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            )
        wait_port("198.18.200.2", 8080, "the HTTP server")
        wait_port("198.18.200.2", 1080, "microsocks")
        wait_port("198.18.200.2", 1081, "danted")
        os.unlink(conf)
        yield
    finally:
        for proc in procs:  # our own children, by PID; SIGTERM: Dante ends its own
            stop(proc, 5)
        holder.kill()
        holder.wait()


@contextmanager
def aionetstack(
    *args: str, ready: tuple[str, int], tree: str | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m aionetstack ARGS`` on the TUN device; from the source tree
    ``tree`` (``--baseline``) instead of this one if given."""
    argv = [sys.executable, "-m", "aionetstack", *args, "--tun", "ansbench0",
            "--kernel-address", "198.18.0.1/24", "--address", "198.18.0.2/24"]  # fmt: skip
    env = None
    if tree is not None:
        env = {**os.environ, "PYTHONPATH": tree}
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tree, env=env
    )
    try:
        wait_port(*ready, args[0])
        yield proc
    finally:
        stop(proc, 15)


@contextmanager
def redsocks(mtu: int, port: int) -> Iterator[None]:
    """redsocks to the proxy on ``port`` + an nftables redirect (and a route) for
    198.18.64.0/24, lo at ``mtu``."""
    conf = f"/tmp/aionetstack-bench-redsocks-{os.getpid()}.conf"
    with open(conf, "w") as f:
        f.write(REDSOCKS.replace("PORT", str(port)))
    sh("ip", "link", "set", "lo", "mtu", str(mtu))
    sh("ip", "route", "add", "198.18.64.0/24", "via", "198.18.200.2", "dev", "bgo")
    subprocess.run(["nft", "-f", "-"], input=REDIRECT.encode(), check=True, capture_output=True)
    proc = subprocess.Popen(
        ["redsocks", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_port("127.0.0.1", 12345, "redsocks")
        yield
    finally:
        stop(proc, 5)
        os.unlink(conf)
        sh("nft", "delete", "table", "ip", "ansbench_redsocks")
        sh("ip", "route", "del", "198.18.64.0/24", "via", "198.18.200.2", "dev", "bgo")
        sh("ip", "link", "set", "lo", "mtu", "65536")


def download(url: str, flows: int, *curl: str) -> float:
    """MB/s of ``flows`` parallel curl downloads of ``url``; every byte checked."""
    argv = ["curl", "-sS", "--fail", "-Z", "--parallel-max", str(flows), "-w", "%{size_download}\n"]
    argv += curl
    for _ in range(flows):
        argv += ["-o", "/dev/null", url]
    started = time.perf_counter()
    run = subprocess.run(argv, capture_output=True, check=True)
    elapsed = time.perf_counter() - started
    sizes = [int(n) for n in run.stdout.split()]
    want = int(url.rsplit("/", 1)[1])
    if sizes != [want] * flows:
        sys.exit(f"bench_gateway: short downloads from {url}: {sizes}")
    return sum(sizes) / elapsed / 1e6


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def wait_flows(kind: str, count: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        with urllib.request.urlopen("http://127.0.0.1:9977/stats", timeout=5) as reply:
            if json.load(reply)["totals"][kind] >= count:
                return
        if time.monotonic() > deadline:
            sys.exit(f"bench_gateway: {count} {kind} never showed up")
        time.sleep(0.1)


def memory(count: int) -> None:
    """RSS per idle TCP flow and per UDP session of the gateway process."""
    with aionetstack("gateway", "--route", "198.18.64.0/24", "--socks5", "198.18.200.2:1081",
                     "--log-level", "warning", "--udp-timeout", "600", "--max-flows",
                     str(4 * count), "--stats", "127.0.0.1:9977",
                     ready=("127.0.0.1", 9977)) as proc:  # fmt: skip
        held: list[socket.socket] = []

        def tcp(n: int) -> None:
            for _ in range(n):
                held.append(socket.create_connection(("198.18.64.1", 8080), timeout=10))
            wait_flows("tcp_flows", len(held))

        tcp(20)  # warm-up: first-use allocations out of the figure
        time.sleep(0.5)
        before = rss_kib(proc.pid)
        tcp(count)
        time.sleep(0.5)
        after = rss_kib(proc.pid)
        print(f"TCP: {count} idle flows: +{after - before} KiB RSS, "
              f"{(after - before) * 1024 / count / 1000:.1f} KB per flow (target <= 20 KB)")  # fmt: skip
        before = after
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.sendto(b"x", ("198.18.64.1", 9))
            held.append(sock)
        wait_flows("udp_opened", count)
        time.sleep(1.0)
        after = rss_kib(proc.pid)
        print(f"UDP: {count} sessions: +{after - before} KiB RSS, "
              f"{(after - before) * 1024 / count / 1000:.1f} KB per session")  # fmt: skip
        for sock in held:
            sock.close()


#: the proxies, by the port they listen on in the outside namespace
PROXIES = {"microsocks": 1080, "dante": 1081}


@contextmanager
def phase(
    kind: str, mtu: int, port: int, baseline: str | None = None
) -> Iterator[tuple[str, list[str], int | None]]:
    """Set up one way of reaching the HTTP server: the base URL, curl's options,
    the aionetstack process (raw, gateway) whose CPU time is counted."""
    if kind == "baseline":  # the gateway of another source tree (--baseline)
        with aionetstack("gateway", "--route", "198.18.64.0/24", "--socks5",
                         f"198.18.200.2:{port}", "--mtu", str(mtu), "--log-level", "warning",
                         "--stats", "127.0.0.1:9977", ready=("127.0.0.1", 9977),
                         tree=baseline) as proc:  # fmt: skip
            yield "http://198.18.64.1:8080", [], proc.pid
    elif kind == "raw":
        with aionetstack("serve", "--http", "80", "--mtu", str(mtu), "-q",
                         "--stats-interval", "0", ready=("198.18.0.2", 80)) as proc:  # fmt: skip
            yield "http://198.18.0.2", [], proc.pid
    elif kind == "gateway":
        with aionetstack("gateway", "--route", "198.18.64.0/24", "--socks5",
                         f"198.18.200.2:{port}", "--mtu", str(mtu), "--log-level", "warning",
                         "--stats", "127.0.0.1:9977", ready=("127.0.0.1", 9977)) as proc:  # fmt: skip
            yield "http://198.18.64.1:8080", [], proc.pid
    elif kind == "redsocks":
        with redsocks(mtu, port):
            yield "http://198.18.64.1:8080", [], None
    else:  # "alone": curl's own SOCKS5 client, no transparent relay at all
        yield "http://198.18.64.1:8080", ["--socks5", f"198.18.200.2:{port}"], None


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of ``pid`` so far (0 for None)."""
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small transfers")
    parser.add_argument("--mtu", type=int, action="append", help="MTU(s) (default 1500, 65535)")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds (median shown)")
    parser.add_argument("--proxy", action="append", choices=list(PROXIES),
                        help="SOCKS5 server(s) to relay through (default both)")  # fmt: skip
    parser.add_argument("--memory", type=int, metavar="N", help="memory per flow with N flows")
    parser.add_argument("--baseline", metavar="DIR",
                        help="also run the gateway of the source tree DIR (a worktree of "
                             "another commit, Cython extension built), interleaved")  # fmt: skip
    args = parser.parse_args()
    if args.baseline:
        args.baseline = os.path.abspath(args.baseline)
        if not os.path.isdir(os.path.join(args.baseline, "aionetstack")):
            parser.error(f"--baseline: no aionetstack package in {args.baseline}")
    ensure_private_netns()
    if args.memory:
        with outside():
            memory(args.memory)
        return
    one, each = (8 * MiB, MiB) if args.quick else (64 * MiB, 8 * MiB)
    cases = [(1, one), (50, each)]
    mtus = args.mtu or [1500, 65535]
    proxies = args.proxy or list(PROXIES)
    kinds = ["gateway", "redsocks", "alone"]
    if not (shutil.which("redsocks") and shutil.which("nft")):
        kinds.remove("redsocks")
        print("redsocks or nft missing (make system-deps): no redsocks column")
    if args.baseline:
        kinds.insert(1, "baseline")
    runs = [("raw", "-")] + [(kind, proxy) for proxy in proxies for kind in kinds]
    got: dict[tuple[str, str, int, int], list[float]] = {}
    with outside():
        for n in range(args.rounds):
            for mtu in mtus:
                # A B C, then C B A: neither tree always runs right after raw
                for kind, proxy in runs[:1] + (runs[1:] if n % 2 == 0 else runs[:0:-1]):
                    with phase(kind, mtu, PROXIES.get(proxy, 0), args.baseline) as (
                        url,
                        curl,
                        pid,
                    ):
                        for flows, size in cases:
                            cpu = cpu_seconds(pid)
                            rate = download(f"{url}/bytes/{size}", flows, *curl)
                            cpu = cpu_seconds(pid) - cpu
                            got.setdefault((kind, proxy, mtu, flows), []).append(rate)
                            per_gb = cpu / (flows * size) * 1e9
                            got.setdefault((kind + " cpu", proxy, mtu, flows), []).append(per_gb)
    print(f"MB/s, median of {args.rounds} rounds, and % of raw; cpu: the aionetstack "
          "process's CPU seconds per GB moved (raw: serving it, gateway: relaying it)")  # fmt: skip
    print(f"{'MTU':>6} {'flows':>5} {'raw':>6} {'cpu':>5} {'proxy':>10}"
          + "".join(f" {kind:>12}" + (" {:>5}".format("cpu") if kind in ("gateway", "baseline")
                                       else "") for kind in kinds)
          + (f" {'gw/alone':>8}" if "alone" in kinds else ""))  # fmt: skip
    for mtu in mtus:
        for flows, _ in cases:
            raw = statistics.median(got["raw", "-", mtu, flows])
            raw_cpu = statistics.median(got["raw cpu", "-", mtu, flows])
            for proxy in proxies:
                line = f"{mtu:>6} {flows:>5} {raw:>6.1f} {raw_cpu:>5.2f} {proxy:>10}"
                for kind in kinds:
                    rate = statistics.median(got[kind, proxy, mtu, flows])
                    line += f" {rate:>6.1f} {rate / raw * 100:>4.0f}%"
                    if kind in ("gateway", "baseline"):
                        cpu = statistics.median(got[f"{kind} cpu", proxy, mtu, flows])
                        line += f" {cpu:>5.2f}"
                if "alone" in kinds:  # the gateway against the proxy's own ceiling
                    alone = statistics.median(got["alone", proxy, mtu, flows])
                    gateway = statistics.median(got["gateway", proxy, mtu, flows])
                    line += f" {gateway / alone * 100:>7.0f}%"
                print(line)
    print("target: gateway >= 70 % of raw (issue 13); 'alone': curl's own SOCKS5 client "
          "through the proxy (what the proxy path carries by itself); gw/alone: the gateway "
          "against it")  # fmt: skip


if __name__ == "__main__":
    main()
