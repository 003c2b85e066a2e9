"""The state factories of tcp_support.py reach their states through real segments."""

from __future__ import annotations

import pytest
from tcp_support import (
    CLIENT_ADDR,
    PLAIN,
    RCV,
    SERVER_ADDR,
    SERVER_ISS,
    UNA,
    output,
    segment,
    tcp_close_wait,
    tcp_closed,
    tcp_closing,
    tcp_established,
    tcp_fin_wait_1,
    tcp_fin_wait_2,
    tcp_last_ack,
    tcp_listen,
    tcp_syn_received,
    tcp_syn_sent,
    tcp_time_wait,
)

from aionetstack.core.config import StackConfig
from aionetstack.core.sim import parse_packet
from aionetstack.core.tcp.connection import TcpConnection
from aionetstack.core.tcp.states import TcpState
from aionetstack.wire.tcp import ACK, FIN, SYN, build_ipv4_tcp, build_tcp_options

FACTORIES = [
    (tcp_closed, TcpState.CLOSED),
    (tcp_syn_sent, TcpState.SYN_SENT),
    (tcp_syn_received, TcpState.SYN_RECEIVED),
    (tcp_established, TcpState.ESTABLISHED),
    (tcp_fin_wait_1, TcpState.FIN_WAIT_1),
    (tcp_fin_wait_2, TcpState.FIN_WAIT_2),
    (tcp_close_wait, TcpState.CLOSE_WAIT),
    (tcp_closing, TcpState.CLOSING),
    (tcp_last_ack, TcpState.LAST_ACK),
    (tcp_time_wait, TcpState.TIME_WAIT),
]


@pytest.mark.parametrize("config", [PLAIN, StackConfig()], ids=["plain", "all-options"])
@pytest.mark.parametrize(("factory", "state"), FACTORIES, ids=lambda x: getattr(x, "__name__", ""))
def test_factory_reaches_state_quietly(factory: object, state: TcpState,
                                       config: StackConfig) -> None:  # fmt: skip
    c: TcpConnection = factory(config, now=3.0)  # type: ignore[operator]
    assert c.state is state
    assert c.transitions[-1][0] == 3.0  # explicit time
    assert output(c, 3.0) == []
    assert c.next_event() is None


def test_listen_factory_answers_a_syn() -> None:
    engine, listener = tcp_listen()
    syn = build_ipv4_tcp(SERVER_ADDR, CLIENT_ADDR, 1, 64, 80, 40000, SERVER_ISS, 0, SYN, 65535,
                         build_tcp_options(mss=1460), b"")  # fmt: skip
    engine.receive(syn, 0, 0.0)
    (synack,) = [parse_packet(p) for _i, p in engine.packets_to_send(0.0)]
    assert synack.flags == SYN | ACK and synack.ack == SERVER_ISS + 1
    assert len(listener.syn_queue) == 1


@pytest.mark.parametrize("factory", [tcp_closing, tcp_last_ack])
def test_fin_states_end_on_the_ack_of_our_fin(factory: object) -> None:
    c: TcpConnection = factory(now=0.0)  # type: ignore[operator]
    c.receive(segment(seq=RCV + 1, ack=UNA + 1, flags=ACK), 0.5)
    assert c.state in (TcpState.TIME_WAIT, TcpState.CLOSED)
    assert not [s for s in output(c, 0.5) if s.flags & FIN]
