"""Load the optional compiled core (``aionetstack._accel``) once for all of ``wire``.

``AIONETSTACK_PURE_PYTHON=1`` in the environment before import forces the
pure-Python fallbacks everywhere (silently). If the extension is absent or
broken, the fallbacks are used and one notice line goes to the ``aionetstack``
logger, once per process: on stderr when logging is not configured (Python's
last-resort handler), routed or silenced like any log record otherwise. It is
not a ``warnings`` warning, so ``python -W error`` does not turn a missing
compiler into an ImportError.
"""

from __future__ import annotations

import logging
import os
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
        logging.getLogger("aionetstack").warning(
            "aionetstack: compiled accelerator unavailable (%s); using pure Python "
            "(set %s=1 to choose it silently)",
            exc,
            PURE_PYTHON_ENV,
        )
        return None
    _module = _accel
    return _module
