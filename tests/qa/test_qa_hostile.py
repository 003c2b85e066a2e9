"""A raw peer (unowned memory end) sending hostile and malformed packets."""
from __future__ import annotations

import asyncio
import random

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP  # type: ignore
from scapy.packet import Raw  # type: ignore

import aionetstack

A = "198.18.0.1"
B = "198.18.0.2"


class Raw_:
    def __init__(self, link):
        from aionetstack.link.memory import RawReceiver
        self.link = link
        loop = asyncio.get_running_loop()
        link._raw = RawReceiver(loop)
        link.attach(loop, link._raw.on_packets)

    def send(self, pkt):
        self.link.send(bytes(pkt))

    async def recv(self, timeout=1.0):
        return IP(await asyncio.wait_for(self.link.recv(), timeout))

    async def recv_tcp(self, timeout=1.0):
        while True:
            p = await self.recv(timeout)
            if TCP in p:
                return p

    def drain(self):
        out = []
        raw = self.link._raw
        while raw is not None and (p := raw.recv_nowait()) is not None:
            out.append(IP(p))
        return out


async def setup(config=None, backlog=128, serve=True):
    la, lb = aionetstack.memory_link_pair()
    stack = aionetstack.Stack(lb, address=B + "/24", config=config)
    await stack.start()
    accepted = asyncio.Queue()

    class P(asyncio.Protocol):
        def __init__(self):
            self.data = bytearray()
            self.lost = None
            self.eof = False

        def connection_made(self, t):
            self.t = t
            accepted.put_nowait(self)

        def data_received(self, d):
            self.data += d

        def eof_received(self):
            self.eof = True
            return True

        def connection_lost(self, exc):
            self.lost = exc if exc is not None else "clean"
    srv = await stack.create_server(P, B, 80, backlog=backlog, start_serving=serve)
    return stack, Raw_(la), accepted, srv


async def handshake(raw, sport=40000, isn=1000, opts=None):
    opts = opts if opts is not None else [("MSS", 1460)]
    raw.send(IP(src=A, dst=B) / TCP(sport=sport, dport=80, flags="S", seq=isn, window=65535, options=opts))
    sa = await raw.recv_tcp()
    assert sa[TCP].flags == "SA", sa.summary()
    raw.send(IP(src=A, dst=B) / TCP(sport=sport, dport=80, flags="A", seq=isn + 1, ack=sa[TCP].seq + 1, window=65535))
    return sa[TCP].seq + 1  # server's snd.nxt


@pytest.fixture
async def env(catch_errors):
    stack, raw, accepted, srv = await setup()
    yield stack, raw, accepted, srv, catch_errors
    await stack.close()
    assert not catch_errors.errors, catch_errors.errors


async def test_garbage_fuzz(env):
    stack, raw, accepted, _srv, _errs = env
    rng = random.Random(7)
    for i in range(3000):
        n = rng.choice([0, 1, 19, 20, 21, 40, 60, rng.randrange(0, 1600)])
        pkt = bytearray(rng.randbytes(n))
        if n >= 20 and rng.random() < 0.7:
            pkt[0] = 0x45
            pkt[9] = rng.choice([1, 6, 17, 50])
            pkt[12:16] = bytes([198, 18, 0, 1])
            pkt[16:20] = bytes([198, 18, 0, 2])
            if rng.random() < 0.5:
                pkt[2:4] = n.to_bytes(2, "big")
        raw.link.send(bytes(pkt))
        if i % 100 == 0:
            await asyncio.sleep(0)
    await asyncio.sleep(0.05)
    s = stack.stats()
    assert s["IpInReceives"] >= 2900  # zero-length packets may be dropped by the link
    assert s["IpInHdrErrors"] > 100
    # the stack still works
    await handshake(raw, sport=41000)
    await asyncio.wait_for(accepted.get(), 1)


async def test_scapy_fuzzed_tcp(env):
    """Valid IP, fuzzed TCP headers/options with correct checksums."""
    stack, raw, _accepted, _srv, _errs = env
    from scapy.packet import fuzz  # type: ignore
    random.seed(3)
    for i in range(1500):
        t = fuzz(TCP(dport=80))
        p = IP(src=A, dst=B) / t
        raw.send(p)
        if i % 50 == 0:
            await asyncio.sleep(0)
    await asyncio.sleep(0.1)
    s = stack.stats()
    assert s["TcpInSegs"] + s["TcpInErrs"] > 1000
    await asyncio.sleep(0.05)


