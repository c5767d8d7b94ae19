"""The key vault's format and its crypto seam (sans-IO: no browser, no files, no clock).

A vault is **one** versioned JSON document in ``chrome.storage.local`` under
:data:`STORAGE_KEY`; docs/security.md is its specification. It holds ciphertext
only: the AES-GCM-256 data key lives elsewhere — a non-extractable ``CryptoKey``
in IndexedDB (device mode), or wrapped inside the document under a key derived
from the user's passphrase (passphrase mode). One document, not one item per
record, so that re-keying (turning the passphrase on or off) is a single atomic
``storage.set``.

This module is the part every runtime shares:

* the envelope model and its canonical encoding (:func:`encode`, :func:`decode`),
  with the error tree below, so a damaged store is reported, never accepted;
* the AAD strings that bind each ciphertext to its key id and record name, so an
  envelope cannot be moved to another record or another key;
* :func:`mask` (``sk-…abcd``) — the only form of a secret the UI ever shows;
* :class:`Crypto`, the protocol both backends implement: WebCrypto in the worker
  (:mod:`background.vault.webcrypto`) and ``cryptography`` on CPython
  (:mod:`background.vault.software`). Keys are named by string ids; the
  backend owns the key objects, so a non-extractable ``CryptoKey`` never has to
  be represented in Python.

Errors (every message is safe to show: none ever contains a secret)::

    VaultError
     ├── VaultCorrupt          not JSON, bad base64, wrong shape/lengths
     │    ├── VaultTampered    an authentication tag did not verify
     │    └── VaultKeyMissing  the data key is not on this device (IndexedDB)
     ├── VaultVersionError     written by a format this code does not know
     ├── VaultLocked           passphrase mode, not unlocked in this session
     └── WrongPassphrase       the passphrase does not unwrap the data key
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, ValidationError

from ..untrusted import UntrustedInput
from ..untrusted import decode as decode_json

__all__ = [
    "ALGORITHM",
    "DEFAULT_ITERATIONS",
    "FORMAT_VERSION",
    "IV_BYTES",
    "KDF",
    "KEY_BYTES",
    "MIN_ITERATIONS",
    "SALT_BYTES",
    "SESSION_KEY",
    "STORAGE_KEY",
    "Crypto",
    "CryptoAuthError",
    "Envelope",
    "KeyPurpose",
    "LockInfo",
    "SealedRecord",
    "VaultCorrupt",
    "VaultError",
    "VaultKeyMissing",
    "VaultLocked",
    "VaultTampered",
    "VaultVersionError",
    "WrongPassphrase",
    "b64",
    "decode",
    "encode",
    "mask",
    "record_aad",
    "session_aad",
    "wrap_aad",
]

FORMAT_VERSION = 1
ALGORITHM = "AES-GCM-256"
KDF = "PBKDF2-SHA256"
# OWASP's 2023 figure for PBKDF2-HMAC-SHA256. Stored per vault, so it can rise later
# without breaking old vaults; a stored value below the floor is refused (a downgrade).
MIN_ITERATIONS = 600_000
DEFAULT_ITERATIONS = 600_000
MAX_ITERATIONS = 10_000_000  # a forged huge count must not hang the worker
MAX_DOCUMENT_CHARS = 1_000_000  # a vault of a few keys is a few kB
KEY_BYTES = 32
IV_BYTES = 12  # 96-bit GCM nonce, fresh from the CSPRNG for every encryption
TAG_BYTES = 16
SALT_BYTES = 16

STORAGE_KEY = "sidepy.vault"  # chrome.storage.local: the document
SESSION_KEY = "sidepy.vault.session"  # chrome.storage.session: passphrase-mode unlock state

KeyPurpose = Literal["data", "wrap"]  # data: encrypt/decrypt; wrap: wrapKey/unwrapKey

DAMAGED = "key store damaged, re-enter your key"


# --------------------------------------------------------------------------- errors


class VaultError(Exception):
    """Base of the vault's errors. ``code`` is stable (protocol); ``str()`` is for users."""

    code = "vault_error"


class VaultCorrupt(VaultError):
    """The stored document cannot be read. ``detail`` says where (no secret data in it)."""

    code = "corrupt"

    def __init__(self, detail: str = "", message: str = DAMAGED) -> None:
        super().__init__(message)
        self.detail = detail


