"""Ephemeral ports (RFC 6056 double-hash), bind conflicts, exhaustion."""

from __future__ import annotations

import errno
import itertools
from ipaddress import IPv4Address

import pytest

from aionetstack.core.config import StackConfig
from aionetstack.core.ports import PortAllocator
from aionetstack.core.stack import StackEngine


def ip(text: str) -> int:
    return int(IPv4Address(text))


A = ip("198.18.0.2")
B = ip("198.18.0.1")


def engine(low: int = 40000, high: int = 40009) -> StackEngine:
    e = StackEngine(
        StackConfig(ephemeral_port_low=low, ephemeral_port_high=high), secret=b"p" * 16, now=0.0
    )
    e.add_interface(A, 24, 1500)
    return e


def test_allocator_stays_in_range_and_is_sequential_per_destination() -> None:
    alloc = PortAllocator(b"x" * 16, 50000, 50999)
    used: set[int] = set()
    ports = [alloc.allocate(A, B, 80, lambda p: p not in used) for _ in range(20)]
    assert all(50000 <= p <= 50999 for p in ports)
    # RFC 6056 3.3.4: the per-destination increment makes consecutive ports
    # toward one destination step by one (mod the range).
    steps = {(b - a) % 1000 for a, b in itertools.pairwise(ports)}
    assert steps == {1}


def test_allocator_differs_per_destination_and_secret() -> None:
    a1 = PortAllocator(b"x" * 16, 1024, 65535)
    a2 = PortAllocator(b"y" * 16, 1024, 65535)
    first = [a1.allocate(A, B, port, lambda p: True) for port in range(80, 90)]
    assert len(set(first)) > 5  # unpredictable offsets per destination
    assert first != [a2.allocate(A, B, port, lambda p: True) for port in range(80, 90)]


def test_allocator_skips_unsuitable_and_exhausts() -> None:
    alloc = PortAllocator(b"x" * 16, 1000, 1004)
    taken: set[int] = set()
    for _ in range(5):
        taken.add(alloc.allocate(A, B, 80, lambda p: p not in taken))
    assert taken == {1000, 1001, 1002, 1003, 1004}
    with pytest.raises(OSError) as info:
        alloc.allocate(A, B, 80, lambda p: p not in taken)
    assert info.value.errno == errno.EADDRNOTAVAIL


def test_tcp_connect_ports_unique_then_exhausted() -> None:
    e = engine()
    conns = [e.tcp_connect(B, 80, now=0.0) for _ in range(10)]
    ports = {c.local_port for c in conns}
    assert len(ports) == 10 and all(40000 <= p <= 40009 for p in ports)
    with pytest.raises(OSError) as info:
        e.tcp_connect(B, 80, now=0.0)
    assert info.value.errno == errno.EADDRNOTAVAIL
    # another destination port is another 4-tuple: the same local ports are fine
    other = e.tcp_connect(B, 81, now=0.0)
    assert other.local_port in ports


def test_closed_connection_frees_its_port() -> None:
    e = engine(40000, 40000)
    c = e.tcp_connect(B, 80, now=0.0)
    with pytest.raises(OSError):
        e.tcp_connect(B, 80, now=0.0)
    c.abort(0.0)
    e.notify(c, 0.0)
    e.packets_to_send(0.0)
    assert e.tcp_connect(B, 80, now=0.0).local_port == 40000


def test_explicit_local_port_conflict_is_eaddrinuse() -> None:
    e = engine()
    e.tcp_connect(B, 80, local_port=5555, now=0.0)
    with pytest.raises(OSError) as info:
        e.tcp_connect(B, 80, local_port=5555, now=0.0)
    assert info.value.errno == errno.EADDRINUSE
    e.tcp_connect(B, 81, local_port=5555, now=0.0)  # other 4-tuple: fine
    e.tcp_listen(0, 6666, 4)
    with pytest.raises(OSError) as info:
        e.tcp_connect(B, 80, local_port=6666, now=0.0)  # a listener holds the port
    assert info.value.errno == errno.EADDRINUSE


def test_ephemeral_skips_listener_ports() -> None:
    e = engine(40000, 40001)
    e.tcp_listen(0, 40000, 8)
    assert {e.tcp_connect(B, 80, now=0.0).local_port} == {40001}
    with pytest.raises(OSError):
        e.tcp_connect(B, 80, now=0.0)


def test_listen_conflicts() -> None:
    e = engine()
    e.tcp_listen(A, 80, 8)
    with pytest.raises(OSError) as info:
        e.tcp_listen(A, 80, 8)
    assert info.value.errno == errno.EADDRINUSE
    with pytest.raises(OSError):
        e.tcp_listen(0, 80, 8)
    e.tcp_listen(0, 81, 8)
    with pytest.raises(OSError):
        e.tcp_listen(A, 81, 8)
    with pytest.raises(OSError) as info:
        e.tcp_listen(ip("198.18.0.9"), 82, 8)
    assert info.value.errno == errno.EADDRNOTAVAIL
    lst = e.tcp_listen(0, 0, 8)
    assert 40000 <= lst.port <= 40009
    lst.close()
    e.tcp_listen(0, lst.port, 8)  # freed by close()


def test_connect_local_addr_must_be_ours() -> None:
    e = engine()
    with pytest.raises(OSError) as info:
        e.tcp_connect(B, 80, local_addr=ip("198.18.0.9"), now=0.0)
    assert info.value.errno == errno.EADDRNOTAVAIL
    with pytest.raises(ValueError):
        e.tcp_connect(B, 0, now=0.0)
    with pytest.raises(TypeError):
        e.tcp_connect("198.18.0.1", 80, now=0.0)  # type: ignore[arg-type]


def test_udp_bind_conflicts_and_ephemeral() -> None:
    e = engine(40000, 40002)
    u = e.udp_open(local_port=53)
    with pytest.raises(OSError) as info:
        e.udp_open(local_addr=A, local_port=53)
    assert info.value.errno == errno.EADDRINUSE
    eps = [e.udp_open() for _ in range(3)]
    assert {x.local_port for x in eps} == {40000, 40001, 40002}
    with pytest.raises(OSError) as info:
        e.udp_open()
    assert info.value.errno == errno.EADDRNOTAVAIL
    eps[0].close()
    assert e.udp_open().local_port == eps[0].local_port
    u.close()
    e.udp_open(local_addr=A, local_port=53)
