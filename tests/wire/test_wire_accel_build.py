"""The compiled hot paths: ``_accel.build_ipv4_tcp`` and ``build_ipv6_tcp`` (and
a flow's ``Ipv6TcpBuilder``) == the pure builders,
``_accel.parse_tcp`` == the pure parser (same records, same errors), and
``_accel.write_packets`` (TunLink's write loop) on a pipe."""

from __future__ import annotations

import errno
import os
import random

import pytest
from wire_support import ACCEL_MODULE, PURE_MODE, requires_accel

from aionetstack.wire import tcp
from aionetstack.wire.tcp import (
    build_tcp,
    build_tcp_options,
    ipv6_tcp_builder,
    pure_build_ipv4_tcp,
    pure_build_ipv6_tcp,
    pure_parse_tcp,
)

pytestmark = requires_accel


def test_selected_builder_matches_mode() -> None:
    if PURE_MODE:
        assert tcp.build_ipv4_tcp is pure_build_ipv4_tcp
        assert tcp.build_ipv6_tcp is pure_build_ipv6_tcp
        assert tcp.parse_tcp is pure_parse_tcp
    else:
        assert ACCEL_MODULE is not None
        assert tcp.build_ipv4_tcp is ACCEL_MODULE.build_ipv4_tcp
        assert tcp.build_ipv6_tcp is ACCEL_MODULE.build_ipv6_tcp
        assert isinstance(ipv6_tcp_builder(1), ACCEL_MODULE.Ipv6TcpBuilder)
        assert tcp.parse_tcp is ACCEL_MODULE.parse_tcp


def _outcome(fn: object, *args: object) -> tuple[object, ...]:
    try:
        seg = fn(*args)  # type: ignore[operator]
    except Exception as exc:
        return (type(exc).__name__, str(exc))
    return ("ok", seg, type(seg.payload))


def test_compiled_parse_equals_pure() -> None:
    """Fast-path segments (no options, NOP NOP TS), others, corrupted and random
    bytes; bytes, bytearray and memoryview inputs; with and without addresses."""
    assert ACCEL_MODULE is not None
    parse = ACCEL_MODULE.parse_tcp
    rng = random.Random(3)
    layouts = [
        b"",
        build_tcp_options(timestamps=(0xFFFFFFFF, 1)),
        build_tcp_options(mss=1460, wscale=7, sack_permitted=True, timestamps=(1, 2)),
        build_tcp_options(sack_blocks=[(1, 2)], timestamps=(3, 4)),
        b"\x01\x01\x08\x0a" + bytes(4),  # truncated timestamp option
    ]
    for _ in range(4000):
        src, dst = rng.getrandbits(32), rng.getrandbits(32)
        if rng.random() < 0.75:
            options = rng.choice(layouts)
            if len(options) & 3:
                options += b"\x00" * (4 - len(options) % 4)
            fields = [rng.getrandbits(b) for b in (16, 16, 32, 32, 8, 16)]
            payload = rng.randbytes(rng.choice([0, 1, 7, 1448]))
            seg = build_tcp(src, dst, *fields, options, payload, urgent=rng.getrandbits(16))
            if rng.random() < 0.2:
                flipped = bytearray(seg)
                flipped[rng.randrange(len(seg))] ^= 1 << rng.randrange(8)
                seg = bytes(flipped)
        else:
            seg = rng.randbytes(rng.randrange(0, 64))
        for buf in (seg, bytearray(seg), memoryview(seg), memoryview(b"ab" + seg)[2:]):
            for addrs in ((), (src, dst), (src, None), (-1, dst), (src, 2**32)):
                assert _outcome(pure_parse_tcp, buf, *addrs) == _outcome(parse, buf, *addrs)


def test_compiled_equals_pure_random() -> None:
    assert ACCEL_MODULE is not None
    build = ACCEL_MODULE.build_ipv4_tcp
    rng = random.Random(7)
    for _ in range(3000):
        fields = [rng.getrandbits(b) for b in (32, 32, 16, 8, 16, 16, 32, 32, 8, 16)]
        options = rng.randbytes(4 * rng.randint(0, 10))
        payload = rng.randbytes(rng.choice([0, 1, 2, 3, 1447, rng.randint(0, 2000)]))
        want = pure_build_ipv4_tcp(*fields, options, payload)
        assert build(*fields, options, payload) == want
        view = memoryview(bytearray(b"\x00" + payload))[1:]
        assert build(*fields, bytearray(options), view) == want


@pytest.mark.parametrize("bad", [-1, 2**32, 2**64, 1.0, True, "1"])
@pytest.mark.parametrize("position", range(10))
def test_unusual_fields_behave_as_pure(bad: object, position: int) -> None:
    """Anything the C code does not take goes to the pure builder: same result or error."""
    assert ACCEL_MODULE is not None
    args: list[object] = [1, 2, 3, 64, 5, 6, 7, 8, 0x10, 10, b"", b"x"]
    args[position] = bad
    outcomes = []
    for fn in (pure_build_ipv4_tcp, ACCEL_MODULE.build_ipv4_tcp):
        try:
            outcomes.append(("ok", fn(*args)))
        except Exception as exc:
            outcomes.append((type(exc).__name__, str(exc)))
    assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize(
    ("options", "payload"),
    [(b"\x01" * 3, b""), (b"\x01" * 44, b""), (b"", bytes(65535 - 39)), (b"", [1, 2])],
)
def test_bad_lengths_behave_as_pure(options: object, payload: object) -> None:
    assert ACCEL_MODULE is not None
    errors = []
    for fn in (pure_build_ipv4_tcp, ACCEL_MODULE.build_ipv4_tcp):
        with pytest.raises((ValueError, TypeError)) as info:
            fn(1, 2, 3, 64, 5, 6, 7, 8, 0x10, 10, options, payload)
        errors.append((info.type, str(info.value)))
    assert errors[0] == errors[1]


