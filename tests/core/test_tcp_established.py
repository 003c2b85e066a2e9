"""ESTABLISHED: data, ACK policy, windows, timers, RST/SYN rules (RFC 9293 3.10.7.4).

The client is established at t=0 with SND.UNA = 1001 and RCV.NXT = 5001; the
server side is scripted with segment templates.
"""

from __future__ import annotations

import errno

import pytest
from tcp_support import CLIENT_ISS, SERVER_ISS, establish_client, events, output, segment

from aionetstack.core.config import StackConfig
from aionetstack.core.tcp.connection import TcpConnection
from aionetstack.core.tcp.events import ConnectionClosed, DataAvailable, SendSpace
from aionetstack.core.tcp.states import TcpState
from aionetstack.wire.tcp import ACK, PSH, RST, SYN

UNA = CLIENT_ISS + 1
RCV = SERVER_ISS + 1


def cfg(**kw: object) -> StackConfig:
    base = {"timestamps": False, "sack": False, "window_scaling": False, "recv_buffer": 65535}
    base.update(kw)
    return StackConfig(**base)  # type: ignore[arg-type]


def data(seq_off: int, n: int, *, ack: int = UNA, window: int = 65535, flags: int = ACK,
         **kw: object) -> object:  # fmt: skip
    return segment(seq=RCV + seq_off, ack=ack, flags=flags, window=window,
                   payload=bytes((seq_off + i) & 0xFF for i in range(n)), **kw)  # type: ignore[arg-type]  # fmt: skip


class TestReceiveAndAck:
    def test_quickack_at_start(self, est: TcpConnection) -> None:
        est.receive(data(0, 100), 1.0)  # type: ignore[arg-type]
        (ack,) = output(est, 1.0)
        assert ack.flags == ACK and ack.ack == RCV + 100
        assert est.read() == bytes(range(100))

    def test_delayed_ack_fires_at_40ms(self) -> None:
        c = establish_client(cfg(quickack_segments=0))
        c.receive(data(0, 100), 1.0)  # type: ignore[arg-type]
        assert output(c, 1.0) == []
        assert c.get_timer() == pytest.approx(1.04)
        c.handle_timer(1.039)
        assert output(c, 1.039) == []
        c.handle_timer(1.04)
        (ack,) = output(c, 1.04)
        assert ack.ack == RCV + 100
        assert c.get_timer() is None

    def test_second_full_segment_acked_at_once(self) -> None:
        c = establish_client(cfg(quickack_segments=0))
        c.receive(data(0, 1460), 1.0)  # type: ignore[arg-type]
        assert output(c, 1.0) == []
        c.receive(data(1460, 1460), 1.001)  # type: ignore[arg-type]
        (ack,) = output(c, 1.001)
        assert ack.ack == RCV + 2920

    def test_one_ack_per_batch(self, est: TcpConnection) -> None:
        for i in range(5):
            est.receive(data(i * 1000, 1000), 1.0)  # type: ignore[arg-type]
        (ack,) = output(est, 1.0)
        assert ack.ack == RCV + 5000
        evs = events(est)
        assert evs.count(DataAvailable()) == 1  # at most once between reads

    def test_out_of_order_acked_at_once_then_gap_fill(self) -> None:
        c = establish_client(cfg(quickack_segments=0))
        c.receive(data(1000, 500), 1.0)  # type: ignore[arg-type]
        (ack,) = output(c, 1.0)
        assert ack.ack == RCV
        assert c.readable == 0
        c.receive(data(0, 1000), 1.01)  # type: ignore[arg-type]
        (ack,) = output(c, 1.01)
        assert ack.ack == RCV + 1500
        assert c.read() == bytes(i & 0xFF for i in range(1500))

    def test_overlapping_segments_trimmed(self, est: TcpConnection) -> None:
        est.receive(data(100, 200), 1.0)  # type: ignore[arg-type]
        est.receive(data(250, 200), 1.0)  # type: ignore[arg-type]
        est.receive(data(0, 150), 1.0)  # type: ignore[arg-type]
        est.receive(data(50, 100), 1.0)  # duplicate  # type: ignore[arg-type]
        assert est.read() == bytes(i & 0xFF for i in range(450))
        assert est.rcv_nxt == RCV + 450

    def test_old_duplicate_gets_ack_and_dsack(self) -> None:
        c = sack_client()
        c.receive(data(0, 100), 1.0)  # type: ignore[arg-type]
        output(c, 1.0)
        c.receive(data(0, 100), 1.1)  # type: ignore[arg-type]
        (ack,) = output(c, 1.1)
        assert ack.ack == RCV + 100
        assert ack.sack_blocks == ((RCV, RCV + 100),)  # RFC 2883 DSACK

    def test_out_of_window_data_dropped(self, est: TcpConnection) -> None:
        est.receive(data(70000, 100), 1.0)  # type: ignore[arg-type]
        assert est.dropped == 1
        (ack,) = output(est, 1.0)
        assert ack.ack == RCV


