"""IP address helpers. Addresses are plain ``int`` values in host order.

IPv4: a 32-bit int (0xC6120002 = 198.18.0.2). IPv6: a 128-bit int
(0x2001_0002_0000_..._0002 = 2001:2::2). The family is never inferred from the
value (``::c612:2`` is a valid IPv6 address below 2**32): it travels beside it
(the IP version of the header, or the ``version`` these helpers return). Ints
make prefix matching a mask and a compare, checksums a sum, and keys hash fast;
IPv4 code paths are unchanged by IPv6 support.

These parse *user* input (API arguments), so they raise ``ValueError``, not
``WireError``.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = [
    "BROADCAST",
    "LIMITED_BROADCAST",
    "format_ip",
    "int_to_ip",
    "int_to_ip6",
    "ip6_to_int",
    "ip_to_int",
    "is_broadcast_for",
    "is_link_local6",
    "is_loopback",
    "is_loopback6",
    "is_martian_source",
    "is_martian_source6",
    "is_multicast",
    "is_multicast6",
    "is_v4_mapped6",
    "network_of",
    "network_of6",
    "parse_interface",
    "parse_interface6",
    "parse_interface_any",
    "parse_ip",
    "prefix_mask",
    "prefix_mask6",
]

LIMITED_BROADCAST = 0xFFFFFFFF
BROADCAST = LIMITED_BROADCAST


def ip_to_int(text: str) -> int:
    """Dotted-quad text to a host-order int. Strict: exactly four decimal octets."""
    if not isinstance(text, str):
        raise ValueError(f"IPv4 address must be a str, not {type(text).__name__}")
    parts = text.split(".")
    if len(parts) != 4:
        raise ValueError(f"invalid IPv4 address: {text!r}")
    value = 0
    for part in parts:
        # Reject empty, signs, whitespace, non-ASCII digits and leading zeros
        # (ambiguous octal, as Python's ipaddress does).
        if not part or not part.isascii() or not part.isdigit() or len(part) > 3:
            raise ValueError(f"invalid IPv4 address: {text!r}")
        if len(part) > 1 and part[0] == "0":
            raise ValueError(f"invalid IPv4 address (leading zero): {text!r}")
        octet = int(part)
        if octet > 255:
            raise ValueError(f"invalid IPv4 address: {text!r}")
        value = (value << 8) | octet
    return value


def int_to_ip(value: int) -> str:
    """Host-order int to dotted-quad text."""
    if not 0 <= value <= 0xFFFFFFFF:
        raise ValueError(f"IPv4 address out of range: {value!r}")
    return f"{value >> 24}.{(value >> 16) & 0xFF}.{(value >> 8) & 0xFF}.{value & 0xFF}"


def prefix_mask(prefixlen: int) -> int:
    """Netmask of a prefix length: ``prefix_mask(24) == 0xFFFFFF00``."""
    if not 0 <= prefixlen <= 32:
        raise ValueError(f"prefix length out of range: {prefixlen!r}")
    return (0xFFFFFFFF << (32 - prefixlen)) & 0xFFFFFFFF


def parse_interface(text: str) -> tuple[int, int]:
    """``"198.18.0.2/24"`` to ``(address, prefixlen)``; a bare address means /32."""
    return _interface(text, ip_to_int, 32)


def network_of(addr: int, prefixlen: int) -> int:
    """The network address of ``addr/prefixlen``."""
    return addr & prefix_mask(prefixlen)


def is_multicast(addr: int) -> bool:
    """224.0.0.0/4 (RFC 5771)."""
    return (addr & 0xF0000000) == 0xE0000000


def is_loopback(addr: int) -> bool:
    """127.0.0.0/8 (RFC 1122 3.2.1.3)."""
    return (addr >> 24) == 127


def is_broadcast_for(addr: int, net: int, prefixlen: int) -> bool:
    """Limited broadcast, or the directed broadcast of ``net/prefixlen`` (RFC 919, RFC 922).

    /31 (RFC 3021) and /32 networks have no directed broadcast address.
    """
    if addr == LIMITED_BROADCAST:
        return True
    if prefixlen >= 31:
        return False
    mask = prefix_mask(prefixlen)
    return (addr & mask) == (net & mask) and (addr | mask) == 0xFFFFFFFF


def is_martian_source(addr: int) -> bool:
    """A source address no packet may carry (RFC 1812 5.3.7, RFC 1122 3.2.1.3).

    0.0.0.0/8 ("this network"), 127.0.0.0/8 (loopback), 224.0.0.0/4 (multicast),
    240.0.0.0/4 (reserved) and the limited broadcast 255.255.255.255.
    """
    top = addr >> 24
    return top == 0 or top == 127 or top >= 224


# --- IPv6 (RFC 4291 2.2 text input, RFC 5952 canonical text output) ---------

ALL_ONES6 = (1 << 128) - 1
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def _hex_group(part: str, text: str) -> int:
    if not 1 <= len(part) <= 4 or not all(c in _HEX_DIGITS for c in part):
        raise ValueError(f"invalid IPv6 address: {text!r}")
    return int(part, 16)


def ip6_to_int(text: str) -> int:
    """IPv6 text (RFC 4291 2.2: hex groups, one ``::``, a trailing dotted quad) to an int.

    Zone indices (``%eth0``) and prefix lengths are not accepted here.
    """
    if not isinstance(text, str):
        raise ValueError(f"IPv6 address must be a str, not {type(text).__name__}")
    if not text.isascii() or len(text) > 45:
        raise ValueError(f"invalid IPv6 address: {text!r}")
    words: list[int] = []
    head, sep, tail = text.partition("::")
    if sep and "::" in tail:
        raise ValueError(f"invalid IPv6 address (two '::'): {text!r}")
    sections = [head, tail] if sep else [head]
    parsed: list[list[int]] = []
    for i, section in enumerate(sections):
        groups: list[int] = []
        if section:
            parts = section.split(":")
            for j, part in enumerate(parts):
                last = i == len(sections) - 1 and j == len(parts) - 1
                if last and "." in part:  # RFC 4291 2.2 form 3: x:x:x:x:x:x:d.d.d.d
                    v4 = ip_to_int(part)
                    groups += (v4 >> 16, v4 & 0xFFFF)
                else:
                    groups.append(_hex_group(part, text))
        parsed.append(groups)
    if sep:
        missing = 8 - len(parsed[0]) - len(parsed[1])
        if missing < 1:  # "::" stands for at least one group (RFC 4291 2.2)
            raise ValueError(f"invalid IPv6 address: {text!r}")
        words = parsed[0] + [0] * missing + parsed[1]
    else:
        words = parsed[0]
        if len(words) != 8:
            raise ValueError(f"invalid IPv6 address: {text!r}")
    value = 0
    for word in words:
        value = (value << 16) | word
    return value


def int_to_ip6(value: int) -> str:
    """An int to RFC 5952 canonical text: lower case, no leading zeros, the longest run
    (the first of equal ones) of two or more zero groups as ``::`` (RFC 5952 4.2),
    and IPv4-mapped addresses as ``::ffff:d.d.d.d`` (RFC 5952 5)."""
    if not 0 <= value <= ALL_ONES6:
        raise ValueError(f"IPv6 address out of range: {value!r}")
    if value >> 32 == 0xFFFF:
        return "::ffff:" + int_to_ip(value & 0xFFFFFFFF)
    words = [(value >> (112 - 16 * i)) & 0xFFFF for i in range(8)]
    best_start, best_len = -1, 1  # RFC 5952 4.2.2: never "::" for a single group
    i = 0
    while i < 8:
        if words[i] == 0:
            j = i
            while j < 8 and words[j] == 0:
                j += 1
            if j - i > best_len:
                best_start, best_len = i, j - i
            i = j
        else:
            i += 1
    hexes = [f"{w:x}" for w in words]
    if best_start < 0:
        return ":".join(hexes)
    return ":".join(hexes[:best_start]) + "::" + ":".join(hexes[best_start + best_len :])


def prefix_mask6(prefixlen: int) -> int:
    """Netmask of an IPv6 prefix length: ``prefix_mask6(64) == ((1 << 64) - 1) << 64``."""
    if not 0 <= prefixlen <= 128:
        raise ValueError(f"IPv6 prefix length out of range: {prefixlen!r}")
    return (ALL_ONES6 << (128 - prefixlen)) & ALL_ONES6


def _interface(text: str, parse: Callable[[str], int], bits: int) -> tuple[int, int]:
    if not isinstance(text, str):
        raise ValueError(f"interface must be a str, not {type(text).__name__}")
    addr_text, sep, plen_text = text.partition("/")
    if not sep:
        return parse(addr_text), bits
    if not plen_text.isascii() or not plen_text.isdigit() or len(plen_text) > 3:
        raise ValueError(f"invalid prefix length in {text!r}")
    prefixlen = int(plen_text)
    if prefixlen > bits:
        raise ValueError(f"invalid prefix length in {text!r}")
    return parse(addr_text), prefixlen


def parse_interface6(text: str) -> tuple[int, int]:
    """``"2001:2::2/64"`` to ``(address, prefixlen)``; a bare address means /128."""
    return _interface(text, ip6_to_int, 128)


def network_of6(addr: int, prefixlen: int) -> int:
    """The network (prefix) of ``addr/prefixlen``."""
    return addr & prefix_mask6(prefixlen)


def parse_ip(text: str) -> tuple[int, int]:
    """Either family's text to ``(version, address)``: ``(4, int)`` or ``(6, int)``."""
    if isinstance(text, str) and ":" in text:
        return 6, ip6_to_int(text)
    return 4, ip_to_int(text)


