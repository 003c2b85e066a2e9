"""ICMPv4 codec against Scapy; quoted headers matched back to the sender."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP, UDP

from aionetstack.wire.errors import BadHeaderError, ChecksumError, TruncatedError
from aionetstack.wire.icmp import (
    DEST_UNREACH,
    ECHO_REPLY,
    ECHO_REQUEST,
    FRAG_NEEDED,
    HOST_UNREACH,
    NET_UNREACH,
    PORT_UNREACH,
    PROTO_UNREACH,
    TIME_EXCEEDED,
    build_dest_unreachable,
    build_echo,
    build_time_exceeded,
    parse_icmp,
)
from aionetstack.wire.ipv4 import PROTO_ICMP, build_ipv4, parse_ipv4
from aionetstack.wire.tcp import SYN, build_ipv4_tcp
from aionetstack.wire.udp import build_udp

A, B = 0xC6120002, 0xC6120001
A_S, B_S = "198.18.0.2", "198.18.0.1"
u16 = st.integers(0, 0xFFFF)


def test_constants() -> None:
    assert (ECHO_REPLY, DEST_UNREACH, ECHO_REQUEST, TIME_EXCEEDED) == (0, 3, 8, 11)
    assert (NET_UNREACH, HOST_UNREACH, PROTO_UNREACH, PORT_UNREACH, FRAG_NEEDED) == (0, 1, 2, 3, 4)


@settings(max_examples=50, deadline=None)
@given(
    kind=st.sampled_from([ECHO_REQUEST, ECHO_REPLY]),
    ident=u16,
    seq=u16,
    payload=st.binary(max_size=200),
)
def test_echo_against_scapy(kind: int, ident: int, seq: int, payload: bytes) -> None:
    msg = build_echo(kind, ident, seq, payload)
    sp = IP(build_ipv4(A, B, PROTO_ICMP, msg))[ICMP]
    assert (sp.type, sp.code, sp.id, sp.seq, bytes(sp.payload)) == (kind, 0, ident, seq, payload)
    chk = sp.chksum
    del sp.chksum
    assert ICMP(bytes(sp)).chksum == chk and bytes(sp) == msg
    raw = bytes(IP(src=A_S, dst=B_S) / ICMP(type=kind, id=ident, seq=seq) / payload)
    m = parse_icmp(parse_ipv4(raw)[1])
    assert (m.type, m.code, m.ident, m.sequence, bytes(m.payload), m.quoted) == (
        kind,
        0,
        ident,
        seq,
        payload,
        None,
    )
    assert not m.is_error


@pytest.mark.parametrize("code", [NET_UNREACH, HOST_UNREACH, PROTO_UNREACH, PORT_UNREACH])
def test_unreachable_quotes_udp(code: int) -> None:
    original = build_ipv4(A, B, 17, build_udp(A, B, 40000, 53, b"query" * 20), ident=5)
    msg = build_dest_unreachable(code, original)
    assert len(msg) == 8 + 20 + 8  # header + 8 bytes (RFC 792)
    m = parse_icmp(msg)
    assert m.type == DEST_UNREACH and m.code == code and m.is_error and m.next_hop_mtu == 0
    assert m.quoted is not None
    q = m.quoted
    assert (q.header.src, q.header.dst, q.header.protocol, q.header.ident) == (A, B, 17, 5)
    assert q.header.total_length == len(original)  # the original's, not the quote's
    assert (q.src_port, q.dst_port, q.tcp_seq) == (40000, 53, None)
    # Scapy agrees on the whole thing.
    sp = IP(build_ipv4(B, A, PROTO_ICMP, msg))
    assert sp[ICMP].type == 3 and sp[ICMP].code == code
    assert sp["UDPerror"].sport == 40000 and sp["UDPerror"].dport == 53


def test_frag_needed_quotes_tcp() -> None:
    original = build_ipv4_tcp(A, B, 9, 64, 40001, 80, 0xABCDEF01, 0, SYN, 1000, b"", b"")
    msg = build_dest_unreachable(FRAG_NEEDED, original, next_hop_mtu=1280)
    m = parse_icmp(msg)
    assert m.code == FRAG_NEEDED and m.next_hop_mtu == 1280
    assert m.quoted is not None and (m.quoted.src_port, m.quoted.dst_port, m.quoted.tcp_seq) == (
        40001,
        80,
        0xABCDEF01,
    )
    sp = IP(build_ipv4(B, A, PROTO_ICMP, msg))
    assert sp[ICMP].nexthopmtu == 1280 and sp["TCPerror"].seq == 0xABCDEF01
    del sp[ICMP].chksum
    assert IP(bytes(sp))[ICMP].chksum == int.from_bytes(msg[2:4], "big")


def test_time_exceeded_from_scapy() -> None:
    # A router's quote, built by Scapy, of a TCP segment we sent.
    inner = IP(src=A_S, dst=B_S, ttl=1) / TCP(sport=40002, dport=443, seq=77) / (b"x" * 100)
    raw = bytes(IP(src="198.18.0.254", dst=A_S) / ICMP(type=11, code=0) / bytes(inner)[:28])
    m = parse_icmp(parse_ipv4(raw)[1])
    assert m.type == TIME_EXCEEDED and m.code == 0 and m.quoted is not None
    assert (m.quoted.src_port, m.quoted.dst_port, m.quoted.tcp_seq) == (40002, 443, 77)
    assert m.quoted.header.ttl == 1 and m.quoted.header.total_length == len(inner)
    msg = build_time_exceeded(0, bytes(inner))
    assert parse_icmp(msg).quoted == m.quoted


def test_quote_with_ip_options_and_full_quote() -> None:
    inner = bytes(IP(src=A_S, dst=B_S, options=b"\x94\x04\x00\x00") / UDP(sport=7, dport=9) / b"z")
    msg = build_dest_unreachable(PORT_UNREACH, inner)
    m = parse_icmp(msg)
    assert m.quoted is not None and m.quoted.header.header_len == 24 and m.quoted.src_port == 7
    # Linux quotes more than 8 bytes; that parses too.
    raw = bytes(ICMP(type=3, code=3) / inner)
    assert parse_icmp(raw).quoted == m.quoted


def test_malformed() -> None:
    good = build_dest_unreachable(PORT_UNREACH, build_ipv4(A, B, 17, build_udp(A, B, 1, 2, b"")))
    for n in range(len(good)):
        with pytest.raises((TruncatedError, ChecksumError)):
            parse_icmp(good[:n])
    with pytest.raises(ChecksumError):
        parse_icmp(good[:-1] + bytes([good[-1] ^ 1]))
    original = build_ipv4(A, B, 17, build_udp(A, B, 1, 2, b"abc"))
    short_quote = bytes(ICMP(type=3, code=1) / original[:24])  # header + 4 bytes only
    with pytest.raises(TruncatedError):
        parse_icmp(short_quote)
    v6 = bytes(ICMP(type=3, code=1) / (b"\x60" + bytes(27)))
    with pytest.raises(BadHeaderError):
        parse_icmp(v6)
    with pytest.raises(ValueError):
        build_echo(3, 1, 1)


def test_longer_quote_capped_at_576() -> None:
    original = build_ipv4(A, B, 17, build_udp(A, B, 5, 6, bytes(1000)))
    msg = build_dest_unreachable(PORT_UNREACH, original, quote_data=100)
    assert msg[8:] == original[:120]
    msg = build_time_exceeded(0, original, quote_data=5000)
    assert len(msg) == 576 - 20  # RFC 1812 4.3.2.3: whole datagram <= 576 bytes
    assert parse_icmp(msg).quoted == parse_icmp(build_time_exceeded(0, original)).quoted
