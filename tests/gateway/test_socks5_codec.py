"""The sans-IO SOCKS5 codec (RFC 1928, RFC 1929): bytes in, values or errors out."""

from __future__ import annotations

import errno

import pytest

from aionetstack.gateway import socks5


def test_addresses_by_type() -> None:
    # RFC 1928 5: IPv4 and IPv6 literals as addresses, anything else as a name.
    assert socks5.encode_address("198.18.0.1", 80) == b"\x01\xc6\x12\x00\x01\x00\x50"
    assert socks5.encode_address("2001:2::1", 443) == (
        b"\x04" + bytes.fromhex("20010002000000000000000000000001") + b"\x01\xbb"
    )
    assert socks5.encode_address("example.org", 53) == b"\x03\x0bexample.org\x00\x35"
    for host in ("198.18.0.1", "2001:2::1", "example.org"):
        encoded = socks5.encode_address(host, 1234)
        assert socks5.decode_address(b"xx" + encoded, 2) == (host, 1234, 2 + len(encoded))


@pytest.mark.parametrize(
    ("host", "port"), [("a" * 256, 80), ("", 80), ("198.18.0.1", 65536), ("198.18.0.1", -1)]
)
def test_caller_misuse_is_value_error(host: str, port: int) -> None:
    with pytest.raises(ValueError):
        socks5.encode_address(host, port)


def test_greeting_and_method_choice() -> None:
    assert socks5.encode_greeting(userpass=False) == b"\x05\x01\x00"
    assert socks5.encode_greeting(userpass=True) == b"\x05\x02\x00\x02"
    assert socks5.parse_method_choice(b"\x05\x02") == socks5.METHOD_USERPASS
    with pytest.raises(PermissionError):
        socks5.parse_method_choice(b"\x05\xff")
    for bad in (b"\x04\x00", b"\x05\x01", b"\x05"):
        with pytest.raises(OSError) as info:
            socks5.parse_method_choice(bad)
        assert info.value.errno == errno.EPROTO


def test_userpass() -> None:
    # RFC 1929 2: VER ULEN UNAME PLEN PASSWD.
    assert socks5.encode_userpass("u", "pw") == b"\x01\x01u\x02pw"
    socks5.parse_userpass_reply(b"\x01\x00")
    with pytest.raises(PermissionError):
        socks5.parse_userpass_reply(b"\x01\x01")
    with pytest.raises(ValueError):
        socks5.encode_userpass("", "pw")
    with pytest.raises(ValueError):
        socks5.encode_userpass("u", "p" * 256)


def test_reply_length_and_success() -> None:
    ok4 = b"\x05\x00\x00\x01\xc6\x12\x00\x01\x04\x38"
    assert socks5.reply_length(ok4[:4]) == 10
    assert socks5.reply_length(b"\x05\x00\x00") is None
    named = b"\x05\x00\x00\x03\x05relay\x00\x35"
    assert socks5.reply_length(named[:4]) is None  # the name's length byte is needed
    assert socks5.reply_length(named[:5]) == len(named)
    assert socks5.parse_reply(ok4) == socks5.Reply("198.18.0.1", 1080)
    assert socks5.parse_reply(named) == socks5.Reply("relay", 53)
    with pytest.raises(OSError) as info:
        socks5.reply_length(b"\x04\x5a\x00\x01\x00")
    assert info.value.errno == errno.EPROTO
    with pytest.raises(OSError) as info:
        socks5.parse_reply(ok4 + b"x")
    assert info.value.errno == errno.EPROTO


@pytest.mark.parametrize(
    ("code", "kind", "err"),
    [
        (1, ConnectionAbortedError, errno.ECONNABORTED),
        (2, PermissionError, errno.EACCES),
        (3, OSError, errno.ENETUNREACH),
        (4, OSError, errno.EHOSTUNREACH),
        (5, ConnectionRefusedError, errno.ECONNREFUSED),
        (6, TimeoutError, errno.ETIMEDOUT),
        (7, OSError, errno.EOPNOTSUPP),
        (8, OSError, errno.EAFNOSUPPORT),
        (0x42, OSError, errno.EPROTO),
    ],
)
def test_reply_codes_map_to_builtin_errors(code: int, kind: type[OSError], err: int) -> None:
    # RFC 1928 6.
    reply = bytes((5, code, 0, 1)) + bytes(6)
    with pytest.raises(kind) as info:
        socks5.parse_reply(reply)
    assert info.value.errno == err


def test_udp_header_round_trip_and_malformed() -> None:
    # RFC 1928 7: RSV RSV FRAG ATYP DST.ADDR DST.PORT DATA.
    packet = socks5.encode_udp("198.18.0.1", 53, b"query")
    assert packet == b"\x00\x00\x00\x01\xc6\x12\x00\x01\x00\x35query"
    assert socks5.decode_udp(packet) == socks5.UdpDatagram(0, "198.18.0.1", 53, b"query")
    assert socks5.decode_udp(b"\x00\x00\x81" + packet[3:]).frag == 0x81
    named = socks5.encode_udp("dns.example", 53, memoryview(b""))
    assert socks5.decode_udp(named) == socks5.UdpDatagram(0, "dns.example", 53, b"")
    for bad in (b"\x00\x00", b"\x00\x00\x00\x09", packet[:8], b"\x00\x00\x00\x03\x09abc"):
        with pytest.raises(OSError) as info:
            socks5.decode_udp(bad)
        assert info.value.errno == errno.EPROTO
