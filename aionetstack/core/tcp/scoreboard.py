"""The SACK scoreboard: what the peer holds above SND.UNA (RFC 2018, RFC 6675 3).

Theory of operation
-------------------
``SackScoreboard.blocks`` is the list of SACKed ranges ``(start, end)``
(sequence numbers, end exclusive), sorted by their distance from SND.UNA and
merged, so it never holds overlapping or touching-then-overlapping blocks;
``sacked`` is their total size in bytes. All blocks lie in (SND.UNA, SND.MAX].
The scoreboard does not know the connection: every method takes the SND.UNA
(and SND.MAX) it needs, so it can be tested alone. Comparisons work in offsets
from SND.UNA (``(x - una) & MASK``), which orders correctly across the wrap.

Input filtering (RFC 2883 DSACK blocks and bogus blocks are not recorded),
pruning on a cumulative ACK, and the lookups the send loop and the recovery
use (``sacked_end``, ``next_sacked_start``, ``dup_boundary``) live here; what a
hole *means* (lost or not) is the recovery's business (``recovery.py``).
"""

from __future__ import annotations

from collections.abc import Callable

from aionetstack.wire.seq import seq_diff

__all__ = ["SackScoreboard"]

MASK = 0xFFFFFFFF


class SackScoreboard:
    """SACKed ranges above SND.UNA, sorted and merged."""

    __slots__ = ("blocks", "sacked")

    def __init__(self) -> None:
        #: SACKed ranges (start, end), sorted from SND.UNA up, merged.
        self.blocks: list[tuple[int, int]] = []
        #: Bytes SACKed above SND.UNA (the sum of the blocks' sizes).
        self.sacked = 0

    def clear(self) -> None:
        """Forget everything (RFC 2018 8: the receiver may have reneged)."""
        self.blocks = []
        self.sacked = 0

    def fack(self, una: int) -> int:
        """The highest SACKed sequence number (forward ACK), or ``una``."""
        sb = self.blocks
        return sb[-1][1] if sb else una

    def update(
        self,
        blocks: tuple[tuple[int, int], ...],
        ack: int,
        una: int,
        snd_max: int,
        rtx_max: int,
        delivered: Callable[[int, int], None] | None = None,
    ) -> int:
        """Record the SACK blocks of one ACK (RFC 2018), ignoring DSACK blocks
        (RFC 2883) and blocks outside (ACK, SND.MAX].

        Returns the reordering degree this ACK shows (Linux
        tcp_check_sack_reordering): how far below the previous highest SACK a
        never-retransmitted range was newly SACKed, in bytes; 0 when none.
        ``delivered(start, end)`` hears of each range newly SACKed (each byte once).
        """
        old = self.blocks[:] if delivered is not None else None
        sb = self.blocks
        limit = (snd_max - una) & MASK
        floor = (ack - una) & MASK
        added = False
        old_fack = ((sb[-1][1] - una) & MASK) if sb else 0
        rtx_off = seq_diff(rtx_max, una)
        metric = 0
        # work in offsets from SND.UNA (all held blocks lie in (0, limit])
        for s, e in blocks:
            so = seq_diff(s, una)
            eo = seq_diff(e, una)
            if eo <= floor or eo <= so or eo > limit:
                continue  # DSACK (RFC 2883) or bogus
            if so < floor:
                s = ack
                so = floor
            if (
                so < old_fack
                and so >= rtx_off
                and old_fack - so > metric
                and self.sacked_end(s, una) is None
            ):
                # never retransmitted, newly SACKed below the highest SACK: reordering
                metric = old_fack - so
            sb.append((s, e))
            added = True
        if not added:
            return metric
        sb.sort(key=lambda b: (b[0] - una) & MASK)
        merged: list[tuple[int, int]] = []
        total = 0
        for s, e in sb:
            so = (s - una) & MASK
            eo = (e - una) & MASK
            if merged and so <= (merged[-1][1] - una) & MASK:
                ps, pe = merged[-1]
                peo = (pe - una) & MASK
                if eo > peo:
                    merged[-1] = (ps, e)
                    total += eo - peo
            else:
                merged.append((s, e))
                total += eo - so
        self.blocks = merged
        self.sacked = total
        if old is not None and delivered is not None:
            _difference(merged, old, una, delivered)
        return metric

    def prune(self, ack: int) -> None:
        """SND.UNA moved to ``ack``: drop what it covers, clip the block it cuts."""
        sb = [
            (s if seq_diff(s, ack) >= 0 else ack, e) for s, e in self.blocks if seq_diff(e, ack) > 0
        ]
        self.blocks = sb
        self.sacked = sum(seq_diff(e, s) for s, e in sb)

    def sacked_end(self, seq: int, una: int) -> int | None:
        """End of the SACKed block holding ``seq``, or None."""
        x = (seq - una) & MASK
        for s, e in self.blocks:
            if x < ((s - una) & MASK):
                return None
            if x < ((e - una) & MASK):
                return e
        return None

    def next_sacked_start(self, seq: int, una: int) -> int | None:
        """Start of the first SACKed block above ``seq``, or None."""
        x = (seq - una) & MASK
        for s, _e in self.blocks:
            if ((s - una) & MASK) > x:
                return s
        return None

    def dup_boundary(self, thresh: int, una: int) -> int:
        """RFC 6675 4 IsLost: holes below the result have more than ``thresh``
        bytes ((DupThresh - 1) * SMSS) SACKed above them; ``una`` when none."""
        cum = 0
        sb = self.blocks
        for i in range(len(sb) - 1, -1, -1):
            s, e = sb[i]
            cum += seq_diff(e, s)
            if cum > thresh:
                return s
        return una

    def deliver_cumulative(
        self, old_una: int, ack: int, delivered: Callable[[int, int], None]
    ) -> None:
        """A cumulative ACK from ``old_una`` to ``ack``: ``delivered`` hears of the
        parts of it that were not SACKed before (those were delivered then)."""
        p = old_una
        limit = (ack - old_una) & MASK
        for s, e in self.blocks:
            so = (s - old_una) & MASK
            if so >= limit:
                break
            if so > (p - old_una) & MASK:
                delivered(p, s)
            if ((e - old_una) & MASK) > ((p - old_una) & MASK):
                p = e
        if ((p - old_una) & MASK) < limit:
            delivered(p, ack)


def _difference(
    new: list[tuple[int, int]],
    old: list[tuple[int, int]],
    una: int,
    out: Callable[[int, int], None],
) -> None:
    """Call ``out`` for each range covered by ``new`` and not by ``old`` (both
    sorted and merged; compared in offsets from ``una``)."""
    olds = [((s - una) & MASK, (e - una) & MASK) for s, e in old]
    n_old = len(olds)
    j = 0
    for s, e in new:
        p = (s - una) & MASK
        eo = (e - una) & MASK
        while j < n_old and olds[j][1] <= p:
            j += 1
        k = j
        while p < eo:
            if k < n_old and olds[k][0] < eo:
                os_, oe = olds[k]
                if os_ > p:
                    out((una + p) & MASK, (una + os_) & MASK)
                if oe > p:
                    p = oe
                k += 1
            else:
                out((una + p) & MASK, (una + eo) & MASK)
                p = eo
