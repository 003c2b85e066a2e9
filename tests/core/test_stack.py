"""StackEngine TCP demux: RSTs, handshakes between engines, listeners, timers, scale."""

from __future__ import annotations

import errno
from collections.abc import Callable
from ipaddress import IPv4Address

import pytest
from scapy.layers.inet import IP, TCP

from aionetstack.core import stats as S
from aionetstack.core.config import StackConfig
from aionetstack.core.listener import TcpListener
from aionetstack.core.stack import StackEngine
from aionetstack.core.tcp.connection import TcpConnection
from aionetstack.core.tcp.events import Connected, ConnectionClosed, DataAvailable
from aionetstack.core.tcp.states import TcpState
from aionetstack.core.udp import UdpDatagramReceived


def ip(text: str) -> int:
    return int(IPv4Address(text))


US = "198.18.0.2"
PEER = "198.18.0.1"
A_ADDR = ip("198.18.0.1")
B_ADDR = ip("198.18.0.2")


def engine(addr: str = US, secret: bytes = b"t" * 16, **cfg: object) -> StackEngine:
    e = StackEngine(StackConfig(**cfg), secret=secret, now=0.0)  # type: ignore[arg-type]
    e.add_interface(ip(addr), 24, 1500)
    return e


class Net:
    """Two engines back to back on one virtual link, plus a virtual clock."""

    def __init__(self, **cfg: object) -> None:
        self.a = engine(PEER, b"a" * 16, **cfg)
        self.b = engine(US, b"b" * 16, **cfg)
        self.now = 0.0
        self.packets = 0
        self.events: dict[int, list[object]] = {}

    def pump(self) -> None:
        moved = True
        while moved:
            moved = False
            for src, dst in ((self.a, self.b), (self.b, self.a)):
                out = src.packets_to_send(self.now)
                for _ifindex, packet in out:
                    dst.receive(packet, 1, self.now)
                if out:
                    moved = True
                    self.packets += len(out)
            for e in (self.a, self.b):
                for obj in e.take_ready(self.now):
                    if isinstance(obj, TcpConnection):
                        self.drain(obj)

    def drain(self, conn: TcpConnection) -> None:
        while (ev := conn.next_event()) is not None:
            self.events.setdefault(id(conn), []).append(ev)

    def advance(self) -> bool:
        deadlines = [t for t in (self.a.get_timer(), self.b.get_timer()) if t is not None]
        if not deadlines:
            return False
        self.now = max(self.now, min(deadlines))
        self.a.handle_timer(self.now)
        self.b.handle_timer(self.now)
        self.pump()
        return True

    def run_until(self, cond: Callable[[], bool], limit: float = 300.0) -> None:
        self.pump()
        while not cond():
            assert self.now <= limit, "condition not reached"
            assert self.advance(), "no timers left and condition not reached"


# --- RST for segments nobody wants (RFC 9293 3.10.7.1) -----------------------------


def rst_reply(e: StackEngine, seg: TCP) -> TCP | None:
    e.receive(bytes(IP(src=PEER, dst=US) / seg), 1, 0.0)
    out = e.packets_to_send(0.0)
    if not out:
        return None
    [(_, raw)] = out
    p = IP(raw)
    assert p.src == US and p.dst == PEER
    tcp = p[TCP]
    fresh = p.copy()
    del fresh.chksum
    del fresh[TCP].chksum
    assert bytes(IP(bytes(fresh))) == raw  # checksums verified by scapy
    return tcp  # type: ignore[no-any-return]


def test_rst_for_syn_to_closed_port() -> None:
    e = engine()
    r = rst_reply(e, TCP(sport=1111, dport=80, seq=1000, flags="S"))
    assert r is not None
    assert r.flags == "RA" and r.seq == 0 and r.ack == 1001  # <SEQ=0><ACK=SEG.SEQ+SEG.LEN>
    assert (r.sport, r.dport, r.window) == (80, 1111, 0)
    st = e.stats()
    assert st["TcpOutRsts"] == 1 and st["TcpInSegs"] == 1 and st[S.DROP_TCP_NO_LISTENER] == 1


