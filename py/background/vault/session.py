"""Passphrase mode's unlock session: survives worker restarts, ends with the browser.

Chrome stops the worker after 30 s idle and Python's memory goes with it, so an
unlocked data key cannot just stay in a variable. ``chrome.storage.session``
survives worker restarts and is cleared when the browser exits, but holds JSON
only — no ``CryptoKey``. So the session is split in two halves, each useless
alone:

* a fresh **session key**: a non-extractable AES-GCM key (wrapKey/unwrapKey) in
  the device store (IndexedDB), made at every unlock;
* the **session record** in ``chrome.storage.session``: the data key wrapped
  under that session key (ciphertext), its IV, the key id, and the idle clock.

A new worker unwraps the data key from the two. No raw key bytes are stored in
either place; the passphrase-derived key (KEK) is never stored at all. Lock,
auto-lock and browser exit drop the record (the memory half), so the session key
left on disk (e.g. after a crash) opens nothing; it is deleted at the next lock
or at the first look after a browser start.

Auto-lock counts from the last *use* of the key (not from a status look); an
alarm (``chrome.alarms``) wakes the worker when the time is up, and every use
checks it too, so a missed alarm never leaves the vault open.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .vault import (
    IV_BYTES,
    SESSION_KEY,
    Crypto,
    CryptoAuthError,
    Envelope,
    Iv,
    KeyId,
    VaultLocked,
    WrappedKey,
    session_aad,
    wrap_aad,
)

__all__ = [
    "AUTOLOCK_ALARM",
    "KEK_ID",
    "MAX_AUTO_LOCK_MINUTES",
    "SESSION_KEY_ID",
    "TMP_ID",
    "Alarms",
    "Session",
    "SessionKeeper",
    "Store",
]

AUTOLOCK_ALARM = "sidepy.vault.autolock"
MAX_AUTO_LOCK_MINUTES = 24 * 60
SESSION_KEY_ID = "session"  # device-store name of the session key
KEK_ID = "kek"  # the PBKDF2 output: memory only, deleted as soon as it has been used
TMP_ID = "tmp"  # an extractable copy of a data key, alive only while it is being wrapped
_TOUCH_EVERY_MS = 15_000  # how stale the stored "last used" time may get (fewer writes)


class Store(Protocol):
    """One ``chrome.storage`` area as JSON text by name.

    The subset of :class:`background.store.storage.KeyValueStore` the vault needs, so the
    app's own stores (``MemoryStore`` in tests, ``ChromeStorage``) fit as they are.
    """

    async def get(self, keys: list[str]) -> dict[str, str]: ...

    async def set(self, items: dict[str, str]) -> None: ...

    async def remove(self, keys: list[str]) -> None: ...


class Alarms(Protocol):
    """``chrome.alarms``: wakes the worker at a time, even if it was stopped meanwhile."""

    async def schedule(self, name: str, when_ms: float) -> None: ...

    async def cancel(self, name: str) -> None: ...


class Session(BaseModel):
    """The session record in ``chrome.storage.session``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    v: Literal[1] = 1
    kid: KeyId
    iv: Iv
    wrapped: WrappedKey
    last_used: int  # epoch ms of the last use: auto-lock counts from here
    auto_lock_minutes: Annotated[int, Field(ge=0, le=MAX_AUTO_LOCK_MINUTES)]  # 0: only at browser exit

    def expires_at(self) -> int | None:
        return self.last_used + self.auto_lock_minutes * 60_000 if self.auto_lock_minutes else None


class SessionKeeper:
    """Starts, restores and ends sessions. The caller (the vault) holds the lock."""

    def __init__(
        self, crypto: Crypto, store: Store, *, now_ms: Callable[[], float], alarms: Alarms | None
    ) -> None:
        self._crypto = crypto
        self._store = store
        self._now = now_ms
        self._alarms = alarms
        self.current: Session | None = None  # this worker's copy of the record

    async def start(self, env: Envelope, minutes: int) -> None:
        """Unlocked with the KEK (in memory as :data:`KEK_ID`): write both halves."""
        assert env.lock is not None
        await self._crypto.generate_key(SESSION_KEY_ID, "wrap", persist=True)
        iv = await self._crypto.random(IV_BYTES)
        lock = env.lock
        # WebCrypto wraps only extractable keys: unwrap a temporary extractable copy
        # from the document and wrap that. It never leaves the backend.
        await self._crypto.unwrap_key(
            TMP_ID, lock.wrapped, KEK_ID, lock.iv, wrap_aad(env.kid), "data", extractable=True
        )
        try:
            wrapped = await self._crypto.wrap_key(TMP_ID, SESSION_KEY_ID, iv, session_aad(env.kid))
        finally:
            await self._crypto.delete_key(TMP_ID)
        now = int(self._now())
        s = Session(kid=env.kid, iv=iv, wrapped=wrapped, last_used=now, auto_lock_minutes=minutes)
        await self._store.set({SESSION_KEY: s.model_dump_json()})
        self.current = s
        if self._alarms is not None:
            expires = s.expires_at()
            if expires is None:
                await self._alarms.cancel(AUTOLOCK_ALARM)
            else:
                await self._alarms.schedule(AUTOLOCK_ALARM, expires)

    async def restore(self, env: Envelope, *, unwrap: bool, use: bool) -> None:
        """Check the session is alive; with ``unwrap``, rebuild the data key (a new worker).

        ``use``: this is a use of the key, which restarts the idle time.

        Raises:
            VaultLocked: no session, another key's, idle too long, or its halves do not fit.
        """
        s = self.current if self.current is not None else await self.read()
        if s is None or s.kid != env.kid:
            raise VaultLocked()
        now = int(self._now())
        expires = s.expires_at()
        if expires is not None and now >= expires:
            raise VaultLocked()
        if unwrap:
            try:
                if not await self._crypto.load_key(SESSION_KEY_ID):
                    raise VaultLocked()
                aad = session_aad(env.kid)
                await self._crypto.unwrap_key(env.kid, s.wrapped, SESSION_KEY_ID, s.iv, aad, "data")
            except CryptoAuthError:
                raise VaultLocked() from None
        if use and now - s.last_used >= _TOUCH_EVERY_MS:
            s = s.model_copy(update={"last_used": now})
            await self._store.set({SESSION_KEY: s.model_dump_json()})
        self.current = s

    async def read(self) -> Session | None:
        text = (await self._store.get([SESSION_KEY])).get(SESSION_KEY)
        if text is None:
            return None
        try:
            return Session.model_validate_json(text)
        except ValidationError:
            return None  # unreadable: as good as locked

    async def end(self) -> None:
        """Drop the memory half first, then the session key and the alarm."""
        await self._store.remove([SESSION_KEY])
        await self._crypto.delete_key(SESSION_KEY_ID)
        self.current = None
        if self._alarms is not None:
            await self._alarms.cancel(AUTOLOCK_ALARM)

    async def alarm_due(self) -> str | None:
        """The auto-lock alarm fired: the kid to lock now, or None (re-armed if still in use)."""
        s = await self.read()
        expires = s.expires_at() if s is not None else None
        if s is None or expires is None:
            return None
        if self._now() >= expires:
            return s.kid
        if self._alarms is not None:
            await self._alarms.schedule(AUTOLOCK_ALARM, expires)
        return None
