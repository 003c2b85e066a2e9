"""The TCP engine over IPv6 (RFC 8200): the same engine, 128-bit addresses,
IPv6 packets with a fixed flow label, MSS = MTU - 60, PMTU never below 1280."""

from __future__ import annotations

from scapy.layers.inet6 import TCP as TCP6
from scapy.layers.inet6 import IPv6

from aionetstack.core.config import StackConfig
from aionetstack.core.tcp.connection import TcpConnection, rst_for_unexpected
from aionetstack.core.tcp.states import TcpState
from aionetstack.core.tcp.tcb import ipv6_builder
from aionetstack.wire.addr import ip6_to_int
from aionetstack.wire.ipv6 import PROTO_TCP, parse_ipv6
from aionetstack.wire.tcp import SYN, TcpSegment, parse_tcp6

A = ip6_to_int("2001:2::1")
B = ip6_to_int("2001:2::2")


def parse(packet: bytes) -> TcpSegment:
    hdr, payload = parse_ipv6(packet)
    assert hdr.protocol == PROTO_TCP and hdr.flow_label == 0x12345
    return parse_tcp6(payload, hdr.src, hdr.dst)


def test_handshake_and_data_over_ipv6() -> None:
    cfg = StackConfig()
    c = TcpConnection.connect(
        cfg, local_addr=A, local_port=40000, remote_addr=B, remote_port=80, iss=1000,
        mtu=1500, now=0.0, family=6, flow_label=0x12345,
    )  # fmt: skip
    (syn_pkt,) = c.packets_to_send(0.0)
    sp = IPv6(syn_pkt)
    assert sp.src == "2001:2::1" and sp.dst == "2001:2::2" and sp.fl == 0x12345
    assert dict(sp[TCP6].options)["MSS"] == 1440  # RFC 8200 5: MTU - 40 - 20
    syn = parse(syn_pkt)
    assert syn.flags == SYN
    s = TcpConnection.accept(
        cfg, syn, local_addr=B, remote_addr=A, iss=5000, mtu=1500, now=0.001,
        family=6, flow_label=0x12345,
    )  # fmt: skip
    now = 0.001
    for _ in range(6):
        for src, dst in ((s, c), (c, s)):
            for p in src.packets_to_send(now):
                dst.receive(parse(p), now)
        now += 0.001
        if c.state is TcpState.ESTABLISHED and s.state is TcpState.ESTABLISHED:
            break
    assert c.state is s.state is TcpState.ESTABLISHED
    assert c.tcp_info().snd_mss == 1440 - 12  # timestamps on
    c.send(b"v6" * 5000, now)
    for _ in range(20):
        for src, dst in ((c, s), (s, c)):
            for p in src.packets_to_send(now):
                dst.receive(parse(p), now)
        now += 0.001
    assert s.read() == b"v6" * 5000


def test_packet_too_big_never_below_1280() -> None:
    c = TcpConnection.connect(
        StackConfig(timestamps=False), local_addr=A, local_port=1, remote_addr=B,
        remote_port=2, iss=1, mtu=9000, now=0.0, family=6,
    )  # fmt: skip
    c.packets_to_send(0.0)
    c.receive(
        TcpSegment(src_port=2, dst_port=1, seq=9, ack=2, flags=0x12, window=65535, mss=8940),
        0.01,
    )
    c.packets_to_send(0.01)
    assert c.tcp_info().snd_mss == 8940
    c.icmp_error(OSError("too big"), 0.02, next_hop_mtu=600)  # RFC 8201 4: 1280 at least
    assert c.tcp_info().snd_mss == 1280 - 60


def test_rst_for_unexpected_over_ipv6() -> None:
    seg = TcpSegment(src_port=1234, dst_port=80, seq=77, ack=0, flags=SYN, window=100)
    pkt = rst_for_unexpected(seg, A, B, 64, ipv6_builder(7))
    assert pkt is not None
    p = IPv6(pkt)
    assert p.src == "2001:2::2" and p.dst == "2001:2::1" and p[TCP6].flags == "RA"
    assert p[TCP6].ack == 78
