"""TCP codec against Scapy as an independent oracle; options; malformed input."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP

from aionetstack.wire.checksum import internet_checksum, pseudo_header_sum
from aionetstack.wire.errors import BadHeaderError, BadOptionError, ChecksumError, TruncatedError
from aionetstack.wire.ipv4 import parse_ipv4
from aionetstack.wire.tcp import (
    ACK,
    CWR,
    ECE,
    FIN,
    PSH,
    RST,
    SYN,
    URG,
    TcpSegment,
    build_ipv4_tcp,
    build_tcp,
    build_tcp_options,
    flags_to_str,
    parse_tcp,
)

SRC = 0xC6120002
DST = 0xC6120001
SRC_S = "198.18.0.2"
DST_S = "198.18.0.1"

u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
blocks = st.lists(st.tuples(u32, u32), min_size=1, max_size=4)


def test_flag_values() -> None:
    assert (FIN, SYN, RST, PSH, ACK, URG, ECE, CWR) == (1, 2, 4, 8, 16, 32, 64, 128)
    assert flags_to_str(SYN | ACK) == "S." and flags_to_str(0) == "none"


def test_linux_option_layouts() -> None:
    # The SYN layout of Linux: MSS, SACK_PERM + TS, NOP WS.
    syn = build_tcp_options(mss=1460, wscale=7, sack_permitted=True, timestamps=(1, 2))
    assert syn.hex() == "020405b40402080a000000010000000201030307"
    assert build_tcp_options(timestamps=(3, 4)).hex() == "0101080a0000000300000004"
    assert build_tcp_options(sack_permitted=True).hex() == "01010402"
    assert build_tcp_options(mss=536).hex() == "02040218"
    assert build_tcp_options() == b""
    sack = build_tcp_options(timestamps=(1, 2), sack_blocks=[(10, 20), (30, 40)])
    assert sack[12:16].hex() == "01010512"  # NOP NOP SACK, length 2 + 2 * 8
    assert len(sack) == 12 + 4 + 16
    # 4 blocks do not fit beside timestamps: the last is dropped (40-byte limit).
    four = [(1, 2), (3, 4), (5, 6), (7, 8)]
    assert len(build_tcp_options(timestamps=(1, 2), sack_blocks=four)) == 40
    assert parse_tcp(
        _seg(build_tcp_options(timestamps=(1, 2), sack_blocks=four))
    ).sack_blocks == tuple(four[:3])
    assert parse_tcp(_seg(build_tcp_options(sack_blocks=four))).sack_blocks == tuple(four)
    for opts in (syn, sack):
        assert len(opts) % 4 == 0


@settings(max_examples=60, deadline=None)
@given(
    mss=st.none() | u16,
    wscale=st.none() | st.integers(0, 14),
    sack_permitted=st.booleans(),
    timestamps=st.none() | st.tuples(u32, u32),
    sack=st.lists(st.tuples(u32, u32), max_size=4),
    flags=st.integers(0, 255),
    seq=u32,
    ack=u32,
    window=u16,
    urgent=u16,
    payload=st.binary(max_size=200),
)
def test_built_here_accepted_by_scapy(
    mss: int | None, wscale: int | None, sack_permitted: bool, timestamps: tuple[int, int] | None,
    sack: list[tuple[int, int]], flags: int, seq: int, ack: int, window: int, urgent: int,
    payload: bytes,
) -> None:  # fmt: skip
    opts = build_tcp_options(
        mss=mss, wscale=wscale, sack_permitted=sack_permitted, timestamps=timestamps,
        sack_blocks=sack,
    )  # fmt: skip
    seg = build_tcp(SRC, DST, 40000, 443, seq, ack, flags, window, opts, payload, urgent)
    assert internet_checksum(seg, pseudo_header_sum(SRC, DST, 6, len(seg))) == 0
    pkt = IP(src=SRC_S, dst=DST_S, proto=6) / TCP(seg)
    tcp = pkt[TCP]
    assert (tcp.sport, tcp.dport, tcp.seq, tcp.ack) == (40000, 443, seq, ack)
    assert (int(tcp.flags), tcp.window, tcp.urgptr, tcp.dataofs) == (
        flags,
        window,
        urgent,
        5 + len(opts) // 4,
    )
    sopts = dict((k, v) for k, v in tcp.options if k not in ("NOP", "EOL"))
    assert sopts.get("MSS") == mss
    assert sopts.get("WScale") == wscale
    assert ("SAckOK" in sopts) == sack_permitted
    assert sopts.get("Timestamp") == timestamps
    parsed = parse_tcp(seg, SRC, DST)
    assert sopts.get("SAck", ()) == tuple(x for b in parsed.sack_blocks for x in b)
    assert bytes(tcp.payload) == payload
    # Scapy recomputes the checksum to the same value.
    chk = tcp.chksum
    del tcp.chksum
    assert bytes(pkt[TCP]) == seg and TCP(bytes(pkt)[20:]).chksum == chk
    # And the whole-packet builder agrees with build_tcp + Scapy's IP layer.
    whole = build_ipv4_tcp(SRC, DST, 99, 64, 40000, 443, seq, ack, flags, window, opts, payload)
    if urgent == 0:
        assert whole[20:] == seg
    sp = IP(whole)
    assert sp.id == 99 and sp.ttl == 64 and sp.flags.DF and sp.proto == 6 and sp.len == len(whole)
    ip_ck, tcp_ck = sp.chksum, sp[TCP].chksum
    del sp.chksum
    del sp[TCP].chksum
    rebuilt = IP(bytes(sp))
    assert (rebuilt.chksum, rebuilt[TCP].chksum) == (ip_ck, tcp_ck)
    assert bytes(sp) == whole


@settings(max_examples=60, deadline=None)
@given(
    options=st.lists(
        st.one_of(
            st.just(("NOP", None)),
            st.tuples(st.just("MSS"), u16),
            st.tuples(st.just("WScale"), st.integers(0, 255)),
            st.just(("SAckOK", b"")),
            st.tuples(st.just("Timestamp"), st.tuples(u32, u32)),
            st.tuples(st.just("SAck"), blocks.map(lambda bs: tuple(x for b in bs for x in b))),
        ),
        max_size=6,
    ),
    flags=st.integers(0, 255),
    seq=u32,
    ack=u32,
    window=u16,
    payload=st.binary(max_size=100),
)
def test_built_by_scapy_parses_here(
    options: list[tuple[str, object]], flags: int, seq: int, ack: int, window: int, payload: bytes
) -> None:
    tcp = TCP(sport=1234, dport=80, seq=seq, ack=ack, flags=flags, window=window, options=options)
    raw = bytes(IP(src=SRC_S, dst=DST_S) / tcp / payload)
    if len(raw) - 20 - len(payload) > 60:
        return  # Scapy let the options overflow the 40-byte area; not a valid segment
    header, body = parse_ipv4(raw)
    seg = parse_tcp(body, header.src, header.dst)
    expect = IP(raw)[TCP]
    assert (seg.src_port, seg.dst_port, seg.seq, seg.ack) == (1234, 80, seq, ack)
    assert (seg.flags, seg.window, seg.header_len) == (flags, window, expect.dataofs * 4)
    assert seg.checksum == expect.chksum
    assert bytes(seg.payload) == payload
    # The last occurrence of each option wins, as when a stack walks them in order.
    last = dict(options)
    assert seg.mss == last.get("MSS")
    assert seg.wscale == last.get("WScale")
    assert seg.sack_permitted == ("SAckOK" in last)
    ts = last.get("Timestamp")
    assert (seg.ts_val, seg.ts_ecr) == (ts if isinstance(ts, tuple) else (None, None))
    sack = last.get("SAck")
    flat = tuple(x for b in seg.sack_blocks for x in b)
    assert flat == (sack if sack is not None else ())


def test_fast_path_equals_general_path() -> None:
    payload = b"data" * 100
    fast = _seg(build_tcp_options(timestamps=(0xDEADBEEF, 7)), payload)
    # The same options in another layout take the general walker.
    slow = _seg(b"\x08\x0a" + struct.pack("!II", 0xDEADBEEF, 7) + b"\x01\x01", payload)
    a, b = parse_tcp(fast, SRC, DST), parse_tcp(slow, SRC, DST)
    assert (a.ts_val, a.ts_ecr) == (b.ts_val, b.ts_ecr) == (0xDEADBEEF, 7)
    a.checksum = b.checksum = 0
    assert a == b
    none = parse_tcp(_seg(b"", payload), SRC, DST)
    assert none.header_len == 20 and none.ts_val is None and bytes(none.payload) == payload


def test_record_fields_and_seg_len() -> None:
    seg = parse_tcp(_seg(b"", b"abc", flags=SYN | FIN | ECE | CWR))
    assert seg.flags & ECE and seg.flags & CWR
    assert seg.seg_len == 5
    built = TcpSegment(1, 2, 3, 4, ACK, 5)
    assert built.payload == b"" and built.sack_blocks == () and built.mss is None
    assert "TcpSegment(" in repr(seg)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        (b"\x01\x01\x02\x04", BadOptionError),  # MSS cut off by the data offset
        (b"\x02\x03\x05\x00", BadOptionError),  # MSS length 3
        (b"\x03\x04\x07\x00", BadOptionError),  # WS length 4
        (b"\x04\x03\x00\x00", BadOptionError),  # SACK-permitted length 3
        (b"\x08\x09" + bytes(7) + b"\x00" * 3, BadOptionError),  # TS length 9
        (b"\x05\x0b" + bytes(9) + b"\x00", BadOptionError),  # SACK length 11
        (b"\x05\x02\x00\x00", BadOptionError),  # SACK with no block
        (b"\x1e\x00\x00\x00", BadOptionError),  # unknown kind, length 0
        (b"\x1e\x01\x00\x00", BadOptionError),  # unknown kind, length 1
        (b"\x01\x01\x01\x1e", BadOptionError),  # kind with no length byte
        (b"\x1e\x08\x00\x00", BadOptionError),  # runs past the data offset
    ],
)
def test_malformed_options(options: bytes, error: type[Exception]) -> None:
    options = options + b"\x00" * (-len(options) % 4)
    with pytest.raises(error):
        parse_tcp(_seg(options))


def test_unknown_options_skipped_and_eol() -> None:
    opts = b"\x1e\x06abcd" + b"\x02\x04\x05\xb4" + b"\x00\x02\x01\x00"  # EOL, then garbage
    seg = parse_tcp(_seg(opts))
    assert seg.mss == 1460 and seg.header_len == 32
    # 4 SACK blocks (34 bytes) + NOP NOP fill the 40-byte option space.
    four = b"\x01\x01\x05\x22" + b"".join(struct.pack("!II", i, i + 1) for i in range(4))
    assert parse_tcp(_seg(four)).sack_blocks == ((0, 1), (1, 2), (2, 3), (3, 4))


def test_header_errors() -> None:
    good = _seg(b"\x01\x01\x01\x01", b"xyz")
    for n in range(20):
        with pytest.raises(TruncatedError):
            parse_tcp(good[:n])
    with pytest.raises(TruncatedError):
        parse_tcp(good[:23])  # data offset 6 = 24 bytes
    bad = bytearray(good)
    bad[12] = 0x40  # data offset 4
    with pytest.raises(BadHeaderError):
        parse_tcp(bytes(bad))
    flipped = bytearray(good)
    flipped[-1] ^= 0xFF
    with pytest.raises(ChecksumError):
        parse_tcp(bytes(flipped), SRC, DST)
    parse_tcp(bytes(flipped))  # no addresses: not verified
    with pytest.raises(ChecksumError):
        parse_tcp(good, SRC, DST + 1)  # wrong pseudo-header
    assert parse_tcp(good, SRC, DST).src_port == 1234


def test_payload_is_a_view() -> None:
    pkt = build_ipv4_tcp(SRC, DST, 1, 64, 1, 2, 3, 4, ACK, 5, b"", bytearray(b"odd"))
    _header, body = parse_ipv4(pkt)
    seg = parse_tcp(body, SRC, DST)
    assert isinstance(seg.payload, memoryview) and bytes(seg.payload) == b"odd"
    seg2 = parse_tcp(bytearray(body), SRC, DST)
    assert isinstance(seg2.payload, memoryview)


def test_build_misuse() -> None:
    with pytest.raises(ValueError):
        build_tcp(SRC, DST, 1, 2, 3, 4, ACK, 5, b"\x01\x01\x01")
    with pytest.raises(ValueError):
        build_ipv4_tcp(SRC, DST, 1, 64, 1, 2, 3, 4, ACK, 5, b"\x01" * 44, b"")
    with pytest.raises(ValueError):
        build_ipv4_tcp(SRC, DST, 1, 64, 1, 2, 3, 4, ACK, 5, b"", bytes(65535 - 39))
    assert len(build_ipv4_tcp(SRC, DST, 1, 64, 1, 2, 3, 4, ACK, 5, b"", bytes(65535 - 40))) == 65535


def _seg(options: bytes, payload: bytes = b"", flags: int = ACK) -> bytes:
    """A TCP segment with raw ``options`` and a valid checksum for SRC -> DST."""
    hlen = 20 + len(options)
    hdr = struct.pack("!HHIIBBHHH", 1234, 80, 1, 2, (hlen // 4) << 4, flags, 1000, 0, 0)
    seg = bytearray(hdr + options + payload)
    ck = internet_checksum(seg, pseudo_header_sum(SRC, DST, 6, len(seg)))
    seg[16:18] = struct.pack("!H", ck)
    return bytes(seg)
