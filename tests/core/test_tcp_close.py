"""Closing: FIN-WAIT-1/2, CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT (RFC 9293 3.6)."""

from __future__ import annotations

import pytest
from tcp_support import CLIENT_ISS, PLAIN, SERVER_ISS, establish_client, events, output, segment

from aionetstack.core.config import StackConfig
from aionetstack.core.tcp.connection import TcpConnection
from aionetstack.core.tcp.events import ConnectionClosed, EofReceived
from aionetstack.core.tcp.states import TcpState
from aionetstack.wire.tcp import ACK, FIN, PSH, RST, SYN

UNA = CLIENT_ISS + 1
RCV = SERVER_ISS + 1


def states(c: TcpConnection) -> list[str]:
    return [str(t[2]) for t in c.transitions]


class TestActiveClose:
    def test_full_sequence_and_time_wait(self, est: TcpConnection) -> None:
        est.send(b"bye", 0.0)
        est.shutdown(0.0)
        assert est.state is TcpState.FIN_WAIT_1
        (s,) = output(est, 0.0)
        assert s.flags == ACK | PSH | FIN and bytes(s.payload) == b"bye"  # FIN rides on data
        est.receive(segment(seq=RCV, ack=UNA + 4), 0.01)
        assert est.state is TcpState.FIN_WAIT_2
        # half-close: we keep receiving
        est.receive(segment(seq=RCV, ack=UNA + 4, flags=ACK | PSH, payload=b"more"), 0.02)
        assert est.read() == b"more"
        est.receive(segment(seq=RCV + 4, ack=UNA + 4, flags=ACK | FIN), 0.03)
        assert est.state is TcpState.TIME_WAIT
        (ack,) = output(est, 0.03)
        assert ack.ack == RCV + 5
        evs = events(est)
        assert EofReceived() in evs and ConnectionClosed(None) in evs
        assert est.get_timer() == pytest.approx(60.03)  # 2*MSL, Linux's 60 s
        est.handle_timer(60.0)
        assert est.state is TcpState.TIME_WAIT
        est.handle_timer(60.03)
        assert est.state is TcpState.CLOSED
        assert est.get_timer() is None
        assert states(est) == ["SYN-SENT", "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2",
                               "TIME-WAIT", "CLOSED"]  # fmt: skip

    def test_fin_and_ack_together(self, est: TcpConnection) -> None:
        est.shutdown(0.0)
        output(est, 0.0)
        est.receive(segment(seq=RCV, ack=UNA + 1, flags=ACK | FIN), 0.01)
        assert est.state is TcpState.TIME_WAIT

    def test_simultaneous_close(self, est: TcpConnection) -> None:
        est.shutdown(0.0)
        (fin,) = output(est, 0.0)
        assert fin.flags == ACK | FIN
        est.receive(segment(seq=RCV, ack=UNA, flags=ACK | FIN), 0.01)  # crosses our FIN
        assert est.state is TcpState.CLOSING
        est.receive(segment(seq=RCV + 1, ack=UNA + 1), 0.02)
        assert est.state is TcpState.TIME_WAIT

    def test_time_wait_refin_restarts_timer(self, est: TcpConnection) -> None:
        est.shutdown(0.0)
        output(est, 0.0)
        est.receive(segment(seq=RCV, ack=UNA + 1, flags=ACK | FIN), 0.01)
        output(est, 0.01)
        est.receive(segment(seq=RCV, ack=UNA + 1, flags=ACK | FIN), 5.0)
        (ack,) = output(est, 5.0)
        assert ack.ack == RCV + 1
        assert est.get_timer() == pytest.approx(65.0)

    def test_rfc1337_rst_ignored_in_time_wait(self, est: TcpConnection) -> None:
        est.shutdown(0.0)
        output(est, 0.0)
        est.receive(segment(seq=RCV, ack=UNA + 1, flags=ACK | FIN), 0.01)
        est.receive(segment(seq=RCV + 1, flags=RST, window=0), 1.0)
        assert est.state is TcpState.TIME_WAIT

    def test_time_wait_accepts_newer_syn(self) -> None:
        c = establish_client()
        c.shutdown(0.0)
        output(c, 0.0)
        c.receive(segment(seq=RCV, ack=UNA + 1, flags=ACK | FIN), 0.01)
        assert c.time_wait_accepts_syn(segment(seq=RCV + 100000, flags=SYN))
        assert not c.time_wait_accepts_syn(segment(seq=RCV - 10, flags=SYN))
        assert not c.time_wait_accepts_syn(segment(seq=RCV + 100000, flags=ACK))

    def test_time_wait_accepts_syn_by_timestamp(self) -> None:
        c = TcpConnection.connect(
            StackConfig(), local_addr=1, local_port=40000, remote_addr=2, remote_port=80,
            iss=CLIENT_ISS, mtu=1500, now=0.0,
        )  # fmt: skip
        (syn,) = output(c, 0.0)
        c.receive(segment(seq=SERVER_ISS, ack=UNA, flags=SYN | ACK, mss=1460, ts_val=500,
                          ts_ecr=syn.ts_val), 0.0)  # fmt: skip
        c.shutdown(0.0)
        output(c, 0.0)
        c.receive(segment(seq=RCV, ack=UNA + 1, flags=ACK | FIN, ts_val=510, ts_ecr=0), 0.01)
        assert c.state is TcpState.TIME_WAIT
        assert c.time_wait_accepts_syn(segment(seq=RCV - 10, flags=SYN, ts_val=600))
        assert not c.time_wait_accepts_syn(segment(seq=RCV + 99, flags=SYN, ts_val=505))

    def test_orphan_fin_wait_2_times_out(self, est: TcpConnection) -> None:
        est.close(0.0)
        output(est, 0.0)
        est.receive(segment(seq=RCV, ack=UNA + 1), 0.01)
        assert est.state is TcpState.FIN_WAIT_2
        assert est.get_timer() == pytest.approx(60.01)
        est.handle_timer(60.01)
        assert est.state is TcpState.CLOSED


