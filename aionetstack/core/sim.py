"""A deterministic network simulator for sans-IO engines.

Theory of operation
-------------------
Virtual time starts at 0.0 and only moves when the simulator pops the next
event. Everything random comes from one ``random.Random(seed)``, so a run is
a pure function of its seed and script: a failing test prints the seed and
re-runs identically.

* An **endpoint** is anything with ``receive(packet, now)``,
  ``packets_to_send(now)``, ``get_timer()`` and ``handle_timer(now)`` (the
  ``Endpoint`` protocol): a ``TcpEndpoint`` wrapping one ``TcpConnection``,
  or a ``StackEndpoint`` wrapping a whole stack engine.
* A **link** (``SimLink``) carries packets one way from one endpoint to
  another with delay, jitter, loss, reordering, duplication, corruption, a
  bandwidth and a finite queue (tail drop), plus scripted drops
  (``drop_next``). One ``SimLink`` passed to several ``join`` calls is one
  shared bottleneck: its queue and its wire serve all of them in FIFO order
  (a dumbbell for fairness tests).
* The main loop (``run``): pick the earliest of the event heap (packet
  deliveries, scripted application actions) and the endpoints' timers; set
  ``now``; deliver every packet due and fire every timer due; then flush each
  endpoint **once** (``packets_to_send``), like the asyncio driver does after a
  batch. So the engines see exactly the batching they get in production.

``TcpEndpoint`` parses packets as the stack would (``parse_ipv4`` then
``parse_tcp`` with the addresses, so a corrupted packet fails its checksum and
is dropped and counted), plays the application (auto-read, a paced writer that
respects the send buffer, scripted shutdown/close/abort) and records events.

The aioquic-style helpers ``transfer``, ``roundtrip`` and ``drop`` move packets
between two bare ``TcpConnection`` objects at an explicit time, for unit tests.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from typing import Protocol

from aionetstack.core.config import StackConfig
from aionetstack.core.tcp.connection import TcpConnection, rst_for_unexpected
from aionetstack.core.tcp.events import (
    ConnectionClosed,
    DataAvailable,
    EofReceived,
    SendSpace,
    TcpEvent,
)
from aionetstack.core.tcp.states import TcpState
from aionetstack.wire.errors import WireError
from aionetstack.wire.ipv4 import PROTO_TCP, parse_ipv4
from aionetstack.wire.tcp import SYN, TcpSegment, flags_to_str, parse_tcp

__all__ = [
    "Endpoint",
    "SimLink",
    "Simulator",
    "StackEndpoint",
    "TcpEndpoint",
    "describe",
    "drop",
    "parse_packet",
    "roundtrip",
    "transfer",
]


class Endpoint(Protocol):
    """What the simulator drives."""

    name: str

    def receive(self, packet: bytes, now: float) -> None: ...

    def packets_to_send(self, now: float) -> list[bytes]: ...

    def get_timer(self) -> float | None: ...

    def handle_timer(self, now: float) -> None: ...


def parse_packet(packet: bytes | bytearray | memoryview) -> TcpSegment:
    """IPv4 + TCP parse with checksum verification (raises WireError)."""
    hdr, payload = parse_ipv4(packet)
    if hdr.protocol != PROTO_TCP:
        raise WireError("not TCP")
    return parse_tcp(payload, hdr.src, hdr.dst)


def describe(seg: TcpSegment) -> str:
    """A tcpdump-like one-liner for traces."""
    s = f"{seg.src_port}>{seg.dst_port} [{flags_to_str(seg.flags)}] seq={seg.seq}"
    if seg.flags & 0x10:
        s += f" ack={seg.ack}"
    s += f" win={seg.window} len={len(seg.payload)}"
    if seg.sack_blocks:
        s += f" sack={list(seg.sack_blocks)}"
    return s


# --------------------------------------------------------------- unit helpers


def transfer(sender: TcpConnection, receiver: TcpConnection, now: float) -> int:
    """Move everything ``sender`` has to send into ``receiver`` at ``now``."""
    packets = sender.packets_to_send(now)
    for p in packets:
        receiver.receive(parse_packet(p), now)
    return len(packets)


def roundtrip(a: TcpConnection, b: TcpConnection, now: float) -> tuple[int, int]:
    """``transfer(a, b)`` then ``transfer(b, a)``."""
    return transfer(a, b, now), transfer(b, a, now)


def drop(conn: TcpConnection, now: float) -> int:
    """Discard everything ``conn`` has to send at ``now``."""
    return len(conn.packets_to_send(now))


# ------------------------------------------------------------------- the links


class SimLink:
    """One direction of a wire with impairments (all probabilities in [0, 1])."""

    __slots__ = (
        "_busy_until",
        "_drop_rules",
        "_in_queue",
        "batch",
        "corrupt",
        "delay",
        "delivered",
        "dropped",
        "duplicate",
        "jitter",
        "loss",
        "queue",
        "rate",
        "reorder",
        "reorder_delay",
    )

    def __init__(
        self,
        *,
        delay: float = 0.005,
        jitter: float = 0.0,
        loss: float = 0.0,
        reorder: float = 0.0,
        reorder_delay: float | None = None,
        duplicate: float = 0.0,
        corrupt: float = 0.0,
        rate: float | None = None,
        queue: int | None = None,
        batch: float = 0.0,
    ) -> None:
        self.delay = delay
        # > 0: arrivals are held to the next multiple of ``batch`` seconds, so what
        # arrives within one interval is delivered as one batch, as a TUN driver
        # reads everything queued at a wakeup (a flight's ACKs together); 0: each
        # packet as it arrives (serialised by ``rate``)
        self.batch = batch
        self.jitter = jitter
        self.loss = loss
        self.reorder = reorder
        self.reorder_delay = reorder_delay if reorder_delay is not None else max(delay, 0.001)
        self.duplicate = duplicate
        self.corrupt = corrupt
        self.rate = rate  # bytes per second, None = infinite
        self.queue = queue  # packets waiting for the wire, None = infinite
        self._busy_until = 0.0
        self._in_queue: list[float] = []
        self._drop_rules: list[list[object]] = []
        self.delivered = 0
        self.dropped = 0

    def drop_next(self, count: int = 1, match: Callable[[TcpSegment], bool] | None = None) -> None:
        """Drop the next ``count`` packets (matching ``match``, if given)."""
        self._drop_rules.append([count, match])

    def _scripted_drop(self, packet: bytes) -> bool:
        for rule in self._drop_rules:
            count, match = rule
            if match is not None:
                try:
                    seg = parse_packet(packet)
                except WireError:
                    continue
                if not match(seg):  # type: ignore[operator]
                    continue
            rule[0] = count - 1  # type: ignore[operator]
            if rule[0] == 0:
                self._drop_rules.remove(rule)
            return True
        return False

    def arrivals(self, packet: bytes, now: float, rng: random.Random) -> list[tuple[float, bytes]]:
        """When (and what) this packet delivers; [] when it is lost."""
        if self._drop_rules and self._scripted_drop(packet):
            self.dropped += 1
            return []
        if self.loss and rng.random() < self.loss:
            self.dropped += 1
            return []
        depart = now
        if self.rate:
            q = self._in_queue
            while q and q[0] <= now:
                q.pop(0)
            if self.queue is not None and len(q) >= self.queue:
                self.dropped += 1  # tail drop
                return []
            start = self._busy_until if self._busy_until > now else now
            depart = start + len(packet) / self.rate
            self._busy_until = depart
            q.append(depart)
        t = depart + self.delay
        if self.batch > 0.0:
            n = t / self.batch
            whole = int(n)
            t = (whole if n == whole else whole + 1) * self.batch
        if self.jitter:
            t += rng.random() * self.jitter
        if self.reorder and rng.random() < self.reorder:
            t += self.reorder_delay * (0.5 + rng.random())
        if self.corrupt and rng.random() < self.corrupt:
            b = bytearray(packet)
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
            packet = bytes(b)
        out = [(t, packet)]
        if self.duplicate and rng.random() < self.duplicate:
            out.append((t + rng.random() * max(self.delay, 0.001), packet))
        self.delivered += 1
        return out


# ------------------------------------------------------------- the endpoints


class TcpEndpoint:
    """One host with one TcpConnection, playing a scriptable application."""

    def __init__(
        self,
        sim: Simulator,
        name: str,
        addr: int,
        port: int,
        config: StackConfig | None = None,
        *,
        mtu: int = 1500,
        auto_read: bool = True,
        measure: Callable[[], float] | None = None,
    ) -> None:
        self.sim = sim
        self.name = name
        self.addr = addr
        self.port = port
        self.config = config if config is not None else StackConfig()
        self.mtu = mtu
        self.conn: TcpConnection | None = None
        self.listening = False
        self.auto_read = auto_read
        self.received = bytearray()
        self.events: list[tuple[float, TcpEvent]] = []
        self.closed_error: OSError | None = None
        self.closed = False
        self.eof = False
        self.malformed = 0
        self.unmatched = 0
        self._ctl: list[bytes] = []
        self._pending = bytearray()  # application data not yet handed to the engine
        self._shutdown_after_write = False
        self._close_after_write = False
        # a CPU clock supplied by the caller (benchmarks pass time.perf_counter):
        # core never reads a clock itself
        self.measure = measure
        self.cpu = 0.0  # seconds spent inside engine calls (when measure)
        self.on_event: Callable[[TcpEndpoint, TcpEvent], None] | None = None
        sim.add_endpoint(self)

    # ---- opening
    def listen(self) -> None:
        self.listening = True

    def connect(self, remote_addr: int, remote_port: int, *, iss: int | None = None,
                local_port: int | None = None) -> TcpConnection:  # fmt: skip
        if iss is None:
            iss = self.sim.rng.getrandbits(32)
        self.conn = TcpConnection.connect(
            self.config, local_addr=self.addr, local_port=local_port or self.port,
            remote_addr=remote_addr, remote_port=remote_port, iss=iss, mtu=self.mtu,
            now=self.sim.now,
        )  # fmt: skip
        return self.conn

    # ---- application actions (at the simulator's current time)
    def write(self, data: bytes) -> None:
        """Hand ``data`` to the engine as send-buffer space allows (a paced writer)."""
        self._pending += data
        self._feed()

    def shutdown(self) -> None:
        """Shutdown (FIN) once everything written has reached the engine."""
        self._shutdown_after_write = True
        self._feed()

    def close(self) -> None:
        self._close_after_write = True
        self._feed()

    def abort(self) -> None:
        if self.conn is not None:
            self.conn.abort(self.sim.now)

    def read(self) -> bytes:
        if self.conn is None:
            return b""
        data = self.conn.read()
        self.received += data
        return data

    def _feed(self) -> None:
        c = self.conn
        if c is None or c.state is TcpState.CLOSED:
            return
        if self._pending:
            room = c.send_buffer_size - c.send_queued
            if room > 0 and not c._fin_queued:
                chunk = self._pending[:room]
                del self._pending[:room]
                c.send(bytes(chunk), self.sim.now)
        if not self._pending:
            if self._close_after_write:
                self._close_after_write = False
                self._shutdown_after_write = False
                c.close(self.sim.now)
            elif self._shutdown_after_write:
                self._shutdown_after_write = False
                c.shutdown(self.sim.now)

    # ---- Endpoint protocol
    def receive(self, packet: bytes, now: float) -> None:
        try:
            seg = parse_packet(packet)
        except WireError:
            self.malformed += 1
            return
        c = self.conn
        if c is None or (c.state is TcpState.CLOSED and self.listening and seg.flags & SYN):
            if self.listening and seg.flags & SYN and not seg.flags & 0x14:
                hdr, _ = parse_ipv4(packet)
                clock = self.measure
                t0 = clock() if clock is not None else 0.0
                self.conn = TcpConnection.accept(
                    self.config, seg, local_addr=self.addr, remote_addr=hdr.src,
                    iss=self.sim.rng.getrandbits(32), mtu=self.mtu, now=now,
                )  # fmt: skip
                if clock is not None:
                    self.cpu += clock() - t0
                self.listening = False
                return
            self._unexpected(packet, seg)
            return
        if seg.dst_port != c.local_port or seg.src_port != c.remote_port:
            self._unexpected(packet, seg)
            return
        if c.state is TcpState.CLOSED:
            self._unexpected(packet, seg)
            return
        if self.measure is not None:
            clock = self.measure
            t0 = clock()
            c.receive(seg, now)
            self.cpu += clock() - t0
        else:
            c.receive(seg, now)
        self._drain()

    def _unexpected(self, packet: bytes, seg: TcpSegment) -> None:
        self.unmatched += 1
        hdr, _ = parse_ipv4(packet)
        rst = rst_for_unexpected(seg, hdr.src, hdr.dst, self.config.ttl)
        if rst is not None:
            self._ctl.append(rst)

    def packets_to_send(self, now: float) -> list[bytes]:
        out = self._ctl
        self._ctl = []
        c = self.conn
        while c is not None:
            if self.measure is not None:
                clock = self.measure
                t0 = clock()
                out += c.packets_to_send(now)
                self.cpu += clock() - t0
            else:
                out += c.packets_to_send(now)
            # the application may react to events (SendSpace: write more;
            # shutdown) with output due now: loop, like a driver would
            before = (c.send_queued, c.state, c._fin_queued)
            self._drain()
            if (c.send_queued, c.state, c._fin_queued) == before:
                break
        return out

    def get_timer(self) -> float | None:
        c = self.conn
        return c.get_timer() if c is not None else None

    def handle_timer(self, now: float) -> None:
        c = self.conn
        if c is not None:
            if self.measure is not None:
                clock = self.measure
                t0 = clock()
                c.handle_timer(now)
                self.cpu += clock() - t0
            else:
                c.handle_timer(now)
            self._drain()

    def _drain(self) -> None:
        c = self.conn
        if c is None:
            return
        now = self.sim.now
        while True:
            ev = c.next_event()
            if ev is None:
                break
            if self.sim.record_events:
                self.events.append((now, ev))
            if isinstance(ev, DataAvailable):
                if self.auto_read:
                    self.received += c.read()
            elif isinstance(ev, SendSpace):
                if self._pending or self._shutdown_after_write or self._close_after_write:
                    self._feed()
            elif isinstance(ev, EofReceived):
                self.eof = True
                if self.auto_read:
                    self.received += c.read()
            elif isinstance(ev, ConnectionClosed):
                self.closed = True
                self.closed_error = ev.error
            if self.on_event is not None:
                self.on_event(self, ev)
        if (self._pending or self._shutdown_after_write or self._close_after_write) and (
            c.state is not TcpState.SYN_SENT and c.state is not TcpState.SYN_RECEIVED
        ):
            self._feed()


class _EngineLike(Protocol):
    def receive(self, packet: bytes | memoryview, ifindex: int, now: float) -> None: ...

    def packets_to_send(self, now: float) -> list[tuple[int, bytes]]: ...

    def get_timer(self) -> float | None: ...

    def handle_timer(self, now: float) -> None: ...


class StackEndpoint:
    """Adapts a whole stack engine (``core.stack.StackEngine``) to ``Endpoint``.

    Every packet it receives arrives on ``ifindex``; everything it sends, on any
    interface, goes out on this endpoint's link(s).
    """

    def __init__(self, sim: Simulator, name: str, engine: _EngineLike, ifindex: int = 0) -> None:
        self.name = name
        self.engine = engine
        self.ifindex = ifindex
        sim.add_endpoint(self)

    def receive(self, packet: bytes, now: float) -> None:
        self.engine.receive(packet, self.ifindex, now)

    def packets_to_send(self, now: float) -> list[bytes]:
        return [p for _i, p in self.engine.packets_to_send(now)]

    def get_timer(self) -> float | None:
        return self.engine.get_timer()

    def handle_timer(self, now: float) -> None:
        self.engine.handle_timer(now)


# ------------------------------------------------------------- the simulator


class Simulator:
    """Virtual time, an event heap, endpoints joined by links."""

    def __init__(self, seed: int = 0, *, trace: bool = True, record_events: bool = True) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.now = 0.0
        self.endpoints: list[Endpoint] = []
        self._routes: dict[int, list[tuple[SimLink, Endpoint]]] = {}
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = 0
        self.trace_enabled = trace
        self.record_events = record_events
        self.trace: list[tuple[float, str, str, str]] = []  # (time, from, to or fate, text)
        self.packets = 0
        self._dirty: set[int] = set()
        self._all_dirty = True

    def __repr__(self) -> str:
        return f"<Simulator seed={self.seed} now={self.now:.6f}>"

    def add_endpoint(self, ep: Endpoint) -> None:
        self.endpoints.append(ep)

    def tcp_pair(
        self,
        config: StackConfig | None = None,
        *,
        link: SimLink | None = None,
        back: SimLink | None = None,
        server_config: StackConfig | None = None,
        mtu: int = 1500,
        measure: Callable[[], float] | None = None,
    ) -> tuple[TcpEndpoint, TcpEndpoint]:
        """A client and a listening server joined by ``link`` (and ``back``)."""
        client = TcpEndpoint(self, "client", 0xC6120001, 40000, config, mtu=mtu, measure=measure)
        server = TcpEndpoint(
            self, "server", 0xC6120002, 80, server_config or config, mtu=mtu, measure=measure
        )
        self.join(client, server, link or SimLink(), back)
        server.listen()
        return client, server

    def join(self, a: Endpoint, b: Endpoint, ab: SimLink, ba: SimLink | None = None) -> None:
        """Join two endpoints; ``ba`` defaults to a link like ``ab``."""
        if ba is None:
            ba = SimLink(
                delay=ab.delay, jitter=ab.jitter, loss=ab.loss, reorder=ab.reorder,
                reorder_delay=ab.reorder_delay, duplicate=ab.duplicate, corrupt=ab.corrupt,
                rate=ab.rate, queue=ab.queue,
            )  # fmt: skip
        self._routes.setdefault(id(a), []).append((ab, b))
        self._routes.setdefault(id(b), []).append((ba, a))

    def link(self, a: Endpoint) -> SimLink:
        """The (first) link leaving ``a``."""
        return self._routes[id(a)][0][0]

    def at(self, t: float, action: Callable[[], None]) -> None:
        """Run ``action`` at virtual time ``t`` (application scripting)."""

        def run_action() -> None:
            self._all_dirty = True
            action()

        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, run_action))

    def _deliver(self, ep: Endpoint, packet: bytes) -> Callable[[], None]:
        def deliver() -> None:
            self._dirty.add(id(ep))
            ep.receive(packet, self.now)

        return deliver

    def _flush(self, everyone: bool = True) -> None:
        """``packets_to_send`` on every endpoint touched since the last flush
        (or on all of them), like a driver flushing after a wakeup."""
        now = self.now
        if everyone or self._all_dirty:
            eps = self.endpoints
        else:
            eps = [ep for ep in self.endpoints if id(ep) in self._dirty]
        self._dirty.clear()
        self._all_dirty = False
        for ep in eps:
            packets = ep.packets_to_send(now)
            if not packets:
                continue
            routes = self._routes.get(id(ep))
            for p in packets:
                self.packets += 1
                if not routes:
                    continue
                for lnk, dst in routes:
                    arrivals = lnk.arrivals(p, now, self.rng)
                    if self.trace_enabled:
                        self._trace(ep.name, dst.name if arrivals else "DROPPED", p)
                    for t, q in arrivals:
                        self._seq += 1
                        heapq.heappush(self._heap, (t, self._seq, self._deliver(dst, q)))

    def _trace(self, src: str, dst: str, packet: bytes) -> None:
        try:
            text = describe(parse_packet(packet))
        except WireError as e:
            text = f"malformed: {e.reason}"
        self.trace.append((self.now, src, dst, text))

    def next_time(self) -> float | None:
        t = self._heap[0][0] if self._heap else None
        for ep in self.endpoints:
            d = ep.get_timer()
            if d is not None and (t is None or d < t):
                t = d
        return t

    def step(self) -> bool:
        """Flush, advance to the next event time and process it; False when idle."""
        self._flush()
        t = self.next_time()
        if t is None:
            return False
        self._advance(t)
        return True

    def _advance(self, t: float) -> None:
        if t > self.now:
            self.now = t
        now = self.now
        heap = self._heap
        while heap and heap[0][0] <= now:
            heapq.heappop(heap)[2]()
        for ep in self.endpoints:
            d = ep.get_timer()
            if d is not None and d <= now:
                self._dirty.add(id(ep))
                ep.handle_timer(now)

    def run(self, until: float | None = None, *, max_steps: int = 10_000_000) -> None:
        """Run until idle, or until virtual time ``until``."""
        self._flush()
        for _ in range(max_steps):
            self._flush(everyone=False)
            t = self.next_time()
            if t is None or (until is not None and t > until):
                break
            self._advance(t)
        else:
            raise RuntimeError(f"simulation did not settle (seed={self.seed})")
        if until is not None and self.now < until:
            self.now = until

    def run_while(self, cond: Callable[[], bool], *, limit: float = 1e9) -> None:
        """Run while ``cond()`` holds (and virtual time stays under ``limit``)."""
        self._flush()
        while cond() and self.now < limit:
            t = self.next_time()
            if t is None:
                break
            self._advance(t)
            self._flush(everyone=False)

    def format_trace(self) -> str:
        return "\n".join(f"{t:10.6f} {s:>7} -> {d:<7} {x}" for t, s, d, x in self.trace)
