"""The key vault service: store, read, lock and unlock secrets over any :class:`Crypto`.

One code path for every runtime: the browser passes WebCrypto and
``chrome.storage`` (see :mod:`background.main`), tests pass software crypto and
dicts. Theory of operation (docs/security.md has the long form):

* **Device mode** — the data key is a non-extractable key in the device store
  (IndexedDB), named by the document's ``kid``. Nothing to unlock.
* **Passphrase mode** — the document carries the data key wrapped under
  PBKDF2(passphrase). ``unlock`` unwraps it into memory and starts a *session*
  (:mod:`background.vault.session`) that survives worker restarts but not the
  browser: a fresh non-extractable session key in the device store, and the data
  key re-wrapped under it in ``chrome.storage.session`` (memory only, cleared
  when the browser exits). Neither half opens anything alone, no raw key bytes
  are stored anywhere, and lock, auto-lock and browser exit destroy the memory half.
* Re-keying (passphrase on, off, changed) makes a new data key and rewrites the
  whole document in one ``storage.set``: the old key is deleted only after the
  new document is committed.

Every public method takes one lock: the worker may run two messages at once.
"""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, Field

from .names import ORIGINS_SUFFIX
from .session import (
    AUTOLOCK_ALARM,
    KEK_ID,
    MAX_AUTO_LOCK_MINUTES,
    SESSION_KEY_ID,
    TMP_ID,
    Alarms,
    SessionKeeper,
    Store,
)
from .vault import (
    DEFAULT_ITERATIONS,
    IV_BYTES,
    SALT_BYTES,
    STORAGE_KEY,
    Crypto,
    CryptoAuthError,
    Envelope,
    LockInfo,
    SealedRecord,
    VaultCorrupt,
    VaultKeyMissing,
    VaultLocked,
    VaultTampered,
    VaultVersionError,
    WrongPassphrase,
    decode,
    encode,
    mask,
    record_aad,
    wrap_aad,
)

__all__ = [
    "AUTOLOCK_ALARM",
    "DEFAULT_AUTO_LOCK_MINUTES",
    "SESSION_KEY_ID",
    "KeyVault",
    "VaultStatus",
]

DEFAULT_AUTO_LOCK_MINUTES = 15
MIN_PASSPHRASE_CHARS = 8
MAX_SECRET_CHARS = 32 * 1024
# Records that are not keys: the ChatGPT sign-in (background.accounts) is a whole auth.json,
# whose last characters say nothing useful; its status shows "…" instead.
OPAQUE_RECORDS = frozenset({"chatgpt_auth"})


class VaultStatus(BaseModel):
    """What the UI may know: never a secret, at most its mask."""

    state: Literal["empty", "ready", "locked", "damaged"]
    mode: Literal["device", "passphrase"] | None = None
    records: dict[str, str | None] = Field(default_factory=dict)  # name -> mask (None while locked)
    problem: str | None = None  # damaged: corrupt | tampered | key_missing | version
    message: str | None = None
    auto_lock_minutes: int | None = None
    locks_at: int | None = None  # epoch ms, passphrase mode while unlocked


def _passphrase_bytes(passphrase: str) -> bytes:
    # NFC: the same passphrase typed on another keyboard or OS gives the same bytes.
    return unicodedata.normalize("NFC", passphrase).encode()


