"""RFC 6528 initial sequence numbers (IsnGenerator)."""

from __future__ import annotations

import pytest

from aionetstack.core.tcp.isn import IsnGenerator

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