def sack_client() -> TcpConnection:
    c = TcpConnection.connect(
        cfg(sack=True), local_addr=0xC6120001, local_port=40000, remote_addr=0xC6120002,
        remote_port=80, iss=CLIENT_ISS, mtu=1500, now=0.0,
    )  # fmt: skip
    output(c, 0.0)
    c.receive(segment(seq=SERVER_ISS, ack=UNA, flags=SYN | ACK, mss=1460,
                      sack_permitted=True), 0.0)  # fmt: skip
    output(c, 0.0)
    return c


class TestSackGeneration:
    def test_blocks_most_recent_first(self) -> None:
        c = sack_client()
        c.receive(data(1000, 100), 1.0)  # type: ignore[arg-type]
        (a1,) = output(c, 1.0)
        assert a1.sack_blocks == ((RCV + 1000, RCV + 1100),)
        c.receive(data(3000, 100), 1.1)  # type: ignore[arg-type]
        (a2,) = output(c, 1.1)
        assert a2.sack_blocks == ((RCV + 3000, RCV + 3100), (RCV + 1000, RCV + 1100))
        c.receive(data(1100, 100), 1.2)  # extends the first block  # type: ignore[arg-type]
        (a3,) = output(c, 1.2)
        assert a3.sack_blocks == ((RCV + 1000, RCV + 1200), (RCV + 3000, RCV + 3100))
        c.receive(data(0, 1000), 1.3)  # type: ignore[arg-type]
        (a4,) = output(c, 1.3)
        assert a4.ack == RCV + 1200
        assert a4.sack_blocks == ((RCV + 3000, RCV + 3100),)

    def test_duplicate_ooo_gives_dsack_first(self) -> None:
        c = sack_client()
        c.receive(data(1000, 100), 1.0)  # type: ignore[arg-type]
        output(c, 1.0)
        c.receive(data(1000, 100), 1.1)  # type: ignore[arg-type]
        (a,) = output(c, 1.1)
        assert a.sack_blocks[0] == (RCV + 1000, RCV + 1100)
        assert a.sack_blocks[1] == (RCV + 1000, RCV + 1100)


class TestSending:
    def test_window_limited_burst(self) -> None:
        c = establish_client(window=5000)
        c.send(b"x" * 20000, 0.0)
        segs = output(c, 0.0)
        assert [len(s.payload) for s in segs] == [1460, 1460, 1460]  # 4380 fits; SWS holds 620
        c.receive(segment(seq=RCV, ack=UNA + 4380, window=65535), 0.01)
        segs = output(c, 0.01)
        # the window opened: everything goes out at once, the 1020-byte tail
        # too: Linux's Nagle (Minshall's variant, tcp_nagle_check) holds a
        # small segment only while an earlier small one is unacknowledged
        assert [len(s.payload) for s in segs] == [1460] * 10 + [1020]

    def test_nagle_holds_small_segment(self, est: TcpConnection) -> None:
        est.send(b"a", 0.0)
        assert len(output(est, 0.0)) == 1
        est.send(b"b", 0.001)
        assert output(est, 0.001) == []  # unacked data in flight
        est.receive(segment(seq=RCV, ack=UNA + 1), 0.01)
        (s,) = output(est, 0.01)
        assert bytes(s.payload) == b"b"

    def test_nodelay(self) -> None:
        c = establish_client(cfg(nodelay=True))
        c.send(b"a", 0.0)
        output(c, 0.0)
        c.send(b"b", 0.001)
        assert len(output(c, 0.001)) == 1

    def test_nagle_full_sized_uses_effective_mss(self) -> None:
        c = TcpConnection.connect(
            cfg(timestamps=True), local_addr=1, local_port=40000, remote_addr=2,
            remote_port=80, iss=CLIENT_ISS, mtu=1500, now=0.0,
        )  # fmt: skip
        (syn,) = output(c, 0.0)
        c.receive(segment(seq=SERVER_ISS, ack=UNA, flags=SYN | ACK, mss=1460, ts_val=1,
                          ts_ecr=syn.ts_val), 0.0)  # fmt: skip
        output(c, 0.0)
        c.send(b"x" * 10, 0.0)
        output(c, 0.0)
        c.send(b"y" * 1448, 0.0)
        (s,) = output(c, 0.0)  # a full-sized (MSS - 12) segment is not held by Nagle
        assert len(s.payload) == 1448

    def test_send_space_event(self, est: TcpConnection) -> None:
        est.send(b"x" * 3000, 0.0)
        output(est, 0.0)
        events(est)
        est.receive(segment(seq=RCV, ack=UNA + 1460), 0.01)
        output(est, 0.01)
        assert events(est) == [SendSpace()]
        assert est.send_queued == 1540


