"""The conformance tier: one session run of every scenario on both systems.

The run itself happens in two worker processes (see runner.py); the Linux one
is started under ``unshare --net`` and refuses to run in its parent's network
namespace. Where it cannot run (no /dev/net/tun, not root) the scenario tests
skip with the reason, unless ``AIONETSTACK_REQUIRE_TUN=1`` (CI): then they fail.
"""

from __future__ import annotations

import os

import pytest

from .runner import Outcome, cannot_run_reason, collect, summary

_OUTCOMES: dict[str, Outcome] = {}


def _require() -> bool:
    return os.environ.get("AIONETSTACK_REQUIRE_TUN", "") not in ("", "0")


@pytest.fixture(scope="session")
def conformance_outcomes() -> dict[str, Outcome]:
    reason = cannot_run_reason()
    if reason is not None:
        if _require():
            pytest.fail(f"AIONETSTACK_REQUIRE_TUN=1 but conformance cannot run: {reason}")
        pytest.skip(reason)
    if not _OUTCOMES:
        outcomes, _settings = collect()
        _OUTCOMES.update(outcomes)
    return _OUTCOMES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _OUTCOMES:
        terminalreporter.write_line(summary(_OUTCOMES))
