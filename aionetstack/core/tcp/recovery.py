"""Loss recovery: RFC 6675 SACK episodes, RFC 6582 NewReno, undo (RFC 3708, RFC 3522).

Theory of operation
-------------------
Detection: DupThresh duplicate ACKs (RFC 5681), or, with SACK, IsLost(SND.UNA):
more than (DupThresh - 1) * SMSS bytes SACKed above it (RFC 6675 4; lowered
for small flights as RFC 5827 early retransmit), or a SACKed tail loss probe
(RFC 8985 7). The byte rule matters because the driver batches: one ACK may
SACK a whole batch. DupThresh is ``_reordering`` (Linux tp->reordering, 3 to
300), raised when SACKs or ACKs show that never-retransmitted data arrived out
of order.

SACK recovery (RFC 6675): one *episode* per recovery (``recovery_state.Episode``).
A piece of a hole (un-SACKed sequence space below SND.MAX) is *lost* when:
IsLost says so (DupThresh); or it is the head marked by entry / a partial ACK
(``force_to``, RFC 6675 4.2 / RFC 6582 3.2 step 5); or, RACK-style (RFC 8985
6.2), something sent later than it was delivered at least a reordering window
after it: original holes once any transmission of the episode is delivered,
retransmissions that stay unacknowledged while later ones arrive (lost
again). After an RTO with SACK, every un-SACKed byte is lost (``loss_all``,
RFC 6675 5.1) and the same machinery resends holes under slow start.
pipe = un-SACKed outstanding bytes minus lost ones (SetPipe); NextSeg rule 1
resends lost pieces while pipe < cwnd (``_recovery_send``), rule 2 sends new
data (the send loop). Without SACK, NewReno resends one segment per partial
ACK (RFC 6582).

Undo: each recovery (and RTO) saves cwnd/ssthresh (``recovery_state.UndoState``).
DSACKs for retransmitted data (RFC 2883, RFC 3708) count down the
retransmissions; when all were needless, or an ACK for retransmitted data
echoes a timestamp older than the first retransmission (Eifel, RFC 3522 /
RFC 4015), the reduction is undone (Linux tcp_try_undo_recovery /
tcp_try_undo_dsack) and DupThresh grows. The window response itself is
``congestion.py``'s.
"""

from __future__ import annotations

from collections.abc import Callable

from aionetstack.core.tcp.rack import RackTlpPart
from aionetstack.core.tcp.recovery_state import Xmit
from aionetstack.core.tcp.tcb import (
    CLOSED,
    DUPTHRESH,
    MASK,
    MAX_REORDERING,
)
from aionetstack.core.tcp.timers import INF
from aionetstack.wire.seq import seq_diff
from aionetstack.wire.tcp import (
    ACK,
    FIN,
    TcpSegment,
)

__all__ = ["RecoveryPart"]

# the RACK reordering timer fires this long after the computed deadline, so the
# walk at that wakeup finds the piece lost (Linux adds TCP_TIMEOUT_MIN, 2 jiffies)
REO_TIMER_SLACK = 0.001


