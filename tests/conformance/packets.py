"""IPv4 and IPv6 / TCP / UDP / ICMP(v6) packets for the conformance harness:
build and parse (IPv6 without extension headers; the family follows the
addresses: one with a colon is IPv6).

Written independently of ``aionetstack.wire`` on purpose: the harness judges
the stack's wire output, so it must not share the stack's codecs.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field

PROTO_ICMP = 1
PROTO_TCP = 6
PROTO_UDP = 17
PROTO_ICMPV6 = 58

FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80
FLAG_LETTERS = (("F", FIN), ("S", SYN), ("R", RST), ("P", PSH), (".", ACK), ("U", URG))
_IP = struct.Struct("!BBHHHBBH4s4s")
_TCP = struct.Struct("!HHIIBBHHH")
_UDP = struct.Struct("!HHHH")
_IP6 = struct.Struct("!IHBB16s16s")


def checksum(data: bytes) -> int:
    """RFC 1071 Internet checksum."""
    if len(data) & 1:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def flags_from_str(text: str) -> int:
    value = 0
    for letter, bit in FLAG_LETTERS:
        if letter in text:
            value |= bit
    return value


def flags_to_str(flags: int) -> str:
    """tcpdump-style: ``S``, ``S.``, ``F.``, ``R``; PSH is left out on purpose (see
    docs/CONFORMANCE.md: Linux and aionetstack set it by different rules)."""
    text = "".join(letter for letter, bit in FLAG_LETTERS if flags & bit and bit != PSH)
    return text or "none"


@dataclass
class TcpOptions:
    mss: int | None = None
    wscale: int | None = None
    sack_ok: bool = False
    ts: tuple[int, int] | None = None
    sack: list[tuple[int, int]] = field(default_factory=list)
    unknown: list[int] = field(default_factory=list)

    def encode(self) -> bytes:
        """Linux's option layout (tcp_options_write)."""
        out = b""
        if self.mss is not None:
            out += struct.pack("!BBH", 2, 4, self.mss)
        if self.ts is not None:
            lead = b"\x04\x02" if self.sack_ok else b"\x01\x01"
            out += lead + struct.pack("!BBII", 8, 10, *self.ts)
        elif self.sack_ok:
            out += b"\x01\x01\x04\x02"
        if self.wscale is not None:
            out += struct.pack("!BBBB", 1, 3, 3, self.wscale)
        if self.sack:
            out += struct.pack("!BBBB", 1, 1, 5, 2 + 8 * len(self.sack))
            for left, right in self.sack:
                out += struct.pack("!II", left & 0xFFFFFFFF, right & 0xFFFFFFFF)
        return out


