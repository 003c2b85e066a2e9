"""Load the optional compiled core (``aionetstack._accel``) once for all of ``wire``.

``AIONETSTACK_PURE_PYTHON=1`` in the environment before import forces the
pure-Python fallbacks everywhere. If the extension is absent or broken, one
warning line is emitted (once per process) and the fallbacks are used.
"""

from __future__ import annotations

import os
import warnings
from types import ModuleType

PURE_PYTHON_ENV = "AIONETSTACK_PURE_PYTHON"

_loaded = False
_module: ModuleType | None = None


def pure_python_forced() -> bool:
    """True when the environment asks for the pure-Python implementations."""
    return os.environ.get(PURE_PYTHON_ENV, "") not in ("", "0")


def load_accel() -> ModuleType | None:
    """Return the compiled module, or None when it is disabled or unavailable."""
    global _loaded, _module
    if _loaded:
        return _module
    _loaded = True
    if pure_python_forced():
        return None
    try:
        from aionetstack import _accel
    except ImportError as exc:
        warnings.warn(
            f"aionetstack: compiled accelerator unavailable ({exc}); using pure Python",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    _module = _accel
    return _module
