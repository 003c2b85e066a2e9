"""Loss recovery and congestion control against the Linux kernel, side by side over TUN.

Run as root:  ``python benchmarks/bench_loss.py [--quick] [--only ALGO] [--plots DIR]``

Safety: like ``bench_tun.py`` the script re-executes itself under
``unshare --net``: the TUN devices, the 198.18.0.0/15 addresses and all
traffic live in a private, throw-away network namespace.

Theory of operation
-------------------
For every cell of the matrix (RTT x loss rate), every seed and every
algorithm in ``aionetstack.core.config.CONGESTION_CONTROLS`` (Linux's name for
``newreno`` is ``reno``), one bulk transfer of ``--mb`` MiB is timed three ways,
one after the other (so machine drift hits all of them):

* **ours, out**: the stack (``StackConfig(congestion_control=ALGO)``) sends to a
  kernel socket (198.18.0.1, ``TCP_CONGESTION`` = ALGO) over the device ``ans0``;
* **Linux**: a kernel socket with ``TCP_CONGESTION`` = ALGO sends to another
  kernel socket (the reference, see below);
* **ours, in**: a kernel socket with ``TCP_CONGESTION`` = ALGO sends to the stack
  (our receiver: its ACKs, SACK blocks and window decide the kernel's recovery).

The same impairment on both paths. Every packet of every transfer crosses
exactly one ``aionetstack.impair(TunLink(...), loss=p, delay=RTT/2, seed=s)``
in this process: ``impair`` wraps a link in both directions, each with its own
seeded stream, so data *and* ACKs see loss ``p`` and a one-way delay of RTT/2.

* Ours: the stack's own ``TunLink`` is wrapped; the stack's segments pass the
  egress side, the kernel's the ingress side.
* Linux: the two kernel sockets (198.18.1.1 -> 198.18.2.2, both local
  addresses) are forced through two TUN devices by policy routing (as the
  ceiling forwarder of ``bench_tun.py``): locally generated packets to
  198.18.2.2 leave by ``fwd1``, replies to 198.18.1.1 by ``fwd2``, and an
  asyncio forwarder in this process copies ``fwd1`` <-> ``fwd2``. The ``fwd1``
  end is the *same* ``impair`` wrapper with the same parameters and seed: the
  sender's data enters it as ingress (as the kernel's data does in "ours, in"),
  the receiver's ACKs leave by its egress. So the kernel sender sees the same
  loss and delay, applied by the same code on the same event loop, as our
  stack does; the only difference is who implements TCP at the two ends.

The reference is the same transfer for both directions (a Linux sender and a
Linux receiver), so it is measured once per cell, seed and algorithm, between
"ours, out" and "ours, in". ``net.ipv4.tcp_no_metrics_save=1`` keeps the kernel
from starting a connection with the ssthresh of the previous one.

Measured, per transfer: goodput at the receiving application (bytes / time from
the accept to EOF), the longest interval in which the receiving application
got no new byte (accept to first byte, between reads, last byte to EOF), and
the sender's RTO expirations: ours from ``tcp_info().rto_expirations``, the
kernel's from its ``TCP_INFO`` (``tcpi_total_rto``, Linux >= 6.7; older kernels:
the namespace's ``TcpExt.TCPTimeouts`` delta). The table gives medians over
seeds (the longest stall: the maximum), the ratio ours / Linux, and, for our
sender, the targets of issue 10. With ``--plots DIR`` (matplotlib, the
``plot`` extra): goodput against loss per algorithm, and cwnd, pacing rate and
smoothed RTT over time for one lossy transfer of each algorithm (ours sending
vs Linux sending; ``tcp_info`` sampled every 10 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from bench_tun import ensure_private_netns, write_all

KERNEL_IP = "198.18.0.1"
STACK_IP = "198.18.0.2"
REF_SRC = "198.18.1.1"  # the reference's sender (a local address, routed by fwd1)
REF_DST = "198.18.2.2"  # the reference's receiver (routed by fwd2)
MiB = 1024 * 1024
LINUX_NAME = {"newreno": "reno"}
SAMPLE_EVERY = 0.01

# Kernel-side peers: `python -c PEER sink HOST CC` prints "ready PORT", receives one
# connection and prints a JSON line; `... send HOST CC DST PORT NBYTES SAMPLE` sends
# NBYTES, waits for the receiver's close and prints a JSON line (TCP_INFO of the sender).
# The kernel socket with the algorithm, bound; a sink accepts one connection as `c`
# (shared with bench_fair.py's peer).
PEER_OPEN = r"""
s = socket.socket()
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc.encode())
s.bind((host, 0))
if mode == "sink":
    s.listen(1)
    print("ready", s.getsockname()[1], flush=True)
    c, _ = s.accept()
