"""The ``attachments`` capability: ``attach.add``, ``attach.screenshot``, ``attach.remove``, ``attach.get``.

Replies (docs/protocol.md, "Attachments"):

* ``attach.added {attachment: AttachmentView}`` — stored, with its thumbnail;
* ``attach.removed {attachment_id, removed}``;
* ``attach.data {attachment: AttachmentView, data_url?, text?}`` — for the viewer: an
  image as a ``data:`` URL, a text file's text; a PDF only its view (the sandboxed
  panel shows no PDFs).

A refusal is an ``error`` reply whose ``code`` and sentence come from
:class:`~background.attachments.model.AttachmentRefused`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..protocol import AttachAdd, AttachGet, AttachRemove, AttachScreenshot, Request, reply
from .capture import TabCapture, screenshot_name
from .imaging import data_url
from .items import decode_base64
from .model import AttachmentRefused, decode_text
from .store import AttachmentLibrary

__all__ = ["AttachmentHandlers"]

Message = dict[str, Any]


class AttachmentHandlers:
    """``attach.*`` over the library; ``capture`` is the browser's (None: no browser, a test);
    ``known`` says whether a conversation exists (stored, or a new chat's draft)."""

    def __init__(self, library: AttachmentLibrary, capture: TabCapture | None,
                 known: Callable[[str], Awaitable[bool]]) -> None:
        self.library = library
        self.capture = capture
        self.known = known

    async def _owner(self, conversation_id: str | None) -> str | None:
        """Where an added attachment waits: its conversation if that exists, else with a new
        chat's (a draft the worker forgot when it stopped; an id a script made up), which
        the library's bound on unsent attachments covers."""
        if conversation_id is not None and await self.known(conversation_id):
            return conversation_id
        return None

    def handlers(self) -> dict[str, Callable[[Request], Awaitable[Message]]]:
        return {"attach.add": self.add, "attach.screenshot": self.screenshot, "attach.remove": self.remove,
                "attach.get": self.get}

    async def add(self, request: Request) -> Message:
        """``attach.add``: check, scale and keep a file the user gave the panel."""
        assert isinstance(request, AttachAdd)
        data = decode_base64(request.data)
        if not data:
            name = request.name or "The file"
            raise AttachmentRefused("attachment_unreadable", f"“{name}” could not be read; attach it again.")
        record = await self.library.add(await self._owner(request.conversation_id), request.name, data,
                                        request.source)
        return reply("attach.added", request, attachment=record.view(record.thumb))

    async def screenshot(self, request: Request) -> Message:
        """``attach.screenshot``: the visible part of the active tab, as an image attachment."""
        assert isinstance(request, AttachScreenshot)
        if self.capture is None:
            raise AttachmentRefused("screenshot_failed", "Screenshots are not available here.")
        shot = await self.capture.capture()
        owner = await self._owner(request.conversation_id)
        record = await self.library.add(owner, screenshot_name(shot.title), shot.data, "screenshot")
        return reply("attach.added", request, attachment=record.view(record.thumb))

    async def remove(self, request: Request) -> Message:
        """``attach.remove``: the composer's ×; a sent attachment belongs to its message and stays."""
        assert isinstance(request, AttachRemove)
        removed = await self.library.remove_pending(request.attachment_id)
        return reply("attach.removed", request, attachment_id=request.attachment_id, removed=removed)

    async def get(self, request: Request) -> Message:
        """``attach.get``: the whole attachment for the viewer."""
        assert isinstance(request, AttachGet)
        record, data = await self.library.get(request.attachment_id)
        fields: dict[str, Any] = {"attachment": record.view(record.thumb)}
        if record.kind == "text":
            fields["text"] = decode_text(data, record.name)
        elif record.kind == "image":
            fields["data_url"] = data_url(record.mime, data)
        return reply("attach.data", request, **fields)
