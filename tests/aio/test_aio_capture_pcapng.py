"""capture() writes pcapng with a direction per packet, read by Scapy and by our parser."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aio_support import A_ADDR, B_ADDR

import aionetstack
from aionetstack.link.pcap import read_pcap, read_pcapng
from aionetstack.wire.pcap import DIRECTION_INBOUND, DIRECTION_OUTBOUND, LINKTYPE_RAW

scapy_all = pytest.importorskip("scapy.all")


async def _exchange(link_a: Any, link_b: Any) -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readexactly(5000))
        writer.close()

    a = aionetstack.Stack(link_a, address=f"{A_ADDR}/24")
    b = aionetstack.Stack(link_b, address=f"{B_ADDR}/24")
    async with a, b:
        await b.start_server(echo, B_ADDR, 7)
        reader, writer = await a.open_connection(B_ADDR, 7)
        writer.write(b"e" * 5000)
        assert await reader.readexactly(5000) == b"e" * 5000
        writer.close()
        await asyncio.sleep(0.5)


@pytest.mark.virtual_time
async def test_pcapng_directions_are_read_by_scapy(tmp_path: Path) -> None:
    path = tmp_path / "trace.pcapng"
    la, lb = aionetstack.memory_link_pair(delay=0.25, seed=1)
    cap = aionetstack.capture(la, path)  # the suffix picks pcapng
    assert cap.format == "pcapng"
    await _exchange(cap, lb)
    packets = scapy_all.rdpcap(str(path))
    assert len(packets) == cap.packets_written > 10
    tcp = [p for p in packets if p.haslayer(scapy_all.TCP)]
    # the client side's capture: what A sent is outbound on "tx", what it got inbound on "rx"
    for p in tcp:
        src = p[scapy_all.IP].src
        assert p.direction == (DIRECTION_OUTBOUND if src == A_ADDR else DIRECTION_INBOUND), src
        assert p.sniffed_on == ("tx" if src == A_ADDR else "rx")
    assert tcp[0][scapy_all.TCP].flags == "S" and tcp[0].direction == DIRECTION_OUTBOUND
    assert tcp[1][scapy_all.TCP].flags == "SA" and tcp[1].direction == DIRECTION_INBOUND
    # stamped from the loop's clock: the SYN-ACK comes one 0.5 s (virtual) round trip later
    assert float(tcp[1].time - tcp[0].time) == pytest.approx(0.5, abs=1e-6)
    interfaces, ours = read_pcapng(path)
    assert [(i.name, i.linktype) for i in interfaces] == [("tx", LINKTYPE_RAW), ("rx", LINKTYPE_RAW)]
    assert [bytes(p) for p in packets] == [p.data for p in ours]
    assert [p.direction for p in ours] == [p.direction for p in packets]


async def test_format_argument_and_plain_pcap(tmp_path: Path) -> None:
    la, lb = aionetstack.memory_link_pair()
    ng = aionetstack.capture(la, tmp_path / "trace.cap", format="pcapng")
    assert ng.format == "pcapng"
    await _exchange(ng, lb)
    _interfaces, packets = read_pcapng(tmp_path / "trace.cap")
    assert {p.direction for p in packets} == {DIRECTION_INBOUND, DIRECTION_OUTBOUND}

    la, lb = aionetstack.memory_link_pair()
    plain = aionetstack.capture(la, tmp_path / "trace.pcap")
    assert plain.format == "pcap"
    await _exchange(plain, lb)
    assert len(read_pcap(tmp_path / "trace.pcap")) == plain.packets_written
    with scapy_all.PcapReader(str(tmp_path / "trace.pcap")) as reader:
        assert reader.linktype == LINKTYPE_RAW

    with pytest.raises(ValueError, match="pcapng"):
        aionetstack.capture(aionetstack.memory_link_pair()[0], tmp_path / "x", format="pcap-ng")
