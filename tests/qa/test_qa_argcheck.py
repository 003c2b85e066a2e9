"""Clear errors for wrong argument types (minor)."""
from __future__ import annotations

import asyncio

import pytest

import aionetstack
from conftest import A, B, two_stacks


@pytest.mark.xfail(strict=True, reason="BUG (minor): local_addr=(host,) raises a bare IndexError "
                   "from aio/stack.py:_connect instead of a TypeError/ValueError")
async def test_local_addr_wrong_shape():
    async with two_stacks() as (a, b):
        with pytest.raises((TypeError, ValueError)):
            await a.open_connection(B, 80, local_addr=(A,))


@pytest.mark.xfail(strict=True, reason="BUG (minor): create_datagram_endpoint(remote_addr=(host, '53')) "
                   "silently int()-coerces the port; TCP paths raise TypeError for the same input")
async def test_datagram_port_string_rejected():
    async with two_stacks() as (a, b):
        with pytest.raises(TypeError):
            await a.create_datagram_endpoint(asyncio.DatagramProtocol, remote_addr=(B, "53"))


@pytest.mark.xfail(strict=True, reason="BUG (minor): Stack(<not a link>) fails later with "
                   "AttributeError 'str' object has no attribute 'mtu' instead of a TypeError")
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