def test_rst_seq_ack_rules() -> None:
    e = engine()
    # ACK set: <SEQ=SEG.ACK><CTL=RST>
    r = rst_reply(e, TCP(sport=1, dport=80, seq=5, ack=777, flags="PA") / b"data")
    assert r is not None and r.flags == "R" and r.seq == 777 and r.ack == 0
    # no ACK: SEG.LEN counts data, SYN and FIN
    r = rst_reply(e, TCP(sport=1, dport=80, seq=0xFFFFFFFE, flags="SF") / b"abc")
    assert r is not None and r.flags == "RA" and r.ack == (0xFFFFFFFE + 5) & 0xFFFFFFFF
    r = rst_reply(e, TCP(sport=1, dport=80, seq=10, flags="") / b"xy")
    assert r is not None and r.flags == "RA" and r.ack == 12
    # never an RST for an RST
    assert rst_reply(e, TCP(sport=1, dport=80, seq=10, flags="R")) is None
    assert rst_reply(e, TCP(sport=1, dport=80, seq=10, ack=3, flags="RA")) is None


def test_tcp_checksum_errors_counted() -> None:
    e = engine()
    raw = bytearray(bytes(IP(src=PEER, dst=US) / TCP(sport=1, dport=80, flags="S")))
    raw[-3] ^= 0x40
    e.receive(bytes(raw), 1, 0.0)
    st = e.stats()
    assert st["TcpInCsumErrors"] == 1 and st["TcpInErrs"] == 1 and st["TcpInSegs"] == 0
    assert e.packets_to_send(0.0) == []


def test_listener_answers_ack_with_rst_and_ignores_rst() -> None:
    e = engine()
    e.tcp_listen(0, 80, 8)
    r = rst_reply(e, TCP(sport=1, dport=80, seq=5, ack=99, flags="A"))
    assert r is not None and r.flags == "R" and r.seq == 99
    assert rst_reply(e, TCP(sport=1, dport=80, seq=5, flags="R")) is None
    assert rst_reply(e, TCP(sport=1, dport=80, seq=5, flags="F")) is None


# --- two engines ----------------------------------------------------------------


def test_handshake_data_close_and_time_wait_between_engines() -> None:
    net = Net()
    lst = net.b.tcp_listen(0, 80, 16)
    client = net.a.tcp_connect(B_ADDR, 80, now=0.0)
    net.pump()
    assert client.state is TcpState.ESTABLISHED
    assert lst.pending == 1
    server = lst.accept()
    assert server is not None and lst.accept() is None
    net.drain(server)
    assert (server.local_addr, server.local_port) == (B_ADDR, 80)
    assert (server.remote_addr, server.remote_port) == (A_ADDR, client.local_port)
    assert Connected() in net.events[id(client)] and Connected() in net.events[id(server)]
    client.send(b"ping" * 1000, net.now)
    net.a.notify(client, net.now)
    net.pump()
    assert DataAvailable() in net.events[id(server)]
    assert server.read() == b"ping" * 1000
    net.b.notify(server, net.now)
    server.send(b"pong", net.now)
    net.b.notify(server, net.now)
    net.run_until(lambda: client.readable == 4)
    assert client.read() == b"pong"
    sa, sb = net.a.stats(), net.b.stats()
    assert sa["TcpActiveOpens"] == 1 and sb["TcpPassiveOpens"] == 1
    assert sa["TcpCurrEstab"] == 1 and sb["TcpCurrEstab"] == 1
    client.close(net.now)  # the client closes first: it will hold TIME-WAIT
    net.a.notify(client, net.now)
    net.pump()
    server.close(net.now)
    net.b.notify(server, net.now)
    net.pump()
    assert client.state is TcpState.TIME_WAIT and net.b.connection_count == 0
    assert ConnectionClosed(None) in net.events[id(client)]
    assert ConnectionClosed(None) in net.events[id(server)]
    assert net.a.connection_count + net.b.connection_count == 1  # the TIME-WAIT side
    net.run_until(lambda: net.a.connection_count + net.b.connection_count == 0)
    assert net.now == pytest.approx(60.0, abs=1.0)  # 2*MSL
    assert net.a.get_timer() is None and net.b.get_timer() is None
    assert net.a.stats()["TcpCurrEstab"] == 0
    assert net.a.stats()["TcpEstabResets"] == 0


