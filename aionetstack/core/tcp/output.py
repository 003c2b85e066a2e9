"""Output assembly: everything due now, pulled once per wakeup (the batching contract).

Theory of operation
-------------------
``packets_to_send(now)`` builds, in order: the control packets parked by input
(RSTs), the SYN or SYN-ACK while the handshake runs, the retransmissions the
recovery allows (RFC 6675 NextSeg rule 1, under PRR), new data and
go-back-N retransmissions (the send loop), a tail loss probe, the duplicate
ACKs a peer without SACK needs, and finally the ACK that every other segment
would have carried. ``get_timer()`` is the earliest of the connection's
deadlines. One call per wakeup, so one ACK covers a whole batch of input.

The flush is also where the buffers are tuned (the receive side's RTT and
right-sizing, ``receiver.py``; the send buffer, ``sender.py``) and where the
account's state (pressure, hard limit) follows the charges the queues made as
they changed (``memory.py``): once per wakeup, never per segment.
"""

from __future__ import annotations

from aionetstack.core.tcp.events import (
    SEND_SPACE,
)
from aionetstack.core.tcp.handshake import HandshakePart
from aionetstack.core.tcp.recovery_state import Xmit
from aionetstack.core.tcp.tcb import (
    CLOSED,
    MASK,
    SYN_RECEIVED,
    SYN_SENT,
    TIME_WAIT,
)
from aionetstack.core.tcp.timers import INF
from aionetstack.wire.tcp import (
    ACK,
)

__all__ = ["OutputPart"]


