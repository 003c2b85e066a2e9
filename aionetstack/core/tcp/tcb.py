"""The transmission control block: a connection's fields and what every part shares.

Theory of operation
-------------------
``TcpConnection`` (``connection.py``) is assembled from parts, one module per
responsibility, each a class in a single chain of inheritance::

    Tcb            tcb.py        fields, state changes (one table), segment building
    ReceiverPart   receiver.py   RCV.*, data and FIN, ACK policy, window, SACK/DSACK out
    SenderPart     sender.py     SND.*, send buffer, send loop (Nagle, SWS), persist
    RackTlpPart    rack.py       RACK time-based loss marking, tail loss probes
    RecoveryPart   recovery.py   RFC 6675 episodes, NewReno partial ACKs, undo
    TimeoutPart    timeouts.py   what happens when each deadline passes
    HandshakePart  handshake.py  SYN / SYN-ACK, options, SYN-SENT and SYN-RECEIVED
    OutputPart     output.py     packets_to_send: what is due, in order; get_timer
    TcpConnection  connection.py the facade: application calls, input dispatch

A later part may call an earlier one, never the reverse. The state of the
parts that can live on their own is a small slotted object held here: the
timers (``timers.Timers``), the SACK scoreboard (``scoreboard.SackScoreboard``),
the recovery episode and undo records (``recovery.Episode``,
``recovery.UndoState``) and RACK's state (``rack.RackState``); each is unit
tested alone. SND.*, RCV.* and the flags the per-segment paths read stay plain
slots of the connection: one attribute load each on the paths that run for
every segment (header prediction, the send loop). ``__slots__`` below groups
every field by the part that owns it.

Sequence space. SND.* and RCV.* are 32-bit sequence numbers compared with
``wire.seq.seq_diff`` (RFC 9293 3.4; Linux ``before()``/``after()``). The send
buffer ``_sbuf`` holds every data byte not yet acknowledged (sent or not); its
first byte has sequence number ``_sbuf_seq``. The receive side appends
in-order data to ``_rbuf`` and keeps out-of-order data in a ``Reassembler``
indexed by stream offset (``_rcv_off`` is the offset of RCV.NXT).
"""

from __future__ import annotations

import errno
import struct
from collections import deque
from collections.abc import Callable

from aionetstack.core.config import StackConfig
from aionetstack.core.tcp.congestion import CongestionControl, make_congestion_control
from aionetstack.core.tcp.delivery import DeliveryRateEstimator, NoDeliveryRate
from aionetstack.core.tcp.events import Connected, ConnectionClosed, TcpEvent
from aionetstack.core.tcp.memory import TcpMemory
from aionetstack.core.tcp.reassembly import Reassembler
from aionetstack.core.tcp.recovery_state import Episode, RackState, UndoState
from aionetstack.core.tcp.rtt import RttEstimator
from aionetstack.core.tcp.scoreboard import SackScoreboard
from aionetstack.core.tcp.states import RECEIVING, SENDING, TRANSITIONS, TcpState
from aionetstack.core.tcp.timers import INF, Timers
from aionetstack.wire.checksum import BytesLike
from aionetstack.wire.seq import seq_diff
from aionetstack.wire.tcp import (
    ACK,
    FIN,
    RST,
    SYN,
    TcpSegment,
    build_ipv4_tcp,
    ipv6_tcp_builder,
)

__all__ = ["PacketBuilder", "Tcb", "ipv6_builder", "rst_for_unexpected"]

MASK = 0xFFFFFFFF
# RFC 9293 3.7.1: default MSS when the peer sends no MSS option
DEFAULT_MSS = 536
# Linux include/net/tcp.h TCP_MIN_MSS: the smallest send MSS we use, whatever a
# peer's MSS option or an ICMP "fragmentation needed" says (tiny segments are a
# resource attack, cf. CVE-2019-11479)
TCP_MIN_MSS = 88
# Linux net.ipv4.route.min_pmtu (ip_rt_min_pmtu): a next-hop MTU reported below
# it is raised to it (__ip_rt_update_pmtu), never trusted lower
MIN_PMTU = 552
# RFC 7323 2.3: the shift count is limited to 14
MAX_WSCALE = 14
# RFC 7323 5.5: ts_recent is invalid after 24 days idle
PAWS_IDLE = 24 * 86400.0
# Linux net.ipv4.tcp_invalid_ratelimit: ACKs answering unacceptable pure ACKs
OOW_RATE_LIMIT = 0.5
# NOP NOP TIMESTAMP(10) header word, then TSval, TSecr (RFC 7323 Appendix A layout)
TS_OPT = struct.Struct(">III")
TS_WORD = 0x0101080A
TS_LEN = 12
# RFC 6675 2 DupThresh / Linux net.ipv4.tcp_reordering; tcp_max_reordering caps it
DUPTHRESH = 3
MAX_REORDERING = 300

