"""ICMPv6 codec (RFC 4443; RFC 4861 and RFC 3810 types recognised by number).

Theory of operation
-------------------
Every message starts with type, code and checksum; the checksum covers the
IPv6 pseudo-header (RFC 4443 2.3, RFC 8200 8.1), so ``parse_icmpv6`` and the
builders take the source and destination addresses. The next four bytes are
type specific: identifier and sequence number for echo (RFC 4443 4.1), the MTU
for Packet Too Big (3.2), the pointer for Parameter Problem (3.4), unused for
Destination Unreachable and Time Exceeded.

For the four error types (1-4) the invoking packet quoted after those 8 bytes is
parsed with ``parse_ipv6(quoted=True)``: its fixed header and extension headers
(bounds-checked; the quoted payload length may exceed the quote), then, for TCP
and UDP in a first or unfragmented packet, the ports and (TCP) sequence number
from the first 8 bytes of the upper-layer header, which must be in the quote,
else ``TruncatedError``. Other error types (5-127, unassigned) carry no parsed
quote. Neighbour Discovery (RFC 4861 4) and MLD (RFC 2710, RFC 3810) messages are
recognised by type only (``ND_TYPES``, ``MLD_TYPES``): a layer-3 stack counts
them and answers nothing.

The error builders quote as much of the invoking packet as fits in a
1280-byte error datagram (RFC 4443 2.4(c)) and return the ICMPv6 message only:
wrap it with ``ipv6.build_ipv6(src, dst, PROTO_ICMPV6, msg)``. The stateless
part of whether an error may be sent at all (RFC 4443 2.4(e)) is
``may_send_error``; rate limits (2.4(f)) are the core's.
"""

from __future__ import annotations

import struct
from typing import Final

from aionetstack.wire._record import Record
from aionetstack.wire.checksum import BytesLike, ones_sum, pseudo_header_sum6
from aionetstack.wire.errors import ChecksumError, TruncatedError, WireError
from aionetstack.wire.ipv6 import (
    IPV6_HEADER_LEN,
    IPV6_MIN_MTU,
    PROTO_ICMPV6,
    PROTO_TCP,
    PROTO_UDP,
    Ipv6Header,
    parse_ipv6,
)

__all__ = [
    "ADDR_UNREACH",
    "ADMIN_PROHIBITED",
    "BEYOND_SCOPE",
    "DEST_UNREACH",
    "ECHO_REPLY",
    "ECHO_REQUEST",
    "ERRONEOUS_HEADER",
    "ERROR_TYPES",
    "FIRST_FRAGMENT_INCOMPLETE",
    "FRAG_REASSEMBLY_EXCEEDED",
    "HOP_LIMIT_EXCEEDED",
    "MAX_QUOTE",
    "MLDV2_REPORT",
    "MLD_DONE",
    "MLD_QUERY",
    "MLD_REPORT",
    "MLD_TYPES",
    "ND_TYPES",
    "NEIGHBOR_ADVERT",
    "NEIGHBOR_SOLICIT",
    "NO_ROUTE",
    "PACKET_TOO_BIG",
    "PARAM_PROBLEM",
    "PORT_UNREACH",
    "REDIRECT",
    "REJECT_ROUTE",
    "ROUTER_ADVERT",
    "ROUTER_SOLICIT",
    "SRC_POLICY_FAILED",
    "TIME_EXCEEDED",
    "UNRECOGNIZED_NEXT_HEADER",
    "UNRECOGNIZED_OPTION",
    "Icmpv6Message",
    "QuotedPacket",
    "build_dest_unreachable",
    "build_echo",
    "build_packet_too_big",
    "build_param_problem",
    "build_time_exceeded",
    "may_send_error",
    "parse_icmpv6",
]

# Error types (RFC 4443 2.1: high-order bit of the type clear).
DEST_UNREACH: Final = 1
PACKET_TOO_BIG: Final = 2
TIME_EXCEEDED: Final = 3
PARAM_PROBLEM: Final = 4
# Informational types.
ECHO_REQUEST: Final = 128
ECHO_REPLY: Final = 129
MLD_QUERY: Final = 130  # RFC 2710 3
MLD_REPORT: Final = 131
MLD_DONE: Final = 132
ROUTER_SOLICIT: Final = 133  # RFC 4861 4
ROUTER_ADVERT: Final = 134
NEIGHBOR_SOLICIT: Final = 135
NEIGHBOR_ADVERT: Final = 136
REDIRECT: Final = 137
MLDV2_REPORT: Final = 143  # RFC 3810 5.2

# Destination Unreachable codes (RFC 4443 3.1).
NO_ROUTE: Final = 0
ADMIN_PROHIBITED: Final = 1
BEYOND_SCOPE: Final = 2
ADDR_UNREACH: Final = 3
PORT_UNREACH: Final = 4
SRC_POLICY_FAILED: Final = 5
REJECT_ROUTE: Final = 6
# Time Exceeded codes (RFC 4443 3.3).
HOP_LIMIT_EXCEEDED: Final = 0
FRAG_REASSEMBLY_EXCEEDED: Final = 1
# Parameter Problem codes (RFC 4443 3.4, RFC 7112 3).
ERRONEOUS_HEADER: Final = 0
UNRECOGNIZED_NEXT_HEADER: Final = 1
UNRECOGNIZED_OPTION: Final = 2
FIRST_FRAGMENT_INCOMPLETE: Final = 3

