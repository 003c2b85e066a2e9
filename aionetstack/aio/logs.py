"""What a ``Stack`` logs, through the standard ``logging`` module.

Theory of operation
-------------------
The loggers are ``aionetstack`` and its children, so one
``logging.getLogger("aionetstack").setLevel(...)`` governs them all:

``aionetstack.tcp``
    DEBUG: every trace line of every connection (state changes, from the first
    one, ``CLOSED -> SYN-SENT``, and timer events: retransmissions, probes),
    prefixed with the connection's addresses; and one summary line when a
    connection's transport ends (bytes, segments, retransmissions, RTT, error).
    Nothing is formatted unless the logger is enabled for DEBUG when the
    connection is opened.
``aionetstack.stack``
    WARNING: resource limits hit (a full accept queue, the reassembly memory,
    a full UDP receive queue) and bursts of dropped packets (at least
    ``DROP_BURST`` in one ``CHECK_INTERVAL``), with the reasons counted.
``aionetstack.link``
    WARNING: packets the link could not send (queue full, kernel errors).

The warnings are rate-limited: the counters are compared at most once per
``CHECK_INTERVAL`` (on a packet or timer wakeup: no timer of its own) and a
warning of each kind is emitted at most once per ``WARN_INTERVAL``, saying
how many were held back in between (as Linux's ``net_ratelimit``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from aionetstack.core.tcp.connection import TcpConnection
from aionetstack.wire.addr import int_to_ip, int_to_ip6

__all__ = [
    "CHECK_INTERVAL",
    "DROP_BURST",
    "LINK",
    "STACK",
    "TCP",
    "WARN_INTERVAL",
    "DropWatch",
    "connection_logger",
    "log_summary",
]

TCP = logging.getLogger("aionetstack.tcp")
STACK = logging.getLogger("aionetstack.stack")
LINK = logging.getLogger("aionetstack.link")

CHECK_INTERVAL = 1.0
WARN_INTERVAL = 10.0
DROP_BURST = 50

# Counters that mean a limit of ours was reached (core/stats.py names).
RESOURCE_COUNTERS = ("ListenDrops", "DropReasmMemory", "DropUdpRcvbuf")


def _name(conn: TcpConnection) -> str:
    return (
        f"{_host(conn.local_addr)}:{conn.local_port}>{_host(conn.remote_addr)}:{conn.remote_port}"
    )


def connection_logger(conn: TcpConnection) -> Callable[[str], None] | None:
    """A trace sink logging ``conn``'s lines at DEBUG, or None when disabled."""
    if not TCP.isEnabledFor(logging.DEBUG):
        return None
    name = _name(conn)

    def log(line: str) -> None:
        TCP.debug("%s %s", name, line)

    return log


def log_summary(conn: TcpConnection, error: BaseException | None) -> None:
    """One DEBUG line when a connection's transport ends."""
    if not TCP.isEnabledFor(logging.DEBUG):
        return
    info = conn.tcp_info()
    TCP.debug(
        "%s ended in %s%s: sent %d bytes (%d retransmitted, %d segments), "
        "received %d bytes (%d segments), srtt %.1f ms, cwnd %d",
        _name(conn),
        info.state,
        f" ({error!r})" if error is not None else "",
        info.bytes_sent,
        info.bytes_retrans,
        info.segs_out,
        info.bytes_received,
        info.segs_in,
        info.rtt * 1000.0,
        info.cwnd,
    )


def link_drops(link: object) -> int:
    """Packets the link could not send, as far as it counts them (a memory
    link's ``dropped``, a TUN link's ``tx_dropped`` + ``tx_errors``; an
    impairment's deliberate losses are not failures and not counted)."""
    stats = getattr(link, "stats", None)
    if isinstance(stats, Mapping):
        return int(stats.get("tx_dropped", 0)) + int(stats.get("tx_errors", 0))
    dropped = getattr(link, "dropped", None)
    return dropped if isinstance(dropped, int) else 0


class DropWatch:
    """Compares the counters once per ``CHECK_INTERVAL`` (see the module docstring)."""

    __slots__ = ("_base", "_link", "_link_base", "_suppressed", "_warned", "next_check")

    def __init__(self, link: object) -> None:
        self._link = link
        self.next_check = 0.0  # the driver calls check() when now passes it
        self._base: dict[str, int] = {}
        self._link_base = link_drops(link)
        self._warned: dict[str, float] = {}  # kind -> time of its last warning
        self._suppressed: dict[str, int] = {}

    def check(self, stats: Mapping[str, int], now: float) -> None:
        self.next_check = now + CHECK_INTERVAL
        base = self._base
        deltas: dict[str, int] = {}
        for name, value in stats.items():
            if name.startswith("Drop") or name in RESOURCE_COUNTERS:
                delta = value - base.get(name, 0)
                base[name] = value
                if delta > 0:
                    deltas[name] = delta
        limits = {name: n for name, n in deltas.items() if name in RESOURCE_COUNTERS}
        if limits:
            self._warn(STACK, "limits", now, "resource limits reached: %s", _counts(limits))
        dropped = sum(n for name, n in deltas.items() if name not in RESOURCE_COUNTERS)
        if dropped >= DROP_BURST:
            others = {name: n for name, n in deltas.items() if name not in RESOURCE_COUNTERS}
            self._warn(STACK, "drops", now, "%d packets dropped: %s", dropped, _counts(others))
        link_now = link_drops(self._link)
        lost, self._link_base = link_now - self._link_base, link_now
        if lost > 0:
            self._warn(LINK, "link", now, "%d packets could not be sent on %r", lost, self._link)

    def _warn(self, logger: logging.Logger, kind: str, now: float, msg: str, *args: object) -> None:
        last = self._warned.get(kind)
        if last is not None and now - last < WARN_INTERVAL:
            self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
            return
        self._warned[kind] = now
        held = self._suppressed.pop(kind, 0)
        if held:
            msg += f" ({held} similar warnings suppressed)"
        logger.warning(msg, *args)


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))


def _host(addr: int) -> str:
    """An address for a log line (IPv6 in brackets, RFC 5952 6)."""
    return int_to_ip(addr) if addr <= 0xFFFFFFFF else f"[{int_to_ip6(addr)}]"
