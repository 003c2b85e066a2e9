"""The opening and SYN-SENT rules, pinned (RFC 9293 3.10.7.3, 3.10.4; RFC 7323 2.3).

Public interface only (tcp_support factories, the wire, ``tcp_info()``), explicit
times. SYN-RECEIVED's unacceptable-segment rule is in test_tcp_rules_receiver.py.
"""

from __future__ import annotations

import errno

import pytest
from tcp_support import (
    CLIENT_ISS,
    RCV,
    SERVER_ISS,
    UNA,
    events,
    make_client,
    output,
    segment,
    tcp_syn_sent,
)

from aionetstack.core.config import StackConfig
from aionetstack.core.tcp.events import ConnectionClosed
from aionetstack.core.tcp.states import TcpState
from aionetstack.wire.tcp import ACK, RST, SYN


@pytest.mark.parametrize(
    ("buffer", "shift"),
    [(65535, 0), (65536, 1), (131071, 1), (131072, 2), (4 << 20, 7), (1 << 29, 14), (1 << 31, 14)],
)
def test_window_scale_is_the_smallest_shift_for_the_buffer(buffer: int, shift: int) -> None:
    # RFC 7323 2.3: the shift that lets the buffer be advertised, at most 14
    c = make_client(StackConfig(recv_buffer=buffer))
    (syn,) = output(c, 0.0)
    assert syn.wscale == shift


class TestSynSent:
    def test_close_deletes_the_tcb_without_a_segment(self) -> None:
        # RFC 9293 3.10.4 CLOSE in SYN-SENT
        c = tcp_syn_sent(now=1.0)
        c.close(1.1)
        assert c.state is TcpState.CLOSED
        assert output(c, 1.1) == []
        assert c.get_timer() is None
        assert events(c) == [ConnectionClosed(None)]

    def test_rst_in_simultaneous_open_is_refused(self) -> None:
        # RFC 9293 3.10.7.4 second check: SYN-RECEIVED from an active OPEN -> refused
        c = tcp_syn_sent(now=1.0)
        c.receive(segment(seq=SERVER_ISS, ack=0, flags=SYN, mss=1460), 1.01)
        (synack,) = output(c, 1.01)
        assert synack.flags == SYN | ACK and synack.seq == CLIENT_ISS
        assert c.state is TcpState.SYN_RECEIVED
        c.receive(segment(seq=RCV, ack=UNA, flags=RST), 1.02)
        assert c.state is TcpState.CLOSED
        assert isinstance(c.error, ConnectionRefusedError)
        assert c.error.errno == errno.ECONNREFUSED
