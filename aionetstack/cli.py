"""The ``aionetstack`` command: try the user-space stack from a shell.

Theory of operation
-------------------
Every sub-command except ``demo`` creates a TUN device, gives the *kernel's*
side of it an address (``--kernel-address``, default 198.18.0.1/24) and runs
an ``aionetstack.Stack`` with its own address (``--address``, default
198.18.0.2/24) on the other side. The kernel then sees the stack as a host
on a point-to-point link: ``curl``, ``ping`` or ``nc`` aimed at 198.18.0.2
talk to this process's Python TCP/IP stack, and the stack's own connections
reach kernel sockets bound to 198.18.0.1.

* ``demo``: the in-memory demo (no root, no device).
* ``serve``: classic services (echo, discard, a small HTTP server), one status
  line per connection and live counters; Ctrl-C stops cleanly. ``--loss``,
  ``--delay``, ``--jitter`` and ``--rate`` wrap the TUN link in ``impair()``
  (both directions); ``--log-level`` shows the ``aionetstack.*`` loggers.
* ``connect HOST PORT``: netcat over the stack (stdin -> connection -> stdout).
* ``ping HOST``: ICMP echo from the stack.
* ``plot CAPTURE``: a time-sequence graph (PNG) of a TCP connection in a pcap
  or pcapng file; ``plot --tcp-info SAMPLES.csv``: cwnd, RTT and pacing rate
  over time (``aionetstack.plot``; needs the ``plot`` extra, matplotlib).
* ``gateway``: a tun2socks-style gateway: ``--route`` ranges go into the
  device, and every TCP and UDP flow to them is relayed through a SOCKS5
  proxy (``--socks5``) or kernel sockets (``--direct``); see
  ``aionetstack.gateway``. Flags may come from a TOML file (``--config``:
  the same names with ``_`` for ``-``; flags on the command line win).

Expected failures (no root, device busy, bad address, connection refused)
print one line to stderr and exit with status 1 (2 for bad arguments); only
real bugs show a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import ipaddress
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from aionetstack.aio.stack import Stack

__all__ = ["http_payload", "http_payload_chunks", "main", "serve_http"]

PROG = "aionetstack"

_SAFETY_NOTE = (
    "The TUN device is created in the current network namespace. To keep the "
    "experiment away from your real network, run it in a private one, e.g.: "
    "sudo unshare --net sh -c 'ip link set lo up; aionetstack serve --echo 7'"
)


class CliError(Exception):
    """An expected failure: printed as one line, exit status ``code``."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


# --- small services, reusable by tests and benchmarks ------------------------


_HTTP_CHUNK = 1 << 20  # a multiple of 4: chunked randbytes() equal one big call


def http_payload_chunks(size: int, chunk: int = _HTTP_CHUNK) -> Iterator[bytes]:
    """``http_payload(size)`` generated ``chunk`` bytes at a time (``chunk`` a
    multiple of 4), so a large body never sits in memory whole."""
    if chunk <= 0 or chunk % 4:
        raise ValueError("chunk must be a positive multiple of 4")
    rng = random.Random(size)
    for start in range(0, size, chunk):
        yield rng.randbytes(min(chunk, size - start))


def http_payload(size: int) -> bytes:
    """The body of ``GET /bytes/SIZE``: ``size`` pseudo-random bytes seeded by ``size``.

    Deterministic, so a client can check what it received (sha256) without
    the server sending a digest, and with no repetition that could hide a
    misplaced segment. The server streams it with ``http_payload_chunks``.
    """
    return random.Random(size).randbytes(size)


_MAX_HTTP_BODY = 64 << 20  # GET /bytes/N above this: 413
_MAX_SIZE_DIGITS = len(str(_MAX_HTTP_BODY))


def _parse_size(text: str) -> int | None:
    """A decimal byte count (ASCII digits only), or None. Values above
    ``_MAX_HTTP_BODY`` may come back as ``_MAX_HTTP_BODY + 1``."""
    if not (text.isascii() and text.isdigit()):
        return None
    if len(text.lstrip("0")) > _MAX_SIZE_DIGITS:
        return _MAX_HTTP_BODY + 1  # no int() of a huge string
    return int(text)


