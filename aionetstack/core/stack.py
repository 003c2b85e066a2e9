"""StackEngine: the sans-IO dual-stack host (interfaces, routing, demux, UDP, ICMP, timers).

Theory of operation
-------------------
One ``StackEngine`` is one host. It never reads a clock or touches a file
descriptor: every input carries ``now`` and every output is pulled.

*Input* ``receive(packet, ifindex, now)``: the IPv4 header is unpacked once and
validated (RFC 791 3.1, RFC 1122 3.2.1.1-3.2.1.8; see ``ipv4.py``), the
destination must be ours (weak host model, RFC 1122 3.3.4.2), a limited or
subnet broadcast (UDP only), or anything for TCP when a transparent listener
exists; martian sources are dropped (RFC 1812 5.3.7). Fragments go through the
reassembler. Then one ``if`` chain dispatches on the protocol. Each drop is
counted by reason (``stats.py``) and never raised.

*TCP demux* (O(1) per segment, whatever the number of connections): the
4-tuple dict (local addr, local port, remote addr, remote port) -> entry;
then half-open request records (the SYN queue, ``reqsock.py``), then compact
TIME-WAIT entries (``timewait.py``), then listeners by ``port -> addr`` with the
exact address before the wildcard; then transparent listeners; otherwise an RST
per RFC 9293 3.10.7.1. A SYN that may reopen a TIME-WAIT pair (RFC 6191) goes
to the listener with the ISS the TIME-WAIT entry gives; the entry leaves only
when the listener admits the SYN.

*Edge of the network* (Linux ``tcp_conn_request``): a SYN admitted by a
listener becomes a small ``RequestSock`` in its SYN queue, not a connection;
the stack sends and retransmits its SYN-ACK from its own timer and turns it
into a ``TcpConnection`` (``TcpConnection.from_handshake``) on the ACK. When
the SYN queue is full the SYN is answered with a SYN cookie (``syncookies.py``,
``StackConfig.syncookies``) and no state is kept until a valid cookie ACK.
A connection entering TIME-WAIT is replaced by a compact ``TimeWait`` entry
(at most ``max_tw_buckets``). ``max_connections`` bounds connections plus
request records: a SYN beyond it is refused with an RST.

*Connections* are owned by the TCP engine (``core/tcp``). The stack wraps each
in a ``_ConnEntry`` (4-tuple, output interface, deadline last pushed on the
heap, parent listener). After any call into a connection the entry is marked
*touched*; ``_settle()`` (run by ``packets_to_send``, ``get_timer``,
``take_ready`` and ``handle_timer``) pulls the connection's packets, re-syncs
its heap deadline, moves a completed child to its listener's accept queue,
removes CLOSED connections from demux (which frees their port), and records
the connection as ready. The application calls connection methods directly;
it then calls ``notify(conn, now)`` so the next flush pulls the output they
produce. Every entry point that settles is given the current time (``receive``,
``notify``, ``take_ready``, ``packets_to_send``, ``handle_timer``); ``get_timer``
settles with the latest of them, so output is never built with a stale clock.

*Timers*: one heap of ``(deadline, seq, entry)`` with lazy deletion. A
connection's deadline is pushed only when it is earlier than the one already
pushed for it; when an entry pops, the connection's real ``get_timer()``
decides whether to handle it now or push again. Reassembly expiry has one
slot on the same heap. Stale items are normally popped when they reach the
top, but one far in the future (a keepalive deadline superseded by an RTO)
would linger behind other connections' earlier live deadlines for hours, so
``_settle`` rebuilds the heap from its live items once it holds more than
``2 * live + 64`` (amortised O(1) per push); and a removed entry drops its
connection (``del entry.conn``) so stale items never pin a closed one.

*Output*: everything to send accumulates in one list of ``(ifindex, packet)``
returned by ``packets_to_send``: one flush per wakeup.

*IPv6* (RFC 8200): a packet whose version is 6 goes to ``_receive6``:
``wire.ipv6.parse_ipv6`` walks the extension headers (a ``ParameterProblemError``
is answered with an ICMPv6 Parameter Problem, RFC 8200 4 / RFC 4443 3.4, and an
unknown upper layer with code 1), fragments go through ``Reassembler6``, then
TCP, UDP and ICMPv6 share the IPv4 paths. Addresses are plain ints of either
family in the same tables: the stack never holds an IPv6 address below 2**32
(``core/routing.py``), so a value above 32 bits *is* IPv6 and the IPv4 paths
keep their cost (one version test on input, nothing on output: each
connection builds its own packets). The kernel's router and neighbour
solicitations and MLD reports on a TUN device are counted by type
(``Icmp6InRouterSolicits``...) and answered with nothing (RFC 4861: no
neighbour discovery on a layer-3 link). Packet Too Big (RFC 8201) lowers the
MSS of the connection it quotes (never below 1280) and the path MTU to that
destination that UDP and ICMPv6 fragment to at the source (RFC 8200 4.5).
Counters are Linux's ``/proc/net/snmp6`` names (``Ip6InReceives``,
``Icmp6InMsgs``, ``Udp6InDatagrams``...); TCP's are shared, as in Linux.
"""

from __future__ import annotations

import errno
import heapq
import itertools
import os
from typing import Final, TypeVar

from aionetstack.core.config import StackConfig
from aionetstack.core.icmp import PingRequest, TokenBucket, error_for, error_for6
from aionetstack.core.ipv4 import (
    BAD,
    DUPLICATE,
    HEADER,
    MAX_DATAGRAM,
    OFFSET_MASK,
    OVERLAP,
    PENDING,
    TOO_MANY,
    Reassembler,
    ReassemblyResult,
    fragment,
)
from aionetstack.core.ipv6 import IPV6_REASSEMBLY_TIMEOUT, Reassembled, Reassembler6, fragment6
from aionetstack.core.listener import TcpListener
from aionetstack.core.ports import PortAllocator, derive_key
from aionetstack.core.reqsock import RequestSock, build_synack, synack_timeout, tcp_builder
from aionetstack.core.routing import RouteResult, RoutingTable, is_v6_value, valid_v6
from aionetstack.core.stats import (
    DROP_ICMP6_BAD_CHECKSUM,
    DROP_ICMP6_MALFORMED,
    DROP_ICMP6_NO_MATCH,
    DROP_ICMP6_UNHANDLED_TYPE,
    DROP_ICMP_BAD_CHECKSUM,
    DROP_ICMP_MALFORMED,
    DROP_ICMP_NO_MATCH,
    DROP_ICMP_OUT_OF_WINDOW,
    DROP_ICMP_UNHANDLED_TYPE,
    DROP_IP6_BAD_HEADER,
    DROP_IP6_MARTIAN_SOURCE,
    DROP_IP6_NOT_FOR_US,
    DROP_IP6_TRUNCATED,
    DROP_IP6_UNKNOWN_NEXT_HEADER,
    DROP_IP_BAD_CHECKSUM,
    DROP_IP_BAD_FRAGMENT,
    DROP_IP_BAD_IHL,
    DROP_IP_BAD_TOTAL_LENGTH,
    DROP_IP_BAD_VERSION,
    DROP_IP_BROADCAST_NOT_UDP,
    DROP_IP_MARTIAN_SOURCE,
    DROP_IP_NOT_FOR_US,
    DROP_IP_TRUNCATED,
    DROP_IP_TTL_ZERO,
    DROP_IP_UNKNOWN_PROTOCOL,
    DROP_REASM_DUPLICATE,
    DROP_REASM_MEMORY,
    DROP_REASM_OVERLAP,
    DROP_REASM_TIMEOUT,
    DROP_REASM_TOO_MANY,
    DROP_TCP_BAD_CHECKSUM,
    DROP_TCP_CONNECTION_CAP,
    DROP_TCP_LISTEN_BAD_SEGMENT,
    DROP_TCP_MALFORMED,
    DROP_TCP_NO_LISTENER,
    DROP_UDP_BAD_CHECKSUM,
    DROP_UDP_MALFORMED,
    DROP_UDP_RCVBUF,
    Counters,
)
from aionetstack.core.syncookies import (
    COOKIE_PERIOD,
    MAX_SYNCOOKIE_AGE,
    SynCookies,
    cookie_timestamp_decode,
    cookie_tsval,
)
from aionetstack.core.tcp.connection import TcpConnection
from aionetstack.core.tcp.isn import IsnGenerator
from aionetstack.core.tcp.memory import TcpMemory
from aionetstack.core.tcp.states import TcpState
from aionetstack.core.tcp.tcb import TS_OPT, TS_WORD
from aionetstack.core.timewait import TW_ACK, TimeWait
from aionetstack.core.udp import UdpEndpoint
from aionetstack.core.verdict import FlowFilter, Verdict
from aionetstack.wire import icmpv6
from aionetstack.wire.addr import is_martian_source
from aionetstack.wire.checksum import internet_checksum
from aionetstack.wire.errors import ChecksumError, ParameterProblemError, TruncatedError, WireError
from aionetstack.wire.icmp import (
    DEST_UNREACH,
    ECHO_REPLY,
    ECHO_REQUEST,
    ERROR_TYPES,
    FRAG_NEEDED,
    FRAG_REASSEMBLY_EXCEEDED,
    PARAMETER_PROBLEM,
    PORT_UNREACH,
    PROTO_UNREACH,
    TIME_EXCEEDED,
    IcmpMessage,
    build_dest_unreachable,
    build_echo,
    build_time_exceeded,
    parse_icmp,
)
from aionetstack.wire.ipv4 import PROTO_ICMP, PROTO_TCP, PROTO_UDP
from aionetstack.wire.ipv6 import (
    IPV6_HEADER,
    IPV6_MIN_MTU,
    PROTO_ICMPV6,
    PROTO_NONE,
    Ipv6Header,
    parse_ipv6,
)
from aionetstack.wire.siphash import siphash24
from aionetstack.wire.tcp import ACK, FIN, RST, SYN, TcpSegment, parse_tcp
from aionetstack.wire.udp import build_udp, build_udp6, parse_udp, parse_udp6

INF: Final = float("inf")
MAX_UDP_PAYLOAD: Final = 65535 - 20 - 8  # RFC 768 over RFC 791: 65507
MAX_PENDING_PINGS: Final = 65536
SOMAXCONN: Final = 4096  # net.core.somaxconn
LOOPBACK_IFINDEX: Final = 0  # the implicit loopback interface (traffic to our own addresses)
LOOPBACK_ROUNDS: Final = 1000
COOKIE_VALIDITY: Final = MAX_SYNCOOKIE_AGE * COOKIE_PERIOD  # Linux tcp_synq_no_recent_overflow
DEFAULT_MSS: Final = 536  # RFC 9293 3.7.1 / Linux TCP_MSS_DEFAULT: a SYN without MSS option
_MASK: Final = 0xFFFFFFFF
MAX_UDP6_PAYLOAD: Final = 65535 - 8  # RFC 8200 payload length (no jumbograms)
ANY6: Final = 1 << 128  # the IPv6 wildcard ``::`` as a key of the bind dicts (0 is IPv4's)
PMTU6_TIMEOUT: Final = 600.0  # RFC 8201 4: a lowered path MTU is retried after 10 minutes
MAX_PMTU6: Final = 4096  # path MTU records kept (oldest dropped first)
# ICMPv6 types counted by name on input (Linux icmp6_mib ...: /proc/net/snmp6)
#: the first byte of an echo request (answer_any_ping admits these alone)
_ECHO_REQUEST_TYPE: Final = bytes((ECHO_REQUEST,))
_ECHO_REQUEST6_TYPE: Final = bytes((icmpv6.ECHO_REQUEST,))
_ICMP6_IN_NAMES: Final = {
    icmpv6.DEST_UNREACH: "Icmp6InDestUnreachs",
    icmpv6.PACKET_TOO_BIG: "Icmp6InPktTooBigs",
    icmpv6.TIME_EXCEEDED: "Icmp6InTimeExcds",
    icmpv6.PARAM_PROBLEM: "Icmp6InParmProblems",
    icmpv6.ECHO_REQUEST: "Icmp6InEchos",
    icmpv6.ECHO_REPLY: "Icmp6InEchoReplies",
    icmpv6.MLD_QUERY: "Icmp6InGroupMembQueries",
    icmpv6.MLD_REPORT: "Icmp6InGroupMembResponses",
    icmpv6.MLD_DONE: "Icmp6InGroupMembReductions",
    icmpv6.ROUTER_SOLICIT: "Icmp6InRouterSolicits",
    icmpv6.ROUTER_ADVERT: "Icmp6InRouterAdvertisements",
    icmpv6.NEIGHBOR_SOLICIT: "Icmp6InNeighborSolicits",
    icmpv6.NEIGHBOR_ADVERT: "Icmp6InNeighborAdvertisements",
    icmpv6.REDIRECT: "Icmp6InRedirects",
    icmpv6.MLDV2_REPORT: "Icmp6InMLDv2Reports",
}

