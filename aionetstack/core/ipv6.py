"""IPv6 fragment reassembly (RFC 8200 4.5, RFC 5722, RFC 6946), sans-IO.

Theory of operation
-------------------
The wire codec (``wire.ipv6.parse_ipv6``) has already done the stateless work
on each fragment: bounds, "M set needs a multiple of 8 bytes", "offset plus
length within 65535", "the first fragment holds the whole header chain"
(RFC 7112), each answered there by a ``ParameterProblemError``. What remains is
the state, and it is the IPv4 engine's (``core.ipv4.Reassembler``) with an IPv6
key: the same sorted fragment lists, the same caps (``memory_cap`` bytes with
oldest-first eviction, ``MAX_FRAGMENTS`` per datagram), the same fixed timeout
from the first fragment, the same outcomes (``PENDING``, ``DUPLICATE``,
``OVERLAP``, ``BAD``, ``TOO_MANY``, a list of evicted heads), so a stack counts
both families alike. A datagram is keyed by (source, destination,
identification) (RFC 8200 4.5; the next header is not part of the key, 0 fills
the IPv4 protocol slot). Any overlap abandons the whole datagram silently
(RFC 5722 3, RFC 8200 4.5); exact duplicates are dropped alone (RFC 8200 4.5
allows it, as RFC 5722 erratum 3089 does for IPv4).

An atomic fragment (offset 0, M clear) is a whole packet: it never enters a
queue, and a queue with the same identification is left alone (RFC 6946 4).
Linux counts it as Ip6ReasmReqds and Ip6ReasmOKs (``ipv6_frag_rcv``).

On completion the packet is rebuilt as RFC 8200 4.5 says: the unfragmentable
part of the fragment with offset 0 (IPv6 header and the extension headers before
its Fragment header), whose last Next Header field takes the Fragment header's
Next Header, then the fragmentable data; the Payload Length is recomputed. A
rebuilt payload over 65535 bytes is ``BAD`` (Linux ``ip6_frag_reasm``
out_oversize). The result is a whole packet to hand to ``parse_ipv6`` again.

Counters (Linux /proc/net/snmp6 names), for the stack to keep: every ``add`` is
an Ip6ReasmReqds; a ``Reassembled`` an Ip6ReasmOKs; ``OVERLAP``, ``BAD``,
``TOO_MANY``, each evicted datagram and each expired one an Ip6ReasmFails;
expired ones are also Ip6ReasmTimeout, and those whose first fragment arrived
get an ICMPv6 Time Exceeded code 1 quoting the returned head (RFC 8200 4.5).

*Fragmentation* (RFC 8200 4.5, at the source only: UDP and ICMPv6, never TCP,
which sizes segments by the MSS): ``fragment6`` cuts a payload (upper-layer
header and data, no extension headers) into fragments whose packets fit the
path MTU (>= 1280, RFC 8200 5), data a multiple of 8 but the last, all with
one 32-bit identification. It never makes atomic fragments (RFC 8021).
"""

from __future__ import annotations

from aionetstack.core.ipv4 import BAD, Reassembler, ReassemblyResult
from aionetstack.wire.ipv6 import (
    IPV6_HEADER_LEN,
    IPV6_MIN_MTU,
    PROTO_FRAGMENT,
    Ipv6Header,
    build_fragment_header,
    build_ipv6,
    build_ipv6_header,
)

__all__ = ["IPV6_REASSEMBLY_TIMEOUT", "Reassembled", "Reassembler6", "fragment6"]

IPV6_REASSEMBLY_TIMEOUT = 60.0  # RFC 8200 4.5, Linux net.ipv6.ip6frag_time
IPV6_REASSEMBLY_MEMORY = 4 * 1024 * 1024  # Linux net.ipv6.ip6frag_high_thresh
_MAX_PAYLOAD = 65535


class Reassembled:
    """A whole IPv6 packet rebuilt from its fragments (or an atomic fragment as it came)."""

    __slots__ = ("packet",)

    def __init__(self, packet: bytes) -> None:
        self.packet = packet


def _unfragmentable(head: bytes) -> tuple[int, int]:
    """Offsets of the Fragment header and of the Next Header field naming it.

    ``head`` starts with a fragment that ``parse_ipv6`` accepted, so the
    headers before the Fragment header are in bounds; the loop checks anyway.
    """
    nh, off, nh_off = head[6], IPV6_HEADER_LEN, 6
    while nh != PROTO_FRAGMENT:
        if off + 8 > len(head):
            raise ValueError("no Fragment header in the first fragment")
        nh, nh_off, off = head[off], off, off + ((head[off + 1] + 1) << 3)
    return off, nh_off


