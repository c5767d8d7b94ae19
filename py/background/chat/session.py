"""A panel's session: ``hello``, everything a panel needs to (re)build its view from scratch.

A panel gets ``hello`` pushed when its port connects (and a pending context-menu
selection after it), and again when it asks; either way the request queue is
resumed, since a restarted worker drains what waited in storage.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..attachments.store import AttachmentLibrary
from ..page.selection import Selections
from ..ports import Ports
from ..protocol import PROTOCOL_VERSION, Hello, Request, reply
from ..settings.view import SettingsViews
from ..store.conversations import ConversationStore
from ..store.records import conversation_view
from ..store.storage import StorageProblem
from .limits import LimitStore
from .scheduler import Scheduler

__all__ = ["PanelSession"]

Message = dict[str, Any]


class PanelSession:
    """``hello`` and a panel port's greeting.

    Args:
        boot_info: the worker's boot record (how and how fast Python started).
        port: the port of the request being handled.
        after_reply: runs a callable once the current reply is posted.
        spawn_guarded: runs a coroutine as a task that logs its failure.
    """

    def __init__(self, conversations: ConversationStore, views: SettingsViews, scheduler: Scheduler,
                 limits: LimitStore, ports: Ports, selections: Selections, *, version: str,
                 boot_info: Callable[[], dict[str, object]], port: Callable[[], int | None],
                 after_reply: Callable[[Callable[[], None]], None],
                 spawn_guarded: Callable[[Awaitable[None]], None],
                 attachments: AttachmentLibrary | None = None) -> None:
        self.conversations = conversations
        self.attachments = attachments
        self.views = views
        self.scheduler = scheduler
        self.limits = limits
        self.ports = ports
        self.selections = selections
        self.version = version
        self._boot_info = boot_info
        self._port = port
        self._after_reply = after_reply
        self._spawn_guarded = spawn_guarded

    def handlers(self) -> dict[str, Callable[[Request], Awaitable[Message]]]:
        return {"hello": self.hello}

    async def greet(self, port_id: int) -> None:
        """A panel's port connected: ``hello``, then the selection a context-menu click brought."""
        self.ports.post(port_id, await self.hello_message(None, None, port_id))
        selection = self.selections.take()  # the panel a context-menu click is opening
        if selection is not None:
            self.ports.post(port_id, selection)
        await self.scheduler.resume()  # a restarted worker drains what waited in storage

    async def hello(self, request: Request) -> Message:
        """``hello``: the panel (re)connects and says which conversation it shows."""
        assert isinstance(request, Hello)
        self._after_reply(lambda: self._spawn_guarded(self.scheduler.resume()))
        return await self.hello_message(request, request.conversation_id, self._port())

    async def hello_message(self, request: Request | None, conversation_id: str | None,
                            port_id: int | None) -> Message:
        conversation = None
        try:
            if conversation_id is not None:
                conversation = await self.conversations.get(conversation_id)
            else:
                conversation = await self.conversations.latest()
        except StorageProblem:
            conversation = None  # reported in storage.problems
        message = reply(
            "hello", request, v=PROTOCOL_VERSION, version=self.version, boot=self._boot_info(),
            settings=await self.views.view(), conversations=await self.conversations.summaries(),
            storage=await self.conversations.storage_info(),
        )
        shown = conversation.id if conversation is not None else conversation_id
        if shown is not None:
            self.ports.show(port_id, shown)
        if conversation is not None:
            live = self.scheduler.live(conversation.id)
            thumbs = await self.attachments.thumbs(conversation.id) if self.attachments is not None else None
            message["active"] = conversation_view(conversation, live, thumbs)
        limits = await self.limits.load()
        if limits is not None:
            message["limits"] = limits
        await self.scheduler.load()
        message["queue"] = self.scheduler.state()
        return message
