"""BBR (Linux tcp_bbr.c) on a simulated path of known bandwidth and RTT, and
its loss and event handling on scripted rate samples, in explicit time."""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

import pytest
from path_model import Path

from aionetstack.core.config import StackConfig
from aionetstack.core.tcp.bbr import (
    DRAIN,
    DRAIN_GAIN,
    HIGH_GAIN,
    PACING_GAIN_CYCLE,
    PROBE_BW,
    PROBE_RTT,
    STARTUP,
    Bbr,
    WindowedMax,
)
from aionetstack.core.tcp.congestion import make_congestion_control
from aionetstack.core.tcp.rate import RateSample

MSS = 1000
RATE = 1.25e6  # 10 Mbit/s
RTT = 0.04
MIN_RTT = RTT + MSS / RATE  # propagation plus one segment's serialisation
BDP = RATE * MIN_RTT


class Point(NamedTuple):
    now: float
    mode: str
    cwnd: int
    pacing_gain: float
    pacing_rate: float
    cycle_idx: int
    bw: float
    min_rtt: float
    in_recovery: bool
    policed: bool


class Run(NamedTuple):
    cc: Bbr
    path: Path
    points: list[Point]


def simulate(bbr_seed: int, until: float, **path: float | tuple[float, float]) -> Run:
    cc = Bbr(MSS, 10, seed=bbr_seed)
    points: list[Point] = []
    p = Path(cc, rate=RATE, rtt=RTT, mss=MSS, **path)  # type: ignore[arg-type]

    def observe(now: float, rs: RateSample) -> None:
        points.append(
            Point(
                now,
                cc.mode,
                cc.cwnd,
                cc.pacing_gain,
                cc.pacing_rate,
                cc.cycle_idx,
                cc.bw,
                cc.min_rtt,
                p.in_recovery,
                cc.policed,
            )
        )

    p.observer = observe
    p.run(until)
    return Run(cc, p, points)


def modes(points: list[Point]) -> list[tuple[float, str]]:
    out: list[tuple[float, str]] = []
    for pt in points:
        if not out or out[-1][1] != pt.mode:
            out.append((pt.now, pt.mode))
    return out


@pytest.fixture(scope="module")
def long_run() -> Run:
    """12 s of bulk transfer through a 10 Mbit/s, 40 ms path with a deep buffer."""
    return simulate(1, 12.0)


# ----------------------------------------------------------- the model on a path


def test_state_sequence_startup_drain_probe_bw_probe_rtt(long_run: Run) -> None:
    seq = modes(long_run.points)
    assert [m for _, m in seq] == [STARTUP, DRAIN, PROBE_BW, PROBE_RTT, PROBE_BW]
    t_drain = seq[1][0]
    # STARTUP doubles from 10 segments to a BDP of ~51, then 3 flat rounds
    assert 0.2 < t_drain < 1.0
    assert seq[2][0] - t_drain < 4 * MIN_RTT  # DRAIN empties the queue in about a round


def test_bandwidth_and_min_rtt_estimates(long_run: Run) -> None:
    steady = [pt for pt in long_run.points if pt.now > 2.0]
    assert all(abs(pt.bw - RATE) < 0.1 * RATE for pt in steady)
    # (until PROBE_RTT: the first sample after the filter expires replaces it)
    assert all(pt.min_rtt == pytest.approx(MIN_RTT, rel=1e-6) for pt in steady if pt.now < 10)
    # the pipe was kept full: the bottleneck's rate, less PROBE_RTT's dip
    goodput = long_run.path.est.delivered / 12.0
    assert goodput > 0.9 * RATE


def test_cwnd_near_two_bdp_in_probe_bw(long_run: Run) -> None:
    cwnds = [pt.cwnd for pt in long_run.points if pt.now > 2.0 and pt.mode == PROBE_BW]
    # 2 x BDP, plus 3 send quanta (2 segments each at this rate), rounding to
    # an even count, 2 segments in the 1.25 phase and the ACK aggregation allowance
    assert min(cwnds) >= 2 * BDP
    assert max(cwnds) <= 2 * BDP + 12 * MSS


