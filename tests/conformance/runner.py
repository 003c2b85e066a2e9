"""Run the scenarios on both systems under test and compare them.

Each system runs in its own worker process (``python -m tests.conformance
--worker linux|stack``), so the two use both cores and neither's event loop
disturbs the other's timing. The Linux worker is started under ``unshare
--net``: it first checks that its network namespace differs from its
parent's, then fixes its kernel settings (``suts.SYSCTLS``) and creates its
TUN device, all of which vanish with it. Inside a worker the scenarios run
concurrently (each has its own remote address and port), longest first.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from dataclasses import dataclass
from typing import Any

from .harness import Run, compare, play, step_starts
from .scenarios import SCENARIOS
from .script import Scenario

CONCURRENCY = 24
PARENT_NETNS_ENV = "AIONETSTACK_CONFORMANCE_PARENT_NETNS"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def netns_id() -> int:
    return os.stat("/proc/thread-self/ns/net").st_ino


def cannot_run_reason() -> str | None:
    """Why the Linux side cannot run here, or None."""
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun does not exist"
    if os.geteuid() != 0:
        return "needs root (unshare --net, a TUN device, per-namespace sysctls)"
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "needs unshare (util-linux) and ip (iproute2)"
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"unshare --net refused: {probe.stderr.strip()}"
    return None


async def _run_all(kind: str, scenarios: list[Scenario]) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    index = {sc.name: i for i, sc in enumerate(SCENARIOS)}
    tun = None
    settings: dict[str, str] = {}
    if kind == "linux":
        from .suts import Tun, configure_namespace

        parent = os.environ.get(PARENT_NETNS_ENV)
        # Absolute guard: the kernel side runs only in a namespace of its own.
        if parent is None or int(parent) == netns_id():
            raise SystemExit("refusing to run the Linux side outside a private network namespace")
        settings = configure_namespace()
        tun = Tun(loop)
    else:
        await _warm_up()
    gate = asyncio.Semaphore(CONCURRENCY)
    results: dict[str, Any] = {}

    async def one(sc: Scenario) -> None:
        from .suts import LinuxSut, StackSut

        async with gate:
            run = Run(sc, index[sc.name], loop)
            sut = LinuxSut(run, tun) if tun is not None else StackSut(run)
            error = None
            try:
                await play(run, sut, sc.steps)
            except Exception:
                error = traceback.format_exc()
            results[sc.name] = {"events": [list(e) for e in run.events], "error": error}

    ordered = sorted(scenarios, key=lambda sc: -sc.duration)
    await asyncio.gather(*(one(sc) for sc in ordered))
    if tun is not None:
        tun.close()
    return {"settings": settings, "results": results}


async def _warm_up() -> None:
    """Import and start one stack before the clock matters: a first import inside
    a scenario stalls the event loop for every scenario running beside it."""
    import aionetstack

    _, end = aionetstack.memory_link_pair()
    stack = aionetstack.Stack(end, address="198.18.0.1/15")
    await stack.start()
    server = await stack.create_server(asyncio.Protocol, "198.18.0.1", 1)
    server.close()
    await stack.close(linger=0.01)


def worker(kind: str, names: list[str], out: str) -> None:
    chosen = [sc for sc in SCENARIOS if not names or sc.name in names]
    data = asyncio.run(_run_all(kind, chosen))
    with open(out, "w") as f:
        json.dump(data, f)


@dataclass
class Outcome:
    scenario: Scenario
    linux: list[tuple[int, float, str]]
    stack: list[tuple[int, float, str]]
    differences: list[str]
    error: str | None

    @property
    def verdict(self) -> str:
        if self.error:
            return "ERROR"
        return "DIFFER" if self.differences else "MATCH"

    @property
    def as_expected(self) -> bool:
        if self.error:
            return False
        if self.scenario.expected_difference is None:
            return not self.differences
        return bool(self.differences)


def collect(names: list[str] | None = None) -> tuple[dict[str, Outcome], dict[str, str]]:
    """Run both workers at once; return each scenario's outcome and the kernel settings."""
    names = names or []
    with tempfile.TemporaryDirectory(prefix="aionetstack-conformance-") as tmp:
        outs = {kind: os.path.join(tmp, f"{kind}.json") for kind in ("linux", "stack")}
        env = dict(os.environ, **{PARENT_NETNS_ENV: str(netns_id())})
        base = [sys.executable, "-m", "tests.conformance"]
        procs = {
            kind: subprocess.Popen(
                (["unshare", "--net"] if kind == "linux" else [])
                + [*base, "--worker", kind, "--out", outs[kind], *names],
                cwd=REPO,
                env=env,
            )
            for kind in outs
        }
        for kind, proc in procs.items():
            if proc.wait(timeout=600) != 0:
                raise RuntimeError(f"the {kind} conformance worker failed ({proc.returncode})")
        data = {}
        for kind, path in outs.items():
            with open(path) as f:
                data[kind] = json.load(f)
    outcomes: dict[str, Outcome] = {}
    for sc in SCENARIOS:
        if names and sc.name not in names:
            continue
        lin = data["linux"]["results"][sc.name]
        ours = data["stack"]["results"][sc.name]
        ev_l = [tuple(e) for e in lin["events"]]
        ev_s = [tuple(e) for e in ours["events"]]
        error = "\n".join(
            f"{kind}: {r['error']}" for kind, r in (("linux", lin), ("aionetstack", ours))
            if r["error"]
        ) or None  # fmt: skip
        diffs = compare(ev_l, ev_s, sc.tolerance, step_starts(sc.steps))  # type: ignore[arg-type]
        outcomes[sc.name] = Outcome(sc, ev_l, ev_s, diffs, error)  # type: ignore[arg-type]
    return outcomes, data["linux"]["settings"]


def summary(outcomes: dict[str, Outcome]) -> str:
    n = len(outcomes)
    match = sum(o.verdict == "MATCH" for o in outcomes.values())
    justified = sum(
        o.verdict == "DIFFER" and o.scenario.expected_difference is not None
        for o in outcomes.values()
    )
    return f"conformance: {n} scenarios, {match} MATCH, {justified} justified differences"
