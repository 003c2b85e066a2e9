"""The engine's stand-alone parts, tested alone: the SACK scoreboard, the
recovery episode and undo records, RACK's state, the timers and the table of
legal state transitions (RFC 2018, RFC 6675, RFC 8985, RFC 3708, RFC 9293 3.3.2)."""

from __future__ import annotations

import pytest

from aionetstack.core.config import StackConfig
from aionetstack.core.tcp.congestion import NewReno
from aionetstack.core.tcp.connection import TcpConnection
from aionetstack.core.tcp.recovery_state import Episode, RackState, UndoState, Xmit
from aionetstack.core.tcp.scoreboard import SackScoreboard
from aionetstack.core.tcp.states import TRANSITIONS, TcpState
from aionetstack.core.tcp.tcb import new_rate_estimator
from aionetstack.core.tcp.timers import INF

UNA = 0xFFFFF000  # near the wrap, so every comparison crosses it
M = 0xFFFFFFFF


def s(off: int) -> int:
    return (UNA + off) & M


# ----------------------------------------------------------- SACK scoreboard


def test_scoreboard_sorts_merges_and_totals_across_the_wrap() -> None:
    sb = SackScoreboard()
    assert sb.update(((s(3000), s(4000)),), s(0), UNA, s(10000), UNA) == 0
    sb.update(((s(1000), s(2000)), (s(1500), s(3000))), s(0), UNA, s(10000), UNA)
    # [1000, 2000) + [1500, 3000) + [3000, 4000) merge into one block
    assert sb.blocks == [(s(1000), s(4000))]
    assert sb.sacked == 3000
    assert sb.fack(UNA) == s(4000)


def test_scoreboard_ignores_dsack_and_bogus_blocks() -> None:
    sb = SackScoreboard()
    ack = s(2000)
    blocks = (
        (s(500), s(1000)),  # below the ACK: a DSACK (RFC 2883)
        (s(5000), s(4000)),  # end before start
        (s(9000), s(20000)),  # beyond SND.MAX
    )
    sb.update(blocks, ack, UNA, s(10000), UNA)
    assert sb.blocks == [] and sb.sacked == 0


def test_scoreboard_clips_a_block_that_straddles_the_ack() -> None:
    sb = SackScoreboard()
    sb.update(((s(1000), s(3000)),), s(2000), UNA, s(10000), UNA)
    assert sb.blocks == [(s(2000), s(3000))]
    assert sb.sacked == 1000


def test_scoreboard_reports_reordering_of_never_retransmitted_data() -> None:
    sb = SackScoreboard()
    sb.update(((s(8000), s(9000)),), s(0), UNA, s(10000), UNA)
    # [2000, 3000) SACKed later, below the highest SACK (9000), never resent:
    # reordered by 9000 - 2000 bytes (Linux tcp_check_sack_reordering)
    assert sb.update(((s(2000), s(3000)),), s(0), UNA, s(10000), UNA) == 7000
    # below the highest retransmission it says nothing about reordering
    sb2 = SackScoreboard()
    sb2.update(((s(8000), s(9000)),), s(0), UNA, s(10000), s(4000))
    assert sb2.update(((s(2000), s(3000)),), s(0), UNA, s(10000), s(4000)) == 0


def test_scoreboard_prune_and_lookups() -> None:
    sb = SackScoreboard()
    sb.update(((s(1000), s(2000)), (s(4000), s(6000))), s(0), UNA, s(10000), UNA)
    assert sb.sacked_end(s(1500), UNA) == s(2000)
    assert sb.sacked_end(s(2000), UNA) is None
    assert sb.sacked_end(s(500), UNA) is None
    assert sb.next_sacked_start(s(0), UNA) == s(1000)
    assert sb.next_sacked_start(s(1000), UNA) == s(4000)
    assert sb.next_sacked_start(s(4000), UNA) is None
    sb.prune(s(5000))
    assert sb.blocks == [(s(5000), s(6000))] and sb.sacked == 1000
    sb.prune(s(6000))
    assert sb.blocks == [] and sb.sacked == 0