async def test_bad_checksums_counted(env):
    stack, raw, _accepted, _srv, _errs = env
    raw.send(IP(src=A, dst=B, chksum=0x1234) / TCP(sport=1, dport=80, flags="S"))
    raw.send(IP(src=A, dst=B) / TCP(sport=1, dport=80, flags="S", chksum=0x1234))
    raw.send(IP(src=A, dst=B) / UDP(sport=1, dport=53, chksum=0x1234) / b"hi")
    raw.send(IP(src=A, dst=B) / ICMP(chksum=0x1234))
    await asyncio.sleep(0.02)
    s = stack.stats()
    assert s["DropIpBadChecksum"] == 1
    assert s["TcpInCsumErrors"] == 1
    assert s["UdpInCsumErrors"] == 1
    assert s["IcmpInCsumErrors"] == 1
    assert s["TcpPassiveOpens"] == 0


async def test_syn_flood_beyond_backlog(catch_errors):
    # SYN cookies off (Linux tcp_syncookies=0): a full SYN queue drops
    stack, raw, _accepted, srv = await setup(aionetstack.StackConfig(syncookies=0), backlog=8)
    try:
        for i in range(500):
            raw.send(IP(src=A, dst=B) / TCP(sport=1024 + i, dport=80, flags="S", seq=i))
        await asyncio.sleep(0.05)
        s = stack.stats()
        assert s["ListenDrops"] >= 490
        assert len(srv._listener.syn_queue) <= 8
        synacks = [p for p in raw.drain() if TCP in p and p[TCP].flags == "SA"]
        assert len(synacks) == 8
        assert not catch_errors.errors
    finally:
        await stack.close()


async def test_rst_in_window_not_exact_is_challenged(env):
    """RFC 5961 3.2: RST with seq in window but != RCV.NXT -> challenge ACK, no reset."""
    _stack, raw, accepted, _srv, _errs = env
    await handshake(raw)
    p = await asyncio.wait_for(accepted.get(), 1)
    raw.drain()
    raw.send(IP(src=A, dst=B) / TCP(sport=40000, dport=80, flags="R", seq=1001 + 100))
    ack = await raw.recv_tcp()
    assert ack[TCP].flags == "A" and ack[TCP].ack == 1001
    await asyncio.sleep(0.02)
    assert p.lost is None
    # exact RST resets
    raw.send(IP(src=A, dst=B) / TCP(sport=40000, dport=80, flags="R", seq=1001))
    await asyncio.sleep(0.02)
    assert isinstance(p.lost, ConnectionResetError)


async def test_rst_out_of_window_ignored(env):
    _stack, raw, accepted, _srv, _errs = env
    await handshake(raw)
    p = await asyncio.wait_for(accepted.get(), 1)
    raw.send(IP(src=A, dst=B) / TCP(sport=40000, dport=80, flags="R", seq=(1001 + 2**31) % 2**32))
    await asyncio.sleep(0.02)
    assert p.lost is None


async def test_syn_in_established_is_challenged(env):
    """RFC 5961 4.2: SYN in synchronized state -> challenge ACK, connection stays."""
    _stack, raw, accepted, _srv, _errs = env
    await handshake(raw)
    p = await asyncio.wait_for(accepted.get(), 1)
    raw.drain()
    raw.send(IP(src=A, dst=B) / TCP(sport=40000, dport=80, flags="S", seq=1001 + 5))
    ack = await raw.recv_tcp()
    assert ack[TCP].flags == "A", ack.summary()
    await asyncio.sleep(0.02)
    assert p.lost is None


