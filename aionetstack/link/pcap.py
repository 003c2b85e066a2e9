"""Capture files on disk: ``PcapWriter`` (pcap), ``PcapngWriter`` (pcapng).

The encodings are ``wire.pcap``'s; this module owns the files. Both writers
take a path (the file is opened and closed by the writer) or a binary file
object (left open), and share one method for the capture wrapper:
``write_batch(packets, timestamp, *, outbound)``. Only pcapng records the
direction: ``PcapngWriter`` declares one interface per side of the captured
link (``tx``: what the stack sent, ``rx``: what it received) and marks every
packet's ``epb_flags`` outbound or inbound.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from types import TracebackType
from typing import IO, Literal

from aionetstack.wire.checksum import BytesLike
from aionetstack.wire.pcap import (
    DIRECTION_INBOUND,
    DIRECTION_OUTBOUND,
    PcapngInterface,
    PcapngPacket,
    parse_pcap,
    parse_pcapng,
    pcap_global_header,
    pcap_record_header,
    pcapng_enhanced_packet,
    pcapng_interface_description,
    pcapng_section_header,
)

__all__ = [
    "CaptureFormat",
    "PcapWriter",
    "PcapngWriter",
    "capture_format",
    "open_capture_writer",
    "read_pcap",
    "read_pcapng",
]

CaptureFormat = Literal["pcap", "pcapng"]

# The two interfaces of a capture wrapper's pcapng file.
TX, RX = 0, 1


class _FileWriter:
    """Owns (or borrows) a binary file; ``flush``/``close``/context manager."""

    def __init__(self, file_or_path: str | os.PathLike[str] | IO[bytes]) -> None:
        if isinstance(file_or_path, str | os.PathLike):
            self._file: IO[bytes] = open(file_or_path, "wb")  # noqa: SIM115 - closed by close()
            self._owns = True
        else:
            self._file = file_or_path
            self._owns = False
        self.closed = False

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError(f"write to a closed {type(self).__name__}")

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

    def __enter__(self) -> _FileWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class PcapWriter(_FileWriter):
    """Append packets to a pcap file (LINKTYPE_RAW). Not thread-safe; cheap per packet."""

    def __init__(
        self,
        file_or_path: str | os.PathLike[str] | IO[bytes],
        *,
        nanosecond: bool = False,
        snaplen: int = 65535,
    ) -> None:
        super().__init__(file_or_path)
        self._scale = 1_000_000_000 if nanosecond else 1_000_000
        self.snaplen = snaplen
        self._file.write(pcap_global_header(nanosecond=nanosecond, snaplen=snaplen))

    def write(self, packet: BytesLike, timestamp: float) -> None:
        """Record one packet captured at ``timestamp`` (seconds since the epoch)."""
        self._check_open()
        n = len(packet)
        self._file.write(pcap_record_header(n, timestamp, scale=self._scale, snaplen=self.snaplen))
        self._file.write(packet if n <= self.snaplen else memoryview(packet)[: self.snaplen])

    def write_batch(
        self, packets: Iterable[BytesLike], timestamp: float, *, outbound: bool
    ) -> None:
        """Record packets of one direction (pcap has no field for it)."""
        for packet in packets:
            self.write(packet, timestamp)

    def __enter__(self) -> PcapWriter:
        return self


class PcapngWriter(_FileWriter):
    """Append packets to a pcapng file: a section header, the interfaces
    ``tx`` (id 0, packets the stack sent) and ``rx`` (id 1, packets it
    received), then one Enhanced Packet Block per packet with its direction."""

    def __init__(
        self,
        file_or_path: str | os.PathLike[str] | IO[bytes],
        *,
        snaplen: int = 65535,
        description: str = "aionetstack link",
    ) -> None:
        super().__init__(file_or_path)
        self.snaplen = snaplen
        self._file.write(pcapng_section_header())
        for name, what in (("tx", "sent by the stack"), ("rx", "received by the stack")):
            self._file.write(
                pcapng_interface_description(name, f"{description}: {what}", snaplen=snaplen)
            )

    def write(self, packet: BytesLike, timestamp: float, *, outbound: bool) -> None:
        """Record one packet: outbound on ``tx``, inbound on ``rx``."""
        self._check_open()
        iface, direction = (TX, DIRECTION_OUTBOUND) if outbound else (RX, DIRECTION_INBOUND)
        self._file.write(
            pcapng_enhanced_packet(
                iface, timestamp, packet, direction=direction, snaplen=self.snaplen
            )
        )

    def write_batch(
        self, packets: Iterable[BytesLike], timestamp: float, *, outbound: bool
    ) -> None:
        for packet in packets:
            self.write(packet, timestamp, outbound=outbound)

    def __enter__(self) -> PcapngWriter:
        return self


def capture_format(path: str | os.PathLike[str], format: str | None = None) -> CaptureFormat:
    """``format`` if given ("pcap" or "pcapng"), else by the file's suffix
    (``.pcapng`` -> pcapng, anything else -> pcap)."""
    if format is None:
        return "pcapng" if os.fspath(path).lower().endswith(".pcapng") else "pcap"
    if format not in ("pcap", "pcapng"):
        raise ValueError(f"capture format must be 'pcap' or 'pcapng', not {format!r}")
    return "pcapng" if format == "pcapng" else "pcap"


def open_capture_writer(
    path: str | os.PathLike[str],
    format: str | None = None,
    *,
    description: str = "aionetstack link",
) -> PcapWriter | PcapngWriter:
    """A writer for ``path`` in ``capture_format(path, format)``."""
    if capture_format(path, format) == "pcapng":
        return PcapngWriter(path, description=description)
    return PcapWriter(path)


def read_pcap(path: str | os.PathLike[str]) -> list[tuple[float, bytes]]:
    """Every (timestamp, packet) of a pcap file; raises ``WireError`` on a malformed file."""
    with open(path, "rb") as f:
        return parse_pcap(f.read())


def read_pcapng(path: str | os.PathLike[str]) -> tuple[list[PcapngInterface], list[PcapngPacket]]:
    """The interfaces and packets of a pcapng file; raises ``WireError`` if malformed."""
    with open(path, "rb") as f:
        return parse_pcapng(f.read())
