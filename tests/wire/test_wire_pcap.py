"""pcap writer/reader (LINKTYPE_RAW), checked with Scapy's reader."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.utils import RawPcapReader

from aionetstack.link.pcap import PcapWriter, read_pcap
from aionetstack.wire.errors import WireError
from aionetstack.wire.ipv4 import build_ipv4
from aionetstack.wire.pcap import LINKTYPE_RAW

PACKETS = [build_ipv4(0xC6120002, 0xC6120001, 17, bytes([i]) * (i * 7)) for i in range(5)]


@pytest.mark.parametrize("nanosecond", [False, True])
def test_round_trip_and_scapy(tmp_path: Path, nanosecond: bool) -> None:
    path = tmp_path / "trace.pcap"
    stamps = [1700000000.123456 + i * 0.001001 for i in range(len(PACKETS))]
    with PcapWriter(path, nanosecond=nanosecond) as w:
        for ts, pkt in zip(stamps, PACKETS, strict=True):
            w.write(pkt, ts)
    records = read_pcap(path)
    assert [p for _, p in records] == PACKETS
    for (ts, _), want in zip(records, stamps, strict=True):
        assert abs(ts - want) < 2e-6
    with RawPcapReader(str(path)) as reader:
        assert reader.linktype == LINKTYPE_RAW
        got = [bytes(data) for data, _meta in reader]
    assert got == PACKETS


def test_snaplen_and_file_object(tmp_path: Path) -> None:
    buf = io.BytesIO()
    w = PcapWriter(buf, snaplen=30)
    w.write(PACKETS[4], 1.5)
    w.flush()
    w.close()
    w.close()  # idempotent
    assert not buf.closed  # the caller's file stays open
    path = tmp_path / "snap.pcap"
    path.write_bytes(buf.getvalue())
    [(ts, data)] = read_pcap(path)
    assert ts == 1.5 and data == PACKETS[4][:30]
    with pytest.raises(ValueError):
        w.write(b"x", 0.0)


def test_reader_rejects_garbage(tmp_path: Path) -> None:
    path = tmp_path / "bad.pcap"
    path.write_bytes(b"not a pcap file at all, really")
    with pytest.raises(WireError):
        read_pcap(path)
    with PcapWriter(path) as w:
        w.write(PACKETS[3], 0.0)
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(WireError):
        read_pcap(path)


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=80))
def test_reader_fuzz(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.pcap"
        # Half the time, start with a valid global header so the records get parsed.
        path.write_bytes((_GLOBAL_HEADER + data) if len(data) % 2 else data)
        try:
            read_pcap(path)
        except WireError as exc:
            assert exc.reason


_GLOBAL_HEADER = bytes.fromhex("d4c3b2a1020004000000000000000000ffff000065000000")


def test_pcapng_blocks_round_trip_and_scapy(tmp_path: Path) -> None:
    from scapy.utils import RawPcapNgReader

    from aionetstack.wire.pcap import (
        DIRECTION_INBOUND,
        DIRECTION_OUTBOUND,
        parse_pcapng,
        pcapng_enhanced_packet,
        pcapng_interface_description,
        pcapng_section_header,
    )

    stamps = [1700000000.123456789 + i * 0.001 for i in range(len(PACKETS))]
    directions = [DIRECTION_OUTBOUND if i % 2 else DIRECTION_INBOUND for i in range(len(PACKETS))]
    data = pcapng_section_header() + pcapng_interface_description("tx", "sent", snaplen=40)
    data += pcapng_interface_description("rx")
    for i, (ts, pkt, d) in enumerate(zip(stamps, PACKETS, directions, strict=True)):
        data += pcapng_enhanced_packet(i % 2, ts, pkt, direction=d, snaplen=40)
    assert len(data) % 4 == 0
    interfaces, packets = parse_pcapng(data)
    assert [(i.name, i.description, i.snaplen, i.tsresol) for i in interfaces] == [
        ("tx", "sent", 40, 10**9),
        ("rx", "", 65535, 10**9),
    ]
    assert [p.data for p in packets] == [pkt[:40] for pkt in PACKETS]
    assert [p.direction for p in packets] == directions
    assert [p.interface for p in packets] == [i % 2 for i in range(len(PACKETS))]
    for p, want in zip(packets, stamps, strict=True):
        assert abs(p.timestamp - want) < 1e-6
    path = tmp_path / "t.pcapng"
    path.write_bytes(data)
    with RawPcapNgReader(str(path)) as reader:
        got = [(bytes(pkt), meta.direction, meta.ifname) for pkt, meta in reader]
    assert got == [
        (pkt[:40], d, b"tx" if i % 2 == 0 else b"rx")
        for i, (pkt, d) in enumerate(zip(PACKETS, directions, strict=True))
    ]


def test_pcapng_parser_rejects_garbage() -> None:
    from aionetstack.wire.pcap import parse_pcapng, pcapng_enhanced_packet, pcapng_section_header

    with pytest.raises(WireError):
        parse_pcapng(b"not a pcapng file at all")
    with pytest.raises(WireError):  # a packet before any interface was declared
        parse_pcapng(pcapng_section_header() + pcapng_enhanced_packet(0, 0.0, PACKETS[1]))
    with pytest.raises(WireError):
        parse_pcapng(pcapng_section_header()[:-3])
