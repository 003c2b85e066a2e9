"""IPv6 fragment reassembly (RFC 8200 4.5, RFC 5722, RFC 6946) against Scapy's fragment6."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import UDP
from scapy.layers.inet6 import (
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    defragment6,
)
from scapy.layers.inet6 import fragment6 as scapy_fragment6

from aionetstack.core.ipv4 import BAD, DUPLICATE, MAX_FRAGMENTS, OVERLAP, PENDING, TOO_MANY
from aionetstack.core.ipv6 import IPV6_REASSEMBLY_TIMEOUT, Reassembled, Reassembler6, fragment6
from aionetstack.wire.ipv6 import (
    PROTO_DSTOPTS,
    PROTO_FRAGMENT,
    PROTO_HOPOPTS,
    PROTO_UDP,
    build_fragment_header,
    build_ipv6,
    build_options_header,
    parse_ipv6,
)
from aionetstack.wire.udp import parse_udp6

PEER_S, US_S = "2001:2::1", "2001:2::2"


def scapy_frags(payload: bytes, size: int, ident: int = 7, unfrag: bool = False) -> list[bytes]:
    pkt = IPv6(src=PEER_S, dst=US_S)
    if unfrag:
        pkt = pkt / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt()
    pkt = pkt / IPv6ExtHdrFragment(id=ident) / UDP(sport=1234, dport=9) / payload
    return [bytes(f) for f in scapy_fragment6(pkt, size)]


def feed(r: Reassembler6, pieces: list[bytes], now: float = 0.0) -> list[object]:
    out = []
    for p in pieces:
        header, _ = parse_ipv6(p)
        out.append(r.add(header, p, now))
    return out


def delivered(result: object) -> bytes:
    assert isinstance(result, Reassembled)
    header, body = parse_ipv6(result.packet)
    assert header.protocol == PROTO_UDP and not header.is_fragment
    return bytes(parse_udp6(body, header.src, header.dst).payload)


@pytest.mark.parametrize("order", ["in", "reverse", "shuffle"])
@pytest.mark.parametrize("unfrag", [False, True])
def test_reassembly_any_order(order: str, unfrag: bool) -> None:
    payload = bytes(range(256)) * 12
    pieces = scapy_frags(payload, 500, unfrag=unfrag)
    assert len(pieces) > 5
    if order == "reverse":
        pieces.reverse()
    elif order == "shuffle":
        random.Random(3).shuffle(pieces)
    r = Reassembler6()
    out = feed(r, pieces)
    assert out[:-1] == [PENDING] * (len(pieces) - 1)
    assert delivered(out[-1]) == payload  # the UDP checksum over the whole verifies
    assert isinstance(out[-1], Reassembled)
    assert not parse_ipv6(out[-1].packet)[0].has_fragment_header
    assert r.memory == 0 and len(r) == 0 and r.get_timer() is None
    if unfrag:  # the unfragmentable headers are kept, their last Next Header patched
        assert isinstance(out[-1], Reassembled)
        header, _ = parse_ipv6(out[-1].packet)
        assert header.ext_headers == (PROTO_HOPOPTS, PROTO_DSTOPTS)


def test_duplicate_is_ignored_and_overlap_drops_the_datagram() -> None:
    payload = b"z" * 2000
    pieces = scapy_frags(payload, 600)
    r = Reassembler6()
    out = feed(r, [pieces[0], pieces[0], *pieces[1:]])
    assert out[1] == DUPLICATE and delivered(out[-1]) == payload
    # RFC 5722: a fragment overlapping another abandons the whole datagram.
    ov = build_ipv6(
        0x2001_0002 << 96 | 1, 0x2001_0002 << 96 | 2, PROTO_FRAGMENT,
        build_fragment_header(PROTO_UDP, 16, True, 7) + b"X" * 64,
    )  # fmt: skip
    out = feed(r, [pieces[0], ov, *pieces[1:]])
    assert out[:2] == [PENDING, OVERLAP]
    assert not any(isinstance(o, Reassembled) for o in out)  # the rest never completes it
    assert len(r) == 1  # the later fragments opened a new datagram, which times out
    assert r.expire(IPV6_REASSEMBLY_TIMEOUT) == [None]  # fragment 0 was dropped with it
    assert len(r) == 0 and r.memory == 0


def test_atomic_fragment_is_processed_in_isolation() -> None:
    pieces = scapy_frags(b"q" * 1000, 600, ident=5)
    r = Reassembler6()
    assert feed(r, pieces[:1]) == [PENDING]
    # RFC 6946 4: an atomic fragment with the same identification is a whole packet
    # and leaves the pending datagram alone.
    atomic = bytes(
        IPv6(src=PEER_S, dst=US_S) / IPv6ExtHdrFragment(id=5) / UDP(sport=1, dport=2) / b"atom"
    )
    [out] = feed(r, [atomic])
    assert isinstance(out, Reassembled) and out.packet == atomic
    assert delivered(out) == b"atom"
    assert len(r) == 1
    assert delivered(feed(r, pieces[1:])[-1]) == b"q" * 1000
    header, _ = parse_ipv6(build_ipv6(1, 2, PROTO_UDP, b"12345678"))
    with pytest.raises(ValueError):
        r.add(header, b"", 0.0)


def test_timeout_returns_the_first_fragment_head() -> None:
    pieces = scapy_frags(b"t" * 2000, 600)
    r = Reassembler6(timeout=60.0, memory_cap=1 << 20)
    feed(r, pieces[:1], 1.0)
    feed(r, pieces[1:2], 2.0)
    feed(r, pieces[2:3], 2.0)  # another datagram, without its first fragment
    r2 = scapy_frags(b"u" * 2000, 600, ident=8)
    feed(r, r2[1:2], 5.0)
    assert r.get_timer() == 61.0  # from the first fragment
    assert r.expire(60.9) == []
    [head] = r.expire(61.0)
    assert head is not None
    header, data = parse_ipv6(head, quoted=True)  # what a Time Exceeded would quote
    assert header.frag_offset == 0 and header.mf and len(data) == 8
    assert head == pieces[0][: len(head)]
    assert r.expire(65.0) == [None]  # no fragment 0: nothing to quote, no ICMPv6
    assert len(r) == 0 and r.memory == 0


def test_memory_cap_evicts_oldest() -> None:
    r = Reassembler6(memory_cap=2500)
    first = scapy_frags(b"a" * 2000, 900, ident=1)
    second = scapy_frags(b"b" * 2000, 900, ident=2)
    assert feed(r, first[:2]) == [PENDING, PENDING]
    assert feed(r, second[:1]) == [[b""]]  # over the cap: the oldest datagram goes
    assert r.memory <= 2500 and len(r) == 1
    feed(r, first[2:])
    assert delivered(feed(r, second[1:])[-1]) == b"b" * 2000


def test_fragment_count_cap_and_bad_fragments() -> None:
    src, dst = 0x2001_0002 << 96 | 1, 0x2001_0002 << 96 | 2

    def frag(offset: int, more: bool, data: bytes, ident: int = 1) -> bytes:
        return build_ipv6(
            src, dst, PROTO_FRAGMENT, build_fragment_header(PROTO_UDP, offset, more, ident) + data
        )

    r = Reassembler6()
    out = feed(r, [frag(8 * (MAX_FRAGMENTS - i), True, b"x" * 8) for i in range(MAX_FRAGMENTS + 1)])
    assert out[-1] == TOO_MANY and len(r) == 0 and r.memory == 0
    assert feed(r, [frag(8, True, b"")]) == [BAD]  # M set and no data
    # A rebuilt payload over 65535 bytes (the unfragmentable part counts) is BAD.
    opts = build_options_header(PROTO_FRAGMENT, bytes((0x1E, 38)) + bytes(38))  # 48 bytes
    head = build_ipv6(
        src, dst, PROTO_DSTOPTS, opts + build_fragment_header(PROTO_UDP, 0, True, 3) + bytes(8)
    )
    assert feed(r, [frag(65512, False, bytes(16), ident=3), head]) == [PENDING, PENDING]
    assert feed(r, [frag(8, True, bytes(65504), ident=3)]) == [BAD]  # 48 + 65528 > 65535
    assert len(r) == 0 and r.memory == 0


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    st.binary(min_size=1, max_size=4000),
    st.integers(min_value=56, max_value=1500),
    st.randoms(use_true_random=False),
    st.booleans(),
)
def test_roundtrip_property(payload: bytes, size: int, rnd: random.Random, dup: bool) -> None:
    pieces = scapy_frags(payload, size, ident=99)
    rnd.shuffle(pieces)
    if dup and len(pieces) > 1:
        pieces.insert(rnd.randrange(len(pieces)), rnd.choice(pieces))
    r = Reassembler6()
    results = [delivered(o) for o in feed(r, pieces) if isinstance(o, Reassembled)]
    assert results == [payload]


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.integers(0, 9000), st.integers(1280, 9000))
def test_fragment6_roundtrips_through_scapy_and_our_reassembly(size: int, mtu: int) -> None:
    src, dst = 0x2001_0002 << 96 | 2, 0x2001_0002 << 96 | 1
    data = bytes(UDP(sport=5, dport=6) / (bytes(range(256)) * 36)[:size])
    packets = fragment6(src, dst, PROTO_UDP, data, ident=0xABCDEF01, hop_limit=9, mtu=mtu)
    assert all(len(p) <= mtu for p in packets)
    if len(data) + 40 <= mtu:
        assert packets == [build_ipv6(src, dst, PROTO_UDP, data, hop_limit=9)]
        return
    assert len(packets) > 1
    headers = [parse_ipv6(p)[0] for p in packets]
    assert all(h.frag_id == 0xABCDEF01 and h.hop_limit == 9 for h in headers)
    assert [h.mf for h in headers] == [True] * (len(packets) - 1) + [False]
    whole = defragment6([IPv6(p) for p in packets])  # Scapy reassembles them
    assert bytes(whole[UDP]) == data
    out = feed(Reassembler6(), list(reversed(packets)))
    assert isinstance(out[-1], Reassembled)
    assert parse_ipv6(out[-1].packet)[1] == data


def test_fragment6_limits() -> None:
    with pytest.raises(ValueError):
        fragment6(1, 2, PROTO_UDP, bytes(65536), ident=0, hop_limit=64, mtu=1500)
    with pytest.raises(ValueError):
        fragment6(1, 2, PROTO_UDP, bytes(2000), ident=0, hop_limit=64, mtu=1279)
    biggest = fragment6(1, 2, PROTO_UDP, bytes(65535), ident=0, hop_limit=64, mtu=1280)
    assert len(biggest) == 54  # ceil(65535 / 1232): 1232 = (1280 - 40 - 8) rounded to 8
    assert parse_ipv6(biggest[-1])[0].frag_offset == 53 * 1232  # ends at 65535: accepted
