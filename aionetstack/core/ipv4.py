"""IPv4 input checks, fragment reassembly and output fragmentation.

Theory of operation
-------------------
*Input* (RFC 791 3.1, RFC 1122 3.2.1, RFC 1812 5.2.2): the stack reads the fixed
20-byte header once with ``HEADER.unpack_from`` (a bounds-checked view: after
the length checks below no field access can fail) and validates, in order,
length >= 20, version 4, 5 <= IHL and IHL*4 <= length, IHL*4 <= total length
<= buffer length (link padding beyond the total length is ignored), the header
checksum, TTL > 0. Each failure is counted by reason and dropped by the stack
(see ``stack.py``); this module holds the reusable pieces.

*Reassembly* (RFC 791 3.2, RFC 815, RFC 1122 3.3.2, RFC 5722 in spirit): a
datagram is keyed by (src, dst, protocol, ident). Its fragments are kept sorted
by offset; a fragment that overlaps another (other than an exact duplicate,
which is ignored: RFC 5722 erratum 3089) discards the whole datagram, as does a
fragment past the end announced by the last one or a datagram growing beyond
65535 bytes. The datagram is complete when the last fragment (MF=0) is known
and the received bytes add up to its end (with no overlaps that means no
holes). Each datagram lives ``timeout`` seconds from its first fragment
(RFC 1122 3.3.2, Linux ipfrag_time); since the timeout is fixed, datagrams
expire in creation order and one insertion-ordered dict is the whole timer
queue. Memory (fragment bytes plus a fixed per-fragment overhead) is capped:
when over the cap, the oldest datagrams are evicted first (O(1) each: the
dict's first entry is the oldest). A datagram may hold at most
``MAX_FRAGMENTS`` fragments (like FreeBSD net.inet.ip.maxfragsperpacket; 64
as Linux's ipfrag_max_dist default): one more discards it (``TOO_MANY``),
so the per-fragment linear scan and list insert stay bounded, and the highest
end seen is kept as a running maximum rather than recomputed.

*Fragmentation* (RFC 791 3.2 "fragmentation procedure"): a datagram larger
than the MTU is cut into pieces whose data length is a multiple of 8, the same
ident, MF on all but the last, DF clear. TCP never needs it (it sizes segments
by the MSS and sets DF); UDP and ICMP do.
"""

from __future__ import annotations

import struct

from aionetstack.wire.ipv4 import build_ipv4_header

# version/IHL, TOS, total length, ident, flags/fragment offset, TTL, protocol,
# header checksum, source, destination (RFC 791 3.1).
HEADER = struct.Struct("!BBHHHBBHII")
FLAG_DF = 0x4000
FLAG_MF = 0x2000
OFFSET_MASK = 0x1FFF
MAX_DATAGRAM = 65535
FRAGMENT_OVERHEAD = 64  # bytes charged per held fragment besides its data (bookkeeping)
MAX_FRAGMENTS = 64  # fragments held per datagram (FreeBSD maxfragsperpacket-style bound)


class _Datagram:
    __slots__ = (
        "deadline",
        "end",
        "first_packet",
        "frags",
        "key",
        "max_end",
        "memory",
        "received",
    )

    def __init__(self, key: tuple[int, int, int, int], deadline: float) -> None:
        self.key = key
        self.deadline = deadline
        self.frags: list[tuple[int, bytes]] = []  # (offset, data), sorted by offset
        self.end: int | None = None  # data length, known once the last fragment arrived
        self.received = 0
        self.max_end = 0  # highest fragment end held (running max)
        self.memory = 0
        self.first_packet: bytes | None = None  # header + first bytes of fragment 0 (for ICMP)


class ReassemblyResult:
    """A reassembled datagram: the header of fragment 0 and the whole payload."""

    __slots__ = ("first_packet", "payload")

    def __init__(self, first_packet: bytes, payload: bytes) -> None:
        self.first_packet = first_packet
        self.payload = payload


# Outcomes of Reassembler.add besides a completed datagram.
PENDING = "pending"
DUPLICATE = "duplicate"
OVERLAP = "overlap"
BAD = "bad"
TOO_MANY = "too_many"  # more than MAX_FRAGMENTS fragments: the datagram was discarded


