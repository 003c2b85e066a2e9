"""IPv4 address helpers (API input: ValueError on bad text), checked against ipaddress."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aionetstack.wire.addr import (
    int_to_ip,
    ip_to_int,
    is_broadcast_for,
    is_loopback,
    is_martian_source,
    is_multicast,
    network_of,
    parse_interface,
    prefix_mask,
)


def test_examples() -> None:
    assert ip_to_int("198.18.0.2") == 0xC6120002
    assert int_to_ip(0xC6120002) == "198.18.0.2"
    assert parse_interface("198.18.0.2/24") == (0xC6120002, 24)
    assert parse_interface("198.18.0.2") == (0xC6120002, 32)
    assert prefix_mask(24) == 0xFFFFFF00
    assert prefix_mask(0) == 0
    assert prefix_mask(32) == 0xFFFFFFFF
    assert network_of(0xC6120002, 24) == 0xC6120000


@pytest.mark.parametrize(
    "text",
    ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.-4", "01.2.3.4", " 1.2.3.4", "a.b.c.d",
     "1..2.3", "1.2.3.4/", "1.2.3.4/33", "1.2.3.4/x", "\u0661.2.3.4"],
)  # fmt: skip
def test_bad_text(text: str) -> None:
    with pytest.raises(ValueError):
        parse_interface(text)


def test_bad_values() -> None:
    with pytest.raises(ValueError):
        int_to_ip(1 << 32)
    with pytest.raises(ValueError):
        int_to_ip(-1)
    with pytest.raises(ValueError):
        prefix_mask(33)
    with pytest.raises(ValueError):
        ip_to_int(1234)  # type: ignore[arg-type]


def test_classes() -> None:
    assert is_multicast(ip_to_int("224.0.0.1")) and is_multicast(ip_to_int("239.255.255.255"))
    assert not is_multicast(ip_to_int("240.0.0.1"))
    assert is_loopback(ip_to_int("127.0.0.1"))
    net = ip_to_int("198.18.0.0")
    assert is_broadcast_for(ip_to_int("198.18.0.255"), net, 24)
    assert is_broadcast_for(0xFFFFFFFF, net, 24)
    assert not is_broadcast_for(ip_to_int("198.18.0.254"), net, 24)
    assert not is_broadcast_for(ip_to_int("198.18.1.255"), net, 24)
    assert not is_broadcast_for(ip_to_int("198.18.0.1"), net, 31)  # RFC 3021
    for martian in ("0.0.0.0", "0.1.2.3", "127.0.0.1", "224.0.0.5", "240.0.0.1", "255.255.255.255"):
        assert is_martian_source(ip_to_int(martian)), martian
    for ok in ("198.18.0.1", "10.0.0.1", "1.1.1.1"):
        assert not is_martian_source(ip_to_int(ok)), ok


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 0xFFFFFFFF), st.integers(0, 32))
def test_against_ipaddress(value: int, prefixlen: int) -> None:
    text = str(ipaddress.IPv4Address(value))
    assert ip_to_int(text) == value
    assert int_to_ip(value) == text
    iface = ipaddress.IPv4Interface(f"{text}/{prefixlen}")
    assert parse_interface(f"{text}/{prefixlen}") == (value, prefixlen)
    assert prefix_mask(prefixlen) == int(iface.netmask)
    assert network_of(value, prefixlen) == int(iface.network.network_address)
    assert is_multicast(value) == ipaddress.IPv4Address(value).is_multicast
