"""Rules of the engine's parts that the mutation run (`make mutation`) showed no
test pinned: each test fails if its rule is broken. Explicit time, public
interface (tcp_info, the wire) only."""

from __future__ import annotations

from tcp_support import (
    PLAIN,
    RCV,
    SACK,
    SERVER_ISS,
    UNA,
    make_client,
    output,
    rx,
    segment,
    tcp_established,
    tcp_syn_sent,
)

from aionetstack.core.config import StackConfig
from aionetstack.core.tcp.connection import TcpConnection, rst_for_unexpected
from aionetstack.core.tcp.states import TcpState
from aionetstack.wire.tcp import ACK, FIN, RST, SYN, TcpSegment, parse_tcp

MSS = 1460


def test_rst_for_a_syn_nobody_wants_has_sequence_zero() -> None:
    # RFC 9293 3.10.7.1: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
    syn = segment(src_port=1234, dst_port=80, seq=7000, flags=SYN)
    pkt = rst_for_unexpected(syn, 0xC6120001, 0xC6120002)
    assert pkt is not None
    rst = parse_tcp(pkt[20:], 0xC6120002, 0xC6120001)
    assert rst.seq == 0 and rst.ack == 7001
    assert pkt[8] == 64  # the default TTL (Linux ip_default_ttl)


def test_segments_follow_half_the_largest_window_only_above_536() -> None:
    # Linux tcp_bound_to_half_wnd: a peer window of 536 or less is used whole
    c = tcp_established(PLAIN, window=536)
    c.send(b"x" * 2000, 1.0)
    assert [len(s.payload) for s in output(c, 1.0)] == [536]
    c2 = tcp_established(PLAIN, window=1000)
    c2.send(b"x" * 2000, 1.0)
    assert [len(s.payload) for s in output(c2, 1.0)] == [500, 500]


def test_data_segments_are_counted_once_each() -> None:
    c = tcp_established(PLAIN)
    c.send(b"x" * 3 * MSS, 1.0)
    assert len(output(c, 1.0)) == 3
    assert c.tcp_info().data_segs_out == 3 and c.tcp_info().bytes_sent == 3 * MSS


def test_a_new_segment_is_timed_without_timestamps() -> None:
    # RFC 6298 3: with no retransmission outstanding, time one new segment
    c = tcp_established(PLAIN, now=1.0, rtt=0.05)
    assert abs(c.tcp_info().rtt - 0.05) < 1e-9
    c.send(b"x" * 100, 2.0)
    output(c, 2.0)
    c.receive(segment(seq=RCV, ack=UNA + 100), 2.25)
    # RFC 6298 2.3: SRTT = 7/8 * 0.05 + 1/8 * 0.25
    assert abs(c.tcp_info().rtt - (0.875 * 0.05 + 0.125 * 0.25)) < 1e-9


def test_an_opened_window_stops_the_persist_timer() -> None:
    c = tcp_established(PLAIN, window=0)
    c.send(b"x" * 100, 1.0)
    assert output(c, 1.0) == []
    assert c.get_timer() is not None  # the persist timer
    c.receive(segment(seq=RCV, ack=UNA, window=1000), 1.05)  # a window update
    assert [len(s.payload) for s in output(c, 1.05)] == [100]
    c.receive(segment(seq=RCV, ack=UNA + 100, window=1000), 1.1)
    output(c, 1.1)
    assert c.get_timer() is None  # nothing outstanding, no probe pending


def test_no_window_restart_when_idle_less_than_the_rto() -> None:
    # RFC 7661 / Linux tcp_cwnd_restart: only an idle period longer than the RTO
    c = tcp_established(PLAIN, now=1.0, rtt=0.3)  # RTO about 0.75 s after the next sample
    c.send(b"x" * 1000, 2.0)
    output(c, 2.0)
    c.receive(segment(seq=RCV, ack=UNA + 1000), 2.3)
    output(c, 2.3)
    info = c.tcp_info()
    assert info.rto > 0.6
    before = info.cwnd
    c.send(b"y" * 100, 2.6)  # idle 0.6 s: above rto_min, below the RTO
    output(c, 2.6)
    assert c.tcp_info().cwnd == before


