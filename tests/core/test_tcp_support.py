"""Helpers shared by the TCP engine tests (imported as ``test_tcp_support``).

Addresses and ports: the client is 198.18.0.1:40000, the server 198.18.0.2:80.
Unit tests script segments by hand (smoltcp style) with explicit times.
"""

from __future__ import annotations

from aionetstack.core.config import StackConfig
from aionetstack.core.sim import CLIENT_ADDR, SERVER_ADDR, output, segment
from aionetstack.core.tcp.connection import TcpConnection
from aionetstack.core.tcp.states import TcpState
from aionetstack.wire.tcp import ACK, SYN

CLIENT_ISS = 1000
SERVER_ISS = 5000

# No timestamps / SACK / window scaling: the plainest segments to script.
# NewReno: the tests script RFC 5681 / 6582 windows exactly (cubic is the default).
PLAIN = StackConfig(timestamps=False, sack=False, window_scaling=False, recv_buffer=65535,
                    congestion_control="newreno")  # fmt: skip


def make_client(config: StackConfig = PLAIN, now: float = 0.0) -> TcpConnection:
    return TcpConnection.connect(
        config, local_addr=CLIENT_ADDR, local_port=40000, remote_addr=SERVER_ADDR,
        remote_port=80, iss=CLIENT_ISS, mtu=1500, now=now,
    )  # fmt: skip


def establish_client(config: StackConfig = PLAIN, *, window: int = 65535, mss: int = 1460,
                     now: float = 0.0) -> TcpConnection:  # fmt: skip
    """A client in ESTABLISHED; its SYN and ACK have been taken."""
    c = make_client(config, now)
    output(c, now)
    c.receive(segment(seq=SERVER_ISS, ack=CLIENT_ISS + 1, flags=SYN | ACK, window=window,
                      mss=mss), now)  # fmt: skip
    out = output(c, now)
    assert [s.flags for s in out] == [ACK]
    assert c.state is TcpState.ESTABLISHED
    return c
