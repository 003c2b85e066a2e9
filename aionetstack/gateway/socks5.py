"""A sans-IO SOCKS5 client codec: RFC 1928 (requests, replies, the UDP header)
and RFC 1929 (username/password).

No sockets, no asyncio, no clock: every function turns bytes into values or
values into bytes. ``aionetstack.gateway.dialers`` drives it over kernel
sockets. Malformed input from the proxy raises ``OSError(EPROTO)``; a failure
the proxy reports raises the builtin ``OSError`` subclass its reply code means
(``reply_error``); misuse by the caller (a name longer than 255 bytes, a port
out of range) raises ``ValueError``.

Why our own codec and not a library: ``python-socks`` (well kept) has no UDP
ASSOCIATE and its maintainer has declined to add it (python-socks issues #23,
#41); ``socksio`` (sans-IO, last release 2020) encodes the UDP ASSOCIATE
command but not the per-datagram UDP request header, and its reply parser
needs a buffer-and-retry loop around it. A gateway needs the UDP side as much
as CONNECT, and the whole client codec is ~200 lines, so we keep it here,
typed and tested, with no new runtime dependency.
"""

from __future__ import annotations

import errno
import ipaddress
import struct

from attrs import frozen

# RFC 1928 3: version identifier / method selection.
VERSION = 0x05
METHOD_NO_AUTH = 0x00
METHOD_USERPASS = 0x02  # RFC 1929
METHOD_NO_ACCEPTABLE = 0xFF

# RFC 1928 4: requests.
CMD_CONNECT = 0x01
CMD_BIND = 0x02
CMD_UDP_ASSOCIATE = 0x03

# RFC 1928 5: addressing.
ATYP_IPV4 = 0x01
ATYP_DOMAIN = 0x03
ATYP_IPV6 = 0x04

# RFC 1928 6: reply codes.
REP_SUCCEEDED = 0x00
REP_GENERAL_FAILURE = 0x01
REP_NOT_ALLOWED = 0x02
REP_NETWORK_UNREACHABLE = 0x03
REP_HOST_UNREACHABLE = 0x04
REP_CONNECTION_REFUSED = 0x05
REP_TTL_EXPIRED = 0x06
REP_COMMAND_NOT_SUPPORTED = 0x07
REP_ADDRESS_TYPE_NOT_SUPPORTED = 0x08

# RFC 1929 2: sub-negotiation version and the success status.
USERPASS_VERSION = 0x01
USERPASS_SUCCESS = 0x00

#: Longest request/reply: VER REP RSV ATYP + 1 + 255-byte name + port.
MAX_REPLY_LEN = 4 + 1 + 255 + 2
#: RSV(2) FRAG(1) plus the longest address (a 255-byte name) and port.
MAX_UDP_HEADER_LEN = 3 + 1 + 1 + 255 + 2

#: RFC 1928 6 reply code -> (errno, text). The errno picks the builtin OSError
#: subclass (``OSError(ECONNREFUSED, ...)`` is a ``ConnectionRefusedError``).
_REPLY_ERRORS: dict[int, tuple[int, str]] = {
    REP_GENERAL_FAILURE: (errno.ECONNABORTED, "general SOCKS server failure"),
    REP_NOT_ALLOWED: (errno.EACCES, "connection not allowed by ruleset"),
    REP_NETWORK_UNREACHABLE: (errno.ENETUNREACH, "network unreachable"),
    REP_HOST_UNREACHABLE: (errno.EHOSTUNREACH, "host unreachable"),
    REP_CONNECTION_REFUSED: (errno.ECONNREFUSED, "connection refused"),
    REP_TTL_EXPIRED: (errno.ETIMEDOUT, "TTL expired"),
    REP_COMMAND_NOT_SUPPORTED: (errno.EOPNOTSUPP, "command not supported"),
    REP_ADDRESS_TYPE_NOT_SUPPORTED: (errno.EAFNOSUPPORT, "address type not supported"),
}


def violation(message: str) -> OSError:
    """The error for malformed input from the proxy (a protocol violation)."""
    return OSError(errno.EPROTO, f"SOCKS5 protocol violation: {message}")


def reply_error(code: int) -> OSError:
    """The builtin ``OSError`` subclass for a non-zero RFC 1928 6 reply code.

    refused -> ``ConnectionRefusedError``, not allowed -> ``PermissionError``,
    TTL expired -> ``TimeoutError``, unreachable -> ``OSError`` with
    ``ENETUNREACH`` / ``EHOSTUNREACH``; unassigned codes -> ``EPROTO``.
    """
    err, text = _REPLY_ERRORS.get(code, (errno.EPROTO, f"unassigned reply code {code:#04x}"))
    return OSError(err, f"SOCKS5 proxy: {text}")


@frozen
class Reply:
    """A successful reply to a request (RFC 1928 6): the proxy's bound address."""

    #: BND.ADDR as text: an IP address, or a name when ATYP is 3.
    host: str
    #: BND.PORT.
    port: int


@frozen
class UdpDatagram:
    """One datagram of a UDP association, header parsed (RFC 1928 7)."""

    #: Fragment number; 0 is a whole datagram (we never reassemble).
    frag: int
    #: DST.ADDR of the header: the remote the datagram came from / goes to.
    host: str
    #: DST.PORT.
    port: int
    #: The user data after the header.
    payload: bytes


