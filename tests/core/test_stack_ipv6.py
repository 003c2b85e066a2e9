"""The dual-stack engine over IPv6: input, routing, ICMPv6, UDP and TCP between two
StackEngines (2001:2::/48 only, RFC 5180)."""

from __future__ import annotations

import errno

import pytest
from scapy.layers.inet6 import (
    ICMPv6DestUnreach,
    ICMPv6EchoReply,
    ICMPv6MLReport2,
    ICMPv6ND_NS,
    ICMPv6ND_RS,
    ICMPv6ParamProblem,
    IPv6,
    IPv6ExtHdrHopByHop,
)

from aionetstack.core.config import StackConfig
from aionetstack.core.stack import StackEngine
from aionetstack.core.tcp.states import TcpState
from aionetstack.core.udp import UdpDatagramReceived, UdpError
from aionetstack.wire.addr import ip6_to_int
from aionetstack.wire.icmpv6 import build_packet_too_big
from aionetstack.wire.ipv6 import build_ipv6
from aionetstack.wire.tcp import ACK, FIN, build_ipv6_tcp
from aionetstack.wire.udp import build_udp6

A6 = ip6_to_int("2001:2::1")
B6 = ip6_to_int("2001:2::2")
A4 = 0xC6120001
B4 = 0xC6120002


def _engine(addr6: int, addr4: int | None = None, **cfg: object) -> tuple[StackEngine, int]:
    e = StackEngine(StackConfig(**cfg), secret=bytes([addr6 & 0xFF]) * 16, now=0.0)  # type: ignore[arg-type]
    if addr4 is None:
        ifx = e.add_interface(addr6, 64, 1500, family=6)
    else:
        ifx = e.add_interface(addr4, 24, 1500)
        e.add_address(ifx, addr6, 64)
    return e, ifx


class Pair:
    """Two engines joined back to back; ``drop`` filters packets a -> b."""

    def __init__(self, **cfg: object) -> None:
        self.a, self.ia = _engine(A6, A4, **cfg)
        self.b, self.ib = _engine(B6, B4, **cfg)
        self.now = 0.0
        self.sent_ab: list[bytes] = []

    def pump(self, rounds: int = 50, dt: float = 0.001) -> None:
        for _ in range(rounds):
            self.now += dt
            moved = False
            for src, dst, ifx, log in ((self.a, self.b, self.ib, self.sent_ab),
                                       (self.b, self.a, self.ia, None)):  # fmt: skip
                src.handle_timer(self.now)
                for _i, packet in src.packets_to_send(self.now):
                    if log is not None:
                        log.append(packet)
                    dst.receive(packet, ifx, self.now)
                    moved = True
            if not moved:
                return


def test_tcp_over_ipv6_between_two_engines() -> None:
    p = Pair()
    listener = p.b.tcp_listen(0, 80, 8, family=6)
    conn = p.a.tcp_connect(B6, 80, now=0.0, family=6)
    assert conn.local_addr == A6 and conn.family == 6
    data = bytes(range(256)) * 400
    conn.send(data, 0.0)
    conn.shutdown(0.0)
    p.a.notify(conn, 0.0)
    received = bytearray()
    server = None
    for _ in range(100):
        p.pump(5)
        if server is None:
            server = listener.accept()
        if server is not None:
            received += server.read()
            p.b.notify(server, p.now)
            if server.eof_received:
                break
    assert server is not None and bytes(received) == data
    assert (server.remote_addr, server.local_addr) == (A6, B6)
    assert conn.state is TcpState.FIN_WAIT_2
    assert conn.snd_mss == 1500 - 60 - 12  # IPv6 MSS: MTU - 60, timestamps on
    assert all(pkt[0] >> 4 == 6 for pkt in p.sent_ab)
    # flow label per flow (RFC 6437): one non-zero label on every packet a -> b
    labels = {int.from_bytes(pkt[1:4], "big") & 0xFFFFF for pkt in p.sent_ab}
    assert len(labels) == 1 and labels != {0}
    sa, sb = p.a.stats(), p.b.stats()
    assert sb["Ip6InReceives"] == len(p.sent_ab) and sb["IpInReceives"] == 0
    assert sa["TcpActiveOpens"] == 1 and sb["TcpPassiveOpens"] == 1
    assert sum(v for k, v in sb.items() if k.startswith("Drop")) == 0


