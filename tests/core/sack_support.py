"""A client with timestamps and SACK negotiated, for the engine tests that need both."""

from __future__ import annotations

from test_tcp_support import CLIENT_ISS, SERVER_ISS, make_client

from aionetstack.core.config import StackConfig
from aionetstack.core.sim import output, segment
from aionetstack.core.tcp.connection import TcpConnection
from aionetstack.core.tcp.states import TcpState
from aionetstack.wire.tcp import ACK, SYN

UNA = CLIENT_ISS + 1
RCV = SERVER_ISS + 1
TS = StackConfig(
    timestamps=True, sack=True, window_scaling=False, recv_buffer=65535,
    congestion_control="newreno",
)  # fmt: skip


def establish_ts(now: float = 0.0, rtt: float = 0.0, window: int = 65535) -> TcpConnection:
    """A client in ESTABLISHED with timestamps and SACK; its SYN-ACK came ``rtt``
    after the SYN (so SRTT = ``rtt``, or the 1 ms clock granularity for 0)."""
    c = make_client(TS, now)
    output(c, now)
    synack = segment(seq=SERVER_ISS, ack=UNA, flags=SYN | ACK, mss=1460, window=window,
                     sack_permitted=True, ts_val=1, ts_ecr=c._ts_val(now))  # fmt: skip
    c.receive(synack, now + rtt)
    assert [s.flags for s in output(c, now + rtt)] == [ACK]
    assert c.state is TcpState.ESTABLISHED and c.ts_ok and c.sack_ok
    return c
