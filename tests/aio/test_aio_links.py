"""Memory links, the impairment wrapper and the capture wrapper (no stack needed)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

import aionetstack
from aionetstack.link.impair import ImpairedLink
from aionetstack.link.memory import MemoryLink


def packet(i: int, size: int = 100) -> bytes:
    return i.to_bytes(4, "big") + bytes(size - 4)


async def recv_all(end: object, n: int, timeout: float = 5.0) -> list[bytes]:
    out = []
    async with asyncio.timeout(timeout):
        for _ in range(n):
            out.append(await end.recv())  # type: ignore[attr-defined]
    return out


async def test_memory_pair_raw_peers_both_ways() -> None:
    a, b = aionetstack.memory_link_pair()
    assert a.mtu == b.mtu == 1500
    a.send(b"x" * 20)
    b.send_batch([b"y" * 20, b"z" * 20])
    assert await b.recv() == b"x" * 20
    assert await recv_all(a, 2) == [b"y" * 20, b"z" * 20]


async def test_memory_pair_can_be_made_outside_a_coroutine() -> None:
    a, b = await asyncio.get_running_loop().run_in_executor(None, aionetstack.memory_link_pair)
    a.send(b"hello")
    assert await b.recv() == b"hello"


async def test_delivery_is_batched_per_loop_iteration() -> None:
    a, b = aionetstack.memory_link_pair()
    batches: list[list[bytes]] = []
    b.attach(asyncio.get_running_loop(), batches.append)
    for i in range(10):
        a.send(packet(i))
    a.send_batch([packet(i) for i in range(10, 20)])
    assert batches == []  # nothing synchronous
    await asyncio.sleep(0)
    assert len(batches) == 1
    assert [int.from_bytes(p[:4], "big") for p in batches[0]] == list(range(20))
    a.send(packet(99))
    await asyncio.sleep(0)
    assert len(batches) == 2


async def test_oversize_packets_dropped_and_closed_end_drops() -> None:
    a, b = MemoryLink.pair(576, loop_factory=asyncio.get_running_loop)  # type: ignore[arg-type]
    a.send(bytes(577))
    assert a.dropped == 1
    b.close()
    a.send(bytes(10))
    assert a.dropped == 2
    with pytest.raises(OSError):
        await b.recv()


async def test_recv_wakes_with_error_on_close() -> None:
    a, _b = aionetstack.memory_link_pair()
    task = asyncio.ensure_future(a.recv())
    await asyncio.sleep(0)
    a.close()
    with pytest.raises(OSError):
        await task


async def test_loss_is_seeded_and_about_right() -> None:
    def run(seed: int) -> list[int]:
        a, b = MemoryLink.pair(loop_factory=asyncio.get_running_loop)  # type: ignore[arg-type]
        got: list[int] = []
        b.attach(asyncio.get_running_loop(), lambda batch: got.extend(p[3] for p in batch))
        w = ImpairedLink(a, loss=0.3, seed=seed, loop=asyncio.get_running_loop())  # type: ignore[arg-type]
        for i in range(200):
            w.send(bytes([0, 0, 0, i]))
        return got

    first = run(7)
    await asyncio.sleep(0)
    # Deterministic: same seed, same survivors.
    again = run(7)
    other = run(8)
    await asyncio.sleep(0)
    assert first == again
    assert first != other
    assert 100 < len(first) < 180


async def test_delay_rate_and_reorder() -> None:
    loop = asyncio.get_running_loop()
    a, b = aionetstack.memory_link_pair(delay=0.02, seed=1)
    t0 = loop.time()
    a.send(packet(1))
    await b.recv()
    assert loop.time() - t0 >= 0.019

    # rate: 10 packets of 1000 bytes at 100 kB/s take >= ~0.1 s
    a, b = aionetstack.memory_link_pair(rate=100_000, seed=1)
    t0 = loop.time()
    for i in range(10):
        a.send(packet(i, 1000))
    got = await recv_all(b, 10)
    assert loop.time() - t0 >= 0.09
    assert [int.from_bytes(p[:4], "big") for p in got] == list(range(10))

    # reorder: some packets overtaken, none lost
    a, b = aionetstack.memory_link_pair(reorder=0.3, delay=0.001, seed=3)
    for i in range(100):
        a.send(packet(i))
    got = await recv_all(b, 100)
    order = [int.from_bytes(p[:4], "big") for p in got]
    assert sorted(order) == list(range(100))
    assert order != list(range(100))


async def test_duplicate_and_corrupt() -> None:
    a, b = aionetstack.memory_link_pair(duplicate=0.5, seed=5)
    got: list[bytes] = []
    b.attach(asyncio.get_running_loop(), got.extend)
    for i in range(50):
        a.send(packet(i))
    await asyncio.sleep(0.01)
    assert len(got) > 55
    assert a.stats()["egress"]["duplicated"] == len(got) - 50
    assert {int.from_bytes(p[:4], "big") for p in got} == set(range(50))

    a, b = aionetstack.memory_link_pair(corrupt=1.0, seed=5)
    original = packet(1, 200)
    a.send(original)
    bad = await b.recv()
    assert len(bad) == len(original)
    diff = int.from_bytes(bad, "big") ^ int.from_bytes(original, "big")
    assert bin(diff).count("1") == 1


async def test_impair_wraps_any_link_both_directions() -> None:
    inner_a, inner_b = MemoryLink.pair(loop_factory=asyncio.get_running_loop)  # type: ignore[arg-type]
    w = aionetstack.impair(inner_a, loss=1.0, seed=1)
    assert isinstance(w, ImpairedLink)
    got: list[bytes] = []
    w.attach(asyncio.get_running_loop(), got.extend)  # type: ignore[arg-type]
    w.send(b"out")
    inner_b.send(b"in")
    await asyncio.sleep(0.01)
    assert got == []
    assert inner_b._inbox == []
    assert w.stats() == {
        "egress": {
            "passed": 0,
            "dropped": 1,
            "corrupted": 0,
            "duplicated": 0,
            "reordered": 0,
            "delayed": 0,
            "queue_drops": 0,
        },
        "ingress": {
            "passed": 0,
            "dropped": 1,
            "corrupted": 0,
            "duplicated": 0,
            "reordered": 0,
            "delayed": 0,
            "queue_drops": 0,
        },
    }


async def test_capture_writes_both_directions(tmp_path: Path) -> None:
    from aionetstack.link.pcap import read_pcap

    a, b = aionetstack.memory_link_pair()
    path = tmp_path / "t.pcap"
    cap = aionetstack.capture(a, path)
    got: list[bytes] = []
    cap.attach(asyncio.get_running_loop(), got.extend)
    cap.send_batch([b"\x45" + bytes(19), b"\x45" + bytes(39)])
    assert len(await recv_all(b, 2)) == 2
    b.send(b"\x45" + bytes(59))
    await asyncio.sleep(0.01)
    assert len(got) == 1
    cap.close()
    records = read_pcap(path)
    assert [len(p) for _, p in records] == [20, 40, 60]
    assert os.path.getsize(path) > 24
