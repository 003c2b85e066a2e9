"""The out-of-order reassembler (RFC 9293 3.10.7.4 step 7 queue) in isolation."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from aionetstack.core.tcp.reassembly import BLOCK_OVERHEAD, Reassembler


class TestReassembler:
    def test_merge_and_pop(self) -> None:
        r = Reassembler()
        assert r.add(10, b"klm") is None
        assert r.add(20, b"uv") is None
        assert r.add(13, b"nopqrst") is None  # bridges both blocks
        assert r.blocks() == [(10, 22)]
        assert r.add(12, b"mn") == (12, 14)  # a duplicate
        assert r.bytes == 12
        assert r.pop_ready(5) is None
        assert r.pop_ready(11) == bytearray(b"lmnopqrstuv")
        assert not r and r.bytes == 0

    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.tuples(st.integers(0, 300), st.integers(1, 60)), max_size=40),
           st.randoms(use_true_random=False))  # fmt: skip
    def test_any_arrival_order_reassembles(
        self, pieces: list[tuple[int, int]], rnd: object
    ) -> None:
        stream = bytes(i * 7 & 0xFF for i in range(400))
        r = Reassembler()
        have = set()
        for start, n in pieces:
            r.add(start, stream[start : start + n])
            have.update(range(start, min(start + n, 400)))
        assert r.bytes == len(have)
        for s, e in r.blocks():
            assert all(i in have for i in range(s, e))
        got = r.pop_ready(0) or bytearray()
        assert bytes(got) == stream[: len(got)]

    def test_block_containing_is_half_open(self) -> None:
        r = Reassembler()
        r.add(10, b"abcde")
        assert [r.block_containing(o) for o in (9, 10, 14, 15)] == [None, (10, 15), (10, 15), None]

    def test_blocks_below_rcv_nxt_are_discarded(self) -> None:
        r = Reassembler()
        r.add(10, b"abcde")
        r.add(30, b"xy")
        assert r.pop_ready(15) is None  # [10, 15) ends at RCV.NXT: nothing new in it
        assert r.pop_ready(20) is None  # wholly below: dropped, not returned
        assert (r.blocks(), r.bytes) == ([(30, 32)], 2)
        r.add(10, b"abcde")
        assert r.pop_ready(15) is None and r.blocks() == [(30, 32)]
        assert r.pop_ready(31) == bytearray(b"y")  # a straddling block gives its tail
        assert not r and r.bytes == 0

    def test_memory_charges_each_block(self) -> None:
        r = Reassembler()
        r.add(10, b"abcde")
        r.add(30, b"xy")
        assert r.memory == 7 + 2 * BLOCK_OVERHEAD

    def test_clear(self) -> None:
        r = Reassembler()
        r.add(10, b"abcde")
        r.clear()
        assert (r.blocks(), r.bytes, len(r), r.memory) == ([], 0, 0, 0)
        r.add(10, b"ab")
        assert r.block_containing(10) == (10, 12) and r.bytes == 2
