"""The sender's loss rules, pinned: fast retransmit, SACK recovery, undo, RACK-TLP, RTO.

Every test drives an ESTABLISHED client (tcp_support factories, RTT 10 ms, MSS
1460, no window scaling) through the public interface only, at explicit
virtual times, and observes the wire (parsed segments) and ``tcp_info()``.
Each one fails when the rule it names is broken (checked by mutating the
engine by hand; see ``make mutation`` for the systematic run).
"""

from __future__ import annotations

import pytest
from tcp_support import PEER_TS, PLAIN, RCV, SACK, UNA, ack, output, rx, segment, tcp_established

from aionetstack.core.config import StackConfig
from aionetstack.core.tcp.connection import TcpConnection
from aionetstack.wire.tcp import FIN, TcpSegment

MSS = 1460
T0 = 1.0  # the connection is established at T0 after a 10 ms handshake
SACK_TS = StackConfig(
    timestamps=True, sack=True, window_scaling=False, recv_buffer=65535,
    congestion_control="newreno",
)  # fmt: skip


def S(i: int) -> int:
    """Sequence number of the i-th full segment of the stream."""
    return (UNA + i * MSS) & 0xFFFFFFFF


def client(config: StackConfig = SACK) -> TcpConnection:
    return tcp_established(config, now=T0, rtt=0.01)


def data_seqs(out: list[TcpSegment]) -> list[int]:
    return [s.seq for s in out if s.payload or s.flags & FIN]


def high(out: list[TcpSegment]) -> int:
    """The highest sequence number sent in ``out`` (SND.MAX as the wire shows it)."""
    return max(s.seq + len(s.payload) + (1 if s.flags & FIN else 0) for s in out)


# ---------------------------------------------------------------- fast retransmit


class TestDupAcks:
    """RFC 5681 3.2: DupThresh *consecutive* duplicate ACKs (no SACK)."""

    def test_new_ack_resets_the_duplicate_count(self) -> None:
        c = client(PLAIN)
        c.send(b"x" * 20 * MSS, T0)
        assert len(output(c, T0)) == 10
        # RFC 3042: each duplicate clocks out one new segment, no retransmission
        assert data_seqs(rx(c, ack(UNA), 1.010)) == [S(10)]
        assert data_seqs(rx(c, ack(UNA), 1.011)) == [S(11)]
        # a new ACK: the two duplicates before it no longer count
        assert S(0) not in data_seqs(rx(c, ack(S(1)), 1.012))
        assert S(1) not in data_seqs(rx(c, ack(S(1)), 1.013))
        assert S(1) not in data_seqs(rx(c, ack(S(1)), 1.014))
        assert c.tcp_info().fast_retransmits == 0
        # the third consecutive duplicate of the new SND.UNA is a loss
        assert data_seqs(rx(c, ack(S(1)), 1.015))[0] == S(1)
        assert c.tcp_info().fast_retransmits == 1

    def test_two_dupacks_are_not_a_loss(self) -> None:
        c = client(PLAIN)
        c.send(b"x" * 10 * MSS, T0)
        output(c, T0)
        rx(c, ack(UNA), 1.010)
        assert data_seqs(rx(c, ack(UNA), 1.011)) == []
        assert c.tcp_info().fast_retransmits == 0


class TestLimitedTransmit:
    """RFC 3042: the first and second duplicate ACK each send one new segment,
    cwnd unchanged, if the receiver's window allows (Linux: SACKed segments,
    or without SACK each duplicate ACK, leave tcp_packets_in_flight)."""

    @pytest.mark.parametrize("config", [PLAIN, SACK], ids=["plain", "sack"])
    def test_each_duplicate_sends_one_new_segment(self, config: StackConfig) -> None:
        c = client(config)
        c.send(b"x" * 20 * MSS, T0)
        assert data_seqs(output(c, T0)) == [S(i) for i in range(10)]  # IW10 fills cwnd
        sack = config.sack
        first = ack(UNA, (S(1), S(2))) if sack else ack(UNA)
        assert data_seqs(rx(c, first, 1.010)) == [S(10)]
        second = ack(UNA, (S(1), S(3))) if sack else ack(UNA)
        assert data_seqs(rx(c, second, 1.011)) == [S(11)]
        info = c.tcp_info()
        assert info.cwnd == 10 * MSS and info.fast_retransmits == 0
        # the third is the loss: S(0) again (fast retransmit), and no more
        third = ack(UNA, (S(1), S(4))) if sack else ack(UNA)
        assert data_seqs(rx(c, third, 1.012))[0] == S(0)
        assert c.tcp_info().fast_retransmits == 1

    def test_not_beyond_the_receivers_window(self) -> None:
        c = client(PLAIN)
        c.send(b"x" * 20 * MSS, T0)
        output(c, T0)
        # the peer's window ends where the flight does: nothing new may go
        shut = segment(seq=RCV, ack=UNA, window=10 * MSS)
        assert data_seqs(rx(c, shut, 1.010)) == []  # a window update, not a duplicate
        assert data_seqs(rx(c, shut, 1.011)) == []  # a duplicate, window closed
        assert data_seqs(rx(c, segment(seq=RCV, ack=UNA, window=11 * MSS), 1.012)) == [S(10)]