async def test_ack_for_unsent_data(env):
    _stack, raw, accepted, _srv, _errs = env
    snd = await handshake(raw)
    p = await asyncio.wait_for(accepted.get(), 1)
    raw.drain()
    # acks 1 MB into the future, carrying data: RFC 9293: ACK it, drop the segment
    raw.send(IP(src=A, dst=B) / TCP(sport=40000, dport=80, flags="PA", seq=1001,
                                    ack=(snd + 1_000_000) % 2**32, window=65535) / b"evil")
    r = await raw.recv_tcp()
    assert r[TCP].flags == "A" and r[TCP].ack == 1001
    await asyncio.sleep(0.02)
    assert p.data == b"" and p.lost is None
    # a proper segment is still accepted, and the server can send
    raw.send(IP(src=A, dst=B) / TCP(sport=40000, dport=80, flags="PA", seq=1001, ack=snd, window=65535) / b"good")
    await asyncio.sleep(0.05)
    assert p.data == b"good"
    p.t.write(b"reply")
    r = await raw.recv_tcp()
    while not len(r[TCP].payload):
        r = await raw.recv_tcp()
    assert bytes(r[TCP].payload) == b"reply" and r[TCP].seq == snd


async def test_huge_window_scale_clamped(env):
    _stack, raw, accepted, _srv, _errs = env
    await handshake(raw, opts=[("MSS", 1460), ("WScale", 200), ("SAckOK", b"")])
    p = await asyncio.wait_for(accepted.get(), 1)
    info = p.t.get_extra_info("tcp_info")
    assert info.snd_wscale == 14
    p.t.write(b"x" * 10000)
    r = await raw.recv_tcp()
    assert len(r[TCP].payload) > 0


