"""StackEngine: output the application starts after a quiet period uses the call's time.

Issue 9, defect 1. A driver dispatches ready objects (``take_ready``) before it
flushes (``packets_to_send``); output pulled from a connection the application
touched must be built with the time the driver gives, never with the time of
the last input: RFC 7323 4.1 (TSval from the current clock) and RFC 6298 2.4 /
5.1 (the retransmission timer, at least ``rto_min``, runs from the send).
Explicit virtual time: the handshake at t=0, the application acts at t=0.4.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from scapy.layers.inet import IP, TCP  # type: ignore[import-untyped]
from test_stack import B_ADDR, Net

from aionetstack.core.tcp.connection import TcpConnection
from aionetstack.core.tcp.states import TcpState

MASK = 0xFFFFFFFF
T = 0.4  # the application's call, after 400 ms without input


def tsval(packet: bytes) -> int:
    value: int = dict(IP(packet)[TCP].options)["Timestamp"][0]
    return value


def established() -> tuple[Net, TcpConnection, TcpConnection, int]:
    """Client (engine a) and server (engine b) at t=0; the server's SYN-ACK TSval."""
    net = Net()
    lst = net.b.tcp_listen(0, 80, 4)
    client = net.a.tcp_connect(B_ADDR, 80, now=0.0)
    [(_, syn)] = net.a.packets_to_send(0.0)
    net.b.receive(syn, 1, 0.0)
    [(_, synack)] = net.b.packets_to_send(0.0)
    net.a.receive(synack, 1, 0.0)
    net.pump()
    server = lst.accept()
    assert server is not None and server.state is TcpState.ESTABLISHED
    net.drain(server)
    return net, client, server, tsval(synack)


ACTIONS: dict[str, Callable[[TcpConnection, float], None]] = {
    "send": lambda conn, now: conn.send(b"x" * 100, now),
    "shutdown": lambda conn, now: conn.shutdown(now),
    "close": lambda conn, now: conn.close(now),
}


@pytest.mark.parametrize(
    ("action", "peer_fin", "state"),
    [
        ("send", False, TcpState.ESTABLISHED),
        ("shutdown", False, TcpState.FIN_WAIT_1),
        ("close", True, TcpState.LAST_ACK),
        ("shutdown", True, TcpState.LAST_ACK),
    ],
)
def test_application_output_after_idle_uses_the_time_of_the_call(
    action: str, peer_fin: bool, state: TcpState
) -> None:
    net, client, server, synack_tsval = established()
    if peer_fin:
        client.shutdown(0.0)
        net.a.notify(client, 0.0)
        net.pump()
        assert server.state is TcpState.CLOSE_WAIT
    assert net.b.packets_to_send(0.0) == []  # nothing owed: then the quiet period
    ACTIONS[action](server, T)
    net.b.notify(server, T)
    net.b.take_ready(T)  # the driver dispatches first (the output is built here)...
    out = net.b.packets_to_send(T)  # ...then flushes
    assert server.state is state
    [(_, first)] = out
    # RFC 7323 4.1: the TSval is the clock at the call (1 ms ticks)
    assert (tsval(first) - synack_tsval) & MASK == 400
    # RFC 6298 2.4 / 5.1: the retransmission timer runs from the send, >= rto_min
    deadline = net.b.get_timer()
    assert deadline is not None and deadline >= T + server.config.rto_min
    net.b.handle_timer(deadline - 0.001)
    assert net.b.packets_to_send(deadline - 0.001) == []  # not resent early
    net.b.handle_timer(deadline)
    [(_, again)] = net.b.packets_to_send(deadline)
    assert IP(again)[TCP].seq == IP(first)[TCP].seq  # the same segment, on time
    assert (tsval(again) - synack_tsval) & MASK == round(deadline * 1000)