"""
PEER = (
    r"""
import json, os, socket, struct, sys, threading, time
mode, host, cc = sys.argv[1], sys.argv[2], sys.argv[3]

def tcp_info(s):
    # struct tcp_info (include/uapi/linux/tcp.h): tcpi_snd_mss @16, tcpi_rtt (us) @68,
    # tcpi_snd_cwnd (segments) @80, tcpi_total_retrans @100, tcpi_pacing_rate (u64) @104,
    # tcpi_total_rto (u16, Linux 6.7+) @240
    b = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    mss, = struct.unpack_from("I", b, 16)
    rtt, = struct.unpack_from("I", b, 68)
    cwnd, = struct.unpack_from("I", b, 80)
    total_retrans, = struct.unpack_from("I", b, 100)
    pacing, = struct.unpack_from("Q", b, 104)   # ~0: no rate set (not pacing)
    total_rto = struct.unpack_from("H", b, 240)[0] if len(b) >= 242 else None
    return {"mss": mss, "rtt": rtt / 1e6, "cwnd": cwnd * mss, "pacing": pacing,
            "retrans": total_retrans, "rto": total_rto}

def timeouts():   # this namespace's TcpExt.TCPTimeouts
    with open("/proc/net/netstat") as f:
        lines = f.read().splitlines()
    for names, values in zip(lines[::2], lines[1::2]):
        if names.startswith("TcpExt:"):
            return int(values.split()[names.split().index("TCPTimeouts")])
    return 0

"""
    + PEER_OPEN
    + r"""    t0 = last = time.perf_counter(); stall = 0.0; n = 0
    while d := c.recv(1 << 20):
        now = time.perf_counter(); stall = max(stall, now - last); last = now; n += len(d)
    now = time.perf_counter()
    c.close()
    print(json.dumps({"bytes": n, "seconds": now - t0, "stall": max(stall, now - last)}), flush=True)
else:
    dst, port, n, sample = sys.argv[4], int(sys.argv[5]), int(sys.argv[6]), sys.argv[7] == "1"
    before = timeouts()
    s.connect((dst, port))
    t0 = time.perf_counter()
    samples = []
    stop = threading.Event()
    def sampler():
        while not stop.wait(0.01):
            i = tcp_info(s)
            samples.append((time.perf_counter() - t0, i["cwnd"], i["pacing"], i["rtt"]))
    if sample:
        threading.Thread(target=sampler, daemon=True).start()
    buf = memoryview(os.urandom(1 << 20))
    left = n
    while left > 0:
        k = s.send(buf[: min(left, len(buf))]); left -= k
    s.shutdown(socket.SHUT_WR)
    while s.recv(65536): pass
    stop.set()
    i = tcp_info(s)
    if i["rto"] is None:
        i["rto"] = timeouts() - before
    print(json.dumps({"rto": i["rto"], "retrans": i["retrans"], "samples": samples}), flush=True)
