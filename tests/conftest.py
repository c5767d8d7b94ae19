from __future__ import annotations

import sys
from pathlib import Path

# Make `py/` and the repo root importable whatever the runner (pytest's own
# `pythonpath` setting is not read by the Pyodide runner's in-process pytest).
_ROOT = Path(__file__).resolve().parents[1]
for entry in (str(_ROOT / "py"), str(_ROOT)):
    if entry not in sys.path:
        sys.path.insert(0, entry)