class Reassembler:
    """Fragment queues of one stack. The caller counts outcomes in its stats."""

    __slots__ = ("_datagrams", "memory", "memory_cap", "timeout")

    def __init__(self, timeout: float, memory_cap: int) -> None:
        self.timeout = timeout
        self.memory_cap = memory_cap
        self.memory = 0
        self._datagrams: dict[tuple[int, int, int, int], _Datagram] = {}

    def __len__(self) -> int:
        return len(self._datagrams)

    def add(
        self,
        key: tuple[int, int, int, int],
        offset: int,
        more: bool,
        data: bytes | memoryview,
        packet_head: bytes | memoryview,
        now: float,
    ) -> ReassemblyResult | str | list[bytes]:
        """Add one fragment.

        Returns a ``ReassemblyResult`` when the datagram completes, one of the
        strings ``PENDING``/``DUPLICATE``/``OVERLAP``/``BAD``/``TOO_MANY`` otherwise. A
        ``list`` return means the memory cap evicted that many datagrams
        (each item is the fragment-0 head of one, or b"" when unknown).
        ``packet_head`` is the fragment's IPv4 header followed by its payload
        (only its first bytes are kept, for an ICMP time exceeded quote).
        """
        length = len(data)
        end = offset + length
        if more and (length == 0 or length % 8):
            return BAD  # RFC 791: every fragment but the last carries 8*n bytes
        dgram = self._datagrams.get(key)
        if dgram is None:
            dgram = _Datagram(key, now + self.timeout)
            self._datagrams[key] = dgram
        frags = dgram.frags
        if dgram.end is not None and (end > dgram.end or (not more and end != dgram.end)):
            self._discard(dgram)
            return OVERLAP
        if not more:
            if end < dgram.max_end:
                self._discard(dgram)
                return OVERLAP
            dgram.end = end
        # Find the insertion point (few fragments: a linear scan from the end).
        i = len(frags)
        while i > 0 and frags[i - 1][0] > offset:
            i -= 1
        if i > 0:
            prev_off, prev_data = frags[i - 1]
            prev_end = prev_off + len(prev_data)
            if prev_off == offset and prev_end == end:
                return DUPLICATE
            if prev_end > offset:
                self._discard(dgram)
                return OVERLAP
        if i < len(frags) and frags[i][0] < end:
            self._discard(dgram)
            return OVERLAP
        if len(frags) >= MAX_FRAGMENTS:
            # bounded work per datagram (FreeBSD ip_reass maxfragsperpacket)
            self._discard(dgram)
            return TOO_MANY
        chunk = bytes(data)
        frags.insert(i, (offset, chunk))
        if end > dgram.max_end:
            dgram.max_end = end
        cost = length + FRAGMENT_OVERHEAD
        dgram.memory += cost
        self.memory += cost
        dgram.received += length
        if offset == 0:
            dgram.first_packet = bytes(packet_head[: len(packet_head) - length + min(length, 8)])
        if dgram.end is not None and dgram.received == dgram.end:
            self._discard(dgram)
            first = dgram.first_packet
            assert first is not None  # offset 0 present: coverage is complete
            payload = frags[0][1] if len(frags) == 1 else b"".join(d for _, d in frags)
            return ReassemblyResult(first, payload)
        if self.memory > self.memory_cap:
            return self._evict(dgram)
        return PENDING

    def _discard(self, dgram: _Datagram) -> None:
        if self._datagrams.pop(dgram.key, None) is not None:
            self.memory -= dgram.memory

    def _evict(self, current: _Datagram) -> list[bytes]:
        """Drop the oldest datagrams until under the cap (the current one last)."""
        evicted: list[bytes] = []
        # Oldest first via the dict's insertion order, stopping as soon as
        # enough is freed: O(evicted) per add, not a copy of every datagram
        # (like expire()). Victims are collected, then dropped (no mutation
        # while iterating); the current datagram is skipped and goes last.
        need = self.memory - self.memory_cap
        victims: list[_Datagram] = []
        for dgram in self._datagrams.values():
            if need <= 0:
                break
            if dgram is current:
                continue
            victims.append(dgram)
            need -= dgram.memory
        for dgram in victims:
            self._discard(dgram)
            evicted.append(b"")
        if self.memory > self.memory_cap:
            self._discard(current)
            evicted.append(b"")
        return evicted

    def get_timer(self) -> float | None:
        for dgram in self._datagrams.values():
            return dgram.deadline
        return None

    def expire(self, now: float) -> list[bytes | None]:
        """Drop every datagram whose time is up; return their fragment-0 heads (or None)."""
        expired: list[bytes | None] = []
        datagrams = self._datagrams
        while datagrams:
            dgram = next(iter(datagrams.values()))
            if dgram.deadline > now:
                break
            self._discard(dgram)
            expired.append(dgram.first_packet)
        return expired


def fragment(
    src: int,
    dst: int,
    protocol: int,
    payload: bytes | memoryview,
    *,
    ident: int,
    ttl: int,
    mtu: int,
    tos: int = 0,
) -> list[bytes]:
    """Whole IPv4 packets carrying ``payload``: one if it fits in ``mtu``, else fragments.

    RFC 791 3.2: fragment data lengths are multiples of 8; DF is clear (the
    caller chose to allow fragmentation). Raises ValueError if the datagram
    exceeds 65535 bytes (the caller turns that into EMSGSIZE).
    """
    total = 20 + len(payload)
    if total > MAX_DATAGRAM:
        raise ValueError(f"datagram too large: {total} bytes")
    if total <= mtu:
        return [
            build_ipv4_header(
                src, dst, protocol, len(payload), ident=ident, ttl=ttl, df=False, tos=tos
            )
            + bytes(payload)
        ]
    step = (mtu - 20) & ~7
    if step <= 0:
        raise ValueError(f"MTU too small to fragment: {mtu}")
    view = memoryview(payload)
    packets: list[bytes] = []
    for offset in range(0, len(view), step):
        chunk = view[offset : offset + step]
        more = offset + step < len(view)
        header = build_ipv4_header(
            src,
            dst,
            protocol,
            len(chunk),
            ident=ident,
            ttl=ttl,
            df=False,
            mf=more,
            frag_offset=offset,
            tos=tos,
        )
        packets.append(header + chunk.tobytes())
    return packets
