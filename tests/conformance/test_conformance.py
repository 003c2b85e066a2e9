"""One test per scenario: MATCH with Linux, or the documented difference still there.

A scenario without ``expected_difference`` must MATCH. A scenario with one
must still differ (like ``xfail(strict=True)``): when a fix makes it match,
this test fails until the mark and its docs/CONFORMANCE.md entry go.
"""

from __future__ import annotations

import os
import re

import pytest

from .harness import compare, describe
from .runner import REPO, Outcome
from .scenarios import SCENARIOS
from .script import parse_script

DOC = os.path.join(REPO, "docs", "CONFORMANCE.md")


def _doc_entries() -> set[str]:
    with open(DOC) as f:
        return set(re.findall(r"^### `([^`]+)`", f.read(), flags=re.MULTILINE))


@pytest.mark.tun
@pytest.mark.parametrize("name", [sc.name for sc in SCENARIOS])
def test_scenario(name: str, conformance_outcomes: dict[str, Outcome]) -> None:
    o = conformance_outcomes[name]
    assert o.error is None, o.error
    traces = (
        f"\nlinux:\n{describe(o.linux, o.scenario.steps)}"  # type: ignore[arg-type]
        f"\naionetstack:\n{describe(o.stack, o.scenario.steps)}"  # type: ignore[arg-type]
    )
    entry = o.scenario.expected_difference
    if entry is None:
        assert not o.differences, "differs from Linux:\n" + "\n".join(o.differences) + traces
    else:
        assert o.differences, (
            f"now MATCHES Linux: remove expected_difference={entry!r} and update its "
            f"entry in docs/CONFORMANCE.md" + traces
        )


def test_every_expected_difference_is_documented() -> None:
    entries = _doc_entries()
    used = {sc.expected_difference for sc in SCENARIOS if sc.expected_difference}
    assert used - entries == set(), "marked but not documented in docs/CONFORMANCE.md"
    assert entries - used == set(), "documented but no scenario shows it any more"


def test_scenario_names_are_unique_and_parse() -> None:
    names = [sc.name for sc in SCENARIOS]
    assert len(names) == len(set(names))
    assert len(names) >= 80
    for sc in SCENARIOS:
        assert sc.steps, sc.name


def test_compare_reports_a_changed_reaction() -> None:
    """The harness can fail: a different packet, a missing one, a late one."""
    starts = [0.05, 0.1, 0.15]
    linux = [(0, 0.0, "S. 0:0(0) ack 1 win>0"), (1, 0.04, ". 1:1(0) ack 101 win>0")]
    assert compare(linux, list(linux), 0.03, starts) == []
    assert compare(linux, [linux[0], (1, 0.04, ". 1:1(0) ack 1 win>0")], 0.03, starts)
    assert compare(linux, [linux[0]], 0.03, starts)
    assert compare(linux, [linux[0], (1, 0.2, linux[1][2])], 0.03, starts)
    # an application result and a packet of the same instant may come in either order
    both = [(2, 0.0, "app: connected"), (2, 0.0, ". 1:1(0) ack 1 win>0")]
    assert compare(both, both[::-1], 0.03, starts) == []
    # a reaction that jitter pushed a few ms into the next step still pairs up
    late = [(0, 0.048, ". 1:1(0) ack 1 win>0")]
    assert compare(late, [(1, 0.001, late[0][2])], 0.03, starts) == []


def test_script_numbers_are_relative() -> None:
    step = parse_script("< . 1:101 ack 5 win 7 port 2 <TS,sack 10:20>")[0]
    seg = step.segment
    assert seg is not None
    assert (seg.seq, seg.end, seg.ack, seg.win, seg.port) == (1, 101, 5, 7, 2)
    opts = seg.options(tsval=1500, tsecr=9, sut_isn=1000)
    assert opts.ts == (1500, 9)
    assert opts.sack == [(1010, 1020)]
