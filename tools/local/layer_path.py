"""Put the layer's package on ``sys.path`` for tools run with ``python -m``.

In Lambda the layer is mounted under ``/opt/python``; pytest adds
``layers/common`` through ``pyproject.toml``. A tool started from the
repository root has neither, so importing this module first gives it the same
``miro_oauth`` the handlers use.
"""

from __future__ import annotations

import sys
from pathlib import Path

LAYER = Path(__file__).resolve().parents[2] / "layers" / "common"

if str(LAYER) not in sys.path:
    sys.path.insert(0, str(LAYER))
