"""TCP_INFO-like statistics record (Linux ``struct tcp_info`` names).

Theory of operation
-------------------
``TcpConnection.tcp_info()`` snapshots the engine into this frozen record. Times
are in seconds (floats), windows and sizes in bytes. Fields mirror Linux's
``tcpi_*`` names without the prefix.
"""

from __future__ import annotations

import attrs

from aionetstack.core.tcp.states import TcpState


@attrs.frozen(slots=True, kw_only=True)
class TcpInfo:
    """A snapshot of one connection's state and counters."""

    state: TcpState
    rtt: float  # smoothed RTT (SRTT), 0.0 before the first sample
    rttvar: float
    rto: float
    min_rtt: float
    snd_mss: int  # effective sending MSS (options deducted)
    rcv_mss: int  # MSS we advertised
    cwnd: int  # bytes
    ssthresh: int  # bytes
    snd_wnd: int  # peer's window, scaled
    rcv_wnd: int  # window we advertise now
    snd_wscale: int
    rcv_wscale: int
    timestamps: bool
    sack: bool
    unacked: int  # bytes in flight (SND.NXT - SND.UNA)
    retransmits: int  # consecutive RTO expirations of the current timer
    backoff: int
    probes: int  # zero-window or keepalive probes outstanding
    bytes_acked: int
    bytes_received: int
    bytes_sent: int
    bytes_retrans: int
    segs_out: int
    segs_in: int
    data_segs_out: int
    data_segs_in: int
    total_retrans: int
    lost: int
    reordering: int  # DupThresh in segments (Linux tp->reordering), adapted
    delivery_rate: float  # bytes per second, last sample
    dropped: int  # segments dropped as unacceptable or malformed
    challenge_acks: int
    dup_acks_in: int
    fast_retransmits: int
    rto_expirations: int
    ooo_segs_in: int
    dsacks_out: int
    dsacks_in: int  # DSACK blocks received (RFC 2883)
    spurious_retrans: int  # retransmitted segments proven unnecessary (DSACK / Eifel)
    undos: int  # cwnd reductions undone (RFC 3708 / RFC 3522; Linux TCPFullUndo etc.)
    congestion_control: str = "reno"  # the algorithm (Linux TCP_CONGESTION name)
    ca_state: str = ""  # its state ("slow-start", "PROBE_BW", ...)
    pacing_rate: float = 0.0  # bytes per second; 0.0: not pacing
