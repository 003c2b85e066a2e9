"""The delivery-rate estimator alone, in explicit time
(draft-cheng-iccrg-delivery-rate-estimation; Linux tcp_rate.c)."""

from __future__ import annotations

import pytest
from path_model import ISN, MASK, FixedWindow, Path

from aionetstack.core.tcp.delivery import DeliveryRateEstimator
from aionetstack.core.tcp.rate import RateSample

MSS = 1000


def s(off: int) -> int:
    """A sequence number ``off`` bytes after an ISN just below the wrap."""
    return (ISN + off) & MASK


def send(e: DeliveryRateEstimator, seg: int, now: float, in_flight: int) -> None:
    e.on_send(s(seg * MSS), s((seg + 1) * MSS), now, in_flight)


# ----------------------------------------------------------- a scripted link


def test_constant_rate_link_samples_equal_the_bottleneck_rate() -> None:
    held: list[int] = []
    p = Path(FixedWindow(40 * MSS), rate=1e6, rtt=0.02)
    p.observer = lambda now, rs: held.append(len(p.est))
    p.run(2.0)
    # after the first flights (a burst at t=0 stretches their send phase)
    rates = [rs.rate for t, rs in p.samples if t > 0.15]
    assert len(rates) > 1500
    assert all(rs.interval > 0 for _, rs in p.samples)
    assert max(abs(r - 1e6) for r in rates) < 0.01 * 1e6
    assert not any(rs.is_app_limited for _, rs in p.samples)
    # sequence numbers crossed the wrap, and records never outnumber the flight
    assert p.est.delivered > 0x10000 + ISN - (ISN & ~0xFFFF)
    assert max(held) <= 40
    assert p.est.delivery_rate == pytest.approx(1e6, rel=0.01)


def test_window_below_the_bdp_measures_the_window_rate() -> None:
    # 10 segments per ~21 ms round trip: goodput, not the link rate
    p = Path(FixedWindow(10 * MSS), rate=1e6, rtt=0.02)
    p.run(1.0)
    rates = [rs.rate for t, rs in p.samples if t > 0.1]
    expected = 10 * MSS / (0.02 + MSS / 1e6)
    assert max(abs(r - expected) for r in rates) < 0.01 * expected


@pytest.mark.parametrize("batch", [0.005, 0.01])
def test_ack_aggregation_never_inflates_the_rate(batch: float) -> None:
    # ACKs held and released in batches: the ACK phase alone would overestimate;
    # the send phase bounds the samples (draft 3.3, ACK compression)
    p = Path(FixedWindow(60 * MSS), rate=1e6, rtt=0.02, ack_batch=batch)
    p.run(2.0)
    rates = [rs.rate for t, rs in p.samples if t > 0.2]
    assert max(rates) <= 1e6 * 1.0001
    assert max(rates) >= 0.99e6


def test_app_limited_samples_are_marked_until_the_bubble_is_delivered() -> None:
    p = Path(FixedWindow(100 * MSS), rate=1e6, rtt=0.02, app=(0.01, MSS))
    p.run(0.5)
    app_phase = [rs for _, rs in p.samples]
    assert len(app_phase) > 40
    assert all(rs.is_app_limited for rs in app_phase)
    assert max(rs.rate for rs in app_phase) < 0.2e6  # a trickle, not the path
    assert p.est.delivery_rate == pytest.approx(max(rs.rate for rs in app_phase))
    # the application turns bulk: what it sends before the marked flight is
    # delivered (a burst of 100 segments at 0.5 s, ACKed until ~0.62 s) is
    # still marked; the samples after it count
    p.go_bulk()
    start = len(p.samples)
    p.run(1.0)
    bulk = p.samples[start:]
    assert bulk[0][1].is_app_limited
    assert not any(rs.is_app_limited for t, rs in bulk if t > 0.65)
    assert max(rs.rate for _, rs in bulk) == pytest.approx(1e6, rel=0.01)
    assert not p.est.rate_app_limited


