"""Routing decisions: longest prefix, gateways, source selection, no route."""

from __future__ import annotations

import errno
from ipaddress import IPv4Address

import pytest

from aionetstack.core.config import StackConfig
from aionetstack.core.routing import RoutingTable, prefix_mask
from aionetstack.core.stack import StackEngine


def ip(text: str) -> int:
    return int(IPv4Address(text))


def table() -> tuple[RoutingTable, int, int]:
    t = RoutingTable()
    eth = t.add_interface(ip("198.18.0.2"), 24, 1500).ifindex
    tun = t.add_interface(ip("198.19.0.2"), 16, 9000).ifindex
    return t, eth, tun


def test_prefix_mask() -> None:
    assert prefix_mask(0) == 0
    assert prefix_mask(24) == 0xFFFFFF00
    assert prefix_mask(32) == 0xFFFFFFFF
    with pytest.raises(ValueError):
        prefix_mask(33)


def test_connected_routes_choose_interface_and_source() -> None:
    t, eth, tun = table()
    r = t.lookup(ip("198.18.0.77"))
    assert (r.ifindex, r.source, r.next_hop, r.mtu) == (
        eth,
        ip("198.18.0.2"),
        ip("198.18.0.77"),
        1500,
    )
    r = t.lookup(ip("198.19.200.1"))
    assert (r.ifindex, r.source, r.mtu) == (tun, ip("198.19.0.2"), 9000)


def test_no_route_is_enetunreach() -> None:
    t, _, _ = table()
    with pytest.raises(OSError) as info:
        t.lookup(ip("203.0.113.9"))
    assert info.value.errno == errno.ENETUNREACH


def test_default_gateway_is_next_hop_for_indirect_routes() -> None:
    t, eth, _ = table()
    t.set_gateway(ip("198.18.0.1"))
    r = t.lookup(ip("203.0.113.9"))
    assert r.ifindex == eth
    assert r.next_hop == ip("198.18.0.1")
    assert r.source == ip("198.18.0.2")
    # a connected destination still goes direct
    assert t.lookup(ip("198.18.0.9")).next_hop == ip("198.18.0.9")
    t.set_gateway(None)
    with pytest.raises(OSError):
        t.lookup(ip("203.0.113.9"))


def test_gateway_must_be_on_a_connected_network() -> None:
    t, _, _ = table()
    with pytest.raises(OSError) as info:
        t.set_gateway(ip("203.0.113.1"))
    assert info.value.errno == errno.ENETUNREACH


def test_longest_prefix_wins_regardless_of_insertion_order() -> None:
    t, _eth, tun = table()
    t.set_gateway(ip("198.18.0.1"))
    t.add_route(ip("10.0.0.0"), 8, gateway=ip("198.18.0.254"))
    t.add_route(ip("10.1.0.0"), 16, gateway=ip("198.19.0.1"))
    t.add_route(ip("10.1.2.0"), 24, gateway=ip("198.18.0.253"))
    assert t.lookup(ip("10.9.9.9")).next_hop == ip("198.18.0.254")
    r = t.lookup(ip("10.1.9.9"))
    assert (r.ifindex, r.next_hop, r.source) == (tun, ip("198.19.0.1"), ip("198.19.0.2"))
    assert t.lookup(ip("10.1.2.3")).next_hop == ip("198.18.0.253")
    assert t.lookup(ip("11.0.0.1")).next_hop == ip("198.18.0.1")


def test_route_cache_is_invalidated() -> None:
    t, eth, tun = table()
    t.set_gateway(ip("198.18.0.1"))
    assert t.lookup(ip("10.1.1.1")).ifindex == eth
    t.add_route(ip("10.1.0.0"), 16, gateway=ip("198.19.0.1"))
    assert t.lookup(ip("10.1.1.1")).ifindex == tun


def test_broadcast_and_local_sets() -> None:
    t, _, _ = table()
    assert t.is_local(ip("198.18.0.2"))
    assert not t.is_local(ip("198.18.0.3"))
    assert t.is_broadcast(ip("198.18.0.255"))
    assert t.is_broadcast(ip("198.19.255.255"))
    assert t.is_broadcast(ip("255.255.255.255"))
    assert t.lookup(ip("198.18.0.255")).broadcast
    p2p = t.add_interface(ip("198.18.9.1"), 31, 1500)
    assert p2p.broadcast is None  # RFC 3021


def test_bad_interfaces_rejected() -> None:
    t = RoutingTable()
    with pytest.raises(ValueError):
        t.add_interface(ip("198.18.0.2"), 24, 40)
    with pytest.raises(ValueError):
        t.add_interface(ip("198.18.0.255"), 24, 1500)
    t.add_interface(ip("198.18.0.2"), 24, 1500)
    with pytest.raises(ValueError):
        t.add_interface(ip("198.18.0.2"), 24, 1500)


def test_engine_connect_without_route_raises_enetunreach() -> None:
    e = StackEngine(StackConfig(), secret=b"s" * 16, now=0.0)
    e.add_interface(ip("198.18.0.2"), 24, 1500)
    with pytest.raises(OSError) as info:
        e.tcp_connect(ip("203.0.113.9"), 80, now=0.0)
    assert info.value.errno == errno.ENETUNREACH
    with pytest.raises(OSError) as info:
        e.udp_open(remote=(ip("203.0.113.9"), 53))
    assert info.value.errno == errno.ENETUNREACH
    assert e.stats()["IpOutNoRoutes"] == 2
    e.set_gateway(ip("198.18.0.1"))
    conn = e.tcp_connect(ip("203.0.113.9"), 80, now=0.0)
    assert conn.local_addr == ip("198.18.0.2")
    [(ifindex, _syn)] = e.packets_to_send(0.0)
    assert ifindex == 1
