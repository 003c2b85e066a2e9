"""The connection's named deadlines and the earliest one (RFC 9293 3.8, RFC 6298 5).

Theory of operation
-------------------
A connection has eight timers, each one absolute deadline on the caller's
clock, ``INF`` when it is not running. Starting, moving or stopping a timer is
one attribute store: no heap work, no cancel (the stack's heap re-checks
``get_timer()`` when an entry pops, see ``core/stack.py``).
``TcpConnection.get_timer()`` is the earliest of them (computed there: it runs
after every call into a connection). What happens when a deadline passes is
``timeouts.py``'s.
"""

from __future__ import annotations

__all__ = ["INF", "Timers"]

INF = float("inf")


class Timers:
    """The seven deadlines of one connection (seconds, ``INF`` when idle)."""

    __slots__ = ("delack", "keepalive", "pace", "persist", "reo", "rtx", "time_wait", "tlp")

    def __init__(self) -> None:
        #: Retransmission timeout (RFC 6298 5), also SYN / SYN-ACK retransmission.
        self.rtx = INF
        #: Tail loss probe timeout, the PTO (RFC 8985 7.2).
        self.tlp = INF
        #: RACK reordering timer (RFC 8985 6.3).
        self.reo = INF
        #: Delayed ACK (RFC 1122 4.2.3.2, RFC 5681 4.2).
        self.delack = INF
        #: Zero-window probe (RFC 9293 3.8.6.1), also the sender-SWS override.
        self.persist = INF
        #: Keepalive (RFC 1122 4.2.3.6).
        self.keepalive = INF
        #: TIME-WAIT 2*MSL (RFC 9293 3.10.7.4), or the orphaned FIN-WAIT-2 timeout.
        self.time_wait = INF
        #: Pacing: when the next paced segment may leave (Linux EDT, tcp_pacing_check).
        self.pace = INF

    def stop_for_time_wait(self, deadline: float) -> None:
        """RFC 9293 3.10.7.4: in TIME-WAIT only the 2*MSL timer runs."""
        self.rtx = self.persist = self.keepalive = INF
        self.delack = self.tlp = self.reo = self.pace = INF
        self.time_wait = deadline

    def stop_all(self) -> None:
        """CLOSED: nothing runs."""
        self.rtx = self.persist = self.keepalive = INF
        self.delack = self.time_wait = self.tlp = self.reo = self.pace = INF

    def __repr__(self) -> str:
        running = {k: getattr(self, k) for k in self.__slots__ if getattr(self, k) != INF}
        return f"<Timers {running}>"
