"""Capture file encodings: classic pcap and pcapng, LINKTYPE_RAW (101): bare IPv4.

Pure encoding and decoding (bytes in, bytes out); the writers that own a file
live in ``aionetstack.link.pcap`` (``PcapWriter``, ``PcapngWriter``,
``read_pcap``, ``read_pcapng``). ``PcapWriter`` and ``read_pcap`` stay
importable from this module for compatibility.

pcap (libpcap): a 24-byte global header, then a 16-byte record header per packet
(seconds, micro- or nanoseconds, captured length, original length; native byte
order, as libpcap does). The nanosecond variant uses the magic 0xA1B23C4D.

pcapng (draft-ietf-opsawg-pcapng, "PCAP Now Generic"): a Section Header Block,
one Interface Description Block per interface (section 4.2: link type, snap
length, ``if_name``, ``if_description``, ``if_tsresol``), then one Enhanced
Packet Block per packet (section 4.3) naming its interface and carrying the
``epb_flags`` option (section 4.3.1), whose two low bits are the direction:
1 inbound, 2 outbound. Wireshark filters them with
``frame.packet_flags_direction`` (and ``frame.interface_id``). Blocks are
written little-endian; the parser reads either byte order.
"""

from __future__ import annotations

import struct
from typing import Final, NamedTuple

from aionetstack.wire.checksum import BytesLike
from aionetstack.wire.errors import BadHeaderError, TruncatedError

__all__ = [
    "DIRECTION_INBOUND",
    "DIRECTION_OUTBOUND",
    "LINKTYPE_RAW",
    "PcapngInterface",
    "PcapngPacket",
    "parse_pcap",
    "parse_pcapng",
    "pcap_global_header",
    "pcap_record_header",
    "pcapng_enhanced_packet",
    "pcapng_interface_description",
    "pcapng_section_header",
    # PcapWriter and read_pcap: compatibility aliases of link.pcap (see __getattr__)
]

LINKTYPE_RAW: Final = 101
MAGIC_USEC: Final = 0xA1B2C3D4
MAGIC_NSEC: Final = 0xA1B23C4D

_GLOBAL = struct.Struct("=IHHiIII")  # magic, 2, 4, thiszone, sigfigs, snaplen, linktype
_RECORD = struct.Struct("=IIII")  # ts_sec, ts_frac, incl_len, orig_len

# pcapng block types and options (draft-ietf-opsawg-pcapng sections 4.1-4.3)
BT_SHB: Final = 0x0A0D0D0A
BT_IDB: Final = 0x00000001
BT_EPB: Final = 0x00000006
BYTE_ORDER_MAGIC: Final = 0x1A2B3C4D
OPT_ENDOFOPT: Final = 0
IF_NAME: Final = 2
IF_DESCRIPTION: Final = 3
IF_TSRESOL: Final = 9
EPB_FLAGS: Final = 2
# epb_flags bits 0-1: the direction (section 4.3.1)
DIRECTION_INBOUND: Final = 1
DIRECTION_OUTBOUND: Final = 2
NANOSECONDS: Final = 9  # if_tsresol: 10**-9 s

_BLOCK_HEAD = struct.Struct("<II")  # block type, block total length
_EPB_HEAD = struct.Struct("<IIIIIII")  # type, length, interface, ts high, ts low, caplen, len


# --- pcap ------------------------------------------------------------------
def pcap_global_header(*, nanosecond: bool = False, snaplen: int = 65535) -> bytes:
    """The 24-byte pcap file header (LINKTYPE_RAW)."""
    magic = MAGIC_NSEC if nanosecond else MAGIC_USEC
    return _GLOBAL.pack(magic, 2, 4, 0, 0, snaplen, LINKTYPE_RAW)


def pcap_record_header(length: int, timestamp: float, *, scale: int, snaplen: int) -> bytes:
    """The 16-byte record header of a packet of ``length`` bytes; ``scale`` is
    10**6 or 10**9 ticks per second. The caller writes ``min(length, snaplen)`` bytes."""
    ticks = round(timestamp * scale)
    sec, frac = divmod(ticks, scale)
    incl = length if length <= snaplen else snaplen
    return _RECORD.pack(sec & 0xFFFFFFFF, frac, incl, length)


def parse_pcap(data: bytes) -> list[tuple[float, bytes]]:
    """Every (timestamp, packet) of a pcap file's bytes; raises ``WireError`` if malformed."""
    if len(data) < 24:
        raise TruncatedError("pcap file shorter than its global header")
    magic_le = int.from_bytes(data[:4], "little")
    magic_be = int.from_bytes(data[:4], "big")
    if magic_le in (MAGIC_USEC, MAGIC_NSEC):
        order, magic = "<", magic_le
    elif magic_be in (MAGIC_USEC, MAGIC_NSEC):
        order, magic = ">", magic_be
    else:
        raise BadHeaderError(f"not a pcap file (magic {data[:4].hex()})")
    scale = 1e9 if magic == MAGIC_NSEC else 1e6
    record = struct.Struct(order + "IIII")
    out: list[tuple[float, bytes]] = []
    pos = 24
    n = len(data)
    while pos < n:
        if pos + 16 > n:
            raise TruncatedError("pcap record header truncated")
        sec, frac, incl, _orig = record.unpack_from(data, pos)
        pos += 16
        if pos + incl > n:
            raise TruncatedError("pcap record data truncated")
        out.append((sec + frac / scale, data[pos : pos + incl]))
        pos += incl
    return out


# --- pcapng ----------------------------------------------------------------
def _pad4(n: int) -> int:
    return (4 - n % 4) % 4


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + b"\0" * _pad4(len(value))


