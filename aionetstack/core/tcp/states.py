"""TCP connection states (RFC 9293 3.3.2).

Theory of operation
-------------------
The eleven states carry their RFC names; ``str(state)`` gives the RFC spelling
("SYN-SENT", "TIME-WAIT"...). A connection changes state only through
``Tcb._set_state`` (``tcb.py``), which checks the change against
``TRANSITIONS`` below (every legal transition, in one table, as h11's
``_state.py``; an illegal one fails an assertion, so tests catch it) and
records ``(time, old, new, cause)`` in ``TcpConnection.transitions``. The
frozensets group the states the engine tests on hot paths.
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

    # Members are singletons compared by identity (Enum defines no __eq__), so the
    # identity hash is consistent with equality; Enum's own __hash__ is a Python
    # function (hash of the name), paid on every set or dict lookup by state.
    __hash__ = object.__hash__


#: States in which we may still receive data from the peer (no FIN seen yet).
RECEIVING: frozenset[TcpState] = frozenset(
    {TcpState.SYN_RECEIVED, TcpState.ESTABLISHED, TcpState.FIN_WAIT_1, TcpState.FIN_WAIT_2}
)

#: States in which we may still send new data (no FIN queued by the application).
SENDING: frozenset[TcpState] = frozenset(
    {TcpState.SYN_SENT, TcpState.SYN_RECEIVED, TcpState.ESTABLISHED, TcpState.CLOSE_WAIT}
)

_S = TcpState

#: Every legal state change (RFC 9293 3.3.2 figure 5, plus Linux's shortcuts to
#: CLOSED: abort, reset, timeouts, close with unread data). A listener is not a
#: TcpConnection here (core/stack.py), so LISTEN has no transitions.
TRANSITIONS: dict[TcpState, frozenset[TcpState]] = {
    # connect() / accept() from the fresh shell
    _S.CLOSED: frozenset({_S.SYN_SENT, _S.SYN_RECEIVED}),
    _S.LISTEN: frozenset(),
    # SYN-ACK; simultaneous open; RST, timeout, close, abort
    _S.SYN_SENT: frozenset({_S.ESTABLISHED, _S.SYN_RECEIVED, _S.CLOSED}),
    # ACK of our SYN-ACK; FIN with it (RFC 9293 3.10.7.4 eighth check); RST, timeout, abort
    _S.SYN_RECEIVED: frozenset({_S.ESTABLISHED, _S.CLOSE_WAIT, _S.CLOSED}),
    # shutdown; FIN received; RST, timeout, abort, close with unread data
    _S.ESTABLISHED: frozenset({_S.FIN_WAIT_1, _S.CLOSE_WAIT, _S.CLOSED}),
    # our FIN ACKed; FIN first (simultaneous close); FIN + ACK of ours together
    _S.FIN_WAIT_1: frozenset({_S.FIN_WAIT_2, _S.CLOSING, _S.TIME_WAIT, _S.CLOSED}),
    # FIN received; orphan timeout (Linux tcp_fin_timeout), RST, abort
    _S.FIN_WAIT_2: frozenset({_S.TIME_WAIT, _S.CLOSED}),
    # shutdown; RST, timeout, abort
    _S.CLOSE_WAIT: frozenset({_S.LAST_ACK, _S.CLOSED}),
    # our FIN ACKed; RST, timeout, abort
    _S.CLOSING: frozenset({_S.TIME_WAIT, _S.CLOSED}),
    _S.LAST_ACK: frozenset({_S.CLOSED}),
    # 2*MSL expired, abort
    _S.TIME_WAIT: frozenset({_S.CLOSED}),
}
