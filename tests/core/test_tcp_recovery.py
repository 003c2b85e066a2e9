"""Loss recovery and its undo: RFC 6675 SACK recovery, RFC 6582 NewReno,
RFC 2883 / RFC 3708 DSACK and RFC 3522 Eifel undo, reordering adaptation.

Grouped by sender state (ESTABLISHED with SACK recovery, without SACK, undo of
a spurious recovery) and by receiver behaviour. Scripted tests use explicit
virtual times; simulator tests use SimLink with fixed delays (10 ms RTT).
"""

from __future__ import annotations

import pytest
from tcp_support import CLIENT_ISS, SERVER_ISS, ack, output, rx, segment

from aionetstack.core.config import StackConfig
from aionetstack.core.sim import SimLink, Simulator
from aionetstack.core.tcp.connection import TcpConnection
from aionetstack.wire.tcp import ACK, SYN

UNA = CLIENT_ISS + 1
RCV = SERVER_ISS + 1
MSS = 1460


def S(i: int) -> int:
    return UNA + i * MSS


def client(*, sack: bool = True, ts: bool = False) -> TcpConnection:
    """An ESTABLISHED client at t=1.0 (SRTT 10 ms), MSS 1460, no window scaling."""
    cfg = StackConfig(timestamps=ts, sack=sack, window_scaling=False, recv_buffer=65535)
    c = TcpConnection.connect(
        cfg, local_addr=0xC6120001, local_port=40000, remote_addr=0xC6120002,
        remote_port=80, iss=CLIENT_ISS, mtu=1500 + (12 if ts else 0), now=0.99,
    )  # fmt: skip
    (syn,) = output(c, 0.99)
    c.receive(segment(seq=SERVER_ISS, ack=UNA, flags=SYN | ACK, mss=MSS, sack_permitted=sack,
                      ts_val=1 if ts else None, ts_ecr=syn.ts_val if ts else None), 1.0)  # fmt: skip
    output(c, 1.0)
    return c


class TestSackRecovery:
    """ESTABLISHED, fast recovery with SACK (RFC 6675)."""

    def test_partial_ack_retransmits_next_hole_before_new_data(self) -> None:
        # The interop capture: two segments of one window lost, then a partial ACK.
        c = client()
        c.send(b"x" * 40 * MSS, 1.0)
        assert len(output(c, 1.0)) == 10
        rx(c, ack(UNA, (S(2), S(3))), 1.010)
        rx(c, ack(UNA, (S(2), S(4))), 1.011)
        # third duplicate ACK: a DSACK of segment 2 (RFC 2883), no new SACK data
        out = rx(c, ack(UNA, (S(2), S(3)), (S(2), S(4))), 1.012)
        assert out[0].seq == S(0)  # fast retransmit
        assert c.tcp_info().fast_retransmits == 1
        # the retransmission is ACKed: a partial ACK (RFC 6582 3.2 step 5): the
        # hole at the new SND.UNA goes at once, before any new data
        out = rx(c, ack(S(1), (S(2), S(4))), 1.022)
        assert out and out[0].seq == S(1) and len(out[0].payload) == MSS
        assert c.tcp_info().rto_expirations == 0

    def test_one_batched_ack_reveals_several_holes_all_resent(self) -> None:
        # one ACK for a whole batch (the driver coalesces): holes 0, 3 and 6, each
        # with >= DupThresh segments SACKed above it (RFC 6675 IsLost)
        c = client()
        c.send(b"x" * 40 * MSS, 1.0)
        assert len(output(c, 1.0)) == 10
        out = rx(c, ack(UNA, (S(7), S(10)), (S(4), S(6)), (S(1), S(3))), 1.010)
        rtx = [s.seq for s in out if s.seq < S(10)]
        assert rtx == [S(0), S(3), S(6)]
        assert c.tcp_info().fast_retransmits == 1

    def test_retransmission_lost_again_is_resent_without_rto(self) -> None:
        c = client()
        c.send(b"x" * 40 * MSS, 1.0)
        output(c, 1.0)
        out = rx(c, ack(UNA, (S(1), S(5))), 1.010)
        assert out[0].seq == S(0)
        # more data sent in recovery is SACKed over the next RTT, but the
        # retransmission of segment 0 was lost too
        t = 1.012
        for k in range(5, 10):
            out = rx(c, ack(UNA, (S(1), S(k + 1))), t)
            t += 0.001
        # the retransmission has been out for an RTT and later data arrived:
        # it is lost again (RFC 8985 6.2 in spirit); resent before the RTO (1.21)
        out = rx(c, ack(UNA, (S(1), S(12))), 1.030)
        assert S(0) in [s.seq for s in out]
        assert c.tcp_info().rto_expirations == 0


