"""TCP and UDP over IPv6: the RFC 8200 8.1 pseudo-header checksum, Scapy the oracle both ways."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import TCP, UDP
from scapy.layers.inet6 import IPv6

from aionetstack.wire import tcp as tcp_module
from aionetstack.wire.checksum import internet_checksum, ones_sum, pseudo_header_sum6
from aionetstack.wire.errors import ChecksumError, TruncatedError
from aionetstack.wire.ipv6 import PROTO_TCP, PROTO_UDP, build_ipv6, parse_ipv6
from aionetstack.wire.tcp import (
    ACK,
    PSH,
    SYN,
    build_ipv6_tcp,
    build_tcp6,
    build_tcp_options,
    parse_tcp6,
    pure_parse_tcp,
)
from aionetstack.wire.udp import build_udp6, parse_udp6

SRC = 0x2001_0002_0000_0001_0000_0000_0000_0002  # 2001:2:0:1::2
DST = 0x2001_0002_0000_ABCD_0000_0000_0000_0001  # 2001:2:0:abcd::1
SRC_S, DST_S = "2001:2:0:1::2", "2001:2:0:abcd::1"
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
addr48 = st.integers(0, (1 << 80) - 1).map(lambda low: 0x2001_0002_0000 << 80 | low)


def _pseudo_bytes(src: int, dst: int, proto: int, length: int) -> bytes:
    return src.to_bytes(16, "big") + dst.to_bytes(16, "big") + struct.pack("!II", length, proto)


@settings(max_examples=100, deadline=None)
@given(src=addr48, dst=addr48, proto=st.sampled_from([6, 17, 58]), length=st.integers(0, 65535))
def test_pseudo_header_sum6_matches_bytes(src: int, dst: int, proto: int, length: int) -> None:
    # RFC 8200 8.1: the folded sum equals the sum over the 40-byte pseudo-header.
    s = pseudo_header_sum6(src, dst, proto, length)
    assert 1 <= s <= 0xFFFF
    assert s % 0xFFFF == ones_sum(_pseudo_bytes(src, dst, proto, length)) % 0xFFFF


@settings(max_examples=60, deadline=None)
@given(
    sport=u16, dport=u16, seq=u32, ack=u32, window=u16, fl=st.integers(0, 0xFFFFF),
    ts=st.none() | st.tuples(u32, u32), payload=st.binary(max_size=300),
)  # fmt: skip
def test_tcp_built_here_checked_by_scapy(
    sport: int, dport: int, seq: int, ack: int, window: int, fl: int,
    ts: tuple[int, int] | None, payload: bytes,
) -> None:  # fmt: skip
    opts = build_tcp_options(timestamps=ts)
    pkt = build_ipv6_tcp(SRC, DST, fl, 61, sport, dport, seq, ack, ACK | PSH, window, opts, payload)
    # The whole-packet builder equals the header builder + build_tcp6.
    assert pkt == build_ipv6(
        SRC, DST, PROTO_TCP, build_tcp6(SRC, DST, sport, dport, seq, ack, ACK | PSH, window, opts, payload),
        hop_limit=61, flow_label=fl,
    )  # fmt: skip
    sp = IPv6(pkt)
    t = sp[TCP]
    assert (sp.fl, sp.hlim, t.sport, t.dport, t.seq, t.ack, bytes(t.payload)) == (
        fl, 61, sport, dport, seq, ack, payload,
    )  # fmt: skip
    chk = t.chksum
    del t.chksum
    assert IPv6(bytes(sp))[TCP].chksum == chk  # Scapy recomputes the same checksum
    header, body = parse_ipv6(pkt)
    seg = parse_tcp6(body, header.src, header.dst)
    assert (seg.seq, seg.ack, seg.ts_val, bytes(seg.payload)) == (seq, ack, ts and ts[0], payload)


@settings(max_examples=60, deadline=None)
@given(sport=u16, dport=u16, seq=u32, payload=st.binary(max_size=300))
def test_tcp_built_by_scapy_parses_here(sport: int, dport: int, seq: int, payload: bytes) -> None:
    raw = bytes(
        IPv6(src=SRC_S, dst=DST_S)
        / TCP(
            sport=sport,
            dport=dport,
            seq=seq,
            flags="S",
            options=[("MSS", 1440), ("NOP", None), ("WScale", 7)],
        )
        / payload
    )
    header, body = parse_ipv6(raw)
    seg = parse_tcp6(body, header.src, header.dst)
    assert (seg.src_port, seg.dst_port, seg.seq, seg.flags, seg.mss, seg.wscale) == (
        sport, dport, seq, SYN, 1440, 7,
    )  # fmt: skip
    assert pure_parse_tcp(body, pseudo_header_sum6(SRC, DST, 0, 0), 0) == seg
    bad = bytearray(body)
    bad[-1 if payload else 4] ^= 1
    with pytest.raises(ChecksumError):
        parse_tcp6(bad, SRC, DST)
    with pytest.raises(ChecksumError):
        parse_tcp6(bytes(body), SRC, DST ^ 1)  # the pseudo-header covers the addresses
    # The IPv4 path with both addresses as 32-bit values is untouched.
    assert tcp_module.parse_tcp(bytes(body)).seq == seq


@settings(max_examples=60, deadline=None)
@given(sport=u16, dport=u16, payload=st.binary(max_size=300))
def test_udp_both_ways(sport: int, dport: int, payload: bytes) -> None:
    pkt = build_ipv6(SRC, DST, PROTO_UDP, build_udp6(SRC, DST, sport, dport, payload))
    sp = IPv6(pkt)
    u = sp[UDP]
    assert (u.sport, u.dport, u.len, bytes(u.payload)) == (sport, dport, 8 + len(payload), payload)
    chk = u.chksum
    assert chk != 0
    del u.chksum
    assert IPv6(bytes(sp))[UDP].chksum == chk
    raw = bytes(IPv6(src=SRC_S, dst=DST_S) / UDP(sport=sport, dport=dport) / payload)
    assert raw == pkt
    header, body = parse_ipv6(raw)
    d = parse_udp6(body, header.src, header.dst)
    assert (d.src_port, d.dst_port, d.checksum, bytes(d.payload)) == (sport, dport, chk, payload)


def test_udp_zero_checksum_rejected_and_never_sent() -> None:
    d = build_udp6(SRC, DST, 1, 2, b"hello")
    with pytest.raises(ChecksumError):
        parse_udp6(d[:6] + b"\x00\x00" + d[8:], SRC, DST)  # RFC 8200 8.1
    with pytest.raises(ChecksumError):
        parse_udp6(d[:-1] + b"X", SRC, DST)
    # A payload word that makes the sum 0xFFFF: the computed 0 is sent as 0xFFFF.
    partial = ones_sum(struct.pack("!HHH", 1000, 2000, 10), pseudo_header_sum6(SRC, DST, 17, 10))
    d = build_udp6(SRC, DST, 1000, 2000, struct.pack("!H", 0xFFFF - partial))
    assert d[6:8] == b"\xff\xff"
    assert internet_checksum(d, pseudo_header_sum6(SRC, DST, 17, 10)) == 0
    assert parse_udp6(d, SRC, DST).checksum == 0xFFFF
    with pytest.raises(TruncatedError):
        parse_udp6(d[:7], SRC, DST)
    assert len(build_udp6(SRC, DST, 1, 2, bytes(65527))) == 65535  # larger than IPv4 allows
    with pytest.raises(ValueError):
        build_udp6(SRC, DST, 1, 2, bytes(65528))


def test_builder_limits() -> None:
    with pytest.raises(ValueError):
        build_ipv6_tcp(SRC, DST, 0, 64, 1, 2, 3, 4, ACK, 5, b"\x01", b"")
    with pytest.raises(ValueError):
        build_ipv6_tcp(SRC, DST, 1 << 20, 64, 1, 2, 3, 4, ACK, 5, b"", b"")
    with pytest.raises(ValueError):
        build_ipv6_tcp(SRC, DST, 0, 64, 1, 2, 3, 4, ACK, 5, b"", bytes(65536 - 20))