"""
)

# Policy routing for the reference (set once in the private namespace): locally
# generated packets to REF_DST leave by fwd1, replies to REF_SRC by fwd2; what
# arrives from a device is looked up in the local table (moved to pref 200).
REF_RULES = [
    f"ip addr replace {REF_SRC}/32 dev lo",
    f"ip addr replace {REF_DST}/32 dev lo",
    "sysctl -qw net.ipv4.conf.all.rp_filter=0",
    "sysctl -qw net.ipv4.conf.default.rp_filter=0",
    "sysctl -qw net.ipv4.conf.default.accept_local=1",
    "sysctl -qw net.ipv4.tcp_no_metrics_save=1",
    f"ip rule add pref 100 iif lo to {REF_DST} lookup 101",
    f"ip rule add pref 101 iif lo to {REF_SRC} lookup 102",
    "ip rule add pref 200 lookup local",
    "ip rule del pref 0",
]
REF_ROUTES = [  # per transfer: the devices (and their routes) vanish when closed
    "ip link set fwd1 up",
    "ip link set fwd2 up",
    "sysctl -qw net.ipv4.conf.fwd1.rp_filter=0",
    "sysctl -qw net.ipv4.conf.fwd2.rp_filter=0",
    "sysctl -qw net.ipv4.conf.fwd1.accept_local=1",
    "sysctl -qw net.ipv4.conf.fwd2.accept_local=1",
    "ip route add default dev fwd1 table 101",
    "ip route add default dev fwd2 table 102",
]


@dataclass
class Cell:
    algo: str
    rtt_ms: float
    loss_pct: float
    seed: int

    def impairment(self) -> dict[str, Any]:
        """``impair`` arguments: ``delay`` is one way, in each direction."""
        return {"loss": self.loss_pct / 100, "delay": self.rtt_ms / 2000, "seed": self.seed}


@dataclass
class Result:
    algo: str
    direction: str  # "out" (our sender) / "in" (our receiver) / "ref" (Linux to Linux)
    rtt_ms: float
    loss_pct: float
    seed: int
    nbytes: int = 0
    seconds: float = 0.0
    rto: int | None = None  # the sender's RTO expirations
    retrans: int | None = None  # the sender's retransmitted segments
    stall: float = 0.0  # longest interval without progress at the receiver, seconds
    # what the impairment did: packets dropped / passed on the data and on the ACK path
    data_dropped: int = 0
    data_passed: int = 0
    ack_dropped: int = 0
    ack_passed: int = 0
    error: str = ""
    samples: list[tuple[float, float, float, float]] = field(default_factory=list)

    @property
    def goodput(self) -> float:
        """MB/s (10**6 bytes), 0.0 for a failed transfer."""
        return self.nbytes / self.seconds / 1e6 if self.seconds and not self.error else 0.0


async def spawn(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", PEER, *args, stdout=asyncio.subprocess.PIPE
    )


async def ready_port(proc: asyncio.subprocess.Process) -> int:
    assert proc.stdout is not None
    line = (await proc.stdout.readline()).split()
    if not line or line[0] != b"ready":
        raise RuntimeError("kernel peer did not start")
    return int(line[1])


async def report(proc: asyncio.subprocess.Process) -> dict[str, Any]:
    """The peer's final JSON line (an error when it died without one)."""
    assert proc.stdout is not None
    line = await proc.stdout.readline()
    await proc.wait()
    if not line:
        raise RuntimeError(f"kernel peer failed (exit status {proc.returncode})")
    result: dict[str, Any] = json.loads(line)
    return result


def reap(*procs: asyncio.subprocess.Process) -> None:
    for proc in procs:
        if proc.returncode is None:
            proc.kill()  # our own child, by PID


async def sample_stack(writer: asyncio.StreamWriter, out: list[Any]) -> None:
    t0 = time.perf_counter()
    while True:
        i = writer.get_extra_info("tcp_info")
        out.append((time.perf_counter() - t0, i.cwnd, i.pacing_rate, i.rtt))
        await asyncio.sleep(SAMPLE_EVERY)


def new_stack(cell: Cell) -> tuple[Any, Any]:
    """A stack (``congestion_control=cell.algo``) on an impaired TunLink; and that link."""
    import aionetstack

    tun = aionetstack.TunLink("ans0", mtu=1500, kernel_address=f"{KERNEL_IP}/24")
    link = aionetstack.impair(tun, **cell.impairment())
    config = aionetstack.StackConfig(congestion_control=cell.algo)
    return aionetstack.Stack(link, address=f"{STACK_IP}/24", config=config), link


