"""SYN cookies, as Linux's ``net/ipv4/syncookies.c`` makes and checks them.

Theory of operation
-------------------
When a listener's SYN queue is full (or always, ``StackConfig(syncookies=2)``)
the SYN-ACK's ISN carries the state the stack does not keep
(``secure_tcp_syn_cookie``)::

    ISN = H0(saddr, daddr, sport, dport) + SEQ(SYN)
          + (count << 24)
          + ((H1(saddr, daddr, sport, dport, count) + mssind) & 0xFFFFFF)

``count`` is a minute counter (``tcp_cookie_time``), ``mssind`` the index of
the largest ``MSSTAB`` entry not above the peer's MSS, ``H0``/``H1`` SipHash
keyed with two keys derived from the stack's secret. The returning ACK is
checked (``check_tcp_syn_cookie``): ``ACK - 1`` minus ``H0 + SEQ - 1`` gives
the counter in the top 8 bits, which must be less than ``MAX_SYNCOOKIE_AGE``
(2) minutes old; subtracting ``H1`` for that counter leaves the MSS index,
valid when below 4.

With timestamps, the SYN-ACK's TSval carries what else the SYN offered in its
low 6 bits (``cookie_init_timestamp``): the peer's window scale (0xF: none),
SACK-permitted (bit 4) and ECN (bit 5); the ACK echoes it in TSecr
(``cookie_timestamp_decode``). The bits are set in the offset-free ms clock
(rounded down so the TSval never runs ahead of it), then the per-pair
timestamp offset is added, as Linux adds ``ts_off``. Without timestamps the
connection gets neither window scaling nor SACK (Linux clears the options).
This stack does no ECN: the bit is encoded as "not negotiated".
"""

from __future__ import annotations

import struct
from typing import Final

from aionetstack.wire.siphash import siphash24

__all__ = [
    "MAX_SYNCOOKIE_AGE",
    "MSSTAB",
    "SynCookies",
    "cookie_time",
    "cookie_timestamp_decode",
    "cookie_tsval",
]

MSSTAB: Final = (536, 1300, 1440, 1460)  # Linux msstab (IPv4)
MSSTAB6: Final = (1280 - 60, 1480 - 60, 1500 - 60, 9000 - 60)  # Linux syncookies.c (IPv6)
COOKIEBITS: Final = 24
COOKIEMASK: Final = (1 << COOKIEBITS) - 1
MAX_SYNCOOKIE_AGE: Final = 2  # minutes (Linux MAX_SYNCOOKIE_AGE)
COOKIE_PERIOD: Final = 60.0  # seconds per counter tick (tcp_cookie_time: jiffies / (60 * HZ))
TSBITS: Final = 6
TSMASK: Final = (1 << TSBITS) - 1
TS_OPT_WSCALE_MASK: Final = 0x0F
TS_OPT_SACK: Final = 0x10
TS_OPT_ECN: Final = 0x20
MAX_WSCALE: Final = 14  # RFC 7323 2.3
_MASK: Final = 0xFFFFFFFF
_WORDS = struct.Struct(">IIII")