def test_wildcard_listeners_of_both_families_share_a_port() -> None:
    p = Pair()
    l4 = p.b.tcp_listen(0, 80, 8)
    l6 = p.b.tcp_listen(0, 80, 8, family=6)
    with pytest.raises(OSError) as info:
        p.b.tcp_listen(B6, 80, 8, family=6)
    assert info.value.errno == errno.EADDRINUSE
    p.a.tcp_connect(B4, 80, now=0.0)
    p.a.tcp_connect(B6, 80, now=0.0, family=6)
    p.pump()
    c4, c6 = l4.accept(), l6.accept()
    assert c4 is not None and c4.family == 4 and c4.remote_addr == A4
    assert c6 is not None and c6.family == 6 and c6.remote_addr == A6
    assert l4.accept() is None and l6.accept() is None


def test_syn_cookie_over_ipv6() -> None:
    p = Pair(syncookies=2)
    listener = p.b.tcp_listen(B6, 443, 8, family=6)
    conn = p.a.tcp_connect(B6, 443, now=0.0, family=6)
    p.pump()
    server = listener.accept()
    assert server is not None and server.state is TcpState.ESTABLISHED
    assert conn.state is TcpState.ESTABLISHED
    st = p.b.stats()
    assert st["SyncookiesSent"] == 1 and st["SyncookiesRecv"] == 1


def test_closed_port_answers_rst_over_ipv6() -> None:
    p = Pair()
    conn = p.a.tcp_connect(B6, 9, now=0.0, family=6)
    p.pump()
    assert conn.state is TcpState.CLOSED
    assert isinstance(conn.error, ConnectionRefusedError)
    assert p.b.stats()["TcpOutRsts"] == 1


def test_time_wait_entry_over_ipv6() -> None:
    p = Pair()
    listener = p.b.tcp_listen(0, 80, 8, family=6)
    conn = p.a.tcp_connect(B6, 80, now=0.0, family=6)
    p.pump()
    server = listener.accept()
    assert server is not None
    conn.close(p.now)
    p.a.notify(conn, p.now)
    p.pump()
    server.close(p.now)
    p.b.notify(server, p.now)
    p.pump()
    assert p.a.time_wait_keys() == [(A6, conn.local_port, B6, 80)]
    # a retransmitted FIN is answered by the compact entry with an IPv6 ACK
    fin = build_ipv6_tcp(B6, A6, 5, 64, 80, conn.local_port, (server.snd_max - 1) & 0xFFFFFFFF,
                         conn.snd_max, FIN | ACK, 1000, b"", b"")  # fmt: skip
    p.a.receive(fin, p.ia, p.now)
    ((_i, ack),) = p.a.packets_to_send(p.now)
    assert ack[0] >> 4 == 6 and ack[53] == ACK
    assert (
        int.from_bytes(ack[1:4], "big") & 0xFFFFF
        == int.from_bytes(p.sent_ab[0][1:4], "big") & 0xFFFFF
    )


