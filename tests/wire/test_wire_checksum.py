"""Internet checksum (RFC 1071): known values, corners, and compiled == pure."""

from __future__ import annotations

import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wire_support import ACCEL_MODULE, PURE_MODE, requires_accel

from aionetstack.wire import checksum
from aionetstack.wire.checksum import (
    internet_checksum,
    ones_sum,
    pseudo_header_sum,
    pure_ones_sum,
)


def reference_sum(data: bytes, initial: int = 0) -> int:
    """The textbook RFC 1071 loop: 16-bit big-endian words, end-around carry."""
    if len(data) % 2:
        data = data + b"\x00"
    s = initial
    for (word,) in struct.iter_unpack("!H", data):
        s += word
        s = (s & 0xFFFF) + (s >> 16)
    return s


def test_accelerated_flag_matches_mode() -> None:
    if PURE_MODE:
        assert checksum.ACCELERATED is False
        assert checksum.ones_sum is pure_ones_sum
    else:
        assert checksum.ACCELERATED is (ACCEL_MODULE is not None)


def test_rfc1071_example() -> None:
    # RFC 1071 section 3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2.
    data = bytes.fromhex("0001f203f4f5f6f7")
    assert ones_sum(data) == 0xDDF2
    assert internet_checksum(data) == 0x220D


def test_known_ipv4_header() -> None:
    # A classic example header whose checksum is 0xb861.
    hdr = bytes.fromhex("450000730000400040110000c0a80001c0a800c7")
    assert internet_checksum(hdr) == 0xB861
    fixed = hdr[:10] + b"\xb8\x61" + hdr[12:]
    assert internet_checksum(fixed) == 0


@pytest.mark.parametrize("fn", [ones_sum, pure_ones_sum])
def test_corners(fn: object) -> None:
    f = fn  # type: ignore[assignment]
    assert f(b"") == 0
    assert f(b"\x00") == 0
    assert f(b"\x00" * 7) == 0
    assert f(b"\xff\xff") == 0xFFFF
    assert f(b"\xff") == 0xFF00  # odd byte is the high byte of a padded word
    assert f(b"\x01") == 0x0100
    assert f(b"\x12\x34\x56") == 0x1234 + 0x5600
    assert f(b"\xff\xff" * 1000) == 0xFFFF
    assert f(b"\x80\x00\x80\x00") == 0x0001  # carry wraps around
    assert f(b"", 0xFFFF) == 0xFFFF
    assert f(b"\x00\x00", 0x1234) == 0x1234
    assert f(b"\x00\x01", 0xFFFF) == 0x0001


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_buffer_types(kind: type) -> None:
    data = bytes(range(256)) * 3 + b"\x07"
    assert ones_sum(kind(data)) == reference_sum(data)
    assert pure_ones_sum(kind(data)) == reference_sum(data)
    mv = memoryview(data)[3:501]
    assert ones_sum(mv) == reference_sum(bytes(mv))


def test_pseudo_header_sum() -> None:
    src, dst = 0xC6120002, 0xC6120001
    expected = reference_sum(struct.pack("!IIBBH", src, dst, 0, 6, 1234))
    assert pseudo_header_sum(src, dst, 6, 1234) == expected
    assert pseudo_header_sum(0xFFFFFFFF, 0xFFFFFFFF, 17, 0xFFFF) <= 0xFFFF


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600), st.integers(0, 0xFFFF))
def test_matches_reference(data: bytes, initial: int) -> None:
    assert ones_sum(data, initial) == reference_sum(data, initial)
    assert pure_ones_sum(data, initial) == reference_sum(data, initial)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300), st.binary(max_size=300), st.integers(0, 0xFFFF))
def test_chaining(a: bytes, b: bytes, initial: int) -> None:
    # Partial sums chain when the first part has even length.
    if len(a) % 2:
        a += b"\x00"
    assert ones_sum(b, ones_sum(a, initial)) == ones_sum(a + b, initial)


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=2, max_size=200).filter(lambda d: len(d) % 2 == 0))
def test_checksum_verifies(data: bytes) -> None:
    # Insert the checksum at offset 0 (after zeroing it): the result verifies.
    body = b"\x00\x00" + data
    ck = internet_checksum(body)
    assert internet_checksum(struct.pack("!H", ck) + data) == 0


@requires_accel
def test_compiled_equals_pure_every_length() -> None:
    assert ACCEL_MODULE is not None
    rnd = random.Random(1071)
    blob = rnd.randbytes(2048 + 16)
    for n in range(2049):
        start = n % 13  # vary the alignment too
        data = memoryview(blob)[start : start + n]
        initial = rnd.randrange(0x10000)
        assert ACCEL_MODULE.ones_sum(data, initial) == pure_ones_sum(data, initial), n
        assert ACCEL_MODULE.ones_sum(data) == pure_ones_sum(data), n


@requires_accel
@pytest.mark.parametrize("n", [65535, 65536, 65537, 1 << 20, (1 << 20) + 3])
def test_compiled_equals_pure_large(n: int) -> None:
    assert ACCEL_MODULE is not None
    rnd = random.Random(n)
    data = rnd.randbytes(n)
    assert ACCEL_MODULE.ones_sum(data) == pure_ones_sum(data)
    assert ACCEL_MODULE.ones_sum(data, 0x1234) == pure_ones_sum(data, 0x1234)
    ff = b"\xff" * n
    # All ones: 0xFFFF, or 0xFF00 when the odd last byte is padded with zero.
    assert ACCEL_MODULE.ones_sum(ff) == pure_ones_sum(ff) == (0xFF00 if n % 2 else 0xFFFF)
    zero = bytes(n)
    assert ACCEL_MODULE.ones_sum(zero) == pure_ones_sum(zero) == 0


def test_large_against_reference() -> None:
    data = random.Random(7).randbytes(70001)
    assert ones_sum(data) == reference_sum(data)
    assert pure_ones_sum(data) == reference_sum(data)


@requires_accel
def test_compiled_rejects_non_buffers() -> None:
    assert ACCEL_MODULE is not None
    with pytest.raises(TypeError):
        ACCEL_MODULE.ones_sum("text")  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(
    st.binary(max_size=100),
    st.integers(0, 0xFFFFFFFF),
    st.integers(0, 0xFFFFFFFF),
    st.integers(0, 0xFFFF),
)
def test_unfolded_initial(data: bytes, src: int, dst: int, length: int) -> None:
    # ``initial`` may be an unfolded sum: 32-bit addresses added whole.
    folded = pseudo_header_sum(src, dst, 6, length)
    assert ones_sum(data, src + dst + 6 + length) == ones_sum(data, folded)
    assert pure_ones_sum(data, src + dst + 6 + length) == ones_sum(data, folded)
    big = (1 << 64) - 1
    assert ones_sum(data, big) == pure_ones_sum(data, big)
