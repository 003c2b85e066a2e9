"""ICMPv6 codec against Scapy; quoted packets matched back to the sender (RFC 4443)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import TCP, UDP, UDPerror
from scapy.layers.inet6 import (
    ICMPv6DestUnreach,
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6MLDone,
    ICMPv6MLQuery,
    ICMPv6MLReport,
    ICMPv6MLReport2,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6ND_RA,
    ICMPv6ND_Redirect,
    ICMPv6ND_RS,
    ICMPv6PacketTooBig,
    ICMPv6ParamProblem,
    ICMPv6TimeExceeded,
    IPerror6,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
)
from scapy.packet import Packet, Raw

from aionetstack.wire.errors import BadHeaderError, ChecksumError, TruncatedError
from aionetstack.wire.icmpv6 import (
    ADDR_UNREACH,
    DEST_UNREACH,
    ECHO_REPLY,
    ECHO_REQUEST,
    FRAG_REASSEMBLY_EXCEEDED,
    HOP_LIMIT_EXCEEDED,
    MAX_QUOTE,
    MLD_TYPES,
    ND_TYPES,
    NO_ROUTE,
    PACKET_TOO_BIG,
    PARAM_PROBLEM,
    PORT_UNREACH,
    TIME_EXCEEDED,
    UNRECOGNIZED_NEXT_HEADER,
    build_dest_unreachable,
    build_echo,
    build_packet_too_big,
    build_param_problem,
    build_time_exceeded,
    may_send_error,
    parse_icmpv6,
)
from aionetstack.wire.ipv6 import (
    PROTO_DSTOPTS,
    PROTO_FRAGMENT,
    PROTO_ICMPV6,
    PROTO_UDP,
    build_fragment_header,
    build_ipv6,
    build_options_header,
    parse_ipv6,
)
from aionetstack.wire.tcp import SYN, build_ipv6_tcp
from aionetstack.wire.udp import build_udp6

A, B = 0x2001_0002 << 96 | 2, 0x2001_0002 << 96 | 1
A_S, B_S = "2001:2::2", "2001:2::1"
u16 = st.integers(0, 0xFFFF)


def _scapy_checksum_ok(pkt: bytes, layer: type[Packet]) -> None:
    sp = IPv6(pkt)
    chk = sp[layer].cksum
    del sp[layer].cksum
    assert IPv6(bytes(sp))[layer].cksum == chk


def _parse(raw: bytes):  # type: ignore[no-untyped-def]
    header, body = parse_ipv6(raw)
    assert header.protocol == PROTO_ICMPV6
    return parse_icmpv6(body, header.src, header.dst)


@settings(max_examples=50, deadline=None)
@given(
    kind=st.sampled_from([ECHO_REQUEST, ECHO_REPLY]),
    ident=u16,
    seq=u16,
    data=st.binary(max_size=200),
)
def test_echo_both_ways(kind: int, ident: int, seq: int, data: bytes) -> None:
    layer = ICMPv6EchoRequest if kind == ECHO_REQUEST else ICMPv6EchoReply
    pkt = build_ipv6(A, B, PROTO_ICMPV6, build_echo(A, B, kind, ident, seq, data))
    sp = IPv6(pkt)[layer]
    assert (sp.type, sp.code, sp.id, sp.seq, bytes(sp.data)) == (kind, 0, ident, seq, data)
    _scapy_checksum_ok(pkt, layer)
    raw = bytes(IPv6(src=A_S, dst=B_S) / layer(id=ident, seq=seq, data=data))
    assert raw == pkt
    m = _parse(raw)
    assert (m.type, m.code, m.ident, m.sequence, bytes(m.payload), m.quoted) == (
        kind,
        0,
        ident,
        seq,
        data,
        None,
    )
    assert not m.is_error and not m.is_nd and not m.is_mld


def test_checksum_covers_pseudo_header() -> None:
    msg = build_echo(A, B, ECHO_REQUEST, 1, 2, b"x")
    assert parse_icmpv6(msg, A, B).ident == 1
    with pytest.raises(ChecksumError):
        parse_icmpv6(msg, A, B ^ 1)
    with pytest.raises(ChecksumError):
        parse_icmpv6(msg[:-1] + b"y", A, B)
    with pytest.raises(TruncatedError):
        parse_icmpv6(msg[:7], A, B)
    with pytest.raises(ValueError):
        build_echo(A, B, 3, 0, 0)


@pytest.mark.parametrize("code", [NO_ROUTE, ADDR_UNREACH, PORT_UNREACH])
def test_unreachable_quotes_udp(code: int) -> None:
    original = build_ipv6(A, B, PROTO_UDP, build_udp6(A, B, 40000, 53, b"query" * 20), flow_label=9)
    msg = build_dest_unreachable(B, A, code, original)
    assert len(msg) == 8 + len(original)  # it all fits: quoted whole (RFC 4443 2.4(c))
    m = parse_icmpv6(msg, B, A)
    assert (m.type, m.code, m.is_error, m.mtu, m.pointer) == (DEST_UNREACH, code, True, 0, 0)
    assert m.quoted is not None
    q = m.quoted
    assert (q.header.src, q.header.dst, q.header.protocol, q.header.flow_label) == (A, B, 17, 9)
    assert (q.src_port, q.dst_port, q.tcp_seq) == (40000, 53, None)
    pkt = build_ipv6(B, A, PROTO_ICMPV6, msg)
    sp = IPv6(pkt)
    assert sp[ICMPv6DestUnreach].code == code
    assert sp[IPerror6].src == A_S and sp[UDPerror].sport == 40000
    _scapy_checksum_ok(pkt, ICMPv6DestUnreach)


def test_errors_built_by_scapy_reach_the_tcp_sender() -> None:
    inner = (
        IPv6(src=A_S, dst=B_S)
        / IPv6ExtHdrDestOpt()
        / TCP(sport=5555, dport=80, seq=123456, flags="S")
    )
    for layer, kind, field in (
        (ICMPv6PacketTooBig(mtu=1280), PACKET_TOO_BIG, "mtu"),
        (ICMPv6TimeExceeded(code=1), TIME_EXCEEDED, None),
        (ICMPv6ParamProblem(code=1, ptr=40), PARAM_PROBLEM, "pointer"),
        (ICMPv6DestUnreach(code=4), DEST_UNREACH, None),
    ):
        m = _parse(bytes(IPv6(src=B_S, dst=A_S) / layer / inner))
        assert m.type == kind and m.is_error and m.quoted is not None
        q = m.quoted
        assert (q.src_port, q.dst_port, q.tcp_seq) == (5555, 80, 123456)
        assert q.header.ext_headers == (60,) and q.header.src == A
        if field == "mtu":
            assert m.mtu == 1280
        if field == "pointer":
            assert m.pointer == 40 and m.code == UNRECOGNIZED_NEXT_HEADER


def test_quote_cut_and_quoted_fragments() -> None:
    big = build_ipv6_tcp(A, B, 0, 64, 1, 2, 3, 4, SYN, 5, b"", bytes(1400))
    msg = build_packet_too_big(B, A, 1280, big)
    assert len(msg) == 8 + MAX_QUOTE == 1280 - 40  # RFC 4443 2.4(c)
    m = parse_icmpv6(msg, B, A)
    assert m.mtu == 1280 and m.quoted is not None and m.quoted.tcp_seq == 3
    assert m.quoted.header.payload_length == 1420  # the original's, longer than the quote
    pkt = build_ipv6(B, A, PROTO_ICMPV6, msg)
    assert len(pkt) == 1280 and IPv6(pkt)[ICMPv6PacketTooBig].mtu == 1280
    _scapy_checksum_ok(pkt, ICMPv6PacketTooBig)
    # A quoted later fragment holds no ports; a quoted first fragment does.
    later = bytes(
        IPv6(src=A_S, dst=B_S) / IPv6ExtHdrFragment(nh=17, offset=10, m=1) / Raw(b"x" * 16)
    )
    q = parse_icmpv6(build_time_exceeded(B, A, FRAG_REASSEMBLY_EXCEEDED, later), B, A).quoted
    assert q is not None and (q.src_port, q.header.frag_offset, q.header.protocol) == (0, 80, 17)
    first = bytes(
        IPv6(src=A_S, dst=B_S) / IPv6ExtHdrFragment(nh=17, m=1) / UDP(sport=7, dport=8) / (b"x" * 8)
    )
    q = parse_icmpv6(build_time_exceeded(B, A, HOP_LIMIT_EXCEEDED, first), B, A).quoted
    assert q is not None and (q.src_port, q.dst_port, q.header.ext_headers) == (
        7,
        8,
        (PROTO_FRAGMENT,),
    )


def test_param_problem_pointer() -> None:
    original = build_ipv6(A, B, 253, b"unknown!")
    msg = build_param_problem(B, A, UNRECOGNIZED_NEXT_HEADER, 6, original)
    pkt = build_ipv6(B, A, PROTO_ICMPV6, msg)
    sp = IPv6(pkt)[ICMPv6ParamProblem]
    assert (sp.code, sp.ptr) == (1, 6)
    _scapy_checksum_ok(pkt, ICMPv6ParamProblem)
    m = parse_icmpv6(msg, B, A)
    assert m.pointer == 6 and m.quoted is not None and m.quoted.header.protocol == 253
    with pytest.raises(ValueError):
        build_param_problem(B, A, 0, -1, original)
    with pytest.raises(ValueError):
        build_packet_too_big(B, A, 1 << 32, original)
    with pytest.raises(ValueError):
        build_time_exceeded(B, A, 0, original[:39])


def test_malformed_quotes() -> None:
    original = build_ipv6(A, B, PROTO_UDP, build_udp6(A, B, 1, 2, b""))
    for n in range(40):  # no whole IPv6 header
        with pytest.raises(TruncatedError):
            _raw_error(original[:n])
    with pytest.raises(TruncatedError):  # UDP header cut short
        _raw_error(original[:44])
    with pytest.raises(BadHeaderError):
        _raw_error(b"\x40" + original[1:])
    chain = bytes(IPv6(src=A_S, dst=B_S) / IPv6ExtHdrDestOpt() / UDP())
    with pytest.raises(TruncatedError):
        _raw_error(chain[:44])


def _raw_error(quote: bytes) -> object:
    """Build a Destination Unreachable around any bytes (our builder insists on 40)."""
    raw = bytes(IPv6(src=B_S, dst=A_S) / ICMPv6DestUnreach() / Raw(quote))
    return _parse(raw)


@pytest.mark.parametrize(
    ("layer", "kind"),
    [
        (ICMPv6ND_RS(), 133), (ICMPv6ND_RA(), 134), (ICMPv6ND_NS(tgt=A_S), 135),
        (ICMPv6ND_NA(tgt=A_S), 136), (ICMPv6ND_Redirect(tgt=A_S, dst=B_S), 137),
        (ICMPv6MLQuery(), 130), (ICMPv6MLReport(), 131), (ICMPv6MLDone(), 132), (ICMPv6MLReport2(), 143),
    ],
)  # fmt: skip
def test_nd_and_mld_recognised_by_type(layer: Packet, kind: int) -> None:
    m = _parse(bytes(IPv6(src=A_S, dst="ff02::1", hlim=255) / layer))
    assert m.type == kind and not m.is_error and m.quoted is None
    assert m.is_nd == (kind in ND_TYPES) and m.is_mld == (kind in MLD_TYPES)
    assert m.is_nd != m.is_mld


def test_may_send_error_rfc4443_2_4_e() -> None:
    mcast = 0xFF02 << 112 | 1
    udp = build_ipv6(A, B, PROTO_UDP, build_udp6(A, B, 1, 2, b"x"))
    assert may_send_error(udp, DEST_UNREACH, PORT_UNREACH)
    assert not may_send_error(udp[:39], DEST_UNREACH, PORT_UNREACH)
    # (e.6) unspecified or multicast source.
    for bad_src in (0, mcast):
        assert not may_send_error(build_ipv6(bad_src, B, PROTO_UDP, bytes(8)), DEST_UNREACH, 4)
    # (e.3) multicast destination: only Packet Too Big and Parameter Problem code 2.
    to_group = build_ipv6(A, mcast, PROTO_UDP, bytes(8))
    assert not may_send_error(to_group, DEST_UNREACH, PORT_UNREACH)
    assert not may_send_error(to_group, PARAM_PROBLEM, 0)
    assert may_send_error(to_group, PACKET_TOO_BIG, 0)
    assert may_send_error(to_group, PARAM_PROBLEM, 2)
    # (e.1, e.2) not about an ICMPv6 error or a Redirect, even behind extension headers.
    echo = build_echo(A, B, ECHO_REQUEST, 1, 1)
    error = build_dest_unreachable(A, B, PORT_UNREACH, udp)
    redirect = bytes((137, 0)) + bytes(38)
    opts = build_options_header(PROTO_ICMPV6)
    assert may_send_error(build_ipv6(A, B, PROTO_DSTOPTS, opts + echo), TIME_EXCEEDED, 0)
    assert not may_send_error(build_ipv6(A, B, PROTO_DSTOPTS, opts + error), TIME_EXCEEDED, 0)
    assert not may_send_error(build_ipv6(A, B, PROTO_ICMPV6, redirect), PARAM_PROBLEM, 0)
    assert not may_send_error(build_ipv6(A, B, PROTO_ICMPV6, b""), PARAM_PROBLEM, 0)
    # A later fragment of an ICMPv6 message carries no type: eligible; a broken chain too.
    later = build_ipv6(
        A, B, PROTO_FRAGMENT, build_fragment_header(PROTO_ICMPV6, 8, False, 1) + bytes(8)
    )
    assert may_send_error(later, TIME_EXCEEDED, FRAG_REASSEMBLY_EXCEEDED)
    assert may_send_error(build_ipv6(A, B, PROTO_DSTOPTS, bytes((58, 9))), PARAM_PROBLEM, 0)
