"""Mutation testing of the TCP engine against tests/core (``make mutation``).

Theory of operation
-------------------
A *mutant* is the package with one small change to one module: a comparison
bound moved (``<`` to ``<=``), an operator swapped (``+``/``-``, ``&``/``|``,
``<<``/``>>``, ``and``/``or``), a ``not`` removed, an integer constant
incremented, a boolean flipped, or one simple statement (assignment, call,
``break``/``continue``; not a bare annotation) replaced by ``pass``. The
mutants are enumerated from the module's ``ast`` (docstrings, annotations,
``__slots__``/``__all__``, ``__repr__`` and trace calls are left alone), and
each is written as ``ast.unparse`` of the changed tree.

Nothing in the work tree is touched: the package is copied once per worker into
a temporary directory that comes first on ``PYTHONPATH`` (ahead of the editable
install), bytecode is never written, and each mutant is written into that copy
and replaced by the original after its run.

Each mutant runs ``pytest -x`` over the selected tests with a time limit. It is
*killed* when a test fails or errors, *timeout* when the limit passes (counted
as killed), *survived* when every test passes. With ``coverage`` installed a
first run records which tests execute each line (one coverage context per test
node id); a mutant then runs only the tests that cover its lines, collecting
only their files (all of the selection for module-level lines), and a mutant
no test executes survives at once ("not covered"). Without coverage, or with ``MUTATION_COVERAGE=0``, every
mutant runs the whole selection with ``-x``.

Settings (environment):
  MUTATE            files to mutate, space-separated (default: every .py under
                    aionetstack/core/tcp/ at run time, ``__init__.py`` excepted)
  MUTATION_TESTS    pytest arguments selecting the tests (default tests/core)
  MUTATION_SAMPLE   try N mutants per file, drawn at random (default: all)
  MUTATION_SEED     the sample's seed (default 1)
  MUTATION_TIMEOUT  seconds per mutant (default: 3 x the clean run, at least 10)
  MUTATION_JOBS     mutants run in parallel (default 1; the CPU is shared)
  MUTATION_COVERAGE 0 to run every mutant against the whole selection

Output: per file, mutants tried, killed, timed out, survived and the score
(killed + timeouts) / tried; then each survivor as ``file:line  mutation``.
Exit status 0 (the score is information, not a gate).
"""

from __future__ import annotations

import ast
import copy
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "aionetstack"
DEFAULT_DIR = ROOT / PACKAGE / "core" / "tcp"
PLUGIN = "_mutation_plugin"

# ------------------------------------------------------------------ the mutants

_CMP_SWAP: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
    ast.In: ast.NotIn, ast.NotIn: ast.In,
}  # fmt: skip
_BIN_SWAP: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult,
    ast.Div: ast.Mult, ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd, ast.BitXor: ast.BitOr,
    ast.LShift: ast.RShift, ast.RShift: ast.LShift, ast.Mod: ast.FloorDiv,
}  # fmt: skip
_SYMBOL = {
    ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
    ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in", ast.Add: "+",
    ast.Sub: "-", ast.Mult: "*", ast.FloorDiv: "//", ast.Div: "/", ast.BitAnd: "&",
    ast.BitOr: "|", ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>", ast.Mod: "%",
    ast.And: "and", ast.Or: "or",
}  # fmt: skip
# never descend into these fields (typing only)
_SKIP_FIELDS = {"annotation", "returns", "type_comment", "decorator_list", "type_params"}
# calls whose deletion or change is invisible by design (tracing)
_TRACE_CALLS = {"_tr", "_trace"}
_DELETABLE = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.Break, ast.Continue)


@dataclass(frozen=True)
class Mutant:
    """One change: the node's index in preorder, which change, where, and a label."""

    path: Path
    index: int
    kind: str  # "cmp:<position>", "op", "not", "const", "del"
    line: int
    end_line: int
    label: str


def _short(node: ast.AST, width: int = 60) -> str:
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _is_docstring(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _skip_subtree(node: ast.AST) -> bool:
    if _is_docstring(node) or isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.FunctionDef) and node.name == "__repr__":
        return True
    if isinstance(node, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id in ("__slots__", "__all__") for t in node.targets
    ):
        return True
    if isinstance(node, ast.If) and _short(node.test) == "TYPE_CHECKING":
        return True
    call = node.value if isinstance(node, ast.Expr) else node
    if isinstance(call, ast.Call):
        f = call.func
        name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
        if name in _TRACE_CALLS:
            return True
    return False


