"""Buffer autotuning and memory pressure (issue 11), with explicit time.

Two engines joined by a wire with a fixed one-way delay (``Wire``); the clock
moves only when the test says. What is checked is Linux's behaviour:
``tcp_sndbuf_expand`` (the send buffer follows cwnd), ``tcp_rcv_space_adjust``
(the receive buffer follows the application's read rate), ``tcp_mem``
(pressure stops growth, shrinks the window offered, never reneges; above the
hard limit new data is refused) and the counters.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

import pytest

from aionetstack.core.config import StackConfig
from aionetstack.core.stack import StackEngine
from aionetstack.core.tcp.connection import TcpConnection
from aionetstack.core.tcp.memory import TcpMemory
from aionetstack.core.tcp.sender import segment_truesize
from aionetstack.core.tcp.states import TcpState
from aionetstack.wire.seq import seq_diff

A_IP = 0xC6120001  # 198.18.0.1
B_IP = 0xC6120002  # 198.18.0.2
HIGH_WATER = 64 * 1024  # what an asyncio transport lets a writer queue beyond the buffer
MSS = 1448  # MTU 1500 with timestamps
CHUNK = bytes(range(256)) * 256  # 64 KiB of data


class Wire:
    """Connections between engine A and engine B, packets delayed by ``owd``
    each way; ``run`` moves the clock event by event."""

    def __init__(self, config: StackConfig, owd: float = 0.005) -> None:
        self.owd = owd
        self.now = 0.0
        self.a = StackEngine(config, secret=b"a" * 16, now=0.0)
        self.b = StackEngine(config, secret=b"b" * 16, now=0.0)
        self.a.add_interface(A_IP, 24, 1500)
        self.b.add_interface(B_IP, 24, 1500)
        self.listener = self.b.tcp_listen(B_IP, 80, 4096)
        self._q: list[tuple[float, int, StackEngine, bytes]] = []
        self._seq = itertools.count()

    def flush(self) -> None:
        self._flush_one(self.a)
        self._flush_one(self.b)

    def _flush_one(self, src: StackEngine) -> None:
        dst = self.b if src is self.a else self.a
        src.take_ready(self.now)
        for _ifindex, packet in src.packets_to_send(self.now):
            heapq.heappush(self._q, (self.now + self.owd, next(self._seq), dst, packet))

    def connect(self, n: int) -> list[tuple[TcpConnection, TcpConnection]]:
        clients = [self.a.tcp_connect(B_IP, 80, now=self.now) for _ in range(n)]
        self.flush()
        self.run(4 * self.owd)
        servers = []
        while (s := self.listener.accept()) is not None:
            servers.append(s)
        assert len(servers) == n
        by_port = {s.remote_port: s for s in servers}
        return [(c, by_port[c.local_port]) for c in clients]

    def run(self, seconds: float, on_tick: Callable[[], None] | None = None) -> None:
        """Deliver packets and fire timers until ``now + seconds``; ``on_tick``
        (the applications) runs at the start and after every event."""
        end = self.now + seconds
        if on_tick is not None:
            on_tick()
            self.flush()
        while True:
            nxt = self._q[0][0] if self._q else float("inf")
            for engine in (self.a, self.b):
                t = engine.get_timer()
                if t is not None and t < nxt:
                    nxt = t
            if nxt > end:
                break
            self.now = max(self.now, nxt)
            while self._q and self._q[0][0] <= self.now:
                # one packet per wakeup: each engine's account is as fresh as a
                # stack reading a link in small batches keeps it
                _, _, dst, packet = heapq.heappop(self._q)
                dst.receive(packet, 1, self.now)
                self._flush_one(dst)
            for engine in (self.a, self.b):
                t = engine.get_timer()
                if t is not None and t <= self.now:
                    engine.handle_timer(self.now)
            if on_tick is not None:
                on_tick()
            self.flush()
        self.now = end

    def touch(self, *conns: TcpConnection) -> None:
        for c in conns:
            (self.a if c.local_addr == A_IP else self.b).notify(c, self.now)


def fill(c: TcpConnection, now: float) -> None:
    """A writer as asyncio's: writes while the transport's write buffer
    (what the engine queues beyond its send buffer) is under the high-water mark."""
    while c.send_queued - c.send_buffer_size <= HIGH_WATER:
        c.send(CHUNK, now)


# --------------------------------------------------------------- send buffer


def test_send_buffer_starts_at_tcp_wmem_and_is_sized_for_the_initial_window() -> None:
    c = TcpConnection.connect(
        StackConfig(), local_addr=A_IP, local_port=40000, remote_addr=B_IP, remote_port=80,
        iss=1000, mtu=1500, now=0.0,
    )  # fmt: skip
    assert c.send_buffer_size == 16384  # tcp_wmem[1] until the handshake completes
    assert segment_truesize(1448) == 4352  # Linux's per-segment size at MSS 1448
    w = Wire(StackConfig())
    ((client, server),) = w.connect(1)
    # Linux tcp_init_buffer_space -> tcp_sndbuf_expand: 2 x 10 segments x 4352
    assert client.send_buffer_size == server.send_buffer_size == 87040
    assert client.recv_buffer_size == 128 * 1024  # tcp_rmem[1]


def test_send_buffer_grows_with_cwnd_up_to_the_maximum() -> None:
    w = Wire(StackConfig(send_buffer=1024 * 1024))
    ((client, server),) = w.connect(1)
    seen: list[tuple[int, int]] = []

    def tick() -> None:
        fill(client, w.now)
        server.read()
        w.touch(client, server)
        seen.append((client.send_buffer_size, client.tcp_info().cwnd))

    w.run(0.3, tick)
    sizes = [s for s, _ in seen]
    assert sizes == sorted(sizes)  # it only grows
    top_cwnd_segments = max(cwnd for _, cwnd in seen) // MSS
    for size, _ in seen:
        # 2 x cwnd segments (never fewer than 10) x Linux's per-segment size
        assert size % (2 * 4352) == 0 or size == 1024 * 1024
        assert size <= max(87040, 2 * 4352 * top_cwnd_segments)
    assert sizes[-1] == 1024 * 1024  # slow start took it to the maximum
    # the writer was paused whenever the send buffer plus 64 KiB were queued
    assert client.send_queued <= client.send_buffer_size + HIGH_WATER + len(CHUNK)


def test_so_sndbuf_fixes_the_send_buffer() -> None:
    w = Wire(StackConfig())
    ((client, server),) = w.connect(1)
    client.lock_send_buffer(50000)

    def tick() -> None:
        fill(client, w.now)
        server.read()
        w.touch(client, server)

    w.run(0.2, tick)
    assert client.send_buffer_size == 50000
    assert client.tcp_info().cwnd > 50000  # it would have grown


# --------------------------------------------------------------- receive buffer


def _stream(w: Wire, client: TcpConnection, server: TcpConnection, seconds: float,
            read_per_tick: int) -> list[int]:  # fmt: skip
    """The client writes as fast as it may; the server reads ``read_per_tick``
    bytes each time something happens (-1: everything). The server's receive
    buffer after each event."""
    sizes: list[int] = []

    def tick() -> None:
        fill(client, w.now)
        server.read(read_per_tick)
        w.touch(client, server)
        sizes.append(server.recv_buffer_size)

    w.run(seconds, tick)
    return sizes


def test_receive_buffer_grows_with_the_read_rate() -> None:
    w = Wire(StackConfig())
    ((client, server),) = w.connect(1)
    sizes = _stream(w, client, server, 0.5, -1)
    assert sizes == sorted(sizes)
    assert sizes[0] == 128 * 1024
    # dynamic right-sizing: about twice what was read per RTT, up to the maximum
    assert sizes[-1] > 1024 * 1024
    # the window advertised follows: the scale (chosen from the 4 MiB maximum) allows it
    assert server.rcv_wscale == 7
    assert server.tcp_info().rcv_wnd > 512 * 1024
    # the receiver's RTT, from the echoed timestamps
    assert server._rcv_rtt == pytest.approx(0.01, abs=0.001)


def test_receive_buffer_of_a_slow_reader_does_not_grow() -> None:
    w = Wire(StackConfig())
    ((client, server),) = w.connect(1)
    sizes = _stream(w, client, server, 0.5, 2000)
    assert set(sizes) == {128 * 1024}
    assert server.readable > 100 * 1024  # the buffer is full, the sender waits


def test_receive_buffer_grows_without_timestamps_too() -> None:
    w = Wire(StackConfig(timestamps=False))
    ((client, server),) = w.connect(1)
    sizes = _stream(w, client, server, 0.5, -1)
    assert sizes[-1] > 1024 * 1024
    assert 0.0 < server._rcv_rtt <= 0.05  # the time one window took to arrive


def test_moderate_rcvbuf_off_keeps_the_initial_buffer() -> None:
    w = Wire(StackConfig(moderate_rcvbuf=False))
    ((client, server),) = w.connect(1)
    sizes = _stream(w, client, server, 0.3, -1)
    assert set(sizes) == {128 * 1024}


# --------------------------------------------------------------- memory pressure


def test_memory_account_thresholds_and_counters() -> None:
    m = TcpMemory(100, 200, 300)
    m.charge(150)
    assert not m.pressure and m.soft_limited and not m.over_limit
    m.charge(60)
    assert m.pressure and m.pressures == 1
    m.charge(-50)  # 160: still under pressure until below low
    assert m.pressure
    m.charge(-70)  # 90
    assert not m.pressure and not m.soft_limited
    m.charge(250)  # 340
    assert m.pressure and m.over_limit and m.pressures == 2
    assert m.counters()["TCPMemoryPressures"] == 2
    assert m.counters()["TCPMemoryPeak"] == 340


def test_pressure_stops_growth_shrinks_windows_and_never_reneges() -> None:
    cfg = StackConfig(tcp_mem=(64 * 1024, 96 * 1024, 64 * 1024 * 1024))
    w = Wire(cfg)
    ((client, server),) = w.connect(1)
    edges: list[int] = []
    reading = [False]

    def tick() -> None:
        fill(client, w.now)
        if reading[0]:
            server.read()
        w.touch(client, server)
        edges.append(server.rcv_adv)

    # a reader that does not read: the receive queue passes tcp_mem's pressure mark
    w.run(0.1, tick)
    mem = w.b.tcp_memory
    assert mem.pressure and w.b.stats()["TCPMemoryPressures"] == 1
    # the sender's side (its queue is bounded by its buffers) is under pressure too
    assert w.a.tcp_memory.pressure
    buf_a, buf_b = client.send_buffer_size, server.recv_buffer_size
    # now it reads everything, fast: under pressure the window offered grows by
    # at most 4 segments, the buffers do not grow, and no right edge moves back
    reading[0] = True
    w.run(0.2, tick)
    bad = [(a, b) for a, b in itertools.pairwise(edges) if seq_diff(b, a) < 0]
    assert not bad
    assert server.recv_buffer_size == buf_b
    assert client.send_buffer_size <= buf_a
    if mem.pressure:
        assert server.tcp_info().rcv_wnd <= 4 * server.rcv_mss


def test_hard_limit_refuses_new_data_and_moderates_send_buffers() -> None:
    # a small hard limit: four connections' receive queues pass it
    cfg = StackConfig(tcp_mem=(100_000, 150_000, 200_000))
    w = Wire(cfg)
    pairs = w.connect(4)

    def tick() -> None:
        for client, server in pairs:
            fill(client, w.now)
            server.read(100)  # a very slow reader
            w.touch(client, server)

    w.run(1.0, tick)
    stats = w.b.stats()
    assert stats["TCPRcvQDrop"] > 0  # data joining a non-empty queue was refused
    assert stats["TCPMemoryPressures"] >= 1
    # every connection still took data (an empty queue always accepts)
    assert all(server.bytes_received > 0 for _, server in pairs)
    # the receiver holds at most its hard limit plus one segment per connection
    assert w.b.tcp_memory.peak <= 200_000 + 4 * 65536
    # the sender moderated its send buffers: the writers are paused
    assert w.a.stats()["TCPSndbufModerated"] > 0 or not w.a.tcp_memory.over_limit
    for client, _ in pairs:
        assert client.state is TcpState.ESTABLISHED


def test_slow_readers_with_fast_senders_stay_within_the_budget() -> None:
    n = 20
    budget = 1024 * 1024  # tcp_mem's high mark on both sides
    cfg = StackConfig(tcp_mem=(budget // 2, budget * 3 // 4, budget))
    w = Wire(cfg)
    pairs = w.connect(n)
    delivered = [0] * n
    sender_late = [0]  # the senders' account once the first round trips are over

    def tick() -> None:
        for i, (client, server) in enumerate(pairs):
            fill(client, w.now)
            delivered[i] += len(server.read(3000))  # slow readers
            w.touch(client, server)
        if w.now > 0.1:
            sender_late[0] = max(sender_late[0], w.a.tcp_memory.allocated)

    w.run(1.0, tick)
    # without the budget each receive queue would fill its 128 KiB buffer:
    # 20 x 128 KiB = 2.5 MiB; with it the receiver stays near the budget
    receiver = w.b.tcp_memory
    assert receiver.peak <= budget + n * MSS
    assert receiver.pressures >= 1
    # the senders: at first every writer fills its send buffer (87040 bytes
    # after the handshake) and its transport's 64 KiB, more than the budget;
    # above tcp_mem's high mark the send buffers are moderated to the minimum,
    # and what stays is what the writers may queue in their transports
    sender = w.a.tcp_memory
    assert sender.sndbuf_moderations > 0
    assert sender_late[0] <= budget + n * (HIGH_WATER + len(CHUNK))
    assert all(client.send_buffer_size < 87040 for client, _ in pairs)
    # and every connection made progress
    assert min(delivered) > 0
    # the readers take everything in the end: the stream is intact
    for client, server in pairs:
        assert client.state is TcpState.ESTABLISHED and server.state is TcpState.ESTABLISHED


def test_closing_gives_the_charge_back() -> None:
    w = Wire(StackConfig())
    pairs = w.connect(3)
    for client, _ in pairs:
        client.send(b"x" * 100_000, w.now)
    w.touch(*(c for c, _ in pairs))
    w.run(0.05)
    assert w.b.tcp_memory.allocated == 300_000  # unread, charged
    for client, server in pairs:
        server.read()
        client.close(w.now)
        server.close(w.now)
    w.touch(*(c for pair in pairs for c in pair))
    w.run(1.0)
    assert w.a.tcp_memory.allocated == 0
    assert w.b.tcp_memory.allocated == 0