class TestRetransmission:
    def test_rto_backoff_and_go_back(self, est: TcpConnection) -> None:
        est.send(b"x" * 2920, 0.0)
        assert len(output(est, 0.0)) == 2
        rto = est.tcp_info().rto
        assert est.get_timer() == pytest.approx(rto)
        est.handle_timer(rto)
        segs = output(est, rto)
        assert segs[0].seq == UNA  # go back to SND.UNA
        assert est.tcp_info().cwnd == 1460  # loss window
        assert len(segs) == 1
        assert est.get_timer() == pytest.approx(rto + 2 * rto)
        # an ACK restarts the timer with the backed-off RTO (Karn: no sample)
        est.receive(segment(seq=RCV, ack=UNA + 1460), rto + 0.01)
        assert est.get_timer() == pytest.approx(rto + 0.01 + 2 * rto)

    def test_retries2_gives_timeout(self) -> None:
        c = establish_client(cfg(retries2=3))
        c.send(b"x" * 100, 0.0)
        output(c, 0.0)
        times = []
        while (t := c.get_timer()) is not None:
            c.handle_timer(t)
            if output(c, t):
                times.append(t)
        # RTO = SRTT (1 ms, the handshake's) + 200 ms (Linux: the floor is on the
        # variance term), doubled per expiry
        assert times == pytest.approx([0.201, 0.603, 1.407])
        assert c.state is TcpState.CLOSED
        assert isinstance(c.error, TimeoutError) and c.error.errno == errno.ETIMEDOUT
        assert isinstance(events(c)[-1], ConnectionClosed)

    def test_fast_retransmit_on_three_dupacks(self, est: TcpConnection) -> None:
        est.send(b"x" * 14600, 0.0)
        assert len(output(est, 0.0)) == 10
        for i in range(2):
            est.receive(segment(seq=RCV, ack=UNA), 0.01 + i * 0.001)
            assert output(est, 0.01) == []
        est.receive(segment(seq=RCV, ack=UNA), 0.013)
        (rtx,) = output(est, 0.013)
        assert rtx.seq == UNA and len(rtx.payload) == 1460
        info = est.tcp_info()
        assert info.ssthresh == 7300 and info.cwnd == 7300 + 3 * 1460
        assert info.total_retrans == 1
        # partial ACK: the next hole goes at once (RFC 6582)
        est.receive(segment(seq=RCV, ack=UNA + 2920), 0.02)
        (rtx2,) = output(est, 0.02)[:1]
        assert rtx2.seq == UNA + 2920

    def test_no_rtt_sample_from_duplicate_ack(self, est: TcpConnection) -> None:
        est.send(b"x" * 100, 0.0)
        output(est, 0.0)
        srtt = est.tcp_info().rtt
        est.receive(segment(seq=RCV, ack=UNA), 5.0)
        assert est.tcp_info().rtt == srtt


class TestPersist:
    def test_zero_window_probe_backoff(self) -> None:
        c = establish_client(window=0)
        c.send(b"x" * 100, 0.0)
        assert output(c, 0.0) == []
        t1 = c.get_timer()
        assert t1 == pytest.approx(0.201)  # the RTO: SRTT 1 ms + 200 ms
        c.handle_timer(t1)  # type: ignore[arg-type]
        (probe,) = output(c, t1)  # type: ignore[arg-type]
        assert probe.seq == UNA - 1 and len(probe.payload) == 0
        t2 = c.get_timer()
        assert t2 == pytest.approx(0.201 + 0.402)
        # the window opens: data flows, persist stops
        c.receive(segment(seq=RCV, ack=UNA, window=1000), 0.3)
        (s,) = output(c, 0.3)
        assert len(s.payload) == 100
        assert c.get_timer() != pytest.approx(0.6)


