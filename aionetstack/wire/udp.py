"""UDP datagram codec (RFC 768, RFC 1122 4.1.3.4).

The checksum covers the IPv4 pseudo-header, the UDP header and the data. A
transmitted checksum of zero means the sender computed none (RFC 768); a
computed checksum of zero is therefore sent as 0xFFFF. ``parse_udp`` verifies a
non-zero checksum when both addresses are given. The length field must be at
least 8 and no more than the buffer; bytes after it are ignored.

Over IPv6 (``parse_udp6``/``build_udp6``) the checksum covers the IPv6
pseudo-header and is mandatory (RFC 8200 8.1): a zero checksum is rejected
(this stack does not take the RFC 6935 tunnel exception) and a computed zero is
sent as 0xFFFF. ``parse_udp6`` passes the folded address sum
(``pseudo_header_sum6``) in place of ``src + dst`` to ``parse_udp``, which uses
the two addresses only in that sum.
"""

from __future__ import annotations

import struct
from typing import Final

from aionetstack.wire._record import Record
from aionetstack.wire.checksum import BytesLike, ones_sum, pseudo_header_sum6
from aionetstack.wire.errors import BadHeaderError, ChecksumError, TruncatedError

__all__ = ["UDP_HEADER_LEN", "UdpDatagram", "build_udp", "build_udp6", "parse_udp", "parse_udp6"]

UDP_HEADER_LEN: Final = 8
PROTO_UDP: Final = 17

_HDR = struct.Struct("!HHHH")  # source port, destination port, length, checksum
_new = object.__new__


class UdpDatagram(Record):
    """A parsed UDP datagram; ``payload`` is trimmed to the length field."""

    __slots__ = (  # noqa: RUF023 - field order is the record order
        "src_port",
        "dst_port",
        "length",
        "checksum",
        "payload",
    )

    def __init__(
        self,
        src_port: int,
        dst_port: int,
        length: int,
        checksum: int,
        payload: memoryview | bytes,
    ) -> None:
        self.src_port = src_port
        self.dst_port = dst_port
        self.length = length
        self.checksum = checksum
        self.payload = payload


def parse_udp(buf: BytesLike, src: int | None = None, dst: int | None = None) -> UdpDatagram:
    """Parse a UDP datagram; verify a non-zero checksum when ``src`` and ``dst`` are given."""
    n = len(buf)
    if n < 8:
        raise TruncatedError(f"UDP datagram of {n} bytes is shorter than a header")
    sport, dport, length, ck = _HDR.unpack_from(buf, 0)
    if length < 8:
        raise BadHeaderError(f"UDP length {length} is below 8")
    if length > n:
        raise TruncatedError(f"UDP length {length} exceeds the {n} bytes received")
    mv = buf if type(buf) is memoryview else memoryview(buf)
    if length < n:
        mv = mv[:length]
    # RFC 768: a zero checksum means the sender computed none.
    if (
        ck
        and src is not None
        and dst is not None
        and ones_sum(mv, src + dst + 17 + length) != 0xFFFF
    ):
        raise ChecksumError("bad UDP checksum")
    dgram = _new(UdpDatagram)
    dgram.src_port = sport
    dgram.dst_port = dport
    dgram.length = length
    dgram.checksum = ck
    dgram.payload = mv[8:]
    return dgram


def build_udp(src: int, dst: int, src_port: int, dst_port: int, payload: BytesLike) -> bytes:
    """A UDP header and payload with the checksum filled in (0 is sent as 0xFFFF)."""
    length = 8 + len(payload)
    if length > 65535 - 20:
        raise ValueError(f"UDP payload of {len(payload)} bytes does not fit in an IPv4 packet")
    # Pseudo-header + header, unfolded (ones_sum folds ``initial`` itself).
    ck = ~ones_sum(payload, src + dst + PROTO_UDP + length + src_port + dst_port + length) & 0xFFFF
    if ck == 0:
        ck = 0xFFFF  # RFC 768: an all-zero result is transmitted as all ones
    return b"".join((_HDR.pack(src_port, dst_port, length, ck), payload))


def parse_udp6(buf: BytesLike, src: int, dst: int) -> UdpDatagram:
    """Parse a UDP datagram carried over IPv6; the checksum is mandatory (RFC 8200 8.1)."""
    dgram = parse_udp(buf, pseudo_header_sum6(src, dst, 0, 0), 0)
    if dgram.checksum == 0:
        raise ChecksumError("zero UDP checksum over IPv6 (RFC 8200 8.1)")
    return dgram


def build_udp6(src: int, dst: int, src_port: int, dst_port: int, payload: BytesLike) -> bytes:
    """A UDP datagram for IPv6, its checksum over the IPv6 pseudo-header (never 0)."""
    length = 8 + len(payload)
    if length > 65535:
        raise ValueError(f"UDP payload of {len(payload)} bytes does not fit in an IPv6 packet")
    s = pseudo_header_sum6(src, dst, PROTO_UDP, length) + src_port + dst_port + length
    ck = ~ones_sum(payload, s) & 0xFFFF
    return b"".join((_HDR.pack(src_port, dst_port, length, ck or 0xFFFF), payload))
