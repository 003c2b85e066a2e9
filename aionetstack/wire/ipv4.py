"""IPv4 header codec (RFC 791, RFC 1122 3.2.1, RFC 1812 5.2.2).

Theory of operation
-------------------
``parse_ipv4`` checks, in order: the buffer holds a fixed header; version 4;
IHL >= 5; total length >= IHL and <= the buffer (link padding after total
length is ignored); the header checksum (optional); the options area is
well-formed TLVs (their contents are skipped, RFC 1122 3.2.1.8). It returns an
``Ipv4Header`` record and a zero-copy ``memoryview`` of the payload trimmed to
total length. Any malformation raises a ``WireError`` subclass, nothing else.

Fragment offsets are reported in bytes (the wire field times 8).
"""

from __future__ import annotations

import struct
from typing import Final

from aionetstack.wire._record import Record
from aionetstack.wire.checksum import BytesLike, ones_sum
from aionetstack.wire.errors import BadHeaderError, BadOptionError, ChecksumError, TruncatedError

__all__ = [
    "FLAG_DF",
    "FLAG_MF",
    "IPV4_HEADER_LEN",
    "IPV4_MAX_LEN",
    "PROTO_ICMP",
    "PROTO_TCP",
    "PROTO_UDP",
    "Ipv4Header",
    "build_ipv4",
    "build_ipv4_header",
    "ipv4_header_checksum",
    "parse_ipv4",
]

PROTO_ICMP: Final = 1
PROTO_TCP: Final = 6
PROTO_UDP: Final = 17

IPV4_HEADER_LEN: Final = 20
IPV4_MAX_HEADER_LEN: Final = 60
IPV4_MAX_LEN: Final = 65535

FLAG_DF: Final = 0x4000  # RFC 791 3.1: Don't Fragment
FLAG_MF: Final = 0x2000  # More Fragments
_FRAG_MASK: Final = 0x1FFF

# version/IHL, TOS, total length, identification, flags/fragment offset,
# TTL, protocol, header checksum, source, destination (RFC 791 3.1).
_HDR = struct.Struct("!BBHHHBBHII")
_new = object.__new__


class Ipv4Header(Record):
    """A parsed IPv4 header. ``frag_offset`` is in bytes; addresses are ints."""

    __slots__ = (  # noqa: RUF023 - field order is the record order
        "version",
        "header_len",
        "tos",
        "total_length",
        "ident",
        "df",
        "mf",
        "frag_offset",
        "ttl",
        "protocol",
        "checksum",
        "src",
        "dst",
        "options",
    )

    def __init__(
        self,
        version: int,
        header_len: int,
        tos: int,
        total_length: int,
        ident: int,
        df: bool,
        mf: bool,
        frag_offset: int,
        ttl: int,
        protocol: int,
        checksum: int,
        src: int,
        dst: int,
        options: bytes = b"",
    ) -> None:
        self.version = version
        self.header_len = header_len
        self.tos = tos
        self.total_length = total_length
        self.ident = ident
        self.df = df
        self.mf = mf
        self.frag_offset = frag_offset
        self.ttl = ttl
        self.protocol = protocol
        self.checksum = checksum
        self.src = src
        self.dst = dst
        self.options = options

    @property
    def is_fragment(self) -> bool:
        """True for any fragment of a fragmented datagram (first, middle or last)."""
        return self.mf or self.frag_offset != 0

    @property
    def payload_len(self) -> int:
        return self.total_length - self.header_len


def _check_options(buf: BytesLike, start: int, end: int) -> None:
    """Walk the options area as TLVs (RFC 791 3.1); contents are not interpreted."""
    i = start
    while i < end:
        kind = buf[i]
        if kind == 0:  # End of Option List
            return
        if kind == 1:  # No Operation
            i += 1
            continue
        if i + 1 >= end:
            raise BadOptionError(f"IPv4 option {kind} truncated")
        olen = buf[i + 1]
        if olen < 2 or i + olen > end:
            raise BadOptionError(f"IPv4 option {kind} has bad length {olen}")
        i += olen


