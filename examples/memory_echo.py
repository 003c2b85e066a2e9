"""Two stacks on a lossy in-memory wire, an echo server and a client: no root, no device.

Run it from the checkout (``make setup`` creates ``.venv``; where aionetstack is
installed, any ``python3`` does):

    .venv/bin/python examples/memory_echo.py

Every segment crosses a wire that loses 5 % of packets and delays each by 10 ms;
the client's ``tcp_info`` at the end shows what TCP did to hide it.
"""

import asyncio

import aionetstack


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


async def main() -> None:
    a, b = aionetstack.memory_link_pair(loss=0.05, delay=0.01, seed=7)
    async with aionetstack.Stack(a, address="198.18.0.1/24") as client, \
               aionetstack.Stack(b, address="198.18.0.2/24") as server:  # fmt: skip
        await server.start_server(echo, "198.18.0.2", 7)
        reader, writer = await client.open_connection("198.18.0.2", 7)
        for n in range(5):
            writer.write(f"line {n} over a lossy wire\n".encode())
            print("echoed:", (await reader.readline()).decode().rstrip())
        writer.write_eof()  # half-close; the server's echo() sees EOF and closes
        assert await reader.read() == b""
        info = writer.get_extra_info("tcp_info")
        print(f"rtt {info.rtt * 1000:.1f} ms, retransmitted segments {info.total_retrans}")
        writer.close()


if __name__ == "__main__":
    asyncio.run(main())
