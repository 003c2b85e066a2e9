"""Interfaces and the IPv4 routing table (longest-prefix match).

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
"""

from __future__ import annotations

import errno

ALL_ONES = 0xFFFFFFFF
LIMITED_BROADCAST = 0xFFFFFFFF


def prefix_mask(prefixlen: int) -> int:
    """The netmask of ``prefixlen`` bits, as an int."""
    if not 0 <= prefixlen <= 32:
        raise ValueError(f"prefix length out of range: {prefixlen}")
    return (ALL_ONES << (32 - prefixlen)) & ALL_ONES


class Interface:
    """One attached link: address, prefix, MTU."""

    __slots__ = ("address", "broadcast", "ifindex", "mask", "mtu", "network", "prefixlen")

    def __init__(self, ifindex: int, address: int, prefixlen: int, mtu: int) -> None:
        self.ifindex = ifindex
        self.address = address
        self.prefixlen = prefixlen
        self.mask = prefix_mask(prefixlen)
        self.network = address & self.mask
        self.mtu = mtu
        # /31 and /32 have no directed broadcast (RFC 3021).
        self.broadcast: int | None = (
            (self.network | (~self.mask & ALL_ONES)) if prefixlen < 31 else None
        )

    def __repr__(self) -> str:
        return f"Interface(ifindex={self.ifindex}, address={_fmt(self.address)}/{self.prefixlen}, mtu={self.mtu})"


class Route:
    """One routing table entry."""

    __slots__ = ("gateway", "ifindex", "mask", "network", "prefixlen", "source")

    def __init__(
        self, network: int, prefixlen: int, ifindex: int, gateway: int | None, source: int | None
    ) -> None:
        self.mask = prefix_mask(prefixlen)
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

    def __init__(self, dest: int, route: Route, interface: Interface, broadcast: bool) -> None:
        self.dest = dest
        self.route = route
        self.ifindex = interface.ifindex
        self.mtu = interface.mtu
        self.next_hop = route.gateway if route.gateway is not None else dest
        self.source = route.source if route.source is not None else interface.address
        self.broadcast = broadcast

    def __repr__(self) -> str:
        return (
            f"RouteResult(dest={_fmt(self.dest)}, ifindex={self.ifindex}, "
            f"next_hop={_fmt(self.next_hop)}, source={_fmt(self.source)})"
        )


def _fmt(addr: int) -> str:
    return f"{addr >> 24 & 255}.{addr >> 16 & 255}.{addr >> 8 & 255}.{addr & 255}"


class RoutingTable:
    """Interfaces, routes, and the sets the IPv4 input path checks per packet."""

    __slots__ = ("_cache", "_next_ifindex", "broadcasts", "interfaces", "local_addresses", "routes")

    def __init__(self) -> None:
        self.interfaces: dict[int, Interface] = {}
        self.routes: list[Route] = []
        # Per-packet membership tests (IPv4 input, RFC 1122 3.3.6 / 3.2.1.3).
        self.local_addresses: set[int] = set()
        self.broadcasts: set[int] = {LIMITED_BROADCAST}
        self._cache: dict[int, RouteResult] = {}
        self._next_ifindex = 1

    # --- configuration -------------------------------------------------
    def add_interface(self, address: int, prefixlen: int, mtu: int) -> Interface:
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

    def add_route(
        self,
        network: int,
        prefixlen: int,
        *,
        gateway: int | None = None,
        ifindex: int | None = None,
        source: int | None = None,
    ) -> Route:
        """Add a static route; with a gateway the interface defaults to the one reaching it."""
        if ifindex is None:
            if gateway is None:
                raise ValueError("a route needs a gateway or an interface")
            iface = self._connected_interface(gateway)
            if iface is None:
                raise OSError(
                    errno.ENETUNREACH, f"gateway {_fmt(gateway)} is not on a connected network"
                )
            ifindex = iface.ifindex
        elif ifindex not in self.interfaces:
            raise ValueError(f"no interface {ifindex}")
        if source is not None and source not in self.local_addresses:
            raise OSError(errno.EADDRNOTAVAIL, f"{_fmt(source)} is not a local address")
        route = Route(network, prefixlen, ifindex, gateway, source)
        self._insert(route)
        return route

    def remove_route(self, route: Route) -> None:
        self.routes.remove(route)
        self._cache.clear()

    def set_gateway(self, gateway: int | None) -> None:
        """Replace the default route (None removes it)."""
        for route in [r for r in self.routes if r.prefixlen == 0 and r.gateway is not None]:
            self.routes.remove(route)
        self._cache.clear()
        if gateway is not None:
            self.add_route(0, 0, gateway=gateway)

    def _insert(self, route: Route) -> None:
        # Stable: longer prefixes first, equal lengths in insertion order.
        index = len(self.routes)
        for i, existing in enumerate(self.routes):
            if existing.prefixlen < route.prefixlen:
                index = i
                break
        self.routes.insert(index, route)
        self._cache.clear()

    def _connected_interface(self, addr: int) -> Interface | None:
        for iface in self.interfaces.values():
            if addr & iface.mask == iface.network:
                return iface
        return None

    # --- queries -----------------------------------------------------------
    def lookup(self, dest: int) -> RouteResult:
        """Longest-prefix match; OSError(ENETUNREACH) when no route matches."""
        result = self._cache.get(dest)
        if result is not None:
            return result
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

    def is_local(self, addr: int) -> bool:
        return addr in self.local_addresses

    def is_broadcast(self, addr: int) -> bool:
        return addr in self.broadcasts

    def interface_for_address(self, addr: int) -> Interface | None:
        for iface in self.interfaces.values():
            if iface.address == addr:
                return iface
        return None
