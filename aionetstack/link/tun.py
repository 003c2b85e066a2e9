"""TunLink: a Linux TUN device as a link, so the kernel is the stack's peer.

Theory of operation
-------------------
A TUN device is a virtual point-to-point interface. The kernel routes IP
packets *into* it like into any NIC; a process holding the device's file
descriptor ``read()``s each of those packets whole, and every packet it
``write()``s appears to the kernel as received on the interface. With
``IFF_TUN | IFF_NO_PI`` each read/write is exactly one raw IPv4 packet, which
is the unit the ``Link`` protocol (``link/base.py``) moves.

* **Opening.** ``TunLink(name, mtu, kernel_address)`` opens ``/dev/net/tun``
  through python-pytun (``TUNSETIFF``; needs ``CAP_NET_ADMIN``), makes the
  descriptor non-blocking and sets the interface MTU. With ``kernel_address``
  (``"198.18.0.1/24"``) it also gives the *kernel side* of the device that
  address and netmask and brings it up, all through pytun's ioctls (no ``ip``
  command). ``kernel_address`` may list addresses of both families
  (``["198.18.0.1/24", "2001:2::1/64"]``): the first IPv4 one goes through
  pytun's ioctls, the others through rtnetlink (``link/netlink.py``: IPv6
  enabled on the device first, ``disable_ipv6=0``, and added without duplicate
  address detection). Without it the device is left down for the user to configure
  (``ip addr add ... dev NAME; ip link set NAME up``). The user-space stack's
  own address (``198.18.0.2``) is not configured on the device at all: it is
  simply the source address of the packets the stack writes.
* **Receiving.** ``attach(loop, on_packets)`` registers one
  ``loop.add_reader``. Each wakeup reads packets until the kernel queue is
  empty (``EAGAIN``) or ``read_batch`` packets were read, then calls
  ``on_packets(batch)`` once, so the stack processes a whole burst and flushes
  its output (ACKs coalesce) once. Bounding the batch keeps one busy device
  from starving the rest of the event loop; the reader fires again at once if
  more is pending.
* **Sending.** ``send``/``send_batch`` write each packet straight away (one
  ``write(2)`` per packet: TUN has no batch write; ``send_batch`` uses the
  compiled ``write_packets`` loop, which writes a whole batch with one GIL
  release and no Python work per packet, and ``os.write`` for any packet that
  loop could not write, which also reports the error).
  A TUN write practically never blocks, but if it does (``EAGAIN``/``ENOBUFS``)
  the packet and all later ones wait in a bounded FIFO (``tx_queue_limit``)
  and a ``loop.add_writer`` drains it when the device is writable again; order
  is preserved and nothing busy-loops. A packet that does not fit in the
  queue, or that the kernel rejects (``EINVAL``: not a valid IP packet), is
  dropped and counted, never silently.
* **Closing.** ``close()`` detaches from the loop and closes the descriptor;
  a non-persistent device disappears with it. Idempotent.

This module never imports asyncio: the loop is used only through
``EventLoopLike``. Counters live in the plain dict ``stats``.
"""

from __future__ import annotations

import errno
import fcntl
import ipaddress
import os
import socket
import struct
from collections import deque
from collections.abc import Sequence
from typing import Any

from aionetstack.link import netlink
from aionetstack.link.base import EventLoopLike, PacketBatchCallback
from aionetstack.wire._loader import load_accel

__all__ = ["MAX_MTU", "MIN_MTU", "TunLink"]

#: RFC 791: every IPv4 host must accept 576-byte datagrams; below that TCP/IP breaks.
MIN_MTU = 576
#: Largest IPv4 datagram (total length is a 16-bit field).
MAX_MTU = 65535
#: Linux IFNAMSIZ minus the terminating NUL.
_MAX_NAME_LEN = 15
#: Read buffer: an IPv4 packet can never be longer, so no read is ever truncated
#: even if someone raises the device MTU behind our back.
_READ_SIZE = 65535

_TUN_PATH = "/dev/net/tun"
#: linux/sockios.h: set the interface's transmit queue length (``ip link set txqueuelen``).
_SIOCSIFTXQLEN = 0x8943
#: The transmit queue the stack gives its device: the kernel's TUN default
#: (``TUN_READQ_SIZE``, 500) overflows when 1,000 clients connect at once and
#: the reader is busy with the previous burst (``tun_net_xmit`` drops, the SYNs
#: are retransmitted a second later).
DEFAULT_TXQUEUELEN = 4096
_WOULD_BLOCK = (errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOBUFS)

