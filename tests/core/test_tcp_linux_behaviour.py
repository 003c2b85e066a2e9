"""Where the RFCs allow several behaviours, the engine does what Linux does
(found by the differential conformance suite, tests/conformance; issue 9).
Each test pins one rule with explicit time."""

from __future__ import annotations

from ipaddress import IPv4Address

from scapy.layers.inet import IP, TCP
from tcp_support import PLAIN, RCV, UNA, establish_client, establish_ts, output, segment

from aionetstack.core import stats as S
from aionetstack.core.config import StackConfig
from aionetstack.core.stack import StackEngine
from aionetstack.core.tcp.connection import TcpConnection
from aionetstack.core.tcp.states import TcpState
from aionetstack.wire.tcp import ACK, FIN, RST, SYN


def test_syn_fin_to_a_listener_is_discarded() -> None:
    # Linux tcp_rcv_state_process, TCP_LISTEN: ``if (th->fin) goto discard``
    # (nmap's T3 probe tells stacks apart by it). A plain SYN still gets a SYN-ACK.
    e = StackEngine(StackConfig(), secret=b"s" * 16, now=0.0)
    e.add_interface(int(IPv4Address("198.18.0.2")), 24, 1500)
    e.tcp_listen(0, 80, 8)
    for flags in ("SF", "SFPU"):
        pkt = IP(src="198.18.0.1", dst="198.18.0.2") / TCP(sport=1234, dport=80, flags=flags)
        e.receive(bytes(pkt), 1, 0.0)
        assert e.packets_to_send(0.0) == []
    assert e.stats()[S.DROP_TCP_LISTEN_BAD_SEGMENT] == 2
    e.receive(bytes(IP(src="198.18.0.1", dst="198.18.0.2") / TCP(sport=1234, dport=80)), 1, 0.0)
    [(_, raw)] = e.packets_to_send(0.0)
    assert IP(raw)[TCP].flags == "SA"


def test_abort_rst_carries_timestamps() -> None:
    # RFC 7323 3.2 (once negotiated, every segment) / Linux tcp_send_active_reset
    c = establish_ts()
    c.receive(segment(seq=RCV, ack=UNA, payload=b"x" * 10, ts_val=500, ts_ecr=1), 0.5)
    output(c, 0.5)
    c.abort(2.0)
    (r,) = output(c, 2.0)
    assert r.flags == RST | ACK
    assert r.ts_val is not None and r.ts_ecr == 500
    # the TSval is taken at the abort's time, 1.5 s after the last one sent
    assert r.ts_val - c._ts_val(0.5) == 1500


def test_close_with_unread_data_rst_carries_timestamps() -> None:
    c = establish_ts()
    c.receive(segment(seq=RCV, ack=UNA, payload=b"x" * 10, ts_val=500, ts_ecr=1), 0.5)
    output(c, 0.5)
    c.close(0.6)
    (r,) = output(c, 0.6)
    assert r.flags == RST | ACK and r.ts_val is not None and r.ts_ecr == 500


def test_without_timestamps_the_rst_has_no_options() -> None:
    c = establish_client(PLAIN)
    c.abort(1.0)
    (r,) = output(c, 1.0)
    assert r.flags == RST | ACK and r.ts_val is None and r.sack_blocks == ()


def test_nagle_is_minshalls_a_small_tail_goes_out_with_the_burst() -> None:
    # Linux tcp_nagle_check: a sub-MSS segment is held only while an earlier
    # sub-MSS segment is unacknowledged. 1000 bytes at MSS 536: both go out.
    c = establish_client(PLAIN, mss=536)
    c.send(b"a" * 1000, 0.0)
    assert [len(s.payload) for s in output(c, 0.0)] == [536, 464]
    # now a small segment is outstanding: the next small write waits for its ACK
    c.send(b"b" * 10, 0.001)
    assert output(c, 0.001) == []
    c.receive(segment(seq=RCV, ack=UNA + 536), 0.01)
    assert output(c, 0.01) == []  # the 464-byte segment is still unacknowledged
    c.receive(segment(seq=RCV, ack=UNA + 1000), 0.02)
    assert [len(s.payload) for s in output(c, 0.02)] == [10]


def test_nagle_full_segments_are_never_held() -> None:
    c = establish_client(PLAIN, mss=536)
    c.send(b"a" * 100, 0.0)
    assert len(output(c, 0.0)) == 1
    c.send(b"b" * 1072, 0.001)
    # two full segments go out though a small one is in flight; no tail to hold
    assert [len(s.payload) for s in output(c, 0.001)] == [536, 536]


def test_duplicate_fin_is_dsacked() -> None:
    # Linux tcp_send_dupack: a duplicate that occupies sequence space, FIN
    # included, is reported with a DSACK block (RFC 2883 4.1.1)
    c = establish_ts()
    c.receive(segment(seq=RCV, ack=UNA, flags=ACK | FIN, ts_val=10, ts_ecr=1), 1.0)
    (a,) = output(c, 1.0)
    assert c.state is TcpState.CLOSE_WAIT and a.ack == RCV + 1 and a.sack_blocks == ()
    c.receive(segment(seq=RCV, ack=UNA, flags=ACK | FIN, ts_val=20, ts_ecr=1), 1.5)
    (d,) = output(c, 1.5)
    assert d.ack == RCV + 1
    assert d.sack_blocks == ((RCV, RCV + 1),)


