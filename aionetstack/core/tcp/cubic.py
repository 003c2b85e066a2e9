"""CUBIC congestion control (RFC 9438) with HyStart++ (RFC 9406).

Theory of operation
-------------------
``Cubic`` implements the ``CongestionControl`` Protocol of ``congestion.py``
(same calls, same moments; all quantities bytes and seconds) after RFC 9438
and Linux ``net/ipv4/tcp_cubic.c``.

*Congestion avoidance* follows the cubic curve of RFC 9438 4.2,
``W_cubic(t) = C * (t - K)**3 + W_max`` (``C`` = 0.4 segments per second
cubed, here scaled by the MSS), where ``t`` is the time since the *epoch*:
the first ACK in congestion avoidance after a reduction (Linux
``bictcp_update`` with ``epoch_start == 0``). ``K`` is the time the curve
takes from the window at the epoch back to ``W_max`` (eq. 2); when ``W_max``
is unknown or already passed, ``K`` is 0 and the curve starts at the
current window (RFC 9438 4.8, 4.10). Each ACK moves cwnd towards
``target = W_cubic(t + RTT)``, clamped to [cwnd, 1.5 cwnd], by
``(target - cwnd) / cwnd`` per segment acknowledged (4.4, 4.5): below
``W_max`` the curve is concave, above it convex. Beside the curve runs
``W_est``, the window Reno would have (4.3, eq. 4, additive factor
``alpha = 3 (1 - beta) / (1 + beta)``, then 1 once ``W_est`` reaches the
window before the last reduction); where the curve lies below ``W_est``
(small RTTs, small windows) cwnd follows ``W_est``. Fractional growth is
carried in ``_frac`` so that small increments are not lost to rounding.

*Multiplicative decrease* (4.6) and *fast convergence* (4.7) are computed
from cwnd, as Linux ``cubictcp_recalc_ssthresh`` does, not from the flight
the engine passes (RFC 9438 4.6 allows either; the engine's flight is the
one before the batch of ACKs). ``beta`` is Linux's 717/1024. An RTO sets
cwnd to one MSS with the same ssthresh, and forgets ``W_max`` (Linux
``cubictcp_state`` on ``TCP_CA_Loss``); like Linux ``tcp_enter_loss`` it
does not reduce again while the reduction it follows is still in progress
(in fast recovery, or a further RTO with no ACK progress). Before every
reduction the whole CUBIC state is saved, and ``undo`` restores it when
the engine proves the reduction spurious (RFC 9438 4.9.2). Without SACK, fast
recovery inflates and deflates the window as NewReno does (RFC 5681 3.2,
RFC 6582 3.2 step 5).

*Slow start* grows by the bytes acknowledged (RFC 3465 with L = infinity, as
Linux: the engine's ACKs are stretch ACKs) up to ssthresh, the rest going to
congestion avoidance (Linux ``tcp_slow_start``). During the first slow start
HyStart++ (RFC 9406 4.2) watches the per-round minimum RTT of the rate
samples (``on_rate_sample``): a round ends when an ACK's ``prior_delivered``
reaches the delivered total at the round's start (as Linux ``tcp_bbr.c``
``bbr_update_round_start``). Once a round has at least ``N_RTT_SAMPLE``
samples and its minimum exceeds the previous round's by
``clamp(lastRoundMinRTT / 8, 4 ms, 16 ms)``, slow start becomes Conservative
Slow Start (growth divided by ``CSS_GROWTH_DIVISOR``); a minimum below the
baseline returns to slow start; after ``CSS_ROUNDS`` rounds (the one CSS
began in counted first) ssthresh = cwnd and congestion avoidance begins. A
loss or an RTO ends HyStart++ too; later slow starts are standard (RFC 9406
4.2: HyStart++ only for the initial slow start).

*Idle*: ``on_idle_restart`` (Linux ``CA_EVENT_TX_START``) shifts the epoch
by the time since the last ACK, so ``t`` leaves out the idle period (RFC
9438 5.8).
"""

from __future__ import annotations

import math

from aionetstack.core.tcp.congestion import INITIAL_SSTHRESH
from aionetstack.core.tcp.rate import RateSample