class TestKeepalive:
    def test_probes_then_timeout(self) -> None:
        c = establish_client(cfg(keepalive=True, keepalive_idle=10.0, keepalive_interval=1.0,
                                 keepalive_count=3))  # fmt: skip
        probes = []
        while (t := c.get_timer()) is not None:
            c.handle_timer(t)
            for s in output(c, t):
                probes.append((t, s.seq))
        # then Linux's tcp_keepalive_timer resets the connection (an RST at SND.MAX)
        assert probes == [(10.0, UNA - 1), (11.0, UNA - 1), (12.0, UNA - 1), (13.0, UNA)]
        assert isinstance(c.error, TimeoutError)

    def test_answer_resets(self) -> None:
        c = establish_client(cfg(keepalive=True, keepalive_idle=10.0, keepalive_interval=1.0,
                                 keepalive_count=3))  # fmt: skip
        c.handle_timer(10.0)
        output(c, 10.0)
        c.receive(segment(seq=RCV, ack=UNA), 10.01)
        assert c.get_timer() == pytest.approx(20.01)


class TestRstAndSyn:
    def test_exact_rst_resets(self, est: TcpConnection) -> None:
        est.receive(segment(seq=RCV, flags=RST, window=0), 1.0)
        assert est.state is TcpState.CLOSED
        assert isinstance(est.error, ConnectionResetError)
        with pytest.raises(ConnectionResetError):
            est.send(b"x", 1.1)

    def test_in_window_rst_gets_challenge_ack(self, est: TcpConnection) -> None:
        est.receive(segment(seq=RCV + 10, flags=RST, window=0), 1.0)
        assert est.state is TcpState.ESTABLISHED
        (ack,) = output(est, 1.0)
        assert ack.flags == ACK and ack.ack == RCV
        assert est.challenge_acks == 1

    def test_out_of_window_rst_dropped_silently(self, est: TcpConnection) -> None:
        est.receive(segment(seq=RCV + 100000, flags=RST, window=0), 1.0)
        assert est.state is TcpState.ESTABLISHED
        assert output(est, 1.0) == []

    def test_syn_gets_challenge_ack(self, est: TcpConnection) -> None:
        est.receive(segment(seq=RCV + 5, flags=SYN, window=0), 1.0)
        assert est.state is TcpState.ESTABLISHED
        (ack,) = output(est, 1.0)
        assert ack.ack == RCV

    def test_ack_of_unsent_data_challenged(self, est: TcpConnection) -> None:
        est.receive(segment(seq=RCV, ack=UNA + 5000, flags=ACK | PSH, payload=b"zz"), 1.0)
        assert est.readable == 0 and est.snd_una == UNA
        (ack,) = output(est, 1.0)
        assert ack.ack == RCV

    def test_challenge_ack_rate_limited(self) -> None:
        c = establish_client(cfg(challenge_ack_limit=2))
        for i in range(5):
            c.receive(segment(seq=RCV + 10 + i, flags=RST, window=0), 1.0 + i * 0.01)
        assert c.challenge_acks == 2
        c.receive(segment(seq=RCV + 10, flags=RST, window=0), 2.5)
        assert c.challenge_acks == 3


class TestWindowScaling:
    def test_scaled_windows(self) -> None:
        c = TcpConnection.connect(
            StackConfig(timestamps=False), local_addr=1, local_port=40000, remote_addr=2,
            remote_port=80, iss=CLIENT_ISS, mtu=1500, now=0.0,
        )  # fmt: skip
        output(c, 0.0)
        c.receive(segment(seq=SERVER_ISS, ack=UNA, flags=SYN | ACK, window=1000, wscale=3,
                          mss=1460), 0.0)  # fmt: skip
        assert c.snd_wnd == 1000  # not scaled in the SYN-ACK
        (ack,) = output(c, 0.0)
        # the initial buffer (tcp_rmem[1]), scaled by 7: the shift chosen from the maximum
        assert ack.window == (128 * 1024) >> 7
        c.receive(segment(seq=RCV, ack=UNA, window=1000), 0.1)
        assert c.snd_wnd == 8000

    def test_receive_window_counts_unread_and_sws(self) -> None:
        c = establish_client(cfg(recv_buffer=10000, quickack_segments=100))
        c.receive(data(0, 1460), 1.0)  # type: ignore[arg-type]
        (a,) = output(c, 1.0)
        assert a.window == 10000 - 1460
        for i in range(1, 6):
            c.receive(data(i * 1460, 1460), 1.0)  # type: ignore[arg-type]
        (a,) = output(c, 1.0)
        assert a.window == 10000 - 8760
        c.read(100)  # +100 free: not worth advertising (SWS)
        c.receive(data(8760, 1), 1.1)  # type: ignore[arg-type]
        (a,) = output(c, 1.1)
        assert a.window == 10000 - 8761 - 0  # right edge unchanged
        c.read()  # everything read: the window update matters
        (a,) = output(c, 1.2)
        assert a.window == 10000


