"""Run a coroutine to completion without an event loop.

Unit tests drive the async client against in-memory transports only, so every
await resolves immediately or yields a bare ``None`` (``asyncio.sleep(0)``).
Driving the coroutine by hand works identically on CPython and in Pyodide under
Node, where ``asyncio.run`` is unavailable (no JSPI stack switching in Node 20).
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Step ``coro`` until it returns; fail if it waits on a real future."""
    while True:
        try:
            yielded = coro.send(None)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        if yielded is not None:
            coro.close()
            raise RuntimeError(
                f"run_sync: coroutine awaited a real future ({yielded!r}); "
                "unit tests must use in-memory transports and injected sleeps"
            )