def parse_ipv4(buf: BytesLike, *, verify_checksum: bool = True) -> tuple[Ipv4Header, memoryview]:
    """Parse an IPv4 packet; return the header and its payload (trimmed to total length)."""
    n = len(buf)
    if n < 20:
        raise TruncatedError(f"IPv4 packet of {n} bytes is shorter than a header")
    vihl, tos, total, ident, ff, ttl, proto, ck, src, dst = _HDR.unpack_from(buf, 0)
    if vihl == 0x45:  # version 4, no options: nearly every packet
        hlen = 20
    else:
        if vihl >> 4 != 4:
            raise BadHeaderError(f"IP version {vihl >> 4} is not 4")
        hlen = (vihl & 0x0F) << 2
        if hlen < 20:
            raise BadHeaderError(f"IPv4 IHL {hlen >> 2} is below 5")
    if total < hlen:
        raise BadHeaderError(f"IPv4 total length {total} is below the header length {hlen}")
    if total > n:
        raise TruncatedError(f"IPv4 total length {total} exceeds the {n} bytes received")
    # RFC 1122 3.2.1.2: silently discard a datagram whose header checksum fails.
    # (Slicing bytes copies 20 bytes, cheaper than a memoryview slice.)
    if verify_checksum and ones_sum(buf[:hlen]) != 0xFFFF:
        raise ChecksumError("bad IPv4 header checksum")
    mv = buf if type(buf) is memoryview else memoryview(buf)
    if hlen > 20:
        _check_options(buf, 20, hlen)
        options = bytes(mv[20:hlen])
    else:
        options = b""
    # Built without calling __init__: slot stores in this frame are about
    # twice as fast as passing 14 arguments (this runs once per packet).
    header = _new(Ipv4Header)
    header.version = 4
    header.header_len = hlen
    header.tos = tos
    header.total_length = total
    header.ident = ident
    header.df = (ff & FLAG_DF) != 0
    header.mf = (ff & FLAG_MF) != 0
    header.frag_offset = (ff & _FRAG_MASK) << 3
    header.ttl = ttl
    header.protocol = proto
    header.checksum = ck
    header.src = src
    header.dst = dst
    header.options = options
    return header, mv[hlen:total]


def ipv4_header_checksum(
    tos: int, total: int, ident: int, flags_frag: int, ttl: int, protocol: int, src: int, dst: int
) -> int:
    """Checksum of an option-less header with these fields (RFC 791 3.1), computed arithmetically.

    Ones' complement addition is addition modulo 0xFFFF, and 2**16 == 1 (mod
    0xFFFF), so whole 32-bit addresses can be added; the sum is never zero
    (0x4500 is in it), hence its complement is ``-s % 0xFFFF``.
    """
    s = 0x4500 + tos + total + ident + flags_frag + (ttl << 8) + protocol + src + dst
    return -s % 0xFFFF


def build_ipv4_header(
    src: int,
    dst: int,
    protocol: int,
    payload_len: int,
    *,
    ident: int = 0,
    ttl: int = 64,
    df: bool = True,
    mf: bool = False,
    frag_offset: int = 0,
    tos: int = 0,
) -> bytes:
    """A 20-byte IPv4 header (no options) with its checksum filled in."""
    total = 20 + payload_len
    if total > IPV4_MAX_LEN:
        raise ValueError(f"IPv4 packet of {total} bytes exceeds {IPV4_MAX_LEN}")
    if frag_offset & 7 or not 0 <= frag_offset <= _FRAG_MASK << 3:
        raise ValueError(f"fragment offset {frag_offset} is not a multiple of 8 in range")
    ff = (FLAG_DF if df else 0) | (FLAG_MF if mf else 0) | (frag_offset >> 3)
    ck = ipv4_header_checksum(tos, total, ident, ff, ttl, protocol, src, dst)
    return _HDR.pack(0x45, tos, total, ident, ff, ttl, protocol, ck, src, dst)


def build_ipv4(
    src: int,
    dst: int,
    protocol: int,
    payload: BytesLike,
    *,
    ident: int = 0,
    ttl: int = 64,
    df: bool = True,
    mf: bool = False,
    frag_offset: int = 0,
    tos: int = 0,
) -> bytes:
    """A whole IPv4 packet: header (checksum filled) + ``payload``."""
    header = build_ipv4_header(
        src,
        dst,
        protocol,
        len(payload),
        ident=ident,
        ttl=ttl,
        df=df,
        mf=mf,
        frag_offset=frag_offset,
        tos=tos,
    )
    return b"".join((header, payload))