def test_duplicate_fin_in_time_wait_is_acked_without_dsack() -> None:
    # Linux's TIME-WAIT socket keeps no SACK state: a plain ACK, 2 MSL restarted
    c = establish_ts()
    c.shutdown(0.0)
    output(c, 0.0)
    c.receive(segment(seq=RCV, ack=UNA + 1, flags=ACK | FIN, ts_val=10, ts_ecr=1), 0.1)
    output(c, 0.1)
    assert c.state is TcpState.TIME_WAIT
    c.receive(segment(seq=RCV, ack=UNA + 1, flags=ACK | FIN, ts_val=20, ts_ecr=1), 5.0)
    (a,) = output(c, 5.0)
    assert a.ack == RCV + 1 and a.sack_blocks == ()
    assert c.get_timer() == 5.0 + c.config.time_wait


def test_duplicate_syn_is_challenged_not_dsacked() -> None:
    c = establish_ts()
    c.receive(segment(seq=RCV - 1, ack=0, flags=SYN, ts_val=10), 1.0)
    (a,) = output(c, 1.0)
    assert a.flags == ACK and a.sack_blocks == ()


def _small(c: TcpConnection, k: int, now: float) -> None:
    c.receive(segment(seq=RCV + 100 * k, ack=UNA, payload=b"r" * 100), now)


def test_small_segments_read_promptly_are_acked_at_once_after_quickack() -> None:
    # Linux __tcp_cleanup_rbuf: once the 16 quick ACKs are spent, a read that
    # empties the buffer still ACKs a small (pushed) segment at once, unless
    # the connection is interactive (pingpong)
    c = establish_client(PLAIN)
    quick = c.config.quickack_segments
    for k in range(quick + 8):
        now = 1.0 + k * 0.01
        _small(c, k, now)
        assert c.read() == b"r" * 100
        acks = output(c, now)
        assert [a.ack for a in acks] == [RCV + 100 * (k + 1)], k


def test_without_a_read_small_segments_wait_for_the_delayed_ack() -> None:
    c2 = establish_client(PLAIN)
    for k in range(c2.config.quickack_segments):
        _small(c2, k, 1.0)
        c2.read()
        output(c2, 1.0)
    _small(c2, c2.config.quickack_segments, 2.0)
    assert output(c2, 2.0) == []  # not read yet: the 40 ms delayed ACK
    assert c2.get_timer() == 2.0 + c2.config.delayed_ack


def test_an_interactive_connection_keeps_delayed_acks() -> None:
    # Linux tcp_event_data_sent: data sent within the ACK timeout of data
    # received enters pingpong mode; a read then does not force an ACK, the
    # reply carries it. A delayed ACK that has to fire leaves pingpong mode.
    c = establish_client(PLAIN)
    q = c.config.quickack_segments
    for k in range(q):
        _small(c, k, 1.0)
        c.read()
        output(c, 1.0)
    _small(c, q, 2.0)
    c.read()
    c.send(b"reply", 2.001)  # a reply within 40 ms: interactive
    (d,) = output(c, 2.001)
    assert d.payload == b"reply" and d.ack == RCV + 100 * (q + 1)
    c.receive(segment(seq=RCV + 100 * (q + 1), ack=UNA + 5, payload=b"r" * 100), 2.1)
    c.read()
    assert output(c, 2.1) == []  # pingpong: the ACK is delayed
    c.handle_timer(2.1 + c.config.delayed_ack)
    (a,) = output(c, 2.1 + c.config.delayed_ack)
    assert a.ack == RCV + 100 * (q + 2)
    # the delayed ACK fired: no longer interactive, a prompt read ACKs at once
    c.receive(segment(seq=RCV + 100 * (q + 2), ack=UNA + 5, payload=b"r" * 100), 3.0)
    c.read()
    assert [x.ack for x in output(c, 3.0)] == [RCV + 100 * (q + 3)]


def test_port_unreachable_ends_a_connection_attempt() -> None:
    # RFC 1122 4.2.3.9 (codes 2-4 are hard errors) / Linux tcp_v4_err
    import errno as _errno

    from tcp_support import make_client

    c = make_client(PLAIN)
    output(c, 0.0)
    c.icmp_error(ConnectionRefusedError(_errno.ECONNREFUSED, "refused"), 0.01)
    assert c.state is TcpState.CLOSED and isinstance(c.error, ConnectionRefusedError)
    # host unreachable stays soft: reported only if the attempt times out
    c2 = make_client(PLAIN)
    output(c2, 0.0)
    c2.icmp_error(OSError(_errno.EHOSTUNREACH, "host unreachable"), 0.01)
    assert c2.state is TcpState.SYN_SENT
