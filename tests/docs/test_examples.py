"""examples/*.py run as their docstrings say.

Each example's docstring shows the command (an indented block) with the
checkout's interpreter, ``.venv/bin/python examples/NAME.py``, so it works
outside an activated venv. The test runs that block as written
(``docs_support.run_script``: a copy of the checkout's layout, a timeout, no
process left behind); a block that uses ``sudo``/``unshare`` runs in a private
network namespace, as root only (skip otherwise, fail under
``AIONETSTACK_REQUIRE_TUN=1``), and what it prints is checked.

The gateway example needs a SOCKS5 proxy in another namespace to relay
anything (tests/gateway sets that up for the library); here it is started
without a proxy (kernel sockets), must install its route into the device, and
must stop cleanly on SIGTERM, printing its counters.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import pytest
from docs_support import ROOT, assert_clean_success, checkout_view, require_netns, run_script

EXAMPLES = sorted((ROOT / "examples").glob("*.py"))

#: what the documented command must print, per example
EXPECTED = {
    "memory_echo.py": ["echoed: line 4 over a lossy wire", "retransmitted segments"],
    "tun_echo_server.py": ["hello, user-space TCP", "2 received"],
    "tun_open_connection.py": ["HTTP/1.0 200 OK"],
}

GATEWAY_RUN = """\
.venv/bin/python examples/gateway.py &
gw=$!
for i in $(seq 100); do
    ip route show 198.18.64.0/24 | grep -q ans0 && break
    sleep 0.1
done
ip route show 198.18.64.0/24 | grep ans0
kill -TERM "$gw"
wait "$gw"
"""


def documented_command(path: Path) -> str:
    """The first indented block of the module docstring, dedented."""
    doc = ast.get_docstring(ast.parse(path.read_text()), clean=False) or ""
    match = re.search(r"\n\n((?:    .*\n|\s*\n)+)", doc)
    assert match, f"{path.name}: no indented command in the docstring"
    return textwrap.dedent(match.group(1)).strip() + "\n"


def test_every_example_is_covered() -> None:
    names = {p.name for p in EXAMPLES}
    assert names == set(EXPECTED) | {"gateway.py"}, names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_docstring_uses_the_checkout_interpreter(path: Path) -> None:
    assert f".venv/bin/python examples/{path.name}" in documented_command(path)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_as_documented(name: str, tmp_path: Path) -> None:
    command = documented_command(ROOT / "examples" / name)
    netns = bool(re.search(r"\b(sudo|unshare)\b", command))
    if netns:
        require_netns()
    outcome = run_script(command, checkout_view(tmp_path), netns=netns, timeout=60)
    assert_clean_success(outcome)
    for text in EXPECTED[name]:
        assert text in outcome.stdout, outcome.describe()


def test_gateway_example_starts_routes_and_stops(tmp_path: Path) -> None:
    require_netns()
    outcome = run_script(GATEWAY_RUN, checkout_view(tmp_path), netns=True, timeout=60)
    assert_clean_success(outcome)
    assert "198.18.64.0/24 dev ans0" in outcome.stdout, outcome.describe()