class TestRtoDuringRecovery:
    """RFC 6298 5.1 / 5.3: a retransmission does not restart a running timer; only
    an ACK of new data does."""

    def test_fast_retransmit_keeps_the_running_rto(self) -> None:
        c = client(PLAIN)
        c.send(b"x" * 10 * MSS, T0)
        output(c, T0)
        rto = c.get_timer()
        assert rto is not None and rto > T0 + 0.1
        for i in range(3):
            out = rx(c, ack(UNA), 1.05 + i * 0.01)
        assert data_seqs(out) == [S(0)]
        assert c.get_timer() == rto

    def test_sack_recovery_retransmissions_keep_the_running_rto(self) -> None:
        c = client()
        c.send(b"x" * 10 * MSS, T0)
        output(c, T0)
        # the RTO armed when the flight left (the first timer is its tail loss probe)
        rto = T0 + c.tcp_info().rto
        assert data_seqs(rx(c, ack(UNA, (S(2), S(5))), 1.05)) == [S(0)]
        assert c.get_timer() == rto
        # more SACKs: the pipe drains and another hole shows; both resent, and the
        # timer still runs from T0 (no ACK of new data)
        assert data_seqs(rx(c, ack(UNA, (S(6), S(9)), (S(2), S(5))), 1.06)) == [S(1), S(5)]
        assert c.get_timer() == rto


# ------------------------------------------------------------------- SACK recovery


class TestSackRecovery:
    """RFC 6675 (IsLost byte rule, SetPipe/NextSeg) and the FIN."""

    def _reordering_seen(self) -> TcpConnection:
        """Segment 2 arrives after segment 5 (never retransmitted): DupThresh goes to 4
        and RACK's reordering window opens (Linux tcp_check_sack_reordering)."""
        c = client()
        c.send(b"x" * 10 * MSS, T0)
        output(c, T0)
        rx(c, ack(UNA, (S(5), S(6))), 1.010)
        rx(c, ack(UNA, (S(2), S(3)), (S(5), S(6))), 1.0101)
        assert c.tcp_info().reordering == 4
        rx(c, ack(S(10)), 1.011)
        assert c.tcp_info().fast_retransmits == 0
        return c

    def test_byte_rule_counts_the_lowest_sack_block(self) -> None:
        # RFC 6675 4 IsLost: a hole is lost when more than (DupThresh - 1) * SMSS
        # bytes are SACKed above it, in *all* blocks above it
        c = self._reordering_seen()
        c.send(b"y" * 7 * MSS, 1.011)
        assert data_seqs(output(c, 1.011)) == [S(i) for i in range(10, 17)]
        # above segment 11: 3 segments in the lowest block + 1 in the highest = 4 > 3
        out = rx(c, ack(S(10), (S(16), S(17)), (S(12), S(15))), 1.021)
        assert data_seqs(out) == [S(10), S(11)]  # segment 15's hole has only 1 above
        assert c.tcp_info().fast_retransmits == 1

    def test_no_fin_on_a_hole_retransmission(self) -> None:
        c = client()
        c.send(b"x" * 10 * MSS, T0)
        c.shutdown(T0)
        out = output(c, T0)
        assert [bool(s.flags & FIN) for s in out] == [False] * 9 + [True]
        # segment 5 lost; the rest and the FIN SACKed
        out = rx(c, ack(S(5), (S(6), S(10) + 1)), 1.010)
        assert data_seqs(out) == [S(5)]
        assert not out[0].flags & FIN

    def test_no_fin_resent_with_the_last_segment_when_the_fin_was_sacked(self) -> None:
        c = client()
        c.send(b"x" * 10 * MSS, T0)
        assert len(output(c, T0)) == 10
        c.shutdown(T0)
        (fin,) = output(c, T0)  # the FIN alone, after the data
        assert fin.flags & FIN and fin.seq == S(10) and not fin.payload
        # the last data segment lost, the FIN arrived (SACKed)
        out = rx(c, ack(S(9), (S(10), S(10) + 1)), 1.010)
        assert [(s.seq, len(s.payload), bool(s.flags & FIN)) for s in out] == [(S(9), MSS, False)]