async def serve_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A tiny HTTP/1.1 server for one connection (keep-alive, GET/HEAD only).

    ``GET /`` says hello; ``GET /bytes/N`` returns ``http_payload(N)`` (N in
    ASCII digits, at most 64 MiB: else 400 or 413), generated and sent one
    MiB at a time. Enough for ``curl`` and benchmarks; not a general web server.
    """
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                return
            lines = head.decode("latin-1").split("\r\n")
            parts = lines[0].split()
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in lines[1:] if line)
            }
            keep_alive = headers.get("connection", "").lower() != "close" and (
                len(parts) == 3 and parts[2] == "HTTP/1.1"
            )
            status, body = "200 OK", b""
            length = 0
            chunks: Iterable[bytes] = ()
            if len(parts) != 3 or parts[0] not in ("GET", "HEAD"):
                status, body, keep_alive = "400 Bad Request", b"bad request\n", False
            elif parts[1] == "/":
                body = b"Hello from aionetstack, a TCP/IP stack written in Python.\n"
            elif parts[1].startswith("/bytes/"):
                size = _parse_size(parts[1][7:])
                if size is None:
                    status, body = "400 Bad Request", b"N must be a decimal number\n"
                elif size > _MAX_HTTP_BODY:
                    status, body = "413 Content Too Large", b"too large\n"
                else:
                    length = size
                    if parts[0] != "HEAD":
                        chunks = http_payload_chunks(size)
            else:
                status, body = "404 Not Found", b"try / or /bytes/N\n"
            if body:
                length = len(body)
                chunks = (body,)
            writer.write(
                (
                    f"HTTP/1.1 {status}\r\nContent-Length: {length}\r\n"
                    "Content-Type: application/octet-stream\r\n"
                    f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
                ).encode()
            )
            if parts and parts[0] != "HEAD":
                for chunk in chunks:  # bounded buffering: drain per chunk (1 MiB)
                    writer.write(chunk)
                    await writer.drain()
            await writer.drain()
            if not keep_alive:
                return
    except ConnectionError:
        return
    finally:
        writer.close()


async def serve_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """RFC 862 echo: send back everything, then close after the peer's FIN."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.write_eof()
        await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def serve_discard(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """RFC 863 discard: read and drop everything."""
    try:
        while await reader.read(1 << 20):
            pass
    except ConnectionError:
        pass
    finally:
        writer.close()


# --- shared plumbing ----------------------------------------------------------


def _interface(text: str) -> str:
    """argparse type: 'a.b.c.d/len' or '2001:2::2/64' (a host address with its
    prefix length), or several separated by commas (a dual-stack host)."""
    parts = []
    for part in text.split(","):
        try:
            iface = ipaddress.ip_interface(part.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{part!r} is not an IP address with prefix, like 198.18.0.2/24 or 2001:2::2/64"
            ) from None
        if "/" not in part:
            raise argparse.ArgumentTypeError(f"{part!r} needs a prefix length, like 198.18.0.2/24")
        parts.append(str(iface))
    return ",".join(parts)


def _host(text: str) -> str:
    """argparse type: an IPv4 or IPv6 address; several separated by commas
    (``--gateway``: one per family)."""
    try:
        return ",".join(str(ipaddress.ip_address(part.strip())) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an IP address (names are not resolved)"
        ) from None


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-65535)")
    return int(text)


def _mtu(text: str) -> int:
    if not text.isdigit() or not 576 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: the MTU must be from 576 to 65535")
    return int(text)


def _open_link(args: argparse.Namespace) -> Any:
    """Create the TUN link (and the pcap wrapper) or raise CliError with a hint."""
    from aionetstack.link.tun import TunLink

    kernel_address = None if args.no_kernel_address else args.kernel_address.split(",")
    try:
        link: Any = TunLink(args.tun, mtu=args.mtu, kernel_address=kernel_address)
    except PermissionError as exc:
        raise CliError(f"{exc.strerror or exc}") from None
    except FileNotFoundError as exc:
        raise CliError(f"{exc.strerror or exc}") from None
    except OSError as exc:
        if exc.errno == errno.EBUSY:
            raise CliError(f"{exc.strerror}") from None
        raise CliError(f"cannot open TUN device {args.tun!r}: {exc.strerror or exc}") from None
    impairment = _impairment(args)
    if impairment:
        import aionetstack

        # The capture (below) wraps this: it records what the stack sends and
        # receives, i.e. before loss on the way out and after it on the way in.
        link = aionetstack.impair(link, **impairment)
    if args.pcap:
        import aionetstack

        try:
            link = aionetstack.capture(link, args.pcap)
        except OSError as exc:
            link.close()
            raise CliError(f"cannot write pcap {args.pcap!r}: {exc.strerror or exc}") from None
    return link


def _impairment(args: argparse.Namespace) -> dict[str, Any]:
    """``impair()``'s keyword arguments from ``serve``'s options (empty: none asked)."""
    knobs = {
        name: getattr(args, name, None) for name in ("loss", "delay", "jitter", "rate", "seed")
    }
    if not any(knobs[name] for name in ("loss", "delay", "jitter", "rate")):
        return {}
    return {name: value for name, value in knobs.items() if value is not None}


