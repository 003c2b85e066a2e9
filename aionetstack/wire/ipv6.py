"""IPv6 header and extension-header codec (RFC 8200, RFC 7112, RFC 8504 5.3).

Theory of operation
-------------------
``parse_ipv6`` reads the 40-byte fixed header with one ``struct.unpack_from``
(addresses as two 64-bit halves, joined into 128-bit ints) and checks: the
buffer holds it; version 6; the payload length fits the buffer (link padding
after it is ignored). When the Next Header is TCP, UDP or ICMPv6 (nearly every
packet) that is all. Otherwise the extension headers are walked (RFC 8200 4),
each step checking that the header lies inside the payload, at most
``MAX_EXT_HEADERS`` of them (RFC 8504 5.3 lets a host bound the chain):

* Hop-by-Hop (only first, RFC 8200 4.1) and Destination Options: the TLVs are
  walked (RFC 8200 4.2); a run of padding longer than 7 bytes is malformed
  (Linux ``ip6_parse_tlv``); an option other than Pad1/PadN whose type has
  non-zero action bits is unrecognised by this host: discard, with or without a
  Parameter Problem as the action bits say. Options with action 00 are skipped.
* Routing (RFC 8200 4.4): ignored when Segments Left is 0; otherwise, since this
  host forwards nothing and recognises no routing type, a Parameter Problem
  code 0 pointing at the Routing Type.
* Fragment (RFC 8200 4.5): an atomic fragment (offset 0, M clear; RFC 6946) is
  stepped over and the walk continues. A real fragment stops the walk: the
  returned payload is the fragment's data (after the Fragment header) and
  ``protocol`` the Fragment header's Next Header. A first fragment must hold the
  whole chain through the upper-layer header (RFC 7112; Linux
  ``ipv6_frag_thdr_truncated``), a fragment with M set a multiple of 8 bytes,
  and offset + length must stay <= 65535 (RFC 8200 4.5): each failure is a
  Parameter Problem (codes 3, 0, 0) with the RFC's pointer.

Any other Next Header value ends the walk: it is the upper-layer ``protocol``,
and ``nh_offset`` is the offset of the field that named it, i.e. the pointer of
a Parameter Problem code 1 the core sends when it does not know the protocol
(RFC 8200 4: "unrecognized Next Header"). A Hop-by-Hop header anywhere but
first is reported the same way (RFC 8200 4.1, code 1).

Malformed input raises a ``WireError`` subclass and nothing else; conditions
the RFC answers with an ICMPv6 Parameter Problem raise ``ParameterProblemError``
(a ``WireError``: a core that ignores it still drops the packet) carrying the
code, the pointer, whether to send at all, and the header parsed so far.
"""

from __future__ import annotations

import struct
from typing import Final

from aionetstack.wire._record import Record
from aionetstack.wire.checksum import BytesLike
from aionetstack.wire.errors import (
    BadHeaderError,
    BadOptionError,
    ParameterProblemError,
    TruncatedError,
)

__all__ = [
    "IPV6_HEADER",
    "IPV6_HEADER_LEN",
    "IPV6_MIN_MTU",
    "MAX_EXT_HEADERS",
    "PROTO_DSTOPTS",
    "PROTO_FRAGMENT",
    "PROTO_HOPOPTS",
    "PROTO_ICMPV6",
    "PROTO_NONE",
    "PROTO_ROUTING",
    "PROTO_TCP",
    "PROTO_UDP",
    "Ipv6Header",
    "build_fragment_header",
    "build_ipv6",
    "build_ipv6_header",
    "build_options_header",
    "build_routing_header",
    "parse_ipv6",
]

# Next Header values (IANA "Assigned Internet Protocol Numbers", RFC 8200 4).
PROTO_HOPOPTS: Final = 0
PROTO_TCP: Final = 6
PROTO_UDP: Final = 17
PROTO_ROUTING: Final = 43
PROTO_FRAGMENT: Final = 44
PROTO_ICMPV6: Final = 58
PROTO_NONE: Final = 59
PROTO_DSTOPTS: Final = 60

IPV6_HEADER_LEN: Final = 40
IPV6_MIN_MTU: Final = 1280  # RFC 8200 5
IPV6_MAX_PAYLOAD: Final = 65535
MAX_EXT_HEADERS: Final = 8  # RFC 8504 5.3: a host may bound the chain (Linux has no fixed one)
MAX_PADDING: Final = 7  # RFC 8200 4.2 alignment needs at most 7 (Linux ip6_parse_tlv)

