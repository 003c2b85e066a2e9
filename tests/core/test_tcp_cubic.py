"""CUBIC (RFC 9438) and HyStart++ (RFC 9406): explicit time, synthetic ACKs and
rate samples, no engine; then one lossy transfer in the simulator against NewReno."""

from __future__ import annotations

import itertools
import math
import random
import statistics

import pytest

from aionetstack.core.config import StackConfig
from aionetstack.core.sim import SimLink, Simulator
from aionetstack.core.tcp.congestion import INITIAL_SSTHRESH, make_congestion_control
from aionetstack.core.tcp.cubic import (
    ALPHA_CUBIC,
    BETA_CUBIC,
    C_CUBIC,
    CSS_GROWTH_DIVISOR,
    CSS_ROUNDS,
    N_RTT_SAMPLE,
    Cubic,
)
from aionetstack.core.tcp.rate import RateSample
from aionetstack.core.tcp.states import TcpState

MSS = 1000


def in_ca(cwnd_segs: int, *, fast_convergence: bool = True) -> Cubic:
    """A Cubic in congestion avoidance at ``cwnd_segs`` segments (no loss seen yet)."""
    c = Cubic(MSS, fast_convergence=fast_convergence, hystart=False)
    c.cwnd = cwnd_segs * MSS
    c.ssthresh = 2 * MSS
    return c


def lose(c: Cubic, now: float) -> None:
    """A SACK loss at ``now``, recovered at once (the full ACK at ``now``)."""
    c.on_loss_sack(now, c.cwnd)
    c.on_recovery_exit(now, c.cwnd)