def test_connection_refused_counts_attempt_fail() -> None:
    net = Net()
    client = net.a.tcp_connect(B_ADDR, 81, now=0.0)
    net.pump()
    assert client.state is TcpState.CLOSED
    [ev] = [e for e in net.events[id(client)] if isinstance(e, ConnectionClosed)]
    assert isinstance(ev.error, ConnectionRefusedError)
    assert net.a.stats()["TcpAttemptFails"] == 1
    assert net.a.connection_count == 0


def test_reset_of_established_counts_estab_reset() -> None:
    net = Net()
    net.b.tcp_listen(0, 80, 4)
    client = net.a.tcp_connect(B_ADDR, 80, now=0.0)
    net.pump()
    client.abort(net.now)
    net.a.notify(client, net.now)
    net.pump()
    assert net.a.stats()["TcpEstabResets"] == 1  # we aborted
    assert net.a.stats()["TcpOutRsts"] == 1
    assert net.b.stats()["TcpEstabResets"] == 1  # the peer got reset
    assert net.a.connection_count == 0 and net.b.connection_count == 0


def test_syn_retransmission_driven_by_engine_timer_heap() -> None:
    e = engine(PEER, syn_retries=2)
    conn = e.tcp_connect(B_ADDR, 80, now=0.0)
    assert len(e.packets_to_send(0.0)) == 1
    assert e.get_timer() == pytest.approx(1.0)  # RFC 6298 initial RTO
    e.handle_timer(0.5)  # early: nothing
    assert e.packets_to_send(0.5) == []
    e.handle_timer(1.0)
    assert len(e.packets_to_send(1.0)) == 1
    assert e.get_timer() == pytest.approx(3.0)  # backoff
    e.handle_timer(3.0)
    e.handle_timer(7.0)
    assert conn.state is TcpState.CLOSED
    assert e.connection_count == 0 and e.get_timer() is None
    assert e.stats()["TcpAttemptFails"] == 1
    assert conn in e.take_ready(7.0)


def test_listener_backlog_overflow() -> None:
    e = engine(syncookies=0)  # SYN cookies off: a full SYN queue drops (Linux tcp_syncookies=0)
    lst = e.tcp_listen(0, 80, 2)
    for port in (1001, 1002, 1003):
        e.receive(
            bytes(IP(src=PEER, dst=US) / TCP(sport=port, dport=80, seq=100, flags="S")), 1, 0.0
        )
    synacks = [IP(p)[TCP] for _, p in e.packets_to_send(0.0)]
    assert [s.dport for s in synacks] == [1001, 1002] and all(s.flags == "SA" for s in synacks)
    st = e.stats()
    assert st["ListenDrops"] == 1 and st["ListenOverflows"] == 0
    assert lst.syn_pending == 2
    # complete both handshakes; nobody accepts
    for s in synacks:
        ack = TCP(sport=s.dport, dport=80, seq=101, ack=s.seq + 1, flags="A")
        e.receive(bytes(IP(src=PEER, dst=US) / ack), 1, 0.0)
    assert e.take_ready(0.0) == [lst]
    assert lst.pending == 2 and lst.syn_pending == 0
    e.receive(bytes(IP(src=PEER, dst=US) / TCP(sport=1004, dport=80, seq=100, flags="S")), 1, 0.0)
    assert e.packets_to_send(0.0) == []
    st = e.stats()
    assert st["ListenOverflows"] == 1 and st["ListenDrops"] == 2
    first = lst.accept()
    assert first is not None and first.remote_port == 1001 and first.state is TcpState.ESTABLISHED


