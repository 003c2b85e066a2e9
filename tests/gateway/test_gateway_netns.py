"""``aionetstack gateway`` end to end, against peers nobody here wrote.

Two private namespaces (198.18.0.0/15 only). The module's own (``netns``,
conftest) holds the *inside*: the gateway command on TUN device ``ansgw0``
with ``--route 198.18.64.0/24``, and the kernel clients (``curl``, ``dig``,
Python sockets). A second one, made here with ``unshare --net`` (a ``sleep``
holds it; ``nsenter`` starts its processes), is the *outside*, joined by a veth
pair (198.18.200.1 inside, 198.18.200.2 outside): there ``198.18.64.0/24`` is
local (``ip route add local``), so every address of the routed range reaches
the servers (``gw_outside.py``), ``microsocks`` (1080), Dante (1081) and
``dnsmasq`` (53). Relayed flows thus leave through the proxy (or, with
``--direct --bind-interface``, the veth) and never loop into the TUN device.
When the module ends the holder is killed and the outside namespace goes
with everything in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import _PRIVATE, DANTED_RULES, _netns_id, cannot_run, free_port, ip

from aionetstack.cli import http_payload_chunks

pytestmark = pytest.mark.usefixtures("in_netns")

TUN = "ansgw0"
ROUTED = "198.18.64.0/24"
SERVER = "198.18.64.1"
DNS = "198.18.64.53"
INSIDE_VETH, OUTSIDE_VETH = "198.18.200.1", "198.18.200.2"
ROUTED6, SERVER6, DNS6 = "2001:2:64::/64", "2001:2:64::1", "2001:2:64::53"
INSIDE_VETH6, OUTSIDE_VETH6 = "2001:2:200::1", "2001:2:200::2"
#: the stack and the kernel end of its TUN device in both families
DUAL_STACK = ("--kernel-address", "198.18.0.1/24,2001:2::1/64",
              "--address", "198.18.0.2/24,2001:2::2/64")  # fmt: skip
MiB = 1 << 20
STEP = 20.0  # a generous bound on any single wait: a hang fails, speed is never asserted
HERE = Path(__file__).parent

DANTE = (
    """\
