"""Hostile input: random segments never raise and never break the invariants."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from tcp_support import CLIENT_ISS, SERVER_ISS, establish_client, make_client, output, segment

from aionetstack.core.config import StackConfig
from aionetstack.core.sim import parse_packet
from aionetstack.core.tcp.connection import TcpConnection
from aionetstack.core.tcp.states import TcpState
from aionetstack.wire.seq import seq_diff

near = st.one_of(
    st.integers(-70000, 70000),
    st.integers(0, 2**32 - 1).map(lambda v: v - SERVER_ISS),
)
seg_st = st.builds(
    lambda dseq, dack, flags, window, n, sack, ts: segment(
        seq=SERVER_ISS + 1 + dseq,
        ack=CLIENT_ISS + 1 + dack,
        flags=flags,
        window=window,
        payload=bytes(n),
        sack_blocks=sack,
        ts_val=ts,
        ts_ecr=ts,
    ),
    near,
    st.integers(-70000, 70000),
    st.integers(0, 0xFF),
    st.integers(0, 0xFFFF),
    st.integers(0, 3000),
    st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)), max_size=4).map(
        tuple
    ),
    st.one_of(st.none(), st.integers(0, 2**32 - 1)),
)


def start(kind: str) -> TcpConnection:
    if kind == "syn_sent":
        c = make_client(StackConfig())
        output(c, 0.0)
        return c
    c = establish_client(StackConfig(recv_buffer=20000))
    c.send(b"d" * 50000, 0.0)
    output(c, 0.0)
    if kind == "fin_wait":
        c.shutdown(0.0)
        output(c, 0.0)
    return c


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from(["syn_sent", "established", "fin_wait"]),
    segs=st.lists(seg_st, min_size=1, max_size=12),
)
def test_random_segments_never_raise(kind: str, segs: list[object]) -> None:
    c = start(kind)
    now = 0.0
    for sg in segs:
        now += 0.013
        c.receive(sg, now)  # type: ignore[arg-type]
        c.read()
        if (t := c.get_timer()) is not None and t <= now:
            c.handle_timer(now)
        for p in c.packets_to_send(now):
            parse_packet(p)  # well-formed, checksums right
        while c.next_event() is not None:
            pass
        if c.state is not TcpState.CLOSED:
            assert seq_diff(c.snd_una, c.snd_max) <= 0
            assert seq_diff(c.snd_nxt, c.snd_max) <= 0
            assert c.readable <= 4 * 1024 * 1024
    # a timer loop always terminates
    for _ in range(100):
        t = c.get_timer()
        if t is None:
            break
        now = max(now, t)
        c.handle_timer(now)
        c.packets_to_send(now)
