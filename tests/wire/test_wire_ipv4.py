"""IPv4 codec against Scapy as an independent oracle, plus malformed input."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP
from scapy.packet import Raw

from aionetstack.wire.checksum import internet_checksum
from aionetstack.wire.errors import (
    BadHeaderError,
    BadOptionError,
    ChecksumError,
    TruncatedError,
    WireError,
)
from aionetstack.wire.ipv4 import (
    IPV4_HEADER_LEN,
    PROTO_ICMP,
    PROTO_TCP,
    PROTO_UDP,
    Ipv4Header,
    build_ipv4,
    build_ipv4_header,
    parse_ipv4,
)

SRC = 0xC6120002  # 198.18.0.2
DST = 0xC6120001

u32 = st.integers(0, 0xFFFFFFFF)
payloads = st.binary(max_size=300)


def test_constants() -> None:
    assert (PROTO_ICMP, PROTO_TCP, PROTO_UDP, IPV4_HEADER_LEN) == (1, 6, 17, 20)


def test_build_parse_round_trip() -> None:
    pkt = build_ipv4(SRC, DST, PROTO_UDP, b"hello", ident=77, ttl=9, tos=0x10)
    header, payload = parse_ipv4(pkt)
    assert isinstance(payload, memoryview)
    assert bytes(payload) == b"hello"
    assert header == Ipv4Header(
        4, 20, 0x10, 25, 77, True, False, 0, 9, 17, header.checksum, SRC, DST, b""
    )
    assert internet_checksum(pkt[:20]) == 0
    assert not header.is_fragment and header.payload_len == 5


@settings(max_examples=60, deadline=None)
@given(
    tos=st.integers(0, 255),
    ident=st.integers(0, 0xFFFF),
    df=st.booleans(),
    mf=st.booleans(),
    frag=st.integers(0, 0x1FFF),
    ttl=st.integers(0, 255),
    proto=st.integers(0, 255),
    src=u32,
    dst=u32,
    payload=payloads,
)
def test_built_here_accepted_by_scapy(
    tos: int, ident: int, df: bool, mf: bool, frag: int, ttl: int, proto: int,
    src: int, dst: int, payload: bytes,
) -> None:  # fmt: skip
    pkt = build_ipv4(
        src, dst, proto, payload, ident=ident, ttl=ttl, df=df, mf=mf, frag_offset=frag * 8, tos=tos
    )
    sp = IP(pkt)
    assert sp.version == 4 and sp.ihl == 5 and sp.len == len(pkt)
    assert (sp.tos, sp.id, sp.frag, sp.ttl, sp.proto) == (tos, ident, frag, ttl, proto)
    assert bool(sp.flags.DF) == df and bool(sp.flags.MF) == mf
    assert sp.src == _dotted(src) and sp.dst == _dotted(dst)
    chk = sp.chksum
    # rebuild from the header alone: a payload Scapy dissects as an upper layer
    # changes the IP layer it sits on (IGMP, protocol 2 once scapy.all is
    # loaded, adds a Router Alert option to it on dissection)
    hdr = IP(pkt[:20])
    del hdr.chksum
    rebuilt = bytes(hdr / Raw(payload))
    assert rebuilt == pkt
    assert IP(rebuilt).chksum == chk


@settings(max_examples=60, deadline=None)
@given(
    tos=st.integers(0, 255),
    ident=st.integers(0, 0xFFFF),
    flags=st.integers(0, 7),
    frag=st.integers(0, 0x1FFF),
    ttl=st.integers(0, 255),
    proto=st.integers(0, 255),
    src=u32,
    dst=u32,
    payload=payloads,
    nops=st.integers(0, 10),
    padding=st.binary(max_size=20),
)
def test_built_by_scapy_parses_here(
    tos: int, ident: int, flags: int, frag: int, ttl: int, proto: int, src: int, dst: int,
    payload: bytes, nops: int, padding: bytes,
) -> None:  # fmt: skip
    # Options: NOPs, then a Router Alert (RFC 2113), padded by Scapy with EOL.
    options = b"\x01" * nops + b"\x94\x04\x00\x00"
    sp = IP(
        tos=tos, id=ident, flags=flags, frag=frag, ttl=ttl, proto=proto,
        src=_dotted(src), dst=_dotted(dst), options=options,
    ) / payload  # fmt: skip
    raw = bytes(sp)
    header, body = parse_ipv4(raw + padding)  # link padding after total length is ignored
    assert bytes(body) == payload
    assert header.header_len == IP(raw).ihl * 4 > 20
    assert header.options == raw[20 : header.header_len]
    assert header.total_length == len(raw)
    assert (header.tos, header.ident, header.ttl, header.protocol) == (tos, ident, ttl, proto)
    assert header.df == bool(flags & 2) and header.mf == bool(flags & 1)
    assert header.frag_offset == frag * 8
    assert (header.src, header.dst) == (src, dst)
    assert header.checksum == IP(raw).chksum


def test_truncated_and_bad_headers() -> None:
    pkt = build_ipv4(SRC, DST, PROTO_TCP, bytes(40))
    for n in range(20):
        with pytest.raises(TruncatedError):
            parse_ipv4(pkt[:n])
    for n in range(20, len(pkt)):
        with pytest.raises(TruncatedError):
            parse_ipv4(pkt[:n])  # total length claims more than the buffer
    with pytest.raises(BadHeaderError):
        parse_ipv4(b"\x65" + pkt[1:])  # version 6
    with pytest.raises(BadHeaderError):
        parse_ipv4(_fix(b"\x44" + pkt[1:]))  # IHL 4
    short_total = bytearray(pkt)
    short_total[2:4] = (19).to_bytes(2, "big")
    with pytest.raises(BadHeaderError):
        parse_ipv4(_fix(bytes(short_total)))
    big_ihl = bytearray(pkt)
    big_ihl[0] = 0x4F  # 60-byte header in a 60-byte packet: fine if options are NOPs...
    big_ihl[20:60] = b"\x01" * 40
    header, payload = parse_ipv4(_fix(bytes(big_ihl)))
    assert header.header_len == 60 and len(payload) == 0
    big_ihl[2:4] = (40).to_bytes(2, "big")  # ...but not when total length < IHL
    with pytest.raises(BadHeaderError):
        parse_ipv4(_fix(bytes(big_ihl)))


def test_checksum() -> None:
    pkt = bytearray(build_ipv4(SRC, DST, PROTO_UDP, b"x" * 10))
    pkt[8] ^= 1  # TTL changes, checksum stale
    with pytest.raises(ChecksumError) as info:
        parse_ipv4(bytes(pkt))
    assert isinstance(info.value, WireError) and "checksum" in info.value.reason
    header, _ = parse_ipv4(bytes(pkt), verify_checksum=False)
    assert header.ttl == 64 ^ 1


@pytest.mark.parametrize(
    "options",
    [
        b"\x01\x01\x01\x07",  # NOPs then a kind without a length byte
        b"\x07\x00\x00\x00",  # length 0
        b"\x07\x01\x00\x00",  # length 1
        b"\x07\x08\x00\x00",  # runs past the header
        b"\x01\x01\x83\x05",  # NOPs then an option running past the header
    ],
)
def test_malformed_options(options: bytes) -> None:
    with pytest.raises(BadOptionError):
        parse_ipv4(_with_options(options))


def test_options_eol_stops_walk() -> None:
    header, _ = parse_ipv4(_with_options(b"\x00\x07\x00\x00"))  # garbage after EOL is ignored
    assert header.options == b"\x00\x07\x00\x00"


def test_fragments() -> None:
    pkt = build_ipv4(SRC, DST, PROTO_UDP, bytes(8), mf=True, df=False, frag_offset=1480)
    header, _ = parse_ipv4(pkt)
    assert header.mf and not header.df and header.frag_offset == 1480 and header.is_fragment
    assert IP(pkt).frag == 185


def test_build_misuse() -> None:
    with pytest.raises(ValueError):
        build_ipv4_header(SRC, DST, 6, 0, frag_offset=3)
    with pytest.raises(ValueError):
        build_ipv4_header(SRC, DST, 6, 65535 - 19)
    assert len(build_ipv4_header(SRC, DST, 6, 65535 - 20)) == 20


def test_accepts_bytearray_and_memoryview() -> None:
    pkt = build_ipv4(SRC, DST, PROTO_UDP, b"abc")
    for buf in (bytearray(pkt), memoryview(pkt), memoryview(b"zz" + pkt)[2:]):
        header, payload = parse_ipv4(buf)
        assert header.src == SRC and bytes(payload) == b"abc"


def _dotted(value: int) -> str:
    return ".".join(str(b) for b in value.to_bytes(4, "big"))


def _fix(pkt: bytes) -> bytes:
    """Recompute the header checksum of ``pkt`` (header length from IHL, at least 20)."""
    hlen = max(20, min((pkt[0] & 0xF) * 4, len(pkt)))
    b = bytearray(pkt)
    b[10:12] = b"\x00\x00"
    b[10:12] = struct.pack("!H", internet_checksum(bytes(b[:hlen])))
    return bytes(b)


def _with_options(options: bytes) -> bytes:
    assert len(options) % 4 == 0
    hlen = 20 + len(options)
    base = bytearray(build_ipv4(SRC, DST, PROTO_UDP, b"payload"))
    base[0] = 0x40 | (hlen // 4)
    base[2:4] = (len(base) + len(options)).to_bytes(2, "big")
    return _fix(bytes(base[:20]) + options + bytes(base[20:]))
