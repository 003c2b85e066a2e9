"""Whole stack engines as simulator endpoints (StackEndpoint)."""

from __future__ import annotations

import random
from typing import Any

from aionetstack.core.config import StackConfig
from aionetstack.core.sim import SimLink, Simulator, StackEndpoint
from aionetstack.core.stack import StackEngine
from aionetstack.wire.tcp import TcpSegment

A = 0xC6120001
B = 0xC6120002


def test_two_stacks_transfer_over_lossy_link() -> None:
    sim = Simulator(seed=11)
    ea = StackEngine(StackConfig(), secret=bytes(16), now=0.0)
    eb = StackEngine(StackConfig(), secret=bytes(range(16)), now=0.0)
    ia = ea.add_interface(A, 24, 1500)
    ib = eb.add_interface(B, 24, 1500)
    pa = StackEndpoint(sim, "a", ea, ia)
    pb = StackEndpoint(sim, "b", eb, ib)
    sim.join(pa, pb, SimLink(delay=0.005, loss=0.05))
    listener = eb.tcp_listen(B, 80, 16)
    conn = ea.tcp_connect(B, 80, now=0.0)
    data = random.Random(11).randbytes(200_000)
    conn.send(data, 0.0)
    conn.shutdown(0.0)
    ea.notify(conn, 0.0)
    received = bytearray()
    server = None
    for _ in range(200_000):
        if not sim.step():
            break
        if server is None:
            server = listener.accept()
        if server is not None:
            received += server.read()
            eb.notify(server, sim.now)
            if server.eof_received and len(received) == len(data):
                break
    assert server is not None
    assert bytes(received) == data


# --- TIME-WAIT: a new SYN for the same 4-tuple (RFC 6191, RFC 9293 3.10.7.4) ---------


def _peer_packet(seq: int, ack: int, flags: int, ts: tuple[int, int], **opts: object) -> bytes:
    from aionetstack.wire.tcp import build_ipv4_tcp, build_tcp_options

    options = build_tcp_options(timestamps=ts, **opts)  # type: ignore[arg-type]
    return build_ipv4_tcp(A, B, 1, 64, 40000, 80, seq, ack, flags, 0xFFFF, options, b"")


def _flush(e: Any, now: float) -> list[TcpSegment]:
    from aionetstack.core.sim import parse_packet

    return [parse_packet(p) for _i, p in e.packets_to_send(now)]


class TestTimeWaitSyn:
    """The stack holds TIME-WAIT (it closed first); Linux reconnects from the same port."""

    def _time_wait(self) -> tuple[Any, Any, Any, int]:
        from aionetstack.core.tcp.states import TcpState
        from aionetstack.wire.tcp import ACK, FIN, SYN

        e = StackEngine(StackConfig(), secret=bytes(16), now=0.0)
        ifx = e.add_interface(B, 24, 1500)
        lst = e.tcp_listen(B, 80, 8)
        e.receive(_peer_packet(1000, 0, SYN, (100, 0), mss=1460, sack_permitted=True,
                               wscale=7), ifx, 0.0)  # fmt: skip
        (synack,) = _flush(e, 0.0)
        e.receive(_peer_packet(1001, synack.seq + 1, ACK, (100, synack.ts_val)), ifx, 0.001)
        server = lst.accept()
        assert server is not None
        assert server.state is TcpState.ESTABLISHED
        server.close(0.002)
        e.notify(server, 0.002)
        (fin,) = _flush(e, 0.002)
        assert fin.flags & FIN
        # Linux ACKs our FIN and closes too (same ms timestamp)
        e.receive(_peer_packet(1001, fin.seq + 1, ACK | FIN, (101, fin.ts_val)), ifx, 0.003)
        assert server.state is TcpState.TIME_WAIT
        _flush(e, 0.003)
        return e, lst, server, fin.seq + 1

    def test_syn_above_rcv_nxt_same_timestamp_gets_syn_ack(self) -> None:
        from aionetstack.wire.tcp import ACK, SYN

        e, _lst, _server, old_snd_nxt = self._time_wait()
        # 1 ms later: a new SYN, ISN far above RCV.NXT (1002), TSval equal to the last one
        e.receive(_peer_packet(50_000, 0, SYN, (101, 0), mss=1460, sack_permitted=True,
                               wscale=7), 1, 0.004)  # fmt: skip
        out = _flush(e, 0.004)
        assert [s.flags for s in out] == [SYN | ACK], out
        (synack,) = out
        assert synack.ack == 50_001
        assert ((synack.seq - old_snd_nxt) & 0xFFFFFFFF) < 0x80000000
        assert synack.seq != old_snd_nxt

    def test_old_duplicate_syn_is_not_accepted(self) -> None:
        from aionetstack.wire.tcp import SYN

        e, _lst, _server, _old = self._time_wait()
        # RFC 6191 / RFC 7323 5.3: an older timestamp and an old ISN: no reopening
        e.receive(_peer_packet(900, 0, SYN, (99, 0), mss=1460), 1, 0.004)
        out = _flush(e, 0.004)
        assert all(not s.flags & SYN for s in out)
