"""What the request being handled knows about itself (its port, work to run after its reply),
and how background work is started.

One worker handles many requests at once (each is a task), so the request's own
state lives in context variables: set by :class:`~background.app.App` around each
dispatch, read by whoever needs it while the handler runs.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextvars import ContextVar
from typing import Any

__all__ = ["RequestContext", "Tasks"]

Spawn = Callable[[Coroutine[Any, Any, None]], object]

_PORT: ContextVar[int | None] = ContextVar("sidepy_port", default=None)
_AFTER: ContextVar[list[Callable[[], None]] | None] = ContextVar("sidepy_after", default=None)


class RequestContext:
    """The port of the request being handled, and the callables to run once its reply is posted."""

    def port(self) -> int | None:
        """The port the request came from (``None``: a one-shot message, or no request)."""
        return _PORT.get()

    def after_reply(self, start: Callable[[], None]) -> None:
        """Run ``start`` once the current reply is posted (at once outside a request)."""
        later = _AFTER.get()
        if later is None:
            start()
        else:
            later.append(start)

    @contextlib.contextmanager
    def handling(self, port_id: int | None) -> Iterator[list[Callable[[], None]]]:
        """Around one dispatch: yields the list of what to run after the reply."""
        later: list[Callable[[], None]] = []
        port, after = _PORT.set(port_id), _AFTER.set(later)
        try:
            yield later
        finally:
            _AFTER.reset(after)
            _PORT.reset(port)


class Tasks:
    """Starts background work; a failure is logged (scrubbed), never raised into the worker."""

    def __init__(self, spawn: Spawn, scrub: Callable[[str], str]) -> None:
        self.spawn = spawn
        self._scrub = scrub

    def guarded(self, work: Awaitable[None]) -> None:
        """Run ``work`` as a task that logs its failure instead of raising."""
        self.spawn(self._guard(work))

    async def _guard(self, work: Awaitable[None]) -> None:
        try:
            await work
        except Exception as exc:  # background work must log, not take the worker down
            print(f"background: task failed: {self._scrub(repr(exc))}", file=sys.stderr)