def test_udp_over_ipv6_and_zero_checksum() -> None:
    p = Pair()
    server = p.b.udp_open(local_port=53, family=6)
    client = p.a.udp_open(remote=(B6, 53), family=6)
    assert client.local_addr == A6
    client.send(b"question", p.now)
    p.pump()
    event = server.next_event()
    assert isinstance(event, UdpDatagramReceived)
    assert event.data == b"question" and event.addr == (A6, client.local_port)
    server.sendto(b"answer", event.addr, p.now)
    p.pump()
    reply = client.next_event()
    assert isinstance(reply, UdpDatagramReceived) and reply.data == b"answer"
    # RFC 8200 8.1: a zero UDP checksum is invalid over IPv6
    dgram = bytearray(build_udp6(A6, B6, 4000, 53, b"x"))
    dgram[6:8] = b"\0\0"
    p.b.receive(build_ipv6(A6, B6, 17, bytes(dgram)), p.ib, p.now)
    assert server.next_event() is None
    st = p.b.stats()
    assert st["Udp6InCsumErrors"] == 1 and st["Udp6InDatagrams"] == 1
    assert st["UdpInDatagrams"] == 0


def test_connected_udp_to_closed_port_gets_refused() -> None:
    p = Pair()
    client = p.a.udp_open(remote=(B6, 9999), family=6)
    client.send(b"anyone?", p.now)
    p.pump()
    event = client.next_event()
    assert isinstance(event, UdpError)
    assert isinstance(event.error, ConnectionRefusedError)
    assert p.b.stats()["Udp6NoPorts"] == 1
    assert p.b.stats()["Icmp6OutDestUnreachs"] == 1
    assert p.a.stats()["Icmp6InDestUnreachs"] == 1


def test_udp_fragmented_at_the_source_and_reassembled() -> None:
    p = Pair()
    server = p.b.udp_open(local_port=7, family=6)
    client = p.a.udp_open(family=6)
    data = bytes(range(256)) * 16  # 4096 bytes: 3 fragments at MTU 1500
    client.sendto(data, (B6, 7), p.now)
    p.pump()
    event = server.next_event()
    assert isinstance(event, UdpDatagramReceived) and event.data == data
    assert p.a.stats()["Ip6FragCreates"] == 3 and p.a.stats()["Ip6FragOKs"] == 1
    st = p.b.stats()
    assert st["Ip6ReasmReqds"] == 3 and st["Ip6ReasmOKs"] == 1


def test_ping6_both_ways() -> None:
    p = Pair()
    req = p.a.ping(B6, 7, 1, b"hello", p.now, family=6)
    p.pump()
    assert req.done and req.error is None and req.reply_payload == b"hello"
    assert req in p.a.take_ready(p.now)
    st = p.b.stats()
    assert st["Icmp6InEchos"] == 1 and st["Icmp6OutEchoReplies"] == 1
    assert p.a.stats()["Icmp6InEchoReplies"] == 1


def test_echo_reply_wire_format_matches_scapy() -> None:
    e, ifx = _engine(B6)
    from scapy.layers.inet6 import ICMPv6EchoRequest

    e.receive(bytes(IPv6(src="2001:2::1", dst="2001:2::2") / ICMPv6EchoRequest(id=3, seq=4,
              data=b"abc")), ifx, 0.0)  # fmt: skip
    ((_i, out),) = e.packets_to_send(0.0)
    reply = IPv6(out)
    assert reply.src == "2001:2::2" and reply.dst == "2001:2::1"
    echo = reply[ICMPv6EchoReply]
    assert (echo.id, echo.seq, echo.data) == (3, 4, b"abc")
    chk = echo.cksum
    del echo.cksum
    assert IPv6(bytes(reply))[ICMPv6EchoReply].cksum == chk


def test_unknown_next_header_gets_parameter_problem() -> None:
    e, ifx = _engine(B6)
    packet = bytes(IPv6(src="2001:2::1", dst="2001:2::2", nh=253) / b"12345678")
    e.receive(packet, ifx, 0.0)
    ((_i, out),) = e.packets_to_send(0.0)
    pp = IPv6(out)[ICMPv6ParamProblem]
    assert (pp.code, pp.ptr) == (1, 6)  # RFC 8200 4: pointer at the Next Header field
    st = e.stats()
    assert st["Ip6InUnknownProtos"] == 1 and st["Icmp6OutParmProblems"] == 1