def test_a_zero_window_takes_no_data_overlapping_rcv_nxt() -> None:
    # RFC 9293 3.10.7.4: with RCV.WND = 0 no segment with data is acceptable
    cfg = StackConfig(timestamps=False, sack=False, window_scaling=False, recv_buffer=2000,
                      congestion_control="newreno")  # fmt: skip
    c = tcp_established(cfg)
    c.receive(segment(seq=RCV, ack=UNA, payload=b"a" * 2000), 1.0)
    output(c, 1.0)
    assert c.tcp_info().rcv_wnd == 0
    dropped = c.tcp_info().dropped
    c.receive(segment(seq=RCV + 1999, ack=UNA, payload=b"b" * 10), 1.1)
    (a,) = output(c, 1.1)
    assert a.ack == RCV + 2000 and c.tcp_info().dropped == dropped + 1
    assert c.readable == 2000


def test_time_wait_restarts_2msl_only_for_a_fin() -> None:
    c = tcp_established(PLAIN)
    c.shutdown(0.0)
    output(c, 0.0)
    c.receive(segment(seq=RCV, ack=UNA + 1, flags=ACK | FIN), 0.1)
    output(c, 0.1)
    assert c.state is TcpState.TIME_WAIT
    deadline = c.get_timer()
    c.receive(segment(seq=RCV - 5, ack=UNA + 1), 5.0)  # an old ACK: unacceptable, no FIN
    output(c, 5.0)
    assert c.get_timer() == deadline


def test_a_dsack_needs_sack_even_for_a_duplicate_before_a_new_fin() -> None:
    c = tcp_established(PLAIN)
    c.receive(segment(seq=RCV, ack=UNA, payload=b"a" * 100), 1.0)
    output(c, 1.0)
    # the data again, now with a FIN: the FIN is new, the data a duplicate
    c.receive(segment(seq=RCV, ack=UNA, flags=ACK | FIN, payload=b"a" * 100), 1.1)
    c.handle_timer(1.1 + c.config.delayed_ack)  # the FIN's ACK may be delayed
    acks = output(c, 1.1) + output(c, 1.1 + c.config.delayed_ack)
    assert [a.ack for a in acks] == [RCV + 101]
    assert all(a.sack_blocks == () for a in acks)


def test_an_out_of_order_fin_is_sacked_as_one_byte() -> None:
    c = tcp_established(SACK)
    c.receive(segment(seq=RCV + 100, ack=UNA, flags=ACK | FIN), 1.0)
    (a,) = output(c, 1.0)
    assert a.ack == RCV and a.sack_blocks == ((RCV + 100, RCV + 101),)


def test_without_sack_each_out_of_order_segment_gets_its_duplicate_ack() -> None:
    # RFC 5681 4.2: up to three duplicate ACKs per batch for a peer without SACK
    c = tcp_established(PLAIN)
    c.receive(segment(seq=RCV + 100, ack=UNA, payload=b"b" * 100), 1.0)
    c.receive(segment(seq=RCV + 300, ack=UNA, payload=b"c" * 100), 1.0)
    acks = output(c, 1.0)
    assert len(acks) == 2 and all(a.ack == RCV for a in acks)


def test_syn_retransmissions_count_as_retransmissions() -> None:
    c = make_client(PLAIN, 0.0)
    output(c, 0.0)
    c.handle_timer(1.0)
    assert len(output(c, 1.0)) == 1
    assert c.tcp_info().total_retrans == 1 and c.tcp_info().rto_expirations == 1


def first_segment_lost_rest_sacked() -> TcpConnection:
    """Four segments sent at 2.0; at 2.02 the last three are SACKed, the first is missing."""
    c = tcp_established(SACK, rtt=0.01, now=1.0)
    c.send(b"x" * 4 * MSS, 2.0)
    output(c, 2.0)
    c.receive(segment(seq=RCV, ack=UNA, sack_blocks=((UNA + MSS, UNA + 4 * MSS),)), 2.02)
    output(c, 2.02)
    return c