__all__ = [
    "ALPHA_CUBIC",
    "BETA_CUBIC",
    "CSS_GROWTH_DIVISOR",
    "CSS_ROUNDS",
    "C_CUBIC",
    "MAX_RTT_THRESH",
    "MIN_RTT_DIVISOR",
    "MIN_RTT_THRESH",
    "N_RTT_SAMPLE",
    "Cubic",
]

INF = float("inf")

# RFC 9438 5.1: C = 0.4 (segments / second^3); Linux bic_scale 41/1024 * 10
C_CUBIC = 0.4
# RFC 9438 4.6: beta_cubic = 0.7; Linux beta = 717 (/ BICTCP_BETA_SCALE 1024)
BETA_CUBIC = 717 / 1024
# RFC 9438 4.3: alpha_cubic = 3 (1 - beta) / (1 + beta)
ALPHA_CUBIC = 3 * (1 - BETA_CUBIC) / (1 + BETA_CUBIC)
# Linux bictcp_update: while W_max is unknown, at least 5 % growth per RTT (cnt <= 20)
_UNKNOWN_WMAX_GROWTH = 1.05

# RFC 9406 4.3 constants
MIN_RTT_THRESH = 0.004
MAX_RTT_THRESH = 0.016
MIN_RTT_DIVISOR = 8
N_RTT_SAMPLE = 8
CSS_GROWTH_DIVISOR = 4
CSS_ROUNDS = 5

# What a reduction saves for undo (RFC 9438 4.9.2): W_max, cwnd_prior, K,
# origin, t_epoch, W_est, and HyStart++ (active, in CSS, CSS rounds, baseline)
_CURVE_STATE = (
    "_w_max", "_cwnd_prior", "_k", "_origin", "_epoch_start", "_w_est",
    "_hystart", "_css", "_css_rounds", "_css_baseline",
)  # fmt: skip
_Saved = tuple[object, ...]


