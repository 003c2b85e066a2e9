"""Packet capture as a wrapper around any link.

Theory of operation
-------------------
``CaptureLink(inner, path)`` forwards everything to ``inner`` and writes every
packet, both directions, to a pcap file through ``wire.pcap.PcapWriter``
(LINKTYPE_RAW: the records are bare IPv4 packets, which Wireshark, tcpdump and
Scapy read). Records are stamped with the wall clock (``time.time()``), as a
capture on a real interface would be. Outgoing packets are recorded when the
stack hands them to the link, incoming ones when the link delivers them.
The file is flushed at every batch boundary cheaply (buffered writer) and closed
with the link.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from aionetstack.link.base import Link
from aionetstack.link.impair import LinkWrapper
from aionetstack.link.memory import LoopFactory


class CaptureLink(LinkWrapper):
    """Wrap ``inner`` and record both directions to the pcap file ``path``."""

    def __init__(
        self,
        inner: Link,
        path: str | os.PathLike[str],
        *,
        loop_factory: LoopFactory | None = None,
    ) -> None:
        super().__init__(inner, loop_factory=loop_factory)
        from aionetstack.wire.pcap import PcapWriter

        self.path = os.fspath(path)
        self._writer: Any = PcapWriter(self.path)
        self.packets_written = 0

    def _record(self, packets: Sequence[bytes]) -> None:
        writer = self._writer
        if writer is None:
            return
        ts = time.time()
        write = writer.write
        for packet in packets:
            write(packet, ts)
        self.packets_written += len(packets)

    def _egress(self, packets: Sequence[bytes]) -> None:
        if self._closed:
            return
        self._record(packets)
        self.inner.send_batch(packets)

    def _ingress(self, batch: list[bytes]) -> None:
        self._record(batch)
        self._deliver(batch)

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def _closing(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
