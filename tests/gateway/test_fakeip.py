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


def test_aaaa_query_gets_an_address_of_the_ipv6_pool() -> None:
    pool = FakeIpPool("198.18.128.0/17", "2001:2:0:f000::/64", ttl=3)
    assert [str(n) for n in pool.networks] == ["198.18.128.0/17", "2001:2:0:f000::/64"]
    reply = pool.answer(query("six.test", "AAAA"))
    assert reply is not None
    answer = DNS(reply).an[0]
    assert (answer.type, answer.ttl, answer.rdata) == (28, 3, "2001:2:0:f000::1")
    # the same name has an address in each family, each mapping back to it
    v4 = DNS(pool.answer(query("six.test")) or b"").an[0].rdata
    assert v4 == "198.18.128.1" and len(pool) == 2
    assert pool.name_for("2001:2:0:f000::1") == pool.name_for(v4) == "six.test"
    assert pool.address_for("other.test", 6) == "2001:2:0:f000::2"
    assert "2001:2:0:f000::2" in pool and "2001:2:0:f001::1" not in pool
    assert pool.name_for("2001:2:0:f000::3") is None


def test_ipv6_only_pool_answers_a_empty() -> None:
    pool = FakeIpPool("2001:2:0:f000::/126")  # three usable addresses
    msg = DNS(pool.answer(query("four.test")) or b"")
    assert (msg.qr, msg.rcode, msg.ancount) == (1, 0, 0)
    assert str(pool.network) == "2001:2:0:f000::/126"
    names = [f"n{i}.test" for i in range(4)]
    addresses = [pool.address_for(name, 6) for name in names]
    # the fourth: the pool is full, the least recently used (n0) gives its address up
    assert addresses == [f"2001:2:0:f000::{i}" for i in (1, 2, 3, 1)]
    assert pool.name_for("2001:2:0:f000::1") == "n3.test" and len(pool) == 3
    with pytest.raises(KeyError):
        pool.address_for("x.test", 4)
    with pytest.raises(ValueError):
        FakeIpPool("2001:2:0:f000::/64", "2001:2:0:f001::/64")  # one per family
    with pytest.raises(ValueError):
        FakeIpPool()