def test_pacing_rate_follows_gain_and_bandwidth(long_run: Run) -> None:
    for pt in long_run.points:
        if pt.now > 2.0 and pt.mode == PROBE_BW:
            assert pt.pacing_rate == pytest.approx(pt.pacing_gain * pt.bw * 0.99)
    startup = [pt for pt in long_run.points if pt.mode == STARTUP]
    assert all(pt.pacing_gain == HIGH_GAIN for pt in startup)
    assert pytest.approx(2 / math.log(2), abs=0.002) == HIGH_GAIN
    drain = [pt for pt in long_run.points if pt.mode == DRAIN]
    assert drain and all(pt.pacing_gain == DRAIN_GAIN for pt in drain)


def test_probe_rtt_after_ten_seconds_without_a_lower_min_rtt(long_run: Run) -> None:
    pts = long_run.points
    seq = modes(pts)
    t_enter, t_exit = seq[3][0], seq[4][0]
    # the last time min_rtt went down (the first sample, bar float noise)
    before = [pt for pt in pts if pt.now < t_enter]
    t_min = before[0].now
    for a, b in itertools.pairwise(before):
        if b.min_rtt < a.min_rtt:
            t_min = b.now
    assert 10.0 < t_enter - t_min < 10.0 + 2 * MIN_RTT
    probing = [pt for pt in pts if t_enter <= pt.now < t_exit]
    assert all(pt.cwnd <= 4 * MSS for pt in probing)
    # 200 ms at the floor, once the flight got there, and a round trip
    assert 0.2 < t_exit - t_enter < 0.2 + 6 * MIN_RTT
    after = [pt for pt in pts if pt.now >= t_exit]
    assert after[0].cwnd >= 2 * BDP  # the saved cwnd is restored
    assert after[0].min_rtt == pytest.approx(MIN_RTT, rel=1e-6)


def test_gain_cycle_order(long_run: Run) -> None:
    pts = [pt for pt in long_run.points if pt.mode == PROBE_BW and pt.now < 10.0]
    phases: list[tuple[float, int]] = []
    for pt in pts:
        if not phases or phases[-1][1] != pt.cycle_idx:
            phases.append((pt.now, pt.cycle_idx))
    assert len(phases) > 100
    for (t0, a), (t1, b) in itertools.pairwise(phases):
        assert b == (a + 1) % 8
        if PACING_GAIN_CYCLE[a] != 0.75:  # the drain phase ends once at the BDP
            assert t1 - t0 > MIN_RTT  # the others last at least a min_rtt
    gains = [PACING_GAIN_CYCLE[i] for _, i in phases]
    k = gains.index(1.25)
    assert gains[k : k + 9] == [1.25, 0.75, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.25]
    # a random start phase, never the draining one
    assert phases[0][1] != 1


def test_same_seed_same_run_and_seeds_vary_the_start_phase() -> None:
    a = simulate(7, 2.0)
    b = simulate(7, 2.0)
    assert a.points == b.points
    starts = set()
    for seed in range(8):
        r = simulate(seed, 1.2)
        first = next(pt for pt in r.points if pt.mode == PROBE_BW)
        starts.add(first.cycle_idx)
    assert len(starts) > 1
    assert 1 not in starts


# ----------------------------------------------------------- losses on a path


def test_random_loss_does_not_collapse_the_rate() -> None:
    r = simulate(3, 6.0, loss=0.01, seed=5)
    assert r.path.drops > 30
    assert r.path.est.delivered / 6.0 > 0.9 * RATE
    steady = [pt for pt in r.points if pt.now > 2.0]
    assert all(abs(pt.bw - RATE) < 0.1 * RATE for pt in steady)


def test_shallow_buffer_overflow_in_startup_recovers() -> None:
    r = simulate(2, 4.0, buffer=20 * MSS)
    assert r.path.drops > 0
    assert any(pt.in_recovery for pt in r.points)
    assert [m for _, m in modes(r.points)][:3] == [STARTUP, DRAIN, PROBE_BW]
    assert r.path.est.delivered / 4.0 > 0.85 * RATE


