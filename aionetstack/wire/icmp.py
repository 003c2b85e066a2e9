"""ICMPv4 codec (RFC 792, RFC 1122 3.2.2, RFC 1191 4, RFC 1812 4.3.2.3).

Theory of operation
-------------------
Every message starts with type, code and checksum; the next four bytes are
type specific: identifier and sequence number for echo, the next-hop MTU
(RFC 1191 4) in the low 16 bits for "fragmentation needed", unused otherwise.
``parse_icmp`` verifies the checksum over the whole message and, for error
messages (destination unreachable, time exceeded, source quench, parameter
problem), parses the quoted original datagram: its IPv4 header and at least
the first 8 bytes after it, which hold the ports of TCP and UDP (and, for TCP,
the sequence number). The quoted header's checksum is not verified and its
total length may exceed what is quoted (routers quote only a prefix), but the
quote must hold the whole quoted header plus 8 bytes, else ``TruncatedError``.

The builders quote the offending packet's header plus 8 bytes of its data
(RFC 792; RFC 1812 4.3.2.3 allows more, but 8 is what every stack needs) and
return the ICMP message only: wrap it with ``ipv4.build_ipv4``.
"""

from __future__ import annotations

import struct
from typing import Final

from aionetstack.wire._record import Record
from aionetstack.wire.checksum import BytesLike, ones_sum
from aionetstack.wire.errors import BadHeaderError, ChecksumError, TruncatedError, WireError
from aionetstack.wire.ipv4 import PROTO_TCP, PROTO_UDP, Ipv4Header, parse_ipv4

__all__ = [
    "DEST_UNREACH",
    "ECHO_REPLY",
    "ECHO_REQUEST",
    "ERROR_TYPES",
    "FRAG_NEEDED",
    "FRAG_REASSEMBLY_EXCEEDED",
    "HOST_UNREACH",
    "NET_UNREACH",
    "PARAMETER_PROBLEM",
    "PORT_UNREACH",
    "PROTO_UNREACH",
    "SOURCE_QUENCH",
    "TIME_EXCEEDED",
    "TTL_EXCEEDED",
    "IcmpMessage",
    "QuotedDatagram",
    "build_dest_unreachable",
    "build_echo",
    "build_time_exceeded",
    "parse_icmp",
]

# Types (RFC 792).
ECHO_REPLY: Final = 0
DEST_UNREACH: Final = 3
SOURCE_QUENCH: Final = 4  # deprecated (RFC 6633), parsed as an error for completeness
ECHO_REQUEST: Final = 8
TIME_EXCEEDED: Final = 11
PARAMETER_PROBLEM: Final = 12

# Destination unreachable codes (RFC 792, RFC 1122 3.2.2.1).
NET_UNREACH: Final = 0
HOST_UNREACH: Final = 1
PROTO_UNREACH: Final = 2
PORT_UNREACH: Final = 3
FRAG_NEEDED: Final = 4  # with the next-hop MTU (RFC 1191 4)

# Time exceeded codes (RFC 792).
TTL_EXCEEDED: Final = 0
FRAG_REASSEMBLY_EXCEEDED: Final = 1

ERROR_TYPES: Final = frozenset((DEST_UNREACH, SOURCE_QUENCH, TIME_EXCEEDED, PARAMETER_PROBLEM))

ICMP_HEADER_LEN: Final = 8
QUOTED_DATA_LEN: Final = 8  # RFC 792: the first 64 bits of the original data
MAX_ERROR_DATAGRAM: Final = 576  # RFC 1812 4.3.2.3: an ICMP error datagram's size limit

_HDR = struct.Struct("!BBHHH")  # type, code, checksum, rest-of-header as two u16
_PORTS_SEQ = struct.Struct("!HHI")  # source port, destination port, TCP sequence


class QuotedDatagram(Record):
    """The original datagram quoted by an ICMP error: its header and first 8 data bytes.

    ``src_port``/``dst_port`` are set for TCP and UDP (0 otherwise); ``tcp_seq``
    only for TCP. They are the *original* packet's, i.e. our own local port is
    ``src_port`` when the error is about a packet we sent.
    """

    __slots__ = (  # noqa: RUF023 - field order is the record order
        "header",
        "src_port",
        "dst_port",
        "tcp_seq",
    )

    def __init__(
        self, header: Ipv4Header, src_port: int, dst_port: int, tcp_seq: int | None
    ) -> None:
        self.header = header
        self.src_port = src_port
        self.dst_port = dst_port
        self.tcp_seq = tcp_seq


class IcmpMessage(Record):
    """A parsed ICMP message.

    ``ident``/``sequence`` are meaningful for echo messages, ``next_hop_mtu``
    for DEST_UNREACH/FRAG_NEEDED, ``quoted`` for error types. ``payload`` is
    everything after the 8-byte ICMP header (echo data, or the raw quote).
    """

    __slots__ = (  # noqa: RUF023 - field order is the record order
        "type",
        "code",
        "checksum",
        "ident",
        "sequence",
        "next_hop_mtu",
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
        next_hop_mtu: int,
        payload: memoryview | bytes,
        quoted: QuotedDatagram | None,
    ) -> None:
        self.type = type
        self.code = code
        self.checksum = checksum
        self.ident = ident
        self.sequence = sequence
        self.next_hop_mtu = next_hop_mtu
        self.payload = payload
        self.quoted = quoted

    @property
    def is_error(self) -> bool:
        return self.type in ERROR_TYPES