class Cubic:
    """RFC 9438 CUBIC with RFC 9406 HyStart++ (see the module docstring)."""

    __slots__ = (
        "_css",
        "_css_baseline",
        "_css_rounds",
        "_cur_round_min",
        "_cwnd_prior",
        "_epoch_start",
        "_frac",
        "_hystart",
        "_k",
        "_last_ack",
        "_last_round_min",
        "_origin",
        "_reduced",
        "_round_end",
        "_rto_pending",
        "_rtt_samples",
        "_saved",
        "_srtt",
        "_w_est",
        "_w_max",
        "cwnd",
        "fast_convergence",
        "initial_segments",
        "mss",
        "ssthresh",
    )

    wants_rate_samples = True
    sndbuf_expand = 2
    cong_control = False

    name = "cubic"
    pacing_rate = 0.0

    def __init__(
        self,
        mss: int,
        initial_segments: int = 10,
        *,
        fast_convergence: bool = True,
        hystart: bool = True,
    ) -> None:
        self.mss = mss
        self.initial_segments = initial_segments
        # RFC 6928: IW = 10 segments (config.initial_cwnd_segments)
        self.cwnd = initial_segments * mss
        self.ssthresh = INITIAL_SSTHRESH
        #: RFC 9438 4.7 (SHOULD be on; Linux fast_convergence = 1).
        self.fast_convergence = fast_convergence
        # ---- RFC 9438 4.1 variables (bytes, seconds)
        self._w_max = 0.0  # W_max; 0.0: unknown (Linux last_max_cwnd)
        self._cwnd_prior = 0  # cwnd when ssthresh was last set
        self._k = 0.0  # K of the current epoch
        self._origin = 0.0  # the plateau of the current curve (Linux bic_origin_point)
        self._epoch_start: float | None = None  # t_epoch; None: starts on the next CA ACK
        self._w_est = 0.0  # Reno-friendly estimate
        self._frac = 0.0  # growth below one byte, carried to the next ACK
        self._srtt = 0.0  # RFC 6298 smoothed RTT of the ACKs' samples (for t + RTT)
        self._last_ack = 0.0  # time of the latest ACK (an idle period starts there)
        self._reduced = False  # in fast recovery: the window was reduced for it
        self._rto_pending = False  # an RTO reduced the window; no ACK progress since
        self._saved: _Saved | None = None
        # ---- RFC 9406 4.2 HyStart++
        self._hystart = hystart  # still in the first slow start, HyStart++ running
        self._css = False  # in Conservative Slow Start
        self._css_rounds = 0
        self._css_baseline = INF  # cssBaselineMinRtt
        self._last_round_min = INF  # lastRoundMinRTT
        self._cur_round_min = INF  # currentRoundMinRTT
        self._rtt_samples = 0  # rttSampleCount
        self._round_end = 0  # delivered total that ends the round (Linux next_rtt_delivered)

    # ------------------------------------------------------------ inspection

    @property
    def w_max(self) -> float:
        """W_max in bytes (0.0 while unknown: before the first loss, after an RTO)."""
        return self._w_max

    @property
    def k(self) -> float:
        """K of the current epoch, in seconds (RFC 9438 4.2 eq. 2)."""
        return self._k

    @property
    def epoch_start(self) -> float | None:
        """t_epoch, or None until the first ACK in congestion avoidance."""
        return self._epoch_start

    @property
    def w_est(self) -> float:
        """The Reno-friendly estimate W_est in bytes (RFC 9438 4.3)."""
        return self._w_est

    @property
    def in_css(self) -> bool:
        """In HyStart++ Conservative Slow Start (RFC 9406 4.2)."""
        return self._css

    def w_cubic(self, t: float) -> float:
        """RFC 9438 4.2 eq. 1 in bytes, ``t`` seconds after the epoch."""
        d = t - self._k
        return C_CUBIC * d * d * d * self.mss + self._origin

    def state_name(self) -> str:
        if self.cwnd >= self.ssthresh:
            return "congestion-avoidance"
        return "conservative-slow-start" if self._css else "slow-start"

    # ------------------------------------------------------------- the calls

    def set_mss(self, mss: int) -> None:
        """The effective MSS became known (after the handshake)."""
        self.mss = mss
        if self.ssthresh == INITIAL_SSTHRESH:
            self.cwnd = self.initial_segments * mss

    def on_ack(self, acked_bytes: int, rtt: float, now: float, in_flight: int) -> None:
        self._last_ack = now
        self._reduced = False
        self._rto_pending = False
        if rtt > 0.0:
            # RFC 6298 2.2-2.3 smoothing (alpha 1/8): the RTT of RFC 9438 4.2's target
            self._srtt = rtt if self._srtt == 0.0 else self._srtt + (rtt - self._srtt) / 8
        if acked_bytes <= 0:
            return
        if self.cwnd < self.ssthresh:
            if self._css:
                # RFC 9406 4.2: CSS grows by min(N, L * SMSS) / CSS_GROWTH_DIVISOR
                self._grow(self.cwnd + self._frac + acked_bytes / CSS_GROWTH_DIVISOR)
                return
            # RFC 5681 3.1 / RFC 3465 (L = infinity, as Linux); Linux tcp_slow_start:
            # up to ssthresh, what is left over counts in congestion avoidance
            room = self.ssthresh - self.cwnd
            if acked_bytes <= room:
                self.cwnd += acked_bytes
                return
            self.cwnd = self.ssthresh
            acked_bytes -= room
        self._avoid(acked_bytes, now)

    def on_loss_fast(self, now: float, in_flight: int) -> None:
        self._save()
        self._reduce()
        # RFC 5681 3.2 step 3 / RFC 6582 3.2 step 2: inflate by the 3 dup ACKs
        self.cwnd = self.ssthresh + 3 * self.mss
        self._reduced = True

    def on_loss_sack(self, now: float, in_flight: int) -> None:
        self._save()
        self._reduce()
        # RFC 9438 4.6: cwnd = max(ssthresh, 2) on loss; RFC 6675 counts the pipe
        self.cwnd = self.ssthresh
        self._reduced = True

    def on_rto(self, now: float, in_flight: int) -> None:
        self._save()
        if not (self._reduced or self._rto_pending):
            # Linux tcp_enter_loss: "reduce ssthresh if it has not yet been made
            # inside this window" (not again in fast recovery, nor on a backed-off
            # RTO without progress); RFC 9438 4.8: ssthresh from beta_cubic
            self._reduce()
        # RFC 5681 3.1 loss window; RFC 9438 4.8 / Linux cubictcp_state
        # (TCP_CA_Loss -> bictcp_reset): W_max is forgotten, the next epoch has K = 0
        self.cwnd = self.mss
        self._w_max = 0.0
        self._epoch_start = None
        self._reduced = False
        self._rto_pending = True

    def undo(self, prior_cwnd: int, prior_ssthresh: int) -> None:
        saved = self._saved
        self._saved = None
        if saved is not None and self.cwnd < prior_cwnd:
            # RFC 9438 4.9.2: the reduction was spurious and cwnd is still below
            # the window before it: restore the curve as it was
            for name, value in zip(_CURVE_STATE, saved, strict=True):
                setattr(self, name, value)
        # RFC 3708 / RFC 4015 3.2 / Linux tcp_undo_cwnd_reduction: never shrink
        if prior_cwnd > self.cwnd:
            self.cwnd = prior_cwnd
        if prior_ssthresh > self.ssthresh:
            self.ssthresh = prior_ssthresh
        self._frac = 0.0
        self._reduced = False
        self._rto_pending = False

    def on_dupack_in_recovery(self) -> None:
        # RFC 5681 3.2 step 4: inflate by one SMSS per further dup ACK (no SACK)
        self.cwnd += self.mss

    def on_partial_ack(self, acked_bytes: int) -> None:
        # RFC 6582 3.2 step 5: deflate by the amount acked, add back one SMSS
        self.cwnd = max(self.cwnd - acked_bytes + self.mss, self.mss)

    def on_recovery_exit(self, now: float, in_flight: int) -> None:
        # RFC 6582 3.2 step 6 option (1) / Linux tcp_end_cwnd_reduction: cwnd = ssthresh;
        # the next ACK in congestion avoidance starts the epoch
        self._last_ack = now
        self._reduced = False
        self.cwnd = max(self.ssthresh, 2 * self.mss)
        self._frac = 0.0

    def on_rate_sample(self, rs: RateSample, now: float) -> None:
        self._last_ack = now
        if not self._hystart or self.cwnd >= self.ssthresh:
            return
        # Linux tcp_bbr.c bbr_update_round_start: a valid sample whose data was
        # sent after the round began ends the round
        if rs.acked_sacked > 0 and rs.interval > 0.0 and rs.prior_delivered >= self._round_end:
            self._round_end = rs.total_delivered
            if not self._new_round():
                return
        rtt = rs.rtt
        if rtt > 0.0:
            # RFC 9406 4.2: the round's minimum RTT and its sample count
            if rtt < self._cur_round_min:
                self._cur_round_min = rtt
            self._rtt_samples += 1
        if self._rtt_samples < N_RTT_SAMPLE:
            return  # RFC 9406 4.2: no judgement before N_RTT_SAMPLE samples
        if self._css:
            if self._cur_round_min < self._css_baseline:
                # RFC 9406 4.2: the RTT rise was spurious: resume slow start
                self._css_baseline = INF
                self._css = False
                self._frac = 0.0
        elif self._last_round_min < INF:
            # RFC 9406 4.2: RttThresh = clamp(lastRoundMinRTT / 8, 4 ms, 16 ms)
            thresh = self._last_round_min / MIN_RTT_DIVISOR
            thresh = max(MIN_RTT_THRESH, min(thresh, MAX_RTT_THRESH))
            if self._cur_round_min >= self._last_round_min + thresh:
                self._css_baseline = self._cur_round_min
                self._css = True
                self._css_rounds = 0

    def on_idle_restart(self, now: float, idle: float) -> None:
        # Linux cubictcp_cwnd_event (CA_EVENT_TX_START) / RFC 9438 5.8: the idle
        # time (since the last data sent, Linux's lsndtime) is left out of t
        if self._epoch_start is not None and idle > 0.0:
            self._epoch_start = min(self._epoch_start + idle, now)

    def restart_cwnd_after_idle(self) -> bool:
        return True  # Linux tcp_cwnd_restart applies to cubic

    # ------------------------------------------------------------ internals

    def _grow(self, target: float) -> None:
        """Set cwnd to ``target`` bytes, keeping the fraction for later ACKs."""
        whole = int(target)
        self._frac = target - whole
        self.cwnd = whole

    def _start_epoch(self, now: float) -> float:
        """A congestion-avoidance stage begins (Linux bictcp_update, epoch_start == 0)."""
        cwnd = self.cwnd
        self._epoch_start = now
        # RFC 9438 4.3: W_est = cwnd_epoch
        self._w_est = float(cwnd)
        if self._w_max > cwnd:
            # RFC 9438 4.2 eq. 2: K = cbrt((W_max - cwnd_epoch) / C), in segments
            self._k = math.cbrt((self._w_max - cwnd) / self.mss / C_CUBIC)
            self._origin = self._w_max
        else:
            # RFC 9438 4.8 / 4.10: W_max unknown (after an RTO or HyStart++) or
            # already passed: K = 0 and the curve starts at cwnd_epoch
            self._k = 0.0
            self._origin = float(cwnd)
        return now

    def _avoid(self, acked: int, now: float) -> None:
        """RFC 9438 4.2-4.5: congestion avoidance for ``acked`` bytes."""
        epoch = self._epoch_start
        if epoch is None:
            epoch = self._start_epoch(now)
        t = now - epoch
        cwnd = self.cwnd
        mss = self.mss
        # RFC 9438 4.3 eq. 4 (bytes): W_est += alpha * acked / cwnd * MSS;
        # alpha becomes 1 once W_est has reached cwnd_prior
        alpha = 1.0 if self._w_est >= self._cwnd_prior else ALPHA_CUBIC
        self._w_est += alpha * acked * mss / cwnd
        # RFC 9438 4.2: target = W_cubic(t + RTT) within [cwnd, 1.5 cwnd]
        target = self.w_cubic(t + self._srtt)
        if self._w_max == 0.0 and target < cwnd * _UNKNOWN_WMAX_GROWTH:
            target = cwnd * _UNKNOWN_WMAX_GROWTH  # Linux: "ca->cnt = 20" (5 % per RTT)
        if target < cwnd:
            target = cwnd
        elif target > 1.5 * cwnd:
            target = 1.5 * cwnd
        # RFC 9438 4.4 / 4.5: (target - cwnd) / cwnd per segment acknowledged
        grown = cwnd + self._frac + (target - cwnd) * acked / cwnd
        if self._w_est > grown and self.w_cubic(t) < self._w_est:
            # RFC 9438 4.3: the Reno-friendly region: cwnd = W_est (4.2: the
            # larger of the two; Linux: the faster of the two growth rates)
            grown = self._w_est
        self._grow(grown)

    def _save(self) -> None:
        """Save the state a spurious reduction restores (RFC 9438 4.9.2)."""
        self._saved = tuple(getattr(self, name) for name in _CURVE_STATE)

    def _reduce(self) -> None:
        """RFC 9438 4.6 / 4.7; Linux cubictcp_recalc_ssthresh."""
        # As Linux, from cwnd, not from the in_flight the engine passes (RFC 9438
        # 4.6 allows cwnd; the engine's flight is the one before the ACK batch)
        cwnd = self.cwnd
        self._epoch_start = None
        if self.fast_convergence and cwnd < self._w_max:
            # RFC 9438 4.7: below the last W_max: release bandwidth, plateau earlier
            self._w_max = cwnd * (1 + BETA_CUBIC) / 2
        else:
            self._w_max = float(cwnd)
        self._cwnd_prior = cwnd
        # RFC 9438 4.6: ssthresh = cwnd * beta_cubic, at least 2 MSS
        self.ssthresh = max(int(cwnd * BETA_CUBIC), 2 * self.mss)
        self._frac = 0.0
        # RFC 9406 4.2: a loss ends HyStart++ (the congestion response sets ssthresh)
        self._end_hystart()

    def _end_hystart(self) -> None:
        self._hystart = False
        self._css = False
        self._css_baseline = INF

    def _new_round(self) -> bool:
        """RFC 9406 4.2: a round begins. False when HyStart++ just ended."""
        if self._css:
            self._css_rounds += 1
            if self._css_rounds >= CSS_ROUNDS:
                # RFC 9406 4.2: CSS_ROUNDS rounds in CSS: congestion avoidance, ssthresh
                # = cwnd; RFC 9438 4.10: cwnd_prior = cwnd, W_max unknown (K = 0)
                self.ssthresh = self.cwnd
                self._cwnd_prior = self.cwnd
                self._frac = 0.0
                self._end_hystart()
                return False
        self._last_round_min = self._cur_round_min
        self._cur_round_min = INF
        self._rtt_samples = 0
        return True