class TestPassiveClose:
    def test_close_wait_then_last_ack(self, est: TcpConnection) -> None:
        est.receive(segment(seq=RCV, ack=UNA, flags=ACK | FIN | PSH, payload=b"end"), 0.0)
        assert est.state is TcpState.CLOSE_WAIT and est.eof_received
        assert est.read() == b"end"
        # Linux tcp_fin: a FIN after data puts the connection in interactive
        # (pingpong) mode; its ACK waits for the delayed-ACK timeout or a reply
        assert output(est, 0.0) == []
        est.handle_timer(est.config.delayed_ack)
        (ack,) = output(est, est.config.delayed_ack)
        assert ack.ack == RCV + 4
        # half-close the other way: we can still send
        est.send(b"reply", 0.1)
        est.shutdown(0.1)
        assert est.state is TcpState.LAST_ACK
        (s,) = output(est, 0.1)
        assert s.flags & FIN and bytes(s.payload) == b"reply"
        est.receive(segment(seq=RCV + 4, ack=UNA + 6), 0.2)
        assert est.state is TcpState.CLOSED
        assert events(est)[-1] == ConnectionClosed(None)
        assert est.get_timer() is None

    def test_fin_retransmitted_on_rto(self, est: TcpConnection) -> None:
        est.receive(segment(seq=RCV, ack=UNA, flags=ACK | FIN), 0.0)
        est.shutdown(0.0)
        (fin,) = output(est, 0.0)
        t = est.get_timer()
        assert t is not None
        est.handle_timer(t)
        (again,) = output(est, t)
        assert again.flags == ACK | FIN and again.seq == fin.seq


class TestAppErrors:
    def test_send_after_shutdown(self, est: TcpConnection) -> None:
        est.shutdown(0.0)
        with pytest.raises(BrokenPipeError):
            est.send(b"x", 0.0)

    def test_close_with_unread_data_sends_rst(self, est: TcpConnection) -> None:
        est.receive(segment(seq=RCV, ack=UNA, flags=ACK | PSH, payload=b"unread"), 0.0)
        est.close(0.1)
        assert est.state is TcpState.CLOSED
        out = output(est, 0.1)
        assert out[-1].flags & RST and out[-1].seq == UNA

    def test_data_after_close_sends_rst(self, est: TcpConnection) -> None:
        est.close(0.0)
        output(est, 0.0)
        est.receive(segment(seq=RCV, ack=UNA + 1, flags=ACK | PSH, payload=b"late"), 0.01)
        assert est.state is TcpState.CLOSED
        (rst,) = output(est, 0.01)
        assert rst.flags & RST

    def test_abort_sends_rst(self, est: TcpConnection) -> None:
        est.send(b"x" * 100, 0.0)
        output(est, 0.0)
        est.abort(0.1)
        (rst,) = output(est, 0.1)
        assert rst.flags == RST | ACK and rst.seq == UNA + 100
        assert est.state is TcpState.CLOSED
        assert events(est)[-1] == ConnectionClosed(None)
        assert est.get_timer() is None

    def test_abort_in_syn_sent_is_silent(self) -> None:
        c = TcpConnection.connect(
            PLAIN, local_addr=1, local_port=40000, remote_addr=2, remote_port=80,
            iss=CLIENT_ISS, mtu=1500, now=0.0,
        )  # fmt: skip
        output(c, 0.0)
        c.abort(0.5)
        assert output(c, 0.5) == [] and c.state is TcpState.CLOSED
