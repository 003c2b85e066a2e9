"""Fetch a page from a kernel web server through aionetstack's own TCP, over TUN.

Try it as root in a throw-away network namespace (nothing touches your real
network; the namespace and the ans0 device vanish when the shell exits):

    sudo unshare --net sh -c '
        ip link set lo up
        python3 -m http.server 8000 --directory /etc >/dev/null 2>&1 &
        sleep 1
        .venv/bin/python examples/tun_open_connection.py 198.18.0.1 8000 /hostname
        kill $!'

The script creates the TUN device ans0, gives the kernel's side 198.18.0.1/24
and runs the stack as 198.18.0.2; the kernel's http.server (listening on all
addresses of the private namespace) answers the stack's connection.

``.venv/bin/python`` is the checkout's virtual environment (``make setup`` creates
it); where aionetstack is installed, any ``python3`` does.
"""

import asyncio
import sys

import aionetstack


async def main(host: str = "198.18.0.1", port: int = 8000, path: str = "/") -> None:
    tun = aionetstack.TunLink("ans0", kernel_address="198.18.0.1/24")  # kernel side of the link
    async with aionetstack.Stack(tun, address="198.18.0.2/24") as stack:  # our side, in Python
        reader, writer = await stack.open_connection(host, port)
        writer.write(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        print((await reader.read()).decode(errors="replace"))
        writer.close()


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(main(args[0], int(args[1]), args[2]) if len(args) == 3 else main())