class VaultTampered(VaultCorrupt):
    """An authentication tag failed: the envelope was altered, swapped or truncated."""

    code = "tampered"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail, f"{DAMAGED} (its integrity check failed: it was altered)")


class VaultKeyMissing(VaultCorrupt):
    """The document names a device key that this browser profile does not hold."""

    code = "key_missing"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail, f"{DAMAGED} (its encryption key is not in this browser profile)")


class VaultVersionError(VaultError):
    """The document's format version is not one this code reads."""

    code = "version"

    def __init__(self, version: object) -> None:
        super().__init__(
            f"key store uses format v{version}, which this SidePy does not read: "
            "update SidePy, or re-enter your key"
        )
        self.version = version


class VaultLocked(VaultError):
    code = "locked"

    def __init__(self) -> None:
        super().__init__("the key store is locked: enter your passphrase to unlock it")


class WrongPassphrase(VaultError):
    code = "wrong_passphrase"

    def __init__(self) -> None:
        super().__init__("wrong passphrase")


class CryptoAuthError(Exception):
    """Raised by a :class:`Crypto` backend when AES-GCM authentication fails."""


# ------------------------------------------------------------------------- envelope


def _b64decode(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise ValueError("expected a base64 string")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("invalid base64") from None
    if base64.b64encode(raw).decode() != value:  # one spelling per value: canonical bytes
        raise ValueError("non-canonical base64")
    return raw


def b64(data: bytes) -> str:
    """Standard base64 with padding: the only spelling the format uses."""
    return base64.b64encode(data).decode()


def _sized(low: int, high: int) -> Any:
    def check(value: object) -> bytes:
        raw = _b64decode(value)
        if not low <= len(raw) <= high:
            want = str(low) if high == low else f"{low}..{high}"
            raise ValueError(f"expected {want} bytes, got {len(raw)}")
        return raw

    return BeforeValidator(check)


_AS_B64 = PlainSerializer(b64, return_type=str)
Iv = Annotated[bytes, _sized(IV_BYTES, IV_BYTES), _AS_B64]
Salt = Annotated[bytes, _sized(SALT_BYTES, 64), _AS_B64]
WrappedKey = Annotated[bytes, _sized(KEY_BYTES + TAG_BYTES, KEY_BYTES + TAG_BYTES), _AS_B64]
Ciphertext = Annotated[bytes, _sized(TAG_BYTES, TAG_BYTES + 64 * 1024), _AS_B64]  # secrets are small
KeyId = Annotated[str, Field(pattern=r"^k-[0-9a-f]{16}$")]
RecordName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.-]{0,63}$")]

_STRICT = ConfigDict(extra="forbid", frozen=True)


class SealedRecord(BaseModel):
    """One secret: ``ct`` = AES-GCM ciphertext || 16-byte tag, under ``iv``."""

    model_config = _STRICT
    iv: Iv
    ct: Ciphertext


class LockInfo(BaseModel):
    """Passphrase mode: the data key, AES-GCM-wrapped under PBKDF2(passphrase, salt, iter)."""

    model_config = _STRICT
    kdf: Literal["PBKDF2-SHA256"] = "PBKDF2-SHA256"
    salt: Salt
    iter: Annotated[int, Field(ge=MIN_ITERATIONS, le=MAX_ITERATIONS, strict=True)]
    iv: Iv
    wrapped: WrappedKey


class Envelope(BaseModel):
    """The whole vault document (format v1). ``lock`` is None in device mode."""

    model_config = _STRICT
    v: Literal[1] = 1
    alg: Literal["AES-GCM-256"] = "AES-GCM-256"
    kid: KeyId
    lock: LockInfo | None = None
    records: dict[RecordName, SealedRecord] = Field(default_factory=dict)

    @property
    def mode(self) -> Literal["device", "passphrase"]:
        return "device" if self.lock is None else "passphrase"


