"""TCP segment codec (RFC 9293 3.1) with options (RFC 9293 3.2, RFC 7323, RFC 2018).

Theory of operation
-------------------
``parse_tcp`` reads the fixed header with one ``struct.unpack_from``. Two option
layouts cover almost every data segment and are recognised without a loop: no
options at all, and Linux's ``NOP NOP TS`` (data offset 8, the 32 bytes read by
one unpack). Anything else goes through the general option walker, which:

* stops at EOL, steps over NOP;
* rejects an option whose length byte is missing, < 2 or runs past the data
  offset, and a known option whose length is wrong (MSS 4, WS 3, SACK-permitted
  2, timestamps 10, SACK 2 + 8n with 1 <= n <= 4);
* skips unknown options by their length (RFC 9293 3.1, RFC 1122 4.2.2.5).

Values are reported raw: ``window`` is unscaled and ``wscale`` is not clamped
to 14 (RFC 7323 2.3 says the receiver clamps; that is the engine's policy).
The checksum is verified when both addresses are given (the pseudo-header needs
them). The payload is a slice of the input, never a copy for memoryviews.

With the compiled core, ``parse_tcp`` is ``aionetstack._accel.parse_tcp``: it
handles those two layouts itself (header, timestamps and checksum read in C,
the ``TcpSegment`` record filled slot by slot) and passes everything else
(other options, bad headers and checksums, ``bytearray`` input) to the
pure-Python ``pure_parse_tcp``, so records and errors are the same.

``build_ipv4_tcp`` is the send hot path. The compiled builder
(``aionetstack._accel.build_ipv4_tcp``) allocates the packet once at its final
size, writes the 40-byte header field by field, copies options and payload in
and sums the finished segment for the TCP checksum; it hands any argument it
cannot take as is to the pure-Python ``pure_build_ipv4_tcp`` (so errors are the
same). That one computes both checksums from the field values (the ones'
complement sum of a header is the sum of its 16-bit fields) plus one pass over
options and payload, packs the 40-byte header once and joins it with the
options and the payload, which is copied exactly once, into the returned
``bytes``. Both give identical packets.

IPv6 (RFC 8200 8.1): the pseudo-header holds 128-bit addresses, which the IPv4
paths cannot take (the compiled code reads 32-bit fields). Since ``parse_tcp``
and ``build_tcp`` only ever use ``src + dst`` as part of the checksum sum, the
``*6`` variants pass the folded IPv6 address sum (``pseudo_header_sum6``) as
``src`` and 0 as ``dst``: the same code, compiled or not, then verifies or
fills the IPv6 checksum, and the IPv4 paths are untouched. ``build_ipv6_tcp``
is the IPv6 twin of ``build_ipv4_tcp``: compiled (``_accel.build_ipv6_tcp``,
the 128-bit addresses converted in C) or ``pure_build_ipv6_tcp``, with the
same fallback rule; a connection's builder (``core.tcp.tcb.ipv6_builder``)
keeps its addresses converted between packets.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Final

from aionetstack.wire._loader import load_accel
from aionetstack.wire._record import Record
from aionetstack.wire.checksum import BytesLike, ones_sum, pseudo_header_sum6
from aionetstack.wire.errors import BadHeaderError, BadOptionError, ChecksumError, TruncatedError

__all__ = [
    "ACK",
    "CWR",
    "ECE",
    "FIN",
    "PSH",
    "RST",
    "SYN",
    "TCP_HEADER_LEN",
    "URG",
    "TcpSegment",
    "build_ipv4_tcp",
    "build_ipv6_tcp",
    "build_tcp",
    "build_tcp6",
    "build_tcp_options",
    "flags_to_str",
    "ipv6_tcp_builder",
    "parse_tcp",
    "parse_tcp6",
    "pure_build_ipv4_tcp",
    "pure_build_ipv6_tcp",
    "pure_parse_tcp",
]

# RFC 9293 3.1 control bits, RFC 3168 6.1 ECE/CWR.
FIN: Final = 0x01
SYN: Final = 0x02
RST: Final = 0x04
PSH: Final = 0x08
ACK: Final = 0x10
URG: Final = 0x20
ECE: Final = 0x40
CWR: Final = 0x80

TCP_HEADER_LEN: Final = 20
TCP_MAX_HEADER_LEN: Final = 60
PROTO_TCP: Final = 6

# Option kinds (IANA "TCP Option Kind Numbers").
OPT_EOL: Final = 0
OPT_NOP: Final = 1
OPT_MSS: Final = 2  # RFC 9293 3.2
OPT_WSCALE: Final = 3  # RFC 7323 2.2
OPT_SACK_PERMITTED: Final = 4  # RFC 2018 2
OPT_SACK: Final = 5  # RFC 2018 3
OPT_TIMESTAMPS: Final = 8  # RFC 7323 3.2

MAX_SACK_BLOCKS: Final = 4  # RFC 2018 3: 40 option bytes hold at most 4 blocks

# source port, destination port, sequence, acknowledgment, data offset byte,
# flags byte, window, checksum, urgent pointer.
_HDR = struct.Struct("!HHIIBBHHH")
# The same followed by NOP NOP TS(kind 8, length 10) TSval TSecr (Linux layout).
_HDR_TS = struct.Struct("!HHIIBBHHHIII")
_NOP_NOP_TS: Final = 0x0101080A
# IPv4 header (no options) + TCP fixed header, for build_ipv4_tcp.
_IP_TCP = struct.Struct("!BBHHHBBHIIHHIIBBHHH")
# IPv6 header (RFC 8200 3, addresses as 64-bit halves) + TCP fixed header.
_IP6_TCP = struct.Struct("!IHBBQQQQHHIIBBHHH")
_LOW64: Final = 0xFFFFFFFFFFFFFFFF
_U16 = struct.Struct("!H")
_TS = struct.Struct("!II")
_SACK_BLOCK = struct.Struct("!II")
_new = object.__new__

_FLAG_NAMES: Final = (
    (FIN, "F"),
    (SYN, "S"),
    (RST, "R"),
    (PSH, "P"),
    (ACK, "."),
    (URG, "U"),
    (ECE, "E"),
    (CWR, "W"),
)


def flags_to_str(flags: int) -> str:
    """tcpdump-style flags: ``S``, ``S.``, ``P.``, ``F.``, ``R``, ... (``.`` is ACK)."""
    return "".join(name for bit, name in _FLAG_NAMES if flags & bit) or "none"


class TcpSegment(Record):
    """A parsed TCP segment. ``window`` is raw (unscaled); absent options are None/False/()."""

    __slots__ = (  # noqa: RUF023 - field order is the record order
        "src_port",
        "dst_port",
        "seq",
        "ack",
        "flags",
        "window",
        "urgent",
        "header_len",
        "mss",
        "wscale",
        "sack_permitted",
        "sack_blocks",
        "ts_val",
        "ts_ecr",
        "payload",
        "checksum",
    )

    def __init__(
        self,
        src_port: int,
        dst_port: int,
        seq: int,
        ack: int,
        flags: int,
        window: int,
        urgent: int = 0,
        header_len: int = 20,
        mss: int | None = None,
        wscale: int | None = None,
        sack_permitted: bool = False,
        sack_blocks: tuple[tuple[int, int], ...] = (),
        ts_val: int | None = None,
        ts_ecr: int | None = None,
        payload: memoryview | bytes = b"",
        checksum: int = 0,
    ) -> None:
        self.src_port = src_port
        self.dst_port = dst_port
        self.seq = seq
        self.ack = ack
        self.flags = flags
        self.window = window
        self.urgent = urgent
        self.header_len = header_len
        self.mss = mss
        self.wscale = wscale
        self.sack_permitted = sack_permitted
        self.sack_blocks = sack_blocks
        self.ts_val = ts_val
        self.ts_ecr = ts_ecr
        self.payload = payload
        self.checksum = checksum

    @property
    def seg_len(self) -> int:
        """SEG.LEN (RFC 9293 3.3.1): payload octets plus one for SYN and one for FIN."""
        return len(self.payload) + (self.flags & SYN != 0) + (self.flags & FIN != 0)

    @property
    def flags_str(self) -> str:
        return flags_to_str(self.flags)


def _parse_options(seg: TcpSegment, buf: BytesLike, end: int) -> None:
    """General option walker (see the module docstring for the rules)."""
    i = 20
    while i < end:
        kind = buf[i]
        if kind == OPT_EOL:
            return
        if kind == OPT_NOP:
            i += 1
            continue
        if i + 1 >= end:
            raise BadOptionError(f"TCP option {kind} has no length byte")
        olen = buf[i + 1]
        if olen < 2 or i + olen > end:
            # RFC 9293 3.1: be prepared for an illegal option length (e.g. zero).
            raise BadOptionError(f"TCP option {kind} has bad length {olen}")
        if kind == OPT_TIMESTAMPS:  # RFC 7323 3.2
            if olen != 10:
                raise BadOptionError(f"TCP timestamps option has length {olen}, not 10")
            seg.ts_val, seg.ts_ecr = _TS.unpack_from(buf, i + 2)
        elif kind == OPT_MSS:  # RFC 9293 3.2
            if olen != 4:
                raise BadOptionError(f"TCP MSS option has length {olen}, not 4")
            seg.mss = _U16.unpack_from(buf, i + 2)[0]
        elif kind == OPT_WSCALE:  # RFC 7323 2.2
            if olen != 3:
                raise BadOptionError(f"TCP window scale option has length {olen}, not 3")
            seg.wscale = buf[i + 2]
        elif kind == OPT_SACK_PERMITTED:  # RFC 2018 2
            if olen != 2:
                raise BadOptionError(f"TCP SACK-permitted option has length {olen}, not 2")
            seg.sack_permitted = True
        elif kind == OPT_SACK:  # RFC 2018 3
            count, rem = divmod(olen - 2, 8)
            if rem or not 1 <= count <= MAX_SACK_BLOCKS:
                raise BadOptionError(f"TCP SACK option has bad length {olen}")
            seg.sack_blocks = tuple(
                _SACK_BLOCK.unpack_from(buf, i + 2 + 8 * k) for k in range(count)
            )
        # else: unknown kind, skipped by its length (RFC 9293 3.1).
        i += olen


def pure_parse_tcp(buf: BytesLike, src: int | None = None, dst: int | None = None) -> TcpSegment:
    """Parse a TCP segment (header + payload); verify the checksum when ``src`` and ``dst`` are given."""
    n = len(buf)
    ts_val: int | None
    ts_ecr: int | None
    if n >= 32:
        # One unpack covers the fixed header and, if present, Linux's NOP NOP TS.
        sport, dport, seq, ack, off, flags, window, ck, urg, opt, ts_val, ts_ecr = (
            _HDR_TS.unpack_from(buf, 0)
        )
        hlen = (off >> 4) << 2
        if hlen == 32 and opt == _NOP_NOP_TS:
            walk = False  # fast path: the usual data segment
        else:
            ts_val = ts_ecr = None
            walk = hlen > 20
    elif n >= 20:
        sport, dport, seq, ack, off, flags, window, ck, urg = _HDR.unpack_from(buf, 0)
        hlen = (off >> 4) << 2
        ts_val = ts_ecr = None
        walk = hlen > 20
    else:
        raise TruncatedError(f"TCP segment of {n} bytes is shorter than a header")
    if hlen < 20:
        raise BadHeaderError(f"TCP data offset {hlen >> 2} is below 5")
    if hlen > n:
        raise TruncatedError(f"TCP data offset {hlen} exceeds the {n} bytes received")
    # RFC 9293 3.1: the checksum covers the pseudo-header, header and data
    # (``initial`` need not be folded, so the addresses are added whole).
    if src is not None and dst is not None and ones_sum(buf, src + dst + 6 + n) != 0xFFFF:
        raise ChecksumError("bad TCP checksum")
    if isinstance(buf, bytearray):
        buf = memoryview(buf)
    # Slot stores here instead of a 16-argument __init__ call (once per packet).
    seg = _new(TcpSegment)
    seg.src_port = sport
    seg.dst_port = dport
    seg.seq = seq
    seg.ack = ack
    seg.flags = flags
    seg.window = window
    seg.urgent = urg
    seg.header_len = hlen
    seg.mss = None
    seg.wscale = None
    seg.sack_permitted = False
    seg.sack_blocks = ()
    seg.ts_val = ts_val
    seg.ts_ecr = ts_ecr
    seg.payload = buf[hlen:]
    seg.checksum = ck
    if walk:
        _parse_options(seg, buf, hlen)
    return seg


def build_tcp_options(
    *,
    mss: int | None = None,
    wscale: int | None = None,
    sack_permitted: bool = False,
    timestamps: tuple[int, int] | None = None,
    sack_blocks: tuple[tuple[int, int], ...] | list[tuple[int, int]] = (),
) -> bytes:
    """Options in Linux's layout (``tcp_options_write``), padded to 4 bytes.

    Order: MSS; SACK-permitted + TS (or NOP NOP TS, or NOP NOP SACK-permitted);
    NOP WS; NOP NOP SACK. SACK blocks beyond what fits in the 40 option bytes
    are dropped from the end (the first block is the most recent, RFC 2018 4).
    """
    parts: list[bytes] = []
    if mss is not None:
        parts.append(struct.pack("!BBH", OPT_MSS, 4, mss))
    if timestamps is not None:
        if sack_permitted:
            parts.append(
                struct.pack("!BBBBII", OPT_SACK_PERMITTED, 2, OPT_TIMESTAMPS, 10, *timestamps)
            )
        else:
            parts.append(struct.pack("!BBBBII", OPT_NOP, OPT_NOP, OPT_TIMESTAMPS, 10, *timestamps))
    elif sack_permitted:
        parts.append(bytes((OPT_NOP, OPT_NOP, OPT_SACK_PERMITTED, 2)))
    if wscale is not None:
        parts.append(bytes((OPT_NOP, OPT_WSCALE, 3, wscale)))
    if sack_blocks:
        used = sum(len(p) for p in parts)
        room = (40 - used - 4) // 8
        blocks = list(sack_blocks)[: min(room, MAX_SACK_BLOCKS)]
        if blocks:
            parts.append(bytes((OPT_NOP, OPT_NOP, OPT_SACK, 2 + 8 * len(blocks))))
            for left, right in blocks:
                parts.append(_SACK_BLOCK.pack(left, right))
    return b"".join(parts)


def build_tcp(
    src: int,
    dst: int,
    src_port: int,
    dst_port: int,
    seq: int,
    ack: int,
    flags: int,
    window: int,
    options: BytesLike = b"",
    payload: BytesLike = b"",
    urgent: int = 0,
) -> bytes:
    """A TCP header (+ options) and payload with the checksum filled in."""
    olen = len(options)
    if olen & 3 or olen > 40:
        raise ValueError(f"TCP options must be a multiple of 4 bytes up to 40, not {olen}")
    hlen = 20 + olen
    tcp_len = hlen + len(payload)
    off_byte = hlen << 2  # (hlen // 4) << 4
    # Pseudo-header and header fields, unfolded (32-bit fields added whole:
    # ones' complement addition is addition modulo 0xFFFF and 2**16 == 1 mod it).
    s = (
        src + dst + PROTO_TCP + tcp_len + src_port + dst_port + seq + ack
        + (off_byte << 8) + flags + window + urgent
    )  # fmt: skip
    if olen:
        s = ones_sum(options, s)
    ck = ~ones_sum(payload, s) & 0xFFFF
    header = _HDR.pack(src_port, dst_port, seq, ack, off_byte, flags, window, ck, urgent)
    return b"".join((header, options, payload))


def pure_build_ipv4_tcp(
    src: int,
    dst: int,
    ident: int,
    ttl: int,
    src_port: int,
    dst_port: int,
    seq: int,
    ack: int,
    flags: int,
    window: int,
    options: BytesLike,
    payload: BytesLike,
) -> bytes:
    """A whole IPv4 (DF set, no IP options) + TCP packet with both checksums filled in."""
    olen = len(options)
    if olen & 3 or olen > 40:
        raise ValueError(f"TCP options must be a multiple of 4 bytes up to 40, not {olen}")
    hlen = 20 + olen
    tcp_len = hlen + len(payload)
    total = 20 + tcp_len
    if total > 65535:
        raise ValueError(f"IPv4 packet of {total} bytes exceeds 65535")
    off_byte = hlen << 2
    addr = src + dst
    # RFC 791 3.1 header checksum (version/IHL 0x45, TOS 0, DF 0x4000); see
    # ipv4.ipv4_header_checksum for why the complement is -s % 0xFFFF.
    ip_ck = -(0x4500 + total + ident + 0x4000 + (ttl << 8) + PROTO_TCP + addr) % 0xFFFF
    # RFC 9293 3.1: pseudo-header + header fields + options + payload; 32-bit
    # fields are added whole (ones' complement addition is modulo 0xFFFF).
    s = (
        addr + PROTO_TCP + tcp_len + src_port + dst_port + seq + ack
        + (off_byte << 8) + flags + window
    )  # fmt: skip
    if olen:
        s = ones_sum(options, s)
    tcp_ck = ~ones_sum(payload, s) & 0xFFFF
    header = _IP_TCP.pack(
        0x45, 0, total, ident, 0x4000, ttl, PROTO_TCP, ip_ck, src, dst,
        src_port, dst_port, seq, ack, off_byte, flags, window, tcp_ck, 0,
    )  # fmt: skip
    return b"".join((header, options, payload))


def pure_build_ipv6_tcp(
    src: int,
    dst: int,
    flow_label: int,
    hop_limit: int,
    src_port: int,
    dst_port: int,
    seq: int,
    ack: int,
    flags: int,
    window: int,
    options: BytesLike,
    payload: BytesLike,
) -> bytes:
    """A whole IPv6 (no extension headers) + TCP packet, the checksum filled in (RFC 8200 8.1)."""
    olen = len(options)
    if olen & 3 or olen > 40:
        raise ValueError(f"TCP options must be a multiple of 4 bytes up to 40, not {olen}")
    hlen = 20 + olen
    tcp_len = hlen + len(payload)
    if tcp_len > 65535:
        raise ValueError(f"IPv6 payload of {tcp_len} bytes exceeds 65535")
    if not 0 <= flow_label <= 0xFFFFF:
        raise ValueError(f"IPv6 flow label {flow_label} is not 20 bits")
    off_byte = hlen << 2
    s = (
        pseudo_header_sum6(src, dst, PROTO_TCP, tcp_len) + src_port + dst_port + seq + ack
        + (off_byte << 8) + flags + window
    )  # fmt: skip
    if olen:
        s = ones_sum(options, s)
    tcp_ck = ~ones_sum(payload, s) & 0xFFFF
    header = _IP6_TCP.pack(
        0x60000000 | flow_label, tcp_len, PROTO_TCP, hop_limit,
        src >> 64, src & _LOW64, dst >> 64, dst & _LOW64,
        src_port, dst_port, seq, ack, off_byte, flags, window, tcp_ck, 0,
    )  # fmt: skip
    return b"".join((header, options, payload))


def parse_tcp6(buf: BytesLike, src: int, dst: int) -> TcpSegment:
    """Parse a TCP segment carried over IPv6, verifying the checksum (RFC 8200 8.1)."""
    # parse_tcp sums src + dst + 6 + len: the folded address sum stands for both.
    return parse_tcp(buf, pseudo_header_sum6(src, dst, 0, 0), 0)


def build_tcp6(
    src: int,
    dst: int,
    src_port: int,
    dst_port: int,
    seq: int,
    ack: int,
    flags: int,
    window: int,
    options: BytesLike = b"",
    payload: BytesLike = b"",
    urgent: int = 0,
) -> bytes:
    """``build_tcp`` over IPv6: the checksum covers the IPv6 pseudo-header (RFC 8200 8.1)."""
    return build_tcp(
        pseudo_header_sum6(src, dst, 0, 0), 0, src_port, dst_port, seq, ack, flags, window,
        options, payload, urgent,
    )  # fmt: skip


_accel = load_accel()
build_ipv4_tcp = pure_build_ipv4_tcp
build_ipv6_tcp = pure_build_ipv6_tcp
parse_tcp = pure_parse_tcp
if _accel is not None:
    build_ipv4_tcp = _accel.build_ipv4_tcp
    build_ipv6_tcp = _accel.build_ipv6_tcp
    _accel.register_segment(TcpSegment, TcpSegment.__slots__)
    parse_tcp = _accel.parse_tcp


Ipv6PacketBuilder = Callable[
    [int, int, int, int, int, int, int, int, int, int, BytesLike, BytesLike], bytes
]


def ipv6_tcp_builder(flow_label: int) -> Ipv6PacketBuilder:
    """``build_ipv6_tcp`` for one flow, called as ``build_ipv4_tcp`` is:
    ``(src, dst, ident, hop_limit, src_port, dst_port, seq, ack, flags, window,
    options, payload)``, ``ident`` ignored (RFC 6437: one flow label per flow).
    Compiled, an ``_accel.Ipv6TcpBuilder`` that keeps the flow's addresses
    converted between packets."""
    if type(flow_label) is not int or not 0 <= flow_label <= 0xFFFFF:
        raise ValueError(f"IPv6 flow label {flow_label!r} is not 20 bits")
    if _accel is not None:
        builder: Ipv6PacketBuilder = _accel.Ipv6TcpBuilder(flow_label)
        return builder

    def build(
        src: int, dst: int, ident: int, hop_limit: int, src_port: int, dst_port: int,
        seq: int, ack: int, flags: int, window: int, options: BytesLike, payload: BytesLike,
    ) -> bytes:  # fmt: skip
        return pure_build_ipv6_tcp(
            src, dst, flow_label, hop_limit, src_port, dst_port, seq, ack, flags, window,
            options, payload,
        )  # fmt: skip

    return build
