"""RACK during a recovery episode (RFC 8985 6.2-6.3, Linux tcp_recovery.c), as
over TUN at 5 % loss (issue 10): a retransmission lost again is found from
later retransmissions SACKed, from transmissions of the same instant ordered
by sequence, and by the reordering timer when no further ACK comes. Before
these fixes each of these cases waited for the RTO (BBR at 10 ms / 5 %: one
RTO in most 2 MiB transfers) or resent data that had arrived. Scripted, with
explicit virtual times; 10 ms RTT, MSS 1460 (1448 with timestamps).
"""

from __future__ import annotations

from tcp_support import CLIENT_ISS, RCV, ack, output, rx, segment
from test_tcp_recovery import client  # ESTABLISHED at t=1.0, SRTT and min RTT 10 ms

from aionetstack.wire.tcp import TcpSegment

UNA = CLIENT_ISS + 1
MSS = 1460


def S(i: int, mss: int = MSS) -> int:
    return UNA + i * mss


def test_a_sacked_retransmission_dates_an_earlier_one_lost_again() -> None:
    # A receiver echoes the TSval of in-order data only (RFC 7323 4.3), so the
    # ACK that SACKs a retransmission echoes an older TSval than the
    # retransmission's. Linux tcp_rack_advance judges it by min_rtt alone; taking
    # the old echo as "the original's ACK" hid every SACKed retransmission from
    # RACK, and a retransmission lost again waited for the RTO.
    c = client(ts=True)
    mss = c.snd_mss  # 1448: the timestamp option takes 12 bytes

    def T(i: int) -> int:
        return S(i, mss)

    c.send(b"x" * 40 * mss, 1.0)
    first = output(c, 1.0)
    assert len(first) == 10
    old = first[0].ts_val  # TS.Recent at the peer: nothing in order arrived since
    out = rx(c, segment(seq=RCV, ack=UNA, sack_blocks=((T(1), T(5)),), ts_val=5, ts_ecr=old),
             1.010)  # fmt: skip
    assert out[0].seq == T(0)  # fast retransmit of segment 0 (it will be lost again)
    # segment 5 is lost too: SACKs above it show it at 1.012, it is resent then
    out = rx(c, segment(seq=RCV, ack=UNA, sack_blocks=((T(6), T(10)), (T(1), T(5))), ts_val=6,
                        ts_ecr=old), 1.012)  # fmt: skip
    assert out[0].seq == T(5)
    # the retransmission of 5 (sent at 1.012, after that of 0) is SACKed 18 ms
    # later (more than min_RTT: not the original's SACK): 0's is lost again
    out = rx(c, segment(seq=RCV, ack=UNA, sack_blocks=((T(1), T(10)),), ts_val=7, ts_ecr=old),
             1.030)  # fmt: skip
    assert out and out[0].seq == T(0)
    assert c.tcp_info().rto_expirations == 0


def test_transmissions_of_one_instant_are_ordered_by_sequence() -> None:
    # One wakeup resends holes 0 and 5 and sends new data, all at one clock
    # reading. When the retransmission of 5 is SACKed, the retransmission of 0
    # (lower sequence) counts as sent before it, the new data (higher) after it
    # (Linux tcp_rack_sent_after): 0 is resent, the new data is not.
    c = client()
    c.send(b"x" * 40 * MSS, 1.0)
    assert len(output(c, 1.0)) == 10
    out = rx(c, ack(UNA, (S(6), S(10)), (S(1), S(5))), 1.010)
    seqs = [s.seq for s in out if s.payload]
    assert seqs[:2] == [S(0), S(5)]
    new = [q for q in seqs if q >= S(10)]
    assert new  # PRR let new data out in the same wakeup
    out = rx(c, ack(UNA, (S(1), S(10))), 1.030)
    resent = [s.seq for s in out if s.payload]
    assert resent and resent[0] == S(0)
    assert not set(new) & set(resent), (new, resent)