# Module-level aliases: identity tests on hot paths without an Enum attribute lookup.
CLOSED = TcpState.CLOSED
LISTEN = TcpState.LISTEN
SYN_SENT = TcpState.SYN_SENT
SYN_RECEIVED = TcpState.SYN_RECEIVED
ESTABLISHED = TcpState.ESTABLISHED
FIN_WAIT_1 = TcpState.FIN_WAIT_1
FIN_WAIT_2 = TcpState.FIN_WAIT_2
CLOSE_WAIT = TcpState.CLOSE_WAIT
CLOSING = TcpState.CLOSING
LAST_ACK = TcpState.LAST_ACK
TIME_WAIT = TcpState.TIME_WAIT
# states where header prediction may apply (data only where RECEIVING allows it)
FAST_STATES = (ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT)
# tuples, not the frozensets: membership by identity, no Python-level Enum.__hash__
RECEIVING_STATES = tuple(RECEIVING)
SENDING_STATES = tuple(SENDING)


def wscale_for(buffer: int) -> int:
    """Smallest shift that lets ``buffer`` be advertised (RFC 7323 2.3)."""
    s = 0
    while (buffer >> s) > 0xFFFF and s < MAX_WSCALE:
        s += 1
    return s


#: Builds one whole IP packet carrying a TCP segment: ``(src, dst, ident, ttl,
#: src_port, dst_port, seq, ack, flags, window, options, payload)``; ``ident`` is
#: the IPv4 identification (IPv6: ignored, the flow label is fixed per flow).
PacketBuilder = Callable[
    [int, int, int, int, int, int, int, int, int, int, BytesLike, BytesLike], bytes
]


def ipv6_builder(flow_label: int) -> PacketBuilder:
    """The IPv6 ``PacketBuilder`` of one flow (RFC 6437: one flow label per flow)."""
    return ipv6_tcp_builder(flow_label)


def rst_for_unexpected(
    seg: TcpSegment, src: int, dst: int, ttl: int = 64, build: PacketBuilder = build_ipv4_tcp
) -> bytes | None:
    """The RST answering a segment that matches no connection (RFC 9293 3.10.7.1).

    ``src``/``dst`` are the addresses of the *incoming* segment (``src`` is the
    peer); the reply goes from ``dst`` to ``src`` (``build``: IPv4 unless given).
    Returns None when ``seg`` is itself an RST (never answer an RST with an RST).
    """
    flags = seg.flags
    if flags & RST:
        return None
    if flags & ACK:
        # RFC 9293 3.10.7.1: <SEQ=SEG.ACK><CTL=RST>
        return build(dst, src, 0, ttl, seg.dst_port, seg.src_port, seg.ack, 0, RST, 0, b"", b"")
    # RFC 9293 3.10.7.1: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
    seg_len = len(seg.payload) + (1 if flags & SYN else 0) + (1 if flags & FIN else 0)
    return build(
        dst, src, 0, ttl, seg.dst_port, seg.src_port, 0, (seg.seq + seg_len) & MASK,
        RST | ACK, 0, b"", b"",
    )  # fmt: skip


def new_rate_estimator(cc: CongestionControl) -> DeliveryRateEstimator | NoDeliveryRate:
    """A delivery-rate estimator for a controller that takes rate samples."""
    return DeliveryRateEstimator() if cc.wants_rate_samples else NoDeliveryRate()


