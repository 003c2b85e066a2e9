"""Fake-IP DNS: answer A and AAAA queries from address pools, and map addresses back to names.

Theory of operation
-------------------
In fake-IP mode (sing-box and clash call it so) the gateway answers every DNS
query itself: an ``A`` question for a name gets an address from the IPv4 pool
(``198.18.128.0/17`` style, routed into the device), an ``AAAA`` question one
from the IPv6 pool (``2001:2:0:f000::/64`` style; sing-box's ``inet4_range``
and ``inet6_range``), the same one for as long as the name keeps it. A
question for a family without a pool, or of another type, gets an empty
NOERROR answer (the client falls back to the other family). A TCP connection
(or a UDP datagram) to a pool address is then dialed *by name* (SOCKS5 ATYP
3: the proxy resolves it, so no DNS query ever leaves in the clear and the
proxy picks the address).

The mapping is bounded: one entry per pool address; when a pool is used up,
the name used least recently loses its address to the new one (an
application still holding the old address then reaches the new name: keep
the pool large and the TTL short). Answers carry ``ttl`` (default 1 s).

Only the wire format of RFC 1035 4.1 is needed (and the AAAA record of
RFC 3596 2.1): a query is one question (QDCOUNT 1, no compression in the
question), and the answer copies it and adds one record pointing back at it
(``0xC00C``). Anything else (a response, several questions, a truncated or
malformed message) is not answered here: ``answer`` returns None and the
caller relays it as usual.
"""

from __future__ import annotations

import collections
import ipaddress
import struct

__all__ = ["FakeIpPool"]

TYPE_A = 1
TYPE_AAAA = 28  # RFC 3596 2.1
CLASS_IN = 1
_HEADER = struct.Struct("!HHHHHH")  # id, flags, qd, an, ns, ar


class _Range:
    """One family's pool: names <-> addresses, the least recently used reused first.

    ``first`` is the first address handed out (as an int), ``size`` how many
    there are, ``given`` how many have been handed out so far (the next one
    is ``first + given`` until the range is used up); ``by_name`` is in order
    of last use, ``by_addr`` its inverse.
    """

    __slots__ = ("by_addr", "by_name", "first", "given", "network", "size")

    def __init__(self, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> None:
        if network.num_addresses < 4:
            raise ValueError(f"a fake-IP pool needs at least 4 addresses: {network}")
        self.network = network
        self.first = int(network.network_address) + 1
        # IPv4: no network or broadcast address; IPv6: no subnet-router anycast
        # (RFC 4291 2.6.1), and a bound no table reaches
        self.size = min(network.num_addresses - (2 if network.version == 4 else 1), 1 << 32)
        self.given = 0
        self.by_name: collections.OrderedDict[str, int] = collections.OrderedDict()
        self.by_addr: dict[int, str] = {}

    def address_for(self, name: str) -> int:
        addr = self.by_name.get(name)
        if addr is not None:
            self.by_name.move_to_end(name)
            return addr
        if self.given < self.size:
            addr = self.first + self.given
            self.given += 1
        else:  # full: the least recently used name gives its address up
            _old, addr = self.by_name.popitem(last=False)
            del self.by_addr[addr]
        self.by_name[name] = addr
        self.by_addr[addr] = name
        return addr


class FakeIpPool:
    """Names <-> addresses of one IPv4 and/or one IPv6 network.

    ``FakeIpPool("198.18.128.0/17")``, ``FakeIpPool("198.18.128.0/17",
    "2001:2:0:f000::/64")``: at most one network per family.
    """

    def __init__(self, *networks: str, ttl: int = 1) -> None:
        if not networks:
            raise ValueError("a fake-IP pool needs a network")
        self.ttl = ttl
        self._ranges: dict[int, _Range] = {}
        for text in networks:
            net = ipaddress.ip_network(text, strict=False)
            if net.version in self._ranges:
                raise ValueError(f"one fake-IP network per address family: {text}")
            self._ranges[net.version] = _Range(net)
        first = self._ranges.get(4) or self._ranges[6]
        #: the IPv4 network if there is one, else the IPv6 one
        self.network = first.network
        #: every pool network, IPv4 first
        self.networks = [self._ranges[v].network for v in sorted(self._ranges)]

    def _range_of(self, address: str) -> tuple[_Range, int] | None:
        try:
            addr = ipaddress.ip_address(address)
        except ValueError:
            return None
        pool = self._ranges.get(addr.version)
        if pool is None or addr not in pool.network:
            return None
        return pool, int(addr)

    def __contains__(self, address: str) -> bool:
        return self._range_of(address) is not None

    def address_for(self, name: str, version: int = 4) -> str:
        """The pool address of ``name`` (lower-cased, no final dot) in the
        ``version`` family's network; allocates. KeyError without that network."""
        addr = self._ranges[version].address_for(name.lower().rstrip("."))
        return str(ipaddress.IPv4Address(addr) if version == 4 else ipaddress.IPv6Address(addr))

    def name_for(self, address: str) -> str | None:
        """The name a pool address stands for, or None (never given out)."""
        found = self._range_of(address)
        if found is None:
            return None
        pool, addr = found
        name = pool.by_addr.get(addr)
        if name is not None:
            pool.by_name.move_to_end(name)
        return name

    def __len__(self) -> int:
        return sum(len(pool.by_name) for pool in self._ranges.values())

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
        version = 4 if qtype == TYPE_A else 6 if qtype == TYPE_AAAA else 0
        if version in self._ranges and qclass == CLASS_IN and labels:
            packed = ipaddress.ip_address(self.address_for(".".join(labels), version)).packed
            records = struct.pack("!HHHIH", 0xC00C, qtype, CLASS_IN, self.ttl, len(packed))
            records += packed
        header = _HEADER.pack(ident, rflags, 1, 1 if records else 0, 0, 0)
        return header + question + records