class Reassembler6:
    """IPv6 fragment queues of one stack. The caller counts outcomes in its stats."""

    __slots__ = ("_queues",)

    def __init__(
        self,
        timeout: float = IPV6_REASSEMBLY_TIMEOUT,
        memory_cap: int = IPV6_REASSEMBLY_MEMORY,
    ) -> None:
        self._queues = Reassembler(timeout, memory_cap)

    def __len__(self) -> int:
        return len(self._queues)

    @property
    def memory(self) -> int:
        """Bytes held (fragment data plus a fixed overhead per fragment)."""
        return self._queues.memory

    @property
    def memory_cap(self) -> int:
        return self._queues.memory_cap

    @property
    def timeout(self) -> float:
        return self._queues.timeout

    def add(
        self, header: Ipv6Header, packet: bytes | memoryview, now: float
    ) -> Reassembled | str | list[bytes]:
        """Add the fragment ``packet`` whose ``parse_ipv6`` header is ``header``.

        Returns ``Reassembled`` when a packet is whole (at once for an atomic
        fragment), else an outcome of ``core.ipv4.Reassembler.add``.
        """
        if not header.frag_header_offset:
            raise ValueError("not a fragment: the packet has no Fragment header")
        end = header.total_length
        if not (header.mf or header.frag_offset):  # RFC 6946 4: processed in isolation
            return Reassembled(bytes(packet[:end]))
        data = packet[header.header_len : end]
        result = self._queues.add(
            (header.src, header.dst, 0, header.frag_id),
            header.frag_offset,
            header.mf,
            data,
            packet[:end],
            now,
        )
        if not isinstance(result, ReassemblyResult):
            return result
        first = result.first_packet
        frag_off, nh_off = _unfragmentable(first)
        payload_len = frag_off - IPV6_HEADER_LEN + len(result.payload)
        if payload_len > _MAX_PAYLOAD:
            return BAD
        unfrag = bytearray(first[:frag_off])
        unfrag[nh_off] = first[frag_off]  # the Fragment header's Next Header
        unfrag[4:6] = payload_len.to_bytes(2, "big")
        return Reassembled(b"".join((unfrag, result.payload)))

    def get_timer(self) -> float | None:
        return self._queues.get_timer()

    def expire(self, now: float) -> list[bytes | None]:
        """Drop every datagram whose time is up; return the start of each one's
        offset-0 fragment (headers + 8 data bytes, to quote in a Time Exceeded),
        or None when it never arrived (then no ICMPv6 is sent, RFC 8200 4.5)."""
        return self._queues.expire(now)


def fragment6(
    src: int,
    dst: int,
    next_header: int,
    payload: bytes | memoryview,
    *,
    ident: int,
    hop_limit: int,
    mtu: int,
    traffic_class: int = 0,
    flow_label: int = 0,
) -> list[bytes]:
    """Whole IPv6 packets carrying ``payload``: one if it fits in ``mtu``, else fragments.

    Raises ValueError when the payload exceeds 65535 bytes (the caller's
    EMSGSIZE) or ``mtu`` is below the IPv6 minimum of 1280 (RFC 8200 5).
    """
    if len(payload) > 65535:
        raise ValueError(f"datagram too large: {len(payload)} bytes of payload")
    if mtu < IPV6_MIN_MTU:
        raise ValueError(f"IPv6 MTU {mtu} is below {IPV6_MIN_MTU}")
    if IPV6_HEADER_LEN + len(payload) <= mtu:
        return [
            build_ipv6(
                src, dst, next_header, bytes(payload), hop_limit=hop_limit,
                traffic_class=traffic_class, flow_label=flow_label,
            )
        ]  # fmt: skip
    step = (mtu - IPV6_HEADER_LEN - 8) & ~7
    view = memoryview(payload)
    packets: list[bytes] = []
    for offset in range(0, len(view), step):
        chunk = view[offset : offset + step]
        more = offset + step < len(view)
        header = build_ipv6_header(
            src, dst, PROTO_FRAGMENT, 8 + len(chunk), hop_limit=hop_limit,
            traffic_class=traffic_class, flow_label=flow_label,
        )  # fmt: skip
        frag = build_fragment_header(next_header, offset, more, ident)
        packets.append(b"".join((header, frag, chunk)))
    return packets
