"""Pacing through the single timer, the window's restart after idle, and the
algorithm switch per connection (issue 10). Explicit time."""

from __future__ import annotations

import pytest
from tcp_support import establish_ts, output

from aionetstack.core.tcp.congestion import NewReno
from aionetstack.core.tcp.rate import RateSample

MSS = 1448


class PacedReno(NewReno):
    """Reno that asks to be paced at a fixed rate (what BBR does with its model)."""

    def __init__(self, mss: int, rate: float) -> None:
        super().__init__(mss, 10)
        self.pacing_rate = rate  # type: ignore[misc]
        self.restarts: list[tuple[float, float]] = []

    def on_idle_restart(self, now: float, idle: float) -> None:
        self.restarts.append((now, idle))

    def on_rate_sample(self, rs: RateSample, now: float) -> None:
        pass


def test_pacing_spaces_segments_through_the_timer() -> None:
    c = establish_ts(rtt=0.05)
    cc = PacedReno(MSS, rate=MSS / 0.001)  # one segment per millisecond
    c._cc = cc
    c.send(b"x" * (8 * MSS), 1.0)
    # a burst of 2 ms behind the schedule (two segments at least) goes at once
    assert len(output(c, 1.0)) == 3
    assert c.get_timer() == pytest.approx(1.001)
    sent = 3
    t = 1.001
    while sent < 8:
        c.handle_timer(t)
        segs = output(c, t)
        assert len(segs) == 1, t  # then one per millisecond, no more
        sent += 1
        t = round(t + 0.001, 6)
        if sent < 8:
            assert c.get_timer() == pytest.approx(t)
    assert c.tcp_info().pacing_rate == pytest.approx(MSS / 0.001)
    assert cc.restarts == [(1.0, pytest.approx(0.95))]  # the first flight, after the ACK at 0.05


def test_without_a_pacing_rate_the_window_goes_out_at_once() -> None:
    c = establish_ts(rtt=0.05)
    c.send(b"x" * (8 * MSS), 1.0)
    assert len(output(c, 1.0)) == 8
    assert c.tcp_info().pacing_rate == 0.0


def test_cwnd_restarts_after_idle_longer_than_the_rto() -> None:
    # RFC 7661 / Linux tcp_cwnd_restart: halve per RTO idle, not below the IW;
    # ssthresh keeps 3/4 of the old window
    c = establish_ts(rtt=0.05)
    cc = c._cc
    c.send(b"x" * 1000, 1.0)
    output(c, 1.0)
    c.receive(c_ack(c, 1000), 1.05)
    output(c, 1.05)
    cc.cwnd, cc.ssthresh = 80 * MSS, 40 * MSS  # as grown by a long transfer
    cwnd = cc.cwnd
    rto = c.tcp_info().rto
    # idle 2.5 RTOs: two halvings
    t = 1.0 + 2.5 * rto
    c.send(b"y" * 100, t)
    output(c, t)
    assert cc.cwnd == max(cwnd // 4, 10 * MSS)
    assert cc.ssthresh == (cwnd >> 1) + (cwnd >> 2)


def test_no_restart_within_the_rto() -> None:
    c = establish_ts(rtt=0.05)
    cc = c._cc
    c.send(b"x" * 1000, 1.0)
    output(c, 1.0)
    c.receive(c_ack(c, 1000), 1.05)
    output(c, 1.05)
    cc.cwnd = 80 * MSS
    before = cc.cwnd
    c.send(b"y" * 100, 1.1)
    output(c, 1.1)
    assert cc.cwnd == before


def test_set_congestion_control_keeps_the_window() -> None:
    c = establish_ts()
    c._cc.cwnd = 33 * MSS
    c.set_congestion_control("newreno")
    assert c.tcp_info().cwnd == 33 * MSS and c.tcp_info().congestion_control == "reno"
    with pytest.raises(ValueError):
        c.set_congestion_control("vegas")


def c_ack(c: object, n: int) -> object:
    from tcp_support import RCV, UNA, segment

    return segment(seq=RCV, ack=UNA + n, ts_val=200, ts_ecr=0)