def test_listener_close_resets_unaccepted_children() -> None:
    e = engine()
    lst = e.tcp_listen(0, 80, 8)
    e.receive(bytes(IP(src=PEER, dst=US) / TCP(sport=1001, dport=80, seq=100, flags="S")), 1, 0.0)
    e.receive(bytes(IP(src=PEER, dst=US) / TCP(sport=1002, dport=80, seq=100, flags="S")), 1, 0.0)
    [(_, sa1), _] = e.packets_to_send(0.0)
    s1 = IP(sa1)[TCP]
    e.receive(
        bytes(IP(src=PEER, dst=US) / TCP(sport=1001, dport=80, seq=101, ack=s1.seq + 1, flags="A")),
        1,
        0.0,
    )
    assert lst.pending == 1 and lst.syn_pending == 1
    lst.close(0.0)
    rsts = [IP(p)[TCP] for _, p in e.packets_to_send(0.0)]
    assert sorted(r.dport for r in rsts) == [1001, 1002] and all(r.flags.R for r in rsts)
    assert e.connection_count == 0
    assert not any(isinstance(o, TcpConnection) for o in e.take_ready(0.0))  # children unseen
    # port free again; SYNs now get RSTs
    e.receive(bytes(IP(src=PEER, dst=US) / TCP(sport=1003, dport=80, seq=1, flags="S")), 1, 0.0)
    [(_, r)] = e.packets_to_send(0.0)
    assert IP(r)[TCP].flags == "RA"
    e.tcp_listen(0, 80, 8)


def test_specific_listener_preferred_over_wildcard() -> None:
    e = StackEngine(StackConfig(), secret=b"w" * 16, now=0.0)
    e.add_interface(ip(US), 24, 1500)
    e.add_interface(ip("198.19.0.2"), 24, 1500)
    wild = e.tcp_listen(0, 80, 8)
    with pytest.raises(OSError) as info:
        e.tcp_listen(ip("198.19.0.2"), 80, 8)
    assert info.value.errno == errno.EADDRINUSE
    wild.close()
    specific = e.tcp_listen(ip("198.19.0.2"), 80, 8)
    e.receive(
        bytes(IP(src="198.19.0.1", dst="198.19.0.2") / TCP(sport=5, dport=80, flags="S")), 2, 0.0
    )
    e.receive(bytes(IP(src=PEER, dst=US) / TCP(sport=5, dport=80, flags="S")), 1, 0.0)
    out = e.packets_to_send(0.0)
    assert sorted((i, str(IP(p)[TCP].flags)) for i, p in out) == [(1, "RA"), (2, "SA")]
    assert specific.syn_pending == 1


def test_transparent_listener_accepts_any_destination() -> None:
    e = engine()
    lst = e.tcp_listen(0, 0, 64, transparent=True)
    targets = [("93.184.216.34", 443), ("198.51.100.7", 22)]
    for i, (dst, port) in enumerate(targets):
        syn = IP(src=PEER, dst=dst) / TCP(sport=40000 + i, dport=port, seq=7, flags="S")
        e.receive(bytes(syn), 1, 0.0)
    out = [IP(p) for _, p in e.packets_to_send(0.0)]
    assert [(p.src, p[TCP].sport, p[TCP].flags) for p in out] == [
        ("93.184.216.34", 443, "SA"),
        ("198.51.100.7", 22, "SA"),
    ]
    for i, p in enumerate(out):
        ack = IP(src=PEER, dst=p.src) / TCP(
            sport=40000 + i, dport=p[TCP].sport, seq=8, ack=p[TCP].seq + 1, flags="A"
        )
        e.receive(bytes(ack), 1, 0.0)
        data = (
            IP(src=PEER, dst=p.src)
            / TCP(sport=40000 + i, dport=p[TCP].sport, seq=8, ack=p[TCP].seq + 1, flags="PA")
            / b"GET"
        )
        e.receive(bytes(data), 1, 0.0)
    conns = [lst.accept(), lst.accept()]
    assert [(c.local_addr, c.local_port) for c in conns if c] == [
        (ip("93.184.216.34"), 443),
        (ip("198.51.100.7"), 22),
    ]
    assert all(c is not None and c.read() == b"GET" for c in conns)
    # non-TCP to a foreign address is still not ours
    e.receive(bytes(IP(src=PEER, dst="93.184.216.34", proto=17) / (b"\0" * 8)), 1, 0.0)
    assert e.stats()[S.DROP_IP_NOT_FOR_US] == 1


