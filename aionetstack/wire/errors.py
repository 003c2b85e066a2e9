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
