"""The receiver's rules and SYN-RECEIVED's, pinned (RFC 9293 3.10.7.4, RFC 2883).

Grouped by state: SYN-RECEIVED, then the synchronized states. Public interface
only (tcp_support factories, the wire, ``tcp_info()``), explicit times.
"""

from __future__ import annotations

import pytest
from tcp_support import (
    CLIENT_ISS,
    PLAIN,
    RCV,
    SACK,
    UNA,
    establish_client,
    events,
    output,
    segment,
    tcp_established,
    tcp_fin_wait_1,
    tcp_fin_wait_2,
    tcp_syn_received,
)

from aionetstack.core.config import StackConfig
from aionetstack.core.tcp.connection import TcpConnection
from aionetstack.core.tcp.events import EofReceived
from aionetstack.core.tcp.states import TcpState
from aionetstack.wire.tcp import ACK, FIN, PSH, SYN


def stream(n: int, start: int = 0) -> bytes:
    return bytes((start + i) & 0xFF for i in range(n))


# -------------------------------------------------------------------- SYN-RECEIVED


class TestSynReceived:
    """RFC 9293 3.10.7.4 first check: an unacceptable segment in SYN-RECEIVED is
    answered with the SYN-ACK again (we have no ACK to send before the handshake)."""

    @pytest.mark.parametrize(
        ("seq_off", "payload"),
        [(100_000, b""), (100_000, b"data"), (-1000, b"old")],
        ids=["ack-beyond-window", "data-beyond-window", "old-data"],
    )
    def test_unacceptable_segment_gets_the_syn_ack(self, seq_off: int, payload: bytes) -> None:
        c = tcp_syn_received(now=1.0)
        c.receive(segment(seq=RCV + seq_off, ack=UNA, payload=payload), 1.1)
        out = output(c, 1.1)
        assert [(s.flags, s.seq, s.ack) for s in out] == [(SYN | ACK, CLIENT_ISS, RCV)]
        assert c.state is TcpState.SYN_RECEIVED
        assert c.tcp_info().dropped == 1

    def test_acceptable_ack_establishes_without_syn_ack(self) -> None:
        c = tcp_syn_received(now=1.0)
        c.receive(segment(seq=RCV, ack=UNA), 1.1)
        assert output(c, 1.1) == []
        assert c.state is TcpState.ESTABLISHED


# --------------------------------------------------------------- synchronized states


@pytest.mark.parametrize("factory", [tcp_established, tcp_fin_wait_1, tcp_fin_wait_2])
class TestNoAck:
    """RFC 9293 3.10.7.4 fifth check: "if the ACK bit is off, drop the segment"."""

    def test_data_without_ack_is_dropped(self, factory: object) -> None:
        c: TcpConnection = factory(now=1.0)  # type: ignore[operator]
        state = c.state
        c.receive(segment(seq=RCV, ack=UNA, flags=PSH, payload=b"no ack"), 1.1)
        assert (c.readable, c.state, output(c, 1.1)) == (0, state, [])
        assert c.tcp_info().dropped == 1
        assert c.tcp_info().bytes_received == 0

    def test_fin_without_ack_is_dropped(self, factory: object) -> None:
        c: TcpConnection = factory(now=1.0)  # type: ignore[operator]
        state = c.state
        c.receive(segment(seq=RCV, ack=UNA, flags=FIN), 1.1)
        assert (c.state, c.eof_received, events(c)) == (state, False, [])


class TestTrimToWindow:
    """RFC 9293 3.10.7.4: a segment that starts in the window is acceptable; what lies
    beyond the right edge is trimmed off (and a FIN there is not accepted)."""

    SMALL = StackConfig(timestamps=False, sack=False, window_scaling=False, recv_buffer=4000)

    def test_in_order_segment_longer_than_the_window_is_trimmed(self) -> None:
        c = tcp_established(self.SMALL, now=1.0)
        c.receive(segment(seq=RCV, ack=UNA, payload=stream(5000)), 1.1)
        assert c.read() == stream(4000)
        (a,) = output(c, 1.1)
        assert a.ack == RCV + 4000
        assert c.tcp_info().bytes_received == 4000

    def test_a_segment_one_byte_over_the_window_is_trimmed(self) -> None:
        # the edge exactly: header prediction must hand it to the trimming path
        c = tcp_established(self.SMALL, now=1.0)
        c.receive(segment(seq=RCV, ack=UNA, payload=stream(4001)), 1.1)
        assert c.read() == stream(4000)
        assert c.tcp_info().bytes_received == 4000

    def test_out_of_order_segment_past_the_edge_is_trimmed_and_kept(self) -> None:
        c = tcp_established(self.SMALL, now=1.0)
        c.receive(segment(seq=RCV + 1000, ack=UNA, payload=stream(4000, 1000)), 1.1)
        assert c.readable == 0
        c.receive(segment(seq=RCV, ack=UNA, payload=stream(1000)), 1.2)
        assert c.read() == stream(4000)
        assert output(c, 1.2)[-1].ack == RCV + 4000

    def test_fin_beyond_the_window_is_not_accepted(self) -> None:
        c = tcp_established(self.SMALL, now=1.0)
        c.receive(segment(seq=RCV, ack=UNA, flags=ACK | FIN, payload=stream(5000)), 1.1)
        assert c.read() == stream(4000)
        assert (c.state, c.eof_received) == (TcpState.ESTABLISHED, False)
        assert EofReceived() not in events(c)
        assert output(c, 1.1)[-1].ack == RCV + 4000


