"""TIME-WAIT, pinned: which segments may reopen the 4-tuple (RFC 6191, RFC 9293
3.10.7.4 note, RFC 7323 5.3 PAWS; Linux tcp_timewait_state_process).

The connection closed first, so it holds TIME-WAIT with RCV.NXT = ``RCV + 1``
(after the peer's FIN) and, with timestamps, TS.Recent = ``PEER_TS``. First the
engine's ``time_wait_accepts_syn`` / ``time_wait_iss``, then the whole stack.
"""

from __future__ import annotations

import pytest
from tcp_support import (
    CLIENT_ADDR,
    PEER_TS,
    PLAIN,
    RCV,
    SERVER_ADDR,
    UNA,
    segment,
    tcp_established,
    tcp_fin_wait_2,
    tcp_time_wait,
)

from aionetstack.core.config import StackConfig
from aionetstack.core.sim import parse_packet
from aionetstack.core.stack import StackEngine
from aionetstack.core.tcp.states import TcpState
from aionetstack.wire.tcp import ACK, FIN, RST, SYN, TcpSegment, build_ipv4_tcp, build_tcp_options

TS = StackConfig(timestamps=True, sack=False, window_scaling=False, recv_buffer=65535)
NXT = RCV + 1  # RCV.NXT in TIME-WAIT


def syn(seq: int, ts_val: int | None = None, flags: int = SYN) -> TcpSegment:
    return segment(seq=seq, ack=0, flags=flags, ts_val=ts_val, ts_ecr=0 if ts_val else None)


class TestAcceptsSyn:
    @pytest.mark.parametrize(
        ("seq", "ts_val", "accepted"),
        [
            (NXT - 10_000, PEER_TS + 1, True),  # RFC 6191 2: a newer TSval, whatever SEG.SEQ
            (NXT + 1, PEER_TS, True),  # equal TSval: the sequence rule (RFC 9293 note)
            (NXT, PEER_TS, False),
            (NXT - 1, PEER_TS, False),
            (NXT + 10_000, PEER_TS - 1, False),  # RFC 7323 5.3: PAWS rejects an old TSval
            (NXT + 1, None, True),  # no timestamp in the SYN: the sequence rule
            (NXT, None, False),
        ],
    )
    def test_with_timestamps(self, seq: int, ts_val: int | None, accepted: bool) -> None:
        c = tcp_time_wait(TS, now=1.0)
        assert c.time_wait_accepts_syn(syn(seq, ts_val)) is accepted

    @pytest.mark.parametrize(("seq", "accepted"), [(NXT + 1, True), (NXT, False), (NXT - 5, False)])
    def test_without_timestamps_only_a_higher_isn(self, seq: int, accepted: bool) -> None:
        c = tcp_time_wait(PLAIN, now=1.0)
        assert c.time_wait_accepts_syn(syn(seq)) is accepted

    @pytest.mark.parametrize(
        "flags", [SYN | ACK, SYN | RST, SYN | ACK | RST, 0, ACK, FIN | ACK, RST],
        ids=["SYN|ACK", "SYN|RST", "SYN|ACK|RST", "flagless", "ACK", "FIN|ACK", "RST"],
    )  # fmt: skip
    @pytest.mark.parametrize("config", [PLAIN, TS], ids=["plain", "timestamps"])
    def test_only_a_bare_syn(self, flags: int, config: StackConfig) -> None:
        c = tcp_time_wait(config, now=1.0)
        assert not c.time_wait_accepts_syn(syn(NXT + 10_000, PEER_TS + 100, flags))

    @pytest.mark.parametrize("factory", [tcp_established, tcp_fin_wait_2])
    def test_only_in_time_wait(self, factory: object) -> None:
        c = factory(TS, now=1.0)  # type: ignore[operator]
        assert not c.time_wait_accepts_syn(syn(NXT + 10_000, PEER_TS + 100))

    def test_new_iss_is_above_the_old_snd_nxt(self) -> None:
        # Linux tcp_timewait_state_process: tw_snd_nxt + 65535 + 2
        c = tcp_time_wait(PLAIN, now=1.0)
        assert c.time_wait_iss() == UNA + 1 + 65535 + 2


# --------------------------------------------------------------- through the stack


def _packet(seq: int, ack: int, flags: int, ts: tuple[int, int] | None) -> bytes:
    opts = build_tcp_options(mss=1460, timestamps=ts) if flags & SYN else build_tcp_options(
        timestamps=ts)  # fmt: skip
    return build_ipv4_tcp(SERVER_ADDR, CLIENT_ADDR, 1, 64, 80, 40000, seq & 0xFFFFFFFF, ack,
                          flags, 65535, opts, b"")  # fmt: skip


def _flush(e: StackEngine, now: float) -> list[TcpSegment]:
    return [parse_packet(p) for _i, p in e.packets_to_send(now)]


def _stack_in_time_wait() -> tuple[StackEngine, int]:
    """The stack accepted a connection from the peer, closed first, and holds TIME-WAIT;
    returns the engine and its old SND.NXT."""
    e = StackEngine(TS, secret=bytes(16), now=0.0)
    ifx = e.add_interface(CLIENT_ADDR, 24, 1500)
    lst = e.tcp_listen(CLIENT_ADDR, 40000, 8)
    e.receive(_packet(RCV - 1, 0, SYN, (PEER_TS, 0)), ifx, 0.0)
    (synack,) = _flush(e, 0.0)
    e.receive(_packet(RCV, synack.seq + 1, ACK, (PEER_TS, synack.ts_val or 0)), ifx, 0.01)
    conn = lst.accept()
    assert conn is not None
    conn.close(0.02)
    e.notify(conn, 0.02)
    (fin,) = _flush(e, 0.02)
    e.receive(_packet(RCV, fin.seq + 1, FIN | ACK, (PEER_TS, fin.ts_val or 0)), ifx, 0.03)
    _flush(e, 0.03)
    assert conn.state is TcpState.TIME_WAIT
    return e, fin.seq + 1


class TestStackReopening:
    def test_newer_timestamp_reopens_even_with_an_old_isn(self) -> None:
        # RFC 6191 2: the timestamp decides; Linux reconnects with a lower ISN often
        e, old_nxt = _stack_in_time_wait()
        e.receive(_packet(RCV - 50_000, 0, SYN, (PEER_TS + 1, 0)), 1, 0.04)
        (synack,) = _flush(e, 0.04)
        assert synack.flags == SYN | ACK and synack.ack == (RCV - 50_000 + 1) & 0xFFFFFFFF
        assert synack.seq == (old_nxt + 65535 + 2) & 0xFFFFFFFF
        # the TIME-WAIT entry made way for the new handshake (a SYN-queue record)
        assert list(e.time_wait_keys()) == [] and e.connections() == []

    @pytest.mark.parametrize("flags", [SYN | ACK, SYN | RST, 0], ids=["SYN|ACK", "SYN|RST", "none"])
    def test_other_segments_do_not_reopen(self, flags: int) -> None:
        e, _old_nxt = _stack_in_time_wait()
        e.receive(_packet(RCV + 50_000, UNA, flags, (PEER_TS + 1, 0)), 1, 0.04)
        out = _flush(e, 0.04)
        assert not any(s.flags & SYN for s in out)
        assert len(list(e.time_wait_keys())) == 1 and e.connections() == []
