"""Pictures of what TCP did: time-sequence graphs from captures, tcp_info over time.

Theory of operation
-------------------
Two halves. The first extracts series and needs nothing beyond the standard
library: ``read_capture`` reads a pcap or pcapng file (``capture()`` writes
either), ``tcp_connections`` groups its TCP segments by connection, and
``time_sequence`` turns one direction of one connection into the series of a
tcptrace-style time-sequence ("Stevens") graph:

* every data segment the sender sent, as a bar from its first to its last
  sequence number at the time it was seen; a segment that covers sequence
  space already sent is a retransmission;
* the ACK line (the receiver's cumulative acknowledgment over time), the
  receive-window line (ACK plus the advertised window, scaled as RFC 7323
  2.3 says: not in SYNs, and only when both SYNs carried the option), and
  the SACK blocks (RFC 2018) each ACK reported.

Sequence numbers are relative to the sender's ISN (its SYN, or its first
segment when the capture starts later), times to the first packet.

``TCP_INFO_FIELDS`` samples of ``transport.get_extra_info("tcp_info")`` over
time (``tcp_info_sample``) are kept as rows, written and read as CSV
(``write_tcp_info_csv`` / ``read_tcp_info_csv``).

The second half draws, with matplotlib (the ``plot`` extra, imported only
when a picture is asked for; ``PlotUnavailable`` names the extra when it is
missing): ``plot_time_sequence`` and ``plot_tcp_info`` write PNG files, using
matplotlib's object API (no pyplot, no global backend change).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aionetstack.wire.addr import int_to_ip, int_to_ip6
from aionetstack.wire.errors import WireError
from aionetstack.wire.ipv4 import PROTO_TCP, parse_ipv4
from aionetstack.wire.ipv6 import parse_ipv6
from aionetstack.wire.pcap import parse_pcap, parse_pcapng
from aionetstack.wire.tcp import ACK, FIN, SYN, TcpSegment, parse_tcp

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "TCP_INFO_FIELDS",
    "PlotUnavailable",
    "TcpFlow",
    "TimeSequence",
    "plot_capture",
    "plot_tcp_info",
    "plot_time_sequence",
    "read_capture",
    "read_tcp_info_csv",
    "tcp_connections",
    "tcp_info_sample",
    "time_sequence",
    "write_tcp_info_csv",
]

PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
SEQ_MOD = 1 << 32

Endpoint = tuple[str, int]


class PlotUnavailable(ImportError):
    """matplotlib is not installed (the ``plot`` extra)."""


# --- reading captures ----------------------------------------------------------


def read_capture(path: str | os.PathLike[str]) -> list[tuple[float, bytes]]:
    """Every (timestamp, IP packet) of a pcap or pcapng file (told apart by
    their first bytes); raises ``WireError`` if malformed."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] == PCAPNG_MAGIC:
        return [(p.timestamp, p.data) for p in parse_pcapng(data)[1]]
    return parse_pcap(data)


@dataclass
class _Seen:
    time: float
    src: Endpoint
    dst: Endpoint
    seg: TcpSegment


def _tcp_segments(packets: Iterable[tuple[float, bytes]]) -> list[_Seen]:
    """The TCP segments of raw IPv4/IPv6 packets; other packets, non-first
    fragments and unparsable ones are left out (checksums are not checked:
    a capture shows what was on the wire)."""
    out: list[_Seen] = []
    for ts, packet in packets:
        try:
            if packet[:1] and packet[0] >> 4 == 6:
                h6, payload = parse_ipv6(packet)
                if h6.protocol != PROTO_TCP or h6.frag_offset:
                    continue
                src, dst = int_to_ip6(h6.src), int_to_ip6(h6.dst)
            else:
                h4, payload = parse_ipv4(packet, verify_checksum=False)
                if h4.protocol != PROTO_TCP or h4.frag_offset:
                    continue
                src, dst = int_to_ip(h4.src), int_to_ip(h4.dst)
            seg = parse_tcp(payload)
        except (WireError, ValueError):
            continue
        out.append(_Seen(ts, (src, seg.src_port), (dst, seg.dst_port), seg))
    return out


