"""How the compiled core is chosen: env override, and one warning when it is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
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


def test_missing_extension_is_one_stderr_line_even_under_w_error(tmp_path: Path) -> None:
    """A copy of the package without the compiled module (as after an install
    without a compiler): ``python -W error`` imports it, and the fallback
    notice is one line on stderr, not a warning turned into an ImportError."""
    shutil.copytree(
        Path(ROOT) / "aionetstack",
        tmp_path / "aionetstack",
        ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__", "_accel.c"),
    )
    env = {k: v for k, v in os.environ.items() if k != "AIONETSTACK_PURE_PYTHON"}
    # -S: no .pth files, so the editable install's finder cannot supply the
    # worktree's compiled module; the dependencies come from site-packages.
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), sysconfig.get_paths()["purelib"]])
    code = (
        "import aionetstack, aionetstack.wire.tcp\n"
        "from aionetstack.wire import checksum\n"
        "assert checksum.__file__.startswith(sys.argv[1]), checksum.__file__\n"
        "print(checksum.ACCELERATED, checksum.internet_checksum(b'\\x00\\x01\\xf2\\x03'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-W", "error", "-c", "import sys\n" + code, str(tmp_path)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", str(0xFFFF & ~(0x0001 + 0xF203))]
    lines = out.stderr.splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("aionetstack: compiled accelerator unavailable")
    assert lines[0].endswith("(set AIONETSTACK_PURE_PYTHON=1 to choose it silently)")
    assert out.stderr.endswith("\n")
