"""The one exception family a malformed packet can raise."""

from __future__ import annotations


class WireError(Exception):
    """A packet could not be parsed; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TruncatedError(WireError):
    """The buffer is shorter than the header or a length field claims."""


class ChecksumError(WireError):
    """A checksum did not verify."""


class BadHeaderError(WireError):
    """A header field has an impossible value (version, IHL, data offset...)."""


class BadOptionError(WireError):
    """An IP or TCP option is malformed (bad length, truncated)."""


class ParameterProblemError(WireError):
    """An IPv6 packet to discard, answerable with an ICMPv6 Parameter Problem (RFC 8200 4).

    ``code`` is the RFC 4443 3.4 code (0 erroneous header field, 1 unrecognized
    Next Header, 2 unrecognized option, 3 incomplete first fragment: RFC 7112),
    ``pointer`` the byte offset of the offending field from the start of the
    packet. ``send_icmp`` is False when the rule says to discard silently (an
    option whose action bits are 01, or 11 with a multicast destination:
    RFC 8200 4.2). ``header`` is the packet's ``Ipv6Header`` (its fixed fields
    are valid; the walk stopped at the offending header), or None.
    """

    def __init__(
        self,
        reason: str,
        code: int,
        pointer: int,
        *,
        send_icmp: bool = True,
        header: object | None = None,
    ) -> None:
        super().__init__(reason)
        self.code = code
        self.pointer = pointer
        self.send_icmp = send_icmp
        self.header = header
