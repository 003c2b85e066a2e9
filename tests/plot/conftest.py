"""The plot tests' capture, made once per session.

Two stacks on a memory link, the client's side wrapped as
``capture(impair(link, loss=..., delay=...))`` (so the capture sees every
segment the client sent, lost ones too), a 200 KB transfer on the virtual
clock with tcp_info sampled along the way.
"""

from __future__ import annotations

import builtins
import sys
from typing import Any

import pytest
from plot_support import transfer

from aionetstack.testing import run


@pytest.fixture(scope="session")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("plot") / "lossy.pcap"
    samples: list[dict[str, float]] = []
    result = run(transfer(path, samples))
    return {"path": path, "samples": samples, **result}


@pytest.fixture
def no_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """``import matplotlib`` fails, as where the plot extra is not installed."""
    real_import = builtins.__import__

    def blocked(name: str, *args: Any, **kw: Any) -> Any:
        if name.split(".")[0] == "matplotlib":
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kw)

    for name in [m for m in sys.modules if m.split(".")[0] == "matplotlib"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(builtins, "__import__", blocked)
