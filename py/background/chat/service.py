"""Chat requests: send, stop, regenerate, edit, switch versions, cancel a queued message.

The user message is **persisted before** ``chat.accepted`` is returned (with
the assistant placeholder, in one write), and the turn starts only after the
reply has been posted (``after_reply``), so the panel always sees
``chat.accepted`` before ``turn.started``.

With the request queue (:mod:`background.chat.scheduler`), a message that cannot
start at once — a reply is being written (by default one at a time, in any
conversation), a rate-limit hold, or messages
already waiting — is stored marked ``queued`` with its queue entry (one write)
and answered ``chat.accepted {queued: true, queue_id, position}``; the queue
starts its turn later (:meth:`Scheduler.start_queued`). ``busy`` is left for a
full queue, and for regenerate/edit in a conversation whose reply is being
written or that has messages waiting.

Nothing the user saw is thrown away: an answer written again (regenerate) and the
part of a conversation after an edited question are kept as earlier versions of
what replaces them (:mod:`background.store.versions`); ``chat.version`` puts
another version back on the path.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from ..attachments.items import check_sendable
from ..attachments.model import AttachmentRef, AttachmentRefused
from ..attachments.store import AttachmentLibrary, Claim
from ..errors import ProtocolError
from ..page.context import budget_for, prompt_text, sanitize_context
from ..protocol import (
    ChatCancelQueued,
    ChatEdit,
    ChatRegenerate,
    ChatSend,
    ChatStop,
    ChatVersion,
    Request,
    reply,
)
from ..settings.model import SettingsStore
from ..store import versions
from ..store.conversations import ConversationStore, make_title
from ..store.records import (
    PageContext,
    StoredConversation,
    StoredMessage,
    conversation_view,
    every_message,
    message_view,
)
from ..store.storage import StorageFullError, StorageProblem
from .request import context_window
from .scheduler import STORAGE_FULL, Scheduler

__all__ = ["ChatService", "new_id", "user_item"]

Message = dict[str, Any]
TypedHandler = Callable[[Request], Awaitable[Message]]


def new_id(prefix: str) -> str:
    """A short random id (``c…`` conversation, ``m…`` message, ``t…`` turn)."""
    return prefix + uuid.uuid4().hex[:20]


def user_item(text: str, context: PageContext | None, *, attachments: bool = False) -> dict[str, Any]:
    """The user's ``message`` item as sent: the page context first, then what they typed
    (nothing, for a message of ``attachments`` only: their parts are added when a
    request is built, background.attachments.items)."""
    content = []
    if context is not None:
        content.append({"type": "input_text", "text": prompt_text(context)})
    if text or not (content or attachments):
        content.append({"type": "input_text", "text": text})
    return {"type": "message", "role": "user", "content": content}


class ChatService:
    """Handlers of the ``chat.*`` requests, over the scheduler that runs and queues turns.

    Args:
        show: remembers that the requesting panel now shows a conversation.
        after_reply: schedules a callable to run once the current reply is posted.
    """

    def __init__(self, conversations: ConversationStore, settings: SettingsStore, scheduler: Scheduler, *,
                 clock_ms: Callable[[], int], show: Callable[[str], None],
                 after_reply: Callable[[Callable[[], None]], None],
                 ids: Callable[[str], str] = new_id, attachments: AttachmentLibrary | None = None) -> None:
        self.conversations = conversations
        self.attachments = attachments
        self.settings = settings
        self.scheduler = scheduler
        self._clock_ms = clock_ms
        self._show = show
        self._after_reply = after_reply
        self.ids = ids

    def handlers(self) -> dict[str, TypedHandler]:
        """Request type -> handler (the ``chat`` capability)."""
        return {"chat.send": self._shown(self.send), "chat.regenerate": self._shown(self.regenerate),
                "chat.edit": self._shown(self.edit), "chat.version": self._shown(self.version),
                "chat.stop": self.stop,
                "chat.cancel_queued": self.cancel_queued, "queue.config": self.scheduler.configure}

    def _shown(self, handler: TypedHandler) -> TypedHandler:
        async def run(request: Request) -> Message:
            message = await handler(request)
            self._show(message["conversation_id"])  # the panel that sent it shows it now
            return message

        return run

    def live(self, conversation_id: str) -> dict[str, Any] | None:
        """The streaming state of a conversation's turn, if one runs."""
        return self.scheduler.live(conversation_id)

    async def delete(self, conversation_id: str) -> None:
        """Delete a conversation: its turn stops, its waiting messages go with it."""
        self.scheduler.stop(conversation_id)
        await self.conversations.delete(conversation_id)
        self.scheduler.forget(conversation_id)

    async def new_conversation(self, conversation_id: str | None = None) -> StoredConversation:
        """An empty conversation with the default model (kept as a draft until its first message)."""
        settings = await self.settings.load()
        now = self._clock_ms()
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
        await self.scheduler.settle(conversation)
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
        await self.scheduler.settle(conversation)  # a message that cannot start at once waits
        budget = budget_for(context_window(conversation.model))
        context = sanitize_context(request.context, budget) if request.context is not None else None
        claim = await self._claim(conversation.id, request.attachments)
        user = self._user(request.text, context, claim.refs)
        user.client_id = request.client_id
        conversation.messages.append(user)
        if not conversation.title_from_user and not conversation.title:
            conversation.title = make_title(request.text or claim.refs[0].name)
        try:
            return await self._start(request, conversation, user,
                                     undo=lambda: conversation.messages.remove(user))
        except ProtocolError:  # not stored (storage full, the queue full): its attachments wait again
            if claim.moved and self.attachments is not None:
                await self.attachments.unclaim(claim)
            raise

    async def stop(self, request: Request) -> dict[str, Any]:
        """``chat.stop``: the turn ends with ``turn.stopped``; this reply comes first."""
        assert isinstance(request, ChatStop)
        turn = self.scheduler.stop(request.conversation_id)
        if turn is None:
            return reply("chat.stopped", request, conversation_id=request.conversation_id)
        return reply("chat.stopped", request, conversation_id=request.conversation_id, turn_id=turn.id)

    async def regenerate(self, request: Request) -> dict[str, Any]:
        """``chat.regenerate``: answer the last user message again; the old answer stays a version."""
        assert isinstance(request, ChatRegenerate)
        conversation = await self._load_idle(request.conversation_id)
        messages = conversation.messages
        dropped: list[StoredMessage] = []
        while messages and messages[-1].role == "assistant":
            dropped.insert(0, messages.pop())
        if not messages:
            messages.extend(dropped)
            raise ProtocolError("nothing_to_regenerate", "There is no message to answer again.")
        user = messages[-1]
        before = user.next_versions
        user.next_versions = [*before, *versions.retire(dropped)] if before else versions.retire(dropped)

        def undo() -> None:
            messages.extend(dropped)
            user.next_versions = before

        return await self._start(request, conversation, user, undo=undo)

    async def edit(self, request: Request) -> dict[str, Any]:
        """``chat.edit``: a user message (the last one by default) rewritten; the conversation
        continues from it, and what it replaced stays an earlier version."""
        assert isinstance(request, ChatEdit)
        conversation = await self._load_idle(request.conversation_id)
        messages = conversation.messages
        users = [i for i, m in enumerate(messages) if m.role == "user"]
        if not users:
            raise ProtocolError("nothing_to_edit", "There is no message to edit.")
        at = users[-1]
        if request.message_id is not None:
            found = [i for i in users if messages[i].id == request.message_id]
            if not found:
                raise ProtocolError("not_found", "That message is no longer in this conversation.")
            at = found[0]
        old = messages[at:]
        user = self._user(request.text, old[0].context, old[0].attachments)  # an edit keeps the attachments
        versions.replace_tail(messages, at, [user])
        old_title = conversation.title
        if at == users[0] and not conversation.title_from_user:
            conversation.title = make_title(request.text)

        def undo() -> None:
            messages[at:] = old
            conversation.title = old_title

        return await self._start(request, conversation, user, undo=undo)

    async def version(self, request: Request) -> dict[str, Any]:
        """``chat.version``: put another version of the tail headed by a message on the path."""
        assert isinstance(request, ChatVersion)
        conversation = await self._load_idle(request.conversation_id)
        messages = conversation.messages
        at = next((i for i, m in enumerate(messages) if m.id == request.message_id), None)
        if at is None:
            raise ProtocolError("not_found", "That message is no longer in this conversation.")
        found = versions.version_of(messages[at])
        if found is None or not 1 <= request.index <= found[1]:
            raise ProtocolError("bad_request", f"chat.version: there is no version {request.index} here.")
        old = messages[at:]
        versions.switch(messages, at, request.index - 1)
        try:
            await self.conversations.save(conversation)
        except StorageFullError:
            messages[at:] = old
            raise ProtocolError("storage_full", STORAGE_FULL) from None
        return reply("conv.state", request, conversation_id=conversation.id,
                     conversation=conversation_view(conversation))

    # ----------------------------------------------------------------- internals

    def _user(self, text: str, context: PageContext | None,
              attachments: list[AttachmentRef] | None = None) -> StoredMessage:
        return StoredMessage(id=self.ids("m"), role="user", created_at=self._clock_ms(), text=text,
                             context=context, items=[user_item(text, context, attachments=bool(attachments))],
                             attachments=list(attachments or []))

    async def _claim(self, conversation_id: str, attachment_ids: list[str]) -> Claim:
        """The attachments a new message carries, refused before anything is stored when
        the provider's wire API cannot take them (a PDF on Chat Completions)."""
        if not attachment_ids:
            return Claim([])
        if self.attachments is None:
            raise AttachmentRefused("attachment_missing", "Attachments are not available here.")
        wire = (await self.settings.load()).wire
        return await self.attachments.claim(conversation_id, attachment_ids,
                                            check=lambda refs: check_sendable(refs, wire))

    def _resent(
        self, request: Request, conversation: StoredConversation, client_id: str
    ) -> dict[str, Any] | None:
        """A message already stored (the worker stopped before replying): accepted, not added again."""
        for at, message in enumerate(conversation.messages):
            if message.role == "user" and message.client_id == client_id:
                if message.queued:
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
        if conversation_id in self.scheduler.turns:
            raise ProtocolError("busy", "A reply is still being written in this conversation. Stop it first.")

    def _nothing_waiting(self, conversation_id: str) -> None:
        if any(i.conversation_id == conversation_id for i in self.scheduler.core.items):
            raise ProtocolError("busy", "A message is waiting in the queue in this conversation: "
                                        "cancel it first, or wait for its reply.")

    async def _start(self, request: Request, conversation: StoredConversation, user: StoredMessage,
                     undo: Callable[[], None]) -> dict[str, Any]:
        """Start the turn (after the reply), or queue the message when it cannot start now."""
        queue = self.scheduler
        await queue.load()
        await queue.check_scope()
        if not queue.core.can_start_now(conversation.id, self._clock_ms(), queue.running()):
            return await self._enqueue(request, conversation, user, undo)
        turn_id = await queue.launch(conversation, user, undo)
        return reply("chat.accepted", request, conversation_id=conversation.id, turn_id=turn_id,
                     user=message_view(user))

    # -------------------------------------------------------------- the queue

    async def _enqueue(self, request: Request, conversation: StoredConversation, user: StoredMessage,
                       undo: Callable[[], None]) -> dict[str, Any]:
        """Store ``user`` marked queued with its queue entry (one write); reply ``queued: true``."""
        queue = self.scheduler
        full = queue.core.room(conversation.id)
        if full is not None:
            undo()
            raise ProtocolError("busy", f"{full} Wait for a reply, or cancel a queued message.")
        now = self._clock_ms()
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
        item = next((i for i in self.scheduler.core.items if i.message_id == user.id), None)
        fields: dict[str, Any] = {"queued": True}
        if item is not None:
            fields.update(queue_id=item.queue_id, position=self.scheduler.core.position(item.queue_id))
        if duplicate:
            fields["duplicate"] = True
        return reply("chat.accepted", request, conversation_id=conversation.id, user=message_view(user),
                     **fields)

    async def cancel_queued(self, request: Request) -> dict[str, Any]:
        """``chat.cancel_queued``: the message leaves the queue and its conversation; its text is returned."""
        assert isinstance(request, ChatCancelQueued)
        queue = self.scheduler
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
                if message.attachments and self.attachments is not None:  # taken back with it
                    kept = [a.id for m in every_message(conversation.messages) for a in m.attachments]
                    await self.attachments.drop_unreferenced(conversation.id, kept)
            else:  # a new chat whose only message was taken back: nothing left to keep
                await self.conversations.delete(conversation.id)
                await queue.persist()
        else:
            await queue.persist()
        self._after_reply(queue.changed)
        return reply("chat.cancelled", request, queue_id=item.queue_id, conversation_id=item.conversation_id,
                     text=text)