def test_the_first_rto_keeps_the_sack_scoreboard() -> None:
    # RFC 6675 5.1: after a first timeout SACKed data is not resent (RFC 2018 8
    # allows forgetting only after repeated timeouts)
    c = first_segment_lost_rest_sacked()
    seqs: list[int] = []
    t = c.get_timer()
    for _ in range(6):
        assert t is not None
        c.handle_timer(t)
        seqs += [s.seq for s in output(c, t) if s.payload]
        if c.tcp_info().rto_expirations:
            break
        t = c.get_timer()
    assert all(s == UNA for s in seqs)  # only the hole, never SACKed data
    assert t is not None
    # the hole filled: what was SACKed is still taken as received
    after = [s.seq for s in rx(c, segment(seq=RCV, ack=UNA + MSS), t + 0.01) if s.payload]
    assert UNA + MSS not in after


def test_a_repeated_rto_forgets_the_sack_scoreboard() -> None:
    # RFC 2018 8: after repeated timeouts the receiver may have reneged; the
    # SACKed data is sent again once the hole is filled
    c = first_segment_lost_rest_sacked()
    t = c.get_timer()
    for _ in range(10):
        assert t is not None
        c.handle_timer(t)
        output(c, t)
        if c.tcp_info().rto_expirations == 2:
            break
        t = c.get_timer()
    assert c.tcp_info().rto_expirations == 2
    # the hole is filled, and the peer no longer reports the SACKed blocks
    resent = [s.seq for s in rx(c, segment(seq=RCV, ack=UNA + MSS), t + 0.01) if s.payload]
    assert resent and resent[0] == UNA + MSS


def test_connection_without_timestamps_after_a_lost_syn_probes_at_one_second() -> None:
    # no RTT sample (Karn: the SYN was resent, no timestamps): the PTO is 1 s
    cfg = StackConfig(timestamps=False, sack=True, window_scaling=False, recv_buffer=65535,
                      congestion_control="newreno")  # fmt: skip
    c = make_client(cfg, 0.0)
    output(c, 0.0)
    c.handle_timer(1.0)
    output(c, 1.0)
    c.receive(segment(seq=SERVER_ISS, ack=UNA, flags=SYN | ACK, mss=MSS, sack_permitted=True),
              1.05)  # fmt: skip
    output(c, 1.05)
    assert c.tcp_info().rtt == 0.0
    c.send(b"x" * 3 * MSS, 2.0)
    output(c, 2.0)
    assert c.get_timer() == 2.0 + 1.0




def test_no_window_restart_leaves_ssthresh_alone_too() -> None:
    c = tcp_established(PLAIN, now=1.0, rtt=0.3)
    c.send(b"x" * 1000, 2.0)
    output(c, 2.0)
    c.receive(segment(seq=RCV, ack=UNA + 1000), 2.3)
    output(c, 2.3)
    ssthresh = c.tcp_info().ssthresh
    c.send(b"y" * 100, 2.6)  # idle 0.6 s, below the RTO
    output(c, 2.6)
    assert c.tcp_info().ssthresh == ssthresh


def test_counters_count_exactly() -> None:
    # segs_out counts the SYN, the handshake's ACK and each data segment once
    c = tcp_established(PLAIN)
    assert c.tcp_info().segs_out == 2
    c.send(b"x" * 2 * MSS, 1.0)
    output(c, 1.0)
    info = c.tcp_info()
    assert info.segs_out == 4 and info.data_segs_out == 2


