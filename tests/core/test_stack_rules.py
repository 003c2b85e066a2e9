"""Stack input rules, pinned: martian addresses (RFC 1812 5.3.7) and truncated
ICMP messages (RFC 792, RFC 1122 3.2.2: never an exception out of ``receive``).

Public interface only: ``StackEngine`` and its counters, packets built with
``aionetstack.wire``.
"""

from __future__ import annotations

import pytest
from tcp_support import CLIENT_ADDR, PLAIN, SERVER_ADDR, tcp_listen

from aionetstack.core import stats as S
from aionetstack.core.sim import parse_packet
from aionetstack.core.stack import StackEngine
from aionetstack.core.tcp.states import TcpState
from aionetstack.wire.addr import ip_to_int
from aionetstack.wire.checksum import internet_checksum
from aionetstack.wire.icmp import build_echo
from aionetstack.wire.ipv4 import PROTO_ICMP, PROTO_UDP, build_ipv4
from aionetstack.wire.tcp import ACK, SYN, TcpSegment, build_ipv4_tcp, build_tcp_options
from aionetstack.wire.udp import build_udp

US = CLIENT_ADDR  # the stack under test: 198.18.0.1/24, listening on port 40000
PEER = SERVER_ADDR


def tcp_syn(src: int, dst: int = US, dport: int = 40000) -> bytes:
    return build_ipv4_tcp(src, dst, 1, 64, 80, dport, 5000, 0, SYN, 65535,
                          build_tcp_options(mss=1460), b"")  # fmt: skip


def flush(e: StackEngine, now: float) -> list[TcpSegment]:
    return [parse_packet(p) for _i, p in e.packets_to_send(now) if p[9] == 6]


# ------------------------------------------------------------------------ martians

# RFC 1812 5.3.7: multicast (224/4) and reserved (240/4, 255.255.255.255 included)
CLASS_D_E = ["224.0.0.5", "239.255.255.255", "240.0.0.1", "254.255.255.255", "255.255.255.255"]


class TestMartianSources:
    @pytest.mark.parametrize("src", [*CLASS_D_E, "0.0.0.1", "127.0.0.1"])
    def test_syn_from_martian_source_is_dropped(self, src: str) -> None:
        e, lst = tcp_listen()
        e.receive(tcp_syn(ip_to_int(src)), 1, 0.0)
        st = e.stats()
        assert (st["IpInAddrErrors"], st[S.DROP_IP_MARTIAN_SOURCE]) == (1, 1)
        assert (e.packets_to_send(0.0), lst.syn_pending, st["TcpInSegs"]) == ([], 0, 0)

    @pytest.mark.parametrize("src", CLASS_D_E)
    def test_udp_from_martian_source_is_dropped(self, src: str) -> None:
        e, _lst = tcp_listen()
        u = e.udp_open(local_port=53)
        e.receive(build_ipv4(ip_to_int(src), US, PROTO_UDP,
                             build_udp(ip_to_int(src), US, 9, 53, b"q")), 1, 0.0)  # fmt: skip
        assert e.stats()[S.DROP_IP_MARTIAN_SOURCE] == 1
        assert u.next_event() is None

    @pytest.mark.parametrize("src", ["223.255.255.255", "198.19.0.1", "1.0.0.1"])
    def test_the_highest_unicast_sources_are_not_martians(self, src: str) -> None:
        e, lst = tcp_listen()
        e.set_gateway(ip_to_int("198.18.0.254"))
        e.receive(tcp_syn(ip_to_int(src)), 1, 0.0)
        assert e.stats()[S.DROP_IP_MARTIAN_SOURCE] == 0
        (synack,) = flush(e, 0.0)
        assert synack.flags == SYN | ACK and lst.syn_pending == 1


