"""The latest rate-limit snapshot: kept in memory, stored as the ``limits`` record.

A turn reports every snapshot the server sends; ``hello`` shows the last one, and
the request queue computes its holds from it (:mod:`background.chat.scheduler`).

A snapshot arrives with a response's headers, before its first event: storing it
must not hold the stream (a storage write is a few milliseconds the user would wait
for the first words). ``note`` remembers it at once and one writer stores the latest
behind the stream; snapshots that arrive while a write is under way are coalesced.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from ..store.records import LimitsRecord
from ..store.storage import Records, StorageProblem

__all__ = ["LIMITS_KEY", "LimitStore"]

LIMITS_KEY = "limits"


class LimitStore:
    """The ``limits`` record, read once per worker and rewritten with every snapshot."""

    def __init__(self, records: Records, *, clock_ms: Callable[[], int],
                 spawn: Callable[[Coroutine[Any, Any, None]], object] = asyncio.ensure_future) -> None:
        self.records = records
        self._clock_ms = clock_ms
        self._spawn = spawn
        self._limits: dict[str, Any] | None = None
        self._loaded = False
        self._pending: LimitsRecord | None = None  # the newest snapshot not yet handed to storage
        self._writing = False

    def note(self, limits: dict[str, Any]) -> None:
        """Remember a new snapshot now and store it behind the caller (never fails a turn:
        limits are a nicety)."""
        self._limits = limits
        self._loaded = True
        self._pending = LimitsRecord(at=self._clock_ms(), limits=limits)
        if not self._writing:
            self._writing = True
            try:
                self._spawn(self._write())
            except BaseException:
                self._writing = False  # no writer started: the next snapshot starts one
                raise

    async def _write(self) -> None:
        # One writer: two writes in flight could land out of order and leave an older
        # snapshot stored; the newest noted one is always the last written.
        try:
            while self._pending is not None:
                record, self._pending = self._pending, None
                try:
                    await self.records.write({LIMITS_KEY: record})
                except Exception as exc:
                    print(f"background: could not save rate limits: {exc}")
        finally:
            self._writing = False

    async def stored(self) -> LimitsRecord | None:
        """The stored record (with its time), or None when absent or damaged."""
        try:
            return await self.records.read(LIMITS_KEY, LimitsRecord, "The saved rate limits")
        except StorageProblem:
            return None

    async def load(self) -> dict[str, Any] | None:
        """The latest snapshot: this worker's, else the stored one."""
        if not self._loaded:
            self._loaded = True
            record = await self.stored()
            if record is not None and self._limits is None:
                self._limits = record.limits
        return self._limits
