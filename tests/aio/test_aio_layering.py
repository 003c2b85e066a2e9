"""The aio modules import in one direction: stack -> faces -> driver -> core (issue 8)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import aionetstack.aio

AIO = Path(aionetstack.aio.__file__).parent


def imported(module: str) -> set[str]:
    """Every aionetstack module ``aio/<module>.py`` imports, TYPE_CHECKING blocks included."""
    tree = ast.parse((AIO / f"{module}.py").read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name for name in names if name.startswith("aionetstack")}


@pytest.mark.parametrize(
    "module",
    ["transport", "server", "datagram", "driver", "base_transport", "sockopt", "resolver", "logs"],
)
def test_nothing_imports_stack_back(module: str) -> None:
    assert "aionetstack.aio.stack" not in imported(module)


@pytest.mark.parametrize("module", ["driver", "base_transport"])
def test_the_driver_and_the_shared_transport_know_no_face(module: str) -> None:
    faces = {f"aionetstack.aio.{face}" for face in ("transport", "server", "datagram", "stack")}
    assert not imported(module) & faces


def test_the_driver_imports_only_core_and_link() -> None:
    """... and logs.py, a leaf below it (the loggers and the drop watch)."""
    for name in imported("driver"):
        assert name.startswith(("aionetstack.core.", "aionetstack.link.", "aionetstack.aio.logs")), (
            name
        )


@pytest.mark.parametrize("module", ["logs", "sockopt", "resolver"])
def test_leaf_helpers_import_no_face(module: str) -> None:
    """The helpers of the faces and the driver import core and wire (sockopt
    the Driver's type too), never a face."""
    allowed = ("aionetstack.core.", "aionetstack.wire.", "aionetstack.aio.driver")
    for name in imported(module):
        assert name.startswith(allowed), name
