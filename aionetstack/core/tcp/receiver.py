"""The receiving half: RCV.*, data and FIN, the ACK policy, the window, SACK/DSACK out.

Theory of operation
-------------------
Batching contract: nothing here builds an ACK. Incoming data only marks one as
owed (``_ack_now``) or arms the delayed-ACK deadline; the driver calls
``packets_to_send(now)`` once per wakeup, after feeding every packet of the
batch, so one ACK covers the whole batch (``connection.py``).

ACK policy (RFC 1122 4.2.3.2, RFC 5681 4.2): quick ACKs at connection start
(Linux quickack mode), then at least every second full-sized segment, at once
for out-of-order data or a segment that fills a gap, else the 40 ms delayed
ACK. A peer without SACK gets up to three duplicate ACKs per batch so it can
count them. SACK blocks (RFC 2018 4: most recent first) and a DSACK (RFC 2883)
as the first block.

Window (RFC 9293 3.8.6.2.2, RFC 7323 2.4): receiver SWS avoidance, a window
that never shrinks, and the out-of-order store charged against the buffer.

Buffer autotuning (Linux dynamic right-sizing, ``tcp_rcv_space_adjust``): the
receive buffer ``_rcvbuf`` starts at ``recv_buffer_initial`` (tcp_rmem[1]).
Once per receiver RTT (``_rcv_rtt``: from the TSecr of arriving data, Linux
``tcp_rcv_rtt_measure_ts``, or without timestamps from the time one window
takes to arrive, ``tcp_rcv_rtt_measure``) the bytes the application read in
that RTT are compared with the last RTT's; when they grew, the buffer becomes
about twice that, plus the growth again, plus 16 segments, up to
``recv_buffer`` (tcp_rmem[2]). The window scale was chosen from the maximum at
the handshake, so the larger window can be advertised. The checks run at the
flush (``_rcv_autotune``, from ``packets_to_send``), never per segment.

Memory pressure (``memory.py``): under pressure the buffer does not grow and
a new window offers at most 4 segments beyond RCV.NXT (Linux
``tcp_adjust_rcv_ssthresh`` in ``__tcp_select_window``), never less than what
was advertised; above the hard limit, data that would join a non-empty
receive queue, or the out-of-order store, is dropped (``TCPRcvQDrop``,
``TCPOFODrop``; Linux ``tcp_try_rmem_schedule``; an empty queue always
accepts, as Linux's ``sk_forced_mem_schedule``, so a connection never starves).
"""

from __future__ import annotations

import errno

from aionetstack.core.tcp.events import (
    DATA_AVAILABLE,
    EofReceived,
)
from aionetstack.core.tcp.reassembly import REJECTED
from aionetstack.core.tcp.tcb import (
    CLOSE_WAIT,
    CLOSED,
    CLOSING,
    ESTABLISHED,
    FIN_WAIT_1,
    FIN_WAIT_2,
    LAST_ACK,
    MASK,
    OOW_RATE_LIMIT,
    PAWS_IDLE,
    RECEIVING_STATES,
    SYN_RECEIVED,
    TIME_WAIT,
    TS_OPT,
    TS_WORD,
    Tcb,
)
from aionetstack.core.tcp.timers import INF
from aionetstack.wire.seq import seq_diff
from aionetstack.wire.tcp import (
    ACK,
    FIN,
    RST,
    SYN,
    TcpSegment,
    build_tcp_options,
)

__all__ = ["ReceiverPart"]

# Linux TCP_INIT_CWND: the first receive-space estimate is at most this many segments
TCP_INIT_CWND = 10
# Linux tcp_adjust_rcv_ssthresh: under memory pressure a window grows to at most 4 x MSS
PRESSURE_WINDOW_SEGMENTS = 4