class TestTimestamps:
    def test_paws_drops_old_segment(self) -> None:
        c = TcpConnection.connect(
            cfg(timestamps=True), local_addr=1, local_port=40000, remote_addr=2,
            remote_port=80, iss=CLIENT_ISS, mtu=1500, now=0.0,
        )  # fmt: skip
        (syn,) = output(c, 0.0)
        c.receive(segment(seq=SERVER_ISS, ack=UNA, flags=SYN | ACK, mss=1460, ts_val=1000,
                          ts_ecr=syn.ts_val), 0.0)  # fmt: skip
        output(c, 0.0)
        c.receive(segment(seq=RCV, ack=UNA, payload=b"a", ts_val=1005, ts_ecr=0), 1.0)
        output(c, 1.0)
        c.receive(segment(seq=RCV + 1, ack=UNA, payload=b"b", ts_val=900, ts_ecr=0), 1.1)
        assert c.readable == 1 and c.dropped == 1
        (ack,) = output(c, 1.1)
        assert ack.ts_ecr == 1005 and ack.ack == RCV + 1

    def test_rtt_from_tsecr(self) -> None:
        c = TcpConnection.connect(
            cfg(timestamps=True), local_addr=1, local_port=40000, remote_addr=2,
            remote_port=80, iss=CLIENT_ISS, mtu=1500, now=0.0,
        )  # fmt: skip
        (syn,) = output(c, 0.0)
        c.receive(segment(seq=SERVER_ISS, ack=UNA, flags=SYN | ACK, mss=1460, ts_val=1,
                          ts_ecr=syn.ts_val), 0.1)  # fmt: skip
        assert c.tcp_info().rtt == pytest.approx(0.1, abs=0.002)
        output(c, 0.1)
        c.send(b"x", 1.0)
        (s,) = output(c, 1.0)
        c.receive(segment(seq=RCV, ack=UNA + 1, ts_val=2, ts_ecr=s.ts_val), 1.3)
        info = c.tcp_info()
        assert info.rtt == pytest.approx(0.875 * 0.1 + 0.125 * 0.3, abs=0.002)


class TestLossRecoveryWithBatches:
    def test_one_sack_ack_triggers_recovery(self) -> None:
        c = sack_client()
        c.send(b"x" * 14600, 0.0)
        assert len(output(c, 0.0)) == 10
        # one ACK for the whole batch, SACKing segments 2..5: 4 MSS above SND.UNA
        c.receive(segment(seq=RCV, ack=UNA, sack_blocks=((UNA + 1460, UNA + 7300),)), 0.01)
        out = output(c, 0.01)
        assert out[0].seq == UNA and len(out[0].payload) == 1460  # RFC 6675 retransmission
        assert c.tcp_info().fast_retransmits == 1
        # the next ACK SACKs more; the hole after segment 5 is resent, not SACKed data
        c.receive(segment(seq=RCV, ack=UNA, sack_blocks=((UNA + 1460, UNA + 7300),
                                                          (UNA + 8760, UNA + 14600))), 0.02)  # fmt: skip
        out = output(c, 0.02)
        assert [s.seq for s in out] == [UNA + 7300]

    def test_dupacks_per_out_of_order_segment_without_sack(self, est: TcpConnection) -> None:
        for i in range(1, 5):
            est.receive(data(i * 1000, 1000), 1.0)  # type: ignore[arg-type]
        acks = output(est, 1.0)
        assert len(acks) == 3 and all(a.ack == RCV for a in acks)


