"""BBR v1 congestion control, after Linux net/ipv4/tcp_bbr.c, in bytes and seconds.

Theory of operation
-------------------
BBR models the path from the per-ACK delivery-rate samples (``delivery.py``):

* ``bw``: the windowed maximum of the sampled delivery rate over the last 10
  packet-timed round trips (Kathleen Nichols' minmax, Linux lib/win_minmax.c),
  or a long-term average when a token-bucket policer is detected;
* ``min_rtt``: the minimum RTT seen in the last 10 seconds.

It paces at ``pacing_gain * bw`` (1 % below, Linux's pacing margin) and caps
the flight at ``cwnd_gain * bw * min_rtt`` plus allowances for ACK
aggregation and for the send quantum. The gains follow a state machine:

* STARTUP (gain 2/ln 2) until three rounds grow the bandwidth by less than
  25 %; then DRAIN (the inverse gain) until the flight is down to one BDP;
* PROBE_BW: pacing gain cycles 1.25, 0.75, then 1.0 for six phases, each
  about one min_rtt long, starting at a random phase (seeded);
* PROBE_RTT: when min_rtt has not been refreshed for 10 s, the flight is cut
  to 4 segments for max(200 ms, one round) to measure it afresh.

The core model ignores losses, except: packet conservation in the first round
of a recovery, the window restored when it ends (``bbr_save_cwnd`` and
``bbr_set_cwnd_to_recover_or_restore``), and the long-term sampling that
detects policers (``bbr_lt_bw_sampling``).

The engine's calls map to Linux's hooks: ``on_rate_sample`` is
``bbr_main`` (``cong_control``); ``on_loss_fast``/``on_loss_sack`` are
``bbr_ssthresh`` and the move to TCP_CA_Recovery; ``on_rto`` is
``bbr_ssthresh``, Linux's cwnd of one segment and ``bbr_set_state(Loss)``;
``on_recovery_exit`` and ``undo`` return to TCP_CA_Open (``undo`` also runs
``bbr_undo_cwnd``); ``on_idle_restart`` is ``CA_EVENT_TX_START``. ``on_ack``,
``on_dupack_in_recovery`` and ``on_partial_ack`` change nothing: BBR sets
cwnd once per ACK from the rate sample, after them.

Departures from Linux: there is no earliest-departure-time queue, so
``bbr_packets_in_net_at_edt`` takes the departure as now; the flight after
the ACK is derived from the sample (``prior_in_flight - acked_sacked -
losses``); PROBE_RTT's app-limited mark (Linux writes ``tp->app_limited``) is
applied here to the samples of what was sent while it held, since the
estimator is the engine's.
"""

from __future__ import annotations

import math
import random

from aionetstack.core.tcp.rate import RateSample

__all__ = ["Bbr", "WindowedMax"]

STARTUP = "STARTUP"
DRAIN = "DRAIN"
PROBE_BW = "PROBE_BW"
PROBE_RTT = "PROBE_RTT"

# Linux TCP_CA_* states, in their order (only the comparisons matter)
_CA_OPEN = 0
_CA_RECOVERY = 3
_CA_LOSS = 4

# RFC 5681 3.1: ssthresh starts "arbitrarily high" (as congestion.INITIAL_SSTHRESH)
_INITIAL_SSTHRESH = 0x7FFFFFFF

