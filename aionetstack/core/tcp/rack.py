"""RACK and TLP: time-based loss detection and tail loss probes (RFC 8985).

Theory of operation
-------------------
RACK (RFC 8985 6): during a recovery episode, the newest transmission known
delivered (``RackState.xmit_ts``) dates every piece sent before it; such a
piece still undelivered a reordering window later is lost (the marking itself
is in ``recovery.py``'s walk over the holes). ``_rack_update`` advances the
state from each ACK; ``_reo_wnd`` is RFC 8985 6.2 step 4.

TLP (RFC 8985 7): after an ACK leaves data outstanding, a probe timeout of
about two SRTTs (``_arm_tlp``); when it passes, one probe goes out, new data if
the window allows, else the last segment (never the FIN alone on a data
segment's behalf, RFC 8985 7.3), so a tail loss is repaired by fast recovery
instead of an RTO.
"""

from __future__ import annotations

from aionetstack.core.tcp.sender import SenderPart
from aionetstack.core.tcp.tcb import (
    CLOSING,
    FAST_STATES,
    LAST_ACK,
    MASK,
)
from aionetstack.core.tcp.timers import INF
from aionetstack.wire.seq import SEQ_HALF, seq_diff
from aionetstack.wire.tcp import (
    ACK,
    FIN,
    PSH,
    TcpSegment,
)

__all__ = ["RackTlpPart"]