class OutputPart(HandshakePart):
    """Output assembly and the earliest deadline (see the module docstring)."""

    __slots__ = ()

    def packets_to_send(self, now: float) -> list[bytes]:
        """Everything due now, as whole IPv4 packets (see the batching contract)."""
        out = self._output(now)
        mem = self._mem
        if mem.allocated > mem.watch or mem.pressure or mem.over_limit:
            # a mark or the peak may have been passed by the charges made as the
            # queues changed: the account's state follows (memory.py)
            mem.charge(0)
        if self._tlp_rearm:
            self._tlp_rearm = False
            if not self._in_recovery and self.snd_una != self.snd_max:
                self._arm_tlp(now)
        # the flight a loss found in the next batch of ACKs is measured against
        self._flight_at_flush = (self.snd_max - self.snd_una) & MASK
        return out

    def _output(self, now: float) -> list[bytes]:
        out = self._ctl_out
        if out:
            self._ctl_out = []
        else:
            out = []
        st = self.state
        if st is CLOSED:
            return out
        if not self._syn_acked:
            if st is SYN_SENT or st is SYN_RECEIVED:
                if self.snd_nxt == self.iss:
                    out.append(self._syn_segment(now))
                    self.snd_nxt = self.snd_max = (self.iss + 1) & MASK
                    if self._tm.rtx == INF:
                        self._tm.rtx = now + self._rtt.current()
                    self._rtt_time = now
                    self._ack_now = False
                elif self._ack_now and st is SYN_RECEIVED:
                    # RFC 9293 3.10.7.4: an unacceptable segment gets the SYN-ACK again
                    self.snd_nxt = self.iss
                    out.append(self._syn_segment(now))
                    self.snd_nxt = (self.iss + 1) & MASK
                    self._ack_now = False
            return out
        if now - self._rcvq_time >= self._rcv_rtt:
            # once per receiver RTT (every flush until one is known)
            self._rcv_autotune(now)
        if self._freed:
            # ACKs freed space (Linux tcp_new_space); above the hard limit send()
            # moderates the buffer too (sk_stream_moderate_sndbuf)
            self._sndbuf_tune()
        if not (
            self._ack_now
            or self._tlp_probe
            or self._fast_rtx
            or self._probe_pending
            or self._freed
            or self._ooo_acks
            or self._in_recovery
            or (self._fin_queued and not self._fin_acked and self.snd_nxt == self._fin_seq)
        ):
            # nothing due unless unsent data fits the windows: an idle or
            # window-limited wakeup costs a few tests
            nbuf = len(self._sbuf)
            if not nbuf:
                return out
            snd_nxt = self.snd_nxt
            if snd_nxt == ((self._sbuf_seq + nbuf) & MASK):
                return out
            in_flight = (snd_nxt - self.snd_una) & MASK
            if in_flight and (
                in_flight >= self.snd_wnd
                or (
                    in_flight >= self._cc.cwnd
                    and (
                        not (self._dupacks or self._sb.sacked)
                        or in_flight >= self._cc.cwnd + self._limited_transmit()
                    )
                )
            ):
                return out
        tsval = self._ts_val(now) if self.ts_ok else 0
        sack = (
            self._sack_blocks()
            if (self._dsack is not None or self._reasm.bytes or self._ooo_fin_off >= 0)
            else None
        )
        pipe = -1
        sack_recovery = self._in_recovery and self.sack_ok
        sent_before = self.bytes_sent + self.bytes_retrans
        if sack_recovery:
            # RFC 6675 5 (steps 4.x) / NextSeg rule 1: the lost pieces the pipe allows
            force = self._fast_rtx
            self._fast_rtx = False
            n0 = len(out)
            pipe = self._recovery_send(out, now, tsval, sack, force)
            if len(out) > n0:
                sack = None
        elif self._fast_rtx:
            self._fast_rtx = False
            self._retransmit_first(out, now, tsval, sack)
            sack = None
        if st is not TIME_WAIT:
            smax = self.snd_max
            self._send_data(out, now, tsval, sack, pipe)
            if sack_recovery:
                self._ep.prr_out += self.bytes_sent + self.bytes_retrans - sent_before
            if sack_recovery and self.snd_max != smax:
                # RFC 6675 NextSeg rule 2: new data, logged for RACK-style marking
                self._ep.log.append(Xmit(smax, self.snd_max, now, False))
            if self._tlp_probe:
                self._tlp_probe = False
                if not out:
                    self._send_tlp(out, now, tsval)
        if self._ooo_acks > 1 and not self.sack_ok:
            # RFC 5681 4.2: one duplicate ACK per out-of-order segment, so a
            # peer without SACK can count them (up to three per batch)
            for _ in range(min(self._ooo_acks, 3) - 1):
                out.append(self._segment(self.snd_max, ACK, b"", tsval, None))
                self._ack_now = True
        self._ooo_acks = 0
        if self._ack_now or self._probe_pending:
            if self._probe_pending:
                # Linux tcp_xmit_probe_skb: an old sequence number forces an ACK
                self._probe_pending = False
                seq = (self.snd_una - 1) & MASK
            else:
                # Linux tcp_acceptable_seq: SND.MAX, not a backed-off SND.NXT,
                # or a peer that already has that data would find it
                # unacceptable and ignore the ACK (RFC 9293 3.10.7.4)
                seq = self.snd_max
            if self._ack_now or self._dsack is not None or sack:
                sack = (
                    self._sack_blocks()
                    if (self._dsack is not None or self._reasm.bytes or self._ooo_fin_off >= 0)
                    else None
                )
            out.append(self._segment(seq, ACK, b"", tsval, sack))
        if self._freed:
            self._freed = False
            self._events.append(SEND_SPACE)
        return out

    def get_timer(self) -> float | None:
        """The earliest running deadline of ``timers.Timers``, or None.

        The stack asks after every call into a connection, so the minimum is
        taken here, without a further call."""
        tm = self._tm
        t = tm.rtx
        if tm.delack < t:
            t = tm.delack
        if tm.persist < t:
            t = tm.persist
        if tm.keepalive < t:
            t = tm.keepalive
        if tm.time_wait < t:
            t = tm.time_wait
        if tm.tlp < t:
            t = tm.tlp
        if tm.reo < t:
            t = tm.reo
        if tm.pace < t:
            t = tm.pace
        return None if t == INF else t
