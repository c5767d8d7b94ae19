"""The options page's port, and keeping every open page's view of the settings current.

The options page (``extension/options.html``) connects a port named ``options``.
It renders only our own settings form, never model output or page text, so it
may send what a panel's port may not (``vault.reveal``, ``vault.wipe``,
``vault.passphrase``: see :data:`background.vault_app.PORT_FORBIDDEN`). The name
is set by the extension page's relay, which the sandboxed UI cannot change.

On connect an options port gets ``settings`` and ``vault.status`` pushed (a panel
gets ``hello``), and again after every worker restart, since the relay reconnects.
After anything that changes the settings or the key, every *other* port gets
``settings`` pushed (options ports also ``vault.status``): a panel learns at once
that a key was saved, a second options tab that the vault was locked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .ports import OPTIONS_PORT

if TYPE_CHECKING:
    from .app import App

__all__ = ["CHANGES", "SettingsPush"]

CHANGES = frozenset({
    "settings.set", "key.set", "key.clear",
    "vault.set", "vault.wipe", "vault.lock", "vault.unlock", "vault.passphrase",
    "auth.import", "auth.clear",  # ChatGPT sign-in (background/accounts_app.py)
})

Message = dict[str, Any]


class SettingsPush:
    def __init__(self, app: App) -> None:
        self.app = app

    async def _vault_status(self) -> Message | None:
        vault = self.app.vault
        if vault is None:
            return None
        return {"type": "vault.status", **(await vault.status()).model_dump(exclude_none=True)}

    async def greet(self, port_id: int) -> None:
        """A new options port: what the form shows."""
        self.app.ports.post(port_id, {"type": "settings", "settings": await self.app.settings_view()})
        status = await self._vault_status()
        if status is not None:
            self.app.ports.post(port_id, status)

    async def push(self, exclude: int | None = None) -> None:
        """Tell every port but ``exclude`` (the one that made the change) the new settings."""
        targets = [(p, name) for p, name in self.app.ports.items() if p != exclude]
        if not targets:
            return
        settings = {"type": "settings", "settings": await self.app.settings_view()}
        status = await self._vault_status() if any(n == OPTIONS_PORT for _, n in targets) else None
        for port_id, name in targets:
            self.app.ports.post(port_id, settings)
            if name == OPTIONS_PORT and status is not None:
                self.app.ports.post(port_id, status)

    def after(self, kind: str, reply: Message | None, port_id: int | None) -> None:
        """Called with every reply: a successful change is pushed once the reply is out."""
        if kind in CHANGES and reply is not None and reply.get("type") != "error":
            self.app.after_reply(lambda: self.app.spawn_guarded(self.push(port_id)))
