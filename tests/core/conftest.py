"""Fixtures for the sans-IO core tests (helpers live in test_tcp_support.py)."""

from __future__ import annotations

import pytest
from tcp_support import establish_client

from aionetstack.core.tcp.connection import TcpConnection


@pytest.fixture
def est() -> TcpConnection:
    """A client connection in ESTABLISHED at t=0 (plain options)."""
    return establish_client()
