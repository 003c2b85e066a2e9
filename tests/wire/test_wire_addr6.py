"""IPv6 address helpers (RFC 4291 2.2 input, RFC 5952 output), checked against ipaddress."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aionetstack.wire.addr import (
    format_ip,
    int_to_ip6,
    ip6_to_int,
    is_link_local6,
    is_loopback6,
    is_martian_source6,
    is_multicast6,
    is_v4_mapped6,
    network_of6,
    parse_interface,
    parse_interface6,
    parse_interface_any,
    parse_ip,
    prefix_mask6,
)

A = 0x2001_0002_0000_0000_0000_0000_0000_0002  # 2001:2::2

# Addresses with zero runs in every position, so the "::" choice is exercised.
words = st.lists(st.sampled_from([0, 0, 0, 1, 0xFFFF, 0x2001, 0xABC]), min_size=8, max_size=8)
addresses = st.one_of(
    st.integers(0, (1 << 128) - 1),
    words.map(lambda ws: int.from_bytes(b"".join(w.to_bytes(2, "big") for w in ws), "big")),
)


def test_examples() -> None:
    assert ip6_to_int("2001:2::2") == A
    assert int_to_ip6(A) == "2001:2::2"
    assert parse_interface6("2001:2::2/64") == (A, 64)
    assert parse_interface6("2001:2::2") == (A, 128)
    assert prefix_mask6(64) == ((1 << 64) - 1) << 64
    assert prefix_mask6(0) == 0 and prefix_mask6(128) == (1 << 128) - 1
    assert network_of6(A, 48) == 0x2001_0002 << 96
    assert int_to_ip6(0) == "::" and int_to_ip6(1) == "::1"
    # RFC 5952 4.2.2: one zero group is not shortened; 4.2.3: the longest (first) run.
    assert int_to_ip6(ip6_to_int("2001:2:0:1:1:1:1:1")) == "2001:2:0:1:1:1:1:1"
    assert int_to_ip6(ip6_to_int("2001:0:0:1:0:0:0:1")) == "2001:0:0:1::1"
    assert int_to_ip6(ip6_to_int("2001:2:0:0:1:0:0:1")) == "2001:2::1:0:0:1"
    assert int_to_ip6(ip6_to_int("2001:0002:0000::00AB")) == "2001:2::ab"  # 4.1, 4.3
    # RFC 5952 5: IPv4-mapped addresses in mixed notation (as inet_ntop writes them).
    mapped = ip6_to_int("::ffff:198.18.0.2")
    assert mapped == 0xFFFF_C612_0002 and is_v4_mapped6(mapped)
    assert (
        int_to_ip6(mapped)
        == "::ffff:198.18.0.2"
        == socket.inet_ntop(socket.AF_INET6, mapped.to_bytes(16, "big"))
    )
    assert ip6_to_int("1:2:3:4:5:6:198.18.0.2") == ip6_to_int("1:2:3:4:5:6:c612:2")


def test_either_family() -> None:
    assert parse_ip("2001:2::2") == (6, A)
    assert parse_ip("198.18.0.2") == (4, 0xC6120002)
    assert format_ip(6, A) == "2001:2::2" and format_ip(4, 0xC6120002) == "198.18.0.2"
    assert parse_interface_any("2001:2::2/64") == (6, A, 64)
    assert parse_interface_any("198.18.0.2/24") == (4, 0xC6120002, 24)
    assert parse_interface("198.18.0.2/32") == (0xC6120002, 32)
    with pytest.raises(ValueError):
        format_ip(5, 0)


@pytest.mark.parametrize(
    "text",
    [
        "", ":", ":::", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8::",
        "::1:2:3:4:5:6:7:8", "12345::", "g::", ":1::2", "1::2:", "2001:2::2%eth0",
        "2001:2::2/64", "::198.18.0.256", "::1.2.3", "1.2.3.4::", " ::1", "::\uff11",
        "1:2:3:4:5:6:7:1.2.3.4",
    ],
)  # fmt: skip
def test_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        ip6_to_int(text)


def test_rejects_bad_interfaces_and_ranges() -> None:
    for text in ("2001:2::2/129", "2001:2::2/", "2001:2::2/x", "2001:2::2/-1", "2001:2::/1234"):
        with pytest.raises(ValueError):
            parse_interface6(text)
    for value in (-1, 1 << 128):
        with pytest.raises(ValueError):
            int_to_ip6(value)
    with pytest.raises(ValueError):
        prefix_mask6(129)
    with pytest.raises(ValueError):
        ip6_to_int(1)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(addresses)
def test_format_matches_ipaddress(value: int) -> None:
    text = int_to_ip6(value)
    assert ip6_to_int(text) == value
    if not is_v4_mapped6(value):  # ipaddress before 3.13 writes ::ffff:c612:2
        assert text == str(ipaddress.IPv6Address(value))
    # Every spelling ipaddress accepts parses to the same value here.
    assert ip6_to_int(ipaddress.IPv6Address(value).exploded) == value
    assert ip6_to_int(ipaddress.IPv6Address(value).exploded.upper()) == value


@settings(max_examples=100, deadline=None)
@given(addresses, st.integers(0, 128))
def test_prefixes_match_ipaddress(value: int, plen: int) -> None:
    net = ipaddress.IPv6Network((value, plen), strict=False)
    assert network_of6(value, plen) == int(net.network_address)
    assert prefix_mask6(plen) == int(net.netmask)
    assert parse_interface6(f"{int_to_ip6(value)}/{plen}") == (value, plen)


@settings(max_examples=100, deadline=None)
@given(addresses)
def test_predicates_match_ipaddress(value: int) -> None:
    ip = ipaddress.IPv6Address(value)
    assert is_multicast6(value) == ip.is_multicast
    assert is_loopback6(value) == ip.is_loopback
    assert is_link_local6(value) == ip.is_link_local
    assert is_v4_mapped6(value) == (ip.ipv4_mapped is not None)
    assert is_martian_source6(value) == (
        ip.is_multicast or ip.is_loopback or ip.ipv4_mapped is not None
    )


def test_predicate_examples() -> None:
    assert is_multicast6(ip6_to_int("ff02::1")) and not is_multicast6(A)
    assert is_link_local6(ip6_to_int("fe80::1")) and not is_link_local6(ip6_to_int("fec0::1"))
    assert is_martian_source6(1) and not is_martian_source6(0) and not is_martian_source6(A)


@st.composite
def near_addresses(draw: st.DrawFn) -> str:
    """Valid spellings (compressed, exploded, mixed), then a few character edits."""
    value = draw(addresses)
    ip = ipaddress.IPv6Address(value)
    text = draw(
        st.sampled_from([str(ip), ip.exploded, int_to_ip6(value), f"::ffff:{value & 0xFFFFFFFF:d}"])
    )
    for _ in range(draw(st.integers(0, 2))):
        pos = draw(st.integers(0, len(text)))
        ch = draw(st.sampled_from("0:.f"))
        text = (
            text[:pos] + ch + text[pos + 1 :]
            if draw(st.booleans())
            else text[:pos] + text[pos + 1 :]
        )
    return text


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="0123456789abcdefABCDEFg:.", max_size=45) | near_addresses())
def test_any_text_parses_like_ipaddress_or_raises_value_error(text: str) -> None:
    try:
        expected = int(ipaddress.IPv6Address(text))
    except ValueError:
        expected = None
    try:
        value = ip6_to_int(text)
    except ValueError:
        value = None
    if expected is None:
        assert value is None
    elif value is None:  # stricter than ipaddress only on leading zeros in a dotted quad
        assert "." in text
    else:
        assert value == expected
