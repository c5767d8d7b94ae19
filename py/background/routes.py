"""Handlers of the conversation, page, settings and key requests (docs/protocol.md).

Each takes a validated request (:mod:`background.protocol`) and returns the
reply; errors the user can act on are :class:`~background.diag.ProtocolError`
with a clear message. The app (:mod:`background.app`) owns the routing and the
ports; chat turns live in :mod:`background.chat`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .accounts_app import chatgpt_connection_test
from .conntest import ConnectionTest
from .diag import ProtocolError
from .page_context import PageUnavailable, build_context
from .protocol import (
    ConvDelete,
    ConvExport,
    ConvImport,
    ConvList,
    ConvOpen,
    ConvPin,
    ConvRename,
    ConvSettings,
    KeySet,
    PageContextRequest,
    Request,
    SettingsPreview,
    SettingsSet,
    SettingsTest,
    error_reply,
    reply,
)
from .records import StoredConversation, conversation_view
from .settings import SettingsError, validate_key
from .storage import StorageFullError, StorageProblem
from .transfer import export_json, export_markdown, filename, parse_import

if TYPE_CHECKING:
    from .app import App

__all__ = ["Routes"]

Message = dict[str, Any]


class Routes:
    """The non-chat request handlers of one :class:`~background.app.App`."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.conversations = app.conversations

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
            "page.context": self.page_context,
            "settings.get": self.settings_get,
            "settings.set": self.settings_set,
            "settings.preview": self.settings_preview,
            "settings.test": self.settings_test,
            "key.set": self.key_set,
            "key.clear": self.key_clear,
        }

    # ------------------------------------------------------------ conversations

    async def _list(self, request: Request, **fields: Any) -> Message:
        return reply("conv.list", request, conversations=await self.conversations.summaries(), **fields)

    def _state(self, request: Request, conversation: StoredConversation) -> Message:
        live = self.app.chat.live(conversation.id)
        return reply("conv.state", request, conversation=conversation_view(conversation, live))

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
        conversation = await self.app.chat.load(request.conversation_id)
        self.app.show(conversation.id)
        return self._state(request, conversation)

    async def conv_new(self, request: Request) -> Message:
        """``conv.new``: an empty conversation (stored with its first message)."""
        conversation = await self.app.chat.new_conversation()
        self.app.show(conversation.id)
        return self._state(request, conversation)

    async def conv_rename(self, request: Request) -> Message:
        """``conv.rename``: the user's title is never replaced by the automatic one."""
        assert isinstance(request, ConvRename)
        conversation = await self.app.chat.load(request.conversation_id)
        conversation.title = request.title
        conversation.title_from_user = True
        await self._save_quietly(conversation)
        return await self._list(request)

    async def conv_delete(self, request: Request) -> Message:
        """``conv.delete``: stops its turn first; works on damaged records too."""
        assert isinstance(request, ConvDelete)
        turn = self.app.chat.turns.get(request.conversation_id)
        if turn is not None:
            turn.stop()
        await self.conversations.delete(request.conversation_id)
        return await self._list(request)

    async def conv_pin(self, request: Request) -> Message:
        """``conv.pin``: pinned conversations are never removed by the storage bound."""
        assert isinstance(request, ConvPin)
        conversation = await self.app.chat.load(request.conversation_id)
        conversation.pinned = request.pinned
        await self._save_quietly(conversation)
        return await self._list(request)

    async def conv_settings(self, request: Request) -> Message:
        """``conv.settings``: model / reasoning effort of one conversation (``null``: the default)."""
        assert isinstance(request, ConvSettings)
        conversation = await self.app.chat.load(request.conversation_id)
        settings = await self.app.settings.load()
        if "model" in request.model_fields_set:
            model = (request.model or "").strip()
            if any(c.isspace() for c in model):
                raise ProtocolError("bad_request", "conv.settings: a model name has no spaces")
            conversation.model = model or settings.model
        if "reasoning_effort" in request.model_fields_set:
            conversation.reasoning_effort = request.reasoning_effort
        await self._save_quietly(conversation)
        return self._state(request, conversation)

    async def conv_export(self, request: Request) -> Message:
        """``conv.export``: one conversation or all, as JSON (lossless) or Markdown."""
        assert isinstance(request, ConvExport)
        if request.conversation_id is not None:
            chosen = [await self.app.chat.load(request.conversation_id)]
        else:
            chosen = []
            for entry in await self.conversations.entries():
                try:
                    found = await self.conversations.get(entry.id)
                except StorageProblem:
                    continue  # damaged: reported in StorageInfo, left out of the export
                if found is not None:
                    chosen.append(found)
        now = self.app.now_ms()
        if request.format == "json":
            text, mime, ext = export_json(chosen, now), "application/json", "json"
        else:
            text, mime, ext = export_markdown(chosen), "text/markdown", "md"
        return reply("conv.export", request, filename=filename(chosen, ext, now), mime=mime, text=text)

    async def conv_import(self, request: Request) -> Message:
        """``conv.import``: every valid conversation comes in under a free id; nothing is overwritten."""
        assert isinstance(request, ConvImport)
        taken = {e.id for e in await self.conversations.entries()} | self.conversations.draft_ids()
        try:
            result = parse_import(request.text, taken=taken, new_id=self.app.chat.ids)
        except ValueError as exc:
            raise ProtocolError("bad_import", f"Import failed: {exc}.") from None
        imported = 0
        for conversation in result.conversations:
            self.conversations.hold(conversation.id)  # an import must not evict what it just brought in
        try:
            for conversation in result.conversations:
                try:
                    await self.conversations.save(conversation)
                except StorageFullError:
                    result.skipped.append(f"{conversation.title or conversation.id}: browser storage is full")
                    continue
                imported += 1
        finally:
            for conversation in result.conversations:
                self.conversations.release(conversation.id)
        return await self._list(request, imported=imported, skipped=result.skipped)

    # ----------------------------------------------------------------- the page

    async def page_context(self, request: Request) -> Message:
        """``page.context``: the active tab's text (or selection), trimmed to the budget."""
        assert isinstance(request, PageContextRequest)
        try:
            if self.app.pages is None:
                raise PageUnavailable("Reading pages is not available here.")
            raw = await self.app.pages.read_page(None)
            context = build_context(raw, request.include)
        except PageUnavailable as exc:
            return reply("page.context", request, error=exc.info())
        return reply("page.context", request, context=context.model_dump(exclude_none=True))

    # ------------------------------------------------------------- settings, key

    async def settings_get(self, request: Request) -> Message:
        """``settings.get``."""
        return reply("settings", request, settings=await self.app.settings_view())

    async def settings_set(self, request: Request) -> Message:
        """``settings.set``: validated as a whole, saved in one write, or nothing is saved."""
        assert isinstance(request, SettingsSet)
        try:
            await self.app.settings.patch(request.patch)
        except SettingsError as exc:
            message = f"Settings not saved: {exc}"
            return error_reply(request.id, "invalid_settings", message, fields=exc.fields)
        return reply("settings", request, settings=await self.app.settings_view())

    async def settings_preview(self, request: Request) -> Message:
        """``settings.preview``: the view a form's values would give (``request_url``), not saved."""
        assert isinstance(request, SettingsPreview)
        try:
            settings = await self.app.settings.preview(request.patch)
        except SettingsError as exc:
            message = f"Settings not valid: {exc}"
            return error_reply(request.id, "invalid_settings", message, fields=exc.fields)
        masked = self.app.keys.masked()  # the last known mask: reading the key is not this message's business
        key = {"set": masked is not None, "masked": masked}
        return reply("settings.preview", request, settings=settings.view(key))

    async def settings_test(self, request: Request) -> Message:
        """``settings.test``: ``GET {base}/models`` with the key; says exactly what is wrong."""
        assert isinstance(request, SettingsTest)
        try:
            settings = await self.app.settings.preview(request.patch)
            key = validate_key(request.key) if request.key is not None else await self.app.keys.get()
        except SettingsError as exc:
            return error_reply(request.id, "invalid_settings", f"Cannot test: {exc}", fields=exc.fields)
        with_timeout = self.app.client_options.get("with_timeout", asyncio.wait_for)
        tester = ConnectionTest(self.app.transport, self.app.access, with_timeout=with_timeout)
        if settings.auth_mode == "chatgpt":  # the ChatGPT sign-in, not the key (background/accounts.py)
            outcome = await chatgpt_connection_test(self.app.accounts, tester, settings)
        else:
            outcome = await tester.run(settings, key)
        if outcome["kind"] == "no_key" and self.app.vault is not None:
            status = await self.app.vault.status()  # say why there is no key: locked or damaged
            if status.state in ("locked", "damaged") and status.message:
                outcome["message"] = f"No key to test: {status.message}"
        return {"type": "settings.test", "id": request.id, **outcome}  # not reply(): it has a "kind"

    async def key_set(self, request: Request) -> Message:
        """``key.set``: the key is stored by the key source and never sent back."""
        assert isinstance(request, KeySet)
        try:
            key = validate_key(request.key)
        except SettingsError as exc:
            return error_reply(request.id, "invalid_settings", f"Key not saved: {exc}", fields=exc.fields)
        self.app.remember_secret(key)
        try:
            await self.app.keys.set(key)
        except Exception as exc:  # the key source refused (e.g. a locked vault): say why
            return error_reply(request.id, _code(exc), f"Key not saved: {exc}")
        return reply("settings", request, settings=await self.app.settings_view())

    async def key_clear(self, request: Request) -> Message:
        """``key.clear``."""
        try:
            await self.app.keys.clear()
        except Exception as exc:
            return error_reply(request.id, _code(exc), f"Key not removed: {exc}")
        return reply("settings", request, settings=await self.app.settings_view())


def _code(exc: Exception) -> str:
    """A key source's own error code (the vault's), else ``key_unavailable``."""
    return str(getattr(exc, "code", "key_unavailable"))
