"""The Internet checksum (RFC 1071) and the TCP/UDP pseudo-header sum.

Theory of operation
-------------------
The 16-bit ones' complement sum of a buffer is independent of where the carries
are folded (RFC 1071 section 2), so the sum may be computed on wider words and
folded at the end. Two implementations give identical results:

* the compiled ``aionetstack._accel.ones_sum`` adds 32-bit words into a 64-bit
  accumulator and folds once (vectorised by the C compiler);
* the pure-Python fallback reads the whole buffer as one big integer: since
  ``2**16 == 1 (mod 0xFFFF)``, the big integer modulo 0xFFFF equals the sum of
  its 16-bit words modulo 0xFFFF, which is the ones' complement sum except for
  the 0 / 0xFFFF ambiguity. A ones' complement sum of words that are not all
  zero is never 0, so the residue 0 is reported as 0xFFFF unless the input was
  all zero. An odd trailing byte is padded with a zero octet (RFC 1071 4.1),
  i.e. the integer is shifted left by 8 bits.

``ones_sum`` returns the folded sum (not complemented) so that partial sums
chain: ``ones_sum(b, ones_sum(a))`` is the sum of ``a + b`` when ``len(a)`` is
even. ``internet_checksum`` complements it. A packet whose checksum field is
correct yields ``internet_checksum(packet, pseudo) == 0``.

``initial`` need not be folded: any int in [0, 2**64) is accepted. Ones'
complement addition is addition modulo 0xFFFF (0xFFFF standing for a non-zero
multiple), so header fields may be added as plain ints, 32-bit ones whole:
``src + dst + proto + length`` is a valid pseudo-header ``initial``.
"""

from __future__ import annotations

from typing import Final, TypeAlias

from aionetstack.wire._loader import load_accel

__all__ = [
    "ACCELERATED",
    "BytesLike",
    "internet_checksum",
    "ones_sum",
    "pseudo_header_sum",
    "pseudo_header_sum6",
    "pure_ones_sum",
]

BytesLike: TypeAlias = bytes | bytearray | memoryview

_from_bytes = int.from_bytes
_FOLD_THRESHOLD_BITS = 8 * 8192  # above this, fold by halves before the final modulo


def pure_ones_sum(data: BytesLike, initial: int = 0) -> int:
    """Folded 16-bit ones' complement sum of ``data`` plus ``initial`` (pure Python)."""
    total = _from_bytes(data, "big")
    if len(data) & 1:
        total <<= 8  # RFC 1071 4.1: pad an odd byte with a zero octet
    total += initial
    if total == 0:
        return 0
    n = total.bit_length()
    # Large buffers: halve the integer repeatedly (hi + lo keeps the residue,
    # since the split is on a 16-bit boundary); cheaper than one long division.
    while n > _FOLD_THRESHOLD_BITS:
        k = ((n >> 1) + 15) & ~15
        total = (total >> k) + (total & ((1 << k) - 1))
        n = total.bit_length()
    r = total % 0xFFFF
    return r if r else 0xFFFF


_accel = load_accel()

ACCELERATED: Final[bool] = _accel is not None

ones_sum = pure_ones_sum
if _accel is not None:
    ones_sum = _accel.ones_sum


def internet_checksum(data: BytesLike, initial: int = 0) -> int:
    """RFC 1071 checksum: the complement of the folded ones' complement sum."""
    return ~ones_sum(data, initial) & 0xFFFF


def pseudo_header_sum(src: int, dst: int, protocol: int, length: int) -> int:
    """Folded sum of the IPv4 pseudo-header (RFC 9293 3.1, RFC 768), for ``initial``."""
    s = (src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF) + protocol + length
    s = (s & 0xFFFF) + (s >> 16)
    return (s & 0xFFFF) + (s >> 16)


def pseudo_header_sum6(src: int, dst: int, protocol: int, length: int) -> int:
    """Folded sum of the IPv6 pseudo-header (RFC 8200 8.1), for ``initial``; never 0.

    ``src``/``dst`` are 128-bit ints. Since 2**16 == 1 (mod 0xFFFF), the sum of
    the eight 16-bit words of an address is congruent to the address itself, so
    one modulo folds both (the result is in [1, 0xFFFF], below any ``initial``
    limit). The 32-bit upper-layer length and the zero-padded Next Header are
    added whole.
    """
    return (src + dst + protocol + length) % 0xFFFF or 0xFFFF
