"""Test support for the TCP engine tests, in one place (smoltcp ``socket.rs`` style).

Addresses and ports: the connection under test is 198.18.0.1:40000 (``CLIENT_ADDR``),
its scripted peer 198.18.0.2:80 (``SERVER_ADDR``). Our ISS is ``CLIENT_ISS`` and the
peer's ``SERVER_ISS``, whichever side opened, so every factory leaves the same
numbers: SND.UNA = ``UNA`` (1001) and RCV.NXT = ``RCV`` (5001) once synchronized.

* ``segment(...)``: a segment template from the peer (smoltcp's ``send!``);
  ``output(conn, now)``: what ``conn`` sends at ``now``, parsed and checksummed.
* ``events(conn)``: drain ``next_event()``.
* One factory per RFC 9293 state, each built by driving real segments through
  ``TcpConnection`` (connect/accept/receive) at an explicit ``now``:
  ``tcp_closed``, ``tcp_listen`` (a ``StackEngine`` listener: the engine itself
  never is in LISTEN), ``tcp_syn_sent``, ``tcp_syn_received``, ``tcp_established``,
  ``tcp_fin_wait_1``, ``tcp_fin_wait_2``, ``tcp_close_wait``, ``tcp_closing``,
  ``tcp_last_ack``, ``tcp_time_wait``. Each drains the events and the output of
  its set-up, so a test starts from a quiet connection.

Only the public interface of ``TcpConnection`` and ``StackEngine`` is used here
(docs/INTERNALS.md): the engine's insides may be reshaped without touching tests.
"""

from __future__ import annotations

from aionetstack.core.config import StackConfig
from aionetstack.core.listener import TcpListener
from aionetstack.core.sim import parse_packet
from aionetstack.core.stack import StackEngine
from aionetstack.core.tcp.connection import TcpConnection
from aionetstack.core.tcp.events import TcpEvent
from aionetstack.core.tcp.states import TcpState
from aionetstack.wire.tcp import ACK, FIN, RST, SYN, TcpSegment

__all__ = [
    "CLIENT_ADDR",
    "CLIENT_ISS",
    "PEER_TS",
    "PLAIN",
    "RCV",
    "SACK",
    "SERVER_ADDR",
    "SERVER_ISS",
    "UNA",
    "ack",
    "establish_client",
    "events",
    "make_client",
    "output",
    "rx",
    "segment",
    "tcp_close_wait",
    "tcp_closed",
    "tcp_closing",
    "tcp_established",
    "tcp_fin_wait_1",
    "tcp_fin_wait_2",
    "tcp_last_ack",
    "tcp_listen",
    "tcp_syn_received",
    "tcp_syn_sent",
    "tcp_time_wait",
]

CLIENT_ADDR = 0xC6120001  # 198.18.0.1: the connection under test
SERVER_ADDR = 0xC6120002  # 198.18.0.2: the scripted peer
CLIENT_ISS = 1000
SERVER_ISS = 5000
UNA = CLIENT_ISS + 1  # SND.UNA once synchronized (our SYN acknowledged)
RCV = SERVER_ISS + 1  # RCV.NXT once synchronized (the peer's SYN received)
PEER_TS = 777  # the peer's TSval in its SYN / SYN-ACK when timestamps are on

# No timestamps / SACK / window scaling: the plainest segments to script.
# NewReno: the tests script RFC 5681 / 6582 windows exactly (cubic is the default).
PLAIN = StackConfig(
    timestamps=False, sack=False, window_scaling=False, recv_buffer=65535,
    congestion_control="newreno",
)  # fmt: skip
# The same with SACK (RFC 2018) on both sides: the loss-recovery tests' set-up.
SACK = StackConfig(
    timestamps=False, sack=True, window_scaling=False, recv_buffer=65535,
    congestion_control="newreno",
)  # fmt: skip


# ------------------------------------------------------------------ templates


def segment(
    *,
    src_port: int = 80,
    dst_port: int = 40000,
    seq: int = 0,
    ack: int = 0,
    flags: int = ACK,
    window: int = 0xFFFF,
    payload: bytes = b"",
    mss: int | None = None,
    wscale: int | None = None,
    sack_permitted: bool = False,
    sack_blocks: tuple[tuple[int, int], ...] = (),
    ts_val: int | None = None,
    ts_ecr: int | None = None,
) -> TcpSegment:
    """A segment from the peer (smoltcp's ``send!``); sequence numbers wrap mod 2**32."""
    return TcpSegment(
        src_port=src_port, dst_port=dst_port, seq=seq & 0xFFFFFFFF, ack=ack & 0xFFFFFFFF,
        flags=flags, window=window, mss=mss, wscale=wscale, sack_permitted=sack_permitted,
        sack_blocks=sack_blocks, ts_val=ts_val, ts_ecr=ts_ecr, payload=payload,
    )  # fmt: skip


def output(conn: TcpConnection, now: float) -> list[TcpSegment]:
    """``conn.packets_to_send(now)``, parsed (checksums verified)."""
    return [parse_packet(p) for p in conn.packets_to_send(now)]


