"""Compact TIME-WAIT entries (Linux tcp_timewait_sock, tcp_timewait_state_process):
the cap, reuse by a new SYN, the retransmitted FIN, RST ignored (RFC 1337)."""

from __future__ import annotations

from typing import Any

import pytest
from edge_support import PEER_INT, PORT, US_INT, deep_size, engine, opts, replies, send

from aionetstack.core.stack import StackEngine
from aionetstack.core.tcp.connection import TcpConnection
from aionetstack.core.tcp.states import TcpState
from aionetstack.core.timewait import TimeWait
from aionetstack.wire.tcp import ACK, RST, SYN, TcpSegment

TS = 1000  # the peer's timestamp clock at the start


class Pair:
    """A server-side connection closed first by the application: it ends in TIME-WAIT."""

    def __init__(self, e: StackEngine, port: int, now: float = 0.0) -> None:
        self.e, self.port = e, port
        syn = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (TS, 0)), ("WScale", 7)]
        [sa] = send(e, now, port, seq=100, flags="S", options=syn)
        self.tsval = opts(sa)["Timestamp"][0]
        self.our_seq = sa.seq + 1
        send(e, now, port, seq=101, ack=self.our_seq, flags="A", options=self.ts(1))
        self.lst_conn: TcpConnection | None = None

    def ts(self, dt: int) -> list[tuple[str, Any]]:
        return [("Timestamp", (TS + dt, self.tsval))]

    def close_server_first(self, conn: TcpConnection, now: float) -> None:
        conn.close(now)
        self.e.notify(conn, now)
        [fin] = replies(self.e, now)
        assert fin.flags == "FA"
        # the peer ACKs our FIN and sends its own: we enter TIME-WAIT and ACK it
        [ack] = send(self.e, now, self.port, seq=101, ack=fin.seq + 1, flags="FA",
                     options=self.ts(2))  # fmt: skip
        assert ack.flags == "A" and ack.ack == 102
        self.snd_nxt = fin.seq + 1
        assert conn.state is TcpState.TIME_WAIT


def _time_wait(e: StackEngine, port: int, now: float = 0.0) -> Pair:
    lst = e._find_listener(PORT, US_INT) or e.tcp_listen(0, PORT, 64)
    p = Pair(e, port, now)
    conn = lst.accept()
    assert conn is not None
    p.close_server_first(conn, now)
    return p


def test_time_wait_is_a_compact_entry_and_expires() -> None:
    e = engine()
    p = _time_wait(e, 7000, 1.0)
    key = (US_INT, PORT, PEER_INT, 7000)
    assert e.connections() == [] and e.time_wait_keys() == [key] and e.connection_count == 1
    tw = e._tw[key]
    assert type(tw) is TimeWait and tw.snd_nxt == p.snd_nxt and tw.rcv_nxt == 102
    assert tw.ts_recent == TS + 2
    assert e.get_timer() == pytest.approx(61.0)  # 2 MSL
    e.handle_timer(61.0)
    assert e.connection_count == 0 and e.get_timer() is None


def test_retransmitted_fin_is_acked_and_restarts_2msl() -> None:
    e = engine()
    p = _time_wait(e, 7001)
    [ack] = send(e, 10.0, 7001, seq=101, ack=p.snd_nxt, flags="FA", options=p.ts(3))
    assert ack.flags == "A" and ack.seq == p.snd_nxt and ack.ack == 102
    assert opts(ack)["Timestamp"][1] == TS + 2  # TS.Recent echoed
    # a second retransmission at once is answered too (a FIN is never rate limited)
    [ack] = send(e, 10.1, 7001, seq=101, ack=p.snd_nxt, flags="FA", options=p.ts(3))
    assert ack.flags == "A"
    e.handle_timer(60.0)  # the first deadline has moved
    assert e.connection_count == 1
    assert e.get_timer() == pytest.approx(70.1)
    e.handle_timer(70.1)
    assert e.connection_count == 0


def test_rst_is_ignored_rfc1337() -> None:
    e = engine()
    _time_wait(e, 7002)
    assert send(e, 5.0, 7002, seq=102, flags="R") == []
    assert send(e, 5.0, 7002, seq=102, ack=1, flags="RA") == []
    assert e.connection_count == 1 and e.get_timer() == pytest.approx(60.0)


def test_other_segments_answered_as_linux() -> None:
    e = engine()
    p = _time_wait(e, 7003)
    # an in-window bare ACK: silently restarts 2 MSL
    assert send(e, 5.0, 7003, seq=102, ack=p.snd_nxt, flags="A", options=p.ts(4)) == []
    assert e._tw[(US_INT, PORT, PEER_INT, 7003)].deadline == pytest.approx(65.0)
    # out of window: ACKed, at most every 500 ms for segments without data
    [a1] = send(e, 6.0, 7003, seq=5000, ack=p.snd_nxt, flags="A", options=p.ts(5))
    assert a1.flags == "A" and a1.ack == 102
    assert send(e, 6.2, 7003, seq=5000, ack=p.snd_nxt, flags="A", options=p.ts(5)) == []
    [a2] = send(e, 6.6, 7003, seq=5000, ack=p.snd_nxt, flags="A", options=p.ts(5))
    assert a2.ack == 102
    # data is always answered
    [a3] = send(e, 6.7, 7003, seq=102, ack=p.snd_nxt, flags="PA", options=p.ts(6),
                payload=b"late")  # fmt: skip
    assert a3.ack == 102
    # PAWS: an old timestamp is rejected (answered, nothing learned)
    [a4] = send(e, 7.5, 7003, seq=102, ack=p.snd_nxt, flags="A", options=p.ts(-50))
    assert opts(a4)["Timestamp"][1] == TS + 4 and e.connection_count == 1  # the bare ACK's