def ack_rtt(c: Cubic, start: float, rtt: float, per_ack: int = 10) -> float:
    """One RTT of ACKs (``per_ack`` segments each) spread evenly from ``start``."""
    n = max(c.cwnd // (per_ack * MSS), 1)
    for i in range(n):
        c.on_ack(per_ack * MSS, rtt, start + rtt * (i + 1) / n, 0)
    return start + rtt


# ---------------------------------------------------------------- RFC 9438


def test_multiplicative_decrease_uses_beta_and_cwnd_not_the_flight() -> None:
    c = in_ca(100)
    # the engine's flight (40 segments) is ignored: Linux cubictcp_recalc_ssthresh
    c.on_loss_sack(1.0, 40 * MSS)
    # RFC 9438 4.6: ssthresh = cwnd = cwnd * beta_cubic (Linux 717/1024)
    assert c.ssthresh == c.cwnd == int(100 * MSS * 717 / 1024) == 70019
    assert c.w_max == 100 * MSS
    assert c.state_name() == "congestion-avoidance"
    # RFC 5681 3.2 without SACK: ssthresh + 3 SMSS, inflated per dup ACK, then
    # RFC 6582 3.2 step 5 partial-ACK deflation and step 6 cwnd = ssthresh
    f = in_ca(100)
    f.on_loss_fast(1.0, 40 * MSS)
    assert f.ssthresh == 70019 and f.cwnd == 70019 + 3 * MSS
    f.on_dupack_in_recovery()
    assert f.cwnd == 70019 + 4 * MSS
    f.on_partial_ack(5 * MSS)
    assert f.cwnd == 70019 + 4 * MSS - 5 * MSS + MSS
    f.on_recovery_exit(1.1, 0)
    assert f.cwnd == 70019
    # RFC 9438 4.6: at least 2 MSS
    small = in_ca(2)
    small.on_loss_sack(1.0, 2 * MSS)
    assert small.ssthresh == small.cwnd == 2 * MSS


def test_rto_one_mss_ssthresh_from_beta_once_per_window() -> None:
    c = in_ca(100)
    c.on_rto(1.0, 100 * MSS)
    # RFC 9438 4.8 / RFC 5681 3.1: cwnd = 1 MSS, ssthresh = beta * cwnd
    assert c.cwnd == MSS and c.ssthresh == 70019
    assert c.w_max == 0.0  # Linux bictcp_reset: W_max forgotten
    # a backed-off RTO with no ACK since: no second reduction (Linux tcp_enter_loss)
    c.on_rto(2.0, 100 * MSS)
    assert c.cwnd == MSS and c.ssthresh == 70019
    # slow start to ssthresh, then congestion avoidance with K = 0 (RFC 9438 4.8)
    while c.cwnd < c.ssthresh:
        assert c.epoch_start is None
        c.on_ack(10 * MSS, 0.1, 2.5, 0)
    # Linux tcp_slow_start: up to ssthresh; the ACK's remaining bytes start the
    # epoch and count in congestion avoidance (at most 1.5 x per RTT)
    assert c.ssthresh < c.cwnd < c.ssthresh + MSS
    assert c.k == 0.0 and c.epoch_start == 2.5
    # an RTO in fast recovery keeps the recovery's ssthresh
    r = in_ca(100)
    r.on_loss_sack(1.0, 0)
    r.on_rto(1.5, 0)
    assert r.cwnd == MSS and r.ssthresh == 70019


def test_w_cubic_is_rfc_9438_eq_1_with_k_from_w_max_and_beta() -> None:
    c = in_ca(1000)
    lose(c, 0.0)
    c.on_ack(MSS, 0.1, 0.0, 0)  # the first ACK after the reduction starts the epoch
    assert c.epoch_start == 0.0
    w_max = 1000.0  # segments
    # RFC 9438 4.2 eq. 2 with cwnd_epoch = beta * W_max: K = cbrt(W_max (1 - beta) / C)
    k = math.cbrt(w_max * (1 - BETA_CUBIC) / C_CUBIC)
    assert c.k == pytest.approx(k, abs=1e-4)  # cwnd_epoch rounds to whole bytes
    assert k == pytest.approx(9.08, abs=0.01)  # the RFC's 0.7: cbrt(750) = 9.086
    for t in (0.0, 1.0, 4.5, k, 12.0, 20.0):
        rfc = C_CUBIC * (t - k) ** 3 + w_max  # RFC 9438 4.2 eq. 1, segments
        assert c.w_cubic(t) / MSS == pytest.approx(rfc, abs=0.01), t
    assert c.w_cubic(0.0) == pytest.approx(int(w_max * MSS * BETA_CUBIC), abs=1)
    assert c.w_cubic(k) == pytest.approx(w_max * MSS)


def test_each_ack_moves_cwnd_towards_w_cubic_one_rtt_ahead() -> None:
    c = in_ca(1000)
    lose(c, 0.0)
    c.on_ack(MSS, 0.1, 0.0, 0)  # the epoch starts at 0.0; SRTT 100 ms
    for t in (1.0, 3.0, 8.0):
        cwnd = c.cwnd
        target = c.w_cubic(t + 0.1)  # RFC 9438 4.2: target = W_cubic(t + RTT)
        assert cwnd < target < 1.5 * cwnd
        c.on_ack(10 * MSS, 0.1, t, 0)
        # RFC 9438 4.4: (target - cwnd) / cwnd per segment acknowledged
        assert c.cwnd == pytest.approx(cwnd + (target - cwnd) * 10 * MSS / cwnd, abs=1)
    # far beyond W_max the target is capped at 1.5 cwnd: half an MSS per MSS acked
    cwnd = c.cwnd
    assert c.w_cubic(60.1) > 1.5 * cwnd
    c.on_ack(10 * MSS, 0.1, 60.0, 0)
    assert c.cwnd == pytest.approx(cwnd + 5 * MSS, abs=1)


def test_cwnd_follows_the_curve_concave_then_convex() -> None:
    rtt = 0.1
    c = in_ca(1000)
    lose(c, 0.0)
    now = 0.0
    samples: list[tuple[float, int]] = []  # (t, cwnd) at each RTT
    while now < 16.0:
        now = ack_rtt(c, now, rtt)
        samples.append((now, c.cwnd))
        assert c.w_cubic(now) > c.w_est  # not in the Reno-friendly region here
    k = c.k
    for t, cwnd in samples:
        # each ACK aims at W_cubic(t + RTT): after an RTT of ACKs, cwnd is on the
        # curve (within a segment or two plus the slope over one RTT)
        slope = abs(c.w_cubic(t + rtt) - c.w_cubic(t))
        assert abs(cwnd - c.w_cubic(t)) <= 2 * MSS + slope, (t, cwnd, c.w_cubic(t))
    growth = [(t, b - a) for (t, a), (_, b) in itertools.pairwise(samples)]
    before = [g for t, g in growth if 0.5 < t < k - 0.5]
    after = [g for t, g in growth if k + 0.5 < t < 15.5]
    # concave below W_max: growth per RTT falls towards the plateau ...
    assert before[0] > 10 * before[-1] > 0
    assert all(x >= y - MSS for x, y in itertools.pairwise(before))
    # ... convex above it: growth per RTT rises again
    assert after[-1] > 10 * after[0] and after[-1] > 4 * MSS
    assert all(y >= x - MSS for x, y in itertools.pairwise(after))
    # the plateau is at W_max
    at_k = min(samples, key=lambda s: abs(s[0] - k))[1]
    assert at_k == pytest.approx(1000 * MSS, rel=0.01)


def test_fast_convergence_lowers_w_max_when_w_max_is_not_regained() -> None:
    c = in_ca(1000)
    lose(c, 0.0)
    assert c.w_max == 1000 * MSS
    c.cwnd = 900 * MSS  # a second loss before W_max is reached again
    lose(c, 5.0)
    # RFC 9438 4.7: W_max = cwnd * (1 + beta) / 2
    assert c.w_max == pytest.approx(900 * MSS * (1 + BETA_CUBIC) / 2)
    assert c.w_max == pytest.approx(765_088, abs=1)
    assert c.ssthresh == int(900 * MSS * BETA_CUBIC)
    # the new K: from cwnd_epoch up to the lowered W_max
    c.on_ack(MSS, 0.1, 5.0, 0)
    assert c.k == pytest.approx(math.cbrt((c.w_max - c.ssthresh) / MSS / C_CUBIC), abs=1e-6)
    # disabled: W_max is the cwnd before the reduction
    n = in_ca(1000, fast_convergence=False)
    lose(n, 0.0)
    n.cwnd = 900 * MSS
    lose(n, 5.0)
    assert n.w_max == 900 * MSS
    # and beyond the old W_max, W_max is the new cwnd
    g = in_ca(1000)
    lose(g, 0.0)
    g.cwnd = 1100 * MSS
    lose(g, 9.0)
    assert g.w_max == 1100 * MSS


def test_reno_friendly_region_at_small_rtt_and_window() -> None:
    # RFC 9438 4.3: short RTT, small window: the curve is too slow, W_est rules
    rtt = 0.001
    c = in_ca(20)
    lose(c, 0.0)
    start = c.cwnd
    now = 0.0
    for _ in range(10):
        now = ack_rtt(c, now, rtt, per_ack=1)
    # Reno-friendly: alpha_cubic (0.53) segments per RTT, well above the curve
    assert c.w_cubic(now) < c.w_est
    assert c.cwnd == int(c.w_est)
    assert (c.cwnd - start) / MSS == pytest.approx(10 * ALPHA_CUBIC, abs=0.3)
    # once W_est reaches cwnd_prior (20 segments), alpha becomes 1 (RFC 9438 4.3)
    while c.cwnd < 20 * MSS:
        now = ack_rtt(c, now, rtt, per_ack=1)
    before = c.cwnd
    for _ in range(10):
        now = ack_rtt(c, now, rtt, per_ack=1)
    assert (c.cwnd - before) / MSS == pytest.approx(10, abs=0.6)
    assert now < 0.5 and c.w_cubic(now) < c.w_est  # all of it well before K (2.5 s)
    # at a long RTT and a larger window the curve rules instead
    far = in_ca(200)
    lose(far, 0.0)
    t = 0.0
    for _ in range(10):
        t = ack_rtt(far, t, 0.2, per_ack=1)
        assert far.w_cubic(t) > far.w_est
    assert far.cwnd > int(far.w_est) + 30 * MSS


def test_undo_restores_window_and_curve() -> None:
    c = in_ca(1000)
    lose(c, 0.0)
    now = 0.0
    for _ in range(20):
        now = ack_rtt(c, now, 0.1)
    before = (c.cwnd, c.ssthresh, c.w_max, c.k, c.epoch_start, c.w_est)
    # a (spurious) loss: fast convergence lowers W_max, the epoch ends
    c.on_loss_sack(now, c.cwnd)
    assert c.cwnd < before[0] and c.w_max < before[2] and c.epoch_start is None
    # RFC 9438 4.9.2 / Linux tcp_undo_cwnd_reduction: everything comes back
    c.undo(before[0], before[1])
    assert (c.cwnd, c.ssthresh, c.w_max, c.k, c.epoch_start, c.w_est) == before
    # and the curve resumes where it was (t counted from the old epoch)
    c.on_ack(MSS, 0.1, now + 0.01, 0)
    assert c.epoch_start == before[4]
    # undone after an RTO: W_max and the epoch return too
    r = in_ca(1000)
    lose(r, 0.0)
    t = ack_rtt(r, 0.0, 0.1)
    saved = (r.cwnd, r.ssthresh, r.w_max, r.k, r.epoch_start)
    r.on_rto(t, r.cwnd)
    assert r.w_max == 0.0
    r.undo(saved[0], saved[1])
    assert (r.cwnd, r.ssthresh, r.w_max, r.k, r.epoch_start) == saved
    # RFC 9438 4.9.2: detected late, with cwnd already past the old one: keep the new state
    late = in_ca(1000)
    late.on_loss_sack(0.0, 0)
    wmax = late.w_max
    late.cwnd = 1200 * MSS
    late.undo(1000 * MSS, 2 * MSS)
    assert late.cwnd == 1200 * MSS and late.w_max == wmax and late.ssthresh == 700_195


def test_idle_restart_shifts_the_epoch_by_the_idle_time() -> None:
    def grow(idle: float, restart: bool = True) -> int:
        c = in_ca(1000)
        lose(c, 0.0)
        now = 0.0
        for _ in range(10):
            now = ack_rtt(c, now, 0.1)
        epoch = c.epoch_start
        assert epoch is not None
        if idle:
            # the last ACK at ``now``; data goes out again ``idle`` later
            if restart:
                c.on_idle_restart(now + idle, idle)
                assert c.epoch_start == pytest.approx(epoch + idle)
            now += idle
        for _ in range(10):
            now = ack_rtt(c, now, 0.1)
        return c.cwnd

    # Linux CA_EVENT_TX_START / RFC 9438 5.8: the curve leaves out the idle period
    assert grow(5.0) == pytest.approx(grow(0.0), abs=MSS)
    # unshifted, the idle time would count: far up the curve
    assert grow(5.0, restart=False) > grow(0.0) + 100 * MSS
    # never beyond now; nothing to shift before an epoch
    c = in_ca(1000)
    lose(c, 0.0)
    now = ack_rtt(c, 0.0, 0.1)
    c.on_idle_restart(now + 0.2, 0.2)
    c.on_idle_restart(now + 0.25, 0.25)  # 0.25 s more would put the epoch after now
    assert c.epoch_start == pytest.approx(now + 0.25)
    fresh = Cubic(MSS)
    fresh.on_idle_restart(10.0, 10.0)
    assert fresh.epoch_start is None


def test_factory_and_protocol() -> None:
    cc = make_congestion_control("cubic", 1448, 10)
    assert isinstance(cc, Cubic)
    assert cc.name == "cubic" and cc.pacing_rate == 0.0
    assert cc.cwnd == 14480 and cc.ssthresh == INITIAL_SSTHRESH
    cc.set_mss(1000)
    assert cc.cwnd == 10_000 and cc.state_name() == "slow-start"
    assert StackConfig(congestion_control="cubic").congestion_control == "cubic"


# ---------------------------------------------------------------- RFC 9406


class Rounds:
    """Slow-start rounds of synthetic ACKs with their rate samples."""

    def __init__(self, c: Cubic) -> None:
        self.c = c
        self.delivered = 0
        self.now = 0.0

    def round(self, rtt: float, acks: int = 10) -> None:
        """One round: ``acks`` ACKs of one MSS, each with RTT sample ``rtt``."""
        start = self.delivered  # every packet of the round went out after this
        for _ in range(acks):
            self.ack(rtt, start)

    def ack(self, rtt: float, prior: int) -> None:
        self.now += 0.001
        self.delivered += MSS
        self.c.on_ack(MSS, rtt, self.now, 0)
        rs = RateSample(
            delivered=self.delivered - prior, interval=rtt or 0.01, rtt=rtt,
            prior_delivered=prior, total_delivered=self.delivered, acked_sacked=MSS,
        )  # fmt: skip
        self.c.on_rate_sample(rs, self.now)


def entered_css() -> tuple[Cubic, Rounds]:
    """A Cubic that entered CSS on a 100 -> 120 ms rise, and its rounds."""
    c = Cubic(MSS)
    r = Rounds(c)
    r.round(0.100)
    r.round(0.120)
    assert c.in_css
    return c, r


def test_hystart_rtt_rise_enters_css_after_eight_samples() -> None:
    c = Cubic(MSS)
    r = Rounds(c)
    r.round(0.100)
    r.round(0.100)
    assert c.state_name() == "slow-start"
    # RttThresh = clamp(100 ms / 8, 4 ms, 16 ms) = 12.5 ms: a 12 ms rise is not enough
    r.round(0.112)
    assert c.state_name() == "slow-start"
    # against the last round's 112 ms, RttThresh is 14 ms: 15 ms more is enough,
    # at the eighth sample of the round (RFC 9406 4.2: no judgement before)
    start = r.delivered
    for i in range(N_RTT_SAMPLE - 1):
        r.ack(0.127, start)
        assert c.state_name() == "slow-start", i
    r.ack(0.127, start)
    assert c.state_name() == "conservative-slow-start" and c.in_css
    assert c.ssthresh == INITIAL_SSTHRESH
    # CSS: growth is 1/CSS_GROWTH_DIVISOR of the bytes acknowledged
    cwnd = c.cwnd
    for _ in range(4):
        r.ack(0.127, start)
    assert c.cwnd == cwnd + 4 * MSS // CSS_GROWTH_DIVISOR


@pytest.mark.parametrize(
    ("base", "rise", "exits"),
    [(0.010, 0.0045, True), (0.010, 0.0035, False), (0.200, 0.017, True), (0.200, 0.015, False)],
    ids=["floor-4ms-over", "floor-4ms-under", "cap-16ms-over", "cap-16ms-under"],
)
def test_hystart_rtt_thresh_is_clamped(base: float, rise: float, exits: bool) -> None:
    c = Cubic(MSS)
    r = Rounds(c)
    r.round(base)
    r.round(base + rise)
    assert c.in_css is exits


def test_hystart_never_exits_without_eight_samples() -> None:
    c = Cubic(MSS)
    r = Rounds(c)
    rtt = 0.05
    for _ in range(6):
        r.round(rtt, acks=N_RTT_SAMPLE - 1)
        rtt *= 2  # a doubling every round, never judged
    assert c.state_name() == "slow-start" and not c.in_css
    # ACKs without an RTT sample do not count
    c = Cubic(MSS)
    r = Rounds(c)
    r.round(0.05)
    start = r.delivered
    for _ in range(5):
        r.ack(0.5, start)
    for _ in range(10):
        r.ack(0.0, start)
    assert not c.in_css
    r.ack(0.5, start)
    r.ack(0.5, start)
    r.ack(0.5, start)
    assert c.in_css  # the eighth sample


def test_hystart_css_to_congestion_avoidance_after_css_rounds() -> None:
    c, r = entered_css()  # CSS from the 8th ACK of a round (counted as CSS round 1)
    for i in range(CSS_ROUNDS - 1):
        r.round(0.120)
        assert c.in_css, i
        assert c.state_name() == "conservative-slow-start"
    cwnd = c.cwnd
    # RFC 9406 4.2: after CSS_ROUNDS rounds, ssthresh = cwnd: congestion avoidance
    r.ack(0.120, r.delivered)
    assert c.ssthresh == c.cwnd == cwnd + MSS // CSS_GROWTH_DIVISOR
    assert c.state_name() == "congestion-avoidance" and not c.in_css
    # RFC 9438 4.10: W_max unknown, so K = 0 from cwnd_epoch; Linux's 5 %/RTT floor
    assert c.w_max == 0.0
    c.on_ack(MSS, 0.1, 10.0, 0)
    assert c.k == 0.0 and c.epoch_start == 10.0
    # HyStart++ is over for the connection (RFC 9406 4.2: the initial slow start only)
    c.on_rto(11.0, 0)
    r.now = 11.0
    r.round(0.100)
    r.round(0.300)
    assert not c.in_css and c.state_name() == "slow-start"


def test_hystart_css_returns_to_slow_start_when_rtt_falls() -> None:
    c, r = entered_css()
    # RFC 9406 4.2: the round's minimum falls below cssBaselineMinRtt (120 ms)
    start = r.delivered
    for _ in range(N_RTT_SAMPLE - 1):
        r.ack(0.110, start)
    assert c.in_css
    r.ack(0.110, start)
    assert not c.in_css and c.state_name() == "slow-start"
    cwnd = c.cwnd
    r.ack(0.110, start)
    assert c.cwnd == cwnd + MSS  # full slow-start growth again
    # and HyStart++ still judges the rounds: a new rise enters CSS again
    r.round(0.110)
    r.round(0.130)
    assert c.in_css


def test_hystart_ends_on_loss_and_comes_back_on_undo() -> None:
    c, r = entered_css()
    cwnd, ssthresh = c.cwnd, c.ssthresh
    c.on_loss_sack(r.now, cwnd)
    assert not c.in_css and c.ssthresh == int(cwnd * BETA_CUBIC)
    assert c.state_name() == "congestion-avoidance"
    c.undo(cwnd, ssthresh)
    assert c.in_css and c.ssthresh == INITIAL_SSTHRESH and c.cwnd == cwnd


# ------------------------------------------------------------ end to end


def lossy_transfer(cc: str, seed: int) -> list[float]:
    """2 MiB over 10 ms RTT with 1 % loss each way; the ssthresh each fast
    retransmit sets, over the cwnd just before it."""
    sim = Simulator(seed, trace=False, record_events=False)
    c, s = sim.tcp_pair(StackConfig(congestion_control=cc), link=SimLink(delay=0.005, loss=0.01))
    c.connect(s.addr, s.port)
    data = random.Random(seed).randbytes(2 * 1024 * 1024)
    c.write(data)
    c.shutdown()
    s.shutdown()
    ratios: list[float] = []
    prev = None
    for _ in range(1_000_000):
        if not sim.step():
            break
        assert c.conn is not None
        info = c.conn.tcp_info()
        if (
            prev is not None
            and info.fast_retransmits > prev.fast_retransmits
            and info.rto_expirations == prev.rto_expirations
            and prev.cwnd >= 8 * prev.snd_mss
        ):
            ratios.append(info.ssthresh / prev.cwnd)
        prev = info
    assert bytes(s.received) == data, f"{cc} seed={seed}"
    assert s.conn is not None and c.conn is not None
    for conn in (c.conn, s.conn):
        assert conn.state in (TcpState.CLOSED, TcpState.TIME_WAIT)
    return ratios


@pytest.mark.parametrize("seed", [1, 2])
def test_lossy_transfer_cubic_reduces_to_beta_newreno_to_half(seed: int) -> None:
    cubic = lossy_transfer("cubic", seed)
    reno = lossy_transfer("newreno", seed)
    assert len(cubic) >= 5 and len(reno) >= 5
    # RFC 9438 4.6 (from cwnd): ~0.7 of the window before the loss, not 0.5
    assert statistics.median(cubic) == pytest.approx(0.7, abs=0.02), cubic
    # RFC 5681 eq. 4 (from the flight before the batch, at most cwnd)
    assert statistics.median(reno) == pytest.approx(0.5, abs=0.03), reno
