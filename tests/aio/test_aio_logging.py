"""Logging (issue 14): ``aionetstack.tcp`` at DEBUG from the first transition,
connection summaries, rate-limited WARNINGs for limits and drop bursts; the
tracer sees CLOSED -> SYN-SENT too."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from aio_support import A_ADDR, B_ADDR, make_stacks

import aionetstack
from aionetstack.aio import logs
from aionetstack.core.config import StackConfig

T = 10.0


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(await reader.read(100))
    writer.close()


async def one_exchange(a: aionetstack.Stack, b: aionetstack.Stack) -> None:
    async with await b.start_server(echo, B_ADDR, 7), asyncio.timeout(T):
        reader, writer = await a.open_connection(B_ADDR, 7)
        writer.write(b"ping")
        assert await reader.read() == b"ping"
        writer.close()
        await writer.wait_closed()
        await asyncio.sleep(0.05)


async def test_debug_log_from_the_first_transition(
    stacks: Any, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = stacks
    with caplog.at_level(logging.DEBUG, logger="aionetstack"):
        await one_exchange(a, b)
    lines = [r.getMessage() for r in caplog.records if r.name == "aionetstack.tcp"]
    client = [line for line in lines if line.startswith(f"{A_ADDR}:")]
    assert "CLOSED -> SYN-SENT" in client[0]
    assert any("SYN-SENT -> ESTABLISHED" in line for line in client)
    server = [line for line in lines if line.startswith(f"{B_ADDR}:7>")]
    assert any("-> ESTABLISHED" in line for line in server)
    summaries = [line for line in lines if " ended in " in line]
    assert len(summaries) == 2  # one per transport
    assert any("sent 4 bytes" in line and "received 4 bytes" in line for line in summaries)


async def test_silent_unless_enabled(stacks: Any, caplog: pytest.LogCaptureFixture) -> None:
    a, b = stacks
    with caplog.at_level(logging.INFO, logger="aionetstack"):
        await one_exchange(a, b)
    assert not [r for r in caplog.records if r.name.startswith("aionetstack")]


async def test_tracer_sees_the_first_transition() -> None:
    seen: list[tuple[Any, str]] = []
    la, lb = aionetstack.memory_link_pair()
    a = aionetstack.Stack(la, f"{A_ADDR}/24", tracer=lambda conn, line: seen.append((conn, line)))
    b = aionetstack.Stack(lb, f"{B_ADDR}/24")
    async with a, b:
        await one_exchange(a, b)
    first_conn, first_line = seen[0]
    assert "CLOSED -> SYN-SENT" in first_line
    states = [
        line.split(" ", 1)[1].split(":")[0] for conn, line in seen if conn is first_conn
    ]
    assert states[:2] == ["CLOSED -> SYN-SENT", "SYN-SENT -> ESTABLISHED"]


def test_drop_watch_rate_limits(caplog: pytest.LogCaptureFixture) -> None:
    class Link:
        dropped = 0

    link = Link()
    watch = logs.DropWatch(link)
    stats = {"DropTcpNoSocket": 0, "ListenDrops": 0, "TcpInSegs": 0}
    with caplog.at_level(logging.WARNING, logger="aionetstack"):
        watch.check(stats, 0.0)
        assert not caplog.records and watch.next_check == logs.CHECK_INTERVAL
        stats["DropTcpNoSocket"] = logs.DROP_BURST - 1  # below a burst
        stats["TcpInSegs"] = 10_000
        watch.check(stats, 1.0)
        assert not caplog.records
        stats["DropTcpNoSocket"] += logs.DROP_BURST  # a burst
        stats["ListenDrops"] = 3  # a limit
        link.dropped = 2
        watch.check(stats, 2.0)
        messages = [(r.name, r.getMessage()) for r in caplog.records]
        assert messages == [
            ("aionetstack.stack", "resource limits reached: ListenDrops 3"),
            ("aionetstack.stack", f"{logs.DROP_BURST} packets dropped: DropTcpNoSocket 50"),
            ("aionetstack.link", f"2 packets could not be sent on {link!r}"),
        ]
        caplog.clear()
        stats["ListenDrops"] += 1
        watch.check(stats, 3.0)  # within WARN_INTERVAL: held back
        assert not caplog.records
        stats["ListenDrops"] += 1
        watch.check(stats, 2.0 + logs.WARN_INTERVAL)
        assert [r.getMessage() for r in caplog.records] == [
            "resource limits reached: ListenDrops 1 (1 similar warnings suppressed)"
        ]


async def test_full_accept_queue_warns(caplog: pytest.LogCaptureFixture) -> None:
    """The driver runs the watch: a listener that does not accept overflows.
    (SYN cookies off: with them a full SYN queue answers with cookies instead.)"""
    a, b = await make_stacks(StackConfig(syncookies=0))
    try:
        server = await b.create_server(asyncio.Protocol, B_ADDR, 7, backlog=1, start_serving=False)
        with caplog.at_level(logging.WARNING, logger="aionetstack.stack"):
            attempts = [
                asyncio.ensure_future(a.create_connection(asyncio.Protocol, B_ADDR, 7))
                for _ in range(4)
            ]
            await asyncio.sleep(1.2)  # the SYN retransmissions wake b past the interval
            for attempt in attempts:
                attempt.cancel()
        warnings = [r.getMessage() for r in caplog.records]
        assert any(m.startswith("resource limits reached: ListenDrops") for m in warnings)
        server.close()
    finally:
        await a.close()
        await b.close()
