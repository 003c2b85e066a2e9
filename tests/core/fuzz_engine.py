"""Coverage-guided fuzzing of ``StackEngine.receive`` with live connections (issue 11).

``make fuzz FUZZ_SECONDS=N`` runs this file under atheris (libFuzzer for Python,
PyPI ``atheris``, in the dev extra), corpus in ``build/fuzz-corpus``, crashes
written as ``build/fuzz-crash-*``. Where atheris cannot be imported it says so
and lets hypothesis drive the same ``one_input`` with random byte strings for
the time given (no coverage feedback then).

Each input starts two engines with an established connection and data in
flight (``pair_support.Pair``), then reads operations from the fuzzer's bytes:
packets forged from the client's real segments with fuzzed sequence and
acknowledgment numbers, flags, windows, options and payload (checksums fixed,
or not, as the input says), SYNs from new ports (SYN queue, cookies), raw
bytes behind an IPv4 header, deliveries, drops and corruption of what is in
flight, application calls and the clock. Every packet either engine sends is
checked to be a valid IPv4 TCP packet; anything raised is a finding.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

atheris: Any = None
if __name__ == "__main__":  # imported (by the suite), the harness runs uninstrumented
    try:
        atheris = importlib.import_module("atheris")
    except ImportError:  # pragma: no cover - depends on the environment
        pass

if atheris is not None:
    with atheris.instrument_imports(include=["aionetstack", "pair_support"]):
        from pair_support import AB, BA, Pair, fix_checksums

        import aionetstack.core.stack  # noqa: F401 - instrumented before first use
else:
    from pair_support import AB, BA, Pair, fix_checksums

MAX_OPS = 48


class Input:
    """The fuzzer's bytes read as numbers; zeros once they run out."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    @property
    def left(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += len(chunk)
        return chunk

    def int(self, size: int) -> int:
        return int.from_bytes(self.take(size).ljust(size, b"\0"), "big")


def _options(inp: Input, seq: int, ack: int) -> bytes:
    """TCP options, mostly well formed (RFC 9293 3.1, 7323, 2018), some not; at
    most 40 bytes, whole options only."""
    out = b""
    for _ in range(inp.int(1) % 6):
        kind = inp.int(1) % 9
        if kind == 0:  # MSS
            option = b"\x02\x04" + inp.take(2).ljust(2, b"\0")
        elif kind == 1:  # window scale
            option = b"\x03\x03" + inp.take(1).ljust(1, b"\0")
        elif kind == 2:  # SACK permitted
            option = b"\x04\x02"
        elif kind == 3:  # timestamps
            option = b"\x08\x0a" + inp.take(8).ljust(8, b"\0")
        elif kind == 4:  # SACK blocks near what the server sent
            blocks = b""
            for _ in range(1 + inp.int(1) % 3):
                left = (ack + inp.int(2) - 0x4000) & 0xFFFFFFFF
                right = (left + inp.int(2)) & 0xFFFFFFFF
                blocks += left.to_bytes(4, "big") + right.to_bytes(4, "big")
            option = bytes([5, 2 + len(blocks)]) + blocks
        elif kind == 5:
            option = b"\x01"  # NOP
        elif kind == 6:
            option = b"\x00"  # end of options
        else:  # anything: kind, length and bytes as the input says
            option = inp.take(2 + inp.int(1) % 8)
        if len(out) + len(option) <= 40:
            out += option
    return out + b"\0" * (-len(out) % 4)


def _forge(inp: Input, template: bytes) -> bytes:
    """A client segment with fuzzed TCP fields (sequence numbers near the real ones,
    or anywhere), options and payload."""
    p = bytearray(template[:20])  # the IPv4 header (the stack sends no IP options)
    tcp = bytearray(template[20:40])
    how = inp.int(1)
    seq = int.from_bytes(tcp[4:8], "big")
    ack = int.from_bytes(tcp[8:12], "big")
    if how & 0x81 == 0x81:  # close: a few bytes either way
        seq += inp.int(1) - 0x80
        ack += inp.int(1) - 0x80
    elif how & 1:  # near: within a window either way
        seq += inp.int(2) - 0x8000
        ack += inp.int(2) - 0x8000
    else:
        seq, ack = inp.int(4), inp.int(4)
    tcp[4:8] = (seq & 0xFFFFFFFF).to_bytes(4, "big")
    tcp[8:12] = (ack & 0xFFFFFFFF).to_bytes(4, "big")
    flags = inp.int(1)
    tcp[13] = flags if how & 0x40 else 0x10 | flags & 0x29  # any, or ACK (+PSH, FIN, URG)
    tcp[14:16] = inp.take(2).ljust(2, b"\0")  # window
    tcp[18:20] = inp.take(2).ljust(2, b"\0")  # urgent pointer
    options = _options(inp, seq, ack)
    tcp[12] = ((20 + len(options)) // 4) << 4
    if how & 0x06 == 0x06:  # a data offset that lies (one in four)
        tcp[12] = inp.int(1) & 0xF0
    payload = inp.take(inp.int(2) % 1400 if how & 0x20 else inp.int(1) % 64)
    p += tcp + options + payload
    p[2:4] = (len(p) & 0xFFFF).to_bytes(2, "big")
    if how & 0x18 != 0x18:  # checksums right three times in four
        fix_checksums(p)
    return bytes(p)


def one_input(data: bytes) -> None:
    """One fuzz case; raises on a finding."""
    inp = Input(data)
    pair = Pair(syncookies=inp.int(1) % 3, max_syn_backlog=1 + inp.int(1) % 8)
    client = pair.connect()
    pair.settle()
    server = pair.server
    if server is None:
        raise AssertionError("the handshake did not complete")
    client.send(b"c" * 3000, pair.now)
    server.send(b"s" * 3000, pair.now)
    pair.a.notify(client, pair.now)
    pair.b.notify(server, pair.now)
    pair.flush()
    for _ in range(MAX_OPS):
        if inp.left == 0:
            break
        op = inp.int(1) % 10
        wire = pair.wire[AB] if op % 2 else pair.wire[BA]
        if op <= 2:  # a forged client segment to the server
            template = pair.sent_by_a[inp.int(1) % len(pair.sent_by_a)]
            pair.inject(AB, _forge(inp, template))
        elif op == 3:  # a SYN (or anything) from another port: SYN queue, cookies
            syn = bytearray(_forge(inp, pair.sent_by_a[0]))
            if len(syn) >= 40:
                syn[20:22] = inp.take(2).ljust(2, b"\1")
                fix_checksums(syn)
            pair.inject(AB, bytes(syn))
        elif op == 4:  # raw bytes behind the client's IPv4 header, to either side
            p = bytearray(pair.sent_by_a[0][:20]) + inp.take(inp.int(1))
            p[2:4] = (len(p) & 0xFFFF).to_bytes(2, "big")
            if inp.int(1) & 1:
                p[12:16], p[16:20] = p[16:20], p[12:16]  # from the server to the client
                fix_checksums(p)
                pair.inject(BA, bytes(p))
            else:
                fix_checksums(p)
                pair.inject(AB, bytes(p))
        elif op in (5, 6) and wire:  # deliver any one in flight (reordering), or drop it
            way = AB if wire is pair.wire[AB] else BA
            index = inp.int(1) % len(wire)
            if inp.int(1) % 4:
                pair.deliver(way, index)
            else:
                del wire[index]
        elif op == 7 and wire:  # corrupt one in flight, checksums kept valid or not
            index = inp.int(1) % len(wire)
            p = bytearray(wire[index])
            p[inp.int(2) % len(p)] ^= inp.int(1) | 1
            if inp.int(1) & 1:
                fix_checksums(p)
            wire[index] = bytes(p)
        elif op == 8:  # the clock
            pair.advance(inp.int(2) / 100)
        elif op == 9:  # the applications
            _app_call(pair, inp.int(1))
    pair.advance(1.0)
    pair.settle(limit=30.0)


def _app_call(pair: Pair, choice: int) -> None:
    conn = pair.client if choice & 1 else pair.server
    if conn is None:
        return
    engine = pair.a if conn is pair.client else pair.b
    action = choice >> 1 & 7
    try:
        if action <= 2:
            conn.send(b"x" * (choice * 97), pair.now)
        elif action <= 4:
            conn.read(choice * 61)
        elif action == 5:
            conn.shutdown(pair.now)
        elif action == 6:
            conn.close(pair.now)
        else:
            conn.abort(pair.now)
    except OSError:
        pass  # a closed connection refuses a send, as a socket does
    engine.notify(conn, pair.now)
    pair.flush()


def _hypothesis_fallback(seconds: float) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(
        max_examples=200,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.binary(max_size=4096))
    def run(data: bytes) -> None:
        one_input(data)

    end = time.monotonic() + seconds
    rounds = 0
    while time.monotonic() < end:
        run()
        rounds += 1
    print(f"fuzz_engine: hypothesis, {rounds * 200} inputs in {seconds:g} s, no finding")


def main() -> None:
    seconds = float(os.environ.get("FUZZ_SECONDS", "60"))
    if atheris is None:
        print("fuzz_engine: atheris is not installed; hypothesis drives the harness instead")
        _hypothesis_fallback(seconds)
        return
    args = [arg for arg in sys.argv if not arg.startswith("-max_total_time=")]
    # inputs up to 4 KiB from the start (an input is a program of operations)
    options = [f"-max_total_time={int(seconds)}", "-max_len=4096", "-len_control=0"]
    atheris.Setup([*args, *options], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