def _setup_logging(level: str) -> None:
    """Log records of the ``aionetstack.*`` loggers at ``level`` and above to stderr."""
    import logging

    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("aionetstack").setLevel(level.upper())


def _make_stack(args: argparse.Namespace, link: Any) -> Stack:
    import aionetstack

    config = aionetstack.StackConfig(answer_any_ping=getattr(args, "answer_ping", False))
    try:
        return aionetstack.Stack(
            link,
            address=args.address.split(","),
            gateway=args.gateway.split(",") if args.gateway else None,
            config=config,
        )
    except ValueError as exc:
        link.close()
        raise CliError(f"bad address: {exc}", 2) from None


async def _until_interrupted() -> None:
    """Wait for Ctrl-C (SIGINT) or SIGTERM."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def _say(*parts: object) -> None:
    print(*parts, flush=True)


def _err(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


# --- sub-commands ---------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    try:
        from aionetstack import demo
    except ImportError as exc:
        if exc.name in ("aionetstack.demo",):
            raise CliError("the in-memory demo is not available in this build yet") from None
        raise
    entry: Callable[[], object] | None = getattr(demo, "main", None)
    if entry is not None:
        result = entry()
        return result if isinstance(result, int) else 0
    run_demo: Callable[[], Awaitable[object]] = demo.run_demo
    asyncio.run(run_demo())  # type: ignore[arg-type]
    return 0


def _fmt_peer(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        host = f"[{peer[0]}]" if ":" in peer[0] else peer[0]  # IPv6: RFC 3986 3.2.2
        return f"{host}:{peer[1]}"
    return str(peer)


def _logged(
    name: str,
    port: int,
    handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    counters: dict[str, int],
    quiet: bool,
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = _fmt_peer(writer)
        counters["connections"] += 1
        counters["active"] += 1
        started = time.monotonic()
        if not quiet:
            _say(f"[{name}:{port}] {peer} connected")
        outcome = "closed"
        try:
            await handler(reader, writer)
        except Exception as exc:  # a status line, not a crash of the server
            outcome = f"failed: {type(exc).__name__}: {exc}"
        finally:
            counters["active"] -= 1
            if not quiet:
                _say(f"[{name}:{port}] {peer} {outcome} after {time.monotonic() - started:.3f}s")

    return run


async def _serve(args: argparse.Namespace) -> int:
    services = [
        (name, port, handler)
        for name, port, handler in (
            ("echo", args.echo, serve_echo),
            ("discard", args.discard, serve_discard),
            ("http", args.http, serve_http),
        )
        if port
    ]
    _setup_logging(args.log_level)
    link = _open_link(args)
    stack = _make_stack(args, link)
    counters = {"connections": 0, "active": 0}
    async with stack:
        servers = []
        # several addresses (a dual-stack host, comma-separated): serve every one
        host = None if "," in args.address else args.address.split("/")[0]
        for name, port, handler in services:
            try:
                server = await stack.start_server(
                    _logged(name, port, handler, counters, args.quiet), host, port
                )
            except OSError as exc:
                raise CliError(f"cannot listen on {host or '*'}:{port} ({name}): {exc}") from None
            servers.append(server)
        tun = link
        while getattr(tun, "inner", None) is not None:  # under the --pcap wrapper
            tun = tun.inner
        kernel = getattr(tun, "kernel_address", None)
        _say(
            f"aionetstack: stack {args.address} on {args.tun} (mtu {args.mtu})"
            + (f", kernel side {kernel}" if kernel else "")
            + "; services: "
            + (", ".join(f"{n}:{p}" for n, p, _ in services) or "none (ping only)")
        )
        impairment = _impairment(args)
        if impairment:
            _say(
                "impaired both ways: "
                + ", ".join(f"{k} {v:g}" for k, v in impairment.items() if v is not None)
            )
        if services:
            ip = args.address.split("/")[0]
            url_ip = f"[{ip}]" if ":" in ip else ip  # RFC 3986 3.2.2
            hint = {
                "echo": f"nc {ip} {args.echo}",
                "discard": f"nc {ip} {args.discard} < /dev/zero",
                "http": f"curl http://{url_ip}:{args.http}/",
            }
            _say("try:  " + "   ".join(hint[n] for n, _, _ in services) + f"   ping {ip}")
        # The handlers first, then the line that invites Ctrl-C (a SIGINT right
        # after it must stop cleanly, not as a KeyboardInterrupt).
        interrupted = asyncio.create_task(_until_interrupted())
        await asyncio.sleep(0)
        _say("Ctrl-C to stop")
        reporter = None
        if args.stats_interval > 0:
            reporter = asyncio.create_task(_report(stack, link, counters, args.stats_interval))
        try:
            await interrupted
        finally:
            if reporter is not None:
                reporter.cancel()
            for server in servers:
                server.close()
            for server in servers:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(server.wait_closed(), 2.0)
    link.close()
    _say("aionetstack: stopped")
    return 0


_GATEWAY_KEYS = {
    # TOML key -> (argparse dest, kind): "str" passed through the flag's own parser
    "tun": "str", "kernel_address": "str", "address": "str", "mtu": "str",
    "route": "list", "socks5": "str", "direct": "bool", "bind_interface": "str",
    "bind_address": "str", "udp_timeout": "str", "max_flows": "str", "pcap": "str",
    "stats": "str", "log_level": "str", "grace": "str", "fake_ip": "cidrs",
    "answer_ping": "bool",
}  # fmt: skip


def _load_config(path: str) -> dict[str, Any]:
    """A TOML file mirroring the gateway flags, as argparse defaults (strings
    go through the flags' own type checks)."""
    import tomllib

    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise CliError(f"cannot read config {path!r}: {exc.strerror or exc}", 2) from None
    except tomllib.TOMLDecodeError as exc:
        raise CliError(f"bad config {path!r}: {exc}", 2) from None
    defaults: dict[str, Any] = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        kind = _GATEWAY_KEYS.get(name)
        if kind is None:
            raise CliError(f"config {path!r}: unknown key {key!r}", 2)
        if kind == "cidrs" and isinstance(value, str):
            value = [value]  # fake_ip: one network, or one per family
        if kind in ("list", "cidrs"):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise CliError(f"config {path!r}: {key} must be a list of strings", 2)
            defaults[name] = [_cidr(v) for v in value]
        elif kind == "bool":
            if not isinstance(value, bool):
                raise CliError(f"config {path!r}: {key} must be true or false", 2)
            defaults[name] = value
        else:
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise CliError(f"config {path!r}: {key} must be a string or a number", 2)
            defaults[name] = str(value)
    return defaults


def _cidr(text: str) -> str:
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a network like 198.18.64.0/24") from None
    return str(network)


def _hostport(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    return host.strip("[]"), _port(port)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def _probability(text: str) -> float:
    """0.05 or 5%."""
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a probability (0.05 or 5%)") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not between 0 and 1 (0% and 100%)")
    return value


def _seconds(text: str) -> float:
    """0.02, 20ms or 1s."""
    scale = 1.0
    for suffix, factor in (("ms", 1e-3), ("us", 1e-6), ("s", 1.0)):
        if text.endswith(suffix):
            text, scale = text[: -len(suffix)], factor
            break
    try:
        value = float(text) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration (0.02, 20ms)") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative")
    return value


