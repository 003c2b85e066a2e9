"""A hypothesis state machine over two StackEngines (issue 11): application calls
(writes, reads, shutdowns), packet deliveries, timers and link faults (drops,
duplicates, reordering, corruption, outages) interleaved in any order. Invariant:
what either side reads is a prefix of what the other side's application handed
to ``send`` (no byte lost, invented or reordered); once the faults stop and the
wire settles, all of it arrived.

Example count: ``AIONETSTACK_STATEFUL_EXAMPLES`` (25 in the default suite)."""

from __future__ import annotations

import errno
import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from pair_support import AB, BA, Pair

from aionetstack.core.tcp.connection import TcpConnection
from aionetstack.core.tcp.states import TcpState

WAYS = st.sampled_from([AB, BA])
SLOT = st.integers(0, 1 << 16)  # an index into the in-flight packets, taken modulo
MAX_QUEUED = 256 * 1024  # an application that waits for drain() beyond this


class TwoStacks(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.pair = Pair()
        self.pair.connect()
        self.pair.settle()
        assert self.pair.server is not None, "handshake did not complete"
        self.sent = (bytearray(), bytearray())  # what each direction's sender handed over
        self.got = (bytearray(), bytearray())  # what each direction's receiver read
        self.eof = [False, False]  # the direction's sender shut down

    def sender(self, way: int) -> TcpConnection:
        conn = self.pair.client if way == AB else self.pair.server
        assert conn is not None
        return conn

    def receiver(self, way: int) -> TcpConnection:
        return self.sender(BA if way == AB else AB)

    def _app_call(self, conn: TcpConnection) -> None:
        engine = self.pair.a if conn is self.pair.client else self.pair.b
        engine.notify(conn, self.pair.now)
        self.pair.flush()

    # --- the applications ---------------------------------------------------------
    @rule(way=WAYS, size=st.integers(1, 20_000))
    def write(self, way: int, size: int) -> None:
        conn = self.sender(way)
        if self.eof[way] or conn.state is TcpState.CLOSED or conn.send_queued > MAX_QUEUED:
            return
        start = len(self.sent[way])
        data = bytes((start + i) * 7 % 251 for i in range(size))  # position-dependent
        conn.send(data, self.pair.now)
        self.sent[way].extend(data)
        self._app_call(conn)

    @rule(way=WAYS, size=st.integers(1, 50_000))
    def read(self, way: int, size: int) -> None:
        conn = self.receiver(way)
        self.got[way].extend(conn.read(size))
        self._app_call(conn)

    @rule(way=WAYS)
    def shutdown(self, way: int) -> None:
        if not self.eof[way]:
            self.eof[way] = True
            conn = self.sender(way)
            conn.shutdown(self.pair.now)
            self._app_call(conn)

    # --- the wire -------------------------------------------------------------------
    @precondition(lambda self: self.pair.wire[AB] or self.pair.wire[BA])
    @rule(way=WAYS, slot=SLOT)
    def deliver(self, way: int, slot: int) -> None:
        wire = self.pair.wire[way] or self.pair.wire[1 - way]
        way = way if self.pair.wire[way] else 1 - way
        self.pair.deliver(way, slot % len(wire))  # any one: reordering

    @precondition(lambda self: self.pair.wire[AB] or self.pair.wire[BA])
    @rule(way=WAYS, slot=SLOT)
    def drop(self, way: int, slot: int) -> None:
        wire = self.pair.wire[way]
        if wire:
            del wire[slot % len(wire)]

    @precondition(lambda self: self.pair.wire[AB] or self.pair.wire[BA])
    @rule(way=WAYS, slot=SLOT)
    def duplicate(self, way: int, slot: int) -> None:
        wire = self.pair.wire[way]
        if wire:
            wire.append(wire[slot % len(wire)])

    @precondition(lambda self: self.pair.wire[AB] or self.pair.wire[BA])
    @rule(way=WAYS, slot=SLOT, where=st.integers(0, 1 << 16), mask=st.integers(1, 255))
    def corrupt(self, way: int, slot: int, where: int, mask: int) -> None:
        """One byte flipped: a one-byte change always changes the Internet
        checksum (RFC 1071), so the receiver must drop it, never deliver it."""
        wire = self.pair.wire[way]
        if wire:
            i = slot % len(wire)
            packet = bytearray(wire[i])
            packet[where % len(packet)] ^= mask
            wire[i] = bytes(packet)

    @rule()
    def outage(self) -> None:
        """The link loses everything in flight."""
        self.pair.wire[AB].clear()
        self.pair.wire[BA].clear()

    @rule(ms=st.integers(0, 3000))
    def advance(self, ms: int) -> None:
        self.pair.advance(ms / 1000)

    # --- what must hold -------------------------------------------------------------
    @invariant()
    def reads_are_a_prefix_of_writes(self) -> None:
        for way in (AB, BA):
            got = self.got[way]
            assert got == self.sent[way][: len(got)], f"direction {way}: a byte lost or moved"

    def teardown(self) -> None:
        pair = self.pair
        pair.settle()
        for way in (AB, BA):
            self.got[way].extend(self.receiver(way).read())
        for conn in (pair.client, pair.server):
            assert conn is not None
            # only the retransmission limit may end a connection here (RFC 9293 3.8.3)
            assert conn.error is None or conn.error.errno == errno.ETIMEDOUT, conn.error
        if all(c is not None and c.error is None for c in (pair.client, pair.server)):
            for way in (AB, BA):
                assert bytes(self.got[way]) == bytes(self.sent[way]), f"direction {way}"


TwoStacks.TestCase.settings = settings(
    max_examples=int(os.environ.get("AIONETSTACK_STATEFUL_EXAMPLES", "25")),
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_two_stacks = TwoStacks.TestCase
