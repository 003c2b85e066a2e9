"""TCP sequence-number arithmetic modulo 2**32 (RFC 9293 section 3.4).

Sequence numbers live on a circle of 2**32 values. ``a < b`` means that ``b``
lies less than half the circle ahead of ``a``. ``seq_diff(a, b)`` is Linux's
``(s32)(a - b)`` (include/net/tcp.h ``before()``/``after()``): a signed 32-bit
difference in [-2**31, 2**31), so exactly half way counts as "behind"; RFC 1982
leaves that point undefined. ``seq_lt``/``seq_gt`` are Linux's ``before``/``after``
(both hold at the half-way point, as in Linux). The whole package uses these;
the per-segment paths of the TCP engine may inline ``seq_diff``'s expression.
"""

from __future__ import annotations

__all__ = [
    "SEQ_HALF",
    "SEQ_MOD",
    "seq_add",
    "seq_diff",
    "seq_ge",
    "seq_gt",
    "seq_in_window",
    "seq_le",
    "seq_lt",
    "seq_max",
    "seq_min",
]

SEQ_MOD = 1 << 32
_MASK = 0xFFFFFFFF
#: Half the circle: an offset ``(a - b) & 0xFFFFFFFF`` at or above it puts ``a`` behind ``b``.
SEQ_HALF = _HALF = 1 << 31


def seq_diff(a: int, b: int) -> int:
    """Signed distance ``a - b`` on the sequence circle, in [-2**31, 2**31)
    (Linux ``(s32)(a - b)``)."""
    return ((a - b + _HALF) & _MASK) - _HALF


def seq_add(a: int, n: int) -> int:
    """``a + n`` modulo 2**32 (``n`` may be negative)."""
    return (a + n) & _MASK


def seq_lt(a: int, b: int) -> bool:
    """``a`` precedes ``b`` (RFC 9293 3.4: ``a < b``)."""
    return 0 < ((b - a) & _MASK) <= _HALF


def seq_le(a: int, b: int) -> bool:
    """``a == b`` or ``a`` precedes ``b``."""
    return ((b - a) & _MASK) <= _HALF


def seq_gt(a: int, b: int) -> bool:
    """``a`` follows ``b``."""
    return 0 < ((a - b) & _MASK) <= _HALF


def seq_ge(a: int, b: int) -> bool:
    """``a == b`` or ``a`` follows ``b``."""
    return ((a - b) & _MASK) <= _HALF


def seq_in_window(x: int, start: int, length: int) -> bool:
    """``start <= x < start + length`` on the circle (RFC 9293 3.10.7.4 acceptability).

    ``length`` is in [0, 2**31]; a zero-length window contains nothing.
    """
    return ((x - start) & _MASK) < length


def seq_max(a: int, b: int) -> int:
    """The later of two sequence numbers."""
    return a if ((a - b) & _MASK) <= _HALF else b


def seq_min(a: int, b: int) -> int:
    """The earlier of two sequence numbers."""
    return b if ((a - b) & _MASK) <= _HALF else a
