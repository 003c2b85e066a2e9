"""The sans-IO TCP engine: one ``TcpConnection`` per connection (RFC 9293).

Theory of operation
-------------------
A ``TcpConnection`` is a plain object. It never reads a clock, never touches a
socket and never imports asyncio: every input carries ``now`` (seconds on the
caller's clock) and every output is pulled.

Inputs
    ``receive(seg, now)`` (a parsed, checksum-verified ``TcpSegment``),
    ``handle_timer(now)``, ``icmp_error(error, now)`` and the application
    calls ``send``, ``shutdown``, ``close``, ``abort``, ``read``.
Outputs
    ``packets_to_send(now)`` (whole IPv4 packets), ``get_timer()`` (the
    earliest deadline or None) and ``next_event()``.

This class is the facade over the parts listed in ``tcb.py`` (one module per
responsibility: receiver, sender, RACK-TLP, recovery, timeouts, handshake).
What stays here is what ties them together: the application calls, the input
dispatch (RFC 9293 3.10.7.4's checks in order, each delegated to its part) and
the output assembly.

Batching contract. ``receive()`` never builds an ACK: it only marks one as
owed (``_ack_now``) or arms the delayed-ACK deadline. The driver calls
``packets_to_send(now)`` once per wakeup, after feeding every packet of the
batch, so one ACK covers the whole batch; any data segment sent carries the
ACK too. The only packets built inside ``receive()`` are RSTs answering a
segment's own fields (RFC 9293 3.10.7.3), parked in ``_ctl_out``.

Fast path. ``receive()`` first tries header prediction (RFC 9293 3.10.7.4
"Segment arrives", as Linux's tcp_rcv_established): ESTABLISHED, only ACK
(and PSH) set, SEG.SEQ == RCV.NXT, nothing out of order, no SACK blocks, not
in recovery, PAWS passes. That handles in-order data and pure new ACKs with a
handful of attribute operations; everything else takes the full RFC path. It
stays flat (no calls into the parts but the ACK processing) because it runs
for every segment.
"""

from __future__ import annotations

import errno
from collections.abc import Callable

from aionetstack.core.config import StackConfig
from aionetstack.core.tcp.congestion import make_congestion_control
from aionetstack.core.tcp.events import (
    TcpEvent,
)
from aionetstack.core.tcp.info import TcpInfo
from aionetstack.core.tcp.memory import TcpMemory
from aionetstack.core.tcp.output import OutputPart
from aionetstack.core.tcp.states import TcpState
from aionetstack.core.tcp.tcb import (
    CLOSE_WAIT,
    CLOSED,
    ESTABLISHED,
    FAST_STATES,
    FIN_WAIT_1,
    FIN_WAIT_2,
    LAST_ACK,
    MASK,
    MIN_PMTU,
    OOW_RATE_LIMIT,
    RECEIVING_STATES,
    SENDING_STATES,
    SYN_RECEIVED,
    SYN_SENT,
    TCP_MIN_MSS,
    TIME_WAIT,
    TS_LEN,
    new_rate_estimator,
    rst_for_unexpected,
)
from aionetstack.core.tcp.timers import INF
from aionetstack.wire.ipv6 import IPV6_MIN_MTU
from aionetstack.wire.seq import seq_diff
from aionetstack.wire.tcp import (
    ACK,
    FIN,
    RST,
    SYN,
    TcpSegment,
)

__all__ = ["TcpConnection", "rst_for_unexpected"]

# RFC 1122 4.2.3.9 destination-unreachable codes 2-4 that reach a connection:
# protocol (ENOPROTOOPT) and port (ECONNREFUSED) unreachable
HARD_ICMP_ERRNOS = frozenset({errno.ENOPROTOOPT, errno.ECONNREFUSED})