def test_scoreboard_dup_boundary_is_rfc6675_islost() -> None:
    sb = SackScoreboard()
    mss = 1000
    sb.update(((s(1000), s(2000)), (s(3000), s(5000))), s(0), UNA, s(10000), UNA)
    # RFC 6675 4: a hole is lost when more than (DupThresh - 1) * SMSS is SACKed above it
    assert sb.dup_boundary(2 * mss, UNA) == s(1000)  # 2000 above 3000 is not > 2000
    assert sb.dup_boundary(1 * mss, UNA) == s(3000)
    assert sb.dup_boundary(3 * mss, UNA) == UNA  # never more than 3000 SACKed
    sb.clear()
    assert sb.dup_boundary(0, UNA) == UNA


# --------------------------------------------------- episode, undo, RACK state


def test_episode_begin_last_xmit_prune_end() -> None:
    ep = Episode(UNA)
    ep.begin(5.0, s(0), s(1000))
    assert ep.start == 5.0 and ep.force_to == s(1000) and not ep.loss_all
    ep.log.append(Xmit(s(0), s(1000), 5.0, True))
    ep.log.append(Xmit(s(0), s(500), 5.2, True))
    ep.log.append(Xmit(s(3000), s(4000), 5.1, False))
    # the latest transmission covering a sequence number wins
    x = ep.last_xmit(s(100))
    assert x is not None and x.time == 5.2
    x = ep.last_xmit(s(700))
    assert x is not None and x.time == 5.0
    assert ep.last_xmit(s(2000)) is None
    ep.prune(s(500))  # the [0, 500) retransmission is covered
    assert [x.time for x in ep.log] == [5.0, 5.1]
    ep.end(s(4000))
    assert ep.log == [] and ep.force_to == s(4000)


def test_episode_carries_outstanding_retransmissions_into_the_next() -> None:
    ep = Episode(UNA)
    ep.begin(5.0, s(0), s(1000))
    ep.log.append(Xmit(s(0), s(1000), 5.0, True))  # the head, resent
    ep.log.append(Xmit(s(2000), s(3000), 5.1, True))  # a hole above it, resent
    ep.log.append(Xmit(s(5000), s(6000), 5.1, False))  # new data
    delivered = Xmit(s(3000), s(4000), 5.1, True)
    delivered.delivered = True
    ep.log.append(delivered)
    ep.end(s(1000))  # a full ACK up to 1000 ends it
    # kept: the retransmission still outstanding, with its send time
    assert [(x.start, x.time) for x in ep.log] == [(s(2000), 5.1)]
    ep.begin(5.2, s(2000), s(3000))
    # the new episode's head is that retransmission: not lost by fiat, RACK decides
    assert ep.force_to == s(2000) and [x.start for x in ep.log] == [s(2000)]
    ep.end(s(2000))
    ep.begin(5.3, s(2000), s(3000), carry=False)  # an RTO: everything goes again
    assert ep.log == [] and ep.force_to == s(3000)
    ep.begin(5.4, s(9000), s(10_000))  # nothing outstanding covers the head
    assert ep.force_to == s(10_000)


def test_undo_counts_retransmissions_only_while_armed() -> None:
    u = UndoState(UNA)
    u.note_retransmission(77)
    assert u.retrans == 0 and u.tsval == 0  # nothing to undo: not counted
    u.start(20000, 0x7FFFFFFF, s(0))
    u.note_retransmission(0)  # a TSval of 0 still marks "retransmitted"
    u.note_retransmission(99)
    assert u.ok and u.retrans == 2 and u.tsval == 1
    assert (u.cwnd, u.ssthresh, u.marker) == (20000, 0x7FFFFFFF, s(0))