class RecoveryPart(RackTlpPart):
    """Loss recovery and undo (see the module docstring)."""

    __slots__ = ()

    def _retransmit_first(
        self, out: list[bytes], now: float, tsval: int, sack: list[tuple[int, int]] | None
    ) -> None:
        """Fast retransmit (RFC 5681 3.2 step 3) of the first unSACKed segment."""
        seq = self.snd_una
        if self._sb.blocks:
            skip = self._sb.sacked_end(seq, self.snd_una)
            if skip is not None:
                seq = skip
        off = seq_diff(seq, self._sbuf_seq)
        nbuf = len(self._sbuf)
        mss = self.snd_mss - (4 + 8 * len(sack) if sack else 0)
        if off < 0:
            off = 0
        if off >= nbuf:
            if (
                self._fin_queued
                and not self._fin_acked
                and seq_diff(self.snd_max, self._fin_seq) > 0
            ):
                out.append(self._segment(self._fin_seq, ACK | FIN, b"", tsval, sack))
                self.total_retrans += 1
                self._rtx_sent(self._fin_seq, (self._fin_seq + 1) & MASK, now, tsval)
            return
        n = nbuf - off if nbuf - off < mss else mss
        nxt_sacked = self._sb.next_sacked_start(seq, self.snd_una)
        if nxt_sacked is not None:
            gap = seq_diff(nxt_sacked, seq)
            if 0 < gap < n:
                n = gap
        until_max = seq_diff(self.snd_max, seq)
        if until_max <= 0:
            return
        if n > until_max:
            n = until_max
        flags = ACK
        if off + n == nbuf and self._fin_queued and seq_diff(self.snd_max, self._fin_seq) > 0:
            flags |= FIN
        out.append(self._segment(seq, flags, bytes(self._sbuf[off : off + n]), tsval, sack))
        self.total_retrans += 1
        self._rtx_sent(seq, (seq + n) & MASK, now, tsval)
        self.bytes_retrans += n
        self.data_segs_out += 1
        self._rtt_seq = -1  # Karn's rule (RFC 6298 3)
        if self._tm.rtx == INF:
            self._tm.rtx = now + self._rtt.current()

    def _classify(self, now: float) -> tuple[int, int, int]:
        """RFC 6675 SetPipe and NextSeg rule 1 in one walk over the holes.

        Returns (pipe, start, end) where [start, end) is the first lost piece
        not yet resent (start == end when there is none).
        """
        una = self.snd_una
        smax = self.snd_max
        sb = self._sb.blocks
        nsb = len(sb)
        dup_b = self._sb.dup_boundary((self._reordering - 1) * self.snd_mss, self.snd_una)
        fack = sb[-1][1] if sb else una
        rack_xmit = self._rack.xmit_ts
        rack_end = self._rack.end_seq
        rack_ok = rack_xmit >= self._ep.start
        reo = self._reo_wnd()
        # RFC 8985 6.2 step 5: sent before RACK.xmit_ts and RACK.rtt + reo_wnd ago
        # (as an age: ``now - t`` is computed as RACK.rtt was, so the newest
        # delivered transmission's own instant is not missed by a rounding ulp)
        rack_wait = self._rack.rtt + reo
        loss_all = self._ep.loss_all
        tail_lost = loss_all or (rack_ok and rack_xmit - reo >= self._ep.start)
        # RFC 8985 6.2 step 5 for holes below the highest SACK (sent before it):
        # lost once reo_wnd has passed (0 until reordering is seen)
        below_fack_lost = rack_ok or now - self._ep.start >= reo
        force_to = self._ep.force_to
        recover = self._recover
        log = self._ep.log
        last_xmit = self._ep.sweeper(una) if log else None
        lost = 0
        first_s = first_e = una
        found = False
        # RFC 8985 6.3 / Linux tcp_rack_detect_loss: the longest wait until a piece
        # held back only by the reordering window (or RACK.rtt) is lost
        reo_due = 0.0
        p = una
        i = 0
        while seq_diff(p, smax) < 0:
            if i < nsb and seq_diff(p, sb[i][0]) >= 0:
                if seq_diff(p, sb[i][1]) < 0:
                    p = sb[i][1]
                i += 1
                continue
            hole_end = sb[i][0] if i < nsb else smax
            x = last_xmit(p) if last_xmit is not None else None
            if x is not None:
                end = x.end if seq_diff(x.end, hole_end) < 0 else hole_end
                t = x.time
                # RFC 8985 6.2 step 5: sent before RACK.xmit_ts; of one instant
                # (a wakeup sends its retransmissions and new data at one clock
                # reading), the lower sequence first, as Linux tcp_rack_sent_after
                # (bug: new data sent in the wakeup of a retransmission that was
                # then SACKed counted as sent before it: lost, resent needlessly)
                before = t < rack_xmit or (t == rack_xmit and seq_diff(end, rack_end) <= 0)
                # a transmission made at ``now`` (this very wakeup: the loop's
                # clock does not move within one) cannot be known lost yet, even
                # when RACK.rtt and reo_wnd are both 0
                if not before and i >= nsb and not x.rtx and not loss_all:
                    # above the highest SACK, new data sent after RACK.xmit_ts:
                    # so is everything above it (new data leaves in sequence
                    # order; retransmissions up here come only after an RTO):
                    # nothing more is lost or due, the walk is over (it would
                    # visit every burst in flight, per ACK)
                    break
                is_lost = t < now and before and now - t >= rack_wait and not x.delivered
                if not is_lost and before and not x.delivered:
                    # sent before RACK.xmit_ts: lost once RACK.rtt + reo_wnd has passed
                    due = t + rack_wait
                    if due > reo_due:
                        reo_due = due
            else:
                end = hole_end
                span = (end - p) & MASK
                for y in log:
                    # y starts inside (p, end): the piece not yet resent ends there
                    o = (y.start - p) & MASK
                    if 0 < o < span:
                        end = y.start
                        span = o
                is_lost = (
                    seq_diff(p, dup_b) < 0
                    or seq_diff(p, force_to) < 0
                    or (
                        seq_diff(p, recover) < 0
                        and (tail_lost or (below_fack_lost and seq_diff(p, fack) < 0))
                    )
                )
                if not is_lost and not below_fack_lost and seq_diff(p, fack) < 0:
                    # below the highest SACK: lost when reo_wnd has passed
                    due = self._ep.start + reo
                    if due > reo_due:
                        reo_due = due
            if is_lost:
                lost += seq_diff(end, p)
                if not found:
                    found = True
                    first_s, first_e = p, end
            p = end
        # RFC 8985 6.3 (Linux tcp_rack_mark_lost arms ICSK_TIME_REO_TIMEOUT in
        # recovery too): without the timer a piece held back by the reordering
        # window was looked at again only when the next ACK came, and at the tail
        # of a transfer none comes: the RTO repaired it (bug: at 5 % loss one RTO
        # in most BBR transfers, once an undo had raised DupThresh and so reo_wnd)
        self._tm.reo = reo_due + REO_TIMER_SLACK if reo_due else INF
        pipe = seq_diff(smax, una) - self._sb.sacked - lost
        return (pipe if pipe > 0 else 0), first_s, first_e

    def _recovery_send(
        self,
        out: list[bytes],
        now: float,
        tsval: int,
        sack: list[tuple[int, int]] | None,
        force: bool,
    ) -> int:
        """RFC 6675 5 step (C): resend lost pieces while pipe < cwnd (the first one
        unconditionally when ``force``: RFC 6675 5 step (4.2) on entry, RFC 6582
        3.2 step 5 on a partial ACK). Returns the pipe.

        With a loss-based controller the window during an RFC 6675 episode is
        RFC 6937 PRR's (``_prr_cwnd``: pipe + what PRR allows), as Linux's
        ``tcp_cwnd_reduction``; an RTO episode and BBR (``cong_control``) use cwnd."""
        cwnd = self._prr_limit = self._prr_cwnd(now)
        sbuf = self._sbuf
        sbuf_seq = self._sbuf_seq
        nbuf = len(sbuf)
        fin_pending = self._fin_queued and not self._fin_acked
        sent = False
        last_ps = -1
        while True:
            pipe, ps, pe = self._classify(now)
            if ps in (pe, last_ps) or (pipe >= cwnd and not force):
                # ps == last_ps: the piece just resent would be resent again; never
                # loop on it (each pass must move forward through the holes)
                break
            last_ps = ps
            force = False
            mss = self.snd_mss - (4 + 8 * len(sack) if sack else 0)
            off = seq_diff(ps, sbuf_seq)
            n = seq_diff(pe, ps)
            if n > mss:
                n = mss
            flags = ACK
            if off >= nbuf:
                if not (fin_pending and ps == self._fin_seq):
                    break
                n = 0  # the FIN alone
                flags |= FIN
            elif off + n >= nbuf:
                n = nbuf - off
                if fin_pending and seq_diff(pe, self._fin_seq) > 0:
                    flags |= FIN
            seq_len = n + (1 if flags & FIN else 0)
            payload = bytes(sbuf[off : off + n]) if n else b""
            out.append(self._segment(ps, flags, payload, tsval, sack))
            sack = None
            sent = True
            end = (ps + seq_len) & MASK
            self._ep.log.append(Xmit(ps, end, now, True))
            self.total_retrans += 1
            self._rtx_sent(ps, end, now, tsval)
            self.bytes_retrans += n
            self.data_segs_out += 1
        if sent:
            self._rtt_seq = -1  # Karn's rule (RFC 6298 3)
            if self._tm.rtx == INF:
                self._tm.rtx = now + self._rtt.current()
            pipe = self._classify(now)[0]
        return pipe

    def _prr_cwnd(self, now: float) -> int:
        """The window of this send: cwnd, or in a fast-recovery episode of a
        loss-based controller pipe + the RFC 6937 send quantum."""
        cc = self._cc
        if self._ep.loss_all or cc.cong_control or not self._ep.recover_fs:
            return cc.cwnd
        pipe = self._classify(now)[0]
        return pipe + self._ep.prr_sndcnt(pipe, cc.ssthresh, self.snd_mss)

    def _dupack(self, now: float) -> None:
        """RFC 5681 3.2 duplicate ACK; RFC 6582 3.2 NewReno."""
        self.dup_acks_in += 1
        self._dupacks += 1
        if self._in_recovery:
            if not self.sack_ok:
                # NewReno window inflation; with SACK the pipe does the accounting
                self._cc.on_dupack_in_recovery()
        elif self._dupacks == self._reordering and (
            # RFC 6582 4.1: only when the ACK covers more than the last recovery point
            seq_diff(self.snd_una, self._recover) >= 0 or self._recover == self.iss
        ):
            self._enter_recovery(now)

    def _dupthresh_bytes(self) -> int:
        """RFC 6675 DupThresh in bytes, lowered for small flights (RFC 5827)."""
        mss = self.snd_mss
        flight = seq_diff(self.snd_max, self.snd_una)
        if flight < 4 * mss and self._reordering <= DUPTHRESH:
            # RFC 5827 2.1 early retransmit: everything but one segment SACKed
            # (RFC 5827 6: not when reordering has been seen)
            return flight - mss - 1 if flight > mss else flight - 1
        # RFC 6675 4 IsLost(SND.UNA): more than (DupThresh - 1) * SMSS SACKed above
        return (self._reordering - 1) * mss

    def _enter_recovery(self, now: float) -> None:
        """RFC 5681 3.2 / RFC 6582 3.2 / RFC 6675 5: fast retransmit, fast recovery."""
        self._start_undo()
        self._ep.entry_fack = self._sb.blocks[-1][1] if self._sb.blocks else self.snd_una
        self._in_recovery = True
        self._tm.tlp = INF
        self._tm.reo = INF
        self._tlp_pending = False
        self._recover = self.snd_max
        # RFC 5681 3.2 eq. 4 FlightSize, as it was before this batch of ACKs: the
        # driver feeds a whole batch before the sender refills the window, so by
        # now the cumulative ACKs of the batch have shrunk the flight to the hole
        # and what is SACKed above it (Linux takes cwnd, tcp_reno_ssthresh)
        flight = self._flight_at_flush
        cwnd = self._cc.cwnd
        if flight > cwnd:
            flight = cwnd  # SACKed data above old holes is not in flight (Linux: cwnd)
        if self.sack_ok:
            self._begin_episode(now)
            self._ep.recover_fs = flight  # RFC 6937 RecoverFS (Linux prior_cwnd)
            self._cc.on_loss_sack(now, flight)
        else:
            self._cc.on_loss_fast(now, flight)
        self._fast_rtx = True
        self.fast_retransmits += 1
        self.lost += 1
        self._tr(now, f"fast retransmit at {self.snd_una}")

    def _begin_episode(self, now: float, carry: bool = True) -> None:
        """A new RFC 6675 recovery episode: the head marked lost (unless a
        retransmission still outstanding covers it, ``Episode.begin``)."""
        # RFC 6675 5 step (4.2): the first segment is retransmitted at once
        una = self.snd_una
        self._ep.begin(now, una, (una + self.snd_mss) & MASK, carry)
        self._rack.reset()

    def _end_episode(self) -> None:
        """The episode is over (full ACK, or undone)."""
        self._ep.end(self.snd_una)
        # a partial ACK earlier in the same batch asked for the head hole: the
        # full ACK filled it, so SND.UNA now is data nobody lost (bug: it was
        # resent, one needless retransmission per episode that ended so)
        self._fast_rtx = False
        self._rack.reset()
        self._frto = False
        self._tm.reo = INF  # the episode's RACK timer (``_classify``)

    def _frto_delivered(self, start: int, end: int) -> None:
        """RFC 5682 3.1 step 3.b (Linux FLAG_ORIG_SACK_ACKED): ``[start, end)`` was
        newly ACKed or SACKed; if part of it was sent before the timeout and not
        retransmitted since, not everything was lost: the timeout was spurious."""
        recover = self._recover
        if seq_diff(start, recover) >= 0:
            return  # sent after the timeout
        if seq_diff(end, recover) > 0:
            end = recover
        # the parts of [start, end) no retransmission of this episode covers
        p = start
        for x in sorted((x for x in self._ep.log if x.rtx), key=lambda x: (x.start - start) & MASK):
            if seq_diff(x.start, p) > 0:
                break
            if seq_diff(x.end, p) > 0:
                p = x.end
            if seq_diff(p, end) >= 0:
                return
        if seq_diff(end, p) > 0:
            self._frto_spurious = True

    def _frto_check(self, now: float) -> None:
        """After an ACK in an RTO episode: undo a spurious timeout (RFC 5682 3.1,
        response as RFC 4015 / Linux tcp_try_undo_loss)."""
        if self._frto_spurious:
            self._frto_spurious = False
            if self._undo.ok and self._in_recovery and self._ep.loss_all:
                self._undo_reduction(now, "F-RTO")
                self._frto = False

    def _start_undo(self) -> None:
        """Save the window before a reduction (Linux tcp_init_undo)."""
        una = self.snd_una
        # Linux tcp_init_undo: undo_retrans = retrans_out. Retransmissions of an
        # earlier episode still in flight repair this loss too; only DSACKs for
        # them (or Eifel) show it spurious (bug: an episode whose head was already
        # on its way sent nothing, and its end undid the reduction and raised
        # DupThresh as if the loss had been reordering)
        outstanding = 0
        sb = self._sb
        for x in self._ep.log:
            if x.rtx and not x.delivered and seq_diff(x.end, una) > 0:
                e = sb.sacked_end(x.start, una)  # (SACKed while no episode ran)
                if e is None or seq_diff(e, x.end) < 0:
                    outstanding += 1
        self._undo.start(
            self._cc.cwnd, self._cc.ssthresh, una, seq_diff(self._rtx_max, una) > 0, outstanding
        )

    def _undo_reduction(self, now: float, why: str) -> None:
        """The reduction was spurious: restore cwnd/ssthresh, leave recovery
        (RFC 3708 2 / RFC 4015 3; Linux tcp_try_undo_recovery, tcp_try_undo_dsack)."""
        self._undo.ok = False
        self.undos += 1
        self._cc.undo(self._undo.cwnd, self._undo.ssthresh)
        # the degree of the reordering that fooled us (Linux tcp_check_sack_reordering)
        self._note_reordering(seq_diff(self._ep.entry_fack, self._undo.marker) + self.snd_mss)
        if self._in_recovery:
            self._in_recovery = False
            self._end_episode()
        if seq_diff(self.snd_nxt, self.snd_max) < 0:
            # RFC 4015 3.1 step (4): resume with new data after a spurious timeout
            self.snd_nxt = self.snd_max
        self._recover = self.snd_una  # Linux: back to Open, a new loss may start recovery
        self._tm.rtx = now + self._rtt.current() if self.snd_una != self.snd_max else INF
        self._tr(now, f"undo ({why}): cwnd {self._cc.cwnd} ssthresh {self._cc.ssthresh}")

    def _on_dsack(self, start: int, end: int, now: float) -> None:
        """RFC 2883 / RFC 3708: a duplicate arrived; was it our retransmission?"""
        self.dsacks_in += 1
        # RFC 8985 6.2 step 4: widen the reordering window
        if self._rack.reo_mult < 4:
            self._rack.reo_mult += 1
        if not self._undo.ok or seq_diff(end, self._undo.marker) <= 0:
            return
        if seq_diff(start, self._rtx_max) >= 0:
            return  # not something we retransmitted (a network duplicate)
        mss = self.snd_mss
        segs = (seq_diff(end, start) + mss - 1) // mss
        if segs < 1:
            segs = 1
        self.spurious_retrans += segs
        self._undo.retrans -= segs
        if self._undo.retrans <= 0:
            # RFC 3708 2: every retransmission of the episode was needless
            self._undo_reduction(now, "DSACK")

    def _note_reordering(self, metric: int) -> None:
        """Linux tcp_check_sack_reordering: raise DupThresh to the degree seen."""
        mss = self.snd_mss
        if metric > self._reordering * mss:
            r = (metric + mss - 1) // mss
            self._reordering = r if r < MAX_REORDERING else MAX_REORDERING

    def _sack_delivered_callback(self) -> Callable[[int, int], None] | None:
        """Who hears of newly SACKed ranges: the rate estimator, F-RTO, both, none."""
        rate = self._rate.on_delivered if self._rate.active else None
        if not self._frto:
            return rate
        if rate is None:
            return self._frto_delivered
        frto = self._frto_delivered

        def both(start: int, end: int) -> None:
            rate(start, end)
            frto(start, end)

        return both

    def _on_sack_blocks(self, blocks: tuple[tuple[int, int], ...], ack: int, now: float) -> None:
        """An ACK's SACK blocks: a DSACK (RFC 2883 4: a first block below the ACK or
        inside the second) first, then the scoreboard, and the reordering it shows."""
        s0, e0 = blocks[0]
        if seq_diff(e0, ack) <= 0 or (
            len(blocks) > 1 and seq_diff(s0, blocks[1][0]) >= 0 and seq_diff(e0, blocks[1][1]) <= 0
        ):
            self._on_dsack(s0, e0, now)
        metric = self._sb.update(
            blocks,
            ack,
            self.snd_una,
            self.snd_max,
            self._rtx_max,
            self._sack_delivered_callback(),
        )
        if metric:
            self._note_reordering(metric)

    def _detect_sack_loss(self, seg: TcpSegment, now: float) -> None:
        """After an ACK's SACK and cumulative parts: RACK's state in recovery;
        outside it, RFC 6675 IsLost or a SACKed tail probe starts recovery, or a
        hole below SACKed data waits one reordering window (RFC 8985 6.3)."""
        if self._in_recovery:
            if self.sack_ok and self._ep.log:
                self._rack_update(seg, now)
            return
        if (
            (
                self._sb.sacked > self._dupthresh_bytes()
                # RFC 8985 6.2/7.4 (RACK in small): the tail probe was SACKed,
                # so everything sent before it and still un-SACKed is lost
                or (self._tlp_pending and self._sb.blocks[-1][1] == self.snd_max)
            )
            and self.state is not CLOSED
            and (seq_diff(self.snd_una, self._recover) >= 0 or self._recover == self.iss)
        ):
            # RFC 6675 5: DupThresh segments' worth SACKed above SND.UNA: loss
            self._enter_recovery(now)
        elif self._tm.reo == INF:
            # RFC 8985 6.3: a hole below SACKed data: wait one reordering window
            self._tm.reo = now + max(self._reo_wnd(False), 0.001)

    def _try_undo_eifel(self, ecr: int | None, ack: int, now: float) -> None:
        """RFC 3522 3.2 (Eifel detection), while recovering (Linux
        tcp_try_undo_partial / _recovery / _loss): an ACK for retransmitted data
        that echoes a TSval older than the first retransmission: the original
        arrived, the reduction was spurious."""
        u = self._undo
        if (
            self.ts_ok
            and u.tsval
            and ecr
            and seq_diff(ack, u.marker) > 0
            and seq_diff(ecr, u.tsval) < 0
        ):
            self._undo_reduction(now, "timestamps (Eifel)")

    def _recovery_ack(
        self, seg: TcpSegment, ack: int, data_acked: int, rtt: float, in_flight: int, now: float
    ) -> None:
        """An ACK that advances SND.UNA during recovery: a full ACK ends it (RFC
        6582 3.2 step 6, RFC 6675 5), a partial one marks the next hole lost
        (RFC 6582 3.2 step 5) and feeds RACK."""
        cc = self._cc
        if seq_diff(ack, self._recover) >= 0:
            self._in_recovery = False
            if self._undo.ok and self._undo.retrans <= 0:
                # Linux tcp_try_undo_recovery: nothing was retransmitted, or every
                # retransmission was DSACKed (RFC 3708 2): the loss was reordering
                self._in_recovery = True
                self._undo_reduction(now, "recovery without needed retransmissions")
                cc.on_ack(data_acked, rtt, now, in_flight)
            elif self._ep.loss_all:
                # after an RTO the window is what slow start made it (RFC 5681 3.1)
                cc.on_ack(data_acked, rtt, now, in_flight)
            else:
                cc.on_recovery_exit(now, in_flight)
            self._end_episode()
            return
        if self.sack_ok:
            if self._ep.loss_all:
                cc.on_ack(data_acked, rtt, now, in_flight)  # RFC 5681 3.1 slow start
            if self._sb.blocks:
                # RFC 6582 3.2 step 5 for SACK too: a partial ACK with
                # SACKed data above the new SND.UNA: the head hole is lost
                head = (ack + self.snd_mss) & MASK
                if seq_diff(head, self._ep.force_to) > 0:
                    self._ep.force_to = head
            self._ep.prune(ack)
            if self._ep.log:
                self._rack_update(seg, now)
        else:
            # RFC 6582 3.2 step 5: deflate, retransmit the next hole at once
            cc.on_partial_ack(data_acked)
        self._fast_rtx = True