_RATE_SUFFIXES = {"k": 1e3, "m": 1e6, "g": 1e9}


def _rate(text: str) -> float:
    """Bytes per second: 125000, 125k, 1.5M."""
    scale = _RATE_SUFFIXES.get(text[-1:].lower(), 1.0)
    number = text[:-1] if scale != 1.0 else text
    try:
        value = float(number) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a rate in bytes/s (125k)") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be above 0")
    return value


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return int(text)


def _make_dialer(args: argparse.Namespace) -> Any:
    from aionetstack.gateway import DirectDialer, Socks5Dialer

    try:
        direct = DirectDialer(interface=args.bind_interface, bind_address=args.bind_address)
        if args.socks5:
            return Socks5Dialer.from_url(args.socks5, via=direct)
    except ValueError as exc:
        raise CliError(str(exc), 2) from None
    return direct


async def _gateway(args: argparse.Namespace) -> int:
    import logging

    from aionetstack.gateway import FakeIpPool, Relay
    from aionetstack.gateway.api import serve_stats
    from aionetstack.gateway.netlink import add_route

    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    log = logging.getLogger("aionetstack.gateway")
    dialer = _make_dialer(args)
    if args.gateway is None and not args.no_kernel_address:
        # replies to any client source: the kernel's address of each family
        args.gateway = ",".join(a.split("/")[0] for a in args.kernel_address.split(","))
    routes = list(args.route)
    try:
        pool = FakeIpPool(*args.fake_ip) if args.fake_ip else None
    except ValueError as exc:
        raise CliError(f"--fake-ip: {exc}", 2) from None
    for network in args.fake_ip:
        if network not in routes:
            routes.append(network)  # the pool's addresses must come to us too
    link = _open_link(args)
    try:
        for network in routes:
            add_route(network, args.tun)
    except OSError as exc:
        link.close()
        raise CliError(f"cannot add route: {exc.strerror or exc}") from None
    stack = _make_stack(args, link)
    async with stack:
        relay = Relay(
            stack,
            dialer,
            max_tcp_flows=args.max_flows,
            max_udp_sessions=args.max_flows,
            udp_timeout=args.udp_timeout,
            fake_ip=pool,
        )
        await relay.start()
        api = None
        if args.stats:
            try:
                api = await serve_stats(relay, *args.stats)
            except (OSError, ValueError) as exc:
                await relay.close()
                where = f"{args.stats[0]}:{args.stats[1]}"
                raise CliError(f"cannot serve stats on {where}: {exc}") from None
        via = f"socks5 {dialer.host}:{dialer.port}" if args.socks5 else "direct sockets"
        _say(
            f"aionetstack gateway: {args.address} on {args.tun}; routes "
            f"{', '.join(routes)}; via {via}"
            + (f"; fake-IP DNS from {', '.join(args.fake_ip)}" if args.fake_ip else "")
            + (f"; stats on http://{args.stats[0]}:{args.stats[1]}/" if api else "")
        )
        try:
            await _until_interrupted()
        finally:
            log.info("stopping: draining %d flows for up to %gs", len(relay.flows), args.grace)
            await relay.close(grace=args.grace)
            if api is not None:
                api.close()
            dialer.close()
    link.close()
    _say("aionetstack gateway: stopped")
    return 0


