"""Opening handshakes: SYN-SENT and SYN-RECEIVED (RFC 9293 3.5, 3.10.7.3)."""

from __future__ import annotations

import errno

import pytest
from tcp_support import (
    CLIENT_ADDR,
    CLIENT_ISS,
    PLAIN,
    SERVER_ADDR,
    SERVER_ISS,
    establish_client,
    events,
    make_client,
    output,
    segment,
)

from aionetstack.core.config import StackConfig
from aionetstack.core.sim import parse_packet
from aionetstack.core.tcp.connection import TcpConnection, rst_for_unexpected
from aionetstack.core.tcp.events import Connected, ConnectionClosed
from aionetstack.core.tcp.states import TcpState
from aionetstack.wire.tcp import ACK, FIN, PSH, RST, SYN

# ---------------------------------------------------------------- SYN-SENT


class TestSynSent:
    def test_syn_carries_linux_options(self) -> None:
        c = make_client(StackConfig())
        (syn,) = output(c, 0.0)
        assert syn.flags == SYN
        assert syn.seq == CLIENT_ISS
        assert syn.mss == 1460  # mtu 1500 - 40
        assert syn.wscale == 7  # 4 MiB buffer
        assert syn.sack_permitted
        assert syn.ts_val is not None and syn.ts_ecr == 0
        assert syn.window == 65535  # RFC 7323 2.2: never scaled in a SYN
        assert c.state is TcpState.SYN_SENT

    def test_syn_options_switchable(self) -> None:
        c = make_client(PLAIN)
        (syn,) = output(c, 0.0)
        assert syn.mss == 1460
        assert syn.wscale is None and not syn.sack_permitted and syn.ts_val is None

    def test_syn_backoff_schedule_then_timeout(self) -> None:
        c = make_client()
        sent = []
        now = 0.0
        for _ in range(20):
            if output(c, now):
                sent.append(now)
            t = c.get_timer()
            if t is None:
                break
            now = t
            c.handle_timer(now)
        # Linux: SYN at 0, 1, 3, 7, 15, 31, 63 (6 retries), failure at 127
        assert sent == [0.0, 1.0, 3.0, 7.0, 15.0, 31.0, 63.0]
        assert now == 127.0
        assert c.state is TcpState.CLOSED
        assert isinstance(c.error, TimeoutError) and c.error.errno == errno.ETIMEDOUT
        assert c.get_timer() is None
        evs = events(c)
        assert isinstance(evs[-1], ConnectionClosed) and evs[-1].error is c.error

    def test_early_timer_call_is_harmless(self) -> None:
        c = make_client()
        output(c, 0.0)
        c.handle_timer(0.999)
        assert output(c, 0.999) == []
        assert c.get_timer() == 1.0

    def test_rst_acking_syn_refuses(self) -> None:
        c = make_client()
        output(c, 0.0)
        c.receive(segment(seq=0, ack=CLIENT_ISS + 1, flags=RST | ACK, window=0), 0.01)
        assert c.state is TcpState.CLOSED
        assert isinstance(c.error, ConnectionRefusedError)
        assert isinstance(events(c)[-1], ConnectionClosed)

    def test_rst_without_ack_ignored(self) -> None:
        c = make_client()
        output(c, 0.0)
        c.receive(segment(seq=0, flags=RST, window=0), 0.01)
        assert c.state is TcpState.SYN_SENT
        assert c.dropped == 1

    def test_bad_ack_gets_rst(self) -> None:
        c = make_client()
        output(c, 0.0)
        c.receive(segment(seq=77, ack=CLIENT_ISS + 50, flags=SYN | ACK), 0.01)
        (rst,) = output(c, 0.01)
        assert rst.flags == RST and rst.seq == CLIENT_ISS + 50
        assert c.state is TcpState.SYN_SENT

    def test_synack_establishes_and_acks_at_once(self) -> None:
        c = make_client(StackConfig())
        (syn,) = output(c, 0.0)
        c.receive(segment(seq=SERVER_ISS, ack=CLIENT_ISS + 1, flags=SYN | ACK, window=29200,
                          mss=1400, wscale=9, sack_permitted=True, ts_val=777,
                          ts_ecr=syn.ts_val), 0.05)  # fmt: skip
        assert c.state is TcpState.ESTABLISHED
        assert isinstance(events(c)[0], Connected)
        (ack,) = output(c, 0.05)
        assert ack.flags == ACK and ack.seq == CLIENT_ISS + 1 and ack.ack == SERVER_ISS + 1
        assert ack.ts_ecr == 777
        info = c.tcp_info()
        assert info.snd_mss == 1400 - 12  # options deducted
        assert info.snd_wscale == 9 and info.rcv_wscale == 7
        assert info.snd_wnd == 29200  # the SYN-ACK window is not scaled
        assert info.sack and info.timestamps
        assert info.rtt == pytest.approx(0.05)
        assert c.get_timer() is None

    def test_ack_rides_on_queued_data(self) -> None:
        # tcp_rcv_synsent_state_process: data already queued, no bare ACK
        c = make_client()
        output(c, 0.0)
        c.send(b"hello", 0.0)
        c.receive(segment(seq=SERVER_ISS, ack=CLIENT_ISS + 1, flags=SYN | ACK, mss=1460), 0.01)
        (seg,) = output(c, 0.01)
        assert seg.flags == ACK | PSH and bytes(seg.payload) == b"hello"
        assert seg.ack == SERVER_ISS + 1

    def test_shutdown_in_syn_sent_is_queued(self) -> None:
        c = make_client()
        output(c, 0.0)
        c.shutdown(0.0)
        assert c.state is TcpState.SYN_SENT
        c.receive(segment(seq=SERVER_ISS, ack=CLIENT_ISS + 1, flags=SYN | ACK, mss=1460), 0.01)
        assert c.state is TcpState.FIN_WAIT_1
        (fin,) = output(c, 0.01)
        assert fin.flags == FIN | ACK and fin.seq == CLIENT_ISS + 1

    def test_icmp_soft_error_reported_on_timeout(self) -> None:
        c = make_client()
        output(c, 0.0)
        c.icmp_error(OSError(errno.EHOSTUNREACH, "No route to host"), 0.5)
        assert c.state is TcpState.SYN_SENT
        while (t := c.get_timer()) is not None:
            c.handle_timer(t)
            output(c, t)
        assert isinstance(c.error, TimeoutError)
        assert "No route to host" in str(c.error)
        assert isinstance(c.error.__cause__, OSError)

    def test_simultaneous_open(self) -> None:
        a = make_client(StackConfig())
        b = TcpConnection.connect(
            StackConfig(), local_addr=SERVER_ADDR, local_port=80, remote_addr=CLIENT_ADDR,
            remote_port=40000, iss=SERVER_ISS, mtu=1500, now=0.0,
        )  # fmt: skip
        (sa,) = output(a, 0.0)
        (sb,) = output(b, 0.0)
        a.receive(sb, 0.01)
        b.receive(sa, 0.01)
        assert a.state is TcpState.SYN_RECEIVED and b.state is TcpState.SYN_RECEIVED
        (sa2,) = output(a, 0.01)
        (sb2,) = output(b, 0.01)
        assert sa2.flags == SYN | ACK and sa2.seq == CLIENT_ISS and sa2.ack == SERVER_ISS + 1
        a.receive(sb2, 0.02)
        b.receive(sa2, 0.02)
        assert a.state is TcpState.ESTABLISHED and b.state is TcpState.ESTABLISHED
        assert [str(t[2]) for t in a.transitions] == ["SYN-SENT", "SYN-RECEIVED", "ESTABLISHED"]


