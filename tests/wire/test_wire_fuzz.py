"""Random, mutated and truncated input: parsers raise WireError and nothing else."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aionetstack.wire.errors import WireError
from aionetstack.wire.icmp import FRAG_NEEDED, build_dest_unreachable, build_echo, parse_icmp
from aionetstack.wire.ipv4 import PROTO_ICMP, PROTO_TCP, PROTO_UDP, build_ipv4, parse_ipv4
from aionetstack.wire.tcp import ACK, SYN, build_ipv4_tcp, build_tcp_options, parse_tcp
from aionetstack.wire.udp import build_udp, parse_udp

A, B = 0xC6120002, 0xC6120001


def _parse_all(data: bytes) -> None:
    """Parse as IPv4 then by protocol, and each layer codec directly, verifying checksums or not."""
    for verify in (True, False):
        try:
            header, payload = parse_ipv4(data, verify_checksum=verify)
        except WireError:
            pass
        else:
            try:
                if header.protocol == PROTO_TCP:
                    parse_tcp(payload, header.src, header.dst)
                elif header.protocol == PROTO_UDP:
                    parse_udp(payload, header.src, header.dst)
                elif header.protocol == PROTO_ICMP:
                    parse_icmp(payload)
            except WireError:
                pass
    parsers: list[Callable[[bytes], object]] = [
        parse_tcp,
        lambda d: parse_tcp(d, A, B),
        parse_udp,
        lambda d: parse_udp(d, A, B),
        parse_icmp,
    ]
    for parse in parsers:
        try:
            parse(data)
        except WireError as exc:
            assert exc.reason  # every error says why


SEEDS = [
    build_ipv4_tcp(A, B, 1, 64, 1000, 80, 5, 6, ACK, 100, build_tcp_options(timestamps=(1, 2)), b"data" * 5),
    build_ipv4_tcp(
        A, B, 2, 64, 1000, 80, 5, 0, SYN, 100,
        build_tcp_options(mss=1460, wscale=7, sack_permitted=True, timestamps=(3, 0)), b"",
    ),
    build_ipv4_tcp(A, B, 3, 64, 1, 2, 3, 4, ACK, 5, build_tcp_options(sack_blocks=[(1, 2), (3, 4), (5, 6), (7, 8)]), b""),
    build_ipv4(A, B, PROTO_UDP, build_udp(A, B, 53, 5353, b"hello")),
    build_ipv4(A, B, PROTO_ICMP, build_echo(8, 1, 2, b"ping")),
    build_ipv4(A, B, PROTO_ICMP, build_dest_unreachable(FRAG_NEEDED, build_ipv4(B, A, PROTO_UDP, build_udp(B, A, 1, 2, b"x" * 20)), 1400)),
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120))
def test_random_bytes(data: bytes) -> None:
    _parse_all(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
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
    # With the outer checksum repaired, mutations reach the inner parsers too.
    _parse_all(_fix_ip_checksum(bytes(data)))


@pytest.mark.parametrize("seed", SEEDS)
def test_every_truncation(seed: bytes) -> None:
    for n in range(len(seed)):
        _parse_all(seed[:n])
        _parse_all(seed[20:n] if n > 20 else seed[:n])


def _fix_ip_checksum(data: bytes) -> bytes:
    if len(data) < 20:
        return data
    from aionetstack.wire.checksum import internet_checksum

    hlen = max(20, min((data[0] & 0xF) * 4, len(data)))
    b = bytearray(data)
    b[10:12] = b"\x00\x00"
    b[10:12] = internet_checksum(bytes(b[:hlen])).to_bytes(2, "big")
    return bytes(b)