def encode_address(host: str, port: int) -> bytes:
    """ATYP, DST.ADDR and DST.PORT (RFC 1928 5). IP literals are sent as
    addresses (ATYP 1 / 4); anything else as a name (ATYP 3) for the proxy to
    resolve."""
    if not 0 <= port <= 0xFFFF:
        raise ValueError(f"port out of range: {port}")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        name = host.encode("idna")
        if not 1 <= len(name) <= 255:
            raise ValueError(f"name must be 1..255 bytes for SOCKS5: {host!r}") from None
        return bytes((ATYP_DOMAIN, len(name))) + name + struct.pack("!H", port)
    atyp = ATYP_IPV4 if ip.version == 4 else ATYP_IPV6
    return bytes((atyp,)) + ip.packed + struct.pack("!H", port)


def address_length(data: bytes | memoryview, offset: int) -> int | None:
    """The length of the ATYP+ADDR+PORT field starting at ``offset``, or None
    if ``data`` does not reach far enough to tell (a name's length byte)."""
    if len(data) <= offset:
        return None
    atyp = data[offset]
    if atyp == ATYP_IPV4:
        return 1 + 4 + 2
    if atyp == ATYP_IPV6:
        return 1 + 16 + 2
    if atyp == ATYP_DOMAIN:
        if len(data) <= offset + 1:
            return None
        return 1 + 1 + data[offset + 1] + 2
    raise violation(f"unknown address type {atyp:#04x}")


def decode_address(data: bytes | memoryview, offset: int) -> tuple[str, int, int]:
    """Parse ATYP+ADDR+PORT at ``offset``: ``(host, port, end_offset)``."""
    length = address_length(data, offset)
    if length is None or len(data) < offset + length:
        raise violation("address truncated")
    atyp = data[offset]
    end = offset + length
    raw = bytes(data[offset + 1 : end - 2])
    if atyp == ATYP_DOMAIN:
        host = raw[1:].decode("ascii", errors="replace")
    else:
        host = str(ipaddress.ip_address(raw))
    (port,) = struct.unpack_from("!H", data, end - 2)
    return host, port, end


def encode_greeting(userpass: bool) -> bytes:
    """The method selection message (RFC 1928 3): offer no-auth, and
    username/password when we have credentials."""
    methods = (METHOD_NO_AUTH, METHOD_USERPASS) if userpass else (METHOD_NO_AUTH,)
    return bytes((VERSION, len(methods), *methods))


def parse_method_choice(data: bytes) -> int:
    """The server's two-byte METHOD selection; raises ``PermissionError`` when no
    offered method is acceptable (X'FF')."""
    if len(data) != 2 or data[0] != VERSION:
        raise violation(f"bad method selection {data.hex()}")
    method = data[1]
    if method == METHOD_NO_ACCEPTABLE:
        raise PermissionError(errno.EACCES, "SOCKS5 proxy: no acceptable authentication method")
    if method not in (METHOD_NO_AUTH, METHOD_USERPASS):
        raise violation(f"proxy chose a method we did not offer: {method:#04x}")
    return method


def encode_userpass(username: str, password: str) -> bytes:
    """The RFC 1929 2 username/password request (each 1..255 bytes, UTF-8)."""
    user = username.encode()
    pwd = password.encode()
    if not 1 <= len(user) <= 255 or not 1 <= len(pwd) <= 255:
        raise ValueError("RFC 1929 username and password must each be 1..255 bytes")
    return bytes((USERPASS_VERSION, len(user))) + user + bytes((len(pwd),)) + pwd


def parse_userpass_reply(data: bytes) -> None:
    """The RFC 1929 2 status: anything but X'00' is a ``PermissionError``."""
    if len(data) != 2 or data[0] != USERPASS_VERSION:
        raise violation(f"bad username/password reply {data.hex()}")
    if data[1] != USERPASS_SUCCESS:
        raise PermissionError(errno.EACCES, "SOCKS5 proxy: username/password rejected")


def encode_request(command: int, host: str, port: int) -> bytes:
    """A request (RFC 1928 4): VER CMD RSV then the address."""
    return bytes((VERSION, command, 0)) + encode_address(host, port)


def reply_length(head: bytes | memoryview) -> int | None:
    """The whole reply's length once ``head`` holds its first 5 bytes (4 for IP
    ATYPs); None while too short to tell."""
    if len(head) >= 2 and head[0] != VERSION:
        raise violation(f"reply version {head[0]:#04x}")
    length = address_length(head, 3)
    return None if length is None else 3 + length


def parse_reply(data: bytes | memoryview) -> Reply:
    """A complete reply (RFC 1928 6): the bound address, or the mapped error."""
    length = reply_length(data)
    if length is None or len(data) != length:
        raise violation("reply truncated or too long")
    if data[1] != REP_SUCCEEDED:
        raise reply_error(data[1])
    host, port, _ = decode_address(data, 3)
    return Reply(host, port)


def encode_udp(host: str, port: int, payload: bytes | bytearray | memoryview) -> bytes:
    """A UDP request header (RFC 1928 7: RSV=0, FRAG=0) and the payload."""
    return b"\x00\x00\x00" + encode_address(host, port) + bytes(payload)


def decode_udp(datagram: bytes | memoryview) -> UdpDatagram:
    """Parse a datagram from the proxy's UDP relay (RFC 1928 7)."""
    if len(datagram) < 4:
        raise violation("UDP datagram shorter than its header")
    host, port, end = decode_address(datagram, 3)
    return UdpDatagram(datagram[2], host, port, bytes(datagram[end:]))