def _parse_quote(quote: memoryview) -> QuotedDatagram:
    """Parse the quoted IPv4 header + first 8 bytes (RFC 792, RFC 1122 3.2.2)."""
    n = len(quote)
    if n < 20:
        raise TruncatedError(f"ICMP quote of {n} bytes holds no IPv4 header")
    vihl = quote[0]
    if vihl >> 4 != 4:
        raise BadHeaderError(f"ICMP quote has IP version {vihl >> 4}")
    hlen = (vihl & 0x0F) << 2
    if hlen < 20:
        raise BadHeaderError(f"ICMP quote has IHL {hlen >> 2}")
    if n < hlen + QUOTED_DATA_LEN:
        raise TruncatedError(f"ICMP quote of {n} bytes is shorter than its header + 8 bytes")
    # The quoted total length is the original packet's, usually longer than the
    # quote: parse a copy of header + 8 bytes whose total length is cut to that.
    total = int.from_bytes(quote[2:4], "big")
    if total < hlen + QUOTED_DATA_LEN:
        raise BadHeaderError(f"ICMP quote claims a total length of {total}")
    cut = bytearray(quote[: hlen + QUOTED_DATA_LEN])
    cut[2:4] = (hlen + QUOTED_DATA_LEN).to_bytes(2, "big")
    header, _ = parse_ipv4(cut, verify_checksum=False)
    header.total_length = total
    sport = dport = 0
    tcp_seq: int | None = None
    if header.frag_offset:
        pass  # a non-first fragment: its first 8 bytes are not a transport header
    elif header.protocol == PROTO_TCP:
        sport, dport, tcp_seq = _PORTS_SEQ.unpack_from(quote, hlen)
    elif header.protocol == PROTO_UDP:
        sport, dport, _unused = _PORTS_SEQ.unpack_from(quote, hlen)
    return QuotedDatagram(header, sport, dport, tcp_seq)


def parse_icmp(buf: BytesLike) -> IcmpMessage:
    """Parse an ICMP message (the IPv4 payload); the checksum is always verified."""
    n = len(buf)
    if n < 8:
        raise TruncatedError(f"ICMP message of {n} bytes is shorter than a header")
    mv = buf if type(buf) is memoryview else memoryview(buf)
    if ones_sum(mv) != 0xFFFF:
        raise ChecksumError("bad ICMP checksum")
    itype, code, ck, w1, w2 = _HDR.unpack_from(mv, 0)
    payload = mv[8:]
    quoted = None
    ident = sequence = mtu = 0
    if itype in ERROR_TYPES:
        try:
            quoted = _parse_quote(payload)
        except WireError as exc:
            raise type(exc)(f"ICMP type {itype}: {exc.reason}") from None
        if itype == DEST_UNREACH and code == FRAG_NEEDED:
            mtu = w2  # RFC 1191 4: next-hop MTU in the low-order 16 bits
    else:
        ident, sequence = w1, w2
    return IcmpMessage(itype, code, ck, ident, sequence, mtu, payload, quoted)


def _finish(itype: int, code: int, w1: int, w2: int, body: BytesLike) -> bytes:
    s = (itype << 8) + code + w1 + w2
    ck = ~ones_sum(body, s) & 0xFFFF
    return b"".join((_HDR.pack(itype, code, ck, w1, w2), body))


def build_echo(type: int, ident: int, sequence: int, payload: BytesLike = b"") -> bytes:
    """An echo request (type 8) or reply (type 0) with the checksum filled in."""
    if type not in (ECHO_REQUEST, ECHO_REPLY):
        raise ValueError(f"ICMP type {type} is not an echo type")
    return _finish(type, 0, ident, sequence, payload)


def _quote(original_packet: BytesLike, quote_data: int) -> memoryview:
    mv = memoryview(original_packet)
    if len(mv) < 20:
        raise ValueError("the original packet is shorter than an IPv4 header")
    hlen = max(20, (mv[0] & 0x0F) << 2)
    # RFC 792: header + at least 8 data bytes; RFC 1812 4.3.2.3: the error
    # datagram (20-byte IPv4 header + 8-byte ICMP header + quote) <= 576 bytes.
    quote_data = max(QUOTED_DATA_LEN, quote_data)
    return mv[: min(hlen + quote_data, MAX_ERROR_DATAGRAM - 28)]


def build_dest_unreachable(
    code: int, original_packet: BytesLike, next_hop_mtu: int = 0, *, quote_data: int = 8
) -> bytes:
    """Destination unreachable quoting ``original_packet``'s header + 8 bytes (RFC 792).

    ``next_hop_mtu`` goes in the low 16 bits of the second word (RFC 1191 4);
    it is meaningful with ``FRAG_NEEDED``. ``quote_data`` asks for more of the
    original's data (RFC 1812 4.3.2.3), capped so the datagram stays <= 576 bytes.
    """
    return _finish(DEST_UNREACH, code, 0, next_hop_mtu, _quote(original_packet, quote_data))


def build_time_exceeded(code: int, original_packet: BytesLike, *, quote_data: int = 8) -> bytes:
    """Time exceeded (TTL_EXCEEDED or FRAG_REASSEMBLY_EXCEEDED) quoting header + 8 bytes."""
    return _finish(TIME_EXCEEDED, code, 0, 0, _quote(original_packet, quote_data))
