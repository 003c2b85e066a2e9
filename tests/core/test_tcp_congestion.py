"""NewReno congestion control (RFC 5681, RFC 6582) in isolation."""

from __future__ import annotations

from aionetstack.core.tcp.congestion import NewReno


class TestNewReno:
    def test_slow_start_then_avoidance(self) -> None:
        cc = NewReno(1000, 10)
        assert cc.cwnd == 10_000
        cc.on_ack(5000, 0.01, 0.0, 10_000)
        assert cc.cwnd == 15_000
        cc.ssthresh = 15_000
        cc.on_ack(15_000, 0.01, 0.1, 15_000)
        assert cc.cwnd == 16_000

    def test_fast_recovery_and_rto(self) -> None:
        cc = NewReno(1000, 10)
        cc.on_loss_fast(0.0, 20_000)
        assert (cc.ssthresh, cc.cwnd) == (10_000, 13_000)
        cc.on_dupack_in_recovery()
        assert cc.cwnd == 14_000
        cc.on_recovery_exit(0.1, 5_000)
        assert cc.cwnd == 10_000  # ssthresh
        cc.on_rto(0.2, 8_000)
        assert (cc.ssthresh, cc.cwnd) == (4_000, 1000)