class TestSenderSws:
    def test_small_window_waits_then_override_timeout_sends(self) -> None:
        c = establish_client(window=65535)
        c.receive(segment(seq=RCV, ack=UNA, window=1000), 0.01)  # the peer's buffer filled
        c.send(b"x" * 3000, 0.02)
        assert output(c, 0.02) == []  # 1000 < max window / 2: SWS avoidance holds it
        t = c.get_timer()
        assert t == pytest.approx(0.02 + 0.201)  # the persist timer: the RTO
        c.handle_timer(t)  # type: ignore[arg-type]
        (s,) = output(c, t)  # type: ignore[arg-type]
        assert len(s.payload) == 1000 and s.seq == UNA


class TestTailLossProbe:
    def test_probe_retransmits_last_segment_at_pto(self) -> None:
        c = sack_client()  # SRTT ~1 ms from the handshake: PTO = max(2 * SRTT, 10 ms)
        c.send(b"x" * 14600, 1.0)
        assert len(output(c, 1.0)) == 10
        # a fresh flight is covered by a probe too (RFC 8985 7.2; issue 10): PTO =
        # max(2 * SRTT, 10 ms), earlier than the 200 ms RTO
        assert c.get_timer() == pytest.approx(1.01)
        # the first two segments are ACKed; the tail (eight segments) is lost
        c.receive(segment(seq=RCV, ack=UNA + 2920), 1.001)
        assert output(c, 1.001) == []
        pto = 1.001 + 2 * c.tcp_info().rtt
        assert c.get_timer() == pytest.approx(max(pto, 1.011))
        t = c.get_timer()
        c.handle_timer(t)  # type: ignore[arg-type]
        (probe,) = output(c, t)  # type: ignore[arg-type]
        assert probe.seq == UNA + 13140 and len(probe.payload) == 1460  # RFC 8985 7.3
        rto = c.tcp_info().rto  # SRTT + 200 ms (Linux's floor on the variance term)
        assert c.get_timer() == pytest.approx(t + rto)  # type: ignore[operator]  # re-armed
        # the probe's SACK reveals the tail loss: recovery starts at once
        c.receive(segment(seq=RCV, ack=UNA + 2920, sack_blocks=((UNA + 13140, UNA + 14600),)), 1.03)
        (rtx,) = output(c, 1.03)[:1]
        assert rtx.seq == UNA + 2920 and c.tcp_info().fast_retransmits == 1

    def test_probe_sends_new_data_when_window_allows(self) -> None:
        c = sack_client()
        c.send(b"x" * 30000, 1.0)
        assert len(output(c, 1.0)) == 10  # cwnd-limited
        c.receive(segment(seq=RCV, ack=UNA + 1460), 1.001)
        assert len(output(c, 1.001)) == 2  # the ACK clocks out two more
        t = c.get_timer()
        c.handle_timer(t)  # type: ignore[arg-type]
        (probe,) = output(c, t)  # type: ignore[arg-type]
        assert probe.seq == UNA + 17520  # new data beyond cwnd


class TestOutOfOrderBounds:
    """Hostile tiny out-of-order segments must not create unbounded blocks (RFC 2018 8)."""

    def test_block_count_capped_and_excess_dropped_unsacked(self) -> None:
        c = sack_client()  # recv_buffer 65535 -> cap max(64, 65535 // 1024) = 64 blocks
        for k in range(200):  # 1-byte segments at every other byte: 200 separate blocks
            c.receive(data(1 + 2 * k, 1), 1.0)  # type: ignore[arg-type]
        assert len(c._reasm) == 64
        assert c.dropped == 200 - 64
        (ack,) = output(c, 1.0)
        held = {(s - RCV, e - RCV) for s, e in ack.sack_blocks}
        assert all(e <= 2 * 64 for _, e in held)  # nothing beyond the cap is SACKed
        # a segment touching a held block is still taken (no new block)
        c.receive(data(2, 1), 1.1)  # type: ignore[arg-type]
        assert len(c._reasm) == 63 and c.dropped == 200 - 64
        # the gap fill delivers what was held
        c.receive(data(0, 1), 1.2)  # type: ignore[arg-type]
        assert c.read() == bytes(range(4))

    def test_block_overhead_charged_against_receive_space(self) -> None:
        c = sack_client()
        free0 = c._rcv_free()
        c.receive(data(10, 1), 1.0)  # type: ignore[arg-type]
        assert c._reasm.bytes == 1
        assert c._rcv_free() < free0 - 1  # payload plus per-block bookkeeping
