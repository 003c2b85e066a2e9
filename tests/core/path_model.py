"""A small path model in virtual time for congestion-control tests.

One sender with a congestion controller and a ``DeliveryRateEstimator``
feeds a FIFO bottleneck of known rate, buffer and propagation delay; every
segment that gets through is ACKed one by one (no delayed ACKs), optionally
held and released in batches (ACK aggregation). Drops (a full buffer, a
token-bucket policer, random loss) are detected as a FIFO path allows: a
segment is lost once one sent after it is ACKed (or, for a tail, two RTTs
after the last send), then retransmitted first. The sender paces at the
controller's ``pacing_rate`` (next departure = previous + size / rate) and
keeps the pipe (RFC 6675: sent, not delivered, not lost) within ``cwnd``.

It calls the estimator and the controller as the engine is meant to:
``on_send`` per transmission, ``on_delivered`` per ACKed segment, then
``on_loss_sack`` / ``on_recovery_exit``, ``take_sample`` and
``on_rate_sample`` once per ACK.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from typing import Protocol

from aionetstack.core.tcp.delivery import DeliveryRateEstimator
from aionetstack.core.tcp.rate import RateSample

INF = float("inf")
MASK = 0xFFFFFFFF
ISN = 0xFFFF0000  # near the wrap, so sequence numbers cross it early


class Controller(Protocol):
    cwnd: int
    pacing_rate: float

    def on_rate_sample(self, rs: RateSample, now: float) -> None: ...

    def on_loss_sack(self, now: float, in_flight: int) -> None: ...

    def on_recovery_exit(self, now: float, in_flight: int) -> None: ...

    def on_idle_restart(self, now: float, idle: float) -> None: ...


class FixedWindow:
    """A controller with a constant window and pacing rate (0.0: unpaced)."""

    def __init__(self, cwnd: int, pacing_rate: float = 0.0) -> None:
        self.cwnd = cwnd
        self.pacing_rate = pacing_rate

    def on_rate_sample(self, rs: RateSample, now: float) -> None:
        pass

    def on_loss_sack(self, now: float, in_flight: int) -> None:
        pass

    def on_recovery_exit(self, now: float, in_flight: int) -> None:
        pass

    def on_idle_restart(self, now: float, idle: float) -> None:
        pass


class _Tx:
    __slots__ = ("dropped", "off", "sent")

    def __init__(self, off: int, sent: float, dropped: bool) -> None:
        self.off = off
        self.sent = sent
        self.dropped = dropped


Observer = Callable[[float, RateSample], None]


class Path:
    """The sender and its path; ``run(until)`` advances virtual time."""

    def __init__(
        self,
        cc: Controller,
        *,
        rate: float,
        rtt: float,
        mss: int = 1000,
        buffer: float = INF,
        policer: tuple[float, float] | None = None,
        loss: float = 0.0,
        ack_batch: float = 0.0,
        app: tuple[float, int] | None = None,
        seed: int = 0,
        observer: Observer | None = None,
    ) -> None:
        self.cc = cc
        self.est = DeliveryRateEstimator()
        self.rate = rate  # bottleneck, bytes per second
        self.rtt = rtt  # propagation, both ways
        self.mss = mss
        self.buffer = buffer  # bottleneck queue limit, bytes
        self.policer = policer  # (rate, depth) token bucket ahead of the bottleneck
        self.loss = loss
        self.ack_batch = ack_batch  # ACKs released every ack_batch seconds (0: at once)
        self.app = app  # (interval, bytes): the application writes this much that often
        self.rng = random.Random(seed)
        self.observer = observer
        self.now = 0.0
        self.snd_nxt = 0  # offsets from ISN (unwrapped)
        self.una = 0
        self.pipe = 0
        self.app_buffer = 0
        self.next_write = 0.0 if app else INF
        self.next_pace = 0.0
        self.link_free = 0.0
        self.tokens = policer[1] if policer else 0.0
        self.token_time = 0.0
        self.acks: deque[tuple[float, _Tx]] = deque()
        self.outstanding: deque[_Tx] = deque()  # in the network, in send order
        self.lost_q: deque[int] = deque()
        self.delivered_offs: set[int] = set()
        self.in_recovery = False
        self.recover = 0
        self.min_rtt = 0.0
        self.samples: list[tuple[float, RateSample]] = []
        self.sent_bytes = 0
        self.retransmits = 0
        self.drops = 0

    def go_bulk(self) -> None:
        """The application now has unlimited data."""
        self.app = None
        self.next_write = INF

    # ------------------------------------------------------------ the sender

    def _seq(self, off: int) -> int:
        return (ISN + off) & MASK

    def _have_data(self) -> bool:
        return bool(self.lost_q) or self.app is None or self.app_buffer > 0

    def _window_open(self) -> bool:
        return self.pipe + self.mss <= self.cc.cwnd

    def _send(self) -> None:
        now = self.now
        mss = self.mss
        if self.snd_nxt == self.una and self.est.app_limited:
            self.cc.on_idle_restart(now, 0.0)  # Linux CA_EVENT_TX_START
        before = self.snd_nxt - self.una  # Linux packets_out
        if self.lost_q:
            off = self.lost_q.popleft()
            self.retransmits += 1
        else:
            off = self.snd_nxt
            self.snd_nxt += mss
            if self.app is not None:
                self.app_buffer -= mss
        self.est.on_send(self._seq(off), self._seq(off + mss), now, before)
        self.sent_bytes += mss
        self.pipe += mss
        rate = self.cc.pacing_rate
        if rate > 0.0:
            self.next_pace = max(self.next_pace, now) + mss / rate
        tx = _Tx(off, now, self._drop(now))
        self.outstanding.append(tx)
        if tx.dropped:
            self.drops += 1
            return
        depart = max(now, self.link_free) + mss / self.rate
        self.link_free = depart
        t = depart + self.rtt
        if self.ack_batch > 0.0:
            t = (int(t / self.ack_batch) + 1) * self.ack_batch
        self.acks.append((t, tx))

    def _drop(self, now: float) -> bool:
        if self.policer is not None:
            prate, depth = self.policer
            self.tokens = min(depth, self.tokens + (now - self.token_time) * prate)
            self.token_time = now
            if self.tokens < self.mss:
                return True
            self.tokens -= self.mss
        if self.loss and self.rng.random() < self.loss:
            return True
        backlog = (self.link_free - now) * self.rate
        return backlog + self.mss > self.buffer

    def _stopped_for_data(self) -> None:
        # Linux tcp_rate_check_app_limited, as the send loop runs dry
        self.est.on_app_limited(self.pipe, self.cc.cwnd, max(self.app_buffer, 0), self.mss)

    # ------------------------------------------------------------ ACKs

    def _mark_lost(self, tx: _Tx) -> int:
        self.pipe -= self.mss
        self.lost_q.append(tx.off)
        return self.mss

    def _ack(self, tx: _Tx) -> None:
        now = self.now
        mss = self.mss
        prior_pipe = self.pipe
        losses = 0
        out = self.outstanding
        # a FIFO path: whatever was sent before this segment and is still out was dropped
        while out and out[0] is not tx:
            losses += self._mark_lost(out.popleft())
        out.popleft()
        self.pipe -= mss
        self.delivered_offs.add(tx.off)
        self.est.on_delivered(self._seq(tx.off), self._seq(tx.off + mss))
        while self.una in self.delivered_offs:
            self.delivered_offs.discard(self.una)
            self.una += mss
        self._loss_response(losses)
        rs = self.est.take_sample(now, prior_pipe, losses, self._seq(self.una), self.min_rtt)
        if rs.rtt > 0.0 and (self.min_rtt == 0.0 or rs.rtt < self.min_rtt):
            self.min_rtt = rs.rtt
        self.samples.append((now, rs))
        self.cc.on_rate_sample(rs, now)
        if self.observer is not None:
            self.observer(now, rs)

    def _loss_response(self, losses: int) -> None:
        if losses and not self.in_recovery:
            self.in_recovery = True
            self.recover = self.snd_nxt
            self.cc.on_loss_sack(self.now, self.snd_nxt - self.una)
        elif self.in_recovery and self.una >= self.recover:
            self.in_recovery = False
            self.cc.on_recovery_exit(self.now, self.pipe)

    def _tail_loss(self) -> None:
        """Nothing left to ACK and drops outstanding: a probe reveals them."""
        prior_pipe = self.pipe
        losses = 0
        while self.outstanding:
            losses += self._mark_lost(self.outstanding.popleft())
        self._loss_response(losses)
        rs = self.est.take_sample(self.now, prior_pipe, losses, self._seq(self.una), self.min_rtt)
        self.cc.on_rate_sample(rs, self.now)

    # ------------------------------------------------------------ the clock

    def run(self, until: float) -> None:
        while True:
            t_ack = self.acks[0][0] if self.acks else INF
            t_send = INF
            if self._have_data() and self._window_open():
                t_send = max(self.next_pace, self.now)
            t_tail = INF
            if not self.acks and self.outstanding:
                t_tail = self.outstanding[-1].sent + 2 * self.rtt
            t = min(t_ack, t_send, self.next_write, t_tail)
            if t > until:
                self.now = until
                return
            self.now = t
            if t == self.next_write:
                assert self.app is not None
                self._stopped_for_data()
                self.app_buffer += self.app[1]
                self.next_write += self.app[0]
            elif t == t_ack:
                self._ack(self.acks.popleft()[1])
            elif t == t_send:
                self._send()
                if not self._have_data():
                    self._stopped_for_data()
            else:
                self._tail_loss()
