"""The TUN tier: the Linux kernel as the peer, inside a private network namespace.

Safety first. Before any device is created, the session fixture ``netns``
moves the test process's main thread into a brand-new network namespace
(``unshare(CLONE_NEWNET)``), brings up its ``lo``, and checks that the
namespace really changed. Every TUN device, address, nftables rule, tc qdisc
and kernel socket of this tier lives there; threads and subprocesses started
by the tests inherit it. At the end of the session the thread returns to its
original namespace (``setns``) and the private one, with everything in it,
disappears. Only 198.18.0.0/15 addresses are used: kernel side 198.18.0.1/24,
stack 198.18.0.2/24.

Where this cannot run (no /dev/net/tun, no CAP_NET_ADMIN, unshare refused)
the tier skips with the reason, unless ``AIONETSTACK_REQUIRE_TUN=1`` (CI),
in which case it fails loudly.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator

import pytest
from tun_helpers import KERNEL_ADDRESSES, PRIVATE_NETNS, Nft, cannot_run, make_tun

from aionetstack.link.tun import TunLink
from aionetstack.testing.netns import namespace_id, private_network_namespace


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.tun)


@pytest.fixture(scope="session")
def netns() -> Iterator[int]:
    """Enter a private network namespace for the whole TUN tier; return its inode."""
    if not os.path.exists("/dev/net/tun"):
        cannot_run("/dev/net/tun does not exist (load the tun module / pass the device in)")
    if os.geteuid() != 0:
        cannot_run("needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN for unshare)")
    with contextlib.ExitStack() as stack:
        try:
            private_id = stack.enter_context(private_network_namespace())
        except OSError as e:
            cannot_run(str(e.strerror))
        PRIVATE_NETNS.add(private_id)
        try:
            yield private_id
        finally:
            PRIVATE_NETNS.discard(private_id)


@pytest.fixture
def in_netns(netns: int) -> int:
    """Every test re-checks that it is still in the private namespace."""
    assert namespace_id() == netns, "not in the private test network namespace"
    return netns


@pytest.fixture
def nft(in_netns: int) -> Iterator[Nft]:
    """nftables in the private namespace (skips or fails if ``nft`` is missing)."""
    if shutil.which("nft") is None:
        cannot_run("nft (nftables) is not installed: make system-deps")
    helper = Nft()
    yield helper
    helper.flush()


@pytest.fixture
def tun(in_netns: int, request: pytest.FixtureRequest) -> Iterator[TunLink]:
    """A TunLink named ans0, kernel side 198.18.0.1/24, MTU from indirect param (1500)."""
    mtu = getattr(request, "param", 1500)
    link = make_tun(mtu=mtu)
    yield link
    link.close()


@pytest.fixture
def tun6(in_netns: int, request: pytest.FixtureRequest) -> Iterator[TunLink]:
    """A dual-stack TunLink: kernel side 198.18.0.1/24 and 2001:2::1/64, MTU from
    indirect param (1500)."""
    link = make_tun(mtu=getattr(request, "param", 1500), kernel_address=KERNEL_ADDRESSES)
    yield link
    link.close()