def test_undo_keeps_the_first_retransmission_stamp_while_one_is_outstanding() -> None:
    # Linux retrans_stamp: cleared only once no retransmitted data is outstanding
    u = UndoState(UNA)
    u.start(20000, 0x7FFFFFFF, s(0))
    u.note_retransmission(500)
    u.start(14000, 14000, s(1000), rtx_outstanding=True)  # a new episode
    assert u.tsval == 500 and u.retrans == 0 and u.marker == s(1000)
    u.note_retransmission(600)
    assert u.tsval == 500  # Eifel compares ACKs' echoes with the oldest one
    u.start(14000, 14000, s(9000))  # nothing retransmitted outstanding
    assert u.tsval == 0


def test_rack_reo_wnd_rfc8985_6_2_step_4() -> None:
    r = RackState()
    # in recovery with no reordering seen, the window is 0
    assert r.reo_wnd(0.040, 0.050, 3, True) == 0.0
    # otherwise min_RTT / 4 times the multiplier, at most SRTT
    assert r.reo_wnd(0.040, 0.050, 3, False) == pytest.approx(0.010)
    assert r.reo_wnd(0.040, 0.050, 5, True) == pytest.approx(0.010)
    r.reo_mult = 4
    assert r.reo_wnd(0.040, 0.050, 5, True) == pytest.approx(0.040)
    r.reo_mult = 8
    assert r.reo_wnd(0.040, 0.050, 5, True) == pytest.approx(0.050)
    r.xmit_ts, r.rtt = 3.0, 0.02
    r.reset()
    assert r.xmit_ts == -INF and r.rtt == 0.0 and r.reo_mult == 8


# ------------------------------------------------------------------- timers


def _conn() -> TcpConnection:
    return TcpConnection.connect(
        StackConfig(), local_addr=0xC6120002, local_port=40000, remote_addr=0xC6120001,
        remote_port=80, iss=1000, mtu=1500, now=0.0,
    )  # fmt: skip


def test_timers_earliest_and_stops() -> None:
    c = _conn()
    t = c._tm
    t.rtx = INF
    assert c.get_timer() is None
    t.rtx, t.delack, t.keepalive = 3.0, 1.5, 7200.0
    assert c.get_timer() == 1.5
    t.delack = INF
    assert c.get_timer() == 3.0
    t.reo = 2.0
    assert c.get_timer() == 2.0
    t.tlp = 1.0
    t.persist = 0.5
    assert c.get_timer() == 0.5
    t.stop_for_time_wait(60.0)
    assert c.get_timer() == 60.0 and t.rtx == t.keepalive == t.reo == t.tlp == INF
    t.stop_all()
    assert c.get_timer() is None


# ---------------------------------------------------------- transition table


def test_transition_table_covers_every_state() -> None:
    assert set(TRANSITIONS) == set(TcpState)
    # RFC 9293 figure 5's arrows are all there
    for old, new in [
        (TcpState.SYN_SENT, TcpState.ESTABLISHED),
        (TcpState.SYN_RECEIVED, TcpState.ESTABLISHED),
        (TcpState.ESTABLISHED, TcpState.FIN_WAIT_1),
        (TcpState.ESTABLISHED, TcpState.CLOSE_WAIT),
        (TcpState.FIN_WAIT_1, TcpState.FIN_WAIT_2),
        (TcpState.FIN_WAIT_1, TcpState.CLOSING),
        (TcpState.FIN_WAIT_2, TcpState.TIME_WAIT),
        (TcpState.CLOSING, TcpState.TIME_WAIT),
        (TcpState.CLOSE_WAIT, TcpState.LAST_ACK),
        (TcpState.LAST_ACK, TcpState.CLOSED),
        (TcpState.TIME_WAIT, TcpState.CLOSED),
    ]:
        assert new in TRANSITIONS[old]
    assert TcpState.ESTABLISHED not in TRANSITIONS[TcpState.TIME_WAIT]
    assert TcpState.SYN_SENT not in TRANSITIONS[TcpState.ESTABLISHED]


def test_an_illegal_transition_fails_loudly() -> None:
    c = _conn()
    assert c.state is TcpState.SYN_SENT
    with pytest.raises(AssertionError, match="illegal TCP transition SYN-SENT -> TIME-WAIT"):
        c._set_state(TcpState.TIME_WAIT, "test", 1.0)
    assert c.state is TcpState.SYN_SENT


