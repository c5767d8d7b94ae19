"""The vault's face to the app: the ``vault.*`` messages and the settings' ``KeySource``.

Messages (docs/protocol.md, "Key vault") answer with ``vault.status`` — state,
mode and masks, never a secret — except ``vault.reveal``, whose ``vault.secret``
reply is the only place a stored secret ever leaves the worker. It carries the
secret base64-encoded (``secret_b64``): the app scrubs the key's plain text from
everything it sends as a last line of defence against accidental leaks, and
this one intentional path is spelled differently on purpose.

The ``vault`` capability is the options page's alone (:mod:`background.router`):
the panel is a sandbox that renders untrusted model output and page text, so a
bug there must not be able to read the key or lock the user out.

Error replies carry the vault error's ``code`` and its user-facing message; no
error path echoes what was sent (pydantic's default messages would).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from ..errors import ProtocolError
from ..settings.model import SettingsError, StoredKey, validate_key
from ..untrusted import UntrustedInput
from ..untrusted import decode as decode_json
from .keyvault import AUTOLOCK_ALARM, DEFAULT_AUTO_LOCK_MINUTES, KeyVault
from .names import API_KEY, CHATGPT_AUTH, ORIGINS_SUFFIX, origins_record
from .vault import VaultCorrupt, VaultError, VaultLocked, VaultVersionError

__all__ = ["API_KEY", "VaultHandlers", "VaultKeySource", "status_message"]

Message = dict[str, Any]
VaultHandler = Callable[[Message], Awaitable[Message]]


class VaultKeySource:
    """:class:`background.settings.model.KeySource` over the vault's ``api_key`` record, with the
    origins the key is approved for in ``api_key.origins`` (background.settings.credentials).

    ``get`` answers None while the vault is locked or damaged (the protocol's
    "no key"); :meth:`KeyVault.status` says which, for the UI.
    """

    def __init__(self, vault: KeyVault, record: str = API_KEY) -> None:
        self.vault = vault
        self.record = record
        self.origins_record = origins_record(record)

    async def get(self) -> str | None:
        stored = await self.load()
        return stored.key if stored is not None else None

    async def load(self) -> StoredKey | None:
        """The key and its approved origins (``origins`` None: none recorded, e.g. an older
        version stored the key)."""
        try:
            key = await self.vault.read(self.record)
            if key is None:
                return None
            text = await self.vault.read(self.origins_record)
        except (VaultLocked, VaultCorrupt, VaultVersionError):
            return None
        return StoredKey(key, _origins(text))

    async def set(self, key: str) -> None:
        await self.vault.write(self.record, key)
        await self.vault.delete(self.origins_record)  # a new key is approved for nothing yet

    async def store(self, key: str, origins: Iterable[str]) -> None:
        await self.vault.write(self.record, key)
        await self.vault.write(self.origins_record, json.dumps(sorted(set(origins))))

    async def clear(self) -> None:
        await self.vault.delete(self.origins_record)
        await self.vault.delete(self.record)

    def masked(self) -> str | None:
        return self.vault.masked(self.record)


def _origins(text: str | None) -> frozenset[str] | None:
    """The stored list of origins (sealed in the vault, so trusted to be ours; checked anyway)."""
    if text is None:
        return None
    try:
        data = decode_json(text, max_chars=100_000, what="the approved origins")
    except UntrustedInput:
        return frozenset()
    if not isinstance(data, list):
        return frozenset()
    return frozenset(o for o in data if isinstance(o, str))


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


async def status_message(vault: KeyVault) -> Message:
    """``vault.status`` as pushed to options pages."""
    return {"type": "vault.status", **(await vault.status()).model_dump(exclude_none=True)}


class VaultHandlers:
    """``vault.*`` message handlers over one :class:`KeyVault`."""

    """Args:
        on_auto_lock: called when the auto-lock alarm locked the vault (open pages show it).
    """

    def __init__(self, vault: KeyVault, *, on_auto_lock: Callable[[], Awaitable[None]] | None = None) -> None:
        self.vault = vault
        self._on_auto_lock = on_auto_lock

    def handlers(self) -> dict[str, VaultHandler]:
        return {
            "vault.status": self.status,
            "vault.set": self.set,
            "vault.reveal": self.reveal,
            "vault.wipe": self.wipe,
            "vault.lock": self.lock,
            "vault.unlock": self.unlock,
            "vault.passphrase": self.passphrase,
        }

    async def on_alarm(self, name: str) -> None:
        """A ``chrome.alarms`` alarm: the vault's auto-lock may be due."""
        if name != AUTOLOCK_ALARM:
            return
        await self.vault.on_alarm(name)
        if self._on_auto_lock is not None and (await self.vault.status()).state == "locked":
            await self._on_auto_lock()

    async def key_unavailable(self) -> str | None:
        """Why no key can be read now (locked or damaged), or None."""
        status = await self.vault.status()
        return status.message if status.state in ("locked", "damaged") and status.message else None

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
        if record.endswith(ORIGINS_SUFFIX):  # only by approving a server (settings.approve)
            raise ProtocolError("bad_request", "a key's approved servers change when you approve one in the "
                                "settings, not through vault.set")
        if record == API_KEY:
            try:
                secret = validate_key(secret)
            except SettingsError as exc:
                raise ProtocolError("bad_request", exc.fields.get("key", str(exc))) from None
        elif not isinstance(secret, str) or not secret:
            raise ProtocolError("bad_request", "vault.set needs a 'secret' string")
        # A new secret is approved for no server yet (bound to the saved base URL when read).
        return await self._run(msg, VaultKeySource(self.vault, record).set(secret))

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
