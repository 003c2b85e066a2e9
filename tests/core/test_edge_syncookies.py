"""SYN cookies (Linux net/ipv4/syncookies.c): the codec with explicit time, then the
stack answering and accepting them."""

from __future__ import annotations

import pytest
from edge_support import PEER_INT, PORT, US_INT, engine, opts, replies, send

from aionetstack.core.syncookies import (
    MSSTAB,
    SynCookies,
    cookie_time,
    cookie_timestamp_decode,
    cookie_tsval,
    mss_index,
)
from aionetstack.core.tcp.states import TcpState

SECRET = b"k" * 16
TUPLE = (PEER_INT, US_INT, 40000, PORT)  # saddr (the peer), daddr (us), sport, dport


@pytest.mark.parametrize(
    ("offered", "index"),
    [(100, 0), (536, 0), (1299, 0), (1300, 1), (1439, 1), (1440, 2), (1459, 2), (1460, 3),
     (9000, 3)],
)  # fmt: skip
def test_every_mss_index_round_trips(offered: int, index: int) -> None:
    sc = SynCookies(SECRET)
    assert mss_index(offered) == index
    isn, mss = sc.make(*TUPLE, 1000, offered, 30.0)
    assert mss == MSSTAB[index]
    # the ACK: SEQ = ISN(peer) + 1, ACK = cookie + 1
    assert sc.check(*TUPLE, 1001, isn + 1, 31.0) == MSSTAB[index]


def test_cookie_carries_the_minute_counter() -> None:
    sc = SynCookies(SECRET)
    isn_a, _ = sc.make(*TUPLE, 1000, 1460, 10.0)
    isn_b, _ = sc.make(*TUPLE, 1000, 1460, 70.0)
    assert (isn_b - isn_a) & 0xFF000000 != 0  # (count << 24) moved on
    assert cookie_time(59.9) == 0 and cookie_time(60.0) == 1


def test_cookie_expires_after_two_minutes() -> None:
    sc = SynCookies(SECRET)
    isn, _ = sc.make(*TUPLE, 1000, 1460, 0.0)  # counter 0
    assert sc.check(*TUPLE, 1001, isn + 1, 60.0) == 1460  # counter 1: diff 1
    assert sc.check(*TUPLE, 1001, isn + 1, 119.999) == 1460
    assert sc.check(*TUPLE, 1001, isn + 1, 120.0) == 0  # diff 2 = MAX_SYNCOOKIE_AGE
    assert sc.check(*TUPLE, 1001, isn + 1, 3600.0) == 0


def test_cookie_bound_to_tuple_sequence_and_secret() -> None:
    sc = SynCookies(SECRET)
    isn, _ = sc.make(*TUPLE, 1000, 1460, 5.0)
    saddr, daddr, sport, dport = TUPLE
    assert sc.check(saddr, daddr, sport, dport, 1001, isn + 1, 5.0) == 1460
    assert sc.check(saddr + 1, daddr, sport, dport, 1001, isn + 1, 5.0) == 0
    assert sc.check(saddr, daddr + 1, sport, dport, 1001, isn + 1, 5.0) == 0
    assert sc.check(saddr, daddr, sport + 1, dport, 1001, isn + 1, 5.0) == 0
    assert sc.check(saddr, daddr, sport, dport + 1, 1001, isn + 1, 5.0) == 0
    # another SYN sequence number or cookie: the MSS index leaves 0..3 (as in Linux, a
    # difference of 1..3 only moves the index: the 24-bit hash is the protection)
    assert sc.check(saddr, daddr, sport, dport, 1001 + 1000, isn + 1, 5.0) == 0
    assert sc.check(saddr, daddr, sport, dport, 1001, isn + 1001, 5.0) == 0
    assert SynCookies(b"K" * 16).check(*TUPLE, 1001, isn + 1, 5.0) == 0


@pytest.mark.parametrize("wscale", [None, *range(15)])
@pytest.mark.parametrize("sack", [False, True])
def test_options_in_timestamp_round_trip(wscale: int | None, sack: bool) -> None:
    offset = 0x9ABCDEF0
    now = 1234.5678
    tsval = cookie_tsval(now, offset, wscale, sack)
    clock = int(now * 1000)
    assert clock - 64 < (tsval - offset) & 0xFFFFFFFF <= clock  # never ahead of the clock
    assert cookie_timestamp_decode(tsval, offset) == (wscale, sack, False)


def test_oversized_wscale_capped_at_14() -> None:
    assert cookie_timestamp_decode(cookie_tsval(9.0, 0, 15, False), 0) == (14, False, False)


