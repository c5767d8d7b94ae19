"""What the service worker imports before it takes its memory snapshot.

On a cold boot, ``extension/boot.js`` writes site-packages, calls :func:`load`,
and snapshots the heap before :func:`background.main.main` binds any JS object.
Every wake after that restores the snapshot, so the modules loaded here cost the
first message nothing; anything not listed stays lazy and is imported (from the
site-packages files written again on every wake) when first used.
:func:`late_imports` tells what a restored worker had to import anyway: the
boot record carries it, and the e2e tests check it holds none of our code.

Keep this to what the first message needs: every module makes the snapshot,
which is read on every wake, bigger.
"""

from __future__ import annotations

import importlib
import sys

__all__ = ["MODULES", "late_imports", "load"]

# The first message after a wake: main() builds the app (background.main and
# what it imports, at the top or inside main()), and a chat turn builds pydantic
# requests and streams them through modelclient's browser transport.
MODULES: tuple[str, ...] = (
    "asyncio",
    "json",
    "pydantic",
    "pydantic_core",
    "modelclient",
    "background.main",
    "background.browser",
    "background.vault.handlers",
    "background.vault.webcrypto",
)

# The developer build's test hooks (build.py --dev): main() imports them there; a
# release build does not ship them, so they are loaded only where they exist.
DEV_MODULES: tuple[str, ...] = ("background.dev.diag",)

_at_snapshot: frozenset[str] | None = None


def load() -> list[str]:
    """Import :data:`MODULES` and run pydantic once; return the module names."""
    global _at_snapshot
    for name in MODULES:
        importlib.import_module(name)
    loaded = list(MODULES)
    for name in DEV_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError:
            continue  # a release build
        loaded.append(name)
    _warm_pydantic()
    _at_snapshot = frozenset(sys.modules)
    return loaded


def late_imports() -> list[str] | None:
    """Modules imported since :func:`load` (None when it never ran: no snapshot)."""
    if _at_snapshot is None:
        return None
    return sorted(set(sys.modules) - _at_snapshot)


def _warm_pydantic() -> None:
    # The first model validated and serialized pulls in pydantic's lazily imported
    # internals; doing it here puts them in the snapshot too.
    from pydantic import BaseModel

    class _Warm(BaseModel):
        name: str
        tags: list[str] = []

    _Warm.model_validate_json('{"name": "warm", "tags": ["a"]}').model_dump_json()