def test_on_app_limited_follows_tcp_rate_check_app_limited() -> None:
    e = DeliveryRateEstimator()
    assert not e.on_app_limited(5000, 10000, MSS, MSS)  # a full segment waits
    assert not e.on_app_limited(10000, 10000, 0, MSS)  # cwnd-limited
    assert not e.on_app_limited(5000, 10000, 0, MSS, lost_pending=MSS)
    assert e.app_limited == 0
    assert e.on_app_limited(5000, 10000, 0, MSS)
    assert e.app_limited == 5000
    e.app_limited = 0
    assert e.on_app_limited(0, 10000, 0, MSS)
    assert e.app_limited == 1  # never 0 when set


# ----------------------------------------------------------- scripted ACKs


def test_burst_is_one_record_and_a_retransmission_its_own_snapshot() -> None:
    e = DeliveryRateEstimator()
    for i in range(10):
        send(e, i, 0.0, i * MSS)
    assert len(e) == 1  # one burst, one snapshot
    e.on_delivered(s(0), s(3 * MSS))
    rs = e.take_sample(0.05, 10 * MSS, 0, s(3 * MSS))
    assert (rs.delivered, rs.interval, rs.rtt) == (3000, pytest.approx(0.05), pytest.approx(0.05))
    assert rs.acked_sacked == 3000
    # segment 3 is lost; 4..9 are SACKed
    e.on_delivered(s(4 * MSS), s(10 * MSS))
    rs = e.take_sample(0.056, 7 * MSS, MSS, s(3 * MSS))
    assert (rs.delivered, rs.prior_delivered, rs.losses) == (9000, 0, MSS)
    assert rs.interval == pytest.approx(0.056)
    # its retransmission splits the burst's record
    send(e, 3, 0.056, 7 * MSS)
    assert len(e) == 2
    e.on_delivered(s(3 * MSS), s(4 * MSS))
    rs = e.take_sample(0.106, MSS, 0, s(10 * MSS))
    # measured from the retransmission: 1000 B since it was sent, send phase
    # 0.056 - 0 (the newest delivered send then), ACK phase 0.05
    assert (rs.delivered, rs.prior_delivered, rs.total_delivered) == (1000, 9000, 10000)
    assert rs.interval == pytest.approx(0.056)
    assert rs.rtt == 0.0  # Karn: a retransmission's RTT is ambiguous
    assert len(e) == 0  # everything cumulatively ACKed is forgotten


def test_retransmission_inside_a_record_keeps_both_sides() -> None:
    e = DeliveryRateEstimator()
    for i in range(10):
        send(e, i, 0.0, i * MSS)
    e.on_delivered(s(0), s(MSS))
    e.take_sample(0.04, 10 * MSS, 0, s(MSS))
    send(e, 5, 0.05, 9 * MSS)
    assert len(e) == 3
    # the original segments on either side still carry the burst's snapshot
    e.on_delivered(s(6 * MSS), s(7 * MSS))
    rs = e.take_sample(0.06, 9 * MSS, 0, s(MSS))
    assert (rs.prior_delivered, rs.interval) == (0, pytest.approx(0.06))
    e.on_delivered(s(5 * MSS), s(6 * MSS))
    rs = e.take_sample(0.09, 8 * MSS, 0, s(MSS))
    assert (rs.prior_delivered, rs.delivered) == (MSS, 2 * MSS)
    assert rs.interval == pytest.approx(0.05)  # ACK phase 0.09 - 0.04


@pytest.mark.parametrize("order", ["older first", "newer first"])
def test_sacked_ranges_take_the_most_recently_sent(order: str) -> None:
    e = DeliveryRateEstimator()
    send(e, 0, 0.0, 0)
    send(e, 1, 0.01, MSS)
    send(e, 2, 0.02, 2 * MSS)
    assert len(e) == 3
    ranges = [(s(MSS), s(2 * MSS)), (s(2 * MSS), s(3 * MSS))]
    if order == "newer first":
        ranges.reverse()
    for a, b in ranges:
        e.on_delivered(a, b)
    rs = e.take_sample(0.05, 3 * MSS, 0, s(0))
    assert rs.delivered == 2 * MSS
    assert rs.rtt == pytest.approx(0.03)  # of segment 2, the newest send
    assert rs.interval == pytest.approx(0.05)  # max(0.02 - 0, 0.05 - 0)
    # the cumulative ACK then brings segment 0 only: no double count
    e.on_delivered(s(0), s(MSS))
    rs = e.take_sample(0.06, MSS, 0, s(3 * MSS))
    assert e.delivered == 3 * MSS
    assert rs.acked_sacked == MSS
    assert len(e) == 0


