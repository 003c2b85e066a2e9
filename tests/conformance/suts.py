"""The two systems under test: the Linux kernel over a TUN device, and aionetstack.

Both expose the same application verbs to the runner (listen, connect,
accept, write, read, shutdown, close, abort and the UDP ones) and hand every
packet they emit to ``Run.on_packet`` with its arrival time.

Application reads are explicit on both sides: the kernel keeps unread data in
the socket's receive queue, and aionetstack's transport is kept paused
(``pause_reading``) except during a ``read`` step, so both advertise the same
shrinking window when the application does not read.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import socket
import struct
import subprocess
from collections import deque
from typing import Any

from .harness import REMOTE_PORT, SUT_IP, SUT_IP6, Run, Sut, err_name

# --------------------------------------------------------------------- Linux

TUN_NAME = "ansconf0"
TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000

#: Kernel settings the run fixes inside its private namespace (recorded in
#: docs/CONFORMANCE.md). Every one is per network namespace on Linux >= 6.0.
SYSCTLS = {
    "net/ipv4/tcp_congestion_control": "reno",  # aionetstack runs NewReno
    "net/ipv4/tcp_no_metrics_save": "1",  # no route-cache RTT/ssthresh between scenarios
    "net/ipv4/tcp_challenge_ack_limit": "2147483647",  # RFC 5961 ACKs never rate-limited
    "net/ipv4/tcp_syncookies": "0",  # aionetstack has no SYN cookies yet
    "net/ipv4/tcp_autocorking": "0",  # no write coalescing behind a busy qdisc
    "net/ipv4/tcp_comp_sack_nr": "0",  # every out-of-order segment SACKed at once
    "net/ipv4/tcp_early_retrans": "3",  # RACK-TLP on (the default), as aionetstack
    "net/ipv6/conf/all/disable_ipv6": "1",  # no router solicitations on the device
    "net/ipv6/conf/default/disable_ipv6": "1",
}


def configure_namespace() -> dict[str, str]:
    """Inside the private namespace only: sysctls, then the TUN device's address."""
    applied: dict[str, str] = {}
    for key, value in SYSCTLS.items():
        path = f"/proc/sys/{key}"
        with open(path, "w") as f:
            f.write(value)
        with open(path) as f:
            applied[key.replace("/", ".")] = f.read().strip()
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    return applied


