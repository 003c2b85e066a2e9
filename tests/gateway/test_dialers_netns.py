"""The outbound dialers against real peers: microsocks and Dante's server for
SOCKS5, the kernel for direct sockets; all inside the private namespace the
conftest creates (loopback, and 198.18.0.0/15 addresses on ``lo``)."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import random
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

import pytest
from conftest import PROXY_PASSWORD, PROXY_USER, ip

from aionetstack.gateway import DirectDialer, Socks5Dialer, UdpAssociation, socks5
from aionetstack.gateway.dialers import SO_BINDTODEVICE, SO_MARK

pytestmark = pytest.mark.usefixtures("in_netns")

MiB = 1024 * 1024
STEP = 10.0  # generous bound on any single wait: a hang fails, speed is never asserted


def payload(size: int) -> bytes:
    return random.Random(size).randbytes(size)


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One line picks the mode: ``ECHO`` (stream back until EOF), ``GET N``
    (N pseudo-random bytes, then close), ``SINK`` (read to EOF, then answer
    ``LEN SHA256`` and the peer address: proves the half-close went through)."""
    try:
        line = (await reader.readline()).decode().split()
        if line == ["ECHO"]:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        elif line[:1] == ["GET"]:
            writer.write(payload(int(line[1])))
            await writer.drain()
        elif line == ["SINK"]:
            digest, total = hashlib.sha256(), 0
            while data := await reader.read(65536):
                digest.update(data)
                total += len(data)
            peer = writer.get_extra_info("peername")[0]
            writer.write(f"{total} {digest.hexdigest()} {peer}\n".encode())
            await writer.drain()
    finally:
        writer.close()


