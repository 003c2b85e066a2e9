"""ICMP helpers: error mapping, the error rate limiter, outgoing pings.

Theory of operation
-------------------
* ``error_for(type, code)`` maps an incoming ICMP error to the errno the
  application sees, like Linux's ``icmp_err_convert`` table (RFC 1122 3.2.2.1:
  the transport gets told; RFC 1122 4.2.3.9 / 4.1.3.3: TCP and UDP decide what
  to do with it). Port unreachable is ConnectionRefusedError(ECONNREFUSED),
  host -> EHOSTUNREACH, net -> ENETUNREACH, protocol -> ENOPROTOOPT,
  fragmentation needed -> EMSGSIZE, administratively prohibited ->
  EHOSTUNREACH (as Linux reports code 13), time exceeded -> EHOSTUNREACH,
  parameter problem -> EPROTO.
* ``TokenBucket`` limits the ICMP errors we *send* (RFC 1812 4.3.2.8, Linux
  ``icmp_ratelimit``/``icmp_msgs_per_sec``/``icmp_msgs_burst``): ``rate`` tokens
  per second up to ``burst``; refilled lazily from ``now`` on each request, so
  it needs no timer.
* ``PingRequest`` is one outgoing echo request (RFC 792). The stack keeps the
  pending ones in a dict keyed by (dest, ident, sequence); a matching echo
  reply (or an ICMP error quoting the request) completes it and the stack
  returns it from ``take_ready()``. The aio layer computes the RTT as
  ``reply_time - sent_time`` and calls ``cancel()`` on timeout.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable

from aionetstack.wire.icmp import (
    DEST_UNREACH,
    FRAG_NEEDED,
    HOST_UNREACH,
    NET_UNREACH,
    PARAMETER_PROBLEM,
    PORT_UNREACH,
    PROTO_UNREACH,
    TIME_EXCEEDED,
)

# RFC 792 / RFC 1812 5.2.7.1 destination unreachable codes beyond the wire ones.
SOURCE_ROUTE_FAILED = 5
NET_UNKNOWN = 6
HOST_UNKNOWN = 7
HOST_ISOLATED = 8
NET_ADMIN_PROHIBITED = 9
HOST_ADMIN_PROHIBITED = 10
NET_UNREACH_TOS = 11
HOST_UNREACH_TOS = 12
ADMIN_PROHIBITED = 13  # RFC 1812 "communication administratively prohibited"
PRECEDENCE_VIOLATION = 14
PRECEDENCE_CUTOFF = 15

# Linux net/ipv4/icmp.c icmp_err_convert[]: code -> (errno, fatal)
_UNREACH_ERRNO: dict[int, int] = {
    NET_UNREACH: errno.ENETUNREACH,
    HOST_UNREACH: errno.EHOSTUNREACH,
    PROTO_UNREACH: errno.ENOPROTOOPT,
    PORT_UNREACH: errno.ECONNREFUSED,
    FRAG_NEEDED: errno.EMSGSIZE,
    SOURCE_ROUTE_FAILED: errno.EOPNOTSUPP,
    NET_UNKNOWN: errno.ENETUNREACH,
    HOST_UNKNOWN: errno.EHOSTDOWN,
    HOST_ISOLATED: errno.ENONET,
    NET_ADMIN_PROHIBITED: errno.ENETUNREACH,
    HOST_ADMIN_PROHIBITED: errno.EHOSTUNREACH,
    NET_UNREACH_TOS: errno.ENETUNREACH,
    HOST_UNREACH_TOS: errno.EHOSTUNREACH,
    ADMIN_PROHIBITED: errno.EHOSTUNREACH,
    PRECEDENCE_VIOLATION: errno.EHOSTUNREACH,
    PRECEDENCE_CUTOFF: errno.EHOSTUNREACH,
}

# Errors Linux treats as "hard" for UDP (__udp4_lib_err: harderr): reported to
# connected sockets. Soft ones (host unreachable from a router...) are also
# reported to a connected UDP socket there; we report every mapped error.
_MESSAGES: dict[int, str] = {
    errno.ECONNREFUSED: "Connection refused (ICMP port unreachable)",
    errno.EHOSTUNREACH: "No route to host (ICMP)",
    errno.ENETUNREACH: "Network is unreachable (ICMP)",
    errno.ENOPROTOOPT: "Protocol not available (ICMP protocol unreachable)",
    errno.EMSGSIZE: "Message too long (ICMP fragmentation needed)",
}


def error_for(icmp_type: int, code: int) -> OSError | None:
    """The OSError an ICMP error means for the socket that caused it (None: ignore)."""
    if icmp_type == DEST_UNREACH:
        err = _UNREACH_ERRNO.get(code)
        if err is None:
            return None
    elif icmp_type == TIME_EXCEEDED:
        err = errno.EHOSTUNREACH
    elif icmp_type == PARAMETER_PROBLEM:  # RFC 792; Linux: EPROTO
        err = errno.EPROTO
    else:  # source quench is ignored (RFC 6633), redirects do not concern hosts here
        return None
    message = _MESSAGES.get(err) or os.strerror(err)
    if err == errno.ECONNREFUSED:
        return ConnectionRefusedError(err, message)
    return OSError(err, message)


# Linux icmpv6_err_convert (tab_unreach): ICMPv6 Destination Unreachable codes
_UNREACH6_ERRNO: dict[int, int] = {
    0: errno.ENETUNREACH,  # no route (Linux: EHOSTUNREACH for a host; as IPv4's net unreachable)
    1: errno.EACCES,  # administratively prohibited
    2: errno.EHOSTUNREACH,  # beyond the scope of the source address
    3: errno.EHOSTUNREACH,  # address unreachable
    4: errno.ECONNREFUSED,  # port unreachable
    5: errno.EACCES,  # source address failed ingress/egress policy
    6: errno.EACCES,  # reject route to destination
}


def error_for6(icmp_type: int, code: int) -> OSError | None:
    """The OSError an ICMPv6 error (RFC 4443 3) means for the socket that caused it
    (Linux icmpv6_err_convert); None: ignore."""
    if icmp_type == 1:  # Destination Unreachable
        err = _UNREACH6_ERRNO.get(code)
        if err is None:
            return None
    elif icmp_type == 2:  # Packet Too Big
        err = errno.EMSGSIZE
    elif icmp_type == 3:  # Time Exceeded
        err = errno.EHOSTUNREACH
    elif icmp_type == 4:  # Parameter Problem
        err = errno.EPROTO
    else:
        return None
    message = _MESSAGES.get(err) or os.strerror(err)
    if err == errno.ECONNREFUSED:
        return ConnectionRefusedError(err, message)
    if err == errno.EACCES:
        return PermissionError(err, message)
    return OSError(err, message)


class TokenBucket:
    """Rate limiter for ICMP errors we send (RFC 1812 4.3.2.8)."""

    __slots__ = ("burst", "last", "rate", "tokens")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.last = now

    def allow(self, now: float) -> bool:
        elapsed = now - self.last
        if elapsed > 0:
            self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
            self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class PingRequest:
    """One outgoing echo request and its outcome (RFC 792 echo / echo reply).

    ``done`` becomes True when a reply (``reply_time``, ``reply_payload``,
    ``reply_ttl``) or an ICMP error quoting the request (``error``) arrives;
    the stack then returns this object from ``take_ready()`` once.
    """

    __slots__ = (
        "_cancel",
        "dest",
        "done",
        "error",
        "ident",
        "payload",
        "reply_payload",
        "reply_time",
        "reply_ttl",
        "sent_time",
        "sequence",
        "source",
    )

    def __init__(
        self,
        dest: int,
        source: int,
        ident: int,
        sequence: int,
        payload: bytes,
        sent_time: float,
        cancel: Callable[[PingRequest], None],
    ) -> None:
        self.dest = dest
        self.source = source
        self.ident = ident
        self.sequence = sequence
        self.payload = payload
        self.sent_time = sent_time
        self.done = False
        self.reply_time: float | None = None
        self.reply_payload: bytes | None = None
        self.reply_ttl: int | None = None
        self.error: OSError | None = None
        self._cancel = cancel

    @property
    def rtt(self) -> float | None:
        if self.reply_time is None:
            return None
        return self.reply_time - self.sent_time

    def cancel(self) -> None:
        """Forget the request (timeout): a late reply is then ignored."""
        self._cancel(self)

    def __repr__(self) -> str:
        return (
            f"PingRequest(dest={self.dest:#010x}, ident={self.ident}, sequence={self.sequence}, "
            f"done={self.done}, rtt={self.rtt}, error={self.error!r})"
        )
