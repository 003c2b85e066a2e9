"""The socket-like object behind ``transport.get_extra_info("socket")``.

Theory of operation
-------------------
asyncio hands out a ``TransportSocket`` for each socket transport so that code
written for the kernel can ask a connection's addresses and set its options:
aiohttp and many stream users call ``sock.setsockopt(IPPROTO_TCP,
TCP_NODELAY, 1)`` on every new connection. ``StackSocket`` is that object for a
connection of a ``Stack``: no file descriptor (``fileno()`` is -1, as for a
closed socket), the options mapped onto the connection's own ``StackConfig``.

Each connection starts with the stack's ``StackConfig``; ``setsockopt`` gives
it a copy with the option changed (``TcpConnection.set_config``), so an
option set on one connection never touches another. The mapping, with the
Linux function each rule mirrors:

=============================  =============================================
``TCP_NODELAY``                ``nodelay`` (Nagle off); data held by Nagle
                               leaves at once (``tcp_push_pending_frames``)
``SO_KEEPALIVE``               ``keepalive``; the timer armed from now
``TCP_KEEPIDLE/INTVL/CNT``     ``keepalive_idle/interval/count``, in seconds
                               and probes, Linux's bounds (1..32767, 1..127)
``SO_SNDBUF`` / ``SO_RCVBUF``  the connection's buffer, autotuned until set
                               (then fixed: SOCK_*BUF_LOCK); doubled on set
                               and floored as Linux ``sk_setsockopt`` does,
                               so ``getsockopt`` returns what the kernel would
``TCP_CONGESTION``             the controller's name (``reno``); set by a
                               ``StackConfig.congestion_control`` name or the
                               controller's own name (``ENOENT`` otherwise)
``TCP_INFO``                   Linux ``struct tcp_info`` bytes (the fields the
                               engine keeps; others 0), ``TCP_MAXSEG`` the MSS
``SO_TYPE``, ``SO_ERROR``      ``SOCK_STREAM``; the pending error, cleared
=============================  =============================================

Any other option raises ``OSError(ENOPROTOOPT)``, as the kernel does for an
option it does not know.
"""

from __future__ import annotations

import errno
import socket
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from aionetstack.core.config import CONGESTION_CONTROLS, StackConfig
from aionetstack.core.tcp.congestion import make_congestion_control
from aionetstack.core.tcp.states import TcpState

if TYPE_CHECKING:
    from aionetstack.aio.driver import Driver
    from aionetstack.core.tcp.connection import TcpConnection

__all__ = ["TCP_INFO_FORMAT", "StackSocket", "pack_tcp_info"]

_SOL_SOCKET = socket.SOL_SOCKET
_IPPROTO_TCP = socket.IPPROTO_TCP
# The Linux numbers (the socket module lacks some on other platforms).
_TCP_NODELAY = 1
_TCP_MAXSEG = 2
_TCP_KEEPIDLE = 4
_TCP_KEEPINTVL = 5
_TCP_KEEPCNT = 6
_TCP_INFO = 11
_TCP_CONGESTION = 13
_TCP_CA_NAME_MAX = 16  # include/net/tcp.h
_MAX_TCP_KEEPIDLE = 32767  # include/net/tcp.h MAX_TCP_KEEPIDLE / MAX_TCP_KEEPINTVL
_SOCK_MIN_SNDBUF = 4608  # 2 * TCP_SKB_MIN_TRUESIZE on x86-64 (include/net/sock.h)
_SOCK_MIN_RCVBUF = 2304

# include/net/tcp_states.h
_LINUX_STATE = {
    TcpState.ESTABLISHED: 1,
    TcpState.SYN_SENT: 2,
    TcpState.SYN_RECEIVED: 3,
    TcpState.FIN_WAIT_1: 4,
    TcpState.FIN_WAIT_2: 5,
    TcpState.TIME_WAIT: 6,
    TcpState.CLOSED: 7,
    TcpState.CLOSE_WAIT: 8,
    TcpState.LAST_ACK: 9,
    TcpState.LISTEN: 10,
    TcpState.CLOSING: 11,
}
_TCPI_OPT_TIMESTAMPS = 1
_TCPI_OPT_SACK = 2
_TCPI_OPT_WSCALE = 4
# setsockopt's configs: (id(config), changes) -> (config, evolved); the config
# is held so its id cannot be reused while the entry lives. Bounded.
_EVOLVED: dict[tuple[int, tuple[tuple[str, Any], ...]], tuple[StackConfig, StackConfig]] = {}
_EVOLVED_MAX = 64