class TestRackReorderingTimer:
    """RFC 8985 6.3: the reordering timer runs from the first SACK above a hole."""

    def test_partial_ack_does_not_cancel_or_restart_it(self) -> None:
        c = client()
        c.send(b"x" * 10 * MSS, T0)
        output(c, T0)
        rx(c, ack(UNA, (S(2), S(3))), 1.010)  # one segment above the hole: wait
        deadline = c.get_timer()
        assert deadline is not None and 1.010 < deadline < 1.020
        # a partial ACK (segment 0 arrived), segment 1 still missing
        rx(c, ack(S(1), (S(2), S(3))), (1.010 + deadline) / 2)
        assert c.get_timer() == deadline
        c.handle_timer(deadline)
        assert data_seqs(output(c, deadline))[0] == S(1)
        assert c.tcp_info().fast_retransmits == 1


# --------------------------------------------------------------------------- undo


class TestGenuineLossNotUndone:
    """RFC 3708 / RFC 3522: undo only a *spurious* recovery; a real loss keeps
    cwnd and ssthresh reduced (Linux tcp_try_undo_recovery needs undo_retrans 0)."""

    def test_sack_recovery(self) -> None:
        c = client()
        c.send(b"x" * 10 * MSS, T0)
        output(c, T0)
        assert data_seqs(rx(c, ack(UNA, (S(1), S(4))), 1.010))[0] == S(0)
        assert c.tcp_info().ssthresh == 5 * MSS  # FlightSize / 2
        rx(c, ack(S(10)), 1.020)  # the retransmission was needed: no DSACK
        info = c.tcp_info()
        assert (info.undos, info.ssthresh) == (0, 5 * MSS)
        assert info.cwnd <= 6 * MSS
        assert (info.bytes_acked, info.total_retrans) == (10 * MSS, 1)

    def test_newreno_recovery(self) -> None:
        c = client(PLAIN)
        c.send(b"x" * 10 * MSS, T0)
        output(c, T0)
        for i in range(3):
            out = rx(c, ack(UNA), 1.010 + i * 0.001)
        assert data_seqs(out) == [S(0)]
        rx(c, ack(S(10)), 1.020)
        info = c.tcp_info()
        assert (info.undos, info.ssthresh, info.cwnd) == (0, 5 * MSS, 5 * MSS)

    def test_ack_echoing_the_retransmission_is_no_eifel_undo(self) -> None:
        # RFC 3522 3.2: only an echo *older* than the first retransmission undoes
        c = client(SACK_TS)
        mss = c.tcp_info().snd_mss  # 1448 with timestamps
        c.send(b"x" * 10 * mss, T0)
        first = output(c, T0)
        ts0 = first[0].ts_val
        assert ts0 is not None
        out = rx(c, ack(UNA, (UNA + mss, UNA + 4 * mss), ts=(PEER_TS + 10, ts0)), 1.010)
        assert out[0].seq == UNA and out[0].ts_val is not None
        rtx_ts = out[0].ts_val
        assert rtx_ts != ts0
        rx(c, ack(high(first), ts=(PEER_TS + 20, rtx_ts)), 1.020)
        info = c.tcp_info()
        assert (info.undos, info.ssthresh) == (0, 5 * mss)

    def test_ack_echoing_the_original_is_an_eifel_undo(self) -> None:
        # the control: the same recovery, the echo predates the retransmission
        c = client(SACK_TS)
        mss = c.tcp_info().snd_mss
        c.send(b"x" * 10 * mss, T0)
        first = output(c, T0)
        ts0 = first[0].ts_val
        assert ts0 is not None
        rx(c, ack(UNA, (UNA + mss, UNA + 4 * mss), ts=(PEER_TS + 10, ts0)), 1.010)
        rx(c, ack(high(first), ts=(PEER_TS + 20, ts0)), 1.020)
        assert c.tcp_info().undos == 1
        assert c.tcp_info().ssthresh > 5 * mss


