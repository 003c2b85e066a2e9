"""IPv4 address helpers. Addresses are ``int`` in host order (0xC6120002 = 198.18.0.2).

These parse *user* input (API arguments), so they raise ``ValueError``, not
``WireError``.
"""

from __future__ import annotations

__all__ = [
    "BROADCAST",
    "LIMITED_BROADCAST",
    "int_to_ip",
    "ip_to_int",
    "is_broadcast_for",
    "is_loopback",
    "is_martian_source",
    "is_multicast",
    "network_of",
    "parse_interface",
    "prefix_mask",
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
    if not isinstance(text, str):
        raise ValueError(f"interface must be a str, not {type(text).__name__}")
    addr_text, sep, plen_text = text.partition("/")
    if not sep:
        return ip_to_int(addr_text), 32
    if not plen_text.isascii() or not plen_text.isdigit() or len(plen_text) > 2:
        raise ValueError(f"invalid prefix length in {text!r}")
    prefixlen = int(plen_text)
    if prefixlen > 32:
        raise ValueError(f"invalid prefix length in {text!r}")
    return ip_to_int(addr_text), prefixlen


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