def _preorder(tree: ast.AST) -> list[tuple[ast.AST, ast.AST | None, str, int | None]]:
    """Every mutable-region node with its parent, field and list position (stable order)."""
    out: list[tuple[ast.AST, ast.AST | None, str, int | None]] = []

    def visit(node: ast.AST, parent: ast.AST | None, fname: str, pos: int | None) -> None:
        out.append((node, parent, fname, pos))
        if _skip_subtree(node):
            return
        for name, value in ast.iter_fields(node):
            if name in _SKIP_FIELDS:
                continue
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, ast.AST):
                        visit(item, node, name, i)
            elif isinstance(value, ast.AST):
                visit(value, node, name, None)

    visit(tree, None, "", None)
    return out


def _sites(node: ast.AST) -> Iterator[tuple[str, str]]:
    """(kind, label) for each mutation this node offers."""
    if isinstance(node, ast.Compare):
        for j, op in enumerate(node.ops):
            new = _CMP_SWAP.get(type(op))
            if new is not None:
                yield f"cmp:{j}", f"`{_SYMBOL[type(op)]}` -> `{_SYMBOL[new]}` in `{_short(node)}`"
    elif isinstance(node, ast.BinOp | ast.AugAssign):
        new_op = _BIN_SWAP.get(type(node.op))
        if new_op is not None:
            yield "op", f"`{_SYMBOL[type(node.op)]}` -> `{_SYMBOL[new_op]}` in `{_short(node)}`"
    elif isinstance(node, ast.BoolOp):
        other = "or" if isinstance(node.op, ast.And) else "and"
        yield "op", f"`{_SYMBOL[type(node.op)]}` -> `{other}` in `{_short(node)}`"
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "not", f"remove `not` in `{_short(node)}`"
    elif isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, bool):
            yield "const", f"`{v}` -> `{not v}`"
        elif isinstance(v, int):
            yield "const", f"`{v}` -> `{v + 1}`"
    if (
        isinstance(node, _DELETABLE)
        and (not isinstance(node, ast.Expr) or isinstance(node.value, ast.Call))
        and (not isinstance(node, ast.AnnAssign) or node.value is not None)
    ):
        yield "del", f"delete `{_short(node)}`"


def enumerate_mutants(path: Path) -> list[Mutant]:
    tree = ast.parse(path.read_text(), str(path))
    out = []
    for index, (node, _parent, _f, _p) in enumerate(_preorder(tree)):
        if _skip_subtree(node):
            continue
        for kind, label in _sites(node):
            line = getattr(node, "lineno", 0)
            out.append(Mutant(path, index, kind, line, getattr(node, "end_lineno", line), label))
    return out


def mutated_source(tree: ast.Module, m: Mutant) -> str | None:
    """The module's source with ``m`` applied (None when it does not compile)."""
    t = copy.deepcopy(tree)
    node, parent, fname, pos = _preorder(t)[m.index]

    def replace(new: ast.AST) -> None:
        assert parent is not None
        if pos is None:
            setattr(parent, fname, new)
        else:
            getattr(parent, fname)[pos] = new

    if m.kind.startswith("cmp:"):
        assert isinstance(node, ast.Compare)
        j = int(m.kind[4:])
        node.ops[j] = _CMP_SWAP[type(node.ops[j])]()
    elif m.kind == "op":
        if isinstance(node, ast.BoolOp):
            node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        else:
            assert isinstance(node, ast.BinOp | ast.AugAssign)
            node.op = _BIN_SWAP[type(node.op)]()
    elif m.kind == "not":
        assert isinstance(node, ast.UnaryOp)
        replace(node.operand)
    elif m.kind == "const":
        assert isinstance(node, ast.Constant)
        v = node.value
        assert isinstance(v, int)
        node.value = (not v) if isinstance(v, bool) else v + 1
    elif m.kind == "del":
        replace(ast.copy_location(ast.Pass(), node))
    ast.fix_missing_locations(t)
    text = ast.unparse(t)
    try:
        compile(text, str(m.path), "exec")
    except SyntaxError:
        return None
    return text


