"""The public API's types (issue 14): a typed user program passes
``mypy --strict`` (``assert_type`` on what asyncio's stubs would give) and
runs; ``dir(aionetstack)`` shows the public names only."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import aionetstack

PROGRAM = Path(__file__).with_name("typed_program.py")
GUIDE = Path(__file__).parents[2] / "docs" / "asyncio.md"


def test_typed_program_passes_mypy_strict() -> None:
    api = pytest.importorskip("mypy.api")
    out, err, status = api.run(["--strict", "--no-incremental", str(PROGRAM)])
    assert status == 0, out + err


def test_typed_program_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(PROGRAM)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello typed\n\n"


def test_dir_shows_the_public_names() -> None:
    names = dir(aionetstack)
    assert names == sorted(aionetstack.__all__)
    for hidden in ("Any", "TYPE_CHECKING", "annotations", "importlib"):
        assert hidden not in names
    for public in ("Stack", "Server", "Link", "StackConfig", "TcpEvent", "memory_link_pair"):
        assert public in names
        assert getattr(aionetstack, public) is not None


def test_the_guides_example_is_typed_and_runs(tmp_path: Path) -> None:
    """docs/asyncio.md's example passes mypy --strict and prints what it says."""
    api = pytest.importorskip("mypy.api")
    (example,) = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), re.S)
    program = tmp_path / "guide_example.py"
    program.write_text(example)
    out, err, status = api.run(["--strict", "--no-incremental", str(program)])
    assert status == 0, out + err
    result = subprocess.run(
        [sys.executable, str(program)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "first\nsecond\n"
