"""An echo server on aionetstack over TUN; the kernel's own tools are the clients.

Try it as root in a throw-away network namespace (nothing touches your real
network; the namespace and the ans0 device vanish when the shell exits):

    sudo unshare --net sh -c '
        ip link set lo up
        .venv/bin/python examples/tun_echo_server.py &
        sleep 1
        echo "hello, user-space TCP" | curl -s --max-time 2 telnet://198.18.0.2:7
        ping -c 2 198.18.0.2
        kill $!'

Or interactively: ``sudo unshare --net bash``, ``ip link set lo up``, start
the script in the background and use ``nc 198.18.0.2 7``, ``curl telnet://198.18.0.2:7``
or ``ping 198.18.0.2``. ``ip addr show ans0`` shows the kernel's side.

``.venv/bin/python`` is the checkout's virtual environment (``make setup`` creates
it); where aionetstack is installed, any ``python3`` does.
"""

import asyncio

import aionetstack


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    print("connection from", writer.get_extra_info("peername"))
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


async def main() -> None:
    tun = aionetstack.TunLink("ans0", mtu=1500, kernel_address="198.18.0.1/24")
    async with aionetstack.Stack(tun, address="198.18.0.2/24") as stack:
        server = await stack.start_server(echo, "198.18.0.2", 7)
        print("echo server on 198.18.0.2:7 (the kernel reaches it through ans0); Ctrl-C stops")
        async with server:
            await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
