"""Property tests: malformed input is counted and dropped, never raised."""

from __future__ import annotations

from ipaddress import IPv4Address

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet import fragment as scapy_fragment

from aionetstack.core.config import StackConfig
from aionetstack.core.stack import StackEngine
from aionetstack.core.stats import REQUIRED_COUNTERS
from aionetstack.wire.addr import ip6_to_int


def ip(text: str) -> int:
    return int(IPv4Address(text))


US = "198.18.0.2"
PEER = "198.18.0.1"
US6 = "2001:2::2"
PEER6 = "2001:2::1"


def _fix_ip_checksum(p: bytearray) -> None:
    if len(p) < 20:
        return
    ihl = (p[0] & 15) * 4
    if ihl < 20 or len(p) < ihl:
        return
    p[10:12] = b"\0\0"
    s = sum(int.from_bytes(p[i : i + 2], "big") for i in range(0, ihl, 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    p[10:12] = (~s & 0xFFFF).to_bytes(2, "big")


def _seeds() -> list[bytes]:
    syn = IP(src=PEER, dst=US) / TCP(sport=1000, dport=80, flags="S", options=[("MSS", 1460)])
    data = IP(src=PEER, dst=US) / TCP(sport=1000, dport=81, flags="PA") / b"hello"
    synack = IP(src=PEER, dst=US) / TCP(sport=1000, dport=81, flags="SA", options=[("MSS", 9)])
    udp = IP(src=PEER, dst=US) / UDP(sport=1, dport=53) / b"query"
    closed = IP(src=PEER, dst=US) / UDP(sport=1, dport=9999) / b"x"
    echo = IP(src=PEER, dst=US) / ICMP(type=8, id=1, seq=1) / b"ping"
    quoted = bytes(IP(src=US, dst=PEER) / UDP(sport=53, dport=1) / b"abcdefgh")[:28]
    err = IP(src=PEER, dst=US) / ICMP(type=3, code=3) / quoted
    tcp_quoted = bytes(IP(src=US, dst=PEER) / TCP(sport=81, dport=1000))[:28]
    terr = IP(src=PEER, dst=US) / ICMP(type=3, code=4, nexthopmtu=500) / tcp_quoted
    frags = [
        bytes(f) for f in scapy_fragment(IP(src=PEER, dst=US) / UDP(dport=53) / (b"f" * 300), 100)
    ]
    return [bytes(p) for p in (syn, data, synack, udp, closed, echo, err, terr)] + frags


def _seeds6() -> list[bytes]:
    from scapy.layers.inet6 import (
        ICMPv6DestUnreach,
        ICMPv6EchoRequest,
        ICMPv6ND_RS,
        ICMPv6PacketTooBig,
        IPv6,
        IPv6ExtHdrDestOpt,
        IPv6ExtHdrFragment,
        IPv6ExtHdrRouting,
        fragment6,
    )

    ip6 = {"src": "2001:2::1", "dst": "2001:2::2"}
    quoted = bytes(IPv6(src="2001:2::2", dst="2001:2::1") / TCP(sport=81, dport=1000))[:48]
    big = IPv6(**ip6) / IPv6ExtHdrFragment() / UDP(sport=1, dport=53) / (b"f" * 3000)
    seeds = [
        IPv6(**ip6) / TCP(sport=1000, dport=80, flags="S", options=[("MSS", 1440)]),
        IPv6(**ip6) / TCP(sport=1000, dport=81, flags="PA") / b"hello",
        IPv6(**ip6) / UDP(sport=1, dport=53) / b"query",
        IPv6(**ip6) / UDP(sport=1, dport=9999) / b"x",
        IPv6(**ip6) / ICMPv6EchoRequest(id=1, seq=1, data=b"ping"),
        IPv6(**ip6) / ICMPv6PacketTooBig(mtu=1300) / quoted,
        IPv6(**ip6) / ICMPv6DestUnreach(code=4) / quoted,
        IPv6(**ip6) / IPv6ExtHdrDestOpt() / IPv6ExtHdrRouting() / UDP(dport=53) / b"q",
        IPv6(**ip6, nh=253) / b"unknown!",
        IPv6(src="fe80::1", dst="ff02::2") / ICMPv6ND_RS(),
    ]
    return [bytes(p) for p in seeds] + [bytes(f) for f in fragment6(big, 1280)]


SEEDS6 = _seeds6()
SEEDS = _seeds() + SEEDS6


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    p = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 6))):
        i = draw(st.integers(0, len(p) - 1))
        p[i] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        p = p[: draw(st.integers(0, len(p)))]
    if draw(st.booleans()):
        _fix_ip_checksum(p)  # let the mutation reach the transport layers
    return bytes(p)


def _engine() -> StackEngine:
    e = StackEngine(StackConfig(), secret=b"f" * 16, now=0.0)
    ifx = e.add_interface(ip(US), 24, 1500)
    e.add_address(ifx, ip6_to_int(US6), 64)
    e.tcp_listen(0, 80, 4, family=0)  # both families
    e.udp_open(local_port=53)
    e.udp_open(local_port=53, family=6)
    e.udp_open(local_port=54, remote=(ip(PEER), 1))
    e.tcp_connect(ip(PEER), 1000, local_port=81, now=0.0)
    e.tcp_connect(ip6_to_int(PEER6), 1000, local_port=81, now=0.0, family=6)
    e.ping(ip(PEER), 1, 1, b"", now=0.0)
    e.ping(ip6_to_int(PEER6), 1, 1, b"", now=0.0, family=6)
    return e


@settings(
    max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.lists(mutated(), min_size=1, max_size=8), st.lists(st.binary(max_size=80), max_size=3))
def test_garbage_never_raises(packets: list[bytes], noise: list[bytes]) -> None:
    e = _engine()
    now = 0.0
    for packet in packets + noise:
        now += 0.01
        e.receive(packet, 1, now)
        e.packets_to_send(now)
        e.take_ready(now)
    e.handle_timer(now + 100.0)
    e.packets_to_send(now + 100.0)
    stats = e.stats()
    # an IPv6 packet is counted in Ip6InReceives instead
    assert stats["IpInReceives"] + stats["Ip6InReceives"] == len(packets) + len(noise)
    # garbage completes no handshake (the SYN-ACK would have to guess our ISS) ...
    assert stats["TcpCurrEstab"] == 0
    # ... and is delivered at most once: fragments count one by one, the datagram once
    assert stats["IpInDelivers"] <= stats["IpInReceives"]


def test_required_counters_present() -> None:
    stats = _engine().stats()
    missing = [name for name in REQUIRED_COUNTERS if name not in stats]
    assert missing == []
