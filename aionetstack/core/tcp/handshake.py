"""The three-way handshake: SYN and SYN-ACK, option negotiation, SYN-SENT and
SYN-RECEIVED input, and TIME-WAIT reopening (RFC 9293 3.5, RFC 7323, RFC 2018).

Theory of operation
-------------------
Linux's connect path (``tcp_connect_init``, ``tcp_rcv_synsent_state_process``):
the SYN offers every option the config enables; a SYN-ACK answers only what
the peer offered. The SYN-SENT input is RFC 9293 3.10.7.3 in order; the ACK
that completes a passive open is ``_syn_received_ack`` (RFC 9293 3.10.7.4,
fifth check in SYN-RECEIVED). Both take their RTT sample here (timestamps,
else Karn: never a retransmitted SYN). SYN and SYN-ACK retransmission is the
retransmission timeout's (``timeouts.py``): it sets SND.NXT back to ISS and the
output resends the SYN.
"""

from __future__ import annotations

import errno

from aionetstack.core.tcp.tcb import (
    DEFAULT_MSS,
    ESTABLISHED,
    FIN_WAIT_1,
    MASK,
    MAX_WSCALE,
    SYN_RECEIVED,
    SYN_SENT,
    TCP_MIN_MSS,
    TIME_WAIT,
    TS_LEN,
    syn_reopens_time_wait,
)
from aionetstack.core.tcp.timeouts import TimeoutPart
from aionetstack.core.tcp.timers import INF
from aionetstack.wire.seq import seq_diff
from aionetstack.wire.tcp import (
    ACK,
    RST,
    SYN,
    TcpSegment,
    build_tcp_options,
)

__all__ = ["HandshakePart"]