def test_policer_is_detected_by_long_term_sampling() -> None:
    # a token bucket of 250 kB/s (20 kB deep) ahead of a 1.25 MB/s bottleneck
    r = simulate(4, 3.0, policer=(250000.0, 20000.0))
    assert r.path.drops > 20
    policed = [pt for pt in r.points if pt.policed]
    assert policed and policed[0].now < 1.0  # found within the first second
    assert all(abs(pt.bw - 250000.0) < 0.05 * 250000.0 for pt in policed)
    assert all(pt.pacing_gain == 1.0 for pt in policed)  # no probing while policed
    # 48 rounds later the long-term estimate is dropped and probing resumes
    t_end = next(pt.now for pt in r.points if pt.now > policed[0].now and not pt.policed)
    assert t_end - policed[0].now == pytest.approx(48 * MIN_RTT, rel=0.25)
    assert r.path.est.delivered / 3.0 == pytest.approx(250000.0, rel=0.05)


# ----------------------------------------------------------- scripted samples


class Feeder:
    """Rate samples for one round trip each (every ACK ends a round)."""

    def __init__(self, cc: Bbr, rtt: float = 0.05) -> None:
        self.cc = cc
        self.rtt = rtt
        self.now = 0.0
        self.delivered = 0
        self.last_prior = 0

    def round(
        self, nbytes: int, *, losses: int = 0, in_flight: int = 0, same_round: bool = False
    ) -> RateSample:
        """A sample for ``nbytes``; it ends a round unless ``same_round``
        (its newest byte was sent before the round began)."""
        prior = self.last_prior if same_round else self.delivered
        self.last_prior = prior
        self.delivered += nbytes
        self.now += self.rtt
        rs = RateSample(
            delivered=self.delivered - prior,
            interval=self.rtt,
            rtt=self.rtt,
            prior_delivered=prior,
            total_delivered=self.delivered,
            prior_in_flight=in_flight + nbytes + losses,
            acked_sacked=nbytes,
            losses=losses,
        )
        self.cc.on_rate_sample(rs, self.now)
        return rs


def filled(seed: int = 0) -> tuple[Bbr, Feeder]:
    """A BBR in PROBE_BW after a scripted startup at 50 kB per 50 ms round."""
    cc = Bbr(MSS, 10, seed=seed)
    f = Feeder(cc)
    for n in (10, 20, 40, 50, 50, 50, 50):
        f.round(n * MSS)
    assert cc.mode == PROBE_BW
    return cc, f


def test_full_bandwidth_needs_three_rounds_without_25_percent_growth() -> None:
    cc = Bbr(MSS, 10, seed=0)
    f = Feeder(cc)
    for n in (10, 20, 40, 50, 60):  # 60 / 50 = 1.2: less than 25 % growth
        f.round(n * MSS)
    assert cc.mode == STARTUP
    f.round(60 * MSS)
    assert cc.mode == STARTUP
    f.round(60 * MSS, in_flight=100 * MSS)  # third flat round: the pipe is full
    assert cc.mode == DRAIN
    # the BDP (60 segments) and 3 send quanta of the STARTUP pacing rate
    assert cc.ssthresh == (60 + 3 * 3 + 1) * MSS
    f.round(60 * MSS, in_flight=10 * MSS)  # the queue has drained
    assert cc.mode == PROBE_BW


def test_packet_conservation_in_recovery_then_restore() -> None:
    cc, f = filled()
    before = cc.cwnd
    # the flight before the ACK (or the batch of ACKs) that shows the loss
    cc.on_loss_sack(f.now, 37 * MSS)
    assert cc.cwnd == before  # nothing changes until the ACK's sample
    f.round(5 * MSS, losses=2 * MSS, in_flight=30 * MSS)
    assert cc.cwnd == 30 * MSS + 5 * MSS  # the flight plus what this ACK delivered
    f.round(3 * MSS, in_flight=33 * MSS, same_round=True)
    assert cc.cwnd == 36 * MSS  # conservation for the round: the pipe plus what is ACKed
    f.round(3 * MSS, in_flight=33 * MSS)
    assert cc.cwnd == 39 * MSS  # then it grows by what is delivered
    cc.on_recovery_exit(f.now, 20 * MSS)
    f.round(5 * MSS, in_flight=20 * MSS)
    assert cc.cwnd == before  # the cwnd saved on entering recovery