def format_ip(version: int, value: int) -> str:
    """``(version, address)`` back to text (RFC 5952 for IPv6)."""
    if version == 4:
        return int_to_ip(value)
    if version == 6:
        return int_to_ip6(value)
    raise ValueError(f"IP version {version!r} is neither 4 nor 6")


def parse_interface_any(text: str) -> tuple[int, int, int]:
    """``"198.18.0.2/24"`` or ``"2001:2::2/64"`` to ``(version, address, prefixlen)``."""
    if isinstance(text, str) and ":" in text:
        return (6, *parse_interface6(text))
    return (4, *parse_interface(text))


def is_multicast6(addr: int) -> bool:
    """ff00::/8 (RFC 4291 2.7)."""
    return addr >> 120 == 0xFF


def is_loopback6(addr: int) -> bool:
    """::1 (RFC 4291 2.5.3)."""
    return addr == 1


def is_link_local6(addr: int) -> bool:
    """fe80::/10 (RFC 4291 2.5.6)."""
    return addr >> 118 == 0x3FA


def is_v4_mapped6(addr: int) -> bool:
    """::ffff:0:0/96 (RFC 4291 2.5.5.2)."""
    return addr >> 32 == 0xFFFF


def is_martian_source6(addr: int) -> bool:
    """A source no received packet may carry: multicast (RFC 4291 2.7), loopback
    (RFC 4291 2.5.3) or IPv4-mapped (RFC 4291 2.5.5.2; Linux ``ip6_rcv_core``).

    The unspecified address is allowed (duplicate address detection, MLD).
    """
    return addr >> 120 == 0xFF or addr == 1 or addr >> 32 == 0xFFFF