def test_newer_syn_reopens_the_pair() -> None:
    e = engine()
    lst = e.tcp_listen(0, PORT, 64)
    p = _time_wait(e, 7004)
    # RFC 6191: a newer timestamp reopens it, with ISS = old SND.NXT + 65535 + 2
    syn = [("MSS", 1460), ("Timestamp", (TS + 100, 0))]
    [sa] = send(e, 2.0, 7004, seq=50, flags="S", options=syn)
    assert sa.flags == "SA" and sa.seq == (p.snd_nxt + 65537) & 0xFFFFFFFF
    assert e.time_wait_keys() == [] and lst.syn_pending == 1


def test_old_syn_does_not_reopen() -> None:
    e = engine()
    e.tcp_listen(0, PORT, 64)
    p = _time_wait(e, 7005)
    # older timestamp (PAWS) and lower sequence number: TIME-WAIT answers with its ACK
    [ack] = send(e, 2.0, 7005, seq=50, flags="S", options=[("Timestamp", (TS - 5, 0))])
    assert ack.flags == "A" and ack.seq == p.snd_nxt and e.time_wait_keys() != []
    # without timestamps the sequence number decides (RFC 9293 3.10.7.4 note)
    [sa] = send(e, 3.0, 7005, seq=90000, flags="S")
    assert sa.flags == "SA" and e.time_wait_keys() == []


def test_cap_max_tw_buckets() -> None:
    e = engine(max_tw_buckets=2)
    for port in (7100, 7101, 7102, 7103):
        _time_wait(e, port)
    assert len(e.time_wait_keys()) == 2 and e.connection_count == 2
    assert e.stats()["TCPTimeWaitOverflow"] == 2
    # the pair closed without TIME-WAIT is free: a SYN with any sequence opens it
    [sa] = send(e, 1.0, 7103, seq=1, flags="S")
    assert sa.flags == "SA"


def test_client_side_time_wait_still_guards_its_port() -> None:
    e = engine()
    e.add_route(0, 0, gateway=PEER_INT)
    conn = e.tcp_connect(PEER_INT, 443, local_port=41000, now=0.0)
    [syn] = replies(e, 0.0)
    send(e, 0.0, 443, dport=41000, seq=500, ack=syn.seq + 1, flags="SA")
    conn.close(0.1)
    e.notify(conn, 0.1)
    [fin] = replies(e, 0.1)
    send(e, 0.2, 443, dport=41000, seq=501, ack=fin.seq + 1, flags="FA")
    assert conn.state is TcpState.TIME_WAIT and e.time_wait_keys()
    with pytest.raises(OSError):
        e.tcp_connect(PEER_INT, 443, local_port=41000, now=0.3)


def test_memory_per_time_wait_entry() -> None:
    e = engine()
    lst = e.tcp_listen(0, PORT, 64)
    p = Pair(e, 7200)
    conn = lst.accept()
    assert conn is not None
    conn.send(b"x" * 1000, 0.0)  # some history, as a real connection has
    e.notify(conn, 0.0)
    [data] = replies(e, 0.0)
    send(e, 0.1, 7200, seq=101, ack=data.seq + 1000, flags="A", options=p.ts(1))
    p.close_server_first(conn, 0.2)
    tw = e._tw[(US_INT, PORT, PEER_INT, 7200)]
    before, after = deep_size(conn, e.config), deep_size(tw)
    print(f"\nTIME-WAIT entry: TcpConnection {before} B -> TimeWait {after} B")
    assert e.connections() == []


def _entry(ts_recent: int | None) -> TimeWait:
    return TimeWait((US_INT, PORT, PEER_INT, 1), 1, 5000, 9000, 100, ts_recent, 0, 60.0)


def test_accepts_syn_rules_rfc6191() -> None:
    def syn(seq: int, ts_val: int | None = None, flags: int = SYN) -> TcpSegment:
        return TcpSegment(1, PORT, seq, 0, flags, 1000, ts_val=ts_val)

    plain = _entry(None)
    assert plain.accepts_syn(syn(9000 + 100000))  # RFC 9293 3.10.7.4 note: beyond RCV.NXT
    assert not plain.accepts_syn(syn(9000 - 10))
    assert not plain.accepts_syn(syn(9000 + 100000, flags=SYN | ACK))
    assert not plain.accepts_syn(syn(9000 + 100000, flags=SYN | RST))
    stamped = _entry(500)
    assert stamped.accepts_syn(syn(9000 - 10, ts_val=600))  # RFC 6191: newer TSval
    assert not stamped.accepts_syn(syn(9000 + 99, ts_val=499))  # PAWS: an old duplicate
    assert stamped.accepts_syn(syn(9000 + 99, ts_val=500))  # equal: the sequence decides
    assert not stamped.accepts_syn(syn(9000 - 1, ts_val=500))
    assert plain.reopen_iss() == 5000 + 65537
    assert TimeWait((0, 0, 0, 0), 1, 0xFFFFFFFF - 65536, 0, 0, None, 0, 0.0).reopen_iss() == 1


def test_no_time_wait_at_all_with_zero_buckets() -> None:
    e = engine(max_tw_buckets=0)
    _time_wait(e, 7300)
    assert e.connection_count == 0 and e.get_timer() is None
    assert e.stats()["TCPTimeWaitOverflow"] == 1