ERROR_TYPES: Final = frozenset((DEST_UNREACH, PACKET_TOO_BIG, TIME_EXCEEDED, PARAM_PROBLEM))
ND_TYPES: Final = frozenset(
    (ROUTER_SOLICIT, ROUTER_ADVERT, NEIGHBOR_SOLICIT, NEIGHBOR_ADVERT, REDIRECT)
)
MLD_TYPES: Final = frozenset((MLD_QUERY, MLD_REPORT, MLD_DONE, MLDV2_REPORT))

ICMPV6_HEADER_LEN: Final = 8
# RFC 4443 2.4(c): the error datagram must not exceed the minimum IPv6 MTU.
MAX_QUOTE: Final = IPV6_MIN_MTU - IPV6_HEADER_LEN - ICMPV6_HEADER_LEN

_HDR = struct.Struct("!BBHHH")  # type, code, checksum, type-specific word as two u16
_PORTS_SEQ = struct.Struct("!HHI")  # source port, destination port, TCP sequence


class QuotedPacket(Record):
    """The invoking packet quoted by an ICMPv6 error: its IPv6 header (with the
    extension headers walked: ``header.protocol`` is the upper layer) and ports.

    ``src_port``/``dst_port`` are set for TCP and UDP (0 otherwise, and for a
    non-first fragment); ``tcp_seq`` only for TCP. They are the *original*
    packet's: our local port is ``src_port`` when the error is about a packet we sent.
    """

    __slots__ = (  # noqa: RUF023 - field order is the record order
        "header",
        "src_port",
        "dst_port",
        "tcp_seq",
    )

    def __init__(
        self, header: Ipv6Header, src_port: int, dst_port: int, tcp_seq: int | None
    ) -> None:
        self.header = header
        self.src_port = src_port
        self.dst_port = dst_port
        self.tcp_seq = tcp_seq


class Icmpv6Message(Record):
    """A parsed ICMPv6 message.

    ``ident``/``sequence`` are meaningful for echo, ``mtu`` for PACKET_TOO_BIG,
    ``pointer`` for PARAM_PROBLEM, ``quoted`` for the error types 1-4.
    ``payload`` is everything after the 8-byte header (echo data, the raw quote,
    or the body of an ND/MLD message).
    """

    __slots__ = (  # noqa: RUF023 - field order is the record order
        "type",
        "code",
        "checksum",
        "ident",
        "sequence",
        "mtu",
        "pointer",
        "payload",
        "quoted",
    )

    def __init__(
        self,
        type: int,
        code: int,
        checksum: int,
        ident: int,
        sequence: int,
        mtu: int,
        pointer: int,
        payload: memoryview | bytes,
        quoted: QuotedPacket | None,
    ) -> None:
        self.type = type
        self.code = code
        self.checksum = checksum
        self.ident = ident
        self.sequence = sequence
        self.mtu = mtu
        self.pointer = pointer
        self.payload = payload
        self.quoted = quoted

    @property
    def is_error(self) -> bool:
        """An error message (RFC 4443 2.1: types 0-127), known or not."""
        return self.type < 128

    @property
    def is_nd(self) -> bool:
        return self.type in ND_TYPES

    @property
    def is_mld(self) -> bool:
        return self.type in MLD_TYPES


def _parse_quote(quote: memoryview) -> QuotedPacket:
    """The quoted IPv6 packet's headers and first 8 upper-layer bytes (RFC 4443 2.4(c))."""
    header, rest = parse_ipv6(quote, quoted=True)
    sport = dport = 0
    tcp_seq: int | None = None
    proto = header.protocol
    if proto in (PROTO_TCP, PROTO_UDP) and not header.frag_offset:
        if len(rest) < 8:
            raise TruncatedError(f"ICMPv6 quote holds {len(rest)} bytes of the transport header")
        sport, dport, seq = _PORTS_SEQ.unpack_from(rest, 0)
        if proto == PROTO_TCP:
            tcp_seq = seq
    return QuotedPacket(header, sport, dport, tcp_seq)


def parse_icmpv6(buf: BytesLike, src: int, dst: int) -> Icmpv6Message:
    """Parse an ICMPv6 message (the IPv6 upper-layer payload); the checksum is always verified."""
    n = len(buf)
    if n < 8:
        raise TruncatedError(f"ICMPv6 message of {n} bytes is shorter than a header")
    mv = buf if type(buf) is memoryview else memoryview(buf)
    if ones_sum(mv, pseudo_header_sum6(src, dst, PROTO_ICMPV6, n)) != 0xFFFF:
        raise ChecksumError("bad ICMPv6 checksum")
    itype, code, ck, w1, w2 = _HDR.unpack_from(mv, 0)
    payload = mv[8:]
    quoted = None
    ident = sequence = mtu = pointer = 0
    if itype in ERROR_TYPES:
        try:
            quoted = _parse_quote(payload)
        except WireError as exc:
            raise type(exc)(f"ICMPv6 type {itype}: {exc.reason}") from None
        if itype == PACKET_TOO_BIG:
            mtu = (w1 << 16) | w2  # RFC 4443 3.2
        elif itype == PARAM_PROBLEM:
            pointer = (w1 << 16) | w2  # RFC 4443 3.4
    elif itype >= 128:
        ident, sequence = w1, w2
    return Icmpv6Message(itype, code, ck, ident, sequence, mtu, pointer, payload, quoted)


