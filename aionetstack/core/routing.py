"""Interfaces and the routing tables of both families (longest-prefix match).

Theory of operation
-------------------
Every interface is a point-to-point link (TUN or in-memory) with one address,
a prefix and an MTU; there is no ARP, so "the next hop" only decides which
interface a packet leaves by (and is recorded for observability).

Adding an interface installs its *connected* route (``net/prefixlen`` via no
gateway, RFC 1812 5.2.4.3). ``set_gateway`` installs or removes the default
route ``0.0.0.0/0`` through the interface whose subnet contains the gateway
(an indirect route: next hop = the gateway). ``add_route`` adds explicit
routes. ``lookup(dest)`` returns the most specific matching route (RFC 1812
5.2.4.3 "longest match"), ties broken by insertion order, and fills in the
preferred source address: the route's own ``source`` or the address of the
interface it leaves by (Linux ``ip_route_connect`` / ``inet_select_addr``).

Routes are few and lookups happen on connect/sendto (not per TCP segment), so
the table is a list kept sorted by prefix length, plus a small result cache
per destination, cleared whenever the table changes.

*IPv6* (RFC 8200, RFC 4861 5.2 "longest prefix match"): an interface carries
at most one IPv4 address (``address``, 0 when it has none) and any number of
IPv6 addresses (``addresses6``, each with its connected route). IPv6 routes
live in their own sorted list with their own default gateway. The source of a
packet to an IPv6 destination is the address of the outgoing interface with
the longest prefix in common with it (RFC 6724 5 rule 8, simply).

The stack never holds an IPv6 address below 2**32: ``::``, ``::1`` and the
deprecated IPv4-compatible ``::/96`` (RFC 4291 2.5.5.1) are refused wherever
an address comes in, so one table (``local_addresses``, the lookup cache, the
demux dicts of the stack) holds both families without a family tag.
"""

from __future__ import annotations

import errno

from aionetstack.wire.addr import int_to_ip6, prefix_mask6
from aionetstack.wire.ipv6 import IPV6_MIN_MTU

ALL_ONES = 0xFFFFFFFF
LIMITED_BROADCAST = 0xFFFFFFFF
ALL_ONES6 = (1 << 128) - 1


def prefix_mask(prefixlen: int) -> int:
    """The netmask of ``prefixlen`` bits, as an int."""
    if not 0 <= prefixlen <= 32:
        raise ValueError(f"prefix length out of range: {prefixlen}")
    return (ALL_ONES << (32 - prefixlen)) & ALL_ONES


def is_v6_value(addr: int) -> bool:
    """An address value the stack holds is IPv6 exactly when it exceeds 32 bits
    (see the module docstring)."""
    return addr > ALL_ONES


def valid_v6(addr: int) -> bool:
    """A unicast IPv6 address the stack can use: not below 2**32 (``::``, ``::1``,
    IPv4-compatible), not multicast (ff00::/8), not IPv4-mapped (::ffff:0:0/96)."""
    return ALL_ONES < addr <= ALL_ONES6 and addr >> 120 != 0xFF and addr >> 32 != 0xFFFF


class Interface:
    """One attached link: an IPv4 address and prefix (``address`` 0: none), IPv6
    addresses (``addresses6``: (address, prefixlen)), an MTU."""

    __slots__ = (
        "address", "addresses6", "broadcast", "ifindex", "mask", "mtu", "network", "prefixlen",
    )  # fmt: skip

    def __init__(self, ifindex: int, address: int, prefixlen: int, mtu: int) -> None:
        self.ifindex = ifindex
        self.address = address
        self.prefixlen = prefixlen
        self.mask = prefix_mask(prefixlen)
        self.network = address & self.mask
        self.mtu = mtu
        self.addresses6: list[tuple[int, int]] = []
        # /31 and /32 have no directed broadcast (RFC 3021).
        self.broadcast: int | None = (
            (self.network | (~self.mask & ALL_ONES)) if prefixlen < 31 and address else None
        )

    def source6(self, dest: int) -> int | None:
        """RFC 6724 5 rule 8 (simply): the IPv6 address sharing the longest prefix with ``dest``."""
        best: int | None = None
        best_len = -1
        for addr, _plen in self.addresses6:
            common = 128 - (addr ^ dest).bit_length()
            if common > best_len:
                best, best_len = addr, common
        return best

    def __repr__(self) -> str:
        v6 = "".join(f", {int_to_ip6(a)}/{p}" for a, p in self.addresses6)
        return (
            f"Interface(ifindex={self.ifindex}, address={_fmt(self.address)}/{self.prefixlen}"
            f"{v6}, mtu={self.mtu})"
        )


