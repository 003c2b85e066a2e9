"""Stack-wide configuration: one attrs class, Linux-like defaults.

Every knob names the Linux sysctl or socket option it mirrors where there is one.
"""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class StackConfig:
    """Configuration of a Stack and of every TCP connection it opens.

    Defaults follow Linux (net.ipv4.tcp_* sysctls) unless noted.
    """

    # --- IP -------------------------------------------------------------
    ttl: int = 64  # net.ipv4.ip_default_ttl
    reassembly_timeout: float = 30.0  # net.ipv4.ipfrag_time
    reassembly_memory: int = 4 * 1024 * 1024  # net.ipv4.ipfrag_high_thresh
    icmp_rate_limit: float = 1000.0  # ICMP errors per second (net.ipv4.icmp_msgs_per_sec)
    icmp_rate_burst: int = 50  # net.ipv4.icmp_msgs_burst

    # --- ports (RFC 6056, net.ipv4.ip_local_port_range) ------------------
    ephemeral_port_low: int = 32768
    ephemeral_port_high: int = 60999

    # --- TCP handshake ---------------------------------------------------
    syn_retries: int = 6  # net.ipv4.tcp_syn_retries
    synack_retries: int = 5  # net.ipv4.tcp_synack_retries
    max_syn_backlog: int = 4096  # net.ipv4.tcp_max_syn_backlog

    # --- TCP options (RFC 7323, RFC 2018) --------------------------------
    window_scaling: bool = True  # net.ipv4.tcp_window_scaling
    sack: bool = True  # net.ipv4.tcp_sack
    timestamps: bool = True  # net.ipv4.tcp_timestamps

    # --- buffers -----------------------------------------------------------
    recv_buffer: int = 4 * 1024 * 1024  # receive buffer; the window advertises its free space
    send_buffer: int = 4 * 1024 * 1024  # bytes the engine holds before the transport buffers

    # --- timers (RFC 6298; Linux values) ----------------------------------
    rto_initial: float = 1.0  # TCP_TIMEOUT_INIT
    rto_min: float = 0.2  # TCP_RTO_MIN
    rto_max: float = 120.0  # TCP_RTO_MAX
    retries2: int = 15  # net.ipv4.tcp_retries2: data retransmissions before ETIMEDOUT
    delayed_ack: float = 0.04  # TCP_ATO_MIN / TCP_DELACK_MIN
    delayed_ack_max: float = 0.2  # TCP_DELACK_MAX
    quickack_segments: int = 16  # segments ACKed at once at the start of a connection
    time_wait: float = 60.0  # 2*MSL (TCP_TIMEWAIT_LEN)
    fin_timeout: float = 60.0  # net.ipv4.tcp_fin_timeout (orphaned FIN-WAIT-2)
    persist_min: float = 0.2  # first zero-window probe interval floor
    challenge_ack_limit: int = 1000  # net.ipv4.tcp_challenge_ack_limit, per second

    # --- keepalive (SO_KEEPALIVE, tcp_keepalive_*) --------------------------
    keepalive: bool = False
    keepalive_idle: float = 7200.0
    keepalive_interval: float = 75.0
    keepalive_count: int = 9

    # --- sending -------------------------------------------------------------
    nodelay: bool = False  # TCP_NODELAY: False means Nagle is on
    congestion_control: str = "newreno"  # net.ipv4.tcp_congestion_control
    initial_cwnd_segments: int = 10  # RFC 6928

    # --- observability ------------------------------------------------------
    trace: bool = False  # record every state transition and timer event
