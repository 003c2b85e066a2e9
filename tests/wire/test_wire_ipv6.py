"""IPv6 header and extension-header codec against Scapy; the RFC 8200 4 walking rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import UDP
from scapy.layers.inet6 import (
    HBHOptUnknown,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
    RouterAlert,
)
from scapy.packet import Raw

from aionetstack.wire.errors import (
    BadHeaderError,
    BadOptionError,
    ParameterProblemError,
    TruncatedError,
)
from aionetstack.wire.ipv6 import (
    MAX_EXT_HEADERS,
    PROTO_DSTOPTS,
    PROTO_FRAGMENT,
    PROTO_HOPOPTS,
    PROTO_ICMPV6,
    PROTO_NONE,
    PROTO_ROUTING,
    PROTO_TCP,
    PROTO_UDP,
    Ipv6Header,
    build_fragment_header,
    build_ipv6,
    build_ipv6_header,
    build_options_header,
    build_routing_header,
    parse_ipv6,
)

SRC, DST = 0x2001_0002 << 96 | 2, 0x2001_0002 << 96 | 1
SRC_S, DST_S = "2001:2::2", "2001:2::1"
MCAST = 0xFF02 << 112 | 1  # ff02::1


def test_constants() -> None:
    assert (PROTO_HOPOPTS, PROTO_ROUTING, PROTO_FRAGMENT, PROTO_DSTOPTS) == (0, 43, 44, 60)
    assert (PROTO_TCP, PROTO_UDP, PROTO_ICMPV6, PROTO_NONE) == (6, 17, 58, 59)


@settings(max_examples=60, deadline=None)
@given(
    tc=st.integers(0, 255),
    fl=st.integers(0, 0xFFFFF),
    hlim=st.integers(0, 255),
    nh=st.sampled_from([PROTO_TCP, PROTO_UDP, PROTO_ICMPV6, PROTO_NONE, 132]),
    payload=st.binary(max_size=200),
)
def test_fixed_header_both_ways(tc: int, fl: int, hlim: int, nh: int, payload: bytes) -> None:
    pkt = build_ipv6(SRC, DST, nh, payload, hop_limit=hlim, traffic_class=tc, flow_label=fl)
    sp = IPv6(pkt)
    assert (sp.version, sp.tc, sp.fl, sp.plen, sp.nh, sp.hlim, sp.src, sp.dst) == (
        6, tc, fl, len(payload), nh, hlim, SRC_S, DST_S,
    )  # fmt: skip
    raw = bytes(IPv6(src=SRC_S, dst=DST_S, tc=tc, fl=fl, hlim=hlim, nh=nh) / Raw(payload))
    assert raw == pkt
    header, body = parse_ipv6(raw + b"\x00" * 3)  # link padding after the payload ignored
    assert header == Ipv6Header(6, tc, fl, len(payload), nh, hlim, SRC, DST, nh)
    assert bytes(body) == payload and header.total_length == 40 + len(payload)
    assert not header.has_fragment_header and not header.is_fragment


def test_extension_chain_built_by_scapy() -> None:
    ra = RouterAlert(value=0)
    raw = bytes(
        IPv6(src=SRC_S, dst=DST_S)
        / IPv6ExtHdrHopByHop(options=[ra])
        / IPv6ExtHdrDestOpt(options=[HBHOptUnknown(otype=0x1E, optdata=b"abcdef")])
        / IPv6ExtHdrRouting(type=0, segleft=0, addresses=[DST_S])
        / IPv6ExtHdrDestOpt()
        / UDP(sport=1, dport=2)
        / b"data"
    )
    header, body = parse_ipv6(raw)
    assert header.ext_headers == (PROTO_HOPOPTS, PROTO_DSTOPTS, PROTO_ROUTING, PROTO_DSTOPTS)
    assert header.protocol == PROTO_UDP
    assert header.header_len == 40 + 8 + 16 + 24 + 8
    assert header.nh_offset == 40 + 8 + 16 + 24  # the last Destination Options' Next Header
    assert (
        bytes(body[:6]) + bytes(body[8:])
        == bytes(UDP(sport=1, dport=2, chksum=0) / b"data")[:6] + b"data"
    )
    assert raw[header.nh_offset] == PROTO_UDP


def test_extension_chain_built_here_read_by_scapy() -> None:
    udp = bytes(UDP(sport=7, dport=9, chksum=0) / b"x")
    chain = (
        build_options_header(PROTO_ROUTING, bytes((5, 2, 0, 0)))  # Router Alert (RFC 2711)
        + build_routing_header(PROTO_DSTOPTS, 0, 0)
        + build_options_header(PROTO_UDP, bytes((0x1E, 3, 1, 2, 3)))
    )
    pkt = build_ipv6(SRC, DST, PROTO_HOPOPTS, chain + udp)
    sp = IPv6(pkt)
    assert sp[IPv6ExtHdrHopByHop].options[0].otype == 5
    assert sp[IPv6ExtHdrRouting].segleft == 0 and sp[UDP].dport == 9
    assert bytes(sp[IPv6ExtHdrDestOpt].options[0].optdata) == b"\x01\x02\x03"
    header, body = parse_ipv6(pkt)
    assert header.ext_headers == (PROTO_HOPOPTS, PROTO_ROUTING, PROTO_DSTOPTS)
    assert bytes(body) == udp
    for n in range(0, 15):  # every padding length: Pad1 or PadN, a multiple of 8
        opts = build_options_header(PROTO_NONE, bytes((0x1E, n)) + bytes(n))
        assert len(opts) % 8 == 0
        assert parse_ipv6(build_ipv6(SRC, DST, PROTO_DSTOPTS, opts))[0].protocol == PROTO_NONE
        assert (
            IPv6(build_ipv6(SRC, DST, PROTO_DSTOPTS, opts))[IPv6ExtHdrDestOpt].len
            == len(opts) // 8 - 1
        )


@pytest.mark.parametrize(("offset", "mf"), [(0, True), (1232, True), (2464, False)])
def test_fragments_both_ways(offset: int, mf: bool) -> None:
    data = bytes(UDP(sport=1, dport=2) / (b"z" * 1224)) if offset == 0 else b"y" * 1232
    raw = bytes(
        IPv6(src=SRC_S, dst=DST_S)
        / IPv6ExtHdrDestOpt()
        / IPv6ExtHdrFragment(nh=PROTO_UDP, offset=offset // 8, m=int(mf), id=0xDEADBEEF)
        / Raw(data)
    )
    header, body = parse_ipv6(raw)
    assert (header.frag_id, header.frag_offset, header.mf) == (0xDEADBEEF, offset, mf)
    assert header.is_fragment and header.has_fragment_header
    assert header.protocol == PROTO_UDP and header.ext_headers == (PROTO_DSTOPTS, PROTO_FRAGMENT)
    assert header.frag_header_offset == 48 and header.unfrag_nh_offset == 40
    assert header.header_len == 56 and bytes(body) == data
    built = build_ipv6(
        SRC, DST, PROTO_DSTOPTS,
        build_options_header(PROTO_FRAGMENT) + build_fragment_header(PROTO_UDP, offset, mf, 0xDEADBEEF) + data,
    )  # fmt: skip
    assert built == raw


def test_atomic_fragment_walks_on() -> None:
    # RFC 6946: offset 0, M clear: processed as a whole packet.
    raw = bytes(
        IPv6(src=SRC_S, dst=DST_S) / IPv6ExtHdrFragment(id=5) / IPv6ExtHdrDestOpt() / UDP() / b"a"
    )
    header, body = parse_ipv6(raw)
    assert header.has_fragment_header and not header.is_fragment
    assert header.frag_id == 5 and header.protocol == PROTO_UDP
    assert header.ext_headers == (PROTO_FRAGMENT, PROTO_DSTOPTS)
    assert len(body) == 9


def _problem(pkt: bytes) -> ParameterProblemError:
    with pytest.raises(ParameterProblemError) as info:
        parse_ipv6(pkt)
    exc = info.value
    assert isinstance(exc.header, Ipv6Header) and exc.header.src == SRC and exc.reason
    return exc


def test_unknown_option_actions() -> None:
    # RFC 8200 4.2: action bits 00 skip, 01 discard, 10 discard + ICMP, 11 ICMP unless multicast.
    for otype, send, send_mcast in (
        (0x1E, None, None),
        (0x5E, False, False),
        (0x9E, True, True),
        (0xDE, True, False),
    ):
        opts = build_options_header(PROTO_NONE, bytes((1, 0, otype, 0)))
        for dst, expect in ((DST, send), (MCAST, send_mcast)):
            pkt = build_ipv6(SRC, dst, PROTO_HOPOPTS, opts)
            if expect is None:
                assert parse_ipv6(pkt)[0].protocol == PROTO_NONE
                continue
            exc = _problem(pkt)
            assert (exc.code, exc.pointer, exc.send_icmp) == (2, 44, expect)
            assert pkt[exc.pointer] == otype
    # Scapy's Jumbo Payload option (0xC2) is unknown here: the pointer is its type byte.
    raw = bytes(
        IPv6(src=SRC_S, dst=DST_S)
        / IPv6ExtHdrDestOpt(options=[HBHOptUnknown(otype=0xC2, optdata=b"\0\0\0\0")])
    )
    assert _problem(raw).pointer == 42 and raw[42] == 0xC2


def test_header_rules() -> None:
    # RFC 8200 4.1: Hop-by-Hop after another header is an unrecognised Next Header.
    pkt = build_ipv6(
        SRC,
        DST,
        PROTO_DSTOPTS,
        build_options_header(PROTO_HOPOPTS) + build_options_header(PROTO_NONE),
    )
    exc = _problem(pkt)
    assert (exc.code, exc.pointer, exc.send_icmp) == (1, 40, True)
    assert exc.header.ext_headers == (PROTO_DSTOPTS,)
    # RFC 8200 4.4: Segments Left != 0 with a routing type this host does not process.
    raw = bytes(
        IPv6(src=SRC_S, dst=DST_S) / IPv6ExtHdrRouting(type=0, segleft=1, addresses=[DST_S]) / UDP()
    )
    exc = _problem(raw)
    assert (exc.code, exc.pointer) == (0, 42)
    # An upper layer this codec does not know is returned with the pointer to name it.
    header, _ = parse_ipv6(build_ipv6(SRC, DST, PROTO_DSTOPTS, build_options_header(253) + b"??"))
    assert (header.protocol, header.nh_offset) == (253, 40)


def test_fragment_rules() -> None:
    frag = build_fragment_header(PROTO_UDP, 8, True, 1)
    exc = _problem(build_ipv6(SRC, DST, PROTO_FRAGMENT, frag + b"x" * 12))
    assert (exc.code, exc.pointer) == (0, 4)  # M set, length not a multiple of 8
    frag = build_fragment_header(PROTO_UDP, 0xFFF8, False, 1)
    exc = _problem(build_ipv6(SRC, DST, PROTO_FRAGMENT, frag + b"x" * 16))
    assert (exc.code, exc.pointer) == (0, 42)  # ends past 65535: points at the offset
    # RFC 7112: a first fragment must hold the header chain through the upper layer.
    frag = build_fragment_header(PROTO_TCP, 0, True, 1)
    exc = _problem(build_ipv6(SRC, DST, PROTO_FRAGMENT, frag + b"x" * 16))
    assert (exc.code, exc.pointer) == (3, 0)
    frag = build_fragment_header(PROTO_DSTOPTS, 0, True, 1)
    exc = _problem(build_ipv6(SRC, DST, PROTO_FRAGMENT, frag + bytes((17, 2)) + bytes(14)))
    assert exc.code == 3
    ok = build_fragment_header(PROTO_TCP, 0, True, 1) + b"x" * 24
    assert parse_ipv6(build_ipv6(SRC, DST, PROTO_FRAGMENT, ok))[0].protocol == PROTO_TCP


def test_malformed() -> None:
    pkt = build_ipv6(SRC, DST, PROTO_UDP, b"12345678")
    for n in range(48):
        with pytest.raises(TruncatedError):
            parse_ipv6(pkt[:n])
    with pytest.raises(BadHeaderError):
        parse_ipv6(b"\x45" + pkt[1:])
    chain = build_ipv6(SRC, DST, PROTO_DSTOPTS, build_options_header(PROTO_UDP, bytes(6 * 8 + 4)))
    for n in range(40, len(chain)):
        cut = bytearray(chain[:n])
        cut[4:6] = (n - 40).to_bytes(2, "big")
        with pytest.raises(TruncatedError):
            parse_ipv6(bytes(cut))
    # RFC 8504 5.3: the chain is bounded.
    many = b"".join(build_options_header(PROTO_DSTOPTS) for _ in range(MAX_EXT_HEADERS))
    with pytest.raises(BadHeaderError):
        parse_ipv6(build_ipv6(SRC, DST, PROTO_DSTOPTS, many + build_options_header(PROTO_NONE)))
    assert parse_ipv6(
        build_ipv6(SRC, DST, PROTO_DSTOPTS, many[8:] + build_options_header(PROTO_NONE))
    )
    # Options: a length past the header, a missing length byte, padding over 7 bytes.
    for body in (bytes((0x1E, 9)) + bytes(4), bytes(5) + b"\x1e", bytes((1, 6)) + bytes(4)):
        with pytest.raises(BadOptionError):
            parse_ipv6(build_ipv6(SRC, DST, PROTO_DSTOPTS, bytes((PROTO_NONE, 0)) + body))


def test_builder_limits() -> None:
    assert len(build_ipv6_header(SRC, DST, PROTO_UDP, 65535)) == 40
    with pytest.raises(ValueError):
        build_ipv6_header(SRC, DST, PROTO_UDP, 65536)
    with pytest.raises(ValueError):
        build_ipv6_header(SRC, DST, PROTO_UDP, 0, flow_label=1 << 20)
    with pytest.raises(ValueError):
        build_fragment_header(PROTO_UDP, 12, False, 0)
    with pytest.raises(ValueError):
        build_options_header(PROTO_UDP, bytes(2048))
