"""The latest rate-limit snapshot: kept in memory, stored as the ``limits`` record.

A turn reports every snapshot the server sends; ``hello`` shows the last one, and
the request queue computes its holds from it (:mod:`background.chat.scheduler`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..store.records import LimitsRecord
from ..store.storage import Records, StorageProblem

__all__ = ["LIMITS_KEY", "LimitStore"]

LIMITS_KEY = "limits"


class LimitStore:
    """The ``limits`` record, read once per worker and rewritten with every snapshot."""

    def __init__(self, records: Records, *, clock_ms: Callable[[], int]) -> None:
        self.records = records
        self._clock_ms = clock_ms
        self._limits: dict[str, Any] | None = None
        self._loaded = False

    async def save(self, limits: dict[str, Any]) -> None:
        """Remember and store a new snapshot (never fails a turn: limits are a nicety)."""
        self._limits = limits
        self._loaded = True
        try:
            await self.records.write({LIMITS_KEY: LimitsRecord(at=self._clock_ms(), limits=limits)})
        except Exception as exc:
            print(f"background: could not save rate limits: {exc}")

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
