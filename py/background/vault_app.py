"""The vault's face to the app: the ``vault.*`` messages and the settings' ``KeySource``.

Messages (docs/protocol.md, "Key vault") answer with ``vault.status`` — state,
mode and masks, never a secret — except ``vault.reveal``, whose ``vault.secret``
reply is the only place a stored secret ever leaves the worker. It carries the
secret base64-encoded (``secret_b64``): the app scrubs the key's plain text from
everything it sends as a last line of defence against accidental leaks, and
this one intentional path is spelled differently on purpose.

Reveal, wipe and passphrase changes are refused when they come from a panel's
port (:data:`PORT_FORBIDDEN`): the panel is a sandbox that renders untrusted
model output and page text, so a bug there must not be able to read the key or
lock the user out. Those come from the options page (one-shot runtime messages).

Error replies carry the vault error's ``code`` and its user-facing message; no
error path echoes what was sent (pydantic's default messages would).
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any

from .accounts import CHATGPT_AUTH
from .diag import ProtocolError
from .keyvault import DEFAULT_AUTO_LOCK_MINUTES, KeyVault
from .settings import SettingsError, validate_key
from .vault import VaultCorrupt, VaultError, VaultLocked, VaultVersionError

__all__ = ["API_KEY", "PORT_FORBIDDEN", "VaultHandlers", "VaultKeySource"]

API_KEY = "api_key"  # the record holding the API key
PORT_FORBIDDEN = frozenset({"vault.reveal", "vault.wipe", "vault.passphrase"})

Message = dict[str, Any]
VaultHandler = Callable[[Message], Awaitable[Message]]


class VaultKeySource:
    """:class:`background.settings.KeySource` over the vault's ``api_key`` record.

    ``get`` answers None while the vault is locked or damaged (the protocol's
    "no key"); :meth:`KeyVault.status` says which, for the UI.
    """

    def __init__(self, vault: KeyVault, record: str = API_KEY) -> None:
        self.vault = vault
        self.record = record

    async def get(self) -> str | None:
        try:
            return await self.vault.read(self.record)
        except (VaultLocked, VaultCorrupt, VaultVersionError):
            return None

    async def set(self, key: str) -> None:
        await self.vault.write(self.record, key)

    async def clear(self) -> None:
        await self.vault.delete(self.record)

    def masked(self) -> str | None:
        return self.vault.masked(self.record)


def _record(msg: Message) -> str:
    record = msg.get("record", API_KEY)
    if not isinstance(record, str) or not record:
        raise ProtocolError("bad_request", f"{msg['type']} 'record' must be a record name")
    return record


def _text(msg: Message, key: str, *, optional: bool = False) -> str | None:
    value = msg.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise ProtocolError("bad_request", f"{msg['type']} needs a '{key}' string")
    return value


def _minutes(msg: Message) -> int:
    value = msg.get("auto_lock_minutes", DEFAULT_AUTO_LOCK_MINUTES)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError("bad_request", f"{msg['type']} 'auto_lock_minutes' must be an integer")
    return value


def _confirmed(msg: Message, what: str) -> None:
    if msg.get("confirm") is not True:
        raise ProtocolError("confirm_required", f"{what}: send it again with \"confirm\": true")


class VaultHandlers:
    """``vault.*`` message handlers over one :class:`KeyVault`."""

    def __init__(self, vault: KeyVault, *, from_panel: Callable[[], bool] = lambda: False) -> None:
        self.vault = vault
        self._from_panel = from_panel  # True while handling a message that came over a panel port

    def handlers(self) -> dict[str, VaultHandler]:
        table: dict[str, VaultHandler] = {
            "vault.status": self.status,
            "vault.set": self.set,
            "vault.reveal": self.reveal,
            "vault.wipe": self.wipe,
            "vault.lock": self.lock,
            "vault.unlock": self.unlock,
            "vault.passphrase": self.passphrase,
        }
        return {name: self._guarded(handler) if name in PORT_FORBIDDEN else handler
                for name, handler in table.items()}

    def _guarded(self, handler: VaultHandler) -> VaultHandler:
        async def run(msg: Message) -> Message:
            if self._from_panel():
                raise ProtocolError("forbidden", f"{msg['type']} is only accepted from the options page")
            return await handler(msg)

        return run

    async def _status(self, msg: Message) -> Message:
        status = (await self.vault.status()).model_dump(exclude_none=True)
        return {"type": "vault.status", "id": msg.get("id"), **status}

    async def _run(self, msg: Message, action: Awaitable[object]) -> Message:
        """Await ``action``; vault and validation errors become protocol errors."""
        try:
            await action
        except VaultError as exc:
            raise ProtocolError(exc.code, str(exc)) from None
        except SettingsError as exc:
            raise ProtocolError("bad_request", str(exc)) from None
        except ValueError as exc:  # our own checks: the message names the rule, not the input
            raise ProtocolError("bad_request", str(exc)) from None
        return await self._status(msg)

    async def status(self, msg: Message) -> Message:
        return await self._status(msg)

    async def set(self, msg: Message) -> Message:
        record = _record(msg)
        secret = msg.get("secret")
        if record == CHATGPT_AUTH:  # only as a checked auth.json, through auth.import
            raise ProtocolError("bad_request", "the ChatGPT sign-in is stored by auth.import (it checks it)")
        if record == API_KEY:
            try:
                secret = validate_key(secret)
            except SettingsError as exc:
                raise ProtocolError("bad_request", exc.fields.get("key", str(exc))) from None
        elif not isinstance(secret, str) or not secret:
            raise ProtocolError("bad_request", "vault.set needs a 'secret' string")
        return await self._run(msg, self.vault.write(record, secret))

    async def reveal(self, msg: Message) -> Message:
        record = _record(msg)
        if record == CHATGPT_AUTH:  # tokens never go back to a page (docs/protocol.md, "Accounts")
            raise ProtocolError("forbidden", "ChatGPT tokens are never shown: import an auth.json to "
                                "replace them")
        _confirmed(msg, "revealing a secret shows it on screen")
        try:
            secret = await self.vault.read(record)
        except VaultError as exc:
            raise ProtocolError(exc.code, str(exc)) from None
        if secret is None:
            raise ProtocolError("not_found", f"no {record} is stored")
        encoded = base64.b64encode(secret.encode()).decode()
        return {"type": "vault.secret", "id": msg.get("id"), "record": record, "secret_b64": encoded}

    async def wipe(self, msg: Message) -> Message:
        _confirmed(msg, "wiping deletes every stored key")
        return await self._run(msg, self.vault.wipe())

    async def lock(self, msg: Message) -> Message:
        return await self._run(msg, self.vault.lock())

    async def unlock(self, msg: Message) -> Message:
        passphrase = _text(msg, "passphrase")
        assert passphrase is not None
        return await self._run(msg, self.vault.unlock(passphrase, auto_lock_minutes=_minutes(msg)))

    async def passphrase(self, msg: Message) -> Message:
        """Set or change (``passphrase``), or remove (``passphrase: null``) the lock."""
        new = _text(msg, "passphrase", optional=True)
        current = _text(msg, "current", optional=True)
        if new is None:
            if current is None:
                raise ProtocolError("bad_request", "vault.passphrase needs 'current' to remove it")
            return await self._run(msg, self.vault.remove_passphrase(current))
        action = self.vault.set_passphrase(new, current=current, auto_lock_minutes=_minutes(msg))
        return await self._run(msg, action)
