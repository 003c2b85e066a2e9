"""The dialers' construction and misuse checks (no sockets: see test_dialers_netns)."""

from __future__ import annotations

import pytest

from aionetstack.gateway import Dialer, DirectDialer, Socks5Dialer
from aionetstack.gateway.dialers import MAX_UDP_PAYLOAD
from aionetstack.gateway.socks5 import MAX_UDP_HEADER_LEN


def test_both_dialers_satisfy_the_protocol() -> None:
    assert isinstance(DirectDialer(), Dialer)
    assert isinstance(Socks5Dialer("198.18.0.1", 1080), Dialer)


def test_from_url() -> None:
    dialer = Socks5Dialer.from_url("u%3Ax:p%40ss@[2001:2::1]:1080", timeout=3.0)
    assert (dialer.host, dialer.port, dialer.timeout) == ("2001:2::1", 1080, 3.0)
    assert dialer._userpass == b"\x01\x03u:x\x04p@ss"
    plain = Socks5Dialer.from_url("socks5://198.18.0.1:1080")
    assert plain._userpass is None
    # The header of a datagram through the proxy fits beside the largest payload.
    assert plain.max_datagram + MAX_UDP_HEADER_LEN == MAX_UDP_PAYLOAD
    for bad in ("http://198.18.0.1:1080", "198.18.0.1", "socks5://:1080"):
        with pytest.raises(ValueError):
            Socks5Dialer.from_url(bad)


def test_misuse_raises_value_error() -> None:
    with pytest.raises(ValueError):
        DirectDialer(bind_address="not-an-ip")
    with pytest.raises(ValueError):
        DirectDialer(interface="an-interface-name-too-long")
    with pytest.raises(ValueError):
        DirectDialer(max_datagram=MAX_UDP_PAYLOAD + 1)
    with pytest.raises(ValueError):
        DirectDialer(udp_queue=0)
    with pytest.raises(ValueError):
        Socks5Dialer("198.18.0.1", 1080, username="u")