def test_syn_to_time_wait_reopens() -> None:
    net = Net()
    lst = net.b.tcp_listen(0, 80, 8)
    client = net.a.tcp_connect(B_ADDR, 80, local_port=5000, now=0.0)
    net.pump()
    server = lst.accept()
    assert server is not None
    server.close(net.now)  # the server closes first: it holds TIME-WAIT
    net.b.notify(server, net.now)
    net.pump()
    client.close(net.now)
    net.a.notify(client, net.now)
    net.pump()
    assert server.state is TcpState.TIME_WAIT and net.b.connection_count == 1
    net.now += 1.0
    client2 = net.a.tcp_connect(B_ADDR, 80, local_port=5000, now=net.now)
    net.pump()
    assert client2.state is TcpState.ESTABLISHED
    again = lst.accept()
    assert again is not None and again is not server and again.state is TcpState.ESTABLISHED


def test_many_connections_each_exchange_a_byte_and_close() -> None:
    n = 2000
    net = Net()
    lst = net.b.tcp_listen(0, 80, 4096)
    clients = [net.a.tcp_connect(B_ADDR, 80, now=0.0) for _ in range(n)]
    assert len({c.local_port for c in clients}) == n
    net.pump()
    assert all(c.state is TcpState.ESTABLISHED for c in clients)
    servers = []
    while (s := lst.accept()) is not None:
        net.drain(s)
        servers.append(s)
    assert len(servers) == n
    assert net.a.connection_count == n and net.b.connection_count == n
    for c in clients:
        c.send(b"x", net.now)
        net.a.notify(c, net.now)
    net.pump()
    for s in servers:
        assert s.read() == b"x"
        s.send(b"y", net.now)
        s.close(net.now)
        net.b.notify(s, net.now)
    net.pump()
    for c in clients:
        assert c.read() == b"y"
        c.close(net.now)
        net.a.notify(c, net.now)
    net.run_until(lambda: net.a.connection_count + net.b.connection_count == 0)
    assert net.b.stats()["TcpPassiveOpens"] == n and net.a.stats()["TcpActiveOpens"] == n
    assert net.a.get_timer() is None and net.b.get_timer() is None
    assert not net.a._heap and not net.b._heap
    assert net.packets >= 7 * n  # handshake, data both ways, FINs: every connection did the work


def test_notify_unknown_objects_is_harmless() -> None:
    e = engine()
    e.notify(object(), 0.0)
    lst = e.tcp_listen(0, 80, 1)
    assert isinstance(lst, TcpListener)
    e.notify(lst, 0.0)
    assert e.packets_to_send(0.0) == []


def test_loopback_connection_to_own_address() -> None:
    e = engine()
    lst = e.tcp_listen(0, 80, 8)
    client = e.tcp_connect(ip(US), 80, now=0.0)
    assert e.packets_to_send(0.0) == []  # nothing leaves the host
    assert client.state is TcpState.ESTABLISHED
    server = lst.accept()
    assert server is not None and server.remote_port == client.local_port
    client.send(b"to myself", 0.0)
    e.notify(client, 0.0)
    assert e.packets_to_send(0.0) == []
    assert server.read() == b"to myself"
    u = e.udp_open(local_port=9)
    v = e.udp_open(remote=(ip(US), 9))
    v.send(b"dgram", 0.0)
    ping = e.ping(ip(US), 1, 1, b"me", 0.0)
    assert e.packets_to_send(0.0) == []
    ready = e.take_ready(0.0)
    assert u in ready and ping in ready and ping.rtt == 0.0
    assert u.next_event() == UdpDatagramReceived(b"dgram", (ip(US), v.local_port))
    # own source address from outside is still a martian
    e.receive(bytes(IP(src=US, dst=US) / TCP(sport=1, dport=80, flags="S")), 1, 0.0)
    assert e.stats()[S.DROP_IP_MARTIAN_SOURCE] == 1