# ------------------------------------------------- deliveries for rate samples


def test_scoreboard_reports_newly_sacked_ranges_once() -> None:
    sb = SackScoreboard()
    got: list[tuple[int, int]] = []

    def add(a: int, b: int) -> None:
        got.append((a, b))

    sb.update(((s(1000), s(2000)),), s(0), UNA, s(10000), UNA, add)
    assert got == [(s(1000), s(2000))]
    got.clear()
    # overlapping the old block and a new one: only the new bytes
    sb.update(((s(1500), s(3000)), (s(5000), s(6000))), s(0), UNA, s(10000), UNA, add)
    assert got == [(s(2000), s(3000)), (s(5000), s(6000))]
    got.clear()
    sb.update(((s(1000), s(3000)),), s(0), UNA, s(10000), UNA, add)
    assert got == []  # nothing new
    # a cumulative ACK to 5500 delivers only what was not SACKed already
    sb.deliver_cumulative(UNA, s(5500), add)
    assert got == [(s(0), s(1000)), (s(3000), s(5000))]


def test_rate_samples_reach_the_congestion_controller() -> None:
    from aionetstack.core.sim import SimLink, Simulator
    from aionetstack.core.tcp.rate import RateSample

    sim = Simulator(seed=3)
    link = SimLink(delay=0.005, rate=10e6)
    client, server = sim.tcp_pair(StackConfig(), link=link)
    conn = client.connect(server.addr, server.port)
    sim.run(until=0.1)
    samples: list[RateSample] = []

    class Spy(NewReno):
        wants_rate_samples = True

        def on_rate_sample(self, rs: RateSample, now: float) -> None:
            samples.append(rs)

    spy = Spy(conn.tcp_info().snd_mss, 10)
    spy.cwnd, spy.ssthresh = conn._cc.cwnd, conn._cc.ssthresh
    conn._cc = spy
    conn._rate = new_rate_estimator(spy)
    conn.send(b"x" * 400_000, sim.now)
    sim.run(until=sim.now + 2.0)
    assert conn.tcp_info().bytes_acked == 400_000
    rates = [rs.rate for rs in samples if rs.rate and not rs.is_app_limited]
    assert rates, "no rate sample"
    # never faster than the 10 MB/s bottleneck, and close to it once the pipe fills
    assert max(rates) <= 10e6 * 1.02
    assert max(rates) >= 10e6 * 0.8
    assert samples[-1].total_delivered >= 400_000
    assert 0.8 * 10e6 <= conn.tcp_info().delivery_rate <= 1.02 * 10e6


def test_prr_sends_in_proportion_then_slow_starts_back() -> None:
    # RFC 6937 3 (Linux tcp_cwnd_reduction), bytes with MSS 1000
    ep = Episode(UNA)
    ep.begin(1.0, s(0), s(1000))
    ep.recover_fs = 20_000  # the flight when the episode began
    ssthresh = 10_000
    # pipe above ssthresh: ceil(prr_delivered * ssthresh / RecoverFS) - prr_out
    ep.prr_delivered, ep.delivered_now = 2000, 2000
    assert ep.prr_sndcnt(15_000, ssthresh, 1000) == 1000  # one for every two delivered
    ep.prr_out = 1000
    ep.prr_delivered, ep.delivered_now = 3000, 1000
    assert ep.prr_sndcnt(14_000, ssthresh, 1000) == 500
    ep.prr_out = 1500
    assert ep.prr_sndcnt(14_000, ssthresh, 1000) == 0  # sent its share: nothing
    # pipe at or below ssthresh (PRR-SSRB): back up to ssthresh, at most
    # max(prr_delivered - prr_out, DeliveredData) + MSS per ACK
    ep.prr_delivered, ep.prr_out, ep.delivered_now = 9000, 4000, 3000
    assert ep.prr_sndcnt(4000, ssthresh, 1000) == 6000  # min(10000 - 4000, 5000 + 1000)
    assert ep.prr_sndcnt(9500, ssthresh, 1000) == 500