class TestNewReno:
    """ESTABLISHED, fast recovery without SACK (RFC 6582)."""

    def test_partial_ack_retransmits_at_once(self) -> None:
        c = client(sack=False)
        c.send(b"x" * 40 * MSS, 1.0)
        output(c, 1.0)
        for i in range(3):
            out = rx(c, ack(UNA), 1.010 + i * 0.0001)
        assert out[0].seq == S(0)
        out = rx(c, ack(S(3)), 1.020)
        assert out[0].seq == S(3)


def _upload(config: StackConfig, link: SimLink, nbytes: int, seed: int = 3
            ) -> tuple[Simulator, TcpConnection, object]:  # fmt: skip
    sim = Simulator(seed, trace=True, record_events=False)
    cl, srv = sim.tcp_pair(config, link=link)
    conn = cl.connect(srv.addr, srv.port, iss=1000)
    cl.write(bytes(nbytes))
    cl.shutdown()
    srv.shutdown()
    sim.run_while(lambda: not (cl.closed and srv.closed), limit=60.0)
    assert len(srv.received) == nbytes
    return sim, conn, srv


def _sends_of(sim: Simulator, seq: int) -> list[float]:
    return [t for t, src, _d, txt in sim.trace if src == "client" and f" seq={seq} " in txt]


@pytest.mark.parametrize("sack", [True, False], ids=["sack", "newreno"])
def test_two_losses_in_one_window_recovered_within_an_rtt(sack: bool) -> None:
    """Simulator: segments 30 and 33 of one flight lost once; RTT 10 ms."""
    link = SimLink(delay=0.005, rate=100e6)
    mss = 1448  # timestamps on: 1460 - 12
    first, second = 1001 + 30 * mss, 1001 + 33 * mss
    link.drop_next(1, match=lambda s: s.seq == first and len(s.payload) > 0)
    link.drop_next(1, match=lambda s: s.seq == second and len(s.payload) > 0)
    sim, conn, _srv = _upload(StackConfig(sack=sack), link, 400_000)
    t1, t2 = _sends_of(sim, first), _sends_of(sim, second)
    assert len(t1) == 2 and len(t2) == 2, (t1, t2)
    # the second hole goes within one RTT of the first retransmission, not at an RTO
    assert t2[1] - t1[1] <= 0.0105
    info = conn.tcp_info()
    assert info.rto_expirations == 0 and info.fast_retransmits == 1


class TestUndo:
    """A spurious fast recovery is undone (RFC 3708, RFC 3522, Linux tcp_try_undo_*)."""

    def test_dsack_of_the_only_retransmission_undoes(self) -> None:
        c = client()
        c.send(b"x" * 40 * MSS, 1.0)
        output(c, 1.0)
        before = c.tcp_info()
        rx(c, ack(UNA, (S(1), S(5))), 1.010)  # segment 0 was only delayed
        assert c.tcp_info().cwnd < before.cwnd
        # segment 0's original arrives, then our retransmission: the ACK carries
        # a DSACK for it (RFC 2883 4.1.1: below the cumulative ACK)
        rx(c, ack(S(5)), 1.011)
        rx(c, ack(S(5), (S(0), S(1))), 1.020)
        info = c.tcp_info()
        assert info.cwnd >= before.cwnd and info.ssthresh == before.ssthresh
        assert info.spurious_retrans == 1 and info.undos == 1
        assert info.reordering > 3  # RFC 4653-style: DupThresh follows reordering

    def test_eifel_timestamp_undo(self) -> None:
        c = client(ts=True)
        mss = c.snd_mss
        c.send(b"x" * 40 * mss, 1.0)
        first = output(c, 1.0)
        ts0 = first[0].ts_val
        sacked = ((UNA + mss, UNA + 5 * mss),)
        out = rx(c, segment(seq=RCV, ack=UNA, sack_blocks=sacked, ts_val=5, ts_ecr=ts0), 1.010)
        assert out[0].seq == UNA and out[0].ts_val > ts0
        # the ACK for segment 0 echoes the original's TSval: the original arrived
        # (RFC 3522 3.2); undo at once
        rx(c, segment(seq=RCV, ack=UNA + 5 * mss, ts_val=6, ts_ecr=ts0), 1.0105)
        info = c.tcp_info()
        assert info.undos == 1 and info.ssthresh > 10 * mss

    def test_reordered_sacks_raise_reordering(self) -> None:
        c = client()
        c.send(b"x" * 40 * MSS, 1.0)
        output(c, 1.0)
        rx(c, ack(UNA, (S(5), S(6))), 1.010)  # 1 segment above the hole: not lost
        # never-retransmitted segment 1 is SACKed after segment 5: reordering of
        # degree 5 (Linux tcp_check_sack_reordering); DupThresh follows
        rx(c, ack(UNA, (S(1), S(2)), (S(5), S(6))), 1.011)
        info = c.tcp_info()
        assert info.reordering == 5 and info.fast_retransmits == 0

    def test_rack_timer_marks_the_hole_lost(self) -> None:
        # RFC 8985 6.3: one SACKed segment above a hole; after reo_wnd (min_RTT/4)
        # with no further ACK, the hole is lost and recovery starts
        c = client()
        c.send(b"x" * 40 * MSS, 1.0)
        output(c, 1.0)
        rx(c, ack(S(1), (S(2), S(3))), 1.010)
        t = c.get_timer()
        assert t is not None and t == pytest.approx(1.010 + c.tcp_info().min_rtt / 4)
        c.handle_timer(t)
        out = output(c, t)
        assert out[0].seq == S(1) and c.tcp_info().fast_retransmits == 1