class Tun:
    """The one TUN device of the Linux run; packets go to the Run of their address."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
        fcntl.ioctl(self.fd, TUNSETIFF, struct.pack("16sH", TUN_NAME.encode(), IFF_TUN | IFF_NO_PI))
        subprocess.run(["ip", "addr", "add", f"{SUT_IP}/15", "dev", TUN_NAME], check=True)
        subprocess.run(["ip", "link", "set", TUN_NAME, "mtu", "1500", "up"], check=True)
        # IPv6 on this device only (the IPv6 scenarios); no DAD: usable at once
        with open(f"/proc/sys/net/ipv6/conf/{TUN_NAME}/disable_ipv6", "w") as f:
            f.write("0")
        subprocess.run(
            ["ip", "-6", "addr", "add", f"{SUT_IP6}/48", "dev", TUN_NAME, "nodad"], check=True
        )
        self.runs: dict[str, Run] = {}
        loop.add_reader(self.fd, self._readable)

    def _readable(self) -> None:
        now = self.loop.time()
        while True:
            try:
                raw = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            if len(raw) >= 20 and raw[0] >> 4 == 4:
                run = self.runs.get(socket.inet_ntoa(raw[16:20]))
            elif len(raw) >= 40 and raw[0] >> 4 == 6:  # the kernel's MLD/RS: no run
                run = self.runs.get(socket.inet_ntop(socket.AF_INET6, raw[24:40]))
            else:
                continue
            if run is not None:
                run.on_packet(now, raw)

    def send(self, raw: bytes) -> None:
        os.write(self.fd, raw)

    def close(self) -> None:
        self.loop.remove_reader(self.fd)
        os.close(self.fd)


def _sockopts(sock: socket.socket, run: Run) -> None:
    sc = run.scenario
    if sc.nodelay:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if sc.keepalive is not None:
        idle, interval, count = sc.keepalive
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, int(idle))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, int(interval))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, count)
    if sc.syn_retries is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_SYNCNT, sc.syn_retries)


class LinuxSut(Sut):
    def __init__(self, run: Run, tun: Tun) -> None:
        super().__init__(run)
        self.tun = tun
        self.listener: socket.socket | None = None
        self.conn: socket.socket | None = None
        self.udp: socket.socket | None = None
        self.tasks: list[asyncio.Task[Any]] = []
        self.all_socks: list[socket.socket] = []

    async def start(self) -> None:
        self.tun.runs[self.run.remote] = self.run

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for sock in self.all_socks:
            sock.close()
        self.tun.runs.pop(self.run.remote, None)

    def send(self, raw: bytes) -> None:
        self.tun.send(raw)

    def _sock(self, kind: int) -> socket.socket:
        family = socket.AF_INET6 if self.run.scenario.ipv6 else socket.AF_INET
        sock = socket.socket(family, kind)
        sock.setblocking(False)
        self.all_socks.append(sock)
        return sock

    async def _connect(self, sock: socket.socket) -> None:
        try:
            await self.run.loop.sock_connect(sock, (self.run.remote, REMOTE_PORT))
            self.conn = sock
            self.run.record("app: connected")
        except OSError as exc:
            self.run.record(f"app: connect {err_name(exc)}")

    async def _accept(self) -> None:
        assert self.listener is not None
        conn, _ = await self.run.loop.sock_accept(self.listener)
        conn.setblocking(False)
        self.all_socks.append(conn)
        self.conn = conn
        self.run.record("app: accepted")

    def _read(self) -> str:
        if self.conn is None:
            return "read: no connection"
        total = 0
        tail = ""
        while True:
            try:
                data = self.conn.recv(1 << 20)
            except BlockingIOError:
                break
            except OSError as exc:
                tail = err_name(exc)
                break
            if not data:
                tail = "eof"
                break
            total += len(data)
        return _read_text(total, tail)

    def _udp_recv(self) -> str:
        assert self.udp is not None
        got: list[str] = []
        while True:
            try:
                got.append(f"udp {len(self.udp.recv(65536))}")
            except BlockingIOError:
                break
            except OSError as exc:
                got.append(f"udp {err_name(exc)}")
        return ", ".join(got) or "udp none"

    async def app(self, verb: str, args: list[str]) -> str | None:
        run = self.run
        if verb == "listen":
            sock = self._sock(socket.SOCK_STREAM)
            _sockopts(sock, run)
            sock.bind((run.sut_ip, run.port))
            sock.listen(int(args[0]) if args else 128)
            self.listener = sock
        elif verb == "connect":
            sock = self._sock(socket.SOCK_STREAM)
            _sockopts(sock, run)
            sock.bind((run.sut_ip, 0))
            self.tasks.append(asyncio.ensure_future(self._connect(sock)))
        elif verb == "accept":
            self.tasks.append(asyncio.ensure_future(self._accept()))
        elif verb == "write":
            assert self.conn is not None
            try:
                sent = self.conn.send(b"w" * int(args[0]))
            except OSError as exc:
                return f"write {err_name(exc)}"
            return None if sent == int(args[0]) else f"write partial {sent}"
        elif verb == "read":
            return self._read()
        elif verb == "shutdown":
            assert self.conn is not None
            self.conn.shutdown(socket.SHUT_WR)
        elif verb in ("close", "abort"):
            sock = self.conn if self.conn is not None else self.listener
            assert sock is not None
            if verb == "abort":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        elif verb in ("udp_bind", "udp_connect"):
            sock = self._sock(socket.SOCK_DGRAM)
            sock.bind((run.sut_ip, run.port))
            if verb == "udp_connect":
                sock.connect((run.remote, REMOTE_PORT))
            self.udp = sock
        elif verb == "udp_send":
            assert self.udp is not None
            try:
                self.udp.send(b"d" * int(args[0]))
            except OSError as exc:
                return f"udp_send {err_name(exc)}"
        elif verb == "udp_recv":
            return self._udp_recv()
        else:
            raise ValueError(verb)
        return None


def _read_text(total: int, tail: str) -> str:
    parts = [str(total)] if total else []
    if tail:
        parts.append(tail)
    return "read " + (" ".join(parts) or "none")


# --------------------------------------------------------------- aionetstack


class _Conn(asyncio.Protocol):
    """Holds what the stack delivered; reading stays paused outside ``read`` steps."""

    def __init__(self) -> None:
        self.transport: Any = None
        self.pending = 0
        self.eof = False
        self.error: BaseException | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.pause_reading()

    def data_received(self, data: bytes) -> None:
        self.pending += len(data)

    def eof_received(self) -> bool:
        self.eof = True
        return True

    def connection_lost(self, exc: BaseException | None) -> None:
        self.error = exc


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.got: list[str] = []

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.got.append(f"udp {len(data)}")

    def error_received(self, exc: Exception) -> None:
        self.got.append(f"udp {err_name(exc)}")


class StackSut(Sut):
    def __init__(self, run: Run) -> None:
        super().__init__(run)
        self.raw: Any = None
        self.stack: Any = None
        self.accepted: deque[_Conn] = deque()
        self.new_conn = asyncio.Event()
        self.conn: _Conn | None = None
        self.server: Any = None
        self.udp: Any = None
        self.udp_proto: _Datagrams | None = None
        self.tasks: list[asyncio.Task[Any]] = []

    async def start(self) -> None:
        import aionetstack

        sc = self.run.scenario
        # the kernel runs reno (KERNEL_SETTINGS): the same algorithm here
        knobs: dict[str, Any] = {"nodelay": sc.nodelay, "congestion_control": "newreno"}
        if sc.keepalive is not None:
            idle, interval, count = sc.keepalive
            knobs.update(
                keepalive=True, keepalive_idle=idle, keepalive_interval=interval,
                keepalive_count=count,
            )  # fmt: skip
        if sc.syn_retries is not None:
            knobs["syn_retries"] = sc.syn_retries
        self.raw, end = aionetstack.memory_link_pair()
        self.stack = aionetstack.Stack(
            end, address=[f"{SUT_IP}/15", f"{SUT_IP6}/48"],
            config=aionetstack.StackConfig(**knobs),
        )
        await self.stack.start()
        self.tasks.append(asyncio.ensure_future(self._reader()))

    async def _reader(self) -> None:
        loop = self.run.loop
        while True:
            raw = await self.raw.recv()
            self.run.on_packet(loop.time(), bytes(raw))

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await self.stack.close(linger=0.01)

    def send(self, raw: bytes) -> None:
        self.raw.send(raw)

    def _on_accept(self) -> _Conn:
        proto = _Conn()
        self.accepted.append(proto)
        self.new_conn.set()
        return proto

    async def _connect(self) -> None:
        try:
            _, proto = await self.stack.create_connection(_Conn, self.run.remote, REMOTE_PORT)
            self.conn = proto
            self.run.record("app: connected")
        except OSError as exc:
            self.run.record(f"app: connect {err_name(exc)}")

    async def _accept(self) -> None:
        if not self.server.is_serving():
            await self.server.start_serving()
        while not self.accepted:
            self.new_conn.clear()
            await self.new_conn.wait()
        self.conn = self.accepted.popleft()
        self.run.record("app: accepted")

    async def _read(self) -> str:
        conn = self.conn
        if conn is None:
            return "read: no connection"
        conn.transport.resume_reading()
        for _ in range(4):  # the transport delivers from call_soon callbacks
            await asyncio.sleep(0)
        conn.transport.pause_reading()
        total, conn.pending = conn.pending, 0
        tail = ""
        if conn.eof:
            tail = "eof"
        elif conn.error is not None:
            tail = err_name(conn.error)
        return _read_text(total, tail)

    async def app(self, verb: str, args: list[str]) -> str | None:
        run = self.run
        if verb == "listen":
            # not serving until the first ``accept`` step: until then handshakes
            # complete into the listener's queue, as into a kernel listener's
            self.server = await self.stack.create_server(
                self._on_accept, run.sut_ip, run.port, backlog=int(args[0]) if args else 128,
                start_serving=False,
            )  # fmt: skip
        elif verb == "connect":
            self.tasks.append(asyncio.ensure_future(self._connect()))
        elif verb == "accept":
            self.tasks.append(asyncio.ensure_future(self._accept()))
        elif verb == "write":
            assert self.conn is not None
            self.conn.transport.write(b"w" * int(args[0]))
        elif verb == "read":
            return await self._read()
        elif verb == "shutdown":
            assert self.conn is not None
            self.conn.transport.write_eof()
        elif verb in ("close", "abort"):
            if self.conn is not None:
                getattr(self.conn.transport, verb)()
            else:
                self.server.close()
        elif verb in ("udp_bind", "udp_connect"):
            remote = (run.remote, REMOTE_PORT) if verb == "udp_connect" else None
            self.udp, self.udp_proto = await self.stack.create_datagram_endpoint(
                _Datagrams, local_addr=(run.sut_ip, run.port), remote_addr=remote
            )
        elif verb == "udp_send":
            self.udp.sendto(b"d" * int(args[0]))
        elif verb == "udp_recv":
            assert self.udp_proto is not None
            for _ in range(4):
                await asyncio.sleep(0)
            got, self.udp_proto.got = self.udp_proto.got, []
            return ", ".join(got) or "udp none"
        else:
            raise ValueError(verb)
        return None
