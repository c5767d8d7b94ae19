"""The unit suite knows which runtime it runs on (it runs on two)."""

from __future__ import annotations

import sys


def test_runtime_is_cpython_or_pyodide() -> None:
    if sys.platform == "emscripten":
        assert sys.version_info[:2] == (3, 14)
    else:
        assert sys.implementation.name == "cpython"
        assert sys.version_info >= (3, 11)
