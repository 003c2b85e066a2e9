"""Build the API reference from the docstrings with pdoc: ``make docs``.

pdoc walks a package's submodules unless the package's ``__all__`` leaves
them out (``aionetstack``, ``aionetstack.core``... export names, not modules):
those modules are named here explicitly, so every public module (no ``_`` in
its dotted name) gets a page. Run with ``python -W error`` so that any pdoc
warning (a name that does not resolve, a bad docstring link) fails the build.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import warnings
from pathlib import Path

import pdoc

import aionetstack


def public_modules() -> list[str]:
    names = ["aionetstack"]
    for info in pkgutil.walk_packages(aionetstack.__path__, "aionetstack."):
        if "._" in info.name:
            continue
        parent, _, leaf = info.name.rpartition(".")
        exported = getattr(importlib.import_module(parent), "__all__", None)
        if exported is not None and leaf not in exported:
            names.append(info.name)  # pdoc would not walk into it from its parent
    return names


def main(argv: list[str]) -> None:
    out = Path(argv[1] if len(argv) > 1 else "build/docs")
    pdoc.render.configure(docformat="restructuredtext")
    # pdoc evaluates a method's annotations in its class namespace, where a slot
    # named ``bytes`` (core/tcp/reassembly.py, Reassembler) shadows the builtin:
    # a pdoc false positive on that one annotation, not a docstring problem.
    warnings.filterwarnings(
        "ignore",
        message=r"Error parsing type annotation bytes \| memoryview for "
        r"aionetstack\.core\.tcp\.reassembly\.Reassembler\.add: .*member_descriptor",
        category=UserWarning,
    )
    pdoc.pdoc(*public_modules(), output_directory=out)
    print(f"aionetstack: API reference in {out / 'index.html'}")


if __name__ == "__main__":
    main(sys.argv)
