"""Run the unit suite inside Pyodide under Node: fetch + verify wheels, then run.mjs.

    python tests/pyodide/run.py [PYTEST_ARGS...]     (default: tests/unit -q)
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
        print("tests/pyodide/run.py: error: node was not found (install Node.js 20+)", file=sys.stderr)
        return 1
    try:
        build.ensure_node_modules()
        lock = build.load_lock()
        wheels = build.fetch_wheels("worker", lock) + build.fetch_wheels("pyodide-tests", lock)
    except build.BuildError as exc:
        print(f"tests/pyodide/run.py: error: {exc}", file=sys.stderr)
        return 1
    args = argv or ["tests/unit", "-q"]
    cmd = [node, str(REPO / "tests/pyodide/run.mjs"), *map(str, wheels), "--", *args]
    return subprocess.call(cmd, cwd=REPO)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
