"""The sending half: SND.*, the send buffer, the send loop (Nagle, SWS), persist.

Theory of operation
-------------------
The send buffer ``_sbuf`` holds every byte not yet acknowledged; retransmission
without SACK is "go back": on RTO ``snd_nxt`` returns to ``snd_una`` and this
same loop resends (skipping what the peer has SACKed), while ``snd_max``
remembers the highest sequence sent. The loop sends what min(cwnd, SND.WND)
allows (RFC 9293 3.8.6.2.1), with sender SWS avoidance and Nagle (RFC 1122
4.2.3.4); the persist timer probes a zero window (RFC 9293 3.8.6.1) and is the
SWS override timeout. It stays one flat loop: it runs for every segment sent.

Send buffer autotuning (Linux ``tcp_sndbuf_expand``): the send buffer
``_sndbuf`` (what the engine holds before the transport's write buffer
begins, ``TcpTransport.get_write_buffer_size``) is ``send_buffer_initial``
(tcp_wmem[1]) until the handshake completes, then room for the congestion
controller's factor (2; BBR 3) x cwnd segments, each counted at Linux's
per-segment size (payload + headers + skb overhead, rounded up to a power of
two: 4352 bytes for a 1448-byte MSS, so 87040 bytes at first, as Linux),
at least TCP_INIT_CWND and reordering + 1 segments, up to ``send_buffer``
(tcp_wmem[2]). It grows after an ACK freed space while the sender is not
cwnd-limited and the stack's memory is below tcp_mem's low mark
(``tcp_should_expand_sndbuf``); above the high mark it is moderated to half of
what is queued (``sk_stream_moderate_sndbuf``), so the transport pauses the
writer. The buffer holds payload, its size counts as Linux's: a little more
payload fits than in a kernel socket of the same size.
"""

from __future__ import annotations

from aionetstack.core.tcp.receiver import ReceiverPart
from aionetstack.core.tcp.tcb import (
    CLOSED,
    CLOSING,
    DEFAULT_MSS,
    FIN_WAIT_1,
    FIN_WAIT_2,
    LAST_ACK,
    MASK,
    TCP_MIN_MSS,
    TIME_WAIT,
    TS_OPT,
    TS_WORD,
)
from aionetstack.core.tcp.timers import INF
from aionetstack.wire.seq import seq_diff
from aionetstack.wire.tcp import (
    ACK,
    FIN,
    PSH,
)

__all__ = ["SenderPart"]

# pacing: the burst the pacer allows behind its schedule (Linux: ~1 ms of TSO autosizing)
PACING_BURST = 0.001
# Linux TCP_INIT_CWND: tcp_sndbuf_expand counts at least this many segments
TCP_INIT_CWND = 10
# Linux SOCK_MIN_SNDBUF (2 x the truesize of a small skb): the smallest send buffer
SOCK_MIN_SNDBUF = 4608
# Linux tcp_sndbuf_expand's per-segment size: MAX_TCP_HEADER and the aligned
# skb_shared_info beside the payload, rounded up to a power of two, plus the
# aligned struct sk_buff (x86-64 values)
MAX_TCP_HEADER = 320
SKB_SHINFO = 320
SKB_STRUCT = 256


def segment_truesize(mss: int) -> int:
    """Linux tcp_sndbuf_expand's ``per_mss``: 4352 for a 1448-byte MSS."""
    size = mss + MAX_TCP_HEADER + SKB_SHINFO
    return (1 << (size - 1).bit_length()) + SKB_STRUCT


