"""Two StackEngines joined by a wire the test controls packet by packet (issue 11):
the fuzz harness (``fuzz_engine.py``) and the stateful test (``test_stack_stateful.py``)
hold live connections with it, deliver, drop, duplicate, reorder and corrupt what
is in flight, and move the clock themselves (the engines never read one)."""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Any

from aionetstack.core.config import StackConfig
from aionetstack.core.listener import TcpListener
from aionetstack.core.stack import StackEngine
from aionetstack.core.tcp.connection import TcpConnection
from aionetstack.core.tcp.states import TcpState
from aionetstack.wire.checksum import internet_checksum, pseudo_header_sum
from aionetstack.wire.ipv4 import PROTO_ICMP, PROTO_TCP, parse_ipv4
from aionetstack.wire.tcp import parse_tcp

A_IP = int(IPv4Address("198.18.0.1"))
B_IP = int(IPv4Address("198.18.0.2"))
PORT = 80
AB, BA = 0, 1  # the wire's two directions: A -> B, B -> A


def fix_checksums(p: bytearray) -> None:
    """Recompute the IPv4 header and TCP checksums of ``p`` in place, when its
    headers are whole enough to have them (a mutation reaches the TCP layer)."""
    if len(p) < 20 or p[0] >> 4 != 4:
        return
    ihl = (p[0] & 15) * 4
    total = int.from_bytes(p[2:4], "big")
    if ihl < 20 or len(p) < ihl:
        return
    p[10:12] = b"\0\0"
    p[10:12] = internet_checksum(p[:ihl]).to_bytes(2, "big")
    if p[9] != PROTO_TCP or not ihl + 20 <= total <= len(p):
        return
    src, dst = int.from_bytes(p[12:16], "big"), int.from_bytes(p[16:20], "big")
    p[ihl + 16 : ihl + 18] = b"\0\0"
    initial = pseudo_header_sum(src, dst, PROTO_TCP, total - ihl)
    p[ihl + 16 : ihl + 18] = internet_checksum(p[ihl:total], initial).to_bytes(2, "big")


def check_well_formed(packet: bytes) -> None:
    """What an engine sends is a valid IPv4 packet, TCP or ICMP (an error about
    a forged packet), checksums included."""
    header, payload = parse_ipv4(packet)
    if header.protocol == PROTO_ICMP:
        assert len(payload) >= 8 and internet_checksum(payload) == 0, header
        return
    assert header.protocol == PROTO_TCP, header
    parse_tcp(payload, header.src, header.dst)


class Pair:
    """Engine A (client, 198.18.0.1) and engine B (server, 198.18.0.2, port 80)."""

    def __init__(self, **cfg: Any) -> None:
        self.now = 0.0
        config = StackConfig(**cfg)
        self.a = StackEngine(config, secret=b"a" * 16, now=0.0)
        self.b = StackEngine(config, secret=b"b" * 16, now=0.0)
        self.a.add_interface(A_IP, 24, 1500)
        self.b.add_interface(B_IP, 24, 1500)
        self.listener: TcpListener = self.b.tcp_listen(0, PORT, 16)
        self.client: TcpConnection | None = None
        self.server: TcpConnection | None = None
        self.wire: tuple[list[bytes], list[bytes]] = ([], [])
        self.sent_by_a: list[bytes] = []  # every packet A emitted (templates for the fuzzer)
        self.delivered = [0, 0]  # packets handed over from the wire, per direction

    def connect(self) -> TcpConnection:
        self.client = self.a.tcp_connect(B_IP, PORT, now=self.now)
        self.flush()
        return self.client

    def flush(self) -> None:
        """Each engine's output onto the wire (every packet checked), events taken."""
        for engine, way in ((self.a, AB), (self.b, BA)):
            engine.take_ready(self.now)
            for _ifindex, packet in engine.packets_to_send(self.now):
                check_well_formed(packet)
                self.wire[way].append(packet)
                if way == AB:
                    self.sent_by_a.append(packet)
                    del self.sent_by_a[:-64]
        if self.server is None:
            self.server = self.listener.accept()

    def deliver(self, way: int, index: int = 0) -> None:
        """Hand the in-flight packet ``index`` of ``way`` to its receiver."""
        packet = self.wire[way].pop(index)
        self.delivered[way] += 1
        (self.b if way == AB else self.a).receive(packet, 1, self.now)
        self.flush()

    def inject(self, way: int, packet: bytes) -> None:
        """A packet that did not come from the other engine (fuzzed, forged)."""
        (self.b if way == AB else self.a).receive(packet, 1, self.now)
        self.flush()

    def advance(self, seconds: float) -> None:
        """Move the clock; fire every timer due on the way (in order)."""
        end = self.now + seconds
        while True:
            due = [t for t in (self.a.get_timer(), self.b.get_timer()) if t is not None]
            nxt = min(due, default=end)
            if nxt > end:
                break
            self.now = max(self.now, nxt)
            for engine in (self.a, self.b):
                timer = engine.get_timer()
                if timer is not None and timer <= self.now:
                    engine.handle_timer(self.now)
            self.flush()
            if nxt >= end:
                break
        self.now = end

    def settle(self, limit: float = 600.0) -> None:
        """Deliver everything in flight, in order, no faults, moving the clock
        through retransmission timers until the wire is quiet."""
        start = self.now
        while self.now - start < limit:
            while self.wire[AB] or self.wire[BA]:
                self.deliver(AB if self.wire[AB] else BA)
            timers = [t for t in (self.a.get_timer(), self.b.get_timer()) if t is not None]
            if not timers:
                return
            self.advance(max(0.0, min(timers) - self.now))
            if not (self.wire[AB] or self.wire[BA]) and all(
                c is None or c.send_queued == 0 or c.state is TcpState.CLOSED
                for c in (self.client, self.server)
            ):
                return
