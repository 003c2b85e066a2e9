"""RFC 6528 initial sequence numbers (IsnGenerator)."""

from __future__ import annotations

import struct

import pytest

from aionetstack.core.tcp.isn import IsnGenerator
from aionetstack.wire.siphash import siphash24

KEY = bytes(range(16))


class TestIsn:
    def test_clock_ticks_every_4us(self) -> None:
        g = IsnGenerator(KEY)
        a = g.isn(1, 2, 3, 4, 10.0)
        assert g.isn(1, 2, 3, 4, 10.0 + 4e-6) == (a + 1) & 0xFFFFFFFF
        assert g.isn(1, 2, 3, 4, 11.0) == (a + 250_000) & 0xFFFFFFFF

    def test_keyed_per_tuple(self) -> None:
        g = IsnGenerator(KEY)
        assert g.isn(1, 2, 3, 4, 0.0) != g.isn(1, 2, 3, 5, 0.0)
        assert g.isn(1, 2, 3, 4, 0.0) != IsnGenerator(bytes(16)).isn(1, 2, 3, 4, 0.0)
        assert 0 <= g.isn(0xFFFFFFFF, 65535, 0xFFFFFFFF, 65535, 1e9) <= 0xFFFFFFFF

    def test_bad_secret(self) -> None:
        with pytest.raises(ValueError):
            IsnGenerator(b"short")

    def test_isn_is_clock_plus_keyed_hash(self) -> None:
        # RFC 6528 3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey)
        g = IsnGenerator(KEY)
        f = siphash24(KEY, struct.pack(">IHIH", 1, 2, 3, 4))
        assert g.isn(1, 2, 3, 4, 0.0) == f & 0xFFFFFFFF
        assert g.isn(1, 2, 3, 4, 2.0) == (f + 500_000) & 0xFFFFFFFF

    def test_random_secret_when_none_given(self) -> None:
        a, b = IsnGenerator(), IsnGenerator()
        assert a.isn(1, 2, 3, 4, 0.0) != b.isn(1, 2, 3, 4, 0.0)

    def test_timestamp_offset_keyed_per_address_pair(self) -> None:
        # RFC 7323 7.1: a per-connection (here per address pair) random offset
        g = IsnGenerator(KEY)
        offsets = {g.ts_offset(1, r) for r in range(2, 10)}
        assert len(offsets) == 8 and all(0 <= o <= 0xFFFFFFFF for o in offsets)
        assert g.ts_offset(1, 2) == g.ts_offset(1, 2) != IsnGenerator(bytes(16)).ts_offset(1, 2)
