"""aionetstack.aio: the asyncio runtime (the only layer that imports asyncio).

``Stack`` (stack.py) drives a core ``StackEngine`` on the running loop;
``TcpTransport`` (transport.py), ``Server`` (server.py) and
``DatagramTransport`` (datagram.py) are its asyncio faces; links.py holds the
public link factories ``memory_link_pair``, ``impair`` and ``capture``.
"""
