"""What happens when each deadline passes (RFC 6298 5, RFC 8985, RFC 9293 3.8.6.1).

Theory of operation
-------------------
The deadlines themselves are ``timers.Timers``; ``handle_timer(now)`` handles
every one that is due and ignores the others, so an early or late call is
harmless. The retransmission timeout (SYN, SYN-ACK and data, with exponential
backoff and the retry limits), the RACK reordering timer, the persist timer
(zero-window probes, SWS override) and keepalive live here; the TLP timeout is
``rack.py``'s, the delayed ACK the receiver's, TIME-WAIT the state machine's.
"""

from __future__ import annotations

from aionetstack.core.tcp.recovery import RecoveryPart
from aionetstack.core.tcp.tcb import (
    CLOSE_WAIT,
    CLOSED,
    CLOSING,
    ESTABLISHED,
    FAST_STATES,
    FIN_WAIT_1,
    FIN_WAIT_2,
    LAST_ACK,
    SYN_RECEIVED,
    SYN_SENT,
    TIME_WAIT,
)
from aionetstack.core.tcp.timers import INF
from aionetstack.wire.seq import seq_diff

__all__ = ["TimeoutPart"]


class TimeoutPart(RecoveryPart):
    """Timer expiry handling (see the module docstring)."""

    __slots__ = ()

    def handle_timer(self, now: float) -> None:
        """Handle every expired deadline (safe to call early or late)."""
        if now >= self._tm.time_wait:
            self._tm.time_wait = INF
            if self.state is TIME_WAIT:
                self._set_state(CLOSED, "TIME-WAIT expired", now)
            elif self.state is FIN_WAIT_2:
                self._set_state(CLOSED, "FIN-WAIT-2 timeout (tcp_fin_timeout)", now)
            return
        tm = self._tm
        if now >= tm.tlp and tm.tlp <= tm.rtx:
            # the probe comes first, even when due with the RTO (RFC 8985 7.2)
            self._on_tlp(now)
        if now >= tm.rtx and not self._tlp_probe:
            self._on_rto(now)
        if now >= self._tm.reo:
            self._on_reo_timer(now)
        if now >= self._tm.delack:
            # RFC 1122 4.2.3.2: the delayed ACK is due; Linux tcp_delack_timer_handler:
            # a delayed ACK that had to fire ends interactive (pingpong) mode
            self._tm.delack = INF
            self._ack_now = True
            self._pingpong = False
        if now >= self._tm.persist:
            self._on_persist(now)
        if now >= self._tm.keepalive:
            self._on_keepalive(now)
        if now >= self._tm.pace:
            # the pacing gap passed: the next packets_to_send sends again
            self._tm.pace = INF

    def _on_rto(self, now: float) -> None:
        st = self.state
        rtt = self._rtt
        if st is SYN_SENT or st is SYN_RECEIVED:
            limit = self.config.syn_retries if st is SYN_SENT else self.config.synack_retries
            if self._retransmits >= limit:
                self._fail(self._timeout_error(), "SYN retries exhausted", now)
                return
            self._retransmits += 1
            self.rto_expirations += 1
            rtt.on_timeout()
            self.snd_nxt = self.iss  # resend SYN / SYN-ACK
            self.total_retrans += 1
            self._tm.rtx = now + rtt.current()
            self._tr(now, f"RTO: retransmit SYN #{self._retransmits}")
            return
        if self.snd_una == self.snd_max:
            self._tm.rtx = INF
            return
        if self._retransmits >= self.config.retries2:
            self._fail(self._timeout_error(), "retransmissions exhausted (retries2)", now)
            return
        self._retransmits += 1
        self.rto_expirations += 1
        self._tm.tlp = INF
        self._tlp_probe = False
        in_flight = seq_diff(self.snd_max, self.snd_una)
        # RFC 3522 / RFC 4015: remember the window so a spurious timeout can be undone
        self._start_undo()
        self._ep.entry_fack = self.snd_una  # a spurious timeout says nothing of reordering
        # RFC 5681 3.1 / RFC 6298 5.5-5.6: shrink cwnd, back off, retransmit
        self._cc.on_rto(now, in_flight)
        self._recover = self.snd_max  # RFC 6582 4.1 / RFC 6675 5.1: the recovery point
        self._dupacks = 0
        self.lost += 1
        rtt.on_timeout()
        self._rtt_seq = -1  # Karn
        if self._retransmits >= 2 and self._sb.blocks:
            # RFC 2018 8: a repeated timeout may mean the receiver reneged: forget SACKs
            self._sb.clear()
        if self.sack_ok and self.state is not SYN_RECEIVED:
            # RFC 6675 5.1: every un-SACKed byte is lost; the scoreboard is kept
            # and the holes go out in order under slow start (RFC 5681 3.1), while
            # later SACKs still reveal retransmissions lost again (RFC 8985 6.2)
            self._begin_episode(now, carry=False)  # everything is lost: resend it all
            self._ep.loss_all = True
            # RFC 5682 3.1 (SACK-enhanced F-RTO, Linux tcp_frto=2): watch for ACKs
            # of data sent before the timeout and never retransmitted
            self._frto = True
            self._in_recovery = True
            self._fast_rtx = True
        else:
            self._in_recovery = False
            self.snd_nxt = self.snd_una  # go back to SND.UNA
        self._tm.rtx = now + rtt.current()
        self._tr(now, f"RTO #{self._retransmits}: go back to {self.snd_una}")

    def _on_reo_timer(self, now: float) -> None:
        """RFC 8985 6.3: the reordering window passed and the hole below SACKed
        data is still there: it is lost (RACK), recovery starts. In recovery
        (Linux tcp_rack_reo_timeout) the flush's walk over the holes marks what
        the window held back and resends it (``recovery._classify``)."""
        self._tm.reo = INF
        if self._in_recovery:
            return
        st = self.state
        if (
            not self._in_recovery
            and self._sb.sacked
            and (st in FAST_STATES or st is CLOSING or st is LAST_ACK)
            and (seq_diff(self.snd_una, self._recover) >= 0 or self._recover == self.iss)
        ):
            self._tr(now, "RACK reordering timer: hole lost")
            self._enter_recovery(now)

    def _on_persist(self, now: float) -> None:
        # RFC 9293 3.8.6.1: probe the zero window, backing off
        self._tm.persist = INF
        if self.state is CLOSED or self.state is TIME_WAIT:
            return
        if self.snd_wnd and seq_diff(self.snd_nxt, self.snd_una) == 0 and self._sbuf:
            # a small window we would not fill (sender SWS): send what fits
            self._sws_override = True
            return
        if (
            self.snd_wnd == 0
            and seq_diff(self.snd_nxt, self.snd_una) == 0
            and (self._sbuf or (self._fin_queued and not self._fin_acked))
        ):
            self._probe_pending = True
            self._persist_backoff += 1
            self._arm_persist(now)
            self._tr(now, f"zero-window probe #{self._persist_backoff}")

    def _on_keepalive(self, now: float) -> None:
        st = self.state
        cfg = self.config
        if st not in (ESTABLISHED, CLOSE_WAIT, FIN_WAIT_1, FIN_WAIT_2):
            self._tm.keepalive = INF
            return
        if self.snd_una != self.snd_max or self._sbuf:
            # data outstanding: the retransmission timer watches the peer
            self._tm.keepalive = now + cfg.keepalive_idle
            return
        if self._ka_probes >= cfg.keepalive_count:
            # Linux tcp_keepalive_timer: tcp_send_active_reset, then tcp_write_err
            self._send_rst(now)
            self._fail(self._timeout_error(), "keepalive probes unanswered", now)
            return
        self._ka_probes += 1
        self._probe_pending = True
        self._tm.keepalive = now + cfg.keepalive_interval
        self._tr(now, f"keepalive probe #{self._ka_probes}")