@dataclass
class TcpFlow:
    """One TCP connection in a capture: ``a`` is the side seen first."""

    a: Endpoint
    b: Endpoint
    segments: list[_Seen] = field(default_factory=list, repr=False)

    def payload_bytes(self, sender: Endpoint) -> int:
        return sum(len(s.seg.payload) for s in self.segments if s.src == sender)

    @property
    def data_sender(self) -> Endpoint:
        """The side that sent more payload (the graph's direction by default)."""
        return self.a if self.payload_bytes(self.a) >= self.payload_bytes(self.b) else self.b

    def describe(self) -> str:
        def fmt(e: Endpoint) -> str:
            return f"[{e[0]}]:{e[1]}" if ":" in e[0] else f"{e[0]}:{e[1]}"

        return (
            f"{fmt(self.a)} <-> {fmt(self.b)}: {len(self.segments)} segments, "
            f"{self.payload_bytes(self.a):,} and {self.payload_bytes(self.b):,} payload bytes"
        )


def tcp_connections(packets: Iterable[tuple[float, bytes]]) -> list[TcpFlow]:
    """The TCP connections of a capture in the order they first appear.

    A SYN (without ACK) with a new ISN on a 4-tuple already seen starts a new
    connection (port reuse); a retransmitted SYN (same ISN) does not."""
    flows: list[TcpFlow] = []
    current: dict[frozenset[Endpoint], TcpFlow] = {}
    for seen in _tcp_segments(packets):
        key = frozenset((seen.src, seen.dst))
        flow = current.get(key)
        if flow is not None and seen.seg.flags & (SYN | ACK) == SYN:
            first = next((s for s in flow.segments if s.seg.flags & (SYN | ACK) == SYN), None)
            if first is None or first.seg.seq != seen.seg.seq:
                flow = None
        if flow is None:
            flow = TcpFlow(seen.src, seen.dst)
            current[key] = flow
            flows.append(flow)
        flow.segments.append(seen)
    return flows


# --- the time-sequence series ----------------------------------------------------------


@dataclass
class TimeSequence:
    """The series of a time-sequence graph of ``sender`` -> ``receiver``.

    Sequence numbers are relative to ``isn``; times to ``t0`` (seconds).
    """

    sender: Endpoint
    receiver: Endpoint
    isn: int
    t0: float
    #: (time, first, end) of every data-carrying segment (end exclusive)
    data: list[tuple[float, int, int]] = field(default_factory=list)
    #: the subset of ``data`` that re-sent sequence space already sent
    retransmits: list[tuple[float, int, int]] = field(default_factory=list)
    #: (time, cumulative ACK) of every ACK from the receiver
    acks: list[tuple[float, int]] = field(default_factory=list)
    #: (time, ACK + scaled window): the right edge the receiver allows
    windows: list[tuple[float, int]] = field(default_factory=list)
    #: (time, left, right) of every SACK block the receiver reported
    sacks: list[tuple[float, int, int]] = field(default_factory=list)
    #: (time, relative seq) of the sender's SYN and FIN
    syns: list[tuple[float, int]] = field(default_factory=list)
    fins: list[tuple[float, int]] = field(default_factory=list)


def time_sequence(flow: TcpFlow, sender: Endpoint | None = None) -> TimeSequence:
    """The time-sequence series of one direction of ``flow`` (default: the
    direction that carried more data)."""
    sender = sender or flow.data_sender
    receiver = flow.b if sender == flow.a else flow.a
    if sender not in (flow.a, flow.b):
        raise ValueError(f"{sender} is not an end of this connection")
    mine = [s for s in flow.segments if s.src == sender]
    theirs = [s for s in flow.segments if s.src == receiver]
    syn = next((s for s in mine if s.seg.flags & SYN), None)
    isn = syn.seg.seq if syn else (mine[0].seg.seq if mine else 0)
    # RFC 7323 2.2-2.3: scaling applies only if both SYNs carried the option;
    # the receiver's shift is the one it announced in its own SYN.
    their_syn = next((s for s in theirs if s.seg.flags & SYN), None)
    scaled = (
        syn is not None
        and their_syn is not None
        and syn.seg.wscale is not None
        and their_syn.seg.wscale is not None
    )
    shift = their_syn.seg.wscale if scaled and their_syn and their_syn.seg.wscale else 0
    t0 = flow.segments[0].time if flow.segments else 0.0

    def rel(seq: int) -> int:
        return (seq - isn) % SEQ_MOD

    ts = TimeSequence(sender, receiver, isn, t0)
    highest = 0  # highest relative end sent so far
    for s in flow.segments:
        seg, t = s.seg, s.time - t0
        if s.src == sender:
            start = rel(seg.seq) + (1 if seg.flags & SYN else 0)
            end = start + len(seg.payload)
            if seg.flags & SYN:
                ts.syns.append((t, rel(seg.seq)))
            if seg.flags & FIN:
                ts.fins.append((t, end))
            if end > start:
                ts.data.append((t, start, end))
                if start < highest:
                    ts.retransmits.append((t, start, end))
                highest = max(highest, end)
        elif seg.flags & ACK:
            ack = rel(seg.ack)
            ts.acks.append((t, ack))
            window = seg.window if seg.flags & SYN else seg.window << shift
            ts.windows.append((t, ack + window))
            ts.sacks.extend((t, rel(left), rel(right)) for left, right in seg.sack_blocks)
    return ts