class SenderPart(ReceiverPart):
    """The sending half (see the module docstring)."""

    __slots__ = ()

    def _send_data(
        self,
        out: list[bytes],
        now: float,
        tsval: int,
        sack: list[tuple[int, int]] | None,
        pipe: int = -1,
    ) -> None:
        """The send loop: everything min(cwnd, SND.WND) allows (RFC 9293 3.8.6.2.1)."""
        sbuf = self._sbuf
        nbuf = len(sbuf)
        fin_queued = self._fin_queued
        if not nbuf and not fin_queued:
            return
        mss = self.snd_mss
        # Linux tcp_bound_to_half_wnd: never a segment larger than half the
        # largest window the peer offered (all of it for windows up to 536)
        mw = self.max_snd_wnd
        cut = mw >> 1 if mw > DEFAULT_MSS else mw
        if 0 < cut < mss:
            mss = cut if cut > TCP_MIN_MSS else TCP_MIN_MSS
        if sack:
            mss -= 4 + 8 * len(sack)
        snd_una = self.snd_una
        wnd = self.snd_wnd
        cc = self._cc
        if snd_una == self.snd_max and wnd and self.snd_nxt == snd_una:
            # nothing in flight: a flight starts (Linux CA_EVENT_TX_START)
            idle = now - self._last_send
            cc.on_idle_restart(now, idle)
            if idle > self.config.rto_min:  # the RTO is never shorter: a cheap guard
                self._cwnd_restart(now, idle)
            self._last_send = now
        if pipe >= 0:
            cwnd = self._prr_limit
        elif (self._dupacks or self._sb.sacked) and self.snd_nxt == self.snd_max:
            cwnd = cc.cwnd + self._limited_transmit()
        else:
            cwnd = cc.cwnd
        # Linux tcp_snd_wnd_test: the receiver's window bounds the sequence space
        # (SND.NXT - SND.UNA), cwnd the flight (the pipe in SACK recovery, RFC 6675 4)
        limit = wnd if wnd < cwnd and pipe < 0 else cwnd
        # pacing (Linux sk_pacing_rate, EDT): 0.0 when the controller does not pace
        rate = cc.pacing_rate
        nagle = not self.config.nodelay and not fin_queued
        sbuf_seq = self._sbuf_seq
        mv = memoryview(sbuf)
        scoreboard = self._sb.blocks
        sent_any = False
        # in SACK recovery the pipe (RFC 6675 4), not SND.NXT - SND.UNA, is what is in flight
        adjust = seq_diff(self.snd_nxt, snd_una) - pipe if pipe >= 0 else 0
        win = -1  # the window field, computed once per burst
        burst_opts: bytes | None = None  # likewise the timestamp option
        # the delivery-rate estimator hears of each contiguous run once
        run_start = run_end = self.snd_nxt
        run_flight = seq_diff(run_start, snd_una)
        try:
            while True:
                snd_nxt = self.snd_nxt
                # seq_diff(snd_nxt, sbuf_seq) and seq_diff(snd_nxt, snd_una), inlined (per segment)
                off = ((snd_nxt - sbuf_seq + 0x80000000) & MASK) - 0x80000000
                avail = nbuf - off
                if avail <= 0:
                    break
                seq_flight = ((snd_nxt - snd_una + 0x80000000) & MASK) - 0x80000000
                in_flight = seq_flight - adjust
                is_rtx = snd_nxt != self.snd_max and seq_diff(snd_nxt, self.snd_max) < 0
                if is_rtx and scoreboard:
                    skip = self._sb.sacked_end(snd_nxt, self.snd_una)
                    if skip is not None:
                        if run_end != run_start:
                            self._rate.on_send(run_start, run_end, now, run_flight)
                        self.snd_nxt = run_start = run_end = skip
                        run_flight = seq_diff(skip, snd_una)
                        continue
                usable = limit - in_flight
                if pipe >= 0 and wnd - seq_flight < usable:
                    usable = wnd - seq_flight  # in recovery: never past SND.UNA + SND.WND
                n = avail if avail < mss else mss
                if usable < n:
                    if usable <= 0:
                        if wnd == 0 and in_flight == 0 and self._tm.persist == INF:
                            self._arm_persist(now)
                        break
                    n = usable
                override = False
                if self._sws_override and n < mss:
                    # RFC 9293 3.8.6.2.1 (d): the override timeout expired
                    self._sws_override = False
                    override = True
                if is_rtx:
                    nxt_sacked = self._sb.next_sacked_start(snd_nxt, self.snd_una)
                    if nxt_sacked is not None:
                        gap = seq_diff(nxt_sacked, snd_nxt)
                        if 0 < gap < n:
                            n = gap
                    rtx_end = seq_diff(self.snd_max, snd_nxt)
                    if n > rtx_end > 0 and rtx_end < mss:
                        n = n if n <= rtx_end else rtx_end
                elif n < mss and not override:
                    # RFC 9293 3.8.6.2.1 sender SWS avoidance and Nagle (RFC 1122 4.2.3.4)
                    if n < avail:
                        if n < (self.max_snd_wnd >> 1):
                            if in_flight == 0 and self._tm.persist == INF:
                                # nothing in flight will bring an ACK: the
                                # persist timer is the override timeout (Linux
                                # tcp_check_probe_timer)
                                self._arm_persist(now)
                            break
                    elif (
                        nagle
                        and in_flight > 0
                        and seq_diff(self._snd_sml, snd_una) > 0
                        and seq_diff(self._snd_sml, snd_nxt) <= 0
                    ):
                        # Nagle as Linux (tcp_nagle_check, Minshall's variant):
                        # hold a small tail only while an earlier small
                        # segment is unacknowledged
                        break
                if rate:
                    pace_next = self._pace_next
                    if pace_next > now:
                        self._tm.pace = pace_next  # the next departure time
                        break
                    # a burst of up to PACING_BURST behind the schedule is allowed
                    floor = now - self._pacing_burst(rate)
                    self._pace_next = (pace_next if pace_next > floor else floor) + n / rate
                end_off = off + n
                flags = ACK
                if end_off == nbuf:
                    flags |= PSH
                    if fin_queued:
                        flags |= FIN
                if win < 0:
                    win = self._rcv_window_raw()
                if sack:
                    out.append(self._segment(snd_nxt, flags, mv[off:end_off], tsval, sack, win))
                    sack = None
                else:
                    if burst_opts is None:
                        burst_opts = (
                            TS_OPT.pack(TS_WORD, tsval, self.ts_recent) if self.ts_ok else b""
                        )
                    out.append(
                        self._segment(snd_nxt, flags, mv[off:end_off], tsval, None, win, burst_opts)
                    )
                sent_any = True
                nxt = (snd_nxt + n + (1 if flags & FIN else 0)) & MASK
                self.snd_nxt = run_end = nxt
                self.data_segs_out += 1
                if is_rtx:
                    self.total_retrans += 1
                    self._note_rtx(tsval, nxt)
                    self.bytes_retrans += n
                else:
                    self.bytes_sent += n
                    if n < mss:
                        self._snd_sml = nxt  # Linux tcp_minshall_update
                if not is_rtx or seq_diff(nxt, self.snd_max) > 0:
                    self.snd_max = nxt
                    self._last_seg_start = snd_nxt
                    if self._rtt_seq < 0 and not self.ts_ok and self._retransmits == 0:
                        # RFC 6298 3 / Karn: time one new segment
                        self._rtt_seq = nxt
                        self._rtt_time = now
        finally:
            mv.release()
        est = self._rate
        if not est.active:
            pass
        elif run_end != run_start:
            est.on_send(run_start, run_end, now, run_flight)
        if est.active and (run_end != run_start or self.snd_nxt == snd_una):
            unsent = nbuf - seq_diff(self.snd_nxt, sbuf_seq)
            if unsent < mss:
                # Linux tcp_rate_check_app_limited: the sender ran out of data
                in_flight = seq_diff(self.snd_nxt, snd_una)
                if in_flight < cc.cwnd:
                    est.mark_app_limited(in_flight)
        if fin_queued and not self._fin_acked and self.snd_nxt == self._fin_seq:
            # the FIN alone (queue empty, or data already sent)
            out.append(self._segment(self.snd_nxt, ACK | FIN, b"", tsval, sack))
            sent_any = True
            nxt = (self.snd_nxt + 1) & MASK
            self.snd_nxt = nxt
            if seq_diff(nxt, self.snd_max) > 0:
                self.snd_max = nxt
        if sent_any:
            self._last_send = now
            if now - self._last_rcv_data < self.config.delayed_ack:
                # Linux tcp_event_data_sent: a reply within the ACK timeout of the
                # last data received: interactive (pingpong) mode, delayed ACKs
                self._pingpong = True
        if sent_any and self._tm.rtx == INF:
            # RFC 6298 5.1: start the timer when data goes out and it is not running;
            # RFC 8985 7.2: and the PTO (armed after the flush, packets_to_send), so a
            # flight from idle whose tail is lost is repaired by a probe, not the RTO
            self._tm.rtx = now + self._rtt.current()
            self._tm.persist = INF
            self._tlp_rearm = self.sack_ok and not self._in_recovery

    def _init_buffer_space(self, now: float) -> None:
        """At ESTABLISHED (Linux tcp_init_buffer_space): the send buffer sized for
        the initial window, the first receive-space estimate."""
        if not self._sndbuf_locked:
            self._sndbuf_expand()
        self._init_rcv_space(now)

    def _sndbuf_expand(self) -> None:
        """Linux tcp_sndbuf_expand: room for ``sndbuf_expand`` x cwnd segments."""
        mss = self.snd_mss
        cc = self._cc
        segs = cc.cwnd // mss if mss > 0 else 0
        if segs < TCP_INIT_CWND:
            segs = TCP_INIT_CWND
        if segs < self._reordering + 1:
            segs = self._reordering + 1
        # (Linux sizes by the larger of the peer's MSS option and the current
        # MSS; the current MSS here, so a peer's large MSS option cannot inflate it)
        sndmem = cc.sndbuf_expand * segs * segment_truesize(mss)
        if self._sndbuf < sndmem:
            limit = self.config.send_buffer
            self._sndbuf = sndmem if sndmem < limit else limit

    def _sndbuf_tune(self) -> None:
        """At a flush after ACKs freed space (Linux tcp_new_space) or above the
        hard memory limit (module docstring)."""
        if self._sndbuf_locked:
            return
        mem = self._mem
        if mem.over_limit:
            self._sndbuf_moderate()
        elif self._sndbuf >= self.config.send_buffer:
            pass  # at the maximum
        elif (
            not mem.soft_limited
            and ((self.snd_max - self.snd_una) & MASK) - self._sb.sacked < self._cc.cwnd
        ):
            # Linux tcp_should_expand_sndbuf: not locked, no memory pressure,
            # below tcp_mem[0], and the congestion window not filled
            self._sndbuf_expand()

    def _sndbuf_moderate(self) -> None:
        """Above the hard limit (Linux sk_stream_moderate_sndbuf): half of what
        the buffer holds (the transport's write buffer beyond it is the
        application's), at least SOCK_MIN_SNDBUF; the transport's writer pauses."""
        if self._sndbuf_locked:
            return
        queued = len(self._sbuf)
        sndbuf = self._sndbuf
        half = (queued if queued < sndbuf else sndbuf) >> 1
        if queued and half < sndbuf and sndbuf > SOCK_MIN_SNDBUF:
            self._sndbuf = half if half > SOCK_MIN_SNDBUF else SOCK_MIN_SNDBUF
            self._mem.sndbuf_moderations += 1

    def _rtx_sent(self, start: int, end: int, now: float, tsval: int) -> None:
        """A retransmission outside the send loop (fast retransmit, recovery,
        probe): the delivery-rate estimator's record, then ``_note_rtx``."""
        self._rate.on_send(start, end, now, seq_diff(self.snd_max, self.snd_una))
        self._note_rtx(tsval, end)

    def _note_rtx(self, tsval: int, end: int) -> None:
        """A retransmission went out: Karn's guard for timestamps, the highest
        retransmitted sequence, and the undo count."""
        self._rtx_guard = True
        self._rtx_tsval = tsval
        self._rtx_until = self.snd_max
        if seq_diff(end, self._rtx_max) > 0:
            self._rtx_max = end
        self._undo.note_retransmission(tsval)

    def _arm_persist(self, now: float) -> None:
        base = max(self._rtt.rto, self.config.persist_min)
        t = base * (1 << min(self._persist_backoff, 20))
        self._tm.persist = now + min(t, self.config.rto_max)

    def _update_window(self, window: int, seq: int, ack: int) -> bool:
        """RFC 9293 3.10.7.4 fifth check: SND.WND from the newest segment (SND.WL1,
        SND.WL2); a window opening stops the persist timer. True if it changed."""
        wl1d = seq_diff(seq, self.snd_wl1)
        if not (wl1d > 0 or (wl1d == 0 and seq_diff(ack, self.snd_wl2) >= 0)):
            return False
        wnd = window << self.snd_wscale
        changed = wnd != self.snd_wnd
        self.snd_wnd = wnd
        self.snd_wl1 = seq
        self.snd_wl2 = ack
        if wnd > self.max_snd_wnd:
            self.max_snd_wnd = wnd
        if wnd and self._tm.persist != INF:
            self._tm.persist = INF
            self._persist_backoff = 0
        return changed

    def _rtt_sample(self, ecr: int | None, ack: int, now: float) -> float:
        """The RTT sample of an ACK that advanced SND.UNA (0.0: none), fed to the
        estimator: the timestamp echo (RFC 7323 4.1) unless it predates a
        retransmission (RFC 7323 4.3 case C), else the one timed segment (RFC
        6298 3, Karn). Never from an ACK that acknowledges nothing new."""
        rtt = 0.0
        if self.ts_ok:
            if ecr:
                rtt = ((self._ts_val(now) - ecr) & MASK) / 1000.0
                if rtt > 60.0:
                    rtt = 0.0
                if self._rtx_guard:
                    if seq_diff(ecr, self._rtx_tsval) < 0:
                        # the echo predates our retransmission: the peer lost our
                        # ACK or data, not a round trip (RFC 7323 4.3 case C)
                        rtt = 0.0
                        ecr = 0
                    if seq_diff(ack, self._rtx_until) >= 0:
                        self._rtx_guard = False
            if ecr:
                self._rtt.sample(rtt)
        elif self._rtt_seq >= 0 and seq_diff(ack, self._rtt_seq) >= 0:
            rtt = now - self._rtt_time
            self._rtt_seq = -1
            if rtt > 0.0:
                self._rtt.sample(rtt)
        return rtt

    def _on_fin_acked(self, now: float) -> None:
        """Our FIN is acknowledged (RFC 9293 3.10.7.4, FIN-WAIT-1, CLOSING, LAST-ACK)."""
        self._fin_acked = True
        st = self.state
        if st is FIN_WAIT_1:
            self._set_state(FIN_WAIT_2, "our FIN acknowledged", now)
            if self._closed_by_app:
                # Linux tcp_fin_timeout for an orphaned FIN-WAIT-2
                self._tm.time_wait = now + self.config.fin_timeout
        elif st is CLOSING:
            self._set_state(TIME_WAIT, "our FIN acknowledged", now)
        elif st is LAST_ACK:
            self._set_state(CLOSED, "our FIN acknowledged", now)

    def _pacing_burst(self, rate: float) -> float:
        """How far behind its schedule the pacer may send at once: 1 ms of the
        rate, at least two segments (Linux tcp_tso_autosize's minimum)."""
        t = 2.0 * self.snd_mss / rate
        return t if t > PACING_BURST else PACING_BURST

    def _limited_transmit(self) -> int:
        """Bytes of new data beyond cwnd that duplicate ACKs let out before
        recovery (RFC 3042 limited transmit), as Linux's flight accounting
        does: outside recovery (CA_Disorder) SACKed segments leave the flight
        (include/net/tcp.h tcp_packets_in_flight: packets_out - sacked_out -
        lost_out + retrans_out), and without SACK each duplicate ACK counts as
        one SACKed segment (tcp_input.c tcp_add_reno_sack, at most the flight:
        tcp_limit_reno_sacked). So every duplicate ACK clocks out one new
        segment, cwnd unchanged; the receiver's window still limits what goes
        out (SND.NXT - SND.UNA, not the flight, is checked against it)."""
        if self._in_recovery:
            return 0
        if self.sack_ok:
            return self._sb.sacked
        flight = seq_diff(self.snd_max, self.snd_una)
        extra = self._dupacks * self.snd_mss
        return extra if extra < flight else flight

    def _cwnd_restart(self, now: float, idle: float) -> None:
        """After an idle period longer than the RTO the window restarts (RFC 7661,
        RFC 5681 4.1; Linux tcp_cwnd_restart: halve per RTO idle, down to the
        initial window; ssthresh keeps 3/4 of the old window)."""
        cc = self._cc
        rto = self._rtt.current()
        if idle > rto and cc.restart_cwnd_after_idle():
            cwnd = cc.cwnd
            restart = self.config.initial_cwnd_segments * self.snd_mss
            if restart > cwnd:
                restart = cwnd
            # Linux tcp_current_ssthresh
            three_quarters = (cwnd >> 1) + (cwnd >> 2)
            if cc.ssthresh < three_quarters:
                cc.ssthresh = three_quarters
            while idle > rto and cwnd > restart:
                cwnd >>= 1
                idle -= rto
            cc.cwnd = cwnd if cwnd > restart else restart
