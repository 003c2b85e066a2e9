"""Sequence-number arithmetic modulo 2**32 (RFC 9293 3.4), across the wrap."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from aionetstack.wire.seq import (
    seq_add,
    seq_diff,
    seq_ge,
    seq_gt,
    seq_in_window,
    seq_le,
    seq_lt,
    seq_max,
    seq_min,
)

M = 1 << 32
u32 = st.integers(0, M - 1)
small = st.integers(1, (1 << 31) - 1)


def test_across_the_wrap() -> None:
    assert seq_lt(0xFFFFFFFF, 0)
    assert seq_lt(0xFFFFFF00, 0x10)
    assert seq_gt(0x10, 0xFFFFFF00)
    assert seq_le(5, 5) and seq_ge(5, 5) and not seq_lt(5, 5) and not seq_gt(5, 5)
    assert seq_add(0xFFFFFFFF, 1) == 0
    assert seq_add(0, -1) == 0xFFFFFFFF
    assert seq_diff(0, 0xFFFFFFFF) == 1
    assert seq_diff(0xFFFFFFFF, 0) == -1
    assert seq_diff(0x10, 0xFFFFFFF0) == 0x20
    assert seq_max(0xFFFFFFF0, 0x10) == 0x10
    assert seq_min(0xFFFFFFF0, 0x10) == 0xFFFFFFF0


def test_half_way_point() -> None:
    # seq_diff is Linux's (s32)(a - b), in [-2**31, 2**31): exactly half way
    # counts as "behind" (the engine's convention, which it always had).
    assert seq_diff(1 << 31, 0) == -(1 << 31)
    assert seq_diff(0, 1 << 31) == -(1 << 31)
    assert seq_diff(1, 1 + (1 << 31) + 1) == (1 << 31) - 1
    # and Linux's before()/after() both hold there (the module docstring)
    assert seq_lt(0, 1 << 31) and seq_lt(1 << 31, 0)
    assert seq_gt(0, 1 << 31) and seq_gt(1 << 31, 0)


def test_window() -> None:
    assert seq_in_window(0xFFFFFFFF, 0xFFFFFFF0, 0x20)
    assert seq_in_window(0x0F, 0xFFFFFFF0, 0x20)
    assert not seq_in_window(0x10, 0xFFFFFFF0, 0x20)
    assert not seq_in_window(0xFFFFFFEF, 0xFFFFFFF0, 0x20)
    assert not seq_in_window(5, 5, 0)  # a zero window contains nothing
    assert seq_in_window(5, 5, 1)


@settings(max_examples=300, deadline=None)
@given(u32, small)
def test_ordering_properties(a: int, n: int) -> None:
    b = seq_add(a, n)
    assert seq_lt(a, b) and seq_le(a, b)
    assert seq_gt(b, a) and seq_ge(b, a)
    assert not seq_lt(b, a) and not seq_ge(a, b)
    assert seq_diff(b, a) == n
    assert seq_diff(a, b) == -n
    assert seq_max(a, b) == b and seq_min(a, b) == a
    assert seq_in_window(a, a, n)
    assert not seq_in_window(b, a, n)
    assert seq_in_window(seq_add(b, -1), a, n)


@settings(max_examples=300, deadline=None)
@given(u32, u32)
def test_diff_is_signed_and_consistent(a: int, b: int) -> None:
    d = seq_diff(a, b)
    assert -(1 << 31) <= d < 1 << 31
    assert seq_add(b, d) == a
    if d == -(1 << 31):
        # exactly half way: seq_diff says "behind" while before() and after() both
        # hold, as in Linux (module docstring); test_half_way_point pins it
        assert seq_lt(a, b) and seq_lt(b, a) and seq_le(a, b) and seq_le(b, a)
    else:
        assert seq_lt(b, a) == (d > 0)
        assert seq_le(b, a) == (d >= 0)

