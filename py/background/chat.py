"""Chat requests: send, stop, regenerate, edit — and the turns they start.

The user message is **persisted before** ``chat.accepted`` is returned (with
the assistant placeholder, in one write), and the turn starts only after the
reply has been posted (``after_reply``), so the panel always sees
``chat.accepted`` before ``turn.started``. One turn per conversation at a time:
a second ``chat.send`` while one streams gets a ``busy`` error.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from .conversations import ConversationStore, make_title
from .diag import ProtocolError
from .page_context import prompt_text, sanitize_context
from .protocol import ChatEdit, ChatRegenerate, ChatSend, ChatStop, Request, reply
from .records import PageContext, StoredConversation, StoredMessage, message_view
from .settings import KeySource, SettingsStore
from .storage import StorageFullError, StorageProblem
from .stream_processor import Send
from .turns import Turn, TurnDeps

__all__ = ["ChatService", "new_id", "user_item"]

STORAGE_FULL = (
    "Your message could not be saved: browser storage is full. Delete or export old conversations "
    "to make room."
)


def new_id(prefix: str) -> str:
    """A short random id (``c…`` conversation, ``m…`` message, ``t…`` turn)."""
    return prefix + uuid.uuid4().hex[:20]


def user_item(text: str, context: PageContext | None) -> dict[str, Any]:
    """The user's ``message`` item as sent: the page context first, then what they typed."""
    content = []
    if context is not None:
        content.append({"type": "input_text", "text": prompt_text(context)})
    content.append({"type": "input_text", "text": text})
    return {"type": "message", "role": "user", "content": content}


