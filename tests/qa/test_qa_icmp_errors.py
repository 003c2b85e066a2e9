"""ICMP errors reaching TCP connections: unreachable during connect, path MTU."""
from __future__ import annotations

import asyncio
import errno
import time

import pytest
from qa_support import A, B
from scapy.layers.inet import ICMP, IP, TCP  # type: ignore

import aionetstack
from aionetstack.core.config import StackConfig


async def test_icmp_host_unreach_during_connect():
    """ICMP host unreachable in SYN-SENT is a soft error reported on timeout."""
    cfg = StackConfig(syn_retries=1, rto_initial=0.1)
    la, lb = aionetstack.memory_link_pair()
    a = aionetstack.Stack(la, address=A + "/24", config=cfg)
    async with a:
        task = asyncio.ensure_future(a.open_connection(B, 80))
        syn = IP(await asyncio.wait_for(lb.recv(), 1))
        assert syn[TCP].flags == "S"
        lb.send(bytes(IP(src=B, dst=A) / ICMP(type=3, code=1) / bytes(syn)[:28]))
        t0 = time.monotonic()
        with pytest.raises(OSError) as ei:
            await asyncio.wait_for(task, 3)
        print(repr(ei.value), time.monotonic() - t0)
        assert ei.value.errno in (errno.ETIMEDOUT, errno.EHOSTUNREACH)
        assert "no route" in str(ei.value).lower() or ei.value.errno == errno.EHOSTUNREACH


async def test_icmp_frag_needed_lowers_mss():
    """PMTUD: ICMP frag-needed with next-hop MTU 576 -> segments shrink, data still flows."""
    la, lb = aionetstack.memory_link_pair()
    a = aionetstack.Stack(la, address=A + "/24")
    async with a:
        asyncio.get_running_loop().create_future()
        task = asyncio.ensure_future(a.open_connection(B, 80))
        syn = IP(await asyncio.wait_for(lb.recv(), 1))
        isn = 5000
        lb.send(bytes(IP(src=B, dst=A) / TCP(sport=80, dport=syn[TCP].sport, flags="SA", seq=isn,
                                             ack=syn[TCP].seq + 1, window=65535, options=[("MSS", 1460)])))
        _r, w = await asyncio.wait_for(task, 1)
        IP(await lb.recv())
        w.write(b"z" * 3000)
        seg = IP(await lb.recv())
        while not len(seg[TCP].payload):
            seg = IP(await lb.recv())
        assert len(seg) == 1500 or len(seg[TCP].payload) > 1000
        lb.send(bytes(IP(src=B, dst=A) / ICMP(type=3, code=4, nexthopmtu=576) / bytes(seg)[:28]))
        await asyncio.sleep(0.01)
        info = w.get_extra_info("tcp_info")
        assert info.snd_mss <= 576 - 40, info.snd_mss
