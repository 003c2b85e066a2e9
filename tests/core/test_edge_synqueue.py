"""The SYN queue: half-open request records, not connections (Linux request_sock);
their SYN-ACK, its retransmission, the ACK that makes the connection; the
per-stack connection cap."""

from __future__ import annotations

from typing import Any

import pytest
from edge_support import PEER_INT, PORT, US_INT, deep_size, engine, opts, replies, send
from scapy.layers.inet import IP, TCP

from aionetstack.core.config import StackConfig
from aionetstack.core.reqsock import RequestSock
from aionetstack.core.stack import StackEngine
from aionetstack.core.tcp.connection import TcpConnection
from aionetstack.core.tcp.states import TcpState
from aionetstack.wire.tcp import SYN, TcpSegment, parse_tcp

FULL = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (5000, 0)), ("WScale", 7)]


def test_half_open_entries_are_records_not_connections() -> None:
    e = engine()
    lst = e.tcp_listen(0, PORT, 64)
    for port in range(2000, 2010):
        [sa] = send(e, 0.0, port, seq=1, flags="S", options=FULL)
        assert sa.flags == "SA"
    assert lst.syn_pending == 10 and e.connections() == [] and e.connection_count == 10
    rec = next(iter(lst.syn_queue.values()))
    assert type(rec) is RequestSock and rec.key == (US_INT, PORT, PEER_INT, 2000)
    assert e.stats()["TcpPassiveOpens"] == 10
    conn = TcpConnection.accept(
        e.config, TcpSegment(2000, PORT, 1, 0, SYN, 8192), local_addr=US_INT,
        remote_addr=PEER_INT, iss=1, mtu=1500, now=0.0,
    )  # fmt: skip
    print(f"\nhalf-open entry: RequestSock {deep_size(rec, e.config, lst)} B, "
          f"TcpConnection {deep_size(conn, e.config)} B")  # fmt: skip


def _synack_times(e: StackEngine, until: float) -> list[float]:
    times = [0.0] if replies(e, 0.0) else []
    while (t := e.get_timer()) is not None and t <= until:
        e.handle_timer(t)
        if any(s.flags == "SA" for s in replies(e, t)):
            times.append(t)
    return times


def test_synack_retransmitted_from_the_record_like_the_connection() -> None:
    e = engine()
    lst = e.tcp_listen(0, PORT, 8)
    e.receive(bytes(_syn(3000)), 1, 0.0)
    times = _synack_times(e, 1000.0)
    assert times == [0.0, 1.0, 3.0, 7.0, 15.0, 31.0]  # RTO 1 s, doubled, synack_retries=5
    assert lst.syn_pending == 0 and e.connection_count == 0 and e.get_timer() is None
    st = e.stats()
    assert st["TcpAttemptFails"] == 1 and st["TcpRetransSegs"] == 5
    # the same timing as a TcpConnection in SYN-RECEIVED
    conn = TcpConnection.accept(
        e.config, TcpSegment(3000, PORT, 1, 0, SYN, 8192), local_addr=US_INT,
        remote_addr=PEER_INT, iss=1, mtu=1500, now=0.0,
    )  # fmt: skip
    conn_times = [0.0] if conn.packets_to_send(0.0) else []
    while (t := conn.get_timer()) is not None:
        conn.handle_timer(t)
        if conn.packets_to_send(t):
            conn_times.append(t)
    assert conn_times == times


def test_synack_retries_knob() -> None:
    e = engine(synack_retries=2, rto_initial=0.5)
    e.tcp_listen(0, PORT, 8)
    e.receive(bytes(_syn(3001)), 1, 0.0)
    assert _synack_times(e, 1000.0) == [0.0, 0.5, 1.5]


def _syn(port: int, options: list[tuple[str, object]] | None = None) -> Any:
    return IP(src="198.18.0.1", dst="198.18.0.2") / TCP(
        sport=port, dport=PORT, seq=1, flags="S", window=29200, options=options or []
    )


OPTION_SETS = [
    FULL,
    [],
    [("MSS", 1200)],
    [("MSS", 1460), ("Timestamp", (77, 0))],
    [("MSS", 1460), ("WScale", 3)],
    [("MSS", 1460), ("SAckOK", b""), ("WScale", 14)],
]
CONFIGS = [
    StackConfig(),
    StackConfig(window_scaling=False),
    StackConfig(sack=False, timestamps=False),
    StackConfig(recv_buffer=30000),
    StackConfig(recv_buffer=1 << 20, ttl=7),
]


