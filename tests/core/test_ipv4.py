"""IPv4 input validation, reassembly and output fragmentation."""

from __future__ import annotations

import random
from ipaddress import IPv4Address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, UDP, defragment
from scapy.layers.inet import fragment as scapy_fragment

from aionetstack.core import stats as S
from aionetstack.core.config import StackConfig
from aionetstack.core.ipv4 import Reassembler, ReassemblyResult, fragment
from aionetstack.core.stack import StackEngine
from aionetstack.core.udp import UdpDatagramReceived
from aionetstack.wire.ipv4 import PROTO_UDP


def ip(text: str) -> int:
    return int(IPv4Address(text))


US = "198.18.0.2"
PEER = "198.18.0.1"


def engine(**cfg: object) -> StackEngine:
    e = StackEngine(StackConfig(**cfg), secret=b"i" * 16, now=0.0)  # type: ignore[arg-type]
    e.add_interface(ip(US), 24, 1500)
    return e


def udp_packet(payload: bytes = b"hello", **ip_fields: object) -> bytes:
    fields: dict[str, object] = {"src": PEER, "dst": US}
    fields.update(ip_fields)
    return bytes(IP(**fields) / UDP(sport=1234, dport=9) / payload)  # type: ignore[arg-type]


def fix_checksum(packet: bytearray) -> bytes:
    packet[10:12] = b"\0\0"
    ihl = (packet[0] & 15) * 4
    s = sum(int.from_bytes(packet[i : i + 2], "big") for i in range(0, ihl, 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    packet[10:12] = (~s & 0xFFFF).to_bytes(2, "big")
    return bytes(packet)


def delivered(e: StackEngine, u: object) -> list[bytes]:
    out = []
    for obj in e.take_ready(0.0):
        if obj is u:
            while (ev := u.next_event()) is not None:  # type: ignore[attr-defined]
                assert isinstance(ev, UdpDatagramReceived)
                out.append(ev.data)
    return out


def test_valid_packet_is_delivered_with_link_padding() -> None:
    e = engine()
    u = e.udp_open(local_port=9)
    e.receive(udp_packet() + b"\0" * 10, 1, 0.0)  # trailing link padding is ignored
    assert delivered(e, u) == [b"hello"]
    st = e.stats()
    assert st["IpInReceives"] == 1 and st["IpInDelivers"] == 1 and st["UdpInDatagrams"] == 1


def _mutations() -> list[tuple[str, bytes, str, str]]:
    good = udp_packet()
    cases: list[tuple[str, bytes, str, str]] = []
    cases.append(("truncated", good[:19], "IpInHdrErrors", S.DROP_IP_TRUNCATED))
    p = bytearray(good)
    p[0] = 0x55  # version 5 (6 is IPv6: counted apart, see test_stack)
    cases.append(("version", fix_checksum(p), "IpInHdrErrors", S.DROP_IP_BAD_VERSION))
    p = bytearray(good)
    p[0] = 0x44
    cases.append(("ihl<5", fix_checksum(p), "IpInHdrErrors", S.DROP_IP_BAD_IHL))
    p = bytearray(good)
    p[0] = 0x4F
    cases.append(("ihl>len", bytes(p[:40]), "IpInHdrErrors", S.DROP_IP_BAD_IHL))
    p = bytearray(good)
    p[2:4] = (len(good) + 1).to_bytes(2, "big")
    cases.append(("total>len", fix_checksum(p), "IpInHdrErrors", S.DROP_IP_BAD_TOTAL_LENGTH))
    p = bytearray(good)
    p[2:4] = (19).to_bytes(2, "big")
    cases.append(("total<ihl", fix_checksum(p), "IpInHdrErrors", S.DROP_IP_BAD_TOTAL_LENGTH))
    p = bytearray(good)
    p[10] ^= 0xFF
    cases.append(("checksum", bytes(p), "IpInHdrErrors", S.DROP_IP_BAD_CHECKSUM))
    cases.append(("ttl0", udp_packet(ttl=0), "IpInHdrErrors", S.DROP_IP_TTL_ZERO))
    cases.append(("not ours", udp_packet(dst="198.18.0.3"), "IpInAddrErrors", S.DROP_IP_NOT_FOR_US))
    cases.append(
        ("multicast dst", udp_packet(dst="224.0.0.1"), "IpInAddrErrors", S.DROP_IP_NOT_FOR_US)
    )
    for src in ("0.1.2.3", "127.0.0.1", "224.0.0.5", "255.255.255.255", US, "198.18.0.255"):
        cases.append(
            (f"martian {src}", udp_packet(src=src), "IpInAddrErrors", S.DROP_IP_MARTIAN_SOURCE)
        )
    cases.append(
        (
            "broadcast tcp",
            bytes(IP(src=PEER, dst="198.18.0.255", proto=6) / (b"\0" * 20)),
            "IpInAddrErrors",
            S.DROP_IP_BROADCAST_NOT_UDP,
        )
    )
    return cases


_CASES = _mutations()


@pytest.mark.parametrize(("name", "packet", "mib", "reason"), _CASES, ids=[c[0] for c in _CASES])
def test_bad_packets_dropped_and_counted(name: str, packet: bytes, mib: str, reason: str) -> None:
    e = engine()
    u = e.udp_open(local_port=9)
    e.receive(packet, 1, 0.0)
    st = e.stats()
    assert st[mib] == 1, name
    assert st[reason] == 1, name
    assert st["IpInDelivers"] == 0
    assert delivered(e, u) == []
    assert e.packets_to_send(0.0) == []  # no ICMP about garbage


def test_ttl_one_to_us_is_accepted() -> None:
    e = engine()
    u = e.udp_open(local_port=9)
    e.receive(udp_packet(ttl=1), 1, 0.0)
    assert delivered(e, u) == [b"hello"]


def test_ip_options_are_skipped() -> None:
    e = engine()
    u = e.udp_open(local_port=9)
    from scapy.layers.inet import IPOption_NOP

    e.receive(udp_packet(options=[IPOption_NOP()] * 4), 1, 0.0)
    assert delivered(e, u) == [b"hello"]


def test_unknown_protocol_gets_protocol_unreachable() -> None:
    e = engine()
    e.receive(bytes(IP(src=PEER, dst=US, proto=99) / b"abcdefgh"), 1, 0.0)
    st = e.stats()
    assert st["IpInUnknownProtos"] == 1
    [(_, reply)] = e.packets_to_send(0.0)
    icmp = IP(reply)[ICMP]
    assert (icmp.type, icmp.code) == (3, 2)


# --- reassembly ---------------------------------------------------------------


def frags(payload: bytes, size: int, ident: int = 7) -> list[bytes]:
    pkt = IP(src=PEER, dst=US, id=ident) / UDP(sport=1234, dport=9) / payload
    return [bytes(f) for f in scapy_fragment(pkt, fragsize=size)]


@pytest.mark.parametrize("order", ["in", "reverse", "shuffle"])
def test_reassembly_any_order(order: str) -> None:
    e = engine()
    u = e.udp_open(local_port=9)
    payload = bytes(range(256)) * 12
    pieces = frags(payload, 400)
    assert len(pieces) > 5
    if order == "reverse":
        pieces.reverse()
    elif order == "shuffle":
        random.Random(3).shuffle(pieces)
    for p in pieces:
        e.receive(p, 1, 0.0)
    assert delivered(e, u) == [payload]
    st = e.stats()
    assert st["IpReasmReqds"] == len(pieces)
    assert st["IpReasmOKs"] == 1 and st["IpReasmFails"] == 0
    assert e._reasm.memory == 0 and len(e._reasm) == 0


def test_duplicate_fragment_is_ignored() -> None:
    e = engine()
    u = e.udp_open(local_port=9)
    payload = b"z" * 1000
    pieces = frags(payload, 400)
    for p in [pieces[0], pieces[0], *pieces[1:]]:
        e.receive(p, 1, 0.0)
    assert delivered(e, u) == [payload]
    assert e.stats()[S.DROP_REASM_DUPLICATE] == 1


def test_overlapping_fragment_drops_datagram() -> None:
    e = engine()
    u = e.udp_open(local_port=9)
    payload = b"q" * 1000
    pieces = frags(payload, 400)
    # A fragment at offset 16 overlapping the first one (RFC 5722 spirit).
    ov = IP(src=PEER, dst=US, id=7, flags="MF", frag=2, proto=17) / (b"X" * 64)
    e.receive(pieces[0], 1, 0.0)
    e.receive(bytes(ov), 1, 0.0)
    for p in pieces[1:]:
        e.receive(p, 1, 0.0)
    assert delivered(e, u) == []
    st = e.stats()
    assert st["IpReasmFails"] == 1 and st[S.DROP_REASM_OVERLAP] == 1
    assert st["IpReasmOKs"] == 0


def test_reassembly_timeout_counts_and_sends_time_exceeded() -> None:
    e = engine(reassembly_timeout=30.0)
    u = e.udp_open(local_port=9)
    pieces = frags(b"t" * 1000, 400)
    e.receive(pieces[0], 1, 1.0)
    e.receive(pieces[1], 1, 2.0)
    assert e.get_timer() == 31.0  # from the first fragment
    e.handle_timer(30.5)
    assert e.stats()["IpReasmFails"] == 0
    e.handle_timer(31.0)
    st = e.stats()
    assert st["IpReasmFails"] == 1 and st["IpReasmTimeout"] == 1
    assert e.get_timer() is None
    [(_, reply)] = e.packets_to_send(31.0)
    icmp = IP(reply)[ICMP]
    assert (icmp.type, icmp.code) == (11, 1)  # RFC 792 time exceeded, reassembly
    assert IP(reply).dst == PEER and icmp.payload.id == 7  # IPerror: the quoted fragment 0
    e.receive(pieces[2], 1, 32.0)  # late last fragment starts a new (incomplete) datagram
    assert delivered(e, u) == []


def test_timeout_without_first_fragment_sends_nothing() -> None:
    e = engine()
    pieces = frags(b"t" * 1000, 400)
    e.receive(pieces[1], 1, 0.0)
    e.handle_timer(100.0)
    assert e.stats()["IpReasmTimeout"] == 1
    assert e.packets_to_send(100.0) == []


def test_reassembly_memory_cap_evicts_oldest() -> None:
    e = engine(reassembly_memory=2000)
    u = e.udp_open(local_port=9)
    first = frags(b"a" * 2000, 800, ident=1)
    second = frags(b"b" * 2000, 800, ident=2)
    e.receive(first[0], 1, 0.0)  # ~870 bytes held
    e.receive(first[1], 1, 0.0)
    e.receive(second[0], 1, 0.0)  # over 2000: the oldest datagram (ident 1) goes
    st = e.stats()
    assert st["IpReasmFails"] == 1 and st[S.DROP_REASM_MEMORY] == 1
    assert e._reasm.memory <= 2000
    for p in first[2:]:
        e.receive(p, 1, 0.0)
    for p in second[1:]:
        e.receive(p, 1, 0.0)
    assert delivered(e, u) == [b"b" * 2000]


def test_reassembler_rejects_bad_fragments() -> None:
    r = Reassembler(30.0, 1 << 20)
    key = (1, 2, PROTO_UDP, 3)
    assert r.add(key, 0, True, b"x" * 12, b"h" * 32, 0.0) == "bad"  # not a multiple of 8
    assert r.add(key, 0, True, b"x" * 16, b"h" * 36, 0.0) == "pending"
    assert r.add(key, 16, False, b"y" * 4, b"h" * 24, 0.0).__class__ is ReassemblyResult
    # a second "last" fragment with another end: inconsistent -> dropped
    key = (1, 2, PROTO_UDP, 4)
    assert r.add(key, 16, False, b"y" * 4, b"h" * 24, 0.0) == "pending"
    assert r.add(key, 8, False, b"x" * 8, b"h" * 28, 0.0) == "overlap"
    assert len(r) == 0 and r.memory == 0


def test_oversized_fragment_is_dropped() -> None:
    e = engine()
    p = IP(src=PEER, dst=US, id=9, frag=8189, proto=17) / (b"\0" * 100)
    e.receive(bytes(p), 1, 0.0)
    assert e.stats()[S.DROP_IP_BAD_FRAGMENT] == 1


# --- output fragmentation -------------------------------------------------------


def test_fragment_fits_in_one_packet() -> None:
    [pkt] = fragment(ip(US), ip(PEER), PROTO_UDP, b"x" * 100, ident=5, ttl=64, mtu=1500)
    p = IP(pkt)
    assert p.flags == 0 and p.frag == 0 and len(pkt) == 120


def test_fragmentation_roundtrips_through_scapy_and_our_reassembly() -> None:
    sender = engine()
    u = sender.udp_open(local_port=4000)
    data = bytes(random.Random(1).randrange(256) for _ in range(5000))
    u.sendto(data, (ip(PEER), 9), 0.0)
    out = sender.packets_to_send(0.0)
    assert len(out) == 4
    pkts = [IP(p) for _, p in out]
    for p in pkts:
        assert len(bytes(p)) <= 1500
        assert not p.flags.DF
        assert p.frag * 8 % 8 == 0
    assert [bool(p.flags.MF) for p in pkts] == [True, True, True, False]
    st = sender.stats()
    assert st["IpFragOKs"] == 1 and st["IpFragCreates"] == 4 and st["UdpOutDatagrams"] == 1
    # scapy as the oracle
    whole = defragment(pkts)[0]
    assert bytes(whole[UDP].payload) == data
    # and our own reassembly, on a stack at the peer address
    peer = StackEngine(StackConfig(), secret=b"j" * 16, now=0.0)
    peer.add_interface(ip(PEER), 24, 1500)
    v = peer.udp_open(local_port=9)
    for _, p in reversed(out):
        peer.receive(p, 1, 0.0)
    got = [obj for obj in peer.take_ready(0.0) if obj is v]
    assert got and v.next_event() == UdpDatagramReceived(data, (ip(US), 4000))


def test_fragmented_echo_reply() -> None:
    e = engine()
    payload = b"p" * 3000
    ping = IP(src=PEER, dst=US, id=3) / ICMP(type=8, id=1, seq=2) / payload
    for f in scapy_fragment(ping, fragsize=1000):
        e.receive(bytes(f), 1, 0.0)
    replies = [IP(p) for _, p in e.packets_to_send(0.0)]
    assert len(replies) == 3
    whole = defragment(replies)[0]
    assert whole[ICMP].type == 0 and bytes(whole[ICMP].payload) == payload


def test_datagram_too_large() -> None:
    with pytest.raises(ValueError):
        fragment(1, 2, PROTO_UDP, b"\0" * 65516, ident=0, ttl=64, mtu=1500)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    st.binary(min_size=1, max_size=3000),
    st.integers(min_value=68, max_value=1500),
    st.randoms(use_true_random=False),
    st.booleans(),
)
def test_fragment_reassemble_roundtrip_property(
    payload: bytes, mtu: int, rnd: random.Random, dup: bool
) -> None:
    packets = fragment(ip(PEER), ip(US), PROTO_UDP, payload, ident=99, ttl=64, mtu=mtu)
    assert all(len(p) <= max(mtu, 28) for p in packets)
    rnd.shuffle(packets)
    if dup and len(packets) > 1:
        packets.append(rnd.choice(packets))  # exact duplicates are ignored
    r = Reassembler(30.0, 1 << 22)
    results = []
    for p in packets:
        ihl = (p[0] & 15) * 4
        word = int.from_bytes(p[6:8], "big")
        more = bool(word & 0x2000)
        offset = (word & 0x1FFF) * 8
        if not more and offset == 0:
            results.append(p[ihl:])
            continue
        res = r.add((1, 2, PROTO_UDP, 99), offset, more, p[ihl:], p, 0.0)
        if isinstance(res, ReassemblyResult):
            results.append(res.payload)
    assert results == [payload]
    assert len(r) == 0 or dup  # a late duplicate may open a new (incomplete) datagram


def test_reassembly_fragment_cap_per_datagram() -> None:
    # 64 tiny fragments (the cap) still reassemble, in any order
    e = engine()
    u = e.udp_open(local_port=9)
    payload = bytes(range(8)) * 63  # UDP header + 504 bytes = 64 fragments of 8
    pieces = frags(payload, 8)
    assert len(pieces) == 64
    for p in reversed(pieces):
        e.receive(p, 1, 0.0)
    assert delivered(e, u) == [payload]
    # one more fragment than the cap discards the datagram (bounded work per datagram)
    pieces = frags(bytes(8) * 99, 8, ident=8)
    assert len(pieces) == 100
    for p in reversed(pieces[-65:]):
        e.receive(p, 1, 0.0)
    st = e.stats()
    assert st["IpReasmFails"] == 1 and st[S.DROP_REASM_TOO_MANY] == 1
    assert len(e._reasm) == 0 and e._reasm.memory == 0
    assert delivered(e, u) == []


class _CountingDict(dict):  # type: ignore[type-arg]
    """Counts the datagrams _evict looks at (work, not wall time)."""

    seen = 0

    def values(self):  # type: ignore[no-untyped-def]
        for v in super().values():
            _CountingDict.seen += 1
            yield v


def test_reassembly_eviction_does_not_scan_every_datagram() -> None:
    r = Reassembler(30.0, memory_cap=1000 * (8 + 64))
    r._datagrams = _CountingDict()
    for ident in range(1000):  # 1000 pending datagrams, exactly at the cap
        assert r.add((1, 2, 17, ident), 0, True, b"x" * 8, b"h" * 28, 0.0) == "pending"
    _CountingDict.seen = 0
    out = r.add((1, 2, 17, 5000), 0, True, b"y" * 8, b"h" * 28, 0.0)
    assert out == [b""]  # the oldest one evicted
    assert (1, 2, 17, 0) not in r._datagrams and (1, 2, 17, 5000) in r._datagrams
    assert _CountingDict.seen <= 3  # was a copy of all 1001 datagrams per add at the cap