def test_unknown_option_in_hop_by_hop_gets_parameter_problem() -> None:
    from scapy.layers.inet6 import HBHOptUnknown

    e, ifx = _engine(B6)
    # option type 0x80: action bits 10 -> discard and send Parameter Problem code 2
    packet = bytes(IPv6(src="2001:2::1", dst="2001:2::2")
                   / IPv6ExtHdrHopByHop(options=[HBHOptUnknown(otype=0x80, optdata=b"ab")])
                   / (b"\0" * 8))  # fmt: skip
    e.receive(packet, ifx, 0.0)
    ((_i, out),) = e.packets_to_send(0.0)
    pp = IPv6(out)[ICMPv6ParamProblem]
    assert pp.code == 2 and pp.ptr == 42
    assert e.stats()["Ip6InHdrErrors"] == 1


def test_kernel_nd_and_mld_counted_by_type_never_answered() -> None:
    e, ifx = _engine(B6)
    e.receive(bytes(IPv6(src="fe80::1", dst="ff02::2") / ICMPv6ND_RS()), ifx, 0.0)
    e.receive(bytes(IPv6(src="::", dst="ff02::1:ff00:1") / ICMPv6ND_NS(tgt="fe80::1")), ifx, 0.0)
    e.receive(bytes(IPv6(src="fe80::1", dst="ff02::16", hlim=1) / ICMPv6MLReport2()), ifx, 0.0)
    assert e.packets_to_send(0.0) == []
    st = e.stats()
    assert st["Icmp6InRouterSolicits"] == 1
    assert st["Icmp6InNeighborSolicits"] == 1
    assert st["Icmp6InMLDv2Reports"] == 1
    assert st["Icmp6InMsgs"] == 3 and st["Icmp6InErrors"] == 0
    assert sum(v for k, v in st.items() if k.startswith("Drop")) == 0


def test_packet_too_big_lowers_the_mss_never_below_1280() -> None:
    p = Pair()
    listener = p.b.tcp_listen(0, 80, 8, family=6)
    conn = p.a.tcp_connect(B6, 80, now=0.0, family=6)
    p.pump()
    assert listener.accept() is not None
    conn.send(b"x" * 20000, p.now)
    p.a.notify(conn, p.now)
    sent = p.a.packets_to_send(p.now)
    big = next(pkt for _i, pkt in sent if len(pkt) > 1300)
    router = ip6_to_int("2001:2::99")
    p.a.receive(build_ipv6(router, A6, 58, build_packet_too_big(router, A6, 1400, big)),
                p.ia, p.now)  # fmt: skip
    assert conn.snd_mss == 1400 - 60 - 12
    # a lower report is clamped to the IPv6 minimum MTU (RFC 8201 4)
    p.a.receive(build_ipv6(router, A6, 58, build_packet_too_big(router, A6, 600, big)),
                p.ia, p.now)  # fmt: skip
    assert conn.snd_mss == 1280 - 60 - 12
    assert p.a.stats()["Icmp6InPktTooBigs"] == 2
    # UDP to that destination now fragments to 1280
    client = p.a.udp_open(family=6)
    client.sendto(b"y" * 1300, (B6, 7), p.now)
    frags = [pkt for _i, pkt in p.a.packets_to_send(p.now) if pkt[6] == 44]
    assert len(frags) == 2 and max(len(f) for f in frags) <= 1280


