"""Delivery-rate estimation (draft-cheng-iccrg-delivery-rate-estimation; Linux tcp_rate.c).

Theory of operation
-------------------
Each transmission snapshots the connection's delivery state: how many bytes
had been delivered (``delivered``), when the last delivery happened
(``delivered_time``), when the most recently delivered byte had been sent
(``first_sent_time``) and whether the sender was application-limited. When a
byte is ACKed or SACKed, the snapshot of its transmission says how much was
delivered since it was sent and over what interval, so one ACK yields one
sample: ``delivered_now - P.delivered`` bytes over the longer of the send
phase (``P.sent - P.first_sent_time``) and the ACK phase
(``now - P.delivered_time``), taken from the most recently sent transmission
the ACK covers (Linux ``tcp_rate_skb_delivered``, ``tcp_rate_gen``). Taking
the longer phase keeps ACK compression or decimation from inflating the
sample; a sample shorter than the minimum RTT is discarded as Linux does.

The estimator is sans-IO and knows nothing of the engine. The engine calls:

* ``on_send(seq_start, seq_end, now, in_flight_before)`` for every
  transmission, new data or retransmission (Linux ``tcp_rate_skb_sent``);
  ``in_flight_before`` is SND.NXT - SND.UNA before it (Linux ``packets_out``:
  SACKed and lost bytes included);
* ``on_delivered(seq_start, seq_end)`` for every range one ACK newly ACKs or
  SACKs (each byte once: not the SACKed bytes a cumulative ACK covers again);
* ``take_sample(now, prior_in_flight, losses, snd_una)`` once per ACK after
  those, which returns the ``RateSample`` for ``on_rate_sample``;
* ``on_app_limited(...)`` when the application hands over data and when the
  send loop stops for want of data (Linux ``tcp_rate_check_app_limited``).

Records
-------
Transmission records are kept sorted by sequence number in two parallel
lists (``_starts``, ``_recs``) with a moving head index, so pruning on a
cumulative ACK pops from the head in amortised O(1) and lookups bisect in
O(log n). Sends made at the same instant with the same snapshot (a burst
flushed in one wakeup) extend the tail record instead of adding one, so the
list holds one record per burst, never more than the flight. A
retransmission replaces the records it overlaps by one record (splitting the
ones it covers partly); that slice assignment moves the tail of the list,
which stays short (the records above a hole) and happens only on loss.
Sequence numbers are unwrapped to integers internally (RFC 9293 3.4 modular
arithmetic against the newest send), so the wrap never reorders records.
"""

from __future__ import annotations

import bisect

from aionetstack.core.tcp.rate import RateSample

__all__ = ["DeliveryRateEstimator", "NoDeliveryRate"]

#: No timing information yet (Linux: a zero ``delivered_mstamp``).
_UNSET = -1.0


class _Tx:
    """The delivery state snapshotted by one transmission (Linux ``tcp_skb_cb.tx``)."""

    __slots__ = (
        "app_limited",
        "delivered",
        "delivered_time",
        "end",
        "first_sent_time",
        "rtx",
        "sent",
    )

    def __init__(
        self,
        end: int,
        sent: float,
        delivered: int,
        delivered_time: float,
        first_sent_time: float,
        app_limited: bool,
        rtx: bool,
    ) -> None:
        self.end = end  # unwrapped, exclusive
        self.sent = sent  # transmission time
        self.delivered = delivered  # connection's delivered bytes at send
        self.delivered_time = delivered_time  # time of that delivery (_UNSET: none)
        self.first_sent_time = first_sent_time  # send time of the newest delivered byte then
        self.app_limited = app_limited
        self.rtx = rtx  # a retransmission (its RTT is ambiguous, Karn)

    def copy(self, end: int) -> _Tx:
        return _Tx(
            end,
            self.sent,
            self.delivered,
            self.delivered_time,
            self.first_sent_time,
            self.app_limited,
            self.rtx,
        )


