"""Run documented shell commands and programs as a reader would, and clean up after them.

``run_script`` runs a ``sh`` script in a new session (so everything it starts
can be found afterwards by its session id), with a timeout, in a directory
made to look like the repository (every top-level entry of the checkout is
symlinked there, ``.venv`` included, so ``.venv/bin/python examples/x.py``
works as written while the files a command writes land in the temporary
directory). With ``netns=True`` the script runs under ``unshare --net``: a
private network namespace with only ``lo`` up, which vanishes with the script.
The script checks first that its namespace differs from the test process's
and stops if not, so nothing a documented command does reaches a real network.

Needing root (for ``unshare``, TUN devices) is like the TUN tier: skip without
it, fail under ``AIONETSTACK_REQUIRE_TUN=1``.

Afterwards, every process still in the script's session is a process the
documentation leaves behind: it is killed by PID and the test fails naming it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120.0
LINGER = 1.0


def _required() -> bool:
    return os.environ.get("AIONETSTACK_REQUIRE_TUN", "") not in ("", "0")


def cannot_run(reason: str) -> None:
    """Skip, or fail when the TUN tier is required (as tests/tun/tun_helpers.py)."""
    if _required():
        pytest.fail(f"AIONETSTACK_REQUIRE_TUN=1 but this cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


def require_netns() -> None:
    if os.geteuid() != 0:
        cannot_run("needs root (unshare --net, a TUN device)")
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        cannot_run("needs unshare (util-linux) and ip (iproute2)")
    if not os.path.exists("/dev/net/tun"):
        cannot_run("/dev/net/tun does not exist")


def checkout_view(where: Path) -> Path:
    """``where`` with a symlink to every top-level entry of the checkout.

    ``.venv`` is the checkout's, or this interpreter's virtual environment
    when the checkout has none (tests run from another venv).
    """
    for entry in ROOT.iterdir():
        if entry.name not in (".git",):
            (where / entry.name).symlink_to(entry)
    if not (where / ".venv").exists() and sys.prefix != sys.base_prefix:
        (where / ".venv").symlink_to(sys.prefix)
    if not (where / ".venv" / "bin" / "python").exists():
        pytest.skip("no .venv in the checkout and not run from a virtual environment")
    # As root, `sudo CMD` is CMD: a shim where sudo is not installed.
    if shutil.which("sudo") is None and os.geteuid() == 0:
        shim = where / ".shim"
        shim.mkdir()
        (shim / "sudo").write_text('#!/bin/sh\nexec "$@"\n')
        (shim / "sudo").chmod(0o755)
    return where


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    leftovers: list[str]

    def describe(self) -> str:
        return f"status {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def _session_members(sid: int) -> dict[int, str]:
    """PID -> command line of every live process whose session id is ``sid``."""
    found: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        state, session = fields[0], int(fields[3])
        if session == sid and state != "Z":
            found[int(entry)] = cmdline.replace(b"\0", b" ").decode(errors="replace").strip()
    return found


def _reap(sid: int) -> list[str]:
    """Kill (by PID) what is left in session ``sid``; return their descriptions.

    A process gets ``LINGER`` seconds to finish exiting first (one the script
    signalled just before it ended may still be on its way out).
    """
    deadline = time.monotonic() + LINGER
    while (left := _session_members(sid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5
    while _session_members(sid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [f"{pid}: {cmd}" for pid, cmd in sorted(left.items())]


def run_script(
    script: str,
    cwd: Path,
    *,
    netns: bool,
    timeout: float = TIMEOUT,
    env: dict[str, str] | None = None,
) -> Outcome:
    """Run ``script`` with ``sh -e`` in ``cwd`` (a ``checkout_view``); see the module doc."""
    full_env = dict(os.environ, TMPDIR=str(cwd), **(env or {}))
    shim = cwd / ".shim"
    if shim.is_dir():
        full_env["PATH"] = f"{shim}{os.pathsep}{full_env['PATH']}"
    (cwd / ".script.sh").write_text(script)
    if netns:
        outer = os.readlink("/proc/self/ns/net")
        prelude = (
            f'[ "$(readlink /proc/self/ns/net)" != "{outer}" ] || '
            "{ echo 'not in a private network namespace' >&2; exit 99; }; "
            'ip link set lo up && exec sh -e "$0"'
        )
        argv = ["unshare", "--net", "sh", "-c", prelude, ".script.sh"]
    else:
        argv = ["sh", "-e", ".script.sh"]
    # Output to files, not pipes: a background process left holding a pipe
    # would hide the script's own end behind the timeout.
    with open(cwd / ".stdout", "wb") as out, open(cwd / ".stderr", "wb") as err:
        proc = subprocess.Popen(
            argv, cwd=cwd, env=full_env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
            start_new_session=True,
        )  # fmt: skip
        try:
            proc.wait(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
        leftovers = _reap(proc.pid)
        proc.wait()
    outcome = Outcome(
        proc.returncode,
        (cwd / ".stdout").read_text(errors="replace"),
        (cwd / ".stderr").read_text(errors="replace"),
        leftovers,
    )
    if timed_out:
        pytest.fail(f"timed out after {timeout} s; killed {leftovers}\n{outcome.describe()}")
    return outcome


def assert_clean_success(outcome: Outcome) -> None:
    """Status 0, no traceback, no unknown command, nothing left running."""
    assert outcome.returncode == 0, outcome.describe()
    for sign in ("Traceback", ": not found", "command not found"):
        assert sign not in outcome.stderr, outcome.describe()
    assert not outcome.leftovers, "left running: " + "; ".join(outcome.leftovers)
