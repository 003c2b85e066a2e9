"""RFC 6298 RTO arithmetic (RttEstimator) in isolation."""

from __future__ import annotations

import pytest

from aionetstack.core.tcp.rtt import RttEstimator


class TestRtt:
    def test_rfc6298_first_and_later_samples(self) -> None:
        r = RttEstimator(1.0, 0.2, 120.0)
        assert r.current() == 1.0
        r.sample(0.1)
        assert (r.srtt, r.rttvar) == (0.1, 0.05)
        assert r.rto == pytest.approx(0.3)
        r.sample(0.3)
        assert r.rttvar == pytest.approx(0.75 * 0.05 + 0.25 * 0.2)
        assert r.srtt == pytest.approx(0.875 * 0.1 + 0.125 * 0.3)

    def test_floor_ceiling_and_backoff(self) -> None:
        r = RttEstimator(1.0, 0.2, 120.0)
        r.sample(0.001)
        # RFC 6298 2.3 with Linux's floor on the variance term: SRTT + 200 ms
        assert r.rto == pytest.approx(0.201)
        r2 = RttEstimator(1.0, 0.2, 120.0)
        r2.sample(0.5)  # a long path: SRTT + 4 * RTTVAR, above the floor
        assert r2.rto == pytest.approx(0.5 + 4 * 0.25)
        for _ in range(12):
            r.on_timeout()
        assert r.current() == 120.0
        r.sample(0.001)
        assert r.backoff == 0

    def test_zero_sample_counts_as_one_clock_tick(self) -> None:
        # RFC 6298 2.2 needs a measurement; a 0 s sample (same-tick ACK) is G
        r = RttEstimator(1.0, 0.2, 120.0)
        r.sample(0.0)
        assert (r.srtt, r.min_rtt) == (0.001, 0.001)
        r.sample(-1.0)
        assert r.min_rtt == 0.001 and r.srtt == pytest.approx(0.001)

    def test_min_rtt_is_the_lowest_sample(self) -> None:
        r = RttEstimator(1.0, 0.2, 120.0)
        for s, low in ((0.1, 0.1), (0.05, 0.05), (0.2, 0.05), (0.04, 0.04)):
            r.sample(s)
            assert r.min_rtt == low

    def test_rto_ceiling_rfc6298_2_5(self) -> None:
        r = RttEstimator(1.0, 0.2, 60.0)
        r.sample(100.0)
        assert r.rto == 60.0
        r.on_timeout()
        assert r.current() == 60.0
