"""The vault's browser side: WebCrypto, the IndexedDB key store, alarms, and the wiring.

:class:`WebCrypto` implements :class:`background.vault.vault.Crypto` on
``crypto.subtle``. Keys are ``CryptoKey`` objects that stay in JavaScript: Python
holds proxies, and the device store is IndexedDB through ``extension/bridges/idb.js``
(structured clone keeps a non-extractable key non-extractable). Every key is
created non-extractable except the short-lived copy the vault wraps, because
WebCrypto's ``wrapKey`` only wraps extractable keys. Raw key bytes never reach
Python, except in :meth:`WebCrypto.import_key`, which only test vectors use, on
an instance without a device store (:func:`isolated_webcrypto`).

Everything JavaScript is passed in (``crypto``, ``host.idb``, ``chrome.*``) or
imported inside functions, so importing this module binds no JS object (the
worker's memory snapshot must hold none). ``chrome.storage`` comes from
:class:`background.browser.ChromeStorage`, the app's own adapter.
"""

from __future__ import annotations

import time
from typing import Any

from ..browser import ChromeStorage
from .keyvault import KeyVault
from .vault import CryptoAuthError, KeyPurpose

__all__ = ["ChromeAlarms", "WebCrypto", "browser_vault", "isolated_webcrypto"]

_USAGES: dict[str, list[str]] = {"data": ["encrypt", "decrypt"], "wrap": ["wrapKey", "unwrapKey"]}
# WebCrypto's names for a failed decryption/unwrap: a bad tag is OperationError; an
# unwrapped blob that is not a 256-bit key is DataError.
_AUTH_FAILURES = ("OperationError", "DataError")


def _js(value: object) -> Any:
    from js import Object
    from pyodide.ffi import to_js

    return to_js(value, dict_converter=Object.fromEntries)


def _gcm(iv: bytes, aad: bytes) -> Any:
    return _js({"name": "AES-GCM", "iv": iv, "additionalData": aad, "tagLength": 128})


class _MemoryKeyStore:
    """A device store that forgets: for :func:`isolated_webcrypto` (vectors, diagnostics)."""

    def __init__(self) -> None:
        self._keys: dict[str, Any] = {}

    async def get(self, name: str) -> Any:
        return self._keys.get(name)

    async def put(self, name: str, value: Any) -> None:
        self._keys[name] = value

    async def delete(self, name: str) -> None:
        self._keys.pop(name, None)

    async def clear(self) -> None:
        self._keys.clear()