class DeliveryRateEstimator:
    """Per-ACK delivery-rate samples in bytes and seconds (see the module docstring)."""

    __slots__ = (
        "_acked",
        "_head",
        "_recs",
        "_ref_seq",
        "_ref_u",
        "_rs_app_limited",
        "_rs_end",
        "_rs_have",
        "_rs_prior_delivered",
        "_rs_prior_time",
        "_rs_rtt_sent",
        "_rs_send_elapsed",
        "_starts",
        "app_limited",
        "delivered",
        "delivered_time",
        "first_sent_time",
        "lost",
        "pending",
        "rate_app_limited",
        "rate_delivered",
        "rate_interval",
    )

    def __init__(self) -> None:
        #: Bytes delivered (ACKed or SACKed) so far (Linux ``tp->delivered``).
        self.delivered = 0
        #: When ``delivered`` last grew (Linux ``tp->delivered_mstamp``); -1.0 before.
        self.delivered_time = _UNSET
        #: Send time of the most recently delivered transmission (``tp->first_tx_mstamp``).
        self.first_sent_time = _UNSET
        #: 0, or the ``delivered`` total at which the app-limited bubble ends
        #: (Linux ``tp->app_limited``).
        self.app_limited = 0
        #: Bytes reported lost so far (Linux ``tp->lost``).
        self.lost = 0
        #: The last non-app-limited sample, or a higher app-limited one
        #: (Linux ``tp->rate_delivered`` / ``rate_interval_us``, for tcp_info).
        self.rate_delivered = 0
        self.rate_interval = 0.0
        self.rate_app_limited = False
        self._starts: list[int] = []
        self._recs: list[_Tx] = []
        self._head = 0
        self._ref_seq = -1  # wrapped sequence number matching _ref_u (-1: none yet)
        self._ref_u = 0
        self._acked = 0
        #: Bytes were delivered since the last ``take_sample`` (a slot, not a
        #: property: the engine reads it once per ACK).
        self.pending = False
        self._reset_sample()

    # ------------------------------------------------------------ bookkeeping

    def _reset_sample(self) -> None:
        self._rs_have = False
        self._rs_prior_delivered = 0
        self._rs_prior_time = _UNSET
        self._rs_send_elapsed = 0.0
        self._rs_end = 0
        self._rs_app_limited = False
        self._rs_rtt_sent = _UNSET

    def __len__(self) -> int:
        """Transmission records held (at most one per send still in flight)."""
        return len(self._starts) - self._head

    active = True


    @property
    def delivery_rate(self) -> float:
        """Bytes per second of the last non-app-limited sample (Linux tcpi_delivery_rate)."""
        if self.rate_interval <= 0.0:
            return 0.0
        return self.rate_delivered / self.rate_interval

    # ------------------------------------------------------------ transmissions

    def on_send(self, seq_start: int, seq_end: int, now: float, in_flight_before: int) -> None:
        """A transmission of ``[seq_start, seq_end)`` at ``now`` (Linux tcp_rate_skb_sent).

        ``in_flight_before`` is SND.NXT - SND.UNA just before it; when nothing
        is outstanding, the sampling interval starts now.
        """
        ref_seq = self._ref_seq
        if ref_seq < 0:
            ref_seq = self._ref_seq = seq_start
            self._ref_u = 0
        # unwrapped against _ref_seq: _ref_u + seq_diff(seq, _ref_seq), inlined (per send run)
        ref_u = self._ref_u
        us = ref_u + (((seq_start - ref_seq + 0x80000000) & 0xFFFFFFFF) - 0x80000000)
        ue = ref_u + (((seq_end - ref_seq + 0x80000000) & 0xFFFFFFFF) - 0x80000000)
        if ue <= us:
            return
        if ue > ref_u:
            self._ref_seq = seq_end
            self._ref_u = ue
        if in_flight_before <= 0:
            # tcp_rate_skb_sent: no packets out: ACKs from now on measure this flight
            self.first_sent_time = now
            self.delivered_time = now
        starts = self._starts
        recs = self._recs
        head = self._head
        app = self.app_limited != 0
        if head == len(starts) or us >= recs[-1].end:
            last = recs[-1] if head < len(starts) else None
            if (
                last is not None
                and last.end == us
                and last.sent == now
                and not last.rtx
                and last.delivered == self.delivered
                and last.delivered_time == self.delivered_time
                and last.first_sent_time == self.first_sent_time
                and last.app_limited == app
            ):
                last.end = ue  # same burst, same snapshot: one record
                return
            starts.append(us)
            recs.append(
                _Tx(ue, now, self.delivered, self.delivered_time, self.first_sent_time, app, False)
            )
            return
        # a retransmission (or a send overlapping what was sent): its range gets
        # a fresh snapshot; the records it covers in part keep the rest
        i = bisect.bisect_right(starts, us, head) - 1
        if i < head or recs[i].end <= us:
            i += 1
        j = i
        n = len(starts)
        while j < n and starts[j] < ue:
            j += 1
        new_starts: list[int] = []
        new_recs: list[_Tx] = []
        if i < j and starts[i] < us:
            new_starts.append(starts[i])
            new_recs.append(recs[i].copy(us))
        new_starts.append(us)
        new_recs.append(
            _Tx(ue, now, self.delivered, self.delivered_time, self.first_sent_time, app, True)
        )
        if i < j and recs[j - 1].end > ue:
            new_starts.append(ue)
            new_recs.append(recs[j - 1].copy(recs[j - 1].end))
        starts[i:j] = new_starts
        recs[i:j] = new_recs

    # ------------------------------------------------------------ deliveries

    def on_delivered(self, seq_start: int, seq_end: int) -> None:
        """``[seq_start, seq_end)`` was newly ACKed or SACKed by the ACK being
        processed (Linux tcp_rate_skb_delivered for each skb it covers)."""
        ref_seq = self._ref_seq
        if ref_seq < 0:
            return
        # unwrapped against _ref_seq: _ref_u + seq_diff(seq, _ref_seq), inlined (per ACK)
        ref_u = self._ref_u
        us = ref_u + (((seq_start - ref_seq + 0x80000000) & 0xFFFFFFFF) - 0x80000000)
        ue = ref_u + (((seq_end - ref_seq + 0x80000000) & 0xFFFFFFFF) - 0x80000000)
        if ue <= us:
            return
        self.delivered += ue - us
        self._acked += ue - us
        self.pending = True
        starts = self._starts
        recs = self._recs
        n = len(starts)
        i = bisect.bisect_right(starts, us, self._head) - 1
        if i < self._head:
            i = self._head
        while i < n and starts[i] < ue:
            r = recs[i]
            i += 1
            if r.end <= us or r.delivered_time == _UNSET:
                continue
            sent = r.sent
            if not r.rtx and sent > self._rs_rtt_sent:
                self._rs_rtt_sent = sent
            # the most recently sent transmission wins; ties go to the highest
            # sequence (Linux tcp_skb_sent_after)
            fst = self.first_sent_time
            if not self._rs_have or sent > fst or (sent == fst and r.end > self._rs_end):
                self._rs_have = True
                self._rs_prior_delivered = r.delivered
                self._rs_prior_time = r.delivered_time
                self._rs_app_limited = r.app_limited
                self._rs_end = r.end
                self.first_sent_time = sent
                # the send phase of this window
                self._rs_send_elapsed = sent - r.first_sent_time

    def _prune(self, snd_una: int) -> None:
        """Forget the transmissions a cumulative ACK has covered."""
        una = self._ref_u + (((snd_una - self._ref_seq + 0x80000000) & 0xFFFFFFFF) - 0x80000000)
        starts = self._starts
        recs = self._recs
        head = self._head
        n = len(starts)
        while head < n and recs[head].end <= una:
            head += 1
        if head < n and starts[head] < una:
            starts[head] = una
        if head >= 32 and head * 2 >= n:
            del starts[:head]
            del recs[:head]
            head = 0
        self._head = head

    def take_sample(
        self,
        now: float,
        prior_in_flight: int,
        losses: int,
        snd_una: int,
        min_rtt: float = 0.0,
        sack_reneg: bool = False,
    ) -> RateSample:
        """The sample of the ACK just processed (Linux tcp_rate_gen), once per ACK.

        ``prior_in_flight``: bytes in the pipe before the ACK; ``losses``: bytes
        it newly marked lost; ``snd_una``: SND.UNA after it; ``min_rtt``: the
        connection's minimum RTT (0.0: unknown): a shorter interval is no
        sample; ``sack_reneg``: the receiver reneged on SACKed data.
        """
        if self._ref_seq >= 0:
            self._prune(snd_una)
        self.lost += losses
        # clear the app-limited mark once the bubble is delivered and gone
        if self.app_limited and self.delivered > self.app_limited:
            self.app_limited = 0
        acked = self._acked
        self._acked = 0
        self.pending = False
        if acked:
            self.delivered_time = now
        rtt_sent = self._rs_rtt_sent
        rtt = now - rtt_sent if rtt_sent != _UNSET else 0.0
        have = self._rs_have
        prior_delivered = self._rs_prior_delivered
        prior_time = self._rs_prior_time
        send_elapsed = self._rs_send_elapsed
        app_limited = self._rs_app_limited
        self._reset_sample()
        delivered = 0
        interval = 0.0
        if have and not sack_reneg:
            # (with no timing information, or SACKs that may be reneged: no sample)
            delivered = self.delivered - prior_delivered
            # send and ACK phases of the window are pipelined: the longer one
            # bounds the rate (ACK compression shortens the ACK phase)
            ack_elapsed = now - prior_time
            interval = send_elapsed if send_elapsed > ack_elapsed else ack_elapsed
            if interval < min_rtt:
                interval = 0.0  # implausibly short (tcp_rate_gen): no rate
            elif interval > 0.0 and (
                not app_limited or delivered * self.rate_interval >= self.rate_delivered * interval
            ):
                self.rate_delivered = delivered
                self.rate_interval = interval
                self.rate_app_limited = app_limited
        else:
            prior_delivered = 0
        # positional: the field order of RateSample.__init__ (once per ACK)
        return RateSample(
            delivered, interval, rtt, prior_delivered, self.delivered, prior_in_flight,
            acked, losses, app_limited,
        )  # fmt: skip

    # ------------------------------------------------------------ app-limited

    def mark_app_limited(self, in_flight: int) -> None:
        """Mark the samples of what is in flight and sent from now on as
        application-limited, until all of it is delivered."""
        self.app_limited = (self.delivered + in_flight) or 1

    def on_app_limited(
        self, in_flight: int, cwnd: int, unsent: int, mss: int, lost_pending: int = 0
    ) -> bool:
        """Linux tcp_rate_check_app_limited: the sender has less than one MSS
        to send, is not cwnd-limited and has retransmitted all it marked lost
        (``lost_pending`` bytes lost and not yet resent): it is
        application-limited. Returns whether it marked so."""
        if unsent < mss and in_flight < cwnd and lost_pending <= 0:
            self.mark_app_limited(in_flight)
            return True
        return False


class NoDeliveryRate:
    """The estimator's stand-in for a controller that takes no rate samples
    (NewReno): every call is a no-op, so the per-segment paths pay one call."""

    __slots__ = ()

    active = False
    pending = False
    delivery_rate = 0.0

    def on_send(self, seq_start: int, seq_end: int, now: float, in_flight_before: int) -> None:
        pass

    def on_delivered(self, seq_start: int, seq_end: int) -> None:
        pass

    def mark_app_limited(self, in_flight: int) -> None:
        pass

    def take_sample(self, *args: object, **kwargs: object) -> RateSample:
        """Never called: no delivery is ever ``pending`` here (an empty sample)."""
        return RateSample()
