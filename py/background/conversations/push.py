"""``conv.list`` pushed to every panel when the list changes (coalesced per burst of changes)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..store.conversations import ConversationStore

__all__ = ["ListPush"]


class ListPush:
    """The conversation store's ``on_list_change``: one push per burst, only with panels open.

    Args:
        broadcast: posts a message to every panel.
        has_panels: whether any panel is connected.
        spawn_guarded: runs a coroutine as a task that logs its failure.
    """

    def __init__(self, broadcast: Callable[[dict[str, Any]], None], *, has_panels: Callable[[], bool],
                 spawn_guarded: Callable[[Awaitable[None]], None]) -> None:
        self._broadcast = broadcast
        self._has_panels = has_panels
        self._spawn_guarded = spawn_guarded
        self._pending = False

    def changed(self, store: ConversationStore) -> None:
        if self._pending or not self._has_panels():
            return
        self._pending = True

        async def push() -> None:
            self._pending = False
            self._broadcast({"type": "conv.list", "conversations": await store.summaries()})

        self._spawn_guarded(push())