class UdpEcho(asyncio.DatagramProtocol):
    """Echo every datagram back, prefixed with the sender's address."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if data.startswith(b"BURST "):
            for i in range(int(data.split()[1])):
                self.transport.sendto(b"burst %d" % i, addr)
            return
        self.transport.sendto(f"{addr[0]}|".encode() + data, addr)


class Servers:
    tcp4: int
    tcp6: int
    udp4: int
    udp6: int
    udp_lan: int


@pytest.fixture
async def servers() -> AsyncIterator[Servers]:
    """A TCP server on every IPv4 address of the namespace (127.0.0.1,
    198.18.0.1-2 on ``lo``) and on ::1; a UDP echo on every IPv4 address, and
    one on ::1, one on 198.18.0.1 only (its replies come from that address)."""
    ip("addr", "replace", "198.18.0.1/32", "dev", "lo")
    ip("addr", "replace", "198.18.0.2/32", "dev", "lo")
    loop = asyncio.get_running_loop()
    found = Servers()
    tcp4 = await asyncio.start_server(serve, "0.0.0.0", 0)
    found.tcp4 = tcp4.sockets[0].getsockname()[1]
    tcp6 = await asyncio.start_server(serve, "::1", 0)
    found.tcp6 = tcp6.sockets[0].getsockname()[1]
    udp, _ = await loop.create_datagram_endpoint(UdpEcho, local_addr=("0.0.0.0", 0))
    found.udp4 = udp.get_extra_info("sockname")[1]
    udp6, _ = await loop.create_datagram_endpoint(UdpEcho, local_addr=("::1", 0))
    found.udp6 = udp6.get_extra_info("sockname")[1]
    lan, _ = await loop.create_datagram_endpoint(UdpEcho, local_addr=("198.18.0.1", 0))
    found.udp_lan = lan.get_extra_info("sockname")[1]
    yield found
    for transport in (udp, udp6, lan):
        transport.close()
    for server in (tcp4, tcp6):
        server.close()
        await server.wait_closed()


async def exchange(
    dial: Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]],
    request: bytes,
    half_close: bool = True,
) -> tuple[bytes, asyncio.StreamWriter]:
    """Send ``request``, half-close (microsocks closes both ways at the first
    EOF: not with it), and read the whole answer."""
    reader, writer = await asyncio.wait_for(dial, STEP)
    writer.write(request)
    await writer.drain()
    if half_close:
        writer.write_eof()
    answer = await asyncio.wait_for(reader.read(), STEP)
    writer.close()
    return answer, writer


async def echo_through(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """1 MiB out and back at the same time (both directions under backpressure)."""
    data = payload(MiB)

    async def send() -> None:
        writer.write(b"ECHO\n")
        for i in range(0, len(data), 16384):
            writer.write(data[i : i + 16384])
            await writer.drain()

    _, back = await asyncio.wait_for(
        asyncio.gather(send(), reader.readexactly(len(data))), 6 * STEP
    )
    assert hashlib.sha256(back).digest() == hashlib.sha256(data).digest()
    writer.close()


async def recv(assoc: UdpAssociation) -> tuple[bytes, tuple[str, int]]:
    return await asyncio.wait_for(assoc.recvfrom(), STEP)


# -- SOCKS5 CONNECT -----------------------------------------------------------------


async def test_connect_1mib_echo_through_microsocks(microsocks: int, servers: Servers) -> None:
    dialer = Socks5Dialer("127.0.0.1", microsocks, timeout=STEP)
    await echo_through(*await dialer.open_tcp("127.0.0.1", servers.tcp4))
    assert (dialer.stats.tcp_opened, dialer.stats.tcp_failed) == (1, 0)


async def test_connect_with_userpass_by_name_and_ipv6(
    microsocks_auth: int, servers: Servers
) -> None:
    dialer = Socks5Dialer.from_url(
        f"socks5://{PROXY_USER}:{PROXY_PASSWORD.replace('@', '%40').replace('/', '%2F')}"
        f"@127.0.0.1:{microsocks_auth}",
        timeout=STEP,
    )
    # ATYP 3: the proxy resolves "localhost" itself (its /etc/hosts).
    dial = dialer.open_tcp("localhost", servers.tcp4)
    answer, _ = await exchange(dial, b"GET 1048576\n", half_close=False)
    assert answer == payload(MiB)
    # ATYP 4.
    answer, _ = await exchange(dialer.open_tcp("::1", servers.tcp6), b"GET 1000\n", False)
    assert answer == payload(1000)


async def test_wrong_password_and_missing_credentials_raise_permission_error(
    microsocks_auth: int, servers: Servers
) -> None:
    wrong = Socks5Dialer("127.0.0.1", microsocks_auth, username=PROXY_USER, password="nope")
    with pytest.raises(PermissionError, match="rejected"):
        await wrong.open_tcp("127.0.0.1", servers.tcp4)
    anonymous = Socks5Dialer("127.0.0.1", microsocks_auth)
    with pytest.raises(PermissionError, match="no acceptable authentication method"):
        await anonymous.open_tcp("127.0.0.1", servers.tcp4)
    assert wrong.stats.tcp_failed == anonymous.stats.tcp_failed == 1


@pytest.mark.parametrize("proxy", ["microsocks", "danted"])
async def test_refused_and_unreachable_map_to_oserrors(
    proxy: str, request: pytest.FixtureRequest
) -> None:
    port = request.getfixturevalue(proxy)
    dialer = Socks5Dialer("127.0.0.1", port, timeout=STEP)
    closed = 9  # discard: nothing listens on it in the namespace
    with pytest.raises(ConnectionRefusedError):
        await asyncio.wait_for(dialer.open_tcp("127.0.0.1", closed), STEP)
    # No route to 198.18.9.9 in the namespace: the proxy's connect() fails at once.
    with pytest.raises(OSError) as info:
        await asyncio.wait_for(dialer.open_tcp("198.18.9.9", 80), STEP)
    assert info.value.errno == errno.ENETUNREACH
    assert dialer.stats.tcp_failed == 2


async def test_half_close_through_dante(danted: int, servers: Servers) -> None:
    """write_eof reaches the server, which only answers after it (microsocks
    cannot do this: it closes both ways at the first EOF)."""
    dialer = Socks5Dialer("127.0.0.1", danted, timeout=STEP)
    data = payload(MiB)
    answer, _ = await exchange(dialer.open_tcp("127.0.0.1", servers.tcp4), b"SINK\n" + data)
    total, digest, _ = answer.decode().split()
    assert (int(total), digest) == (MiB, hashlib.sha256(data).hexdigest())


async def test_unreachable_proxy_is_connection_refused(in_netns: int) -> None:
    dialer = Socks5Dialer("127.0.0.1", 9, timeout=STEP)
    with pytest.raises(ConnectionRefusedError):
        await asyncio.wait_for(dialer.open_tcp("127.0.0.1", 80), STEP)


# -- A scripted SOCKS5 server for what real ones will not do on demand -------------

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def scripted_proxy(script: Script) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(script, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_every_handshake_step_is_bounded_by_timeout(in_netns: int) -> None:
    hold: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hold.append(writer)  # accept, read the greeting, never answer

    server, port = await scripted_proxy(silent)
    dialer = Socks5Dialer("127.0.0.1", port, timeout=0.2)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(dialer.open_tcp("127.0.0.1", 80), STEP)
    server.close()
    for writer in hold:
        writer.close()


async def test_udp_association_drops_fragments_and_ends_with_control(in_netns: int) -> None:
    loop = asyncio.get_running_loop()
    relay = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    relay.bind(("127.0.0.1", 0))
    relay.setblocking(False)
    end_control = asyncio.Event()

    async def associate(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert await reader.readexactly(3) == b"\x05\x01\x00"
        writer.write(b"\x05\x00")
        request = await reader.readexactly(10)
        assert request[:4] == b"\x05\x03\x00\x01"  # UDP ASSOCIATE, all-zero address
        # BND.ADDR 0.0.0.0: the client must use the proxy's address.
        writer.write(b"\x05\x00\x00\x01" + bytes(4) + struct.pack("!H", relay.getsockname()[1]))
        await end_control.wait()
        writer.close()

    server, port = await scripted_proxy(associate)
    dialer = Socks5Dialer("127.0.0.1", port, timeout=STEP)
    assoc = await dialer.open_udp()
    assert assoc.relay == ("127.0.0.1", relay.getsockname()[1])
    assoc.sendto(b"ping", ("example.invalid", 53))
    packet, client = await asyncio.wait_for(loop.sock_recvfrom(relay, 2048), STEP)
    assert socks5.decode_udp(packet) == socks5.UdpDatagram(0, "example.invalid", 53, b"ping")
    header = socks5.encode_udp("198.18.0.9", 53, b"")
    relay.sendto(b"\x00\x00\x01" + header[3:] + b"fragment", client)
    relay.sendto(b"\x00\x00\x00\x09garbage", client)
    relay.sendto(header + b"whole", client)
    assert await recv(assoc) == (b"whole", ("198.18.0.9", 53))
    assert (assoc.stats.dropped_fragment, assoc.stats.dropped_malformed) == (1, 1)
    assert dialer.stats.udp.dropped_fragment == 1
    # Too big for max_datagram: dropped and counted, nothing sent.
    assoc.sendto(bytes(dialer.max_datagram + 1), ("198.18.0.9", 53))
    assert (assoc.stats.dropped_too_big, assoc.stats.sent) == (1, 1)
    end_control.set()
    with pytest.raises(ConnectionResetError):
        await recv(assoc)
    assert assoc.is_closing()
    await asyncio.wait_for(assoc.wait_closed(), STEP)
    server.close()
    relay.close()


# -- SOCKS5 UDP ASSOCIATE (Dante) --------------------------------------------------


async def test_udp_associate_both_ways_through_dante(danted: int, servers: Servers) -> None:
    dialer = Socks5Dialer("127.0.0.1", danted, timeout=STEP)
    assoc = await dialer.open_udp()
    for i, size in enumerate((1, 1400, 8000)):
        data = payload(size)
        assoc.sendto(data, ("127.0.0.1", servers.udp4))
        back, source = await recv(assoc)
        assert source == ("127.0.0.1", servers.udp4)
        assert back.split(b"|", 1)[1] == data
        assert assoc.stats.received == i + 1
    # A name: ATYP 3 in the UDP request header, resolved by Dante.
    assoc.sendto(b"by name", ("localhost", servers.udp4))
    assert (await recv(assoc))[0].endswith(b"|by name")
    # ATYP 4 both ways.
    assoc.sendto(b"six", ("::1", servers.udp6))
    assert await recv(assoc) == (b"::1|six", ("::1", servers.udp6))
    # A second association is independent; closing the dialer ends both.
    other = await dialer.open_udp()
    other.sendto(b"other", ("127.0.0.1", servers.udp4))
    assert (await recv(other))[0].endswith(b"|other")
    dialer.close()
    for one in (assoc, other):
        with pytest.raises(ConnectionAbortedError):
            await recv(one)
    assert dialer.stats.udp_opened == 2
    assert dialer.stats.udp.sent == dialer.stats.udp.received == 6


async def test_proxy_over_ipv6_connect_and_udp(danted: int, servers: Servers) -> None:
    dialer = Socks5Dialer("::1", danted, timeout=STEP)
    answer, writer = await exchange(dialer.open_tcp("127.0.0.1", servers.tcp4), b"SINK\nx")
    assert answer.split()[0] == b"1"
    assert writer.get_extra_info("peername")[0] == "::1"
    assoc = await dialer.open_udp()
    assoc.sendto(b"over six", ("127.0.0.1", servers.udp4))
    assert (await recv(assoc))[0].endswith(b"|over six")
    assoc.close()


# -- Direct ------------------------------------------------------------------------


async def test_direct_bind_address_tcp_and_udp(servers: Servers) -> None:
    dialer = DirectDialer(bind_address="198.18.0.2", timeout=STEP)
    answer, writer = await exchange(dialer.open_tcp("198.18.0.1", servers.tcp4), b"SINK\nabc")
    assert answer.decode().split() == ["3", hashlib.sha256(b"abc").hexdigest(), "198.18.0.2"]
    assert writer.get_extra_info("sockname")[0] == "198.18.0.2"
    assoc = await dialer.open_udp()
    assoc.sendto(b"hi", ("198.18.0.1", servers.udp_lan))
    assert await recv(assoc) == (b"198.18.0.2|hi", ("198.18.0.1", servers.udp_lan))
    assert assoc.get_local_address()[0] == "198.18.0.2"
    with pytest.raises(ValueError, match="IP address"):
        assoc.sendto(b"x", ("localhost", servers.udp4))
    with pytest.raises(OSError) as info:
        await dialer.open_tcp("::1", servers.tcp6)  # not bind_address's family
    assert info.value.errno == errno.EAFNOSUPPORT
    assoc.close()


async def test_direct_mark_selects_policy_routing(servers: Servers) -> None:
    """SO_MARK reaches the kernel's routing: with ``fwmark 0x2a`` the lookup goes
    to table 100, where 198.18.9.0/24 is prohibited (EACCES); without the mark
    the main table has no route (ENETUNREACH)."""
    ip("rule", "add", "fwmark", "0x2a", "lookup", "100", "pref", "100")
    ip("route", "add", "prohibit", "198.18.9.0/24", "table", "100")
    try:
        with pytest.raises(OSError) as plain:
            await DirectDialer(timeout=STEP).open_tcp("198.18.9.9", 80)
        assert plain.value.errno == errno.ENETUNREACH
        marked = DirectDialer(mark=0x2A, timeout=STEP)
        with pytest.raises(PermissionError):
            await marked.open_tcp("198.18.9.9", 80)
        assert marked.stats.tcp_failed == 1
        reader, writer = await marked.open_tcp("127.0.0.1", servers.tcp4)
        assert writer.get_extra_info("socket").getsockopt(socket.SOL_SOCKET, SO_MARK) == 0x2A
        await echo_through(reader, writer)
        assoc = await marked.open_udp()
        assoc.sendto(b"marked", ("198.18.9.9", 53))
        assert (assoc.stats.sent, assoc.stats.dropped_send_error) == (0, 1)
        assoc.close()
    finally:
        ip("route", "del", "prohibit", "198.18.9.0/24", "table", "100")
        ip("rule", "del", "pref", "100")


async def test_direct_interface_and_bounded_udp_queue(servers: Servers) -> None:
    dialer = DirectDialer(interface="lo", udp_queue=2, timeout=STEP)
    reader, writer = await dialer.open_tcp("127.0.0.1", servers.tcp4)
    sock: Any = writer.get_extra_info("socket")
    assert sock.getsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, 16).rstrip(b"\0") == b"lo"
    await echo_through(reader, writer)
    assoc = await dialer.open_udp()
    # One kernel socket per family, the IPv6 one made at its first use.
    assoc.sendto(b"v6", ("::1", servers.udp6))
    assert await recv(assoc) == (b"::1|v6", ("::1", servers.udp6))
    assoc.sendto(b"BURST 5", ("127.0.0.1", servers.udp4))
    for _ in range(int(STEP / 0.01)):
        if assoc.stats.received + assoc.stats.dropped_queue_full == 6:
            break
        await asyncio.sleep(0.01)
    assert (assoc.stats.received, assoc.stats.dropped_queue_full) == (3, 3)
    assert [(await recv(assoc))[0] for _ in range(2)] == [b"burst 0", b"burst 1"]
    assoc.close()
    with pytest.raises(ConnectionAbortedError):
        await recv(assoc)