class ReceiverPart(Tcb):
    """The receiving half (see the module docstring)."""

    __slots__ = ()

    def _rcv_free(self) -> int:
        # the out-of-order store is charged with its per-block overhead too
        # (Linux counts skb truesize, not payload, against sk_rcvbuf)
        free = self._rcvbuf - len(self._rbuf) - self._reasm.memory
        limit = 0xFFFF << self.rcv_wscale
        if free > limit:
            free = limit
        return free if free > 0 else 0

    def _rcv_window_raw(self) -> int:
        """The raw window field to send; updates RCV.ADV (never shrinks, RFC 7323 2.4)."""
        free = self._rcv_free()
        cur = seq_diff(self.rcv_adv, self.rcv_nxt)
        if cur < 0:
            cur = 0
        ws = self.rcv_wscale
        rcvbuf = self._rcvbuf
        if self._mem.pressure:
            # Linux __tcp_select_window under tcp_under_memory_pressure: the window
            # offered is clamped to rcv_ssthresh <= 4 * advmss (tcp_adjust_rcv_ssthresh);
            # never below what was already advertised (the branch below)
            cap = PRESSURE_WINDOW_SEGMENTS * self.rcv_mss
            if free > cap:
                free = cap
        if free > cur:
            # RFC 9293 3.8.6.2.2 receiver SWS avoidance: move the right edge
            # only by at least min(buffer/2, MSS)
            incr = free - cur
            if incr >= self.rcv_mss or incr >= (rcvbuf >> 1) or (cur == 0 and free):
                # RFC 9293 3.8.6.2.2: keep a zero window until it is worth opening
                win = 0 if free < self.rcv_mss and cur == 0 and free < (rcvbuf >> 1) else free
            else:
                win = cur
            raw = win >> ws
            if (raw << ws) < cur:
                # the scale's granularity must not move the right edge back
                # (Linux tcp_select_window: ALIGN(cur_win, 1 << rcv_wscale))
                raw = (cur + (1 << ws) - 1) >> ws
        else:
            # never shrink: round the current window up to the scale granularity
            raw = (cur + (1 << ws) - 1) >> ws
        if raw > 0xFFFF:
            raw = 0xFFFF
        self.rcv_adv = (self.rcv_nxt + (raw << ws)) & MASK
        return raw

    def _segment(
        self, seq: int, flags: int, payload: bytes | bytearray | memoryview, tsval: int,
        sack: list[tuple[int, int]] | None, win: int = -1, opts: bytes | None = None,
    ) -> bytes:  # fmt: skip
        """Build one synchronized-state segment (carries ACK, window, options).

        ``win`` / ``opts``: the window field and options when the caller computed
        them once for a burst.
        """
        if opts is None:
            if self.ts_ok:
                if sack:
                    opts = build_tcp_options(timestamps=(tsval, self.ts_recent), sack_blocks=sack)
                else:
                    opts = TS_OPT.pack(TS_WORD, tsval, self.ts_recent)
            elif sack:
                opts = build_tcp_options(sack_blocks=sack)
            else:
                opts = b""
        if win < 0:
            win = self._rcv_window_raw()
        rcv_nxt = self.rcv_nxt
        if flags & ACK:
            self._last_ack_sent = rcv_nxt
            self._ack_now = False
            self._ack_pushed = False
            self._tm.delack = INF
            self._rcv_unacked = 0
            if self._dsack is not None:
                self._dsack = None
                self.dsacks_out += 1
        ident = self._ident
        self._ident = (ident + 1) & 0xFFFF
        self.segs_out += 1
        return self._build(
            self.local_addr, self.remote_addr, ident, self.config.ttl, self.local_port,
            self.remote_port, seq, rcv_nxt if flags & ACK else 0, flags, win, opts, payload,
        )  # fmt: skip

    def _send_rst(self, now: float) -> None:
        """Queue an RST for the current connection (abort / close with unread data)."""
        # RFC 9293 3.10.5 / Linux tcp_send_active_reset: SEQ=SND.NXT, RST+ACK, and
        # (RFC 7323 3.2: every segment once negotiated) the timestamp option, and
        # the window as on any segment it sends (tcp_transmit_skb)
        opts = TS_OPT.pack(TS_WORD, self._ts_val(now), self.ts_recent) if self.ts_ok else b""
        ident = self._ident
        self._ident = (ident + 1) & 0xFFFF
        self.segs_out += 1
        self._ctl_out.append(
            self._build(
                self.local_addr,
                self.remote_addr,
                ident,
                self.config.ttl,
                self.local_port,
                self.remote_port,
                self.snd_max if self._syn_acked else self.snd_nxt,
                self.rcv_nxt,
                RST | ACK,
                self._rcv_window_raw(),
                opts,
                b"",
            )
        )

    def _sack_blocks(self) -> list[tuple[int, int]]:
        """RFC 2018 4 (most recent first) with RFC 2883 DSACK as the first block."""
        out: list[tuple[int, int]] = []
        if self._dsack is not None:
            out.append(self._dsack)
        limit = 3 if self.ts_ok else 4  # what fits beside the timestamp option
        fin_off = self._ooo_fin_off
        if (self._reasm.bytes or fin_off >= 0) and self.sack_ok:
            base = self.rcv_nxt - self._rcv_off
            reasm = self._reasm
            room = limit - len(out)
            seen: list[tuple[int, int]] = []
            if fin_off >= 0:
                # an out-of-order FIN is SACKed as the byte it occupies (Linux
                # queues it like data), with the data block it ends, if any
                blk = reasm.block_containing(fin_off - 1) if fin_off else None
                if blk is not None and blk[1] == fin_off:
                    seen.append((blk[0], fin_off + 1))
                else:
                    seen.append((fin_off, fin_off + 1))
            for off in self._sack_recent:
                blk = reasm.block_containing(off)
                if blk is not None and blk not in seen and (blk[0], blk[1] + 1) not in seen:
                    seen.append(blk)
                    if len(seen) >= room:
                        break
            if len(seen) < room:
                # then other held blocks, lowest first (RFC 2018 4: a peer may
                # need them after ACK losses)
                for blk in reasm.iter_blocks():
                    if blk not in seen and (blk[0], blk[1] + 1) not in seen:
                        seen.append(blk)
                        if len(seen) >= room:
                            break
            for s, e in seen:
                out.append(((s + base) & MASK, (e + base) & MASK))
        return out[:limit]

    def _init_rcv_space(self, now: float) -> None:
        """At ESTABLISHED (Linux tcp_init_buffer_space): the first receive-space
        estimate is the window, at most TCP_INIT_CWND segments."""
        wnd = seq_diff(self.rcv_adv, self.rcv_nxt)
        space = TCP_INIT_CWND * self.rcv_mss
        self._rcvq_space = wnd if 0 < wnd < space else space
        self._rcvq_copied = self._copied
        self._rcvq_time = now

    def _rcv_autotune(self, now: float) -> None:
        """At a flush once per receiver RTT (every flush until one is known):
        the receiver's RTT estimate, then dynamic right-sizing (module docstring)."""
        if self.ts_ok:
            tsecr = self._rcv_tsecr
            if tsecr != self._rcv_rtt_last_tsecr:
                # Linux tcp_rcv_rtt_measure_ts: our timestamp echoed on data; a
                # same-tick echo counts as one tick (1 ms here)
                self._rcv_rtt_last_tsecr = tsecr
                delta = (self._ts_val(now) - tsecr) & MASK
                if delta < 60000:
                    self._rcv_rtt_update((delta if delta else 1) / 1000.0, False)
        elif self.bytes_received:
            # Linux tcp_rcv_rtt_measure: the time one advertised window takes to arrive
            seq = self._rcv_rtt_seq
            if seq < 0 or seq_diff(self.rcv_nxt, seq) >= 0:
                if seq >= 0:
                    took = now - self._rcv_rtt_time
                    self._rcv_rtt_update(took if took > 1e-6 else 1e-6, True)
                # a new measurement, over a window worth measuring (a closed
                # window's "arrival" says nothing of the RTT)
                wnd = seq_diff(self.rcv_adv, self.rcv_nxt)
                if wnd >= self.rcv_mss:
                    self._rcv_rtt_seq = (self.rcv_nxt + wnd) & MASK
                    self._rcv_rtt_time = now
                else:
                    self._rcv_rtt_seq = -1
        if self._copied != self._rcvq_copied:
            self._rcv_space_adjust(now)

    def _rcv_rtt_update(self, sample: float, win_dep: bool) -> None:
        """Linux tcp_rcv_rtt_update: a smaller sample is taken at once; a larger
        one moves the estimate by 1/8, unless it depends on the window's size."""
        old = self._rcv_rtt
        if old == 0.0 or sample < old:
            self._rcv_rtt = sample
        elif not win_dep:
            self._rcv_rtt = old + (sample - old) / 8.0

    def _rcv_space_adjust(self, now: float) -> None:
        """Linux tcp_rcv_space_adjust: grow the receive buffer to what the
        application reads per RTT (dynamic right-sizing)."""
        rtt = self._rcv_rtt
        if rtt == 0.0 or now - self._rcvq_time < rtt:
            return
        copied = self._copied - self._rcvq_copied
        space = self._rcvq_space
        if copied > space:
            cfg = self.config
            if cfg.moderate_rcvbuf and not self._rcvbuf_locked and not self._mem.pressure:
                # rcvwin = 2 x copied + 16 x advmss, plus twice the growth since the
                # last RTT (room for the sender's slow start to double again)
                rcvwin = 2 * copied + 16 * self.rcv_mss
                if space > 0:
                    rcvwin += 2 * (rcvwin * (copied - space) // space)
                limit = cfg.recv_buffer
                rcvbuf = rcvwin if rcvwin < limit else limit
                if rcvbuf > self._rcvbuf:
                    self._rcvbuf = rcvbuf
                    if self.state in RECEIVING_STATES:
                        # a window update that matters (as read(): RFC 9293 3.8.6.2.2)
                        cur = seq_diff(self.rcv_adv, self.rcv_nxt)
                        free = self._rcv_free()
                        if free - cur >= self.rcv_mss and free >= 2 * cur:
                            self._ack_now = True
            self._rcvq_space = copied
        self._rcvq_copied = self._copied
        self._rcvq_time = now

    def _on_data(self, n: int, now: float, filled_gap: bool) -> None:
        """Decide the ACK for in-order data (RFC 1122 4.2.3.2, RFC 5681 4.2)."""
        if not self._data_event_pending:
            self._data_event_pending = True
            self._events.append(DATA_AVAILABLE)
        self._rcv_unacked += n
        self._last_rcv_data = now
        if n > self._rcv_mss_est:
            self._rcv_mss_est = n if n < self.rcv_mss else self.rcv_mss
        elif n < self._rcv_mss_est:
            # Linux tcp_measure_rcv_mss: a small (pushed) segment; a read that
            # empties the buffer ACKs it at once (ReceiverPart._ack_on_read)
            self._ack_pushed = True
        if self._quick > 0 and not self._pingpong:
            # Linux quickack mode at connection start (tcp_in_quickack_mode: not
            # in interactive, pingpong, mode)
            self._quick -= 1
            self._ack_now = True
        elif filled_gap or self._rcv_unacked > self._rcv_mss_est:
            # RFC 5681 4.2: ACK at least every second full-sized segment, and at
            # once when a segment fills a gap
            self._ack_now = True
        elif self._tm.delack == INF:
            self._tm.delack = now + self.config.delayed_ack

    def _challenge_ack(self, now: float) -> None:
        """RFC 5961 7: rate-limited challenge ACK."""
        if now - self._chal_window >= 1.0:
            self._chal_window = now
            self._chal_count = 0
        if self._chal_count < self.config.challenge_ack_limit:
            self._chal_count += 1
            self.challenge_acks += 1
            self._ack_now = True

    def _process_data_and_fin(self, seg: TcpSegment, now: float) -> None:
        """Seventh and eighth checks: segment text and FIN (RFC 9293 3.10.7.4)."""
        st = self.state
        flags = seg.flags
        payload = seg.payload
        plen = len(payload)
        if plen and st not in RECEIVING_STATES:
            # RFC 9293 3.10.7.4: CLOSE-WAIT, CLOSING, LAST-ACK: ignore the text
            self.dropped += 1
            return
        if plen and self._closed_by_app:
            # Linux tcp_rcv_state_process: data for a closed socket resets it, with
            # the reset that answers the segment (tcp_v4_send_reset: <SEQ=SEG.ACK><RST>)
            self._send_rst_for(seg)
            self._set_state(CLOSED, "data after close (RST)", now)
            return
        seq = seg.seq
        d = seq_diff(seq, self.rcv_nxt)
        fin = bool(flags & FIN)
        if d < 0:
            # trim the part already received (RFC 9293 3.10.7.4)
            if -d >= plen:
                payload = b""
                if plen and self.sack_ok:
                    self._dsack = (seq, self.rcv_nxt)
            else:
                if self.sack_ok:
                    self._dsack = (seq, self.rcv_nxt)
                payload = payload[-d:]
            plen = len(payload)
            d = 0
        # trim what lies beyond the window
        wnd = seq_diff(self.rcv_adv, self.rcv_nxt)
        if wnd < 0:
            wnd = 0
        if d + plen > wnd:
            keep = wnd - d
            payload = payload[: max(keep, 0)]
            plen = len(payload)
            fin = False
        if d == 0:
            if plen:
                mem = self._mem
                if mem.allocated > mem.high and self._rbuf:
                    # Linux tcp_data_queue: tcp_try_rmem_schedule fails above
                    # tcp_mem[2] (an empty queue is always charged,
                    # sk_forced_mem_schedule): dropped, the peer retransmits
                    mem.rcvq_drops += 1
                    self.dropped += 1
                    return
                self._mem_charged += plen  # charged at once (see memory.py)
                mem.allocated += plen
                if seg.ts_ecr:
                    self._rcv_tsecr = seg.ts_ecr
                self.data_segs_in += 1
                filled = False
                self._rbuf += payload
                self.rcv_nxt = (self.rcv_nxt + plen) & MASK
                self._rcv_off += plen
                self.bytes_received += plen
                if self._reasm.bytes:
                    more = self._reasm.pop_ready(self._rcv_off)
                    if more is not None:
                        self._rbuf += more
                        m = len(more)
                        self.rcv_nxt = (self.rcv_nxt + m) & MASK
                        self._rcv_off += m
                        self.bytes_received += m
                    filled = True
                    self._sack_recent = [o for o in self._sack_recent if o >= self._rcv_off]
                    self._mem_sync()  # the out-of-order store shrank
                self._on_data(plen, now, filled)
                if self._ooo_fin_off >= 0 and self._ooo_fin_off == self._rcv_off:
                    fin = True
            if fin:
                self._on_fin(now)
        else:
            # out of order (RFC 9293 3.10.7.4: keep it; RFC 5681 4.2: ACK at once)
            self.ooo_segs_in += 1
            self._ack_now = True
            self._ooo_acks += 1
            if plen:
                if self._mem.allocated > self._mem.high:
                    # Linux tcp_data_queue_ofo: no memory above tcp_mem[2] (TCPOFODrop)
                    self._mem.ofo_drops += 1
                    self.dropped += 1
                    return
                off = self._rcv_off + d
                dup = self._reasm.add(off, payload)
                self._mem_sync()  # the out-of-order store grew
                if dup is REJECTED:
                    # too many out-of-order blocks: drop it, unSACKed (RFC 2018 8,
                    # RFC 9293 3.10.7.4; Linux tcp_prune_ofo_queue); the dup ACK stays
                    self.dropped += 1
                    return
                if dup is not None and self.sack_ok:
                    base = self.rcv_nxt - self._rcv_off
                    self._dsack = ((dup[0] + base) & MASK, (dup[1] + base) & MASK)
                else:
                    rec = self._sack_recent
                    if off in rec:
                        rec.remove(off)
                    rec.insert(0, off)
                    del rec[4:]
            if fin:
                self._ooo_fin_off = self._rcv_off + d + plen

    def _on_fin(self, now: float) -> None:
        """Eighth check: FIN (RFC 9293 3.10.7.4)."""
        self.rcv_nxt = (self.rcv_nxt + 1) & MASK
        filled_gap = self._ooo_fin_off >= 0  # the FIN had arrived out of order
        self._ooo_fin_off = -1
        st = self.state
        if not self.eof_received:
            self.eof_received = True
            self._events.append(EofReceived())
        if st is ESTABLISHED or st is SYN_RECEIVED:
            # Linux tcp_fin: CLOSE-WAIT in interactive (pingpong) mode, the ACK only
            # scheduled: the application's answer (data, FIN) will likely carry it.
            # At once when no data ever came (Linux's ACK timeout, ato, is still 0)
            # and for what always is (two full segments, out of order).
            self._pingpong = True
            if (
                self._last_rcv_data == -INF
                or self._rcv_unacked > self._rcv_mss_est
                or self._reasm.bytes
                or filled_gap
            ):
                self._ack_now = True
            else:
                self._ack_now = False
                if self._tm.delack == INF:
                    self._tm.delack = now + self.config.delayed_ack
            self._set_state(CLOSE_WAIT, "FIN received", now)
            return
        self._ack_now = True
        if st is FIN_WAIT_1:
            if self._fin_acked:
                self._set_state(TIME_WAIT, "FIN received", now)
            else:
                self._set_state(CLOSING, "FIN received (simultaneous close)", now)
        elif st is FIN_WAIT_2:
            self._set_state(TIME_WAIT, "FIN received", now)

    def _paws_reject(self, tsv: int | None, now: float) -> bool:
        """RFC 7323 5.3 PAWS: True when the segment is an old duplicate (dropped,
        ACKed); RFC 7323 5.5: a TS.Recent idle for 24 days is too old to judge."""
        if tsv is not None and seq_diff(tsv, self.ts_recent) < 0:
            if now - self._ts_recent_stamp > PAWS_IDLE:
                self.ts_recent = tsv
            else:
                self.dropped += 1
                self._ack_now = True
                return True
        return False

    def _acceptable(self, d: int, seg_len: int) -> bool:
        """RFC 9293 3.10.7.4 first check; ``d`` = SEG.SEQ - RCV.NXT."""
        rcv_wnd = seq_diff(self.rcv_adv, self.rcv_nxt)
        if rcv_wnd < 0:
            rcv_wnd = 0
        if seg_len == 0:
            return d == 0 if rcv_wnd == 0 else 0 <= d < rcv_wnd
        if rcv_wnd == 0:
            return False
        de = d + seg_len - 1
        return 0 <= d < rcv_wnd or 0 <= de < rcv_wnd or d < 0 <= de

    def _on_unacceptable(
        self, flags: int, seq: int, d: int, plen: int, seg_len: int, now: float
    ) -> None:
        """RFC 9293 3.10.7.4: an unacceptable segment is dropped and, unless it is
        an RST, answered with an ACK (a DSACK for duplicate data, RFC 2883 4.1.1)."""
        self.dropped += 1
        if flags & RST:
            return
        rcv_nxt = self.rcv_nxt
        time_wait = self.state is TIME_WAIT
        if seg_len and d < 0 and self.sack_ok and not flags & SYN and not time_wait:
            # RFC 2883 4.1.1: report the duplicate, its FIN included (Linux
            # tcp_send_dupack; a TIME-WAIT socket keeps no SACK state)
            end = (seq + seg_len) & MASK
            if seq_diff(end, rcv_nxt) > 0:
                end = rcv_nxt
            self._dsack = (seq, end)
        if time_wait and flags & FIN:
            # RFC 9293 3.10.7.4: a retransmitted FIN restarts the 2 MSL timeout
            self._tm.time_wait = now + self.config.time_wait
        if seg_len == 0 and d != -1:
            # Linux tcp_oow_rate_limited (tcp_invalid_ratelimit, 500 ms):
            # answering every unacceptable pure ACK can loop forever. A
            # keepalive probe (SEG.SEQ = RCV.NXT - 1, RFC 1122 4.2.3.6) is
            # always answered: keepalive intervals may be shorter than 500 ms
            if now - self._oow_last < OOW_RATE_LIMIT:
                return
            self._oow_last = now
        self._ack_now = True

    def _on_rst(self, d: int, now: float) -> None:
        """RFC 9293 3.10.7.4 second check, an acceptable RST; RFC 5961 3.2: only an
        exact SEG.SEQ == RCV.NXT resets, anything else in the window is challenged."""
        st = self.state
        if d != 0:
            self._challenge_ack(now)
            return
        if st is TIME_WAIT:
            # RFC 1337: no TIME-WAIT assassination
            self.dropped += 1
            return
        if st is SYN_RECEIVED:
            if self._simultaneous:
                err: OSError = ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
            else:
                err = ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")
            self._fail(err, "RST in SYN-RECEIVED", now)
        elif st is CLOSING or st is LAST_ACK:
            self._set_state(CLOSED, "RST", now)
        else:
            self._sbuf.clear()
            self._fail(
                ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), "RST", now
            )

    def _update_ts_recent(self, seq: int, tsv: int | None, now: float) -> None:
        """RFC 7323 4.3: TS.Recent from a segment with SEG.SEQ <= Last.ACK.sent."""
        if (
            tsv is not None
            and seq_diff(seq, self._last_ack_sent) <= 0
            and seq_diff(tsv, self.ts_recent) >= 0
        ):
            self.ts_recent = tsv
            self._ts_recent_stamp = now
