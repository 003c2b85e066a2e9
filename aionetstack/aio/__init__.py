"""aionetstack.aio: the asyncio runtime (the only layer that imports asyncio).

``Stack`` (stack.py) is the API; the ``Driver`` it builds (driver.py) runs a
core ``StackEngine`` on the running loop. ``TcpTransport`` (transport.py),
``Server`` (server.py) and ``DatagramTransport`` (datagram.py) are the asyncio
faces; they depend on the driver only (the transports share their life cycle
in base_transport.py), and nothing imports stack.py back. links.py holds the
public link factories ``memory_link_pair``, ``impair`` and ``capture``.
"""