def test_ack_compression_uses_the_longer_send_phase() -> None:
    # draft 3.3: a flight paced over 9 ms and ACKed late by one stretch ACK
    # (all but its last segment); the next flight leaves as a burst and its
    # ACKs come back compressed
    e = DeliveryRateEstimator()
    for i in range(10):
        send(e, i, i * 0.001, i * MSS)
    e.on_delivered(s(0), s(9 * MSS))
    rs = e.take_sample(0.05, 10 * MSS, 0, s(9 * MSS))
    assert rs.interval == pytest.approx(0.05)  # the ACK phase is the longer
    for i in range(10, 20):
        send(e, i, 0.05, (i - 9) * MSS)
    e.on_delivered(s(9 * MSS), s(20 * MSS))
    rs = e.take_sample(0.08, 11 * MSS, 0, s(20 * MSS))
    # the ACK phase 0.08 - 0.05 = 30 ms would say 367 kB/s; the send phase
    # since the newest delivered send (segment 8 at 8 ms) is 42 ms
    assert rs.delivered == 11 * MSS
    assert rs.interval == pytest.approx(0.042)
    assert rs.rate == pytest.approx(11 * MSS / 0.042)


def test_interval_below_min_rtt_is_no_sample() -> None:
    e = DeliveryRateEstimator()
    send(e, 0, 0.0, 0)
    e.on_delivered(s(0), s(MSS))
    rs = e.take_sample(0.01, MSS, 0, s(MSS), min_rtt=0.02)
    assert rs.interval == 0.0
    assert rs.rate == 0.0
    assert rs.delivered == MSS  # still counted as delivered (tcp_rate_gen)


def test_no_timing_or_reneging_is_no_sample() -> None:
    e = DeliveryRateEstimator()
    rs = e.take_sample(0.0, 0, 0, s(0))
    assert isinstance(rs, RateSample)
    assert (rs.delivered, rs.interval) == (0, 0.0)
    send(e, 0, 0.0, 0)
    send(e, 1, 0.0, MSS)
    e.on_delivered(s(MSS), s(2 * MSS))
    rs = e.take_sample(0.03, 2 * MSS, 0, s(0), sack_reneg=True)
    assert rs.interval == 0.0
    assert rs.acked_sacked == MSS
    # a send with data already out and no delivery ever: no timing to use
    late = DeliveryRateEstimator()
    send(late, 3, 0.0, 5 * MSS)
    late.on_delivered(s(3 * MSS), s(4 * MSS))
    assert late.take_sample(0.02, 5 * MSS, 0, s(0)).interval == 0.0


def test_records_are_pruned_by_the_cumulative_ack_in_long_runs() -> None:
    e = DeliveryRateEstimator()
    now = 0.0
    for i in range(5000):
        send(e, i, now, 4 * MSS if i >= 4 else i * MSS)
        if i >= 4:
            e.on_delivered(s((i - 4) * MSS), s((i - 3) * MSS))
            e.take_sample(now, 5 * MSS, 0, s((i - 3) * MSS))
        now += 0.001
        assert len(e) <= 5
    assert e.delivered == 4996 * MSS


def test_retransmissions_on_a_lossy_link_never_inflate_the_rate() -> None:
    p = Path(FixedWindow(40 * MSS), rate=1e6, rtt=0.02, loss=0.02, seed=3)
    excess: list[int] = []
    # records never outnumber the segments outstanding (SND.NXT - SND.UNA)
    p.observer = lambda now, rs: excess.append(len(p.est) - (p.snd_nxt - p.una) // MSS)
    p.run(3.0)
    assert max(excess) <= 0
    assert p.retransmits > 30
    rates = [rs.rate for t, rs in p.samples if t > 0.15]
    assert max(rates) <= 1e6 * 1.01
    assert sum(rates) / len(rates) > 0.8e6
    # every byte is counted once, retransmitted or not
    assert p.est.delivered == p.una + MSS * len(p.delivered_offs)
