"""Stack-wide configuration: one attrs class, Linux-like defaults.

Every knob names the Linux sysctl or socket option it mirrors where there is one.
"""

from __future__ import annotations

from typing import Any

import attrs

from aionetstack.wire.addr import ip6_to_int, ip_to_int

_INT_RANGES: dict[str, tuple[int, int]] = {
    # name: (lowest, highest) accepted, as Linux bounds the matching sysctl/sockopt
    "ttl": (1, 255),
    "reassembly_memory": (0, 1 << 40),
    "icmp_rate_burst": (0, 1 << 30),
    "ephemeral_port_low": (1, 65535),
    "ephemeral_port_high": (1, 65535),
    "syn_retries": (0, 127),  # TCP_SYNCNT allows 1..127; 0 is handy in tests
    "synack_retries": (0, 255),
    "max_syn_backlog": (1, 1 << 30),
    "syncookies": (0, 2),
    "max_tw_buckets": (0, 1 << 30),
    "max_connections": (1, 1 << 30),
    "recv_buffer": (1, 1 << 31),
    "send_buffer": (1, 1 << 31),
    "recv_buffer_initial": (1, 1 << 31),
    "send_buffer_initial": (1, 1 << 31),
    "retries2": (0, 255),
    "quickack_segments": (0, 1 << 16),
    "challenge_ack_limit": (0, 1 << 31),
    "keepalive_count": (1, 127),  # TCP_KEEPCNT
    "initial_cwnd_segments": (1, 1 << 16),
    "resolver_attempts": (1, 5),  # resolv.conf attempts:n (RES_MAXRETRY)
}
_POSITIVE_FLOATS = (
    "reassembly_timeout",
    "rto_initial",
    "rto_min",
    "rto_max",
    "delayed_ack",
    "delayed_ack_max",
    "persist_min",
    "keepalive_idle",
    "keepalive_interval",
    "resolver_timeout",
)
_NON_NEGATIVE_FLOATS = ("icmp_rate_limit", "time_wait", "fin_timeout")
CONGESTION_CONTROLS = ("newreno", "cubic", "bbr")


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
    # net.ipv4.tcp_max_syn_backlog: a listener's SYN queue holds
    # min(backlog, max_syn_backlog) half-open request records (not connections)
    max_syn_backlog: int = 4096
    # net.ipv4.tcp_syncookies: 1 answers with a SYN cookie when the SYN queue is
    # full (Linux's default), 2 always, 0 never (the SYN is dropped)
    syncookies: int = 1

    # --- state limits ------------------------------------------------------
    # net.ipv4.tcp_max_tw_buckets: compact TIME-WAIT entries kept at once; beyond
    # it a connection closes without TIME-WAIT (TCPTimeWaitOverflow). Linux
    # sizes it as half its established hash (ehash entries / 2), 32768 on a
    # 4 GiB host; an entry here is a few hundred bytes, so ~10 MB at the cap.
    max_tw_buckets: int = 32768
    # connections (all states but TIME-WAIT, half-open records included) one
    # stack holds; a SYN beyond it is refused with an RST (no Linux sysctl:
    # a gateway's bound on the memory remote peers can make it spend)
    max_connections: int = 65536
    # a gateway's courtesy (tun2socks --icmp): ICMP and ICMPv6 echo requests to
    # ANY destination routed to the stack are answered, from that destination
    # (other ICMP to an address not the stack's own is still dropped)
    answer_any_ping: bool = False

    # --- TCP options (RFC 7323, RFC 2018) --------------------------------
    window_scaling: bool = True  # net.ipv4.tcp_window_scaling
    sack: bool = True  # net.ipv4.tcp_sack
    timestamps: bool = True  # net.ipv4.tcp_timestamps

    # --- buffers (autotuned between the initial size and the maximum) --------
    # The receive buffer's maximum (net.ipv4.tcp_rmem[2]); the window advertises
    # the free space of the current buffer, the window scale is chosen from this
    # maximum so the buffer can grow. SO_RCVBUF sets a fixed size instead.
    recv_buffer: int = 4 * 1024 * 1024
    # net.ipv4.tcp_rmem[1]: a connection's receive buffer at first; it grows with
    # the rate the application reads (tcp_rcv_space_adjust) up to recv_buffer
    recv_buffer_initial: int = 128 * 1024
    # net.ipv4.tcp_moderate_rcvbuf: grow the receive buffer (dynamic right-sizing)
    moderate_rcvbuf: bool = True
    # The send buffer's maximum (net.ipv4.tcp_wmem[2]): bytes the engine holds
    # before the transport's write buffer begins. SO_SNDBUF sets a fixed size.
    send_buffer: int = 4 * 1024 * 1024
    # net.ipv4.tcp_wmem[1]: the send buffer until the handshake completes; then
    # it follows cwnd (tcp_sndbuf_expand: 2 x cwnd x per-segment size) up to send_buffer
    send_buffer_initial: int = 16 * 1024
    # net.ipv4.tcp_mem (low, pressure, high), in bytes, not pages: the bytes all
    # the stack's connections buffer (send + receive queues). Above pressure no
    # buffer grows and receive windows shrink; above high new data is refused.
    # Linux sizes it from RAM (tcp_init_mem: pressure = 1/16 of the free pages,
    # low = 3/4 of it, high = 2 x low); these are its values on a 4 GiB host.
    tcp_mem: tuple[int, int, int] = attrs.field(
        default=(192 * 1024 * 1024, 256 * 1024 * 1024, 384 * 1024 * 1024), converter=tuple
    )

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
    congestion_control: str = "cubic"  # net.ipv4.tcp_congestion_control (upstream default)
    initial_cwnd_segments: int = 10  # RFC 6928

    # --- name resolution (resolv.conf): Stack's built-in DNS stub resolver ----
    # servers asked over this stack (IPv4 or IPv6 literals; a tuple once set)
    nameservers: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    resolver_timeout: float = 5.0  # resolv.conf timeout:n, seconds per query
    resolver_attempts: int = 2  # resolv.conf attempts:n, rounds over the servers

    # --- observability ------------------------------------------------------
    trace: bool = False  # record every state transition and timer event

    def __attrs_post_init__(self) -> None:
        """Reject values no kernel would accept: a mistake caught here, not mid-connection."""
        for name, (low, high) in _INT_RANGES.items():
            _check_int(name, getattr(self, name), low, high)
        for name in _POSITIVE_FLOATS:
            _check_float(name, getattr(self, name), positive=True)
        for name in _NON_NEGATIVE_FLOATS:
            _check_float(name, getattr(self, name), positive=False)
        if self.ephemeral_port_low > self.ephemeral_port_high:
            raise ValueError("ephemeral_port_low must not exceed ephemeral_port_high")
        if not self.rto_min <= self.rto_max:
            raise ValueError("rto_min must not exceed rto_max")
        if self.delayed_ack > self.delayed_ack_max:
            raise ValueError("delayed_ack must not exceed delayed_ack_max")
        for server in self.nameservers:
            if not isinstance(server, str):
                raise TypeError(f"StackConfig.nameservers must hold strings, not {server!r}")
            try:
                ip6_to_int(server) if ":" in server else ip_to_int(server)
            except ValueError:
                raise ValueError(
                    f"StackConfig.nameservers: {server!r} is not an IPv4 or IPv6 address"
                ) from None
        mem = self.tcp_mem
        if len(mem) != 3 or any(isinstance(v, bool) or not isinstance(v, int) for v in mem):
            raise TypeError(f"StackConfig.tcp_mem must be three ints, got {mem!r}")
        if not 0 <= mem[0] <= mem[1] <= mem[2]:
            raise ValueError(f"StackConfig.tcp_mem must be 0 <= low <= pressure <= high, got {mem}")
        if self.congestion_control not in CONGESTION_CONTROLS:
            raise ValueError(
                f"unknown congestion_control {self.congestion_control!r}; "
                f"available: {', '.join(CONGESTION_CONTROLS)}"
            )


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"StackConfig.{name} must be an int, not {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"StackConfig.{name} must be in {low}..{high}, got {value}")


def _check_float(name: str, value: Any, *, positive: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"StackConfig.{name} must be a number, not {type(value).__name__}")
    if value != value or (value <= 0 if positive else value < 0):  # NaN, or out of range
        kind = "positive" if positive else "non-negative"
        raise ValueError(f"StackConfig.{name} must be {kind}, got {value}")
