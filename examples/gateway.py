"""A tun2socks-style gateway with the library API: every TCP and UDP flow routed
into a TUN device is relayed through a SOCKS5 proxy (or kernel sockets).

Run it as root, in a throw-away network namespace, with a SOCKS5 proxy that is
reached, and reaches the routed range, *outside* the device (another host or
namespace, as tests/gateway/test_gateway_netns.py sets up):

    sudo .venv/bin/python examples/gateway.py 198.18.200.2:1080   # then: curl http://198.18.64.1/

A proxy on this host would send its own connections to 198.18.64.0/24 back into
the device: a loop, which the flow cap stops (the log shows it); a real set-up
pins the proxy's traffic (DirectDialer's interface= or mark=).

``.venv/bin/python`` is the checkout's virtual environment (``make setup`` creates
it); where aionetstack is installed, any ``python3`` does.
"""

import asyncio
import logging
import signal
import sys

import aionetstack
from aionetstack.gateway import DirectDialer, Relay, Socks5Dialer, Verdict
from aionetstack.gateway.netlink import add_route


def no_smtp(src: tuple[str, int], dst: tuple[str, int]) -> Verdict:
    """Refuse (RST) connections to port 25, accept the rest (asked once per SYN)."""
    return Verdict.REFUSE if dst[1] == 25 else Verdict.ACCEPT


async def main(proxy: str | None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # one line per flow
    dialer = Socks5Dialer.from_url(proxy) if proxy else DirectDialer()
    tun = aionetstack.TunLink("ans0", kernel_address="198.18.0.1/24")
    add_route("198.18.64.0/24", "ans0")  # the kernel now sends this range to us
    async with aionetstack.Stack(tun, address="198.18.0.2/24", gateway="198.18.0.1") as stack:
        relay = Relay(stack, dialer, max_tcp_flows=256, udp_timeout=30.0, tcp_filter=no_smtp)
        await relay.start()
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        try:
            await stop.wait()
        finally:
            await relay.close(grace=2.0)  # stop accepting, drain, abort the rest
            print(relay.stats)


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else None))
    except KeyboardInterrupt:
        pass
