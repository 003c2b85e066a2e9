"""The ``aionetstack`` command line, run as a real process in the private namespace."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from tun_helpers import KERNEL_IP, STACK_IP, TUN_NAME, KernelServer, closed_port, echo, make_tun

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "aionetstack"]
TIMEOUT = 60


def run_cli(*args: str, stdin: bytes = b"", **kw: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*CLI, *args],
        input=stdin,
        capture_output=True,
        timeout=TIMEOUT,
        cwd=ROOT,
        **kw,  # type: ignore[call-overload]
    )


def one_line_error(proc: subprocess.CompletedProcess[bytes]) -> str:
    err = proc.stderr.decode()
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


class Serving:
    """``aionetstack serve *args`` as a process: started once its banner invites
    Ctrl-C; ``stop()`` sends SIGINT and returns everything it printed."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [*CLI, "serve", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT
        )
        self.banner: list[str] = []
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.banner.append(line.decode())
            if b"Ctrl-C" in line:
                return
        _, err = self.proc.communicate(timeout=TIMEOUT)
        pytest.fail("serve did not start: " + "".join(self.banner) + err.decode())

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGINT)
        rest, err = self.proc.communicate(timeout=TIMEOUT)
        text = "".join(self.banner) + rest.decode()
        assert self.proc.returncode == 0, text + err.decode()
        assert "Traceback" not in err.decode()
        assert text.rstrip().endswith("aionetstack: stopped")
        return text


def test_serve_echo_http_ping_and_ctrl_c(in_netns: int, tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    pcap = tmp_path / "serve.pcap"
    serving = Serving("--http", "8080", "--echo", "7", "--discard", "9",
                      "--stats-interval", "0.2", "--pcap", str(pcap))  # fmt: skip
    try:
        assert "198.18.0.2/24" in serving.banner[0] and "http:8080" in serving.banner[0]
        out = subprocess.run(
            ["curl", "-sS", f"http://{STACK_IP}:8080/"], capture_output=True, timeout=TIMEOUT
        )
        assert out.stdout.startswith(b"Hello from aionetstack"), out.stderr
        with socket.create_connection((STACK_IP, 7), timeout=TIMEOUT) as s:
            s.sendall(b"echo me\n")
            s.shutdown(socket.SHUT_WR)
            assert s.recv(100) == b"echo me\n"
        with socket.create_connection((STACK_IP, 9), timeout=TIMEOUT) as s:
            s.sendall(b"x" * 100000)
        if shutil.which("ping"):
            ping = subprocess.run(
                ["ping", "-n", "-c", "1", "-W", "5", STACK_IP], capture_output=True, timeout=TIMEOUT
            )
            assert ping.returncode == 0, ping.stdout
    finally:
        text = serving.stop()
    assert f"[http:8080] {KERNEL_IP}:" in text and "connected" in text
    assert "[echo:7]" in text and "[discard:9]" in text
    assert "[stats] conns=" in text or "stopped" in text
    assert pcap.stat().st_size > 24  # header + packets


def test_connect_is_netcat(in_netns: int) -> None:
    with KernelServer(echo) as server:
        proc = run_cli("connect", KERNEL_IP, str(server.port), stdin=b"line one\nline two\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"line one\nline two\n"


def test_connect_refused_is_one_line(in_netns: int) -> None:
    proc = run_cli("connect", KERNEL_IP, str(closed_port()))
    assert proc.returncode == 1
    assert "refused" in one_line_error(proc).lower()


def test_ping_kernel_from_stack(in_netns: int) -> None:
    proc = run_cli("ping", KERNEL_IP, "-c", "2", "-i", "0.05")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert b"2 sent, 2 received" in proc.stdout


def test_device_busy_is_one_line(in_netns: int) -> None:
    with make_tun():
        proc = run_cli("ping", KERNEL_IP, "-c", "1", "--tun", TUN_NAME)
    assert proc.returncode == 1
    assert "in use" in one_line_error(proc)


def test_bad_address_is_usage_error(in_netns: int) -> None:
    proc = run_cli("serve", "--address", "198.18.0.300/24")
    assert proc.returncode == 2
    assert "--address" in proc.stderr.decode()
    assert "Traceback" not in proc.stderr.decode()


def test_no_cap_net_admin_is_one_line(in_netns: int) -> None:
    def drop_cap() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(24, 12, 0, 0, 0) != 0:  # PR_CAPBSET_DROP, CAP_NET_ADMIN
            raise OSError(ctypes.get_errno(), "PR_CAPBSET_DROP failed")

    proc = run_cli("ping", KERNEL_IP, "-c", "1", preexec_fn=drop_cap)
    assert proc.returncode == 1
    assert "CAP_NET_ADMIN" in one_line_error(proc)


def test_help_texts() -> None:
    for sub in ([], ["serve"], ["connect"], ["ping"], ["demo"]):
        proc = subprocess.run(
            [*CLI, *sub, "--help"], capture_output=True, timeout=TIMEOUT, cwd=ROOT,
            env={**os.environ, "COLUMNS": "100"},
        )  # fmt: skip
        assert proc.returncode == 0
        assert b"usage: aionetstack" in proc.stdout
