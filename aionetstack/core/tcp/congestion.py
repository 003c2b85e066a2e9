"""Congestion control seam (RFC 5681, RFC 6582) and NewReno.

Theory of operation
-------------------
The connection does loss *detection* (duplicate ACK counting, the NewReno
recovery point, RTO expiry) and asks a ``CongestionControl`` object for the
window *response*. All quantities are bytes. The connection calls:

* ``set_mss(mss)`` once the handshake has fixed the MSS;
* ``on_ack(acked_bytes, rtt, now, in_flight)`` for every ACK that advances
  SND.UNA outside recovery (``rtt`` is the sample or 0.0);
* ``on_loss_fast(now, in_flight)`` when entering NewReno fast recovery (3 dup ACKs);
* ``on_loss_sack(now, in_flight)`` when entering SACK-based recovery (RFC 6675);
* ``undo(prior_cwnd, prior_ssthresh)`` when a recovery proved spurious
  (RFC 3708 / RFC 3522 / RFC 4015; Linux tcp_undo_cwnd_reduction);
* ``on_dupack_in_recovery()`` for each further duplicate ACK in recovery;
* ``on_partial_ack(acked_bytes)`` for an ACK in recovery below the recovery
  point (RFC 6582 3.2 step 5);
* ``on_recovery_exit(now, in_flight)`` for the full ACK (RFC 6582 3.2 step 6);
* ``on_rto(now, in_flight)`` when the retransmission timer expires;
* ``on_rate_sample(rs, now)`` once per ACK with its delivery-rate sample
  (``rate.py``), after the calls above;
* ``on_idle_restart(now, idle)`` when data goes out with nothing in flight;
* and reads ``pacing_rate`` (0.0: no pacing) and ``state_name()``.

Loss detection (the SACK scoreboard, RFC 6675 recovery, RACK-TLP, undo) is
the connection's (``recovery.py``, ``rack.py``); ``TcpConnection._cc`` is
declared as this Protocol, so any algorithm that implements it plugs in.
"""

from __future__ import annotations

from typing import Protocol

from aionetstack.core.tcp.bbr import Bbr
from aionetstack.core.tcp.rate import RateSample


class CongestionControl(Protocol):
    """What the connection asks of a congestion controller (bytes and seconds)."""

    #: Linux's name for it (``TCP_CONGESTION``): "reno", "cubic", "bbr".
    name: str
    cwnd: int
    ssthresh: int
    mss: int
    #: Bytes per second the sender should pace at; 0.0 means no pacing.
    pacing_rate: float
    #: A rate-based controller that sets cwnd itself, also in recovery (Linux
    #: ``cong_control``, as BBR): no PRR, no cwnd restart after idle.
    cong_control: bool
    #: Whether the connection should estimate the delivery rate and call
    #: ``on_rate_sample`` (it costs per-segment work; NewReno does not need it).
    wants_rate_samples: bool
    #: Send buffer per cwnd segment, in segments (Linux ``ca_ops->sndbuf_expand``;
    #: 2 when a controller has none, BBR 3): ``tcp_sndbuf_expand``'s factor.
    sndbuf_expand: int

    def on_rate_sample(self, rs: RateSample, now: float) -> None:
        """Once per ACK, after the ACK's other calls: its delivery-rate sample."""
        ...

    def on_idle_restart(self, now: float, idle: float) -> None:
        """Data is sent with nothing in flight, ``idle`` seconds after the last data
        sent (Linux CA_EVENT_TX_START; ``idle`` is ``now - tp->lsndtime``)."""
        ...

    def restart_cwnd_after_idle(self) -> bool:
        """Whether the connection applies RFC 7661 / Linux tcp_cwnd_restart after an
        idle period longer than the RTO (False for rate-based controllers, whose
        ``cong_control`` handles idle itself, as Linux's BBR)."""
        ...

    def state_name(self) -> str:
        """The algorithm's state, for tcp_info (e.g. "slow-start", "PROBE_BW")."""
        ...

    def set_mss(self, mss: int) -> None: ...

    def on_ack(self, acked_bytes: int, rtt: float, now: float, in_flight: int) -> None: ...

    def on_loss_fast(self, now: float, in_flight: int) -> None: ...

    def on_loss_sack(self, now: float, in_flight: int) -> None: ...

    def undo(self, prior_cwnd: int, prior_ssthresh: int) -> None: ...

    def on_dupack_in_recovery(self) -> None: ...

    def on_partial_ack(self, acked_bytes: int) -> None: ...

    def on_recovery_exit(self, now: float, in_flight: int) -> None: ...

    def on_rto(self, now: float, in_flight: int) -> None: ...


# RFC 5681 3.1: ssthresh starts "arbitrarily high"
INITIAL_SSTHRESH = 0x7FFFFFFF


