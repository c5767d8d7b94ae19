"""A page's selection, brought to the side panel by the context menu or the shortcut.

``chrome.sidePanel.open()`` must be called synchronously in the gesture's handler,
so extension/background.js opens the panel itself and Python gets the event
afterwards: it reads the selection and pushes ``page.selection`` to the open panels.
The panel the gesture is opening may not be connected yet (it may be in a window
without a panel), so the offer is also kept for the next panel to connect, for
:data:`SELECTION_TTL_S`.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any

from ..untrusted import UntrustedInput, decode
from .context import PageBridge, PageUnavailable, build_context

__all__ = ["SELECTION_TTL_S", "Selections"]

MAX_EVENT_CHARS = 1_000_000  # a menu click's page info (the selection is capped by Chrome)

SELECTION_TTL_S = 60.0  # a context-menu selection waits this long for its panel to connect

Message = dict[str, Any]


class Selections:
    """The context menu's entry, its clicks, the ``open-panel`` command, and the kept offer."""

    def __init__(
        self,
        pages: PageBridge | None,
        *,
        broadcast: Callable[[Message], None],
        spawn_guarded: Callable[[Awaitable[None]], None],
        monotonic: Callable[[], float],
    ) -> None:
        self.pages = pages
        self._broadcast = broadcast
        self._spawn_guarded = spawn_guarded
        self._monotonic = monotonic
        self._pending: tuple[float, Message] | None = None

    def install_menu(self) -> None:
        """Create the "Ask SidePy about selection" entry (once, when the extension is installed)."""
        pages = self.pages
        if pages is None:
            return

        async def install() -> None:
            try:
                await pages.install_menu()
            except Exception as exc:
                print(f"background: could not create the context menu: {exc}", file=sys.stderr)

        self._spawn_guarded(install())

    def on_menu_click(self, info: str) -> None:
        """"Ask SidePy about selection" was chosen: ``info`` is the page and its selection."""
        self._offer(_json_object(info))

    def on_command(self, name: str, info: str) -> None:
        """A keyboard shortcut opened the panel; bring the tab's selection along if there is one."""
        pages = self.pages
        tab = _json_object(info).get("tab_id")
        if name != "open-panel" or pages is None:
            return

        async def read() -> None:
            try:
                raw = await pages.read_page(tab if isinstance(tab, int) else None)
            except PageUnavailable:
                return
            self._offer(raw)

        self._spawn_guarded(read())

    def take(self) -> Message | None:
        """The kept ``page.selection``, for a panel that just connected: once, and only while fresh."""
        pending, self._pending = self._pending, None
        if pending is not None and self._monotonic() - pending[0] <= SELECTION_TTL_S:
            return pending[1]
        return None

    def _offer(self, raw: dict[str, Any]) -> None:
        """Push the raw page's selection to the open panels and keep it for the panel being opened.

        A page without a readable selection offers nothing.
        """
        try:
            context = build_context(raw, "selection")
        except PageUnavailable:
            return
        message = {"type": "page.selection", "context": context.model_dump(exclude_none=True)}
        self._broadcast(message)
        self._pending = (self._monotonic(), message)


def _json_object(text: str) -> dict[str, Any]:
    try:
        data = decode(text, max_chars=MAX_EVENT_CHARS, what="the event")
    except UntrustedInput:
        return {}
    return data if isinstance(data, dict) else {}