def test_jitter_reordering_does_not_collapse_cwnd() -> None:
    """Simulator: 5 ms +- 0.5 ms jitter each way, no loss: the 2 MiB upload is not
    throttled by spurious recoveries (the kernel does it in ~0.12 s)."""
    link = SimLink(delay=0.005, jitter=0.0005, rate=100e6)
    sim, conn, _srv = _upload(StackConfig(), link, 2 * 1024 * 1024)
    info = conn.tcp_info()
    assert info.reordering > 3
    assert sim.now < 0.5, (sim.now, info)
    assert info.total_retrans <= 20, info


class TestReceiverAcks:
    """RFC 5681 4.2: out-of-order data is ACKed at once, one ACK per batch."""

    def test_batch_of_out_of_order_segments_gives_one_ack_with_sack(self) -> None:
        c = client()
        for i in (1, 2, 4):
            c.receive(segment(seq=RCV + i * 1000, ack=UNA, payload=b"y" * 1000), 2.0)
        (a,) = output(c, 2.0)
        assert a.ack == RCV and set(a.sack_blocks) == {(RCV + 1000, RCV + 3000),
                                                       (RCV + 4000, RCV + 5000)}  # fmt: skip

    def test_duplicate_gives_immediate_dsack(self) -> None:
        c = client()
        c.receive(segment(seq=RCV, ack=UNA, payload=b"y" * 1000), 2.0)
        output(c, 2.0)
        c.receive(segment(seq=RCV, ack=UNA, payload=b"y" * 1000), 2.1)
        (a,) = output(c, 2.1)
        assert a.sack_blocks[0] == (RCV, RCV + 1000)


class TestRecoveryTerminates:
    """Regression: a retransmission made in the current wakeup was judged lost
    again when RACK.rtt and the reordering window were both 0 (a zero-delay
    path), and ``packets_to_send`` resent the same piece forever."""

    def test_zero_delay_lossy_path_in_both_directions(self) -> None:
        import signal

        class Blocked(BaseException):
            """Escapes every handler on the way up (the engine catches nothing, but be sure)."""

        def blocked(signum: int, frame: object) -> None:
            raise Blocked("packets_to_send never returned (recovery loop)")

        old = signal.signal(signal.SIGALRM, blocked)
        signal.alarm(30)  # a hang detector, not a speed limit: this takes ~0.5 s
        try:
            sim = Simulator(0, trace=False, record_events=False)
            c, s = sim.tcp_pair(link=SimLink(delay=0.0, loss=0.03))
            c.connect(s.addr, s.port)
            data = bytes(range(256)) * 4000
            c.write(data)
            s.write(data)
            c.shutdown()
            s.shutdown()
            sim.run()
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)
        assert bytes(s.received) == data
        assert bytes(c.received) == data
