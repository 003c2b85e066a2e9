"""Fake-IP DNS: answer A queries from an address pool, and map addresses back to names.

Theory of operation
-------------------
In fake-IP mode (sing-box and clash call it so) the gateway answers every DNS
query itself: an ``A`` question for a name gets an address from ``pool``
(``198.18.128.0/17`` style, routed into the device), the same one for as long
as the name keeps it; ``AAAA`` and other types get an empty NOERROR answer
(the client falls back to IPv4). A TCP connection (or a UDP datagram) to a
pool address is then dialed *by name* (SOCKS5 ATYP 3: the proxy resolves it,
so no DNS query ever leaves in the clear and the proxy picks the address).

The mapping is bounded: one entry per pool address; when the pool is used
up, the name used least recently loses its address to the new one (an
application still holding the old address then reaches the new name: keep
the pool large and the TTL short). Answers carry ``ttl`` (default 1 s).

Only the wire format of RFC 1035 4.1 is needed: a query is one question
(QDCOUNT 1, no compression in the question), and the answer copies it and
adds one ``A`` record pointing back at it (``0xC00C``). Anything else
(a response, several questions, a truncated or malformed message) is not
answered here: ``answer`` returns None and the caller relays it as usual.
"""

from __future__ import annotations

import collections
import ipaddress
import struct

__all__ = ["FakeIpPool"]

TYPE_A = 1
CLASS_IN = 1
_HEADER = struct.Struct("!HHHHHH")  # id, flags, qd, an, ns, ar


class FakeIpPool:
    """Names <-> addresses of ``network`` (IPv4), least recently used reused first."""

    def __init__(self, network: str, *, ttl: int = 1) -> None:
        net = ipaddress.IPv4Network(network, strict=False)
        if net.num_addresses < 4:
            raise ValueError("the fake-IP pool needs at least a /30")
        self.network = net
        self.ttl = ttl
        self._first = int(net.network_address) + 1
        self._size = net.num_addresses - 2  # no network or broadcast address
        self._next = 0
        self._by_name: collections.OrderedDict[str, int] = collections.OrderedDict()
        self._by_addr: dict[int, str] = {}

    def __contains__(self, address: str) -> bool:
        try:
            return ipaddress.IPv4Address(address) in self.network
        except ValueError:
            return False

    def address_for(self, name: str) -> str:
        """The pool address of ``name`` (lower-cased, no final dot); allocates."""
        name = name.lower().rstrip(".")
        addr = self._by_name.get(name)
        if addr is not None:
            self._by_name.move_to_end(name)
        else:
            if len(self._by_name) < self._size:
                addr = self._first + self._next
                self._next += 1
            else:  # full: the least recently used name gives its address up
                _old, addr = self._by_name.popitem(last=False)
                del self._by_addr[addr]
            self._by_name[name] = addr
            self._by_addr[addr] = name
        return str(ipaddress.IPv4Address(addr))

    def name_for(self, address: str) -> str | None:
        """The name a pool address stands for, or None (never given out)."""
        try:
            name = self._by_addr.get(int(ipaddress.IPv4Address(address)))
        except ValueError:
            return None
        if name is not None:
            self._by_name.move_to_end(name)
        return name

    def __len__(self) -> int:
        return len(self._by_name)

    def answer(self, query: bytes) -> bytes | None:
        """The response to a DNS query (RFC 1035 4.1), or None to relay it."""
        if len(query) < _HEADER.size:
            return None
        ident, flags, qdcount, ancount, nscount, _arcount = _HEADER.unpack_from(query)
        if flags & 0x8000 or (flags >> 11) & 0xF or qdcount != 1 or ancount or nscount:
            return None  # a response, not a QUERY, or not one plain question
        labels: list[str] = []
        offset = _HEADER.size
        while True:
            if offset >= len(query):
                return None
            length = query[offset]
            offset += 1
            if length == 0:
                break
            if length > 63 or offset + length > len(query):  # pointers have no place here
                return None
            try:
                labels.append(query[offset : offset + length].decode("ascii"))
            except UnicodeDecodeError:
                return None
            offset += length
        if offset + 4 > len(query):
            return None
        qtype, qclass = struct.unpack_from("!HH", query, offset)
        question = query[_HEADER.size : offset + 4]
        # QR, the query's opcode (0) and RD, RA: a recursive resolver's answer
        rflags = 0x8000 | (flags & 0x0100) | 0x0080
        records = b""
        if qtype == TYPE_A and qclass == CLASS_IN and labels:
            address = self.address_for(".".join(labels))
            records = struct.pack("!HHHIH", 0xC00C, TYPE_A, CLASS_IN, self.ttl, 4)
            records += ipaddress.IPv4Address(address).packed
        header = _HEADER.pack(ident, rflags, 1, 1 if records else 0, 0, 0)
        return header + question + records