class TestDsackUndo:
    """RFC 3708 2 / RFC 2883: DSACKs count against *this* episode's retransmissions."""

    def _second_episode(self) -> tuple[TcpConnection, int]:
        """A genuine loss of segment 0 (recovered), then a second recovery; returns
        the connection in it and the second episode's SND.UNA (the undo marker)."""
        c = client()
        c.send(b"x" * 10 * MSS, T0)
        output(c, T0)
        assert data_seqs(rx(c, ack(UNA, (S(1), S(4))), 1.010))[0] == S(0)
        c.send(b"y" * 10 * MSS, 1.020)
        out = rx(c, ack(S(10)), 1.020)
        assert c.tcp_info().undos == 0 and data_seqs(out)[0] == S(10)
        u = S(10)
        assert data_seqs(rx(c, ack(u, (u + MSS, u + 4 * MSS)), 1.030))[0] == u
        assert c.tcp_info().fast_retransmits == 2
        return c, u

    def test_dsack_below_the_undo_marker_is_not_counted(self) -> None:
        c, u = self._second_episode()
        # a late duplicate of the first episode's retransmission of segment 0
        rx(c, ack(u, (S(0), S(1)), (u + MSS, u + 4 * MSS)), 1.031)
        info = c.tcp_info()
        assert info.dsacks_in == 1
        assert (info.undos, info.spurious_retrans) == (0, 0)
        assert info.ssthresh < 10 * MSS

    def test_dsack_of_this_episode_is_counted_and_undoes(self) -> None:
        # the control: the DSACK covers the second episode's own retransmission
        c, u = self._second_episode()
        # original and retransmission of u both arrived: ACKed, and DSACKed (RFC 2883)
        rx(c, ack(u + 4 * MSS, (u, u + MSS)), 1.031)
        info = c.tcp_info()
        assert (info.dsacks_in, info.spurious_retrans, info.undos) == (1, 1, 1)


# ------------------------------------------------------------------------- RACK-TLP


class TestTailLossProbe:
    """RFC 8985 7.3: the probe is new data if the window allows, else the last
    segment; it carries FIN only when it is the segment that ends at the FIN."""

    def _probe(self, c: TcpConnection, first_ack: int, now: float = 1.010) -> list[TcpSegment]:
        rx(c, ack(first_ack), now)
        pto = c.get_timer()
        assert pto is not None and pto < now + 0.2  # the PTO, before the RTO
        c.handle_timer(pto)
        out = output(c, pto)
        assert c.tcp_info().rto_expirations == 0
        return out

    def test_new_data_probe_before_the_end_has_no_fin(self) -> None:
        c = client()
        c.send(b"x" * 20 * MSS, T0)
        c.shutdown(T0)
        assert not any(s.flags & FIN for s in output(c, T0))
        rx(c, ack(S(1)), 1.010)  # slow start: two more segments (10, 11)
        pto = c.get_timer()
        assert pto is not None
        c.handle_timer(pto)
        (probe,) = output(c, pto)
        assert (probe.seq, len(probe.payload), probe.flags & FIN) == (S(12), MSS, 0)

    def test_last_segment_probe_without_shutdown_has_no_fin(self) -> None:
        c = client()
        c.send(b"x" * 3 * MSS, T0)
        assert len(output(c, T0)) == 3
        (probe,) = self._probe(c, S(1))
        assert (probe.seq, len(probe.payload), probe.flags & FIN) == (S(2), MSS, 0)
        assert c.tcp_info().total_retrans == 1

    def test_last_segment_probe_after_shutdown_ends_at_the_fin(self) -> None:
        c = client()
        c.send(b"x" * 3 * MSS, T0)
        c.shutdown(T0)
        assert [bool(s.flags & FIN) for s in output(c, T0)] == [False, False, True]
        (probe,) = self._probe(c, S(1))
        assert (probe.seq, len(probe.payload), bool(probe.flags & FIN)) == (S(2), MSS, True)

    def test_no_probe_without_sack(self) -> None:
        # RFC 8985 7: TLP needs SACK (the probe's ACK must show what it repaired)
        c = client(PLAIN)
        c.send(b"x" * 3 * MSS, T0)
        output(c, T0)
        rto = c.get_timer()
        rx(c, ack(S(1)), 1.010)
        assert c.get_timer() == pytest.approx(1.010 + (rto or 0) - T0, abs=0.05)