class Route:
    """One routing table entry."""

    __slots__ = ("family", "gateway", "ifindex", "mask", "network", "prefixlen", "source")

    def __init__(
        self,
        network: int,
        prefixlen: int,
        ifindex: int,
        gateway: int | None,
        source: int | None,
        family: int = 4,
    ) -> None:
        self.family = family
        self.mask = prefix_mask(prefixlen) if family == 4 else prefix_mask6(prefixlen)
        self.network = network & self.mask
        self.prefixlen = prefixlen
        self.ifindex = ifindex
        self.gateway = gateway
        self.source = source

    def __repr__(self) -> str:
        via = f" via {_fmt(self.gateway)}" if self.gateway is not None else ""
        return f"Route({_fmt(self.network)}/{self.prefixlen}{via} dev {self.ifindex})"


class RouteResult:
    """The answer of a lookup: where a packet to ``dest`` goes and from which source."""

    __slots__ = ("broadcast", "dest", "ifindex", "mtu", "next_hop", "route", "source")

    def __init__(
        self, dest: int, route: Route, interface: Interface, broadcast: bool, source: int = 0
    ) -> None:
        self.dest = dest
        self.route = route
        self.ifindex = interface.ifindex
        self.mtu = interface.mtu
        self.next_hop = route.gateway if route.gateway is not None else dest
        self.source = route.source if route.source is not None else (source or interface.address)
        self.broadcast = broadcast

    def __repr__(self) -> str:
        return (
            f"RouteResult(dest={_fmt(self.dest)}, ifindex={self.ifindex}, "
            f"next_hop={_fmt(self.next_hop)}, source={_fmt(self.source)})"
        )


def _fmt(addr: int) -> str:
    if addr > ALL_ONES:
        return int_to_ip6(addr)
    return f"{addr >> 24 & 255}.{addr >> 16 & 255}.{addr >> 8 & 255}.{addr & 255}"