def may_send_error(original_packet: BytesLike, itype: int, code: int) -> bool:
    """May an ICMPv6 error (``itype``, ``code``) be sent about ``original_packet``?

    RFC 4443 2.4(e), as Linux ``icmp6_send`` and ``is_ineligible`` apply it: not
    about a packet whose source is unspecified or multicast (e.6); not to a
    multicast destination (e.3) except Packet Too Big and Parameter Problem
    code 2 (an option whose action bits are 10; for 11 the wire codec already
    said ``send_icmp=False``); not about an ICMPv6 error or Redirect (e.1, e.2).
    A packet too short for an IPv6 header gets none; one whose extension
    headers cannot be walked may get one (Linux: eligible).
    """
    n = len(original_packet)
    if n < IPV6_HEADER_LEN:
        return False
    src = int.from_bytes(original_packet[8:24], "big")
    if src == 0 or src >> 120 == 0xFF:
        return False
    if original_packet[24] == 0xFF and not (
        itype == PACKET_TOO_BIG or (itype == PARAM_PROBLEM and code == UNRECOGNIZED_OPTION)
    ):
        return False
    try:
        header, rest = parse_ipv6(original_packet, quoted=True)
    except WireError:
        return True
    if header.protocol != PROTO_ICMPV6 or header.frag_offset:
        return True
    # No ICMPv6 type in the packet: ineligible (Linux is_ineligible).
    return len(rest) > 0 and rest[0] >= 128 and rest[0] != REDIRECT


def _finish(src: int, dst: int, itype: int, code: int, word: int, body: BytesLike) -> bytes:
    w1, w2 = word >> 16, word & 0xFFFF
    s = pseudo_header_sum6(src, dst, PROTO_ICMPV6, 8 + len(body)) + (itype << 8) + code + w1 + w2
    ck = ~ones_sum(body, s) & 0xFFFF
    return b"".join((_HDR.pack(itype, code, ck, w1, w2), body))


def build_echo(
    src: int, dst: int, type: int, ident: int, sequence: int, payload: BytesLike = b""
) -> bytes:
    """An echo request (128) or reply (129) from ``src`` to ``dst``, checksum filled in."""
    if type not in (ECHO_REQUEST, ECHO_REPLY):
        raise ValueError(f"ICMPv6 type {type} is not an echo type")
    if not (0 <= ident <= 0xFFFF and 0 <= sequence <= 0xFFFF):
        raise ValueError("ICMPv6 echo identifier and sequence are 16-bit")
    return _finish(src, dst, type, 0, (ident << 16) | sequence, payload)


def _quote(original_packet: BytesLike) -> memoryview:
    mv = memoryview(original_packet)
    if len(mv) < IPV6_HEADER_LEN:
        raise ValueError("the original packet is shorter than an IPv6 header")
    return mv[:MAX_QUOTE]  # RFC 4443 2.4(c)


def build_dest_unreachable(src: int, dst: int, code: int, original_packet: BytesLike) -> bytes:
    """Destination Unreachable (RFC 4443 3.1) quoting as much of ``original_packet`` as fits."""
    return _finish(src, dst, DEST_UNREACH, code, 0, _quote(original_packet))


def build_packet_too_big(src: int, dst: int, mtu: int, original_packet: BytesLike) -> bytes:
    """Packet Too Big (RFC 4443 3.2) with the next-hop ``mtu``."""
    if not 0 <= mtu <= 0xFFFFFFFF:
        raise ValueError(f"MTU {mtu} is not a 32-bit value")
    return _finish(src, dst, PACKET_TOO_BIG, 0, mtu, _quote(original_packet))


def build_time_exceeded(src: int, dst: int, code: int, original_packet: BytesLike) -> bytes:
    """Time Exceeded (RFC 4443 3.3): HOP_LIMIT_EXCEEDED or FRAG_REASSEMBLY_EXCEEDED."""
    return _finish(src, dst, TIME_EXCEEDED, code, 0, _quote(original_packet))


def build_param_problem(
    src: int, dst: int, code: int, pointer: int, original_packet: BytesLike
) -> bytes:
    """Parameter Problem (RFC 4443 3.4); ``pointer`` is the offset of the offending
    field in ``original_packet`` (e.g. ``ParameterProblemError.pointer``)."""
    if not 0 <= pointer <= 0xFFFFFFFF:
        raise ValueError(f"pointer {pointer} is not a 32-bit value")
    return _finish(src, dst, PARAM_PROBLEM, code, pointer, _quote(original_packet))