def cookie_time(now: float) -> int:
    """The minute counter (Linux tcp_cookie_time)."""
    return int(now // COOKIE_PERIOD) & _MASK


def mss_index(mss: int, table: tuple[int, ...] = MSSTAB) -> int:
    """The largest MSSTAB index whose MSS the peer accepts (__cookie_v4_init_sequence;
    ``table`` MSSTAB6: __cookie_v6_init_sequence)."""
    for i in range(len(table) - 1, 0, -1):
        if mss >= table[i]:
            return i
    return 0


class SynCookies:
    """The cookie generator and checker of one stack (its keys derive from the stack secret)."""

    __slots__ = ("_k0", "_k1")

    def __init__(self, secret: bytes) -> None:
        if len(secret) != 16:
            raise ValueError("the cookie secret must be 16 bytes")
        # two independent keys, as Linux's syncookie_secret[2]
        self._k0 = bytes(b ^ 0x36 for b in secret)
        self._k1 = bytes(b ^ 0x6C for b in secret)

    def _hash(self, key: bytes, saddr: int, daddr: int, sport: int, dport: int, count: int) -> int:
        # Linux cookie_hash: siphash_4u32(saddr, daddr, sport << 16 | dport, count)
        if saddr > _MASK or daddr > _MASK:
            # IPv6 (Linux cookie_hash in syncookies.c: the 128-bit addresses)
            data = b"".join((
                saddr.to_bytes(16, "big"), daddr.to_bytes(16, "big"),
                _WORDS.pack(0, 0, (sport << 16) | dport, count & _MASK)[8:],
            ))  # fmt: skip
            return siphash24(key, data) & _MASK
        return (
            siphash24(key, _WORDS.pack(saddr, daddr, (sport << 16) | dport, count & _MASK)) & _MASK
        )

    def make(
        self, saddr: int, daddr: int, sport: int, dport: int, seq: int, mss: int, now: float
    ) -> tuple[int, int]:
        """(cookie ISN, the MSS it encodes) for a SYN from ``saddr:sport`` with SEQ ``seq``
        and MSS option ``mss`` (secure_tcp_syn_cookie / __cookie_v4_init_sequence)."""
        table = MSSTAB6 if saddr > _MASK else MSSTAB
        mssind = mss_index(mss, table)
        count = cookie_time(now)
        h0 = self._hash(self._k0, saddr, daddr, sport, dport, 0)
        h1 = self._hash(self._k1, saddr, daddr, sport, dport, count)
        isn = h0 + seq + (count << COOKIEBITS) + ((h1 + mssind) & COOKIEMASK)
        return isn & _MASK, table[mssind]

    def check(
        self, saddr: int, daddr: int, sport: int, dport: int, seq: int, ack: int, now: float
    ) -> int:
        """The MSS a returning ACK (SEQ ``seq``, ACK ``ack``) proves, or 0 when it is no
        valid cookie of the last ``MAX_SYNCOOKIE_AGE`` minutes (check_tcp_syn_cookie)."""
        cookie = (ack - 1) & _MASK
        sseq = (seq - 1) & _MASK
        count = cookie_time(now)
        cookie = (cookie - self._hash(self._k0, saddr, daddr, sport, dport, 0) - sseq) & _MASK
        diff = (count - (cookie >> COOKIEBITS)) & (_MASK >> COOKIEBITS)
        if diff >= MAX_SYNCOOKIE_AGE:
            return 0
        h1 = self._hash(self._k1, saddr, daddr, sport, dport, count - diff)
        mssind = (cookie - h1) & COOKIEMASK
        table = MSSTAB6 if saddr > _MASK else MSSTAB
        return table[mssind] if mssind < len(table) else 0


def cookie_tsval(now: float, ts_offset: int, wscale: int | None, sack: bool) -> int:
    """The SYN-ACK's TSval carrying the SYN's options (Linux cookie_init_timestamp).

    ``wscale``: the window scale the peer offered (None: none); ``sack``: it
    offered SACK-permitted. ECN is never set here (not negotiated)."""
    options = TS_OPT_WSCALE_MASK if wscale is None else min(wscale, MAX_WSCALE)
    if sack:
        options |= TS_OPT_SACK
    ts_now = int(now * 1000.0)
    ts = ((ts_now >> TSBITS) << TSBITS) | options
    if ts > ts_now:
        ts -= 1 << TSBITS
    return (ts + ts_offset) & _MASK


def cookie_timestamp_decode(ts_ecr: int, ts_offset: int) -> tuple[int | None, bool, bool]:
    """(peer window scale or None, SACK-permitted, ECN) from the ACK's TSecr
    (Linux cookie_timestamp_decode, after ``rcv_tsecr -= tsoff``)."""
    options = (ts_ecr - ts_offset) & TSMASK
    ws = options & TS_OPT_WSCALE_MASK
    return (
        None if ws == TS_OPT_WSCALE_MASK else ws,
        bool(options & TS_OPT_SACK),
        bool(options & TS_OPT_ECN),
    )
