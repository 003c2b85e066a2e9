"""Ephemeral port selection, RFC 6056 "double-hash" (section 3.3.4, algorithm 4).

Theory of operation
-------------------
Linux's ``__inet_hash_connect`` picks the local port of a connect() as

    offset = F(local_addr, remote_addr, remote_port, K1)      # keyed hash
    index  = G(local_addr, remote_addr, remote_port, K2) % TABLE_LENGTH
    port   = low + (offset + table[index] + i) % count,  i = 0, 1, ...

taking the first port whose 4-tuple is free (not in use and not in TIME-WAIT:
TIME-WAIT connections stay in the stack's demux table, so one membership test
covers both), then advancing ``table[index]`` by ``i + 1`` so the next connect to
the same destination starts after it. Ports toward one destination are thus
sequential-ish (few collisions, RFC 6056 section 3.3.4) while ports toward
different destinations are unpredictable to an off-path attacker (RFC 6056
section 2). F and G are SipHash-2-4 with two keys derived from the stack
secret. The caller supplies the suitability test, so the same allocator serves
TCP (4-tuple in use, port held by a listener) and UDP (local port bound).
Exhaustion raises OSError(EADDRNOTAVAIL), as Linux does.
"""

from __future__ import annotations

import errno
import hashlib
import struct
from collections.abc import Callable

from aionetstack.wire.siphash import siphash24

TABLE_LENGTH = 1024  # RFC 6056 section 3.3.4 suggests a small table; Linux uses 2**16
_KEY_STRUCT = struct.Struct("!IIH")


def derive_key(secret: bytes, purpose: bytes) -> bytes:
    """A 16-byte sub-key of the stack secret, one per purpose (domain separation)."""
    return hashlib.blake2b(secret, digest_size=16, person=purpose[:16]).digest()


class PortAllocator:
    """RFC 6056 algorithm 4 over ``[low, high]``."""

    __slots__ = ("_key_f", "_key_g", "_table", "count", "high", "low")

    def __init__(self, secret: bytes, low: int, high: int) -> None:
        if not 1 <= low <= high <= 65535:
            raise ValueError(f"bad ephemeral port range [{low}, {high}]")
        self.low = low
        self.high = high
        self.count = high - low + 1
        self._key_f = derive_key(secret, b"ans-port-F")
        self._key_g = derive_key(secret, b"ans-port-G")
        self._table = [0] * TABLE_LENGTH

    def in_range(self, port: int) -> bool:
        return self.low <= port <= self.high

    def allocate(
        self,
        local_addr: int,
        remote_addr: int,
        remote_port: int,
        suitable: Callable[[int], bool],
    ) -> int:
        """The first suitable port of the destination's sequence; EADDRNOTAVAIL if none."""
        if local_addr > 0xFFFFFFFF or remote_addr > 0xFFFFFFFF:
            # IPv6 (RFC 6056 3.3.4 over the 128-bit addresses)
            data = b"".join((
                local_addr.to_bytes(16, "big"), remote_addr.to_bytes(16, "big"),
                remote_port.to_bytes(2, "big"),
            ))  # fmt: skip
        else:
            data = _KEY_STRUCT.pack(local_addr, remote_addr, remote_port)
        offset = siphash24(self._key_f, data)
        index = siphash24(self._key_g, data) % TABLE_LENGTH
        table = self._table
        start = offset + table[index]
        count = self.count
        low = self.low
        for i in range(count):
            port = low + (start + i) % count
            if suitable(port):
                table[index] = (table[index] + i + 1) & 0xFFFFFFFF
                return port
        raise OSError(
            errno.EADDRNOTAVAIL, "Cannot assign requested address: ephemeral ports exhausted"
        )