async def test_bad_option_lengths(env):
    """A malformed option list drops the segment, counted (RFC 9293 3.1: the length
    byte covers kind and length); a well-formed list of NOPs/EOL is answered."""
    stack, raw, _accepted, _srv, _errs = env
    bad = (b"\x02\x00\x05\xb4", b"\x03\x09\x07\x00", b"\x08\x0a" + b"\x00" * 2, b"\x05\xff\x00\x00")
    for i, opt in enumerate((*bad, b"\x01\x01\x01\x00")):
        before = stack.stats()
        # build by hand: 20-byte header + opt, dataofs adjusted
        pkt = IP(src=A, dst=B) / TCP(sport=42000 + i, dport=80, flags="S", seq=5, window=100, dataofs=(20 + len(opt)) // 4) / Raw(opt)
        raw.send(pkt)
        await asyncio.sleep(0.05)
        answers = [p for p in raw.drain() if TCP in p]
        after = stack.stats()
        dropped = after["DropTcpMalformed"] - before["DropTcpMalformed"]
        if opt in bad:
            assert (answers, dropped, after["TcpInErrs"] - before["TcpInErrs"]) == ([], 1, 1), opt
            assert after["TcpPassiveOpens"] == before["TcpPassiveOpens"]
        else:  # NOP NOP NOP EOL: a plain SYN
            assert dropped == 0
            assert [(p[TCP].flags, p[TCP].dport, p[TCP].ack) for p in answers] == [("SA", 42004, 6)]


async def test_zero_window_forever_then_open(env):
    """Peer advertises zero window: no data lost, persist probes sent, no error;
    when the window opens all data arrives in order."""
    _stack, raw, accepted, _srv, _errs = env
    raw.send(IP(src=A, dst=B) / TCP(sport=40000, dport=80, flags="S", seq=1000, window=0, options=[("MSS", 1000)]))
    sa = await raw.recv_tcp()
    snd = sa[TCP].seq + 1
    raw.send(IP(src=A, dst=B) / TCP(sport=40000, dport=80, flags="A", seq=1001, ack=snd, window=0))
    p = await asyncio.wait_for(accepted.get(), 1)
    raw.drain()
    payload = bytes(range(256)) * 20
    p.t.write(payload)
    await asyncio.sleep(1.0)
    pk = raw.drain()
    data_bytes = sum(len(x[TCP].payload) for x in pk if TCP in x)
    assert len(pk) >= 1, "no zero-window probe in 1 s"
    assert data_bytes <= len(pk)  # probes carry at most one byte
    assert p.lost is None
    # open the window and collect everything
    got = bytearray()
    expect_seq = snd
    raw.send(IP(src=A, dst=B) / TCP(sport=40000, dport=80, flags="A", seq=1001, ack=snd, window=65535))
    while len(got) < len(payload):
        r = await raw.recv_tcp(2)
        pl = bytes(r[TCP].payload)
        if r[TCP].seq == expect_seq and pl:
            got += pl
            expect_seq += len(pl)
            raw.send(IP(src=A, dst=B) / TCP(sport=40000, dport=80, flags="A", seq=1001, ack=expect_seq, window=65535))
        elif pl and r[TCP].seq < expect_seq:
            overlap = expect_seq - r[TCP].seq
            if overlap < len(pl):
                got += pl[overlap:]
                expect_seq += len(pl) - overlap
                raw.send(IP(src=A, dst=B) / TCP(sport=40000, dport=80, flags="A", seq=1001, ack=expect_seq, window=65535))
    assert bytes(got) == payload


async def test_overlapping_and_ooo_data_integrity(env):
    """Out-of-order, overlapping, duplicate data segments: delivered exactly once, in order."""
    _stack, raw, accepted, _srv, _errs = env
    snd = await handshake(raw)
    p = await asyncio.wait_for(accepted.get(), 1)
    data = bytes(random.Random(1).randbytes(5000))
    segs = []
    rng = random.Random(2)
    for _ in range(200):
        off = rng.randrange(0, 5000)
        ln = rng.randrange(1, 700)
        segs.append((off, data[off:off + ln]))
    segs.append((0, data[:1]))
    rng.shuffle(segs)
    fill = [(o, data[o:o + 1000]) for o in range(0, 5000, 1000)]
    for off, chunk in segs + fill:
        raw.send(IP(src=A, dst=B) / TCP(sport=40000, dport=80, flags="PA", seq=1001 + off, ack=snd, window=65535) / chunk)
    await asyncio.sleep(0.1)
    assert bytes(p.data) == data


async def test_fin_with_data_out_of_order(env):
    _stack, raw, accepted, _srv, _errs = env
    snd = await handshake(raw)
    p = await asyncio.wait_for(accepted.get(), 1)
    raw.send(IP(src=A, dst=B) / TCP(sport=40000, dport=80, flags="FA", seq=1001 + 5, ack=snd, window=65535) / b"world")
    await asyncio.sleep(0.02)
    assert not p.eof
    raw.send(IP(src=A, dst=B) / TCP(sport=40000, dport=80, flags="A", seq=1001, ack=snd, window=65535) / b"hello")
    await asyncio.sleep(0.02)
    assert bytes(p.data) == b"helloworld" and p.eof


async def test_data_beyond_window_not_accepted(env):
    _stack, raw, accepted, _srv, _errs = env
    snd = await handshake(raw)
    p = await asyncio.wait_for(accepted.get(), 1)
    raw.send(IP(src=A, dst=B) / TCP(sport=40000, dport=80, flags="PA", seq=(1001 + 2**30) % 2**32, ack=snd, window=65535) / b"far")
    await asyncio.sleep(0.02)
    assert p.data == b""


async def test_ip_fragments_tcp(env):
    _stack, raw, accepted, _srv, _errs = env
    from scapy.layers.inet import fragment  # type: ignore
    snd = await handshake(raw)
    p = await asyncio.wait_for(accepted.get(), 1)
    pkt = IP(src=A, dst=B, flags=0, id=77) / TCP(sport=40000, dport=80, flags="PA", seq=1001, ack=snd, window=65535) / (b"F" * 1400)
    frags = fragment(pkt, fragsize=256)
    for f in reversed(frags):
        raw.send(f)
    await asyncio.sleep(0.05)
    assert bytes(p.data) == b"F" * 1400
    # overlapping fragment garbage (teardrop-style)
    for off in (0, 1, 2, 3):
        raw.send(IP(src=A, dst=B, id=99, flags="MF", frag=off) / (b"\x00" * 24))
    await asyncio.sleep(0.02)


async def test_land_and_martian(env):
    stack, raw, _accepted, _srv, _errs = env
    raw.send(IP(src=B, dst=B) / TCP(sport=80, dport=80, flags="S"))
    raw.send(IP(src="127.0.0.1", dst=B) / TCP(sport=80, dport=80, flags="S"))
    raw.send(IP(src="224.0.0.1", dst=B) / TCP(sport=80, dport=80, flags="S"))
    raw.send(IP(src=A, dst="198.18.0.255") / TCP(sport=80, dport=80, flags="S"))
    await asyncio.sleep(0.02)
    s = stack.stats()
    assert s["TcpPassiveOpens"] == 0
    assert s["DropIpMartianSource"] == 3
    assert raw.drain() == []
