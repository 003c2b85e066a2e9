"""The state of loss recovery and RACK, as small objects (RFC 6675, RFC 8985, RFC 3708).

Theory of operation
-------------------
These records hold what ``recovery.py`` and ``rack.py`` decide with; they know
nothing of the connection, so each can be tested alone.

``Episode``: one RFC 6675 recovery episode. ``log`` records every
transmission sent during it (one ``Xmit`` per retransmitted piece, one per
burst of new data) with its time, which is what RACK-style marking needs: a
piece is lost once something sent later was delivered a reordering window
after it (RFC 8985 6.2). ``force_to``: holes below it are lost by fiat (the
head at entry, RFC 6675 5 step (4.2); the head after a partial ACK, RFC 6582
3.2 step 5). ``loss_all``: the episode began with an RTO, so every un-SACKed
byte is lost (RFC 6675 5.1).

``UndoState``: the window saved before a reduction (Linux ``tcp_init_undo``)
and the count of retransmissions a DSACK must account for (``undo_retrans``)
before the reduction can be called spurious (RFC 3708 2); ``tsval``: the
TSval of the first retransmission, for Eifel detection (RFC 3522 3.2).

``RackState``: RFC 8985 6.1 RACK.xmit_ts / RACK.rtt of the most recently
sent transmission known delivered, and RACK.reo_wnd_mult.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

from aionetstack.wire.seq import seq_diff

__all__ = ["DUPTHRESH", "Episode", "RackState", "UndoState", "Xmit"]

INF = float("inf")
# RFC 6675 2 DupThresh / Linux net.ipv4.tcp_reordering
DUPTHRESH = 3


class Xmit:
    """One transmission during a recovery episode (RFC 8985 6.1 per-segment state)."""

    __slots__ = ("delivered", "end", "rtx", "start", "time")

    def __init__(self, start: int, end: int, time: float, rtx: bool) -> None:
        #: Sequence range [start, end) sent.
        self.start = start
        self.end = end
        #: When it was sent (RFC 8985 Segment.xmit_ts).
        self.time = time
        #: A retransmission (True) or new data (False).
        self.rtx = rtx
        #: Cumulatively ACKed or SACKed since (RFC 8985 6.2 step 1).
        self.delivered = False


class Episode:
    """One RFC 6675 recovery episode (see the module docstring)."""

    __slots__ = (
        "delivered_now",
        "entry_fack",
        "force_to",
        "log",
        "loss_all",
        "prr_delivered",
        "prr_out",
        "recover_fs",
        "start",
    )

    def __init__(self, iss: int) -> None:
        #: Every transmission of this episode, oldest first.
        self.log: list[Xmit] = []
        #: When the episode began.
        self.start = 0.0
        #: Holes below this sequence number are lost by fiat.
        self.force_to = iss
        #: An RTO episode: every un-SACKed byte is lost (RFC 6675 5.1).
        self.loss_all = False
        #: The highest SACKed sequence at entry (the reordering degree, if undone).
        self.entry_fack = iss
        #: RFC 6937 PRR: bytes delivered (ACKed or SACKed) and sent during the
        #: episode, the flight at its start, and what the latest ACK delivered.
        self.prr_delivered = 0
        self.prr_out = 0
        self.recover_fs = 0
        self.delivered_now = 0

    def begin(self, now: float, una: int, head_end: int, carry: bool = True) -> None:
        """A new episode: the head (``una`` up to ``head_end``) marked lost.

        With ``carry``, retransmissions of earlier episodes still outstanding
        (``end`` kept them) stay in the log with their send times: RACK judges
        them as Linux does skbs still marked SACKED_RETRANS, lost only once
        something sent after them is delivered, and a head such a
        retransmission covers is not resent at once (bug: an episode that
        began on the ACK ending the previous one resent the hole that episode
        had just resent, and the next one again)."""
        carried = [
            x for x in self.log if carry and x.rtx and not x.delivered and seq_diff(x.end, una) > 0
        ]
        self.log = carried
        self.start = now
        self.loss_all = False
        # RFC 6675 5 step (4.2): the first segment is retransmitted at once
        self.force_to = head_end
        for x in carried:
            if ((una - x.start) & 0xFFFFFFFF) < ((x.end - x.start) & 0xFFFFFFFF):
                self.force_to = una  # the head is on its way again already
                break
        self.prr_delivered = self.prr_out = self.delivered_now = 0
        self.recover_fs = 0

    def prr_sndcnt(self, pipe: int, ssthresh: int, mss: int) -> int:
        """RFC 6937 3: how much may be sent now (Linux tcp_cwnd_reduction):
        proportionally to what was delivered while the pipe is above ssthresh,
        then slow start back up to it (PRR-SSRB)."""
        if pipe > ssthresh:
            fs = self.recover_fs if self.recover_fs > 0 else 1
            sndcnt = -(-self.prr_delivered * ssthresh // fs) - self.prr_out
        else:
            limit = self.prr_delivered - self.prr_out
            if self.delivered_now > limit:
                limit = self.delivered_now
            limit += mss
            sndcnt = ssthresh - pipe
            if limit < sndcnt:
                sndcnt = limit
        return sndcnt if sndcnt > 0 else 0

    def end(self, una: int) -> None:
        """The episode is over; its retransmissions still outstanding are kept
        for the next one (``begin``)."""
        self.log = [x for x in self.log if x.rtx and not x.delivered and seq_diff(x.end, una) > 0]
        self.loss_all = False
        self.force_to = una

    def last_xmit(self, seq: int) -> Xmit | None:
        """The latest transmission of this episode that covers ``seq``."""
        # x covers seq when seq's offset from x.start is below x's length (one
        # unsigned comparison on the sequence circle; this runs per hole per ACK)
        log = self.log
        for i in range(len(log) - 1, -1, -1):
            x = log[i]
            start = x.start
            if ((seq - start) & 0xFFFFFFFF) < ((x.end - start) & 0xFFFFFFFF):
                return x
        return None

    def sweeper(self, una: int) -> Callable[[int], Xmit | None]:
        """``last_xmit`` for a walk in rising sequence order from ``una``: the
        latest transmission covering each queried point, in O((L + Q) log L)
        for L transmissions and Q queries instead of O(L * Q). Queries must not
        go backwards."""
        log = self.log
        order = sorted(range(len(log)), key=lambda i: (log[i].start - una) & 0xFFFFFFFF)
        active: list[tuple[int, int]] = []  # (-index, end offset): the latest first
        pos = 0
        n = len(order)

        def query(seq: int) -> Xmit | None:
            nonlocal pos
            o = (seq - una) & 0xFFFFFFFF
            while pos < n:
                i = order[pos]
                x = log[i]
                if (x.start - una) & 0xFFFFFFFF > o:
                    break
                heapq.heappush(active, (-i, (x.end - una) & 0xFFFFFFFF))
                pos += 1
            while active:
                neg, end = active[0]
                if end > o:
                    return log[-neg]
                heapq.heappop(active)  # over: every later query lies above it
            return None

        return query

    def prune(self, ack: int) -> None:
        """Forget transmissions that SND.UNA (now ``ack``) covers entirely."""
        log = self.log
        if log and any(seq_diff(x.end, ack) <= 0 for x in log):
            self.log = [x for x in log if seq_diff(x.end, ack) > 0]


class UndoState:
    """What an undo of the last window reduction needs (Linux undo_marker / undo_retrans)."""

    __slots__ = ("cwnd", "marker", "ok", "retrans", "ssthresh", "tsval")

    def __init__(self, iss: int) -> None:
        #: A reduction may still be undone.
        self.ok = False
        #: SND.UNA when the reduction began (DSACKs below it are older news).
        self.marker = iss
        #: cwnd and ssthresh before the reduction.
        self.cwnd = 0
        self.ssthresh = 0
        #: Retransmissions not yet shown needless by a DSACK.
        self.retrans = 0
        #: TSval of the first retransmission (0: none yet).
        self.tsval = 0

    def start(
        self, cwnd: int, ssthresh: int, una: int, rtx_outstanding: bool = False, retrans: int = 0
    ) -> None:
        """Save the window before a reduction (Linux tcp_init_undo).

        ``rtx_outstanding``: data retransmitted before is not yet acknowledged.
        Then the first retransmission's TSval stays (Linux keeps retrans_stamp
        until tcp_any_retrans_done() is false): an ACK for that older
        retransmission echoes a TSval older than this episode's first one,
        and taking that as Eifel's proof of a spurious reduction undid real
        recoveries (bug: each undo was followed by a new episode that resent
        what was already on its way, at 5 % loss two to three needless
        retransmissions per loss with BBR)."""
        self.ok = True
        self.cwnd = cwnd
        self.ssthresh = ssthresh
        self.marker = una
        # Linux tcp_init_undo: the retransmissions still in flight (``retrans``)
        # must be shown needless too
        self.retrans = retrans
        if not rtx_outstanding:
            self.tsval = 0

    def note_retransmission(self, tsval: int) -> None:
        """A retransmission an undo must account for (Linux undo_retrans, retrans_stamp)."""
        if self.ok:
            self.retrans += 1
            if not self.tsval:
                self.tsval = tsval or 1


class RackState:
    """RFC 8985 6.1 RACK state."""

    __slots__ = ("end_seq", "reo_mult", "rtt", "xmit_ts")

    def __init__(self) -> None:
        #: RACK.xmit_ts: send time of the latest transmission known delivered.
        self.xmit_ts = -INF
        #: RACK.end_seq: its end, which orders transmissions of the same instant
        #: (one wakeup sends many at one clock reading; Linux tcp_rack_sent_after)
        self.end_seq = 0
        #: RACK.rtt: the RTT measured from that transmission.
        self.rtt = 0.0
        #: RACK.reo_wnd_mult (RFC 8985 6.2 step 4), grown by DSACKs.
        self.reo_mult = 1

    def reset(self) -> None:
        """A new or finished episode: nothing delivered yet."""
        self.xmit_ts = -INF
        self.end_seq = 0
        self.rtt = 0.0

    def advance(self, time: float, end: int, rtt: float) -> None:
        """RFC 8985 6.2 step 2 (Linux tcp_rack_advance): a transmission sent at
        ``time`` ending at ``end`` was delivered; keep the most recently sent
        one, by time, then by sequence (Linux tcp_rack_sent_after)."""
        if time > self.xmit_ts or (time == self.xmit_ts and seq_diff(end, self.end_seq) > 0):
            self.xmit_ts = time
            self.end_seq = end
            self.rtt = rtt

    def reo_wnd(self, min_rtt: float, srtt: float, reordering: int, recovery: bool) -> float:
        """RFC 8985 6.2 step 4: reo_wnd = reo_wnd_mult * min_RTT / 4, at most SRTT;
        0 in recovery while no reordering has been seen (DupThresh not raised)."""
        if recovery and reordering <= DUPTHRESH:
            return 0.0  # RFC 8985 6.2 step 4: RACK.reordering_seen is FALSE
        w = min_rtt * 0.25 * self.reo_mult
        return w if w < srtt else srtt