class TcpConnection(OutputPart):
    """One TCP connection's state machine (see the module docstring)."""

    __slots__ = ()

    @classmethod
    def connect(
        cls,
        config: StackConfig,
        *,
        local_addr: int,
        local_port: int,
        remote_addr: int,
        remote_port: int,
        iss: int,
        mtu: int,
        now: float,
        ts_offset: int | None = None,
        family: int = 4,
        flow_label: int = 0,
        memory: TcpMemory | None = None,
    ) -> TcpConnection:
        """Active open (RFC 9293 3.10.1): SYN-SENT, SYN queued for the next flush.
        ``family`` 6: the addresses are IPv6 (128-bit ints), packets are IPv6."""
        c = cls(
            config, local_addr=local_addr, local_port=local_port, remote_addr=remote_addr,
            remote_port=remote_port, iss=iss, mtu=mtu, now=now, ts_offset=ts_offset,
            family=family, flow_label=flow_label, memory=memory,
        )  # fmt: skip
        c._set_state(SYN_SENT, "connect", now)
        return c

    @classmethod
    def accept(
        cls,
        config: StackConfig,
        syn: TcpSegment,
        *,
        local_addr: int,
        remote_addr: int,
        iss: int,
        mtu: int,
        now: float,
        ts_offset: int | None = None,
        family: int = 4,
        flow_label: int = 0,
        memory: TcpMemory | None = None,
    ) -> TcpConnection:
        """Passive open from a listener's SYN (RFC 9293 3.10.7.2): SYN-RECEIVED."""
        c = cls(
            config, local_addr=local_addr, local_port=syn.dst_port, remote_addr=remote_addr,
            remote_port=syn.src_port, iss=iss, mtu=mtu, now=now, ts_offset=ts_offset,
            family=family, flow_label=flow_label, memory=memory,
        )  # fmt: skip
        c._accept_syn_options(syn, now, passive=True)
        c._set_state(SYN_RECEIVED, "SYN received (passive open)", now)
        return c

    def set_tracer(self, tracer: Callable[[str], None] | None) -> None:
        """Receive a text line for every state change and timer event."""
        self._trace = tracer

    def set_config(self, config: StackConfig, now: float) -> None:
        """This connection's own options (``setsockopt``): ``self.config`` is read
        wherever an option applies, so a replaced value takes effect at its next
        use. Keepalive is (re)armed from ``now`` as Linux ``tcp_set_keepalive``
        and ``TCP_KEEPIDLE`` do; a new congestion control starts from the
        current cwnd and ssthresh (Linux ``tcp_reinit_congestion_control``)."""
        old, self.config = self.config, config
        if (config.keepalive, config.keepalive_idle) != (old.keepalive, old.keepalive_idle):
            alive = self.state in (ESTABLISHED, CLOSE_WAIT, FIN_WAIT_1, FIN_WAIT_2)
            self._tm.keepalive = now + config.keepalive_idle if config.keepalive and alive else INF
        if config.congestion_control != old.congestion_control:
            self.set_congestion_control(config.congestion_control)

    def lock_send_buffer(self, size: int) -> None:
        """``SO_SNDBUF`` (Linux sk_setsockopt): the send buffer is ``size`` bytes
        from now on, no longer autotuned (SOCK_SNDBUF_LOCK)."""
        self._sndbuf = size
        self._sndbuf_locked = True

    def lock_recv_buffer(self, size: int) -> None:
        """``SO_RCVBUF``: the receive buffer is ``size`` bytes from now on, no
        longer autotuned (SOCK_RCVBUF_LOCK); a window already advertised is
        never taken back (RFC 9293 3.8.6.2.2)."""
        self._rcvbuf = size
        self._rcvbuf_locked = True

    @property
    def readable(self) -> int:
        """Bytes ready for ``read()``."""
        return len(self._rbuf)

    @property
    def send_queued(self) -> int:
        """Bytes not yet acknowledged (sent-unacked plus unsent)."""
        return len(self._sbuf)

    @property
    def send_buffer_size(self) -> int:
        """The send buffer now (Linux sk_sndbuf, autotuned): the bytes the engine
        holds before the transport's write buffer begins."""
        return self._sndbuf

    @property
    def recv_buffer_size(self) -> int:
        """The receive buffer now (Linux sk_rcvbuf, autotuned): the window
        advertises its free space."""
        return self._rcvbuf

    @property
    def in_flight(self) -> int:
        """Sequence space sent and not acknowledged (SND.NXT - SND.UNA)."""
        return seq_diff(self.snd_nxt, self.snd_una)

    @property
    def has_events(self) -> bool:
        """Events wait for ``next_event()`` (the engine lists the connection as ready)."""
        return bool(self._events)

    @property
    def ack_due(self) -> bool:
        """An ACK or window update is owed now (set by ``read()`` when the window
        it reopened matters, Linux __tcp_cleanup_rbuf): the owner should let the
        engine pull the connection's output."""
        return self._ack_now

    def next_event(self) -> TcpEvent | None:
        if self._events:
            return self._events.popleft()
        return None

    def send(self, data: bytes | bytearray | memoryview, now: float) -> None:
        """Queue data (RFC 9293 3.10.2). Raises when the send side is closed."""
        if self._fin_queued or self.state not in SENDING_STATES:
            if self.error is not None:
                raise type(self.error)(self.error.errno, self.error.strerror)
            if self.state is CLOSED and not self.transitions:
                raise OSError(errno.ENOTCONN, "Transport endpoint is not connected")
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")
        if data:
            self._sbuf += data
            n = len(data)
            if self._mem_charged >= 0:
                # charged at once (Linux sk_wmem_schedule in tcp_sendmsg): above
                # the hard limit the send buffer is moderated, the writer pauses
                self._mem_charged += n
                mem = self._mem
                mem.charge(n)
                if mem.over_limit:
                    self._sndbuf_moderate()

    def shutdown(self, now: float) -> None:
        """Send FIN after the queued data (RFC 9293 3.10.4); keep receiving."""
        st = self.state
        if self._fin_queued or st not in SENDING_STATES:
            if st is CLOSED and self.error is None and not self.transitions:
                raise OSError(errno.ENOTCONN, "Transport endpoint is not connected")
            return
        self._fin_queued = True
        self._fin_seq = (self._sbuf_seq + len(self._sbuf)) & MASK
        if st is ESTABLISHED:
            self._set_state(FIN_WAIT_1, "shutdown", now)
        elif st is CLOSE_WAIT:
            self._set_state(LAST_ACK, "shutdown", now)
        # SYN-SENT / SYN-RECEIVED: RFC 9293 3.10.4, queued until ESTABLISHED

    def close(self, now: float) -> None:
        """Close both directions, like Linux's tcp_close()."""
        st = self.state
        self._closed_by_app = True
        if st is CLOSED or st is TIME_WAIT:
            return
        if st is SYN_SENT:
            # RFC 9293 3.10.4: delete the TCB, no segment
            self._set_state(CLOSED, "close in SYN-SENT", now)
            return
        if self._rbuf or self._reasm.bytes:
            # RFC 9293 3.10.4 / RFC 2525 2.17: unread data is lost, tell the peer
            self._send_rst(now)
            self._set_state(CLOSED, "close with unread data (RST)", now)
            return
        self.shutdown(now)
        if self.state is FIN_WAIT_2:
            self._tm.time_wait = now + self.config.fin_timeout

    def abort(self, now: float) -> None:
        """RST now, CLOSED (RFC 9293 3.10.5)."""
        st = self.state
        if st is CLOSED:
            return
        self._closed_by_app = True
        if st is not SYN_SENT and st is not TIME_WAIT:
            self._send_rst(now)
        self._sbuf.clear()
        self._set_state(CLOSED, "abort", now)

    def read(self, max_bytes: int = -1) -> bytes:
        """Take in-order received data; reopens the window."""
        rbuf = self._rbuf
        if max_bytes < 0 or max_bytes >= len(rbuf):
            data = bytes(rbuf)
            rbuf.clear()
        else:
            data = bytes(rbuf[:max_bytes])
            del rbuf[:max_bytes]
        n = len(data)
        self._copied += n
        if n and self._mem_charged >= 0:
            self._mem_charged -= n  # given back at once (memory.py)
            self._mem.allocated -= n
        self._data_event_pending = False
        if data and self.state in RECEIVING_STATES:
            # A window update "that matters" (RFC 9293 3.8.6.2.2; Linux __tcp_cleanup_rbuf)
            cur = seq_diff(self.rcv_adv, self.rcv_nxt)
            free = self._rcv_free()
            if free - cur >= self.rcv_mss and free >= 2 * cur:
                self._ack_now = True
            elif not rbuf and self._ack_pushed and not self._pingpong and self._tm.delack != INF:
                # Linux __tcp_cleanup_rbuf: the read emptied the buffer, a small
                # segment is waiting for its ACK and the connection is not
                # interactive: ACK now rather than after the delayed-ACK timeout
                self._ack_now = True
        return data

    def icmp_error(self, error: OSError, now: float, *, next_hop_mtu: int = 0) -> None:
        """An ICMP error quoting one of our segments (RFC 1122 4.2.3.9, RFC 1191)."""
        st = self.state
        if st is CLOSED or st is TIME_WAIT:
            return
        if next_hop_mtu:
            # RFC 1191 / Linux tcp_v4_mtu_reduced: shrink the MSS, resend at once
            floor = MIN_PMTU if self.family == 4 else IPV6_MIN_MTU
            if next_hop_mtu < floor:
                # Linux __ip_rt_update_pmtu: clamp to min_pmtu; RFC 8201 4: never
                # below the IPv6 minimum MTU, 1280
                next_hop_mtu = floor
            new_mss = next_hop_mtu - self._ip_overhead - (TS_LEN if self.ts_ok else 0)
            if TCP_MIN_MSS <= new_mss < self.snd_mss:
                self.snd_mss = new_mss
                self._cc.mss = new_mss
                self._mtu = next_hop_mtu
                if self._syn_acked:
                    self.snd_nxt = self.snd_una
            return
        if (st is SYN_SENT or st is SYN_RECEIVED) and error.errno in HARD_ICMP_ERRNOS:
            # RFC 1122 4.2.3.9: protocol and port unreachable are hard errors, TCP
            # SHOULD abort; Linux tcp_v4_err ends a connection attempt at once
            self._fail(error, "ICMP hard error during the handshake", now)
            return
        # RFC 1122 4.2.3.9: net and host unreachable are soft errors, remembered and
        # reported on timeout (Linux also ends a connection attempt on those)
        self._soft_error = error

    def receive(self, seg: TcpSegment, now: float) -> None:
        """Process one segment (RFC 9293 3.10.7). Never raises on bad input."""
        self.segs_in += 1
        st = self.state
        if (
            st in FAST_STATES
            and (seg.flags & 0x37) == ACK
            and seg.seq == self.rcv_nxt
            and self._fast_path(seg, now)
        ):
            return
        if st is CLOSED or st is TcpState.LISTEN:
            self.dropped += 1
            return
        if st is SYN_SENT:
            self._rcv_syn_sent(seg, now)
        else:
            self._rcv_synchronized(seg, now)

    def _fast_path(self, seg: TcpSegment, now: float) -> bool:
        """Header prediction (Linux tcp_rcv_established). False: take the slow path."""
        if self._reasm.bytes or self._in_recovery or seg.sack_blocks or self._ooo_fin_off >= 0:
            return False
        ack = seg.ack
        snd_una = self.snd_una
        d = ((ack - snd_una + 0x80000000) & MASK) - 0x80000000  # seq_diff, inlined (per segment)
        payload = seg.payload
        n = len(payload)
        if d < 0 or (d == 0 and n == 0) or d > ((self.snd_max - snd_una) & MASK):
            return False
        mem = self._mem
        if n and (
            n > ((self.rcv_adv - self.rcv_nxt + 0x80000000) & MASK) - 0x80000000
            or self._closed_by_app
            or self.state is CLOSE_WAIT
            or mem.allocated > mem.high
        ):
            return False
        if self.ts_ok:
            tsv = seg.ts_val
            if tsv is None or ((tsv - self.ts_recent) & MASK) >= 0x80000000:
                return False  # PAWS candidate: slow path decides
            if self.rcv_nxt == self._last_ack_sent:
                # RFC 7323 4.3: SEG.SEQ <= Last.ACK.sent
                self.ts_recent = tsv
                self._ts_recent_stamp = now
        if self.config.keepalive:
            self._tm.keepalive = now + self.config.keepalive_idle
            self._ka_probes = 0
        # window update (RFC 9293 3.10.7.4: SND.WL1 < SEG.SEQ here)
        wnd = seg.window << self.snd_wscale
        self.snd_wnd = wnd
        self.snd_wl1 = seg.seq
        self.snd_wl2 = ack
        if wnd > self.max_snd_wnd:
            self.max_snd_wnd = wnd
        if wnd and self._tm.persist != INF:
            self._tm.persist = INF
            self._persist_backoff = 0
        if d > 0:
            prior_in_flight = (self.snd_max - snd_una) & MASK
            self._new_ack(seg, ack, d, now)
            if self.state is CLOSED:
                return True
            if self._rate.pending:
                self._rate_sample(prior_in_flight, now)
        if n:
            self._rcv_tsecr = seg.ts_ecr or 0  # the receiver's RTT (receiver.py)
            self._mem_charged += n  # charged at once: the hard limit sees it (memory.py)
            mem.allocated += n
            self.data_segs_in += 1
            self._rbuf += payload
            self.rcv_nxt = (self.rcv_nxt + n) & MASK
            self._rcv_off += n
            self.bytes_received += n
            self._on_data(n, now, False)
        return True

    def _rcv_synchronized(self, seg: TcpSegment, now: float) -> None:
        """RFC 9293 3.10.7.4 for SYN-RECEIVED and every synchronized state."""
        st = self.state
        flags = seg.flags
        payload = seg.payload
        plen = len(payload)
        seq = seg.seq
        rcv_nxt = self.rcv_nxt
        if st is SYN_RECEIVED and flags & SYN and seq == self.irs and not flags & RST:
            if not flags & ACK:
                # the peer retransmitted its SYN: resend the SYN-ACK
                self.snd_nxt = self.iss
                return
            if seg.ack == self.snd_max and not plen:
                # simultaneous open: the peer's SYN-ACK completes it (Linux
                # tcp_validate_incoming lets it pass)
                flags = ACK
                seq = rcv_nxt
        # RFC 7323 5.3 PAWS
        if self.ts_ok and not flags & RST and self._paws_reject(seg.ts_val, now):
            return
        # RFC 9293 3.10.7.4 first check: sequence acceptability
        seg_len = plen + (1 if flags & SYN else 0) + (1 if flags & FIN else 0)
        d = seq_diff(seq, rcv_nxt)
        if not self._acceptable(d, seg_len):
            self._on_unacceptable(flags, seq, d, plen, seg_len, now)
            return
        if self.config.keepalive:
            self._tm.keepalive = now + self.config.keepalive_idle
            self._ka_probes = 0
        # second check: RST (RFC 9293 3.10.7.4, RFC 5961 3.2)
        if flags & RST:
            self._on_rst(d, now)
            return
        # fourth check: SYN (RFC 5961 4.2: challenge ACK for any SYN)
        if flags & SYN:
            self._challenge_ack(now)
            return
        # fifth check: ACK
        if not flags & ACK:
            self.dropped += 1
            return
        if self.ts_ok:
            self._update_ts_recent(seq, seg.ts_val, now)
        ack = seg.ack
        if st is SYN_RECEIVED and not self._syn_received_ack(seg, seq, ack, now):
            return
        snd_una = self.snd_una
        da = seq_diff(ack, snd_una)
        if seq_diff(ack, self.snd_max) > 0:
            # RFC 9293 3.10.7.4 / RFC 5961 5.2: ACK of data never sent
            self.dropped += 1
            self._challenge_ack(now)
            return
        if da < -max(self.max_snd_wnd, 0xFFFF):
            # RFC 5961 5.2: too old
            self.dropped += 1
            self._challenge_ack(now)
            return
        sacked_before = self._sb.sacked
        prior_in_flight = seq_diff(self.snd_max, snd_una) - sacked_before
        blocks = seg.sack_blocks
        if blocks and self.sack_ok:
            self._on_sack_blocks(blocks, ack, now)
        window_changed = da >= 0 and self._update_window(seg.window, seq, ack)
        if da > 0:
            self._new_ack(seg, ack, da, now)
            if self.state is CLOSED:
                return
        elif (
            da == 0
            and plen == 0
            and not flags & FIN
            and not window_changed
            and self.snd_una != self.snd_max
        ):
            # RFC 5681 2: a duplicate acknowledgment
            self._dupack(now)
        if self._frto_spurious:
            self._frto_check(now)
        if self._sb.sacked or self._in_recovery:
            self._detect_sack_loss(seg, now)
        if self._in_recovery:
            # RFC 6937 DeliveredData: newly ACKed plus newly SACKed bytes (the ACK
            # that starts an episode counts too, as Linux tcp_cwnd_reduction's)
            ep = self._ep
            delivered = seq_diff(self.snd_una, snd_una) + self._sb.sacked - sacked_before
            ep.delivered_now = delivered
            ep.prr_delivered += delivered
        if self._rate.pending:
            self._rate_sample(prior_in_flight, now)
        st = self.state
        if st is TIME_WAIT:
            if flags & FIN:
                # RFC 9293 3.10.7.4: ACK the retransmitted FIN, restart 2 MSL
                self._ack_now = True
                self._tm.time_wait = now + self.config.time_wait
            elif plen and now - self._oow_last >= OOW_RATE_LIMIT:
                # Linux tcp_timewait_state_process: any other segment is answered
                # with an ACK (rate-limited, tcp_timewait_check_oow_rate_limit)
                self._oow_last = now
                self._ack_now = True
            return
        if plen or flags & FIN:
            self._process_data_and_fin(seg, now)

    def _new_ack(self, seg: TcpSegment, ack: int, acked: int, now: float) -> None:
        """SND.UNA advances (RFC 9293 3.10.7.4, RFC 6298 5.2-5.3, RFC 5681, RFC 6582)."""
        sbuf = self._sbuf
        data_acked = acked
        nbuf = len(sbuf)
        if data_acked > nbuf:
            data_acked = nbuf
        if data_acked:
            del sbuf[:data_acked]
            if self._mem_charged >= 0:
                self._mem_charged -= data_acked  # given back at once (memory.py)
                self._mem.allocated -= data_acked
            self._sbuf_seq = (self._sbuf_seq + data_acked) & MASK
            self.bytes_acked += data_acked
            self._freed = True
        fin_acked = acked > data_acked and self._fin_queued
        if self._in_recovery and self._undo.ok:
            self._try_undo_eifel(seg.ts_ecr, ack, now)
        self.snd_una = ack
        if seq_diff(self.snd_nxt, ack) < 0:
            self.snd_nxt = ack
        rtt = self._rtt_sample(seg.ts_ecr, ack, now)
        self._retransmits = 0
        # delivery-rate estimation (Linux tcp_rate.c): each byte once, so what
        # was SACKed before is not delivered again by this cumulative ACK
        old_una = (ack - acked) & MASK
        rate = self._rate
        if not rate.active:
            pass
        elif self._sb.blocks:
            self._sb.deliver_cumulative(old_una, ack, rate.on_delivered)
        else:
            rate.on_delivered(old_una, ack)
        if self._frto:
            # F-RTO (RFC 5682 3.1): the cumulative part not SACKed before
            if self._sb.blocks:
                self._sb.deliver_cumulative(old_una, ack, self._frto_delivered)
            else:
                self._frto_delivered(old_una, ack)
            if self._frto_spurious:
                self._frto_check(now)  # before the episode's ACK processing
        in_flight = seq_diff(self.snd_max, ack)
        if self._sb.blocks:
            self._sb.prune(ack)
            if not self._sb.blocks:
                self._tm.reo = INF
        if self._in_recovery:
            self._recovery_ack(seg, ack, data_acked, rtt, in_flight, now)
        else:
            self._cc.on_ack(data_acked, rtt, now, in_flight)
        self._dupacks = 0
        # RFC 6298 5.2 / 5.3: stop or restart the timer (a store, no heap work)
        self._tlp_pending = False
        if ack == self.snd_max:
            self._tm.rtx = INF
            self._tm.tlp = INF
        else:
            self._tm.rtx = now + self._rtt.current()
            # RFC 8985 7.2: re-arm the PTO, once the flush has sent what this ACK
            # clocks out (a lone segment's PTO would exceed the RTO; the flight
            # after the flush is what the probe protects)
            self._tm.tlp = INF
            self._tlp_rearm = self.sack_ok and not self._in_recovery
        if fin_acked:
            self._on_fin_acked(now)

    def set_congestion_control(self, name: str) -> None:
        """Switch this connection's algorithm (Linux setsockopt TCP_CONGESTION,
        tcp_reinit_congestion_control): the window carries over. ValueError for
        an unknown name."""
        old = self._cc
        cc = make_congestion_control(name, self.snd_mss, self.config.initial_cwnd_segments)
        cc.cwnd = old.cwnd
        cc.ssthresh = old.ssthresh
        self._cc = cc
        if cc.wants_rate_samples != old.wants_rate_samples:
            self._rate = new_rate_estimator(cc)

    def tcp_info(self) -> TcpInfo:
        rtt = self._rtt
        cc = self._cc
        return TcpInfo(
            state=self.state,
            rtt=rtt.srtt,
            rttvar=rtt.rttvar,
            rto=rtt.current(),
            min_rtt=rtt.min_rtt,
            snd_mss=self.snd_mss,
            rcv_mss=self.rcv_mss,
            cwnd=cc.cwnd,
            ssthresh=cc.ssthresh,
            snd_wnd=self.snd_wnd,
            rcv_wnd=max(seq_diff(self.rcv_adv, self.rcv_nxt), 0),
            snd_wscale=self.snd_wscale,
            rcv_wscale=self.rcv_wscale,
            timestamps=self.ts_ok,
            sack=self.sack_ok,
            unacked=seq_diff(self.snd_nxt, self.snd_una),
            retransmits=self._retransmits,
            backoff=rtt.backoff,
            probes=self._ka_probes + self._persist_backoff,
            bytes_acked=self.bytes_acked,
            bytes_received=self.bytes_received,
            bytes_sent=self.bytes_sent,
            bytes_retrans=self.bytes_retrans,
            segs_out=self.segs_out,
            segs_in=self.segs_in,
            data_segs_out=self.data_segs_out,
            data_segs_in=self.data_segs_in,
            total_retrans=self.total_retrans,
            lost=self.lost,
            reordering=self._reordering,
            delivery_rate=self._rate.delivery_rate,
            dropped=self.dropped,
            challenge_acks=self.challenge_acks,
            dup_acks_in=self.dup_acks_in,
            fast_retransmits=self.fast_retransmits,
            rto_expirations=self.rto_expirations,
            ooo_segs_in=self.ooo_segs_in,
            dsacks_out=self.dsacks_out,
            dsacks_in=self.dsacks_in,
            spurious_retrans=self.spurious_retrans,
            undos=self.undos,
            congestion_control=cc.name,
            ca_state=cc.state_name(),
            pacing_rate=cc.pacing_rate,
        )

    def __repr__(self) -> str:
        return (
            f"<TcpConnection {self.local_port}->{self.remote_port} {self.state} "
            f"una={self.snd_una} nxt={self.snd_nxt} rcv_nxt={self.rcv_nxt}>"
        )

    def _rate_sample(self, prior_in_flight: int, now: float) -> None:
        """Once per ACK that delivered data: the delivery-rate sample (Linux
        tcp_rate_gen), handed to the congestion controller (cong_control)."""
        rs = self._rate.take_sample(now, prior_in_flight, 0, self.snd_una, self._rtt.min_rtt)
        self._cc.on_rate_sample(rs, now)

    @classmethod
    def from_handshake(
        cls,
        config: StackConfig,
        *,
        local_addr: int,
        local_port: int,
        remote_addr: int,
        remote_port: int,
        iss: int,
        irs: int,
        peer_mss: int | None,
        peer_wscale: int | None,
        sack_permitted: bool,
        ts_recent: int | None,
        peer_window: int,
        mtu: int,
        synack_sent: float | None,
        retransmits: int,
        ident: int,
        now: float,
        ts_offset: int | None = None,
        family: int = 4,
        flow_label: int = 0,
        memory: TcpMemory | None = None,
    ) -> TcpConnection:
        """A passive open whose SYN-ACK the stack sent without a connection (from a
        SYN-queue request record or a SYN cookie, Linux ``tcp_check_req`` /
        ``cookie_v4_check``): SYN-RECEIVED with the SYN-ACK outstanding, exactly
        as ``accept()`` followed by the ``packets_to_send`` that sent it
        (``_syn_segment``, ``_output``). The caller then feeds it the ACK with
        ``receive()``, which completes the handshake (``_syn_received_ack``).

        ``peer_*``/``sack_permitted``/``ts_recent``: what the SYN offered (for a
        cookie: what the cookie encodes, TS.Recent the ACK's TSval);
        ``synack_sent``: when the last SYN-ACK left (None: unknown, a cookie: no
        RTT sample but the timestamps'); ``retransmits``: how many SYN-ACKs were
        retransmitted (Karn: no RTT sample from those; the stack counted them);
        ``ident``: the next IP ID; ``family``/``flow_label``: as ``accept()``."""
        syn = TcpSegment(
            remote_port, local_port, irs, 0, SYN, peer_window, mss=peer_mss, wscale=peer_wscale,
            sack_permitted=sack_permitted, ts_val=ts_recent,
        )  # fmt: skip
        c = cls.accept(
            config, syn, local_addr=local_addr, remote_addr=remote_addr, iss=iss, mtu=mtu,
            now=now, ts_offset=ts_offset, family=family, flow_label=flow_label, memory=memory,
        )  # fmt: skip
        # what _syn_segment and _output set when the SYN-ACK left
        free = c._rcvbuf
        win = free if free < 0xFFFF else 0xFFFF
        c._syn_window = win
        c.rcv_adv = (c.rcv_nxt + win) & MASK
        c._last_ack_sent = c.rcv_nxt
        c.snd_nxt = c.snd_max = (c.iss + 1) & MASK
        c._rtt_time = now if synack_sent is None else synack_sent
        c._retransmits = 1 if synack_sent is None and not retransmits else retransmits
        c.segs_out = 1 + retransmits
        c._ident = ident & 0xFFFF
        for _ in range(retransmits):
            c._rtt.on_timeout()
        c._tm.rtx = now + c._rtt.current()
        return c
