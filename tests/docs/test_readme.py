"""README.md runs as written: every ```sh and ```python block is run or checked.

* A ``sh`` block runs with ``sh -e`` from a copy of the checkout's layout
  (``docs_support.checkout_view``), with a timeout; it must exit 0, print no
  traceback or "not found", and leave no process behind (checked by PID).
  A block that uses ``sudo`` or ``unshare`` needs root: it runs inside a
  private network namespace (``unshare --net``), and skips without root like
  the TUN tier (fails under ``AIONETSTACK_REQUIRE_TUN=1``).
* A ``python`` block that is a complete program (it compiles as a module and
  every global name it reads is bound in it or a builtin) runs in a
  subprocess. One that creates a ``TunLink`` runs in a namespace where the
  kernel serves ``/etc`` over HTTP on port 8000 (the peer the README's next
  block starts), as root only.
* Any other ``python`` block is a fragment: it must compile (top-level
  ``await`` allowed), and every ``aionetstack.NAME`` it calls, and every method
  it calls on a variable made by one of them, must exist and accept the
  keyword arguments and the number of positional arguments shown.
* A block preceded by ``<!-- readme-test: skip (reason) -->`` is not run; the
  reason is required. Any other ``readme-test`` comment is an error.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from docs_support import ROOT, assert_clean_success, checkout_view, require_netns, run_script

README = ROOT / "README.md"
MARKER = re.compile(r"<!--\s*readme-test:\s*skip\s*\(([^)]*\S[^)]*)\)\s*-->")
ANY_MARKER = re.compile(r"<!--\s*readme-test")
FENCE = re.compile(r"^```(\w*)\s*$")


@dataclass
class Block:
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    skip_reason: str | None

    @property
    def id(self) -> str:
        return f"README.md:{self.line}-{self.lang}"


def parse_blocks(markdown: str) -> list[Block]:
    """The fenced blocks of ``markdown`` with their skip markers.

    Raises ValueError on a ``readme-test`` comment that is not a well-formed
    skip marker directly above a fence.
    """
    lines = markdown.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if ANY_MARKER.search(line):
            match = MARKER.fullmatch(line.strip())
            if match is None:
                raise ValueError(f"line {i + 1}: malformed marker (needs a reason): {line!r}")
            if i + 1 >= len(lines) or not lines[i + 1].startswith("```"):
                raise ValueError(f"line {i + 1}: a readme-test marker must precede a ``` fence")
        fence = FENCE.match(line)
        if fence is None:
            i += 1
            continue
        end = i + 1
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        if end == len(lines):
            raise ValueError(f"line {i + 1}: unterminated ``` block")
        previous = MARKER.fullmatch(lines[i - 1].strip()) if i else None
        blocks.append(
            Block(
                line=i + 1,
                lang=fence.group(1),
                text="\n".join(lines[i + 1 : end]) + "\n",
                skip_reason=previous.group(1).strip() if previous else None,
            )
        )
        i = end + 1
    return blocks


def _blocks() -> list[Block]:
    return [b for b in parse_blocks(README.read_text()) if b.lang in ("sh", "python")]


# --- classification ------------------------------------------------------------


def is_program(source: str) -> bool:
    """Compiles as a module, and every global name it reads is bound in it or a builtin."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    bound = set(dir(builtins))
    read: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return read <= bound


def needs_root(block: Block) -> bool:
    if block.lang == "sh":
        return bool(re.search(r"\b(sudo|unshare)\b", block.text))
    return "TunLink" in block.text


# --- fragment checks -----------------------------------------------------------


