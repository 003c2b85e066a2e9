"""The source distribution: what it carries and the metadata it declares."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from email.parser import Parser
from importlib.metadata import entry_points
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> tarfile.TarFile:
    out = tmp_path_factory.mktemp("sdist")
    env = dict(os.environ, AIONETSTACK_NO_ACCEL="1")  # no compiler needed for an sdist
    subprocess.run(
        [sys.executable, "setup.py", "-q", "egg_info", "--egg-base", str(out), "sdist", "-d", str(out)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    (archive,) = out.glob("aionetstack-*.tar.gz")
    return tarfile.open(archive)


def _names(sdist: tarfile.TarFile) -> set[str]:
    return {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}


def test_sdist_carries_tests_examples_docs_benchmarks_and_changelog(
    sdist: tarfile.TarFile,
) -> None:
    names = _names(sdist)
    for wanted in (
        "CHANGELOG.md",
        "README.md",
        "LICENSE",
        "Makefile",
        "docs/INTERNALS.md",
        "docs/api.py",
        "benchmarks/README.md",
        "benchmarks/bench_wire.py",
        "examples/tun_echo_server.py",
        "tests/wire/test_wire_checksum.py",
        "tests/aio/conftest.py",
        "tests/tun/tun_helpers.py",
        "aionetstack/_accel.pyx",
        "aionetstack/_accel.pyi",
        "aionetstack/py.typed",
        "aionetstack/testing/pytest_plugin.py",
    ):
        assert wanted in names, wanted
    # nothing built or generated
    assert not any(n.endswith((".so", ".pyc", "_accel.c")) for n in names)


def test_metadata_classifiers_and_pytest_plugin(sdist: tarfile.TarFile) -> None:
    (pkg_info,) = [m for m in sdist.getmembers() if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO")]
    data = sdist.extractfile(pkg_info)
    assert data is not None
    meta = Parser().parsestr(data.read().decode())
    classifiers = meta.get_all("Classifier") or []
    assert "Typing :: Typed" in classifiers
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert "Framework :: Pytest" in classifiers
    assert meta["Requires-Python"] == ">=3.11"


def test_the_installed_package_registers_its_pytest_plugin() -> None:
    (plugin,) = [ep for ep in entry_points(group="pytest11") if ep.name == "aionetstack"]
    assert plugin.value == "aionetstack.testing.pytest_plugin"