_CLOSED = TcpState.CLOSED
_SYN_RECEIVED = TcpState.SYN_RECEIVED
_TIME_WAIT = TcpState.TIME_WAIT
_ESTAB_LIKE = frozenset({TcpState.ESTABLISHED, TcpState.CLOSE_WAIT})  # RFC 4022 tcpCurrEstab
_OPENING = frozenset({TcpState.SYN_SENT, TcpState.SYN_RECEIVED})

ConnKey = tuple[int, int, int, int]  # (local addr, local port, remote addr, remote port)
_T = TypeVar("_T")


class _ConnEntry:
    """The stack's bookkeeping for one connection in the demux table."""

    __slots__ = ("alive", "conn", "ifindex", "key", "listener", "pushed", "queued")

    def __init__(
        self, conn: TcpConnection, key: ConnKey, ifindex: int, listener: TcpListener | None
    ) -> None:
        self.conn = conn
        self.key = key
        self.ifindex = ifindex
        self.listener = listener  # parent until accept()
        self.queued = False  # in the listener's accept queue
        self.pushed = INF  # deadline last pushed on the heap (INF: none pending)
        self.alive = True


class _ReasmSlot:
    """A reassembler's place on the timer heap (``family`` 4 or 6)."""

    __slots__ = ("alive", "family", "pushed")

    def __init__(self, family: int = 4) -> None:
        self.pushed = INF
        self.alive = True
        self.family = family


def _check_addr(value: object, what: str, family: int = 4) -> int:
    """An address argument of ``family``; IPv6: 0 (``::``) or a usable unicast value
    (core/routing.py ``valid_v6``: never below 2**32)."""
    if type(value) is not int:
        raise TypeError(f"{what} must be an int IP address, not {type(value).__name__}")
    if family == 6:
        if value != 0 and not valid_v6(value):
            raise OSError(errno.EADDRNOTAVAIL, f"{what}: unusable IPv6 address {value:#x}")
        return value
    if family != 4:
        raise ValueError(f"bad address family: {family!r}")
    if not 0 <= value <= 0xFFFFFFFF:
        raise ValueError(f"{what} out of range: {value}")
    return value


def _bind_key(addr: int, family: int) -> int:
    """The key of a local address in the bind dicts: the address, or the family's wildcard."""
    return addr if addr or family == 4 else ANY6


def _bind_conflict(by_addr: dict[int, _T] | None, key: int) -> bool:
    """Is ``key`` (a ``_bind_key``) taken in a port's dict? The same address, the
    family's wildcard, or (for a wildcard) any address of its family."""
    if not by_addr:
        return False
    v6 = key > _MASK
    wild = ANY6 if v6 else 0
    if key in by_addr or wild in by_addr:
        return True
    return key == wild and any((k > _MASK) == v6 for k in by_addr)


def _out_requests(remote: int) -> str:
    """The MIB counter of one packet sent to ``remote``: IpOutRequests or, for an
    IPv6 address, Ip6OutRequests (Linux counts the families apart)."""
    return "Ip6OutRequests" if is_v6_value(remote) else "IpOutRequests"


def _packet_dst(packet: bytes) -> int:
    """The destination address of an IP packet of either version."""
    if packet[0] >> 4 == 6:
        return int.from_bytes(packet[24:40], "big")
    return int.from_bytes(packet[16:20], "big")


def _check_port(value: object, what: str, *, allow_zero: bool) -> int:
    if type(value) is not int:
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if not (0 if allow_zero else 1) <= value <= 65535:
        raise ValueError(f"{what} out of range: {value}")
    return value