# version/traffic class/flow label, payload length, next header, hop limit,
# source (two halves), destination (two halves) (RFC 8200 3).
_HDR = struct.Struct("!IHBBQQQQ")
#: the fixed header's fields as above, for a receive fast path (core/stack.py)
IPV6_HEADER: Final = _HDR
# next header, reserved, offset/res/M, identification (RFC 8200 4.5).
_FRAG = struct.Struct("!BBHI")
_UPPER: Final = frozenset((PROTO_TCP, PROTO_UDP, PROTO_ICMPV6))
_EXT: Final = frozenset((PROTO_HOPOPTS, PROTO_ROUTING, PROTO_FRAGMENT, PROTO_DSTOPTS))
# Bytes of the upper-layer header a first fragment must hold (ipv6_frag_thdr_truncated).
_UPPER_MIN: Final = {PROTO_TCP: 20, PROTO_UDP: 8, PROTO_ICMPV6: 8}
_NO_EXT: Final[tuple[int, ...]] = ()
_new = object.__new__


class Ipv6Header(Record):
    """A parsed IPv6 header and its walked extension-header chain.

    ``protocol`` is the upper-layer Next Header (or a fragment's), ``header_len``
    the offset of the payload from the start of the packet (40 + the headers
    walked), ``nh_offset`` the offset of the Next Header field holding
    ``protocol``. ``ext_headers`` lists the extension header types walked, in
    order. With a Fragment header: ``frag_header_offset`` is its offset (the
    length of the unfragmentable part) and ``unfrag_nh_offset`` the offset of the
    Next Header field that names it (to patch on reassembly, RFC 8200 4.5);
    ``frag_offset`` is in bytes. Without one, all four are 0 / False.
    Addresses are 128-bit ints.
    """

    __slots__ = (  # noqa: RUF023 - field order is the record order
        "version",
        "traffic_class",
        "flow_label",
        "payload_length",
        "next_header",
        "hop_limit",
        "src",
        "dst",
        "protocol",
        "header_len",
        "nh_offset",
        "ext_headers",
        "frag_header_offset",
        "unfrag_nh_offset",
        "frag_id",
        "frag_offset",
        "mf",
    )

    def __init__(
        self,
        version: int,
        traffic_class: int,
        flow_label: int,
        payload_length: int,
        next_header: int,
        hop_limit: int,
        src: int,
        dst: int,
        protocol: int,
        header_len: int = IPV6_HEADER_LEN,
        nh_offset: int = 6,
        ext_headers: tuple[int, ...] = (),
        frag_header_offset: int = 0,
        unfrag_nh_offset: int = 0,
        frag_id: int = 0,
        frag_offset: int = 0,
        mf: bool = False,
    ) -> None:
        self.version = version
        self.traffic_class = traffic_class
        self.flow_label = flow_label
        self.payload_length = payload_length
        self.next_header = next_header
        self.hop_limit = hop_limit
        self.src = src
        self.dst = dst
        self.protocol = protocol
        self.header_len = header_len
        self.nh_offset = nh_offset
        self.ext_headers = ext_headers
        self.frag_header_offset = frag_header_offset
        self.unfrag_nh_offset = unfrag_nh_offset
        self.frag_id = frag_id
        self.frag_offset = frag_offset
        self.mf = mf

    @property
    def has_fragment_header(self) -> bool:
        return self.frag_header_offset != 0

    @property
    def is_fragment(self) -> bool:
        """True for a fragment that needs reassembly (not an atomic fragment, RFC 6946)."""
        return self.mf or self.frag_offset != 0

    @property
    def total_length(self) -> int:
        return IPV6_HEADER_LEN + self.payload_length


def _check_tlvs(buf: BytesLike, i: int, end: int, h: Ipv6Header) -> None:
    """Walk the options of a Hop-by-Hop or Destination Options header (RFC 8200 4.2)."""
    pad = 0
    while i < end:
        kind = buf[i]
        if kind == 0:  # Pad1
            pad += 1
            i += 1
        else:
            if i + 2 > end:
                raise BadOptionError(f"IPv6 option {kind} has no length byte")
            olen = 2 + buf[i + 1]
            if i + olen > end:
                raise BadOptionError(f"IPv6 option {kind} runs past its header")
            if kind == 1:  # PadN
                pad += olen
            else:
                pad = 0
                action = kind >> 6
                if action:  # unrecognised, and not to be skipped (RFC 8200 4.2)
                    # 01 discard; 10 discard + Parameter Problem; 11 the same unless
                    # the destination is multicast.
                    send = action == 2 or (action == 3 and h.dst >> 120 != 0xFF)
                    raise ParameterProblemError(
                        f"unrecognized IPv6 option type {kind:#04x}",
                        2,
                        i,
                        send_icmp=send,
                        header=h,
                    )
            i += olen
        if pad > MAX_PADDING:  # Linux ip6_parse_tlv: "padlen > 7" is bad
            raise BadOptionError(f"IPv6 options carry {pad} bytes of padding in a row")