class KeyVault:
    def __init__(
        self,
        crypto: Crypto,
        local: Store,
        session: Store,
        *,
        now_ms: Callable[[], float],
        alarms: Alarms | None = None,
        iterations: int = DEFAULT_ITERATIONS,
    ) -> None:
        self.crypto = crypto
        self._local = local
        self._sessions = SessionKeeper(crypto, session, now_ms=now_ms, alarms=alarms)
        self._iterations = iterations
        self._mutex = asyncio.Lock()
        self._live: str | None = None  # kid whose data key is usable in memory
        self._masks: dict[str, str | None] = {}

    # ----------------------------------------------------------------------- reading

    def masked(self, record: str) -> str | None:
        """The last known mask of ``record`` (this worker's memory; None if unknown)."""
        return self._masks.get(record)

    async def status(self) -> VaultStatus:
        async with self._mutex:
            try:
                env = await self._document()
                if env is None:
                    return VaultStatus(state="empty")
                try:
                    await self._open(env, use=False)  # looking is not using: no idle reset
                except VaultLocked as exc:
                    names = dict.fromkeys(n for n in env.records if not n.endswith(ORIGINS_SUFFIX))
                    return VaultStatus(state="locked", mode=env.mode, records=names, message=str(exc))
                for name in env.records:
                    self._masks[name] = _mask(name, await self._unseal(env, name))
                s = self._sessions.current if env.lock is not None else None
                return VaultStatus(
                    state="ready",
                    mode=env.mode,
                    # a key's approved origins are part of that key, not a secret of their own
                    records={n: self._masks[n] for n in env.records if not n.endswith(ORIGINS_SUFFIX)},
                    auto_lock_minutes=s.auto_lock_minutes if s else None,
                    locks_at=s.expires_at() if s else None,
                )
            except (VaultCorrupt, VaultVersionError) as exc:
                return VaultStatus(state="damaged", problem=exc.code, message=str(exc))

    async def read(self, record: str) -> str | None:
        """The secret, or None if not stored. Raises :class:`VaultError` (locked, damaged)."""
        async with self._mutex:
            env = await self._document()
            if env is None or record not in env.records:
                self._masks.pop(record, None)
                return None
            await self._open(env)
            secret = await self._unseal(env, record)
            self._masks[record] = _mask(record, secret)
            return secret

    # ----------------------------------------------------------------------- writing

    async def write(self, record: str, secret: str) -> None:
        """Store (or replace) ``secret``. A damaged store is replaced by a fresh one."""
        if not secret or len(secret) > MAX_SECRET_CHARS:
            raise ValueError(f"a secret must have 1 to {MAX_SECRET_CHARS} characters")
        async with self._mutex:
            try:
                env = await self._document()
                if env is not None:
                    await self._open(env)
            except (VaultCorrupt, VaultVersionError) as exc:
                # The user was told "re-enter your key": this is that. Its old
                # records cannot be read anyway; start over in device mode.
                print(f"vault: replacing a damaged key store ({exc.code})")
                await self._forget_everything()
                env = None
            if env is None:
                env = Envelope(kid=await self._new_kid())
                await self.crypto.generate_key(env.kid, "data", persist=True)
                self._live = env.kid
            sealed = await self._seal(env.kid, record, secret)
            await self._commit(env.model_copy(update={"records": {**env.records, record: sealed}}))
            self._masks[record] = _mask(record, secret)

    async def delete(self, record: str) -> None:
        async with self._mutex:
            env = await self._document()
            if env is not None and record in env.records:
                records = {k: v for k, v in env.records.items() if k != record}
                await self._commit(env.model_copy(update={"records": records}))
            self._masks.pop(record, None)

    async def wipe(self) -> None:
        """Forget everything: the document, the session, every key in the device store."""
        async with self._mutex:
            await self._forget_everything()

    # --------------------------------------------------------------- passphrase lock

    async def set_passphrase(
        self,
        passphrase: str,
        *,
        current: str | None = None,
        auto_lock_minutes: int = DEFAULT_AUTO_LOCK_MINUTES,
    ) -> None:
        """Turn the passphrase lock on, or change it (``current`` required then)."""
        if len(passphrase) < MIN_PASSPHRASE_CHARS:
            raise ValueError(f"a passphrase needs at least {MIN_PASSPHRASE_CHARS} characters")
        _check_minutes(auto_lock_minutes)
        async with self._mutex:
            env = await self._document()
            secrets = await self._secrets_for_rekey(env, current)
            await self._rekey(env, secrets, _passphrase_bytes(passphrase), auto_lock_minutes)

    async def remove_passphrase(self, current: str) -> None:
        """Back to device mode; the current passphrase proves it is the user."""
        async with self._mutex:
            env = await self._document()
            if env is None or env.lock is None:
                return
            secrets = await self._secrets_for_rekey(env, current)
            await self._rekey(env, secrets, None, 0)

    async def unlock(self, passphrase: str, *, auto_lock_minutes: int = DEFAULT_AUTO_LOCK_MINUTES) -> None:
        _check_minutes(auto_lock_minutes)
        async with self._mutex:
            env = await self._document()
            if env is None or env.lock is None:
                return  # nothing to unlock
            await self._unwrap_with(env, passphrase)
            await self._sessions.start(env, auto_lock_minutes)
            await self.crypto.delete_key(KEK_ID)
            self._live = env.kid

    async def lock(self) -> None:
        async with self._mutex:
            env = await self._document()
            if env is not None and env.lock is not None:
                await self._end_session(env.kid)

    async def on_alarm(self, name: str) -> None:
        """``chrome.alarms`` fired: lock if idle long enough, else look again later."""
        if name != AUTOLOCK_ALARM:
            return
        async with self._mutex:
            kid = await self._sessions.alarm_due()
            if kid is not None:
                await self._end_session(kid)

    # --------------------------------------------------------------------- internals

    async def _document(self) -> Envelope | None:
        found = await self._local.get([STORAGE_KEY])
        return decode(found[STORAGE_KEY]) if STORAGE_KEY in found else None

    async def _commit(self, env: Envelope) -> None:
        await self._local.set({STORAGE_KEY: encode(env)})

    async def _new_kid(self) -> str:
        return "k-" + (await self.crypto.random(8)).hex()

    async def _open(self, env: Envelope, *, use: bool = True) -> None:
        """Make ``env.kid`` usable, or raise VaultKeyMissing / VaultLocked.

        ``use``: this is a use of the key, which restarts the auto-lock's idle time.
        """
        if env.lock is None:
            if self._live != env.kid:
                if not await self.crypto.load_key(env.kid):
                    raise VaultKeyMissing(env.kid)
                self._live = env.kid
            return
        await self._resume(env, use)

    async def _resume(self, env: Envelope, use: bool) -> None:
        try:
            await self._sessions.restore(env, unwrap=self._live != env.kid, use=use)
        except VaultLocked:
            await self._end_session(env.kid)  # also drops a session key left by a crash
            raise
        self._live = env.kid

    async def _end_session(self, kid: str | None) -> None:
        """Lock: the session (memory half first), then the data key in memory."""
        await self._sessions.end()
        if kid is not None and self._live == kid:
            await self.crypto.delete_key(kid)  # passphrase mode: in memory only
        self._live = None
        self._masks.clear()

    async def _forget_everything(self) -> None:
        await self._local.remove([STORAGE_KEY])
        await self._sessions.end()
        await self.crypto.clear_keys()
        self._live = None
        self._masks.clear()

    async def _seal(self, kid: str, record: str, secret: str) -> SealedRecord:
        iv = await self.crypto.random(IV_BYTES)  # fresh for every write
        ct = await self.crypto.encrypt(kid, iv, secret.encode(), record_aad(kid, record))
        return SealedRecord(iv=iv, ct=ct)

    async def _unseal(self, env: Envelope, record: str) -> str:
        sealed = env.records[record]
        try:
            plain = await self.crypto.decrypt(env.kid, sealed.iv, sealed.ct, record_aad(env.kid, record))
        except CryptoAuthError:
            raise VaultTampered(f"record {record!r}") from None
        try:
            return plain.decode()
        except UnicodeDecodeError:
            raise VaultCorrupt(f"record {record!r} is not text") from None

    async def _unwrap_with(self, env: Envelope, passphrase: str) -> None:
        """Derive the KEK and unwrap the data key into memory (KEK left for the caller)."""
        assert env.lock is not None
        lock = env.lock
        await self.crypto.derive_key(KEK_ID, _passphrase_bytes(passphrase), lock.salt, lock.iter)
        try:
            await self.crypto.unwrap_key(env.kid, lock.wrapped, KEK_ID, lock.iv, wrap_aad(env.kid), "data")
        except CryptoAuthError:
            await self.crypto.delete_key(KEK_ID)
            raise WrongPassphrase() from None

    async def _secrets_for_rekey(self, env: Envelope | None, current: str | None) -> dict[str, str]:
        if env is None:
            return {}
        if env.lock is not None:
            if current is None:
                raise WrongPassphrase()
            await self._unwrap_with(env, current)
            await self.crypto.delete_key(KEK_ID)
            self._live = env.kid
        else:
            await self._open(env)
        return {name: await self._unseal(env, name) for name in env.records}

    async def _rekey(
        self, old: Envelope | None, secrets: dict[str, str], passphrase: bytes | None, minutes: int
    ) -> None:
        kid = await self._new_kid()
        lock: LockInfo | None = None
        if passphrase is None:
            await self.crypto.generate_key(kid, "data", persist=True)
        else:
            salt = await self.crypto.random(SALT_BYTES)
            await self.crypto.derive_key(KEK_ID, passphrase, salt, self._iterations)
            iv = await self.crypto.random(IV_BYTES)
            # WebCrypto wraps only extractable keys: make one, wrap it, and keep a
            # non-extractable copy to work with. The extractable one never leaves.
            await self.crypto.generate_key(TMP_ID, "data", extractable=True)
            wrapped = await self.crypto.wrap_key(TMP_ID, KEK_ID, iv, wrap_aad(kid))
            await self.crypto.delete_key(TMP_ID)
            await self.crypto.unwrap_key(kid, wrapped, KEK_ID, iv, wrap_aad(kid), "data")
            lock = LockInfo(salt=salt, iter=self._iterations, iv=iv, wrapped=wrapped)
        records = {name: await self._seal(kid, name, secret) for name, secret in secrets.items()}
        env = Envelope(kid=kid, lock=lock, records=records)
        await self._commit(env)  # the commit point: the old key is useless from here on
        if old is not None:
            await self._end_session(old.kid)
            await self.crypto.delete_key(old.kid)
        if lock is not None:
            await self._sessions.start(env, minutes)
            await self.crypto.delete_key(KEK_ID)
        self._live = kid
        self._masks = {name: _mask(name, secret) for name, secret in secrets.items()}


def _mask(record: str, secret: str) -> str | None:
    """A record's mask; records that are not keys show none of their text."""
    return "…" if record in OPAQUE_RECORDS or record.endswith(ORIGINS_SUFFIX) else mask(secret)


def _check_minutes(minutes: int) -> None:
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 <= minutes <= MAX_AUTO_LOCK_MINUTES:
        raise ValueError(f"auto-lock minutes must be an integer in [0, {MAX_AUTO_LOCK_MINUTES}]")
