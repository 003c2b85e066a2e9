"""Play one scenario against one system under test and record its reactions.

The scripted remote host is the same for both systems: it writes raw IPv4
packets into the SUT (the TUN device's file descriptor for Linux, the raw end
of a memory link for aionetstack) and reads what the SUT sends back. Each
reaction is normalised here, as it arrives, into a line of text:

* sequence numbers relative to the SUT's ISN, acknowledgments and SACK blocks
  relative to the remote host's ISN; ports and IDs are left out;
* options as a set: MSS with its value, window scale by presence, SACK-permitted,
  timestamps by presence with the TSecr value (the script's TSvals are fixed by
  the schedule, so identical on both sides) and ``stale`` when the TSval does
  not move with the clock (more than 25 ms + 5 % away from the SUT's own first
  TSval plus the elapsed time, RFC 7323 5.4);
* windows as ``win 0`` or ``win>0``; PSH is ignored (see docs/CONFORMANCE.md);
* application results as ``app: ...`` (connected, accepted, read N / eof /
  ECONNRESET, udp N, errors by errno name).

Times are seconds from the start of the step, compared within a tolerance.
"""

from __future__ import annotations

import asyncio
import errno
from dataclasses import dataclass, field

from . import packets as P
from .script import Scenario, Segment, Step

SUT_IP = "198.18.0.1"
SUT_IP6 = "2001:2::1"
REMOTE_PORT = 40000
SCRIPT_ISN = 1_000_000_000
TS_BASE = 1000  # the script's TSval at the scenario's start (ms clock)

Event = tuple[int, float, str]  # step index, seconds from the step's start, text


def remote_ip(index: int, ipv6: bool = False) -> str:
    """A remote host address per scenario, all inside 198.18.0.0/15 (RFC 2544), or
    2001:2::/48 (RFC 5180) for an IPv6 scenario (in the canonical form)."""
    if ipv6:
        return f"2001:2:0:{1 + index // 200:x}::{10 + index % 200:x}"
    return f"198.18.{1 + index // 200}.{10 + index % 200}"


def listen_port(index: int) -> int:
    return 5000 + index


def err_name(exc: BaseException) -> str:
    code = getattr(exc, "errno", None)
    if isinstance(exc, TimeoutError) and code is None:
        return "ETIMEDOUT"
    if code is None:
        return type(exc).__name__
    return errno.errorcode.get(code, str(code))


@dataclass
class Flow:
    """What the script knows of one TCP connection (keyed by the remote port)."""

    sut_port: int
    isn: int | None = None
    last_tsval: int = 0
    ts_ref: tuple[float, int] | None = None  # (time, TSval) of the first TS seen


class Sut:
    """A system under test, as the runner drives it (subclassed per SUT)."""

    def __init__(self, run: Run) -> None:
        self.run = run

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    def send(self, raw: bytes) -> None:
        raise NotImplementedError

    async def app(self, verb: str, args: list[str]) -> str | None:
        """Run an application step; a synchronous result is returned as text."""
        raise NotImplementedError