class TestTransparentListener:
    """A transparent listener takes any unicast destination, never a martian one."""

    @pytest.mark.parametrize("dst", [*CLASS_D_E[:-1], "0.1.2.3", "127.0.0.2"])
    def test_martian_destination_is_not_for_us(self, dst: str) -> None:
        e = StackEngine(PLAIN, secret=bytes(16), now=0.0)
        e.add_interface(US, 24, 1500)
        lst = e.tcp_listen(0, 0, 8, transparent=True)
        e.receive(tcp_syn(PEER, ip_to_int(dst), 443), 1, 0.0)
        assert e.stats()[S.DROP_IP_NOT_FOR_US] == 1
        assert (e.packets_to_send(0.0), lst.syn_pending) == ([], 0)

    def test_unicast_destination_is_taken(self) -> None:
        e = StackEngine(PLAIN, secret=bytes(16), now=0.0)
        e.add_interface(US, 24, 1500)
        lst = e.tcp_listen(0, 0, 8, transparent=True)
        e.receive(tcp_syn(PEER, ip_to_int("198.19.7.7"), 443), 1, 0.0)
        (synack,) = flush(e, 0.0)
        assert synack.flags == SYN | ACK and synack.src_port == 443
        assert lst.syn_pending == 1


# ----------------------------------------------------------------- truncated ICMP


def icmp_error(quote: bytes, itype: int = 3, code: int = 1) -> bytes:
    """An ICMP error from the peer quoting ``quote`` (checksums right, cut or not)."""
    body = bytearray(bytes((itype, code, 0, 0, 0, 0, 0, 0)) + quote)
    body[2:4] = internet_checksum(body).to_bytes(2, "big")
    return build_ipv4(PEER, US, PROTO_ICMP, bytes(body))


class TestTruncatedIcmp:
    """Every cut of a quote, of the ICMP header itself: dropped and counted, never raised."""

    def _established(self) -> tuple[StackEngine, object, bytes]:
        e, lst = tcp_listen()
        e.receive(tcp_syn(PEER), 1, 0.0)
        (synack,) = flush(e, 0.0)
        e.receive(build_ipv4_tcp(PEER, US, 2, 64, 80, 40000, 5001, synack.seq + 1, ACK,
                                 65535, b"", b""), 1, 0.01)  # fmt: skip
        conn = lst.accept()
        assert conn is not None and conn.state is TcpState.ESTABLISHED
        conn.send(b"x" * 100, 0.02)
        e.notify(conn, 0.02)
        [(_i, data)] = e.packets_to_send(0.02)
        return e, conn, data

    def test_every_cut_of_a_tcp_quote(self) -> None:
        e, conn, data = self._established()
        for n in range(len(data)):
            e.receive(icmp_error(data[:n]), 1, 0.03)
        # quotes shorter than the IPv4 header + 8 bytes are malformed; longer ones match
        st = e.stats()
        assert st[S.DROP_ICMP_MALFORMED] == 28
        assert st["IcmpInDestUnreachs"] == len(data) - 28
        assert conn.state is TcpState.ESTABLISHED  # type: ignore[attr-defined]

    def test_every_cut_of_an_echo_quote(self) -> None:
        e, _lst = tcp_listen()
        ping = e.ping(PEER, 7, 1, b"abcd", now=0.0)
        [(_i, req)] = e.packets_to_send(0.0)
        for n in range(28):
            e.receive(icmp_error(req[:n]), 1, 0.1)
        assert not ping.done and e.stats()[S.DROP_ICMP_MALFORMED] == 28
        e.receive(icmp_error(req[:28]), 1, 0.1)  # header + the echo's 8 bytes: matched
        assert ping.done and isinstance(ping.error, OSError)

    def test_every_cut_of_the_icmp_message(self) -> None:
        e, _lst = tcp_listen()
        msg = build_echo(8, 1, 1, b"ping")
        for n in range(8):
            cut = bytearray(msg[:n])
            if n >= 4:  # a checksum that is right for what is left
                cut[2:4] = b"\0\0"
                cut[2:4] = internet_checksum(cut).to_bytes(2, "big")
            e.receive(build_ipv4(PEER, US, PROTO_ICMP, bytes(cut)), 1, 0.0)
        st = e.stats()
        assert (st["IcmpInMsgs"], st["IcmpInErrors"], st["IcmpInEchos"]) == (8, 8, 0)
        assert st[S.DROP_ICMP_MALFORMED] == 8
        assert e.packets_to_send(0.0) == []
