"""The ``conversations`` and ``import`` capabilities: list, open, rename, pin, delete, export, import.

Each handler takes a validated request (:mod:`background.protocol`) and returns the
reply; errors the user can act on are :class:`~background.errors.ProtocolError`
with a clear message. Opening and deleting go through the chat service, which
knows the live turns and the request queue (:mod:`background.chat`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..attachments.model import megabytes
from ..attachments.store import AttachmentLibrary
from ..chat.service import ChatService
from ..errors import ProtocolError
from ..protocol import (
    MAX_IMPORT_CHARS,
    ConvDelete,
    ConvExport,
    ConvImport,
    ConvList,
    ConvOpen,
    ConvPin,
    ConvRename,
    ConvSettings,
    Request,
    reply,
)
from ..store.conversations import ConversationStore
from ..store.records import StoredConversation, conversation_view, every_message
from ..store.storage import StorageFullError, StorageProblem
from .transfer import (
    attachment_refs,
    export_json,
    export_markdown,
    filename,
    parse_import,
    restore_attachments,
    visible_items,
)

__all__ = ["ConversationHandlers"]

Message = dict[str, Any]


class ConversationHandlers:
    """``conv.*`` over the stored conversations.

    Args:
        show: remembers that the requesting panel now shows a conversation.
    """

    def __init__(self, conversations: ConversationStore, chat: ChatService, *, clock_ms: Callable[[], int],
                 show: Callable[[str], None], attachments: AttachmentLibrary | None = None) -> None:
        self.conversations = conversations
        self.chat = chat
        self.attachments = attachments
        self._clock_ms = clock_ms
        self._show = show

    def handlers(self) -> dict[str, Callable[[Request], Awaitable[Message]]]:
        """Request type -> handler."""
        return {
            "conv.list": self.conv_list,
            "conv.open": self.conv_open,
            "conv.new": self.conv_new,
            "conv.rename": self.conv_rename,
            "conv.delete": self.conv_delete,
            "conv.pin": self.conv_pin,
            "conv.export": self.conv_export,
            "conv.import": self.conv_import,
            "conv.settings": self.conv_settings,
        }

    async def _list(self, request: Request, **fields: Any) -> Message:
        return reply("conv.list", request, conversations=await self.conversations.summaries(), **fields)

    async def _state(self, request: Request, conversation: StoredConversation) -> Message:
        live = self.chat.live(conversation.id)
        thumbs = await self.attachments.thumbs(conversation.id) if self.attachments is not None else None
        return reply("conv.state", request, conversation=conversation_view(conversation, live, thumbs))

    async def _save_quietly(self, conversation: StoredConversation) -> None:
        """Save a metadata change; a draft stays unsaved until its first message."""
        if not self.conversations.is_draft(conversation.id):
            try:
                await self.conversations.save(conversation)
            except StorageFullError:
                message = "Browser storage is full: the change was not saved."
                raise ProtocolError("storage_full", message) from None

    async def conv_list(self, request: Request) -> Message:
        """``conv.list``."""
        assert isinstance(request, ConvList)
        return reply("conv.list", request, conversations=await self.conversations.summaries(request.query))

    async def conv_open(self, request: Request) -> Message:
        """``conv.open``: the conversation, with a streaming turn's text as sent so far."""
        assert isinstance(request, ConvOpen)
        conversation = await self.chat.load(request.conversation_id)
        self._show(conversation.id)
        return await self._state(request, conversation)

    async def conv_new(self, request: Request) -> Message:
        """``conv.new``: an empty conversation (stored with its first message)."""
        conversation = await self.chat.new_conversation()
        self._show(conversation.id)
        return await self._state(request, conversation)

    async def conv_rename(self, request: Request) -> Message:
        """``conv.rename``: the user's title is never replaced by the automatic one."""
        assert isinstance(request, ConvRename)
        conversation = await self.chat.load(request.conversation_id)
        conversation.title = request.title
        conversation.title_from_user = True
        await self._save_quietly(conversation)
        return await self._list(request)

    async def conv_delete(self, request: Request) -> Message:
        """``conv.delete``: stops its turn first; works on damaged records too."""
        assert isinstance(request, ConvDelete)
        await self.chat.delete(request.conversation_id)
        return await self._list(request)

    async def conv_pin(self, request: Request) -> Message:
        """``conv.pin``: pinned conversations are never removed by the storage bound."""
        assert isinstance(request, ConvPin)
        conversation = await self.chat.load(request.conversation_id)
        conversation.pinned = request.pinned
        await self._save_quietly(conversation)
        return await self._list(request)

    async def conv_settings(self, request: Request) -> Message:
        """``conv.settings``: model / reasoning effort of one conversation (``null``: the default)."""
        assert isinstance(request, ConvSettings)
        conversation = await self.chat.load(request.conversation_id)
        settings = await self.chat.settings.load()
        if "model" in request.model_fields_set:
            model = (request.model or "").strip()
            if any(c.isspace() for c in model):
                raise ProtocolError("bad_request", "conv.settings: a model name has no spaces")
            conversation.model = model or settings.model
        if "reasoning_effort" in request.model_fields_set:
            conversation.reasoning_effort = request.reasoning_effort
        await self._save_quietly(conversation)
        return await self._state(request, conversation)

    async def conv_export(self, request: Request) -> Message:
        """``conv.export``: one conversation or all, as JSON (lossless) or Markdown."""
        assert isinstance(request, ConvExport)
        if request.conversation_id is not None:
            chosen = [await self.chat.load(request.conversation_id)]
        else:
            chosen = []
            for entry in await self.conversations.entries():
                try:
                    found = await self.conversations.get(entry.id)
                except StorageProblem:
                    continue  # damaged: reported in StorageInfo, left out of the export
                if found is not None:
                    chosen.append(found)
        now = self._clock_ms()
        if request.format == "json":
            files = await self._files(chosen)
            # An import takes at most MAX_IMPORT_CHARS: a file that could not come back in is refused
            # before the worker builds it (the bytes go as base64, a third larger).
            self._importable(sum((len(b) + 2) // 3 * 4 for b in files.values()), len(chosen))
            text, mime, ext = export_json(chosen, now, files), "application/json", "json"
            self._importable(len(text), len(chosen))
        else:
            text, mime, ext = export_markdown(chosen), "text/markdown", "md"
        return reply("conv.export", request, filename=filename(chosen, ext, now), mime=mime, text=text)

    @staticmethod
    def _importable(chars: int, count: int) -> None:
        """Refuse an export that SidePy could not import again."""
        if chars <= MAX_IMPORT_CHARS:
            return
        what = ("export the conversations one at a time (each conversation's Export)" if count > 1 else
                "delete the messages with the largest attachments, or export as Markdown (without them)")
        raise ProtocolError(
            "export_too_large",
            f"This export would be {megabytes(chars)} with its attachments, more than SidePy can import "
            f"again ({megabytes(MAX_IMPORT_CHARS)}); {what}.",
        )

    async def _files(self, conversations: list[StoredConversation]) -> dict[str, bytes]:
        """The bytes of the conversations' attachments that are still stored."""
        if self.attachments is None:
            return {}
        return await self.attachments.files(attachment_refs(conversations))

    async def conv_import(self, request: Request) -> Message:
        """``conv.import``: every valid conversation comes in under a free id; nothing is overwritten."""
        assert isinstance(request, ConvImport)
        taken = {e.id for e in await self.conversations.entries()} | self.conversations.draft_ids()
        try:
            result = parse_import(request.text, taken=taken, new_id=self.chat.ids)
        except ValueError as exc:
            raise ProtocolError("bad_import", f"Import failed: {exc}.") from None
        imported = 0
        for conversation in result.conversations:
            self.conversations.hold(conversation.id)  # an import must not evict what it just brought in
        try:
            for conversation in result.conversations:
                if self.attachments is not None:
                    restore = self.attachments.restore
                    await restore_attachments(conversation, result.files, restore, result.skipped)
                else:
                    for message in every_message(conversation.messages):
                        if message.attachments:
                            message.attachments = []
                            visible_items(message)
                try:
                    await self.conversations.save(conversation)
                except StorageFullError:
                    result.skipped.append(f"{conversation.title or conversation.id}: browser storage is full")
                    if self.attachments is not None:  # what was restored for it goes too
                        await self.attachments.drop_conversations([conversation.id])
                    continue
                imported += 1
        finally:
            for conversation in result.conversations:
                self.conversations.release(conversation.id)
        return await self._list(request, imported=imported, skipped=result.skipped)
