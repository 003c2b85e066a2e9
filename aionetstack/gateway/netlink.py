"""Routes into a device through rtnetlink (no ``ip`` command, no pyroute2).

``add_route("198.18.64.0/24", "gw0")`` sends one ``RTM_NEWROUTE`` request
(rtnetlink(7): ``struct nlmsghdr`` + ``struct rtmsg`` + ``RTA_DST`` and
``RTA_OIF`` attributes, as ``ip route add 198.18.64.0/24 dev gw0`` does) on an
``AF_NETLINK``/``NETLINK_ROUTE`` socket and reads the kernel's acknowledgement
(``NLMSG_ERROR`` with error 0, or ``-errno``). It acts in the calling thread's
network namespace and needs CAP_NET_ADMIN; the device must be up. Routes
through a device go away with it. IPv4 and IPv6 networks alike.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct

__all__ = ["add_route"]

# linux/netlink.h, linux/rtnetlink.h
NETLINK_ROUTE = 0
NLMSG_ERROR = 2
RTM_NEWROUTE = 24
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
RT_TABLE_MAIN = 254
RTPROT_STATIC = 4
RT_SCOPE_LINK = 253
RTN_UNICAST = 1
RTA_DST = 1
RTA_OIF = 4

_NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
_RTMSG = struct.Struct(
    "=BBBBBBBBI"
)  # family, dst_len, src_len, tos, table, protocol, scope, type, flags
_RTATTR = struct.Struct("=HH")  # len, type


def _attr(kind: int, value: bytes) -> bytes:
    length = _RTATTR.size + len(value)
    return _RTATTR.pack(length, kind) + value + bytes(-length % 4)  # RTA_ALIGN


def route_request(network: str, ifindex: int, seq: int = 1) -> bytes:
    """The RTM_NEWROUTE message for ``network`` (a CIDR) through ``ifindex``."""
    net = ipaddress.ip_network(network, strict=False)
    family = socket.AF_INET if net.version == 4 else socket.AF_INET6
    body = _RTMSG.pack(
        family, net.prefixlen, 0, 0, RT_TABLE_MAIN, RTPROT_STATIC, RT_SCOPE_LINK, RTN_UNICAST, 0
    )
    if net.prefixlen:
        body += _attr(RTA_DST, net.network_address.packed)
    body += _attr(RTA_OIF, struct.pack("=I", ifindex))
    flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), RTM_NEWROUTE, flags, seq, 0) + body


def add_route(network: str, device: str) -> None:
    """Route ``network`` (e.g. ``"198.18.64.0/24"``) into ``device``.

    Raises OSError with the kernel's errno: EEXIST (already routed), ENODEV,
    ENETDOWN (device down), EPERM."""
    ifindex = socket.if_nametoindex(device)
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE) as sock:
        sock.bind((0, 0))
        sock.settimeout(5.0)
        sock.send(route_request(network, ifindex))
        while True:
            reply = sock.recv(65536)
            offset = 0
            while offset + _NLMSGHDR.size <= len(reply):
                length, kind, _flags, seq, _pid = _NLMSGHDR.unpack_from(reply, offset)
                if kind == NLMSG_ERROR and seq == 1:
                    (error,) = struct.unpack_from("=i", reply, offset + _NLMSGHDR.size)
                    if error:
                        raise OSError(
                            -error, f"{os.strerror(-error)}: route {network} dev {device}"
                        )
                    return
                offset += max(length, _NLMSGHDR.size) + (-length % 4)