@dataclass
class Run:
    scenario: Scenario
    index: int
    loop: asyncio.AbstractEventLoop
    events: list[Event] = field(default_factory=list)
    flows: dict[int, Flow] = field(default_factory=dict)
    step: int = -1
    step_start: float = 0.0
    clock_ms: int = TS_BASE  # the script's TSval: scheduled time, identical on both sides
    last_out: bytes = b""

    @property
    def remote(self) -> str:
        return remote_ip(self.index, self.scenario.ipv6)

    @property
    def sut_ip(self) -> str:
        return SUT_IP6 if self.scenario.ipv6 else SUT_IP

    @property
    def port(self) -> int:
        return listen_port(self.index)

    def record(self, text: str, when: float | None = None) -> None:
        t = (self.loop.time() if when is None else when) - self.step_start
        self.events.append((self.step, round(max(t, 0.0), 4), text))

    def flow(self, rport: int) -> Flow:
        if rport not in self.flows:
            self.flows[rport] = Flow(sut_port=self.port)
        return self.flows[rport]

    # ---------------------------------------------------------------- reactions

    def on_packet(self, when: float, raw: bytes) -> None:
        pkt = P.parse(raw)
        if pkt is None:
            self.record("non-ip packet", when)
            return
        self.last_out = raw
        if pkt.proto == P.PROTO_TCP:
            self.record(self.normalise(pkt, when), when)
        elif pkt.proto == P.PROTO_UDP:
            self.record(f"udp {len(pkt.payload)}", when)
        elif pkt.proto in (P.PROTO_ICMP, P.PROTO_ICMPV6):
            quoted = P.parse(pkt.icmp_quote + b"\0" * 40) if pkt.icmp_quote else None
            what = f" quoting proto {quoted.proto}" if quoted is not None else ""
            self.record(f"icmp {pkt.icmp_type}/{pkt.icmp_code}{what}", when)
        else:
            self.record(f"ip proto {pkt.proto}", when)

    def normalise(self, pkt: P.Packet, when: float) -> str:
        flow = self.flows.get(pkt.dport)
        if flow is None:
            flow = self.flows[pkt.dport] = Flow(sut_port=pkt.sport)
        flow.sut_port = pkt.sport
        if pkt.flags & P.SYN:
            flow.isn = pkt.seq
        base = flow.isn if flow.isn is not None else 0
        seq = (pkt.seq - base) & 0xFFFFFFFF
        plen = len(pkt.payload)
        text = f"{P.flags_to_str(pkt.flags)} {seq}:{(seq + plen) & 0xFFFFFFFF}({plen})"
        if pkt.flags & P.ACK:
            text += f" ack {(pkt.ack - SCRIPT_ISN) & 0xFFFFFFFF}"
        text += " win 0" if pkt.window == 0 else " win>0"
        if pkt.flags & P.URG:
            text += f" urg {pkt.urgent}"
        opts = pkt.options
        parts: list[str] = []
        if opts.mss is not None:
            parts.append(f"mss {opts.mss}")
        if opts.sack_ok:
            parts.append("sackOK")
        if opts.ts is not None:
            tsval, tsecr = opts.ts
            ts = f"TS ecr {tsecr}"
            if flow.ts_ref is None:
                flow.ts_ref = (when, tsval)
            else:
                t0, v0 = flow.ts_ref
                elapsed = (when - t0) * 1000.0
                moved = (tsval - v0) & 0xFFFFFFFF
                if abs(moved - elapsed) > 25 + 0.05 * elapsed:
                    ts += f" stale({moved - elapsed:+.0f}ms)"
            flow.last_tsval = tsval
            parts.append(ts)
        if opts.wscale is not None:
            parts.append("wscale")
        if opts.sack:
            blocks = " ".join(
                f"{(a - SCRIPT_ISN) & 0xFFFFFFFF}:{(b - SCRIPT_ISN) & 0xFFFFFFFF}"
                for a, b in opts.sack
            )
            parts.append(f"sack {blocks}")
        if opts.unknown:
            parts.append(f"unknown {opts.unknown}")
        if parts:
            text += " <" + ",".join(parts) + ">"
        return text

    # ------------------------------------------------------------------ stimuli

    def build_segment(self, seg: Segment) -> bytes:
        rport = REMOTE_PORT + seg.port
        flow = self.flow(rport)
        sut_base = flow.isn if flow.isn is not None else 0
        ack = (sut_base + seg.ack) if seg.ack is not None else 0
        flags = seg.flags | (P.ACK if seg.ack is not None else 0)
        options = seg.options(self.clock_ms, flow.last_tsval, sut_base).encode()
        options += b"\0" * (-len(options) % 4)
        payload = b"x" * (seg.end - seg.seq)
        return P.build_tcp(
            self.remote, self.sut_ip, rport, flow.sut_port, SCRIPT_ISN + seg.seq, ack, flags,
            seg.win, options, payload, seg.urg, bad_checksum=seg.badsum,
        )  # fmt: skip

    def build_udp(self, args: list[str]) -> bytes:
        port = self.port + 1000 if "closed" in args else self.port
        return P.build_udp(self.remote, self.sut_ip, REMOTE_PORT, port, b"u" * int(args[0]))

    def build_icmp(self, args: list[str]) -> bytes:
        if self.scenario.ipv6:
            return self.build_icmp6(args)
        if args[0] == "echo":
            return P.build_icmp(self.remote, SUT_IP, 8, 0, 0x12340001, b"ping" * 8)
        quote = self.last_out[:28]
        if args == ["unreach", "port"]:
            return P.build_icmp(self.remote, SUT_IP, 3, 3, 0, quote)
        if args == ["unreach", "host"]:
            return P.build_icmp(self.remote, SUT_IP, 3, 1, 0, quote)
        if args[:2] == ["unreach", "frag"]:
            return P.build_icmp(self.remote, SUT_IP, 3, 4, int(args[2]), quote)
        raise ValueError(f"unknown icmp step {args}")

    def build_icmp6(self, args: list[str]) -> bytes:
        """The ICMPv6 twins (RFC 4443): echo 128, unreachable 1 (port 4, address 3),
        Packet Too Big 2; the quote is the IPv6 header + 8 bytes."""
        src, dst = self.remote, self.sut_ip
        if args[0] == "echo":
            return P.build_icmp(src, dst, 128, 0, 0x12340001, b"ping" * 8)
        quote = self.last_out[:48]
        if args == ["unreach", "port"]:
            return P.build_icmp(src, dst, 1, 4, 0, quote)
        if args == ["unreach", "host"]:
            return P.build_icmp(src, dst, 1, 3, 0, quote)
        if args[:2] == ["unreach", "frag"]:
            return P.build_icmp(src, dst, 2, 0, int(args[2]), quote)
        raise ValueError(f"unknown icmp step {args}")


