"""The fuzz harness (``fuzz_engine.py``, ``make fuzz``) in the default suite: a
few inputs through it, and proof that what it checks can fail."""

from __future__ import annotations

import random

import pair_support
import pytest
from fuzz_engine import one_input
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aionetstack.core.stack import StackEngine
from aionetstack.core.tcp.connection import TcpConnection
from aionetstack.wire.errors import WireError


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_harness_inputs_find_nothing(data: bytes) -> None:
    one_input(data)


def _recorded_pairs(monkeypatch: pytest.MonkeyPatch) -> list[pair_support.Pair]:
    pairs: list[pair_support.Pair] = []
    original = pair_support.Pair.connect

    def recording(self: pair_support.Pair) -> TcpConnection:
        pairs.append(self)
        return original(self)

    monkeypatch.setattr(pair_support.Pair, "connect", recording)
    return pairs


def test_harness_reaches_live_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """Random inputs get forged segments past checksums and demultiplexing to
    the established connection (its segment count moves when one is injected)."""
    reached = injected = 0
    original = pair_support.Pair.inject

    def counting(self: pair_support.Pair, way: int, packet: bytes) -> None:
        nonlocal reached, injected
        conn = self.server
        before = conn.segs_in if conn is not None else 0
        original(self, way, packet)
        injected += 1
        reached += conn is not None and conn.segs_in > before

    monkeypatch.setattr(pair_support.Pair, "inject", counting)
    rng = random.Random(11)
    for _ in range(40):
        one_input(bytes(rng.getrandbits(8) for _ in range(600)))
    assert reached >= 20 and reached > injected // 10, (reached, injected)


def test_a_forged_in_order_segment_is_taken_as_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """The encoding reaches the TCP data path: an input forging 10 bytes at the
    server's RCV.NXT (a blind injection with the right numbers) delivers them
    ahead of the client's own data, which the server then drops as duplicate."""
    pairs = _recorded_pairs(monkeypatch)
    forge = bytes(
        (
            *(0, 0),  # syncookies 0, max_syn_backlog 1
            *(0, 1),  # op: forge, from the client's second segment (the handshake ACK)
            *(0x81, 0x80, 0x80),  # close to the real numbers, offsets 0 and 0
            *(0x08, 0xFF, 0xFF, 0, 0),  # ACK|PSH, window, urgent pointer
            *(0, 10),  # no options, 10 bytes of payload
        )
    )
    one_input(forge + b"z" * 10)
    server = pairs[0].server
    assert server is not None
    assert server.read() == b"z" * 10 + b"c" * 2990


def test_a_malformed_output_packet_is_a_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    original = StackEngine.packets_to_send

    def corrupting(self: StackEngine, now: float) -> list[tuple[int, bytes]]:
        out = original(self, now)
        return [(ifindex, packet[:-1] + bytes([packet[-1] ^ 1])) for ifindex, packet in out]

    monkeypatch.setattr(StackEngine, "packets_to_send", corrupting)
    with pytest.raises(WireError):
        one_input(b"")
