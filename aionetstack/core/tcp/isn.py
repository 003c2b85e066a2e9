"""Initial sequence numbers (RFC 6528).

Theory of operation
-------------------
RFC 6528 3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey),
where M is a timer ticking every 4 microseconds and F a keyed pseudo-random
function. As Linux's ``secure_tcp_seq`` does, F is SipHash-2-4 keyed with a
per-stack 128-bit secret. The clock is the caller's ``now`` (the core reads no
clock). The same keyed hash also gives the per-connection timestamp offset
(RFC 7323 7.1, Linux ``secure_tcp_ts_off``) so timestamps don't leak uptime.
"""

from __future__ import annotations

import os
import struct

from aionetstack.wire.siphash import siphash24

_TUPLE = struct.Struct(">IHIH")
_TUPLE_TS = struct.Struct(">IIB")
_MASK = 0xFFFFFFFF


class IsnGenerator:
    """RFC 6528 ISN generator, one per stack."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes | None = None) -> None:
        if secret is None:
            secret = os.urandom(16)
        if len(secret) != 16:
            raise ValueError("ISN secret must be 16 bytes")
        self._secret = secret

    def isn(
        self, local_addr: int, local_port: int, remote_addr: int, remote_port: int, now: float
    ) -> int:
        """The ISN for this 4-tuple at time ``now`` (seconds)."""
        # RFC 6528 3: M is a 4-microsecond timer.
        m = int(now * 250_000)
        f = siphash24(self._secret, _TUPLE.pack(local_addr, local_port, remote_addr, remote_port))
        return (m + f) & _MASK

    def ts_offset(self, local_addr: int, remote_addr: int) -> int:
        """Per address-pair random timestamp offset (RFC 7323 7.1)."""
        return siphash24(self._secret, _TUPLE_TS.pack(local_addr, remote_addr, 0x54)) & _MASK