def test_rst_for_a_fin_without_ack_acknowledges_the_fin() -> None:
    # RFC 9293 3.10.7.1: SEG.LEN counts the FIN (and only a SYN or FIN)
    fin = segment(src_port=1234, dst_port=80, seq=7000, flags=FIN, payload=b"ab")
    pkt = rst_for_unexpected(fin, 0xC6120001, 0xC6120002)
    assert pkt is not None
    assert parse_tcp(pkt[20:], 0xC6120002, 0xC6120001).ack == 7003
    bare = segment(src_port=1234, dst_port=80, seq=7000, flags=0, payload=b"ab")
    pkt = rst_for_unexpected(bare, 0xC6120001, 0xC6120002)
    assert pkt is not None
    assert parse_tcp(pkt[20:], 0xC6120002, 0xC6120001).ack == 7002


def test_a_segment_without_syn_in_syn_sent_is_dropped_and_counted() -> None:
    c = make_client(PLAIN, 0.0)
    output(c, 0.0)
    c.receive(segment(seq=SERVER_ISS, ack=0, flags=0), 0.01)
    assert c.tcp_info().dropped == 1 and c.state is TcpState.SYN_SENT


def test_data_queued_before_the_syn_ack_carries_the_handshake_ack() -> None:
    # Linux tcp_rcv_synsent_state_process: data waiting: no pure ACK, it rides on
    # the data (the delayed-ACK timer is the safety net)
    c = make_client(PLAIN, 0.0)
    output(c, 0.0)
    c.send(b"hello", 0.001)
    c.receive(segment(seq=SERVER_ISS, ack=UNA, flags=SYN | ACK, mss=MSS), 0.01)
    (d,) = output(c, 0.01)
    assert d.payload == b"hello" and d.flags & ACK and d.ack == RCV


def test_the_rto_after_the_handshake_is_not_backed_off() -> None:
    # RFC 6298 5.7 / Linux: a valid sample resets the backoff
    c = make_client(PLAIN, 0.0)
    output(c, 0.0)
    c.handle_timer(1.0)
    output(c, 1.0)  # the SYN again
    c.receive(segment(seq=SERVER_ISS, ack=UNA, flags=SYN | ACK, mss=MSS), 1.1)
    output(c, 1.1)
    info = c.tcp_info()
    assert info.backoff == 0


def test_in_order_data_resets_the_keepalive_probe_count() -> None:
    cfg = StackConfig(timestamps=False, sack=False, window_scaling=False, recv_buffer=65535,
                      congestion_control="newreno", keepalive=True, keepalive_idle=10.0,
                      keepalive_interval=1.0, keepalive_count=5)  # fmt: skip
    c = tcp_established(cfg)
    c.handle_timer(10.0)
    output(c, 10.0)
    assert c.tcp_info().probes == 1
    c.receive(segment(seq=RCV, ack=UNA, payload=b"alive"), 10.5)  # header prediction
    assert c.tcp_info().probes == 0


def test_a_timeout_counts_a_loss() -> None:
    c = tcp_established(SACK, rtt=0.01, now=1.0)
    c.send(b"x" * MSS, 2.0)
    output(c, 2.0)
    for _ in range(4):
        t = c.get_timer()
        assert t is not None
        c.handle_timer(t)
        output(c, t)
        if c.tcp_info().rto_expirations:
            break
    assert c.tcp_info().lost == 1


def test_recovery_retransmissions_count_as_data_segments() -> None:
    c = tcp_established(SACK, rtt=0.01, now=1.0)
    c.send(b"x" * 6 * MSS, 2.0)
    output(c, 2.0)
    before = c.tcp_info().data_segs_out
    c.receive(segment(seq=RCV, ack=UNA, sack_blocks=((UNA + MSS, UNA + 6 * MSS),)), 2.02)
    rtx = [x for x in output(c, 2.02) if x.payload]
    assert rtx and rtx[0].seq == UNA
    assert c.tcp_info().data_segs_out == before + len(rtx)