@pytest.mark.parametrize("options", OPTION_SETS)
@pytest.mark.parametrize("config", CONFIGS)
def test_record_synack_is_the_connections_byte_for_byte(
    options: list[tuple[str, object]], config: StackConfig
) -> None:
    e = StackEngine(config, secret=b"e" * 16, now=0.0)
    e.add_interface(US_INT, 24, 1500)
    e.tcp_listen(0, PORT, 8)
    raw = bytes(_syn(4000, options))
    now = 12.345
    e.receive(raw, 1, now)
    [(_, synack)] = e.packets_to_send(now)
    rec = next(iter(e._reqs.values()))
    seg = parse_tcp(memoryview(raw)[20:], PEER_INT, US_INT)
    conn = TcpConnection.accept(
        config, seg, local_addr=US_INT, remote_addr=PEER_INT, iss=rec.iss, mtu=1500, now=now,
        ts_offset=rec.ts_offset,
    )  # fmt: skip
    [expected] = conn.packets_to_send(now)
    assert synack == expected


def test_ack_turns_the_record_into_an_established_connection() -> None:
    e = engine()
    lst = e.tcp_listen(0, PORT, 8)
    [sa] = send(e, 0.0, 5000, seq=1000, flags="S", options=FULL)
    tsval = opts(sa)["Timestamp"][0]
    # the peer retransmits its SYN: the same SYN-ACK again, no second record
    [sa2] = send(e, 0.5, 5000, seq=1000, flags="S", options=FULL)
    assert sa2.seq == sa.seq and lst.syn_pending == 1
    ack_opts = [("Timestamp", (5100, tsval))]
    assert send(e, 0.6, 5000, seq=1001, ack=sa.seq + 1, flags="A", options=ack_opts) == []
    assert lst.syn_pending == 0 and lst.pending == 1
    conn = lst.accept()
    assert conn is not None and conn.state is TcpState.ESTABLISHED
    assert conn.snd_wscale == 7 and conn.sack_ok and conn.ts_ok and conn.ts_recent == 5100
    assert conn.snd_una == sa.seq + 1 and conn.rcv_nxt == 1001
    assert conn.tcp_info().rtt == pytest.approx(0.6, abs=0.002)  # from the timestamp echo
    conn.send(b"hello", 0.7)
    e.notify(conn, 0.7)
    [data] = replies(e, 0.7)
    assert bytes(data.payload) == b"hello"
    assert e.get_timer() is not None  # the data's RTO, not a stale SYN-ACK timer
    e.handle_timer(1.0)  # the record's old SYN-ACK deadline: nothing
    assert all(s.flags != "SA" for s in replies(e, 1.0))


def test_rst_removes_the_record_and_bad_ack_is_reset() -> None:
    e = engine()
    lst = e.tcp_listen(0, PORT, 8)
    [sa] = send(e, 0.0, 5001, seq=1000, flags="S")
    [rst] = send(e, 0.1, 5001, seq=1001, ack=sa.seq + 7, flags="A")  # not our SYN-ACK
    assert rst.flags == "R" and rst.seq == sa.seq + 7 and lst.syn_pending == 1
    assert send(e, 0.2, 5001, seq=1005, flags="R") == [] and lst.syn_pending == 1
    assert send(e, 0.3, 5001, seq=1001, flags="R") == []
    assert lst.syn_pending == 0 and e.connection_count == 0
    assert e.stats()["TcpAttemptFails"] == 1


def test_listener_close_resets_records() -> None:
    e = engine()
    lst = e.tcp_listen(0, PORT, 8)
    [sa] = send(e, 0.0, 5002, seq=1000, flags="S", options=FULL)
    lst.close(0.1)
    [rst] = replies(e, 0.1)
    assert rst.flags == "RA" and rst.seq == sa.seq + 1 and rst.ack == 1001
    assert "Timestamp" in opts(rst) and e.connection_count == 0 and e.get_timer() is None


def test_connection_cap_refuses_with_rst() -> None:
    e = engine(max_connections=2)
    lst = e.tcp_listen(0, PORT, 8)
    flags = [str(r.flags) for port in (6000, 6001, 6002) for r in send(e, 0.0, port, seq=9,
                                                                        flags="S")]  # fmt: skip
    assert flags == ["SA", "SA", "RA"]
    assert e.stats()["DropTcpConnectionCap"] == 1 and lst.syn_pending == 2
    # cookies do not get around it
    e2 = engine(max_connections=1, syncookies=2)
    e2.tcp_listen(0, PORT, 8)
    [sa] = send(e2, 0.0, 6000, seq=9, flags="S")
    assert send(e2, 0.0, 6000, seq=10, ack=sa.seq + 1, flags="A") == []
    assert e2.connection_count == 1
    [r] = send(e2, 0.0, 6001, seq=9, flags="S")
    assert r.flags == "RA" and e2.stats()["DropTcpConnectionCap"] == 1


def test_config_knobs_validated() -> None:
    for bad in ({"syncookies": 3}, {"max_tw_buckets": -1}, {"max_connections": 0}):
        with pytest.raises(ValueError):
            StackConfig(**bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        StackConfig(syncookies=True)
