"""Peer-behaviour corner cases driven from a raw memory end."""
from __future__ import annotations

import asyncio

from scapy.layers.inet import IP, TCP  # type: ignore
from test_qa_hostile import A, B, handshake, setup

import aionetstack


def opts(p):
    return dict((k, v) for k, v in p[TCP].options)


async def collect(raw, n, timeout=1.0):
    out = []
    try:
        while len(out) < n:
            out.append(await raw.recv_tcp(timeout))
    except TimeoutError:
        pass
    return out


async def test_peer_without_options():
    stack, raw, accepted, _srv = await setup()
    try:
        raw.send(IP(src=A, dst=B) / TCP(sport=40000, dport=80, flags="S", seq=1000, window=8000))
        sa = await raw.recv_tcp()
        o = opts(sa)
        assert "WScale" not in o and "Timestamp" not in o and "SAckOK" not in o, o
        snd = sa[TCP].seq + 1
        raw.send(IP(src=A, dst=B) / TCP(sport=40000, dport=80, flags="A", seq=1001, ack=snd, window=8000))
        p = await asyncio.wait_for(accepted.get(), 1)
        p.t.write(b"d" * 20000)
        segs = await collect(raw, 100, 0.3)
        sizes = [len(s[TCP].payload) for s in segs if len(s[TCP].payload)]
        assert sizes and max(sizes) <= 536, sizes  # RFC 9293 3.7.1 default MSS
        assert sum(sizes) <= 8000, sum(sizes)  # unscaled window respected
        assert all(len(s[TCP].options) == 0 for s in segs)
    finally:
        await stack.close()


async def test_peer_window_shrinks():
    """The peer retracts its window (RFC 9293 discourages, must be tolerated)."""
    stack, raw, accepted, _srv = await setup()
    try:
        raw.send(IP(src=A, dst=B) / TCP(sport=40000, dport=80, flags="S", seq=1000, window=20000, options=[("MSS", 1000)]))
        sa = await raw.recv_tcp()
        snd = sa[TCP].seq + 1
        raw.send(IP(src=A, dst=B) / TCP(sport=40000, dport=80, flags="A", seq=1001, ack=snd, window=20000))
        p = await asyncio.wait_for(accepted.get(), 1)
        payload = bytes(range(256)) * 100
        p.t.write(payload)
        await collect(raw, 100, 0.2)
        # shrink to zero, acking nothing
        raw.send(IP(src=A, dst=B) / TCP(sport=40000, dport=80, flags="A", seq=1001, ack=snd, window=0))
        await asyncio.sleep(0.3)
        raw.drain()
        # reopen and ack as we go, collecting everything
        got = bytearray()
        nxt = snd
        raw.send(IP(src=A, dst=B) / TCP(sport=40000, dport=80, flags="A", seq=1001, ack=nxt, window=20000))
        deadline = asyncio.get_running_loop().time() + 5
        while len(got) < len(payload) and asyncio.get_running_loop().time() < deadline:
            try:
                s = await raw.recv_tcp(1.5)
            except TimeoutError:
                continue
            pl = bytes(s[TCP].payload)
            off = (nxt - s[TCP].seq) % 2**32
            if pl and off < len(pl):
                got += pl[off:]
                nxt = (nxt + len(pl) - off) % 2**32
                raw.send(IP(src=A, dst=B) / TCP(sport=40000, dport=80, flags="A", seq=1001, ack=nxt, window=20000))
        assert bytes(got) == payload
        assert p.lost is None
    finally:
        await stack.close()


async def test_duplicate_syn_in_syn_received():
    stack, raw, _accepted, _srv = await setup()
    try:
        for _ in range(3):
            raw.send(IP(src=A, dst=B) / TCP(sport=40000, dport=80, flags="S", seq=1000, window=8000))
        await asyncio.sleep(0.02)
        synacks = [p for p in raw.drain() if p[TCP].flags == "SA"]
        assert 1 <= len(synacks) <= 3
        assert len({p[TCP].seq for p in synacks}) == 1
        assert stack.stats()["TcpPassiveOpens"] == 1
    finally:
        await stack.close()


async def test_fin_in_syn_received_and_data_on_third_ack():
    stack, raw, accepted, _srv = await setup()
    try:
        raw.send(IP(src=A, dst=B) / TCP(sport=40000, dport=80, flags="S", seq=1000, window=8000))
        sa = await raw.recv_tcp()
        snd = sa[TCP].seq + 1
        # the third ACK carries data and FIN at once
        raw.send(IP(src=A, dst=B) / TCP(sport=40000, dport=80, flags="FPA", seq=1001, ack=snd, window=8000) / b"GET /")
        p = await asyncio.wait_for(accepted.get(), 1)
        await asyncio.sleep(0.05)
        assert bytes(p.data) == b"GET /" and p.eof
    finally:
        await stack.close()


async def test_rst_in_syn_received_removes_child():
    stack, raw, _accepted, srv = await setup(serve=False)
    try:
        raw.send(IP(src=A, dst=B) / TCP(sport=40000, dport=80, flags="S", seq=1000, window=8000))
        await raw.recv_tcp()
        raw.send(IP(src=A, dst=B) / TCP(sport=40000, dport=80, flags="R", seq=1001))
        await asyncio.sleep(0.02)
        assert stack.engine.connections() == []
        assert srv._listener.syn_pending == 0
    finally:
        await stack.close()