def test_a_probe_with_new_data_counts_as_sent_bytes() -> None:
    # RFC 8985 7.3: the probe is new data when the peer's window allows
    c = tcp_established(SACK, rtt=0.01, now=1.0)
    c.send(b"x" * 12 * MSS, 2.0)
    assert len(output(c, 2.0)) == 10  # cwnd-limited
    t = c.get_timer()
    assert t is not None
    c.handle_timer(t)
    (probe,) = output(c, t)
    assert probe.seq == UNA + 10 * MSS
    assert c.tcp_info().bytes_sent == 11 * MSS


def test_a_full_ack_leaves_no_probe_timer() -> None:
    c = tcp_established(SACK, rtt=0.01, now=1.0)
    c.send(b"x" * 3 * MSS, 2.0)
    output(c, 2.0)
    assert c.get_timer() is not None
    c.receive(segment(seq=RCV, ack=UNA + 3 * MSS), 2.01)
    output(c, 2.01)
    assert c.get_timer() is None


def test_the_passive_open_resets_the_backoff() -> None:
    # RFC 6298 5.7: the ACK of a retransmitted SYN-ACK (timestamps: a valid sample)
    from tcp_support import CLIENT_ISS

    from aionetstack.core.tcp.connection import TcpConnection

    cfg = StackConfig(timestamps=True, sack=True, window_scaling=False, recv_buffer=65535,
                      congestion_control="newreno")  # fmt: skip
    syn = segment(src_port=40000, dst_port=80, seq=CLIENT_ISS, flags=SYN, mss=MSS,
                  sack_permitted=True, ts_val=100, ts_ecr=0)  # fmt: skip
    s = TcpConnection.accept(cfg, syn, local_addr=0xC6120002, remote_addr=0xC6120001,
                             iss=SERVER_ISS, mtu=1500, now=0.0)  # fmt: skip
    (_sa,) = output(s, 0.0)
    s.handle_timer(1.0)
    (sa2,) = output(s, 1.0)
    assert sa2.flags == SYN | ACK and s.tcp_info().backoff == 1
    ack = segment(src_port=40000, dst_port=80, seq=CLIENT_ISS + 1, ack=SERVER_ISS + 1,
                  ts_val=200, ts_ecr=sa2.ts_val)  # fmt: skip
    s.receive(ack, 1.05)
    assert s.state is TcpState.ESTABLISHED and s.tcp_info().backoff == 0


def test_a_timeout_without_sack_leaves_fast_recovery_for_slow_start() -> None:
    # RFC 5681 3.1 / RFC 6582: after the RTO the sender is in slow start from
    # one segment and goes back to SND.UNA; NewReno's partial-ACK rule no
    # longer applies (it would resend the same segment again and again)
    c = tcp_established(PLAIN, now=1.0, rtt=0.1)
    c.send(b"x" * 10 * MSS, 2.0)
    assert len(output(c, 2.0)) == 10
    for i in range(3):
        c.receive(segment(seq=RCV, ack=UNA), 2.1 + i * 0.001)
    assert [s.seq for s in output(c, 2.11)] == [UNA]  # fast retransmit
    t = c.get_timer()
    assert t is not None
    c.handle_timer(t)
    assert [s.seq for s in output(c, t)] == [UNA]
    assert c.tcp_info().rto_expirations == 1
    c.receive(segment(seq=RCV, ack=UNA + MSS), t + 0.1)
    assert [s.seq for s in output(c, t + 0.1)] == [UNA + MSS, UNA + 2 * MSS]
    assert c.tcp_info().cwnd == 2 * MSS
    c.receive(segment(seq=RCV, ack=UNA + 3 * MSS), t + 0.2)
    assert [s.seq for s in output(c, t + 0.2)] == [UNA + k * MSS for k in (3, 4, 5, 6)]