# --- tcp_info samples ---------------------------------------------------------------

#: the columns of a tcp_info sample (``time`` first, seconds; sizes in bytes,
#: times in seconds, rates in bytes per second, as ``TcpInfo``)
TCP_INFO_FIELDS = (
    "time",
    "cwnd",
    "ssthresh",
    "unacked",
    "rtt",
    "min_rtt",
    "rto",
    "pacing_rate",
    "delivery_rate",
    "total_retrans",
)


def tcp_info_sample(info: Any, time: float) -> dict[str, float]:
    """One row from a ``TcpInfo`` (``transport.get_extra_info("tcp_info")``) taken at ``time``."""
    row = {"time": float(time)}
    for name in TCP_INFO_FIELDS[1:]:
        row[name] = float(getattr(info, name))
    return row


def write_tcp_info_csv(samples: Iterable[dict[str, float]], path: str | os.PathLike[str]) -> None:
    """Write samples as CSV with a header line of ``TCP_INFO_FIELDS``."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=TCP_INFO_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(samples)


def read_tcp_info_csv(path: str | os.PathLike[str]) -> list[dict[str, float]]:
    """Samples from a CSV file with a header line; it needs a ``time`` column
    and keeps every column whose values are numbers."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "time" not in reader.fieldnames:
            raise ValueError(f"{os.fspath(path)}: no 'time' column in the header line")
        rows: list[dict[str, float]] = []
        for number, raw in enumerate(reader, start=2):
            row: dict[str, float] = {}
            for key, value in raw.items():
                try:
                    row[key] = float(value)
                except (TypeError, ValueError):
                    if key == "time":
                        raise ValueError(f"line {number}: time {value!r} is not a number") from None
            rows.append(row)
    return rows


# --- drawing (matplotlib) --------------------------------------------------------------


def _figure(rows: int, height: float) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotUnavailable(
            "plots need matplotlib: pip install 'aionetstack[plot]' (the plot extra)"
        ) from None
    return Figure(figsize=(10, height * rows), layout="constrained")


def _label(e: Endpoint) -> str:
    return f"[{e[0]}]:{e[1]}" if ":" in e[0] else f"{e[0]}:{e[1]}"


def _steps(points: Sequence[tuple[float, int]]) -> tuple[list[float], list[int]]:
    return [p[0] for p in points], [p[1] for p in points]


