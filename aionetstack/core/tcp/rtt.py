"""Round-trip time estimation and retransmission timeout (RFC 6298).

Theory of operation
-------------------
``RttEstimator`` keeps SRTT and RTTVAR and derives RTO = SRTT + max(G, 4*RTTVAR)
(RFC 6298 2.3), clamped to [rto_min, rto_max] (RFC 6298 2.4, 2.5; Linux uses a
200 ms floor). ``backoff`` counts consecutive timer expirations; the effective
timeout is ``rto * 2**backoff`` capped at rto_max (RFC 6298 5.5). A valid new
sample resets the backoff (RFC 6298 5.7 / Linux). The connection is
responsible for Karn's rule (RFC 6298 3: never sample a retransmitted segment
unless timestamps disambiguate) and for never sampling an ACK that
acknowledges nothing new.
"""

from __future__ import annotations

# RFC 6298 2.3: alpha = 1/8, beta = 1/4, K = 4
RTT_ALPHA = 0.125
RTT_BETA = 0.25
RTT_K = 4.0
# Clock granularity G (the timestamp clock ticks in ms).
CLOCK_GRANULARITY = 0.001


class RttEstimator:
    """SRTT / RTTVAR / RTO state for one connection."""

    __slots__ = ("backoff", "min_rtt", "rto", "rto_max", "rto_min", "rttvar", "srtt")

    def __init__(self, rto_initial: float, rto_min: float, rto_max: float) -> None:
        self.srtt = 0.0  # 0.0 = no sample yet
        self.rttvar = 0.0
        self.min_rtt = 0.0
        self.rto = rto_initial  # RFC 6298 2.1: initial RTO 1 s
        self.rto_min = rto_min
        self.rto_max = rto_max
        self.backoff = 0

    def sample(self, r: float) -> None:
        """Feed one RTT measurement (seconds)."""
        if r <= 0.0:
            r = CLOCK_GRANULARITY
        if self.srtt == 0.0:
            # RFC 6298 2.2: first measurement
            self.srtt = r
            self.rttvar = r / 2.0
            self.min_rtt = r
        else:
            # RFC 6298 2.3: RTTVAR before SRTT
            self.rttvar = (1.0 - RTT_BETA) * self.rttvar + RTT_BETA * abs(self.srtt - r)
            self.srtt = (1.0 - RTT_ALPHA) * self.srtt + RTT_ALPHA * r
            if r < self.min_rtt:
                self.min_rtt = r
        # RFC 6298 2.3 RTO = SRTT + max(G, K*RTTVAR), with the floor where Linux puts
        # it (tcp_rtt_estimator: rttvar_us >= tcp_rto_min): on the variance term,
        # so a 50 ms path times out after 250 ms, not 200 ms (fewer spurious RTOs)
        var = RTT_K * self.rttvar
        if var < self.rto_min:
            var = self.rto_min
        rto = self.srtt + (var if var > CLOCK_GRANULARITY else CLOCK_GRANULARITY)
        # RFC 6298 2.4 (floor; Linux TCP_RTO_MIN 200 ms) and 2.5 (ceiling)
        if rto < self.rto_min:
            rto = self.rto_min
        elif rto > self.rto_max:
            rto = self.rto_max
        self.rto = rto
        self.backoff = 0

    def current(self) -> float:
        """The timeout to arm now, with exponential backoff (RFC 6298 5.5)."""
        t = self.rto * (1 << self.backoff) if self.backoff < 32 else self.rto_max
        return t if t < self.rto_max else self.rto_max

    def on_timeout(self) -> None:
        """RFC 6298 5.5: back off the timer."""
        self.backoff += 1
