"""The ``auth.*`` messages (docs/protocol.md, "Accounts") and ChatGPT's side of ``settings.test``.

``auth.import`` takes the text of a Codex ``auth.json`` (the options page reads
the file the user picked), validates it and stores it in the key vault
(:mod:`background.accounts`); ``auth.clear`` signs out; ``auth.status`` says who
is signed in. Every reply is ``auth.status`` (``AuthView``): email, plan, a
masked account id, the last refresh — never a token.

The ``accounts`` capability is the options page's alone (:mod:`background.router`):
the panel renders untrusted text, and a bug there must not be able to swap the
account the user's conversations go to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from ..errors import ProtocolError
from ..settings.conntest import ConnectionTest, models_url, origin_pattern
from ..settings.model import Settings, SettingsStore
from ..vault.vault import VaultError
from .accounts import Accounts, AccountUnavailable, AuthImportError

__all__ = ["AccountHandlers", "chatgpt_connection_test"]

Message = dict[str, Any]
Handler = Callable[[Message], Awaitable[Message]]


class AccountHandlers:
    """``auth.import``, ``auth.clear`` and ``auth.status``.

    Args:
        key_set: whether an API key is stored (the ``AuthView`` says which credential turns use).
    """

    def __init__(self, accounts: Accounts, settings: SettingsStore, *,
                 key_set: Callable[[], Awaitable[bool]]) -> None:
        self.accounts = accounts
        self.settings = settings
        self._key_set = key_set

    def handlers(self) -> dict[str, Handler]:
        return {"auth.import": self.import_auth, "auth.clear": self.clear, "auth.status": self.status}

    async def _reply(self, msg: Message) -> Message:
        view = await self.accounts.view(await self.settings.load(), key_set=await self._key_set())
        return {"type": "auth.status", "id": msg.get("id"), **view}

    async def _select(self, mode: Literal["apikey", "chatgpt"]) -> None:
        if (await self.settings.load()).auth_mode != mode:
            await self.settings.patch({"auth_mode": mode})

    async def status(self, msg: Message) -> Message:
        """``auth.status``: who is signed in, and which credential turns use."""
        return await self._reply(msg)

    async def import_auth(self, msg: Message) -> Message:
        """``auth.import {text, select?}``: store a Codex ``auth.json``; ``select`` (default true) uses it."""
        text, select = msg.get("text"), msg.get("select", True)
        if not isinstance(text, str) or not text.strip():
            raise ProtocolError("bad_request", "auth.import needs the file's 'text'")
        if not isinstance(select, bool):
            raise ProtocolError("bad_request", "auth.import 'select' must be true or false")
        try:
            await self.accounts.import_text(text)
        except AuthImportError as exc:
            raise ProtocolError("bad_auth", f"Not imported: {exc}.") from None
        except AccountUnavailable as exc:
            raise ProtocolError(exc.kind, str(exc)) from None
        except VaultError as exc:  # locked: unlock first (a damaged store is replaced, as by vault.set)
            raise ProtocolError(exc.code, f"Not imported: {exc}") from None
        if select:
            await self._select("chatgpt")
        return await self._reply(msg)

    async def clear(self, msg: Message) -> Message:
        """``auth.clear``: sign out; with ChatGPT selected, turns go back to the API key."""
        try:
            await self.accounts.clear()
        except VaultError as exc:
            raise ProtocolError(exc.code, f"Not signed out: {exc}") from None
        await self._select("apikey")
        return await self._reply(msg)


async def chatgpt_connection_test(accounts: Accounts, tester: ConnectionTest, settings: Settings) -> Message:
    """``settings.test`` with ChatGPT sign-in: the shared manager's token (refreshed on a 401)."""
    try:
        manager = await accounts.manager(settings)
    except AccountUnavailable as exc:
        url = models_url(settings)
        return {"url": url, "origin": origin_pattern(url), "ok": False, "kind": exc.kind, "message": str(exc)}
    return await tester.run(settings, None, auth=manager)