def ack(a: int, *blocks: tuple[int, int], ts: tuple[int, int] | None = None) -> TcpSegment:
    """A pure ACK from the peer: SEG.ACK ``a``, SACK ``blocks`` (first = most recent),
    ``ts`` = (TSval, TSecr) when timestamps are on."""
    return segment(seq=RCV, ack=a, sack_blocks=tuple(blocks),
                   ts_val=ts[0] if ts else None, ts_ecr=ts[1] if ts else None)  # fmt: skip


def rx(conn: TcpConnection, seg: TcpSegment, now: float) -> list[TcpSegment]:
    """``conn.receive(seg, now)``, then what it sends at ``now``."""
    conn.receive(seg, now)
    return output(conn, now)


def events(conn: TcpConnection) -> list[TcpEvent]:
    """Every event ``conn`` has queued, in order (drains ``next_event()``)."""
    out = []
    while (ev := conn.next_event()) is not None:
        out.append(ev)
    return out


def _from_peer(config: StackConfig, **kw: object) -> TcpSegment:
    """A factory's peer segment: with the peer's TSval when timestamps are on."""
    if config.timestamps:
        kw.setdefault("ts_val", PEER_TS)
        kw.setdefault("ts_ecr", 1)
    return segment(**kw)  # type: ignore[arg-type]


def _quiet(conn: TcpConnection, now: float, state: TcpState) -> TcpConnection:
    """Drain a factory's output and events; check it reached ``state``."""
    output(conn, now)
    events(conn)
    assert conn.state is state, conn.transitions
    return conn


def _send_fin(conn: TcpConnection, now: float, state: TcpState) -> TcpConnection:
    """``shutdown()`` a quiet synchronized connection; its FIN (seq ``UNA``) goes out."""
    conn.shutdown(now)
    (fin,) = output(conn, now)
    assert fin.flags & FIN and fin.seq == UNA
    return _quiet(conn, now, state)


# ------------------------------------------------------------------ factories


def make_client(config: StackConfig = PLAIN, now: float = 0.0) -> TcpConnection:
    """An active open (SYN-SENT); its SYN not yet taken."""
    return TcpConnection.connect(
        config, local_addr=CLIENT_ADDR, local_port=40000, remote_addr=SERVER_ADDR,
        remote_port=80, iss=CLIENT_ISS, mtu=1500, now=now,
    )  # fmt: skip


def establish_client(config: StackConfig = PLAIN, *, window: int = 65535, mss: int = 1460,
                     now: float = 0.0, peer_options: bool = False,
                     rtt: float = 0.0) -> TcpConnection:  # fmt: skip
    """A client in ESTABLISHED; its SYN and ACK have been taken (events left queued).

    The peer's SYN-ACK carries only an MSS unless ``peer_options``: then it also
    offers whatever ``config`` turns on (SACK, window scale 7, timestamps). The
    SYN goes out at ``now - rtt`` and the SYN-ACK arrives at ``now`` (the first
    RTT sample).
    """
    c = make_client(config, now - rtt)
    (syn,) = output(c, now - rtt)
    opts = _peer_syn_options(config, syn) if peer_options else {}
    c.receive(segment(seq=SERVER_ISS, ack=CLIENT_ISS + 1, flags=SYN | ACK, window=window,
                      mss=mss, **opts), now)  # type: ignore[arg-type]  # fmt: skip
    out = output(c, now)
    assert [s.flags for s in out] == [ACK]
    assert c.state is TcpState.ESTABLISHED
    return c


def _peer_syn_options(config: StackConfig, ours: TcpSegment | None) -> dict[str, object]:
    """The options a Linux peer answers with for what ``config`` turns on."""
    opts: dict[str, object] = {}
    if config.sack:
        opts["sack_permitted"] = True
    if config.window_scaling:
        opts["wscale"] = 7
    if config.timestamps:
        opts["ts_val"] = PEER_TS
        opts["ts_ecr"] = ours.ts_val if ours is not None and ours.ts_val is not None else 0
    return opts


def tcp_closed(config: StackConfig = PLAIN, *, now: float = 0.0) -> TcpConnection:
    """CLOSED: an established connection the peer reset (RFC 9293 3.10.7.4)."""
    c = tcp_established(config, now=now)
    c.receive(_from_peer(config, seq=RCV, ack=UNA, flags=RST), now)
    return _quiet(c, now, TcpState.CLOSED)


def tcp_listen(config: StackConfig = PLAIN, *, now: float = 0.0,
               backlog: int = 8) -> tuple[StackEngine, TcpListener]:  # fmt: skip
    """LISTEN: a stack on 198.18.0.1/24 with a listener on port 40000."""
    engine = StackEngine(config, secret=bytes(16), now=now)
    engine.add_interface(CLIENT_ADDR, 24, 1500)
    return engine, engine.tcp_listen(CLIENT_ADDR, 40000, backlog)


def tcp_syn_sent(config: StackConfig = PLAIN, *, now: float = 0.0) -> TcpConnection:
    """SYN-SENT: our SYN (seq ``CLIENT_ISS``) has been sent at ``now``."""
    return _quiet(make_client(config, now), now, TcpState.SYN_SENT)


