"""Addresses and routes of a device through rtnetlink (no ``ip`` command, no pyroute2).

Each request is one ``struct nlmsghdr`` + family header + attributes, sent on
an ``AF_NETLINK``/``NETLINK_ROUTE`` socket with ``NLM_F_ACK``; the kernel's
``NLMSG_ERROR`` reply carries 0 or ``-errno`` (rtnetlink(7)). It acts in the
calling thread's network namespace and needs CAP_NET_ADMIN.

* ``address_request`` / ``add_address("2001:2::1/64", "ans0")``:
  ``RTM_NEWADDR`` (``struct ifaddrmsg`` + ``IFA_LOCAL``, ``IFA_ADDRESS``), as
  ``ip addr add 2001:2::1/64 dev ans0 nodad`` does: IPv6 addresses get
  ``IFA_F_NODAD`` (a TUN device is a point-to-point link without neighbour
  discovery; the address is usable at once, not tentative for a second).
* ``route_request`` / ``add_route("198.18.64.0/24", "gw0")``: ``RTM_NEWROUTE``
  (``struct rtmsg`` + ``RTA_DST``, ``RTA_OIF``), as ``ip route add ... dev``.
* ``enable_ipv6("ans0")``: ``net.ipv6.conf.ans0.disable_ipv6=0`` through
  ``/proc/sys`` (a namespace or a distribution may disable IPv6 by default).

IPv4 and IPv6 alike (the family follows the address).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct

__all__ = [
    "add_address",
    "add_route",
    "address_request",
    "enable_ipv6",
    "route_request",
]

# linux/netlink.h, linux/rtnetlink.h, linux/if_addr.h
NETLINK_ROUTE = 0
NLMSG_ERROR = 2
RTM_NEWADDR = 20
RTM_NEWROUTE = 24
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
RT_TABLE_MAIN = 254
RTPROT_STATIC = 4
RT_SCOPE_UNIVERSE = 0
RT_SCOPE_LINK = 253
RTN_UNICAST = 1
RTA_DST = 1
RTA_OIF = 4
IFA_ADDRESS = 1
IFA_LOCAL = 2
IFA_F_NODAD = 0x02
IFA_F_PERMANENT = 0x80

_NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
_RTMSG = struct.Struct(
    "=BBBBBBBBI"
)  # family, dst_len, src_len, tos, table, protocol, scope, type, flags
_IFADDRMSG = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
_RTATTR = struct.Struct("=HH")  # len, type
_FLAGS = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL


def _attr(kind: int, value: bytes) -> bytes:
    length = _RTATTR.size + len(value)
    return _RTATTR.pack(length, kind) + value + bytes(-length % 4)  # RTA_ALIGN


def _message(kind: int, body: bytes, seq: int) -> bytes:
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), kind, _FLAGS, seq, 0) + body


def _family(version: int) -> int:
    return socket.AF_INET if version == 4 else socket.AF_INET6


def route_request(network: str, ifindex: int, seq: int = 1) -> bytes:
    """The RTM_NEWROUTE message for ``network`` (a CIDR) through ``ifindex``."""
    net = ipaddress.ip_network(network, strict=False)
    body = _RTMSG.pack(
        _family(net.version), net.prefixlen, 0, 0, RT_TABLE_MAIN, RTPROT_STATIC, RT_SCOPE_LINK,
        RTN_UNICAST, 0,
    )  # fmt: skip
    if net.prefixlen:
        body += _attr(RTA_DST, net.network_address.packed)
    body += _attr(RTA_OIF, struct.pack("=I", ifindex))
    return _message(RTM_NEWROUTE, body, seq)


def address_request(interface: str, ifindex: int, seq: int = 1) -> bytes:
    """The RTM_NEWADDR message giving ``ifindex`` the address ``interface`` (a
    CIDR such as ``"2001:2::1/64"``; IPv6 without duplicate address detection)."""
    iface = ipaddress.ip_interface(interface)
    flags = IFA_F_NODAD | IFA_F_PERMANENT if iface.version == 6 else IFA_F_PERMANENT
    body = _IFADDRMSG.pack(
        _family(iface.version), iface.network.prefixlen, flags & 0xFF, RT_SCOPE_UNIVERSE, ifindex
    )
    packed = iface.ip.packed
    body += _attr(IFA_LOCAL, packed) + _attr(IFA_ADDRESS, packed)
    return _message(RTM_NEWADDR, body, seq)


def request(message: bytes, what: str) -> None:
    """Send one rtnetlink request (sequence number 1) and wait for its
    acknowledgement; OSError with the kernel's errno (``what`` in the text)."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE) as sock:
        sock.bind((0, 0))
        sock.settimeout(5.0)
        sock.send(message)
        while True:
            reply = sock.recv(65536)
            offset = 0
            while offset + _NLMSGHDR.size <= len(reply):
                length, kind, _flags, seq, _pid = _NLMSGHDR.unpack_from(reply, offset)
                if kind == NLMSG_ERROR and seq == 1:
                    (error,) = struct.unpack_from("=i", reply, offset + _NLMSGHDR.size)
                    if error:
                        raise OSError(-error, f"{os.strerror(-error)}: {what}")
                    return
                offset += max(length, _NLMSGHDR.size) + (-length % 4)


def add_route(network: str, device: str) -> None:
    """Route ``network`` (e.g. ``"198.18.64.0/24"``) into ``device``.

    Raises OSError with the kernel's errno: EEXIST (already routed), ENODEV,
    ENETDOWN (device down), EPERM."""
    ifindex = socket.if_nametoindex(device)
    request(route_request(network, ifindex), f"route {network} dev {device}")


def add_address(interface: str, device: str) -> None:
    """Give ``device`` the address ``interface`` (``"2001:2::1/64"``), with its
    prefix route. OSError with the kernel's errno (EEXIST, EACCES when IPv6 is
    disabled on the device, EPERM...)."""
    ifindex = socket.if_nametoindex(device)
    request(address_request(interface, ifindex), f"address {interface} dev {device}")


def enable_ipv6(device: str, root: str = "/proc/sys/net/ipv6/conf") -> None:
    """``net.ipv6.conf.<device>.disable_ipv6 = 0`` (no-op when already 0).
    FileNotFoundError when the kernel has no IPv6."""
    path = os.path.join(root, device, "disable_ipv6")
    with open(path, "r+") as f:
        if f.read().strip() != "0":
            f.seek(0)
            f.write("0\n")