def _walk(h: Ipv6Header, buf: BytesLike, end: int, strict: bool) -> None:
    """Walk the extension headers from ``h.protocol`` at ``h.header_len`` (module docstring).

    ``strict`` is for received packets (options, routing and fragment rules
    enforced); quoted packets (ICMPv6 errors) are only walked with bounds, and
    the walk stops at a non-first fragment.
    """
    exts: list[int] = []
    nh = h.protocol
    off = h.header_len
    while nh in _EXT:
        if len(exts) == MAX_EXT_HEADERS:
            raise BadHeaderError(f"more than {MAX_EXT_HEADERS} IPv6 extension headers")
        if off + 8 > end:
            raise TruncatedError(f"IPv6 extension header {nh} at {off} is truncated")
        if nh == PROTO_FRAGMENT:
            nxt, _reserved, field, ident = _FRAG.unpack_from(buf, off)
            h.frag_header_offset = off
            h.unfrag_nh_offset = h.nh_offset
            h.frag_id = ident
            h.frag_offset = field & 0xFFF8
            h.mf = (field & 1) != 0
            hlen = 8
        else:
            nxt = buf[off]
            hlen = (buf[off + 1] + 1) << 3
            if off + hlen > end:
                raise TruncatedError(f"IPv6 extension header {nh} at {off} runs past the payload")
            if strict:
                try:
                    _check_ext(h, buf, nh, off, hlen, exts)
                except ParameterProblemError:
                    h.ext_headers = tuple(exts)
                    raise
        exts.append(nh)
        h.nh_offset = off
        h.header_len = off = off + hlen
        if nh == PROTO_FRAGMENT and (h.mf or h.frag_offset):
            h.protocol = nxt
            h.ext_headers = tuple(exts)
            if strict:
                _check_fragment(h, buf, end)
                return
            if h.frag_offset:
                return  # a quoted later fragment: no upper-layer header in it
        h.protocol = nh = nxt
    h.ext_headers = tuple(exts)


def _check_ext(
    h: Ipv6Header, buf: BytesLike, nh: int, off: int, hlen: int, exts: list[int]
) -> None:
    """The rules of a received Hop-by-Hop, Routing or Destination Options header."""
    if nh == PROTO_ROUTING:
        if buf[off + 3]:  # RFC 8200 4.4: Segments Left != 0 and no type we know
            raise ParameterProblemError(
                f"IPv6 routing header type {buf[off + 2]} with segments left", 0, off + 2, header=h
            )
        return
    if nh == PROTO_HOPOPTS and exts:
        # RFC 8200 4.1: Hop-by-Hop only right after the IPv6 header.
        raise ParameterProblemError("IPv6 Hop-by-Hop header not first", 1, h.nh_offset, header=h)
    _check_tlvs(buf, off + 2, off + hlen, h)


def _check_fragment(h: Ipv6Header, buf: BytesLike, end: int) -> None:
    """Stateless checks of a received fragment (RFC 8200 4.5, RFC 7112)."""
    data_len = end - h.header_len
    if h.mf and data_len & 7:
        raise ParameterProblemError(
            f"IPv6 fragment of {data_len} bytes is not a multiple of 8", 0, 4, header=h
        )
    if h.frag_offset + data_len > IPV6_MAX_PAYLOAD:
        raise ParameterProblemError(
            "IPv6 fragment ends past 65535 bytes", 0, h.frag_header_offset + 2, header=h
        )
    if h.frag_offset == 0:
        # RFC 7112 5: the first fragment holds the whole chain through the
        # upper-layer header; walk a copy of the rest, bounds only.
        probe = _new(Ipv6Header)
        probe.dst = h.dst
        probe.protocol = h.protocol
        probe.header_len = h.header_len
        probe.nh_offset = h.nh_offset
        probe.frag_offset = 0
        probe.mf = False
        try:
            _walk(probe, buf, end, False)
            ok = probe.header_len + _UPPER_MIN.get(probe.protocol, 1) <= end
        except TruncatedError:
            ok = False
        if not ok:
            raise ParameterProblemError(
                "IPv6 first fragment lacks the upper-layer header", 3, 0, header=h
            )