def test_largest_packet() -> None:
    assert ACCEL_MODULE is not None
    packet = ACCEL_MODULE.build_ipv4_tcp(1, 2, 3, 64, 5, 6, 7, 8, 0x10, 10, b"", bytes(65535 - 40))
    assert len(packet) == 65535


def _outcome6(fn: object, *args: object) -> tuple[object, ...]:
    try:
        return ("ok", fn(*args))  # type: ignore[operator]
    except Exception as exc:
        return (type(exc).__name__, str(exc))


def test_compiled_ipv6_equals_pure_random() -> None:
    """``_accel.build_ipv6_tcp`` and a flow's ``Ipv6TcpBuilder`` (its addresses
    kept between calls, then changed) give the pure builder's packets."""
    assert ACCEL_MODULE is not None
    build = ACCEL_MODULE.build_ipv6_tcp
    rng = random.Random(11)
    flow = rng.getrandbits(20)
    builder = ACCEL_MODULE.Ipv6TcpBuilder(flow)
    src, dst = rng.getrandbits(128), rng.getrandbits(128)
    for i in range(3000):
        if i % 7 == 0:  # a new pair of address objects now and then (equal ones too)
            src = rng.choice([rng.getrandbits(128), rng.getrandbits(64), src + 0, 2**128 - 1])
            dst = rng.choice([rng.getrandbits(128), rng.getrandbits(33), 0])
        fields = [rng.getrandbits(b) for b in (8, 16, 16, 32, 32, 8, 16)]
        options = rng.randbytes(4 * rng.randint(0, 10))
        payload = rng.randbytes(rng.choice([0, 1, 2, 3, 1427, rng.randint(0, 2000)]))
        want = pure_build_ipv6_tcp(src, dst, flow, *fields, options, payload)
        assert build(src, dst, flow, *fields, options, payload) == want
        view = memoryview(bytearray(b"\x00" + payload))[1:]
        assert builder(src, dst, 0, *fields, bytearray(options), view) == want


@pytest.mark.parametrize("bad", [-1, 2**128, 2**32 + 0.5, True, "1", None])
@pytest.mark.parametrize("position", [0, 1, 2, 3, 4, 9])
def test_unusual_ipv6_fields_behave_as_pure(bad: object, position: int) -> None:
    """Addresses, flow label and fields the C code does not take go to the pure
    builder, in the function and in a flow's builder: same result or error."""
    assert ACCEL_MODULE is not None
    a6 = 0x2001_0002 << 96
    args: list[object] = [a6 | 1, a6 | 2, 5, 64, 5, 6, 7, 8, 0x10, 10, b"", b"x"]
    args[position] = bad
    want = _outcome6(pure_build_ipv6_tcp, *args)
    assert _outcome6(ACCEL_MODULE.build_ipv6_tcp, *args) == want
    if position != 2:
        builder = ACCEL_MODULE.Ipv6TcpBuilder(5)
        good = [a6 | 1, a6 | 2, 0, *args[3:]]
        good[0], good[1] = args[0], args[1]
        for _ in range(2):  # converted once, then the kept addresses
            assert _outcome6(builder, *good) == want
    else:
        with pytest.raises((ValueError, TypeError)):
            ipv6_tcp_builder(bad)  # type: ignore[arg-type]


def test_largest_ipv6_packet() -> None:
    assert ACCEL_MODULE is not None
    a6 = 0x2001_0002 << 96
    args = (a6 | 1, a6 | 2, 0, 64, 5, 6, 7, 8, 0x10, 10, b"")
    packet = ACCEL_MODULE.build_ipv6_tcp(*args, bytes(65535 - 20))
    assert len(packet) == 40 + 65535
    with pytest.raises(ValueError):
        ACCEL_MODULE.build_ipv6_tcp(*args, bytes(65535 - 19))


def _drain(fd: int) -> bytes:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return b"".join(chunks)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def test_write_packets_on_a_pipe() -> None:
    assert ACCEL_MODULE is not None
    write_packets = ACCEL_MODULE.write_packets
    r, w = os.pipe()
    os.set_blocking(r, False)
    os.set_blocking(w, False)
    try:
        packets = [bytes([i]) * (i + 1) for i in range(150)]  # more than one chunk of 64
        assert write_packets(w, packets) == (150, sum(map(len, packets)))
        assert _drain(r) == b"".join(packets)
        assert write_packets(w, packets, 149) == (1, 150)
        assert write_packets(w, packets, 150) == (0, 0)
        assert write_packets(w, (b"ab", b"cd")) == (2, 4)  # any sequence
        assert _drain(r) == packets[149] + b"abcd"
        # stops before an item that is not bytes: the caller writes it with os.write
        mixed = [b"12", b"34", bytearray(b"56"), b"78"]
        assert write_packets(w, mixed) == (2, 4)
        assert write_packets(w, mixed, 3) == (1, 2)
        assert _drain(r) == b"123478"
        # a failing write stops the loop; os.write then tells why
        os.close(r)
        r = -1
        assert write_packets(w, [b"x", b"y"]) == (0, 0)
        with pytest.raises(BrokenPipeError) as info:
            os.write(w, b"x")
        assert info.value.errno == errno.EPIPE
        with pytest.raises(TypeError):
            write_packets(w, 42)
    finally:
        if r >= 0:
            os.close(r)
        os.close(w)
