"""The scenario language: packetdrill-flavoured lines, parsed into steps.

A scenario is a few lines of text, one step each. A line may start with
``+T``: wait T seconds (collecting the reactions of the step before) and then
run the step. Without a prefix the wait is ``DEFAULT_GAP``; ``+0`` runs the
step in the same event-loop turn as the one before (two segments arriving
together, in one batch). Steps:

    < FLAGS SEQ[:END] [ack N] [win N] [urg N] [port +K] [badsum] [<OPTIONS>]
        a TCP segment from the scripted remote host. SEQ/END are relative to
        the remote host's ISN, ack to the system-under-test's ISN (learned
        from its SYN or SYN-ACK). OPTIONS: ``mss 1460``, ``sackOK``, ``TS``
        (TSval from the script clock, TSecr = last TSval seen), ``TS old``
        (a TSval far in the past, for PAWS), ``wscale 7``, ``sack A:B C:D``.
    < udp N                     a UDP datagram of N bytes to the SUT's UDP port
    < udp N closed              ... to a port nothing listens on
    < icmp unreach port|frag MTU|host   an ICMP error quoting the SUT's last packet
    < icmp echo                 an echo request
    listen [BACKLOG] | connect | accept | write N | read | shutdown | close | abort
    udp_bind | udp_connect | udp_send N | udp_recv
    wait                        nothing (only the time prefix matters)

Every step's reactions (packets from the SUT, results of application calls)
are recorded with their time from the step's start, normalised (see
``harness.normalise``) and compared between the two systems under test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .packets import TcpOptions, flags_from_str

DEFAULT_GAP = 0.05
APP_VERBS = frozenset(
    {
        "listen", "connect", "accept", "write", "read", "shutdown", "close", "abort",
        "udp_bind", "udp_connect", "udp_send", "udp_recv", "wait",
    }
)  # fmt: skip


@dataclass
class Segment:
    flags: int
    seq: int
    end: int
    ack: int | None
    win: int = 65535
    urg: int = 0
    port: int = 0
    badsum: bool = False
    mss: int | None = None
    wscale: int | None = None
    sack_ok: bool = False
    ts: str | None = None  # None, "fresh" or "old"
    sack: list[tuple[int, int]] = field(default_factory=list)

    def options(self, tsval: int, tsecr: int, sut_isn: int) -> TcpOptions:
        """SACK blocks acknowledge the SUT's data: relative to its ISN, like ``ack``."""
        ts = None
        if self.ts is not None:
            ts = ((tsval - 100000) & 0xFFFFFFFF if self.ts == "old" else tsval, tsecr)
        return TcpOptions(
            mss=self.mss, wscale=self.wscale, sack_ok=self.sack_ok, ts=ts,
            sack=[(sut_isn + a, sut_isn + b) for a, b in self.sack],
        )  # fmt: skip


@dataclass
class Step:
    gap: float  # wait before the step
    verb: str  # "inject", "udp", "icmp" or an APP_VERBS member
    text: str
    segment: Segment | None = None
    args: list[str] = field(default_factory=list)


_SEG = re.compile(
    r"^(?P<flags>[SFRPU.]+|none)\s+(?P<seq>\d+)(?::(?P<end>\d+)(?:\(\d+\))?)?"
    r"(?P<rest>.*)$"
)


def _segment(text: str) -> Segment:
    m = _SEG.match(text)
    if m is None:
        raise ValueError(f"cannot parse segment {text!r}")
    flags = 0 if m["flags"] == "none" else flags_from_str(m["flags"])
    seq = int(m["seq"])
    end = int(m["end"]) if m["end"] is not None else seq
    rest = m["rest"]
    opts_text = ""
    found = re.search(r"<([^>]*)>", rest)
    if found is not None:
        opts_text = found[1]
        rest = rest[: found.start()] + rest[found.end() :]
    seg = Segment(flags=flags, seq=seq, end=end, ack=None)
    words = rest.split()
    i = 0
    while i < len(words):
        word = words[i]
        if word == "badsum":
            seg.badsum = True
            i += 1
            continue
        value = words[i + 1]
        if word == "ack":
            seg.ack = int(value)
        elif word == "win":
            seg.win = int(value)
        elif word == "urg":
            seg.urg = int(value)
        elif word == "port":
            seg.port = int(value)
        else:
            raise ValueError(f"unknown segment field {word!r} in {text!r}")
        i += 2
    for opt in filter(None, (o.strip() for o in opts_text.split(","))):
        name, _, arg = opt.partition(" ")
        if name == "mss":
            seg.mss = int(arg)
        elif name == "wscale":
            seg.wscale = int(arg)
        elif name == "sackOK":
            seg.sack_ok = True
        elif name == "TS":
            seg.ts = "old" if arg == "old" else "fresh"
        elif name == "sack":
            for block in arg.split():
                left, right = block.split(":")
                seg.sack.append((int(left), int(right)))
        elif name != "nop":
            raise ValueError(f"unknown option {opt!r} in {text!r}")
    return seg


def parse_script(text: str) -> list[Step]:
    steps: list[Step] = []
    for raw_line in text.strip().splitlines():
        line = raw_line.split("#", 1)[0].strip()
        if not line:
            continue
        gap = DEFAULT_GAP
        if line.startswith("+"):
            head, _, line = line.partition(" ")
            gap = float(head[1:])
            line = line.strip() or "wait"
        if line.startswith("<"):
            body = line[1:].strip()
            kind = body.split()[0]
            if kind in ("udp", "icmp"):
                steps.append(Step(gap, kind, line, args=body.split()[1:]))
            else:
                steps.append(Step(gap, "inject", line, segment=_segment(body)))
            continue
        verb, *args = line.split()
        if verb not in APP_VERBS:
            raise ValueError(f"unknown step {line!r}")
        steps.append(Step(gap, verb, line, args=args))
    return steps


@dataclass
class Scenario:
    """One scenario: its script, the socket options both sides get, and, when it
    is known to differ from Linux, the docs/CONFORMANCE.md entry explaining why."""

    name: str
    script: str
    nodelay: bool = False
    keepalive: tuple[float, float, int] | None = None  # idle, interval, count
    syn_retries: int | None = None
    tail: float = 0.1  # how long the last step's reactions are collected
    tolerance: float = 0.03  # seconds, plus 20 % of the time compared
    expected_difference: str | None = None
    ipv6: bool = False  # played over IPv6 (2001:2::/48) instead of IPv4

    @property
    def steps(self) -> list[Step]:
        return parse_script(self.script)

    @property
    def duration(self) -> float:
        return sum(step.gap for step in self.steps) + self.tail
