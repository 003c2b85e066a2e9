"""ICMP errors reaching a connection: soft errors, path MTU, the MSS floor (RFC 1191)."""

from __future__ import annotations

import errno

from tcp_support import CLIENT_ISS, SERVER_ISS, establish_client, output, segment


class TestIcmp:
    def test_frag_needed_lowers_mss_and_resends(self) -> None:
        c = establish_client()
        c.send(b"x" * 2920, 0.0)
        assert [len(s.payload) for s in output(c, 0.0)] == [1460, 1460]
        c.icmp_error(OSError(errno.EMSGSIZE, "Message too long"), 0.01, next_hop_mtu=1000)
        assert [len(s.payload) for s in output(c, 0.01)] == [960, 960, 960, 40]

    def test_soft_error_in_established_is_kept_not_fatal(self) -> None:
        c = establish_client()
        c.icmp_error(OSError(errno.EHOSTUNREACH, "No route to host"), 0.01)
        from aionetstack.core.tcp.states import TcpState

        assert c.state is TcpState.ESTABLISHED
        c.receive(segment(seq=SERVER_ISS + 1, ack=CLIENT_ISS + 1, payload=b"ok"), 0.02)
        assert c.read() == b"ok"


class TestMssFloor:
    """Linux TCP_MIN_MSS (88) and min_pmtu (552): no tiny segments on request."""

    def test_frag_needed_with_tiny_mtu_is_clamped(self) -> None:
        c = establish_client()
        c.icmp_error(OSError(errno.EMSGSIZE, "Message too long"), 0.01, next_hop_mtu=100)
        assert c.snd_mss == 552 - 40  # was 60: the reported MTU is raised to min_pmtu

    def test_peer_mss_floor(self) -> None:
        c = establish_client(mss=50)
        assert c.snd_mss == 88  # was 50 (floor 48)