def count_drops(res: Result, link: Any, data: str) -> None:
    """Copy the ImpairedLink's counters; `data` names the side the data took."""
    stats = link.stats()
    ack = "egress" if data == "ingress" else "ingress"
    res.data_dropped, res.data_passed = stats[data]["dropped"], stats[data]["passed"]
    res.ack_dropped, res.ack_passed = stats[ack]["dropped"], stats[ack]["passed"]


async def ours_out(cell: Cell, size: int, res: Result, sample: bool) -> None:
    """The stack sends `size` bytes to a kernel sink."""
    procs: list[asyncio.subprocess.Process] = []
    stack, link = new_stack(cell)
    async with stack:
        try:
            procs.append(await spawn("sink", KERNEL_IP, LINUX_NAME.get(cell.algo, cell.algo)))
            port = await ready_port(procs[0])
            chunk = os.urandom(1 << 20)
            reader, writer = await stack.open_connection(KERNEL_IP, port)
            sampler = asyncio.ensure_future(sample_stack(writer, res.samples)) if sample else None
            await write_all(writer, size, chunk)
            await reader.read()  # the sink closes once it has read everything
            if sampler is not None:
                sampler.cancel()
            info = writer.get_extra_info("tcp_info")
            res.rto, res.retrans = info.rto_expirations, info.total_retrans
            writer.close()
            got = await report(procs[0])
            res.nbytes, res.seconds, res.stall = got["bytes"], got["seconds"], got["stall"]
            count_drops(res, link, "egress")
        finally:
            reap(*procs)


async def ours_in(cell: Cell, size: int, res: Result, sample: bool) -> None:
    """A kernel socket sends `size` bytes to a stack server (`sample` is unused:
    the kernel sender's state is plotted from the reference transfer)."""
    done: asyncio.Future[tuple[int, float, float]] = asyncio.get_running_loop().create_future()

    async def receive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        t0 = last = time.perf_counter()
        stall, n = 0.0, 0
        while data := await reader.read(1 << 20):
            now = time.perf_counter()
            stall, last, n = max(stall, now - last), now, n + len(data)
        now = time.perf_counter()
        writer.close()
        if not done.done():
            done.set_result((n, now - t0, max(stall, now - last)))

    procs: list[asyncio.subprocess.Process] = []
    stack, link = new_stack(cell)
    async with stack:
        server = await stack.start_server(receive, STACK_IP, 5001)
        try:
            cc = LINUX_NAME.get(cell.algo, cell.algo)
            procs.append(await spawn("send", KERNEL_IP, cc, STACK_IP, "5001", str(size), "0"))
            res.nbytes, res.seconds, res.stall = await done
            got = await report(procs[0])
            res.rto, res.retrans = got["rto"], got["retrans"]
            count_drops(res, link, "ingress")
        finally:
            reap(*procs)
            server.close()


async def linux_ref(cell: Cell, size: int, res: Result, sample: bool) -> None:
    """Kernel to kernel through fwd1 <-> fwd2, the fwd1 end impaired as the stack's link is."""
    import aionetstack

    a = aionetstack.impair(aionetstack.TunLink("fwd1", mtu=1500), **cell.impairment())
    b = aionetstack.TunLink("fwd2", mtu=1500)
    procs: list[asyncio.subprocess.Process] = []
    try:
        for cmd in REF_ROUTES:
            subprocess.run(cmd.split(), check=True)
        loop = asyncio.get_running_loop()
        a.attach(loop, b.send_batch)  # data: fwd1 -> ingress (impaired) -> fwd2
        b.attach(loop, a.send_batch)  # ACKs: fwd2 -> egress (impaired) -> fwd1
        cc = LINUX_NAME.get(cell.algo, cell.algo)
        procs.append(await spawn("sink", REF_DST, cc))
        port = await ready_port(procs[0])
        args = (REF_DST, str(port), str(size), "1" if sample else "0")
        procs.append(await spawn("send", REF_SRC, cc, *args))
        got = await report(procs[0])
        res.nbytes, res.seconds, res.stall = got["bytes"], got["seconds"], got["stall"]
        got = await report(procs[1])
        res.rto, res.retrans = got["rto"], got["retrans"]
        res.samples = [tuple(s) for s in got["samples"]]  # type: ignore[misc]
        count_drops(res, a, "ingress")
    finally:
        reap(*procs)
        a.close()
        b.close()


