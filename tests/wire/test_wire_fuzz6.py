"""Random, mutated and truncated IPv6 input: parsers raise WireError and nothing else."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aionetstack.wire.errors import ParameterProblemError, WireError
from aionetstack.wire.icmpv6 import (
    ECHO_REQUEST,
    PORT_UNREACH,
    build_dest_unreachable,
    build_echo,
    build_packet_too_big,
    may_send_error,
    parse_icmpv6,
)
from aionetstack.wire.ipv6 import (
    PROTO_DSTOPTS,
    PROTO_FRAGMENT,
    PROTO_HOPOPTS,
    PROTO_ICMPV6,
    PROTO_ROUTING,
    PROTO_TCP,
    PROTO_UDP,
    build_fragment_header,
    build_ipv6,
    build_options_header,
    build_routing_header,
    parse_ipv6,
)
from aionetstack.wire.tcp import ACK, SYN, build_ipv6_tcp, build_tcp_options, parse_tcp6
from aionetstack.wire.udp import build_udp6, parse_udp6

A, B = 0x2001_0002 << 96 | 2, 0x2001_0002 << 96 | 1


def _upper(proto: int, body: object, src: int, dst: int) -> None:
    if proto == PROTO_TCP:
        parse_tcp6(body, src, dst)  # type: ignore[arg-type]
    elif proto == PROTO_UDP:
        parse_udp6(body, src, dst)  # type: ignore[arg-type]
    elif proto == PROTO_ICMPV6:
        parse_icmpv6(body, src, dst)  # type: ignore[arg-type]


def _parse_all(data: bytes) -> None:
    """Parse as IPv6 then by protocol, and each upper-layer codec directly."""
    # Deciding whether to answer with an ICMPv6 error never raises either.
    assert isinstance(may_send_error(data, 1, 4), bool)
    for quoted in (False, True):
        try:
            header, payload = parse_ipv6(data, quoted=quoted)
        except ParameterProblemError as exc:
            assert exc.code in (0, 1, 2, 3) and 0 <= exc.pointer < len(data)
        except WireError:
            pass
        else:
            assert header.header_len <= len(data)
            try:
                _upper(header.protocol, payload, header.src, header.dst)
            except WireError:
                pass
    parsers: list[Callable[[bytes], object]] = [
        lambda d: parse_tcp6(d, A, B),
        lambda d: parse_udp6(d, A, B),
        lambda d: parse_icmpv6(d, A, B),
    ]
    for parse in parsers:
        try:
            parse(data)
        except WireError as exc:
            assert exc.reason  # every error says why


_UDP = build_udp6(A, B, 53, 5353, b"hello")
SEEDS = [
    build_ipv6_tcp(A, B, 7, 64, 1000, 80, 5, 6, ACK, 100, build_tcp_options(timestamps=(1, 2)), b"data" * 5),
    build_ipv6_tcp(A, B, 0, 64, 1000, 80, 5, 0, SYN, 100, build_tcp_options(mss=1440, wscale=7, sack_permitted=True), b""),
    build_ipv6(A, B, PROTO_UDP, _UDP),
    build_ipv6(A, B, PROTO_ICMPV6, build_echo(A, B, ECHO_REQUEST, 1, 2, b"ping")),
    build_ipv6(
        A, B, PROTO_HOPOPTS,
        build_options_header(PROTO_ROUTING, bytes((5, 2, 0, 0, 0x1E, 1, 9)))
        + build_routing_header(PROTO_DSTOPTS, 0, 0)
        + build_options_header(PROTO_FRAGMENT, bytes((0x9E, 0)))
        + build_fragment_header(PROTO_UDP, 0, False, 9) + _UDP,
    ),
    build_ipv6(B, A, PROTO_FRAGMENT, build_fragment_header(PROTO_UDP, 0, True, 3) + _UDP + bytes(3)),
    build_ipv6(
        B, A, PROTO_ICMPV6,
        build_dest_unreachable(B, A, PORT_UNREACH, build_ipv6(A, B, PROTO_DSTOPTS, build_options_header(PROTO_UDP) + _UDP)),
    ),
    build_ipv6(B, A, PROTO_ICMPV6, build_packet_too_big(B, A, 1280, build_ipv6(A, B, PROTO_TCP, bytes(40)))),
]  # fmt: skip


def _fix_lengths(data: bytes) -> bytes:
    """Make the payload length agree with the buffer, so mutations reach the walker."""
    if len(data) < 40:
        return data
    b = bytearray(data)
    b[4:6] = min(len(data) - 40, 0xFFFF).to_bytes(2, "big")
    return bytes(b)


def test_seeds_parse() -> None:
    for seed in SEEDS:
        try:
            header, payload = parse_ipv6(seed)
        except ParameterProblemError as exc:  # the 0x9E option in the chain seed
            assert exc.code == 2
            continue
        _upper(header.protocol, payload, header.src, header.dst)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=160))
def test_random_bytes(data: bytes) -> None:
    _parse_all(data)
    _parse_all(b"\x60" + data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=6),
    st.integers(0, 200),
)
def test_mutated_packets(seed: bytes, edits: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(seed)
    for pos, value in edits:
        if pos < len(data):
            data[pos] = value
    _parse_all(bytes(data))
    _parse_all(bytes(data[:cut]))
    _parse_all(_fix_lengths(bytes(data[:cut])))


@pytest.mark.parametrize("seed", SEEDS)
def test_every_truncation(seed: bytes) -> None:
    for n in range(len(seed)):
        _parse_all(seed[:n])
        _parse_all(_fix_lengths(seed[:n]))
        _parse_all(seed[40:n] if n > 40 else seed[:n])