def cmd_gateway(args: argparse.Namespace) -> int:
    if not args.route:
        raise CliError("give at least one --route CIDR (or route: in --config)", 2)
    if bool(args.socks5) == bool(args.direct):
        raise CliError("give one of --socks5 HOST:PORT or --direct", 2)
    families = {ipaddress.ip_interface(a).version for a in args.address.split(",") if a}
    for network in [*args.route, *args.fake_ip]:
        version = ipaddress.ip_network(network).version
        if version not in families:
            # the stack would own the route but have no address to answer from
            raise CliError(f"route {network} needs an IPv{version} --address", 2)
    return asyncio.run(_gateway(args))


def _link_stats(link: Any) -> dict[str, int]:
    while link is not None:
        stats = getattr(link, "stats", None)
        if isinstance(stats, dict):
            return stats
        link = getattr(link, "inner", None) or getattr(link, "_inner", None)
    return {}


async def _report(stack: Stack, link: Any, counters: dict[str, int], interval: float) -> None:
    keys = ("TcpPassiveOpens", "TcpActiveOpens", "TcpCurrEstab", "TcpRetransSegs", "TcpInErrs")
    while True:
        await asyncio.sleep(interval)
        lstats = _link_stats(link)
        try:
            sstats: dict[str, int] = dict(stack.stats())
        except Exception:
            sstats = {}
        extra = " ".join(f"{k}={sstats[k]}" for k in keys if k in sstats)
        _say(
            f"[stats] conns={counters['connections']} active={counters['active']} "
            f"rx={lstats.get('rx_packets', 0)}pkt/{lstats.get('rx_bytes', 0)}B "
            f"tx={lstats.get('tx_packets', 0)}pkt/{lstats.get('tx_bytes', 0)}B "
            f"tx_dropped={lstats.get('tx_dropped', 0)} {extra}".rstrip()
        )


def cmd_serve(args: argparse.Namespace) -> int:
    return asyncio.run(_serve(args))


def _stdin_reader(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes]) -> None:
    """Thread: blocking reads of stdin (works for ttys, pipes and files alike)."""
    stream: Any = sys.stdin.buffer  # BufferedReader (read1), typed as BinaryIO
    while True:
        try:
            chunk = stream.read1(65536)
        except (OSError, ValueError):
            chunk = b""
        loop.call_soon_threadsafe(queue.put_nowait, chunk)
        if not chunk:
            return


