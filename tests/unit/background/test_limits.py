"""The rate-limit snapshot store: remembered at once, stored behind the stream, newest last."""

from __future__ import annotations

import json
from collections.abc import Coroutine
from typing import Any

import pytest

from background.chat.limits import LIMITS_KEY, LimitStore
from background.store.storage import MemoryStore, Records
from tests.support.aio import run_sync


class Recording(MemoryStore):
    """Counts the limits written; ``during`` runs inside the first write (a snapshot arriving
    while it is under way); ``fail`` makes the next write fail."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[int] = []
        self.during: Any = None
        self.fail = False

    async def set(self, items: dict[str, str]) -> None:
        if self.fail:
            self.fail = False
            raise OSError("quota")
        self.written.append(json.loads(items[LIMITS_KEY])["limits"]["n"])
        if self.during is not None:
            during, self.during = self.during, None
            during()
        await super().set(items)


def make() -> tuple[LimitStore, Recording, list[Coroutine[Any, Any, None]]]:
    spawned: list[Coroutine[Any, Any, None]] = []
    store = Recording()
    return LimitStore(Records(store), clock_ms=lambda: 1000, spawn=spawned.append), store, spawned


def stored(store: Recording) -> int:
    return int(json.loads(run_sync(store.get([LIMITS_KEY]))[LIMITS_KEY])["limits"]["n"])


def test_a_snapshot_is_known_at_once_and_stored_behind_the_caller() -> None:
    limits, store, spawned = make()
    limits.note({"n": 1})
    assert run_sync(limits.load()) == {"n": 1}  # hello and the queue see it now
    assert store.written == []  # nothing waited on storage
    [writer] = spawned
    run_sync(writer)
    assert stored(store) == 1


def test_snapshots_noted_meanwhile_are_coalesced_and_the_newest_is_stored_last() -> None:
    limits, store, spawned = make()
    limits.note({"n": 1})
    limits.note({"n": 2})  # before the writer ran: replaces 1
    store.during = lambda: (limits.note({"n": 3}), limits.note({"n": 4}))  # while 2 is being written
    assert len(spawned) == 1  # one writer at a time
    run_sync(spawned[0])
    assert store.written == [2, 4]
    assert stored(store) == 4
    limits.note({"n": 5})  # the writer has finished: a new one starts
    assert len(spawned) == 2
    run_sync(spawned[1])
    assert stored(store) == 5


def test_a_failed_write_is_reported_and_the_next_is_stored(capsys: pytest.CaptureFixture[str]) -> None:
    limits, store, spawned = make()
    store.fail = True
    limits.note({"n": 1})
    run_sync(spawned[0])
    assert "could not save rate limits" in capsys.readouterr().out
    assert run_sync(limits.load()) == {"n": 1}
    limits.note({"n": 2})
    run_sync(spawned[1])
    assert stored(store) == 2


def test_a_writer_that_could_not_start_does_not_stop_the_next() -> None:
    limits, store, spawned = make()
    failing = True

    def spawn(coro: Coroutine[Any, Any, None]) -> None:
        if failing:
            coro.close()
            raise RuntimeError("no event loop")
        spawned.append(coro)

    limits._spawn = spawn
    with pytest.raises(RuntimeError):
        limits.note({"n": 1})
    failing = False
    limits.note({"n": 2})
    run_sync(spawned[0])
    assert stored(store) == 2
