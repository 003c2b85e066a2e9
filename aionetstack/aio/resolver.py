"""Name resolution for a ``Stack``: the ``resolver`` hook and a DNS stub resolver.

Theory of operation
-------------------
A host name given to ``create_connection``, ``create_server``, ``ping`` or
``getaddrinfo`` is resolved by the stack's resolver: an async callable
``resolver(host) -> Sequence[str]`` of addresses (IPv4 or IPv6), passed as
``Stack(resolver=...)``, or else the ``DnsResolver`` built when
``StackConfig(nameservers=[...])`` names DNS servers. Without either a host
name raises ``socket.gaierror`` saying how to enable resolution.

``DnsResolver`` is a stub resolver (RFC 1034 5.3.1) that speaks DNS over the
stack itself, as glibc's does with ``/etc/resolv.conf``:

* an A query, and an AAAA query (RFC 3596) side by side with it, only for the
  families the stack has an address of (as glibc's ``AI_ADDRCONFIG``); the
  IPv6 addresses come first (RFC 6724's default policy prefers native IPv6).
  Each goes over UDP to each server in turn, ``timeout`` seconds each, for
  ``attempts`` rounds (resolv.conf ``timeout:``/``attempts:``); a reply counts
  only from the server asked, with the query's id and question (RFC 5452 9.1);
* a truncated reply (TC) is asked again over TCP, two-byte length prefix
  (RFC 1035 4.2.2, RFC 7766);
* NXDOMAIN ends the search (``EAI_NONAME``), an empty answer too
  (``EAI_NODATA``); SERVFAIL, REFUSED, a timeout or an ICMP error move to the
  next server, and when none answers, ``EAI_AGAIN``; with both queries, the
  addresses either one found are the answer, else NXDOMAIN from either is
  ``EAI_NONAME``, ``EAI_AGAIN`` from either wins over ``EAI_NODATA``;
* answers are cached for their smallest TTL (RFC 1035 3.2.1, RFC 2181 5.2),
  at most ``cache_size`` names, least recently used evicted first.
"""

from __future__ import annotations

import asyncio
import collections
import random
import socket
import struct
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from aionetstack.wire.dns import (
    RCODE_NOERROR,
    RCODE_NXDOMAIN,
    TYPE_A,
    TYPE_AAAA,
    DnsResponse,
    addresses_for,
    build_query,
    encode_name,
    parse_response,
)
from aionetstack.wire.errors import WireError

__all__ = ["DnsResolver", "Resolver", "no_resolver_error"]

#: ``Stack(resolver=...)``: host name -> addresses (IPv4 dotted quads or IPv6 text).
Resolver = Callable[[str], Awaitable[Sequence[str]]]

DNS_PORT = 53
MAX_TTL = 7 * 86400  # RFC 8767 4: cap TTLs at 7 days


def no_resolver_error(host: str) -> socket.gaierror:
    """What a host name gets on a stack without name resolution."""
    return socket.gaierror(
        socket.EAI_NONAME,
        f"cannot resolve {host!r}: this Stack has no name resolution; pass "
        "Stack(resolver=...) (an async callable returning addresses) or "
        "StackConfig(nameservers=['198.18.0.1']) to query DNS servers over the stack",
    )


class _Dialer(Protocol):
    """What the resolver needs of a ``Stack`` (stack.py is not imported here)."""

    @property
    def addresses(self) -> list[str]: ...

    def create_datagram_endpoint(
        self,
        protocol_factory: Callable[[], asyncio.DatagramProtocol],
        local_addr: tuple[str, int] | None = ...,
        remote_addr: tuple[str, int] | None = ...,
    ) -> Awaitable[tuple[asyncio.DatagramTransport, Any]]: ...

    def open_connection(
        self, host: str, port: int
    ) -> Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]: ...


class _Answer(asyncio.DatagramProtocol):
    """Waits for the one reply that matches the query (RFC 5452 9.1)."""

    def __init__(self, fut: asyncio.Future[DnsResponse], server: tuple[str, int], ident: int,
                 qname: str, qtype: int) -> None:  # fmt: skip
        self.fut = fut
        self.server = server
        self.ident = ident
        self.qname = qname
        self.qtype = qtype

    def datagram_received(self, data: bytes, addr: tuple[str | Any, ...]) -> None:
        if self.fut.done() or tuple(addr[:2]) != self.server:  # IPv6: a 4-tuple
            return
        try:
            response = parse_response(data)
        except WireError:
            return  # not an answer to us: keep waiting
        if _matches(response, self.ident, self.qname, self.qtype):
            self.fut.set_result(response)

    def error_received(self, exc: Exception) -> None:
        if not self.fut.done():
            self.fut.set_exception(exc)  # ICMP unreachable: the next server


def _matches(response: DnsResponse, ident: int, qname: str, qtype: int) -> bool:
    return response.ident == ident and response.qname == qname and response.qtype == qtype