logoutput: stderr
internal: {addr} port = {port}
external: {addr}
external: {addr6}
"""
    + DANTED_RULES
)


def sha_of_payload(size: int) -> str:
    digest = hashlib.sha256()
    for chunk in http_payload_chunks(size):
        digest.update(chunk)
    return digest.hexdigest()


class Outside:
    """The second namespace and the processes in it (ended by their Popen)."""

    def __init__(self, tmp: str) -> None:
        assert _netns_id() in _PRIVATE, "refusing to build outside the private namespace"
        for tool in ("unshare", "nsenter", "microsocks", "danted", "dnsmasq"):
            if shutil.which(tool) is None:
                cannot_run(f"{tool} is not installed: make system-deps")
        self.tmp = tmp
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.holder = subprocess.Popen(["unshare", "--net", "--", "sleep", "900"])
        ours = _netns_id()
        deadline = time.monotonic() + 10
        while True:
            try:
                theirs = os.stat(f"/proc/{self.holder.pid}/ns/net").st_ino
            except FileNotFoundError:
                theirs = ours
            if theirs != ours:
                break
            assert time.monotonic() < deadline, "unshare did not make a namespace"
            time.sleep(0.01)
        assert theirs not in _PRIVATE and theirs != ours

    def run(self, *argv: str) -> None:
        subprocess.run(self.enter(*argv), check=True, capture_output=True)

    def enter(self, *argv: str) -> list[str]:
        return ["nsenter", "-t", str(self.holder.pid), "-n", "--", *argv]

    def start(self, name: str, argv: list[str], port: int | None) -> None:
        log = open(os.path.join(self.tmp, f"{name}.log"), "wb")  # noqa: SIM115
        proc = subprocess.Popen(self.enter(*argv), stdout=log, stderr=log)
        log.close()
        self.procs[name] = proc
        deadline = time.monotonic() + 10
        while port is not None:
            assert proc.poll() is None, f"{name} exited: {self.log(name)}"
            try:
                socket.create_connection((OUTSIDE_VETH, port), timeout=1).close()
                return
            except OSError:
                assert time.monotonic() < deadline, f"{name} does not listen on {port}"
                time.sleep(0.05)

    def log(self, name: str) -> str:
        return Path(self.tmp, f"{name}.log").read_text(errors="replace")

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(sig)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def start_microsocks(self) -> None:
        self.start("microsocks", ["microsocks", "-i", OUTSIDE_VETH, "-p", "1080"], 1080)

    def close(self) -> None:
        for name in list(self.procs):
            self.stop(name)
        self.holder.kill()
        self.holder.wait()


@pytest.fixture(scope="module")
def outside(netns: int) -> Iterator[Outside]:
    with tempfile.TemporaryDirectory(prefix="aionetstack-gw-") as tmp:
        out = Outside(tmp)
        try:
            ip("link", "add", "gwo", "type", "veth", "peer", "name", "gwi", "netns",
               str(out.holder.pid))  # fmt: skip
            ip("addr", "add", f"{INSIDE_VETH}/24", "dev", "gwo")
            ip("addr", "add", f"{INSIDE_VETH6}/64", "dev", "gwo", "nodad")
            ip("link", "set", "gwo", "up")
            out.run("ip", "link", "set", "lo", "up")
            out.run("ip", "addr", "add", f"{OUTSIDE_VETH}/24", "dev", "gwi")
            out.run("ip", "addr", "add", f"{OUTSIDE_VETH6}/64", "dev", "gwi", "nodad")
            out.run("ip", "link", "set", "gwi", "up")
            out.run("ip", "route", "add", "local", ROUTED, "dev", "lo")
            out.run("ip", "-6", "route", "add", "local", ROUTED6, "dev", "lo")
            # dnsmasq answers IPv6 only on an address an interface holds
            out.run("ip", "-6", "addr", "add", f"{DNS6}/128", "dev", "lo")
            out.start("servers", [sys.executable, str(HERE / "gw_outside.py")], None)
            out.start_microsocks()
            conf = os.path.join(tmp, "danted.conf")
            Path(conf).write_text(DANTE.format(addr=OUTSIDE_VETH, addr6=OUTSIDE_VETH6, port=1081))
            pid = os.path.join(tmp, "danted.pid")
            out.start("danted", ["danted", "-f", conf, "-N", "1", "-p", pid], 1081)
            out.start("dnsmasq", [
                "dnsmasq", "-k", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                "--user=root", "--pid-file=", "--address=/relay.test/198.18.99.7",
            ], None)  # fmt: skip
            deadline = time.monotonic() + 10
            while True:  # the servers: 8080 answers once gw_outside.py is up
                try:
                    socket.create_connection((OUTSIDE_VETH, 8080), timeout=1).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, out.log("servers")
                    time.sleep(0.05)
            yield out
        finally:
            out.close()


class Gateway:
    def __init__(self, proc: subprocess.Popen[bytes], stats_port: int, log: Path) -> None:
        self.proc = proc
        self.stats_port = stats_port
        self.log = log
        self.output = ""  # the gateway's output, once it exited

    def api(self, path: str = "/") -> Any:
        url = f"http://127.0.0.1:{self.stats_port}{path}"
        with urllib.request.urlopen(url, timeout=5) as reply:
            return json.load(reply)

    def wait_idle(self) -> dict[str, Any]:
        """Wait until no flow is left; the totals."""
        deadline = time.monotonic() + STEP
        while True:
            totals: dict[str, Any] = self.api("/stats")["totals"]
            if totals["tcp_flows"] == 0 and totals["udp_sessions"] == 0:
                return totals
            assert time.monotonic() < deadline, f"flows left behind: {self.api('/flows')}"
            time.sleep(0.1)


@contextlib.contextmanager
def gateway(*extra: str) -> Iterator[Gateway]:
    assert _netns_id() in _PRIVATE
    stats_port = free_port()
    with tempfile.TemporaryDirectory(prefix="aionetstack-gwlog-") as tmp:
        log = Path(tmp, "gateway.log")
        argv = [
            sys.executable, "-m", "aionetstack", "gateway", "--tun", TUN,
            "--kernel-address", "198.18.0.1/24", "--address", "198.18.0.2/24",
            "--stats", f"127.0.0.1:{stats_port}", "--udp-timeout", "2", "--grace", "1",
            *extra,
        ]  # fmt: skip
        with open(log, "wb") as f:
            proc = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT)
        gw = Gateway(proc, stats_port, log)
        try:
            deadline = time.monotonic() + STEP
            while True:
                assert proc.poll() is None, f"gateway exited: {log.read_text()}"
                try:
                    gw.api("/stats")
                    break
                except OSError:
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.1)
            yield gw
            # Ctrl-C's twin: stop accepting, drain, exit 0
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(STEP) == 0, log.read_text()
            gw.output = log.read_text()
            assert "aionetstack gateway: stopped" in gw.output
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def curl_sha(url: str, *args: str) -> str:
    run = subprocess.run(
        ["curl", "-sS", "--fail", "--max-time", "60", *args, url],
        capture_output=True,
        timeout=90,
    )
    assert run.returncode == 0, run.stderr.decode()
    return hashlib.sha256(run.stdout).hexdigest()


async def fetch(size: int, together: asyncio.Barrier | None = None) -> bytes:
    reader, writer = await asyncio.open_connection(SERVER, 8080)
    if together is not None:
        await together.wait()  # every flow connected before any request goes
    writer.write(f"GET /bytes/{size} HTTP/1.0\r\n\r\n".encode())
    data = await reader.read()
    writer.close()
    return data.split(b"\r\n\r\n", 1)[1]


def upload(data: bytes) -> str:
    with socket.create_connection((SERVER, 8082), timeout=STEP) as sock:
        sock.sendall(f"{len(data)}\n".encode() + data)
        return sock.makefile("rb").readline().decode()


def rst_close(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def started_downloads(count: int) -> list[socket.socket]:
    """``count`` 32 MiB downloads, each read a little, then left hanging."""
    socks = []
    for _ in range(count):
        sock = socket.create_connection((SERVER, 8080), timeout=STEP)
        sock.sendall(f"GET /bytes/{32 * MiB} HTTP/1.0\r\n\r\n".encode())
        got = 0
        while got < 100_000:
            chunk = sock.recv(65536)
            assert chunk
            got += len(chunk)
        socks.append(sock)
    return socks


def dig(server: str, name: str = "relay.test", qtype: str = "A") -> list[str]:
    """The ``qtype`` answer for ``name`` (dnsmasq answers relay.test), asked of ``server``."""
    run = subprocess.run(
        ["dig", f"@{server}", name, qtype, "+short", "+time=3", "+tries=2"],
        capture_output=True,
        timeout=30,
    )
    return run.stdout.decode().split()


def ping(host: str) -> bool:
    """One echo request from the kernel; whether a reply came within a second."""
    run = subprocess.run(["ping", "-c", "1", "-W", "1", host], capture_output=True, timeout=10)
    return run.returncode == 0


def test_through_microsocks(outside: Outside) -> None:
    with gateway("--route", ROUTED, "--socks5", f"{OUTSIDE_VETH}:1080") as gw:
        assert not ping("198.18.64.201")  # echo requests are not answered by default
        # 32 MiB through kernel curl -> TUN -> stack -> relay -> microsocks -> server
        url = f"http://{SERVER}:8080/bytes/{32 * MiB}"
        assert curl_sha(url) == sha_of_payload(32 * MiB)

        # 200 concurrent flows: all open at the gateway at once, then all served
        async def many() -> list[bytes]:
            together = asyncio.Barrier(201)
            fetches = asyncio.gather(*(fetch(65536, together) for _ in range(200)))
            async with asyncio.timeout(60):
                await together.wait()
                while (await asyncio.to_thread(gw.api, "/stats"))["totals"]["tcp_flows"] < 200:
                    await asyncio.sleep(0.05)
                return await fetches

        want = b"".join(http_payload_chunks(65536))
        assert all(body == want for body in asyncio.run(many()))
        data = os.urandom(8 * MiB)
        assert upload(data) == f"{len(data)} {hashlib.sha256(data).hexdigest()}\n"
        # nothing listens on port 9: the client is reset at once, not left hanging
        # (the RST may come before connect() returns: either call raises it)
        started = time.monotonic()
        with (
            pytest.raises(ConnectionResetError),
            socket.create_connection((SERVER, 9), timeout=STEP) as sock,
        ):
            sock.recv(1)
        assert time.monotonic() - started < STEP
        # clients vanishing mid-transfer (RST) leave no flow behind
        for sock in started_downloads(10):
            rst_close(sock)
        gw.wait_idle()
        # the proxy killed mid-transfer: the flows end, the gateway keeps serving
        socks = started_downloads(5)
        outside.stop("microsocks", signal.SIGKILL)
        for sock in socks:
            with contextlib.suppress(OSError):
                while sock.recv(1 << 20):
                    pass
            sock.close()
        totals = gw.wait_idle()
        outside.start_microsocks()
        assert curl_sha(f"http://{SERVER}:8080/bytes/{MiB}") == sha_of_payload(MiB)
        gw.wait_idle()  # curl may exit before the gateway has seen the close
        snap = gw.api("/")
        assert snap["flows"] == []
        with pytest.raises(urllib.error.HTTPError) as info:
            gw.api("/nope")
        assert info.value.code == 404
        assert totals["tcp_dial_failed"] >= 1
        assert totals["tcp_opened"] >= 1 + 200 + 1 + 1 + 10 + 5
        assert any(f["end"].startswith("dial failed") for f in snap["recent"])
        assert snap["stack"]["TcpCurrEstab"] == 0
    assert f"-> {SERVER}:8080 up=" in gw.output and "end=closed" in gw.output


def test_through_dante_half_close_and_dns(outside: Outside) -> None:
    if shutil.which("dig") is None:
        cannot_run("dig is not installed: make system-deps")
    with gateway("--route", ROUTED, "--socks5", f"socks5://{OUTSIDE_VETH}:1081") as gw:
        # a half-closed request: everything, then FIN; the answer still comes back
        data = os.urandom(4 * MiB)
        with socket.create_connection((SERVER, 8081), timeout=STEP) as sock:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            answer = sock.makefile("rb").read().decode()
        assert answer == f"{len(data)} {hashlib.sha256(data).hexdigest()}\n"
        # DNS through UDP ASSOCIATE, from dnsmasq on the routed address
        assert dig(DNS) == ["198.18.99.7"]
        flows = gw.api("/flows")
        udp = [f for f in flows["flows"] if f["proto"] == "udp"]
        assert udp and udp[0]["dst"] == f"{DNS}:53" and udp[0]["datagrams_down"] >= 1
        totals = gw.wait_idle()  # the UDP session times out (--udp-timeout 2)
        assert totals["udp_opened"] == totals["udp_closed"] >= 1
        assert any(f["end"] == "idle" for f in gw.api("/flows")["recent"])


def test_direct_with_config_file(outside: Outside, tmp_path: Path) -> None:
    # the relay's own sockets leave through the veth (SO_BINDTODEVICE), where
    # the default route points; kernel clients still take the TUN route
    ip("route", "replace", "default", "via", OUTSIDE_VETH, "dev", "gwo")
    config = tmp_path / "gateway.toml"
    config.write_text(
        f'route = ["{ROUTED}"]\ndirect = true\nbind_interface = "gwo"\nanswer_ping = true\n'
    )
    try:
        with gateway("--config", str(config)) as gw:
            url = f"http://{SERVER}:8080/bytes/{32 * MiB}"
            assert curl_sha(url) == sha_of_payload(32 * MiB)
            # answer_ping: any routed address answers, from the gateway itself
            assert ping("198.18.64.201"), "no echo reply with answer_ping"
            totals = gw.wait_idle()
            assert totals["tcp_opened"] == totals["tcp_closed"] == 1
            assert totals["bytes_down"] > 32 * MiB
    finally:
        ip("route", "del", "default")


def test_fake_ip_dns_then_a_connection_by_name(outside: Outside) -> None:
    if shutil.which("dig") is None:
        cannot_run("dig is not installed: make system-deps")
    with gateway(
        "--route", ROUTED, "--fake-ip", "198.18.128.0/17", "--socks5", f"{OUTSIDE_VETH}:1080"
    ) as gw:  # fmt: skip
        # any port-53 datagram is answered by the gateway from the pool
        [fake] = dig(DNS, "localhost")
        assert fake == "198.18.128.1"
        # the pool is routed too; microsocks resolves "localhost" on its side
        assert curl_sha(f"http://{fake}:8080/bytes/{MiB}") == sha_of_payload(MiB)
        gw.wait_idle()
        snap = gw.api("/")
        assert snap["totals"]["dns_answered"] == 1
        assert [f["name"] for f in snap["recent"]] == ["localhost"]


def test_fake_ip_over_ipv6(outside: Outside) -> None:
    """An IPv6 pool beside the IPv4 one: AAAA answered from it, and a
    connection to its address dialed by name through microsocks."""
    if shutil.which("dig") is None:
        cannot_run("dig is not installed: make system-deps")
    with gateway(*DUAL_STACK, "--route", ROUTED6, "--route", ROUTED,
                 "--fake-ip", "198.18.128.0/17",
                 "--fake-ip", "2001:2:0:f000::/64",
                 "--socks5", f"{OUTSIDE_VETH}:1080") as gw:  # fmt: skip
        assert dig(DNS6, "localhost", "AAAA") == ["2001:2:0:f000::1"]  # asked over IPv6
        assert dig(DNS, "localhost", "A") == ["198.18.128.1"]
        url = f"http://[2001:2:0:f000::1]:8080/bytes/{MiB}"
        assert curl_sha(url) == sha_of_payload(MiB)
        gw.wait_idle()
        snap = gw.api("/")
        assert snap["totals"]["dns_answered"] == 2
        assert [f["name"] for f in snap["recent"]] == ["localhost"]


def test_ipv6_through_microsocks_and_direct(outside: Outside) -> None:
    """IPv6 flows: a --route of 2001:2::/48 space, relayed by microsocks (an
    IPv6 destination in the CONNECT request) and by direct sockets (TCP and
    UDP, DNS from dnsmasq on the routed IPv6 address)."""
    url = f"http://[{SERVER6}]:8080/bytes/{4 * MiB}"
    with gateway(*DUAL_STACK, "--route", ROUTED6, "--route", ROUTED,
                 "--socks5", f"{OUTSIDE_VETH}:1080") as gw:  # fmt: skip
        assert curl_sha(url) == sha_of_payload(4 * MiB)
        assert curl_sha(f"http://{SERVER}:8080/bytes/{MiB}") == sha_of_payload(MiB)
        gw.wait_idle()
        recent = gw.api("/flows")["recent"]
        assert [f["dst"] for f in recent] == [f"[{SERVER6}]:8080", f"{SERVER}:8080"]
        assert all(f["end"] == "closed" for f in recent)
    # Dante (reached over IPv4) relays to IPv6 destinations: CONNECT, and DNS
    # through UDP ASSOCIATE with an IPv6 destination and IPv6 replies
    with gateway(*DUAL_STACK, "--route", ROUTED6, "--socks5", f"{OUTSIDE_VETH}:1081") as gw:
        assert curl_sha(url) == sha_of_payload(4 * MiB)
        if shutil.which("dig") is not None:
            assert dig(DNS6) == ["198.18.99.7"]
            udp = [f for f in gw.api("/flows")["flows"] if f["proto"] == "udp"]
            assert udp and udp[0]["dst"] == f"[{DNS6}]:53" and udp[0]["datagrams_down"] >= 1
        gw.wait_idle()
    # direct: the relay's sockets leave through the veth, where the default
    # IPv6 route points; the kernel's own clients take the TUN route
    ip("-6", "route", "replace", "default", "via", OUTSIDE_VETH6, "dev", "gwo")
    try:
        with gateway(*DUAL_STACK, "--route", ROUTED6, "--direct",
                     "--bind-interface", "gwo", "--answer-ping") as gw:  # fmt: skip
            assert curl_sha(url) == sha_of_payload(4 * MiB)
            assert ping("2001:2:64::201"), "no ICMPv6 echo reply with --answer-ping"
            if shutil.which("dig") is not None:
                assert dig(DNS6) == ["198.18.99.7"]
                udp = [f for f in gw.api("/flows")["flows"] if f["proto"] == "udp"]
                assert udp and udp[0]["dst"] == f"[{DNS6}]:53" and udp[0]["datagrams_down"] >= 1
            totals = gw.wait_idle()
            assert totals["tcp_opened"] == totals["tcp_closed"] == 1
    finally:
        ip("-6", "route", "del", "default")
