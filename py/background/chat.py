"""Chat requests: send, stop, regenerate, edit, cancel a queued message — and the turns.

The user message is **persisted before** ``chat.accepted`` is returned (with
the assistant placeholder, in one write), and the turn starts only after the
reply has been posted (``after_reply``), so the panel always sees
``chat.accepted`` before ``turn.started``.

With a request queue (``queue``, :mod:`background.queue_service`; the app always
has one), a message that cannot start at once — a reply is being written (by
default one at a time, in any conversation), a rate-limit hold, or messages
already waiting — is stored marked ``queued`` with its queue entry (one write)
and answered ``chat.accepted {queued: true, queue_id, position}``; the queue
starts its turn later (:meth:`ChatService.start_queued`). ``busy`` is left for a
full queue, and for regenerate/edit in a conversation whose reply is being
written or that has messages waiting. Without a queue: one turn per
conversation, and a second send while one streams is ``busy``.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from .conversations import ConversationStore, make_title
from .diag import ProtocolError
from .page_context import prompt_text, sanitize_context
from .protocol import ChatCancelQueued, ChatEdit, ChatRegenerate, ChatSend, ChatStop, Request, reply
from .records import PageContext, StoredConversation, StoredMessage, message_view
from .settings import KeySource, SettingsStore
from .storage import StorageFullError, StorageProblem
from .stream_processor import Send
from .turns import Turn, TurnDeps

if TYPE_CHECKING:
    from .queue import QueueItem
    from .queue_service import QueueService

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
        self._starting: set[str] = set()  # conversations whose turn is being set up (awaits storage)
        self.queue: QueueService | None = None  # set by the QueueService itself

    def running(self) -> set[str]:
        """Conversations with a turn, or one about to start (what the queue counts as running)."""
        return set(self.turns) | self._starting

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
        if self.queue is not None:
            await self.queue.settle(conversation)
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
        if self.queue is None:
            self._not_busy(conversation.id)  # with a queue, a message that cannot start waits
        else:
            await self.queue.settle(conversation)
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
        conversation = await self._load_idle(request.conversation_id)
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
        conversation = await self._load_idle(request.conversation_id)
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
                if message.queued and self.queue is not None:
                    return self._queued_reply(request, conversation, message, duplicate=True)
                after = conversation.messages[at + 1] if at + 1 < len(conversation.messages) else None
                turn_id = after.turn_id if after is not None and after.role == "assistant" else None
                return reply("chat.accepted", request, conversation_id=conversation.id, turn_id=turn_id,
                             user=message_view(message), duplicate=True)
        return None

    async def _load_idle(self, conversation_id: str) -> StoredConversation:
        """The conversation, to rewrite its end: refused while a reply is written or a message waits."""
        conversation = await self.load(conversation_id)
        self._not_busy(conversation.id)
        self._nothing_waiting(conversation.id)
        return conversation

    def _not_busy(self, conversation_id: str) -> None:
        if conversation_id in self.turns:
            raise ProtocolError("busy", "A reply is still being written in this conversation. Stop it first.")

    def _nothing_waiting(self, conversation_id: str) -> None:
        queue = self.queue
        if queue is not None and any(i.conversation_id == conversation_id for i in queue.core.items):
            raise ProtocolError("busy", "A message is waiting in the queue in this conversation: "
                                        "cancel it first, or wait for its reply.")

    async def _start(self, request: Request, conversation: StoredConversation, user: StoredMessage,
                     undo: Callable[[], None]) -> dict[str, Any]:
        """Start the turn (after the reply), or queue the message when it cannot start now."""
        queue = self.queue
        if queue is not None:
            await queue.load()
            await queue.check_scope()
            if not queue.core.can_start_now(conversation.id, self.deps.clock_ms(), self.running()):
                return await self._enqueue(request, conversation, user, undo)
        turn_id = await self._launch(conversation, user, undo)
        return reply("chat.accepted", request, conversation_id=conversation.id, turn_id=turn_id,
                     user=message_view(user))

    async def _launch(self, conversation: StoredConversation, user: StoredMessage, undo: Callable[[], None],
                      *, queued: bool = False, extra: dict[str, BaseModel] | None = None) -> str:
        """Add the assistant placeholder after ``user``, persist, run the turn once the reply is posted.

        ``queued``: ``user`` comes out of the queue (its turn says so); ``extra`` is stored
        in the same write (the queue without it).
        """
        # Counted as running from here: the awaits below must not let another message in
        # (a direct send, or the drain) start beside it.
        self._starting.add(conversation.id)
        try:
            settings = await self.settings.load()
            key = await self.keys.get()
            now = self.deps.clock_ms()
            assistant = StoredMessage(id=self.ids("m"), role="assistant", created_at=now,
                                      turn_id=self.ids("t"), model=conversation.model, streaming=True)
            # Right after its question: queued messages of this conversation may follow it.
            conversation.messages.insert(conversation.messages.index(user) + 1, assistant)
            conversation.updated_at = now
            try:
                await self.conversations.save(conversation, extra)
            except StorageFullError:
                conversation.messages.remove(assistant)
                undo()
                raise ProtocolError("storage_full", STORAGE_FULL) from None
        finally:
            self._starting.discard(conversation.id)
        turn = Turn(conversation, assistant, settings=settings, api_key=key, deps=self.deps,
                    send=self._sink(conversation.id), on_end=self._ended, user=user if queued else None)
        self.turns[conversation.id] = turn
        if self.queue is not None:
            self.queue.core.note_started(now)
        self._after_reply(turn.start)
        assert assistant.turn_id is not None
        return assistant.turn_id

    def _ended(self, turn: Turn) -> None:
        if self.turns.get(turn.conversation.id) is turn:
            del self.turns[turn.conversation.id]
        if self.queue is not None:
            self.queue.turn_ended(turn)

    # -------------------------------------------------------------- the queue

    async def _enqueue(self, request: Request, conversation: StoredConversation, user: StoredMessage,
                       undo: Callable[[], None]) -> dict[str, Any]:
        """Store ``user`` marked queued with its queue entry (one write); reply ``queued: true``."""
        queue = self.queue
        assert queue is not None
        full = queue.core.room(conversation.id)
        if full is not None:
            undo()
            raise ProtocolError("busy", f"{full} Wait for a reply, or cancel a queued message.")
        now = self.deps.clock_ms()
        user.queued = True
        item = queue.core.add(queue_id=self.ids("q"), conversation_id=conversation.id, message_id=user.id,
                              text=user.text, priority=getattr(request, "priority", 0), now_ms=now,
                              client_id=user.client_id)
        conversation.updated_at = now
        try:
            await self.conversations.save(conversation, queue.extra())
        except StorageFullError:
            queue.core.remove(item.queue_id)
            user.queued = False
            undo()
            raise ProtocolError("storage_full", STORAGE_FULL) from None
        queue.queued(item)
        return self._queued_reply(request, conversation, user)

    def _queued_reply(self, request: Request, conversation: StoredConversation, user: StoredMessage,
                      duplicate: bool = False) -> dict[str, Any]:
        assert self.queue is not None
        item = next((i for i in self.queue.core.items if i.message_id == user.id), None)
        fields: dict[str, Any] = {"queued": True}
        if item is not None:
            fields.update(queue_id=item.queue_id, position=self.queue.core.position(item.queue_id))
        if duplicate:
            fields["duplicate"] = True
        return reply("chat.accepted", request, conversation_id=conversation.id, user=message_view(user),
                     **fields)

    async def start_queued(self, item: QueueItem) -> None:
        """Start the turn of a queued message (the queue's drain); drop it if it is gone."""
        queue = self.queue
        assert queue is not None
        self._starting.add(item.conversation_id)  # as running while storage is read
        try:
            conversation = await self.conversations.get(item.conversation_id)
        except StorageProblem:
            conversation = None
        finally:
            self._starting.discard(item.conversation_id)
        user = None
        if conversation is not None:
            user = next((m for m in conversation.messages if m.id == item.message_id and m.queued), None)
        # Out of the queue and un-queued in one step (no await between): ``settle`` never
        # sees a queued message without its entry.
        if queue.core.remove(item.queue_id) is None:
            return  # cancelled meanwhile
        queue.released(item)
        if conversation is None or user is None:
            await queue.persist()  # deleted or edited away meanwhile
            return
        user.queued = False
        try:
            await self._launch(conversation, user, lambda: None, queued=True, extra=queue.extra())
        except ProtocolError as exc:  # storage full: the message stays, unanswered; say why
            print(f"background: a queued message could not start: {exc}", file=sys.stderr)
            queue.push_error(exc.code, str(exc))

    async def cancel_queued(self, request: Request) -> dict[str, Any]:
        """``chat.cancel_queued``: the message leaves the queue and its conversation; its text is returned."""
        assert isinstance(request, ChatCancelQueued)
        queue = self.queue
        if queue is None:
            raise ProtocolError("not_found", "There is no request queue.")
        await queue.load()
        item = queue.core.remove(request.queue_id)
        if item is None:
            raise ProtocolError("not_found", "That message is no longer waiting: it was sent or cancelled.")
        queue.released(item)
        text = item.preview
        try:
            conversation = await self.conversations.get(item.conversation_id)
        except StorageProblem:
            conversation = None
        message = None
        if conversation is not None:
            message = next((m for m in conversation.messages if m.id == item.message_id), None)
        if conversation is not None and message is not None:
            text = message.text
            conversation.messages.remove(message)
            if conversation.messages:
                await self.conversations.save(conversation, queue.extra())
            else:  # a new chat whose only message was taken back: nothing left to keep
                await self.conversations.delete(conversation.id)
                await queue.persist()
        else:
            await queue.persist()
        self._after_reply(queue.changed)
        return reply("chat.cancelled", request, queue_id=item.queue_id, conversation_id=item.conversation_id,
                     text=text)
