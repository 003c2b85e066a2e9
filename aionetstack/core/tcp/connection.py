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

Batching contract. ``receive()`` never builds an ACK: it only marks one as
owed (``_ack_now``) or arms the delayed-ACK deadline. The driver calls
``packets_to_send(now)`` once per wakeup, after feeding every packet of the
batch, so one ACK covers the whole batch; any data segment sent carries the
ACK too. The only packets built inside ``receive()`` are RSTs answering a
segment's own fields (RFC 9293 3.10.7.3), parked in ``_ctl_out``.

Sequence space. SND.* and RCV.* variables are 32-bit sequence numbers compared
with signed differences (RFC 9293 3.4). The send buffer ``_sbuf`` holds every
data byte not yet acknowledged (sent or not); its first byte has sequence
number ``_sbuf_seq``. Retransmission is "go back": on RTO ``snd_nxt`` returns
to ``snd_una`` and the ordinary send loop resends (skipping what the peer has
SACKed); ``snd_max`` remembers the highest sequence sent. The receive side
appends in-order data to ``_rbuf`` (read by the application) and keeps
out-of-order data in a ``Reassembler`` indexed by stream offset
(``_rcv_off`` is the offset of RCV.NXT).

Fast path. ``receive()`` first tries header prediction (RFC 9293 3.10.7.4
"Segment arrives", as Linux's tcp_rcv_established): ESTABLISHED, only ACK
(and PSH) set, SEG.SEQ == RCV.NXT, nothing out of order, no SACK blocks, not
in recovery, PAWS passes. That handles in-order data and pure new ACKs with a
handful of attribute operations; everything else takes the full RFC path.

Timers. Six deadlines are plain float attributes (``INF`` when idle):
retransmission (also SYN/SYN-ACK), tail loss probe, delayed ACK, persist
(also the sender-SWS override), keepalive, and TIME-WAIT / FIN-WAIT-2.
Moving one is a store. ``get_timer()`` returns their minimum;
``handle_timer(now)`` handles every one that is due and ignores the others,
so an early or late call is harmless.

Loss recovery. Detection lives here: DupThresh duplicate ACKs (RFC 5681), or,
with SACK, IsLost(SND.UNA): more than (DupThresh - 1) * SMSS bytes SACKed
above it (RFC 6675 4; lowered for small flights as RFC 5827 early
retransmit), or a SACKed tail loss probe (RFC 8985 7, armed from ACKs). The
byte rule matters because the driver batches: one ACK may SACK a whole
batch. DupThresh is ``_reordering`` (Linux tp->reordering, 3 to 300), raised
when SACKs or ACKs show that never-retransmitted data arrived out of order.

SACK recovery (RFC 6675). One *episode* per recovery: ``_xlog`` records every
transmission sent during it (one entry per retransmitted segment, one per
burst of new data) with its time. A piece of a hole (un-SACKed sequence space
below SND.MAX) is *lost* when: IsLost says so (DupThresh); or it is the head
marked by entry / a partial ACK (``_force_to``, RFC 6675 4.2 / RFC 6582 3.2
step 5); or, RACK-style (RFC 8985 6.2), something sent later than it was
delivered at least a reordering window after it (``_rack_xmit``): original
holes once any transmission of the episode is delivered, retransmissions
that stay unacknowledged while later ones arrive (lost again). After an RTO
with SACK, every un-SACKed byte is lost (``_loss_all``, RFC 6675 5.1) and the
same machinery resends holes under slow start. pipe = un-SACKed outstanding
bytes minus lost ones (RFC 6675 SetPipe); NextSeg rule 1 resends lost pieces
while pipe < cwnd (several per ACK), rule 2 sends new data. Without SACK,
NewReno resends one segment per partial ACK (RFC 6582). Without SACK an RTO
goes back to SND.UNA.

Undo. Each recovery (and RTO) saves cwnd/ssthresh. DSACKs for retransmitted
data (RFC 2883, RFC 3708) count down the retransmissions; when all were
needless, or an ACK for retransmitted data echoes a timestamp older than the
first retransmission (Eifel, RFC 3522 / RFC 4015), the reduction is undone
(Linux tcp_try_undo_recovery / tcp_try_undo_dsack) and DupThresh grows.

The window response is delegated to ``congestion.py``. Because the driver
batches, a receiver produces one ACK per wakeup (at once when the batch held
out-of-order data, RFC 5681 4.2, with SACK/DSACK blocks); it compensates for
a peer without SACK by sending up to three duplicate ACKs.
"""

from __future__ import annotations

import errno
import struct
from collections import deque
from collections.abc import Callable

from aionetstack.core.config import StackConfig
from aionetstack.core.tcp.congestion import NewReno, make_congestion_control
from aionetstack.core.tcp.events import (
    Connected,
    ConnectionClosed,
    DataAvailable,
    EofReceived,
    SendSpace,
    TcpEvent,
)
from aionetstack.core.tcp.info import TcpInfo
from aionetstack.core.tcp.reassembly import REJECTED, Reassembler
from aionetstack.core.tcp.rtt import RttEstimator
from aionetstack.core.tcp.states import RECEIVING, SENDING, TcpState
from aionetstack.wire.tcp import (
    ACK,
    FIN,
    PSH,
    RST,
    SYN,
    TcpSegment,
    build_ipv4_tcp,
    build_tcp_options,
)

__all__ = ["TcpConnection", "rst_for_unexpected"]

INF = float("inf")
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
_TS_OPT = struct.Struct(">III")
_TS_WORD = 0x0101080A
_TS_LEN = 12
# RFC 6675 2 DupThresh / Linux net.ipv4.tcp_reordering; tcp_max_reordering caps it
DUPTHRESH = 3
MAX_REORDERING = 300


class _Xmit:
    """One transmission during a recovery episode (RFC 8985 6.1 per-segment state)."""

    __slots__ = ("delivered", "end", "rtx", "start", "time")

    def __init__(self, start: int, end: int, time: float, rtx: bool) -> None:
        self.start = start
        self.end = end
        self.time = time
        self.rtx = rtx
        self.delivered = False


_CLOSED = TcpState.CLOSED
_SYN_SENT = TcpState.SYN_SENT
_SYN_RECEIVED = TcpState.SYN_RECEIVED
_ESTABLISHED = TcpState.ESTABLISHED
_FIN_WAIT_1 = TcpState.FIN_WAIT_1
_FIN_WAIT_2 = TcpState.FIN_WAIT_2
_CLOSE_WAIT = TcpState.CLOSE_WAIT
_CLOSING = TcpState.CLOSING
_LAST_ACK = TcpState.LAST_ACK
_TIME_WAIT = TcpState.TIME_WAIT
# states where header prediction may apply (data only where RECEIVING allows it)
_FAST_STATES = (_ESTABLISHED, _FIN_WAIT_1, _FIN_WAIT_2, _CLOSE_WAIT)
# tuples, not the frozensets: membership by identity, no Python-level Enum.__hash__
_RECEIVING = tuple(RECEIVING)
_SENDING = tuple(SENDING)


def _sd(a: int, b: int) -> int:
    """Signed difference a - b in sequence space (RFC 9293 3.4)."""
    return ((a - b + 0x80000000) & MASK) - 0x80000000


def _wscale_for(buffer: int) -> int:
    """Smallest shift that lets ``buffer`` be advertised (RFC 7323 2.3)."""
    s = 0
    while (buffer >> s) > 0xFFFF and s < MAX_WSCALE:
        s += 1
    return s


def rst_for_unexpected(seg: TcpSegment, src: int, dst: int, ttl: int = 64) -> bytes | None:
    """The RST answering a segment that matches no connection (RFC 9293 3.10.7.1).

    ``src``/``dst`` are the addresses of the *incoming* segment (``src`` is the
    peer); the reply goes from ``dst`` to ``src``. Returns None when ``seg`` is
    itself an RST (never answer an RST with an RST).
    """
    flags = seg.flags
    if flags & RST:
        return None
    if flags & ACK:
        # RFC 9293 3.10.7.1: <SEQ=SEG.ACK><CTL=RST>
        return build_ipv4_tcp(
            dst, src, 0, ttl, seg.dst_port, seg.src_port, seg.ack, 0, RST, 0, b"", b""
        )
    # RFC 9293 3.10.7.1: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
    seg_len = len(seg.payload) + (1 if flags & SYN else 0) + (1 if flags & FIN else 0)
    return build_ipv4_tcp(
        dst, src, 0, ttl, seg.dst_port, seg.src_port, 0, (seg.seq + seg_len) & MASK,
        RST | ACK, 0, b"", b"",
    )  # fmt: skip


class TcpConnection:
    """One TCP connection's state machine (see the module docstring)."""

    __slots__ = (
        "_ack_now",
        "_cc",
        "_chal_count",
        "_chal_window",
        "_closed_by_app",
        "_closed_emitted",
        "_ctl_out",
        "_data_event_pending",
        "_delack_deadline",
        "_dsack",
        "_dupacks",
        "_entry_fack",
        "_eof_event_sent",
        "_ep_start",
        "_events",
        "_fast_rtx",
        "_fin_acked",
        "_fin_queued",
        "_fin_seq",
        "_force_to",
        "_freed",
        "_ident",
        "_in_recovery",
        "_ka_deadline",
        "_ka_probes",
        "_last_ack_sent",
        "_last_ack_time",
        "_loss_all",
        "_mtu",
        "_ooo_acks",
        "_ooo_fin_off",
        "_oow_last",
        "_persist_backoff",
        "_persist_deadline",
        "_probe_pending",
        "_quick",
        "_rack_rtt",
        "_rack_xmit",
        "_rbuf",
        "_rcv_mss_est",
        "_rcv_off",
        "_rcv_unacked",
        "_reasm",
        "_recover",
        "_reo_deadline",
        "_reo_mult",
        "_reordering",
        "_retransmits",
        "_rtt",
        "_rtt_seq",
        "_rtt_time",
        "_rtx_deadline",
        "_rtx_guard",
        "_rtx_max",
        "_rtx_tsval",
        "_rtx_until",
        "_sack_recent",
        "_sacked",
        "_sbuf",
        "_sbuf_seq",
        "_scoreboard",
        "_simultaneous",
        "_soft_error",
        "_sws_override",
        "_syn_acked",
        "_syn_window",
        "_tlp_deadline",
        "_tlp_pending",
        "_tlp_probe",
        "_tlp_rearm",
        "_trace",
        "_ts_offset",
        "_ts_recent_stamp",
        "_tw_deadline",
        "_undo_cwnd",
        "_undo_marker",
        "_undo_ok",
        "_undo_retrans",
        "_undo_ssthresh",
        "_undo_tsval",
        "_ws_offered",
        "_xlog",
        "bytes_acked",
        "bytes_received",
        "bytes_retrans",
        "bytes_sent",
        "challenge_acks",
        "config",
        "data_segs_in",
        "data_segs_out",
        "delivery_rate",
        "dropped",
        "dsacks_in",
        "dsacks_out",
        "dup_acks_in",
        "eof_received",
        "error",
        "fast_retransmits",
        "irs",
        "iss",
        "local_addr",
        "local_port",
        "lost",
        "max_snd_wnd",
        "ooo_segs_in",
        "peer_mss",
        "rcv_adv",
        "rcv_mss",
        "rcv_nxt",
        "rcv_wscale",
        "remote_addr",
        "remote_port",
        "rto_expirations",
        "sack_ok",
        "segs_in",
        "segs_out",
        "snd_max",
        "snd_mss",
        "snd_nxt",
        "snd_una",
        "snd_wl1",
        "snd_wl2",
        "snd_wnd",
        "snd_wscale",
        "spurious_retrans",
        "state",
        "total_retrans",
        "transitions",
        "ts_ok",
        "ts_recent",
        "undos",
    )

    # ------------------------------------------------------------------ setup

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
    ) -> None:
        """Use ``connect()`` or ``accept()``; this makes a CLOSED shell."""
        self.config = config
        self.local_addr = local_addr
        self.local_port = local_port
        self.remote_addr = remote_addr
        self.remote_port = remote_port
        self.state = _CLOSED
        self.transitions: list[tuple[float, TcpState, TcpState, str]] = []
        self._trace: Callable[[str], None] | None = None
        self.error: OSError | None = None
        self._soft_error: OSError | None = None
        self._events: deque[TcpEvent] = deque()
        self._ctl_out: list[bytes] = []
        self._mtu = mtu
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
        self._syn_acked = False
        self._fin_queued = False
        self._fin_seq = 0
        self._fin_acked = False
        # ---- receive sequence space
        self.irs = 0
        self.rcv_nxt = 0
        self.rcv_adv = 0
        self._rcv_off = 0
        self.rcv_wscale = _wscale_for(config.recv_buffer) if config.window_scaling else 0
        self._rbuf = bytearray()
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
        self.rcv_mss = max(mtu - 40, 88)
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
        self._delack_deadline = INF
        self._quick = config.quickack_segments
        self._rcv_unacked = 0
        self._rcv_mss_est = DEFAULT_MSS
        self._last_ack_sent = 0
        self._dsack: tuple[int, int] | None = None
        self._sack_recent: list[int] = []
        self._chal_count = 0
        self._chal_window = -INF
        # ---- timers and retransmission
        self._rtt = RttEstimator(config.rto_initial, config.rto_min, config.rto_max)
        self._rtt_seq = -1  # RFC 6298 3 timing of one segment when no timestamps
        self._rtt_time = 0.0
        self._rtx_deadline = INF
        self._persist_deadline = INF
        self._persist_backoff = 0
        self._probe_pending = False
        self._sws_override = False
        # RFC 8985 7 tail loss probe
        self._tlp_deadline = INF
        self._reo_deadline = INF  # RFC 8985 6.3 RACK reordering timer
        self._tlp_pending = False  # a probe is out, awaiting an ACK
        self._tlp_probe = False  # a probe is due in the next packets_to_send
        self._tlp_rearm = False  # an ACK asked for the PTO; armed after the flush
        self._ka_deadline = INF
        self._ka_probes = 0
        self._tw_deadline = INF
        self._retransmits = 0
        self._cc: NewReno = make_congestion_control(
            config.congestion_control, self.snd_mss, config.initial_cwnd_segments
        )
        self._dupacks = 0
        self._in_recovery = False
        self._recover = iss
        self._fast_rtx = False
        self._scoreboard: list[tuple[int, int]] = []
        self._sacked = 0  # bytes SACKed above SND.UNA (the scoreboard's total)
        # RFC 6675 recovery episode (see the module docstring)
        self._xlog: list[_Xmit] = []
        self._ep_start = 0.0
        self._force_to = iss  # holes below are lost by fiat (entry, partial ACK)
        self._loss_all = False  # RTO episode: every un-SACKed byte is lost
        self._rack_xmit = -INF  # RFC 8985 RACK.xmit_ts of the latest delivered send
        self._rack_rtt = 0.0
        self._reo_mult = 1  # RFC 8985 6.2 step 4 RACK.reo_wnd_mult
        self._rtx_max = iss  # highest end of anything ever retransmitted
        self._entry_fack = iss
        # Linux tp->reordering / RFC 6675 DupThresh (net.ipv4.tcp_reordering = 3)
        self._reordering = DUPTHRESH
        # undo state (RFC 3708, RFC 3522; Linux undo_marker / undo_retrans)
        self._undo_ok = False
        self._undo_marker = iss
        self._undo_cwnd = 0
        self._undo_ssthresh = 0
        self._undo_retrans = 0
        self._undo_tsval = 0
        self._ooo_acks = 0  # out-of-order segments this batch (dup ACKs owed)
        self._oow_last = -INF  # last ACK answering an unacceptable pure ACK
        # Karn for timestamps: after a retransmission, an echo older than it is ambiguous
        self._rtx_guard = False
        self._rtx_tsval = 0
        self._rtx_until = iss
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
        self.delivery_rate = 0.0
        self._last_ack_time = now
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
    ) -> TcpConnection:
        """Active open (RFC 9293 3.10.1): SYN-SENT, SYN queued for the next flush."""
        c = cls(
            config, local_addr=local_addr, local_port=local_port, remote_addr=remote_addr,
            remote_port=remote_port, iss=iss, mtu=mtu, now=now, ts_offset=ts_offset,
        )  # fmt: skip
        c._set_state(_SYN_SENT, "connect", now)
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
    ) -> TcpConnection:
        """Passive open from a listener's SYN (RFC 9293 3.10.7.2): SYN-RECEIVED."""
        c = cls(
            config, local_addr=local_addr, local_port=syn.dst_port, remote_addr=remote_addr,
            remote_port=syn.src_port, iss=iss, mtu=mtu, now=now, ts_offset=ts_offset,
        )  # fmt: skip
        c._accept_syn_options(syn, now, passive=True)
        c._set_state(_SYN_RECEIVED, "SYN received (passive open)", now)
        return c

    def set_tracer(self, tracer: Callable[[str], None] | None) -> None:
        """Receive a text line for every state change and timer event."""
        self._trace = tracer

    # ------------------------------------------------------------ state change

    def _set_state(self, new: TcpState, cause: str, now: float) -> None:
        """The one place the state changes (recorded for tracing and tests)."""
        old = self.state
        if old is new:
            return
        self.state = new
        self.transitions.append((now, old, new, cause))
        if self._trace is not None:
            self._trace(f"{now:.6f} {old} -> {new}: {cause}")
        if new is _ESTABLISHED and old in (_SYN_SENT, _SYN_RECEIVED):
            self._events.append(Connected())
        elif new is _TIME_WAIT:
            # RFC 9293 3.10.7.4: the 2*MSL timer; nothing else may run
            self._rtx_deadline = self._persist_deadline = self._ka_deadline = INF
            self._delack_deadline = self._tlp_deadline = self._reo_deadline = INF
            self._tw_deadline = now + self.config.time_wait
            self._emit_closed(None)
        elif new is _CLOSED:
            self._rtx_deadline = self._persist_deadline = self._ka_deadline = INF
            self._delack_deadline = self._tw_deadline = self._tlp_deadline = INF
            self._reo_deadline = INF
            self._ack_now = False
            self._fast_rtx = False
            self._probe_pending = False
            self._emit_closed(self.error)

    def _emit_closed(self, error: OSError | None) -> None:
        if not self._closed_emitted:
            self._closed_emitted = True
            self._events.append(ConnectionClosed(error))

    def _fail(self, error: OSError, cause: str, now: float) -> None:
        """Terminal error: record it and go to CLOSED."""
        if self.error is None:
            self.error = error
        self._reasm.clear()
        self._set_state(_CLOSED, cause, now)

    def _timeout_error(self) -> TimeoutError:
        soft = self._soft_error
        if soft is not None:
            # RFC 1122 4.2.3.9: report the remembered soft error with the timeout
            err = TimeoutError(errno.ETIMEDOUT, f"Connection timed out ({soft.strerror or soft})")
            err.__cause__ = soft
            return err
        return TimeoutError(errno.ETIMEDOUT, "Connection timed out")

    # ------------------------------------------------------------- properties

    @property
    def readable(self) -> int:
        """Bytes ready for ``read()``."""
        return len(self._rbuf)

    @property
    def send_queued(self) -> int:
        """Bytes not yet acknowledged (sent-unacked plus unsent)."""
        return len(self._sbuf)

    @property
    def in_flight(self) -> int:
        """Sequence space sent and not acknowledged (SND.NXT - SND.UNA)."""
        return _sd(self.snd_nxt, self.snd_una)

    def next_event(self) -> TcpEvent | None:
        if self._events:
            return self._events.popleft()
        return None

    # -------------------------------------------------------------- app calls

    def send(self, data: bytes | bytearray | memoryview, now: float) -> None:
        """Queue data (RFC 9293 3.10.2). Raises when the send side is closed."""
        if self._fin_queued or self.state not in _SENDING:
            if self.error is not None:
                raise type(self.error)(self.error.errno, self.error.strerror)
            if self.state is _CLOSED and not self.transitions:
                raise OSError(errno.ENOTCONN, "Transport endpoint is not connected")
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")
        if data:
            self._sbuf += data

    def shutdown(self, now: float) -> None:
        """Send FIN after the queued data (RFC 9293 3.10.4); keep receiving."""
        st = self.state
        if self._fin_queued or st not in _SENDING:
            if st is _CLOSED and self.error is None and not self.transitions:
                raise OSError(errno.ENOTCONN, "Transport endpoint is not connected")
            return
        self._fin_queued = True
        self._fin_seq = (self._sbuf_seq + len(self._sbuf)) & MASK
        if st is _ESTABLISHED:
            self._set_state(_FIN_WAIT_1, "shutdown", now)
        elif st is _CLOSE_WAIT:
            self._set_state(_LAST_ACK, "shutdown", now)
        # SYN-SENT / SYN-RECEIVED: RFC 9293 3.10.4, queued until ESTABLISHED

    def close(self, now: float) -> None:
        """Close both directions, like Linux's tcp_close()."""
        st = self.state
        self._closed_by_app = True
        if st is _CLOSED or st is _TIME_WAIT:
            return
        if st is _SYN_SENT:
            # RFC 9293 3.10.4: delete the TCB, no segment
            self._set_state(_CLOSED, "close in SYN-SENT", now)
            return
        if self._rbuf or self._reasm.bytes:
            # RFC 9293 3.10.4 / RFC 2525 2.17: unread data is lost, tell the peer
            self._send_rst(now)
            self._set_state(_CLOSED, "close with unread data (RST)", now)
            return
        self.shutdown(now)
        if self.state is _FIN_WAIT_2:
            self._tw_deadline = now + self.config.fin_timeout

    def abort(self, now: float) -> None:
        """RST now, CLOSED (RFC 9293 3.10.5)."""
        st = self.state
        if st is _CLOSED:
            return
        self._closed_by_app = True
        if st is not _SYN_SENT and st is not _TIME_WAIT:
            self._send_rst(now)
        self._sbuf.clear()
        self._set_state(_CLOSED, "abort", now)

    def read(self, max_bytes: int = -1) -> bytes:
        """Take in-order received data; reopens the window."""
        rbuf = self._rbuf
        if max_bytes < 0 or max_bytes >= len(rbuf):
            data = bytes(rbuf)
            rbuf.clear()
        else:
            data = bytes(rbuf[:max_bytes])
            del rbuf[:max_bytes]
        self._data_event_pending = False
        if data and self.state in _RECEIVING:
            # A window update "that matters" (RFC 9293 3.8.6.2.2; Linux __tcp_cleanup_rbuf)
            cur = _sd(self.rcv_adv, self.rcv_nxt)
            free = self._rcv_free()
            if free - cur >= self.rcv_mss and free >= 2 * cur:
                self._ack_now = True
        return data

    # --------------------------------------------------------------- tracing

    def _tr(self, now: float, text: str) -> None:
        if self._trace is not None:
            self._trace(f"{now:.6f} {text}")

    # -------------------------------------------------------- receive window

    def _rcv_free(self) -> int:
        # the out-of-order store is charged with its per-block overhead too
        # (Linux counts skb truesize, not payload, against sk_rcvbuf)
        free = self.config.recv_buffer - len(self._rbuf) - self._reasm.memory
        limit = 0xFFFF << self.rcv_wscale
        if free > limit:
            free = limit
        return free if free > 0 else 0

    def _rcv_window_raw(self) -> int:
        """The raw window field to send; updates RCV.ADV (never shrinks, RFC 7323 2.4)."""
        free = self._rcv_free()
        cur = _sd(self.rcv_adv, self.rcv_nxt)
        if cur < 0:
            cur = 0
        ws = self.rcv_wscale
        if free > cur:
            # RFC 9293 3.8.6.2.2 receiver SWS avoidance: move the right edge
            # only by at least min(buffer/2, MSS)
            incr = free - cur
            if (
                incr >= self.rcv_mss
                or incr >= (self.config.recv_buffer >> 1)
                or (cur == 0 and free)
            ):
                if free < self.rcv_mss and cur == 0 and free < (self.config.recv_buffer >> 1):
                    win = 0  # RFC 9293 3.8.6.2.2: keep a zero window until it is worth opening
                else:
                    win = free
            else:
                win = cur
            raw = win >> ws
        else:
            # never shrink: round the current window up to the scale granularity
            raw = (cur + (1 << ws) - 1) >> ws
        if raw > 0xFFFF:
            raw = 0xFFFF
        self.rcv_adv = (self.rcv_nxt + (raw << ws)) & MASK
        return raw

    # ------------------------------------------------------- segment building

    def _ts_val(self, now: float) -> int:
        # RFC 7323 5.4: a ms clock plus a per-connection offset
        return (int(now * 1000.0) + self._ts_offset) & MASK

    def _sack_blocks(self) -> list[tuple[int, int]]:
        """RFC 2018 4 (most recent first) with RFC 2883 DSACK as the first block."""
        out: list[tuple[int, int]] = []
        if self._dsack is not None:
            out.append(self._dsack)
        limit = 3 if self.ts_ok else 4  # what fits beside the timestamp option
        if self._reasm.bytes and self.sack_ok:
            base = self.rcv_nxt - self._rcv_off
            reasm = self._reasm
            room = limit - len(out)
            seen: list[tuple[int, int]] = []
            for off in self._sack_recent:
                blk = reasm.block_containing(off)
                if blk is not None and blk not in seen:
                    seen.append(blk)
                    if len(seen) >= room:
                        break
            if len(seen) < room:
                # then other held blocks, lowest first (RFC 2018 4: a peer may
                # need them after ACK losses)
                for blk in reasm.iter_blocks():
                    if blk not in seen:
                        seen.append(blk)
                        if len(seen) >= room:
                            break
            for s, e in seen:
                out.append(((s + base) & MASK, (e + base) & MASK))
        return out[:limit]

    def _segment(
        self, seq: int, flags: int, payload: bytes | bytearray | memoryview, tsval: int,
        sack: list[tuple[int, int]] | None, win: int = -1, opts: bytes | None = None,
    ) -> bytes:  # fmt: skip
        """Build one synchronized-state segment (carries ACK, window, options).

        ``win`` / ``opts``: the window field and options when the caller computed
        them once for a burst.
        """
        if opts is not None:
            pass
        elif self.ts_ok:
            if sack:
                opts = build_tcp_options(timestamps=(tsval, self.ts_recent), sack_blocks=sack)
            else:
                opts = _TS_OPT.pack(_TS_WORD, tsval, self.ts_recent)
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
            self._delack_deadline = INF
            self._rcv_unacked = 0
            if self._dsack is not None:
                self._dsack = None
                self.dsacks_out += 1
        ident = self._ident
        self._ident = (ident + 1) & 0xFFFF
        self.segs_out += 1
        return build_ipv4_tcp(
            self.local_addr, self.remote_addr, ident, self.config.ttl, self.local_port,
            self.remote_port, seq, rcv_nxt if flags & ACK else 0, flags, win, opts, payload,
        )  # fmt: skip

    def _syn_segment(self, now: float) -> bytes:
        """SYN or SYN-ACK with Linux's option layout (tcp_connect_init / tcp_make_synack)."""
        cfg = self.config
        tsval = self._ts_val(now)
        if self.state is _SYN_SENT:
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
        free = self.config.recv_buffer
        win = free if free < 0xFFFF else 0xFFFF
        self._syn_window = win
        if flags & ACK:
            self.rcv_adv = (self.rcv_nxt + win) & MASK
        ident = self._ident
        self._ident = (ident + 1) & 0xFFFF
        self.segs_out += 1
        return build_ipv4_tcp(
            self.local_addr, self.remote_addr, ident, self.config.ttl, self.local_port,
            self.remote_port, self.iss, ack, flags, win, opts, b"",
        )  # fmt: skip

    def _send_rst(self, now: float) -> None:
        """Queue an RST for the current connection (abort / close with unread data)."""
        # RFC 9293 3.10.5 / Linux tcp_send_active_reset: SEQ=SND.NXT, RST+ACK
        ident = self._ident
        self._ident = (ident + 1) & 0xFFFF
        self.segs_out += 1
        self._ctl_out.append(
            build_ipv4_tcp(
                self.local_addr,
                self.remote_addr,
                ident,
                self.config.ttl,
                self.local_port,
                self.remote_port,
                self.snd_max if self._syn_acked else self.snd_nxt,
                self.rcv_nxt,
                RST | ACK,
                0,
                b"",
                b"",
            )
        )

    def _send_rst_for(self, seg: TcpSegment) -> None:
        """RST answering an unacceptable ACK (RFC 9293 3.10.7.3 / 3.10.7.4)."""
        pkt = rst_for_unexpected(seg, self.remote_addr, self.local_addr, self.config.ttl)
        if pkt is not None:
            self.segs_out += 1
            self._ctl_out.append(pkt)

    # ----------------------------------------------------------------- output

    def packets_to_send(self, now: float) -> list[bytes]:
        """Everything due now, as whole IPv4 packets (see the batching contract)."""
        out = self._output(now)
        if self._tlp_rearm:
            self._tlp_rearm = False
            if not self._in_recovery and self.snd_una != self.snd_max:
                self._arm_tlp(now)
        return out

    def _output(self, now: float) -> list[bytes]:
        out = self._ctl_out
        if out:
            self._ctl_out = []
        else:
            out = []
        st = self.state
        if st is _CLOSED:
            return out
        if not self._syn_acked:
            if st is _SYN_SENT or st is _SYN_RECEIVED:
                if self.snd_nxt == self.iss:
                    out.append(self._syn_segment(now))
                    self.snd_nxt = self.snd_max = (self.iss + 1) & MASK
                    if self._rtx_deadline == INF:
                        self._rtx_deadline = now + self._rtt.current()
                    self._rtt_time = now
                    self._ack_now = False
                elif self._ack_now and st is _SYN_RECEIVED:
                    # RFC 9293 3.10.7.4: an unacceptable segment gets the SYN-ACK again
                    self.snd_nxt = self.iss
                    out.append(self._syn_segment(now))
                    self.snd_nxt = (self.iss + 1) & MASK
                    self._ack_now = False
            return out
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
            if in_flight and (in_flight >= self._cc.cwnd or in_flight >= self.snd_wnd):
                return out
        tsval = self._ts_val(now) if self.ts_ok else 0
        sack = self._sack_blocks() if (self._dsack is not None or self._reasm.bytes) else None
        pipe = -1
        sack_recovery = self._in_recovery and self.sack_ok
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
        if st is not _TIME_WAIT:
            smax = self.snd_max
            self._send_data(out, now, tsval, sack, pipe)
            if sack_recovery and self.snd_max != smax:
                # RFC 6675 NextSeg rule 2: new data, logged for RACK-style marking
                self._xlog.append(_Xmit(smax, self.snd_max, now, False))
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
                    self._sack_blocks() if (self._dsack is not None or self._reasm.bytes) else None
                )
            out.append(self._segment(seq, ACK, b"", tsval, sack))
        if self._freed:
            self._freed = False
            self._events.append(SendSpace())
        return out

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
        if sack:
            mss -= 4 + 8 * len(sack)
        snd_una = self.snd_una
        wnd = self.snd_wnd
        cwnd = self._cc.cwnd
        limit = wnd if wnd < cwnd else cwnd
        nagle = not self.config.nodelay and not fin_queued
        sbuf_seq = self._sbuf_seq
        mv = memoryview(sbuf)
        scoreboard = self._scoreboard
        sent_any = False
        # in SACK recovery the pipe (RFC 6675 4), not SND.NXT - SND.UNA, is what is in flight
        adjust = _sd(self.snd_nxt, snd_una) - pipe if pipe >= 0 else 0
        win = -1  # the window field, computed once per burst
        burst_opts: bytes | None = None  # likewise the timestamp option
        try:
            while True:
                snd_nxt = self.snd_nxt
                off = ((snd_nxt - sbuf_seq + 0x80000000) & MASK) - 0x80000000
                avail = nbuf - off
                if avail <= 0:
                    break
                in_flight = ((snd_nxt - snd_una + 0x80000000) & MASK) - 0x80000000 - adjust
                is_rtx = snd_nxt != self.snd_max and _sd(snd_nxt, self.snd_max) < 0
                if is_rtx and scoreboard:
                    skip = self._sacked_end(snd_nxt)
                    if skip is not None:
                        self.snd_nxt = skip
                        continue
                usable = limit - in_flight
                n = avail if avail < mss else mss
                if usable < n:
                    if usable <= 0:
                        if wnd == 0 and in_flight == 0 and self._persist_deadline == INF:
                            self._arm_persist(now)
                        break
                    n = usable
                override = False
                if self._sws_override and n < mss:
                    # RFC 9293 3.8.6.2.1 (d): the override timeout expired
                    self._sws_override = False
                    override = True
                if is_rtx:
                    nxt_sacked = self._next_sacked_start(snd_nxt)
                    if nxt_sacked is not None:
                        gap = _sd(nxt_sacked, snd_nxt)
                        if 0 < gap < n:
                            n = gap
                    rtx_end = _sd(self.snd_max, snd_nxt)
                    if n > rtx_end > 0 and rtx_end < mss:
                        n = n if n <= rtx_end else rtx_end
                elif n < mss and not override:
                    # RFC 9293 3.8.6.2.1 sender SWS avoidance and Nagle (RFC 1122 4.2.3.4)
                    if n < avail:
                        if n < (self.max_snd_wnd >> 1):
                            if in_flight == 0 and self._persist_deadline == INF:
                                # nothing in flight will bring an ACK: the
                                # persist timer is the override timeout (Linux
                                # tcp_check_probe_timer)
                                self._arm_persist(now)
                            break
                    elif nagle and in_flight > 0:
                        break
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
                            _TS_OPT.pack(_TS_WORD, tsval, self.ts_recent) if self.ts_ok else b""
                        )
                    out.append(
                        self._segment(snd_nxt, flags, mv[off:end_off], tsval, None, win, burst_opts)
                    )
                sent_any = True
                nxt = (snd_nxt + n + (1 if flags & FIN else 0)) & MASK
                self.snd_nxt = nxt
                self.data_segs_out += 1
                if is_rtx:
                    self.total_retrans += 1
                    self._note_rtx(tsval, nxt)
                    self.bytes_retrans += n
                else:
                    self.bytes_sent += n
                if not is_rtx or _sd(nxt, self.snd_max) > 0:
                    self.snd_max = nxt
                    if self._rtt_seq < 0 and not self.ts_ok and self._retransmits == 0:
                        # RFC 6298 3 / Karn: time one new segment
                        self._rtt_seq = nxt
                        self._rtt_time = now
        finally:
            mv.release()
        if fin_queued and not self._fin_acked and self.snd_nxt == self._fin_seq:
            # the FIN alone (queue empty, or data already sent)
            out.append(self._segment(self.snd_nxt, ACK | FIN, b"", tsval, sack))
            sent_any = True
            nxt = (self.snd_nxt + 1) & MASK
            self.snd_nxt = nxt
            if _sd(nxt, self.snd_max) > 0:
                self.snd_max = nxt
        if sent_any and self._rtx_deadline == INF:
            # RFC 6298 5.1: start the timer when data goes out and it is not running.
            # RFC 8985 7.2 would arm the PTO here too; a flight from idle arms only
            # the RTO, so it adds no early deadline to the stack's timer heap (ACKs
            # arm the PTO after their flush: packets_to_send)
            self._rtx_deadline = now + self._rtt.current()
            self._persist_deadline = INF

    def _retransmit_first(
        self, out: list[bytes], now: float, tsval: int, sack: list[tuple[int, int]] | None
    ) -> None:
        """Fast retransmit (RFC 5681 3.2 step 3) of the first unSACKed segment."""
        seq = self.snd_una
        if self._scoreboard:
            skip = self._sacked_end(seq)
            if skip is not None:
                seq = skip
        off = _sd(seq, self._sbuf_seq)
        nbuf = len(self._sbuf)
        mss = self.snd_mss - (4 + 8 * len(sack) if sack else 0)
        if off < 0:
            off = 0
        if off >= nbuf:
            if self._fin_queued and not self._fin_acked and _sd(self.snd_max, self._fin_seq) > 0:
                out.append(self._segment(self._fin_seq, ACK | FIN, b"", tsval, sack))
                self.total_retrans += 1
                self._note_rtx(tsval, (self._fin_seq + 1) & MASK)
            return
        n = nbuf - off if nbuf - off < mss else mss
        nxt_sacked = self._next_sacked_start(seq)
        if nxt_sacked is not None:
            gap = _sd(nxt_sacked, seq)
            if 0 < gap < n:
                n = gap
        until_max = _sd(self.snd_max, seq)
        if until_max <= 0:
            return
        if n > until_max:
            n = until_max
        flags = ACK
        if off + n == nbuf and self._fin_queued and _sd(self.snd_max, self._fin_seq) > 0:
            flags |= FIN
        out.append(self._segment(seq, flags, bytes(self._sbuf[off : off + n]), tsval, sack))
        self.total_retrans += 1
        self._note_rtx(tsval, (seq + n) & MASK)
        self.bytes_retrans += n
        self.data_segs_out += 1
        self._rtt_seq = -1  # Karn's rule (RFC 6298 3)
        if self._rtx_deadline == INF:
            self._rtx_deadline = now + self._rtt.current()

    def _note_rtx(self, tsval: int, end: int) -> None:
        self._rtx_guard = True
        self._rtx_tsval = tsval
        self._rtx_until = self.snd_max
        if _sd(end, self._rtx_max) > 0:
            self._rtx_max = end
        if self._undo_ok:
            # Linux undo_retrans / retrans_stamp: what an undo must account for
            self._undo_retrans += 1
            if not self._undo_tsval:
                self._undo_tsval = tsval or 1

    # ------------------------------------------------ SACK recovery (RFC 6675)

    def _reo_wnd(self, recovery: bool = True) -> float:
        """RFC 8985 6.2 step 4: reo_wnd = reo_wnd_mult * min_RTT / 4, at most SRTT;
        0 in recovery while no reordering has been seen."""
        if recovery and self._reordering <= DUPTHRESH:
            return 0.0  # RFC 8985 6.2 step 4: RACK.reordering_seen is FALSE
        r = self._rtt
        w = r.min_rtt * 0.25 * self._reo_mult
        return w if w < r.srtt else r.srtt

    def _dup_boundary(self) -> int:
        """RFC 6675 4 IsLost: holes below the result have more than
        (DupThresh - 1) * SMSS bytes SACKed above them."""
        thresh = (self._reordering - 1) * self.snd_mss
        cum = 0
        sb = self._scoreboard
        for i in range(len(sb) - 1, -1, -1):
            s, e = sb[i]
            cum += _sd(e, s)
            if cum > thresh:
                return s
        return self.snd_una

    def _last_xmit(self, seq: int) -> _Xmit | None:
        """The latest transmission of this episode that covers ``seq``."""
        log = self._xlog
        for i in range(len(log) - 1, -1, -1):
            x = log[i]
            if _sd(seq, x.start) >= 0 and _sd(seq, x.end) < 0:
                return x
        return None

    def _classify(self, now: float) -> tuple[int, int, int]:
        """RFC 6675 SetPipe and NextSeg rule 1 in one walk over the holes.

        Returns (pipe, start, end) where [start, end) is the first lost piece
        not yet resent (start == end when there is none).
        """
        una = self.snd_una
        smax = self.snd_max
        sb = self._scoreboard
        nsb = len(sb)
        dup_b = self._dup_boundary()
        fack = sb[-1][1] if sb else una
        rack_xmit = self._rack_xmit
        rack_ok = rack_xmit >= self._ep_start
        reo = self._reo_wnd()
        # RFC 8985 6.2 step 5: sent before RACK.xmit_ts and RACK.rtt + reo_wnd ago
        rack_deadline = now - self._rack_rtt - reo
        tail_lost = self._loss_all or (rack_ok and rack_xmit - reo >= self._ep_start)
        # RFC 8985 6.2 step 5 for holes below the highest SACK (sent before it):
        # lost once reo_wnd has passed (0 until reordering is seen)
        below_fack_lost = rack_ok or now - self._ep_start >= reo
        force_to = self._force_to
        recover = self._recover
        log = self._xlog
        lost = 0
        first_s = first_e = una
        found = False
        p = una
        i = 0
        while _sd(p, smax) < 0:
            if i < nsb and _sd(p, sb[i][0]) >= 0:
                if _sd(p, sb[i][1]) < 0:
                    p = sb[i][1]
                i += 1
                continue
            hole_end = sb[i][0] if i < nsb else smax
            x = self._last_xmit(p) if log else None
            if x is not None:
                end = x.end if _sd(x.end, hole_end) < 0 else hole_end
                t = x.time
                # RFC 8985 6.2 step 5; a transmission made at ``now`` (this very
                # wakeup: the loop's clock does not move within one) cannot be
                # known lost yet, even when RACK.rtt and reo_wnd are both 0
                is_lost = t < now and t <= rack_xmit and t <= rack_deadline and not x.delivered
            else:
                end = hole_end
                for y in log:
                    if _sd(y.start, p) > 0 and _sd(y.start, end) < 0:
                        end = y.start
                is_lost = (
                    _sd(p, dup_b) < 0
                    or _sd(p, force_to) < 0
                    or (
                        _sd(p, recover) < 0
                        and (tail_lost or (below_fack_lost and _sd(p, fack) < 0))
                    )
                )
            if is_lost:
                lost += _sd(end, p)
                if not found:
                    found = True
                    first_s, first_e = p, end
            p = end
        pipe = _sd(smax, una) - self._sacked - lost
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
        3.2 step 5 on a partial ACK). Returns the pipe."""
        cwnd = self._cc.cwnd
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
            off = _sd(ps, sbuf_seq)
            n = _sd(pe, ps)
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
                if fin_pending and _sd(pe, self._fin_seq) > 0:
                    flags |= FIN
            seq_len = n + (1 if flags & FIN else 0)
            payload = bytes(sbuf[off : off + n]) if n else b""
            out.append(self._segment(ps, flags, payload, tsval, sack))
            sack = None
            sent = True
            end = (ps + seq_len) & MASK
            self._xlog.append(_Xmit(ps, end, now, True))
            self.total_retrans += 1
            self._note_rtx(tsval, end)
            self.bytes_retrans += n
            self.data_segs_out += 1
        if sent:
            self._rtt_seq = -1  # Karn's rule (RFC 6298 3)
            if self._rtx_deadline == INF:
                self._rtx_deadline = now + self._rtt.current()
            pipe = self._classify(now)[0]
        return pipe

    def _sacked_end(self, seq: int) -> int | None:
        """End of the SACKed block holding ``seq`` (the scoreboard is sorted)."""
        una = self.snd_una
        x = (seq - una) & MASK
        for s, e in self._scoreboard:
            if x < ((s - una) & MASK):
                return None
            if x < ((e - una) & MASK):
                return e
        return None

    def _next_sacked_start(self, seq: int) -> int | None:
        """Start of the first SACKed block above ``seq``."""
        una = self.snd_una
        x = (seq - una) & MASK
        for s, _e in self._scoreboard:
            if ((s - una) & MASK) > x:
                return s
        return None

    # ----------------------------------------------------------------- timers

    def get_timer(self) -> float | None:
        """The earliest deadline, or None."""
        t = self._rtx_deadline
        if self._delack_deadline < t:
            t = self._delack_deadline
        if self._persist_deadline < t:
            t = self._persist_deadline
        if self._ka_deadline < t:
            t = self._ka_deadline
        if self._tw_deadline < t:
            t = self._tw_deadline
        if self._tlp_deadline < t:
            t = self._tlp_deadline
        if self._reo_deadline < t:
            t = self._reo_deadline
        return None if t == INF else t

    def handle_timer(self, now: float) -> None:
        """Handle every expired deadline (safe to call early or late)."""
        if now >= self._tw_deadline:
            self._tw_deadline = INF
            if self.state is _TIME_WAIT:
                self._set_state(_CLOSED, "TIME-WAIT expired", now)
            elif self.state is _FIN_WAIT_2:
                self._set_state(_CLOSED, "FIN-WAIT-2 timeout (tcp_fin_timeout)", now)
            return
        if now >= self._rtx_deadline:
            self._on_rto(now)
        elif now >= self._tlp_deadline:
            self._on_tlp(now)
        if now >= self._reo_deadline:
            self._on_reo_timer(now)
        if now >= self._delack_deadline:
            # RFC 1122 4.2.3.2: the delayed ACK is due
            self._delack_deadline = INF
            self._ack_now = True
        if now >= self._persist_deadline:
            self._on_persist(now)
        if now >= self._ka_deadline:
            self._on_keepalive(now)

    def _on_rto(self, now: float) -> None:
        st = self.state
        rtt = self._rtt
        if st is _SYN_SENT or st is _SYN_RECEIVED:
            limit = self.config.syn_retries if st is _SYN_SENT else self.config.synack_retries
            if self._retransmits >= limit:
                self._fail(self._timeout_error(), "SYN retries exhausted", now)
                return
            self._retransmits += 1
            self.rto_expirations += 1
            rtt.on_timeout()
            self.snd_nxt = self.iss  # resend SYN / SYN-ACK
            self.total_retrans += 1
            self._rtx_deadline = now + rtt.current()
            self._tr(now, f"RTO: retransmit SYN #{self._retransmits}")
            return
        if self.snd_una == self.snd_max:
            self._rtx_deadline = INF
            return
        if self._retransmits >= self.config.retries2:
            self._fail(self._timeout_error(), "retransmissions exhausted (retries2)", now)
            return
        self._retransmits += 1
        self.rto_expirations += 1
        self._tlp_deadline = INF
        self._tlp_probe = False
        in_flight = _sd(self.snd_max, self.snd_una)
        # RFC 3522 / RFC 4015: remember the window so a spurious timeout can be undone
        self._start_undo()
        self._entry_fack = self.snd_una  # a spurious timeout says nothing of reordering
        # RFC 5681 3.1 / RFC 6298 5.5-5.6: shrink cwnd, back off, retransmit
        self._cc.on_rto(now, in_flight)
        self._recover = self.snd_max  # RFC 6582 4.1 / RFC 6675 5.1: the recovery point
        self._dupacks = 0
        self.lost += 1
        rtt.on_timeout()
        self._rtt_seq = -1  # Karn
        if self._retransmits >= 2 and self._scoreboard:
            # RFC 2018 8: a repeated timeout may mean the receiver reneged: forget SACKs
            self._scoreboard = []
            self._sacked = 0
        if self.sack_ok and self.state is not _SYN_RECEIVED:
            # RFC 6675 5.1: every un-SACKed byte is lost; the scoreboard is kept
            # and the holes go out in order under slow start (RFC 5681 3.1), while
            # later SACKs still reveal retransmissions lost again (RFC 8985 6.2)
            self._begin_episode(now)
            self._loss_all = True
            self._in_recovery = True
            self._fast_rtx = True
        else:
            self._in_recovery = False
            self.snd_nxt = self.snd_una  # go back to SND.UNA
        self._rtx_deadline = now + rtt.current()
        self._tr(now, f"RTO #{self._retransmits}: go back to {self.snd_una}")

    def _on_reo_timer(self, now: float) -> None:
        """RFC 8985 6.3: the reordering window passed and the hole below SACKed
        data is still there: it is lost (RACK), recovery starts."""
        self._reo_deadline = INF
        st = self.state
        if (
            not self._in_recovery
            and self._sacked
            and (st in _FAST_STATES or st is _CLOSING or st is _LAST_ACK)
            and (_sd(self.snd_una, self._recover) >= 0 or self._recover == self.iss)
        ):
            self._tr(now, "RACK reordering timer: hole lost")
            self._enter_recovery(now)

    def _arm_tlp(self, now: float) -> None:
        """RFC 8985 7.2: schedule a probe timeout (PTO) for the tail of a flight."""
        srtt = self._rtt.srtt
        if srtt == 0.0:
            pto = 1.0
        else:
            pto = 2.0 * srtt
            if _sd(self.snd_max, self.snd_una) <= self.snd_mss:
                pto += self.config.delayed_ack_max  # WCDelAckT: a lone segment's delayed ACK
            if pto < 0.01:
                pto = 0.01  # Linux TCP_TIMEOUT_MIN
        t = now + pto
        # RFC 8985 7.2: PTO = min(PTO, RTO); a probe no earlier than the RTO is no probe
        self._tlp_deadline = t if t < self._rtx_deadline else INF

    def _on_tlp(self, now: float) -> None:
        """RFC 8985 7.3: the PTO expired: send one probe (new data, or the last segment)."""
        self._tlp_deadline = INF
        if (
            self._in_recovery
            or self._tlp_pending
            or self.snd_una == self.snd_max
            or (self.state not in _FAST_STATES and self.state is not _CLOSING
            and self.state is not _LAST_ACK)
        ):  # fmt: skip
            return
        self._tlp_probe = True
        self._tlp_pending = True
        self._tr(now, "tail loss probe")

    def _send_tlp(self, out: list[bytes], now: float, tsval: int) -> None:
        """RFC 8985 7.3: new data if the peer's window allows, else the last segment."""
        nbuf = len(self._sbuf)
        off = _sd(self.snd_nxt, self._sbuf_seq)
        mss = self.snd_mss
        if off < nbuf and _sd(self.snd_nxt, self.snd_una) + min(mss, nbuf - off) <= self.snd_wnd:
            n = min(mss, nbuf - off)
            flags = ACK | PSH
            if off + n == nbuf and self._fin_queued:
                flags |= FIN
            seq = self.snd_nxt
            out.append(self._segment(seq, flags, bytes(self._sbuf[off : off + n]), tsval, None))
            nxt = (seq + n + (1 if flags & FIN else 0)) & MASK
            self.snd_nxt = nxt
            if _sd(nxt, self.snd_max) > 0:
                self.snd_max = nxt
            self.bytes_sent += n
            self.data_segs_out += 1
        else:
            # retransmit the highest-sequence segment
            end = self.snd_max
            fin = self._fin_queued and _sd(end, self._fin_seq) > 0
            data_end = self._fin_seq if fin else end
            n = min(mss, _sd(data_end, self.snd_una))
            seq = (data_end - n) & MASK
            off = _sd(seq, self._sbuf_seq)
            if off < 0 or n < 0:
                return
            flags = ACK | (FIN if fin else 0)
            out.append(self._segment(seq, flags, bytes(self._sbuf[off : off + n]), tsval, None))
            self.total_retrans += 1
            self.bytes_retrans += n
            self._note_rtx(tsval, (seq + n) & MASK)
        # RFC 8985 7.3: re-arm the RTO after the probe
        self._rtx_deadline = now + self._rtt.current()

    def _arm_persist(self, now: float) -> None:
        base = max(self._rtt.rto, self.config.persist_min)
        t = base * (1 << min(self._persist_backoff, 20))
        self._persist_deadline = now + min(t, self.config.rto_max)

    def _on_persist(self, now: float) -> None:
        # RFC 9293 3.8.6.1: probe the zero window, backing off
        self._persist_deadline = INF
        if self.state is _CLOSED or self.state is _TIME_WAIT:
            return
        if self.snd_wnd and _sd(self.snd_nxt, self.snd_una) == 0 and self._sbuf:
            # a small window we would not fill (sender SWS): send what fits
            self._sws_override = True
            return
        if (
            self.snd_wnd == 0
            and _sd(self.snd_nxt, self.snd_una) == 0
            and (self._sbuf or (self._fin_queued and not self._fin_acked))
        ):
            self._probe_pending = True
            self._persist_backoff += 1
            self._arm_persist(now)
            self._tr(now, f"zero-window probe #{self._persist_backoff}")

    def _on_keepalive(self, now: float) -> None:
        st = self.state
        cfg = self.config
        if st not in (_ESTABLISHED, _CLOSE_WAIT, _FIN_WAIT_1, _FIN_WAIT_2):
            self._ka_deadline = INF
            return
        if self.snd_una != self.snd_max or self._sbuf:
            # data outstanding: the retransmission timer watches the peer
            self._ka_deadline = now + cfg.keepalive_idle
            return
        if self._ka_probes >= cfg.keepalive_count:
            self._fail(self._timeout_error(), "keepalive probes unanswered", now)
            return
        self._ka_probes += 1
        self._probe_pending = True
        self._ka_deadline = now + cfg.keepalive_interval
        self._tr(now, f"keepalive probe #{self._ka_probes}")

    # ------------------------------------------------------------ ICMP errors

    def icmp_error(self, error: OSError, now: float, *, next_hop_mtu: int = 0) -> None:
        """An ICMP error quoting one of our segments (RFC 1122 4.2.3.9, RFC 1191)."""
        st = self.state
        if st is _CLOSED or st is _TIME_WAIT:
            return
        if next_hop_mtu:
            # RFC 1191 / Linux tcp_v4_mtu_reduced: shrink the MSS, resend at once
            if next_hop_mtu < MIN_PMTU:
                next_hop_mtu = MIN_PMTU  # Linux __ip_rt_update_pmtu: clamp to min_pmtu
            new_mss = next_hop_mtu - 40 - (_TS_LEN if self.ts_ok else 0)
            if TCP_MIN_MSS <= new_mss < self.snd_mss:
                self.snd_mss = new_mss
                self._cc.mss = new_mss
                self._mtu = next_hop_mtu
                if self._syn_acked:
                    self.snd_nxt = self.snd_una
            return
        # RFC 1122 4.2.3.9: soft error, remembered, reported on timeout
        self._soft_error = error

    # -------------------------------------------------------------- TIME-WAIT

    def time_wait_accepts_syn(self, seg: TcpSegment) -> bool:
        """May a new SYN reopen this TIME-WAIT 4-tuple? (Linux tcp_timewait_state_process).

        RFC 6191 2 (with timestamps): yes when the SYN's TSval is newer than the
        last one seen; when it is not newer but not PAWS-old either, fall back to
        the sequence number rule of RFC 9293 3.10.7.4 (note) / RFC 1122
        4.2.2.13: yes when SEG.SEQ is beyond RCV.NXT. A TSval older than
        TS.Recent is an old duplicate (RFC 7323 5.3 PAWS; Linux
        tcp_timewait_state_process: ``!paws_reject && (after(seq, rcv_nxt) ||
        newer tsval)``). A TSval equal to TS.Recent is common: Linux's ms clock
        often has not ticked between its FIN and its reconnecting SYN.
        """
        if self.state is not _TIME_WAIT or not seg.flags & SYN or seg.flags & (ACK | RST):
            return False
        if self.ts_ok and seg.ts_val is not None:
            d = _sd(seg.ts_val, self.ts_recent)
            if d > 0:
                return True
            if d < 0:
                return False  # RFC 7323 5.3: PAWS rejects it
        return _sd(seg.seq, self.rcv_nxt) > 0

    def time_wait_iss(self) -> int:
        """ISN for the reopening connection (Linux: tw_snd_nxt + 65535 + 2)."""
        return (self.snd_nxt + 65535 + 2) & MASK

    # ------------------------------------------------------------------ input

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
        mss = min(self.peer_mss, self._mtu - 40)
        if self.ts_ok:
            mss -= _TS_LEN  # Linux tcp_current_mss: the MSS after options
        self.snd_mss = max(mss, TCP_MIN_MSS)  # Linux TCP_MIN_MSS floor
        self._cc.set_mss(self.snd_mss)
        self._rcv_mss_est = min(self.snd_mss, self.rcv_mss)
        # RFC 7323 2.2: the window in a SYN is not scaled
        self.snd_wnd = syn.window
        self.max_snd_wnd = syn.window
        self.snd_wl1 = syn.seq
        self.snd_wl2 = syn.ack

    def receive(self, seg: TcpSegment, now: float) -> None:
        """Process one segment (RFC 9293 3.10.7). Never raises on bad input."""
        self.segs_in += 1
        st = self.state
        if (
            st in _FAST_STATES
            and (seg.flags & 0x37) == ACK
            and seg.seq == self.rcv_nxt
            and self._fast_path(seg, now)
        ):
            return
        if st is _CLOSED or st is TcpState.LISTEN:
            self.dropped += 1
            return
        if st is _SYN_SENT:
            self._rcv_syn_sent(seg, now)
        else:
            self._rcv_synchronized(seg, now)

    def _fast_path(self, seg: TcpSegment, now: float) -> bool:
        """Header prediction (Linux tcp_rcv_established). False: take the slow path."""
        if self._reasm.bytes or self._in_recovery or seg.sack_blocks:
            return False
        ack = seg.ack
        snd_una = self.snd_una
        d = ((ack - snd_una + 0x80000000) & MASK) - 0x80000000
        payload = seg.payload
        n = len(payload)
        if d < 0 or (d == 0 and n == 0) or d > ((self.snd_max - snd_una) & MASK):
            return False
        if n and (
            n > ((self.rcv_adv - self.rcv_nxt + 0x80000000) & MASK) - 0x80000000
            or self._closed_by_app
            or self.state is _CLOSE_WAIT
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
            self._ka_deadline = now + self.config.keepalive_idle
            self._ka_probes = 0
        # window update (RFC 9293 3.10.7.4: SND.WL1 < SEG.SEQ here)
        wnd = seg.window << self.snd_wscale
        self.snd_wnd = wnd
        self.snd_wl1 = seg.seq
        self.snd_wl2 = ack
        if wnd > self.max_snd_wnd:
            self.max_snd_wnd = wnd
        if wnd and self._persist_deadline != INF:
            self._persist_deadline = INF
            self._persist_backoff = 0
        if d > 0:
            self._new_ack(seg, ack, d, now)
            if self.state is _CLOSED:
                return True
        if n:
            self.data_segs_in += 1
            self._rbuf += payload
            self.rcv_nxt = (self.rcv_nxt + n) & MASK
            self._rcv_off += n
            self.bytes_received += n
            self._on_data(n, now, False)
        return True

    def _on_data(self, n: int, now: float, filled_gap: bool) -> None:
        """Decide the ACK for in-order data (RFC 1122 4.2.3.2, RFC 5681 4.2)."""
        if not self._data_event_pending:
            self._data_event_pending = True
            self._events.append(DataAvailable())
        self._rcv_unacked += n
        if n > self._rcv_mss_est:
            self._rcv_mss_est = n if n < self.rcv_mss else self.rcv_mss
        if self._quick > 0:
            # Linux quickack mode at connection start
            self._quick -= 1
            self._ack_now = True
        elif filled_gap or self._rcv_unacked > self._rcv_mss_est:
            # RFC 5681 4.2: ACK at least every second full-sized segment, and at
            # once when a segment fills a gap
            self._ack_now = True
        elif self._delack_deadline == INF:
            self._delack_deadline = now + self.config.delayed_ack

    def _challenge_ack(self, now: float) -> None:
        """RFC 5961 7: rate-limited challenge ACK."""
        if now - self._chal_window >= 1.0:
            self._chal_window = now
            self._chal_count = 0
        if self._chal_count < self.config.challenge_ack_limit:
            self._chal_count += 1
            self.challenge_acks += 1
            self._ack_now = True

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
            self._rtx_deadline = INF
            self._set_state(_ESTABLISHED, "SYN-ACK received", now)
            self._after_established(now)
            if self._sbuf or self._fin_queued:
                # Linux: data is waiting, the ACK rides on it; the delack timer
                # is the safety net
                self._delack_deadline = now + self.config.delayed_ack
            else:
                self._ack_now = True
            if len(seg.payload) or flags & FIN:
                self._process_data_and_fin(seg, now)
        else:
            # RFC 9293 3.10.7.3: simultaneous open: SYN-RECEIVED, send SYN-ACK
            self._set_state(_SYN_RECEIVED, "SYN received in SYN-SENT (simultaneous open)", now)
            self.snd_nxt = self.iss
            self._simultaneous = True

    def _after_established(self, now: float) -> None:
        if self.config.keepalive:
            self._ka_deadline = now + self.config.keepalive_idle
        if self._fin_queued:
            # RFC 9293 3.10.4: a CLOSE queued in SYN-SENT / SYN-RECEIVED
            self._set_state(_FIN_WAIT_1, "queued shutdown", now)

    def _rcv_synchronized(self, seg: TcpSegment, now: float) -> None:
        """RFC 9293 3.10.7.4 for SYN-RECEIVED and every synchronized state."""
        st = self.state
        flags = seg.flags
        payload = seg.payload
        plen = len(payload)
        seq = seg.seq
        rcv_nxt = self.rcv_nxt
        if st is _SYN_RECEIVED and flags & SYN and seq == self.irs and not flags & RST:
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
        if self.ts_ok and not flags & RST:
            tsv = seg.ts_val
            if tsv is not None and _sd(tsv, self.ts_recent) < 0:
                if now - self._ts_recent_stamp > PAWS_IDLE:
                    # RFC 7323 5.5: ts_recent too old to judge
                    self.ts_recent = tsv
                else:
                    self.dropped += 1
                    self._ack_now = True
                    return
        # RFC 9293 3.10.7.4 first check: sequence acceptability
        seg_len = plen + (1 if flags & SYN else 0) + (1 if flags & FIN else 0)
        rcv_wnd = _sd(self.rcv_adv, rcv_nxt)
        if rcv_wnd < 0:
            rcv_wnd = 0
        d = _sd(seq, rcv_nxt)
        if seg_len == 0:
            ok = d == 0 if rcv_wnd == 0 else 0 <= d < rcv_wnd
        elif rcv_wnd == 0:
            ok = False
        else:
            de = d + seg_len - 1
            ok = 0 <= d < rcv_wnd or 0 <= de < rcv_wnd or d < 0 <= de
        if not ok:
            self.dropped += 1
            if not flags & RST:
                if plen and d < 0 and self.sack_ok:
                    # RFC 2883 4.1.1: report the duplicate
                    end = (seq + plen) & MASK
                    if _sd(end, rcv_nxt) > 0:
                        end = rcv_nxt
                    self._dsack = (seq, end)
                if st is _TIME_WAIT and flags & FIN:
                    # RFC 9293 3.10.7.4: a retransmitted FIN restarts the 2 MSL timeout
                    self._tw_deadline = now + self.config.time_wait
                if seg_len == 0 and d != -1:
                    # Linux tcp_oow_rate_limited (tcp_invalid_ratelimit, 500 ms):
                    # answering every unacceptable pure ACK can loop forever. A
                    # keepalive probe (SEG.SEQ = RCV.NXT - 1, RFC 1122 4.2.3.6) is
                    # always answered: keepalive intervals may be shorter than 500 ms
                    if now - self._oow_last < OOW_RATE_LIMIT:
                        return
                    self._oow_last = now
                self._ack_now = True
            return
        if self.config.keepalive:
            self._ka_deadline = now + self.config.keepalive_idle
            self._ka_probes = 0
        # second check: RST (RFC 9293 3.10.7.4, RFC 5961 3.2)
        if flags & RST:
            if d != 0:
                self._challenge_ack(now)
                return
            if st is _TIME_WAIT:
                # RFC 1337: no TIME-WAIT assassination
                self.dropped += 1
                return
            if st is _SYN_RECEIVED:
                if self._simultaneous:
                    err: OSError = ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
                else:
                    err = ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")
                self._fail(err, "RST in SYN-RECEIVED", now)
            elif st is _CLOSING or st is _LAST_ACK:
                self._set_state(_CLOSED, "RST", now)
            else:
                self._sbuf.clear()
                self._fail(
                    ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), "RST", now
                )
            return
        # fourth check: SYN (RFC 5961 4.2: challenge ACK for any SYN)
        if flags & SYN:
            self._challenge_ack(now)
            return
        # fifth check: ACK
        if not flags & ACK:
            self.dropped += 1
            return
        # RFC 7323 4.3: SEG.SEQ <= Last.ACK.sent
        tsv = seg.ts_val
        if (
            self.ts_ok
            and tsv is not None
            and _sd(seq, self._last_ack_sent) <= 0
            and _sd(tsv, self.ts_recent) >= 0
        ):
            self.ts_recent = tsv
            self._ts_recent_stamp = now
        ack = seg.ack
        if st is _SYN_RECEIVED:
            if _sd(ack, self.snd_una) > 0 and _sd(ack, self.snd_max) <= 0:
                # RFC 9293 3.10.7.4: SYN-RECEIVED -> ESTABLISHED
                self.snd_una = ack
                self._syn_acked = True
                if _sd(self.snd_nxt, ack) < 0:
                    self.snd_nxt = ack
                if self.ts_ok and seg.ts_ecr:
                    self._rtt.sample((self._ts_val(now) - seg.ts_ecr & MASK) / 1000.0)
                elif self._retransmits == 0:
                    self._rtt.sample(now - self._rtt_time)
                self._rtt.backoff = 0
                self._retransmits = 0
                self._rtx_deadline = INF
                self.snd_wnd = seg.window << self.snd_wscale
                self.max_snd_wnd = max(self.max_snd_wnd, self.snd_wnd)
                self.snd_wl1 = seq
                self.snd_wl2 = ack
                self._set_state(_ESTABLISHED, "ACK of SYN-ACK", now)
                st = self.state
                self._after_established(now)
                st = self.state
            else:
                # RFC 9293 3.10.7.4: <SEQ=SEG.ACK><CTL=RST>
                self.dropped += 1
                self._send_rst_for(seg)
                return
        snd_una = self.snd_una
        da = _sd(ack, snd_una)
        if _sd(ack, self.snd_max) > 0:
            # RFC 9293 3.10.7.4 / RFC 5961 5.2: ACK of data never sent
            self.dropped += 1
            self._challenge_ack(now)
            return
        if da < -max(self.max_snd_wnd, 0xFFFF):
            # RFC 5961 5.2: too old
            self.dropped += 1
            self._challenge_ack(now)
            return
        blocks = seg.sack_blocks
        if blocks and self.sack_ok:
            s0, e0 = blocks[0]
            if _sd(e0, ack) <= 0 or (
                len(blocks) > 1 and _sd(s0, blocks[1][0]) >= 0 and _sd(e0, blocks[1][1]) <= 0
            ):
                # RFC 2883 4: a first block below the ACK or inside the second is a DSACK
                self._on_dsack(s0, e0, now)
            self._update_scoreboard(blocks, ack)
        # window update (RFC 9293 3.10.7.4)
        if da >= 0:
            wl1d = _sd(seq, self.snd_wl1)
            if wl1d > 0 or (wl1d == 0 and _sd(ack, self.snd_wl2) >= 0):
                wnd = seg.window << self.snd_wscale
                window_changed = wnd != self.snd_wnd
                self.snd_wnd = wnd
                self.snd_wl1 = seq
                self.snd_wl2 = ack
                if wnd > self.max_snd_wnd:
                    self.max_snd_wnd = wnd
                if wnd and self._persist_deadline != INF:
                    self._persist_deadline = INF
                    self._persist_backoff = 0
            else:
                window_changed = False
        else:
            window_changed = False
        if da > 0:
            self._new_ack(seg, ack, da, now)
            if self.state is _CLOSED:
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
        if self._in_recovery and self.sack_ok and self._xlog:
            self._rack_update(seg, now)
        if (
            not self._in_recovery
            and self._sacked
            and (
                self._sacked > self._dupthresh_bytes()
                # RFC 8985 6.2/7.4 (RACK in small): the tail probe was SACKed,
                # so everything sent before it and still un-SACKed is lost
                or (self._tlp_pending and self._scoreboard[-1][1] == self.snd_max)
            )
            and self.state is not _CLOSED
            and (_sd(self.snd_una, self._recover) >= 0 or self._recover == self.iss)
        ):
            # RFC 6675 5: DupThresh segments' worth SACKed above SND.UNA: loss
            self._enter_recovery(now)
        elif self._sacked and not self._in_recovery and self._reo_deadline == INF:
            # RFC 8985 6.3: a hole below SACKed data: wait one reordering window
            self._reo_deadline = now + max(self._reo_wnd(False), 0.001)
        st = self.state
        if st is _TIME_WAIT:
            if flags & FIN:
                # RFC 9293 3.10.7.4: ACK the retransmitted FIN, restart 2 MSL
                self._ack_now = True
                self._tw_deadline = now + self.config.time_wait
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
            self._sbuf_seq = (self._sbuf_seq + data_acked) & MASK
            self.bytes_acked += data_acked
            self._freed = True
        fin_acked = acked > data_acked and self._fin_queued
        if (
            self._in_recovery
            and self._undo_ok
            and self.ts_ok
            and self._undo_tsval
            and seg.ts_ecr
            and _sd(ack, self._undo_marker) > 0
            and _sd(seg.ts_ecr, self._undo_tsval) < 0
        ):
            # RFC 3522 3.2 (Eifel detection), while recovering (Linux
            # tcp_try_undo_partial / _recovery / _loss): the ACK for retransmitted
            # data echoes a TSval older than the first retransmission: the
            # original arrived
            self._undo(now, "timestamps (Eifel)")
        self.snd_una = ack
        if _sd(self.snd_nxt, ack) < 0:
            self.snd_nxt = ack
        # RTT sample: never from an ACK that acknowledges nothing new (we are here
        # only when SND.UNA advanced). RFC 7323 4.1 / RFC 6298 3 (Karn)
        rtt = 0.0
        ecr: int | None = 0
        if self.ts_ok:
            ecr = seg.ts_ecr
            if ecr:
                rtt = ((self._ts_val(now) - ecr) & MASK) / 1000.0
                if rtt > 60.0:
                    rtt = 0.0
                if self._rtx_guard:
                    if _sd(ecr, self._rtx_tsval) < 0:
                        # the echo predates our retransmission: the peer lost our
                        # ACK or data, not a round trip (RFC 7323 4.3 case C)
                        rtt = 0.0
                        ecr = 0
                    if _sd(ack, self._rtx_until) >= 0:
                        self._rtx_guard = False
        elif self._rtt_seq >= 0 and _sd(ack, self._rtt_seq) >= 0:
            rtt = now - self._rtt_time
            self._rtt_seq = -1
        if rtt > 0.0 or (self.ts_ok and ecr):
            self._rtt.sample(rtt)
        self._retransmits = 0
        # delivery rate (rough, bytes/s)
        dt = now - self._last_ack_time
        if dt > 0.0:
            self.delivery_rate = data_acked / dt if data_acked else self.delivery_rate
        self._last_ack_time = now
        cc = self._cc
        in_flight = _sd(self.snd_max, ack)
        if self._scoreboard:
            sb = [
                (s if _sd(s, ack) >= 0 else ack, e) for s, e in self._scoreboard if _sd(e, ack) > 0
            ]
            self._scoreboard = sb
            self._sacked = sum(_sd(e, s) for s, e in sb)
            if not sb:
                self._reo_deadline = INF
        if self._in_recovery:
            if _sd(ack, self._recover) >= 0:
                # RFC 6582 3.2 step 6 / RFC 6675 5: full acknowledgment ends recovery
                self._in_recovery = False
                if self._undo_ok and self._undo_retrans <= 0:
                    # Linux tcp_try_undo_recovery: nothing was retransmitted, or every
                    # retransmission was DSACKed (RFC 3708 2): the loss was reordering
                    self._in_recovery = True
                    self._undo(now, "recovery without needed retransmissions")
                    cc.on_ack(data_acked, rtt, now, in_flight)
                elif self._loss_all:
                    # after an RTO the window is what slow start made it (RFC 5681 3.1)
                    cc.on_ack(data_acked, rtt, now, in_flight)
                else:
                    cc.on_recovery_exit(now, in_flight)
                self._end_episode()
            else:
                if self.sack_ok:
                    if self._loss_all:
                        cc.on_ack(data_acked, rtt, now, in_flight)  # RFC 5681 3.1 slow start
                    if self._scoreboard:
                        # RFC 6582 3.2 step 5 for SACK too: a partial ACK with
                        # SACKed data above the new SND.UNA: the head hole is lost
                        head = (ack + self.snd_mss) & MASK
                        if _sd(head, self._force_to) > 0:
                            self._force_to = head
                    self._prune_xlog(ack)
                    if self._xlog:
                        self._rack_update(seg, now)
                else:
                    # RFC 6582 3.2 step 5: deflate, retransmit the next hole at once
                    cc.on_partial_ack(data_acked)
                self._fast_rtx = True
        else:
            cc.on_ack(data_acked, rtt, now, in_flight)
        self._dupacks = 0
        # RFC 6298 5.2 / 5.3: stop or restart the timer (a store, no heap work)
        self._tlp_pending = False
        if ack == self.snd_max:
            self._rtx_deadline = INF
            self._tlp_deadline = INF
        else:
            self._rtx_deadline = now + self._rtt.current()
            # RFC 8985 7.2: re-arm the PTO, once the flush has sent what this ACK
            # clocks out (a lone segment's PTO would exceed the RTO; the flight
            # after the flush is what the probe protects)
            self._tlp_deadline = INF
            self._tlp_rearm = self.sack_ok and not self._in_recovery
        if fin_acked:
            self._fin_acked = True
            st = self.state
            if st is _FIN_WAIT_1:
                self._set_state(_FIN_WAIT_2, "our FIN acknowledged", now)
                if self._closed_by_app:
                    # Linux tcp_fin_timeout for an orphaned FIN-WAIT-2
                    self._tw_deadline = now + self.config.fin_timeout
            elif st is _CLOSING:
                self._set_state(_TIME_WAIT, "our FIN acknowledged", now)
            elif st is _LAST_ACK:
                self._set_state(_CLOSED, "our FIN acknowledged", now)

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
            _sd(self.snd_una, self._recover) >= 0 or self._recover == self.iss
        ):
            self._enter_recovery(now)

    def _dupthresh_bytes(self) -> int:
        """RFC 6675 DupThresh in bytes, lowered for small flights (RFC 5827)."""
        mss = self.snd_mss
        flight = _sd(self.snd_max, self.snd_una)
        if flight < 4 * mss and self._reordering <= DUPTHRESH:
            # RFC 5827 2.1 early retransmit: everything but one segment SACKed
            # (RFC 5827 6: not when reordering has been seen)
            return flight - mss - 1 if flight > mss else flight - 1
        # RFC 6675 4 IsLost(SND.UNA): more than (DupThresh - 1) * SMSS SACKed above
        return (self._reordering - 1) * mss

    def _enter_recovery(self, now: float) -> None:
        """RFC 5681 3.2 / RFC 6582 3.2 / RFC 6675 5: fast retransmit, fast recovery."""
        self._start_undo()
        self._entry_fack = self._scoreboard[-1][1] if self._scoreboard else self.snd_una
        self._in_recovery = True
        self._tlp_deadline = INF
        self._reo_deadline = INF
        self._tlp_pending = False
        self._recover = self.snd_max
        flight = _sd(self.snd_max, self.snd_una)
        if self.sack_ok:
            self._begin_episode(now)
            self._cc.on_loss_sack(now, flight)
        else:
            self._cc.on_loss_fast(now, flight)
        self._fast_rtx = True
        self.fast_retransmits += 1
        self.lost += 1
        self._tr(now, f"fast retransmit at {self.snd_una}")

    def _begin_episode(self, now: float) -> None:
        """A new RFC 6675 recovery episode: fresh log, the head marked lost."""
        self._xlog = []
        self._ep_start = now
        self._rack_xmit = -INF
        self._rack_rtt = 0.0
        self._loss_all = False
        # RFC 6675 5 step (4.2): the first segment is retransmitted at once
        self._force_to = (self.snd_una + self.snd_mss) & MASK

    def _end_episode(self) -> None:
        self._xlog = []
        self._loss_all = False
        self._force_to = self.snd_una
        self._rack_xmit = -INF

    def _prune_xlog(self, ack: int) -> None:
        log = self._xlog
        if log and any(_sd(x.end, ack) <= 0 for x in log):
            self._xlog = [x for x in log if _sd(x.end, ack) > 0]

    def _rack_update(self, seg: TcpSegment, now: float) -> None:
        """RFC 8985 6.2 steps 1-2: RACK.xmit_ts / RACK.rtt from the newest delivered send."""
        ack = self.snd_una
        min_rtt = self._rtt.min_rtt
        ecr = seg.ts_ecr if self.ts_ok else None
        for x in self._xlog:
            if x.delivered:
                continue
            if _sd(x.end, ack) > 0:
                e = self._sacked_end(x.start)
                if e is None or _sd(e, x.end) < 0:
                    continue
            x.delivered = True
            if x.rtx and (now - x.time < min_rtt or (ecr and _sd(ecr, self._ts_val(x.time)) < 0)):
                # RFC 8985 6.2 step 2: probably the original's ACK, not this one
                continue
            if x.time > self._rack_xmit:
                self._rack_xmit = x.time
                self._rack_rtt = now - x.time

    def _start_undo(self) -> None:
        """Save the window before a reduction (Linux tcp_init_undo)."""
        cc = self._cc
        self._undo_ok = True
        self._undo_cwnd = cc.cwnd
        self._undo_ssthresh = cc.ssthresh
        self._undo_marker = self.snd_una
        self._undo_retrans = 0
        self._undo_tsval = 0

    def _undo(self, now: float, why: str) -> None:
        """The reduction was spurious: restore cwnd/ssthresh, leave recovery
        (RFC 3708 2 / RFC 4015 3; Linux tcp_try_undo_recovery, tcp_try_undo_dsack)."""
        self._undo_ok = False
        self.undos += 1
        self._cc.undo(self._undo_cwnd, self._undo_ssthresh)
        # the degree of the reordering that fooled us (Linux tcp_check_sack_reordering)
        self._note_reordering(_sd(self._entry_fack, self._undo_marker) + self.snd_mss)
        if self._in_recovery:
            self._in_recovery = False
            self._end_episode()
        if _sd(self.snd_nxt, self.snd_max) < 0:
            # RFC 4015 3.1 step (4): resume with new data after a spurious timeout
            self.snd_nxt = self.snd_max
        self._recover = self.snd_una  # Linux: back to Open, a new loss may start recovery
        self._rtx_deadline = now + self._rtt.current() if self.snd_una != self.snd_max else INF
        self._tr(now, f"undo ({why}): cwnd {self._cc.cwnd} ssthresh {self._cc.ssthresh}")

    def _on_dsack(self, start: int, end: int, now: float) -> None:
        """RFC 2883 / RFC 3708: a duplicate arrived; was it our retransmission?"""
        self.dsacks_in += 1
        # RFC 8985 6.2 step 4: widen the reordering window
        if self._reo_mult < 4:
            self._reo_mult += 1
        if not self._undo_ok or _sd(end, self._undo_marker) <= 0:
            return
        if _sd(start, self._rtx_max) >= 0:
            return  # not something we retransmitted (a network duplicate)
        mss = self.snd_mss
        segs = (_sd(end, start) + mss - 1) // mss
        if segs < 1:
            segs = 1
        self.spurious_retrans += segs
        self._undo_retrans -= segs
        if self._undo_retrans <= 0:
            # RFC 3708 2: every retransmission of the episode was needless
            self._undo(now, "DSACK")

    def _note_reordering(self, metric: int) -> None:
        """Linux tcp_check_sack_reordering: raise DupThresh to the degree seen."""
        mss = self.snd_mss
        if metric > self._reordering * mss:
            r = (metric + mss - 1) // mss
            self._reordering = r if r < MAX_REORDERING else MAX_REORDERING

    def _update_scoreboard(self, blocks: tuple[tuple[int, int], ...], ack: int) -> None:
        """Record SACKed ranges (RFC 2018), ignoring DSACK blocks (RFC 2883)."""
        sb = self._scoreboard
        una = self.snd_una
        limit = (self.snd_max - una) & MASK
        floor = (ack - una) & MASK
        added = False
        old_fack = ((sb[-1][1] - una) & MASK) if sb else 0
        rtx_max = ((self._rtx_max - una + 0x80000000) & MASK) - 0x80000000
        # work in offsets from SND.UNA (all held blocks lie in (0, limit])
        for s, e in blocks:
            so = ((s - una + 0x80000000) & MASK) - 0x80000000
            eo = ((e - una + 0x80000000) & MASK) - 0x80000000
            if eo <= floor or eo <= so or eo > limit:
                continue  # DSACK (RFC 2883) or bogus
            if so < floor:
                s = ack
                so = floor
            if so < old_fack and so >= rtx_max and self._sacked_end(s) is None:
                # never retransmitted, newly SACKed below the highest SACK: reordering
                self._note_reordering(old_fack - so)
            sb.append((s, e))
            added = True
        if not added:
            return
        sb.sort(key=lambda b: (b[0] - una) & MASK)
        merged: list[tuple[int, int]] = []
        total = 0
        for s, e in sb:
            so = (s - una) & MASK
            eo = (e - una) & MASK
            if merged and so <= (merged[-1][1] - una) & MASK:
                ps, pe = merged[-1]
                peo = (pe - una) & MASK
                if eo > peo:
                    merged[-1] = (ps, e)
                    total += eo - peo
            else:
                merged.append((s, e))
                total += eo - so
        self._scoreboard = merged
        self._sacked = total

    def _process_data_and_fin(self, seg: TcpSegment, now: float) -> None:
        """Seventh and eighth checks: segment text and FIN (RFC 9293 3.10.7.4)."""
        st = self.state
        flags = seg.flags
        payload = seg.payload
        plen = len(payload)
        if plen and st not in _RECEIVING:
            # RFC 9293 3.10.7.4: CLOSE-WAIT, CLOSING, LAST-ACK: ignore the text
            self.dropped += 1
            return
        if plen and self._closed_by_app:
            # Linux tcp_rcv_state_process: data for a closed socket resets it
            self._send_rst(now)
            self._set_state(_CLOSED, "data after close (RST)", now)
            return
        seq = seg.seq
        d = _sd(seq, self.rcv_nxt)
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
        wnd = _sd(self.rcv_adv, self.rcv_nxt)
        if wnd < 0:
            wnd = 0
        if d + plen > wnd:
            keep = wnd - d
            payload = payload[: max(keep, 0)]
            plen = len(payload)
            fin = False
        if d == 0:
            if plen:
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
                off = self._rcv_off + d
                dup = self._reasm.add(off, payload)
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
        self._ooo_fin_off = -1
        self._ack_now = True
        st = self.state
        if not self.eof_received:
            self.eof_received = True
            self._events.append(EofReceived())
        if st is _ESTABLISHED or st is _SYN_RECEIVED:
            self._set_state(_CLOSE_WAIT, "FIN received", now)
        elif st is _FIN_WAIT_1:
            if self._fin_acked:
                self._set_state(_TIME_WAIT, "FIN received", now)
            else:
                self._set_state(_CLOSING, "FIN received (simultaneous close)", now)
        elif st is _FIN_WAIT_2:
            self._set_state(_TIME_WAIT, "FIN received", now)

    # ------------------------------------------------------------- statistics

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
            rcv_wnd=max(_sd(self.rcv_adv, self.rcv_nxt), 0),
            snd_wscale=self.snd_wscale,
            rcv_wscale=self.rcv_wscale,
            timestamps=self.ts_ok,
            sack=self.sack_ok,
            unacked=_sd(self.snd_nxt, self.snd_una),
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
            delivery_rate=self.delivery_rate,
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
        )

    def __repr__(self) -> str:
        return (
            f"<TcpConnection {self.local_port}->{self.remote_port} {self.state} "
            f"una={self.snd_una} nxt={self.snd_nxt} rcv_nxt={self.rcv_nxt}>"
        )