def test_after_an_undone_timeout_a_new_loss_starts_recovery() -> None:
    # Linux tcp_try_undo_loss: back to Open with the recovery point at SND.UNA,
    # so three SACKed segments above a hole start fast recovery at once
    cfg = StackConfig(timestamps=False, sack=True, window_scaling=False, recv_buffer=65535)
    c = make_client(cfg, 0.0)
    output(c, 0.0)
    c.receive(
        segment(seq=SERVER_ISS, ack=UNA, flags=SYN | ACK, mss=1460, sack_permitted=True), 0.05
    )
    output(c, 0.05)
    c.send(b"x" * (10 * MSS), 1.0)
    assert len(output(c, 1.0)) == 10
    t = 1.0
    for _ in range(5):  # the probe first, then the RTO
        deadline = c.get_timer()
        assert deadline is not None
        t = deadline
        c.handle_timer(t)
        output(c, t)
        if c.tcp_info().rto_expirations:
            break
    assert c.tcp_info().rto_expirations == 1
    # F-RTO: never-resent segments 1-4 ACKed: the timeout was spurious
    c.receive(segment(seq=RCV, ack=UNA + 5 * MSS), t + 0.01)
    output(c, t + 0.01)
    assert c.tcp_info().undos == 1
    for i, last in enumerate((7, 8, 9)):
        blocks = ((UNA + 7 * MSS, UNA + (last + 1) * MSS),)
        c.receive(segment(seq=RCV, ack=UNA + 5 * MSS, sack_blocks=blocks), t + 0.02 + i * 0.001)
    assert c.tcp_info().fast_retransmits == 1
    assert output(c, t + 0.03)[0].seq == UNA + 5 * MSS


def test_no_window_restart_below_the_rto_after_a_loss_either() -> None:
    # Linux tcp_cwnd_restart runs only after an idle period longer than the
    # RTO; in congestion avoidance it would raise ssthresh to 3/4 of cwnd
    c = tcp_established(PLAIN, now=1.0, rtt=0.3)
    c.send(b"x" * 1000, 2.0)
    output(c, 2.0)
    c.receive(segment(seq=RCV, ack=UNA + 1000), 2.3)
    output(c, 2.3)
    c._cc.ssthresh = 2 * MSS  # as left by a loss
    assert c.tcp_info().rto > 0.6 and c.tcp_info().cwnd > 3 * MSS
    c.send(b"y" * 100, 2.6)  # idle 0.6 s: above rto_min, below the RTO
    output(c, 2.6)
    assert c.tcp_info().ssthresh == 2 * MSS


def test_an_ipv6_connection_has_flow_label_zero_unless_given() -> None:
    src = 0x2001_0002_0000_0000_0000_0000_0000_0001
    dst = 0x2001_0002_0000_0000_0000_0000_0000_0002
    c = TcpConnection.connect(StackConfig(), local_addr=src, local_port=40000, remote_addr=dst,
                              remote_port=80, iss=1000, mtu=1500, now=0.0, family=6)  # fmt: skip
    (syn,) = c.packets_to_send(0.0)
    assert syn[0] >> 4 == 6
    assert ((syn[1] & 0x0F) << 16) | (syn[2] << 8) | syn[3] == 0


def test_each_syn_takes_the_next_ip_identification() -> None:
    c = make_client(PLAIN, 0.0)
    (syn,) = c.packets_to_send(0.0)
    t = c.get_timer()
    assert t is not None
    c.handle_timer(t)
    (again,) = c.packets_to_send(t)
    first = int.from_bytes(syn[4:6], "big")
    assert int.from_bytes(again[4:6], "big") == (first + 1) & 0xFFFF


def test_a_control_packet_goes_out_once() -> None:
    # RFC 9293 3.10.7.3: an unacceptable ACK in SYN-SENT gets one RST
    c = tcp_syn_sent(PLAIN)
    c.receive(segment(seq=RCV, ack=UNA + 100, flags=ACK), 0.1)
    (rst,) = output(c, 0.1)
    assert rst.flags & RST and rst.seq == UNA + 100
    assert output(c, 0.2) == []


