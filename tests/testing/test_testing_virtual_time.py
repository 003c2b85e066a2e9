"""The virtual-time loop and the pytest plugin (aionetstack.testing).

Nothing here asserts wall time: the virtual clock is asserted instead, and
reproducibility is checked by running a scenario twice with one seed.
"""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from aionetstack.testing import (
    SERVER_ADDRESS,
    VirtualTimeLoop,
    open_stack_pair,
    run,
)

ROOT = Path(__file__).resolve().parents[2]
PAIRS = 400
REQUEST = b"q" * 100
RESPONSE = b"r" * 1000


async def _echo_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            await reader.readexactly(len(REQUEST))
            writer.write(RESPONSE)
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


async def request_response(client: Any, server: Any, pairs: int = PAIRS) -> dict[str, Any]:
    """``pairs`` sequential request/response exchanges; what happened, on the loop clock."""
    loop = asyncio.get_running_loop()
    await server.start_server(_echo_server, SERVER_ADDRESS, 7)
    t0 = loop.time()
    reader, writer = await client.open_connection(SERVER_ADDRESS, 7)
    done_at = []
    for _ in range(pairs):
        writer.write(REQUEST)
        assert await reader.readexactly(len(RESPONSE)) == RESPONSE
        done_at.append(loop.time() - t0)
    writer.close()
    a, b = client.stats(), server.stats()
    return {
        "done_at": done_at,
        "elapsed": loop.time() - t0,
        "client": a,
        "server": b,
        "link": [_link_stats(s.link) for s in (client, server)],
    }


def _link_stats(link: Any) -> dict[str, Any]:
    return link.stats() if hasattr(link, "stats") else {}  # an unimpaired MemoryLink has none


async def lossy_scenario(loss: float, seed: int) -> dict[str, Any]:
    a, b = await open_stack_pair(loss=loss, delay=0.02, seed=seed)
    try:
        return await request_response(a, b)
    finally:
        await a.close()
        await b.close()


def _retransmitted(result: dict[str, Any]) -> int:
    return int(result["client"]["TcpRetransSegs"] + result["server"]["TcpRetransSegs"])


@pytest.mark.parametrize("loss", [0.05, 0.20])
def test_lossy_request_response_runs_on_the_virtual_clock_and_reproduces(loss: float) -> None:
    first = run(lossy_scenario(loss, seed=11))
    second = run(lossy_scenario(loss, seed=11))
    # 400 round trips of at least 2 * 20 ms each, plus the loss recovery
    assert first["elapsed"] >= PAIRS * 0.04
    assert len(first["done_at"]) == PAIRS
    # the links really dropped packets, and TCP recovered them
    dropped = sum(d["egress"]["dropped"] for d in first["link"])
    assert dropped > 0
    assert _retransmitted(first) > 0
    # the same seed: the same run, to the last timestamp and counter
    assert first == second


def test_a_different_seed_gives_a_different_run() -> None:
    first = run(lossy_scenario(0.05, seed=11))
    other = run(lossy_scenario(0.05, seed=12))
    assert first["done_at"] != other["done_at"]


@pytest.mark.virtual_time
async def test_sleep_takes_virtual_time_only() -> None:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)
    start = loop.time()
    await asyncio.sleep(10)
    assert loop.time() - start == pytest.approx(10.0)
    fired: list[float] = []
    loop.call_at(start + 25.0, lambda: fired.append(loop.time()))
    loop.call_later(3.0, lambda: fired.append(loop.time()))
    await asyncio.sleep(20)
    assert fired == [pytest.approx(start + 13.0), pytest.approx(start + 25.0)]
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(7):
            await asyncio.sleep(3600)
    assert loop.time() - start == pytest.approx(37.0)


@pytest.mark.virtual_time
async def test_real_io_is_an_error() -> None:
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        with pytest.raises(RuntimeError, match="real I/O"):
            loop.add_reader(sock.fileno(), lambda: None)
        with pytest.raises(RuntimeError, match="real I/O"):
            await loop.sock_recv(sock, 1)
        with pytest.raises(RuntimeError, match="real I/O"):
            await loop.create_connection(asyncio.Protocol, "127.0.0.1", 9)
        with pytest.raises(RuntimeError, match="real I/O"):
            await loop.getaddrinfo("localhost", 80)
    finally:
        sock.close()


@pytest.mark.virtual_time
async def test_executor_jobs_hold_the_clock() -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    assert await asyncio.to_thread(sum, [1, 2, 3]) == 6
    assert loop.time() == start


def test_a_deadlock_raises_instead_of_hanging() -> None:
    async def forever() -> None:
        await asyncio.get_running_loop().create_future()

    loop = VirtualTimeLoop(deadlock_timeout=0.05)
    try:
        with pytest.raises(RuntimeError, match="deadlock"):
            loop.run_until_complete(forever())
    finally:
        loop.close()


async def test_unmarked_tests_keep_a_real_loop() -> None:
    assert not isinstance(asyncio.get_running_loop(), VirtualTimeLoop)


@pytest.mark.virtual_time
@pytest.mark.impairment(loss=0.2, delay=0.02, jitter=0.005, reorder=0.05, seed=3)
async def test_stack_pair_fixture_under_loss(stack_pair: Any) -> None:
    client, server = stack_pair
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)
    result = await request_response(client, server, pairs=50)
    assert result["elapsed"] >= 50 * 0.04
    assert _retransmitted(result) > 0
    assert client.link.stats()["egress"]["reordered"] + server.link.stats()["egress"]["reordered"] > 0


@pytest.mark.virtual_time
@pytest.mark.parametrize("stack_pair", [{"delay": 0.5, "seed": 1}], indirect=True)
async def test_stack_pair_indirect_parameters(stack_pair: Any) -> None:
    client, server = stack_pair
    loop = asyncio.get_running_loop()
    result = await request_response(client, server, pairs=3)
    # handshake + 3 exchanges, each a 1 s round trip on the virtual clock
    assert result["done_at"][0] >= 2.0
    assert result["elapsed"] >= 4.0
    assert loop.time() >= 4.0


@pytest.mark.virtual_time
async def test_make_stack_pair_gives_several_pairs(make_stack_pair: Any) -> None:
    a1, b1 = await make_stack_pair(loss=0.0)
    a2, b2 = await make_stack_pair(delay=0.1, seed=4)
    fast = await request_response(a1, b1, pairs=2)
    slow = await request_response(a2, b2, pairs=2)
    assert fast["elapsed"] == 0.0  # a perfect wire takes no (virtual) time
    assert slow["elapsed"] == pytest.approx(3 * 0.2)  # handshake + 2 round trips


async def test_open_stack_pair_rejects_unknown_impairments() -> None:
    with pytest.raises(TypeError, match="lose"):
        await open_stack_pair(lose=0.1)


def test_the_documented_example_runs_in_a_fresh_project(tmp_path: Path) -> None:
    """docs/testing.md's example, run by pytest in another directory: the plugin
    comes from the installed package's pytest11 entry point, not from a conftest."""
    doc = (ROOT / "docs" / "testing.md").read_text()
    (example,) = re.findall(r"```python\n(.*?)```", doc, re.S)
    (tmp_path / "test_example.py").write_text(example)
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_example.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 passed" in out.stdout
