"""RFC 6528 ISNs, RTO arithmetic, congestion control and the reassembler in isolation."""

from __future__ import annotations

import errno

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tcp_support import CLIENT_ISS, SERVER_ISS, establish_client, output, segment

from aionetstack.core.tcp.congestion import NewReno
from aionetstack.core.tcp.isn import IsnGenerator
from aionetstack.core.tcp.reassembly import Reassembler
from aionetstack.core.tcp.rtt import RttEstimator

KEY = bytes(range(16))


class TestIsn:
    def test_clock_ticks_every_4us(self) -> None:
        g = IsnGenerator(KEY)
        a = g.isn(1, 2, 3, 4, 10.0)
        assert g.isn(1, 2, 3, 4, 10.0 + 4e-6) == (a + 1) & 0xFFFFFFFF
        assert g.isn(1, 2, 3, 4, 11.0) == (a + 250_000) & 0xFFFFFFFF

    def test_keyed_per_tuple(self) -> None:
        g = IsnGenerator(KEY)
        assert g.isn(1, 2, 3, 4, 0.0) != g.isn(1, 2, 3, 5, 0.0)
        assert g.isn(1, 2, 3, 4, 0.0) != IsnGenerator(bytes(16)).isn(1, 2, 3, 4, 0.0)
        assert 0 <= g.isn(0xFFFFFFFF, 65535, 0xFFFFFFFF, 65535, 1e9) <= 0xFFFFFFFF

    def test_bad_secret(self) -> None:
        with pytest.raises(ValueError):
            IsnGenerator(b"short")


class TestRtt:
    def test_rfc6298_first_and_later_samples(self) -> None:
        r = RttEstimator(1.0, 0.2, 120.0)
        assert r.current() == 1.0
        r.sample(0.1)
        assert (r.srtt, r.rttvar) == (0.1, 0.05)
        assert r.rto == pytest.approx(0.3)
        r.sample(0.3)
        assert r.rttvar == pytest.approx(0.75 * 0.05 + 0.25 * 0.2)
        assert r.srtt == pytest.approx(0.875 * 0.1 + 0.125 * 0.3)

    def test_floor_ceiling_and_backoff(self) -> None:
        r = RttEstimator(1.0, 0.2, 120.0)
        r.sample(0.001)
        assert r.rto == 0.2
        for _ in range(12):
            r.on_timeout()
        assert r.current() == 120.0
        r.sample(0.001)
        assert r.backoff == 0


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


class TestReassembler:
    def test_merge_and_pop(self) -> None:
        r = Reassembler()
        assert r.add(10, b"klm") is None
        assert r.add(20, b"uv") is None
        assert r.add(13, b"nopqrst") is None  # bridges both blocks
        assert r.blocks() == [(10, 22)]
        assert r.add(12, b"mn") == (12, 14)  # a duplicate
        assert r.bytes == 12
        assert r.pop_ready(5) is None
        assert r.pop_ready(11) == bytearray(b"lmnopqrstuv")
        assert not r and r.bytes == 0

    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.tuples(st.integers(0, 300), st.integers(1, 60)), max_size=40),
           st.randoms(use_true_random=False))  # fmt: skip
    def test_any_arrival_order_reassembles(
        self, pieces: list[tuple[int, int]], rnd: object
    ) -> None:
        stream = bytes(i * 7 & 0xFF for i in range(400))
        r = Reassembler()
        have = set()
        for start, n in pieces:
            r.add(start, stream[start : start + n])
            have.update(range(start, min(start + n, 400)))
        assert r.bytes == len(have)
        for s, e in r.blocks():
            assert all(i in have for i in range(s, e))
        got = r.pop_ready(0) or bytearray()
        assert bytes(got) == stream[: len(got)]


class TestIcmp:
    def test_frag_needed_lowers_mss_and_resends(self) -> None:
        c = establish_client()
        c.send(b"x" * 2920, 0.0)
        assert [len(s.payload) for s in output(c, 0.0)] == [1460, 1460]
        c.icmp_error(OSError(errno.EMSGSIZE, "Message too long"), 0.01, next_hop_mtu=1000)
        assert [len(s.payload) for s in output(c, 0.01)] == [960, 960, 960, 40]

    def test_soft_error_in_established_is_kept_not_fatal(self) -> None:
        c = establish_client()
        c.icmp_error(OSError(errno.EHOSTUNREACH, "No route to host"), 0.01)
        from aionetstack.core.tcp.states import TcpState

        assert c.state is TcpState.ESTABLISHED
        c.receive(segment(seq=SERVER_ISS + 1, ack=CLIENT_ISS + 1, payload=b"ok"), 0.02)
        assert c.read() == b"ok"


class TestMssFloor:
    """Linux TCP_MIN_MSS (88) and min_pmtu (552): no tiny segments on request."""

    def test_frag_needed_with_tiny_mtu_is_clamped(self) -> None:
        c = establish_client()
        c.icmp_error(OSError(errno.EMSGSIZE, "Message too long"), 0.01, next_hop_mtu=100)
        assert c.snd_mss == 552 - 40  # was 60: the reported MTU is raised to min_pmtu

    def test_peer_mss_floor(self) -> None:
        c = establish_client(mss=50)
        assert c.snd_mss == 88  # was 50 (floor 48)
