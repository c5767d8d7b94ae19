"""The vault's :class:`~background.vault.vault.Crypto` in software: ``cryptography`` on CPython.

:class:`SoftwareCrypto` keeps the key bookkeeping WebCrypto does for us in the
browser — ids, purposes, the non-extractable rule, a device store that survives
restarts — over three pluggable primitives. :class:`CryptographyPrimitives`
supplies them from ``cryptography`` (AESGCM, PBKDF2HMAC), which makes this the
CPython implementation of the vault format and the oracle for its test vectors.
The worker never imports ``cryptography`` (it has no WebAssembly wheel); the
tests also plug a pure-Python reference in, so the same rules run in Pyodide.
"""

from __future__ import annotations

import os
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Protocol

from .vault import KEY_BYTES, CryptoAuthError, KeyPurpose

__all__ = ["CryptographyPrimitives", "Primitives", "SoftwareCrypto", "StoredKey", "cryptography_crypto"]


class Primitives(Protocol):
    def aes_gcm_encrypt(self, key: bytes, iv: bytes, plaintext: bytes, aad: bytes) -> bytes: ...

    def aes_gcm_decrypt(self, key: bytes, iv: bytes, data: bytes, aad: bytes) -> bytes:
        """Raises :class:`CryptoAuthError` when the tag does not verify."""
        ...

    def pbkdf2_sha256(self, password: bytes, salt: bytes, iterations: int) -> bytes: ...


class CryptographyPrimitives:
    """AES-256-GCM and PBKDF2-HMAC-SHA256 from the ``cryptography`` package (CPython only)."""

    def aes_gcm_encrypt(self, key: bytes, iv: bytes, plaintext: bytes, aad: bytes) -> bytes:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        return AESGCM(key).encrypt(iv, plaintext, aad)

    def aes_gcm_decrypt(self, key: bytes, iv: bytes, data: bytes, aad: bytes) -> bytes:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            return AESGCM(key).decrypt(iv, data, aad)
        except InvalidTag:
            raise CryptoAuthError("AES-GCM tag mismatch") from None

    def pbkdf2_sha256(self, password: bytes, salt: bytes, iterations: int) -> bytes:
        from cryptography.hazmat.primitives.hashes import SHA256
        from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

        kdf = PBKDF2HMAC(algorithm=SHA256(), length=KEY_BYTES, salt=salt, iterations=iterations)
        return kdf.derive(password)


@dataclass(frozen=True, slots=True)
class StoredKey:
    """A key as the backend holds it: WebCrypto's ``CryptoKey`` fields that matter here."""

    raw: bytes
    purpose: KeyPurpose
    extractable: bool


class SoftwareCrypto:
    """:class:`~background.vault.vault.Crypto` over :class:`Primitives`, with WebCrypto's rules.

    ``device`` is the device key store (IndexedDB's stand-in): pass the same
    mapping to a new instance to model a worker restart, a fresh one to model
    another browser profile. Misuse raises ``ValueError`` exactly where WebCrypto
    would throw (wrapping a non-extractable key, a key used for the wrong purpose).
    """

    def __init__(
        self,
        primitives: Primitives,
        device: MutableMapping[str, StoredKey] | None = None,
        *,
        random: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self._p = primitives
        self.device: MutableMapping[str, StoredKey] = {} if device is None else device
        self.memory: dict[str, StoredKey] = {}
        self._random = random

    def _key(self, key_id: str, purpose: KeyPurpose) -> StoredKey:
        key = self.memory.get(key_id)
        if key is None:
            raise ValueError(f"no key {key_id!r} loaded")
        if key.purpose != purpose:
            raise ValueError(f"key {key_id!r} is a {key.purpose} key, not a {purpose} key")
        return key

    async def random(self, n: int) -> bytes:
        return self._random(n)

    async def generate_key(
        self, key_id: str, purpose: KeyPurpose, *, extractable: bool = False, persist: bool = False
    ) -> None:
        key = StoredKey(self._random(KEY_BYTES), purpose, extractable)
        self.memory[key_id] = key
        if persist:
            self.device[key_id] = key

    async def import_key(self, key_id: str, raw: bytes, purpose: KeyPurpose, *, extractable: bool) -> None:
        if len(raw) != KEY_BYTES:
            raise ValueError("AES-256 keys are 32 bytes")
        self.memory[key_id] = StoredKey(bytes(raw), purpose, extractable)

    async def load_key(self, key_id: str) -> bool:
        key = self.device.get(key_id)
        if key is None:
            return False
        self.memory[key_id] = key
        return True

    async def delete_key(self, key_id: str) -> None:
        self.memory.pop(key_id, None)
        self.device.pop(key_id, None)

    async def clear_keys(self) -> None:
        self.memory.clear()
        self.device.clear()

    async def encrypt(self, key_id: str, iv: bytes, plaintext: bytes, aad: bytes) -> bytes:
        return self._p.aes_gcm_encrypt(self._key(key_id, "data").raw, iv, plaintext, aad)

    async def decrypt(self, key_id: str, iv: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        return self._p.aes_gcm_decrypt(self._key(key_id, "data").raw, iv, ciphertext, aad)

    async def derive_key(self, key_id: str, passphrase: bytes, salt: bytes, iterations: int) -> None:
        raw = self._p.pbkdf2_sha256(passphrase, salt, iterations)
        self.memory[key_id] = StoredKey(raw, "wrap", extractable=False)

    async def wrap_key(self, key_id: str, wrapping_key_id: str, iv: bytes, aad: bytes) -> bytes:
        key = self.memory.get(key_id)
        if key is None or not key.extractable:
            raise ValueError(f"key {key_id!r} is not extractable: it cannot be wrapped")
        return self._p.aes_gcm_encrypt(self._key(wrapping_key_id, "wrap").raw, iv, key.raw, aad)

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
        raw = self._p.aes_gcm_decrypt(self._key(wrapping_key_id, "wrap").raw, iv, wrapped, aad)
        if len(raw) != KEY_BYTES:  # WebCrypto's importKey("raw") refuses other sizes too
            raise CryptoAuthError("unwrapped key has the wrong size")
        self.memory[key_id] = StoredKey(raw, purpose, extractable)


def cryptography_crypto(
    device: MutableMapping[str, StoredKey] | None = None, *, random: Callable[[int], bytes] = os.urandom
) -> SoftwareCrypto:
    """The CPython vault backend: :class:`SoftwareCrypto` on ``cryptography``."""
    return SoftwareCrypto(CryptographyPrimitives(), device, random=random)
