"""A private network namespace for the calling thread (Linux, root).

``private_network_namespace()`` moves the calling thread into a brand-new
network namespace (``unshare(CLONE_NEWNET)``), checks that it really changed,
brings up its ``lo`` and yields the namespace's inode; on exit the thread
returns to its original namespace (``setns``) and the private one, with every
device, address and rule made in it, disappears once nothing else holds it.
Threads and subprocesses started inside inherit the namespace. This is how
the TUN tier and the gateway tests keep every packet away from the host.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import subprocess
from collections.abc import Iterator

CLONE_NEWNET = 0x40000000
_NS_PATH = "/proc/thread-self/ns/net"


def namespace_id() -> int:
    """The inode of the calling thread's network namespace."""
    return os.stat(_NS_PATH).st_ino


@contextlib.contextmanager
def private_network_namespace() -> Iterator[int]:
    """Run the body in a new network namespace; yield its inode.

    Raises OSError (with the errno) when ``unshare`` is refused, before
    anything changed; RuntimeError if the namespace did not change."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    original_fd = os.open(_NS_PATH, os.O_RDONLY)
    original_id = namespace_id()
    if libc.unshare(CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        os.close(original_fd)
        raise OSError(err, f"unshare(CLONE_NEWNET) failed: {os.strerror(err)}")
    try:
        private_id = namespace_id()
        # the absolute guard: never touch the original namespace
        if private_id == original_id:
            raise RuntimeError("unshare did not change the network namespace")
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True, capture_output=True)
        yield private_id
    finally:
        if libc.setns(original_fd, CLONE_NEWNET) != 0:  # pragma: no cover
            err = ctypes.get_errno()
            os.close(original_fd)
            raise OSError(err, "setns back to the original network namespace failed")
        os.close(original_fd)
