"""Build the optional Cython accelerator; fall back to pure Python if it cannot be built."""

from __future__ import annotations

import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """Build extensions, but never fail the install because of them."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any compiler failure
            print(f"aionetstack: accelerator not built ({exc}); using pure Python", file=sys.stderr)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            print(f"aionetstack: {ext.name} not built ({exc}); using pure Python", file=sys.stderr)


def extensions() -> list[Extension]:
    if os.environ.get("AIONETSTACK_NO_ACCEL") == "1":
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        return []
    ext = Extension(
        "aionetstack._accel",
        ["aionetstack/_accel.pyx"],
        extra_compile_args=["-O3"],
    )
    return list(cythonize([ext], language_level=3, quiet=True))


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