def plot_time_sequence(ts: TimeSequence, out: str | os.PathLike[str]) -> str:
    """Draw ``ts`` as a time-sequence graph into the PNG ``out``; return its path."""
    fig = _figure(1, 6.0)
    ax = fig.subplots()
    if ts.acks:
        ax.step(*_steps(ts.acks), where="post", color="tab:green", lw=1, label="ACK")
    if ts.windows:
        ax.step(*_steps(ts.windows), where="post", color="goldenrod", lw=1, label="receive window")
    fresh = [d for d in ts.data if d not in set(ts.retransmits)]
    for series, color, label in (
        (fresh, "tab:blue", "data segment"),
        (ts.retransmits, "tab:red", "retransmission"),
    ):
        if series:
            ax.vlines(
                [d[0] for d in series], [d[1] for d in series], [d[2] for d in series],
                colors=color, lw=1.5, label=label,
            )  # fmt: skip
            ax.plot([d[0] for d in series], [d[2] for d in series], "_", color=color, ms=4)
    if ts.sacks:
        ax.vlines(
            [s[0] for s in ts.sacks], [s[1] for s in ts.sacks], [s[2] for s in ts.sacks],
            colors="tab:purple", lw=3, alpha=0.5, label="SACK block",
        )  # fmt: skip
    for marks, symbol, label in ((ts.syns, "^", "SYN"), (ts.fins, "v", "FIN")):
        if marks:
            ax.plot(*_steps(marks), symbol, color="black", label=label)
    # The window line may run far above the data (a large receive buffer):
    # keep the segments readable, as tcptrace's default zoom does.
    top = max([d[2] for d in ts.data] + [a[1] for a in ts.acks] + [1])
    if any(w[1] > top * 1.5 for w in ts.windows):
        ax.set_ylim(-0.02 * top, top * 1.5)
    ax.set_xlabel("time (s)")
    ax.set_ylabel(f"sequence number (bytes, relative to ISN {ts.isn})")
    ax.set_title(
        f"{_label(ts.sender)} -> {_label(ts.receiver)}: {len(ts.data)} data segments, "
        f"{len(ts.retransmits)} retransmitted"
    )
    ax.ticklabel_format(axis="y", style="plain", useOffset=False)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    fig.savefig(out, dpi=100)
    return os.fspath(out)


def plot_capture(
    path: str | os.PathLike[str], out: str | os.PathLike[str], connection: int | None = None
) -> tuple[TcpFlow, str]:
    """The time-sequence graph of connection number ``connection`` (1-based,
    in order of appearance; default: the one that carried the most data) of
    the capture ``path``, into ``out``. Raises ``LookupError`` if there is no
    such connection."""
    flows = tcp_connections(read_capture(path))
    if not flows:
        raise LookupError(f"{os.fspath(path)}: no TCP connection in the capture")
    if connection is None:
        flow = max(flows, key=lambda f: f.payload_bytes(f.data_sender))
    elif 1 <= connection <= len(flows):
        flow = flows[connection - 1]
    else:
        listing = "; ".join(f"{i}: {f.describe()}" for i, f in enumerate(flows, 1))
        raise LookupError(f"no connection {connection} (the capture has {listing})")
    return flow, plot_time_sequence(time_sequence(flow), out)


def plot_tcp_info(samples: Sequence[dict[str, float]], out: str | os.PathLike[str]) -> str:
    """cwnd (with ssthresh and bytes in flight), RTT and pacing / delivery
    rate over time from tcp_info samples, into the PNG ``out``; return its path.
    Columns a sample lacks, or that are zero throughout, are left out."""
    if not samples:
        raise ValueError("no samples to plot")
    t0 = samples[0]["time"]
    times = [s["time"] - t0 for s in samples]
    fig = _figure(3, 2.6)
    axes = fig.subplots(3, 1, sharex=True)
    panels: list[tuple[Any, str, float, list[tuple[str, str]]]] = [
        (axes[0], "bytes", 1.0, [("cwnd", "cwnd"), ("ssthresh", "ssthresh"),
                                  ("unacked", "in flight")]),
        (axes[1], "ms", 1000.0, [("rtt", "smoothed RTT"), ("min_rtt", "min RTT"),
                                 ("rto", "RTO")]),
        (axes[2], "Mbit/s", 8e-6, [("pacing_rate", "pacing rate"),
                                   ("delivery_rate", "delivery rate")]),
    ]  # fmt: skip
    for ax, unit, scale, columns in panels:
        for column, label in columns:
            if all(column in s for s in samples) and any(s[column] for s in samples):
                values = [s[column] * scale for s in samples]
                if column == "ssthresh":  # "infinite" before the first loss
                    values = [v if v < 1 << 30 else float("nan") for v in values]
                ax.plot(times, values, lw=1, label=label, drawstyle="steps-post")
        ax.set_ylabel(unit)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper right", fontsize="small")
        else:  # e.g. no pacing and no rate samples
            ax.text(0.5, 0.5, "all zero or absent", ha="center", va="center",
                    transform=ax.transAxes)  # fmt: skip
    axes[2].set_xlabel("time (s)")
    axes[0].set_title("tcp_info over time")
    fig.savefig(out, dpi=100)
    return os.fspath(out)