RUNNERS = {"out": ours_out, "ref": linux_ref, "in": ours_in}


def run_one(kind: str, cell: Cell, size: int, timeout: float, sample: bool) -> Result:
    res = Result(cell.algo, kind, cell.rtt_ms, cell.loss_pct, cell.seed)

    async def body() -> None:
        await asyncio.wait_for(RUNNERS[kind](cell, size, res, sample), timeout)

    try:
        asyncio.run(body())
        if res.nbytes != size:
            res.error = f"received {res.nbytes} of {size} bytes"
    except TimeoutError:
        res.error = f"timeout after {timeout:.0f} s"
    except (OSError, RuntimeError, ValueError) as exc:
        res.error = f"{type(exc).__name__}: {exc}"
    return res


def med(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def verdict(algo: str, loss: float, ratio: float | None, rto: tuple[Any, Any], stall: Any) -> str:
    """Issue 10's targets for our sender."""
    marks = []
    if ratio is not None and loss > 0:
        need = 0.8 if algo == "bbr" else 1.0
        marks.append(f"goodput {'ok' if ratio >= need else 'MISS'}")
    if rto[0] is not None and rto[1] is not None:
        marks.append(f"rto {'ok' if rto[0] <= rto[1] else 'MISS'}")
    if loss >= 5 and stall is not None:
        marks.append(f"stall {'ok' if stall <= 1.0 else 'MISS'}")
    return ", ".join(marks)


def print_table(results: list[Result], directions: list[str]) -> None:
    def pick(algo: str, kind: str, rtt: float, loss: float) -> list[Result]:
        return [
            r
            for r in results
            if (r.algo, r.direction, r.rtt_ms, r.loss_pct) == (algo, kind, rtt, loss)
        ]

    cells = sorted({(r.algo, r.rtt_ms, r.loss_pct) for r in results})
    print()
    print("medians over seeds (goodput MB/s at the receiver; ratio: of the medians; RTO: the")
    print("sender's expirations per transfer; stall: longest interval without progress at the")
    print("receiver, max over seeds, seconds; dir out: our sender, in: our receiver)")
    head = (
        f"{'algo':<8} {'dir':<4} {'RTT':>5} {'loss':>5} {'ours':>8} {'Linux':>8} {'ratio':>6}"
        f" {'RTO ours':>8} {'Linux':>6} {'stall ours':>10} {'Linux':>6}  n  targets (our sender)"
    )
    print(head)
    print("-" * len(head))
    for algo, rtt, loss in cells:
        ref = [r for r in pick(algo, "ref", rtt, loss) if not r.error]
        for kind in directions:
            runs = pick(algo, kind, rtt, loss)
            ok = [r for r in runs if not r.error]
            if not runs:
                continue
            g_ours, g_ref = med([r.goodput for r in ok]), med([r.goodput for r in ref])
            ratio = g_ours / g_ref if g_ours is not None and g_ref else None
            rto_ours = med([r.rto for r in ok if r.rto is not None])
            rto_ref = med([r.rto for r in ref if r.rto is not None])
            stall_ours = max((r.stall for r in ok), default=None)
            stall_ref = max((r.stall for r in ref), default=None)
            failed = len(runs) - len(ok)
            note = (
                verdict(algo, loss, ratio, (rto_ours, rto_ref), stall_ours) if kind == "out" else ""
            )
            if failed:
                note = f"{failed} FAILED; " + note
            print(
                f"{algo:<8} {kind:<4} {rtt:>3g}ms {loss:>4g}% {fmt(g_ours, '8.3f')} "
                f"{fmt(g_ref, '8.3f')} {fmt(ratio, '6.2f')} {fmt(rto_ours, '8.1f')} "
                f"{fmt(rto_ref, '6.1f')} {fmt(stall_ours, '10.2f')} {fmt(stall_ref, '6.2f')} "
                f"{len(ok):>2}  {note}",
                flush=True,
            )


def write_csv(path: str, results: list[Result]) -> None:
    names = [n for n in Result.__dataclass_fields__ if n != "samples"] + ["goodput"]
    with open(path, "w", newline="") as f:
        out = csv.DictWriter(f, fieldnames=names)
        out.writeheader()
        for r in results:
            row = asdict(r)
            del row["samples"]
            out.writerow({**row, "goodput": f"{r.goodput:.6f}"})


def write_plots(
    directory: str, results: list[Result], series: dict[str, dict[str, Result]]
) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plots skipped: matplotlib is not installed (pip install 'aionetstack[plot]')")
        return
    os.makedirs(directory, exist_ok=True)
    algos = sorted({r.algo for r in results})
    rtts = sorted({r.rtt_ms for r in results})
    fig, axes = plt.subplots(
        len(algos), len(rtts), figsize=(5 * len(rtts), 3.5 * len(algos)), squeeze=False
    )
    styles = {"out": ("ours sending", "C0", "o-"), "in": ("ours receiving", "C2", "s--"),
              "ref": ("Linux to Linux", "C3", "^-")}  # fmt: skip
    for row, algo in enumerate(algos):
        for col, rtt in enumerate(rtts):
            ax = axes[row][col]
            for kind, (label, color, style) in styles.items():
                runs = [r for r in results if (r.algo, r.direction, r.rtt_ms) == (algo, kind, rtt)]
                losses = sorted({r.loss_pct for r in runs})
                values = [
                    med([r.goodput for r in runs if r.loss_pct == p and not r.error])
                    for p in losses
                ]
                points = [(p, v) for p, v in zip(losses, values, strict=True) if v]
                if points:
                    ax.plot(*zip(*points, strict=True), style, color=color, label=label)
            linux = LINUX_NAME.get(algo, algo)
            ax.set_title(f"{algo} (Linux {linux}), RTT {rtt:g} ms")
            ax.set_xlabel("loss on data and ACKs (%)")
            ax.set_ylabel("goodput (MB/s)")
            ax.set_yscale("log")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(os.path.join(directory, "goodput_vs_loss.png"), dpi=110)
    plt.close(fig)
    print(f"plot: {os.path.join(directory, 'goodput_vs_loss.png')}")
    for algo, pair in series.items():
        fig, axes = plt.subplots(3, 1, figsize=(9, 8), sharex=True, squeeze=False)
        some = next(iter(pair.values()))
        for who, res in pair.items():
            if not res.samples:
                continue
            t, cwnd, pacing, rtt_s = zip(*res.samples, strict=True)
            axes[0][0].plot(t, [c / 1e3 for c in cwnd], label=who, lw=0.8)
            # no rate (ours 0, Linux ~0): not pacing, not plotted
            rate = [p / 1e6 if 0 < p < 2**63 else float("nan") for p in pacing]
            axes[1][0].plot(t, rate, label=who, lw=0.8)
            axes[2][0].plot(t, [r * 1e3 for r in rtt_s], label=who, lw=0.8)
        for ax, label in zip(
            axes[:, 0], ("cwnd (kB)", "pacing rate (MB/s)", "SRTT (ms)"), strict=True
        ):
            ax.set_ylabel(label)
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize="small")
        axes[2][0].set_xlabel("seconds since the connection was established")
        fig.suptitle(
            f"{algo}: sender state, RTT {some.rtt_ms:g} ms, loss {some.loss_pct:g} %, seed {some.seed}"
        )
        fig.tight_layout()
        path = os.path.join(directory, f"sender_{algo}.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        print(f"plot: {path}")


def check_linux(algos: list[str], plots: str) -> None:
    """Exit early if the kernel lacks an algorithm (root may load its module)."""
    for algo in algos:
        name = LINUX_NAME.get(algo, algo)
        with socket.socket() as s:
            try:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, name.encode())
            except OSError as exc:
                sys.exit(f"bench_loss: the kernel has no TCP_CONGESTION {name!r} ({exc})")
    if plots:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("warning: no matplotlib, no plots (pip install 'aionetstack[plot]')")