# ---------------------------------------------------------------- in the stack
FULL = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (5000, 0)), ("WScale", 7)]


def test_always_cookies_keep_no_state_until_the_ack() -> None:
    e = engine(syncookies=2)
    lst = e.tcp_listen(0, PORT, 16)
    [sa] = send(e, 1.0, 40000, seq=1000, flags="S", options=FULL)
    assert sa.flags == "SA" and lst.syn_pending == 0 and e.connection_count == 0
    o = opts(sa)
    assert o["MSS"] == 1460 and "SAckOK" in o and o["WScale"] == 7  # our own shift
    tsval, ecr = o["Timestamp"]
    assert ecr == 5000
    st = e.stats()
    assert st["SyncookiesSent"] == 1 and st["TcpPassiveOpens"] == 0
    ack_opts = [("Timestamp", (5001, tsval))]
    out = send(e, 1.2, 40000, seq=1001, ack=sa.seq + 1, flags="PA", options=ack_opts,
               payload=b"GET")  # fmt: skip
    assert [(str(r.flags), r.ack) for r in out] == [("A", 1004)]  # quick ACK of the data
    conn = lst.accept()
    assert conn is not None and conn.state is TcpState.ESTABLISHED
    assert conn.read() == b"GET"
    assert conn.snd_wscale == 7 and conn.sack_ok and conn.ts_ok and conn.peer_mss == 1460
    assert conn.iss == sa.seq and conn.irs == 1000
    st = e.stats()
    assert st["SyncookiesRecv"] == 1 and st["SyncookiesFailed"] == 0
    assert st["TcpPassiveOpens"] == 1


def test_cookie_without_timestamps_negotiates_no_wscale_nor_sack() -> None:
    e = engine(syncookies=2)
    lst = e.tcp_listen(0, PORT, 16)
    syn_opts = [("MSS", 1400), ("SAckOK", b""), ("WScale", 7)]
    [sa] = send(e, 1.0, 40001, seq=7, flags="S", options=syn_opts)
    assert opts(sa) == {"MSS": 1460}  # Linux clears wscale/SACK for such a cookie
    send(e, 1.1, 40001, seq=8, ack=sa.seq + 1, flags="A")
    conn = lst.accept()
    assert conn is not None and conn.state is TcpState.ESTABLISHED
    assert conn.snd_wscale == 0 and conn.rcv_wscale == 0 and not conn.sack_ok
    assert conn.peer_mss == 1300  # the MSSTAB entry below 1400


def test_bad_cookie_ack_is_reset_and_counted() -> None:
    e = engine(syncookies=2)
    lst = e.tcp_listen(0, PORT, 16)
    [sa] = send(e, 1.0, 40002, seq=7, flags="S")
    [rst] = send(e, 1.1, 40002, seq=8, ack=sa.seq + 1001, flags="A")
    assert rst.flags == "R" and rst.seq == sa.seq + 1001
    assert e.stats()["SyncookiesFailed"] == 1 and lst.accept() is None
    [rst] = send(e, 200.0, 40002, seq=8, ack=sa.seq + 1, flags="A")  # expired
    assert rst.flags == "R" and e.stats()["SyncookiesFailed"] == 2


def test_syn_queue_overflow_answers_with_cookies() -> None:
    e = engine()  # syncookies=1, Linux's default
    lst = e.tcp_listen(0, PORT, 2)
    for port in (1001, 1002, 1003, 1004):
        send(e, 0.0, port, seq=100, flags="S")
    st = e.stats()
    assert lst.syn_pending == 2
    assert st["TCPReqQFullDoCookies"] == 2 and st["SyncookiesSent"] == 2
    assert st["ListenDrops"] == 0


def test_stray_ack_is_no_cookie_without_recent_overflow() -> None:
    e = engine()
    e.tcp_listen(0, PORT, 2)
    [rst] = send(e, 0.0, 1001, seq=100, ack=12345, flags="A")
    assert rst.flags == "R" and e.stats()["SyncookiesFailed"] == 0


def test_cookies_off_drop_on_full_syn_queue() -> None:
    e = engine(syncookies=0)
    lst = e.tcp_listen(0, PORT, 2)
    out = [r for port in (1001, 1002, 1003) for r in send(e, 0.0, port, seq=1, flags="S")]
    assert [r.dport for r in out] == [1001, 1002]
    st = e.stats()
    assert st["TCPReqQFullDrop"] == 1 and st["ListenDrops"] == 1 and st["SyncookiesSent"] == 0
    assert lst.syn_pending == 2 and replies(e, 0.0) == []