class TestDsackGeneration:
    """RFC 2883 4: a duplicate is reported in the first SACK block, but only to a
    peer that negotiated SACK (RFC 2018 2: no SACK option otherwise)."""

    CASES = {
        # name: first segment and its duplicate as (offset, length) from RCV.NXT,
        # then the DSACK block expected as (start, end) offsets
        "full-duplicate": ((0, 100), (0, 100), (0, 100)),
        "partial-overlap": ((0, 100), (50, 100), (50, 100)),
        "out-of-order-duplicate": ((200, 100), (200, 100), (200, 300)),
    }

    @pytest.mark.parametrize("case", list(CASES))
    @pytest.mark.parametrize("peer_sack", [True, False], ids=["sack", "no-sack"])
    def test_duplicate(self, case: str, peer_sack: bool) -> None:
        first, dup, dsack = self.CASES[case]
        c = establish_client(SACK, now=1.0, peer_options=peer_sack)
        output(c, 1.0)
        assert c.tcp_info().sack is peer_sack
        c.receive(segment(seq=RCV + first[0], ack=UNA, payload=stream(first[1])), 1.1)
        output(c, 1.1)
        c.receive(segment(seq=RCV + dup[0], ack=UNA, payload=stream(dup[1])), 1.2)
        out = output(c, 1.2)
        assert out, "a duplicate is acknowledged at once"
        blocks = [s.sack_blocks for s in out]
        # the new part of an overlap is taken in order, a duplicate adds nothing
        assert c.readable == {"full-duplicate": 100, "partial-overlap": 150}.get(case, 0)
        if peer_sack:
            assert blocks[0][0] == (RCV + dsack[0], RCV + dsack[1])
            assert c.tcp_info().dsacks_out == 1
        else:
            assert all(b == () for b in blocks)
            assert c.tcp_info().dsacks_out == 0

    def test_plain_config_never_sends_sack(self) -> None:
        c = tcp_established(PLAIN, now=1.0)
        c.receive(segment(seq=RCV + 500, ack=UNA, payload=b"x" * 100), 1.1)
        assert [s.sack_blocks for s in output(c, 1.1)] == [()]


class TestOutOfOrderFin:
    """RFC 9293 3.10.7.4 eighth check: a FIN is processed once RCV.NXT reaches it."""

    def test_fin_after_a_gap_is_taken_when_the_gap_fills(self) -> None:
        c = tcp_established(now=1.0)
        c.receive(segment(seq=RCV + 100, ack=UNA, flags=ACK | FIN, payload=stream(50, 100)), 1.1)
        assert (c.state, c.eof_received) == (TcpState.ESTABLISHED, False)
        c.receive(segment(seq=RCV, ack=UNA, payload=stream(100)), 1.2)
        assert c.read() == stream(150)
        assert (c.state, c.eof_received) == (TcpState.CLOSE_WAIT, True)
        assert output(c, 1.2)[-1].ack == RCV + 151


class TestWindowUpdate:
    """RFC 9293 3.10.7.4: SND.WND is taken only from a segment not older than the
    last update (SND.WL1 < SEG.SEQ, or SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK)."""

    def test_an_older_segment_does_not_close_the_window(self) -> None:
        c = tcp_established(now=1.0)
        c.receive(segment(seq=RCV, ack=UNA, payload=stream(100)), 1.1)
        c.receive(segment(seq=RCV + 100, ack=UNA, payload=stream(100, 100)), 1.2)
        output(c, 1.2)
        # a late copy overlapping both (SEG.SEQ < SND.WL1), with a zero window
        c.receive(segment(seq=RCV + 50, ack=UNA, window=0, payload=stream(200, 50)), 1.3)
        assert c.read() == stream(250)  # acceptable: its new part is taken
        assert c.tcp_info().snd_wnd == 65535
        c.send(b"z" * 1000, 1.3)
        assert [len(s.payload) for s in output(c, 1.3)] == [1000]

    def test_a_newer_segment_updates_it(self) -> None:
        c = tcp_established(now=1.0)
        c.receive(segment(seq=RCV, ack=UNA, window=0, payload=stream(100)), 1.1)
        assert c.tcp_info().snd_wnd == 0


class TestUnacceptableAckRateLimit:
    """Linux tcp_oow_rate_limited (tcp_invalid_ratelimit = 500 ms): one answer per
    half second to unacceptable pure ACKs; the next one at 500 ms is answered."""

    def test_half_second_boundary(self) -> None:
        c = tcp_established(now=1.0)
        bad = segment(seq=RCV + 100_000, ack=UNA)
        c.receive(bad, 2.0)
        assert len(output(c, 2.0)) == 1
        c.receive(bad, 2.25)
        assert output(c, 2.25) == []
        c.receive(bad, 2.5)
        assert len(output(c, 2.5)) == 1
