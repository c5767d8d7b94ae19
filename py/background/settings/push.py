"""Keeping every open page's view of the settings current.

The options page connects a port of its own (its sender kind is ``options``:
:mod:`background.router`). On connect it gets ``settings`` and ``vault.status``
pushed (a panel gets ``hello``), and again after every worker restart, since the
relay reconnects. After anything that changes the settings or the key, every
*other* panel and options port gets ``settings`` pushed (options ports also
``vault.status``): a panel learns at once that a key was saved, a second options
tab that the vault was locked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..ports import Ports
from .view import SettingsViews

__all__ = ["CHANGES", "SettingsPush"]

CHANGES = frozenset({
    "settings.set", "settings.approve", "key.set", "key.clear",
    "profile.select", "profile.save", "profile.delete", "models.list",
    "vault.set", "vault.wipe", "vault.lock", "vault.unlock", "vault.passphrase",
    "auth.import", "auth.clear",  # ChatGPT sign-in (background.accounts)
})

Message = dict[str, Any]


class SettingsPush:
    """Args:
        vault_status: ``vault.status`` as pushed (None: no vault in this runtime).
        after_reply: runs a callable once the current reply is posted.
        spawn_guarded: runs a coroutine as a task that logs its failure.
    """

    def __init__(self, ports: Ports, views: SettingsViews, *,
                 vault_status: Callable[[], Awaitable[Message]] | None,
                 after_reply: Callable[[Callable[[], None]], None],
                 spawn_guarded: Callable[[Awaitable[None]], None]) -> None:
        self.ports = ports
        self.views = views
        self._vault_status = vault_status
        self._after_reply = after_reply
        self._spawn_guarded = spawn_guarded

    async def _status(self) -> Message | None:
        return await self._vault_status() if self._vault_status is not None else None

    async def greet(self, port_id: int) -> None:
        """A new options port: what the form shows."""
        self.ports.post(port_id, {"type": "settings", "settings": await self.views.view()})
        status = await self._status()
        if status is not None:
            self.ports.post(port_id, status)

    async def push(self, exclude: int | None = None) -> None:
        """Tell every panel and options port but ``exclude`` (the one that made the change)."""
        targets = [p for p in self.ports.of_kind("panel", "options") if p != exclude]
        if not targets:
            return
        settings = {"type": "settings", "settings": await self.views.view()}
        options = [p for p in targets if self.ports.get(p) == "options"]
        status = await self._status() if options else None
        for port_id in targets:
            self.ports.post(port_id, settings)
            if port_id in options and status is not None:
                self.ports.post(port_id, status)

    def after(self, kind: str, reply: Message | None, port_id: int | None) -> None:
        """Called with every reply: a successful change is pushed once the reply is out."""
        if kind in CHANGES and reply is not None and reply.get("type") != "error":
            self._after_reply(lambda: self._spawn_guarded(self.push(port_id)))

    async def vault_locked(self) -> None:
        """The vault's auto-lock: open pages show it. Only then is the view built, since
        reading the settings' key counts as a use of it, which must not keep an idle vault open."""
        if self.ports.of_kind("panel", "options"):
            await self.push()