class NewReno:
    """RFC 5681 slow start / congestion avoidance with RFC 6582 fast recovery."""

    __slots__ = ("_ca_acc", "cwnd", "initial_segments", "mss", "ssthresh")

    name = "reno"
    pacing_rate = 0.0
    wants_rate_samples = False
    cong_control = False
    sndbuf_expand = 2

    def __init__(self, mss: int, initial_segments: int = 10) -> None:
        self.mss = mss
        self.initial_segments = initial_segments
        # RFC 6928: IW = 10 segments (config.initial_cwnd_segments)
        self.cwnd = initial_segments * mss
        self.ssthresh = INITIAL_SSTHRESH
        self._ca_acc = 0

    def set_mss(self, mss: int) -> None:
        """The effective MSS became known (after the handshake)."""
        self.mss = mss
        if self.ssthresh == INITIAL_SSTHRESH:
            self.cwnd = self.initial_segments * mss

    def on_ack(self, acked_bytes: int, rtt: float, now: float, in_flight: int) -> None:
        if self.cwnd < self.ssthresh:
            # RFC 5681 3.1 slow start with RFC 3465 byte counting; no L limit
            # (as Linux): the driver's batching makes stretch ACKs the norm
            self.cwnd += acked_bytes
        else:
            # RFC 5681 3.1 congestion avoidance: +1 SMSS per cwnd acked
            self._ca_acc += acked_bytes
            if self._ca_acc >= self.cwnd:
                self._ca_acc -= self.cwnd
                self.cwnd += self.mss

    def _reduced_ssthresh(self) -> int:
        """Linux tcp_reno_ssthresh: half the window in whole segments, at least
        two (RFC 5681 eq. 4 allows FlightSize or cwnd; Linux halves cwnd, and
        its window is counted in packets: a fractional window grows back slower)."""
        segments = self.cwnd // self.mss >> 1
        return (segments if segments > 2 else 2) * self.mss

    def on_loss_fast(self, now: float, in_flight: int) -> None:
        # RFC 5681 3.2 step 2 (eq. 4) and step 3; RFC 6582 3.2 step 2
        self.ssthresh = self._reduced_ssthresh()
        self.cwnd = self.ssthresh + 3 * self.mss
        self._ca_acc = 0

    def on_loss_sack(self, now: float, in_flight: int) -> None:
        # RFC 6675 5 step (4.2): ssthresh = cwnd = FlightSize / 2 (RFC 5681 eq. 4);
        # the pipe, not window inflation, accounts for what has left the network
        self.ssthresh = self._reduced_ssthresh()
        self.cwnd = self.ssthresh
        self._ca_acc = 0

    def undo(self, prior_cwnd: int, prior_ssthresh: int) -> None:
        # RFC 3708 / RFC 4015 3.2 (Eifel response) / Linux tcp_undo_cwnd_reduction:
        # the reduction was for nothing: restore the window (never shrink it)
        if prior_cwnd > self.cwnd:
            self.cwnd = prior_cwnd
        if prior_ssthresh > self.ssthresh:
            self.ssthresh = prior_ssthresh
        self._ca_acc = 0

    def on_dupack_in_recovery(self) -> None:
        # RFC 5681 3.2 step 4: inflate by one SMSS per further dup ACK
        self.cwnd += self.mss

    def on_partial_ack(self, acked_bytes: int) -> None:
        # RFC 6582 3.2 step 5: deflate by the amount acked, add back one SMSS
        self.cwnd = max(self.cwnd - acked_bytes + self.mss, self.mss)

    def on_recovery_exit(self, now: float, in_flight: int) -> None:
        # RFC 6582 3.2 step 6 option (1) / RFC 5681 3.2 step 6: cwnd = ssthresh
        # (option (2)'s min with FlightSize + SMSS collapses the window after a
        # recovery that drained the pipe, and small windows then end in RTOs)
        self.cwnd = max(self.ssthresh, 2 * self.mss)

    def on_rto(self, now: float, in_flight: int) -> None:
        # RFC 5681 3.1 eq. 4 (Linux tcp_enter_loss: ca_ops->ssthresh) and loss
        # window LW = 1 SMSS
        self.ssthresh = self._reduced_ssthresh()
        self.cwnd = self.mss
        self._ca_acc = 0

    def on_rate_sample(self, rs: RateSample, now: float) -> None:
        pass  # Reno reacts to ACKs and losses only

    def on_idle_restart(self, now: float, idle: float) -> None:
        pass

    def restart_cwnd_after_idle(self) -> bool:
        return True

    def state_name(self) -> str:
        return "slow-start" if self.cwnd < self.ssthresh else "congestion-avoidance"


def make_congestion_control(name: str, mss: int, initial_segments: int) -> CongestionControl:
    """Factory keyed by config.congestion_control."""
    if name == "cubic":
        from aionetstack.core.tcp.cubic import Cubic  # here: cubic.py imports this module

        return Cubic(mss, initial_segments)
    if name == "bbr":
        return Bbr(mss, initial_segments)
    if name != "newreno":
        raise ValueError(f"unknown congestion control {name!r}")
    return NewReno(mss, initial_segments)
