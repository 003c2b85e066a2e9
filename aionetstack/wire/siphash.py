"""SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012).

A keyed 64-bit PRF, used for RFC 6528 initial sequence numbers and RFC 6056
ephemeral ports. The compiled ``aionetstack._accel.siphash24`` is used unless
``AIONETSTACK_PURE_PYTHON=1``; ``pure_siphash24`` is the reference fallback
(same results, checked against the paper's test vectors).
"""

from __future__ import annotations

import struct
from typing import Final

from aionetstack.wire._loader import load_accel
from aionetstack.wire.checksum import BytesLike

__all__ = ["ACCELERATED", "pure_siphash24", "siphash24"]

_M64: Final = 0xFFFFFFFFFFFFFFFF
_KEY = struct.Struct("<QQ")
_WORD = struct.Struct("<Q")


def _sip_rounds(v0: int, v1: int, v2: int, v3: int, rounds: int) -> tuple[int, int, int, int]:
    """``rounds`` SipRounds over the 64-bit state (the paper, section 2)."""
    for _ in range(rounds):
        v0 = (v0 + v1) & _M64
        v1 = ((v1 << 13) | (v1 >> 51)) & _M64
        v1 ^= v0
        v0 = ((v0 << 32) | (v0 >> 32)) & _M64
        v2 = (v2 + v3) & _M64
        v3 = ((v3 << 16) | (v3 >> 48)) & _M64
        v3 ^= v2
        v0 = (v0 + v3) & _M64
        v3 = ((v3 << 21) | (v3 >> 43)) & _M64
        v3 ^= v0
        v2 = (v2 + v1) & _M64
        v1 = ((v1 << 17) | (v1 >> 47)) & _M64
        v1 ^= v2
        v2 = ((v2 << 32) | (v2 >> 32)) & _M64
    return v0, v1, v2, v3


def pure_siphash24(key: BytesLike, data: BytesLike) -> int:
    """SipHash-2-4 of ``data`` under a 16-byte ``key`` (pure Python)."""
    if len(key) != 16:
        raise ValueError("siphash24 key must be 16 bytes")
    k0: int
    k1: int
    k0, k1 = _KEY.unpack(key)
    v0 = k0 ^ 0x736F6D6570736575
    v1 = k1 ^ 0x646F72616E646F6D
    v2 = k0 ^ 0x6C7967656E657261
    v3 = k1 ^ 0x7465646279746573
    n = len(data)
    end = n - (n & 7)
    mv = memoryview(data)
    for i in range(0, end + 8, 8):
        if i < end:
            m = _WORD.unpack_from(mv, i)[0]
        else:
            # Last block: the remaining 0..7 bytes, length mod 256 in the top byte.
            m = int.from_bytes(mv[end:], "little") | ((n & 0xFF) << 56)
        v3 ^= m
        v0, v1, v2, v3 = _sip_rounds(v0, v1, v2, v3, 2)  # c = 2 compression rounds
        v0 ^= m
    v2 ^= 0xFF
    v0, v1, v2, v3 = _sip_rounds(v0, v1, v2, v3, 4)  # d = 4 finalization rounds
    return v0 ^ v1 ^ v2 ^ v3


_accel = load_accel()

ACCELERATED: Final[bool] = _accel is not None

siphash24 = pure_siphash24
if _accel is not None:
    siphash24 = _accel.siphash24