class RackTlpPart(SenderPart):
    """RACK state updates and tail loss probes (see the module docstring)."""

    __slots__ = ()

    def _reo_wnd(self, recovery: bool = True) -> float:
        """RFC 8985 6.2 step 4: reo_wnd = reo_wnd_mult * min_RTT / 4, at most SRTT;
        0 in recovery while no reordering has been seen."""
        r = self._rtt
        return self._rack.reo_wnd(r.min_rtt, r.srtt, self._reordering, recovery)

    def _rack_update(self, seg: TcpSegment, now: float) -> None:
        """RFC 8985 6.2 steps 1-2: RACK.xmit_ts / RACK.rtt from the newest delivered send."""
        ack = self.snd_una
        min_rtt = self._rtt.min_rtt
        ecr = seg.ts_ecr if self.ts_ok else None
        blocks = seg.sack_blocks
        rack = self._rack
        # the ACK's blocks as offsets above SND.UNA (a DSACK below it: none)
        offs = []
        for s0, e0 in blocks:
            eo = (e0 - ack) & MASK
            if 0 < eo < SEQ_HALF:
                so = (s0 - ack) & MASK
                offs.append((so if so < SEQ_HALF else 0, eo))
        for x in self._ep.log:
            if x.delivered:
                continue
            xe = (x.end - ack) & MASK
            cum = xe == 0 or xe >= SEQ_HALF  # x.end <= SND.UNA
            if not cum:
                xs = (x.start - ack) & MASK
                if 0 < xs < SEQ_HALF:
                    # not reached by the cumulative ACK: only what this ACK's
                    # blocks cover can be newly SACKed (the scoreboard learns
                    # nothing else from it), so the rest is skipped without a
                    # walk over the scoreboard (this runs per entry per ACK in
                    # recovery, where the log holds every burst in flight)
                    for so, eo in offs:
                        if eo > xs and so < xe:
                            break
                    else:
                        continue
                e = self._sb.sacked_end(x.start, self.snd_una)
                if e is None or seq_diff(e, x.end) < 0:
                    if not x.rtx:
                        # a burst of new data is logged as one entry (its segments
                        # share one send time): the part of it this ACK delivers
                        # dates it up to that part's end, as Linux's per-segment
                        # tcp_rack_advance would (bug: RACK ignored a burst until
                        # all of it was delivered, so a loss in it, or a
                        # retransmission sent with it, waited for other news)
                        if seq_diff(ack, x.start) > 0:
                            rack.advance(x.time, ack, now - x.time)
                        for s0, e0 in blocks:
                            if seq_diff(e0, x.start) > 0 and seq_diff(s0, x.end) < 0:
                                rack.advance(
                                    x.time, e0 if seq_diff(e0, x.end) < 0 else x.end, now - x.time
                                )
                    continue
            x.delivered = True
            if x.rtx and (
                now - x.time < min_rtt or (cum and ecr and seq_diff(ecr, self._ts_val(x.time)) < 0)
            ):
                # RFC 8985 6.2 step 2: probably the original's ACK, not this one.
                # The echo only dates what the ACK cumulatively acknowledged: a
                # receiver takes TS.Recent from in-order segments only (RFC 7323
                # 4.3), so a SACKed retransmission is always echoed an older TSval,
                # and judging it so kept RACK from ever seeing a retransmission
                # delivered by SACK: a retransmission lost again waited for the
                # RTO. Linux tcp_rack_advance (tcp_recovery.c) uses min_rtt alone.
                continue
            rack.advance(x.time, x.end, now - x.time)

    def _arm_tlp(self, now: float) -> None:
        """RFC 8985 7.2: schedule a probe timeout (PTO) for the tail of a flight."""
        srtt = self._rtt.srtt
        if srtt == 0.0:
            pto = 1.0
        else:
            pto = 2.0 * srtt
            if seq_diff(self.snd_max, self.snd_una) <= self.snd_mss:
                pto += self.config.delayed_ack_max  # WCDelAckT: a lone segment's delayed ACK
            if pto < 0.01:
                pto = 0.01  # Linux TCP_TIMEOUT_MIN
        t = now + pto
        # RFC 8985 7.2: PTO = min(PTO, RTO): when the RTO comes first the probe takes
        # its place (Linux tcp_schedule_loss_probe: one timer, the loss probe at the
        # RTO's time), and the RTO proper is re-armed after the probe
        rtx = self._tm.rtx
        self._tm.tlp = t if t < rtx else rtx

    def _on_tlp(self, now: float) -> None:
        """RFC 8985 7.3: the PTO expired: send one probe (new data, or the last segment)."""
        self._tm.tlp = INF
        if (
            self._in_recovery
            or self._tlp_pending
            or self.snd_una == self.snd_max
            or (self.state not in FAST_STATES and self.state is not CLOSING
            and self.state is not LAST_ACK)
        ):  # fmt: skip
            return
        self._tlp_probe = True
        self._tlp_pending = True
        self._tr(now, "tail loss probe")

    def _send_tlp(self, out: list[bytes], now: float, tsval: int) -> None:
        """RFC 8985 7.3: new data if the peer's window allows, else the last segment."""
        nbuf = len(self._sbuf)
        off = seq_diff(self.snd_nxt, self._sbuf_seq)
        mss = self.snd_mss
        if (
            off < nbuf
            and seq_diff(self.snd_nxt, self.snd_una) + min(mss, nbuf - off) <= self.snd_wnd
        ):
            n = min(mss, nbuf - off)
            flags = ACK | PSH
            if off + n == nbuf and self._fin_queued:
                flags |= FIN
            seq = self.snd_nxt
            out.append(self._segment(seq, flags, bytes(self._sbuf[off : off + n]), tsval, None))
            self._last_seg_start = seq
            nxt = (seq + n + (1 if flags & FIN else 0)) & MASK
            self._rate.on_send(seq, nxt, now, seq_diff(self.snd_nxt, self.snd_una))
            self.snd_nxt = nxt
            if seq_diff(nxt, self.snd_max) > 0:
                self.snd_max = nxt
            self.bytes_sent += n
            self.data_segs_out += 1
        else:
            # retransmit the highest-sequence segment as it was sent (Linux
            # tcp_send_loss_probe: the last skb of the retransmission queue)
            end = self.snd_max
            fin = self._fin_queued and seq_diff(end, self._fin_seq) > 0
            data_end = self._fin_seq if fin else end
            start = self._last_seg_start
            if seq_diff(start, self.snd_una) < 0 or seq_diff(start, data_end) >= 0:
                start = self.snd_una
            n = min(mss, seq_diff(data_end, start))
            seq = (data_end - n) & MASK
            off = seq_diff(seq, self._sbuf_seq)
            if off < 0 or n < 0:
                return
            flags = ACK | (FIN if fin else 0)
            out.append(self._segment(seq, flags, bytes(self._sbuf[off : off + n]), tsval, None))
            self.total_retrans += 1
            self.bytes_retrans += n
            self._rtx_sent(seq, (seq + n) & MASK, now, tsval)
        # RFC 8985 7.3: re-arm the RTO after the probe
        self._tm.rtx = now + self._rtt.current()