_accel = load_accel()
_write_packets = _accel.write_packets if _accel is not None else None


def _open_device(name: str, path: str) -> Any:
    """Open a TUN device through pytun and map its errors to builtin types with hints."""
    try:
        import pytun
    except ImportError as exc:  # pragma: no cover - dependency is declared for Linux
        raise ImportError(
            "TunLink needs python-pytun (pip install python-pytun); it works on Linux only"
        ) from exc
    try:
        return pytun.TunTapDevice(name=name, flags=pytun.IFF_TUN | pytun.IFF_NO_PI, dev=path)
    except OSError as exc:  # pytun.Error subclasses OSError; args are (errno, text) or (text,)
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
        if code == errno.ENOENT:
            raise FileNotFoundError(
                errno.ENOENT,
                f"{path} does not exist: load the tun module (modprobe tun) or, in a "
                "container, pass the device in (--device /dev/net/tun)",
                path,
            ) from None
        if code in (errno.EPERM, errno.EACCES):
            raise PermissionError(
                code,
                f"cannot create TUN device {name!r}: needs root or CAP_NET_ADMIN "
                "(try sudo, or setcap cap_net_admin+ep on the Python binary)",
            ) from None
        if code == errno.EBUSY:
            raise OSError(
                errno.EBUSY,
                f"TUN device name {name!r} is in use (another process holds it, or a "
                "non-TUN interface has that name); pick another name",
            ) from None
        if code is not None:
            raise OSError(code, f"cannot create TUN device {name!r}: {os.strerror(code)}") from None
        raise OSError(errno.EINVAL, f"cannot create TUN device {name!r}: {exc}") from None


def _set_txqueuelen(name: str, length: int) -> None:
    """The kernel's queue of packets towards the reader (``tun_net_xmit`` drops
    beyond it): ``struct ifreq`` with ``ifr_qlen``, as ``ip link set NAME
    txqueuelen N`` does (``dev_ifsioc``; ``CAP_NET_ADMIN``, which creating the
    device needed already)."""
    ifreq = struct.pack("16si", name.encode(), length)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        fcntl.ioctl(sock.fileno(), _SIOCSIFTXQLEN, ifreq)