class HandshakePart(TimeoutPart):
    """The handshake (see the module docstring)."""

    __slots__ = ()

    def _syn_segment(self, now: float) -> bytes:
        """SYN or SYN-ACK with Linux's option layout (tcp_connect_init / tcp_make_synack)."""
        cfg = self.config
        tsval = self._ts_val(now)
        if self.state is SYN_SENT:
            # tcp_connect_init: offer everything the config enables
            opts = build_tcp_options(
                mss=self.rcv_mss,
                wscale=self.rcv_wscale if cfg.window_scaling else None,
                sack_permitted=cfg.sack,
                timestamps=(tsval, 0) if cfg.timestamps else None,
            )
            flags = SYN
            ack = 0
        else:
            # SYN-ACK: answer only what the peer offered (RFC 7323 2.2, 3.2; RFC 2018 2)
            opts = build_tcp_options(
                mss=self.rcv_mss,
                wscale=self.rcv_wscale if cfg.window_scaling and self._ws_offered else None,
                sack_permitted=self.sack_ok,
                timestamps=(tsval, self.ts_recent) if self.ts_ok else None,
            )  # fmt: skip
            flags = SYN | ACK
            ack = self.rcv_nxt
            self._last_ack_sent = ack
        # RFC 7323 2.2: the window in a SYN is never scaled
        free = self._rcvbuf
        win = free if free < 0xFFFF else 0xFFFF
        self._syn_window = win
        if flags & ACK:
            self.rcv_adv = (self.rcv_nxt + win) & MASK
        ident = self._ident
        self._ident = (ident + 1) & 0xFFFF
        self.segs_out += 1
        return self._build(
            self.local_addr, self.remote_addr, ident, self.config.ttl, self.local_port,
            self.remote_port, self.iss, ack, flags, win, opts, b"",
        )  # fmt: skip

    def _accept_syn_options(self, syn: TcpSegment, now: float, *, passive: bool) -> None:
        """Record the peer's SYN (RFC 9293 3.10.7.2 / 3.10.7.3; RFC 7323; RFC 2018)."""
        cfg = self.config
        self.irs = syn.seq
        self.rcv_nxt = (syn.seq + 1) & MASK
        self._last_ack_sent = self.rcv_nxt
        self.rcv_adv = self.rcv_nxt
        self._rcv_off = 0
        self._ws_offered = syn.wscale is not None
        if cfg.window_scaling and syn.wscale is not None:
            # RFC 7323 2.3: both sides offered; cap the shift at 14
            self.snd_wscale = min(syn.wscale, MAX_WSCALE)
        else:
            self.snd_wscale = 0
            self.rcv_wscale = 0
        self.ts_ok = cfg.timestamps and syn.ts_val is not None
        if self.ts_ok:
            self.ts_recent = syn.ts_val or 0
            self._ts_recent_stamp = now
        self.sack_ok = cfg.sack and syn.sack_permitted
        self.peer_mss = syn.mss if syn.mss else DEFAULT_MSS
        mss = min(self.peer_mss, self._mtu - self._ip_overhead)
        if self.ts_ok:
            mss -= TS_LEN  # Linux tcp_current_mss: the MSS after options
        self.snd_mss = max(mss, TCP_MIN_MSS)  # Linux TCP_MIN_MSS floor
        self._cc.set_mss(self.snd_mss)
        self._rcv_mss_est = min(self.snd_mss, self.rcv_mss)
        # RFC 7323 2.2: the window in a SYN is not scaled
        self.snd_wnd = syn.window
        self.max_snd_wnd = syn.window
        self.snd_wl1 = syn.seq
        self.snd_wl2 = syn.ack

    def _rcv_syn_sent(self, seg: TcpSegment, now: float) -> None:
        """RFC 9293 3.10.7.3 (and Linux tcp_rcv_synsent_state_process)."""
        flags = seg.flags
        # first check: SND.UNA < SEG.ACK =< SND.NXT (only our SYN is outstanding)
        if flags & ACK and seg.ack != ((self.iss + 1) & MASK):
            self.dropped += 1
            if not flags & RST:
                self._send_rst_for(seg)
            return
        if flags & RST:
            if flags & ACK:
                # RFC 9293 3.10.7.3: connection refused
                self._fail(
                    ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
                    "RST in SYN-SENT", now,
                )  # fmt: skip
            else:
                self.dropped += 1
            return
        if not flags & SYN:
            self.dropped += 1
            return
        self._accept_syn_options(seg, now, passive=False)
        if flags & ACK:
            self.snd_una = seg.ack
            self._syn_acked = True
            self.snd_nxt = self.snd_max = seg.ack
            self.rcv_adv = (self.rcv_nxt + self._syn_window) & MASK
            # RTT sample: timestamps are unambiguous; otherwise Karn (no retransmitted SYN)
            if self.ts_ok and seg.ts_ecr:
                self._rtt.sample((self._ts_val(now) - seg.ts_ecr & MASK) / 1000.0)
            elif self._retransmits == 0:
                self._rtt.sample(now - self._rtt_time)
            elif self._rtt.rto < 3.0:
                # RFC 6298 5.7: SYN timed out and no sample: RTO 3 s for data
                self._rtt.rto = 3.0
            self._rtt.backoff = 0
            self._retransmits = 0
            self._tm.rtx = INF
            self._set_state(ESTABLISHED, "SYN-ACK received", now)
            self._after_established(now)
            if self._sbuf or self._fin_queued:
                # Linux: data is waiting, the ACK rides on it; the delack timer
                # is the safety net
                self._tm.delack = now + self.config.delayed_ack
            else:
                self._ack_now = True
            # data or FIN on a SYN-ACK is not taken (Linux tcp_rcv_synsent_state_process
            # frees the segment without Fast Open): the peer sends it again
        else:
            # RFC 9293 3.10.7.3: simultaneous open: SYN-RECEIVED, send SYN-ACK
            self._set_state(SYN_RECEIVED, "SYN received in SYN-SENT (simultaneous open)", now)
            self.snd_nxt = self.iss
            self._simultaneous = True

    def _after_established(self, now: float) -> None:
        # Linux tcp_finish_connect / tcp_rcv_state_process: lsndtime starts here
        self._last_send = now
        self._init_buffer_space(now)  # Linux tcp_init_transfer
        if self.config.keepalive:
            self._tm.keepalive = now + self.config.keepalive_idle
        if self._fin_queued:
            # RFC 9293 3.10.4: a CLOSE queued in SYN-SENT / SYN-RECEIVED
            self._set_state(FIN_WAIT_1, "queued shutdown", now)

    def time_wait_accepts_syn(self, seg: TcpSegment) -> bool:
        """May a new SYN reopen this TIME-WAIT 4-tuple? (``syn_reopens_time_wait``;
        the stack keeps compact TIME-WAIT entries, ``core/timewait.py``, that ask
        the same rule)."""
        if self.state is not TIME_WAIT:
            return False
        return syn_reopens_time_wait(seg, self.ts_recent if self.ts_ok else None, self.rcv_nxt)

    def time_wait_iss(self) -> int:
        """ISN for the reopening connection (Linux: tw_snd_nxt + 65535 + 2)."""
        return (self.snd_nxt + 65535 + 2) & MASK

    def _syn_received_ack(self, seg: TcpSegment, seq: int, ack: int, now: float) -> bool:
        """RFC 9293 3.10.7.4 fifth check in SYN-RECEIVED: an ACK of our SYN-ACK
        completes the passive open (True); any other ACK is answered with
        <SEQ=SEG.ACK><CTL=RST> and dropped (False)."""
        if not (seq_diff(ack, self.snd_una) > 0 and seq_diff(ack, self.snd_max) <= 0):
            self.dropped += 1
            self._send_rst_for(seg)
            return False
        self.snd_una = ack
        self._syn_acked = True
        if seq_diff(self.snd_nxt, ack) < 0:
            self.snd_nxt = ack
        if self.ts_ok and seg.ts_ecr:
            self._rtt.sample((self._ts_val(now) - seg.ts_ecr & MASK) / 1000.0)
        elif self._retransmits == 0:
            self._rtt.sample(now - self._rtt_time)
        self._rtt.backoff = 0
        self._retransmits = 0
        self._tm.rtx = INF
        self.snd_wnd = seg.window << self.snd_wscale
        self.max_snd_wnd = max(self.max_snd_wnd, self.snd_wnd)
        self.snd_wl1 = seq
        self.snd_wl2 = ack
        self._set_state(ESTABLISHED, "ACK of SYN-ACK", now)
        self._after_established(now)
        return True
