"""Kernel-side peers for the TUN tier: blocking-socket servers in threads.

Everything here runs inside the private network namespace the tier's
conftest enters (threads and subprocesses inherit it). Each server binds to
the kernel side of the TUN device (198.18.0.1) on an ephemeral port, serves
every connection in its own thread, and records results/errors for the test.
"""

from __future__ import annotations

import hashlib
import os
import queue
import socket
import struct
import subprocess
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from aionetstack.link.tun import TunLink

KERNEL_IP = "198.18.0.1"
STACK_IP = "198.18.0.2"
KERNEL_ADDRESS = f"{KERNEL_IP}/24"
STACK_ADDRESS = f"{STACK_IP}/24"
KERNEL6 = "2001:2::1"  # the IPv6 side of a dual-stack device (RFC 5180 range only)
STACK6 = "2001:2::2"
KERNEL_ADDRESSES = [KERNEL_ADDRESS, f"{KERNEL6}/64"]
STACK_ADDRESSES = [STACK_ADDRESS, f"{STACK6}/64"]
TUN_NAME = "ans0"
MiB = 1024 * 1024
SOCKET_TIMEOUT = 60.0
#: inode of the private namespace(s) the conftest entered; make_tun checks it.
PRIVATE_NETNS: set[int] = set()


def _require() -> bool:
    return os.environ.get("AIONETSTACK_REQUIRE_TUN", "") not in ("", "0")


def cannot_run(reason: str) -> None:
    """Skip the test, or fail it when the TUN tier is required (CI)."""
    if _require():
        pytest.fail(
            f"AIONETSTACK_REQUIRE_TUN=1 but the TUN tier cannot run: {reason}", pytrace=False
        )
    pytest.skip(reason)


def make_tun(mtu: int = 1500, kernel_address: str | list[str] | None = KERNEL_ADDRESS) -> TunLink:
    from aionetstack.link.tun import TunLink

    # Safety: only ever inside the namespace the tier's netns fixture created.
    assert PRIVATE_NETNS and os.stat("/proc/thread-self/ns/net").st_ino in PRIVATE_NETNS, (
        "refusing to create a TUN device outside the private test network namespace"
    )
    try:
        return TunLink(TUN_NAME, mtu=mtu, kernel_address=kernel_address)
    except PermissionError as exc:
        cannot_run(str(exc))
        raise


IP_FREEBIND = 15  # linux/in.h

Handler = Callable[[socket.socket], Any]


async def run_tool(*argv: str, guard: float = 120.0) -> tuple[int, bytes, bytes]:
    """Run a kernel-side tool (curl, ping); its return code and output (``guard``:
    a hang fails the test instead of blocking the run, not a speed check)."""
    import asyncio

    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), guard)
    assert proc.returncode is not None
    return proc.returncode, out, err


def need(tool: str) -> None:
    import shutil

    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")


