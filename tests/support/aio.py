"""Run a coroutine to completion without an event loop (or on a plain one: :func:`run_loop`).

Unit tests drive the async client against in-memory transports only, so every
await resolves immediately or yields a bare ``None`` (``asyncio.sleep(0)``).
Driving the coroutine by hand works identically on CPython and in Pyodide under
Node, where ``asyncio.run`` is unavailable (no JSPI stack switching in Node 20).
"""

from __future__ import annotations

import asyncio
import time
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


class _NoIO:
    """A selector with nothing to select: waiting is sleeping until the next timer."""

    def select(self, timeout: float | None) -> list[Any]:
        if timeout:
            time.sleep(timeout)
        return []


class _PlainLoop(asyncio.BaseEventLoop):
    """An event loop without IO: tasks, futures, locks and timers, on CPython and in Pyodide
    under Node (whose own loop cannot be run to completion from synchronous code)."""

    def __init__(self) -> None:
        super().__init__()
        self._selector = _NoIO()

    def _process_events(self, event_list: list[Any]) -> None:
        return None

    def _write_to_self(self) -> None:
        return None


def run_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on a real (IO-less) event loop: for tests of code that runs tasks side
    by side, waits on locks or times out."""
    loop = _PlainLoop()
    # Pyodide's own loop counts as running all along: step aside for this one meanwhile.
    outer = asyncio.events._get_running_loop()
    asyncio.events._set_running_loop(None)
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()
        asyncio.events._set_running_loop(outer)
