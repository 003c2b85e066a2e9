"""TCP connection states (RFC 9293 3.3.2).

Theory of operation
-------------------
The eleven states carry their RFC names; ``str(state)`` gives the RFC spelling
("SYN-SENT", "TIME-WAIT"...). A connection changes state only through
``TcpConnection._set_state``, which records ``(time, old, new, cause)`` in
``TcpConnection.transitions``. The frozensets below group the states the engine
tests on hot paths.
"""

from __future__ import annotations

import enum


class TcpState(enum.Enum):
    """RFC 9293 3.3.2 connection states."""

    CLOSED = "CLOSED"
    LISTEN = "LISTEN"
    SYN_SENT = "SYN-SENT"
    SYN_RECEIVED = "SYN-RECEIVED"
    ESTABLISHED = "ESTABLISHED"
    FIN_WAIT_1 = "FIN-WAIT-1"
    FIN_WAIT_2 = "FIN-WAIT-2"
    CLOSE_WAIT = "CLOSE-WAIT"
    CLOSING = "CLOSING"
    LAST_ACK = "LAST-ACK"
    TIME_WAIT = "TIME-WAIT"

    def __str__(self) -> str:
        return self.value


#: States in which the connection is synchronized (RFC 9293 3.5.2).
SYNCHRONIZED: frozenset[TcpState] = frozenset(
    {
        TcpState.ESTABLISHED,
        TcpState.FIN_WAIT_1,
        TcpState.FIN_WAIT_2,
        TcpState.CLOSE_WAIT,
        TcpState.CLOSING,
        TcpState.LAST_ACK,
        TcpState.TIME_WAIT,
    }
)

#: States in which we may still receive data from the peer (no FIN seen yet).
RECEIVING: frozenset[TcpState] = frozenset(
    {TcpState.SYN_RECEIVED, TcpState.ESTABLISHED, TcpState.FIN_WAIT_1, TcpState.FIN_WAIT_2}
)

#: States in which we may still send new data (no FIN queued by the application).
SENDING: frozenset[TcpState] = frozenset(
    {TcpState.SYN_SENT, TcpState.SYN_RECEIVED, TcpState.ESTABLISHED, TcpState.CLOSE_WAIT}
)