def parse_list(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x]


def main() -> None:
    from aionetstack.core.config import CONGESTION_CONTROLS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="RTT 10 ms, loss 1 and 5 %%, 1 seed, 2 MiB")  # fmt: skip
    parser.add_argument("--mb", type=float, default=None, help="MiB per transfer (default 8)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per cell (default 3)")
    parser.add_argument("--loss", default=None, help="loss rates in %% (default 0,0.5,1,2,5)")
    parser.add_argument("--rtt", default=None, help="RTTs in ms (default 10,50)")
    parser.add_argument("--only", default="", help=f"algorithms: {','.join(CONGESTION_CONTROLS)}")
    parser.add_argument("--direction", choices=("out", "in", "both"), default="both",
                        help="out: the stack sends; in: the kernel sends to the stack")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per transfer")
    parser.add_argument("--csv", default="", help="write every transfer to this CSV file")
    parser.add_argument("--plots", default="", help="write PNG plots to this directory")
    args = parser.parse_args()
    algos = [a for a in args.only.split(",") if a] or list(CONGESTION_CONTROLS)
    unknown = set(algos) - set(CONGESTION_CONTROLS)
    if unknown:
        parser.error(f"unknown algorithm(s) {', '.join(sorted(unknown))}; "
                     f"available: {', '.join(CONGESTION_CONTROLS)}")  # fmt: skip
    losses = parse_list(args.loss or ("1,5" if args.quick else "0,0.5,1,2,5"))
    rtts = parse_list(args.rtt or ("10" if args.quick else "10,50"))
    seeds = args.seeds or (1 if args.quick else 3)
    size = int((args.mb or (2 if args.quick else 8)) * MiB)
    ours = ["out", "in"] if args.direction == "both" else [args.direction]
    # the lossy transfer whose sender state is plotted: 1 % (else the highest loss), first RTT
    lossy = [p for p in losses if p > 0]
    plot_cell = (rtts[0], 1.0 if 1.0 in lossy else max(lossy, default=0.0), 1)
    sample_out = bool(args.plots) and "out" in ours

    ensure_private_netns()
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    for cmd in REF_RULES:
        subprocess.run(cmd.split(), check=True)
    check_linux(algos, args.plots)

    print(
        f"aionetstack vs Linux over TUN: {size / MiB:g} MiB, RTT {rtts} ms, loss {losses} %, "
        f"{seeds} seed(s), algorithms {algos} (Linux: {[LINUX_NAME.get(a, a) for a in algos]})",
        flush=True,
    )
    results: list[Result] = []
    series: dict[str, dict[str, Result]] = {}
    try:
        for rtt in rtts:
            for loss in losses:
                for seed in range(1, seeds + 1):
                    for algo in algos:
                        cell = Cell(algo, rtt, loss, seed)
                        sample = sample_out and (rtt, loss, seed) == plot_cell
                        kinds = [ours[0], "ref", *ours[1:]]
                        line = []
                        for kind in kinds:
                            res = run_one(kind, cell, size, args.timeout, sample)
                            results.append(res)
                            if sample and kind != "in":
                                who = "ours" if kind == "out" else "Linux"
                                series.setdefault(algo, {})[who] = res
                            shown = res.error or (
                                f"{res.goodput:.3f} MB/s rto {res.rto} stall {res.stall:.2f}s"
                            )
                            line.append(f"{kind} {shown}")
                        print(f"  {algo} {rtt:g}ms {loss:g}% seed {seed}: " + " | ".join(line),
                              flush=True)  # fmt: skip
    except KeyboardInterrupt:
        print("interrupted: the table covers the transfers done so far")
    print_table(results, ours)
    if args.csv:
        write_csv(args.csv, results)
        print(f"csv: {args.csv}")
    if args.plots:
        write_plots(args.plots, results, series)


if __name__ == "__main__":
    main()
