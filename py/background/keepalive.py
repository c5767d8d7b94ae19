"""Keep the service worker alive while work is in flight.

Chrome stops an idle extension service worker after 30 s, and bytes arriving on
a streaming ``fetch`` do not count as activity (measured: a stream with an event
every 5 s was cut at exactly 30.0 s). Calling any extension API resets the idle
timer, so while at least one hold is active we call a cheap one every
``interval`` seconds (20 s leaves a 10 s margin).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any

from .host import Sleep

__all__ = ["KEEPALIVE_INTERVAL_S", "KeepAlive"]

KEEPALIVE_INTERVAL_S = 20.0


class KeepAlive:
    """Reference-counted keep-alive: ``async with keepalive.hold(): ...``."""

    def __init__(
        self,
        touch: Callable[[], Awaitable[None]],
        *,
        interval: float = KEEPALIVE_INTERVAL_S,
        sleep: Sleep = asyncio.sleep,
        spawn: Callable[[Coroutine[Any, Any, None]], asyncio.Future[None]] = asyncio.ensure_future,
    ) -> None:
        self._touch = touch
        self._interval = interval
        self._sleep = sleep
        self._spawn = spawn
        self._holds = 0
        self._task: asyncio.Future[None] | None = None
        self.touches = 0  # how many times the extension API was called (for tests/diagnostics)

    @property
    def active(self) -> bool:
        return self._holds > 0

    def hold(self) -> _Hold:
        return _Hold(self)

    def _acquire(self) -> None:
        self._holds += 1
        if self._task is None or self._task.done():
            self._task = self._spawn(self._run())

    def _release(self) -> None:
        self._holds -= 1
        if self._holds == 0 and self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        while self._holds > 0:
            await self._sleep(self._interval)
            if self._holds == 0:
                break
            try:
                await self._touch()
                self.touches += 1
            except Exception as exc:  # a failed ping must not end the work it protects
                print(f"keepalive: extension API call failed: {exc}")


class _Hold:
    def __init__(self, owner: KeepAlive) -> None:
        self._owner = owner

    async def __aenter__(self) -> None:
        self._owner._acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._owner._release()
