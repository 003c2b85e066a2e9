"""aionetstack.plot: the series of a time-sequence graph, tcp_info samples, the PNGs.

The capture (conftest.py's ``made``) is a lossy 200 KB transfer. The
series are checked against what the stacks themselves counted, without
matplotlib; the drawing tests check that PNGs of a sane size come out.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from plot_support import CLIENT, SERVER, SIZE, png_size

from aionetstack import plot


def test_connection_found_with_its_direction(made: dict[str, Any]) -> None:
    flows = plot.tcp_connections(plot.read_capture(made["path"]))
    assert len(flows) == 1
    (flow,) = flows
    assert flow.a == (CLIENT, made["port"]) and flow.b == (SERVER, 5001)
    assert flow.data_sender == flow.a
    assert flow.payload_bytes(flow.b) == 0
    # every byte at least once; more than once exactly when something was re-sent
    assert flow.payload_bytes(flow.a) == SIZE + made["info"].bytes_retrans


def test_series_match_what_the_sender_counted(made: dict[str, Any]) -> None:
    (flow,) = plot.tcp_connections(plot.read_capture(made["path"]))
    ts = plot.time_sequence(flow)
    info = made["info"]
    assert info.total_retrans > 0, "the seed should lose something"
    assert len(ts.retransmits) == info.total_retrans
    assert sum(end - start for _, start, end in ts.retransmits) == info.bytes_retrans
    # relative sequence space: data from 1 (after the SYN) to SIZE + 1, FIN there
    assert min(start for _, start, _ in ts.data) == 1
    assert max(end for _, _, end in ts.data) == SIZE + 1
    assert ts.syns == [(0.0, 0)] or ts.syns[0][1] == 0
    assert ts.fins and all(seq == SIZE + 1 for _, seq in ts.fins)
    # the ACK line never goes back and ends covering the data and the FIN
    acks = [ack for _, ack in ts.acks]
    assert acks == sorted(acks) and acks[-1] == SIZE + 2
    # the window line stays at or right of the ACK line, scaled (beyond 64 KiB)
    assert all(edge >= ack for (_, ack), (_, edge) in zip(ts.acks, ts.windows, strict=True))
    assert max(edge - ack for (_, ack), (_, edge) in zip(ts.acks, ts.windows, strict=True)) > 65535
    # losses leave holes the receiver reports: SACK blocks above the ACK line
    assert ts.sacks
    times = [t for t, _, _ in ts.data]
    assert times == sorted(times) and times[0] >= 0


def test_reversed_direction_and_pcapng(made: dict[str, Any], tmp_path: Path) -> None:
    packets = plot.read_capture(made["path"])
    (flow,) = plot.tcp_connections(packets)
    back = plot.time_sequence(flow, sender=flow.b)
    assert back.data == [] and back.retransmits == []
    assert back.acks and back.acks[-1][1] == 2  # the client's ACK of the server's SYN and FIN
    with pytest.raises(ValueError, match="not an end"):
        plot.time_sequence(flow, sender=("198.18.0.9", 1))
    # the same packets in a pcapng file give the same series
    from aionetstack.link.pcap import PcapngWriter

    ng = tmp_path / "same.pcapng"
    with PcapngWriter(ng) as writer:
        for ts, packet in packets:
            writer.write(packet, ts, outbound=packet[12:16] == bytes([198, 18, 0, 1]))
    (again,) = plot.tcp_connections(plot.read_capture(ng))
    mine, theirs = plot.time_sequence(again), plot.time_sequence(flow)
    assert [r[1:] for r in mine.retransmits] == [r[1:] for r in theirs.retransmits]
    assert [r[0] for r in mine.retransmits] == pytest.approx(
        [r[0] for r in theirs.retransmits], abs=1e-5
    )


def test_new_isn_on_the_same_ports_is_a_new_connection() -> None:
    from aionetstack.wire.tcp import ACK, SYN, build_ipv4_tcp

    def seg(src: int, dst: int, sport: int, dport: int, seq: int, flags: int) -> bytes:
        return bytes(build_ipv4_tcp(src=src, dst=dst, src_port=sport, dst_port=dport, seq=seq,
                                    ack=0, flags=flags, window=1000, ident=0, ttl=64,
                                    options=b"", payload=b""))  # fmt: skip

    c, s = 0xC6120001, 0xC6120002
    packets = [
        (0.0, seg(c, s, 1000, 80, 100, SYN)),
        (1.0, seg(c, s, 1000, 80, 100, SYN)),  # retransmitted SYN: same connection
        (1.1, seg(s, c, 80, 1000, 500, SYN | ACK)),
        (9.0, seg(c, s, 1000, 80, 7000, SYN)),  # new ISN: a new connection
    ]
    flows = plot.tcp_connections(packets)
    assert [len(f.segments) for f in flows] == [3, 1]


def test_tcp_info_csv_round_trip(made: dict[str, Any], tmp_path: Path) -> None:
    samples = made["samples"]
    assert len(samples) > 10
    assert max(s["cwnd"] for s in samples) > min(s["cwnd"] for s in samples)
    path = tmp_path / "samples.csv"
    plot.write_tcp_info_csv(samples, path)
    assert path.read_text().splitlines()[0] == ",".join(plot.TCP_INFO_FIELDS)
    assert plot.read_tcp_info_csv(path) == samples
    (tmp_path / "bad.csv").write_text("cwnd\n1\n")
    with pytest.raises(ValueError, match="time"):
        plot.read_tcp_info_csv(tmp_path / "bad.csv")


def test_series_without_matplotlib(made: dict[str, Any], no_matplotlib: None) -> None:
    (flow,) = plot.tcp_connections(plot.read_capture(made["path"]))
    assert plot.time_sequence(flow).data
    with pytest.raises(plot.PlotUnavailable, match=r"aionetstack\[plot\]"):
        plot.plot_time_sequence(plot.time_sequence(flow), "never.png")


def test_time_sequence_png(made: dict[str, Any], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "ts.png"
    flow, written = plot.plot_capture(made["path"], out)
    assert written == str(out) and flow.data_sender[0] == CLIENT
    width, height = png_size(out)
    assert (width, height) == (1000, 600)
    assert out.stat().st_size > 10_000  # bars, lines, labels: not an empty canvas
    with pytest.raises(LookupError, match="no connection 2"):
        plot.plot_capture(made["path"], out, connection=2)


def test_tcp_info_png(made: dict[str, Any], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "info.png"
    assert plot.plot_tcp_info(made["samples"], out) == str(out)
    width, height = png_size(out)
    assert width == 1000 and 600 <= height <= 900
    assert out.stat().st_size > 10_000
    with pytest.raises(ValueError, match="no samples"):
        plot.plot_tcp_info([], out)


def test_importing_plot_does_not_import_matplotlib() -> None:
    code = "import sys, aionetstack.plot, aionetstack.cli; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