# ------------------------------------------------------------ SYN-RECEIVED


def make_server(config: StackConfig = PLAIN, **syn_opts: object) -> TcpConnection:
    syn = segment(src_port=40000, dst_port=80, seq=CLIENT_ISS, flags=SYN, mss=1460,
                  **syn_opts)  # type: ignore[arg-type]  # fmt: skip
    return TcpConnection.accept(
        config, syn, local_addr=SERVER_ADDR, remote_addr=CLIENT_ADDR, iss=SERVER_ISS,
        mtu=1500, now=0.0,
    )  # fmt: skip


def cseg(**kw: object) -> object:
    return segment(src_port=40000, dst_port=80, **kw)  # type: ignore[arg-type]


class TestSynReceived:
    def test_synack_answers_only_offered_options(self) -> None:
        s = make_server(StackConfig())
        (sa,) = output(s, 0.0)
        assert sa.flags == SYN | ACK and sa.ack == CLIENT_ISS + 1 and sa.seq == SERVER_ISS
        assert sa.wscale is None and not sa.sack_permitted and sa.ts_val is None
        s2 = make_server(StackConfig(), wscale=2, sack_permitted=True, ts_val=5, ts_ecr=0)
        (sa2,) = output(s2, 0.0)
        assert sa2.wscale == 7 and sa2.sack_permitted and sa2.ts_ecr == 5

    def test_third_ack_establishes(self) -> None:
        s = make_server()
        output(s, 0.0)
        s.receive(cseg(seq=CLIENT_ISS + 1, ack=SERVER_ISS + 1, flags=ACK, window=1000), 0.02)
        assert s.state is TcpState.ESTABLISHED
        assert isinstance(events(s)[0], Connected)
        assert s.tcp_info().rtt == pytest.approx(0.02)

    def test_third_ack_with_data(self) -> None:
        s = make_server()
        output(s, 0.0)
        s.receive(cseg(seq=CLIENT_ISS + 1, ack=SERVER_ISS + 1, flags=ACK | PSH,
                       payload=b"GET /"), 0.02)  # fmt: skip
        assert s.state is TcpState.ESTABLISHED
        assert s.read() == b"GET /"

    def test_synack_retransmitted_then_timeout(self) -> None:
        s = make_server()
        times = []
        now = 0.0
        while True:
            if output(s, now):
                times.append(now)
            t = s.get_timer()
            if t is None:
                break
            now = t
            s.handle_timer(now)
        assert times == [0.0, 1.0, 3.0, 7.0, 15.0, 31.0]  # synack_retries = 5
        assert s.state is TcpState.CLOSED and isinstance(s.error, TimeoutError)

    def test_retransmitted_syn_gets_synack_again(self) -> None:
        s = make_server()
        output(s, 0.0)
        s.receive(cseg(seq=CLIENT_ISS, flags=SYN, mss=1460), 0.5)
        (sa,) = output(s, 0.5)
        assert sa.flags == SYN | ACK

    def test_bad_ack_gets_rst(self) -> None:
        s = make_server()
        output(s, 0.0)
        s.receive(cseg(seq=CLIENT_ISS + 1, ack=SERVER_ISS + 99, flags=ACK), 0.02)
        (rst,) = output(s, 0.02)
        assert rst.flags == RST and rst.seq == SERVER_ISS + 99
        assert s.state is TcpState.SYN_RECEIVED

    def test_rst_closes(self) -> None:
        s = make_server()
        output(s, 0.0)
        s.receive(cseg(seq=CLIENT_ISS + 1, flags=RST), 0.02)
        assert s.state is TcpState.CLOSED


class TestRstForUnexpected:
    def test_ack_segment(self) -> None:
        seg = cseg(seq=10, ack=99, flags=ACK)
        pkt = rst_for_unexpected(seg, CLIENT_ADDR, SERVER_ADDR)  # type: ignore[arg-type]
        assert pkt is not None
        rst = parse_packet(pkt)
        assert rst.flags == RST and rst.seq == 99
        assert rst.src_port == 80 and rst.dst_port == 40000

    def test_syn_segment(self) -> None:
        seg = cseg(seq=10, flags=SYN)
        rst = parse_packet(rst_for_unexpected(seg, CLIENT_ADDR, SERVER_ADDR) or b"")  # type: ignore[arg-type]
        assert rst.flags == RST | ACK and rst.seq == 0 and rst.ack == 11

    def test_never_answers_rst(self) -> None:
        seg = cseg(seq=10, flags=RST)
        assert rst_for_unexpected(seg, CLIENT_ADDR, SERVER_ADDR) is None  # type: ignore[arg-type]


def test_establish_helper() -> None:
    c = establish_client()
    assert c.snd_una == CLIENT_ISS + 1
