"""Delivery-rate samples (draft-cheng-iccrg-delivery-rate-estimation; Linux tcp_rate.c).

Theory of operation
-------------------
A ``RateSample`` describes what one ACK delivered: how many bytes reached the
peer (cumulatively ACKed or newly SACKed) over which interval, measured from
the transmission of the most recently sent of those bytes, so the rate is
``delivered / interval``. The congestion controller receives one per ACK
(``CongestionControl.on_rate_sample``); BBR builds its model from them, the
others may use them for HyStart++ round tracking or ignore them.

``delivered`` counts are running totals of the connection (bytes), so a
controller can mark the end of a round trip: a round ends when an ACK's
``prior_delivered`` reaches the ``delivered`` total that was current when the
round's first packet was sent (Linux ``tcp_bbr.c`` ``bbr_update_round_start``).
"""

from __future__ import annotations

__all__ = ["RateSample"]


class RateSample:
    """One ACK's delivery-rate sample (Linux ``struct rate_sample``), in bytes and seconds."""

    __slots__ = (
        "acked_sacked",
        "delivered",
        "interval",
        "is_app_limited",
        "losses",
        "prior_delivered",
        "prior_in_flight",
        "rtt",
        "total_delivered",
    )

    def __init__(
        self,
        delivered: int = 0,
        interval: float = 0.0,
        rtt: float = 0.0,
        prior_delivered: int = 0,
        total_delivered: int = 0,
        prior_in_flight: int = 0,
        acked_sacked: int = 0,
        losses: int = 0,
        is_app_limited: bool = False,
    ) -> None:
        #: Bytes delivered over ``interval`` (0 with ``interval`` <= 0: no sample).
        self.delivered = delivered
        #: Seconds over which ``delivered`` was delivered (max of send and ACK spans).
        self.interval = interval
        #: RTT of the most recently sent byte this ACK covered (0.0: none).
        self.rtt = rtt
        #: The connection's delivered total when that byte was sent.
        self.prior_delivered = prior_delivered
        #: The connection's delivered total after this ACK.
        self.total_delivered = total_delivered
        #: Bytes in flight before this ACK.
        self.prior_in_flight = prior_in_flight
        #: Bytes newly ACKed or SACKed by this ACK.
        self.acked_sacked = acked_sacked
        #: Bytes newly marked lost while processing this ACK.
        self.losses = losses
        #: The sample was taken while the sender was application-limited
        #: (a low rate says nothing about the path).
        self.is_app_limited = is_app_limited

    @property
    def rate(self) -> float:
        """Bytes per second, or 0.0 when there is no valid sample."""
        if self.interval <= 0.0 or self.delivered <= 0:
            return 0.0
        return self.delivered / self.interval

    def __repr__(self) -> str:
        return (
            f"<RateSample {self.delivered} B / {self.interval * 1e3:.3f} ms "
            f"rtt={self.rtt * 1e3:.3f} ms app_limited={self.is_app_limited}>"
        )