def test_engine_close_resets_everything() -> None:
    net = Net()
    lst = net.b.tcp_listen(0, 80, 8)
    clients = [net.a.tcp_connect(B_ADDR, 80, now=0.0) for _ in range(3)]
    net.pump()
    server = lst.accept()
    assert server is not None
    u = net.b.udp_open(local_port=53)
    assert len(net.b.connections()) == 3
    net.b.close(net.now)
    assert net.b.connection_count == 0 and u.closed and lst.closed
    net.pump()
    assert all(c.state is TcpState.CLOSED for c in clients)
    assert all(
        any(
            isinstance(ev, ConnectionClosed) and isinstance(ev.error, ConnectionResetError)
            for ev in net.events[id(c)]
        )
        for c in clients
    )
    assert net.a.connection_count == 0


def test_timer_heap_is_lazy_and_idle_connections_cost_nothing() -> None:
    net = Net()
    lst = net.b.tcp_listen(0, 80, 1024)
    clients = [net.a.tcp_connect(B_ADDR, 80, now=0.0) for _ in range(200)]
    net.run_until(lambda: lst.pending == 200)
    servers = [lst.accept() for _ in range(200)]
    # let every handshake-time timer (delayed ACKs...) run out
    while net.advance():
        pass
    assert net.a.get_timer() is None and net.b.get_timer() is None  # idle: no timers at all
    assert not net.a._heap and not net.b._heap
    # A bulk transfer on one connection: deadlines move later all the time, yet
    # the heap holds only a handful of entries (pushed only when moved earlier).
    c, s = clients[0], servers[0]
    assert s is not None
    peak = 0
    for _ in range(50):
        c.send(b"z" * 20000, net.now)
        net.a.notify(c, net.now)
        net.pump()
        s.read()
        net.b.notify(s, net.now)
        net.pump()
        peak = max(peak, len(net.a._heap), len(net.b._heap))
        net.now += 0.01
        net.a.handle_timer(net.now)
        net.b.handle_timer(net.now)
    assert peak <= 4


def test_ipv6_packets_counted_apart_not_as_header_errors() -> None:
    # The kernel sends IPv6 router solicitations on a TUN device it brought up:
    # counted by type in the IPv6 counters, not as IPv4 (nor any) errors, no reply.
    from scapy.layers.inet6 import ICMPv6ND_RS, IPv6

    e = engine()
    e.receive(bytes(IPv6(src="fe80::1", dst="ff02::2") / ICMPv6ND_RS()), 1, 0.0)
    st = e.stats()
    assert st["Icmp6InRouterSolicits"] == 1
    assert st["Ip6InReceives"] == 1
    assert st["IpInHdrErrors"] == 0
    assert st["IpInReceives"] == 0
    assert sum(v for k, v in st.items() if k.startswith("Drop")) == 0
    assert e.packets_to_send(0.0) == []


def test_second_transparent_listener_is_refused() -> None:
    e = engine()
    e.tcp_listen(0, 0, 64, transparent=True)
    with pytest.raises(OSError) as info:
        e.tcp_listen(0, 0, 64, transparent=True)
    assert info.value.errno == errno.EADDRINUSE