async def play(run: Run, sut: Sut, steps: list[Step]) -> None:
    """Run every step at its scheduled time; the reactions land in run.events."""
    loop = run.loop
    start = loop.time()
    scheduled = start
    await sut.start()
    try:
        for i, step in enumerate(steps):
            scheduled += step.gap
            run.clock_ms += round(step.gap * 1000)
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif step.gap > 0:
                # behind schedule (a loaded machine): still let the previous step's
                # output go out first, as it would have (aionetstack flushes from
                # call_soon callbacks; two writes in one loop turn share a segment)
                for _ in range(3):
                    await asyncio.sleep(0)
            run.step = i
            run.step_start = loop.time()
            if step.verb == "inject":
                assert step.segment is not None
                sut.send(run.build_segment(step.segment))
            elif step.verb == "udp":
                sut.send(run.build_udp(step.args))
            elif step.verb == "icmp":
                sut.send(run.build_icmp(step.args))
            elif step.verb != "wait":
                result = await sut.app(step.verb, step.args)
                if result is not None:
                    run.record(f"app: {result}")
        await asyncio.sleep(max(0.0, scheduled + run.scenario.tail - loop.time()))
    finally:
        await sut.stop()


def step_starts(steps: list[Step]) -> list[float]:
    """When each step is scheduled, in seconds from the scenario's start."""
    starts: list[float] = []
    at = 0.0
    for step in steps:
        at += step.gap
        starts.append(at)
    return starts


def compare(
    linux: list[Event], ours: list[Event], tolerance: float, starts: list[float]
) -> list[str]:
    """The differences between two normalised traces (empty: MATCH).

    Packets must come in the same order with the same text, and so must the
    application results (the order of an application result relative to a
    packet of the same instant is noise). Each pair must lie within
    ``tolerance`` + 20 % of its time from its step's start; a reaction that
    jitter pushed just past the next step's start still pairs up.
    """
    diffs: list[str] = []

    def at(e: Event) -> float:
        return (starts[e[0]] if e[0] >= 0 else 0.0) + e[1]

    def show(events: list[Event]) -> str:
        return "; ".join(f"step {s} +{t:.3f} {x}" for s, t, x in events[:4]) or "nothing"

    for app in (False, True):
        a = [e for e in linux if e[2].startswith("app:") == app]
        b = [e for e in ours if e[2].startswith("app:") == app]
        for i in range(max(len(a), len(b))):
            ea = a[i] if i < len(a) else None
            eb = b[i] if i < len(b) else None
            if ea is None or eb is None or ea[2] != eb[2]:
                diffs.append(f"linux: {show(a[i:])}\n  aionetstack: {show(b[i:])}")
                break
            if abs(at(ea) - at(eb)) > tolerance + 0.2 * max(ea[1], eb[1]):
                diffs.append(
                    f"{ea[2]!r}: linux at step {ea[0]} +{ea[1]:.3f}s, "
                    f"aionetstack at step {eb[0]} +{eb[1]:.3f}s"
                )
    return diffs


def describe(events: list[Event], steps: list[Step]) -> str:
    """A readable trace: each step, then its reactions."""
    lines: list[str] = []
    for i, step in enumerate(steps):
        lines.append(f"{i:2d} {step.text}")
        lines.extend(f"     +{t:.3f} {x}" for s, t, x in events if s == i)
    return "\n".join(lines)
