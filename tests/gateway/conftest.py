"""The gateway dialers against real SOCKS5 servers, in a private network namespace.

Safety first, as in the TUN tier (tests/tun/conftest.py): before any socket,
server or proxy exists, the module fixture ``netns`` moves the test process's
main thread into a brand-new network namespace (``unshare(CLONE_NEWNET)``),
brings up its ``lo``, and checks that the namespace really changed. The
proxies (``microsocks``, ``danted`` from Debian, installed by
``make system-deps``) are started from that thread, so they and all their
traffic live there; only loopback and 198.18.0.0/15 addresses on ``lo`` are
used. When the module ends, the thread returns to its original namespace and
the private one disappears with everything in it.

Where this cannot run (not root, unshare refused, a proxy not installed)
the tests skip with the reason, unless ``AIONETSTACK_REQUIRE_TUN=1`` (CI), in
which case they fail loudly, like the TUN tier.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest

from aionetstack.testing.netns import namespace_id as _netns_id
from aionetstack.testing.netns import private_network_namespace

PROXY_USER = "relay"
PROXY_PASSWORD = "s3cret:with@odd/chars"
NETNS_MODULES = ("test_dialers_netns.py", "test_gateway_netns.py")


def cannot_run(reason: str) -> None:
    """Skip, or fail when the namespace tiers are required (CI)."""
    if os.environ.get("AIONETSTACK_REQUIRE_TUN", "") not in ("", "0"):
        pytest.fail(
            f"AIONETSTACK_REQUIRE_TUN=1 but the gateway netns tests cannot run: {reason}",
            pytrace=False,
        )
    pytest.skip(reason)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in NETNS_MODULES:
            item.add_marker(pytest.mark.netns)


def ip(*args: str) -> None:
    """Run ``ip`` inside the private namespace (the caller is in it)."""
    assert _netns_id() in _PRIVATE, "refusing to run ip outside the private namespace"
    subprocess.run(["ip", *args], check=True, capture_output=True)


_PRIVATE: set[int] = set()


@pytest.fixture(scope="module")
def netns() -> Iterator[int]:
    """Enter a private network namespace for the module; return its inode."""
    if os.geteuid() != 0:
        cannot_run("needs root (CAP_SYS_ADMIN for unshare, CAP_NET_ADMIN for SO_MARK)")
    with contextlib.ExitStack() as stack:
        try:
            private_id = stack.enter_context(private_network_namespace())
        except OSError as e:
            cannot_run(str(e.strerror))
        _PRIVATE.add(private_id)
        try:
            yield private_id
        finally:
            _PRIVATE.discard(private_id)


@pytest.fixture
def in_netns(netns: int) -> int:
    """Every test re-checks that it is still in the private namespace."""
    assert _netns_id() == netns, "not in the private test network namespace"
    return netns


def free_port() -> int:
    assert _netns_id() in _PRIVATE
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(argv: list[str], port: int) -> subprocess.Popen[bytes]:
    """Start a proxy in the namespace and wait until it accepts on ``port``."""
    assert _netns_id() in _PRIVATE, "refusing to start a proxy outside the private namespace"
    if shutil.which(argv[0]) is None:
        cannot_run(f"{argv[0]} is not installed: make system-deps")
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            pytest.fail(f"{argv[0]} exited with {proc.returncode}: {err}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
        except OSError:
            time.sleep(0.05)
        else:
            return proc
    _stop(proc)
    pytest.fail(f"{argv[0]} did not listen on 127.0.0.1:{port}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """End a proxy this module started (by its own Popen, never by name)."""
    proc.terminate()
    try:
        proc.wait(5.0)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stderr:
        proc.stderr.close()


@pytest.fixture(scope="module")
def microsocks(netns: int) -> Iterator[int]:
    """microsocks (CONNECT only, no authentication) on 127.0.0.1; its port."""
    port = free_port()
    proc = _start(["microsocks", "-i", "127.0.0.1", "-p", str(port)], port)
    yield port
    _stop(proc)


@pytest.fixture(scope="module")
def microsocks_auth(netns: int) -> Iterator[int]:
    """microsocks requiring RFC 1929 username/password; its port."""
    port = free_port()
    argv = ["microsocks", "-i", "127.0.0.1", "-p", str(port)]
    proc = _start([*argv, "-u", PROXY_USER, "-P", PROXY_PASSWORD], port)
    yield port
    _stop(proc)


DANTED_CONF = """\
logoutput: stderr
internal: 127.0.0.1 port = {port}
internal: ::1 port = {port}
external: lo
"""
#: Dante's wide-open rules (a str.format template, as the configurations above).
DANTED_RULES = """\
clientmethod: none
socksmethod: none
user.privileged: root
user.unprivileged: nobody
client pass {{ from: 0/0 to: 0/0 }}
socks pass {{ from: 0/0 to: 0/0 command: connect udpassociate udpreply }}
"""
DANTED_CONF += DANTED_RULES


@pytest.fixture(scope="module")
def danted(netns: int) -> Iterator[int]:
    """Dante's server (CONNECT with half-close, UDP ASSOCIATE) on 127.0.0.1 and
    ::1, relaying from any address of ``lo`` (rules wide open: the namespace
    holds nothing else); its port."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="aionetstack-danted-") as tmp:
        conf = os.path.join(tmp, "danted.conf")
        with open(conf, "w") as f:
            f.write(DANTED_CONF.format(port=port))
        pidfile = os.path.join(tmp, "danted.pid")
        proc = _start(["danted", "-f", conf, "-N", "1", "-p", pidfile], port)
        yield port
        _stop(proc)