def sha(data: bytes | bytearray | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def random_payload(size: int) -> bytes:
    return os.urandom(size)


class KernelServer:
    """A kernel TCP server on 198.18.0.1 (or ``host``, e.g. the IPv6 2001:2::1);
    ``handler(sock)`` runs per connection."""

    def __init__(
        self, handler: Handler, port: int = 0, backlog: int = 512, host: str = KERNEL_IP
    ) -> None:
        self.handler = handler
        self.results: queue.Queue[Any] = queue.Queue()
        self.errors: list[BaseException] = []
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # IP_FREEBIND: bind 198.18.0.1 even before a TUN device carries it (the CLI
        # tests start the server first, then the process that creates the device).
        self.sock.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
        self.sock.bind((host, port))
        self.sock.listen(backlog)
        self.port: int = self.sock.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    def _accept_loop(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(SOCKET_TIMEOUT)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(t)
            t.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            result = self.handler(conn)
            self.results.put(result)
        except BaseException as exc:
            self.errors.append(exc)
            self.results.put(exc)
        finally:
            conn.close()

    def result(self, timeout: float = SOCKET_TIMEOUT) -> Any:
        """Blocking: the next connection's handler result (raises its exception)."""
        value = self.results.get(timeout=timeout)
        if isinstance(value, BaseException):
            raise value
        return value

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def __enter__(self) -> KernelServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def recv_all(conn: socket.socket) -> bytes:
    """Read until EOF."""
    chunks = bytearray()
    while True:
        data = conn.recv(1 << 20)
        if not data:
            return bytes(chunks)
        chunks += data


def source(data: bytes) -> Handler:
    """Send ``data``, then FIN; return how much was sent."""

    def handler(conn: socket.socket) -> int:
        conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)
        recv_all(conn)  # wait for the peer's FIN so nothing is cut short
        return len(data)

    return handler


def sink_reply_digest(conn: socket.socket) -> tuple[int, str]:
    """Read to EOF, answer with the sha256 hex digest, close; return (length, digest)."""
    data = recv_all(conn)
    digest = sha(data)
    conn.sendall(digest.encode())
    conn.shutdown(socket.SHUT_WR)
    return len(data), digest


def sink(conn: socket.socket) -> tuple[int, str]:
    """Read to EOF; return (length, digest)."""
    data = recv_all(conn)
    return len(data), sha(data)


def both_ways(data: bytes) -> Handler:
    """Send ``data`` (then FIN) while reading to EOF; return (length, digest) received."""

    def handler(conn: socket.socket) -> tuple[int, str]:
        errors: list[BaseException] = []

        def send() -> None:
            try:
                conn.sendall(data)
                conn.shutdown(socket.SHUT_WR)
            except BaseException as exc:
                errors.append(exc)

        t = threading.Thread(target=send, daemon=True)
        t.start()
        received = recv_all(conn)
        t.join(SOCKET_TIMEOUT)
        if errors:
            raise errors[0]
        return len(received), sha(received)

    return handler


def reset_after_first_byte(conn: socket.socket) -> bytes:
    """Wait for one byte, then close with SO_LINGER 0: the kernel sends RST."""
    got = conn.recv(1)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return got


def echo(conn: socket.socket) -> int:
    total = 0
    while data := conn.recv(65536):
        conn.sendall(data)
        total += len(data)
    return total


def closed_port() -> int:
    """A port on 198.18.0.1 with nothing listening (bound then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
        s.bind((KERNEL_IP, 0))
        port: int = s.getsockname()[1]
    return port


CONCURRENT_CLIENT = r"""
import asyncio, sys
HOST, PORT, N = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
async def one(i):
    r, w = await asyncio.open_connection(HOST, PORT)
    msg = (f"hello {i} ".encode() * 100)
    w.write(msg); w.write_eof()
    got = await r.read()
    w.close()
    return got == msg
async def main():
    res = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(N)), return_exceptions=True), 90)
    ok = sum(1 for x in res if x is True)
    bad = [repr(x) for x in res if x is not True][:5]
    print(ok, bad)
    return 0 if ok == N else 1
sys.exit(asyncio.run(main()))
"""


class Nft:
    """Tiny helper for drop rules on the TUN device (private namespace only)."""

    def __init__(self) -> None:
        self.run("add table inet ans")
        self.run("add chain inet ans in { type filter hook input priority 0 ; }")
        self.run("add chain inet ans out { type filter hook output priority 0 ; }")

    @staticmethod
    def run(command: str) -> None:
        subprocess.run(["nft", *command.split()], check=True)

    def random_loss(self, percent_in: int, percent_out: int, dev: str = TUN_NAME) -> None:
        """Drop percent_in % of packets the kernel receives on dev, percent_out % it sends."""
        if percent_in:
            self.run(
                f"add rule inet ans in iifname {dev} numgen random mod 100 < {percent_in} drop"
            )
        if percent_out:
            self.run(
                f"add rule inet ans out oifname {dev} numgen random mod 100 < {percent_out} drop"
            )

    def drop_port(self, port: int, dev: str = TUN_NAME) -> None:
        """Silently drop TCP to ``port`` arriving on dev (a black-holed destination)."""
        self.run(f"add rule inet ans in iifname {dev} tcp dport {port} drop")

    def flush(self) -> None:
        subprocess.run(["nft", "delete", "table", "inet", "ans"], check=False)


async def curl(url: str) -> bytes:
    """``curl -sS url`` (a kernel client; ``-g``: an IPv6 ``[host]`` is no glob); the
    body, or AssertionError with curl's message."""
    import asyncio

    proc = await asyncio.create_subprocess_exec(
        "curl", "-gsS", url, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out


def greeter_app(who: str, blob: bytes = b"") -> Any:
    """An aiohttp application: ``GET /`` answers "<who> greets <peer address>",
    ``GET /blob`` answers ``blob``."""
    from aiohttp import web

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text=f"{who} greets {request.remote}")

    async def send_blob(request: web.Request) -> web.Response:
        return web.Response(body=blob)

    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_get("/blob", send_blob)
    return app
