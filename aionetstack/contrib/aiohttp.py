"""aiohttp over a ``Stack``: a client connector and a server site.

``StackConnector`` is an ``aiohttp.BaseConnector`` (pooling, limits and
keep-alive stay aiohttp's) whose ``_create_connection`` (the one method
aiohttp documents for a connector to provide) dials through the stack::

    async with aiohttp.ClientSession(connector=StackConnector(stack)) as session:
        async with session.get("http://198.18.0.1:8080/") as response: ...

Host names go through the stack's resolver (``Stack.resolve``); ``https``
URLs use TLS over the stack (the request's ``ssl=`` honoured: a context,
``False`` for no verification, or the default context). Proxies are not
supported (a ``proxy=`` request raises ``ClientConnectorError``).

``StackSite`` is a ``web.BaseSite`` serving an ``AppRunner`` on the stack, as
``TCPSite`` does on the kernel::

    runner = web.AppRunner(app)
    await runner.setup()
    site = StackSite(runner, stack, "198.18.0.2", 8080)
    await site.start()

aiohttp is an optional dependency: ``pip install aionetstack[aiohttp]``.
"""

from __future__ import annotations

import asyncio
import ssl as _ssl
from typing import TYPE_CHECKING, Any

try:
    from aiohttp import (
        BaseConnector,
        ClientConnectorCertificateError,
        ClientConnectorError,
        ClientConnectorSSLError,
        web,
    )
    from aiohttp.client_proto import ResponseHandler
    from yarl import URL
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "aionetstack.contrib.aiohttp needs aiohttp: pip install 'aionetstack[aiohttp]'"
    ) from exc

if TYPE_CHECKING:
    from aiohttp import ClientRequest, ClientTimeout
    from aiohttp.tracing import Trace

    from aionetstack.aio.server import Server
    from aionetstack.aio.stack import Stack

__all__ = ["StackConnector", "StackSite"]


class StackConnector(BaseConnector):
    """An aiohttp connector that opens its connections through ``stack``; the
    keywords (``limit``, ``limit_per_host``, ``keepalive_timeout``,
    ``force_close``...) are ``BaseConnector``'s."""

    def __init__(self, stack: Stack, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stack = stack

    async def _create_connection(
        self, req: ClientRequest, traces: list[Trace], timeout: ClientTimeout
    ) -> ResponseHandler:
        if req.proxy is not None:
            raise ClientConnectorError(
                req.connection_key, OSError("StackConnector does not support proxies")
            )
        host = req.url.raw_host
        port = req.port
        assert host is not None and port is not None  # aiohttp checked the URL
        context = _ssl_context(req)
        tls: dict[str, Any] = {}
        if context is not None:
            tls = {"ssl": context, "server_hostname": req.server_hostname or host.rstrip(".")}
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout.sock_connect):
                _, protocol = await self.stack.create_connection(
                    lambda: ResponseHandler(loop), host, port, **tls
                )
        except _ssl.CertificateError as exc:
            raise ClientConnectorCertificateError(req.connection_key, exc) from exc
        except _ssl.SSLError as exc:
            raise ClientConnectorSSLError(req.connection_key, exc) from exc
        except OSError as exc:
            if exc.errno is None and isinstance(exc, TimeoutError):
                raise  # aiohttp turns a timeout into its own error
            raise ClientConnectorError(req.connection_key, exc) from exc
        return protocol


def _ssl_context(req: ClientRequest) -> _ssl.SSLContext | None:
    """The TLS context for ``req`` as aiohttp picks it (None: plain TCP)."""
    if not req.is_ssl():
        return None
    if isinstance(req.ssl, _ssl.SSLContext):
        return req.ssl
    context = _ssl.create_default_context()
    if req.ssl is False:  # verification off, as aiohttp's ssl=False
        context.check_hostname = False
        context.verify_mode = _ssl.CERT_NONE
    return context


class StackSite(web.BaseSite):
    """Serve an aiohttp ``AppRunner`` on ``stack`` at ``host``:``port`` (``port``
    0 picks one: ``site.port`` once started); as ``web.TCPSite``."""

    __slots__ = ("_bound_port", "_host", "_port", "_stack")

    def __init__(
        self,
        runner: web.BaseRunner,
        stack: Stack,
        host: str | None = None,
        port: int | None = None,
        *,
        ssl_context: _ssl.SSLContext | None = None,
        backlog: int = 128,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context, backlog=backlog)
        self._stack = stack
        self._host = host
        self._port = port if port is not None else 8443 if ssl_context else 8080
        self._bound_port: int | None = None

    @property
    def port(self) -> int:
        """The port listened on (the requested one before ``start()``)."""
        return self._bound_port if self._bound_port is not None else self._port

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context else "http"
        host = self._host or "0.0.0.0"
        return str(URL.build(scheme=scheme, host=host, port=self.port))

    async def start(self) -> None:
        await super().start()
        handler = self._runner.server
        assert handler is not None  # BaseSite.__init__ checked runner.setup()
        server: Server = await self._stack.create_server(
            handler, self._host, self._port, ssl=self._ssl_context, backlog=self._backlog
        )
        self._server = server
        self._bound_port = server.port
