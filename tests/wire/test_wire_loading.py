"""How the compiled core is chosen: env override, and one warning when it is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import aionetstack.wire as wire

ROOT = str(Path(__file__).resolve().parents[2])

PROBE = """
import sys, warnings
warnings.simplefilter("always")
if "block" in sys.argv:
    sys.modules["aionetstack._accel"] = None  # makes the import fail
from aionetstack.wire import checksum, siphash
print(checksum.ACCELERATED, siphash.ACCELERATED, checksum.internet_checksum(b"\\x00\\x01\\xf2\\x03"))
"""


def _probe(*args: str, pure: bool = False) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "AIONETSTACK_PURE_PYTHON"}
    if pure:
        env["AIONETSTACK_PURE_PYTHON"] = "1"
    return subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )


def test_env_forces_pure_python() -> None:
    out = _probe(pure=True)
    assert out.stdout.split() == ["False", "False", str(0xFFFF & ~(0x0001 + 0xF203))]
    assert out.stderr == ""


def test_missing_extension_warns_once_and_falls_back() -> None:
    out = _probe("block")
    assert out.stdout.split()[:2] == ["False", "False"]
    lines = [line for line in out.stderr.splitlines() if "accelerator" in line]
    assert len(lines) == 1, out.stderr
    assert "using pure Python" in lines[0]


def test_submodules_are_lazy_attributes() -> None:
    assert wire.checksum.internet_checksum(b"") == 0xFFFF
    assert wire.tcp.SYN == 2 and wire.seq.seq_lt(1, 2)
    assert issubclass(wire.ChecksumError, wire.WireError)
    import aionetstack

    assert aionetstack.WireError is wire.WireError
