"""DNS message codec (RFC 1035 4.1), as much as a stub resolver needs.

Theory of operation
-------------------
``build_query`` makes one question with RD set (RFC 1035 4.1.1);
``parse_response`` reads the header, the question and the answer section
(authority and additional records are not needed by a stub and are not
parsed); ``build_response`` answers a query (a tiny authoritative side, for
tests and tools). ``addresses_for`` follows the CNAME chain from the question's name
(RFC 1034 3.6.2) and returns the addresses of the question's type at its end
(A: IPv4, AAAA: IPv6, RFC 3596) with the smallest TTL of the records used.

Everything is bounded: names follow at most ``MAX_POINTERS`` compression
pointers, each pointing strictly backwards (RFC 1035 4.1.4: to a prior
occurrence, so no loop is possible), labels are at most 63 bytes and names 255
(RFC 1035 2.3.4); the answer count is checked against the bytes left, so a
message of n bytes yields at most n / 11 records. A malformed message raises
a ``WireError`` and nothing else.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Sequence
from typing import Final

from aionetstack.wire._record import Record
from aionetstack.wire.errors import BadHeaderError, TruncatedError

__all__ = [
    "CLASS_IN",
    "RCODE_NXDOMAIN",
    "TYPE_A",
    "TYPE_AAAA",
    "TYPE_CNAME",
    "DnsRecord",
    "DnsResponse",
    "addresses_for",
    "build_query",
    "build_response",
    "encode_name",
    "parse_response",
]

TYPE_A: Final = 1
TYPE_CNAME: Final = 5
TYPE_AAAA: Final = 28  # RFC 3596 2.1
CLASS_IN: Final = 1
RCODE_NOERROR: Final = 0
RCODE_NXDOMAIN: Final = 3
MAX_POINTERS: Final = 32
MAX_CNAME_CHAIN: Final = 16  # BIND's limit on a chain followed in one answer
_QR = 0x8000
_TC = 0x0200
_RD = 0x0100
_HDR = struct.Struct("!HHHHHH")  # id, flags, qdcount, ancount, nscount, arcount
_RR = struct.Struct("!HHIH")  # type, class, ttl, rdlength
_MIN_RR = 1 + _RR.size  # the root name and the fixed fields


class DnsRecord(Record):
    """One resource record of the answer section (names lower-cased, no final dot)."""

    __slots__ = ("name", "rtype", "rclass", "ttl", "data", "target")  # noqa: RUF023 - record order

    def __init__(
        self, name: str, rtype: int, rclass: int, ttl: int, data: bytes, target: str = ""
    ) -> None:
        self.name = name
        self.rtype = rtype
        self.rclass = rclass
        self.ttl = ttl
        self.data = data  # RDATA
        self.target = target  # a CNAME's target name, decoded


class DnsResponse(Record):
    """A parsed response: header fields, the question, the answer section."""

    __slots__ = ("ident", "truncated", "rcode", "qname", "qtype", "answers")  # noqa: RUF023

    def __init__(
        self,
        ident: int,
        truncated: bool,
        rcode: int,
        qname: str,
        qtype: int,
        answers: tuple[DnsRecord, ...],
    ) -> None:
        self.ident = ident
        self.truncated = truncated  # TC: ask again over TCP (RFC 1035 4.2.1, RFC 7766)
        self.rcode = rcode
        self.qname = qname
        self.qtype = qtype
        self.answers = answers


def encode_name(name: str) -> bytes:
    """``name`` in wire form; ValueError for a name DNS cannot carry."""
    text = name.rstrip(".").lower()
    try:
        raw = text.encode("idna") if text else b""
    except UnicodeError as exc:
        raise ValueError(f"invalid host name {name!r}: {exc}") from None
    out = bytearray()
    for label in raw.split(b".") if raw else ():
        if not 1 <= len(label) <= 63:
            raise ValueError(f"invalid host name {name!r}: a label must have 1..63 bytes")
        out.append(len(label))
        out += label
    out.append(0)
    if len(out) > 255:
        raise ValueError(f"invalid host name {name!r}: longer than 255 bytes")
    return bytes(out)


def build_query(ident: int, name: str, qtype: int = TYPE_A) -> bytes:
    """A recursive query (RD) for ``name``/``qtype``/IN with id ``ident``."""
    return (
        _HDR.pack(ident & 0xFFFF, _RD, 1, 0, 0, 0)
        + encode_name(name)
        + struct.pack("!HH", qtype, CLASS_IN)
    )


def build_response(
    query: bytes | bytearray | memoryview,
    answers: Sequence[tuple[str, int, int, bytes | str]] = (),
    *,
    rcode: int = RCODE_NOERROR,
    truncated: bool = False,
) -> bytes:
    """The response to ``query`` (its id and question echoed, QR/AA/RA set) with
    ``answers`` as ``(name, type, ttl, rdata)``: for A and AAAA, rdata is the
    address text; for CNAME, the target name. No compression."""
    buf = bytes(query)
    if len(buf) < _HDR.size:
        raise TruncatedError("dns: query shorter than its header")
    ident, qflags = struct.unpack_from("!HH", buf)
    _name, end = _read_name(buf, _HDR.size)
    question = buf[_HDR.size : end + 4]
    flags = _QR | 0x0400 | (qflags & _RD) | 0x0080 | (_TC if truncated else 0) | rcode
    out = bytearray(_HDR.pack(ident, flags, 1, len(answers), 0, 0) + question)
    for name, rtype, ttl, rdata in answers:
        if isinstance(rdata, str):
            if rtype == TYPE_CNAME:
                data = encode_name(rdata)
            elif rtype == TYPE_AAAA:
                data = ipaddress.IPv6Address(rdata).packed
            else:
                data = bytes(int(part) for part in rdata.split("."))
        else:
            data = rdata
        out += encode_name(name) + _RR.pack(rtype, CLASS_IN, ttl, len(data)) + data
    return bytes(out)


def _read_name(buf: bytes, off: int) -> tuple[str, int]:
    """The name at ``off`` and the offset after it (after the first pointer, if any)."""
    labels: list[str] = []
    end = -1
    length = 1
    pos = off
    for _ in range(MAX_POINTERS + 128):  # 128 labels fill 255 bytes
        if pos >= len(buf):
            raise TruncatedError("dns: name runs past the message")
        n = buf[pos]
        if n == 0:
            if end < 0:
                end = pos + 1
            return ".".join(labels), end
        if n & 0xC0 == 0xC0:
            if pos + 1 >= len(buf):
                raise TruncatedError("dns: compression pointer truncated")
            target = ((n & 0x3F) << 8) | buf[pos + 1]
            if target >= pos:
                raise BadHeaderError("dns: compression pointer does not point backwards")
            if end < 0:
                end = pos + 2
            pos = target
            continue
        if n & 0xC0:
            raise BadHeaderError(f"dns: unknown label type {n >> 6}")
        length += n + 1
        if length > 255:
            raise BadHeaderError("dns: name longer than 255 bytes")
        if pos + 1 + n > len(buf):
            raise TruncatedError("dns: label runs past the message")
        labels.append(buf[pos + 1 : pos + 1 + n].decode("ascii", "replace").lower())
        pos += 1 + n
    raise BadHeaderError("dns: too many compression pointers")


def parse_response(data: bytes | bytearray | memoryview) -> DnsResponse:
    """Header, first question and answers of a response (see the module docstring)."""
    buf = bytes(data)
    if len(buf) < _HDR.size:
        raise TruncatedError("dns: message shorter than its header")
    ident, flags, qdcount, ancount, _ns, _ar = _HDR.unpack_from(buf)
    if not flags & _QR:
        raise BadHeaderError("dns: not a response")
    truncated = bool(flags & _TC)
    rcode = flags & 0xF
    off = _HDR.size
    qname, qtype = "", 0
    if qdcount:
        if qdcount != 1:
            raise BadHeaderError(f"dns: {qdcount} questions")
        qname, off = _read_name(buf, off)
        if off + 4 > len(buf):
            raise TruncatedError("dns: question truncated")
        qtype, _qclass = struct.unpack_from("!HH", buf, off)
        off += 4
    if ancount * _MIN_RR > len(buf) - off and not truncated:
        raise TruncatedError(f"dns: {ancount} answers cannot fit in {len(buf) - off} bytes")
    answers: list[DnsRecord] = []
    for _ in range(ancount):
        if truncated and off >= len(buf):
            break  # TC: what is there is all there is
        name, off = _read_name(buf, off)
        if off + _RR.size > len(buf):
            raise TruncatedError("dns: record header truncated")
        rtype, rclass, ttl, rdlength = _RR.unpack_from(buf, off)
        off += _RR.size
        if off + rdlength > len(buf):
            raise TruncatedError("dns: record data truncated")
        rdata = buf[off : off + rdlength]
        target = _read_name(buf, off)[0] if rtype == TYPE_CNAME else ""
        off += rdlength
        # RFC 2181 8: a TTL with the top bit set is treated as zero
        answers.append(
            DnsRecord(name, rtype, rclass, ttl if ttl < 0x80000000 else 0, rdata, target)
        )
    return DnsResponse(ident, truncated, rcode, qname, qtype, tuple(answers))


def addresses_for(response: DnsResponse) -> tuple[list[str], int]:
    """The addresses the answer gives for its question (CNAMEs followed, RFC
    1034 3.6.2): IPv4 for an A question, IPv6 (RFC 3596) for AAAA; and the
    smallest TTL of the records used (0 if none)."""
    name = response.qname
    ttl: int | None = None
    for _ in range(MAX_CNAME_CHAIN):
        alias = next(
            (r for r in response.answers if r.rtype == TYPE_CNAME and r.name == name), None
        )
        if alias is None:
            break
        ttl = alias.ttl if ttl is None else min(ttl, alias.ttl)
        name = alias.target
    found: list[str] = []
    rtype, size = (TYPE_AAAA, 16) if response.qtype == TYPE_AAAA else (TYPE_A, 4)
    for r in response.answers:
        if r.rtype == rtype and r.rclass == CLASS_IN and r.name == name and len(r.data) == size:
            if size == 4:
                found.append(".".join(str(b) for b in r.data))
            else:
                found.append(str(ipaddress.IPv6Address(r.data)))
            ttl = r.ttl if ttl is None else min(ttl, r.ttl)
    return found, ttl if ttl is not None and found else 0
