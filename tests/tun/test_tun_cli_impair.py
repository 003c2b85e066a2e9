"""``aionetstack serve`` with a bad network (--loss, --delay, --jitter, --rate) and --log-level,
run as a real process in the private namespace."""

from __future__ import annotations

import hashlib
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from tun_helpers import STACK_IP

from aionetstack.cli import http_payload

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "aionetstack"]
TIMEOUT = 90


def _usage_error(*args: str) -> str:
    proc = subprocess.run([*CLI, *args], capture_output=True, timeout=TIMEOUT, cwd=ROOT)
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert "Traceback" not in err
    return err


def start_serve(*args: str) -> tuple[subprocess.Popen[bytes], list[str]]:
    """``aionetstack serve ARGS`` and its banner, up to the "Ctrl-C" line."""
    proc = subprocess.Popen(
        [*CLI, "serve", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT
    )
    assert proc.stdout is not None
    banner = []
    for line in proc.stdout:
        banner.append(line.decode())
        if b"Ctrl-C" in line:
            return proc, banner
    proc.wait(TIMEOUT)
    pytest.fail("serve did not start: " + "".join(banner) + proc.stderr.read().decode())  # type: ignore[union-attr]


def stop(proc: subprocess.Popen[bytes]) -> tuple[str, str]:
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=TIMEOUT)
    return out.decode(), err.decode()


def test_serve_over_a_lossy_delayed_link(in_netns: int, tmp_path: Path) -> None:
    if shutil.which("curl") is None or shutil.which("ping") is None:
        pytest.skip("curl and ping are needed")
    pcap = tmp_path / "lossy.pcapng"
    proc, banner = start_serve(
        "--http", "8080", "--loss", "5%", "--delay", "10ms", "--jitter", "1ms", "--rate", "4M",
        "--seed", "3", "--log-level", "DEBUG", "--stats-interval", "0.2", "--pcap", str(pcap),
    )  # fmt: skip
    try:
        assert any(
            "impaired both ways: loss 0.05, delay 0.01, jitter 0.001, rate 4e+06, seed 3" in b
            for b in banner
        ), banner
        size = 200_000
        got = subprocess.run(
            ["curl", "-sS", "--max-time", str(TIMEOUT), f"http://{STACK_IP}:8080/bytes/{size}"],
            capture_output=True, timeout=TIMEOUT,
        )  # fmt: skip
        assert got.returncode == 0, got.stderr
        assert hashlib.sha256(got.stdout).digest() == hashlib.sha256(http_payload(size)).digest()
        ping = subprocess.run(
            ["ping", "-n", "-c", "10", "-i", "0.1", "-W", "2", STACK_IP],
            capture_output=True, text=True, timeout=TIMEOUT,
        )  # fmt: skip
        rtts = [float(t) for t in re.findall(r"time=([\d.]+) ms", ping.stdout)]
        assert rtts, ping.stdout  # 10 tries at 5 % loss each way
        assert min(rtts) >= 20.0, rtts  # 10 ms each way, added by impair()
    finally:
        rest, log = stop(proc)
    text = "".join(banner) + rest
    assert proc.returncode == 0, text + log
    assert "Traceback" not in log
    # --log-level DEBUG: the aionetstack.tcp logger's trace lines, on stderr
    assert re.search(r"DEBUG aionetstack\.tcp: .*ESTABLISHED", log), log[-2000:]
    # the server's data crossed a lossy link: the stack retransmitted
    retrans = [int(n) for n in re.findall(r"TcpRetransSegs=(\d+)", text)]
    assert retrans and max(retrans) > 0, text
    assert pcap.stat().st_size > 10_000


def test_serve_unimpaired_and_quiet_by_default(in_netns: int) -> None:
    proc, banner = start_serve("--echo", "7", "--stats-interval", "0")
    _, err = stop(proc)
    assert proc.returncode == 0, err
    assert not any("impaired" in b for b in banner), banner
    assert err == ""  # WARNING and above only: nothing went wrong


def test_bad_impairment_values_are_usage_errors() -> None:
    assert "--loss" in _usage_error("serve", "--loss", "150%")
    assert "--loss" in _usage_error("serve", "--loss", "lots")
    assert "--delay" in _usage_error("serve", "--delay=-1")
    assert "--jitter" in _usage_error("serve", "--jitter", "5 parsecs")
    assert "--rate" in _usage_error("serve", "--rate", "0")
    assert "--log-level" in _usage_error("serve", "--log-level", "loud")


def test_gateway_log_level_is_case_insensitive() -> None:
    # parsed (not "invalid choice"), then stopped by the missing --route
    err = _usage_error("gateway", "--direct", "--log-level", "INFO")
    assert "--route" in err and "invalid choice" not in err
