"""``SettingsView`` (docs/protocol.md): what pages are shown of the settings. Never a secret."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from .credentials import Keys
from .model import Settings, SettingsStore

__all__ = ["SettingsViews"]

Message = dict[str, Any]
# (settings, key_set) -> AuthView: who is signed in with ChatGPT (background.accounts), never a token
AuthView = Callable[[Settings, bool], Awaitable[Message]]


class SettingsViews:
    """Builds ``SettingsView``: the key appears only as ``{set, masked}``.

    Args:
        auth_view: the ``auth`` part (``AuthView``).
        remember_secret: told the key whenever it is read, so it is scrubbed from what is posted.
        any_tab: whether the optional ``<all_urls>`` host permission is granted (the panel's
            Screenshot button then captures any tab, background.attachments.capture);
            None: no browser to ask.
    """

    def __init__(self, settings: SettingsStore, keys: Keys, *, auth_view: AuthView,
                 remember_secret: Callable[[str], None],
                 any_tab: Callable[[], Awaitable[bool | None]] | None = None) -> None:
        self.settings = settings
        self.keys = keys
        self._auth_view = auth_view
        self._remember = remember_secret
        self._any_tab = any_tab

    async def view(self) -> Message:
        settings = await self.settings.load()
        stored = await self.keys.load()
        if stored is not None:
            self._remember(stored.key)
        # key: {set, masked, origin, approved}: approved says whether it may go to the base URL's origin
        view = settings.view(self.keys.view(stored, settings))
        view["auth"] = await self._auth_view(settings, stored is not None)
        granted = await self._any_tab() if self._any_tab is not None else None
        if granted is not None:
            view["screenshots"] = {"any_tab": granted}
        return view
