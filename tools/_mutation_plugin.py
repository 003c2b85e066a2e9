"""pytest plugin for tools/mutation.py (loaded with ``-p _mutation_plugin``).

* ``MUTATION_COVERAGE_DATA`` set: measure line coverage of the files matching
  ``MUTATION_COVERAGE_INCLUDE``, one coverage context per test node id.
* ``MUTATION_SELECT`` set: run only the node ids listed in that file (one a line).
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest

_cov: Any = None
if os.environ.get("MUTATION_COVERAGE_DATA"):
    # started at plugin load, before the initial conftests import the package, so
    # module-level lines are measured too (context "")
    import coverage

    _cov = coverage.Coverage(
        data_file=os.environ["MUTATION_COVERAGE_DATA"],
        include=[os.environ["MUTATION_COVERAGE_INCLUDE"]],
        config_file=False,
    )
    _cov.start()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _cov is not None:
        _cov.stop()
        _cov.save()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, object, object]:  # fmt: skip
    if _cov is not None:
        _cov.switch_context(item.nodeid)
    try:
        return (yield)
    finally:
        if _cov is not None:
            _cov.switch_context("")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    select = os.environ.get("MUTATION_SELECT")
    if not select:
        return
    with open(select) as f:
        wanted = set(f.read().split("\n"))
    keep = [i for i in items if i.nodeid in wanted]
    config.hook.pytest_deselected(items=[i for i in items if i.nodeid not in wanted])
    items[:] = keep
