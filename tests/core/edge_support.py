"""Helpers for the edge tests (SYN cookies, SYN queue, TIME-WAIT, connection cap):
one StackEngine at 198.18.0.2 and a scripted peer at 198.18.0.1 built with Scapy."""

from __future__ import annotations

import gc
import sys
from ipaddress import IPv4Address
from typing import Any

from scapy.layers.inet import IP, TCP

from aionetstack.core.config import StackConfig
from aionetstack.core.stack import StackEngine

US = "198.18.0.2"
PEER = "198.18.0.1"
US_INT = int(IPv4Address(US))
PEER_INT = int(IPv4Address(PEER))
PORT = 80


def engine(**cfg: Any) -> StackEngine:
    e = StackEngine(StackConfig(**cfg), secret=b"e" * 16, now=0.0)
    e.add_interface(US_INT, 24, 1500)
    return e


def send(e: StackEngine, now: float, sport: int, **tcp: Any) -> list[Any]:
    """Feed one segment from the peer; the TCP headers of what the engine sends back."""
    options = tcp.pop("options", [])
    payload = tcp.pop("payload", b"")
    pkt = IP(src=PEER, dst=US) / TCP(sport=sport, dport=tcp.pop("dport", PORT), options=options,
                                     **tcp)  # fmt: skip
    if payload:
        pkt = pkt / payload
    e.receive(bytes(pkt), 1, now)
    return replies(e, now)


def replies(e: StackEngine, now: float) -> list[Any]:
    return [IP(p)[TCP] for _, p in e.packets_to_send(now)]


def opts(seg: Any) -> dict[str, Any]:
    return {name: value for name, value in seg.options}


def deep_size(obj: object, *shared: object) -> int:
    """Bytes held by ``obj`` and everything it reaches but ``shared`` (the config...);
    small ints and strings the interpreter shares are counted too: an upper bound."""
    seen: set[int] = {id(x) for x in shared}
    todo = [obj]
    total = 0
    while todo:
        o = todo.pop()
        if id(o) in seen or isinstance(o, type):
            continue
        seen.add(id(o))
        total += sys.getsizeof(o)
        todo.extend(r for r in gc.get_referents(o) if not isinstance(r, type))
    return total