def test_an_ack_exactly_one_max_window_old_is_only_old() -> None:
    # RFC 5961 5.2 / Linux tcp_ack: SEG.ACK >= SND.UNA - MAX.SND.WND is an old
    # ACK (ignored); one byte older gets a challenge ACK
    c = tcp_established(PLAIN)
    c.receive(segment(seq=RCV, ack=(UNA - 65535) & 0xFFFFFFFF), 1.0)
    assert output(c, 1.0) == [] and c.tcp_info().dropped == 0
    c.receive(segment(seq=RCV, ack=(UNA - 65536) & 0xFFFFFFFF), 2.0)
    (a,) = output(c, 2.0)
    assert a.ack == RCV and c.tcp_info().dropped == 1


def test_an_opened_window_resets_the_persist_backoff() -> None:
    # RFC 9293 3.8.6.1 / Linux tcp_ack_probe: the backoff belongs to one zero
    # window; once the window opens, the next zero window starts from the base
    c = tcp_established(PLAIN, window=0)
    c.send(b"x" * 100, 1.0)
    assert output(c, 1.0) == []
    first = c.get_timer()
    assert first is not None
    base = first - 1.0
    now = first
    for _ in range(3):  # three probes, each interval doubled
        c.handle_timer(now)
        output(c, now)
        nxt = c.get_timer()
        assert nxt is not None and nxt - now > base * 1.5
        now = nxt
    now -= 0.01
    c.receive(segment(seq=RCV, ack=UNA, window=1000), now)  # the window opens
    assert [len(s.payload) for s in output(c, now)] == [100]
    c.receive(segment(seq=RCV, ack=UNA + 100, window=0), now + 0.05)  # and closes
    c.send(b"y" * 100, now + 0.05)
    assert output(c, now + 0.05) == []
    t = c.get_timer()
    assert t is not None and abs((t - (now + 0.05)) - base) < 0.05 * base


def test_an_rtt_of_zero_is_no_sample_without_timestamps() -> None:
    # RFC 6298 3: a segment ACKed at the instant it was sent measured nothing
    # (a coarse clock); the estimator keeps its state (here: no sample at all)
    c = tcp_established(PLAIN, now=1.0, rtt=0.05)
    rtt0 = c.tcp_info().rtt
    c.send(b"x" * 100, 2.0)
    output(c, 2.0)
    c.receive(segment(seq=RCV, ack=UNA + 100), 2.0)
    assert c.tcp_info().rtt == rtt0


def test_an_ack_of_data_never_sent_is_one_drop_and_a_challenge_ack() -> None:
    # RFC 9293 3.10.7.4 / RFC 5961 5.2: SEG.ACK > SND.MAX: drop, answer with an ACK
    c = tcp_established(PLAIN, now=1.0)
    before = c.tcp_info()
    out = rx(c, segment(seq=RCV, ack=UNA + 5000), 1.1)
    info = c.tcp_info()
    assert info.dropped == before.dropped + 1
    assert info.challenge_acks == before.challenge_acks + 1
    assert [(s.seq, s.ack, s.flags) for s in out] == [(UNA, RCV, ACK)]


def test_sack_recovery_never_sends_past_the_receive_window() -> None:
    # RFC 9293 3.8.6.2.1 / RFC 6675 5 (NextSeg rule 2: new data only if the
    # receiver's window allows it): the pipe is what cwnd limits; the sequence
    # space SND.NXT - SND.UNA is what SND.WND limits (Linux tcp_snd_wnd_test)
    c = tcp_established(SACK, rtt=0.01, now=1.0, window=8 * MSS)
    c.send(b"x" * 20 * MSS, 2.0)
    assert len(output(c, 2.0)) == 8
    sent: list[TcpSegment] = []
    for k in (2, 3, 4, 5, 6):  # segments 1..k SACKed, the first one lost
        sent += rx(c, segment(seq=RCV, ack=UNA, window=8 * MSS,
                              sack_blocks=((UNA + MSS, UNA + k * MSS),)), 2.02)  # fmt: skip
    assert c.tcp_info().fast_retransmits or c.tcp_info().total_retrans
    assert sent and all(s.seq + len(s.payload) <= UNA + 8 * MSS for s in sent)
