"""NewReno congestion control (RFC 5681, RFC 6582) in isolation."""

from __future__ import annotations

import pytest

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
        cc.cwnd = 20_000
        cc.on_loss_fast(0.0, 20_000)
        assert (cc.ssthresh, cc.cwnd) == (10_000, 13_000)
        cc.on_dupack_in_recovery()
        assert cc.cwnd == 14_000
        cc.on_recovery_exit(0.1, 5_000)
        assert cc.cwnd == 10_000  # ssthresh
        cc.cwnd = 8_000
        cc.on_rto(0.2, 8_000)
        assert (cc.ssthresh, cc.cwnd) == (4_000, 1000)

    @pytest.mark.parametrize("loss", ["on_loss_fast", "on_loss_sack", "on_rto"])
    def test_ssthresh_halves_the_window_in_whole_segments(self, loss: str) -> None:
        # Linux tcp_reno_ssthresh: max(cwnd >> 1, 2) with cwnd counted in
        # packets; the flight passed in does not matter
        cc = NewReno(1000, 10)
        for cwnd, ssthresh in ((5_500, 2_000), (7_999, 3_000), (9_000, 4_000), (31_000, 15_000)):
            cc.cwnd = cwnd
            getattr(cc, loss)(0.0, 1_000)
            assert cc.ssthresh == ssthresh, cwnd

    def test_initial_window_rfc6928(self) -> None:
        assert NewReno(1460).cwnd == 10 * 1460

    def test_avoidance_carries_the_remainder(self) -> None:
        # RFC 5681 3.1 (byte counting): +1 SMSS each time a cwnd's worth is acked
        cc = NewReno(1000, 10)
        cc.ssthresh = 10_000
        cc.on_ack(15_000, 0.01, 0.0, 10_000)
        assert cc.cwnd == 11_000  # 5000 carried over
        cc.on_ack(5_999, 0.01, 0.1, 11_000)
        assert cc.cwnd == 11_000
        cc.on_ack(1, 0.01, 0.2, 11_000)
        assert cc.cwnd == 12_000

    @pytest.mark.parametrize("loss", ["on_loss_fast", "on_loss_sack", "on_rto"])
    def test_a_loss_restarts_the_avoidance_count(self, loss: str) -> None:
        cc = NewReno(1000, 10)
        cc.ssthresh = 10_000
        cc.on_ack(9_999, 0.01, 0.0, 10_000)  # almost a window acked
        getattr(cc, loss)(0.1, 40_000)
        cc.cwnd = cc.ssthresh = 20_000
        cc.on_ack(19_999, 0.01, 0.2, 20_000)
        assert cc.cwnd == 20_000  # the 9999 before the loss no longer count
        cc.on_ack(1, 0.01, 0.3, 20_000)
        assert cc.cwnd == 21_000  # counted from 0, exactly

    def test_undo_restarts_the_avoidance_count(self) -> None:
        cc = NewReno(1000, 10)
        cc.ssthresh = 10_000
        cc.on_ack(9_999, 0.01, 0.0, 10_000)
        cc.undo(10_000, 10_000)
        cc.on_ack(9_999, 0.01, 0.1, 10_000)
        assert cc.cwnd == 10_000
        cc.on_ack(1, 0.01, 0.2, 10_000)
        assert cc.cwnd == 11_000

    @pytest.mark.parametrize("loss", ["on_loss_fast", "on_loss_sack", "on_rto"])
    def test_ssthresh_floor_is_two_segments(self, loss: str) -> None:
        # RFC 5681 3.1 eq. 4: ssthresh = max(FlightSize / 2, 2 * SMSS)
        cc = NewReno(1000, 10)
        cc.cwnd = 3_000
        getattr(cc, loss)(0.0, 1_500)
        assert cc.ssthresh == 2_000
        cc.on_recovery_exit(0.1, 0)
        assert cc.cwnd == 2_000

    def test_partial_ack_deflates_by_the_acked_amount_plus_one_mss(self) -> None:
        # RFC 6582 3.2 step 5
        cc = NewReno(1000, 10)
        cc.cwnd = 20_000
        cc.on_loss_fast(0.0, 20_000)
        assert cc.cwnd == 13_000
        cc.on_partial_ack(5_000)
        assert cc.cwnd == 9_000
        cc.on_partial_ack(50_000)
        assert cc.cwnd == 1_000  # never below one segment