def _keepalive_bursts(net: Net, c: TcpConnection, s: TcpConnection, bursts: int) -> None:
    """Bursts on one connection: each RTO supersedes a far-future keepalive deadline."""
    for _ in range(bursts):
        c.send(b"z" * 3000, net.now)
        net.a.notify(c, net.now)
        net.pump()
        s.read()
        net.b.notify(s, net.now)
        net.pump()
        for _ in range(5):  # run the near timers (RTO, delayed ACK), not the 2 h keepalive
            due = [t for t in (net.a.get_timer(), net.b.get_timer()) if t is not None]
            if not due or min(due) > net.now + 10:
                break
            net.now = max(net.now, min(due))
            net.a.handle_timer(net.now)
            net.b.handle_timer(net.now)
            net.pump()
        net.now += 1.0


def _keepalive_pair() -> tuple[Net, TcpConnection, TcpConnection]:
    net = Net(keepalive=True)
    lst = net.b.tcp_listen(0, 80, 16)
    net.a.tcp_connect(B_ADDR, 80, now=0.0)  # idle: its keepalive is the heap's top for 2 h
    net.run_until(lambda: lst.pending == 1)
    assert lst.accept() is not None
    net.now = 1.0
    c = net.a.tcp_connect(B_ADDR, 80, now=net.now)
    net.run_until(lambda: lst.pending == 1)
    s = lst.accept()
    assert s is not None
    return net, c, s


def test_timer_heap_stale_keepalive_items_are_compacted() -> None:
    net, c, s = _keepalive_pair()
    _keepalive_bursts(net, c, s, 300)  # was one stale far-future item per burst (~300)
    assert len(net.a._heap) <= 2 * len(net.a._tcp) + 64
    assert len(net.b._heap) <= 2 * len(net.b._tcp) + 64
    assert c.state is TcpState.ESTABLISHED  # and the timers still work
    _keepalive_bursts(net, c, s, 2)
    assert s.read() == b""


def test_removed_connection_not_pinned_by_stale_heap_items() -> None:
    net, c, s = _keepalive_pair()
    _keepalive_bursts(net, c, s, 3)
    c.abort(net.now)
    net.a.notify(c, net.now)
    net.pump()
    dead = [item[2] for item in net.a._heap if not item[2].alive]
    assert dead  # a stale item for the removed connection is still on the heap
    assert all(not hasattr(entry, "conn") for entry in dead)  # ... but it holds no connection


def test_syn_to_time_wait_not_admitted_keeps_time_wait() -> None:
    net = Net()
    lst = net.b.tcp_listen(0, 80, 1)
    client = net.a.tcp_connect(B_ADDR, 80, local_port=5000, now=0.0)
    net.pump()
    server = lst.accept()
    assert server is not None
    server.close(net.now)  # the server closes first: it holds TIME-WAIT for (5000, 80)
    net.b.notify(server, net.now)
    net.pump()
    client.close(net.now)
    net.a.notify(client, net.now)
    net.pump()
    assert server.state is TcpState.TIME_WAIT
    net.a.tcp_connect(B_ADDR, 80, local_port=6000, now=net.now)
    net.pump()
    assert lst.pending == 1  # backlog 1: the accept queue is full
    net.now += 1.0
    client2 = net.a.tcp_connect(B_ADDR, 80, local_port=5000, now=net.now)
    net.pump()
    assert client2.state is TcpState.SYN_SENT  # the listener dropped the SYN ...
    assert net.b.stats()["ListenOverflows"] == 1
    # ... and TIME-WAIT (a compact entry now, not the connection) still guards the pair
    assert net.b.time_wait_keys() == [(B_ADDR, 80, A_ADDR, 5000)]
    assert server.state is TcpState.TIME_WAIT


def test_child_reset_in_accept_queue_leaves_it() -> None:
    net = Net()
    lst = net.b.tcp_listen(0, 80, 2)
    clients = [net.a.tcp_connect(B_ADDR, 80, now=0.0) for _ in range(2)]
    net.pump()
    assert lst.pending == 2  # the backlog is full
    clients[0].abort(net.now)  # RST to the not-yet-accepted child
    net.a.notify(clients[0], net.now)
    net.pump()
    assert lst.pending == 1  # the dead child no longer holds a backlog slot
    child = lst.accept()
    assert child is not None and child.remote_port == clients[1].local_port
    assert lst.accept() is None