def tcp_syn_received(config: StackConfig = PLAIN, *, now: float = 0.0, window: int = 65535,
                     mss: int = 1460) -> TcpConnection:  # fmt: skip
    """SYN-RECEIVED: a passive open from the peer's SYN; our SYN-ACK sent at ``now``."""
    syn = segment(seq=SERVER_ISS, ack=0, flags=SYN, window=window, mss=mss,
                  **_peer_syn_options(config, None))  # type: ignore[arg-type]  # fmt: skip
    c = TcpConnection.accept(config, syn, local_addr=CLIENT_ADDR, remote_addr=SERVER_ADDR,
                             iss=CLIENT_ISS, mtu=1500, now=now)  # fmt: skip
    return _quiet(c, now, TcpState.SYN_RECEIVED)


def tcp_established(config: StackConfig = PLAIN, *, now: float = 0.0, window: int = 65535,
                    mss: int = 1460, rtt: float = 0.0) -> TcpConnection:  # fmt: skip
    """ESTABLISHED (active open): SND.UNA = SND.NXT = ``UNA``, RCV.NXT = ``RCV``.

    ``rtt``: the handshake's round trip (SYN at ``now - rtt``), the first RTT sample.
    """
    c = establish_client(config, window=window, mss=mss, now=now, peer_options=True, rtt=rtt)
    return _quiet(c, now, TcpState.ESTABLISHED)


def tcp_fin_wait_1(config: StackConfig = PLAIN, *, now: float = 0.0) -> TcpConnection:
    """FIN-WAIT-1: our FIN (seq ``UNA``) sent at ``now``, not yet acknowledged."""
    return _send_fin(tcp_established(config, now=now), now, TcpState.FIN_WAIT_1)


def tcp_fin_wait_2(config: StackConfig = PLAIN, *, now: float = 0.0) -> TcpConnection:
    """FIN-WAIT-2: our FIN acknowledged (SND.UNA = ``UNA + 1``); the peer's side open."""
    c = tcp_fin_wait_1(config, now=now)
    c.receive(_from_peer(config, seq=RCV, ack=UNA + 1), now)
    return _quiet(c, now, TcpState.FIN_WAIT_2)


def tcp_close_wait(config: StackConfig = PLAIN, *, now: float = 0.0) -> TcpConnection:
    """CLOSE-WAIT: the peer's FIN (seq ``RCV``) received and acknowledged."""
    c = tcp_established(config, now=now)
    c.receive(_from_peer(config, seq=RCV, ack=UNA, flags=FIN | ACK), now)
    return _quiet(c, now, TcpState.CLOSE_WAIT)


def tcp_closing(config: StackConfig = PLAIN, *, now: float = 0.0) -> TcpConnection:
    """CLOSING: simultaneous close; the peer's FIN came before the ACK of ours."""
    c = tcp_fin_wait_1(config, now=now)
    c.receive(_from_peer(config, seq=RCV, ack=UNA, flags=FIN | ACK), now)
    return _quiet(c, now, TcpState.CLOSING)


def tcp_last_ack(config: StackConfig = PLAIN, *, now: float = 0.0) -> TcpConnection:
    """LAST-ACK: CLOSE-WAIT, then our FIN (seq ``UNA``) sent at ``now``."""
    return _send_fin(tcp_close_wait(config, now=now), now, TcpState.LAST_ACK)


def tcp_time_wait(config: StackConfig = PLAIN, *, now: float = 0.0) -> TcpConnection:
    """TIME-WAIT: we closed first; the peer's FIN (seq ``RCV``) acknowledged at ``now``."""
    c = tcp_fin_wait_2(config, now=now)
    c.receive(_from_peer(config, seq=RCV, ack=UNA + 1, flags=FIN | ACK), now)
    return _quiet(c, now, TcpState.TIME_WAIT)


# Timestamps and SACK, NewReno (tests of recovery details script its windows).
TS = StackConfig(
    timestamps=True, sack=True, window_scaling=False, recv_buffer=65535,
    congestion_control="newreno",
)  # fmt: skip


def establish_ts(
    now: float = 0.0, rtt: float = 0.0, window: int = 65535, config: StackConfig = TS
) -> TcpConnection:
    """A client in ESTABLISHED with timestamps and SACK; its SYN-ACK came ``rtt``
    after the SYN (so SRTT = ``rtt``, or the 1 ms clock granularity for 0).
    ``config`` must enable both (TS, with NewReno, by default)."""
    c = make_client(config, now)
    output(c, now)
    synack = segment(seq=SERVER_ISS, ack=UNA, flags=SYN | ACK, mss=1460, window=window,
                     sack_permitted=True, ts_val=1, ts_ecr=c._ts_val(now))  # fmt: skip
    c.receive(synack, now + rtt)
    assert [s.flags for s in output(c, now + rtt)] == [ACK]
    assert c.state is TcpState.ESTABLISHED and c.ts_ok and c.sack_ok
    return c
