"""TunLink on its own: raw packets between the test and the Linux kernel.

No TCP/IP stack here: the test plays the stack by hand, building packets with
Scapy (an independent implementation), so TunLink is tested before, and apart
from, everything above it.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import json
import os
import shutil
import socket
import subprocess
import sys
from typing import Any

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from tun_helpers import KERNEL_IP, PRIVATE_NETNS, STACK_IP, TUN_NAME, make_tun

from aionetstack.link.tun import TunLink


def _ip_addr_show() -> dict[str, Any] | None:
    out = subprocess.run(
        ["ip", "-j", "addr", "show", "dev", TUN_NAME], capture_output=True, text=True
    )
    if out.returncode != 0:
        return None
    data: list[dict[str, Any]] = json.loads(out.stdout)
    return data[0] if data else None


def test_device_configured_and_removed_on_close(in_netns: int) -> None:
    link = make_tun(mtu=9000)
    info = _ip_addr_show()
    assert info is not None
    assert info["mtu"] == 9000
    assert "UP" in info["flags"]
    inet = [a for a in info["addr_info"] if a["family"] == "inet"]
    assert [(a["local"], a["prefixlen"]) for a in inet] == [(KERNEL_IP, 24)]
    assert link.mtu == 9000
    assert link.name == TUN_NAME
    assert link.kernel_address == f"{KERNEL_IP}/24"
    assert os.get_blocking(link.fileno()) is False
    link.close()
    link.close()  # idempotent
    assert link.closed
    assert _ip_addr_show() is None


def test_without_kernel_address_device_is_left_down(in_netns: int) -> None:
    with make_tun(mtu=1400, kernel_address=None) as link:
        info = _ip_addr_show()
        assert info is not None
        assert info["mtu"] == 1400
        assert "UP" not in info["flags"]
        assert link.kernel_address is None


@pytest.mark.parametrize("mtu", [575, 65536, 0, -1, True, 1500.0])
def test_mtu_validated(in_netns: int, mtu: Any) -> None:
    with pytest.raises(ValueError, match="mtu"):
        TunLink(TUN_NAME, mtu=mtu)


@pytest.mark.parametrize("name", ["", "x" * 16, "a/b"])
def test_name_validated(in_netns: int, name: str) -> None:
    with pytest.raises(ValueError, match="name"):
        TunLink(name)


@pytest.mark.parametrize("address", ["198.18.0.1/33", "banana", "198.18.0.300/24"])
def test_kernel_address_validated(in_netns: int, address: str) -> None:
    with pytest.raises(ValueError, match="kernel_address"):
        TunLink(TUN_NAME, kernel_address=address)


def test_name_in_use_is_ebusy(tun: TunLink) -> None:
    with pytest.raises(OSError) as info:
        TunLink(TUN_NAME)
    assert info.value.errno == errno.EBUSY
    assert "in use" in str(info.value)


def test_missing_device_file(in_netns: int) -> None:
    with pytest.raises(FileNotFoundError, match="modprobe tun"):
        TunLink(TUN_NAME, device_path="/nonexistent/net/tun")


def test_unprivileged_gets_permission_error(in_netns: int) -> None:
    code = (
        "from aionetstack.link.tun import TunLink\n"
        "try:\n    TunLink('ans9')\n"
        "except PermissionError as e:\n    print('PERM', e)\n"
    )

    def drop_root() -> None:
        # Still uid 0, but CAP_NET_ADMIN leaves the bounding set, so the exec'd
        # interpreter never has it (prctl(PR_CAPBSET_DROP, CAP_NET_ADMIN)).
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(24, 12, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "PR_CAPBSET_DROP failed")

    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        preexec_fn=drop_root,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
        check=False,
    )
    assert out.stdout.startswith("PERM"), out.stdout + out.stderr
    assert "CAP_NET_ADMIN" in out.stdout


async def test_kernel_ping_answered_by_hand(tun: TunLink) -> None:
    """The kernel pings 198.18.0.2; the test answers each echo with a Scapy-built reply."""
    loop = asyncio.get_running_loop()
    seen: list[bytes] = []

    def on_packets(batch: list[bytes]) -> None:
        for raw in batch:
            seen.append(raw)
            pkt = IP(raw)
            if pkt.haslayer(ICMP) and pkt[ICMP].type == 8 and pkt.dst == STACK_IP:
                reply = (
                    IP(src=STACK_IP, dst=pkt.src)
                    / ICMP(type=0, id=pkt[ICMP].id, seq=pkt[ICMP].seq)
                    / bytes(pkt[ICMP].payload)
                )
                tun.send(bytes(reply))

    tun.attach(loop, on_packets)
    try:
        if shutil.which("ping"):
            proc = await asyncio.create_subprocess_exec(
                "ping",
                "-n",
                "-c",
                "3",
                "-i",
                "0.2",
                "-W",
                "5",
                STACK_IP,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            out, _ = await asyncio.wait_for(proc.communicate(), 30)
            assert proc.returncode == 0, out.decode()
            assert b"3 received" in out
        else:
            replies = await asyncio.wait_for(asyncio.to_thread(_raw_ping, STACK_IP, 3), 30)
            assert replies == 3
    finally:
        tun.detach()
    assert sum(1 for raw in seen if IP(raw).haslayer(ICMP)) >= 3
    assert tun.stats["tx_packets"] >= 3
    assert tun.stats["rx_packets"] >= 3


def _raw_ping(dest: str, count: int) -> int:
    """Kernel-side echo requests through a raw ICMP socket (when `ping` is missing)."""
    got = 0
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as s:
        s.settimeout(5)
        for seq in range(count):
            req = bytes(ICMP(type=8, id=0x4242, seq=seq) / b"aionetstack")
            s.sendto(req, (dest, 0))
            while True:
                data, _ = s.recvfrom(2048)
                icmp = IP(data)[ICMP]
                if icmp.type == 0 and icmp.id == 0x4242 and icmp.seq == seq:
                    got += 1
                    break
    return got


def _udp_sink() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    sock.bind((KERNEL_IP, 9000))
    sock.settimeout(5)
    return sock


def _udp_packet(i: int, size: int = 32) -> bytes:
    payload = (i.to_bytes(4, "big") * (size // 4 + 1))[:size]
    return bytes(IP(src=STACK_IP, dst=KERNEL_IP) / UDP(sport=5000, dport=9000) / payload)


def test_inject_packets_into_kernel(tun: TunLink) -> None:
    """Packets written to the TUN fd reach a kernel socket intact and in order."""
    with _udp_sink() as sink:
        tun.send(_udp_packet(0))
        tun.send_batch([_udp_packet(i) for i in range(1, 100)])
        got = [sink.recvfrom(2048) for _ in range(100)]
    assert [int.from_bytes(d[:4], "big") for d, _ in got] == list(range(100))
    assert all(addr == (STACK_IP, 5000) for _, addr in got)
    assert tun.stats["tx_packets"] == 100
    assert tun.stats["tx_dropped"] == tun.stats["tx_errors"] == tun.stats["tx_queued"] == 0


def test_send_batch_mixed_items_and_a_bad_packet(tun: TunLink) -> None:
    """bytes, bytearray and memoryview items, and a packet the kernel refuses in the
    middle: the others arrive in order, the bad one is counted (compiled loop + os.write)."""
    packets: list[Any] = [_udp_packet(i) for i in range(10)]
    packets[3] = bytearray(packets[3])
    packets[6] = memoryview(packets[6])
    packets.insert(5, b"\x00" * 20)  # IP version 0: EINVAL
    with _udp_sink() as sink:
        tun.send_batch(packets)
        got = [sink.recvfrom(2048)[0] for _ in range(10)]
    assert [int.from_bytes(d[:4], "big") for d in got] == list(range(10))
    assert tun.stats["tx_packets"] == 10
    assert tun.stats["tx_bytes"] == sum(len(p) for p in packets) - 20
    assert tun.stats["tx_errors"] == 1


def test_big_packet_at_mtu_65535(in_netns: int) -> None:
    with make_tun(mtu=65535) as link, _udp_sink() as sink:
        link.send(_udp_packet(7, size=65535 - 28))
        data, _ = sink.recvfrom(70000)
    assert len(data) == 65535 - 28


def test_invalid_packet_counted_not_raised(tun: TunLink) -> None:
    tun.send(b"\x00" * 20)  # IP version 0: the kernel refuses it with EINVAL
    assert tun.stats["tx_errors"] == 1
    assert tun.stats["tx_packets"] == 0


async def test_reads_in_bounded_batches(tun: TunLink) -> None:
    """300 datagrams queued by the kernel arrive in batches of at most read_batch (256)."""
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        for i in range(300):  # queued in the device (txqueuelen 500) before we attach
            tx.sendto(i.to_bytes(4, "big"), (STACK_IP, 7777))
    batches: list[list[bytes]] = []
    done = loop.create_future()

    def on_packets(batch: list[bytes]) -> None:
        batches.append(batch)
        if sum(map(len, batches)) >= 300 and not done.done():
            done.set_result(None)

    tun.attach(loop, on_packets)
    try:
        await asyncio.wait_for(done, 10)
    finally:
        tun.detach()
    # The kernel may add its own IPv6 chatter (router solicitations) to the queue.
    assert len(batches) == 2 and len(batches[0]) == 256, [len(b) for b in batches]
    udp = [IP(raw)[UDP] for b in batches for raw in b if raw[0] >> 4 == 4]
    assert [int.from_bytes(bytes(u.payload), "big") for u in udp] == list(range(300))
    assert tun.stats["rx_batches"] == 2


class _FakeLoop:
    """Records add_writer/remove_writer; enough of EventLoopLike for the write path."""

    def __init__(self) -> None:
        self.writers: dict[int, Any] = {}
        self.readers: dict[int, Any] = {}

    def add_reader(self, fd: int, cb: Any, *args: Any) -> None:
        self.readers[fd] = cb

    def remove_reader(self, fd: int) -> bool:
        return self.readers.pop(fd, None) is not None

    def add_writer(self, fd: int, cb: Any, *args: Any) -> None:
        self.writers[fd] = cb

    def remove_writer(self, fd: int) -> bool:
        return self.writers.pop(fd, None) is not None


def test_write_queue_on_eagain(tun: TunLink, monkeypatch: pytest.MonkeyPatch) -> None:
    """EAGAIN queues (bounded, in order) and add_writer drains; overflow is counted."""
    small = make_tun_queue_limit(tun, 5)
    loop = _FakeLoop()
    small.attach(loop, lambda batch: None)  # type: ignore[arg-type]
    real_write = os.write

    def busy(fd: int, data: bytes) -> int:
        raise BlockingIOError(errno.EAGAIN, "busy")

    with _udp_sink() as sink:
        monkeypatch.setattr(os, "write", busy)
        small.send(_udp_packet(0))
        small.send_batch([_udp_packet(i) for i in range(1, 7)])
        monkeypatch.setattr(os, "write", real_write)
        assert small.stats["tx_queued"] == 5
        assert small.stats["tx_dropped"] == 2
        assert small.stats["tx_packets"] == 0
        small.send(_udp_packet(99))  # queue not empty: waits behind the others (full: dropped)
        assert small.stats["tx_dropped"] == 3
        writer = loop.writers[small.fileno()]
        writer()
        assert small.fileno() not in loop.writers  # drained: writer removed
        got = [int.from_bytes(sink.recv(2048)[:4], "big") for _ in range(5)]
    assert got == [0, 1, 2, 3, 4]
    assert small.stats["tx_packets"] == 5
    small.detach()


def make_tun_queue_limit(tun: TunLink, limit: int) -> TunLink:
    tun._tx_limit = limit
    return tun


def test_send_after_close_is_counted(in_netns: int) -> None:
    link = make_tun()
    link.close()
    link.send(_udp_packet(0))
    link.send_batch([_udp_packet(1), _udp_packet(2)])
    assert link.stats["tx_dropped"] == 3
    with pytest.raises(ValueError):
        link.fileno()


@pytest.mark.parametrize(("txqueuelen", "expected"), [(None, 500), (12345, 12345)])
def test_txqueuelen(in_netns: int, txqueuelen: int | None, expected: int) -> None:
    """The device's transmit queue (the kernel's packets waiting for the reader):
    4096 by default (the kernel's 500 overflowed under 1,000 concurrent connects),
    None keeps the kernel's default."""
    with make_tun() as link:
        info = _ip_addr_show()
        assert info is not None and info["txqlen"] == 4096, info
        assert link.name == TUN_NAME
    assert PRIVATE_NETNS and os.stat("/proc/thread-self/ns/net").st_ino in PRIVATE_NETNS
    with TunLink(TUN_NAME, txqueuelen=txqueuelen):
        info = _ip_addr_show()
        assert info is not None and info["txqlen"] == expected, info


def test_txqueuelen_validated(in_netns: int) -> None:
    with pytest.raises(ValueError, match="txqueuelen"):
        TunLink(TUN_NAME, txqueuelen=0)