class RoutingTable:
    """Interfaces, routes, and the sets the IPv4 input path checks per packet."""

    __slots__ = (
        "_cache", "_next_ifindex", "broadcasts", "interfaces", "local_addresses", "routes",
        "routes6",
    )  # fmt: skip

    def __init__(self) -> None:
        self.interfaces: dict[int, Interface] = {}
        self.routes: list[Route] = []
        self.routes6: list[Route] = []
        # Per-packet membership tests (IPv4 input, RFC 1122 3.3.6 / 3.2.1.3).
        self.local_addresses: set[int] = set()
        self.broadcasts: set[int] = {LIMITED_BROADCAST}
        self._cache: dict[int, RouteResult] = {}
        self._next_ifindex = 1

    # --- configuration -------------------------------------------------
    def add_interface(self, address: int, prefixlen: int, mtu: int, family: int = 4) -> Interface:
        """A new interface with one address (``family`` 6: an IPv6 address)."""
        if family == 6:
            if not 68 <= mtu <= 65535:
                raise ValueError(f"MTU out of range [68, 65535]: {mtu}")
            iface = Interface(self._next_ifindex, 0, 0, mtu)
            self._next_ifindex += 1
            self.interfaces[iface.ifindex] = iface
            try:
                self.add_address6(iface.ifindex, address, prefixlen)
            except BaseException:
                del self.interfaces[iface.ifindex]
                raise
            return iface
        if family != 4:
            raise ValueError(f"bad address family: {family!r}")
        if not 0 <= address <= ALL_ONES:
            raise ValueError(f"bad IPv4 address: {address!r}")
        if not 68 <= mtu <= 65535:  # RFC 791: every host must accept 68
            raise ValueError(f"MTU out of range [68, 65535]: {mtu}")
        iface = Interface(self._next_ifindex, address, prefixlen, mtu)
        if address == 0 or address in self.local_addresses or address == iface.broadcast:
            raise ValueError(f"unusable interface address: {_fmt(address)}")
        self._next_ifindex += 1
        self.interfaces[iface.ifindex] = iface
        self.local_addresses.add(address)
        if iface.broadcast is not None:
            self.broadcasts.add(iface.broadcast)
        self._insert(Route(address, prefixlen, iface.ifindex, None, None))
        return iface

    def add_address(self, ifindex: int, address: int, prefixlen: int, family: int) -> None:
        """Another address on interface ``ifindex``: IPv6 (any number), or its IPv4
        address when it has none."""
        iface = self.interfaces.get(ifindex)
        if iface is None:
            raise ValueError(f"no interface {ifindex}")
        if family == 6:
            self.add_address6(ifindex, address, prefixlen)
            return
        if family != 4 or iface.address:
            raise ValueError("an interface has at most one IPv4 address")
        if not 0 < address <= ALL_ONES or address in self.local_addresses:
            raise ValueError(f"unusable interface address: {_fmt(address)}")
        fresh = Interface(ifindex, address, prefixlen, iface.mtu)
        if address == fresh.broadcast:
            raise ValueError(f"unusable interface address: {_fmt(address)}")
        for name in ("address", "prefixlen", "mask", "network", "broadcast"):
            setattr(iface, name, getattr(fresh, name))
        self.local_addresses.add(address)
        if iface.broadcast is not None:
            self.broadcasts.add(iface.broadcast)
        self._insert(Route(address, prefixlen, ifindex, None, None))

    def add_address6(self, ifindex: int, address: int, prefixlen: int) -> None:
        iface = self.interfaces[ifindex]
        if not valid_v6(address) or address in self.local_addresses:
            raise ValueError(f"unusable IPv6 interface address: {address:#x}")
        if not 0 <= prefixlen <= 128:
            raise ValueError(f"prefix length out of range: {prefixlen}")
        if iface.mtu < IPV6_MIN_MTU:  # RFC 8200 5: every IPv6 link carries 1280
            raise ValueError(f"an IPv6 link needs an MTU of {IPV6_MIN_MTU} or more")
        iface.addresses6.append((address, prefixlen))
        self.local_addresses.add(address)
        self._insert(Route(address, prefixlen, ifindex, None, None, 6))

    def add_route(
        self,
        network: int,
        prefixlen: int,
        *,
        gateway: int | None = None,
        ifindex: int | None = None,
        source: int | None = None,
        family: int = 4,
    ) -> Route:
        """Add a static route; with a gateway the interface defaults to the one reaching it."""
        if ifindex is None:
            if gateway is None:
                raise ValueError("a route needs a gateway or an interface")
            iface = self._connected_interface(gateway, family)
            if iface is None:
                raise OSError(
                    errno.ENETUNREACH, f"gateway {_fmt(gateway)} is not on a connected network"
                )
            ifindex = iface.ifindex
        elif ifindex not in self.interfaces:
            raise ValueError(f"no interface {ifindex}")
        if source is not None and source not in self.local_addresses:
            raise OSError(errno.EADDRNOTAVAIL, f"{_fmt(source)} is not a local address")
        route = Route(network, prefixlen, ifindex, gateway, source, family)
        self._insert(route)
        return route

    def remove_route(self, route: Route) -> None:
        (self.routes6 if route.family == 6 else self.routes).remove(route)
        self._cache.clear()

    def set_gateway(self, gateway: int | None, family: int = 4) -> None:
        """Replace the default route of ``family`` (None removes it)."""
        table = self.routes6 if family == 6 else self.routes
        for route in [r for r in table if r.prefixlen == 0 and r.gateway is not None]:
            table.remove(route)
        self._cache.clear()
        if gateway is not None:
            self.add_route(0, 0, gateway=gateway, family=family)

    def _insert(self, route: Route) -> None:
        # Stable: longer prefixes first, equal lengths in insertion order.
        table = self.routes6 if route.family == 6 else self.routes
        index = len(table)
        for i, existing in enumerate(table):
            if existing.prefixlen < route.prefixlen:
                index = i
                break
        table.insert(index, route)
        self._cache.clear()

    def _connected_interface(self, addr: int, family: int = 4) -> Interface | None:
        for iface in self.interfaces.values():
            if family == 6:
                for a, plen in iface.addresses6:
                    if (a ^ addr) & prefix_mask6(plen) == 0:
                        return iface
            elif iface.address and addr & iface.mask == iface.network:
                return iface
        return None

    # --- queries -----------------------------------------------------------
    def lookup(self, dest: int) -> RouteResult:
        """Longest-prefix match; OSError(ENETUNREACH) when no route matches."""
        result = self._cache.get(dest)
        if result is not None:
            return result
        if dest > ALL_ONES:
            return self._lookup6(dest)
        for route in self.routes:
            if dest & route.mask == route.network:
                iface = self.interfaces[route.ifindex]
                result = RouteResult(dest, route, iface, self.is_broadcast(dest))
                if len(self._cache) > 4096:
                    self._cache.clear()
                self._cache[dest] = result
                return result
        if dest == LIMITED_BROADCAST and self.interfaces:
            # No default route: the limited broadcast leaves by the first interface
            # (RFC 919 / RFC 1122 3.3.6: it never crosses a router anyway).
            iface = self.interfaces[min(self.interfaces)]
            route = Route(iface.address, iface.prefixlen, iface.ifindex, None, None)
            result = RouteResult(dest, route, iface, True)
            self._cache[dest] = result
            return result
        raise OSError(errno.ENETUNREACH, f"Network is unreachable: no route to {_fmt(dest)}")

    def _lookup6(self, dest: int) -> RouteResult:
        for route in self.routes6:
            if dest & route.mask == route.network:
                iface = self.interfaces[route.ifindex]
                source = iface.source6(dest)
                if source is None and route.source is None:
                    raise OSError(
                        errno.EADDRNOTAVAIL,
                        f"Cannot assign requested address: no IPv6 address on {iface.ifindex}",
                    )
                result = RouteResult(dest, route, iface, False, source or 0)
                if len(self._cache) > 4096:
                    self._cache.clear()
                self._cache[dest] = result
                return result
        raise OSError(errno.ENETUNREACH, f"Network is unreachable: no route to {_fmt(dest)}")

    def is_local(self, addr: int) -> bool:
        return addr in self.local_addresses

    def is_broadcast(self, addr: int) -> bool:
        return addr in self.broadcasts

    def interface_for_address(self, addr: int) -> Interface | None:
        for iface in self.interfaces.values():
            if iface.address == addr or any(a == addr for a, _ in iface.addresses6):
                return iface
        return None
