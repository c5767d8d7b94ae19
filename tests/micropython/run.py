"""Run the panel's unit tests inside MicroPython 1.27 (WebAssembly, as shipped) under Node.

    python tests/micropython/run.py [TEST_FILE[::TEST_NAME]...]   (default: tests/unit/panel/test_*.py)

The tests run with tests/micropython/runner.py (no pytest on MicroPython): plain
``test_*`` functions and ``assert`` only.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import build  # noqa: E402  (the repo root is not on sys.path by default)


def main(argv: list[str]) -> int:
    node = shutil.which("node")
    if node is None:
        print("tests/micropython/run.py: error: node was not found (install Node.js 20+)", file=sys.stderr)
        return 1
    try:
        build.ensure_node_modules()
    except build.BuildError as exc:
        print(f"tests/micropython/run.py: error: {exc}", file=sys.stderr)
        return 1
    # Default: every panel test file. Given paths are relative to the caller's folder, as with pytest.
    tests = argv or [str(p) for p in sorted((REPO / "tests/unit/panel").glob("test_*.py"))]
    return subprocess.call([node, str(REPO / "tests/micropython/run.mjs"), *tests])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
