"""The in-memory demo: two virtual hosts, a lossy wire, one TCP connection told as it happens.

Theory of operation
-------------------
Two ``Stack``s (198.18.0.1 "client" and 198.18.0.2 "server") are joined by
``memory_link_pair`` with a little seeded loss and delay; no root and no device
are needed. The client side's link is wrapped twice: ``capture`` writes every
packet to a pcap file, and a small ``_Tap`` wrapper (the same ``LinkWrapper``
seam) prints the first packets tcpdump-style while the connection's tracer
prints its state changes and timer events (a lost SYN shows up as an RTO
retransmission). Then a bulk transfer runs; its goodput and the connection's
``tcp_info`` are printed, and the pcap file is named for Wireshark. With
matplotlib (the ``plot`` extra) a time-sequence graph of the capture is
written beside it (``aionetstack-demo.png``; ``aionetstack.plot``).

``python -m aionetstack demo`` calls ``main()``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from aionetstack.aio.links import capture, memory_link_pair
from aionetstack.aio.stack import Stack
from aionetstack.core.config import StackConfig
from aionetstack.link.impair import LinkWrapper
from aionetstack.wire.addr import int_to_ip
from aionetstack.wire.errors import WireError
from aionetstack.wire.ipv4 import PROTO_TCP, parse_ipv4
from aionetstack.wire.tcp import flags_to_str, parse_tcp

CLIENT, SERVER = "198.18.0.1", "198.18.0.2"


class _Clock:
    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def __call__(self) -> str:
        return f"{(time.monotonic() - self.t0) * 1000:8.1f} ms"


class _Tap(LinkWrapper):
    """Print the first ``limit`` TCP packets in each direction, tcpdump-style."""

    def __init__(self, inner: Any, clock: _Clock, limit: int) -> None:
        super().__init__(inner)
        self.clock = clock
        self.limit = limit
        self.shown = 0
        self.isn: dict[tuple[int, int], int] = {}

    def _show(self, packets: Sequence[bytes], arrow: str) -> None:
        for packet in packets:
            if self.shown >= self.limit:
                return
            try:
                ip, payload = parse_ipv4(packet)
                if ip.protocol != PROTO_TCP:
                    continue
                seg = parse_tcp(payload)
            except WireError:
                continue
            self.shown += 1
            key = (ip.src, seg.src_port)
            base = self.isn.setdefault(key, seg.seq)
            peer_base = self.isn.get((ip.dst, seg.dst_port), seg.ack)
            rel_seq = (seg.seq - base) & 0xFFFFFFFF
            rel_ack = (seg.ack - peer_base) & 0xFFFFFFFF
            opts = []
            if seg.mss:
                opts.append(f"mss {seg.mss}")
            if seg.wscale is not None:
                opts.append(f"wscale {seg.wscale}")
            if seg.sack_permitted:
                opts.append("sackOK")
            if seg.ts_val is not None:
                opts.append("TS")
            print(
                f"  {self.clock()}  {arrow} {int_to_ip(ip.src)}:{seg.src_port} > "
                f"{int_to_ip(ip.dst)}:{seg.dst_port} [{flags_to_str(seg.flags)}] "
                f"seq {rel_seq} ack {rel_ack} win {seg.window} len {len(seg.payload)}"
                + (f" <{', '.join(opts)}>" if opts else "")
            )

    def _dropped(self) -> int:
        link: Any = self.inner
        while link is not None:
            stats = getattr(link, "stats", None)
            if callable(stats):
                return int(stats().get("egress", {}).get("dropped", 0))
            link = getattr(link, "inner", None)
        return 0

    def _egress(self, packets: Sequence[bytes]) -> None:
        if self.shown >= self.limit:
            self.inner.send_batch(packets)
            return
        for packet in packets:  # one by one while printing, to spot losses
            before = self._dropped()
            self._show([packet], "->")
            self.inner.send_batch([packet])
            if self._dropped() > before:
                print(f"  {self.clock()}     (lost on the wire)")

    def _ingress(self, batch: list[bytes]) -> None:
        self._show(batch, "<-")
        self._deliver(batch)


async def run_demo(
    *,
    loss: float = 0.01,
    delay: float = 0.005,
    seed: int = 51,
    size: int = 1024 * 1024,
    pcap_path: str | None = None,
    show_packets: int = 14,
    png_path: str | None = None,
) -> dict[str, Any]:
    """Run the demo; returns a summary (goodput, tcp_info, pcap path, the PNG
    of the transfer or None without matplotlib...)."""
    clock = _Clock()
    if pcap_path is None:
        pcap_path = os.path.join(tempfile.gettempdir(), "aionetstack-demo.pcap")
    print(
        f"aionetstack demo: {CLIENT} and {SERVER} on an in-memory wire, "
        f"loss {loss:.0%} and delay {delay * 1000:.0f} ms each way (seed {seed})\n"
    )
    link_a, link_b = memory_link_pair(loss=loss, delay=delay, seed=seed)
    cap = capture(link_a, pcap_path)
    tap = _Tap(cap, clock, show_packets)

    quiet = [False]
    events: list[str] = []

    def tracer(conn: Any, line: str) -> None:
        _, _, text = line.partition(" ")
        events.append(text)
        if not quiet[0]:
            print(f"  {clock()}  ** {text}")

    # No quick-ACK phase, so the delayed ACK shows from the first data segment.
    config = StackConfig(delayed_ack=0.04, quickack_segments=0)
    client = Stack(tap, address=f"{CLIENT}/24", config=config, tracer=tracer)
    server = Stack(link_b, address=f"{SERVER}/24", config=config)
    received: asyncio.Future[tuple[int, str]] = asyncio.get_running_loop().create_future()

    async def sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readline()
        writer.write(b"hello client, you said " + request)
        digest = hashlib.sha256()
        total = 0
        while chunk := await reader.read(1 << 20):
            digest.update(chunk)
            total += len(chunk)
        writer.write(b"got it\n")
        await writer.drain()
        writer.close()
        received.set_result((total, digest.hexdigest()))

    summary: dict[str, Any] = {"pcap": pcap_path}
    async with client, server:
        srv = await server.start_server(sink, SERVER, 80)
        print(
            f"1. connect(): client -> {SERVER}:80 (SYN, SYN-ACK, ACK; a lost one is retransmitted)"
        )
        t0 = time.monotonic()
        reader, writer = await client.open_connection(SERVER, 80)
        connect_time = time.monotonic() - t0
        conn = writer.get_extra_info("connection")
        print(f"  {clock()}  connect() returned after {connect_time * 1000:.1f} ms\n")
        print("   recorded transitions:")
        for _when, old, new, cause in conn.transitions:
            print(f"     {old} -> {new}: {cause}")
        print(
            "\n2. a request and its reply: the server's ACK rides on the reply, the client's"
            " ACK of the reply is delayed (40 ms)"
        )
        writer.write(b"hello server\n")
        answer = await reader.readline()
        print(f"  {clock()}  client got {answer.strip().decode()!r}")
        await asyncio.sleep(3 * delay + 0.1)  # the delayed ACK of the reply
        tap.limit = tap.shown  # quiet from here on
        quiet[0] = True
        print(f"\n3. bulk transfer: {size / 2**20:.0f} MiB client -> server")
        blob = os.urandom(size)
        t0 = time.monotonic()
        writer.write(blob)
        await writer.drain()
        writer.write_eof()
        total, digest = await asyncio.wait_for(received, 60)
        reply = await reader.readline()
        elapsed = time.monotonic() - t0
        goodput = total / elapsed
        ok = digest == hashlib.sha256(blob).hexdigest()
        info = writer.get_extra_info("tcp_info")
        rto_events = sum(1 for e in events if e.startswith("RTO"))
        fast = sum(1 for e in events if e.startswith("fast retransmit"))
        print(f"   recovery: {fast} fast retransmits, {rto_events} retransmission timeouts")
        print(
            f"   {total:,} bytes in {elapsed:.2f} s: goodput {goodput / 1e6:.2f} MB/s, "
            f"sha256 {'matches' if ok else 'MISMATCH'}, server said {reply.strip().decode()!r}"
        )
        print("   tcp_info (client):")
        for name in (
            "state",
            "rtt",
            "rttvar",
            "rto",
            "min_rtt",
            "snd_mss",
            "cwnd",
            "ssthresh",
            "segs_out",
            "data_segs_out",
            "total_retrans",
            "fast_retransmits",
            "rto_expirations",
            "bytes_acked",
            "bytes_retrans",
            "delivery_rate",
        ):
            value = getattr(info, name, None)
            if isinstance(value, float):
                text = (
                    f"{value * 1000:.2f} ms"
                    if name in ("rtt", "rttvar", "rto", "min_rtt")
                    else f"{value:,.0f}"
                )
            else:
                text = str(value)
            print(f"     {name:<17}{text}")
        writer.close()
        srv.close()
        await asyncio.sleep(0.05)
        stats = client.stats()
        summary.update(
            goodput=goodput,
            ok=ok,
            connect_time=connect_time,
            tcp_info=info,
            transitions=list(conn.transitions),
            retrans=stats.get("TcpRetransSegs", 0),
        )
    print(
        f"\n4. {cap.packets_written} packets captured to {pcap_path}\n"
        f"   open it with: wireshark {pcap_path}   (or tcpdump -nr {pcap_path})"
    )
    summary["packets"] = cap.packets_written
    summary["png"] = _draw(pcap_path, png_path)
    return summary


def _draw(pcap_path: str, png_path: str | None) -> str | None:
    """The time-sequence graph of the capture's transfer, when matplotlib is there."""
    from aionetstack import plot

    png_path = png_path or os.path.splitext(pcap_path)[0] + ".png"
    try:
        plot.plot_capture(pcap_path, png_path)
    except plot.PlotUnavailable as exc:
        print(f"\n5. no graph of the transfer: {exc}")
        return None
    print(
        f"\n5. time-sequence graph of the transfer (segments, ACKs, window, SACKs, "
        f"retransmissions in red): {png_path}"
    )
    return png_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aionetstack demo", description=__doc__.splitlines()[0])
    parser.add_argument("--loss", type=float, default=0.01)
    parser.add_argument("--delay", type=float, default=0.005)
    parser.add_argument("--seed", type=int, default=51)
    parser.add_argument("--size", type=int, default=1024 * 1024)
    parser.add_argument("--pcap", default=None)
    parser.add_argument("--png", default=None)
    args = parser.parse_args(argv if argv is not None else [])
    summary = asyncio.run(
        run_demo(
            loss=args.loss,
            delay=args.delay,
            seed=args.seed,
            size=args.size,
            pcap_path=args.pcap,
            png_path=args.png,
        )
    )
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