def test_the_reordering_timer_runs_in_recovery() -> None:
    # Once reordering has been seen, RACK waits reo_wnd (min_RTT / 4) before a
    # retransmission sent in the same instant as a later-SACKed one is lost.
    # Linux arms its REO timer in recovery too (tcp_rack_mark_lost); without it
    # the piece was looked at again only at the next ACK, and at the tail of a
    # transfer there is none: the RTO repaired it.
    c = client()
    c.send(b"x" * 40 * MSS, 1.0)
    assert len(output(c, 1.0)) == 10
    # never-retransmitted segment 1 SACKed after 5: reordering of degree 5
    rx(c, ack(UNA, (S(5), S(6))), 1.010)
    rx(c, ack(UNA, (S(1), S(2)), (S(5), S(6))), 1.011)
    assert c.tcp_info().reordering == 5
    # holes 0 and 4 lost (more than DupThresh - 1 segments SACKed above each)
    out = rx(c, ack(UNA, (S(5), S(10)), (S(1), S(4))), 1.012)
    assert [s.seq for s in out if s.payload][:2] == [S(0), S(4)]
    # the retransmission of 4 is SACKed, that of 0 is not; no further ACK comes
    out = rx(c, ack(UNA, (S(1), S(10))), 1.030)
    assert S(0) not in [s.seq for s in out]  # within reo_wnd: not yet lost
    info = c.tcp_info()
    t = c.get_timer()
    # RACK.xmit_ts 1.012 + RACK.rtt 18 ms + reo_wnd (min_RTT / 4), plus 1 ms
    reo = info.min_rtt / 4
    assert t is not None and abs(t - (1.030 + reo + 0.001)) < 1e-6, (t, info.rto)
    c.handle_timer(t)
    out = output(c, t)
    assert out and out[0].seq == S(0)
    assert c.tcp_info().rto_expirations == 0


def segs(out: list[TcpSegment]) -> list[int]:
    """The data segments of ``out``, as segment numbers."""
    return [(s.seq - UNA) // MSS for s in out if s.payload]


def test_part_of_a_burst_sacked_dates_the_burst() -> None:
    # New data sent in one wakeup is one log entry; a SACK of part of it is news
    # of everything sent before that part (Linux advances RACK per segment): the
    # burst's own hole below it and the retransmission sent with it are lost.
    c = client()
    c.send(b"x" * 40 * MSS, 1.0)
    assert len(output(c, 1.0)) == 10
    # segment 0 lost: its retransmission and segments 10-13 leave at 1.010
    assert segs(rx(c, ack(UNA, (S(1), S(8))), 1.010)) == [0, 10, 11, 12, 13]
    # 20 ms later (more than min_RTT): 11 SACKed, 10 and the retransmission not
    out = segs(rx(c, ack(UNA, (S(11), S(12)), (S(1), S(10))), 1.030))
    assert out[:2] == [0, 10]
    assert c.tcp_info().rto_expirations == 0


def test_a_retransmission_still_in_flight_is_counted_for_the_undo() -> None:
    # Linux tcp_init_undo: undo_retrans = retrans_out. An episode that starts while
    # a retransmission of the previous one is in flight sends nothing itself (the
    # head is on its way); its end is no proof that the loss was reordering.
    c = client()
    c.send(b"x" * 40 * MSS, 1.0)
    assert len(output(c, 1.0)) == 10
    assert segs(rx(c, ack(UNA, (S(1), S(8))), 1.010)) == [0, 10, 11, 12, 13]
    assert segs(rx(c, ack(UNA, (S(11), S(12)), (S(1), S(10))), 1.030))[:2] == [0, 10]
    # the full ACK of the episode (SND.UNA reaches 10); the retransmission of 10
    # (new data of the episode, above its recovery point) is still in flight
    rx(c, ack(S(10), (S(11), S(12))), 1.041)
    t = c.get_timer()
    assert t is not None and t < 1.05  # the RACK timer: a new episode for 10
    c.handle_timer(t)
    assert 10 not in segs(output(c, t))  # its retransmission is on its way
    assert c.tcp_info().fast_retransmits == 2
    cwnd = c.tcp_info().cwnd
    rx(c, ack(c.snd_max), 1.052)  # everything arrives: 10's retransmission did it
    info = c.tcp_info()
    assert info.undos == 0 and info.cwnd <= cwnd + 2 * MSS