def syn_reopens_time_wait(seg: TcpSegment, ts_recent: int | None, rcv_nxt: int) -> bool:
    """May this SYN reopen a TIME-WAIT 4-tuple? (Linux tcp_timewait_state_process).

    RFC 6191 2 (with timestamps, ``ts_recent`` not None): yes when the SYN's
    TSval is newer than TS.Recent; when it is not newer but not PAWS-old either,
    the sequence number rule of RFC 9293 3.10.7.4 (note) / RFC 1122 4.2.2.13: yes
    when SEG.SEQ is beyond RCV.NXT. A TSval older than TS.Recent is an old
    duplicate (RFC 7323 5.3 PAWS; Linux: ``!paws_reject && (after(seq, rcv_nxt)
    || newer tsval)``). A TSval equal to TS.Recent is common: Linux's ms clock
    often has not ticked between its FIN and its reconnecting SYN."""
    if seg.flags & (SYN | ACK | RST) != SYN:
        return False
    if ts_recent is not None and seg.ts_val is not None:
        d = seq_diff(seg.ts_val, ts_recent)
        if d > 0:
            return True
        if d < 0:
            return False  # RFC 7323 5.3: PAWS rejects it
    return seq_diff(seg.seq, rcv_nxt) > 0


class Tcb:
    """The fields of one connection, and the helpers every part uses."""

    # grouped by the part that owns each field, not sorted
    __slots__ = (  # noqa: RUF023
        # ---- identity and life cycle (tcb.py)
        "family",
        "_build",
        "_ip_overhead",
        "_closed_by_app",
        "_closed_emitted",
        "_ctl_out",
        "_data_event_pending",
        "_eof_event_sent",
        "_events",
        "_ident",
        "_mtu",
        "_soft_error",
        "_trace",
        "config",
        "error",
        "local_addr",
        "local_port",
        "remote_addr",
        "remote_port",
        "state",
        "transitions",
        # ---- send sequence space and send buffer (sender.py)
        "_cc",
        "_fin_acked",
        "_fin_queued",
        "_fin_seq",
        "_freed",
        "_persist_backoff",
        "_probe_pending",
        "_retransmits",
        "_rtt",
        "_rtt_seq",
        "_rtt_time",
        "_rtx_guard",
        "_rtx_max",
        "_rtx_tsval",
        "_rtx_until",
        "_sbuf",
        "_sbuf_seq",
        "_sndbuf",
        "_sndbuf_locked",
        "_snd_sml",
        "_last_seg_start",
        "_last_send",
        "_pace_next",
        "_sws_override",
        "_syn_acked",
        "iss",
        "max_snd_wnd",
        "peer_mss",
        "snd_max",
        "snd_mss",
        "snd_nxt",
        "snd_una",
        "snd_wl1",
        "snd_wl2",
        "snd_wnd",
        "snd_wscale",
        # ---- receive sequence space, ACK policy, SACK generation (receiver.py)
        "_ack_now",
        "_chal_count",
        "_chal_window",
        "_dsack",
        "_last_ack_sent",
        "_ooo_acks",
        "_ooo_fin_off",
        "_oow_last",
        "_quick",
        "_ack_pushed",
        "_pingpong",
        "_last_rcv_data",
        "_rbuf",
        "_rcvbuf",
        "_rcvbuf_locked",
        "_copied",
        "_rcvq_space",
        "_rcvq_copied",
        "_rcvq_time",
        "_rcv_rtt",
        "_rcv_rtt_seq",
        "_rcv_rtt_time",
        "_rcv_tsecr",
        "_rcv_rtt_last_tsecr",
        "_rcv_mss_est",
        "_rcv_off",
        "_rcv_unacked",
        "_reasm",
        "_sack_recent",
        "eof_received",
        "irs",
        "rcv_adv",
        "rcv_mss",
        "rcv_nxt",
        "rcv_wscale",
        # ---- the stack's memory account (memory.py) and this connection's charge
        "_mem",
        "_mem_charged",
        # ---- options and handshake (handshake.py)
        "_simultaneous",
        "_syn_window",
        "_ts_offset",
        "_ts_recent_stamp",
        "_ws_offered",
        "sack_ok",
        "ts_ok",
        "ts_recent",
        # ---- loss recovery, RACK-TLP, timers (recovery.py, rack.py, timers.py)
        "_dupacks",
        "_ep",
        "_fast_rtx",
        "_flight_at_flush",
        "_prr_limit",
        "_frto",
        "_frto_spurious",
        "_in_recovery",
        "_ka_probes",
        "_rack",
        "_rate",
        "_recover",
        "_reordering",
        "_sb",
        "_tlp_pending",
        "_tlp_probe",
        "_tlp_rearm",
        "_tm",
        "_undo",
        # ---- statistics, TCP_INFO names (info.py)
        "bytes_acked",
        "bytes_received",
        "bytes_retrans",
        "bytes_sent",
        "challenge_acks",
        "data_segs_in",
        "data_segs_out",
        "dropped",
        "dsacks_in",
        "dsacks_out",
        "dup_acks_in",
        "fast_retransmits",
        "lost",
        "ooo_segs_in",
        "rto_expirations",
        "segs_in",
        "segs_out",
        "spurious_retrans",
        "total_retrans",
        "undos",
    )

    def __init__(
        self,
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
    ) -> None:
        """Use ``connect()`` or ``accept()``; this makes a CLOSED shell. ``memory``:
        the stack's account (None: one of this connection's own, from the config)."""
        self.config = config
        self.local_addr = local_addr
        self.local_port = local_port
        self.remote_addr = remote_addr
        self.remote_port = remote_port
        self.state = CLOSED
        self.transitions: list[tuple[float, TcpState, TcpState, str]] = []
        self._trace: Callable[[str], None] | None = None
        self.error: OSError | None = None
        self._soft_error: OSError | None = None
        self._events: deque[TcpEvent] = deque()
        self._ctl_out: list[bytes] = []
        self._mtu = mtu
        # the IP version: 4, or 6 (RFC 8200; the addresses are then 128-bit ints)
        self.family = family
        if family == 6:
            self._build: PacketBuilder = ipv6_builder(flow_label)
            self._ip_overhead = 60  # IPv6 + TCP headers (MSS = MTU - 60)
        else:
            self._build = build_ipv4_tcp
            self._ip_overhead = 40
        iss &= MASK
        # ---- send sequence space (RFC 9293 3.3.1)
        self.iss = iss
        self.snd_una = iss
        self.snd_nxt = iss
        self.snd_max = iss
        self.snd_wnd = 0
        self.snd_wl1 = 0
        self.snd_wl2 = 0
        self.max_snd_wnd = 0
        self.snd_wscale = 0
        self._sbuf = bytearray()
        self._sbuf_seq = (iss + 1) & MASK
        # the send buffer (Linux sk_sndbuf): tcp_wmem[1] until ESTABLISHED, then
        # autotuned (sender.py _sndbuf_expand) unless SO_SNDBUF fixed it
        self._sndbuf = min(config.send_buffer_initial, config.send_buffer)
        self._sndbuf_locked = False
        # end of the last small (sub-MSS) segment sent (Linux snd_sml, Minshall's Nagle)
        self._snd_sml = (iss + 1) & MASK
        # where the last new segment sent starts (what a tail loss probe resends)
        self._last_seg_start = (iss + 1) & MASK
        # when the last data segment was sent (Linux tp->lsndtime; set at ESTABLISHED)
        self._last_send = now
        # pacing: when the next paced segment may leave (Linux EDT)
        self._pace_next = 0.0
        self._syn_acked = False
        self._fin_queued = False
        self._fin_seq = 0
        self._fin_acked = False
        # ---- receive sequence space
        self.irs = 0
        self.rcv_nxt = 0
        self.rcv_adv = 0
        self._rcv_off = 0
        self.rcv_wscale = wscale_for(config.recv_buffer) if config.window_scaling else 0
        self._rbuf = bytearray()
        # the receive buffer (Linux sk_rcvbuf): tcp_rmem[1], grown by dynamic
        # right-sizing (receiver.py _rcv_space_adjust) unless SO_RCVBUF fixed it
        self._rcvbuf = min(config.recv_buffer_initial, config.recv_buffer)
        self._rcvbuf_locked = False
        self._copied = 0  # bytes the application has read (Linux copied_seq)
        # Linux rcvq_space: bytes read per RTT last measured, where and when the
        # current measurement began (tcp_init_buffer_space sets them)
        self._rcvq_space = 0
        self._rcvq_copied = 0
        self._rcvq_time = now
        # Linux rcv_rtt_est: the receiver's RTT estimate (0.0: none yet), from
        # timestamps or, without them, from the time one window takes to arrive
        self._rcv_rtt = 0.0
        self._rcv_rtt_seq = -1
        self._rcv_rtt_time = 0.0
        self._rcv_tsecr = 0  # TSecr of the last data segment
        self._rcv_rtt_last_tsecr = 0
        # Cap the out-of-order blocks by the buffer size (one per KiB, floor
        # 64, ceiling 65536): tiny segments at every other byte must not make
        # millions of blocks (see reassembly.py; Linux tcp_prune_ofo_queue).
        self._reasm = Reassembler(max(64, min(config.recv_buffer // 1024, 65536)))
        self._ooo_fin_off = -1
        self.eof_received = False
        self._syn_window = 0
        self._ws_offered = False
        self._simultaneous = False
        # ---- options
        self.rcv_mss = max(mtu - self._ip_overhead, 88)
        self.peer_mss = DEFAULT_MSS
        self.snd_mss = min(DEFAULT_MSS, self.rcv_mss)
        self.ts_ok = False
        self.sack_ok = False
        self.ts_recent = 0
        self._ts_recent_stamp = now
        if ts_offset is None:
            ts_offset = (iss * 2654435761) & MASK  # RFC 7323 7.1: per-connection offset
        self._ts_offset = ts_offset
        # ---- ACK generation
        self._ack_now = False
        self._quick = config.quickack_segments
        self._ack_pushed = False  # a small segment awaits its ACK (Linux ICSK_ACK_PUSHED)
        self._pingpong = False  # interactive mode (Linux inet_csk_in_pingpong_mode)
        self._last_rcv_data = -INF  # when data last arrived (Linux icsk_ack.lrcvtime)
        self._rcv_unacked = 0
        self._rcv_mss_est = DEFAULT_MSS
        self._last_ack_sent = 0
        self._dsack: tuple[int, int] | None = None
        self._sack_recent: list[int] = []
        self._chal_count = 0
        self._chal_window = -INF
        # ---- timers and retransmission
        self._tm = Timers()
        self._rtt = RttEstimator(config.rto_initial, config.rto_min, config.rto_max)
        self._rtt_seq = -1  # RFC 6298 3 timing of one segment when no timestamps
        self._rtt_time = 0.0
        self._persist_backoff = 0
        self._probe_pending = False
        self._sws_override = False
        self._tlp_pending = False  # a probe is out, awaiting an ACK
        self._tlp_probe = False  # a probe is due in the next packets_to_send
        self._tlp_rearm = False  # an ACK asked for the PTO; armed after the flush
        self._ka_probes = 0
        self._retransmits = 0
        self._cc: CongestionControl = make_congestion_control(
            config.congestion_control, self.snd_mss, config.initial_cwnd_segments
        )
        self._dupacks = 0
        self._in_recovery = False
        self._recover = iss
        self._fast_rtx = False
        self._rtx_max = iss  # highest end of anything ever retransmitted
        # Linux tp->reordering / RFC 6675 DupThresh (net.ipv4.tcp_reordering = 3)
        self._reordering = DUPTHRESH
        self._flight_at_flush = 0  # SND.MAX - SND.UNA after the last packets_to_send
        self._prr_limit = 0  # the window of a recovery send (RFC 6937 PRR, recovery.py)
        self._frto = False  # an RTO episode watched by F-RTO (RFC 5682 3.1)
        self._frto_spurious = False  # this ACK showed the timeout spurious
        self._sb = SackScoreboard()
        self._ep = Episode(iss)
        self._undo = UndoState(iss)
        self._rack = RackState()
        self._rate = new_rate_estimator(self._cc)  # Linux tcp_rate.c (delivery.py)
        self._ooo_acks = 0  # out-of-order segments this batch (dup ACKs owed)
        self._oow_last = -INF  # last ACK answering an unacceptable pure ACK
        # Karn for timestamps: after a retransmission, an echo older than it is ambiguous
        self._rtx_guard = False
        self._rtx_tsval = 0
        self._rtx_until = iss
        # ---- memory account
        if memory is None:
            memory = TcpMemory(*config.tcp_mem)
        self._mem = memory
        self._mem_charged = 0  # -1: given back for good (CLOSED / TIME-WAIT)
        # ---- application side
        self._data_event_pending = False
        self._eof_event_sent = False
        self._freed = False
        self._closed_by_app = False
        self._closed_emitted = False
        self._ident = (iss ^ int(now * 1000)) & 0xFFFF
        # ---- statistics (TCP_INFO)
        self.bytes_acked = 0
        self.bytes_received = 0
        self.bytes_sent = 0
        self.bytes_retrans = 0
        self.segs_in = 0
        self.segs_out = 0
        self.data_segs_in = 0
        self.data_segs_out = 0
        self.total_retrans = 0
        self.lost = 0
        self.dropped = 0
        self.challenge_acks = 0
        self.dup_acks_in = 0
        self.fast_retransmits = 0
        self.rto_expirations = 0
        self.ooo_segs_in = 0
        self.dsacks_out = 0
        self.dsacks_in = 0
        self.spurious_retrans = 0
        self.undos = 0

    def _set_state(self, new: TcpState, cause: str, now: float) -> None:
        """The one place the state changes (recorded for tracing and tests)."""
        old = self.state
        if old is new:
            return
        # the table in states.py; an illegal transition is a bug in the engine
        assert new in TRANSITIONS[old], f"illegal TCP transition {old} -> {new} ({cause})"
        self.state = new
        self.transitions.append((now, old, new, cause))
        if self._trace is not None:
            self._trace(f"{now:.6f} {old} -> {new}: {cause}")
        if new is ESTABLISHED and old in (SYN_SENT, SYN_RECEIVED):
            self._events.append(Connected())
        elif new is TIME_WAIT:
            # RFC 9293 3.10.7.4: the 2*MSL timer; nothing else may run
            self._tm.stop_for_time_wait(now + self.config.time_wait)
            self._emit_closed(None)
            self._mem_release()
        elif new is CLOSED:
            self._mem_release()
            self._tm.stop_all()
            self._ack_now = False
            self._fast_rtx = False
            self._probe_pending = False
            self._emit_closed(self.error)

    def _mem_sync(self) -> None:
        """Charge the stack's account with what this connection holds now (send
        queue, unread data, out-of-order store): after out-of-order store
        changes; the queues are charged as they change (memory.py)."""
        charged = self._mem_charged
        if charged < 0:
            return
        reasm = self._reasm
        held = len(self._sbuf) + len(self._rbuf) + (reasm.memory if reasm.bytes else 0)
        if held != charged:
            self._mem_charged = held
            self._mem.charge(held - charged)

    def _mem_release(self) -> None:
        """Give the charge back for good (CLOSED, TIME-WAIT: the stack lets go of
        the connection; data left unread is no longer the stack's to count)."""
        charged = self._mem_charged
        if charged >= 0:
            self._mem_charged = -1
            if charged:
                self._mem.charge(-charged)

    def _emit_closed(self, error: OSError | None) -> None:
        if not self._closed_emitted:
            self._closed_emitted = True
            self._events.append(ConnectionClosed(error))

    def _fail(self, error: OSError, cause: str, now: float) -> None:
        """Terminal error: record it and go to CLOSED."""
        if self.error is None:
            self.error = error
        self._reasm.clear()
        self._set_state(CLOSED, cause, now)

    def _timeout_error(self) -> TimeoutError:
        soft = self._soft_error
        if soft is not None:
            # RFC 1122 4.2.3.9: report the remembered soft error with the timeout
            err = TimeoutError(errno.ETIMEDOUT, f"Connection timed out ({soft.strerror or soft})")
            err.__cause__ = soft
            return err
        return TimeoutError(errno.ETIMEDOUT, "Connection timed out")

    def _tr(self, now: float, text: str) -> None:
        if self._trace is not None:
            self._trace(f"{now:.6f} {text}")

    def _ts_val(self, now: float) -> int:
        # RFC 7323 5.4: a ms clock plus a per-connection offset
        return (int(now * 1000.0) + self._ts_offset) & MASK

    def _send_rst_for(self, seg: TcpSegment) -> None:
        """RST answering an unacceptable ACK (RFC 9293 3.10.7.3 / 3.10.7.4)."""
        pkt = rst_for_unexpected(
            seg, self.remote_addr, self.local_addr, self.config.ttl, self._build
        )
        if pkt is not None:
            self.segs_out += 1
            self._ctl_out.append(pkt)