def test_icmpv6_error_not_in_window_is_ignored() -> None:
    p = Pair()
    p.b.tcp_listen(0, 80, 8, family=6)
    conn = p.a.tcp_connect(B6, 80, now=0.0, family=6)
    p.pump()
    forged = bytes(IPv6(src="2001:2::1", dst="2001:2::2", nh=6, plen=20)) + (
        conn.local_port.to_bytes(2, "big") + (80).to_bytes(2, "big")
        + ((conn.snd_una + 10**6) & 0xFFFFFFFF).to_bytes(4, "big")
    )  # fmt: skip
    msg = bytes(IPv6(src="2001:2::2", dst="2001:2::1") / ICMPv6DestUnreach(code=4) / forged)
    p.a.receive(msg, p.ia, p.now)
    assert conn.state is TcpState.ESTABLISHED
    assert p.a.stats()["DropIcmpOutOfWindow"] == 1


def test_routing_per_family_and_source_selection() -> None:
    e = StackEngine(StackConfig(), secret=bytes(16), now=0.0)
    eth = e.add_interface(B4, 24, 1500)
    e.add_address(eth, ip6_to_int("2001:2::2"), 64)
    e.add_address(eth, ip6_to_int("2001:2:0:1::2"), 64)
    tun = e.add_interface(ip6_to_int("2001:2:1::2"), 48, 9000, family=6)
    # RFC 6724 rule 8: the outgoing interface's address with the longest match
    assert e.route(ip6_to_int("2001:2:0:1::9")).source == ip6_to_int("2001:2:0:1::2")
    assert e.route(ip6_to_int("2001:2::9")).source == ip6_to_int("2001:2::2")
    assert e.route(ip6_to_int("2001:2:1::9")).ifindex == tun
    with pytest.raises(OSError) as info:
        e.route(ip6_to_int("2001:2:5::1"))
    assert info.value.errno == errno.ENETUNREACH
    e.set_gateway(ip6_to_int("2001:2:1::1"), family=6)
    route = e.route(ip6_to_int("2001:2:5::1"))
    assert route.ifindex == tun and route.next_hop == ip6_to_int("2001:2:1::1")
    assert route.mtu == 9000
    # the IPv4 default is separate
    with pytest.raises(OSError):
        e.route(0x08080808)
    e.set_gateway(0xC6120001)
    assert e.route(0x08080808).ifindex == eth
    e.set_gateway(None, family=6)
    with pytest.raises(OSError):
        e.route(ip6_to_int("2001:2:5::1"))
    # no IPv6 below 2**32 (::, ::1, IPv4-compatible) nor multicast as an address
    for bad in (0, 1, 0xC6120001, ip6_to_int("ff02::1")):
        with pytest.raises((OSError, ValueError)):
            e.add_address(eth, bad, 64)
    with pytest.raises(ValueError):  # RFC 8200 5: IPv6 needs 1280
        e.add_interface(ip6_to_int("2001:2:2::2"), 64, 1000, family=6)


# --- the IPv6 fuzz seeds (tests/core/test_stack_fuzz.py mutates them) ----------


def test_seeds6_are_accepted_unmutated() -> None:
    # the fuzz seeds reach the layers they aim at (else the fuzzing proves little)
    from test_stack_fuzz import SEEDS6, _engine

    e = _engine()
    for packet in SEEDS6:
        e.receive(packet, 1, 0.0)
    st = e.stats()
    assert st["Ip6InReceives"] == len(SEEDS6) and st["Ip6InHdrErrors"] == 0
    assert st["Ip6ReasmOKs"] == 1 and st["Udp6InDatagrams"] == 3  # 53, routed, reassembled
    assert st["Icmp6InEchos"] == 1 and st["Icmp6InPktTooBigs"] == 1
    assert st["Ip6InUnknownProtos"] == 1 and st["Icmp6InRouterSolicits"] == 1


