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
        assert r.rto == 0.2
        for _ in range(12):
            r.on_timeout()
        assert r.current() == 120.0
        r.sample(0.001)
        assert r.backoff == 0
