"""background.preload: what the worker's memory snapshot holds (extension/boot.js)."""

from __future__ import annotations

import sys

from background import preload


def test_every_listed_module_imports_and_load_reports_them() -> None:
    assert preload.load() == [*preload.MODULES, *preload.DEV_MODULES]  # the checkout has background.dev
    assert all(name in sys.modules for name in preload.MODULES)


def test_the_app_entry_point_and_what_main_imports_are_listed() -> None:
    # main() imports these inside the function: without them in the snapshot,
    # every wake would import them again (the e2e wake test checks the result).
    for name in ("background.main", "background.browser", "background.vault.handlers",
                 "background.vault.webcrypto", "modelclient", "pydantic"):
        assert name in preload.MODULES


def test_late_imports_are_the_modules_imported_since_load() -> None:
    preload.load()
    assert preload.late_imports() == []
    sys.modules["sidepy_test_late_module"] = sys  # stands in for a lazy import
    try:
        assert preload.late_imports() == ["sidepy_test_late_module"]
    finally:
        del sys.modules["sidepy_test_late_module"]