def parse_options(raw: bytes) -> TcpOptions:
    opts = TcpOptions()
    i = 0
    while i < len(raw):
        kind = raw[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= len(raw) or raw[i + 1] < 2:
            opts.unknown.append(kind)
            break
        length = raw[i + 1]
        body = raw[i + 2 : i + length]
        if kind == 2 and length == 4:
            opts.mss = struct.unpack("!H", body)[0]
        elif kind == 3 and length == 3:
            opts.wscale = body[0]
        elif kind == 4 and length == 2:
            opts.sack_ok = True
        elif kind == 8 and length == 10:
            opts.ts = struct.unpack("!II", body)
        elif kind == 5 and (length - 2) % 8 == 0:
            opts.sack = [struct.unpack("!II", body[j : j + 8]) for j in range(0, length - 2, 8)]
        else:
            opts.unknown.append(kind)
        i += length
    return opts


@dataclass
class Packet:
    """One parsed IPv4 packet (TCP, UDP or ICMP)."""

    src: str
    dst: str
    proto: int
    raw: bytes
    sport: int = 0
    dport: int = 0
    seq: int = 0
    ack: int = 0
    flags: int = 0
    window: int = 0
    urgent: int = 0
    options: TcpOptions = field(default_factory=TcpOptions)
    payload: bytes = b""
    icmp_type: int = -1
    icmp_code: int = -1
    icmp_quote: bytes = b""


def parse(raw: bytes) -> Packet | None:
    if len(raw) >= 40 and raw[0] >> 4 == 6:
        plen = struct.unpack("!H", raw[4:6])[0]
        src = socket.inet_ntop(socket.AF_INET6, raw[8:24])
        dst = socket.inet_ntop(socket.AF_INET6, raw[24:40])
        return _parse_body(Packet(src, dst, raw[6], raw), raw[40 : 40 + plen])
    if len(raw) < 20 or raw[0] >> 4 != 4:
        return None
    ihl = (raw[0] & 15) * 4
    total = struct.unpack("!H", raw[2:4])[0]
    proto = raw[9]
    pkt = Packet(socket.inet_ntoa(raw[12:16]), socket.inet_ntoa(raw[16:20]), proto, raw)
    return _parse_body(pkt, raw[ihl:total])


def _parse_body(pkt: Packet, body: bytes) -> Packet:
    proto = pkt.proto
    if proto == PROTO_TCP and len(body) >= 20:
        sport, dport, seq, ack, off, flags, win, _ck, urg = _TCP.unpack(body[:20])
        hlen = (off >> 4) * 4
        pkt.sport, pkt.dport, pkt.seq, pkt.ack = sport, dport, seq, ack
        pkt.flags, pkt.window, pkt.urgent = flags, win, urg
        pkt.options = parse_options(body[20:hlen])
        pkt.payload = body[hlen:]
    elif proto == PROTO_UDP and len(body) >= 8:
        pkt.sport, pkt.dport = struct.unpack("!HH", body[:4])
        pkt.payload = body[8:]
    elif proto in (PROTO_ICMP, PROTO_ICMPV6) and len(body) >= 8:
        pkt.icmp_type, pkt.icmp_code = body[0], body[1]
        pkt.payload = body[8:]
        pkt.icmp_quote = body[8:]
    return pkt


def _ip(src: str, dst: str, proto: int, body: bytes, ident: int = 0) -> bytes:
    if ":" in src:  # RFC 8200 3: no extension headers, hop limit 64
        return _IP6.pack(
            6 << 28, len(body), proto, 64,
            socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst),
        ) + body  # fmt: skip
    head = _IP.pack(
        0x45, 0, 20 + len(body), ident, 0x4000, 64, proto, 0,
        socket.inet_aton(src), socket.inet_aton(dst),
    )  # fmt: skip
    ck = checksum(head)
    return head[:10] + struct.pack("!H", ck) + head[12:] + body


def _pseudo(src: str, dst: str, proto: int, length: int) -> bytes:
    if ":" in src:  # RFC 8200 8.1
        return (
            socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
            + struct.pack("!IxxxB", length, proto)
        )  # fmt: skip
    return socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, proto, length)


def build_tcp(
    src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int,
    window: int, options: bytes = b"", payload: bytes = b"", urgent: int = 0,
    bad_checksum: bool = False,
) -> bytes:  # fmt: skip
    hlen = 20 + len(options)
    head = _TCP.pack(
        sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, (hlen // 4) << 4, flags,
        window, 0, urgent,
    )  # fmt: skip
    seg = head + options + payload
    ck = checksum(_pseudo(src, dst, PROTO_TCP, len(seg)) + seg)
    if bad_checksum:
        ck ^= 0x5A5A
    seg = seg[:16] + struct.pack("!H", ck) + seg[18:]
    return _ip(src, dst, PROTO_TCP, seg)


def build_udp(src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    head = _UDP.pack(sport, dport, 8 + len(payload), 0)
    ck = checksum(_pseudo(src, dst, PROTO_UDP, len(head) + len(payload)) + head + payload) or 0xFFFF
    return _ip(src, dst, PROTO_UDP, head[:6] + struct.pack("!H", ck) + payload)


def build_icmp(src: str, dst: str, icmp_type: int, code: int, rest: int, body: bytes) -> bytes:
    """An ICMP message (ICMPv6 between IPv6 addresses, its checksum over the
    pseudo-header); ``rest`` is the 32-bit word after the checksum (e.g. the MTU)."""
    head = struct.pack("!BBHI", icmp_type, code, 0, rest)
    if ":" in src:
        ck = checksum(_pseudo(src, dst, PROTO_ICMPV6, len(head) + len(body)) + head + body)
        return _ip(src, dst, PROTO_ICMPV6, head[:2] + struct.pack("!H", ck) + head[4:] + body)
    ck = checksum(head + body)
    return _ip(src, dst, PROTO_ICMP, head[:2] + struct.pack("!H", ck) + head[4:] + body)