class ChatService:
    """Handlers of the ``chat.*`` requests and the live turns.

    Args:
        sink: ``sink(conversation_id)`` posts one message to every panel showing it.
        after_reply: schedules a callable to run once the current reply is posted.
    """

    def __init__(self, conversations: ConversationStore, settings: SettingsStore, keys: KeySource,
                 deps: TurnDeps, *, sink: Callable[[str], Send],
                 after_reply: Callable[[Callable[[], None]], None],
                 ids: Callable[[str], str] = new_id) -> None:
        self.conversations = conversations
        self.settings = settings
        self.keys = keys
        self.deps = deps
        self._sink = sink
        self._after_reply = after_reply
        self.ids = ids
        self.turns: dict[str, Turn] = {}

    def live(self, conversation_id: str) -> dict[str, Any] | None:
        """The streaming state of a conversation's turn, if one runs."""
        turn = self.turns.get(conversation_id)
        return turn.live() if turn is not None else None

    async def new_conversation(self, conversation_id: str | None = None) -> StoredConversation:
        """An empty conversation with the default model (kept as a draft until its first message)."""
        settings = await self.settings.load()
        now = self.deps.clock_ms()
        conversation = StoredConversation(
            id=conversation_id or self.ids("c"), created_at=now, updated_at=now,
            model=settings.model, reasoning_effort=settings.reasoning_effort,
        )
        self.conversations.draft(conversation)
        return conversation

    async def load(self, conversation_id: str) -> StoredConversation:
        """A conversation, or a ``not_found`` / ``storage_corrupt`` protocol error."""
        try:
            conversation = await self.conversations.get(conversation_id)
        except StorageProblem as problem:
            raise ProtocolError("storage_corrupt", str(problem)) from None
        if conversation is None:
            raise ProtocolError("not_found", "This conversation no longer exists (it was deleted).")
        return conversation

    # ------------------------------------------------------------------ handlers

    async def send(self, request: Request) -> dict[str, Any]:
        """``chat.send``."""
        assert isinstance(request, ChatSend)
        cid = request.conversation_id
        try:
            found = await self.conversations.get(cid) if cid else await self.conversations.latest()
        except StorageProblem as problem:
            raise ProtocolError("storage_corrupt", str(problem)) from None
        if request.client_id is not None and found is not None:
            again = self._resent(request, found, request.client_id)
            if again is not None:
                return again
        if cid is None:
            found = None  # "latest" was only looked at for a resend
        conversation = found or await self.new_conversation(cid)
        if found is None:
            if request.model:
                conversation.model = request.model.strip() or conversation.model
            if "reasoning_effort" in request.model_fields_set:
                conversation.reasoning_effort = request.reasoning_effort
        self._not_busy(conversation.id)
        context = sanitize_context(request.context) if request.context is not None else None
        user = self._user(request.text, context)
        user.client_id = request.client_id
        conversation.messages.append(user)
        if not conversation.title_from_user and not conversation.title:
            conversation.title = make_title(request.text)
        return await self._start(request, conversation, user, undo=lambda: conversation.messages.remove(user))

    async def stop(self, request: Request) -> dict[str, Any]:
        """``chat.stop``: the turn ends with ``turn.stopped``; this reply comes first."""
        assert isinstance(request, ChatStop)
        turn = self.turns.get(request.conversation_id)
        if turn is None:
            return reply("chat.stopped", request, conversation_id=request.conversation_id)
        turn.stop()
        return reply("chat.stopped", request, conversation_id=request.conversation_id, turn_id=turn.id)

    async def regenerate(self, request: Request) -> dict[str, Any]:
        """``chat.regenerate``: drop the last reply, answer the last user message again."""
        assert isinstance(request, ChatRegenerate)
        conversation = await self.load(request.conversation_id)
        self._not_busy(conversation.id)
        messages = conversation.messages
        dropped: list[StoredMessage] = []
        while messages and messages[-1].role == "assistant":
            dropped.insert(0, messages.pop())
        if not messages:
            messages.extend(dropped)
            raise ProtocolError("nothing_to_regenerate", "There is no message to answer again.")
        return await self._start(request, conversation, messages[-1], undo=lambda: messages.extend(dropped))

    async def edit(self, request: Request) -> dict[str, Any]:
        """``chat.edit``: replace the last user message (and what follows), send again."""
        assert isinstance(request, ChatEdit)
        conversation = await self.load(request.conversation_id)
        self._not_busy(conversation.id)
        messages = conversation.messages
        users = [i for i, m in enumerate(messages) if m.role == "user"]
        if not users:
            raise ProtocolError("nothing_to_edit", "There is no message to edit.")
        at = users[-1]
        old = messages[at:]
        context = old[0].context
        user = self._user(request.text, context)
        messages[at:] = [user]
        old_title = conversation.title
        if at == users[0] and not conversation.title_from_user:
            conversation.title = make_title(request.text)

        def undo() -> None:
            messages[at:] = old
            conversation.title = old_title

        return await self._start(request, conversation, user, undo=undo)

    # ----------------------------------------------------------------- internals

    def _user(self, text: str, context: PageContext | None) -> StoredMessage:
        return StoredMessage(id=self.ids("m"), role="user", created_at=self.deps.clock_ms(), text=text,
                             context=context, items=[user_item(text, context)])

    def _resent(
        self, request: Request, conversation: StoredConversation, client_id: str
    ) -> dict[str, Any] | None:
        """A message already stored (the worker stopped before replying): accepted, not added again."""
        for at, message in enumerate(conversation.messages):
            if message.role == "user" and message.client_id == client_id:
                after = conversation.messages[at + 1] if at + 1 < len(conversation.messages) else None
                turn_id = after.turn_id if after is not None and after.role == "assistant" else None
                return reply("chat.accepted", request, conversation_id=conversation.id, turn_id=turn_id,
                             user=message_view(message), duplicate=True)
        return None

    def _not_busy(self, conversation_id: str) -> None:
        if conversation_id in self.turns:
            raise ProtocolError("busy", "A reply is still being written in this conversation. Stop it first.")

    async def _start(self, request: Request, conversation: StoredConversation, user: StoredMessage,
                     undo: Callable[[], None]) -> dict[str, Any]:
        """Add the assistant placeholder, persist, reply; the turn runs after the reply."""
        settings = await self.settings.load()
        key = await self.keys.get()
        now = self.deps.clock_ms()
        assistant = StoredMessage(id=self.ids("m"), role="assistant", created_at=now, turn_id=self.ids("t"),
                                  model=conversation.model, streaming=True)
        conversation.messages.append(assistant)
        conversation.updated_at = now
        try:
            await self.conversations.save(conversation)
        except StorageFullError:
            conversation.messages.remove(assistant)
            undo()
            raise ProtocolError("storage_full", STORAGE_FULL) from None
        turn = Turn(conversation, assistant, settings=settings, api_key=key, deps=self.deps,
                    send=self._sink(conversation.id), on_end=self._ended)
        self.turns[conversation.id] = turn
        self._after_reply(turn.start)
        assert assistant.turn_id is not None
        return reply("chat.accepted", request, conversation_id=conversation.id, turn_id=assistant.turn_id,
                     user=message_view(user))

    def _ended(self, turn: Turn) -> None:
        if self.turns.get(turn.conversation.id) is turn:
            del self.turns[turn.conversation.id]
