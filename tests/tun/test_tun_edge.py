"""A SYN flood from a tool nobody here wrote (hping3) against a stack listener,
while the kernel connects as a legitimate client (issue 11).

All of it inside the tier's private network namespace: hping3 spoofs one source
address of 198.18.0.0/24 (hping3's ``--rand-source`` draws from all of IPv4,
so it is not used) and a new source port per SYN; the stack's SYN-ACKs to that
address go back into the TUN device, where the namespace's kernel (no
forwarding) drops them. Without SYN cookies the SYN queue filled with the
flood's half-open entries and every legitimate connect failed.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from tun_helpers import PRIVATE_NETNS, STACK_ADDRESS, STACK_IP, TUN_NAME

import aionetstack
from aionetstack.cli import serve_echo
from aionetstack.link.tun import TunLink

PORT = 7011
SPOOFED = "198.18.0.77"  # inside the private namespace's subnet, no host has it
FLOOD_SECONDS = 3.0
CONNECT_EVERY = 0.1
CONNECT_TIMEOUT = 15.0
GUARD = 120.0  # a hang fails the test instead of blocking the run (not a speed check)


@pytest.fixture
async def stack(tun: TunLink) -> AsyncIterator[aionetstack.Stack]:
    async with aionetstack.Stack(tun, address=STACK_ADDRESS) as s:
        yield s


def _legitimate_connect() -> float | None:
    """One kernel client: connect, echo 4 bytes, close; the connect time, or None on
    failure. The kernel retransmits a lost SYN after 1, 3 and 7 s: the timeout allows it.

    The client reads the echo before its FIN: on a device dropping most packets, a
    FIN that overtakes the lost ACK and data fails the SYN cookie check (its
    sequence number is not the SYN's + 1) and is answered with an RST, as Linux's
    cookie_v4_check does."""
    started = time.monotonic()
    try:
        with socket.create_connection((STACK_IP, PORT), timeout=CONNECT_TIMEOUT) as s:
            connected = time.monotonic() - started
            s.sendall(b"ping")
            got = b""
            while len(got) < 4 and (data := s.recv(64)):
                got += data
    except OSError:
        return None
    return connected if got == b"ping" else None


def _tun_tx_dropped() -> int:
    """The kernel's TX drops on the TUN device (packets the stack did not read in time)."""
    out = subprocess.run(["ip", "-s", "-s", "link", "show", "dev", TUN_NAME],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.strip().startswith("TX:"))
    fields = lines[header].split()[1:]
    return int(lines[header + 1].split()[fields.index("dropped")])


async def test_legitimate_connects_survive_hping3_syn_flood(stack: aionetstack.Stack) -> None:
    if shutil.which("hping3") is None:
        pytest.skip("hping3 is not installed: make system-deps")
    assert os.stat("/proc/thread-self/ns/net").st_ino in PRIVATE_NETNS  # never outside
    async with await stack.start_server(serve_echo, STACK_IP, PORT):  # backlog 128
        flood = await asyncio.create_subprocess_exec(
            "hping3", "--flood", "-S", "-p", str(PORT), "-a", SPOOFED, STACK_IP,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            await asyncio.sleep(0.3)  # the flood is on before the first legitimate SYN
            before, drops_before = stack.stats(), _tun_tx_dropped()
            loop = asyncio.get_running_loop()
            attempts = []
            with ThreadPoolExecutor(max_workers=64) as pool:
                for _ in range(int(FLOOD_SECONDS / CONNECT_EVERY)):
                    attempts.append(loop.run_in_executor(pool, _legitimate_connect))
                    await asyncio.sleep(CONNECT_EVERY)
                during, drops = stack.stats(), _tun_tx_dropped() - drops_before
                flood.terminate()  # only the process this test started, by its PID
                results = await asyncio.wait_for(asyncio.gather(*attempts), GUARD)
        finally:
            if flood.returncode is None:
                flood.terminate()  # only the process this test started, by its PID
            await asyncio.wait_for(flood.wait(), GUARD)
    ok = [t for t in results if t is not None]
    segments = during["TcpInSegs"] - before["TcpInSegs"]
    cookies = during["SyncookiesSent"] - before["SyncookiesSent"]
    print(
        f"\nunder hping3 --flood ({FLOOD_SECONDS:.0f} s): {len(ok)}/{len(results)} legitimate "
        f"connects, median {statistics.median(ok) * 1000:.1f} ms, max {max(ok) * 1000:.1f} ms; "
        f"{segments} TCP segments in, {cookies} SYN cookies sent, {drops} packets dropped "
        f"on the TUN device's transmit queue"
    )
    assert cookies > 1000, "the flood did not overflow the SYN queue"
    # before SYN cookies: 0 of them (the SYN queue stayed full of the flood's
    # half-open entries for their 63 s of SYN-ACK retransmissions)
    assert len(ok) >= 0.99 * len(results), results