# ------------------------------------------------------------------- the runner


@dataclass
class FileScore:
    tried: int = 0
    killed: int = 0
    timeouts: int = 0
    survivors: list[tuple[Mutant, str]] = field(default_factory=list)


class Workspace:
    """A private copy of the package (one per worker) that mutants are written into."""

    def __init__(self, base: Path, n: int) -> None:
        self.dir = base / f"w{n}"
        shutil.copytree(ROOT / PACKAGE, self.dir / "src" / PACKAGE,
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
        (self.dir / "run").mkdir()

    def target(self, path: Path) -> Path:
        return self.dir / "src" / path.relative_to(ROOT)

    def env(self, select: Path | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(self.dir / "src"), str(Path(__file__).parent)])
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("MUTATION_SELECT", None)
        if select is not None:
            env["MUTATION_SELECT"] = str(select)
        return env


def pytest_cmd(tests: list[str], *extra: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
            "-p", PLUGIN, "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT),
            *extra, *tests]  # fmt: skip


def coverage_map(ws: Workspace, tests: list[str], files: list[Path]) -> dict[Path, dict[int, set[str]]] | None:  # fmt: skip
    """Line -> test node ids for each file, from one run with per-test contexts."""
    try:
        from coverage import CoverageData
    except ImportError:
        return None
    data_file = ws.dir / "coverage.data"
    env = ws.env()
    env["MUTATION_COVERAGE_DATA"] = str(data_file)
    env["MUTATION_COVERAGE_INCLUDE"] = str(ws.dir / "src" / PACKAGE / "*")
    r = subprocess.run(pytest_cmd(tests), cwd=ws.dir / "run", env=env, capture_output=True, text=True)  # fmt: skip
    if r.returncode != 0:
        sys.exit(f"mutation: the tests fail without mutants:\n{r.stdout[-3000:]}{r.stderr[-2000:]}")
    data = CoverageData(str(data_file))
    data.read()
    out: dict[Path, dict[int, set[str]]] = {}
    for path in files:
        by_line = data.contexts_by_lineno(str(ws.target(path)))
        out[path] = {line: set(ctx) for line, ctx in by_line.items()}
    return out


def run_mutant(ws: Workspace, m: Mutant, text: str, tests: list[str], node_ids: set[str] | None,
               timeout: float) -> str:  # fmt: skip
    """'killed', 'timeout' or 'survived'."""
    target = ws.target(m.path)
    original = target.read_text()
    select = None
    if node_ids is not None:
        select = ws.dir / "select.txt"
        select.write_text("\n".join(sorted(node_ids)))
        # collect only the files that hold those tests (collection is most of a run)
        tests = sorted({str(ROOT / n.split("::")[0]) for n in node_ids})
    try:
        target.write_text(text)
        r = subprocess.run(pytest_cmd(tests), cwd=ws.dir / "run", env=ws.env(select),
                           capture_output=True, timeout=timeout)  # fmt: skip
    except subprocess.TimeoutExpired:
        return "timeout"
    finally:
        target.write_text(original)
    if r.returncode == 5:  # nothing selected: no test runs this line
        return "survived"
    return "killed" if r.returncode else "survived"


