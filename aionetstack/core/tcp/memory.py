"""The stack-wide TCP memory account (Linux ``tcp_memory_allocated`` / ``tcp_mem``).

Theory of operation
-------------------
Every connection of a stack charges one ``TcpMemory`` with the bytes it holds:
its send queue (unacknowledged and unsent data, the transport's write buffer
included, since the engine queues it), its receive queue not yet read and its
out-of-order store. A connection re-syncs its charge once per
``packets_to_send`` (the stack calls it after every input batch and every
application call), so the sum lags the truth by at most one batch: Linux's
per-socket forward allocation (``sk_forward_alloc``) lags the same way. What
must not lag is charged at once: data appended to a receive queue (the hard
limit is checked against it for the next segment) and data the application
queues with ``send()`` (Linux checks ``sk_wmem_schedule`` in ``tcp_sendmsg``).
A connection reaching CLOSED or TIME-WAIT gives its charge back.

Every queue change is charged where it happens (two integer additions on the
per-segment paths: the receive queue growing, ``read()``, an ACK freeing the
send queue, ``send()``); the out-of-order store, on the slow path, is re-synced
whole. The state (pressure, hard limit, peak) is recomputed at a flush only
when the sum is above ``watch`` (the lower of ``low`` and the peak so far), or
a pressure period or the hard limit is on, so a stack far below its marks pays one comparison
per flush.

Three thresholds in bytes, as Linux's ``net.ipv4.tcp_mem`` (which counts pages):

``low``
    below it a pressure period ends (``sk_leave_memory_pressure``); at or above
    it, send buffers stop growing (``tcp_should_expand_sndbuf``).
``pressure``
    above it a pressure period starts (``tcp_enter_memory_pressure``, counted
    in ``TCPMemoryPressures``): no buffer grows, and a receiver offers at most
    4 segments of new window (``tcp_adjust_rcv_ssthresh``), never moving its
    right edge back (RFC 9293 3.8.6.2.2).
``high``
    above it new memory is refused (``__sk_mem_raise_allocated`` fails): a
    segment whose data would join a non-empty receive queue is dropped
    (``TCPRcvQDrop``, out of order ``TCPOFODrop``), and a send buffer is
    moderated to half of what it queues (``sk_stream_moderate_sndbuf``), so
    the transport pauses its writer.

This module has no clock: nothing here depends on time.
"""

from __future__ import annotations

__all__ = ["TcpMemory"]


class TcpMemory:
    """Bytes held by a stack's connections, the ``tcp_mem`` thresholds and the
    pressure state (see the module docstring)."""

    __slots__ = (
        "allocated",
        "high",
        "low",
        "ofo_drops",
        "over_limit",
        "peak",
        "pressure",
        "pressure_at",
        "pressures",
        "rcvq_drops",
        "sndbuf_moderations",
        "watch",
    )

    def __init__(self, low: int, pressure: int, high: int) -> None:
        if not 0 <= low <= pressure <= high:
            raise ValueError(f"tcp_mem must be low <= pressure <= high, got {low, pressure, high}")
        self.low = low
        self.pressure_at = pressure
        self.high = high
        self.allocated = 0  # bytes charged now (Linux tcp_memory_allocated)
        self.peak = 0  # the highest ``allocated`` seen
        self.watch = 0  # min(low, peak): above it a flush updates the state
        self.pressure = False  # Linux tcp_memory_pressure
        self.over_limit = False  # allocated > high: new memory refused
        # counters (Linux TcpExt names, see TcpMemory.counters)
        self.pressures = 0
        self.rcvq_drops = 0
        self.ofo_drops = 0
        self.sndbuf_moderations = 0

    def charge(self, delta: int) -> None:
        """Add ``delta`` bytes (negative: give back) and update the state
        (Linux ``__sk_mem_raise_allocated`` / ``__sk_mem_reduce_allocated``)."""
        a = self.allocated + delta
        if a < 0:  # a bug elsewhere must not make the account negative
            a = 0
        self.allocated = a
        if a > self.peak:
            self.peak = a
            self.watch = a if a < self.low else self.low
        self.over_limit = a > self.high
        if self.pressure:
            if a < self.low:
                self.pressure = False
        elif a > self.pressure_at:
            self.pressure = True
            self.pressures += 1

    @property
    def soft_limited(self) -> bool:
        """At or above ``low``, or under pressure: buffers do not grow (Linux
        ``tcp_should_expand_sndbuf``)."""
        return self.pressure or self.allocated >= self.low

    def counters(self) -> dict[str, int]:
        """The counters, by their Linux names (``TCPMemoryAllocated`` is the
        gauge ``/proc/net/sockstat`` prints as ``mem``, here in bytes)."""
        return {
            "TCPMemoryPressures": self.pressures,
            "TCPRcvQDrop": self.rcvq_drops,
            "TCPOFODrop": self.ofo_drops,
            "TCPSndbufModerated": self.sndbuf_moderations,
            "TCPMemoryAllocated": self.allocated,
            "TCPMemoryPeak": self.peak,
        }
