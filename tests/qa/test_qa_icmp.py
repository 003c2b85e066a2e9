"""ICMP: ping API and the stack as an echo responder."""
from __future__ import annotations

import asyncio

import pytest
from qa_support import A, B, two_stacks
from scapy.layers.inet import ICMP, IP, UDP  # type: ignore
from test_qa_hostile import Raw_

import aionetstack


async def test_concurrent_pings():
    async with two_stacks(delay=0.005) as (a, b):
        rtts = await asyncio.wait_for(asyncio.gather(*[a.ping(B) for _ in range(200)]), 5)
        assert len(rtts) == 200 and all(r >= 0.0095 for r in rtts)  # two link delays
        s = b.stats()
        assert s["IcmpInEchos"] == 200 and s["IcmpOutEchoReps"] == 200


async def test_ping_large_payload_fragmented():
    async with two_stacks(delay=0.005) as (a, b):
        rtt = await a.ping(B, payload=b"p" * 5000)
        assert rtt >= 0.0095  # two link delays
        assert b.stats()["IpReasmOKs"] == 1


async def test_ping_timeout_then_late_reply_no_error(catch_errors):
    async with two_stacks(delay=0.2) as (a, _b):
        with pytest.raises(TimeoutError):
            await a.ping(B, timeout=0.1)
        await asyncio.sleep(0.4)  # the late reply arrives
        assert not catch_errors.errors
        rtt = await a.ping(B, timeout=1)
        assert 0.35 < rtt < 0.6


async def test_stack_answers_raw_echo_and_rate_limits_errors():
    la, lb = aionetstack.memory_link_pair()
    stack = aionetstack.Stack(lb, address=B + "/24")
    async with stack:
        raw = Raw_(la)
        raw.send(IP(src=A, dst=B) / ICMP(type=8, id=7, seq=1) / b"abc")
        rep = await raw.recv()
        assert rep[ICMP].type == 0 and rep[ICMP].id == 7 and bytes(rep[ICMP].payload) == b"abc"
        # broadcast echo ignored
        raw.send(IP(src=A, dst="198.18.0.255") / ICMP(type=8, id=7, seq=2))
        # UDP to closed ports: ICMP port unreachable, rate limited (burst 50)
        for i in range(300):
            raw.send(IP(src=A, dst=B) / UDP(sport=1000, dport=2000 + i) / b"x")
        await asyncio.sleep(0.05)
        got = raw.drain()
        unreach = [p for p in got if ICMP in p and p[ICMP].type == 3]
        echo = [p for p in got if ICMP in p and p[ICMP].type == 0]
        assert echo == []
        assert 40 <= len(unreach) <= 120, len(unreach)
        assert stack.stats()["IcmpOutRateLimited"] > 0
        # ICMP error about an ICMP error must never be sent (RFC 1122)
        raw.send(IP(src=A, dst=B) / ICMP(type=3, code=3) / bytes(IP(src=B, dst=A) / ICMP(type=3, code=3))[:28])
        raw.send(IP(src=A, dst=B, proto=99) / b"unknownproto")
        await asyncio.sleep(0.02)
        got = raw.drain()
        assert len(got) <= 1