async def _connect(args: argparse.Namespace) -> int:
    link = _open_link(args)
    stack = _make_stack(args, link)
    async with stack:
        try:
            reader, writer = await stack.open_connection(args.host, args.port)
        except (ConnectionError, TimeoutError, OSError) as exc:
            raise CliError(f"cannot connect to {args.host}:{args.port}: {exc}") from None
        if args.verbose:
            _err(f"connected to {args.host}:{args.port} from {writer.get_extra_info('sockname')}")
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=0)
        threading.Thread(target=_stdin_reader, args=(loop, queue), daemon=True).start()

        async def upstream() -> None:
            while chunk := await queue.get():
                writer.write(chunk)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()

        async def downstream() -> None:
            out = sys.stdout.buffer
            while data := await reader.read(65536):
                out.write(data)
                out.flush()

        up = asyncio.create_task(upstream())
        try:
            await downstream()  # the connection is over when the peer closes
        except ConnectionError as exc:
            raise CliError(f"connection lost: {exc}") from None
        finally:
            up.cancel()
            writer.close()
    link.close()
    return 0


def cmd_connect(args: argparse.Namespace) -> int:
    return asyncio.run(_connect(args))


async def _ping(args: argparse.Namespace) -> int:
    link = _open_link(args)
    stack = _make_stack(args, link)
    received = 0
    rtts: list[float] = []
    async with stack:
        _say(f"PING {args.host} from {args.address.split('/')[0]} over {args.tun}")
        for seq in range(args.count):
            if seq:
                await asyncio.sleep(args.interval)
            try:
                rtt = await stack.ping(args.host, timeout=args.timeout)
            except TimeoutError:
                _say(f"no reply from {args.host}: seq={seq}")
                continue
            except OSError as exc:
                _say(f"{args.host}: seq={seq}: {exc.strerror or exc}")
                continue
            received += 1
            rtts.append(rtt)
            _say(f"reply from {args.host}: seq={seq} time={rtt * 1000:.3f} ms")
    link.close()
    loss = 100.0 * (args.count - received) / args.count
    summary = f"--- {args.host}: {args.count} sent, {received} received, {loss:.0f}% loss"
    if rtts:
        summary += f", rtt min/avg/max {min(rtts) * 1e3:.3f}/{sum(rtts) / len(rtts) * 1e3:.3f}/{max(rtts) * 1e3:.3f} ms"
    _say(summary)
    return 0 if received else 1


def cmd_ping(args: argparse.Namespace) -> int:
    return asyncio.run(_ping(args))


def cmd_plot(args: argparse.Namespace) -> int:
    from aionetstack import plot
    from aionetstack.wire.errors import WireError

    source = args.tcp_info or args.capture
    if (args.tcp_info is None) == (args.capture is None):
        raise CliError("give a CAPTURE file or --tcp-info SAMPLES.csv (one of them)", 2)
    out = args.output or os.path.splitext(source)[0] + ".png"
    try:
        if args.tcp_info:
            samples = plot.read_tcp_info_csv(args.tcp_info)
            written = plot.plot_tcp_info(samples, out)
            _say(f"{len(samples)} tcp_info samples from {source}")
        else:
            flow, written = plot.plot_capture(args.capture, out, args.connection)
            _say(f"time-sequence graph of {flow.describe()}")
    except plot.PlotUnavailable as exc:
        raise CliError(str(exc)) from None
    except (OSError, WireError, ValueError, LookupError) as exc:
        raise CliError(f"{source}: {exc}") from None
    _say(f"wrote {written}")
    return 0


# --- argument parsing -------------------------------------------------------------