class TunLink:
    """A Linux TUN device (``IFF_TUN | IFF_NO_PI``) carrying raw IPv4 packets.

    ``TunLink(name="ans0", mtu=1500, kernel_address="198.18.0.1/24")`` creates
    the device (``CAP_NET_ADMIN`` needed), sets its MTU and its transmit queue
    (``txqueuelen``, 4096 packets; ``None`` keeps the kernel's 500) and, with
    ``kernel_address`` (one address or a list, IPv4 and IPv6), addresses the
    kernel's side and brings it up. Pass it to
    ``aionetstack.Stack(link, address="198.18.0.2/24")`` (or a list, for a
    dual-stack host: ``["198.18.0.2/24", "2001:2::2/64"]``).

    Raises ``ValueError`` for a bad name, MTU or address; ``FileNotFoundError``
    when ``/dev/net/tun`` is missing; ``PermissionError`` without
    ``CAP_NET_ADMIN``; ``OSError(EBUSY)`` when the name is taken.
    """

    def __init__(
        self,
        name: str = "ans0",
        mtu: int = 1500,
        kernel_address: str | Sequence[str] | None = None,
        *,
        read_batch: int = 256,
        tx_queue_limit: int = 4096,
        txqueuelen: int | None = DEFAULT_TXQUEUELEN,
        device_path: str = _TUN_PATH,
    ) -> None:
        if not isinstance(name, str) or not name or len(name) > _MAX_NAME_LEN or "/" in name:
            raise ValueError(
                f"bad interface name {name!r}: 1 to {_MAX_NAME_LEN} characters, no '/'"
            )
        if isinstance(mtu, bool) or not isinstance(mtu, int) or not MIN_MTU <= mtu <= MAX_MTU:
            raise ValueError(f"mtu must be an integer from {MIN_MTU} to {MAX_MTU}, not {mtu!r}")
        if read_batch < 1:
            raise ValueError("read_batch must be at least 1")
        if tx_queue_limit < 1:
            raise ValueError("tx_queue_limit must be at least 1")
        if txqueuelen is not None and txqueuelen < 1:
            raise ValueError("txqueuelen must be at least 1 (None keeps the kernel's)")
        texts = [kernel_address] if isinstance(kernel_address, str) else list(kernel_address or ())
        ifaces: list[ipaddress.IPv4Interface | ipaddress.IPv6Interface] = []
        for text in texts:
            try:
                ifaces.append(ipaddress.ip_interface(text))
            except ValueError as exc:
                raise ValueError(
                    f"bad kernel_address {text!r}: expected like '198.18.0.1/24' or "
                    f"'2001:2::1/64' ({exc})"
                ) from None
        # the first IPv4 address through pytun's ioctls, the rest through rtnetlink
        iface = next((i for i in ifaces if isinstance(i, ipaddress.IPv4Interface)), None)
        others = [i for i in ifaces if i is not iface]
        if mtu < 1280 and any(i.version == 6 for i in ifaces):
            raise ValueError(
                f"an IPv6 address needs an MTU of 1280 or more (RFC 8200 5), not {mtu}"
            )

        self._mtu = mtu
        self._read_batch = read_batch
        self._tx_limit = tx_queue_limit
        self._loop: EventLoopLike | None = None
        self._on_packets: PacketBatchCallback | None = None
        self._reading = False
        self._writing = False
        self._txq: deque[bytes] = deque()
        self._closed = False
        self.stats: dict[str, int] = {
            "rx_packets": 0,  # packets read from the device
            "rx_bytes": 0,
            "rx_batches": 0,  # reader wakeups that delivered at least one packet
            "rx_errors": 0,  # read errors other than EAGAIN
            "tx_packets": 0,  # packets the kernel accepted
            "tx_bytes": 0,
            "tx_queued": 0,  # packets that had to wait for the device to become writable
            "tx_dropped": 0,  # packets dropped: queue full, or sent after close()
            "tx_errors": 0,  # packets the kernel rejected (counted and dropped)
        }

        self._dev = _open_device(name, device_path)
        try:
            self._fd: int = self._dev.fileno()
            self._name: str = self._dev.name
            os.set_blocking(self._fd, False)
            self._dev.mtu = mtu
            if iface is not None:
                self._dev.addr = str(iface.ip)
                self._dev.netmask = str(iface.netmask)
            if any(i.version == 6 for i in others):
                netlink.enable_ipv6(self._name)
            if ifaces:
                self._dev.up()
            for other in others:
                netlink.add_address(str(other), self._name)
        except OSError as exc:
            self._dev.close()
            code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else errno.EINVAL
            raise OSError(code, f"cannot configure TUN device {name!r}: {exc}") from None
        self._kernel_addresses = [str(i) for i in ifaces]
        if txqueuelen is not None:
            try:
                _set_txqueuelen(self._name, txqueuelen)
            except OSError as exc:
                self._dev.close()
                raise OSError(exc.errno, f"cannot set {name!r} txqueuelen: {exc}") from None

    # --- properties ---------------------------------------------------------

    @property
    def mtu(self) -> int:
        """The device MTU: the largest IPv4 packet either side may send."""
        return self._mtu

    @property
    def name(self) -> str:
        """The interface name the kernel gave the device (e.g. ``ans0``)."""
        return self._name

    @property
    def kernel_address(self) -> str | None:
        """The kernel side's (first) address as ``"a.b.c.d/len"``, if this link set one."""
        return self._kernel_addresses[0] if self._kernel_addresses else None

    @property
    def kernel_addresses(self) -> list[str]:
        """Every address this link gave the kernel side (``"2001:2::1/64"``...)."""
        return list(self._kernel_addresses)

    @property
    def closed(self) -> bool:
        return self._closed

    def fileno(self) -> int:
        """The device's file descriptor (non-blocking)."""
        if self._closed:
            raise ValueError("TunLink is closed")
        return self._fd

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("attached" if self._loop else "detached")
        return f"<TunLink {self._name} mtu={self._mtu} {state}>"

    # --- Link protocol ------------------------------------------------------

    def attach(self, loop: EventLoopLike, on_packets: PacketBatchCallback) -> None:
        """Deliver received packets to ``on_packets(batch)`` from ``loop``'s reader."""
        if self._closed:
            raise ValueError("TunLink is closed")
        if self._loop is not None:
            raise RuntimeError(f"{self!r} is already attached; detach() it first")
        self._loop = loop
        self._on_packets = on_packets
        loop.add_reader(self._fd, self._read_ready)
        self._reading = True
        if self._txq:
            self._start_writer()

    def detach(self) -> None:
        """Stop delivering packets; queued output stays queued until re-attached."""
        loop = self._loop
        if loop is None:
            return
        if self._reading:
            loop.remove_reader(self._fd)
            self._reading = False
        if self._writing:
            loop.remove_writer(self._fd)
            self._writing = False
        self._loop = None
        self._on_packets = None

    def send(self, packet: bytes) -> None:
        """Write one IPv4 packet to the device (queued if the device is busy)."""
        if self._closed:
            self.stats["tx_dropped"] += 1
            return
        if self._txq:
            self._enqueue(packet)
            return
        try:
            os.write(self._fd, packet)
        except OSError as exc:
            self._write_failed(exc, packet)
            return
        stats = self.stats
        stats["tx_packets"] += 1
        stats["tx_bytes"] += len(packet)

    def send_batch(self, packets: Sequence[bytes]) -> None:
        """Write several packets, in order (one syscall each: TUN has no batch write)."""
        if self._closed:
            self.stats["tx_dropped"] += len(packets)
            return
        if self._txq:
            for packet in packets:
                self._enqueue(packet)
            return
        write = os.write
        fd = self._fd
        fast = _write_packets
        sent = nbytes = 0
        i = 0
        n = len(packets)
        while i < n:
            if fast is not None:
                done, size = fast(fd, packets, i)
                sent += done
                nbytes += size
                i += done
                if i >= n:
                    break
            # the pure-Python path, or the packet the compiled loop stopped at
            packet = packets[i]
            i += 1
            try:
                write(fd, packet)
            except OSError as exc:
                self._write_failed(exc, packet)
                if self._txq:  # the device is busy: the rest waits behind this one
                    for rest in packets[i:]:
                        self._enqueue(rest)
                    break
                continue
            sent += 1
            nbytes += len(packet)
        stats = self.stats
        stats["tx_packets"] += sent
        stats["tx_bytes"] += nbytes

    def close(self) -> None:
        """Detach and close the device (a non-persistent device disappears). Idempotent."""
        if self._closed:
            return
        self.detach()
        self._closed = True
        if self._txq:
            self.stats["tx_dropped"] += len(self._txq)
            self._txq.clear()
        self._dev.close()

    def __enter__(self) -> TunLink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- internals ----------------------------------------------------------

    def _read_ready(self) -> None:
        """Reader callback: read until EAGAIN (at most ``read_batch``), deliver once."""
        read = os.read
        fd = self._fd
        batch: list[bytes] = []
        append = batch.append
        nbytes = 0
        for _ in range(self._read_batch):
            try:
                packet = read(fd, _READ_SIZE)
            except BlockingIOError:
                break
            except InterruptedError:
                continue
            except OSError:
                # EIO/EBADFD: the device is going away or is down; count and wait for
                # the next wakeup rather than spin.
                self.stats["rx_errors"] += 1
                break
            if not packet:
                break
            append(packet)
            nbytes += len(packet)
        if not batch:
            return
        stats = self.stats
        stats["rx_packets"] += len(batch)
        stats["rx_bytes"] += nbytes
        stats["rx_batches"] += 1
        on_packets = self._on_packets
        if on_packets is not None:
            on_packets(batch)

    def _write_failed(self, exc: OSError, packet: bytes) -> None:
        if exc.errno in _WOULD_BLOCK or isinstance(exc, InterruptedError):
            self._enqueue(packet)
            self._start_writer()
        else:  # EINVAL (not an IP packet), EIO (device down): the kernel refused it
            self.stats["tx_errors"] += 1

    def _enqueue(self, packet: bytes) -> None:
        if len(self._txq) >= self._tx_limit:
            self.stats["tx_dropped"] += 1
            return
        self._txq.append(packet)
        self.stats["tx_queued"] += 1

    def _start_writer(self) -> None:
        if not self._writing and self._loop is not None:
            self._loop.add_writer(self._fd, self._write_ready)
            self._writing = True

    def _write_ready(self) -> None:
        """Writer callback: drain the queue in order; stop when empty or blocked again."""
        txq = self._txq
        stats = self.stats
        while txq:
            packet = txq[0]
            try:
                os.write(self._fd, packet)
            except OSError as exc:
                if exc.errno in _WOULD_BLOCK or isinstance(exc, InterruptedError):
                    return  # still busy: wait for the next writable event
                txq.popleft()
                stats["tx_errors"] += 1
                continue
            txq.popleft()
            stats["tx_packets"] += 1
            stats["tx_bytes"] += len(packet)
        if self._writing and self._loop is not None:
            self._loop.remove_writer(self._fd)
            self._writing = False
