"""The ``page`` capability: ``page.context``, the active tab's text for the next message."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..chat.request import context_window
from ..protocol import PageContextRequest, Request, reply
from .context import PageBridge, PageUnavailable, budget_for, build_context

__all__ = ["PageHandlers"]

Message = dict[str, Any]


class PageHandlers:
    """``page.context`` over the browser's pages (None: no browser, e.g. a test)."""

    def __init__(self, pages: PageBridge | None) -> None:
        self.pages = pages

    def handlers(self) -> dict[str, Callable[[Request], Awaitable[Message]]]:
        return {"page.context": self.page_context}

    async def page_context(self, request: Request) -> Message:
        """``page.context``: the active tab's text (or selection), trimmed to the budget."""
        assert isinstance(request, PageContextRequest)
        try:
            if self.pages is None:
                raise PageUnavailable("Reading pages is not available here.")
            raw = await self.pages.read_page(None)
            window = context_window(request.model) if request.model else None
            context = build_context(raw, request.include, budget_for(window))
        except PageUnavailable as exc:
            return reply("page.context", request, error=exc.info())
        return reply("page.context", request, context=context.model_dump(exclude_none=True))
