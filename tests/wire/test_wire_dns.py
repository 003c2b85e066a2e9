"""The DNS codec: queries, answers, CNAME chains, and malformed messages
raising WireError only (bounded name walks)."""

from __future__ import annotations

import random
import struct

import pytest

from aionetstack.wire.dns import (
    TYPE_A,
    TYPE_AAAA,
    TYPE_CNAME,
    addresses_for,
    build_query,
    build_response,
    encode_name,
    parse_response,
)
from aionetstack.wire.errors import BadHeaderError, TruncatedError, WireError


def test_query_layout() -> None:
    q = build_query(0x1234, "Www.Example.TEST.")
    # RFC 1035 4.1.1: id, RD, one question
    assert q[:12] == struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    assert q[12:] == b"\x03www\x07example\x04test\x00" + struct.pack("!HH", TYPE_A, 1)


def test_name_limits() -> None:
    with pytest.raises(ValueError):
        encode_name("a" * 64 + ".test")
    with pytest.raises(ValueError):
        encode_name(".".join(["abcdefghi"] * 26))  # 260 bytes
    with pytest.raises(ValueError):
        encode_name("a..b")
    assert encode_name("") == b"\x00"


def test_answer_with_cname_chain_and_min_ttl() -> None:
    q = build_query(7, "www.example.test")
    r = parse_response(
        build_response(
            q,
            [
                ("www.example.test", TYPE_CNAME, 300, "web.example.test"),
                ("web.example.test", TYPE_CNAME, 120, "host.example.test"),
                ("host.example.test", TYPE_A, 600, "198.18.0.7"),
                ("host.example.test", TYPE_A, 60, "198.18.0.8"),
                ("other.test", TYPE_A, 5, "198.18.0.9"),  # not on the chain: ignored
            ],
        )
    )
    assert (r.ident, r.qname, r.qtype, r.rcode, r.truncated) == (
        7,
        "www.example.test",
        TYPE_A,
        0,
        False,
    )
    assert addresses_for(r) == (["198.18.0.7", "198.18.0.8"], 60)


def test_compressed_names() -> None:
    q = build_query(9, "a.test")
    # answer name is a pointer to the question name (offset 12); RFC 1035 4.1.4
    answer = b"\xc0\x0c" + struct.pack("!HHIH", TYPE_A, 1, 30, 4) + bytes([198, 18, 0, 5])
    msg = struct.pack("!HHHHHH", 9, 0x8180, 1, 1, 0, 0) + q[12:] + answer
    r = parse_response(msg)
    assert addresses_for(r) == (["198.18.0.5"], 30)


def test_ttl_with_top_bit_is_zero() -> None:
    q = build_query(1, "a.test")
    r = parse_response(build_response(q, [("a.test", TYPE_A, 0x80000001, "198.18.0.1")]))
    assert r.answers[0].ttl == 0  # RFC 2181 8


@pytest.mark.parametrize(
    ("tail", "error"),
    [
        (b"\xc0\x0c", BadHeaderError),  # the question pointing at itself
        (b"\xc0\x40", BadHeaderError),  # a forward pointer
        (b"\x80abc\x00", BadHeaderError),  # label type 10
        (b"\x05ab", TruncatedError),
        (b"\xc0", TruncatedError),
    ],
)
def test_malformed_question_names(tail: bytes, error: type[WireError]) -> None:
    msg = struct.pack("!HHHHHH", 1, 0x8180, 1, 0, 0, 0) + tail + b"\x00\x01\x00\x01"
    with pytest.raises(error):
        parse_response(msg)


def test_answer_count_bounded_by_length() -> None:
    q = build_query(1, "a.test")
    msg = bytearray(build_response(q))
    struct.pack_into("!H", msg, 6, 0xFFFF)  # 65535 answers claimed
    with pytest.raises(TruncatedError):
        parse_response(bytes(msg))


def test_not_a_response() -> None:
    with pytest.raises(BadHeaderError):
        parse_response(build_query(1, "a.test"))


def test_random_bytes_raise_wire_error_only() -> None:
    rng = random.Random(14)
    base = build_response(
        build_query(3, "x.example.test"), [("x.example.test", TYPE_A, 9, "198.18.0.1")]
    )
    for _ in range(3000):
        msg = bytearray(base)
        for _ in range(rng.randrange(1, 6)):
            msg[rng.randrange(len(msg))] = rng.randrange(256)
        msg = msg[: rng.randrange(len(msg) + 1)]
        try:
            r = parse_response(bytes(msg))
        except WireError:
            continue
        addresses_for(r)


def test_aaaa_answers_ipv6_addresses() -> None:
    """RFC 3596: an AAAA question is answered by 16-byte records (Scapy reads
    ours back); A records in the same answer are not taken, nor short ones."""
    from scapy.layers.dns import DNS

    q = build_query(5, "dual.example.test", TYPE_AAAA)
    assert q[-4:] == struct.pack("!HH", 28, 1)
    wire = build_response(
        q,
        [
            ("dual.example.test", TYPE_CNAME, 90, "host.example.test"),
            ("host.example.test", TYPE_AAAA, 300, "2001:2::7"),
            ("host.example.test", TYPE_A, 30, "198.18.0.7"),
            ("host.example.test", TYPE_AAAA, 60, bytes(4)),  # not 16 bytes: ignored
            ("host.example.test", TYPE_AAAA, 120, "2001:2:0:1::8"),
        ],
    )
    clean = build_response(q, [("dual.example.test", TYPE_AAAA, 300, "2001:2::7")])
    assert DNS(clean).an[0].rdata == "2001:2::7"
    r = parse_response(wire)
    assert r.qtype == TYPE_AAAA
    assert addresses_for(r) == (["2001:2::7", "2001:2:0:1::8"], 90)
    a = parse_response(build_response(build_query(6, "host.example.test"),
                                      [("host.example.test", TYPE_AAAA, 9, "2001:2::7")]))  # fmt: skip
    assert addresses_for(a) == ([], 0)  # an A question takes no AAAA record
