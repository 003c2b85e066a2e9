"""Shared helpers for the wire tier (imported by its test modules)."""

from __future__ import annotations

from types import ModuleType

import pytest

from aionetstack.wire._loader import pure_python_forced

# True when this run must use the pure-Python fallbacks (make pytest-pure).
PURE_MODE = pure_python_forced()

# The compiled extension, whether or not this run uses it.
ACCEL_MODULE: ModuleType | None
try:
    from aionetstack import _accel as ACCEL_MODULE
except ImportError:  # pragma: no cover - only without a build
    ACCEL_MODULE = None

requires_accel = pytest.mark.skipif(
    ACCEL_MODULE is None, reason="aionetstack._accel is not built (setup.py build_ext --inplace)"
)
