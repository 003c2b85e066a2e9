"""Half-open passive connections as small records (Linux ``struct request_sock``).

Theory of operation
-------------------
A SYN admitted to a listener's SYN queue becomes a ``RequestSock``: the
4-tuple, ISS and IRS, what the SYN offered (MSS, window scale, SACK,
timestamp), the SYN-ACK retransmission count and deadline. No
``TcpConnection`` exists until the ACK completes the handshake: the stack then
builds one with ``TcpConnection.from_handshake`` and hands it the ACK.

``build_synack`` makes the SYN-ACK a request record (or a SYN cookie) sends.
It is byte for byte the SYN-ACK ``TcpConnection`` builds for a passive open
(``HandshakePart._syn_segment``, Linux ``tcp_make_synack``): MSS, then window
scale and SACK-permitted only when the SYN offered them, timestamps when both
sides use them, an unscaled window of ``min(recv_buffer, 65535)``
(RFC 7323 2.2). ``tests/core/test_edge_synqueue.py`` checks the identity.

The retransmission timing is the connection's (``timeouts.py``): the first
SYN-ACK at once, then after ``rto_initial`` doubled each time (RFC 6298 5.5,
capped at ``rto_max``), ``synack_retries`` times; then the record is dropped
(Linux ``reqsk_timer_handler``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aionetstack.core.config import StackConfig
from aionetstack.core.tcp.tcb import PacketBuilder, ipv6_builder, wscale_for
from aionetstack.wire.tcp import ACK, SYN, build_ipv4_tcp, build_tcp_options

if TYPE_CHECKING:
    from aionetstack.core.listener import TcpListener

__all__ = ["RequestSock", "build_synack", "synack_timeout", "tcp_builder"]

INF = float("inf")


def tcp_builder(remote_addr: int, flow_label: int = 0) -> PacketBuilder:
    """The packet builder of a flow to ``remote_addr``: IPv4, or IPv6 for an address
    above 32 bits (the stack holds no IPv6 address below 2**32, core/routing.py)."""
    if remote_addr > 0xFFFFFFFF:
        return ipv6_builder(flow_label)
    return build_ipv4_tcp


class RequestSock:
    """One half-open passive connection (a SYN-queue entry)."""

    __slots__ = (
        "alive",
        "deadline",
        "flow_label",
        "ident",
        "ifindex",
        "irs",
        "iss",
        "key",
        "listener",
        "mss",
        "mtu",
        "pushed",
        "retrans",
        "sack_ok",
        "sent",
        "ts_offset",
        "ts_recent",
        "window",
        "wscale",
    )

    def __init__(
        self,
        key: tuple[int, int, int, int],
        listener: TcpListener,
        ifindex: int,
        mtu: int,
        iss: int,
        irs: int,
        mss: int | None,
        wscale: int | None,
        sack_ok: bool,
        ts_recent: int | None,
        window: int,
        ts_offset: int,
        now: float,
        flow_label: int = 0,
    ) -> None:
        self.key = key  # (local addr, local port, remote addr, remote port)
        self.flow_label = flow_label  # IPv6: the flow's label (RFC 6437)
        self.listener = listener
        self.ifindex = ifindex
        self.mtu = mtu
        self.iss = iss
        self.irs = irs
        self.mss = mss  # the SYN's MSS option (None: absent)
        self.wscale = wscale  # the SYN's window scale (None: absent or not used)
        self.sack_ok = sack_ok  # SACK-permitted offered and enabled
        self.ts_recent = ts_recent  # the SYN's TSval when timestamps are used, else None
        self.window = window  # the SYN's (unscaled) window
        self.ts_offset = ts_offset
        self.retrans = 0
        self.sent = now  # when the last SYN-ACK left (RTT sample, RFC 6298 / Karn)
        self.ident = (iss ^ int(now * 1000)) & 0xFFFF  # IP ID, as the connection's
        self.deadline = INF  # next SYN-ACK retransmission
        self.pushed = INF  # deadline last pushed on the stack's timer heap
        self.alive = True

    def synack(self, config: StackConfig, now: float) -> bytes:
        """The SYN-ACK to (re)send now."""
        ident = self.ident
        self.ident = (ident + 1) & 0xFFFF
        la, lp, ra, rp = self.key
        ts = None
        if self.ts_recent is not None:
            ts = ((int(now * 1000.0) + self.ts_offset) & 0xFFFFFFFF, self.ts_recent)
        return build_synack(
            config, la, lp, ra, rp, self.iss, self.irs, self.mtu, ident,
            wscale_offered=self.wscale is not None, sack=self.sack_ok, ts=ts,
            flow_label=self.flow_label,
        )  # fmt: skip

    def __repr__(self) -> str:
        return f"<RequestSock {self.key[1]}<-{self.key[3]} iss={self.iss} retrans={self.retrans}>"


def synack_timeout(config: StackConfig, retrans: int) -> float:
    """The wait after the SYN-ACK sent ``retrans`` retransmissions ago (RFC 6298 2.1, 5.5)."""
    t = config.rto_initial * (1 << retrans) if retrans < 32 else config.rto_max
    return t if t < config.rto_max else config.rto_max


def build_synack(
    config: StackConfig,
    local_addr: int,
    local_port: int,
    remote_addr: int,
    remote_port: int,
    iss: int,
    irs: int,
    mtu: int,
    ident: int,
    *,
    wscale_offered: bool,
    sack: bool,
    ts: tuple[int, int] | None,
    flow_label: int = 0,
) -> bytes:
    """A SYN-ACK laid out as ``TcpConnection`` lays it out (Linux tcp_make_synack).

    ``ts``: (TSval, TSecr) when both sides use timestamps; ``sack``: SACK is
    offered and enabled; ``wscale_offered``: the SYN carried a window scale."""
    opts = build_tcp_options(
        mss=max(mtu - (60 if remote_addr > 0xFFFFFFFF else 40), 88),  # IPv6: MTU - 60
        wscale=wscale_for(config.recv_buffer) if config.window_scaling and wscale_offered else None,
        sack_permitted=sack,
        timestamps=ts,
    )
    free = config.recv_buffer
    win = free if free < 0xFFFF else 0xFFFF  # RFC 7323 2.2: never scaled in a SYN
    return tcp_builder(remote_addr, flow_label)(
        local_addr, remote_addr, ident, config.ttl, local_port, remote_port, iss,
        (irs + 1) & 0xFFFFFFFF, SYN | ACK, win, opts, b"",
    )  # fmt: skip