class WebCrypto:
    """:class:`~background.vault.vault.Crypto` on WebCrypto (``crypto.subtle``) and IndexedDB."""

    def __init__(self, js_crypto: Any, idb: Any) -> None:
        self._crypto = js_crypto
        self._subtle = js_crypto.subtle
        self._idb = idb  # extension/bridges/idb.js: get/put/delete/clear, promise-based
        self._memory: dict[str, Any] = {}  # key id -> CryptoKey proxy

    def _key(self, key_id: str) -> Any:
        key = self._memory.get(key_id)
        if key is None:
            raise ValueError(f"no key {key_id!r} loaded")
        return key

    async def _auth(self, promise: Any) -> Any:
        from pyodide.ffi import JsException

        try:
            return await promise
        except JsException as exc:
            if getattr(exc, "name", None) in _AUTH_FAILURES:
                raise CryptoAuthError(str(getattr(exc, "name", "OperationError"))) from None
            raise

    async def random(self, n: int) -> bytes:
        from js import Uint8Array

        return bytes(self._crypto.getRandomValues(Uint8Array.new(n)).to_bytes())

    async def generate_key(
        self, key_id: str, purpose: KeyPurpose, *, extractable: bool = False, persist: bool = False
    ) -> None:
        algorithm = _js({"name": "AES-GCM", "length": 256})
        key = await self._subtle.generateKey(algorithm, extractable, _js(_USAGES[purpose]))
        if persist:
            await self._idb.put(key_id, key)  # before it is used: a key we lose is data we lose
        self._memory[key_id] = key

    async def import_key(self, key_id: str, raw: bytes, purpose: KeyPurpose, *, extractable: bool) -> None:
        algorithm = _js({"name": "AES-GCM"})
        key = await self._subtle.importKey("raw", _js(raw), algorithm, extractable, _js(_USAGES[purpose]))
        self._memory[key_id] = key

    async def load_key(self, key_id: str) -> bool:
        key = await self._idb.get(key_id)
        if key is None or type(key).__name__ == "JsNull":
            return False
        self._memory[key_id] = key
        return True

    async def delete_key(self, key_id: str) -> None:
        self._memory.pop(key_id, None)
        await self._idb.delete(key_id)

    async def clear_keys(self) -> None:
        self._memory.clear()
        await self._idb.clear()

    async def encrypt(self, key_id: str, iv: bytes, plaintext: bytes, aad: bytes) -> bytes:
        out = await self._subtle.encrypt(_gcm(iv, aad), self._key(key_id), _js(plaintext))
        return bytes(out.to_bytes())

    async def decrypt(self, key_id: str, iv: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        out = await self._auth(self._subtle.decrypt(_gcm(iv, aad), self._key(key_id), _js(ciphertext)))
        return bytes(out.to_bytes())

    async def derive_key(self, key_id: str, passphrase: bytes, salt: bytes, iterations: int) -> None:
        base = await self._subtle.importKey("raw", _js(passphrase), "PBKDF2", False, _js(["deriveKey"]))
        params = _js({"name": "PBKDF2", "hash": "SHA-256", "salt": salt, "iterations": iterations})
        algorithm = _js({"name": "AES-GCM", "length": 256})
        usages = _js(_USAGES["wrap"])
        self._memory[key_id] = await self._subtle.deriveKey(params, base, algorithm, False, usages)

    async def wrap_key(self, key_id: str, wrapping_key_id: str, iv: bytes, aad: bytes) -> bytes:
        out = await self._subtle.wrapKey("raw", self._key(key_id), self._key(wrapping_key_id), _gcm(iv, aad))
        return bytes(out.to_bytes())

    async def unwrap_key(
        self,
        key_id: str,
        wrapped: bytes,
        wrapping_key_id: str,
        iv: bytes,
        aad: bytes,
        purpose: KeyPurpose,
        *,
        extractable: bool = False,
    ) -> None:
        wrapping, params = self._key(wrapping_key_id), _gcm(iv, aad)
        algorithm, usages = _js({"name": "AES-GCM"}), _js(_USAGES[purpose])
        call = self._subtle.unwrapKey("raw", _js(wrapped), wrapping, params, algorithm, extractable, usages)
        self._memory[key_id] = await self._auth(call)


def isolated_webcrypto(js_crypto: Any) -> WebCrypto:
    """WebCrypto with a throw-away device store: it can never touch the real vault."""
    return WebCrypto(js_crypto, _MemoryKeyStore())


class ChromeAlarms:
    """``chrome.alarms``: the auto-lock fires even if the worker was stopped meanwhile."""

    def __init__(self, alarms: Any) -> None:
        self._alarms = alarms

    async def schedule(self, name: str, when_ms: float) -> None:
        await self._alarms.create(name, _js({"when": when_ms}))

    async def cancel(self, name: str) -> None:
        await self._alarms.clear(name)


def browser_vault(js_host: Any) -> KeyVault:
    """The worker's vault: WebCrypto, IndexedDB (``host.idb``), ``chrome.storage``, alarms."""
    from js import chrome

    # host.crypto, not "from js import crypto": in the worker, Pyodide's js module
    # fails on the global scope's getters (crypto, indexedDB, self) with "Illegal
    # invocation", so extension/background.js hands the object over.
    alarms = getattr(chrome, "alarms", None)  # absent without the "alarms" permission
    return KeyVault(
        WebCrypto(js_host.crypto, js_host.idb),
        ChromeStorage("local"),
        ChromeStorage("session"),
        now_ms=lambda: time.time() * 1000,
        alarms=ChromeAlarms(alarms) if alarms is not None else None,
    )