class StackEngine:
    """One sans-IO IPv4 host: see the module docstring."""

    def __init__(self, config: StackConfig, *, secret: bytes | None = None, now: float) -> None:
        if secret is None:
            secret = os.urandom(16)
        if len(secret) != 16:
            raise ValueError("the stack secret must be 16 bytes")
        self.config = config
        self._secret = secret
        self._now = now
        self._routes = RoutingTable()
        self._counters = Counters()
        self._c = self._counters.c
        # every connection's buffers charged to one account (net.ipv4.tcp_mem)
        self.tcp_memory = TcpMemory(*config.tcp_mem)
        self._tcp_ports = PortAllocator(
            secret, config.ephemeral_port_low, config.ephemeral_port_high
        )
        self._udp_ports = PortAllocator(
            bytes(b ^ 0x5A for b in secret), config.ephemeral_port_low, config.ephemeral_port_high
        )
        self._isn = IsnGenerator(secret)
        self._tcp: dict[ConnKey, _ConnEntry] = {}
        self._reqs: dict[ConnKey, RequestSock] = {}  # every listener's SYN queue
        self._tw: dict[ConnKey, TimeWait] = {}
        self._cookies = SynCookies(secret)
        self._listeners: dict[int, dict[int, TcpListener]] = {}  # port -> addr -> listener
        self._transparent: list[TcpListener] = []
        self._udp: dict[int, dict[int, UdpEndpoint]] = {}  # port -> addr -> endpoint
        self._udp_transparent: UdpEndpoint | None = None  # the gateway's catch-all
        self._answer_any_ping = config.answer_any_ping
        self._reasm = Reassembler(config.reassembly_timeout, config.reassembly_memory)
        self._reasm_slot = _ReasmSlot()
        self._reasm6 = Reassembler6(IPV6_REASSEMBLY_TIMEOUT, config.reassembly_memory)
        self._reasm6_slot = _ReasmSlot(6)
        self._frag_id6 = int.from_bytes(os.urandom(4), "big")
        self._pmtu6: dict[int, tuple[int, float]] = {}  # dest -> (path MTU, expiry)
        self._key6 = derive_key(secret, b"ans-ipv6-flows")
        self._icmp_bucket = TokenBucket(config.icmp_rate_limit, config.icmp_rate_burst, now)
        self._pings: dict[tuple[int, int, int], PingRequest] = {}
        self._out: list[tuple[int, bytes]] = []
        self._touched: dict[_ConnEntry, None] = {}
        self._ready: dict[int, object] = {}
        self._heap: list[tuple[float, int, _ConnEntry | _ReasmSlot | RequestSock | TimeWait]] = []
        self._heap_seq = itertools.count()
        self._ip_id = int.from_bytes(os.urandom(2), "big")
        self._retrans_of_closed = 0
        self._loopback_used = False  # set once something is sent to a local address

    # ------------------------------------------------------------------ config
    def add_interface(self, address: int, prefixlen: int, mtu: int, *, family: int = 4) -> int:
        """Attach an interface (and its connected route); returns its ifindex."""
        _check_addr(address, "address", family)
        return self._routes.add_interface(address, prefixlen, mtu, family).ifindex

    def add_address(self, ifindex: int, address: int, prefixlen: int, *, family: int = 6) -> None:
        """Another address (and its connected route) on interface ``ifindex``: any
        number of IPv6 addresses, or the IPv4 address of an interface without one."""
        _check_addr(address, "address", family)
        self._routes.add_address(ifindex, address, prefixlen, family)

    def set_gateway(self, gateway: int | None, *, family: int = 4) -> None:
        """Set (or with None remove) the default route of ``family``; ENETUNREACH if
        not on a connected net."""
        if gateway is not None:
            _check_addr(gateway, "gateway", family)
        self._routes.set_gateway(gateway, family)

    def add_route(
        self,
        network: int,
        prefixlen: int,
        *,
        gateway: int | None = None,
        ifindex: int | None = None,
        family: int = 4,
    ) -> None:
        self._routes.add_route(network, prefixlen, gateway=gateway, ifindex=ifindex, family=family)

    def route(self, dest: int) -> RouteResult:
        """The route to ``dest`` (OSError(ENETUNREACH) if none)."""
        return self._routes.lookup(dest)

    @property
    def routing_table(self) -> RoutingTable:
        return self._routes

    # ------------------------------------------------------------------ input
    def receive(self, packet: bytes | bytearray | memoryview, ifindex: int, now: float) -> None:
        """Process one received IPv4 packet. Bad input is counted and dropped."""
        self._now = now
        c = self._c
        c["IpInReceives"] += 1
        n = len(packet)
        if n < 20:
            self._counters.drop("IpInHdrErrors", DROP_IP_TRUNCATED)
            return
        vihl, _tos, total, ident, frag, ttl, proto, _ck, src, dst = HEADER.unpack_from(packet)
        if vihl >> 4 != 4:  # RFC 791 3.1 / RFC 1122 3.2.1.1
            if vihl >> 4 == 6:
                # IPv6: counted in Ip6InReceives, not here (the test sits after
                # the IPv4 count so that IPv4 pays nothing for it)
                c["IpInReceives"] -= 1
                self._receive6(packet, ifindex, now)
                return
            self._counters.drop("IpInHdrErrors", DROP_IP_BAD_VERSION)
            return
        ihl = (vihl & 0x0F) << 2
        if ihl < 20 or ihl > n:
            self._counters.drop("IpInHdrErrors", DROP_IP_BAD_IHL)
            return
        if total < ihl or total > n:
            self._counters.drop("IpInHdrErrors", DROP_IP_BAD_TOTAL_LENGTH)
            return
        mv = packet if type(packet) is memoryview else memoryview(packet)
        if internet_checksum(mv[:ihl]) != 0:  # RFC 1122 3.2.1.2
            self._counters.drop("IpInHdrErrors", DROP_IP_BAD_CHECKSUM)
            return
        if ttl == 0:  # never valid on the wire (RFC 1812 5.3.1); ours: any TTL > 0
            self._counters.drop("IpInHdrErrors", DROP_IP_TTL_ZERO)
            return
        routes = self._routes
        local = routes.local_addresses
        broadcast = False
        if dst in local:
            pass
        elif dst in routes.broadcasts:
            # RFC 1122 3.3.6 / 4.2.3.10: only UDP uses broadcasts here (no
            # broadcast pings: Linux icmp_echo_ignore_broadcasts=1).
            if proto != PROTO_UDP:
                self._counters.drop("IpInAddrErrors", DROP_IP_BROADCAST_NOT_UDP)
                return
            broadcast = True
        elif not (
            (
                (proto == PROTO_TCP and self._transparent)
                or (proto == PROTO_UDP and self._udp_transparent is not None)
                or (proto == PROTO_ICMP and self._answer_any_ping)
            )
            and not is_martian_source(dst)
        ):
            self._counters.drop("IpInAddrErrors", DROP_IP_NOT_FOR_US)
            return
        if (
            is_martian_source(src)  # RFC 1812 5.3.7
            or (src in local and ifindex != LOOPBACK_IFINDEX)
            or src in routes.broadcasts
        ):
            self._counters.drop("IpInAddrErrors", DROP_IP_MARTIAN_SOURCE)
            return
        payload = mv[ihl:total]
        head: memoryview | bytes = mv
        if frag & 0x3FFF:  # MF or a fragment offset: RFC 791 3.2 reassembly
            offset = (frag & OFFSET_MASK) << 3
            if total - ihl + offset + ihl > MAX_DATAGRAM:
                c["IpReasmFails"] += 1
                self._counters.drop("IpInHdrErrors", DROP_IP_BAD_FRAGMENT)
                return
            c["IpReasmReqds"] += 1
            result = self._reasm.add(
                (src, dst, proto, ident), offset, bool(frag & 0x2000), payload, mv[:total], now
            )
            self._sync_reasm_timer()
            if type(result) is ReassemblyResult:
                c["IpReasmOKs"] += 1
                payload = memoryview(result.payload)
                head = result.first_packet
            else:
                self._reasm_not_done(result, "Ip")
                return
        if proto == PROTO_TCP:
            c["IpInDelivers"] += 1
            self._tcp_input(src, dst, payload, ifindex, now)
        elif proto == PROTO_UDP:
            c["IpInDelivers"] += 1
            self._udp_input(src, dst, payload, head, broadcast, ifindex, now)
        elif proto == PROTO_ICMP:
            c["IpInDelivers"] += 1
            self._icmp_input(src, dst, payload, ttl, ifindex, now)
        else:
            # RFC 1122 3.2.2.1: protocol unreachable for an unknown transport.
            self._counters.drop("IpInUnknownProtos", DROP_IP_UNKNOWN_PROTOCOL)
            self._send_icmp_error(DEST_UNREACH, PROTO_UNREACH, head, src, dst, ifindex, now)

    # ------------------------------------------------------------------ TCP input
    def _tcp_input(
        self, src: int, dst: int, payload: memoryview, ifindex: int, now: float, v6: bool = False
    ) -> None:
        c = self._c
        try:
            # IPv6: parse_tcp6 inlined (the folded address sum stands for src + dst)
            seg = (
                parse_tcp(payload, (src + dst) % 0xFFFF or 0xFFFF, 0)
                if v6
                else parse_tcp(payload, src, dst)
            )
        except ChecksumError:
            c["TcpInCsumErrors"] += 1
            self._counters.drop("TcpInErrs", DROP_TCP_BAD_CHECKSUM)
            return
        except WireError:
            self._counters.drop("TcpInErrs", DROP_TCP_MALFORMED)
            return
        c["TcpInSegs"] += 1
        key = (dst, seg.dst_port, src, seg.src_port)
        entry = self._tcp.get(key)
        if entry is not None:
            conn = entry.conn
            if conn.state is not _TIME_WAIT:
                conn.receive(seg, now)
                self._touched[entry] = None
                return
            # it just entered TIME-WAIT: make it a compact entry (its last ACK
            # is pulled first)
            self._touched[entry] = None
            self._settle()
        if self._reqs:
            req = self._reqs.get(key)
            if req is not None:
                self._request_input(req, seg, src, dst, now)
                return
        if self._tw:
            tw = self._tw.get(key)
            if tw is not None:
                self._time_wait_input(tw, key, seg, src, dst, ifindex, now)
                return
        listener = self._find_listener(seg.dst_port, dst)
        if listener is None:
            self._counters.drop(None, DROP_TCP_NO_LISTENER)
            self._send_rst(
                src,
                dst,
                seg.src_port,
                seg.dst_port,
                seg.seq,
                seg.ack,
                seg.flags,
                len(seg.payload),
                ifindex,
            )
            return
        if listener.syn_filter is not None and not self._syn_admitted(
            listener, seg, src, dst, ifindex
        ):
            return
        self._listen_input(listener, key, seg, src, dst, ifindex, now)

    def _time_wait_input(
        self,
        tw: TimeWait,
        key: ConnKey,
        seg: TcpSegment,
        src: int,
        dst: int,
        ifindex: int,
        now: float,
    ) -> None:
        """A segment for a TIME-WAIT pair (Linux tcp_v4_rcv -> tcp_timewait_state_process)."""
        if seg.flags & (SYN | ACK | RST) == SYN and tw.accepts_syn(seg):
            listener = self._find_listener(seg.dst_port, dst)
            if listener is not None:
                # Linux TCP_TW_SYN / RFC 6191 / RFC 9293 3.10.7.4 note: the SYN
                # reopens the pair through the listener, with an ISS above the old
                # SND.NXT; the TIME-WAIT entry leaves only once the listener admits
                # the SYN (queue not full, route found), so a dropped SYN does not
                # cost the 4-tuple its TIME-WAIT protection (RFC 9293 3.6.1).
                self._listen_input(listener, key, seg, src, dst, ifindex, now,
                                   tw.reopen_iss(), tw)  # fmt: skip
                return
            # without a listener Linux's TCP_TW_SYN falls through to TCP_TW_ACK
        if tw.segment(seg, now, self.config.time_wait) == TW_ACK:
            self._out.append((tw.ifindex, tw.ack(self._next_ip_id(), self.config.ttl, now)))
            c = self._c
            c["TcpOutSegs"] += 1
            c[_out_requests(tw.key[2])] += 1
        self._push(tw, tw.deadline)

    def _find_listener(self, port: int, dst: int) -> TcpListener | None:
        listener: TcpListener | None = None
        by_addr = self._listeners.get(port)
        if by_addr is not None:
            listener = by_addr.get(dst)
            if listener is None and dst in self._routes.local_addresses:
                listener = by_addr.get(ANY6 if dst > _MASK else 0)
        if listener is None and self._transparent:
            listener = self._transparent[0]
        return listener

    def _listen_input(
        self,
        listener: TcpListener,
        key: ConnKey,
        seg: TcpSegment,
        src: int,
        dst: int,
        ifindex: int,
        now: float,
        iss: int | None = None,
        time_wait: TimeWait | None = None,
    ) -> None:
        """RFC 9293 3.10.7.2, the LISTEN state, plus Linux's queue limits
        (tcp_conn_request) and SYN cookies (cookie_v4_check).

        ``time_wait``: the TIME-WAIT entry this SYN reopens; removed only when
        the SYN is admitted (it stays, and the SYN is dropped, otherwise).
        """
        flags = seg.flags
        if flags & RST:  # first: ignore an RST
            self._counters.drop(None, DROP_TCP_LISTEN_BAD_SEGMENT)
            return
        cfg = self.config
        if flags & ACK:  # second: any ACK is bad in LISTEN -> <SEQ=SEG.ACK><CTL=RST>
            # ... unless it returns a SYN cookie (Linux tcp_v4_cookie_check: only
            # within two minutes of the listener's last cookie, or always with 2)
            if (
                cfg.syncookies
                and not flags & SYN
                and (cfg.syncookies == 2 or now - listener.cookie_time < COOKIE_VALIDITY)
                and self._cookie_ack(listener, key, seg, src, dst, ifindex, now)
            ):
                return
            self._send_rst(
                src,
                dst,
                seg.src_port,
                seg.dst_port,
                seg.seq,
                seg.ack,
                flags,
                len(seg.payload),
                ifindex,
            )
            return
        if not flags & SYN or flags & FIN:
            # fourth: other text or control: drop; and a SYN with FIN (Linux
            # tcp_rcv_state_process in TCP_LISTEN: ``if (th->fin) goto discard``)
            self._counters.drop(None, DROP_TCP_LISTEN_BAD_SEGMENT)
            return
        c = self._c
        if self._accept_queue_full(listener):  # Linux tcp_conn_request: sk_acceptq_is_full
            return
        if len(self._tcp) + len(self._reqs) >= cfg.max_connections:
            # the per-stack connection cap: refused like a closed port
            self._counters.drop(None, DROP_TCP_CONNECTION_CAP)
            self._send_rst(src, dst, seg.src_port, seg.dst_port, seg.seq, seg.ack, flags,
                           len(seg.payload), ifindex)  # fmt: skip
            return
        # Linux tcp_conn_request: a cookie when syncookies=2, or when the SYN
        # queue is full and syncookies=1 (never for a TIME-WAIT reopening: isn)
        cookie = cfg.syncookies == 2 and iss is None
        if not cookie and len(listener.syn_queue) >= listener.syn_backlog:
            if cfg.syncookies and iss is None:
                c["TCPReqQFullDoCookies"] += 1  # Linux tcp_syn_flood_action
                cookie = True
            else:
                c["TCPReqQFullDrop"] += 1
                c["ListenDrops"] += 1
                return
        reply = self._reply_path(ifindex, src)
        if reply is None:
            return
        ifindex, mtu = reply
        if time_wait is not None:
            self._tw_remove(time_wait)  # admitted: the TIME-WAIT pair is reused
        ts_offset = self._ts_offset(dst, src)
        label = self._flow_label(key)
        ts_val = seg.ts_val if cfg.timestamps else None
        wscale = seg.wscale if cfg.window_scaling else None
        sack = cfg.sack and seg.sack_permitted
        if cookie:
            isn, _mss = self._cookies.make(
                src, dst, seg.src_port, seg.dst_port, seg.seq, seg.mss or DEFAULT_MSS, now
            )
            ts: tuple[int, int] | None = None
            if ts_val is not None:
                ts = (cookie_tsval(now, ts_offset, wscale, sack), ts_val)
            else:  # Linux: a cookie without timestamps keeps no window scale nor SACK
                wscale, sack = None, False
            packet = build_synack(
                cfg, dst, seg.dst_port, src, seg.src_port, isn, seg.seq, mtu, self._next_ip_id(),
                wscale_offered=wscale is not None, sack=sack, ts=ts, flow_label=label,
            )  # fmt: skip
            self._out.append((ifindex, packet))
            c["TcpOutSegs"] += 1
            c[_out_requests(src)] += 1
            c["SyncookiesSent"] += 1
            listener.cookie_time = now
            return
        if iss is None:
            iss = self._isn_for(dst, seg.dst_port, src, seg.src_port, now)
        req = RequestSock(key, listener, ifindex, mtu, iss, seg.seq, seg.mss, wscale, sack,
                          ts_val, seg.window, ts_offset, now, label)  # fmt: skip
        self._reqs[key] = req
        listener.syn_queue[key] = req
        self._c["TcpPassiveOpens"] += 1  # RFC 4022 tcpPassiveOpens: LISTEN -> SYN-RCVD
        self._send_synack(req, now)
        req.deadline = now + synack_timeout(cfg, 0)
        self._push(req, req.deadline)

    def _reply_path(self, ifindex: int, src: int) -> tuple[int, int] | None:
        """(ifindex, MTU) to answer ``src`` on: the input interface, or the route
        back for a looped-back segment; None without one."""
        iface = self._routes.interfaces.get(ifindex)
        if iface is not None:
            return ifindex, iface.mtu
        try:
            route = self._routes.lookup(src)
        except OSError:
            return None
        return route.ifindex, route.mtu

    def _send_synack(self, req: RequestSock, now: float) -> None:
        self._out.append((req.ifindex, req.synack(self.config, now)))
        req.sent = now
        c = self._c
        c["TcpOutSegs"] += 1
        c[_out_requests(req.key[2])] += 1

    def _push(self, obj: RequestSock | TimeWait, deadline: float) -> None:
        if deadline < obj.pushed:
            obj.pushed = deadline
            heapq.heappush(self._heap, (deadline, next(self._heap_seq), obj))

    def _request_input(
        self, req: RequestSock, seg: TcpSegment, src: int, dst: int, now: float
    ) -> None:
        """A segment for a half-open request record (Linux tcp_check_req; RFC 9293
        3.10.7.4 in SYN-RECEIVED)."""
        flags = seg.flags
        seq = seg.seq
        rcv_nxt = (req.irs + 1) & _MASK
        if flags & RST:
            # RFC 5961 3.2: only the exact RCV.NXT resets (RFC 9293: back to LISTEN)
            if seq == rcv_nxt:
                self._req_remove(req)
                self._c["TcpAttemptFails"] += 1
            else:
                self._counters.drop(None, DROP_TCP_LISTEN_BAD_SEGMENT)
            return
        if flags & SYN:
            if not flags & ACK and seq == req.irs:
                self._send_synack(req, now)  # the peer retransmitted its SYN
            else:
                self._counters.drop(None, DROP_TCP_LISTEN_BAD_SEGMENT)
            return
        if not flags & ACK:
            self._counters.drop(None, DROP_TCP_LISTEN_BAD_SEGMENT)
            return
        if seg.ack != (req.iss + 1) & _MASK:
            # RFC 9293 3.10.7.4 SYN-RECEIVED: an unacceptable ACK -> <SEQ=SEG.ACK><CTL=RST>
            self._send_rst(src, dst, seg.src_port, seg.dst_port, seq, seg.ack, flags,
                           len(seg.payload), req.ifindex)  # fmt: skip
            return
        ts_recent = req.ts_recent
        if seq != rcv_nxt or (
            ts_recent is not None
            and seg.ts_val is not None
            and (seg.ts_val - ts_recent) & _MASK >= 0x80000000
        ):
            # out of window or PAWS-old (RFC 7323 5.3): Linux tcp_check_req drops it
            self._counters.drop(None, DROP_TCP_LISTEN_BAD_SEGMENT)
            return
        if self._accept_queue_full(req.listener):
            return  # Linux tcp_check_req: the request stays, the peer sends its ACK again
        self._req_remove(req)
        la, lp, ra, rp = req.key
        conn = TcpConnection.from_handshake(
            self.config, local_addr=la, local_port=lp, remote_addr=ra, remote_port=rp,
            iss=req.iss, irs=req.irs, peer_mss=req.mss, peer_wscale=req.wscale,
            sack_permitted=req.sack_ok, ts_recent=ts_recent, peer_window=req.window,
            mtu=req.mtu, synack_sent=req.sent, retransmits=req.retrans, ident=req.ident,
            now=now, ts_offset=req.ts_offset, family=6 if ra > _MASK else 4,
            flow_label=req.flow_label, memory=self.tcp_memory,
        )  # fmt: skip
        self._child_established(conn, req.key, req.ifindex, req.listener, seg, now)

    def _cookie_ack(
        self,
        listener: TcpListener,
        key: ConnKey,
        seg: TcpSegment,
        src: int,
        dst: int,
        ifindex: int,
        now: float,
    ) -> bool:
        """Make the connection a valid SYN-cookie ACK proves (Linux cookie_v4_check);
        False: no valid cookie (the caller answers with an RST)."""
        c = self._c
        cfg = self.config
        mss = self._cookies.check(src, dst, seg.src_port, seg.dst_port, seg.seq, seg.ack, now)
        if not mss:
            c["SyncookiesFailed"] += 1
            return False
        ts_offset = self._ts_offset(dst, src)
        wscale: int | None = None
        sack = False
        ts_recent: int | None = None
        if seg.ts_val is not None and seg.ts_ecr:
            # cookie_timestamp_decode: the SYN's options from TSecr's low bits
            wscale, sack, _ecn = cookie_timestamp_decode(seg.ts_ecr, ts_offset)
            if (
                not cfg.timestamps
                or (sack and not cfg.sack)
                or (wscale is not None and not cfg.window_scaling)
            ):
                c["SyncookiesFailed"] += 1
                return False
            ts_recent = seg.ts_val
        c["SyncookiesRecv"] += 1
        if self._accept_queue_full(listener):
            return True  # Linux cookie_v4_check -> syn_recv_sock: dropped
        if len(self._tcp) + len(self._reqs) >= cfg.max_connections:
            self._counters.drop(None, DROP_TCP_CONNECTION_CAP)
            return False
        reply = self._reply_path(ifindex, src)
        if reply is None:
            return True  # no way back: dropped
        ifindex, mtu = reply
        conn = TcpConnection.from_handshake(
            cfg, local_addr=dst, local_port=seg.dst_port, remote_addr=src,
            remote_port=seg.src_port, iss=(seg.ack - 1) & _MASK, irs=(seg.seq - 1) & _MASK,
            peer_mss=mss, peer_wscale=wscale, sack_permitted=sack, ts_recent=ts_recent,
            peer_window=seg.window, mtu=mtu, synack_sent=None, retransmits=0,
            ident=self._next_ip_id(), now=now, ts_offset=ts_offset,
            family=6 if src > _MASK else 4, flow_label=self._flow_label(key),
            memory=self.tcp_memory,
        )  # fmt: skip
        # a cookie's SYN left no state: the passive open counts when it completes
        self._c["TcpPassiveOpens"] += 1
        self._child_established(conn, key, ifindex, listener, seg, now)
        return True

    def _accept_queue_full(self, listener: TcpListener) -> bool:
        """Linux tcp_v4_syn_recv_sock: a handshake completing into a full accept
        queue is dropped (ListenOverflows, ListenDrops), cookie or not."""
        if len(listener.accept_queue) >= listener.backlog:
            c = self._c
            c["ListenOverflows"] += 1
            c["ListenDrops"] += 1
            return True
        return False

    def _child_established(
        self,
        conn: TcpConnection,
        key: ConnKey,
        ifindex: int,
        listener: TcpListener,
        ack: TcpSegment,
        now: float,
    ) -> None:
        """A completed passive open: into demux, then the ACK completes it."""
        entry = _ConnEntry(conn, key, ifindex, listener)
        self._tcp[key] = entry
        conn.receive(ack, now)
        self._touched[entry] = None

    def _req_remove(self, req: RequestSock) -> None:
        req.alive = False
        req.pushed = INF
        if self._reqs.get(req.key) is req:
            del self._reqs[req.key]
        syn_queue = req.listener.syn_queue
        if syn_queue.get(req.key) is req:
            del syn_queue[req.key]

    def _tw_remove(self, tw: TimeWait) -> None:
        tw.alive = False
        tw.pushed = INF
        if self._tw.get(tw.key) is tw:
            del self._tw[tw.key]

    def _to_time_wait(self, entry: _ConnEntry, conn: TcpConnection, now: float) -> None:
        """Replace a connection entering TIME-WAIT by a compact entry (Linux
        tcp_time_wait), or close it when ``max_tw_buckets`` are in use."""
        entry.alive = False
        key = entry.key
        if self._tcp.get(key) is entry:
            del self._tcp[key]
        self._retrans_of_closed += _retrans_of(conn)
        entry.pushed = INF
        del entry.conn
        if len(self._tw) >= self.config.max_tw_buckets:
            self._c["TCPTimeWaitOverflow"] += 1
            return
        free = (conn.rcv_adv - conn.rcv_nxt) & _MASK
        if free >= 0x80000000:
            free = 0
        window = free >> conn.rcv_wscale
        deadline = conn.get_timer()
        tw = TimeWait(
            key, entry.ifindex, conn.snd_max, conn.rcv_nxt, min(window, 0xFFFF),
            conn.ts_recent if conn.ts_ok else None, self._ts_offset(key[0], key[2]),
            now + self.config.time_wait if deadline is None else deadline,
            self._flow_label(key),
        )  # fmt: skip
        self._tw[key] = tw
        self._push(tw, tw.deadline)

    def _send_rst(
        self,
        src: int,
        dst: int,
        src_port: int,
        dst_port: int,
        seq: int,
        ack: int,
        flags: int,
        payload_len: int,
        ifindex: int,
    ) -> None:
        """Reply to a segment nobody wants: RFC 9293 3.10.7.1 (CLOSED state)."""
        if flags & RST:  # never answer an RST
            return
        if flags & ACK:
            rseq, rack, rflags = ack, 0, RST  # <SEQ=SEG.ACK><CTL=RST>
        else:
            seg_len = payload_len + (1 if flags & SYN else 0) + (1 if flags & FIN else 0)
            rseq, rack, rflags = 0, (seq + seg_len) & 0xFFFFFFFF, RST | ACK
        packet = tcp_builder(src)(
            dst, src, self._next_ip_id(), self.config.ttl, dst_port, src_port,
            rseq, rack, rflags, 0, b"", b"",
        )  # fmt: skip
        self._out.append((ifindex, packet))
        c = self._c
        c["TcpOutSegs"] += 1
        c["TcpOutRsts"] += 1
        c[_out_requests(src)] += 1

    def _syn_admitted(
        self, listener: TcpListener, seg: TcpSegment, src: int, dst: int, ifindex: int
    ) -> bool:
        """A transparent listener's ``syn_filter`` (core/verdict.py) on a new SYN,
        before any state: REFUSE answers with an RST, as a closed port would
        (RFC 9293 3.10.7.1); DROP is silent (gVisor tcp.Forwarder)."""
        flags = seg.flags
        check = listener.syn_filter
        if check is None or flags & (SYN | ACK | RST | FIN) != SYN:
            return True
        verdict = check(src, seg.src_port, dst, seg.dst_port)
        if verdict is Verdict.ACCEPT:
            return True
        if verdict is Verdict.REFUSE:
            self._c["TcpTransparentRefused"] += 1
            self._send_rst(
                src, dst, seg.src_port, seg.dst_port, seg.seq, seg.ack, flags,
                len(seg.payload), ifindex,
            )  # fmt: skip
        else:
            self._c["TcpTransparentDropped"] += 1
        return False

    # ------------------------------------------------------------------ UDP input
    def _udp_input(
        self,
        src: int,
        dst: int,
        payload: memoryview,
        head: memoryview | bytes,
        broadcast: bool,
        ifindex: int,
        now: float,
        v6: bool = False,
    ) -> None:
        c = self._c
        try:
            # RFC 8200 8.1: over IPv6 a zero checksum is invalid (ChecksumError)
            dgram = parse_udp6(payload, src, dst) if v6 else parse_udp(payload, src, dst)
        except ChecksumError:
            c["Udp6InCsumErrors" if v6 else "UdpInCsumErrors"] += 1
            self._counters.drop("Udp6InErrors" if v6 else "UdpInErrors", DROP_UDP_BAD_CHECKSUM)
            return
        except WireError:
            self._counters.drop("Udp6InErrors" if v6 else "UdpInErrors", DROP_UDP_MALFORMED)
            return
        endpoint: UdpEndpoint | None = None
        by_addr = self._udp.get(dgram.dst_port)
        if by_addr is not None:
            endpoint = by_addr.get(dst)
            if endpoint is None:
                endpoint = by_addr.get(ANY6 if v6 else 0)
            # Linux __udp4_lib_lookup: a connected socket matches only its peer.
            remote = endpoint.remote if endpoint is not None else None
            if remote is not None and (remote[0] != src or remote[1] != dgram.src_port):
                endpoint = None
        dest: tuple[int, int] | None = None
        if endpoint is None and not broadcast and self._udp_transparent is not None:
            endpoint = self._udp_transparent
            check = endpoint.datagram_filter
            verdict = (
                Verdict.ACCEPT if check is None else check(src, dgram.src_port, dst, dgram.dst_port)
            )
            if verdict is not Verdict.ACCEPT:
                c["UdpTransparentRefused" if verdict is Verdict.REFUSE else
                  "UdpTransparentDropped"] += 1  # fmt: skip
                if verdict is Verdict.REFUSE:  # as if the destination's port were closed
                    if v6:
                        self._send_icmp6_error(icmpv6.DEST_UNREACH, icmpv6.PORT_UNREACH, 0, head,
                                               dst, ifindex, now, spoof=True)  # fmt: skip
                    else:
                        self._send_icmp_error(
                            DEST_UNREACH, PORT_UNREACH, head, src, dst, ifindex, now, spoof=True
                        )
                return
            dest = (dst, dgram.dst_port)
        if endpoint is None:
            if v6:  # RFC 4443 3.1 code 4 (Linux __udp6_lib_rcv)
                c["Udp6NoPorts"] += 1
                self._send_icmp6_error(icmpv6.DEST_UNREACH, icmpv6.PORT_UNREACH, 0, head, dst,
                                       ifindex, now)  # fmt: skip
                return
            c["UdpNoPorts"] += 1
            if not broadcast:  # RFC 1122 3.2.2: never an ICMP error about a broadcast
                self._send_icmp_error(DEST_UNREACH, PORT_UNREACH, head, src, dst, ifindex, now)
            return
        if endpoint._deliver(bytes(dgram.payload), (src, dgram.src_port), dest):
            c["Udp6InDatagrams" if v6 else "UdpInDatagrams"] += 1
            self._ready[id(endpoint)] = endpoint
        else:
            c["Udp6RcvbufErrors" if v6 else "UdpRcvbufErrors"] += 1
            self._counters.drop("Udp6InErrors" if v6 else "UdpInErrors", DROP_UDP_RCVBUF)

    # ------------------------------------------------------------------ ICMP input
    def _icmp_input(
        self, src: int, dst: int, payload: memoryview, ttl: int, ifindex: int, now: float
    ) -> None:
        c = self._c
        if dst not in self._routes.local_addresses and payload[:1] != _ECHO_REQUEST_TYPE:
            # answer_any_ping lets echo requests to any address in, nothing else
            self._counters.drop("IpInAddrErrors", DROP_IP_NOT_FOR_US)
            return
        c["IcmpInMsgs"] += 1
        try:
            msg = parse_icmp(payload)
        except ChecksumError:
            c["IcmpInCsumErrors"] += 1
            self._counters.drop("IcmpInErrors", DROP_ICMP_BAD_CHECKSUM)
            return
        except WireError:
            self._counters.drop("IcmpInErrors", DROP_ICMP_MALFORMED)
            return
        itype = msg.type
        if itype == ECHO_REQUEST:  # RFC 792 echo; RFC 1122 3.2.2.6: same id, seq, data
            c["IcmpInEchos"] += 1
            reply = build_echo(ECHO_REPLY, msg.ident, msg.sequence, msg.payload)
            iface = self._routes.interfaces.get(ifindex)
            if iface is not None:
                out_if, mtu = iface.ifindex, iface.mtu
            else:  # looped back: route it
                try:
                    route = self._lookup(src)
                except OSError:
                    return
                out_if, mtu = route.ifindex, route.mtu
            self._ip_output(dst, src, PROTO_ICMP, reply, out_if, mtu)
            c["IcmpOutEchoReps"] += 1
            c["IcmpOutMsgs"] += 1
        elif itype == ECHO_REPLY:
            c["IcmpInEchoReps"] += 1
            self._echo_reply(src, msg.ident, msg.sequence, msg.payload, ttl, now)
        elif itype in (DEST_UNREACH, TIME_EXCEEDED, PARAMETER_PROBLEM):
            if itype == DEST_UNREACH:
                c["IcmpInDestUnreachs"] += 1
            elif itype == TIME_EXCEEDED:
                c["IcmpInTimeExcds"] += 1
            else:
                c["IcmpInParmProbs"] += 1
            self._icmp_error_input(msg, now)
        else:
            self._counters.drop(None, DROP_ICMP_UNHANDLED_TYPE)

    def _icmp_error_input(self, msg: IcmpMessage, now: float) -> None:
        """Match an ICMP error to its socket through the quoted header (RFC 1122 3.2.2)."""
        quoted = msg.quoted
        if quoted is None:
            self._counters.drop(None, DROP_ICMP_MALFORMED)
            return
        itype, code = msg.type, msg.code
        error = error_for(itype, code)
        if error is None:
            self._counters.drop(None, DROP_ICMP_UNHANDLED_TYPE)
            return
        header = quoted.header
        proto = header.protocol
        mtu = msg.next_hop_mtu if itype == DEST_UNREACH and code == FRAG_NEEDED else 0
        if self._icmp_error_to_socket(
            proto, header.src, header.dst, quoted.src_port, quoted.dst_port, quoted.tcp_seq,
            msg.payload, header.header_len, not header.frag_offset, error, mtu, now,
        ):  # fmt: skip
            return
        self._counters.drop(None, DROP_ICMP_NO_MATCH)

    def _echo_reply(
        self, src: int, ident: int, sequence: int, data: memoryview | bytes, ttl: int, now: float
    ) -> None:
        """An echo reply (ICMP or ICMPv6) completes the ping it answers."""
        ping = self._pings.pop((src, ident, sequence), None)
        if ping is None:
            self._counters.drop(None, DROP_ICMP6_NO_MATCH if src > _MASK else DROP_ICMP_NO_MATCH)
            return
        ping.done = True
        ping.reply_time = now
        ping.reply_payload = bytes(data)
        ping.reply_ttl = ttl
        self._ready[id(ping)] = ping

    def _icmp_error_to_socket(
        self,
        proto: int,
        qsrc: int,
        qdst: int,
        sport: int,
        dport: int,
        tcp_seq: int | None,
        quote: memoryview | bytes,
        header_len: int,
        first_fragment: bool,
        error: OSError,
        mtu: int,
        now: float,
    ) -> bool:
        """Hand an ICMP(v6) error to the connection, connected UDP endpoint or ping
        that sent the quoted packet (RFC 1122 3.2.2, RFC 4443 2.4 (b)); False: none."""
        v6 = qsrc > _MASK
        if proto == PROTO_TCP:
            entry = self._tcp.get((qsrc, sport, qdst, dport))
            if entry is None:
                return False
            conn = entry.conn
            una = conn.snd_una
            # RFC 5927 4.1 / Linux tcp_v4_err, tcp_v6_err: the quoted sequence number
            # must lie in SND.UNA..SND.MAX (what is really in flight: after an RTO
            # SND.NXT is rewound to SND.UNA), else it is ignored (blind attacks).
            if tcp_seq is None or (tcp_seq - una) & _MASK > (conn.snd_max - una) & _MASK:
                self._counters.drop(None, DROP_ICMP_OUT_OF_WINDOW)
                return True
            conn.icmp_error(error, now, next_hop_mtu=mtu)
            self._touched[entry] = None
            return True
        if proto == PROTO_UDP:
            by_addr = self._udp.get(sport)
            if by_addr is None:
                return False
            endpoint = by_addr.get(qsrc) or by_addr.get(ANY6 if v6 else 0)
            # __udp4_lib_err / __udp6_lib_err: only connected sockets hear about it
            if endpoint is None or endpoint.remote != (qdst, dport):
                return False
            if endpoint._error(error):  # False: too many unread errors
                self._ready[id(endpoint)] = endpoint
            return True
        if proto == (PROTO_ICMPV6 if v6 else PROTO_ICMP) and first_fragment:
            # the quote's first 8 data bytes are our echo request's header
            hl = header_len
            request = icmpv6.ECHO_REQUEST if v6 else ECHO_REQUEST
            if len(quote) >= hl + 8 and quote[hl] == request:
                ident = (quote[hl + 4] << 8) | quote[hl + 5]
                sequence = (quote[hl + 6] << 8) | quote[hl + 7]
                ping = self._pings.pop((qdst, ident, sequence), None)
                if ping is not None:
                    ping.done = True
                    ping.error = error
                    self._ready[id(ping)] = ping
                    return True
        return False

    # ------------------------------------------------------------------ IPv6 input
    def _receive6(self, packet: bytes | bytearray | memoryview, ifindex: int, now: float) -> None:
        """One received IPv6 packet (RFC 8200; Linux ipv6_rcv -> ip6_input_finish)."""
        c = self._c
        c["Ip6InReceives"] += 1
        mv = packet if type(packet) is memoryview else memoryview(packet)
        n = len(mv)
        if n >= 40:
            # The usual packet, handled without the header record: TCP right
            # after the fixed header, complete, to one of our addresses, from a
            # unicast source (first byte not 0: not below 2**32 nor IPv4-mapped;
            # not 0xFF: not multicast); the same checks as below, in short
            vtf, plen, nh, _hops, s_hi, s_lo, d_hi, d_lo = IPV6_HEADER.unpack_from(mv)
            if nh == PROTO_TCP and vtf >> 28 == 6 and 40 + plen <= n and 0 < s_hi >> 56 < 0xFF:
                dst = (d_hi << 64) | d_lo
                local = self._routes.local_addresses
                if dst in local:
                    src = (s_hi << 64) | s_lo
                    if src not in local or ifindex == LOOPBACK_IFINDEX:
                        c["Ip6InDelivers"] += 1
                        self._tcp_input(src, dst, mv[40 : 40 + plen], ifindex, now, True)
                        return
        try:
            h, payload = parse_ipv6(mv)
        except ParameterProblemError as exc:
            # RFC 8200 4: an extension header we must not process; answered with
            # a Parameter Problem quoting the packet (RFC 4443 3.4) when asked
            self._counters.drop("Ip6InHdrErrors", DROP_IP6_BAD_HEADER)
            header = exc.header
            if (
                exc.send_icmp
                and isinstance(header, Ipv6Header)
                and header.dst in self._routes.local_addresses
            ):
                self._send_icmp6_error(icmpv6.PARAM_PROBLEM, exc.code, exc.pointer, mv,
                                       header.dst, ifindex, now)  # fmt: skip
            return
        except TruncatedError:
            self._counters.drop("Ip6InTruncatedPkts", DROP_IP6_TRUNCATED)
            return
        except WireError:
            self._counters.drop("Ip6InHdrErrors", DROP_IP6_BAD_HEADER)
            return
        src, dst, proto = h.src, h.dst, h.protocol
        routes = self._routes
        local = routes.local_addresses
        multicast = dst >> 120 == 0xFF
        if dst in local:
            pass
        elif multicast:
            # RFC 4291 2.7: the kernel's all-routers / solicited-node / MLD groups;
            # only ICMPv6 (neighbour discovery, MLD) is taken, to be counted
            c["Ip6InMcastPkts"] += 1
            if proto != PROTO_ICMPV6:
                self._counters.drop("Ip6InAddrErrors", DROP_IP6_NOT_FOR_US)
                return
        elif not (
            (
                (proto == PROTO_TCP and self._transparent)
                or (proto == PROTO_UDP and self._udp_transparent is not None)
                or (proto == PROTO_ICMPV6 and self._answer_any_ping)
            )
            and valid_v6(dst)
        ):
            self._counters.drop("Ip6InAddrErrors", DROP_IP6_NOT_FOR_US)
            return
        if (not valid_v6(src) and not (multicast and proto == PROTO_ICMPV6)) or (
            src in local and ifindex != LOOPBACK_IFINDEX
        ):
            # RFC 4291 2.5.2, 2.7: never from ::, a multicast or loopback address
            # (:: is the source of the kernel's DAD solicitations: counted below)
            self._counters.drop("Ip6InAddrErrors", DROP_IP6_MARTIAN_SOURCE)
            return
        head: memoryview | bytes = mv
        if h.is_fragment:  # RFC 8200 4.5 (an atomic fragment was walked through)
            c["Ip6ReasmReqds"] += 1
            result = self._reasm6.add(h, mv, now)
            self._sync_reasm_timer(6)
            if type(result) is not Reassembled:
                self._reasm_not_done(result, "Ip6")
                return
            c["Ip6ReasmOKs"] += 1
            head = result.packet
            try:
                h, payload = parse_ipv6(head)
            except WireError:
                self._counters.drop("Ip6InHdrErrors", DROP_IP6_BAD_HEADER)
                return
            proto = h.protocol
        if proto == PROTO_TCP:
            c["Ip6InDelivers"] += 1
            self._tcp_input(src, dst, payload, ifindex, now, True)
        elif proto == PROTO_UDP:
            c["Ip6InDelivers"] += 1
            self._udp_input(src, dst, payload, head, False, ifindex, now, True)
        elif proto == PROTO_ICMPV6:
            c["Ip6InDelivers"] += 1
            self._icmp6_input(h, payload, ifindex, now)
        elif proto == PROTO_NONE:
            c["Ip6InDelivers"] += 1  # RFC 8200 4.7: nothing follows; ignored
        else:
            # RFC 8200 4: an unrecognized Next Header -> Parameter Problem code 1
            # pointing at it (Linux ip6_input_finish -> icmpv6_param_prob)
            self._counters.drop("Ip6InUnknownProtos", DROP_IP6_UNKNOWN_NEXT_HEADER)
            if not multicast:
                self._send_icmp6_error(icmpv6.PARAM_PROBLEM, icmpv6.UNRECOGNIZED_NEXT_HEADER,
                                       h.nh_offset, head, dst, ifindex, now)  # fmt: skip

    def _reasm_not_done(self, result: object, ip: str) -> None:
        """Count a fragment that completed nothing (``ip``: the MIB prefix, Ip or Ip6)."""
        if result == PENDING:
            pass
        elif result == DUPLICATE:
            self._counters.drop(None, DROP_REASM_DUPLICATE)
        elif result == OVERLAP:  # RFC 5722 3 (and RFC 8200 4.5): the whole datagram goes
            self._counters.drop(ip + "ReasmFails", DROP_REASM_OVERLAP)
        elif result == BAD:
            self._counters.drop(ip + "InHdrErrors", DROP_IP_BAD_FRAGMENT)
        elif result == TOO_MANY:
            self._counters.drop(ip + "ReasmFails", DROP_REASM_TOO_MANY)
        elif isinstance(result, list):
            self._c[ip + "ReasmFails"] += len(result)
            self._c[DROP_REASM_MEMORY] += len(result)

    def _icmp6_input(self, h: Ipv6Header, payload: memoryview, ifindex: int, now: float) -> None:
        """RFC 4443 (Linux icmpv6_rcv)."""
        c = self._c
        src, dst = h.src, h.dst
        if (
            dst not in self._routes.local_addresses
            and dst >> 120 != 0xFF
            and payload[:1] != _ECHO_REQUEST6_TYPE
        ):
            # answer_any_ping lets echo requests to any address in, nothing else
            self._counters.drop("Ip6InAddrErrors", DROP_IP6_NOT_FOR_US)
            return
        c["Icmp6InMsgs"] += 1
        try:
            msg = icmpv6.parse_icmpv6(payload, src, dst)
        except ChecksumError:
            c["Icmp6InCsumErrors"] += 1
            self._counters.drop("Icmp6InErrors", DROP_ICMP6_BAD_CHECKSUM)
            return
        except WireError:
            self._counters.drop("Icmp6InErrors", DROP_ICMP6_MALFORMED)
            return
        itype = msg.type
        name = _ICMP6_IN_NAMES.get(itype)
        if name is not None:
            c[name] += 1
        if itype == icmpv6.ECHO_REQUEST:
            # RFC 4443 4.2: same identifier, sequence and data; a unicast request only
            if dst >> 120 == 0xFF or not valid_v6(src):
                return
            reply = icmpv6.build_echo(dst, src, icmpv6.ECHO_REPLY, msg.ident, msg.sequence,
                                      msg.payload)  # fmt: skip
            path = self._reply_path(ifindex, src)
            if path is None:
                return
            self._ip6_output(dst, src, PROTO_ICMPV6, reply, path[0], path[1], now)
            c["Icmp6OutEchoReplies"] += 1
            c["Icmp6OutMsgs"] += 1
        elif itype == icmpv6.ECHO_REPLY:
            self._echo_reply(src, msg.ident, msg.sequence, msg.payload, h.hop_limit, now)
        elif itype in icmpv6.ERROR_TYPES:
            self._icmp6_error_input(msg, now)
        elif itype in icmpv6.ND_TYPES or itype in icmpv6.MLD_TYPES:
            # RFC 4861 / RFC 3810: a layer-3 link (TUN) needs no neighbour
            # discovery; the kernel's solicitations and reports are counted by
            # type above and answered with nothing, not counted as errors
            pass
        else:
            # RFC 4443 2.4 (a)/(b): unknown informational messages are discarded
            self._counters.drop(None, DROP_ICMP6_UNHANDLED_TYPE)

    def _icmp6_error_input(self, msg: icmpv6.Icmpv6Message, now: float) -> None:
        """Match an ICMPv6 error to its socket through the quoted packet (RFC 4443
        2.4 (b); Linux icmpv6_notify -> tcp_v6_err / __udp6_lib_err)."""
        quoted = msg.quoted
        if quoted is None:  # parse_icmpv6 always quotes an error
            self._counters.drop(None, DROP_ICMP6_MALFORMED)
            return
        itype, code = msg.type, msg.code
        header = quoted.header
        qsrc, qdst = header.src, header.dst
        mtu = 0
        if itype == icmpv6.PACKET_TOO_BIG:
            # RFC 8201 4: never below the IPv6 minimum MTU
            mtu = max(msg.mtu, IPV6_MIN_MTU)
            if qsrc in self._routes.local_addresses and valid_v6(qdst):
                self._pmtu_update(qdst, mtu, now)
        error = error_for6(itype, code)
        if error is None:
            self._counters.drop(None, DROP_ICMP6_UNHANDLED_TYPE)
            return
        if self._icmp_error_to_socket(
            header.protocol, qsrc, qdst, quoted.src_port, quoted.dst_port, quoted.tcp_seq,
            msg.payload, header.header_len, not header.frag_offset, error, mtu, now,
        ):  # fmt: skip
            return
        if mtu:
            return  # recorded as the path MTU: not an error for anyone
        self._counters.drop(None, DROP_ICMP6_NO_MATCH)

    # ------------------------------------------------------------------ IPv6 output
    def _flow_label(self, key: ConnKey) -> int:
        """RFC 6437 3: a flow label from a keyed hash of the 4-tuple (never 0), so a
        request record, its connection and its TIME-WAIT entry use the same one."""
        la, lp, ra, rp = key
        if ra <= _MASK:
            return 0
        data = b"".join((la.to_bytes(16, "big"), ra.to_bytes(16, "big"),
                         ((lp << 16) | rp).to_bytes(4, "big")))  # fmt: skip
        return (siphash24(self._key6, data) & 0xFFFFF) or 1

    def _isn_for(self, la: int, lp: int, ra: int, rp: int, now: float) -> int:
        """RFC 6528 3 over either family's 4-tuple (IPv6: the 128-bit addresses)."""
        if ra <= _MASK:
            return self._isn.isn(la, lp, ra, rp, now)
        data = b"".join((la.to_bytes(16, "big"), lp.to_bytes(2, "big"),
                         ra.to_bytes(16, "big"), rp.to_bytes(2, "big"), b"isn"))  # fmt: skip
        return (int(now * 250_000) + siphash24(self._key6, data)) & _MASK

    def _ts_offset(self, la: int, ra: int) -> int:
        """RFC 7323 7.1: a random timestamp offset per address pair, either family."""
        if ra <= _MASK:
            return self._isn.ts_offset(la, ra)
        data = b"".join((la.to_bytes(16, "big"), ra.to_bytes(16, "big"), b"ts"))
        return siphash24(self._key6, data) & _MASK

    def _pmtu_update(self, dest: int, mtu: int, now: float) -> None:
        """A Packet Too Big lowered the path MTU to ``dest`` (RFC 8201 4)."""
        known = self._pmtu6.get(dest)
        if known is not None and known[0] <= mtu and known[1] > now:
            return
        pmtu = self._pmtu6
        if dest not in pmtu and len(pmtu) >= MAX_PMTU6:
            del pmtu[next(iter(pmtu))]
        pmtu[dest] = (mtu, now + PMTU6_TIMEOUT)

    def _path_mtu(self, dest: int, mtu: int, now: float) -> int:
        """The link MTU, or the lower path MTU a Packet Too Big reported (aged out
        after ``PMTU6_TIMEOUT``, RFC 8201 4)."""
        known = self._pmtu6.get(dest)
        if known is None:
            return mtu
        if known[1] <= now:
            del self._pmtu6[dest]
            return mtu
        return min(mtu, known[0])

    def _ip6_output(
        self, src: int, dst: int, proto: int, payload: bytes, ifindex: int, mtu: int, now: float
    ) -> None:
        """Send a UDP/ICMPv6 datagram, fragmented at the source when larger than the
        path MTU (RFC 8200 4.5, 5)."""
        self._frag_id6 = ident = (self._frag_id6 + 1) & _MASK
        packets = fragment6(src, dst, proto, payload, ident=ident, hop_limit=self.config.ttl,
                            mtu=self._path_mtu(dst, mtu, now))  # fmt: skip
        self._queue_datagram(packets, ifindex, "Ip6")

    def _send_icmp6_error(
        self,
        itype: int,
        code: int,
        pointer: int,
        original: memoryview | bytes,
        orig_dst: int,
        ifindex: int | None,
        now: float,
        *,
        spoof: bool = False,
    ) -> None:
        """An ICMPv6 error about ``original`` from ``orig_dst`` (RFC 4443 2.4: (e) by
        ``icmpv6.may_send_error``, (f) the shared rate limit)."""
        c = self._c
        if not spoof and orig_dst not in self._routes.local_addresses:
            return
        if spoof and not valid_v6(orig_dst):
            return
        if not icmpv6.may_send_error(original, itype, code):
            return
        if not self._icmp_bucket.allow(now):
            c["Icmp6OutRateLimited"] += 1
            return
        orig_src = int.from_bytes(original[8:24], "big")
        if not valid_v6(orig_src):
            return
        if itype == icmpv6.DEST_UNREACH:
            message = icmpv6.build_dest_unreachable(orig_dst, orig_src, code, original)
            c["Icmp6OutDestUnreachs"] += 1
        elif itype == icmpv6.PARAM_PROBLEM:
            message = icmpv6.build_param_problem(orig_dst, orig_src, code, pointer, original)
            c["Icmp6OutParmProblems"] += 1
        else:
            message = icmpv6.build_time_exceeded(orig_dst, orig_src, code, original)
            c["Icmp6OutTimeExcds"] += 1
        path = self._reply_path(ifindex if ifindex is not None else -1, orig_src)
        if path is None:
            c["Ip6OutNoRoutes"] += 1
            return
        c["Icmp6OutMsgs"] += 1
        self._ip6_output(orig_dst, orig_src, PROTO_ICMPV6, message, path[0], path[1], now)

    # ------------------------------------------------------------------ output helpers
    def _next_ip_id(self) -> int:
        self._ip_id = ident = (self._ip_id + 1) & 0xFFFF
        return ident

    def _ip_output(
        self, src: int, dst: int, proto: int, payload: bytes, ifindex: int, mtu: int
    ) -> None:
        """Send a UDP/ICMP datagram, fragmenting it when larger than the MTU (RFC 791 3.2)."""
        packets = fragment(src, dst, proto, payload, ident=self._next_ip_id(),
                           ttl=self.config.ttl, mtu=mtu)  # fmt: skip
        self._queue_datagram(packets, ifindex, "Ip")

    def _queue_datagram(self, packets: list[bytes], ifindex: int, ip: str) -> None:
        """Queue one datagram's packets; count it (``ip``: the MIB prefix, Ip or Ip6)."""
        c = self._c
        c[ip + "OutRequests"] += 1
        if len(packets) > 1:
            c[ip + "FragOKs"] += 1
            c[ip + "FragCreates"] += len(packets)
        out = self._out
        for packet in packets:
            out.append((ifindex, packet))

    def _send_icmp_error(
        self,
        itype: int,
        code: int,
        original: memoryview | bytes,
        orig_src: int,
        orig_dst: int,
        ifindex: int | None,
        now: float,
        next_hop_mtu: int = 0,
        *,
        spoof: bool = False,
    ) -> None:
        """An ICMP error about ``original`` (RFC 1122 3.2.2 rules, RFC 1812 4.3.2.8 rate limit).

        ``spoof``: sent from ``orig_dst`` even if it is not ours (a transparent
        UDP endpoint refusing a flow speaks for the original destination)."""
        c = self._c
        routes = self._routes
        # Never about a broadcast/multicast destination or a martian source,
        # never from a non-local address (transparent TCP is RST-only).
        if (orig_dst not in routes.local_addresses and not spoof) or is_martian_source(orig_src):
            return
        if spoof and (is_martian_source(orig_dst) or orig_dst in routes.broadcasts):
            return
        # Never about an ICMP error; never about a fragment other than the first.
        frag_word = (original[6] << 8) | original[7]
        if frag_word & OFFSET_MASK:
            return
        if original[9] == PROTO_ICMP:
            ihl = (original[0] & 0x0F) << 2
            if len(original) <= ihl or original[ihl] in ERROR_TYPES:
                return
        if not self._icmp_bucket.allow(now):
            c["IcmpOutRateLimited"] += 1
            return
        if itype == DEST_UNREACH:
            message = build_dest_unreachable(code, original, next_hop_mtu)
            c["IcmpOutDestUnreachs"] += 1
        else:
            message = build_time_exceeded(code, original)
            c["IcmpOutTimeExcds"] += 1
        iface = routes.interfaces.get(ifindex) if ifindex is not None else None
        if iface is None:
            try:
                route = routes.lookup(orig_src)
            except OSError:
                c["IpOutNoRoutes"] += 1
                return
            out_if, mtu = route.ifindex, route.mtu
        else:
            out_if, mtu = iface.ifindex, iface.mtu
        c["IcmpOutMsgs"] += 1
        self._ip_output(orig_dst, orig_src, PROTO_ICMP, message, out_if, mtu)

    # ------------------------------------------------------------------ connections
    def _remove(self, entry: _ConnEntry, now: float) -> None:
        """Take a CLOSED connection out of demux (frees its 4-tuple/port)."""
        if not entry.alive:
            return
        entry.alive = False
        conn = entry.conn
        if self._tcp.get(entry.key) is entry:
            del self._tcp[entry.key]
        listener = entry.listener
        if listener is not None and entry.queued:
            # A child that died (reset, timeout) before accept() leaves the accept
            # queue too: it must not hold a backlog slot nor be handed out dead
            # (BSD soabort of an incomplete/unaccepted socket).
            try:
                listener.accept_queue.remove(conn)
            except ValueError:
                pass
        transitions = conn.transitions
        previous = transitions[-1][1] if transitions else None
        if conn.state is _CLOSED:
            if previous in _OPENING:
                self._c["TcpAttemptFails"] += 1  # RFC 4022 tcpAttemptFails
            elif previous in _ESTAB_LIKE:
                self._c["TcpEstabResets"] += 1  # RFC 4022 tcpEstabResets
        self._retrans_of_closed += _retrans_of(conn)
        # The application already heard ConnectionClosed when TIME-WAIT began.
        if listener is None and previous is not _TIME_WAIT:
            self._ready[id(conn)] = conn
        # Stale heap items may still reference this entry: let them not keep
        # the connection alive (every reader of entry.conn checks alive first).
        entry.pushed = INF
        del entry.conn

    def _settle(self) -> None:
        """Pull output, re-sync timers and queues of every touched connection."""
        touched = self._touched
        if not touched:
            return
        self._touched = {}
        now = self._now
        out = self._out
        ready = self._ready
        heap = self._heap
        c = self._c
        for entry in touched:
            if not entry.alive:
                continue
            conn = entry.conn
            packets = conn.packets_to_send(now)
            if packets:
                ifindex = entry.ifindex
                rsts = 0
                # the TCP flags: 20-byte IPv4 header + 13 (IPv6: 40 + 13)
                flags_at = 33 if conn.family == 4 else 53
                for packet in packets:
                    out.append((ifindex, packet))
                    if packet[flags_at] & RST:
                        rsts += 1
                n = len(packets)
                c["TcpOutSegs"] += n
                c["IpOutRequests" if conn.family == 4 else "Ip6OutRequests"] += n
                if rsts:
                    c["TcpOutRsts"] += rsts
            state = conn.state
            listener = entry.listener
            if state is _CLOSED:
                self._remove(entry, now)
                continue
            if listener is not None:
                if state is not _SYN_RECEIVED and not entry.queued:
                    entry.queued = True
                    listener.accept_queue.append(conn)
                    ready[id(listener)] = listener
            elif conn.has_events:
                # news only: a connection touched for its output (an application
                # write, a timer) with no event is not listed
                ready[id(conn)] = conn
            if state is _TIME_WAIT:
                self._to_time_wait(entry, conn, now)
                continue
            deadline = conn.get_timer()
            if deadline is not None and deadline < entry.pushed:
                entry.pushed = deadline
                heapq.heappush(heap, (deadline, next(self._heap_seq), entry))
        if len(heap) > 2 * (len(self._tcp) + len(self._reqs) + len(self._tw)) + 64:
            self._compact_heap()

    def _compact_heap(self) -> None:
        """Drop stale items (lazy deletion leftovers); in place, then re-heapify."""
        heap = self._heap
        heap[:] = [item for item in heap if item[2].alive and item[0] == item[2].pushed]
        heapq.heapify(heap)

    def notify(self, obj: object, now: float) -> None:
        """Tell the engine the application called a method of ``obj`` (a TcpConnection)
        at ``now``: the next ``take_ready``/``packets_to_send`` pulls its output and
        ``get_timer`` sees its deadline. ``now`` is required: output the application
        starts after a quiet period must not be built with the last input's time
        (RFC 7323 4.1 TSval, RFC 6298 5.1 the RTO runs from the send)."""
        self._now = now
        if isinstance(obj, TcpConnection):
            entry = self._tcp.get(
                (obj.local_addr, obj.local_port, obj.remote_addr, obj.remote_port)
            )
            if entry is not None and entry.conn is obj:
                self._touched[entry] = None

    # ------------------------------------------------------------------ output / timers
    def packets_to_send(self, now: float) -> list[tuple[int, bytes]]:
        """Everything to transmit now, as (ifindex, packet); call once per wakeup."""
        self._now = now
        self._settle()
        if self._loopback_used and self._out:
            self._deliver_loopback(now)
        out = self._out
        if not out:
            return []
        self._out = []
        return out

    def _deliver_loopback(self, now: float) -> None:
        """Packets to one of our own addresses never leave: feed them back in.

        Like Linux's ``lo`` (RFC 1122 3.2.1.3 (g): traffic to a local address is
        looped back internally). Rounds are bounded; what is left stays queued
        and ``get_timer()`` returns ``now`` so the driver comes back for it.
        """
        local = self._routes.local_addresses
        for _ in range(LOOPBACK_ROUNDS):
            looped = [item for item in self._out if _packet_dst(item[1]) in local]
            if not looped:
                return
            self._out = [item for item in self._out if _packet_dst(item[1]) not in local]
            for _ifindex, packet in looped:
                self.receive(packet, LOOPBACK_IFINDEX, now)
            self._settle()

    def get_timer(self) -> float | None:
        """The earliest deadline (may be early: handle_timer then re-arms), or None."""
        self._settle()
        if self._out and self._loopback_used:
            return self._now  # looped-back packets still queued (see _deliver_loopback)
        heap = self._heap
        while heap:
            deadline, _, obj = heap[0]
            if obj.alive and deadline == obj.pushed:
                return deadline
            heapq.heappop(heap)  # stale (lazy deletion)
        return None

    def handle_timer(self, now: float) -> None:
        """Run every timer due at ``now`` (safe to call early or late)."""
        self._now = now
        self._settle()
        heap = self._heap
        touched = self._touched
        while heap and heap[0][0] <= now:
            deadline, _, obj = heapq.heappop(heap)
            if deadline != obj.pushed:
                continue
            obj.pushed = INF
            if type(obj) is _ReasmSlot:
                self._expire_reassembly(now, obj.family)
                continue
            if type(obj) is RequestSock or type(obj) is TimeWait:
                self._handle_edge_timer(obj, now)
                continue
            assert isinstance(obj, _ConnEntry)
            if not obj.alive:
                continue
            conn = obj.conn
            real = conn.get_timer()
            if real is not None and real > now:  # moved later: re-push, no work now
                obj.pushed = real
                heapq.heappush(heap, (real, next(self._heap_seq), obj))
                continue
            conn.handle_timer(now)
            touched[obj] = None
        self._settle()

    def _handle_edge_timer(self, obj: RequestSock | TimeWait, now: float) -> None:
        """A request record's SYN-ACK retransmission or a TIME-WAIT expiry."""
        if not obj.alive:
            return
        if obj.deadline > now:  # moved later: re-push
            self._push(obj, obj.deadline)
            return
        if type(obj) is TimeWait:
            self._tw_remove(obj)  # RFC 9293 3.10.7.4: 2 MSL elapsed
            return
        assert isinstance(obj, RequestSock)
        cfg = self.config
        if obj.retrans >= cfg.synack_retries:  # Linux reqsk_timer_handler
            self._req_remove(obj)
            self._c["TcpAttemptFails"] += 1
            return
        obj.retrans += 1
        self._retrans_of_closed += 1  # TcpRetransSegs
        self._send_synack(obj, now)
        obj.deadline = now + synack_timeout(cfg, obj.retrans)
        self._push(obj, obj.deadline)

    def _sync_reasm_timer(self, family: int = 4) -> None:
        if family == 6:
            deadline, slot = self._reasm6.get_timer(), self._reasm6_slot
        else:
            deadline, slot = self._reasm.get_timer(), self._reasm_slot
        if deadline is not None and deadline < slot.pushed:
            slot.pushed = deadline
            heapq.heappush(self._heap, (deadline, next(self._heap_seq), slot))

    def _expire_reassembly(self, now: float, family: int = 4) -> None:
        c = self._c
        v6 = family == 6
        ip = "Ip6" if v6 else "Ip"
        for first in (self._reasm6 if v6 else self._reasm).expire(now):
            c[ip + "ReasmFails"] += 1
            c[ip + "ReasmTimeout"] += 1
            c[DROP_REASM_TIMEOUT] += 1
            if first is not None and v6:
                # RFC 8200 4.5: Time Exceeded code 1, only when fragment 0 arrived
                dst = int.from_bytes(first[24:40], "big")
                self._send_icmp6_error(icmpv6.TIME_EXCEEDED, icmpv6.FRAG_REASSEMBLY_EXCEEDED, 0,
                                       first, dst, None, now)  # fmt: skip
            elif first is not None:
                # RFC 792 / RFC 1122 3.3.2: time exceeded (reassembly), only with fragment 0.
                src = int.from_bytes(first[12:16], "big")
                dst = int.from_bytes(first[16:20], "big")
                self._send_icmp_error(
                    TIME_EXCEEDED, FRAG_REASSEMBLY_EXCEEDED, first, src, dst, None, now
                )
        self._sync_reasm_timer(family)

    def take_ready(self, now: float) -> list[object]:
        """Objects with news since the last call: TcpConnection, TcpListener,
        UdpEndpoint, PingRequest (each at most once, in first-news order). A
        connection is listed when it has events to pull (``has_events``), not
        merely because it was touched (an application write, a timer).

        Settling pulls the output of touched connections, so it is built at
        ``now`` (the driver's current time), not at the last input's."""
        self._now = now
        self._settle()
        if not self._ready:
            return []
        ready = list(self._ready.values())
        self._ready = {}
        return ready

    # ------------------------------------------------------------------ TCP API
    def tcp_connect(
        self,
        remote_addr: int,
        remote_port: int,
        *,
        local_addr: int | None = None,
        local_port: int | None = None,
        now: float,
        family: int = 4,
    ) -> TcpConnection:
        """Active open (Linux tcp_v4_connect / tcp_v6_connect): route, source address,
        port, ISS, SYN. ``family`` 6: the addresses are IPv6."""
        _check_addr(remote_addr, "remote_addr", family)
        _check_port(remote_port, "remote_port", allow_zero=False)
        self._now = now
        routes = self._routes
        if remote_addr == 0 or (
            family == 4 and (remote_addr >> 28 == 0xE or remote_addr in routes.broadcasts)
        ):
            raise OSError(errno.ENETUNREACH, "Network is unreachable: not a unicast address")
        route = self._lookup(remote_addr)
        if local_addr is None or local_addr == 0:
            local_addr = route.source
        else:
            _check_addr(local_addr, "local_addr", family)
            if local_addr not in routes.local_addresses:
                raise OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address")
        tcp = self._tcp
        if local_port:
            _check_port(local_port, "local_port", allow_zero=True)
            by_addr = self._listeners.get(local_port)
            key = (local_addr, local_port, remote_addr, remote_port)
            if (
                key in tcp
                or key in self._tw
                or key in self._reqs
                or (
                    by_addr is not None
                    and (local_addr in by_addr or (ANY6 if family == 6 else 0) in by_addr)
                )
            ):
                raise OSError(errno.EADDRINUSE, "Address already in use")
        else:
            listeners = self._listeners
            tw = self._tw
            la, ra, rp = local_addr, remote_addr, remote_port

            def suitable(port: int) -> bool:
                k = (la, port, ra, rp)
                return k not in tcp and k not in tw and port not in listeners

            local_port = self._tcp_ports.allocate(la, ra, rp, suitable)
        key = (local_addr, local_port, remote_addr, remote_port)
        iss = self._isn_for(local_addr, local_port, remote_addr, remote_port, now)
        conn = TcpConnection.connect(
            self.config,
            local_addr=local_addr,
            local_port=local_port,
            remote_addr=remote_addr,
            remote_port=remote_port,
            iss=iss,
            mtu=self._path_mtu(remote_addr, route.mtu, now) if family == 6 else route.mtu,
            now=now,
            ts_offset=self._ts_offset(local_addr, remote_addr),
            family=family,
            flow_label=self._flow_label(key) if family == 6 else 0,
            memory=self.tcp_memory,
        )
        entry = _ConnEntry(conn, key, route.ifindex, None)
        tcp[key] = entry
        self._c["TcpActiveOpens"] += 1
        self._touched[entry] = None
        return conn

    def tcp_listen(
        self, addr: int, port: int, backlog: int, *, transparent: bool = False, family: int = 4
    ) -> TcpListener:
        """Passive open. ``addr`` 0 is every local address of ``family``; ``port`` 0
        picks one. One wildcard listener per family may share a port; ``family``
        0 with ``addr`` 0 is one listener for every address of both families
        (Linux's ``::`` socket without IPV6_V6ONLY; asyncio's
        ``create_server(host=None)``).

        ``transparent``: accept connections to *any* destination of both families
        (the tun2socks gateway case); addr/port are then ignored. EADDRINUSE if the
        address and port are taken, EADDRNOTAVAIL if ``addr`` is not ours.
        """
        if family == 0 and addr != 0:
            raise ValueError("family 0 (both) listens on the wildcard address only")
        _check_addr(addr, "addr", family or 4)
        _check_port(port, "port", allow_zero=True)
        if type(backlog) is not int:
            raise TypeError("backlog must be an int")
        backlog = max(1, min(backlog, SOMAXCONN))
        if transparent:
            if self._transparent:
                # one gateway listener takes every destination: a second one
                # would never see a connection
                raise OSError(errno.EADDRINUSE, "a transparent listener already exists")
            listener = TcpListener(self, addr, port, backlog, transparent=True)
            listener.syn_backlog = min(backlog, self.config.max_syn_backlog)
            self._transparent.append(listener)
            return listener
        if addr != 0 and addr not in self._routes.local_addresses:
            raise OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address")
        listeners = self._listeners
        if port == 0:
            port = self._tcp_ports.allocate(addr, 0, 0, lambda p: p not in listeners)
        keys = (0, ANY6) if family == 0 else (_bind_key(addr, family),)
        if any(_bind_conflict(listeners.get(port), key) for key in keys):
            raise OSError(errno.EADDRINUSE, "Address already in use")
        listener = TcpListener(self, addr, port, backlog, transparent=False, family=family)
        listener.syn_backlog = min(backlog, self.config.max_syn_backlog)
        by_addr = listeners.setdefault(port, {})
        for key in keys:
            by_addr[key] = listener
        return listener

    def _listener_close(self, listener: TcpListener, now: float | None) -> None:
        if now is not None:
            self._now = now
        now = self._now
        if listener.transparent:
            if listener in self._transparent:
                self._transparent.remove(listener)
        else:
            by_addr = self._listeners.get(listener.port)
            family = listener.family
            keys = (0, ANY6) if family == 0 else (_bind_key(listener.addr, family),)
            for key in keys:
                if by_addr is not None and by_addr.get(key) is listener:
                    del by_addr[key]
            if by_addr is not None and not by_addr:
                del self._listeners[listener.port]
        # Linux inet_csk_listen_stop: reset every child never accepted, the
        # half-open ones too (as the connection's abort in SYN-RECEIVED did).
        c = self._c
        for req in list(listener.syn_queue.values()):
            self._req_remove(req)
            la, lp, ra, rp = req.key
            opts = b""
            if req.ts_recent is not None:
                tsval = (int(now * 1000.0) + req.ts_offset) & _MASK
                opts = TS_OPT.pack(TS_WORD, tsval, req.ts_recent)
            rst = tcp_builder(ra, req.flow_label)(la, ra, self._next_ip_id(), self.config.ttl, lp, rp,
                                 (req.iss + 1) & _MASK, (req.irs + 1) & _MASK, RST | ACK, 0,
                                 opts, b"")  # fmt: skip
            self._out.append((req.ifindex, rst))
            c["TcpOutSegs"] += 1
            c["TcpOutRsts"] += 1
            c[_out_requests(ra)] += 1
            c["TcpAttemptFails"] += 1
        children = list(listener.accept_queue)
        listener.accept_queue.clear()
        for conn in children:
            entry = self._tcp.get(
                (conn.local_addr, conn.local_port, conn.remote_addr, conn.remote_port)
            )
            if entry is None or entry.conn is not conn:
                continue
            if conn.state is not _CLOSED:
                conn.abort(now)
            self._touched[entry] = None

    def _listener_accepted(self, listener: TcpListener, conn: TcpConnection) -> None:
        key = (conn.local_addr, conn.local_port, conn.remote_addr, conn.remote_port)
        entry = self._tcp.get(key)
        if entry is not None and entry.conn is conn:
            entry.listener = None
        self._ready[id(conn)] = conn  # its events (Connected...) are now the app's

    # ------------------------------------------------------------------ UDP API
    def udp_open(
        self,
        local_addr: int | None = None,
        local_port: int | None = None,
        remote: tuple[int, int] | None = None,
        allow_broadcast: bool = False,
        *,
        family: int = 4,
    ) -> UdpEndpoint:
        """Bind a UDP endpoint (port None/0: ephemeral), optionally connected to ``remote``.
        ``family`` 6: an IPv6 endpoint (its addresses are 128-bit ints)."""
        laddr = 0 if local_addr is None else _check_addr(local_addr, "local_addr", family)
        routes = self._routes
        if laddr != 0 and laddr not in routes.local_addresses and laddr not in routes.broadcasts:
            raise OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address")
        udp = self._udp
        key = _bind_key(laddr, family)
        if local_port:
            _check_port(local_port, "local_port", allow_zero=True)
            if _bind_conflict(udp.get(local_port), key):
                raise OSError(errno.EADDRINUSE, "Address already in use")
            port = local_port
        else:
            ra, rp = (remote[0], remote[1]) if remote is not None else (0, 0)
            port = self._udp_ports.allocate(laddr, ra, rp, lambda p: p not in udp)
        endpoint = UdpEndpoint(
            self, laddr, port, allow_broadcast=bool(allow_broadcast),
            recv_buffer=self.config.recv_buffer, family=family,
        )  # fmt: skip
        udp.setdefault(port, {})[key] = endpoint
        if remote is not None:
            try:
                self._udp_connect(endpoint, remote)
            except BaseException:
                self._udp_close(endpoint)
                endpoint.closed = True
                raise
        return endpoint

    def udp_open_transparent(self, datagram_filter: FlowFilter | None = None) -> UdpEndpoint:
        """The catch-all UDP endpoint (see ``core/udp.py``): every datagram no
        regular endpoint matches, whatever its destination; EADDRINUSE if one
        is open. ``datagram_filter`` is asked about each such datagram first."""
        if self._udp_transparent is not None:
            raise OSError(errno.EADDRINUSE, "a transparent UDP endpoint already exists")
        endpoint = UdpEndpoint(
            self, 0, 0, allow_broadcast=False, recv_buffer=self.config.recv_buffer,
            transparent=True, datagram_filter=datagram_filter,
        )  # fmt: skip
        self._udp_transparent = endpoint
        return endpoint

    def _lookup(self, dest: int) -> RouteResult:
        """Route lookup for locally originated traffic (counts IpOutNoRoutes)."""
        if dest in self._routes.local_addresses:
            self._loopback_used = True
        try:
            return self._routes.lookup(dest)
        except OSError:
            self._c["IpOutNoRoutes"] += 1
            raise

    def _udp_check_remote(self, remote: object, family: int = 4) -> tuple[int, int]:
        if not isinstance(remote, tuple) or len(remote) != 2:
            raise TypeError("a UDP address is an (address, port) tuple of ints")
        addr = _check_addr(remote[0], "address", family)
        port = _check_port(remote[1], "port", allow_zero=False)
        return addr, port

    def _udp_connect(self, endpoint: UdpEndpoint, remote: tuple[int, int]) -> None:
        """Linux ip4_datagram_connect."""
        if endpoint.closed:
            raise OSError(errno.EBADF, "endpoint is closed")
        raddr, rport = self._udp_check_remote(remote, endpoint.family)
        route = self._lookup(raddr)
        if route.broadcast and not endpoint.allow_broadcast:
            raise PermissionError(
                errno.EACCES, "Permission denied: broadcast without allow_broadcast"
            )
        if endpoint.local_addr == 0:
            source = route.source
            by_addr = self._udp[endpoint.local_port]
            wild = _bind_key(0, endpoint.family)
            if by_addr.get(wild) is endpoint:
                del by_addr[wild]
            by_addr[source] = endpoint
            endpoint.local_addr = source
        endpoint.remote = (raddr, rport)
        endpoint.ifindex = route.ifindex

    def _udp_close(self, endpoint: UdpEndpoint) -> None:
        if endpoint.transparent:
            if self._udp_transparent is endpoint:
                self._udp_transparent = None
            return
        by_addr = self._udp.get(endpoint.local_port)
        key = _bind_key(endpoint.local_addr, endpoint.family)
        if by_addr is not None and by_addr.get(key) is endpoint:
            del by_addr[key]
            if not by_addr:
                del self._udp[endpoint.local_port]

    def _udp_sendto(
        self,
        endpoint: UdpEndpoint,
        data: bytes | bytearray | memoryview,
        addr: tuple[int, int] | None,
        now: float,
        source: tuple[int, int] | None = None,
    ) -> None:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"data must be bytes-like, not {type(data).__name__}")
        if endpoint.closed:
            raise OSError(errno.EBADF, "endpoint is closed")
        self._now = now
        if addr is None:
            if endpoint.remote is None:
                raise OSError(errno.EDESTADDRREQ, "Destination address required")
            raddr, rport = endpoint.remote
        else:
            family = endpoint.family
            if endpoint.transparent and isinstance(addr, tuple) and addr and type(addr[0]) is int:
                family = 6 if addr[0] > _MASK else 4  # the gateway's endpoint speaks both
            raddr, rport = self._udp_check_remote(addr, family)
        v6 = raddr > _MASK
        if len(data) > (MAX_UDP6_PAYLOAD if v6 else MAX_UDP_PAYLOAD):
            raise OSError(errno.EMSGSIZE, "Message too long")
        route = self._lookup(raddr)
        if route.broadcast and not endpoint.allow_broadcast:
            raise PermissionError(
                errno.EACCES, "Permission denied: broadcast without allow_broadcast"
            )
        src, sport = endpoint.local_addr, endpoint.local_port
        if source is not None:
            if not endpoint.transparent:
                raise ValueError("source= needs a transparent endpoint")
            src, sport = self._udp_check_remote(source, 6 if raddr > _MASK else 4)
        elif endpoint.transparent:
            raise ValueError("a transparent endpoint sends with source=(address, port)")
        if src == 0 or src in self._routes.broadcasts:
            src = route.source
        if raddr > _MASK:
            self._ip6_output(src, raddr, PROTO_UDP, build_udp6(src, raddr, sport, rport, data),
                             route.ifindex, route.mtu, now)  # fmt: skip
            self._c["Udp6OutDatagrams"] += 1
            return
        datagram = build_udp(src, raddr, sport, rport, data)
        self._ip_output(src, raddr, PROTO_UDP, datagram, route.ifindex, route.mtu)
        self._c["UdpOutDatagrams"] += 1

    # ------------------------------------------------------------------ ICMP API
    def ping(
        self,
        dest: int,
        ident: int,
        sequence: int,
        payload: bytes,
        now: float,
        *,
        family: int = 4,
    ) -> PingRequest:
        """Send an echo request (``family`` 6: ICMPv6, RFC 4443 4.1); the returned
        PingRequest comes back from take_ready() when its reply (or an ICMP error
        about it) arrives."""
        _check_addr(dest, "dest", family)
        if dest == 0:
            raise OSError(errno.ENETUNREACH, "Network is unreachable: not a unicast address")
        if type(ident) is not int or not 0 <= ident <= 0xFFFF:
            raise ValueError(f"ident out of range: {ident!r}")
        if type(sequence) is not int or not 0 <= sequence <= 0xFFFF:
            raise ValueError(f"sequence out of range: {sequence!r}")
        if not isinstance(payload, bytes | bytearray | memoryview):
            raise TypeError("payload must be bytes-like")
        if len(payload) > MAX_UDP_PAYLOAD:
            raise OSError(errno.EMSGSIZE, "Message too long")
        self._now = now
        route = self._lookup(dest)
        if route.broadcast:
            raise PermissionError(errno.EACCES, "Permission denied: broadcast ping")
        pings = self._pings
        key = (dest, ident, sequence)
        request = PingRequest(dest, route.source, ident, sequence, bytes(payload), now,
                              self._ping_cancel)  # fmt: skip
        if key not in pings and len(pings) >= MAX_PENDING_PINGS:
            del pings[next(iter(pings))]
        pings[key] = request
        if family == 6:
            message = icmpv6.build_echo(route.source, dest, icmpv6.ECHO_REQUEST, ident, sequence,
                                        payload)  # fmt: skip
            self._ip6_output(route.source, dest, PROTO_ICMPV6, message, route.ifindex, route.mtu,
                             now)  # fmt: skip
            self._c["Icmp6OutEchos"] += 1
            self._c["Icmp6OutMsgs"] += 1
            return request
        message = build_echo(ECHO_REQUEST, ident, sequence, payload)
        self._ip_output(route.source, dest, PROTO_ICMP, message, route.ifindex, route.mtu)
        c = self._c
        c["IcmpOutEchos"] += 1
        c["IcmpOutMsgs"] += 1
        return request

    def _ping_cancel(self, request: PingRequest) -> None:
        key = (request.dest, request.ident, request.sequence)
        if self._pings.get(key) is request:
            del self._pings[key]

    # ------------------------------------------------------------------ stats
    def stats(self) -> dict[str, int]:
        """Counters like ``netstat -s`` (IpInReceives, TcpCurrEstab, Drop* reasons...)."""
        snapshot = self._counters.snapshot()
        estab = 0
        retrans = self._retrans_of_closed
        for entry in self._tcp.values():
            conn = entry.conn
            if conn.state in _ESTAB_LIKE:
                estab += 1
            retrans += _retrans_of(conn)
        snapshot["TcpCurrEstab"] = estab
        snapshot["TcpRetransSegs"] = retrans
        snapshot.update(self.tcp_memory.counters())
        return snapshot

    def connections(self) -> list[TcpConnection]:
        """Every connection in the demux table (unaccepted children included; not the
        half-open request records nor the compact TIME-WAIT entries)."""
        return [entry.conn for entry in self._tcp.values()]

    def time_wait_keys(self) -> list[ConnKey]:
        """The 4-tuples (local addr, local port, remote addr, remote port) in TIME-WAIT."""
        return list(self._tw)

    def close(self, now: float) -> None:
        """Shut the host down: RST every connection, close listeners and UDP endpoints.

        The RSTs come out of the next ``packets_to_send``; the aborted
        connections (accepted ones) are returned by ``take_ready``.
        """
        self._now = now
        for listener in [
            *self._transparent,
            *(lst for by_addr in self._listeners.values() for lst in by_addr.values()),
        ]:
            listener.close(now)
        for entry in list(self._tcp.values()):
            conn = entry.conn
            if conn.state is not _CLOSED:
                conn.abort(now)
            self._touched[entry] = None
        for tw in list(self._tw.values()):
            self._tw_remove(tw)
        for by_addr in list(self._udp.values()):
            for endpoint in list(by_addr.values()):
                endpoint.close()
        if self._udp_transparent is not None:
            self._udp_transparent.close()
        self._pings.clear()
        self._settle()

    @property
    def connection_count(self) -> int:
        """Connections in the demux table, half-open records and TIME-WAIT entries included."""
        return len(self._tcp) + len(self._reqs) + len(self._tw)


def _retrans_of(conn: TcpConnection) -> int:
    value = getattr(conn, "total_retrans", None)
    if isinstance(value, int):
        return value
    return 0