def _resolve(node: ast.expr) -> Any:
    """``aionetstack.a.b`` -> the object, or None for anything else."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not (isinstance(node, ast.Name) and node.id == "aionetstack"):
        return None
    obj: Any = importlib.import_module("aionetstack")
    for name in reversed(parts):
        assert hasattr(obj, name), f"aionetstack has no {name!r} (in {ast.unparse(node)})"
        obj = getattr(obj, name)
    return obj


def _check_call(target: Any, call: ast.Call, bound_self: bool) -> None:
    if any(isinstance(a, ast.Starred) for a in call.args) or any(
        k.arg is None for k in call.keywords
    ):
        return
    signature = inspect.signature(target)
    positional = [None] * (len(call.args) + (1 if bound_self else 0))
    try:
        signature.bind_partial(*positional, **{k.arg: None for k in call.keywords if k.arg})
    except TypeError as exc:
        raise AssertionError(f"{ast.unparse(call)}: {exc} (signature {signature})") from None


def check_fragment(source: str) -> int:
    """Compile ``source`` and check its calls into aionetstack; return how many were checked."""
    flags = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    tree = compile(source, "README.md", "exec", flags=flags)
    compile(tree, "README.md", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    kinds: dict[str, type] = {}  # variable -> the class an aionetstack call made it
    checked = 0

    def note(target: ast.expr | None, value: ast.expr) -> None:
        if isinstance(target, ast.Name) and isinstance(value, ast.Call):
            made = _resolve(value.func)
            if inspect.isclass(made):
                kinds[target.id] = made

    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            note(node.targets[0], node.value)
        elif isinstance(node, ast.withitem):
            note(node.optional_vars, node.context_expr)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        target = _resolve(func)
        if target is not None:
            _check_call(target, node, bound_self=False)
            checked += 1
        elif (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id in kinds
        ):
            cls = kinds[func.value.id]
            assert hasattr(cls, func.attr), f"{cls.__name__} has no method {func.attr!r}"
            _check_call(getattr(cls, func.attr), node, bound_self=True)
            checked += 1
    return checked


# --- the tests -------------------------------------------------------------------

TUN_PEER = (
    ".venv/bin/python -m http.server 8000 --directory /etc >/dev/null 2>&1 &\n"
    "peer=$!\n"
    "sleep 1\n"
    ".venv/bin/python .block.py\n"
    'kill "$peer"\n'
)


@pytest.mark.parametrize("block", _blocks(), ids=lambda b: b.id)
def test_readme_block(block: Block, tmp_path: Path) -> None:
    if block.skip_reason is not None:
        pytest.skip(f"marked in README.md: {block.skip_reason}")
    if block.lang == "python" and not is_program(block.text):
        assert check_fragment(block.text) > 0 or "aionetstack" not in block.text
        return
    if needs_root(block):
        require_netns()
    view = checkout_view(tmp_path)
    if block.lang == "python":
        (view / ".block.py").write_text(block.text)
        script = TUN_PEER if needs_root(block) else ".venv/bin/python .block.py\n"
    else:
        script = block.text
    outcome = run_script(script, view, netns=needs_root(block))
    assert_clean_success(outcome)
    if block.lang == "python" and needs_root(block):
        assert "200 OK" in outcome.stdout, outcome.describe()


# --- the checker checks itself -------------------------------------------------------


def test_markers_need_a_reason_and_a_block() -> None:
    ok = parse_blocks("<!-- readme-test: skip (needs a proxy) -->\n```sh\nfalse\n```\n")
    assert ok[0].skip_reason == "needs a proxy"
    with pytest.raises(ValueError, match="reason"):
        parse_blocks("<!-- readme-test: skip -->\n```sh\nfalse\n```\n")
    with pytest.raises(ValueError, match="reason"):
        parse_blocks("<!-- readme-test: skip () -->\n```sh\nfalse\n```\n")
    with pytest.raises(ValueError, match="precede"):
        parse_blocks("<!-- readme-test: skip (x) -->\n\ntext\n```sh\nfalse\n```\n")


def test_program_or_fragment() -> None:
    assert is_program("import asyncio\nasync def f() -> None: ...\nasyncio.run(f())\n")
    assert not is_program("a, b = aionetstack.memory_link_pair()\n")
    assert not is_program("async with x:\n    pass\n")


def test_fragment_check_catches_rot() -> None:
    assert check_fragment("s = aionetstack.Stack(link, address='198.18.0.2/24')\n") == 1
    with pytest.raises(AssertionError, match="no 'Stak'"):
        check_fragment("s = aionetstack.Stak(link)\n")
    with pytest.raises(AssertionError, match="unexpected keyword"):
        check_fragment("a, b = aionetstack.memory_link_pair(lossy=0.1)\n")
    with pytest.raises(AssertionError, match="no method 'open_conection'"):
        check_fragment("s = aionetstack.Stack(l, address='x')\nawait s.open_conection(h, p)\n")
    with pytest.raises(AssertionError, match="unexpected keyword"):
        check_fragment(
            "async with aionetstack.Stack(l, address='x') as s:\n    await s.ping(h, tmo=1)\n"
        )


def test_blocks_are_found() -> None:
    langs = [b.lang for b in _blocks()]
    assert "sh" in langs and "python" in langs, langs


def test_a_process_left_behind_is_found_killed_and_reported(tmp_path: Path) -> None:
    outcome = run_script("sleep 300 &\necho started\n", tmp_path, netns=False, timeout=30)
    assert outcome.returncode == 0 and outcome.stdout == "started\n"
    assert len(outcome.leftovers) == 1 and "sleep 300" in outcome.leftovers[0]
    pid = int(outcome.leftovers[0].split(":")[0])
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
    with pytest.raises(AssertionError, match="left running"):
        assert_clean_success(outcome)
