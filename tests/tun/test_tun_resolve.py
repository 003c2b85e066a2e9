"""The Stack's DNS stub resolver against dnsmasq on the kernel side of a TUN
device (198.18.0.1:53), inside the tier's private network namespace."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tun_helpers import KERNEL6, KERNEL_IP, STACK_ADDRESS, STACK_ADDRESSES, KernelServer, echo

import aionetstack
from aionetstack.aio.resolver import DnsResolver
from aionetstack.link.tun import TunLink

GUARD = 60.0
BIG = [f"198.18.1.{i}" for i in range(1, 41)]  # 40 A records: more than 512 bytes


@contextlib.contextmanager
def run_dnsmasq(tmp_path: Path, hosts: list[str], listen: list[str]) -> Iterator[None]:
    """dnsmasq answering for *.example.test from ``hosts`` lines, on the
    ``listen`` addresses only (no upstream), until the block ends."""
    if shutil.which("dnsmasq") is None:
        pytest.skip("dnsmasq is not installed: make system-deps")
    hosts_file = tmp_path / "hosts"
    hosts_file.write_text("\n".join(hosts) + "\n")
    proc = subprocess.Popen(
        [
            "dnsmasq",
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            f"--addn-hosts={hosts_file}",
            "--cname=alias.example.test,www.example.test",
            "--local=/example.test/",  # never forward: NXDOMAIN for unknown names
            *(f"--listen-address={address}" for address in listen),
            "--bind-interfaces",
            "--port=53",
            "--local-ttl=60",
            "--user=root",
            f"--pid-file={tmp_path / 'dnsmasq.pid'}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(100):  # until it answers (a kernel socket in the same namespace)
            try:
                socket.create_connection((listen[0], 53), timeout=0.1).close()
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"dnsmasq exited: {proc.stderr.read() if proc.stderr else b''!r}")
                subprocess.run(["sleep", "0.05"], check=True)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def dnsmasq(tun: TunLink, tmp_path: Path) -> Iterator[None]:
    """dnsmasq on 198.18.0.1: www (and its alias), big (40 A records)."""
    lines = [f"{KERNEL_IP} www.example.test"] + [f"{ip} big.example.test" for ip in BIG]
    with run_dnsmasq(tmp_path, lines, [KERNEL_IP]):
        yield


async def test_resolver_against_dnsmasq(tun: TunLink, dnsmasq: object) -> None:
    config = aionetstack.StackConfig(nameservers=[KERNEL_IP], resolver_timeout=2.0)
    server = KernelServer(echo)
    try:
        async with aionetstack.Stack(tun, STACK_ADDRESS, config=config) as stack:
            resolver = stack.resolver
            assert isinstance(resolver, DnsResolver)
            async with asyncio.timeout(GUARD):
                assert await stack.resolve("www.example.test") == [KERNEL_IP]
                assert await stack.resolve("alias.example.test") == [KERNEL_IP]  # CNAME
                # a name to connect to: the kernel's echo server
                reader, writer = await stack.open_connection("www.example.test", server.port)
                writer.write(b"over a name\n")
                await writer.drain()
                writer.write_eof()
                assert await reader.read() == b"over a name\n"
                writer.close()
                # cached (dnsmasq gives a 60 s TTL): no new query
                queries = resolver.queries
                assert await stack.resolve("www.example.test") == [KERNEL_IP]
                assert resolver.queries == queries
                # too big for 512 bytes of UDP: TC, then TCP
                assert sorted(await stack.resolve("big.example.test")) == sorted(BIG)
                assert resolver.tcp_queries == 1
                with pytest.raises(socket.gaierror) as info:
                    await stack.resolve("missing.example.test")
                assert info.value.errno == socket.EAI_NONAME
    finally:
        server.close()


async def test_resolver_asks_aaaa_of_dnsmasq_over_ipv6(tun6: TunLink, tmp_path: Path) -> None:
    """A dual-stack stack asks dnsmasq on 2001:2::1 for A and AAAA (RFC 3596)
    and connects to the kernel's echo server over IPv6 by name."""
    lines = [f"{KERNEL6} www.example.test", f"{KERNEL_IP} www.example.test",
             f"{KERNEL6} v6only.example.test"]  # fmt: skip
    config = aionetstack.StackConfig(nameservers=[KERNEL6], resolver_timeout=2.0)
    server = KernelServer(echo, host=KERNEL6)
    try:
        with run_dnsmasq(tmp_path, lines, [KERNEL6]):
            async with aionetstack.Stack(tun6, STACK_ADDRESSES, config=config) as stack:
                resolver = stack.resolver
                assert isinstance(resolver, DnsResolver)
                async with asyncio.timeout(GUARD):
                    assert await stack.resolve("www.example.test") == [KERNEL6, KERNEL_IP]
                    assert resolver.queries == 2  # A and AAAA
                    assert await stack.resolve("alias.example.test") == [KERNEL6, KERNEL_IP]
                    assert await stack.resolve("v6only.example.test") == [KERNEL6]
                    reader, writer = await stack.open_connection("www.example.test", server.port)
                    assert writer.get_extra_info("peername") == (KERNEL6, server.port, 0, 0)
                    writer.write(b"over IPv6 by name\n")
                    writer.write_eof()
                    assert await reader.read() == b"over IPv6 by name\n"
                    writer.close()
                    with pytest.raises(socket.gaierror) as info:
                        await stack.resolve("missing.example.test")
                    assert info.value.errno == socket.EAI_NONAME
                stats = stack.stats()
                assert stats["Udp6InDatagrams"] >= 6 and stats["UdpInDatagrams"] == 0
    finally:
        server.close()
