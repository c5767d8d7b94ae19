"""Persistent storage through a bridge: a key-value store of JSON text, and typed records.

The app never calls ``chrome.storage`` itself: it talks to a :class:`KeyValueStore`
(``chrome.storage.local`` in the browser, see :mod:`background.browser`;
:class:`MemoryStore` in tests). Values are JSON **text** written by us: storing
text instead of nested objects spares Pyodide a deep JS conversion on every write
and lets us notice a corrupted value (it does not parse) instead of receiving a
half-converted object.

On top of that, :class:`Records` reads and writes pydantic models that carry a
``schema`` version. A record that does not parse, does not validate or comes from
a newer SidePy is *reported* (a ``storage_corrupt`` problem the panel shows),
*skipped*, and *left untouched*: the app never crashes on it and never silently
writes over it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from ..untrusted import UntrustedInput, decode

__all__ = [
    "SCHEMA_VERSION",
    "KeyValueStore",
    "MemoryStore",
    "Records",
    "StorageFullError",
    "StorageProblem",
    "text_bytes",
]

MAX_RECORD_CHARS = 64_000_000  # larger than any record the bound lets us write

#: The schema version written into every record; readers accept this or older.
SCHEMA_VERSION = 1

M = TypeVar("M", bound=BaseModel)


class KeyValueStore(Protocol):
    """Where records live: ``chrome.storage.local`` in the browser, memory in tests."""

    async def get(self, keys: list[str]) -> dict[str, str]:
        """The stored text of each key that exists (missing keys are left out)."""
        ...

    async def set(self, items: dict[str, str]) -> None:
        """Write all ``items`` in one operation; raise :class:`StorageFullError` over quota."""
        ...

    async def remove(self, keys: list[str]) -> None:
        """Delete ``keys`` (missing keys are ignored)."""
        ...

    async def keys(self) -> list[str]:
        """Every stored key (used to rebuild a lost index)."""
        ...

    async def get_bytes_in_use(self, keys: list[str] | None = None) -> int:
        """Bytes used by ``keys`` (all keys when ``None``), as the browser counts them."""
        ...


class StorageFullError(Exception):
    """A write did not fit in the browser's storage quota."""


def text_bytes(key: str, text: str) -> int:
    """The space one stored value takes: key plus the value as JSON (an estimate).

    Chrome counts ``key.length + JSON.stringify(value).length``; for a string
    value that is the text, its quotes and the escapes of ``"`` and ``\\``.
    """
    return len(key) + len(text.encode()) + 2 + text.count('"') + text.count("\\")


class MemoryStore:
    """:class:`KeyValueStore` in a dict: the test double, and the fallback outside a browser.

    ``quota`` (bytes) makes writes beyond it fail like ``chrome.storage`` does.
    """

    def __init__(self, quota: int | None = None) -> None:
        self.data: dict[str, str] = {}
        self.quota = quota
        self.writes = 0  # set() calls, for tests that count persistence steps

    async def get(self, keys: list[str]) -> dict[str, str]:
        return {key: self.data[key] for key in keys if key in self.data}

    async def set(self, items: dict[str, str]) -> None:
        for key, value in items.items():
            if not isinstance(value, str):  # the browser store only ever gets text
                raise TypeError(f"{key}: stored values are JSON text, got {type(value).__name__}")
        if self.quota is not None:
            after = {**self.data, **items}
            if sum(text_bytes(k, v) for k, v in after.items()) > self.quota:
                raise StorageFullError("QUOTA_BYTES quota exceeded")
        self.data.update(items)
        self.writes += 1

    async def remove(self, keys: list[str]) -> None:
        for key in keys:
            self.data.pop(key, None)

    async def keys(self) -> list[str]:
        return list(self.data)

    async def get_bytes_in_use(self, keys: list[str] | None = None) -> int:
        chosen = self.data if keys is None else {k: self.data[k] for k in keys if k in self.data}
        return sum(text_bytes(k, v) for k, v in chosen.items())


class StorageProblem(Exception):
    """A stored record that could not be read; ``info()`` is the ``storage_corrupt`` ErrorInfo."""

    def __init__(self, key: str, message: str, detail: str) -> None:
        super().__init__(message)
        self.key = key
        self.detail = detail

    def info(self) -> dict[str, Any]:
        """``{kind: "storage_corrupt", message, retryable: false, fields: {key, detail}}``."""
        return {
            "kind": "storage_corrupt",
            "message": str(self),
            "retryable": False,
            "fields": {"key": self.key, "detail": self.detail},
        }


class Records:
    """Typed access to a :class:`KeyValueStore`: pydantic models with a schema version.

    Problems met while reading are raised as :class:`StorageProblem` *and* kept
    in :attr:`problems` (one per key) so ``hello`` can show them until the record
    is deleted or rewritten by the user's own action.
    """

    def __init__(self, store: KeyValueStore) -> None:
        self.store = store
        self.problems: dict[str, StorageProblem] = {}

    async def read(self, key: str, model: type[M], what: str) -> M | None:
        """The record at ``key``, ``None`` if absent; raises :class:`StorageProblem`."""
        found = await self.store.get([key])
        if key not in found:
            return None
        return self.parse(key, found[key], model, what)

    def parse(self, key: str, text: str, model: type[M], what: str) -> M:
        """Validate one stored text; record and raise a :class:`StorageProblem` if it fails."""
        try:
            data = decode(text, max_chars=MAX_RECORD_CHARS, what="the record")
        except UntrustedInput as exc:
            raise self._problem(key, what, str(exc)) from None
        if not isinstance(data, dict):
            raise self._problem(key, what, "not a JSON object")
        schema = data.get("schema")
        if isinstance(schema, int) and schema > SCHEMA_VERSION:
            problem = StorageProblem(
                key,
                f"{what} was saved by a newer version of SidePy (schema {schema}); "
                "update SidePy to open it. It was left untouched.",
                f"schema {schema} > {SCHEMA_VERSION}",
            )
            self.problems[key] = problem
            raise problem
        try:
            record = model.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "record"
            raise self._problem(key, what, f"{where}: {first['msg']}") from None
        self.problems.pop(key, None)
        return record

    async def write(self, items: dict[str, BaseModel | str]) -> dict[str, int]:
        """Write records in one operation; return each key's size in bytes."""
        texts = {
            key: value if isinstance(value, str) else value.model_dump_json(by_alias=True)
            for key, value in items.items()
        }
        await self.store.set(texts)
        for key in texts:
            self.problems.pop(key, None)
        return {key: text_bytes(key, text) for key, text in texts.items()}

    async def remove(self, keys: Iterable[str]) -> None:
        """Delete records (and forget their problems: the user chose to drop them)."""
        keys = list(keys)
        if keys:
            await self.store.remove(keys)
        for key in keys:
            self.problems.pop(key, None)

    def _problem(self, key: str, what: str, detail: str) -> StorageProblem:
        problem = StorageProblem(
            key,
            f"{what} could not be read: the saved data is damaged ({detail}). "
            "It was left untouched; you can delete it.",
            detail,
        )
        self.problems[key] = problem
        print(f"background: storage problem in {key}: {detail}")
        return problem
