"""Packet capture as a wrapper around any link.

Theory of operation
-------------------
``CaptureLink(inner, path)`` forwards everything to ``inner`` and writes every
packet, both directions, to a capture file (LINKTYPE_RAW: the records are bare
IPv4 packets, which Wireshark, tcpdump and Scapy read). The format follows the
file's suffix unless ``format`` says otherwise: ``.pcapng`` writes pcapng
(``link.pcap.PcapngWriter``: an interface per side of the link, ``tx`` and
``rx``, and every packet's direction in its ``epb_flags``, so Wireshark can
filter ``frame.packet_flags_direction == 2`` for outbound); anything else
writes classic pcap (``PcapWriter``), which has no direction field.

Timestamps are wall-clock times, taken from the loop's clock: the wall clock
(``time.time()``) is read once, when the loop is first known, and every packet
is stamped with that plus the loop time elapsed since. On a real loop this is
the wall clock; on a ``VirtualTimeLoop`` the capture shows the virtual
timeline (a 30 s lossy test spans 30 s in Wireshark). Outgoing packets are
recorded when the stack hands them to the link, incoming ones when the link
delivers them. Buffered writes, flushed by ``flush()`` and closed with the link.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from aionetstack.link.base import EventLoopLike, Link
from aionetstack.link.impair import LinkWrapper
from aionetstack.link.memory import LoopFactory
from aionetstack.link.pcap import PcapngWriter, PcapWriter, open_capture_writer


class CaptureLink(LinkWrapper):
    """Wrap ``inner`` and record both directions to the capture file ``path``
    (pcapng for a ``.pcapng`` suffix or ``format="pcapng"``, else pcap)."""

    def __init__(
        self,
        inner: Link,
        path: str | os.PathLike[str],
        *,
        format: str | None = None,
        loop_factory: LoopFactory | None = None,
    ) -> None:
        super().__init__(inner, loop_factory=loop_factory)
        self.path = os.fspath(path)
        self._writer: PcapWriter | PcapngWriter | None = open_capture_writer(
            self.path, format, description=repr(inner)
        )
        self.format = "pcapng" if isinstance(self._writer, PcapngWriter) else "pcap"
        self.packets_written = 0
        self._clock: tuple[EventLoopLike, float, float] | None = None  # loop, loop t0, wall t0

    def _timestamp(self) -> float:
        clock = self._clock
        if clock is None:
            try:
                loop = self._get_loop()
            except RuntimeError:
                return time.time()  # no loop yet: a raw send before anything runs
            clock = self._clock = (loop, loop.time(), time.time())
        loop, loop_t0, wall_t0 = clock
        return wall_t0 + (loop.time() - loop_t0)

    def _record(self, packets: Sequence[bytes], *, outbound: bool) -> None:
        writer = self._writer
        if writer is None:
            return
        writer.write_batch(packets, self._timestamp(), outbound=outbound)
        self.packets_written += len(packets)

    def _egress(self, packets: Sequence[bytes]) -> None:
        if self._closed:
            return
        self._record(packets, outbound=True)
        self.inner.send_batch(packets)

    def _ingress(self, batch: list[bytes]) -> None:
        self._record(batch, outbound=False)
        self._deliver(batch)

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def _closing(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
