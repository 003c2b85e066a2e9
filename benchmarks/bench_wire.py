"""Micro-benchmarks of the wire layer: checksum, parse and build of TCP/IPv4.

Run from the repository root::

    .venv/bin/python benchmarks/bench_wire.py            # compiled core + pure fallback
    AIONETSTACK_PURE_PYTHON=1 .venv/bin/python benchmarks/bench_wire.py

Each figure is the best of several repeats of a timed loop (ns per call), printed
beside its target. Nothing here asserts: speed is measured, never tested.
"""

from __future__ import annotations

import os
import platform
import random
import subprocess
import sys
import timeit
from collections.abc import Callable

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from aionetstack.wire import checksum
from aionetstack.wire.ipv4 import parse_ipv4
from aionetstack.wire.tcp import ACK, PSH, build_ipv4_tcp, build_tcp_options, parse_tcp

SRC, DST = 0xC6120002, 0xC6120001
REPEATS = 7


def ns_per_call(fn: Callable[[], object], min_time: float = 0.06) -> float:
    """Best-of-REPEATS time per call in nanoseconds, with a loop count sized to ~min_time."""
    timer = timeit.Timer(fn)
    number = 1
    while True:
        if timer.timeit(number) >= min_time / 5:
            break
        number *= 4
    number = max(1, int(number * 5 * min_time / max(timer.timeit(number), 1e-9) / 5))
    return min(timer.repeat(REPEATS, number)) / number * 1e9


def row(name: str, ns: float, target: str = "", extra: str = "") -> None:
    print(f"  {name:<44} {ns:>10.0f} ns  {extra:<14} {target}")


def bench_checksum() -> None:
    rnd = random.Random(1)
    impls: list[tuple[str, Callable[..., int]]] = [("pure", checksum.pure_ones_sum)]
    try:
        from aionetstack import _accel

        impls.insert(0, ("compiled", _accel.ones_sum))
    except ImportError:
        print("  (compiled core not built: pure only)")
    print(
        f"checksum (ones_sum; selected implementation: {'compiled' if checksum.ACCELERATED else 'pure'})"
    )
    for size in (20, 1500, 65536):
        data = rnd.randbytes(size)
        for label, fn in impls:
            ns = ns_per_call(lambda fn=fn, data=data: fn(data))
            gbs = size / ns  # bytes per ns == GB/s
            target = ""
            if size == 65536 and label == "compiled":
                target = f"target >= 15 GB/s: {'OK' if gbs >= 15 else 'MISSED'}"
            row(f"{label} {size} B", ns, target, f"{gbs:6.2f} GB/s")


def bench_codecs() -> None:
    mode = "compiled" if checksum.ACCELERATED else "pure"
    print(f"TCP/IPv4 codecs (checksum: {mode})")
    opts = build_tcp_options(timestamps=(123456, 654321))
    payload = random.Random(2).randbytes(1448)  # 20 + 32 + 1448 = 1500 bytes
    pkt = build_ipv4_tcp(SRC, DST, 7, 64, 40000, 443, 1000, 2000, ACK | PSH, 65535, opts, payload)
    assert len(pkt) == 1500

    def parse_headers() -> object:
        _header, body = parse_ipv4(pkt)
        return parse_tcp(body)

    def parse_verified() -> object:
        header, body = parse_ipv4(pkt)
        return parse_tcp(body, header.src, header.dst)

    def build() -> object:
        return build_ipv4_tcp(
            SRC, DST, 7, 64, 40000, 443, 1000, 2000, ACK | PSH, 65535, opts, payload
        )

    ns = ns_per_call(parse_headers)
    row(
        "parse IPv4+TCP(TS), IP checksum verified",
        ns,
        f"target <= 1500 ns: {'OK' if ns <= 1500 else 'MISSED'}",
    )
    ns = ns_per_call(parse_verified)
    row("  + TCP checksum over 1480 B verified", ns, "(for information)")
    ns = ns_per_call(build)
    row(
        "build 1500 B IPv4+TCP(TS), both checksums",
        ns,
        f"target <= 2000 ns: {'OK' if ns <= 2000 else 'MISSED'}",
    )
    ack = build_ipv4_tcp(SRC, DST, 7, 64, 40000, 443, 1000, 2000, ACK, 65535, opts, b"")
    ns = ns_per_call(lambda: parse_tcp(parse_ipv4(ack)[1], SRC, DST))
    row("parse pure ACK (TS), both checksums verified", ns, "(for information)")


def main() -> None:
    if "--codecs-only" in sys.argv:
        bench_codecs()
        return
    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    bench_checksum()
    bench_codecs()
    if checksum.ACCELERATED:
        env = dict(os.environ, AIONETSTACK_PURE_PYTHON="1")
        sys.stdout.flush()
        subprocess.run([sys.executable, __file__, "--codecs-only"], env=env, check=True)


if __name__ == "__main__":
    main()