def test_connection_to_our_own_ipv6_address_is_looped_back() -> None:
    e, _ifx = _engine(B6, B4)
    listener = e.tcp_listen(B6, 80, 8, family=6)
    conn = e.tcp_connect(B6, 80, now=0.0, family=6)
    conn.send(b"to myself", 0.0)
    e.notify(conn, 0.0)
    assert e.packets_to_send(0.0) == []  # nothing leaves: lo (RFC 1122 3.2.1.3 (g))
    e.take_ready(0.0)
    server = listener.accept()
    assert server is not None and server.remote_addr == B6
    e.handle_timer(1.0)
    e.packets_to_send(1.0)
    assert server.read() == b"to myself"
    req = e.ping(B6, 9, 9, b"me", 1.0, family=6)
    e.packets_to_send(1.0)
    assert req.done and req.reply_payload == b"me"


def test_tcp_receive_fast_path_takes_only_what_the_full_checks_pass() -> None:
    """Plain TCP to our address skips the header record; everything else goes
    through the full checks, with their verdicts (RFC 4291 2.5.2, 2.7)."""
    e, ifx = _engine(B6, B4)

    def syn(src: int, dst: int = B6) -> bytes:
        return build_ipv6_tcp(src, dst, 0, 64, 40000, 9, 1, 0, 0x02, 1000, b"", b"")

    hop_by_hop = bytes(IPv6(src="2001:2::1", dst="2001:2::2") / IPv6ExtHdrHopByHop(nh=6)
                       / syn(A6)[40:])  # fmt: skip
    cases = [
        (syn(A6), "TcpOutRsts"),  # the fast path: a closed port answered
        (syn(ip6_to_int("::1:2:3:4")), "TcpOutRsts"),  # first byte 0 but unicast: full path
        (hop_by_hop, "TcpOutRsts"),  # an extension header first: full path, delivered
        (syn(ip6_to_int("ff02::1")), "Ip6InAddrErrors"),  # multicast source
        (syn(ip6_to_int("::ffff:198.18.0.1")), "Ip6InAddrErrors"),  # IPv4-mapped
        (syn(ip6_to_int("::7")), "Ip6InAddrErrors"),  # below 2**32
        (syn(B6), "Ip6InAddrErrors"),  # our own address from outside
        (syn(A6, ip6_to_int("2001:2::99")), "Ip6InAddrErrors"),  # not ours
        (syn(A6)[:-1], "Ip6InTruncatedPkts"),  # payload length beyond the packet
    ]
    for packet, counter in cases:
        before = e.stats()
        e.receive(packet, ifx, 0.0)
        after = e.stats()
        changed = {k for k in after if after[k] != before[k]} - {"Ip6InReceives", "Ip6InDelivers",
                   "TcpInSegs", "TcpOutSegs", "Ip6OutRequests", "Ip6InNoRoutes"}  # fmt: skip
        assert counter in changed, (packet.hex(), changed)
        e.packets_to_send(0.0)
    assert e.stats()["Ip6InReceives"] == len(cases)


def test_answer_any_ping6_echoes_for_every_routed_destination() -> None:
    from scapy.layers.inet6 import ICMPv6EchoRequest

    req = IPv6(src="2001:2::1", dst="2001:2:64::9") / ICMPv6EchoRequest(id=3, seq=4, data=b"q")
    off, ifx = _engine(B6)
    off.receive(bytes(req), ifx, 0.0)
    assert off.packets_to_send(0.0) == []
    e, ifx = _engine(B6, answer_any_ping=True)
    e.receive(bytes(req), ifx, 0.0)
    ((_i, out),) = e.packets_to_send(0.0)
    reply = IPv6(out)
    assert reply.src == "2001:2:64::9" and reply.dst == "2001:2::1"
    assert (reply[ICMPv6EchoReply].id, reply[ICMPv6EchoReply].data) == (3, b"q")
    # an echo reply to such an address is not for us
    e.receive(bytes(IPv6(src="2001:2::1", dst="2001:2:64::9") / ICMPv6EchoReply()), ifx, 0.0)
    assert e.packets_to_send(0.0) == []
    st = e.stats()
    assert st["Icmp6InEchos"] == 1 and st["Icmp6OutEchoReplies"] == 1
    assert st["Ip6InAddrErrors"] == 1
