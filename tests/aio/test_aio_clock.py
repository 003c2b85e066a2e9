"""Output the application starts after a quiet period uses the current time.

Issue 9, defect 1: the driver used to settle touched connections with the
engine's stored time (the last input's), so a ``write()``, ``write_eof()`` or
``close()`` after an idle pause carried a stale TSval (RFC 7323 4.1) and had its
retransmission timer armed in the past, under the RTO minimum (RFC 6298 2.4, 5.1).

The peer is scripted on the raw end of a memory link. TSvals tick in
milliseconds of the stack's clock (``loop.time()``), so they serve as its
readout: a segment's send time relative to the SYN-ACK's is exact, whatever
the scheduling delays of the test itself.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from scapy.layers.inet import IP, TCP  # type: ignore[import-untyped]

import aionetstack

A = "198.18.0.1"  # the scripted peer
B = "198.18.0.2"  # the stack
MASK = 0xFFFFFFFF
PAUSE = 0.3
RTO_MIN = aionetstack.StackConfig().rto_min


class Keep(asyncio.Protocol):
    """Keeps the connection open after the peer's FIN (CLOSE-WAIT)."""

    def __init__(self, made: asyncio.Queue[asyncio.Transport]) -> None:
        self.made = made
        self.eof = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.made.put_nowait(transport)  # type: ignore[arg-type]

    def eof_received(self) -> bool:
        self.eof.set()
        return True


def _ts(p: Any) -> tuple[int, int]:
    value: tuple[int, int] = dict(p[TCP].options)["Timestamp"]
    return value


async def _recv_tcp(raw: Any, timeout: float = 2.0) -> Any:
    while True:
        p = IP(await asyncio.wait_for(raw.recv(), timeout))
        if TCP in p:
            return p


@pytest.mark.parametrize(
    ("action", "peer_fin"),
    [("write", False), ("write_eof", False), ("close", True), ("write_eof", True)],
)
async def test_output_after_idle_pause_has_fresh_tsval_and_full_rto(
    action: str, peer_fin: bool
) -> None:
    link, raw = aionetstack.memory_link_pair()
    loop = asyncio.get_running_loop()
    async with aionetstack.Stack(link, address=f"{B}/24") as stack:
        made: asyncio.Queue[asyncio.Transport] = asyncio.Queue()
        protocol = Keep(made)
        await stack.create_server(lambda: protocol, B, 80)
        ts = 1000
        syn = IP(src=A, dst=B) / TCP(
            sport=40000, dport=80, flags="S", seq=100, window=65535,
            options=[("MSS", 1460), ("Timestamp", (ts, 0))],
        )  # fmt: skip
        raw.send(bytes(syn))
        synack = await _recv_tcp(raw)
        seen_synack = loop.time()  # the SYN-ACK was sent at or before this time
        tsval_synack, _ = _ts(synack)
        snd = (synack[TCP].seq + 1) & MASK
        rcv = 101
        ack = IP(src=A, dst=B) / TCP(
            sport=40000, dport=80, flags="A", seq=rcv, ack=snd, window=65535,
            options=[("Timestamp", (ts + 1, tsval_synack))],
        )  # fmt: skip
        raw.send(bytes(ack))
        transport = await asyncio.wait_for(made.get(), 2)
        if peer_fin:
            fin = IP(src=A, dst=B) / TCP(
                sport=40000, dport=80, flags="FA", seq=rcv, ack=snd, window=65535,
                options=[("Timestamp", (ts + 2, tsval_synack))],
            )  # fmt: skip
            raw.send(bytes(fin))
            await asyncio.wait_for(protocol.eof.wait(), 2)
            fin_ack = await _recv_tcp(raw)  # the ACK of our FIN
            assert fin_ack[TCP].ack == rcv + 1
        with pytest.raises(TimeoutError):  # the quiet period: no input, no output
            await _recv_tcp(raw, timeout=PAUSE)
        start = loop.time()  # the application acts at or after this time
        if action == "write":
            transport.write(b"x" * 100)
        elif action == "write_eof":
            transport.write_eof()
        else:
            transport.close()
        first = await _recv_tcp(raw)
        tsval_first, _ = _ts(first)
        # RFC 7323 4.1: the TSval of the new segment is the clock at the call
        elapsed_ms = (tsval_first - tsval_synack) & MASK
        assert elapsed_ms >= int((start - seen_synack) * 1000) - 1, (elapsed_ms, start)
        if action == "write":
            assert len(first[TCP].payload) == 100
        else:
            assert first[TCP].flags.F
        # Unacknowledged: the first copy sent again of the same sequence must
        # leave at least the minimum RTO after the call (RFC 6298 2.4, 5.1).
        while True:
            again = await _recv_tcp(raw, timeout=3.0)
            if again[TCP].seq == first[TCP].seq:
                break
        tsval_again, _ = _ts(again)
        resent_ms = (tsval_again - tsval_synack) & MASK
        assert resent_ms >= int((start - seen_synack + RTO_MIN) * 1000) - 1, (resent_ms, start)
        transport.abort()
