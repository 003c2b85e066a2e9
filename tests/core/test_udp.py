"""UDP endpoints: bind, connect (ip4_datagram_connect), filtering, broadcast, errors."""

from __future__ import annotations

import errno
from ipaddress import IPv4Address

import pytest
from scapy.layers.inet import IP, UDP

from aionetstack.core import stats as S
from aionetstack.core.config import StackConfig
from aionetstack.core.stack import StackEngine
from aionetstack.core.udp import (
    DATAGRAM_OVERHEAD,
    MAX_QUEUED_ERRORS,
    UdpDatagramReceived,
    UdpEndpoint,
    UdpError,
)


def ip(text: str) -> int:
    return int(IPv4Address(text))


US = "198.18.0.2"
PEER = "198.18.0.1"


def engine(**cfg: object) -> StackEngine:
    e = StackEngine(StackConfig(**cfg), secret=b"u" * 16, now=0.0)  # type: ignore[arg-type]
    e.add_interface(ip(US), 24, 1500)
    return e


def dgram(
    payload: bytes, sport: int = 5000, dport: int = 9, src: str = PEER, dst: str = US
) -> bytes:
    return bytes(IP(src=src, dst=dst) / UDP(sport=sport, dport=dport) / payload)


def events(u: UdpEndpoint) -> list[object]:
    out = []
    while (ev := u.next_event()) is not None:
        out.append(ev)
    return out


def test_sendto_builds_a_valid_datagram() -> None:
    e = engine()
    u = e.udp_open(local_port=4000)
    u.sendto(b"hi there", (ip(PEER), 53), 0.0)
    [(ifindex, raw)] = e.packets_to_send(0.0)
    p = IP(raw)
    assert ifindex == 1 and p.src == US and p.dst == PEER and p.ttl == 64
    assert (p[UDP].sport, p[UDP].dport) == (4000, 53) and bytes(p[UDP].payload) == b"hi there"
    fresh = p.copy()
    del fresh.chksum
    del fresh[UDP].chksum
    assert bytes(IP(bytes(fresh))) == raw  # both checksums right (scapy recomputes)
    st = e.stats()
    assert st["UdpOutDatagrams"] == 1 and st["IpOutRequests"] == 1


def test_receive_unconnected_from_anyone() -> None:
    e = engine()
    u = e.udp_open(local_port=9)
    e.receive(dgram(b"a", sport=1), 1, 0.0)
    e.receive(dgram(b"b", sport=2, src="198.18.0.7"), 1, 0.0)
    assert e.take_ready(0.0) == [u]
    assert events(u) == [
        UdpDatagramReceived(b"a", (ip(PEER), 1)),
        UdpDatagramReceived(b"b", (ip("198.18.0.7"), 2)),
    ]
    assert e.stats()["UdpInDatagrams"] == 2


def test_connect_fixes_source_and_filters_other_peers() -> None:
    e = engine()
    u = e.udp_open(local_port=9, remote=(ip(PEER), 5000))
    assert u.connected and u.local_addr == ip(US) and u.remote == (ip(PEER), 5000)
    e.receive(dgram(b"ok"), 1, 0.0)
    e.receive(dgram(b"wrong port", sport=5001), 1, 0.0)
    e.receive(dgram(b"wrong host", src="198.18.0.7"), 1, 0.0)
    assert [ev.data for ev in events(u)] == [b"ok"]  # type: ignore[attr-defined]
    st = e.stats()
    # Linux: no socket matches the others -> UdpNoPorts + port unreachable
    assert st["UdpNoPorts"] == 2 and st["UdpInDatagrams"] == 1
    assert len(e.packets_to_send(0.0)) == 2
    u.send(b"reply", 0.0)
    [(_, raw)] = e.packets_to_send(0.0)
    assert IP(raw).dst == PEER and IP(raw)[UDP].dport == 5000


def test_connect_later_via_endpoint() -> None:
    e = engine()
    u = e.udp_open()
    assert not u.connected and u.local_addr == 0
    u.connect((ip(PEER), 53))
    assert u.connected and u.local_addr == ip(US)


def test_broadcast_needs_allow_broadcast() -> None:
    e = engine()
    for target in ("255.255.255.255", "198.18.0.255"):
        with pytest.raises(PermissionError) as info:
            e.udp_open(remote=(ip(target), 67))
        assert info.value.errno == errno.EACCES
        u = e.udp_open()
        with pytest.raises(PermissionError):
            u.sendto(b"x", (ip(target), 67), 0.0)
        u.close()
    b = e.udp_open(allow_broadcast=True)
    b.sendto(b"x", (ip("255.255.255.255"), 67), 0.0)
    b.sendto(b"y", (ip("198.18.0.255"), 67), 0.0)
    [(_, p1), (_, p2)] = e.packets_to_send(0.0)
    assert IP(p1).dst == "255.255.255.255" and IP(p1).src == US
    assert IP(p2).dst == "198.18.0.255"
    c = e.udp_open(remote=(ip("198.18.0.255"), 67), allow_broadcast=True)
    assert c.connected