def parse_ipv6(buf: BytesLike, *, quoted: bool = False) -> tuple[Ipv6Header, memoryview]:
    """Parse an IPv6 packet; return the header and the upper-layer payload (or fragment data).

    ``quoted=True`` parses the start of a packet quoted by an ICMPv6 error: the
    payload length may exceed the buffer (the payload is cut at the buffer's
    end), extension headers are walked with bounds only, and the walk stops at
    a non-first fragment.
    """
    n = len(buf)
    if n < 40:
        raise TruncatedError(f"IPv6 packet of {n} bytes is shorter than a header")
    vtf, plen, nh, hops, s_hi, s_lo, d_hi, d_lo = _HDR.unpack_from(buf, 0)
    if vtf >> 28 != 6:
        raise BadHeaderError(f"IP version {vtf >> 28} is not 6")
    end = 40 + plen
    if end > n:
        if not quoted:
            raise TruncatedError(f"IPv6 payload length {plen} exceeds the {n - 40} bytes received")
        end = n
    mv = buf if type(buf) is memoryview else memoryview(buf)
    # Slot stores instead of a 17-argument __init__ call (once per packet).
    h = _new(Ipv6Header)
    h.version = 6
    h.traffic_class = (vtf >> 20) & 0xFF
    h.flow_label = vtf & 0xFFFFF
    h.payload_length = plen
    h.next_header = nh
    h.hop_limit = hops
    h.src = (s_hi << 64) | s_lo
    h.dst = (d_hi << 64) | d_lo
    h.protocol = nh
    h.header_len = 40
    h.nh_offset = 6
    h.ext_headers = _NO_EXT
    h.frag_header_offset = 0
    h.unfrag_nh_offset = 0
    h.frag_id = 0
    h.frag_offset = 0
    h.mf = False
    if nh not in _UPPER:
        _walk(h, buf, end, not quoted)
    return h, mv[h.header_len : end]


def build_ipv6_header(
    src: int,
    dst: int,
    next_header: int,
    payload_len: int,
    *,
    hop_limit: int = 64,
    traffic_class: int = 0,
    flow_label: int = 0,
) -> bytes:
    """The 40-byte IPv6 header (RFC 8200 3). ``payload_len`` counts extension headers too."""
    if not 0 <= payload_len <= IPV6_MAX_PAYLOAD:
        raise ValueError(f"IPv6 payload of {payload_len} bytes exceeds {IPV6_MAX_PAYLOAD}")
    if not 0 <= flow_label <= 0xFFFFF:
        raise ValueError(f"IPv6 flow label {flow_label} is not 20 bits")
    return _HDR.pack(
        0x60000000 | (traffic_class << 20) | flow_label,
        payload_len,
        next_header,
        hop_limit,
        src >> 64,
        src & 0xFFFFFFFFFFFFFFFF,
        dst >> 64,
        dst & 0xFFFFFFFFFFFFFFFF,
    )


def build_ipv6(
    src: int,
    dst: int,
    next_header: int,
    payload: BytesLike,
    *,
    hop_limit: int = 64,
    traffic_class: int = 0,
    flow_label: int = 0,
) -> bytes:
    """A whole IPv6 packet: header + ``payload`` (which starts with any extension headers)."""
    header = build_ipv6_header(
        src,
        dst,
        next_header,
        len(payload),
        hop_limit=hop_limit,
        traffic_class=traffic_class,
        flow_label=flow_label,
    )
    return b"".join((header, payload))


def build_fragment_header(next_header: int, frag_offset: int, mf: bool, ident: int) -> bytes:
    """An 8-byte Fragment header (RFC 8200 4.5); ``frag_offset`` in bytes, a multiple of 8."""
    if frag_offset & 7 or not 0 <= frag_offset <= 0xFFF8:
        raise ValueError(f"fragment offset {frag_offset} is not a multiple of 8 in range")
    return _FRAG.pack(next_header, 0, frag_offset | int(mf), ident)


def build_options_header(next_header: int, options: BytesLike = b"") -> bytes:
    """A Hop-by-Hop or Destination Options header (RFC 8200 4.3, 4.6) holding the
    encoded TLVs ``options``, padded to a multiple of 8 with Pad1 or PadN (4.2)."""
    pad = -(2 + len(options)) % 8
    padding = b"\x00" if pad == 1 else bytes((1, pad - 2)) + bytes(pad - 2) if pad else b""
    hlen = 2 + len(options) + pad
    if hlen > 2048:
        raise ValueError(f"IPv6 options header of {hlen} bytes is too long")
    return b"".join((bytes((next_header, (hlen >> 3) - 1)), options, padding))


def build_routing_header(
    next_header: int, routing_type: int, segments_left: int, data: BytesLike = b"\x00" * 4
) -> bytes:
    """A Routing header (RFC 8200 4.4); ``data`` (type-specific, from the 5th byte) is
    zero-padded to make the header a multiple of 8 bytes."""
    body = bytes(data) + bytes(-(4 + len(data)) % 8)
    hlen = 4 + len(body)
    if hlen > 2048:
        raise ValueError(f"IPv6 routing header of {hlen} bytes is too long")
    return bytes((next_header, (hlen >> 3) - 1, routing_type, segments_left)) + body
