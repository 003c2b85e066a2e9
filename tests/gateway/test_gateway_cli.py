"""The gateway command's argument and config checks, the rtnetlink message and
the stats API's loopback rule (no root, no socket: see test_gateway_netns)."""

from __future__ import annotations

import asyncio
import socket
import struct
from pathlib import Path
from typing import Any

import pytest

from aionetstack.cli import main
from aionetstack.gateway.api import serve_stats
from aionetstack.gateway.netlink import (
    NLM_F_ACK,
    NLM_F_CREATE,
    NLM_F_EXCL,
    NLM_F_REQUEST,
    RT_SCOPE_LINK,
    RT_TABLE_MAIN,
    RTA_DST,
    RTA_OIF,
    RTM_NEWROUTE,
    route_request,
)


def attrs_of(message: bytes) -> dict[int, bytes]:
    found, offset = {}, 16 + 12
    while offset < len(message):
        length, kind = struct.unpack_from("=HH", message, offset)
        found[kind] = message[offset + 4 : offset + length]
        offset += (length + 3) & ~3
    return found


def test_route_request_layout() -> None:
    msg = route_request("198.18.64.7/24", 5, seq=1)
    length, kind, flags, seq, pid = struct.unpack_from("=IHHII", msg)
    assert (length, kind, seq, pid) == (len(msg), RTM_NEWROUTE, 1, 0)
    assert flags == NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
    family, dst_len, _src, _tos, table, _proto, scope, rtype, _f = struct.unpack_from(
        "=BBBBBBBBI", msg, 16
    )
    assert (family, dst_len, table, scope, rtype) == (
        socket.AF_INET, 24, RT_TABLE_MAIN, RT_SCOPE_LINK, 1,
    )  # fmt: skip
    assert attrs_of(msg) == {RTA_DST: bytes([198, 18, 64, 0]), RTA_OIF: struct.pack("=I", 5)}
    v6 = route_request("2001:2::/48", 9)
    assert v6[16] == socket.AF_INET6 and v6[17] == 48
    assert attrs_of(v6)[RTA_DST] == bytes.fromhex("20010002") + bytes(12)
    default = route_request("0.0.0.0/0", 3)
    assert RTA_DST not in attrs_of(default) and len(default) % 4 == 0


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    code = info.value.code
    assert isinstance(code, int)
    return code, capsys.readouterr().err


def test_argument_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, err = run(["gateway", "--route", "198.18.64.0/24"], capsys)
    assert code == 2 and "--socks5 HOST:PORT or --direct" in err
    code, err = run(["gateway", "--direct"], capsys)
    assert code == 2 and "--route" in err
    code, err = run(["gateway", "--route", "nonsense", "--direct"], capsys)
    assert code == 2 and "is not a network" in err
    code, err = run(["gateway", "--route", "2001:2::/48", "--direct"], capsys)
    assert code == 2 and "needs an IPv6 --address" in err
    code, err = run(["gateway", "--route", "198.18.64.0/24", "--direct",
                     "--fake-ip", "2001:2:0:f000::/64"], capsys)  # fmt: skip
    assert code == 2 and "2001:2:0:f000::/64 needs an IPv6 --address" in err
    code, err = run(["gateway", "--route", "198.18.64.0/24", "--direct", "--stats", "x"], capsys)
    assert code == 2 and "HOST:PORT" in err
    bad: dict[str, str] = {
        "unknown.toml": 'colour = "blue"\n',
        "routes.toml": 'route = "198.18.64.0/24"\n',
        "direct.toml": 'direct = "yes"\n',
        "syntax.toml": "route = [\n",
    }
    for name, text in bad.items():
        path = tmp_path / name
        path.write_text(text)
        code, err = run(["gateway", "--config", str(path)], capsys)
        assert code == 2 and str(path) in err, (name, err)
    code, err = run(["gateway", "--config", str(tmp_path / "missing.toml")], capsys)
    assert code == 2 and "cannot read config" in err


def test_config_values_go_through_the_flag_checks(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "g.toml"
    path.write_text('route = ["198.18.64.0/24"]\ndirect = true\nmax_flows = 0\n')
    code, err = run(["gateway", "--config", str(path)], capsys)
    assert code == 2 and "not a positive integer" in err
    # fake_ip: one network as a string, or one per family as a list
    for value in ('"2001:2:0:f000::/64"', '["198.18.128.0/17", "2001:2:0:f000::/64"]'):
        path.write_text(f'route = ["198.18.64.0/24"]\ndirect = true\nfake_ip = {value}\n')
        code, err = run(["gateway", "--config", str(path)], capsys)
        assert code == 2 and "2001:2:0:f000::/64 needs an IPv6 --address" in err


def test_stats_api_serves_loopback_only() -> None:
    relay: Any = object()
    with pytest.raises(ValueError, match="loopback"):
        asyncio.run(serve_stats(relay, "198.18.0.1", 9090))