def test_broadcast_received_by_wildcard_bound() -> None:
    e = engine()
    u = e.udp_open(local_port=67)
    e.receive(dgram(b"dhcp", dport=67, dst="255.255.255.255"), 1, 0.0)
    e.receive(dgram(b"subnet", dport=67, dst="198.18.0.255"), 1, 0.0)
    assert [ev.data for ev in events(u)] == [b"dhcp", b"subnet"]  # type: ignore[attr-defined]


def test_bad_checksum_counted_and_zero_checksum_accepted() -> None:
    e = engine()
    u = e.udp_open(local_port=9)
    raw = bytearray(dgram(b"payload"))
    raw[-1] ^= 1
    e.receive(bytes(raw), 1, 0.0)
    st = e.stats()
    assert (
        st["UdpInCsumErrors"] == 1 and st["UdpInErrors"] == 1 and st[S.DROP_UDP_BAD_CHECKSUM] == 1
    )
    nock = IP(src=PEER, dst=US) / UDP(sport=5000, dport=9, chksum=0) / b"nock"
    e.receive(bytes(nock), 1, 0.0)  # RFC 768: zero means no checksum
    assert [ev.data for ev in events(u)] == [b"nock"]  # type: ignore[attr-defined]
    assert e.packets_to_send(0.0) == []


def test_malformed_udp_counted() -> None:
    e = engine()
    e.udp_open(local_port=9)
    e.receive(bytes(IP(src=PEER, dst=US, proto=17) / b"abc"), 1, 0.0)
    st = e.stats()
    assert st["UdpInErrors"] == 1 and st[S.DROP_UDP_MALFORMED] == 1


def test_receive_buffer_limit() -> None:
    e = engine(recv_buffer=1000)
    u = e.udp_open(local_port=9)
    for _ in range(5):  # each charged 250 + DATAGRAM_OVERHEAD (64): 3 fit in 1000
        e.receive(dgram(b"x" * 250), 1, 0.0)
    assert e.stats()["UdpRcvbufErrors"] == 2
    assert len(events(u)) == 3
    assert u.queued_bytes == 0
    e.receive(dgram(b"x" * 300), 1, 0.0)
    assert len(events(u)) == 1


def test_sendto_argument_errors() -> None:
    e = engine()
    u = e.udp_open()
    with pytest.raises(OSError) as info:
        u.sendto(b"x", None, 0.0)
    assert info.value.errno == errno.EDESTADDRREQ
    with pytest.raises(TypeError):
        u.sendto("text", (ip(PEER), 1), 0.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        u.sendto(b"x", (ip(PEER), 0), 0.0)
    with pytest.raises(OSError) as info:
        u.sendto(b"x" * 65508, (ip(PEER), 1), 0.0)
    assert info.value.errno == errno.EMSGSIZE
    with pytest.raises(OSError) as info:
        u.sendto(b"x", (ip("203.0.113.1"), 1), 0.0)
    assert info.value.errno == errno.ENETUNREACH
    u.close()
    with pytest.raises(OSError):
        u.sendto(b"x", (ip(PEER), 1), 0.0)
    with pytest.raises(OSError) as info:
        e.udp_open(local_addr=ip("198.18.0.77"))
    assert info.value.errno == errno.EADDRNOTAVAIL


def test_closed_endpoint_no_longer_receives() -> None:
    e = engine()
    u = e.udp_open(local_port=9)
    u.close()
    u.close()
    e.receive(dgram(b"late"), 1, 0.0)
    assert e.stats()["UdpNoPorts"] == 1 and events(u) == []


def test_two_engines_exchange_datagrams() -> None:
    a = engine()
    b = StackEngine(StackConfig(), secret=b"v" * 16, now=0.0)
    b.add_interface(ip(PEER), 24, 1500)
    server = b.udp_open(local_port=53)
    client = a.udp_open(remote=(ip(PEER), 53))
    client.send(b"query", 0.0)
    for _, p in a.packets_to_send(0.0):
        b.receive(p, 1, 0.0)
    [ev] = events(server)
    assert isinstance(ev, UdpDatagramReceived) and ev.data == b"query"
    server.sendto(b"answer", ev.addr, 0.0)
    for _, p in b.packets_to_send(0.0):
        a.receive(p, 1, 0.0)
    assert [x.data for x in events(client)] == [b"answer"]  # type: ignore[attr-defined]


def test_empty_datagrams_are_charged_against_the_buffer() -> None:
    e = engine(recv_buffer=1000)
    u = e.udp_open(local_port=9)
    for _ in range(100):
        e.receive(dgram(b""), 1, 0.0)
    assert len(events(u)) == 1000 // DATAGRAM_OVERHEAD  # was all 100 (zero bytes each)
    assert e.stats()["UdpRcvbufErrors"] == 100 - 1000 // DATAGRAM_OVERHEAD


def test_queued_icmp_errors_are_capped() -> None:
    e = engine()
    u = e.udp_open(local_port=9)
    u.connect((ip(PEER), 53))
    for _ in range(MAX_QUEUED_ERRORS + 50):
        u._error(ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"))
    evs = events(u)
    assert len(evs) == MAX_QUEUED_ERRORS and all(isinstance(ev, UdpError) for ev in evs)
    assert u._error(ConnectionRefusedError(errno.ECONNREFUSED, "again"))  # room again after reading
