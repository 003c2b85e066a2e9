"""Fake-IP DNS: the pool, and its DNS answers checked with Scapy's DNS codec."""

from __future__ import annotations

import pytest
from scapy.layers.dns import DNS, DNSQR

from aionetstack.gateway import FakeIpPool


def query(name: str, qtype: str = "A", ident: int = 0x1234) -> bytes:
    return bytes(DNS(id=ident, rd=1, qd=DNSQR(qname=name, qtype=qtype)))


def test_a_query_gets_a_pool_address_and_it_maps_back() -> None:
    pool = FakeIpPool("198.18.128.0/30", ttl=5)
    reply = pool.answer(query("Example.TEST."))
    assert reply is not None
    msg = DNS(reply)
    assert (msg.id, msg.qr, msg.rd, msg.ra, msg.rcode, msg.ancount) == (0x1234, 1, 1, 1, 0, 1)
    assert msg.qd[0].qname == b"Example.TEST."
    answer = msg.an[0]
    assert (answer.type, answer.ttl, answer.rdata) == (1, 5, "198.18.128.1")
    assert pool.name_for("198.18.128.1") == "example.test"
    # the same name keeps its address; another name gets the next one
    assert pool.address_for("example.test") == "198.18.128.1"
    assert pool.address_for("b.test") == "198.18.128.2"
    assert "198.18.128.2" in pool and "198.18.129.1" not in pool and "x" not in pool
    assert pool.name_for("198.18.128.3") is None and pool.name_for("nonsense") is None


def test_full_pool_reuses_the_least_recently_used() -> None:
    pool = FakeIpPool("198.18.128.0/30")  # two usable addresses
    a = pool.address_for("a.test")
    b = pool.address_for("b.test")
    assert pool.name_for(a) == "a.test"  # a used again: b is now the oldest
    c = pool.address_for("c.test")
    assert c == b and pool.name_for(b) == "c.test" and pool.name_for(a) == "a.test"
    assert len(pool) == 2


def test_other_types_get_an_empty_answer_and_junk_is_not_answered() -> None:
    pool = FakeIpPool("198.18.128.0/17")
    reply = pool.answer(query("v6.test", "AAAA"))
    assert reply is not None
    msg = DNS(reply)
    assert (msg.qr, msg.rcode, msg.ancount, msg.qd[0].qtype) == (1, 0, 0, 28)
    assert len(pool) == 0
    response = bytes(DNS(id=1, qr=1, qd=DNSQR(qname="r.test")))
    assert pool.answer(response) is None
    assert pool.answer(b"\x00\x01") is None
    assert pool.answer(query("t.test")[:-3]) is None  # truncated question
    with pytest.raises(ValueError):
        FakeIpPool("198.18.128.0/31")