def _tun_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group(
        "TUN device", "where the stack lives (needs root or CAP_NET_ADMIN). " + _SAFETY_NOTE
    )
    group.add_argument(
        "--tun",
        metavar="NAME",
        default="ans0",
        help="name of the TUN device to create (default: %(default)s)",
    )
    group.add_argument(
        "--kernel-address",
        metavar="ADDR/LEN",
        type=_interface,
        default="198.18.0.1/24",
        help="address of the kernel's side of the device; the kernel "
        "reaches the stack through it; IPv4 and/or IPv6, comma-separated "
        "(default: %(default)s)",
    )
    group.add_argument(
        "--no-kernel-address",
        action="store_true",
        help="leave the device unconfigured and down (configure it "
        "yourself with `ip addr` / `ip link set NAME up`)",
    )
    group.add_argument(
        "--address",
        metavar="ADDR/LEN",
        type=_interface,
        default="198.18.0.2/24",
        help="the user-space stack's own address; IPv4 and/or IPv6, comma-separated, "
        "e.g. 198.18.0.2/24,2001:2::2/64 (default: %(default)s)",
    )
    group.add_argument(
        "--gateway",
        metavar="ADDR",
        type=_host,
        default=None,
        help="default gateway of the stack, one per family, comma-separated "
        "(default: none, on-link only)",
    )
    group.add_argument(
        "--mtu",
        type=_mtu,
        default=1500,
        help="device MTU, 576-65535; TCP's MSS follows it (default: %(default)s)",
    )
    group.add_argument(
        "--pcap",
        metavar="FILE",
        help="record every packet, both ways, to FILE (open it with Wireshark; "
        "a .pcapng FILE also records each packet's direction)",
    )
    return parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="aionetstack: a TCP/IP stack written in Python for asyncio. These "
        "commands run it on a Linux TUN device so you can talk to it with curl, ping "
        "or nc, or run the in-memory demo.",
        epilog="Example (as root, in a throw-away network namespace): "
        "unshare --net sh -c 'ip link set lo up; aionetstack serve --http 80 & sleep 1; "
        "curl http://198.18.0.2/'",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    tun = _tun_options()

    p = sub.add_parser(
        "demo",
        help="run the in-memory demo (no root needed)",
        description="Two stacks joined by an in-memory link talk TCP to each other.",
    )
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "serve",
        parents=[tun],
        help="run services on the stack over a TUN device",
        description="Bring the stack up on a TUN device and run classic services on it. "
        "Prints one line per connection and live counters; Ctrl-C stops. " + _SAFETY_NOTE,
    )
    p.add_argument("--echo", metavar="PORT", type=_port, help="echo service (RFC 862) on PORT")
    p.add_argument(
        "--discard", metavar="PORT", type=_port, help="discard service (RFC 863) on PORT"
    )
    p.add_argument(
        "--http",
        metavar="PORT",
        type=_port,
        help="tiny HTTP server on PORT: GET / and GET /bytes/N (N random bytes)",
    )
    p.add_argument(
        "--stats-interval",
        metavar="SECONDS",
        type=float,
        default=5.0,
        help="print counters every SECONDS (0: never; default: %(default)s)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no per-connection lines")
    imp = p.add_argument_group(
        "impairment",
        "a bad network on the TUN side (aionetstack.impair(), both directions, seeded); "
        "--pcap records what the stack sends and receives",
    )
    imp.add_argument("--loss", metavar="P", type=_probability, help="drop probability: 0.02 or 2%%")
    imp.add_argument("--delay", metavar="S", type=_seconds, help="one-way delay: 0.02 or 20ms")
    imp.add_argument("--jitter", metavar="S", type=_seconds, help="random extra delay up to S")
    imp.add_argument(
        "--rate", metavar="BYTES/S", type=_rate,
        help="rate limit in bytes per second (125k = 1 Mbit/s) with a 1000-packet queue",
    )  # fmt: skip
    imp.add_argument("--seed", metavar="N", type=int, help="random seed, to repeat a run exactly")
    p.add_argument(
        "--log-level", metavar="L", default="warning", type=str.lower,
        choices=["debug", "info", "warning", "error"],
        help="show the aionetstack.* loggers from this level on stderr (debug: every "
        "connection's trace) (default: %(default)s)",
    )  # fmt: skip
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "connect",
        parents=[tun],
        help="netcat over the stack: stdin -> HOST:PORT -> stdout",
        description="Open a TCP connection from the user-space stack (e.g. to a kernel "
        "server on 198.18.0.1), copy stdin to it and what comes back to stdout. At the "
        "end of stdin the stack sends FIN and keeps printing until the peer closes.",
    )
    p.add_argument("host", type=_host, help="IP address to connect to, e.g. 198.18.0.1")
    p.add_argument("port", type=_port, help="TCP port")
    p.add_argument("-v", "--verbose", action="store_true", help="report the connection on stderr")
    p.set_defaults(func=cmd_connect)

    p = sub.add_parser(
        "ping",
        parents=[tun],
        help="send ICMP echo requests from the stack",
        description="Ping HOST (e.g. the kernel at 198.18.0.1) from the user-space stack.",
    )
    p.add_argument("host", type=_host, help="IP address to ping (IPv4 or IPv6)")
    p.add_argument("-c", "--count", type=int, default=4, help="requests to send (default: 4)")
    p.add_argument(
        "-i", "--interval", type=float, default=1.0, help="seconds between requests (default: 1)"
    )
    p.add_argument(
        "-W",
        "--timeout",
        type=float,
        default=1.0,
        help="seconds to wait for each reply (default: 1)",
    )
    p.set_defaults(func=cmd_ping)

    p = sub.add_parser(
        "plot",
        help="draw a TCP connection from a capture, or tcp_info samples, as a PNG",
        description="Draw a time-sequence graph of a TCP connection in a pcap or pcapng "
        "capture (data segments as bars by sequence number, retransmissions in red, the "
        "ACK and receive-window lines, SACK blocks), like tcptrace's; or, with --tcp-info, "
        "cwnd / RTT / pacing rate over time from a CSV of tcp_info samples "
        "(aionetstack.plot.write_tcp_info_csv). Needs matplotlib: "
        "pip install 'aionetstack[plot]'.",
    )
    p.add_argument("capture", nargs="?", metavar="CAPTURE", help="a .pcap or .pcapng file")
    p.add_argument("-o", "--output", metavar="PNG", help="output file (default: CAPTURE.png)")
    p.add_argument(
        "--connection", metavar="N", type=_count, default=None,
        help="the Nth TCP connection of the capture, in order of appearance "
        "(default: the one that carried the most data)",
    )  # fmt: skip
    p.add_argument(
        "--tcp-info", metavar="CSV",
        help="plot tcp_info samples (columns time, cwnd, rtt, pacing_rate, ...) instead",
    )  # fmt: skip
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser(
        "gateway",
        parents=[tun],
        help="relay every flow routed into the device through SOCKS5 or direct sockets",
        description="A tun2socks-style gateway: the --route ranges are routed into the "
        "TUN device; every TCP connection and UDP flow to them is terminated by the "
        "stack and relayed through a SOCKS5 proxy or kernel sockets. One log line per "
        "flow open/close (INFO); Ctrl-C or SIGTERM stops accepting, drains, exits. " + _SAFETY_NOTE,
    )
    p.add_argument(
        "--route", metavar="CIDR", type=_cidr, action="append", default=[],
        help="a destination range to route into the device (repeatable)",
    )  # fmt: skip
    out = p.add_argument_group("outbound (one of)")
    out.add_argument(
        "--socks5", metavar="[USER:PASS@]HOST:PORT",
        help="relay through this SOCKS5 proxy (CONNECT, UDP ASSOCIATE)",
    )  # fmt: skip
    out.add_argument("--direct", action="store_true", help="relay from kernel sockets")
    out.add_argument(
        "--bind-interface", metavar="IF",
        help="outbound sockets on this interface (SO_BINDTODEVICE), so relayed "
        "traffic cannot loop back into the device",
    )  # fmt: skip
    out.add_argument(
        "--bind-address", metavar="ADDR", help="outbound sockets from this source address"
    )
    p.add_argument(
        "--fake-ip", metavar="CIDR", type=_cidr, action="append", default=[],
        help="answer DNS (any UDP port 53) from this pool (routed too) and dial "
        "connections to its addresses by name, e.g. 198.18.128.0/17; give it "
        "again with an IPv6 network (2001:2:0:f000::/64) to answer AAAA too",
    )  # fmt: skip
    p.add_argument(
        "--udp-timeout", metavar="S", type=_positive, default=60.0,
        help="end a UDP session after S idle seconds (default: %(default)s)",
    )  # fmt: skip
    p.add_argument(
        "--max-flows", metavar="N", type=_count, default=4096,
        help="at most N TCP flows and N UDP sessions; more are refused "
        "(RST / ICMP port unreachable) (default: %(default)s)",
    )  # fmt: skip
    p.add_argument(
        "--answer-ping", action="store_true",
        help="answer ICMP/ICMPv6 echo requests to every routed destination "
        "locally (the destination need not exist; as tun2socks does)",
    )  # fmt: skip
    p.add_argument(
        "--grace", metavar="S", type=float, default=5.0,
        help="on Ctrl-C/SIGTERM, let flows finish for S seconds (default: %(default)s)",
    )  # fmt: skip
    p.add_argument(
        "--stats", metavar="HOST:PORT", type=_hostport,
        help="serve the flow table and counters as JSON on this loopback address",
    )  # fmt: skip
    p.add_argument("--config", metavar="FILE", help="read the flags from a TOML file")
    p.add_argument(
        "--log-level", metavar="L", default="info", type=str.lower,
        choices=["debug", "info", "warning", "error"], help="(default: %(default)s)",
    )  # fmt: skip
    p.set_defaults(func=cmd_gateway)
    return parser


def _version() -> str:
    from aionetstack import __version__

    return __version__


def _fail(message: str, code: int) -> NoReturn:
    _err(message)
    raise SystemExit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``aionetstack`` console script and ``python -m aionetstack``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "config", None):
        try:
            defaults = _load_config(args.config)
        except CliError as exc:
            _fail(str(exc), exc.code)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                action.choices["gateway"].set_defaults(**defaults)
        args = parser.parse_args(argv)
    if getattr(args, "count", 1) < 1:
        parser.error("--count must be at least 1")
    try:
        code: int = args.func(args)
    except CliError as exc:
        _fail(str(exc), exc.code)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # stdout closed early (e.g. `| head`)
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
