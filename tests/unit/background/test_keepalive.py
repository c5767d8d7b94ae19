"""The keep-alive pings Chrome every interval while (and only while) work is held."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from background.keepalive import KEEPALIVE_INTERVAL_S, KeepAlive
from tests.support.aio import run_sync


class Loop:
    """Collects spawned coroutines so a test can drive them by hand."""

    def __init__(self) -> None:
        self.spawned: list[Coroutine[Any, Any, None]] = []

    def spawn(self, coro: Coroutine[Any, Any, None]) -> Any:
        self.spawned.append(coro)

        class Handle:
            cancelled = False

            def done(self) -> bool:
                return False

            def cancel(self) -> None:
                # asyncio would throw CancelledError at the next await; the
                # pinger must also stop by itself once no hold is left.
                Handle.cancelled = True

        return Handle()


def test_interval_leaves_margin_under_chromes_30_s_idle_limit() -> None:
    assert KEEPALIVE_INTERVAL_S <= 20


def test_touches_every_interval_until_released() -> None:
    loop = Loop()
    sleeps: list[float] = []
    touched: list[int] = []

    async def touch() -> None:
        touched.append(len(sleeps))

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 3:
            keepalive._release()  # the work finishes during the third wait

    keepalive = KeepAlive(touch, interval=20, sleep=sleep, spawn=loop.spawn)
    keepalive._acquire()
    assert keepalive.active and len(loop.spawned) == 1
    run_sync(loop.spawned[0])
    assert sleeps == [20, 20, 20]
    assert touched == [1, 2]  # no ping after the last hold was released
    assert keepalive.touches == 2 and not keepalive.active


def test_nested_holds_share_one_pinger() -> None:
    loop = Loop()

    async def touch() -> None:
        pass

    keepalive = KeepAlive(touch, spawn=loop.spawn)

    async def work() -> None:
        async with keepalive.hold():
            async with keepalive.hold():
                assert keepalive.active
            assert keepalive.active
        assert not keepalive.active

    run_sync(work())
    assert len(loop.spawned) == 1
    loop.spawned[0].close()


def test_a_failing_ping_does_not_stop_the_pinger() -> None:
    loop = Loop()
    calls: list[int] = []

    async def touch() -> None:
        calls.append(1)
        raise RuntimeError("extension context invalidated")

    async def sleep(seconds: float) -> None:
        if len(calls) == 2:
            keepalive._release()

    keepalive = KeepAlive(touch, sleep=sleep, spawn=loop.spawn)
    keepalive._acquire()
    run_sync(loop.spawned[0])
    assert len(calls) == 2 and keepalive.touches == 0
