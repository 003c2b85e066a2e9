"""Routes into a device through rtnetlink (no ``ip`` command, no pyroute2).

``add_route("198.18.64.0/24", "gw0")`` sends one ``RTM_NEWROUTE`` request
(rtnetlink(7): ``struct nlmsghdr`` + ``struct rtmsg`` + ``RTA_DST`` and
``RTA_OIF`` attributes, as ``ip route add 198.18.64.0/24 dev gw0`` does) on an
``AF_NETLINK``/``NETLINK_ROUTE`` socket and reads the kernel's acknowledgement
(``NLMSG_ERROR`` with error 0, or ``-errno``). It acts in the calling thread's
network namespace and needs CAP_NET_ADMIN; the device must be up. Routes
through a device go away with it. IPv4 and IPv6 networks alike.

The messages are built in ``aionetstack.link.netlink`` (which also adds
addresses, for ``TunLink``); this module is the gateway's name for them.
"""

from __future__ import annotations

from aionetstack.link.netlink import (
    NETLINK_ROUTE,
    NLM_F_ACK,
    NLM_F_CREATE,
    NLM_F_EXCL,
    NLM_F_REQUEST,
    NLMSG_ERROR,
    RT_SCOPE_LINK,
    RT_TABLE_MAIN,
    RTA_DST,
    RTA_OIF,
    RTM_NEWROUTE,
    RTN_UNICAST,
    RTPROT_STATIC,
    add_route,
    route_request,
)

__all__ = [
    "NETLINK_ROUTE",
    "NLMSG_ERROR",
    "NLM_F_ACK",
    "NLM_F_CREATE",
    "NLM_F_EXCL",
    "NLM_F_REQUEST",
    "RTA_DST",
    "RTA_OIF",
    "RTM_NEWROUTE",
    "RTN_UNICAST",
    "RTPROT_STATIC",
    "RT_SCOPE_LINK",
    "RT_TABLE_MAIN",
    "add_route",
    "route_request",
]