_BBR_UNIT = 256  # Linux's gains are fixed-point x/256; these are its exact values
#: 2/ln(2) (bbr_high_gain): the smallest gain that doubles the sending rate each round.
HIGH_GAIN = (_BBR_UNIT * 2885 // 1000 + 1) / _BBR_UNIT
#: 1/high_gain (bbr_drain_gain): drains STARTUP's queue in about one round.
DRAIN_GAIN = (_BBR_UNIT * 1000 // 2885) / _BBR_UNIT
#: bbr_cwnd_gain in PROBE_BW: tolerates delayed and stretched ACKs.
CWND_GAIN = 2.0
#: bbr_pacing_gain: the PROBE_BW cycle.
PACING_GAIN_CYCLE = (1.25, 0.75, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
CYCLE_LEN = 8
_CYCLE_RAND = 7  # bbr_cycle_rand: random start over 7 phases (never the 0.75 one)
BW_WINDOW_ROUNDS = CYCLE_LEN + 2  # bbr_bw_rtts
MIN_RTT_WINDOW = 10.0  # bbr_min_rtt_win_sec
PROBE_RTT_TIME = 0.2  # bbr_probe_rtt_mode_ms
_MIN_TSO_RATE = 1200000 / 8  # bbr_min_tso_rate, bytes per second
PACING_MARGIN = 0.01  # bbr_pacing_margin_percent
CWND_MIN_SEGMENTS = 4  # bbr_cwnd_min_target
FULL_BW_THRESH = 1.25  # bbr_full_bw_thresh
FULL_BW_ROUNDS = 3  # bbr_full_bw_cnt
_LT_INTVL_MIN_RTTS = 4  # bbr_lt_intvl_min_rtts
_LT_LOSS_THRESH = 50  # bbr_lt_loss_thresh (x/256: about 20 %)
_LT_BW_RATIO = 1 / 8  # bbr_lt_bw_ratio
_LT_BW_DIFF = 4000 / 8  # bbr_lt_bw_diff, bytes per second
_LT_BW_MAX_RTTS = 48  # bbr_lt_bw_max_rtts
_EXTRA_ACKED_WIN_RTTS = 5  # bbr_extra_acked_win_rtts
_ACK_EPOCH_RESET_SEGMENTS = 1 << 20  # bbr_ack_epoch_acked_reset_thresh
_EXTRA_ACKED_MAX = 0.1  # bbr_extra_acked_max_us, seconds
_PACING_SHIFT = 10  # sk_pacing_shift: a send quantum is ~1 ms of pacing
_GSO_MAX = 65536 - 1 - 320  # GSO_LEGACY_MAX_SIZE - 1 - MAX_TCP_HEADER


class WindowedMax:
    """Kathleen Nichols' windowed max filter (Linux lib/win_minmax.c): the best,
    second-best and third-best samples in sub-windows, O(1) per update."""

    __slots__ = ("t", "v")

    def __init__(self) -> None:
        self.t = [0, 0, 0]
        self.v = [0.0, 0.0, 0.0]

    def get(self) -> float:
        return self.v[0]

    def reset(self, t: int, value: float) -> float:
        """minmax_reset: forget everything but this sample."""
        self.t = [t, t, t]
        self.v = [value, value, value]
        return value

    def update(self, win: int, t: int, value: float) -> float:
        """minmax_running_max: add a sample taken at time ``t``; keep the
        maximum of the last ``win`` time units."""
        tt = self.t
        vv = self.v
        if value >= vv[0] or t - tt[2] > win:
            return self.reset(t, value)  # a new max, or the window is empty
        if value >= vv[1]:
            tt[1] = tt[2] = t
            vv[1] = vv[2] = value
        elif value >= vv[2]:
            tt[2] = t
            vv[2] = value
        # minmax_subwin_update
        dt = t - tt[0]
        if dt > win:
            # the best aged out: promote the 2nd and 3rd choices
            tt[0], vv[0] = tt[1], vv[1]
            tt[1], vv[1] = tt[2], vv[2]
            tt[2], vv[2] = t, value
            if t - tt[0] > win:
                tt[0], vv[0] = tt[1], vv[1]
                tt[1], vv[1] = tt[2], vv[2]
                tt[2], vv[2] = t, value
        elif tt[1] == tt[0] and dt > win / 4:
            # a quarter window without a 2nd choice: take one from the 2nd quarter
            tt[1] = tt[2] = t
            vv[1] = vv[2] = value
        elif tt[2] == tt[1] and dt > win / 2:
            # half a window without a 3rd choice: take one from the last half
            tt[2] = t
            vv[2] = value
        return vv[0]


class Bbr:
    """BBR v1 (Linux tcp_bbr.c), bytes and seconds; see the module docstring."""

    __slots__ = (
        "_ack_epoch_acked",
        "_ack_epoch_time",
        "_bw",
        "_ca_state",
        "_cycle_time",
        "_delivered",
        "_delivered_time",
        "_entry_flight",
        "_extra_acked",
        "_extra_acked_idx",
        "_extra_acked_rtts",
        "_full_bw",
        "_full_bw_cnt",
        "_has_seen_rtt",
        "_idle_restart",
        "_in_flight",
        "_lost",
        "_lt_bw",
        "_lt_is_sampling",
        "_lt_last_delivered",
        "_lt_last_lost",
        "_lt_last_time",
        "_lt_rtt_cnt",
        "_lt_use_bw",
        "_min_rtt_time",
        "_next_rtt_delivered",
        "_packet_conservation",
        "_pr_app_hi",
        "_pr_app_lo",
        "_pr_app_on",
        "_prev_ca_state",
        "_prior_cwnd",
        "_probe_rtt_done",
        "_probe_rtt_round_done",
        "_rng",
        "_round_start",
        "_started",
        "cwnd",
        "cwnd_gain",
        "cycle_idx",
        "full_bw_reached",
        "initial_segments",
        "min_rtt",
        "mode",
        "mss",
        "pacing_gain",
        "pacing_rate",
        "rtt_cnt",
        "ssthresh",
    )

    wants_rate_samples = True
    # Linux bbr_sndbuf_expand: room for 3 x cwnd, the probing gain above 1
    sndbuf_expand = 3
    cong_control = True

    name = "bbr"

    def __init__(self, mss: int, initial_segments: int = 10, seed: int | None = None) -> None:
        self.mss = mss
        self.initial_segments = initial_segments
        # RFC 6928 initial window; ssthresh only reports the BDP found (bbr_check_drain)
        self.cwnd = initial_segments * mss
        self.ssthresh = _INITIAL_SSTHRESH
        #: The PROBE_BW start phase comes from here (Linux get_random_u32_below);
        #: a seed makes runs reproducible, None draws one from the OS.
        self._rng = random.Random(seed)
        self.mode = STARTUP
        self.pacing_gain = HIGH_GAIN
        self.cwnd_gain = HIGH_GAIN
        self.cycle_idx = 0
        self.full_bw_reached = False
        #: Seconds; inf until the first RTT sample.
        self.min_rtt = math.inf
        #: Packet-timed round trips counted so far.
        self.rtt_cnt = 0
        self._bw = WindowedMax()
        self._started = False  # time stamps start at the first call that has a now
        self._min_rtt_time = 0.0
        self._probe_rtt_done = -1.0  # -1: not yet at the PROBE_RTT floor
        self._probe_rtt_round_done = False
        self._next_rtt_delivered = 0
        self._cycle_time = 0.0
        self._ca_state = _CA_OPEN
        self._prev_ca_state = _CA_OPEN
        self._packet_conservation = False
        self._round_start = False
        self._idle_restart = False
        self._has_seen_rtt = False
        self._prior_cwnd = 0
        self._full_bw = 0.0
        self._full_bw_cnt = 0
        self._delivered = 0  # tp->delivered (bytes), from the samples
        self._delivered_time = 0.0  # tp->delivered_mstamp
        self._lost = 0  # tp->lost (bytes)
        self._in_flight = 0  # the pipe after the ACK being processed
        self._entry_flight = 0  # the flight before the batch that started recovery
        self._lt_is_sampling = False
        self._lt_rtt_cnt = 0
        self._lt_use_bw = False
        self._lt_bw = 0.0
        self._lt_last_delivered = 0
        self._lt_last_time = 0.0
        self._lt_last_lost = 0
        self._ack_epoch_time = 0.0
        self._ack_epoch_acked = 0
        self._extra_acked = [0.0, 0.0]
        self._extra_acked_rtts = 0
        self._extra_acked_idx = 0
        # PROBE_RTT's app-limited bubble: samples of what was sent while the
        # delivered total was in [lo, hi] are app-limited
        self._pr_app_on = False
        self._pr_app_lo = 0
        self._pr_app_hi = -1
        self.pacing_rate = 0.0
        self._init_pacing_rate()

    # ------------------------------------------------------------ model reads

    @property
    def bw(self) -> float:
        """The bandwidth estimate, bytes per second (bbr_bw)."""
        return self._lt_bw if self._lt_use_bw else self._bw.get()

    @property
    def policed(self) -> bool:
        """A token-bucket policer was detected: ``bw`` is its long-term rate."""
        return self._lt_use_bw

    @property
    def max_bw(self) -> float:
        """The windowed max of the delivery-rate samples (bbr_max_bw)."""
        return self._bw.get()

    def state_name(self) -> str:
        return self.mode

    def send_quantum(self) -> int:
        """Bytes worth sending in one burst at the pacing rate: about 1 ms of
        it, at least 1 or 2 segments (Linux bbr_tso_segs_goal)."""
        return self._quantum_segments() * self.mss

    def _quantum_segments(self) -> int:
        mss = self.mss
        rate = self.pacing_rate
        nbytes = min(int(rate) >> _PACING_SHIFT, _GSO_MAX)
        low = 1 if rate < _MIN_TSO_RATE else 2  # bbr_min_tso_segs
        return min(max(nbytes // mss, low), 0x7F)

    def _bdp(self, bw: float, gain: float) -> int:
        """bbr_bdp: gain * bw * min_rtt, rounded up to whole segments."""
        if self.min_rtt == math.inf:
            return self.initial_segments * self.mss  # no RTT yet: the initial window
        mss = self.mss
        return math.ceil(bw * self.min_rtt * gain / mss - 1e-9) * mss

    def _quantization_budget(self, cwnd: int) -> int:
        """bbr_quantization_budget: room for three send quanta in flight, an
        even number of segments, two more while probing for bandwidth."""
        mss = self.mss
        segs = -(-cwnd // mss) + 3 * self._quantum_segments()
        segs = (segs + 1) & ~1
        if self.mode == PROBE_BW and self.cycle_idx == 0:
            segs += 2
        return segs * mss

    def _inflight(self, bw: float, gain: float) -> int:
        """bbr_inflight: the flight to aim for at this gain."""
        return self._quantization_budget(self._bdp(bw, gain))

    def _in_net_at_edt(self, inflight_now: int) -> int:
        """bbr_packets_in_net_at_edt with the next departure taken as now."""
        if self.pacing_gain > 1.0:
            return inflight_now + self.send_quantum()  # include the next burst
        return inflight_now

    # ------------------------------------------------------------ pacing

    def _rate(self, bw: float, gain: float) -> float:
        """bbr_rate_bytes_per_sec: pace 1 % below bw * gain."""
        return bw * gain * (1.0 - PACING_MARGIN)

    def _init_pacing_rate(self) -> None:
        """bbr_init_pacing_rate_from_rtt: high_gain * cwnd / RTT (1 ms before a sample)."""
        if self.min_rtt != math.inf:
            rtt = max(self.min_rtt, 1e-6)
            self._has_seen_rtt = True
        else:
            rtt = 0.001
        self.pacing_rate = self._rate(self.cwnd / rtt, HIGH_GAIN)

    def _set_pacing_rate(self, bw: float, gain: float) -> None:
        """bbr_set_pacing_rate: never slow down before the pipe is full."""
        rate = self._rate(bw, gain)
        if not self._has_seen_rtt and self.min_rtt != math.inf:
            self._init_pacing_rate()
        if self.full_bw_reached or rate > self.pacing_rate:
            self.pacing_rate = rate

    # ------------------------------------------------------------ the main path

    def _start(self, now: float) -> None:
        if not self._started:
            # bbr_init's time stamps, taken at the first instant we learn
            self._started = True
            self._min_rtt_time = now
            self._ack_epoch_time = now
            self._delivered_time = now
            self._lt_last_time = now

    def on_rate_sample(self, rs: RateSample, now: float) -> None:
        """bbr_main: update the model from one ACK's sample, then pacing and cwnd."""
        self._start(now)
        self._delivered = rs.total_delivered
        if rs.acked_sacked > 0:
            self._delivered_time = now
        self._lost += rs.losses
        inflight = rs.prior_in_flight - rs.acked_sacked - rs.losses
        self._in_flight = inflight if inflight > 0 else 0
        app_limited = rs.is_app_limited
        if self._pr_app_hi >= 0:
            if self._pr_app_on and self._delivered > self._pr_app_hi:
                self._pr_app_on = False  # the PROBE_RTT bubble is delivered and gone
            if self._pr_app_lo <= rs.prior_delivered <= self._pr_app_hi:
                app_limited = True
        # bbr_update_model
        self._update_bw(rs, app_limited)
        self._update_ack_aggregation(rs)
        if self.mode == PROBE_BW and self._is_next_cycle_phase(rs):
            self._advance_cycle_phase()
        self._check_full_bw_reached(app_limited)
        self._check_drain()
        self._update_min_rtt(rs, now)
        self._update_gains()
        bw = self.bw
        self._set_pacing_rate(bw, self.pacing_gain)
        self._set_cwnd(rs, rs.acked_sacked, bw, self.cwnd_gain)

    def _update_bw(self, rs: RateSample, app_limited: bool) -> None:
        """bbr_update_bw: round counting and the max filter."""
        self._round_start = False
        if rs.interval <= 0.0:
            return  # not a valid observation
        if rs.prior_delivered >= self._next_rtt_delivered:
            # the newest delivered byte was sent after the round began: a round ended
            self._next_rtt_delivered = self._delivered
            self.rtt_cnt += 1
            self._round_start = True
            self._packet_conservation = False
        self._lt_bw_sampling(rs.losses, app_limited)
        bw = rs.delivered / rs.interval
        # app-limited samples only count when they beat the model
        if not app_limited or bw >= self._bw.get():
            self._bw.update(BW_WINDOW_ROUNDS, self.rtt_cnt, bw)

    def _update_ack_aggregation(self, rs: RateSample) -> None:
        """bbr_update_ack_aggregation: the windowed max of data ACKed beyond
        bw * time over an epoch, provisioned as extra cwnd."""
        acked = rs.acked_sacked
        if acked <= 0 or rs.interval <= 0.0:
            return
        if self._round_start:
            self._extra_acked_rtts = min(0x1F, self._extra_acked_rtts + 1)
            if self._extra_acked_rtts >= _EXTRA_ACKED_WIN_RTTS:
                self._extra_acked_rtts = 0
                self._extra_acked_idx ^= 1
                self._extra_acked[self._extra_acked_idx] = 0.0
        epoch = self._delivered_time - self._ack_epoch_time
        expected = self.bw * epoch
        # a slow epoch, or one that has lasted too long, starts again
        if (
            self._ack_epoch_acked <= expected
            or self._ack_epoch_acked + acked >= _ACK_EPOCH_RESET_SEGMENTS * self.mss
        ):
            self._ack_epoch_acked = 0
            self._ack_epoch_time = self._delivered_time
            expected = 0.0
        self._ack_epoch_acked = min(
            self._ack_epoch_acked + acked, (_ACK_EPOCH_RESET_SEGMENTS - 1) * self.mss
        )
        extra = min(self._ack_epoch_acked - expected, float(self.cwnd))
        if extra > self._extra_acked[self._extra_acked_idx]:
            self._extra_acked[self._extra_acked_idx] = extra

    def _ack_aggregation_cwnd(self) -> int:
        """bbr_ack_aggregation_cwnd: max extra ACKed of the last 5-10 rounds,
        at most 100 ms at bw; only once the pipe is full."""
        if not self.full_bw_reached:
            return 0
        cap = self.bw * _EXTRA_ACKED_MAX
        return int(min(max(self._extra_acked), cap))

    # ------------------------------------------------------------ PROBE_BW cycle

    def _is_next_cycle_phase(self, rs: RateSample) -> bool:
        """bbr_is_next_cycle_phase: a phase lasts a min_rtt, a probe until the
        flight reaches gain * BDP (or loss), a drain until it falls to BDP."""
        full_length = self._delivered_time - self._cycle_time > self.min_rtt
        gain = self.pacing_gain
        if gain == 1.0:
            return full_length
        inflight = self._in_net_at_edt(rs.prior_in_flight)
        bw = self._bw.get()
        if gain > 1.0:
            return full_length and (rs.losses > 0 or inflight >= self._inflight(bw, gain))
        return full_length or inflight <= self._inflight(bw, 1.0)

    def _advance_cycle_phase(self) -> None:
        self.cycle_idx = (self.cycle_idx + 1) & (CYCLE_LEN - 1)
        self._cycle_time = self._delivered_time

    def _reset_probe_bw_mode(self) -> None:
        """bbr_reset_probe_bw_mode: enter PROBE_BW at a random phase."""
        self.mode = PROBE_BW
        self.cycle_idx = CYCLE_LEN - 1 - self._rng.randrange(_CYCLE_RAND)
        self._advance_cycle_phase()

    def _reset_mode(self) -> None:
        if not self.full_bw_reached:
            self.mode = STARTUP
        else:
            self._reset_probe_bw_mode()

    # ------------------------------------------------------------ STARTUP / DRAIN

    def _check_full_bw_reached(self, app_limited: bool) -> None:
        """bbr_check_full_bw_reached: 3 rounds without 25 % growth fill the pipe."""
        if self.full_bw_reached or not self._round_start or app_limited:
            return
        max_bw = self._bw.get()
        if max_bw >= self._full_bw * FULL_BW_THRESH:
            self._full_bw = max_bw
            self._full_bw_cnt = 0
            return
        self._full_bw_cnt += 1
        self.full_bw_reached = self._full_bw_cnt >= FULL_BW_ROUNDS

    def _check_drain(self) -> None:
        """bbr_check_drain: STARTUP -> DRAIN -> PROBE_BW once the queue is gone."""
        if self.mode == STARTUP and self.full_bw_reached:
            self.mode = DRAIN
            self.ssthresh = self._inflight(self._bw.get(), 1.0)
        if self.mode == DRAIN and self._in_net_at_edt(self._in_flight) <= self._inflight(
            self._bw.get(), 1.0
        ):
            self._reset_probe_bw_mode()

    # ------------------------------------------------------------ PROBE_RTT

    def _check_probe_rtt_done(self, now: float) -> None:
        """bbr_check_probe_rtt_done: after 200 ms and a round at the floor."""
        if not (self._probe_rtt_done >= 0.0 and now > self._probe_rtt_done):
            return
        self._min_rtt_time = now  # wait a while until the next PROBE_RTT
        self.cwnd = max(self.cwnd, self._prior_cwnd)
        self._reset_mode()

    def _update_min_rtt(self, rs: RateSample, now: float) -> None:
        """bbr_update_min_rtt: the 10 s min_rtt filter and PROBE_RTT."""
        expired = now > self._min_rtt_time + MIN_RTT_WINDOW
        if rs.rtt > 0.0 and (rs.rtt < self.min_rtt or expired):
            self.min_rtt = rs.rtt
            self._min_rtt_time = now
        if expired and not self._idle_restart and self.mode != PROBE_RTT:
            self.mode = PROBE_RTT  # dip, drain the queue
            self._save_cwnd()
            self._probe_rtt_done = -1.0
        if self.mode == PROBE_RTT:
            # samples of this low-rate phase say nothing of the path
            delivered = self._delivered
            if not self._pr_app_on:
                self._pr_app_on = True
                self._pr_app_lo = delivered
            self._pr_app_hi = (delivered + self._in_flight) or 1
            # hold the floor for max(200 ms, one round)
            if self._probe_rtt_done < 0.0 and self._in_flight <= CWND_MIN_SEGMENTS * self.mss:
                self._probe_rtt_done = now + PROBE_RTT_TIME
                self._probe_rtt_round_done = False
                self._next_rtt_delivered = delivered
            elif self._probe_rtt_done >= 0.0:
                if self._round_start:
                    self._probe_rtt_round_done = True
                if self._probe_rtt_round_done:
                    self._check_probe_rtt_done(now)
        if rs.delivered > 0:
            self._idle_restart = False  # restart ends with the first new delivery

    def _update_gains(self) -> None:
        mode = self.mode
        if mode == STARTUP:
            self.pacing_gain = HIGH_GAIN
            self.cwnd_gain = HIGH_GAIN
        elif mode == DRAIN:
            self.pacing_gain = DRAIN_GAIN  # slow, to drain
            self.cwnd_gain = HIGH_GAIN  # keep cwnd
        elif mode == PROBE_BW:
            self.pacing_gain = 1.0 if self._lt_use_bw else PACING_GAIN_CYCLE[self.cycle_idx]
            self.cwnd_gain = CWND_GAIN
        else:
            self.pacing_gain = 1.0
            self.cwnd_gain = 1.0

    # ------------------------------------------------------------ cwnd

    def _save_cwnd(self) -> None:
        """bbr_save_cwnd: the last known good cwnd, to restore after loss or PROBE_RTT."""
        if self._prev_ca_state < _CA_RECOVERY and self.mode != PROBE_RTT:
            self._prior_cwnd = self.cwnd
        else:
            self._prior_cwnd = max(self._prior_cwnd, self.cwnd)

    def _set_cwnd(self, rs: RateSample, acked: int, bw: float, gain: float) -> None:
        """bbr_set_cwnd: slow-start toward the target, or snap down to it."""
        mss = self.mss
        cwnd = self.cwnd
        if acked > 0:
            # bbr_set_cwnd_to_recover_or_restore
            if rs.losses > 0:
                cwnd = max(cwnd - rs.losses, mss)
            state = self._ca_state
            prev = self._prev_ca_state
            if state == _CA_RECOVERY and prev != _CA_RECOVERY:
                # first round of recovery: packet conservation
                self._packet_conservation = True
                self._next_rtt_delivered = self._delivered  # start a round now
                # Linux: tcp_packets_in_flight() + acked, where every earlier ACK
                # was answered by sends before this one came. The driver feeds a
                # whole batch of ACKs first, so the pipe here has shrunk by what
                # the batch delivered before the loss showed (bug: a loss found
                # at the end of a flight's batch cut cwnd to 2 segments in
                # STARTUP); the flight before the batch, as the engine measures
                # it for every controller (``on_loss_sack``), is the pipe Linux
                # would have had, less what this ACK found lost
                cwnd = max(self._in_flight + acked, self._entry_flight - rs.losses)
            elif prev >= _CA_RECOVERY and state < _CA_RECOVERY:
                cwnd = max(cwnd, self._prior_cwnd)  # restore the cwnd of before
                self._packet_conservation = False
            self._prev_ca_state = state
            if self._packet_conservation:
                cwnd = max(cwnd, self._in_flight + acked)
            else:
                target = self._bdp(bw, gain) + self._ack_aggregation_cwnd()
                target = self._quantization_budget(target)
                if self.full_bw_reached:
                    cwnd = min(cwnd + acked, target)
                elif cwnd < target or self._delivered < self.initial_segments * mss:
                    cwnd = cwnd + acked
                cwnd = max(cwnd, CWND_MIN_SEGMENTS * mss)
        if self.mode == PROBE_RTT:
            cwnd = min(cwnd, CWND_MIN_SEGMENTS * mss)  # drain the queue
        self.cwnd = cwnd

    # ------------------------------------------------------------ long-term bw

    def _reset_lt_interval(self) -> None:
        self._lt_last_time = self._delivered_time
        self._lt_last_delivered = self._delivered
        self._lt_last_lost = self._lost
        self._lt_rtt_cnt = 0

    def _reset_lt(self) -> None:
        self._lt_bw = 0.0
        self._lt_use_bw = False
        self._lt_is_sampling = False
        self._reset_lt_interval()

    def _lt_interval_done(self, bw: float) -> None:
        """bbr_lt_bw_interval_done: two consistent lossy intervals: policed."""
        lt_bw = self._lt_bw
        if lt_bw:
            diff = abs(bw - lt_bw)
            if diff <= _LT_BW_RATIO * lt_bw or self._rate(diff, 1.0) <= _LT_BW_DIFF:
                self._lt_bw = (bw + lt_bw) / 2  # the average of the two intervals
                self._lt_use_bw = True
                self.pacing_gain = 1.0  # try to avoid drops
                self._lt_rtt_cnt = 0
                return
        self._lt_bw = bw
        self._reset_lt_interval()

    def _lt_bw_sampling(self, losses: int, app_limited: bool) -> None:
        """bbr_lt_bw_sampling: detect a token-bucket policer from intervals of
        4-16 rounds with a loss rate above 20 % and a consistent rate."""
        if self._lt_use_bw:
            if self.mode == PROBE_BW and self._round_start:
                self._lt_rtt_cnt += 1
                if self._lt_rtt_cnt >= _LT_BW_MAX_RTTS:
                    self._reset_lt()  # stop using lt_bw
                    self._reset_probe_bw_mode()  # restart gain cycling
            return
        # wait for the first loss: the policer's tokens are exhausted
        if not self._lt_is_sampling:
            if not losses:
                return
            self._reset_lt_interval()
            self._lt_is_sampling = True
        if app_limited:
            self._reset_lt()  # out of data: the interval would underestimate
            return
        if self._round_start:
            self._lt_rtt_cnt += 1
        if self._lt_rtt_cnt < _LT_INTVL_MIN_RTTS:
            return
        if self._lt_rtt_cnt > 4 * _LT_INTVL_MIN_RTTS:
            self._reset_lt()  # interval too long
            return
        if not losses:
            return  # end intervals on a loss, once the tokens are gone
        lost = self._lost - self._lt_last_lost
        delivered = self._delivered - self._lt_last_delivered
        if not delivered or lost * _BBR_UNIT < _LT_LOSS_THRESH * delivered:
            return
        t = self._delivered_time - self._lt_last_time
        if t < 0.001:
            return  # less than a millisecond: wait
        self._lt_interval_done(delivered / t)

    # ------------------------------------------------------------ engine events

    def set_mss(self, mss: int) -> None:
        """The effective MSS became known (after the handshake)."""
        self.mss = mss
        if not self._started:
            self.cwnd = self.initial_segments * mss
            self._init_pacing_rate()

    def on_ack(self, acked_bytes: int, rtt: float, now: float, in_flight: int) -> None:
        pass  # cwnd is set once per ACK by on_rate_sample (cong_control)

    def on_loss_fast(self, now: float, in_flight: int) -> None:
        self._enter_recovery(in_flight)

    def on_loss_sack(self, now: float, in_flight: int) -> None:
        self._enter_recovery(in_flight)

    def _enter_recovery(self, in_flight: int) -> None:
        # bbr_ssthresh saves cwnd; TCP_CA_Recovery makes the next sample
        # conserve packets for a round (ssthresh itself is left alone)
        self._save_cwnd()
        self._entry_flight = in_flight
        self._ca_state = _CA_RECOVERY

    def on_dupack_in_recovery(self) -> None:
        pass  # no window inflation: the rate sample drives cwnd

    def on_partial_ack(self, acked_bytes: int) -> None:
        pass  # idem

    def on_recovery_exit(self, now: float, in_flight: int) -> None:
        # back to TCP_CA_Open: the next sample restores the saved cwnd
        self._ca_state = _CA_OPEN

    def undo(self, prior_cwnd: int, prior_ssthresh: int) -> None:
        # bbr_undo_cwnd: a spurious slow-down: reset full-pipe detection and the
        # long-term sampling; cwnd stays and the return to Open restores it
        self._full_bw = 0.0
        self._full_bw_cnt = 0
        self._reset_lt()
        if prior_ssthresh > self.ssthresh:
            self.ssthresh = prior_ssthresh
        self._ca_state = _CA_OPEN

    def on_rto(self, now: float, in_flight: int) -> None:
        # tcp_enter_loss: bbr_ssthresh, all outstanding marked lost, cwnd of one segment
        self._start(now)
        self._save_cwnd()
        self._lost += in_flight
        self.cwnd = self.mss
        self._ca_state = _CA_LOSS
        # bbr_set_state(TCP_CA_Loss)
        self._prev_ca_state = _CA_LOSS
        self._full_bw = 0.0
        self._round_start = True  # treat the RTO like the end of a round
        self._lt_bw_sampling(1, False)

    def restart_cwnd_after_idle(self) -> bool:
        """No: BBR handles idle itself (Linux skips tcp_cwnd_restart for cong_control)."""
        return False

    def on_idle_restart(self, now: float, idle: float) -> None:
        """bbr_cwnd_event(CA_EVENT_TX_START) of an app-limited sender."""
        self._start(now)
        self._idle_restart = True
        self._ack_epoch_time = now
        self._ack_epoch_acked = 0
        if self.mode == PROBE_BW:
            self._set_pacing_rate(self.bw, 1.0)  # no need to probe after idle
        elif self.mode == PROBE_RTT:
            self._check_probe_rtt_done(now)

    def __repr__(self) -> str:
        return (
            f"<Bbr {self.mode} bw={self.bw:.0f} B/s min_rtt={self.min_rtt * 1e3:.3f} ms "
            f"cwnd={self.cwnd} pacing={self.pacing_rate:.0f} B/s>"
        )
