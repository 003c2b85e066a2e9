"""Clear errors for wrong argument types (minor)."""
from __future__ import annotations

import asyncio

import pytest
from qa_support import A, B, two_stacks

import aionetstack


async def test_local_addr_wrong_shape():
    async with two_stacks() as (a, _b):
        with pytest.raises((TypeError, ValueError)):
            await a.open_connection(B, 80, local_addr=(A,))


async def test_datagram_port_string_rejected():
    async with two_stacks() as (a, _b):
        with pytest.raises(TypeError):
            await a.create_datagram_endpoint(asyncio.DatagramProtocol, remote_addr=(B, "53"))


async def test_stack_rejects_non_link():
    with pytest.raises(TypeError):
        s = aionetstack.Stack("notalink", address=A + "/24")
        await s.start()


async def test_type_errors_are_clear():
    async with two_stacks() as (a, b):
        with pytest.raises(TypeError):
            await b.create_server(asyncio.Protocol, B, "80")
        with pytest.raises(TypeError):
            await a.open_connection(B, 80.0)
        with pytest.raises(TypeError):
            await a.ping(123)
        with pytest.raises(TypeError):
            await a.ping(B, payload="abc")
