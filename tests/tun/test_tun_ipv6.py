"""IPv6 against the Linux kernel across a TUN device (the tier's private namespace).

The device carries both families: kernel side 198.18.0.1/24 and 2001:2::1/64
(configured by ``TunLink`` through rtnetlink), the dual-stack Stack
198.18.0.2/24 and 2001:2::2/64. Only 2001:2::/48 (RFC 5180) is used. Every
transfer is checked by sha256.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from tun_helpers import (
    KERNEL6,
    KERNEL_ADDRESS,
    KERNEL_IP,
    STACK6,
    STACK_ADDRESS,
    STACK_ADDRESSES,
    STACK_IP,
    TUN_NAME,
    KernelServer,
    MiB,
    echo,
    need,
    random_payload,
    run_tool,
    sha,
    sink_reply_digest,
    source,
)

import aionetstack
from aionetstack.cli import http_payload, serve_http
from aionetstack.link.tun import TunLink
from aionetstack.wire.addr import ip6_to_int
from aionetstack.wire.tcp import ACK, build_ipv6_tcp

GUARD = 120.0  # seconds: a hang fails the test instead of blocking the run (not a speed check)


@pytest.fixture
async def stack(tun6: TunLink) -> AsyncIterator[aionetstack.Stack]:
    async with aionetstack.Stack(tun6, address=STACK_ADDRESSES) as s:
        yield s


def test_kernel_side_has_both_addresses(tun6: TunLink) -> None:
    assert tun6.kernel_addresses == [KERNEL_ADDRESS, f"{KERNEL6}/64"]
    with open(f"/proc/sys/net/ipv6/conf/{TUN_NAME}/disable_ipv6") as f:
        assert f.read().strip() == "0"
    with open("/proc/net/if_inet6") as f:
        rows = [line.split() for line in f]
    ours = [row for row in rows if row[5] == TUN_NAME and row[0] == "20010002" + "0" * 23 + "1"]
    assert len(ours) == 1
    assert int(ours[0][2], 16) == 64  # the prefix length
    assert int(ours[0][4], 16) & 0x40 == 0  # IFA_F_TENTATIVE: not waiting for DAD


@pytest.mark.parametrize("tun6", [1500, 65535], indirect=True, ids=["mtu1500", "mtu65535"])
async def test_curl6_downloads_32mib_from_stack(stack: aionetstack.Stack) -> None:
    need("curl")
    size = 32 * MiB
    async with await stack.start_server(serve_http, None, 8080):
        rc, out, err = await run_tool(
            "curl", "-6", "-g", "-sS", "--max-time", "100",
            f"http://[{STACK6}]:8080/bytes/{size}",
        )  # fmt: skip
    assert rc == 0, err.decode()
    assert len(out) == size
    assert sha(out) == sha(http_payload(size))
    assert stack.stats()["Ip6InReceives"] > 100  # the ACKs came over IPv6


@pytest.mark.parametrize("tun6", [1500, 65535], indirect=True, ids=["mtu1500", "mtu65535"])
async def test_download_32mib_from_kernel_over_ipv6(stack: aionetstack.Stack) -> None:
    data = random_payload(32 * MiB)
    with KernelServer(source(data), host=KERNEL6) as server:
        reader, writer = await stack.open_connection(KERNEL6, server.port)
        assert writer.get_extra_info("peername") == (KERNEL6, server.port, 0, 0)
        got = await asyncio.wait_for(reader.read(), GUARD)
        writer.close()
        assert await asyncio.wait_for(asyncio.to_thread(server.result), GUARD) == len(data)
    assert len(got) == len(data)
    assert sha(got) == sha(data)


async def upload(
    stack: aionetstack.Stack, data: bytes, midway: Callable[[Any], Awaitable[None]]
) -> None:
    """Send ``data`` to a kernel sink on 2001:2::1 that answers with its digest;
    ``midway(conn)`` runs after the first 4 MiB are queued."""
    with KernelServer(sink_reply_digest, host=KERNEL6) as server:
        reader, writer = await stack.open_connection(KERNEL6, server.port)
        writer.write(data[: 4 * MiB])
        await midway(writer.get_extra_info("connection"))
        writer.write(data[4 * MiB :])
        writer.write_eof()
        reply = await asyncio.wait_for(reader.read(), GUARD)
        writer.close()
        result = await asyncio.wait_for(asyncio.to_thread(server.result), GUARD)
    assert result == (len(data), sha(data))
    assert reply.decode() == sha(data)


@pytest.mark.parametrize("tun6", [1500, 65535], indirect=True, ids=["mtu1500", "mtu65535"])
async def test_upload_32mib_to_kernel_over_ipv6(stack: aionetstack.Stack, tun6: TunLink) -> None:
    async def check_mss(conn: Any) -> None:
        assert conn.snd_mss == tun6.mtu - 60 - 12  # MSS from the IPv6 MTU, timestamps on

    await upload(stack, random_payload(32 * MiB), check_mss)


async def test_ping6_both_ways(stack: aionetstack.Stack) -> None:
    need("ping")
    rc, out, err = await run_tool("ping", "-6", "-n", "-c", "3", "-i", "0.2", "-W", "5", STACK6)
    assert rc == 0, (out + err).decode()
    assert b"3 received" in out
    rtt = await asyncio.wait_for(stack.ping(KERNEL6, timeout=5.0), GUARD)
    assert rtt >= 0.0
    stats = stack.stats()
    assert stats["Icmp6InEchos"] == 3 and stats["Icmp6OutEchoReplies"] == 3
    assert stats["Icmp6InEchoReplies"] == 1


class FirstError(asyncio.DatagramProtocol):
    """Keeps the first error_received()."""

    def __init__(self) -> None:
        self.error: asyncio.Future[Exception] = asyncio.get_running_loop().create_future()

    def error_received(self, exc: Exception) -> None:
        if not self.error.done():
            self.error.set_result(exc)


async def test_connected_udp6_to_closed_kernel_port(stack: aionetstack.Stack) -> None:
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
        s.bind((KERNEL6, 0))
        port = s.getsockname()[1]  # released: closed
    transport, proto = await stack.create_datagram_endpoint(
        FirstError, remote_addr=(KERNEL6, port)
    )
    try:
        # the kernel rate-limits its ICMPv6 errors (net.ipv6.icmp.ratelimit, and
        # the global icmp_msgs_per_sec budget): ask again until one comes
        async with asyncio.timeout(GUARD):
            while not proto.error.done():
                transport.sendto(b"anyone there?")
                await asyncio.wait([proto.error], timeout=0.5)
        exc = proto.error.result()
    finally:
        transport.close()
    assert isinstance(exc, ConnectionRefusedError)
    assert stack.stats()["Icmp6InDestUnreachs"] >= 1


async def test_udp6_echo_with_fragmentation(stack: aionetstack.Stack) -> None:
    """A kernel UDP echo server; 4 KiB datagrams are fragmented by the stack and
    by the kernel at the source, and reassembled on both sides."""
    kernel = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    kernel.bind((KERNEL6, 0))
    kernel.settimeout(GUARD)

    def echo_once() -> None:
        data, addr = kernel.recvfrom(65536)
        kernel.sendto(data, addr)

    replies: asyncio.Queue[bytes] = asyncio.Queue()

    class Proto(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            replies.put_nowait(data)

    payload = random_payload(4000)
    transport, _ = await stack.create_datagram_endpoint(
        Proto, remote_addr=(KERNEL6, kernel.getsockname()[1])
    )
    try:
        echoed = asyncio.ensure_future(asyncio.to_thread(echo_once))
        transport.sendto(payload)
        await asyncio.wait_for(echoed, GUARD)
        assert await asyncio.wait_for(replies.get(), GUARD) == payload
    finally:
        transport.close()
        kernel.close()
    stats = stack.stats()
    assert stats["Ip6FragCreates"] == 3 and stats["Ip6ReasmOKs"] == 1


def _packet_too_big(mtu: int, conn: Any, seq: int) -> bytes:
    """An ICMPv6 Packet Too Big (RFC 4443 3.2; the kernel fills the checksum of a
    raw ICMPv6 socket) quoting a full-size segment of ``conn``."""
    quoted = build_ipv6_tcp(
        conn.local_addr, conn.remote_addr, 0, 64, conn.local_port, conn.remote_port, seq,
        conn.rcv_nxt, ACK, 1000, b"", bytes(1428),
    )  # fmt: skip
    return struct.pack("!BBHI", 2, 0, 0, mtu) + quoted[:1232]


async def test_packet_too_big_lowers_the_mss_and_the_transfer_continues(
    stack: aionetstack.Stack,
) -> None:
    async def packet_too_big(conn: Any) -> None:
        assert conn.remote_addr == ip6_to_int(KERNEL6)
        # the kernel (2001:2::1) reports a 1280-byte link on the path; the quote
        # must name a sequence number in flight (RFC 5927), so it is sent again
        # with the current one until the stack takes it
        with socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6) as raw:
            for _ in range(200):
                raw.sendto(_packet_too_big(1280, conn, conn.snd_una), (STACK6, 0))
                await asyncio.sleep(0.01)
                if conn.snd_mss < 1400:
                    break
        assert conn.snd_mss == 1280 - 60 - 12

    await upload(stack, random_payload(16 * MiB), packet_too_big)
    assert stack.stats()["Icmp6InPktTooBigs"] >= 1


async def test_kernel_ipv6_chatter_is_counted_not_dropped(stack: aionetstack.Stack) -> None:
    """What the kernel sends on its own into an IPv6 device (MLD reports for the
    groups it joins, router solicitations) is counted by type, answered with
    nothing and not counted as an error."""
    engine = stack.engine
    assert engine is not None
    before = engine.stats()
    # a kernel socket joining a group on the device: the kernel reports it (MLDv2)
    group = socket.inet_pton(socket.AF_INET6, "ff02::1:2345")
    mreq = group + struct.pack("@I", socket.if_nametoindex(TUN_NAME))
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as member:
        member.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
        async with asyncio.timeout(GUARD):
            while engine.stats()["Icmp6InMLDv2Reports"] == before["Icmp6InMLDv2Reports"]:
                await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)  # the leave's report too
    stats = engine.stats()
    assert stats["Ip6InMcastPkts"] > before["Ip6InMcastPkts"]
    assert stats["Icmp6InErrors"] == 0 and stats["Ip6InHdrErrors"] == 0
    drops = {k: v for k, v in stats.items() if k.startswith("Drop") and v}
    assert drops == {}
    assert stats["Icmp6OutMsgs"] == 0 and stats["Ip6OutRequests"] == 0  # nothing answered
    # everything that came in was ICMPv6, and every message was counted by its type
    chatter = ("Icmp6InRouterSolicits", "Icmp6InNeighborSolicits", "Icmp6InMLDv2Reports",
               "Icmp6InGroupMembResponses", "Icmp6InGroupMembReductions")  # fmt: skip
    assert stats["Ip6InReceives"] == stats["Icmp6InMsgs"] == sum(stats[n] for n in chatter)


DUAL = ["--address", f"{STACK_ADDRESS},{STACK6}/64", "--kernel-address",
        f"{KERNEL_ADDRESS},{KERNEL6}/64"]  # fmt: skip


def test_cli_connect_and_ping_over_ipv6(in_netns: int) -> None:
    from test_tun_cli import run_cli

    with KernelServer(echo, host=KERNEL6) as server:
        proc = run_cli("connect", *DUAL, KERNEL6, str(server.port), stdin=b"over IPv6\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"over IPv6\n"
    proc = run_cli("ping", *DUAL, KERNEL6, "-c", "2", "-i", "0.05")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert b"2 sent, 2 received" in proc.stdout


def test_cli_serve_dual_stack(in_netns: int) -> None:
    """``serve`` with both families serves every address: curl over IPv6 and IPv4,
    echo and ping over IPv6; the connection lines name the peer as [addr]:port."""
    from test_tun_cli import Serving

    need("curl")
    serving = Serving(*DUAL, "--http", "8080", "--echo", "7", "--stats-interval", "0")
    try:
        for url in (f"http://[{STACK6}]:8080/", f"http://{STACK_IP}:8080/"):
            out = subprocess.run(["curl", "-gsS", url], capture_output=True, timeout=GUARD)
            assert out.stdout.startswith(b"Hello from aionetstack"), out.stderr
        with socket.create_connection((STACK6, 7), timeout=GUARD) as s:
            s.sendall(b"echo me over IPv6\n")
            s.shutdown(socket.SHUT_WR)
            assert s.recv(100) == b"echo me over IPv6\n"
        ping = subprocess.run(["ping", "-6", "-n", "-c", "1", "-W", "5", STACK6],
                              capture_output=True, timeout=GUARD)  # fmt: skip
        assert ping.returncode == 0, ping.stdout
    finally:
        text = serving.stop()
    assert f"[http:8080] [{KERNEL6}]:" in text and f"[http:8080] {KERNEL_IP}:" in text
    assert f"[echo:7] [{KERNEL6}]:" in text