async def test_syn_with_data_is_not_delivered_before_handshake():
    """Data on a SYN (no TFO): must be either queued or dropped, never delivered twice."""
    stack, raw, accepted, _srv = await setup()
    try:
        raw.send(IP(src=A, dst=B) / TCP(sport=40000, dport=80, flags="S", seq=1000, window=8000) / b"early")
        sa = await raw.recv_tcp()
        snd = sa[TCP].seq + 1
        acked = sa[TCP].ack
        raw.send(IP(src=A, dst=B) / TCP(sport=40000, dport=80, flags="PA", seq=1001, ack=snd, window=8000) / b"early")
        p = await asyncio.wait_for(accepted.get(), 1)
        await asyncio.sleep(0.05)
        assert bytes(p.data) == b"early", (bytes(p.data), acked)
    finally:
        await stack.close()


async def test_capture_pcap_both_directions(tmp_path):
    from aionetstack.link.pcap import read_pcap
    path = tmp_path / "t.pcap"
    la, lb = aionetstack.memory_link_pair()
    a = aionetstack.Stack(aionetstack.capture(la, path), address=A + "/24")
    b = aionetstack.Stack(lb, address=B + "/24")
    async with a, b:
        await b.create_server(asyncio.Protocol, B, 80)
        t, _ = await a.create_connection(asyncio.Protocol, B, 80)
        t.write(b"hello")
        await asyncio.sleep(0.05)
    pk = read_pcap(path)
    srcs = {IP(p).src for _, p in pk}
    assert srcs == {A, B}, srcs
    assert any(bytes(IP(p)[TCP].payload) == b"hello" for _, p in pk)


async def test_impair_wrapper_on_stack():
    la, lb = aionetstack.memory_link_pair()
    a = aionetstack.Stack(aionetstack.impair(la, loss=0.05, seed=1), address=A + "/24")
    b = aionetstack.Stack(lb, address=B + "/24")
    async with a, b:
        got = asyncio.get_running_loop().create_future()

        async def cb(r, w):
            got.set_result(await r.read())
        await b.start_server(cb, B, 80)
        _r, w = await a.open_connection(B, 80)
        data = bytes(range(256)) * 2000
        w.write(data)
        w.write_eof()
        assert await asyncio.wait_for(got, 9) == data


async def test_data_and_fin_before_accept_delivered():
    stack, raw, accepted, srv = await setup(serve=False)
    try:
        snd = await handshake(raw)
        raw.send(IP(src=A, dst=B) / TCP(sport=40000, dport=80, flags="PA", seq=1001, ack=snd, window=8000) / b"early-bird")
        raw.send(IP(src=A, dst=B) / TCP(sport=40000, dport=80, flags="FA", seq=1011, ack=snd, window=8000))
        await asyncio.sleep(0.05)
        await srv.start_serving()
        p = await asyncio.wait_for(accepted.get(), 1)
        await asyncio.sleep(0.05)
        assert bytes(p.data) == b"early-bird" and p.eof
    finally:
        await stack.close()


async def test_rst_before_accept():
    stack, raw, accepted, srv = await setup(serve=False)
    try:
        snd = await handshake(raw)
        raw.send(IP(src=A, dst=B) / TCP(sport=40000, dport=80, flags="PA", seq=1001, ack=snd, window=8000) / b"x")
        raw.send(IP(src=A, dst=B) / TCP(sport=40000, dport=80, flags="R", seq=1002))
        await asyncio.sleep(0.05)
        await srv.start_serving()
        await asyncio.sleep(0.05)
        # Linux hands the reset child to accept() (then read gives ECONNRESET) or drops it; either way no crash
        while not accepted.empty():
            p = accepted.get_nowait()
            await asyncio.sleep(0.01)
            assert p.lost is not None
    finally:
        await stack.close()


async def test_ip_options_and_trailing_padding():
    from scapy.layers.inet import IPOption_RR  # type: ignore
    stack, raw, accepted, _srv = await setup()
    try:
        syn = IP(src=A, dst=B, ttl=1, options=[IPOption_RR()]) / TCP(sport=40000, dport=80, flags="S", seq=1000, window=8000)
        raw.send(syn)
        sa = await raw.recv_tcp()
        snd = sa[TCP].seq + 1
        ack = bytes(IP(src=A, dst=B) / TCP(sport=40000, dport=80, flags="A", seq=1001, ack=snd, window=8000))
        raw.link.send(ack + b"\x00" * 6)  # Ethernet-style padding after total_length
        p = await asyncio.wait_for(accepted.get(), 1)
        data = bytes(IP(src=A, dst=B) / TCP(sport=40000, dport=80, flags="PA", seq=1001, ack=snd, window=8000) / b"pad")
        raw.link.send(data + b"\xff" * 10)
        await asyncio.sleep(0.02)
        assert bytes(p.data) == b"pad"
    finally:
        await stack.close()