def test_rto_cuts_to_one_segment_and_restores_on_exit() -> None:
    cc, f = filled()
    before = cc.cwnd
    cc.on_rto(f.now, 40 * MSS)
    assert cc.cwnd == MSS
    assert cc.state_name() == PROBE_BW
    f.round(MSS)
    assert cc.cwnd == 4 * MSS  # slow start toward the target, at least 4 segments
    cc.on_recovery_exit(f.now, 0)
    f.round(MSS)
    assert cc.cwnd == before


def test_undo_resets_full_pipe_detection_and_returns_to_open() -> None:
    cc, f = filled()
    before = cc.cwnd
    cc.on_loss_fast(f.now, 12 * MSS)  # the flight before the ACK
    f.round(2 * MSS, in_flight=10 * MSS)
    assert cc.cwnd == 12 * MSS
    cc.undo(before, cc.ssthresh)
    assert cc._full_bw == 0.0 and cc._full_bw_cnt == 0
    f.round(2 * MSS, in_flight=10 * MSS)
    assert cc.cwnd == before


def test_long_term_bw_ends_after_48_rounds() -> None:
    cc, f = filled()
    # lossy rounds at a steady policed rate: 40 kB delivered, 10 kB lost per round
    n = 0
    while not cc._lt_use_bw and n < 40:
        f.round(40 * MSS, losses=10 * MSS, in_flight=20 * MSS)
        n += 1
    assert cc._lt_use_bw
    assert cc.bw == pytest.approx(40 * MSS / 0.05, rel=0.01)
    assert cc.pacing_gain == 1.0
    for _ in range(47):
        f.round(40 * MSS, in_flight=20 * MSS)
    assert cc._lt_use_bw
    f.round(40 * MSS, in_flight=20 * MSS)
    assert not cc._lt_use_bw  # back to the max filter and gain cycling
    assert cc.bw == cc.max_bw


def test_probe_rtt_from_scripted_samples_and_idle_restart() -> None:
    cc, f = filled()
    t_min = 0.05  # the first sample set min_rtt; nothing lower since
    while f.now <= t_min + 10.0:
        f.round(50 * MSS, in_flight=50 * MSS)
    assert cc.mode == PROBE_RTT
    assert cc.cwnd == 4 * MSS
    f.round(4 * MSS, in_flight=2 * MSS)  # at the floor: 200 ms start now
    for _ in range(3):
        f.round(4 * MSS, in_flight=2 * MSS)
        assert cc.mode == PROBE_RTT
        assert cc.cwnd == 4 * MSS
    f.round(4 * MSS, in_flight=2 * MSS)
    f.round(4 * MSS, in_flight=2 * MSS)
    assert cc.mode == PROBE_BW
    assert cc.cwnd >= 2 * 50 * MSS
    # PROBE_RTT's low-rate samples were app-limited: none entered the max filter
    assert min(cc._bw.v) == pytest.approx(50 * MSS / 0.05)
    # idle restart in PROBE_BW paces at the estimated bandwidth
    cc.on_idle_restart(f.now + 1.0, 1.0)
    assert cc.pacing_rate == pytest.approx(cc.bw * 0.99)


def test_windowed_max_forgets_after_its_window() -> None:
    m = WindowedMax()
    m.reset(0, 100.0)
    assert m.update(10, 3, 50.0) == 100.0
    assert m.update(10, 6, 70.0) == 100.0
    assert m.update(10, 11, 60.0) == 70.0  # 100 (t=0) aged out; the best since
    assert m.update(10, 12, 200.0) == 200.0
    assert m.update(10, 30, 1.0) == 1.0  # nothing left in the window


def test_registered_as_bbr() -> None:
    cc = make_congestion_control("bbr", 1460, 10)
    assert isinstance(cc, Bbr)
    assert (cc.name, cc.state_name(), cc.cwnd) == ("bbr", STARTUP, 14600)
    # Linux bbr_init_pacing_rate_from_rtt: high_gain * cwnd / 1 ms before an RTT
    assert cc.pacing_rate == pytest.approx(HIGH_GAIN * 14600 / 0.001 * 0.99)
    assert StackConfig(congestion_control="bbr").congestion_control == "bbr"