def main() -> None:
    files_env = os.environ.get("MUTATE", "").split()
    if files_env:
        files = [(ROOT / f).resolve() for f in files_env]
    else:
        files = sorted(p for p in DEFAULT_DIR.glob("*.py") if p.name != "__init__.py")
    tests = os.environ.get("MUTATION_TESTS", "tests/core").split()
    tests = [str(ROOT / t) if (ROOT / t.split("::")[0]).exists() else t for t in tests]
    sample = int(os.environ.get("MUTATION_SAMPLE", "0") or 0)
    rng = random.Random(int(os.environ.get("MUTATION_SEED", "1")))
    jobs = max(1, int(os.environ.get("MUTATION_JOBS", "1")))
    use_cov = os.environ.get("MUTATION_COVERAGE", "1") != "0"

    base = Path(tempfile.mkdtemp(prefix="aionetstack-mutation-"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that the copies go
    try:
        workspaces = [Workspace(base, n) for n in range(jobs)]
        t0 = time.monotonic()
        cov = coverage_map(workspaces[0], tests, files) if use_cov else None
        if cov is None:
            r = subprocess.run(pytest_cmd(tests), cwd=workspaces[0].dir / "run",
                               env=workspaces[0].env(), capture_output=True, text=True)  # fmt: skip
            if r.returncode != 0:
                sys.exit(f"mutation: the tests fail without mutants:\n{r.stdout[-3000:]}")
        clean = time.monotonic() - t0
        timeout = float(os.environ.get("MUTATION_TIMEOUT") or max(10.0, 3.0 * clean))
        print(f"mutation: clean run {clean:.1f} s, {timeout:.0f} s per mutant, "
              f"{'per-line tests from coverage' if cov else '-x over the selection'}")  # fmt: skip

        plan: list[tuple[Mutant, ast.Module]] = []
        for path in files:
            tree = ast.parse(path.read_text(), str(path))
            mutants = enumerate_mutants(path)
            chosen = sorted(rng.sample(mutants, sample), key=lambda m: (m.line, m.index)) if (
                sample and sample < len(mutants)) else mutants  # fmt: skip
            print(f"mutation: {path.relative_to(ROOT)}: {len(chosen)} of {len(mutants)} mutants")
            plan.extend((m, tree) for m in chosen)

        scores: dict[Path, FileScore] = {p: FileScore() for p in files}
        lock = threading.Lock()
        free = list(workspaces)
        done = [0]

        def work(item: tuple[Mutant, ast.Module]) -> None:
            m, tree = item
            text = mutated_source(tree, m)
            if text is None:
                return
            node_ids: set[str] | None = None
            note = ""
            if cov is not None:
                lines = cov[m.path]
                ids: set[str] = set()
                module_level = False
                for line in range(m.line, m.end_line + 1):
                    for ctx in lines.get(line, ()):
                        if ctx:
                            ids.add(ctx)
                        else:
                            module_level = True
                node_ids = None if module_level else ids
                if node_ids is not None and not node_ids:
                    note = "not covered"
            with lock:
                ws = free.pop()
            try:
                outcome = "survived" if note else run_mutant(ws, m, text, tests, node_ids, timeout)
            finally:
                with lock:
                    free.append(ws)
            with lock:
                s = scores[m.path]
                s.tried += 1
                if outcome == "killed":
                    s.killed += 1
                elif outcome == "timeout":
                    s.timeouts += 1
                else:
                    s.survivors.append((m, note))
                done[0] += 1
                if done[0] % 25 == 0:
                    print(f"mutation: {done[0]}/{len(plan)} done", flush=True)

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(work, plan))
        report(scores, time.monotonic() - t0)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def report(scores: dict[Path, FileScore], elapsed: float) -> None:
    print(f"\nmutation score ({elapsed:.0f} s): killed + timeouts / tried")
    total = FileScore()
    for path, s in scores.items():
        dead = s.killed + s.timeouts
        pct = 100.0 * dead / s.tried if s.tried else 100.0
        print(f"  {path.relative_to(ROOT)!s:<42} {dead:5d} / {s.tried:<5d} {pct:5.1f} %"
              f"  (timeouts {s.timeouts})")  # fmt: skip
        total.tried += s.tried
        total.killed += dead
    if len(scores) > 1 and total.tried:
        print(f"  {'all':<42} {total.killed:5d} / {total.tried:<5d} "
              f"{100.0 * total.killed / total.tried:5.1f} %")  # fmt: skip
    for path, s in scores.items():
        if not s.survivors:
            continue
        print(f"\nsurvivors in {path.relative_to(ROOT)}:")
        lines = path.read_text().splitlines()
        for m, note in sorted(s.survivors, key=lambda x: (x[0].line, x[0].index)):
            src = lines[m.line - 1].strip() if 0 < m.line <= len(lines) else ""
            extra = f" [{note}]" if note else ""
            print(f"  {path.name}:{m.line}: {m.label}{extra}\n      | {src}")


if __name__ == "__main__":
    main()