def encode(envelope: Envelope) -> str:
    """Canonical JSON: sorted keys, no spaces. Equal envelopes give equal bytes."""
    return json.dumps(envelope.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def decode(text: object) -> Envelope:
    """Parse and validate a stored document.

    Raises:
        VaultCorrupt: not a JSON object, or any field missing, mistyped or malformed.
        VaultVersionError: a well-formed document of another format version.
    """
    if not isinstance(text, str):
        raise VaultCorrupt(f"stored value is a {type(text).__name__}, not JSON text")
    try:
        doc = decode_json(text, max_chars=MAX_DOCUMENT_CHARS, what="the vault")
    except UntrustedInput:
        raise VaultCorrupt("not JSON") from None
    if not isinstance(doc, dict):
        raise VaultCorrupt("not a JSON object")
    version = doc.get("v")
    if isinstance(version, bool) or not isinstance(version, int):
        raise VaultCorrupt("no format version")
    if version != FORMAT_VERSION:
        raise VaultVersionError(version)
    try:
        return Envelope.model_validate(doc)
    except ValidationError as exc:
        # Locations and messages only: pydantic's default text would echo the input.
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise VaultCorrupt(where) from None


# ---------------------------------------------------------------------- AAD strings
# Authenticated, never stored: each is rebuilt from what the reader *expects*, so a
# ciphertext moved to another record, key or purpose fails its tag check.


def record_aad(kid: str, record: str) -> bytes:
    return f"sidepy-vault/v{FORMAT_VERSION}/{kid}/record/{record}".encode()


def wrap_aad(kid: str) -> bytes:
    return f"sidepy-vault/v{FORMAT_VERSION}/{kid}/data-key".encode()


def session_aad(kid: str) -> bytes:
    return f"sidepy-vault/v{FORMAT_VERSION}/{kid}/session".encode()


# -------------------------------------------------------------------------- masking

# Prefixes that say what a key is without saying anything secret.
_PREFIX = re.compile(r"^(sk-(?:proj-|svcacct-|admin-)?|sess-|eyJ)")
_MASK_TAIL = 4
_MASK_MIN_HIDDEN = 8


def mask(secret: str | None) -> str | None:
    """``sk-…abcd``: a known prefix and the last 4 characters, at least 8 hidden."""
    if not secret:
        return None
    m = _PREFIX.match(secret)
    prefix = m.group(1) if m else ""
    rest = secret[len(prefix) :]
    if len(rest) >= _MASK_TAIL + _MASK_MIN_HIDDEN:
        return f"{prefix}…{rest[-_MASK_TAIL:]}"
    return f"{prefix}…"


# ---------------------------------------------------------------------- crypto seam


class Crypto(Protocol):
    """AES-GCM-256 and PBKDF2-SHA256 over keys named by id; one per runtime.

    Keys live in the backend: in memory, and — only when created with
    ``persist=True`` — in a device key store (IndexedDB in the browser) from which
    :meth:`load_key` brings them back after a restart. Every key is created
    non-extractable unless ``extractable=True`` is asked for, and only an
    extractable key can be wrapped (as in WebCrypto). AES-GCM uses a 128-bit tag
    appended to the ciphertext; decryption failures raise :class:`CryptoAuthError`.
    """

    async def random(self, n: int) -> bytes:
        """``n`` bytes from a CSPRNG."""
        ...

    async def generate_key(
        self, key_id: str, purpose: KeyPurpose, *, extractable: bool = False, persist: bool = False
    ) -> None:
        """Create a fresh AES-GCM-256 key under ``key_id`` (replacing any)."""
        ...

    async def import_key(self, key_id: str, raw: bytes, purpose: KeyPurpose, *, extractable: bool) -> None:
        """Memory only. For test vectors and diagnostics; the vault never imports raw keys."""
        ...

    async def load_key(self, key_id: str) -> bool:
        """Make a persisted key usable (after a restart); False if the store lacks it."""
        ...

    async def delete_key(self, key_id: str) -> None:
        """Forget ``key_id`` in memory and in the device store; no error if absent."""
        ...

    async def clear_keys(self) -> None:
        """Forget every key, in memory and in the device store (wipe)."""
        ...

    async def encrypt(self, key_id: str, iv: bytes, plaintext: bytes, aad: bytes) -> bytes: ...

    async def decrypt(self, key_id: str, iv: bytes, ciphertext: bytes, aad: bytes) -> bytes: ...

    async def derive_key(self, key_id: str, passphrase: bytes, salt: bytes, iterations: int) -> None:
        """PBKDF2-HMAC-SHA256 → a non-extractable AES-GCM-256 wrapping key, memory only."""
        ...

    async def wrap_key(self, key_id: str, wrapping_key_id: str, iv: bytes, aad: bytes) -> bytes:
        """AES-GCM-encrypt the raw bytes of an extractable key: the bytes never reach Python."""
        ...

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
        """The inverse of :meth:`wrap_key`; the new key lives in memory only."""
        ...
