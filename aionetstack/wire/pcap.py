"""pcap capture files (the classic libpcap format), LINKTYPE_RAW (101): bare IPv4.

``PcapWriter`` writes the 24-byte global header then one 16-byte record header
per packet (seconds, micro- or nanoseconds, captured length, original length;
native byte order, as libpcap does). The nanosecond variant uses the magic
0xA1B23C4D. ``read_pcap`` reads both variants in either byte order, for tests
and tools. Wireshark and tcpdump open these files directly.
"""

from __future__ import annotations

import os
import struct
from types import TracebackType
from typing import IO, Final

from aionetstack.wire.checksum import BytesLike
from aionetstack.wire.errors import BadHeaderError, TruncatedError

__all__ = ["LINKTYPE_RAW", "PcapWriter", "read_pcap"]

LINKTYPE_RAW: Final = 101
MAGIC_USEC: Final = 0xA1B2C3D4
MAGIC_NSEC: Final = 0xA1B23C4D

_GLOBAL = struct.Struct("=IHHiIII")  # magic, 2, 4, thiszone, sigfigs, snaplen, linktype
_RECORD = struct.Struct("=IIII")  # ts_sec, ts_frac, incl_len, orig_len


class PcapWriter:
    """Append packets to a pcap file (LINKTYPE_RAW). Not thread-safe; cheap per packet."""

    __slots__ = ("_file", "_owns", "_scale", "closed", "snaplen")

    def __init__(
        self,
        file_or_path: str | os.PathLike[str] | IO[bytes],
        *,
        nanosecond: bool = False,
        snaplen: int = 65535,
    ) -> None:
        if isinstance(file_or_path, str | os.PathLike):
            self._file: IO[bytes] = open(file_or_path, "wb")  # noqa: SIM115 - closed by close()
            self._owns = True
        else:
            self._file = file_or_path
            self._owns = False
        self._scale = 1_000_000_000 if nanosecond else 1_000_000
        self.snaplen = snaplen
        self.closed = False
        magic = MAGIC_NSEC if nanosecond else MAGIC_USEC
        self._file.write(_GLOBAL.pack(magic, 2, 4, 0, 0, snaplen, LINKTYPE_RAW))

    def write(self, packet: BytesLike, timestamp: float) -> None:
        """Record one packet captured at ``timestamp`` (seconds since the epoch)."""
        if self.closed:
            raise ValueError("write to a closed PcapWriter")
        scale = self._scale
        ticks = round(timestamp * scale)
        sec, frac = divmod(ticks, scale)
        n = len(packet)
        incl = n if n <= self.snaplen else self.snaplen
        self._file.write(_RECORD.pack(sec & 0xFFFFFFFF, frac, incl, n))
        self._file.write(packet if incl == n else memoryview(packet)[:incl])

    def flush(self) -> None:
        if not self.closed:
            self._file.flush()

    def close(self) -> None:
        """Flush, and close the file if this writer opened it. Idempotent."""
        if self.closed:
            return
        self.closed = True
        self._file.flush()
        if self._owns:
            self._file.close()

    def __enter__(self) -> PcapWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_pcap(path: str | os.PathLike[str]) -> list[tuple[float, bytes]]:
    """Every (timestamp, packet) of a pcap file; raises ``WireError`` on a malformed file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise TruncatedError("pcap file shorter than its global header")
    magic_le = int.from_bytes(data[:4], "little")
    magic_be = int.from_bytes(data[:4], "big")
    if magic_le in (MAGIC_USEC, MAGIC_NSEC):
        order, magic = "<", magic_le
    elif magic_be in (MAGIC_USEC, MAGIC_NSEC):
        order, magic = ">", magic_be
    else:
        raise BadHeaderError(f"not a pcap file (magic {data[:4].hex()})")
    scale = 1e9 if magic == MAGIC_NSEC else 1e6
    record = struct.Struct(order + "IIII")
    out: list[tuple[float, bytes]] = []
    pos = 24
    n = len(data)
    while pos < n:
        if pos + 16 > n:
            raise TruncatedError("pcap record header truncated")
        sec, frac, incl, _orig = record.unpack_from(data, pos)
        pos += 16
        if pos + incl > n:
            raise TruncatedError("pcap record data truncated")
        out.append((sec + frac / scale, data[pos : pos + incl]))
        pos += incl
    return out
