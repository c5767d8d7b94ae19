"""Vault test kit: software crypto backends, a clock, alarms, and a "browser" to restart.

Runs on CPython and inside Pyodide (no ``cryptography`` there): the reference
primitives are the pure-Python AES-GCM/PBKDF2 of :mod:`tests.support.aesgcm_ref`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

from background.store.storage import MemoryStore
from background.vault.keyvault import KeyVault
from background.vault.software import SoftwareCrypto, StoredKey
from background.vault.vault import CryptoAuthError
from tests.support import aesgcm_ref
from tests.support.paths import REPO

VECTORS = REPO / "tests" / "fixtures" / "vault" / "vectors.json"


def load_vectors(path: Path = VECTORS) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def has_cryptography() -> bool:
    try:
        import cryptography  # noqa: F401
    except ImportError:
        return False
    return True


class ReferencePrimitives:
    """The pure-Python reference: real AES-GCM and real PBKDF2 (slow: ~1 s per 600k)."""

    def aes_gcm_encrypt(self, key: bytes, iv: bytes, plaintext: bytes, aad: bytes) -> bytes:
        return aesgcm_ref.gcm_encrypt(key, iv, plaintext, aad)

    def aes_gcm_decrypt(self, key: bytes, iv: bytes, data: bytes, aad: bytes) -> bytes:
        try:
            return aesgcm_ref.gcm_decrypt(key, iv, data, aad)
        except aesgcm_ref.AuthError:
            raise CryptoAuthError("tag mismatch") from None

    def pbkdf2_sha256(self, password: bytes, salt: bytes, iterations: int) -> bytes:
        return aesgcm_ref.pbkdf2_sha256(password, salt, iterations)


class FastKdfPrimitives(ReferencePrimitives):
    """Real AES-GCM; a one-hash stand-in for PBKDF2 so logic tests stay fast.

    Deterministic and passphrase-sensitive, which is all the lock logic needs.
    """

    def pbkdf2_sha256(self, password: bytes, salt: bytes, iterations: int) -> bytes:
        material = b"|".join([b"fast-kdf", password, salt, str(iterations).encode()])
        return hashlib.sha256(material).digest()


class CountingRandom:
    """Deterministic, never-repeating "random" bytes."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def __call__(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(next(self._counter).to_bytes(8, "big")).digest()
        return out[:n]


class Clock:
    def __init__(self, ms: float = 1_800_000_000_000) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms

    def advance(self, minutes: float) -> None:
        self.ms += minutes * 60_000


class FakeAlarms:
    def __init__(self) -> None:
        self.scheduled: dict[str, float] = {}

    async def schedule(self, name: str, when_ms: float) -> None:
        self.scheduled[name] = when_ms

    async def cancel(self, name: str) -> None:
        self.scheduled.pop(name, None)


class Browser:
    """One browser profile: stores survive :meth:`restart_worker`; :meth:`restart_browser` ends the session.

    ``device`` stands in for IndexedDB, ``local``/``session`` for ``chrome.storage``.
    """

    def __init__(self, primitives: Any | None = None) -> None:
        self.primitives = primitives or FastKdfPrimitives()
        self.device: dict[str, StoredKey] = {}
        self.local = MemoryStore()
        self.session = MemoryStore()
        self.clock = Clock()
        self.alarms = FakeAlarms()
        self.random = CountingRandom()
        self.vault = self._new_vault()

    def _new_vault(self) -> KeyVault:
        self.crypto = SoftwareCrypto(self.primitives, self.device, random=self.random)
        return KeyVault(self.crypto, self.local, self.session, now_ms=self.clock, alarms=self.alarms)

    def restart_worker(self) -> KeyVault:
        """Python's memory is gone; IndexedDB and both storage areas remain."""
        self.vault = self._new_vault()
        return self.vault

    def restart_browser(self) -> KeyVault:
        """``chrome.storage.session`` is cleared too."""
        self.session = MemoryStore()
        self.alarms = FakeAlarms()
        return self.restart_worker()

    def stored_text(self) -> str:
        """Everything ``chrome.storage`` holds, as one string (to search for leaks)."""
        return json.dumps([self.local.data, self.session.data])
