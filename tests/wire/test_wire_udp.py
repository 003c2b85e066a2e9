"""UDP codec against Scapy; the zero-checksum rule (RFC 768)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, UDP

from aionetstack.wire.checksum import ones_sum, pseudo_header_sum
from aionetstack.wire.errors import BadHeaderError, ChecksumError, TruncatedError
from aionetstack.wire.ipv4 import PROTO_UDP, build_ipv4, parse_ipv4
from aionetstack.wire.udp import UdpDatagram, build_udp, parse_udp

SRC, DST = 0xC6120002, 0xC6120001
SRC_S, DST_S = "198.18.0.2", "198.18.0.1"
u16 = st.integers(0, 0xFFFF)


@settings(max_examples=60, deadline=None)
@given(sport=u16, dport=u16, payload=st.binary(max_size=300))
def test_built_here_accepted_by_scapy(sport: int, dport: int, payload: bytes) -> None:
    pkt = build_ipv4(SRC, DST, PROTO_UDP, build_udp(SRC, DST, sport, dport, payload))
    sp = IP(pkt)
    udp = sp[UDP]
    assert (udp.sport, udp.dport, udp.len, bytes(udp.payload)) == (
        sport,
        dport,
        8 + len(payload),
        payload,
    )
    chk = udp.chksum
    assert chk != 0
    del udp.chksum
    assert IP(bytes(sp))[UDP].chksum == chk
    assert bytes(sp) == pkt


@settings(max_examples=60, deadline=None)
@given(sport=u16, dport=u16, payload=st.binary(max_size=300), padding=st.binary(max_size=8))
def test_built_by_scapy_parses_here(sport: int, dport: int, payload: bytes, padding: bytes) -> None:
    raw = bytes(IP(src=SRC_S, dst=DST_S) / UDP(sport=sport, dport=dport) / payload)
    header, body = parse_ipv4(raw)
    d = parse_udp(bytes(body) + padding, header.src, header.dst)  # bytes after length ignored
    assert d == UdpDatagram(sport, dport, 8 + len(payload), IP(raw)[UDP].chksum, payload)


def test_zero_checksum_means_none() -> None:
    d = build_udp(SRC, DST, 1, 2, b"hello")
    unchecked = d[:6] + b"\x00\x00" + d[8:]
    assert parse_udp(unchecked, SRC, DST).checksum == 0  # accepted without verification
    bad = d[:-1] + b"X"
    with pytest.raises(ChecksumError):
        parse_udp(bad, SRC, DST)
    assert bytes(parse_udp(bad).payload) == b"hellX"  # no addresses: not verified


def test_computed_zero_is_sent_as_ffff() -> None:
    # Choose a payload word that makes the sum 0xFFFF, so the complement is 0.
    sport, dport = 1000, 2000
    length = 10
    partial = ones_sum(
        struct.pack("!HHH", sport, dport, length), pseudo_header_sum(SRC, DST, 17, length)
    )
    word = 0xFFFF - partial
    d = build_udp(SRC, DST, sport, dport, struct.pack("!H", word))
    assert d[6:8] == b"\xff\xff"
    assert parse_udp(d, SRC, DST).checksum == 0xFFFF


def test_malformed() -> None:
    d = build_udp(SRC, DST, 1, 2, b"abcdef")
    for n in range(8):
        with pytest.raises(TruncatedError):
            parse_udp(d[:n])
    with pytest.raises(TruncatedError):
        parse_udp(d[:-1])  # length field says 14
    with pytest.raises(BadHeaderError):
        parse_udp(d[:4] + b"\x00\x07" + d[6:])
    with pytest.raises(ValueError):
        build_udp(SRC, DST, 1, 2, bytes(65535 - 27))
