"""Compact TIME-WAIT entries (Linux ``struct tcp_timewait_sock``).

Theory of operation
-------------------
When a connection enters TIME-WAIT (RFC 9293 3.10.7.4, 2 MSL) the stack drops
its ``TcpConnection`` (buffers, scoreboards, timers: kilobytes) and keeps a
``TimeWait`` record: the 4-tuple, SND.NXT and RCV.NXT, the window last
advertised, TS.Recent and whether timestamps are in use, and the deadline.
``StackConfig(max_tw_buckets)`` caps their number; beyond it the connection
just closes (counted ``TCPTimeWaitOverflow``, Linux ``tcp_time_wait``).

``segment()`` is Linux's ``tcp_timewait_state_process`` for the TIME-WAIT
substate:

* PAWS first (RFC 7323 5.3): a TSval older than TS.Recent is rejected;
* an in-window segment (SEG.SEQ == RCV.NXT, no data) that is a bare ACK
  restarts the 2 MSL timer and updates TS.Recent; an RST is ignored
  (RFC 1337, Linux with ``tcp_rfc1337=1``);
* a new SYN may reopen the pair (``accepts_syn``, RFC 6191 / RFC 9293
  3.10.7.4 note; the stack then uses ``reopen_iss``);
* everything else but an RST is ACKed (a retransmitted FIN also restarts the
  2 MSL timer), a pure ACK or SYN at most every 500 ms
  (``tcp_timewait_check_oow_rate_limit``, tcp_invalid_ratelimit).
"""

from __future__ import annotations

from typing import Final

from aionetstack.core.reqsock import tcp_builder
from aionetstack.core.tcp.tcb import OOW_RATE_LIMIT, TS_OPT, TS_WORD, syn_reopens_time_wait
from aionetstack.wire.seq import seq_diff
from aionetstack.wire.tcp import ACK, FIN, RST, SYN, TcpSegment

__all__ = ["TimeWait"]

INF: Final = float("inf")
_MASK: Final = 0xFFFFFFFF

# what segment() asks the stack to do
TW_NOTHING: Final = 0
TW_ACK: Final = 1


class TimeWait:
    """One TIME-WAIT 4-tuple (see the module docstring)."""

    __slots__ = (
        "alive",
        "deadline",
        "flow_label",
        "ifindex",
        "key",
        "oow_last",
        "pushed",
        "rcv_nxt",
        "snd_nxt",
        "ts_offset",
        "ts_recent",
        "window",
    )

    def __init__(
        self,
        key: tuple[int, int, int, int],
        ifindex: int,
        snd_nxt: int,
        rcv_nxt: int,
        window: int,
        ts_recent: int | None,
        ts_offset: int,
        deadline: float,
        flow_label: int = 0,
    ) -> None:
        self.key = key
        self.flow_label = flow_label  # IPv6: the flow's label (RFC 6437)  # (local addr, local port, remote addr, remote port)
        self.ifindex = ifindex
        self.snd_nxt = snd_nxt
        self.rcv_nxt = rcv_nxt
        self.window = window  # the window field of our ACKs (already scaled down)
        self.ts_recent = ts_recent  # None: no timestamps on this connection
        self.ts_offset = ts_offset
        self.deadline = deadline
        self.oow_last = -INF
        self.pushed = INF  # deadline last pushed on the stack's timer heap
        self.alive = True

    def accepts_syn(self, seg: TcpSegment) -> bool:
        """May this SYN reopen the pair? (Linux tcp_timewait_state_process TCP_TW_SYN).

        RFC 6191 2: yes when its TSval is newer than TS.Recent; with a TSval
        equal to TS.Recent (not newer, not PAWS-old) or without timestamps,
        RFC 9293 3.10.7.4 (note) / RFC 1122 4.2.2.13: yes when SEG.SEQ is
        beyond RCV.NXT. A TSval older than TS.Recent is an old duplicate
        (RFC 7323 5.3 PAWS)."""
        return syn_reopens_time_wait(seg, self.ts_recent, self.rcv_nxt)

    def reopen_iss(self) -> int:
        """ISN of the reopening connection (Linux: tw_snd_nxt + 65535 + 2, never 0)."""
        return (self.snd_nxt + 65535 + 2) & _MASK or 1

    def segment(self, seg: TcpSegment, now: float, time_wait: float) -> int:
        """Process a segment for this pair; returns TW_ACK when an ACK is owed."""
        flags = seg.flags
        tsv = seg.ts_val
        ts_recent = self.ts_recent
        paws_reject = (
            ts_recent is not None
            and tsv is not None
            and not flags & RST
            and seq_diff(tsv, ts_recent) < 0
        )
        plen = len(seg.payload)
        if (
            not paws_reject
            and seg.seq == self.rcv_nxt
            and ((plen == 0 and not flags & (SYN | FIN)) or flags & RST)
        ):
            if flags & RST:
                return TW_NOTHING  # RFC 1337: no TIME-WAIT assassination
            self.deadline = now + time_wait
            if ts_recent is not None and tsv is not None:
                self.ts_recent = tsv
            return TW_NOTHING
        if flags & RST:
            return TW_NOTHING
        if paws_reject or flags & ACK:
            self.deadline = now + time_wait  # also a retransmitted FIN (RFC 9293 3.10.7.4)
        if (plen == 0 and not flags & FIN) or flags & SYN:
            # Linux tcp_oow_rate_limited: a segment without data is answered at
            # most every 500 ms (ACK loops)
            if now - self.oow_last < OOW_RATE_LIMIT:
                return TW_NOTHING
            self.oow_last = now
        return TW_ACK

    def ack(self, ident: int, ttl: int, now: float) -> bytes:
        """The ACK of this pair (Linux tcp_v4_timewait_ack): SND.NXT, RCV.NXT, timestamps."""
        la, lp, ra, rp = self.key
        opts = b""
        if self.ts_recent is not None:
            opts = TS_OPT.pack(TS_WORD, (int(now * 1000.0) + self.ts_offset) & _MASK,
                               self.ts_recent)  # fmt: skip
        return tcp_builder(ra, self.flow_label)(
            la, ra, ident, ttl, lp, rp, self.snd_nxt, self.rcv_nxt, ACK, self.window, opts, b"",
        )  # fmt: skip

    def __repr__(self) -> str:
        return f"<TimeWait {self.key[1]}->{self.key[3]} until {self.deadline:.3f}>"
