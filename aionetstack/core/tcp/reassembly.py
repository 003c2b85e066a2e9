"""Out-of-order segment store for the receive side (RFC 9293 3.10.7.4, RFC 2018).

Theory of operation
-------------------
Data that arrives above RCV.NXT is kept here until the gap before it fills.
Positions are *stream offsets* (unbounded ints: offset 0 is the first data
byte after the peer's SYN), so there is no sequence wrap-around inside. The
store is a sorted list of disjoint, non-adjacent blocks ``[start, end, data]``;
every insertion trims overlap with what is already held and merges touching
blocks, so the blocks are exactly the SACK blocks to report (RFC 2018 4).
The common case of a loss burst (every later segment extends the last block)
is an O(len) append, not a re-copy.

Bounds: the payload held is bounded by the owner's receive window, but
payload bytes alone do not bound memory: 1-byte segments at every other
offset would make one block per 2 bytes of window (millions of blocks, each
with fixed bookkeeping, and O(n) list inserts). So the store also caps the
number of blocks (``max_blocks``): a segment that would start a new block
beyond it is refused (``add`` returns ``REJECTED``) and the owner drops it,
unSACKed -- RFC 9293 3.10.7.4 and RFC 2018 8 let a receiver discard
out-of-order data (Linux prunes its ofo queue likewise, tcp_prune_ofo_queue).
``memory`` charges a fixed ``BLOCK_OVERHEAD`` per block on top of the payload
(like Linux skb truesize) so the owner can count it against the receive space.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from typing import Final

BLOCK_OVERHEAD: Final = 256  # bytes charged per held block besides its data (bookkeeping)
REJECTED: Final[tuple[int, int]] = (-1, -1)  # add(): refused, the block cap is reached


class _Block:
    __slots__ = ("data", "end", "start")

    def __init__(self, start: int, end: int, data: bytearray) -> None:
        self.start = start
        self.end = end
        self.data = data


class Reassembler:
    """Sorted disjoint out-of-order blocks with overlap trimming."""

    __slots__ = ("_blocks", "_starts", "bytes", "max_blocks")

    def __init__(self, max_blocks: int = 4096) -> None:
        self._blocks: list[_Block] = []
        self._starts: list[int] = []
        self.bytes = 0  # payload bytes held (count against the receive window)
        self.max_blocks = max_blocks

    @property
    def memory(self) -> int:
        """Payload bytes plus the per-block overhead (to charge against the receive space)."""
        return self.bytes + BLOCK_OVERHEAD * len(self._blocks)

    def __bool__(self) -> bool:
        return bool(self._blocks)

    def __len__(self) -> int:
        return len(self._blocks)

    def blocks(self) -> list[tuple[int, int]]:
        """The held ranges, ascending."""
        return [(b.start, b.end) for b in self._blocks]

    def iter_blocks(self) -> Iterator[tuple[int, int]]:
        """The held ranges, ascending, lazily."""
        for b in self._blocks:
            yield (b.start, b.end)

    def block_containing(self, off: int) -> tuple[int, int] | None:
        i = bisect_right(self._starts, off) - 1
        if i >= 0:
            b = self._blocks[i]
            if b.start <= off < b.end:
                return (b.start, b.end)
        return None

    def add(self, start: int, data: bytes | memoryview) -> tuple[int, int] | None:
        """Insert ``data`` at ``start``.

        Returns the range that was already held (a duplicate, for DSACK,
        RFC 2883 4.1.3) when the segment added nothing new, ``REJECTED`` (and
        stores nothing) when it would need a new block beyond ``max_blocks``,
        else None.
        """
        n = len(data)
        if n == 0:
            return None
        end = start + n
        blocks = self._blocks
        starts = self._starts
        # first block that may touch [start, end]
        i = bisect_right(starts, start) - 1
        if i < 0 or blocks[i].end < start:
            i += 1
        j = i
        nb = len(blocks)
        while j < nb and blocks[j].start <= end:
            j += 1
        if j == i:
            if nb >= self.max_blocks:
                return REJECTED  # RFC 2018 8 / RFC 9293 3.10.7.4: may drop out-of-order data
            blocks.insert(i, _Block(start, end, bytearray(data)))
            starts.insert(i, start)
            self.bytes += n
            return None
        if j == i + 1:
            b = blocks[i]
            if b.start <= start:
                if end <= b.end:
                    return (start, end)  # entirely held already
                # extends the block's tail (the loss-burst case): O(new bytes)
                b.data += data[b.end - start :]
                self.bytes += end - b.end
                b.end = end
                return None
        # general merge of blocks i..j-1 with the new data
        ns = min(start, blocks[i].start)
        ne = max(end, blocks[j - 1].end)
        merged = bytearray(ne - ns)
        merged[start - ns : end - ns] = data
        held = 0
        for k in range(i, j):
            b = blocks[k]
            merged[b.start - ns : b.end - ns] = b.data
            held += b.end - b.start
        del blocks[i:j]
        del starts[i:j]
        blocks.insert(i, _Block(ns, ne, merged))
        starts.insert(i, ns)
        self.bytes += (ne - ns) - held
        return None

    def pop_ready(self, rcv_off: int) -> bytearray | None:
        """Remove and return the contiguous data at ``rcv_off`` (None if none).

        Blocks wholly below ``rcv_off`` are discarded; a block straddling it
        gives only its part from ``rcv_off`` on.
        """
        blocks = self._blocks
        out: bytearray | None = None
        while blocks and blocks[0].start <= rcv_off:
            b = blocks.pop(0)
            self._starts.pop(0)
            self.bytes -= b.end - b.start
            if b.end <= rcv_off:
                continue
            chunk = b.data if b.start == rcv_off else b.data[rcv_off - b.start :]
            if out is None:
                out = chunk
            else:
                out += chunk
            rcv_off = b.end
        return out

    def clear(self) -> None:
        self._blocks.clear()
        self._starts.clear()
        self.bytes = 0
