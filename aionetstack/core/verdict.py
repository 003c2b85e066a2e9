"""Admission verdicts for transparent (gateway) flows, decided before any state.

A transparent TCP listener's ``syn_filter`` and a transparent UDP endpoint's
``datagram_filter`` are called as ``filter(src, src_port, dst, dst_port)``
(addresses as ``int``) and return one of these, like gVisor's
``tcp.Forwarder`` request (``Complete(sendReset)``) and its UDP forwarder:

* ``ACCEPT``: the segment or datagram goes on as usual (a SYN-ACK, a delivery);
* ``REFUSE``: the peer is told at once: an RST for a SYN (RFC 9293 3.10.7.1, as
  for a closed port), an ICMP port unreachable for a datagram (RFC 1122 4.1.3.1),
  both sent *from the original destination*;
* ``DROP``: silently discarded (the peer retries or times out).

Nothing is kept for a refused or dropped flow. A filter must not raise (an
exception propagates out of ``StackEngine.receive``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable


class Verdict(enum.IntEnum):
    ACCEPT = 0
    REFUSE = 1
    DROP = 2


#: ``filter(src, src_port, dst, dst_port) -> Verdict``
FlowFilter = Callable[[int, int, int, int], Verdict]