class DnsResolver:
    """A DNS stub resolver over a ``Stack`` (see the module docstring)."""

    def __init__(
        self,
        stack: _Dialer,
        nameservers: Sequence[str],
        *,
        timeout: float = 5.0,
        attempts: int = 2,
        cache_size: int = 256,
    ) -> None:
        if not nameservers:
            raise ValueError("DnsResolver needs at least one name server")
        self._stack = stack
        self.nameservers = tuple(nameservers)
        self.timeout = timeout
        self.attempts = attempts
        self._cache: collections.OrderedDict[str, tuple[float, list[str]]] = (
            collections.OrderedDict()
        )
        self._cache_size = cache_size
        self.queries = 0  # queries sent (UDP and TCP), for tests and stats
        self.tcp_queries = 0

    async def __call__(self, host: str) -> list[str]:
        name = host.rstrip(".").lower()
        try:
            encode_name(name)
        except ValueError as exc:
            raise socket.gaierror(socket.EAI_NONAME, str(exc)) from None
        now = asyncio.get_running_loop().time()
        cached = self._cache.get(name)
        if cached is not None:
            if cached[0] > now:
                self._cache.move_to_end(name)
                return list(cached[1])
            del self._cache[name]
        addresses, ttl = await self._query(name)
        if ttl > 0:
            self._cache[name] = (now + min(ttl, MAX_TTL), addresses)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return list(addresses)

    def _qtypes(self) -> list[int]:
        """AAAA and/or A: for the families the stack has an address of."""
        addresses = self._stack.addresses
        v6 = any(":" in address for address in addresses)
        v4 = any(":" not in address for address in addresses)
        return [t for t, wanted in ((TYPE_AAAA, v6), (TYPE_A, v4 or not v6)) if wanted]

    async def _query(self, name: str) -> tuple[list[str], int]:
        qtypes = self._qtypes()
        if len(qtypes) == 1:
            return await self._query_type(name, qtypes[0])
        results = await asyncio.gather(
            *(self._query_type(name, t) for t in qtypes), return_exceptions=True
        )
        found: list[str] = []
        ttls: list[int] = []
        errors: list[socket.gaierror] = []
        for result in results:
            if isinstance(result, socket.gaierror):
                errors.append(result)
            elif isinstance(result, BaseException):
                raise result
            else:
                found += result[0]
                ttls.append(result[1])
        if found:
            return found, min(ttls)
        for code in (socket.EAI_NONAME, socket.EAI_AGAIN):
            for error in errors:
                if error.errno == code:
                    raise error
        raise errors[0]

    async def _query_type(self, name: str, qtype: int) -> tuple[list[str], int]:
        errors: list[str] = []
        for _ in range(self.attempts):
            for server in self.nameservers:
                try:
                    response = await self._ask(server, name, qtype)
                except (OSError, TimeoutError, WireError) as exc:
                    errors.append(f"{server}: {exc or type(exc).__name__}")
                    continue
                if response.rcode == RCODE_NXDOMAIN:
                    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
                if response.rcode != RCODE_NOERROR:
                    errors.append(f"{server}: rcode {response.rcode}")
                    continue  # SERVFAIL, REFUSED...: the next server
                addresses, ttl = addresses_for(response)
                if not addresses:
                    raise socket.gaierror(socket.EAI_NODATA, "No address associated with hostname")
                return addresses, ttl
        raise socket.gaierror(
            socket.EAI_AGAIN,
            f"Temporary failure in name resolution ({'; '.join(errors[-4:])})",
        )

    async def _ask(self, server: str, name: str, qtype: int = TYPE_A) -> DnsResponse:
        ident = random.getrandbits(16)  # RFC 5452 9.2: an unpredictable id
        query = build_query(ident, name, qtype)
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[DnsResponse] = loop.create_future()
        addr = (server, DNS_PORT)
        transport, _ = await self._stack.create_datagram_endpoint(
            lambda: _Answer(fut, addr, ident, name, qtype), remote_addr=addr
        )
        try:
            self.queries += 1
            transport.sendto(query)
            async with asyncio.timeout(self.timeout):
                response = await fut
        finally:
            transport.close()
        if response.truncated:
            return await self._ask_tcp(server, ident, name, qtype, query)
        return response

    async def _ask_tcp(
        self, server: str, ident: int, name: str, qtype: int, query: bytes
    ) -> DnsResponse:
        """RFC 7766 5: the same question over TCP, with its two-byte length."""
        self.tcp_queries += 1
        self.queries += 1
        async with asyncio.timeout(self.timeout):
            reader, writer = await self._stack.open_connection(server, DNS_PORT)
            try:
                writer.write(struct.pack("!H", len(query)) + query)
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                response = parse_response(await reader.readexactly(length))
            finally:
                writer.close()
        if not _matches(response, ident, name, qtype):
            raise WireError("dns: the TCP answer does not match the question")
        return response