#: include/uapi/linux/tcp.h ``struct tcp_info`` up to ``tcpi_snd_wnd`` (Linux 5.19+):
#: 8 bytes, 24 u32 (rto..total_retrans), then the 64-bit counters and the rest.
TCP_INFO_FORMAT = "=8B24I4Q2I4IQ3Q2I2Q2I2I"


def pack_tcp_info(conn: TcpConnection) -> bytes:
    """``struct tcp_info`` for ``conn`` (times in microseconds, windows in
    segments where Linux counts segments; fields the engine does not keep are 0)."""
    info = conn.tcp_info()
    mss = info.snd_mss or 1
    options = (_TCPI_OPT_TIMESTAMPS if info.timestamps else 0) | (
        _TCPI_OPT_SACK if info.sack else 0
    )
    if info.snd_wscale or info.rcv_wscale:
        options |= _TCPI_OPT_WSCALE

    def us(seconds: float) -> int:
        return min(int(seconds * 1e6), 0xFFFFFFFF)

    ssthresh = min(info.ssthresh // mss, 0x7FFFFFFF)
    return struct.pack(
        TCP_INFO_FORMAT,
        _LINUX_STATE[info.state],
        0,  # ca_state
        min(info.retransmits, 255),
        min(info.probes, 255),
        min(info.backoff, 255),
        options,
        (info.snd_wscale & 0xF) | ((info.rcv_wscale & 0xF) << 4),
        0,
        us(info.rto),
        0,  # ato
        info.snd_mss,
        info.rcv_mss,
        -(-info.unacked // mss),  # unacked, in segments
        0,  # sacked
        info.lost,
        0,  # retrans (segments now in flight again)
        0,  # fackets
        0,
        0,
        0,
        0,  # last_data_sent .. last_ack_recv
        0,  # pmtu
        info.rcv_wnd,  # rcv_ssthresh
        us(info.rtt),
        us(info.rttvar),
        ssthresh,
        info.cwnd // mss,
        info.rcv_mss,  # advmss
        info.reordering,
        0,  # rcv_rtt
        0,  # rcv_space
        info.total_retrans,
        0,  # pacing_rate
        0,  # max_pacing_rate
        info.bytes_acked,
        info.bytes_received,
        info.segs_out,
        info.segs_in,
        0,  # notsent_bytes
        us(info.min_rtt) if info.min_rtt != float("inf") else 0,
        info.data_segs_in,
        info.data_segs_out,
        int(info.delivery_rate),
        0,
        0,
        0,  # busy_time, rwnd_limited, sndbuf_limited
        0,
        0,  # delivered, delivered_ce
        info.bytes_sent,
        info.bytes_retrans,
        info.dsacks_in,  # dsack_dups
        0,  # reord_seen
        info.ooo_segs_in,  # rcv_ooopack
        info.snd_wnd,
    )


def _int_value(value: Any, level: int, option: int) -> int:
    """An integer option value as the kernel reads it: an int, or 4 bytes or more."""
    if isinstance(value, bool | int):
        return int(value)
    if isinstance(value, bytes | bytearray | memoryview) and len(value) >= 4:
        result: int = struct.unpack_from("=i", value)[0]
        return result
    raise OSError(errno.EINVAL, f"invalid value for option ({level}, {option}): {value!r}")


class StackSocket:
    """``get_extra_info("socket")`` of a ``Stack``'s TCP transport (see the module
    docstring): addresses, ``family``/``type``/``proto``, and the options."""

    family = socket.AF_INET
    type = socket.SOCK_STREAM
    proto = socket.IPPROTO_TCP

    def __init__(
        self,
        driver: Driver,
        conn: TcpConnection,
        addresses: Callable[[], tuple[tuple[Any, ...], tuple[Any, ...]]],
        on_send_buffer: Callable[[int], None],
    ) -> None:
        self._driver = driver
        self._conn = conn
        if conn.family == 6:
            self.family = socket.AF_INET6  # the class says AF_INET
        self._addresses = addresses
        self._on_send_buffer = on_send_buffer

    def __repr__(self) -> str:
        (la, lp), (ra, rp) = self._addresses()
        return (
            f"<aionetstack StackSocket fd=-1, family={self.family!r}, type={self.type!r}, "
            f"proto={self.proto}, laddr=('{la}', {lp}), raddr=('{ra}', {rp})>"
        )

    # --- what asyncio's TransportSocket has -------------------------------------
    def fileno(self) -> int:
        return -1

    def getsockname(self) -> tuple[Any, ...]:
        return self._addresses()[0]

    def getpeername(self) -> tuple[Any, ...]:
        return self._addresses()[1]

    def gettimeout(self) -> float:
        return 0.0

    def settimeout(self, value: float | None) -> None:
        if value == 0:
            return
        raise ValueError("settimeout(): only 0 timeout is allowed on transport sockets")

    def setblocking(self, flag: bool) -> None:
        if not flag:
            return
        raise ValueError("setblocking(): transport sockets cannot be blocking")

    def get_inheritable(self) -> bool:
        return False

    # --- options ------------------------------------------------------------------
    def getsockopt(self, level: int, option: int, buflen: int | None = None) -> int | bytes:
        """Read an option; with ``buflen`` the value as bytes (as ``socket.getsockopt``)."""
        conn = self._conn
        cfg = conn.config
        value: int | bytes
        if level == _IPPROTO_TCP and option == _TCP_INFO:
            value = pack_tcp_info(conn)
        elif level == _IPPROTO_TCP and option == _TCP_CONGESTION:
            value = _linux_name(cfg.congestion_control).encode().ljust(_TCP_CA_NAME_MAX, b"\0")
        elif level == _IPPROTO_TCP and option == _TCP_MAXSEG:
            value = conn.snd_mss
        elif level == _IPPROTO_TCP and option == _TCP_NODELAY:
            value = int(cfg.nodelay)
        elif level == _IPPROTO_TCP and option == _TCP_KEEPIDLE:
            value = int(cfg.keepalive_idle)
        elif level == _IPPROTO_TCP and option == _TCP_KEEPINTVL:
            value = int(cfg.keepalive_interval)
        elif level == _IPPROTO_TCP and option == _TCP_KEEPCNT:
            value = cfg.keepalive_count
        elif level == _SOL_SOCKET and option == socket.SO_KEEPALIVE:
            value = int(cfg.keepalive)
        elif level == _SOL_SOCKET and option == socket.SO_SNDBUF:
            value = conn.send_buffer_size  # autotuned, as Linux's sk_sndbuf
        elif level == _SOL_SOCKET and option == socket.SO_RCVBUF:
            value = conn.recv_buffer_size
        elif level == _SOL_SOCKET and option == socket.SO_TYPE:
            value = socket.SOCK_STREAM
        elif level == _SOL_SOCKET and option == socket.SO_ERROR:
            error = conn.error
            value = error.errno if error is not None and error.errno is not None else 0
        else:
            raise OSError(errno.ENOPROTOOPT, f"option ({level}, {option}) not supported")
        if buflen is None:
            if isinstance(value, bytes):  # the first int of the struct, as the kernel copies
                value = struct.unpack_from("=i", value.ljust(4, b"\0"))[0]
            return value
        if isinstance(value, int):
            value = struct.pack("=i", value)
        return value[:buflen]

    def setsockopt(self, level: int, option: int, value: Any, optlen: int | None = None) -> None:
        """Set an option on this connection only (see the module docstring)."""
        cfg = self._conn.config
        changes: dict[str, Any]
        if level == _IPPROTO_TCP and option == _TCP_CONGESTION:
            changes = {"congestion_control": self._congestion_name(value)}
        else:
            n = _int_value(value, level, option)
            changes = self._int_option(level, option, n)
        conn = self._conn
        if "send_buffer" in changes:
            conn.lock_send_buffer(changes["send_buffer"])  # autotuning ends (SOCK_SNDBUF_LOCK)
            self._on_send_buffer(changes["send_buffer"])
        elif "recv_buffer" in changes:
            conn.lock_recv_buffer(changes["recv_buffer"])
        if all(getattr(cfg, name) == value for name, value in changes.items()):
            self._driver.touch(conn)
            return  # aiohttp sets TCP_NODELAY on every connection, often twice
        key = (id(cfg), tuple(changes.items()))
        known = _EVOLVED.get(key)
        if known is not None and known[0] is cfg:
            new = known[1]
        else:  # evolve() validates every field again: once per (config, change)
            new = attrs.evolve(cfg, **changes)
            if len(_EVOLVED) >= _EVOLVED_MAX:
                _EVOLVED.clear()
            _EVOLVED[key] = (cfg, new)
        conn.set_config(new, self._driver.loop.time())
        self._driver.touch(conn)  # Nagle lifted, a window to announce...

    def _int_option(self, level: int, option: int, n: int) -> dict[str, Any]:
        if level == _IPPROTO_TCP:
            if option == _TCP_NODELAY:
                return {"nodelay": bool(n)}
            if option in (_TCP_KEEPIDLE, _TCP_KEEPINTVL):
                # Linux do_tcp_setsockopt: 1..MAX_TCP_KEEPIDLE/INTVL, else EINVAL
                if not 1 <= n <= _MAX_TCP_KEEPIDLE:
                    raise OSError(errno.EINVAL, "Invalid argument")
                name = "keepalive_idle" if option == _TCP_KEEPIDLE else "keepalive_interval"
                return {name: float(n)}
            if option == _TCP_KEEPCNT:
                if not 1 <= n <= 127:  # MAX_TCP_KEEPCNT
                    raise OSError(errno.EINVAL, "Invalid argument")
                return {"keepalive_count": n}
        elif level == _SOL_SOCKET:
            if option == socket.SO_KEEPALIVE:
                return {"keepalive": bool(n)}
            # Linux sk_setsockopt: the value is doubled (bookkeeping overhead),
            # floored at SOCK_MIN_*BUF, capped by the sysctl max (here 2**30)
            if option == socket.SO_SNDBUF:
                return {"send_buffer": max(min(max(n, 0), 1 << 30) * 2, _SOCK_MIN_SNDBUF)}
            if option == socket.SO_RCVBUF:
                return {"recv_buffer": max(min(max(n, 0), 1 << 30) * 2, _SOCK_MIN_RCVBUF)}
        raise OSError(errno.ENOPROTOOPT, f"option ({level}, {option}) not supported")

    def _congestion_name(self, value: Any) -> str:
        """A ``StackConfig.congestion_control`` name for ``value`` (either that name
        or the controller's Linux name, e.g. ``reno``); ENOENT as Linux
        ``tcp_set_congestion_control`` for an unknown one."""
        if isinstance(value, str):
            raw = value.encode()
        elif isinstance(value, bytes | bytearray | memoryview):
            raw = bytes(value)
        else:
            raise OSError(errno.EINVAL, f"TCP_CONGESTION takes a name, not {value!r}")
        name = raw.split(b"\0", 1)[0].decode("ascii", "replace")
        for known in CONGESTION_CONTROLS:
            if name == known or name == _linux_name(known):
                return known
        raise OSError(errno.ENOENT, f"no congestion control named {name!r}")

    # --- what a socket has but a transport's socket must not do -------------------
    def __getattr__(self, name: str) -> Any:
        if name in _FORBIDDEN:
            raise OSError(
                errno.EOPNOTSUPP,
                f"{name}() is not available on the socket of an aionetstack transport; "
                "use the transport",
            )
        raise AttributeError(f"'StackSocket' object has no attribute {name!r}")


_FORBIDDEN = frozenset(
    ("send", "sendall", "sendto", "recv", "recv_into", "recvfrom", "accept", "connect",
     "bind", "listen", "close", "shutdown", "detach", "dup", "makefile")
)  # fmt: skip


def _linux_name(config_name: str) -> str:
    """The controller's own (Linux) name for a ``StackConfig.congestion_control`` name."""
    return make_congestion_control(config_name, 1460, 10).name
