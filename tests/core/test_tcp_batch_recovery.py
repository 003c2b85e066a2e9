"""Loss recovery when a whole flight's ACKs arrive as one batch, as over TUN
(issue 10): ssthresh from the window before the batch, and a tail loss probe
after every flight, a flight from idle included. Explicit time."""

from __future__ import annotations

from tcp_support import RCV, UNA, establish_ts, output, segment

from aionetstack.wire.tcp import TcpSegment

MSS = 1448  # 1460 less the timestamp option


def ack(n_segs: int, now: float, sack: tuple[tuple[int, int], ...] = (), tsecr: int = 0) -> object:
    return segment(seq=RCV, ack=UNA + n_segs * MSS, sack_blocks=sack, ts_val=100, ts_ecr=tsecr)


def blk(first: int, last: int) -> tuple[int, int]:
    """SACK block covering segments first..last (0-based) of the flight."""
    return (UNA + first * MSS, UNA + (last + 1) * MSS)


def test_ssthresh_is_half_the_window_before_the_batch() -> None:
    c = establish_ts(rtt=0.05)
    c.send(b"x" * (10 * MSS), 1.0)
    assert len(output(c, 1.0)) == 10  # IW10: the whole flight
    cwnd_before = c.tcp_info().cwnd
    assert cwnd_before == 10 * MSS
    # one batch at 1.05: segments 0-4 ACKed, 5 lost, 6, 7, 8 SACKed one by one
    ecr = c._ts_val(1.0)
    c.receive(ack(5, 1.05, tsecr=ecr), 1.05)  # type: ignore[arg-type]
    for last in (6, 7, 8):
        c.receive(ack(5, 1.05, (blk(6, last),), ecr), 1.05)  # type: ignore[arg-type]
    info = c.tcp_info()
    assert info.fast_retransmits == 1
    # Linux tcp_reno_ssthresh: half of cwnd in whole segments. The cumulative
    # ACK grew cwnd to 15 segments in slow start (Linux grows it on that ACK,
    # before the SACKs reveal the hole): 7, never a half of the 5 segments left
    # in flight after the batch's cumulative ACK (2.5)
    assert info.ssthresh == (15 // 2) * MSS
    (rtx, *_rest) = output(c, 1.05)
    assert rtx.seq == UNA + 5 * MSS and len(rtx.payload) == MSS


def test_a_flight_from_idle_is_covered_by_a_tail_loss_probe() -> None:
    c = establish_ts(rtt=0.05)  # SRTT 50 ms, RTO 200 ms (the floor)
    c.send(b"x" * (3 * MSS), 1.0)
    assert len(output(c, 1.0)) == 3
    # RFC 8985 7.2: PTO = 2 * SRTT (a flight of more than one segment)
    assert c.get_timer() == 1.0 + 2 * 0.05
    c.handle_timer(1.1)
    (probe,) = output(c, 1.1)
    # RFC 8985 7.3: no new data to send: the last segment again
    assert probe.seq == UNA + 2 * MSS and len(probe.payload) == MSS
    assert c.tcp_info().rto_expirations == 0
    # the probe is SACKed, the other two are not: recovery, not an RTO
    ecr = c._ts_val(1.1)
    c.receive(ack(0, 1.15, (blk(2, 2),), ecr), 1.15)  # type: ignore[arg-type]
    assert c.tcp_info().fast_retransmits == 1
    first = output(c, 1.15)[0]
    assert first.seq == UNA and c.tcp_info().rto_expirations == 0


def test_a_single_segment_flight_waits_for_the_delayed_ack_too() -> None:
    c = establish_ts(rtt=0.05)
    c.send(b"x" * 100, 1.0)
    assert len(output(c, 1.0)) == 1
    # RFC 8985 7.2: a lone segment's PTO adds the peer's worst-case delayed ACK,
    # and a PTO not earlier than the RTO is no PTO
    pto = 1.0 + 2 * 0.05 + c.config.delayed_ack_max
    rto = 1.0 + c.tcp_info().rto
    assert c.get_timer() == min(pto, rto)


def test_frto_undoes_a_spurious_timeout_without_timestamps() -> None:
    # RFC 5682 3.1 (SACK-enhanced F-RTO, Linux tcp_frto=2): after the RTO the
    # first segment is resent; an ACK then SACKs data sent before the timeout
    # and never resent: not everything was lost, the window comes back
    from tcp_support import SERVER_ISS, make_client, segment

    from aionetstack.core.config import StackConfig
    from aionetstack.wire.tcp import ACK, SYN

    cfg = StackConfig(timestamps=False, sack=True, window_scaling=False, recv_buffer=65535)
    c = make_client(cfg, 0.0)
    output(c, 0.0)
    c.receive(
        segment(seq=SERVER_ISS, ack=UNA, flags=SYN | ACK, mss=1460, sack_permitted=True), 0.05
    )
    output(c, 0.05)
    mss = 1460
    c.send(b"x" * (10 * mss), 1.0)
    assert len(output(c, 1.0)) == 10
    c._cc.cwnd = 20 * mss  # as grown by a transfer
    cwnd, ssthresh = c.tcp_info().cwnd, c.tcp_info().ssthresh
    out = []
    for _ in range(5):  # the probe first (at the RTO's time), then the RTO
        t = c.get_timer()
        assert t is not None
        c.handle_timer(t)
        out = output(c, t)
        if c.tcp_info().rto_expirations:
            break
    assert c.tcp_info().rto_expirations == 1
    assert out[0].seq == UNA and c.tcp_info().cwnd == mss
    # the ACKs were only late: all ten segments arrived, nine never resent
    c.receive(segment(seq=RCV, ack=UNA + 10 * mss), t + 0.01)
    info = c.tcp_info()
    assert info.undos == 1
    assert info.cwnd >= cwnd and info.ssthresh == ssthresh


def test_the_simulator_can_deliver_a_flights_acks_as_one_batch() -> None:
    # issue 10: serialised ACKs hid the batching effect; SimLink(batch=) shows it.
    # With the fix, ssthresh is about half the window before each reduction.
    from aionetstack.core.config import StackConfig
    from aionetstack.core.sim import SimLink, Simulator

    sim = Simulator(seed=5, trace=False, record_events=False)
    data = SimLink(delay=0.005, loss=0.02, rate=20e6)
    acks = SimLink(delay=0.005, batch=0.01)  # the ACKs read in 10 ms wakeups
    client, server = sim.tcp_pair(StackConfig(congestion_control="newreno"), link=data, back=acks)
    conn = client.connect(server.addr, server.port)
    sim.run(until=0.1)
    conn.send(b"x" * 1_000_000, sim.now)
    ratios: list[float] = []
    fr = 0
    cwnd_before = conn.tcp_info().cwnd
    while conn.tcp_info().bytes_acked < 1_000_000 and sim.now < 60:
        sim.run(until=sim.now + 0.002)
        info = conn.tcp_info()
        if info.fast_retransmits != fr:
            fr = info.fast_retransmits
            ratios.append(info.ssthresh / cwnd_before)
        cwnd_before = info.cwnd
    assert conn.tcp_info().bytes_acked == 1_000_000
    assert len(ratios) >= 3
    # (before the fix: 0.39 on this seed, 0.32-0.46 on others; serialised ACKs hid it)
    assert 0.45 <= sorted(ratios)[len(ratios) // 2] <= 0.55


def seg_numbers(out: list[TcpSegment]) -> list[int]:
    return [(s.seq - UNA) // MSS for s in out if s.payload]


def test_a_batch_ending_recovery_after_a_partial_ack_resends_nothing() -> None:
    # a partial ACK asks for the new head hole; a full ACK later in the same
    # batch fills it and ends recovery: SND.UNA is then data nobody lost
    # (bug: it was resent, one needless retransmission per such episode)
    c = establish_ts(rtt=0.05)
    c.send(b"x" * (30 * MSS), 1.0)
    output(c, 1.0)
    ecr = c._ts_val(1.0)
    c.receive(ack(0, 1.05, (blk(1, 3),), ecr), 1.05)  # type: ignore[arg-type]
    assert seg_numbers(output(c, 1.05)) == [0]  # fast retransmit
    c.receive(ack(0, 1.06, (blk(5, 9), blk(1, 3)), ecr), 1.06)  # type: ignore[arg-type]
    assert seg_numbers(output(c, 1.06)) == [4, 10, 11, 12]  # the hole at 4, new data
    assert c.tcp_info().total_retrans == 2
    # one batch at 1.10: a partial ACK (4 still missing), then a full one
    c.receive(ack(4, 1.10, (blk(5, 9),), c._ts_val(1.05)), 1.10)  # type: ignore[arg-type]
    c.receive(ack(11, 1.10, (), c._ts_val(1.06)), 1.10)  # type: ignore[arg-type]
    assert seg_numbers(output(c, 1.10)) == [13, 14, 15]  # new data only, not 11 again
    assert c.tcp_info().total_retrans == 2


def test_bbr_conserves_the_flight_before_the_batch_on_entering_recovery() -> None:
    # Linux bbr_set_cwnd_to_recover_or_restore: on entering recovery cwnd =
    # packets in flight + acked, with every earlier ACK already answered by
    # sends. The driver feeds a flight's ACKs as one batch, so when the loss
    # shows at the batch's end the pipe has shrunk to the hole: cwnd fell to
    # 2 segments in STARTUP (bug). The flight before the batch is the pipe.
    from aionetstack.core.config import StackConfig

    cfg = StackConfig(timestamps=True, sack=True, window_scaling=False, recv_buffer=65535,
                      congestion_control="bbr")  # fmt: skip
    c = establish_ts(rtt=0.01, config=cfg)
    c.send(b"x" * (40 * MSS), 1.0)
    sent = output(c, 1.0)
    t = 1.0
    while len(sent) < 10:  # BBR paces the initial window out
        t = c.get_timer() or t
        c.handle_timer(t)
        sent += output(c, t)
    assert len(sent) == 10 and t < 1.01
    ecr = c._ts_val(1.0)
    # one batch at 1.02: segments 0-7 ACKed one by one, 8 lost, 9 SACKed
    for k in range(1, 9):
        c.receive(ack(k, 1.02, tsecr=ecr), 1.02)  # type: ignore[arg-type]
    c.receive(ack(8, 1.02, (blk(9, 9),), ecr), 1.02)  # type: ignore[arg-type]
    info = c.tcp_info()
    assert info.fast_retransmits == 1
    # packet conservation on the 10 segments in flight before the batch, not
    # on the one left after it (cwnd 2 segments)
    assert info.cwnd >= 10 * MSS, info.cwnd // MSS
    (rtx, *_rest) = output(c, 1.02)
    assert rtx.seq == UNA + 8 * MSS