def _block(block_type: int, body: bytes) -> bytes:
    total = 12 + len(body)
    return _BLOCK_HEAD.pack(block_type, total) + body + struct.pack("<I", total)


def pcapng_section_header() -> bytes:
    """A Section Header Block: version 1.0, section length unknown (-1), no options."""
    return _block(BT_SHB, struct.pack("<IHHq", BYTE_ORDER_MAGIC, 1, 0, -1))


def pcapng_interface_description(
    name: str, description: str = "", *, snaplen: int = 65535, linktype: int = LINKTYPE_RAW
) -> bytes:
    """An Interface Description Block with nanosecond timestamps."""
    options = _option(IF_NAME, name.encode())
    if description:
        options += _option(IF_DESCRIPTION, description.encode())
    options += _option(IF_TSRESOL, bytes([NANOSECONDS])) + _option(OPT_ENDOFOPT, b"")
    return _block(BT_IDB, struct.pack("<HHI", linktype, 0, snaplen) + options)


def pcapng_enhanced_packet(
    interface: int, timestamp: float, packet: BytesLike, *, direction: int = 0, snaplen: int = 65535
) -> bytes:
    """An Enhanced Packet Block (nanosecond ticks, as the IDB above declares);
    ``direction`` (``DIRECTION_INBOUND``/``DIRECTION_OUTBOUND``) goes to ``epb_flags``."""
    length = len(packet)
    incl = length if length <= snaplen else snaplen
    ticks = round(timestamp * 1_000_000_000)
    options = b""
    if direction:
        options = _option(EPB_FLAGS, struct.pack("<I", direction)) + _option(OPT_ENDOFOPT, b"")
    total = 32 + incl + _pad4(incl) + len(options)
    return b"".join(
        (
            _EPB_HEAD.pack(
                BT_EPB,
                total,
                interface,
                (ticks >> 32) & 0xFFFFFFFF,
                ticks & 0xFFFFFFFF,
                incl,
                length,
            ),
            bytes(packet[:incl]),
            b"\0" * _pad4(incl),
            options,
            struct.pack("<I", total),
        )
    )


class PcapngInterface(NamedTuple):
    linktype: int
    snaplen: int
    name: str
    description: str
    tsresol: int  # ticks per second


class PcapngPacket(NamedTuple):
    interface: int
    timestamp: float
    direction: int  # 0 unknown, 1 inbound, 2 outbound
    data: bytes


def _options(data: bytes, pos: int, end: int, order: str) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    while pos + 4 <= end:
        code, length = struct.unpack_from(order + "HH", data, pos)
        pos += 4
        if code == OPT_ENDOFOPT:
            break
        if pos + length > end:
            raise TruncatedError("pcapng option truncated")
        out[code] = data[pos : pos + length]
        pos += length + _pad4(length)
    return out


def _tsresol(raw: bytes | None) -> int:
    if not raw:
        return 1_000_000
    v = raw[0]
    return 1 << (v & 0x7F) if v & 0x80 else int(10 ** (v & 0x7F))


def parse_pcapng(data: bytes) -> tuple[list[PcapngInterface], list[PcapngPacket]]:
    """The interfaces and packets of a pcapng file's bytes (one or more sections;
    unknown blocks are skipped); raises ``WireError`` if malformed."""
    interfaces: list[PcapngInterface] = []
    packets: list[PcapngPacket] = []
    pos, n = 0, len(data)
    order = "<"
    while pos < n:
        if pos + 12 > n:
            raise TruncatedError("pcapng block header truncated")
        if data[pos : pos + 4] == BT_SHB.to_bytes(4, "little"):
            magic = data[pos + 8 : pos + 12]
            if magic == BYTE_ORDER_MAGIC.to_bytes(4, "little"):
                order = "<"
            elif magic == BYTE_ORDER_MAGIC.to_bytes(4, "big"):
                order = ">"
            else:
                raise BadHeaderError("pcapng section header: bad byte-order magic")
            interfaces = []  # interface ids are per section
        elif pos == 0:
            raise BadHeaderError(f"not a pcapng file (block type {data[:4].hex()})")
        block_type, total = struct.unpack_from(order + "II", data, pos)
        if total < 12 or total % 4 or pos + total > n:
            raise TruncatedError("pcapng block length invalid or truncated")
        body, end = pos + 8, pos + total - 4
        if block_type == BT_IDB:
            linktype, _res, snaplen = struct.unpack_from(order + "HHI", data, body)
            opts = _options(data, body + 8, end, order)
            interfaces.append(
                PcapngInterface(
                    linktype,
                    snaplen,
                    opts.get(IF_NAME, b"").decode(errors="replace"),
                    opts.get(IF_DESCRIPTION, b"").decode(errors="replace"),
                    _tsresol(opts.get(IF_TSRESOL)),
                )
            )
        elif block_type == BT_EPB:
            iface, hi, lo, incl, _length = struct.unpack_from(order + "IIIII", data, body)
            if iface >= len(interfaces):
                raise BadHeaderError(f"pcapng packet on undeclared interface {iface}")
            start = body + 20
            if start + incl > end:
                raise TruncatedError("pcapng packet data truncated")
            opts = _options(data, start + incl + _pad4(incl), end, order)
            flags = opts.get(EPB_FLAGS)
            direction = struct.unpack(order + "I", flags)[0] & 3 if flags and len(flags) == 4 else 0
            ts = ((hi << 32) | lo) / interfaces[iface].tsresol
            packets.append(PcapngPacket(iface, ts, direction, data[start : start + incl]))
        pos += total
    return interfaces, packets
