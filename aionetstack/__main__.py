"""``python -m aionetstack``: the same command line as the ``aionetstack`` script."""

from __future__ import annotations

import sys

from aionetstack.cli import main

if __name__ == "__main__":
    sys.exit(main())
