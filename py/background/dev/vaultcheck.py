"""Run the vault's shared test vectors (tests/fixtures/vault/vectors.json) on any backend.

The unit tests run this on ``cryptography`` and on a pure-Python reference; the
worker runs it on WebCrypto (``diag.vault_vectors``), so one function decides, in
every runtime, whether the bytes agree. Each run uses a fresh backend that has
no device store: vectors never touch a real vault.

Vault vectors replay the real :class:`~background.vault.keyvault.KeyVault` code with
the randomness and the generated data keys scripted (:class:`ScriptedCrypto`),
so the expected document is the exact text the browser would store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..vault.keyvault import KeyVault
from ..vault.vault import Crypto, CryptoAuthError, KeyPurpose

__all__ = ["ScriptedCrypto", "check_vectors"]

MakeCrypto = Callable[[], Crypto]


class _DictStore:
    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    async def get(self, keys: list[str]) -> dict[str, str]:
        return {k: self.data[k] for k in keys if k in self.data}

    async def set(self, items: dict[str, str]) -> None:
        self.data.update(items)

    async def remove(self, keys: list[str]) -> None:
        for k in keys:
            self.data.pop(k, None)


class ScriptedCrypto:
    """A backend whose ``random`` and generated *data* keys come from a script.

    Everything else — AES-GCM, PBKDF2, wrapping, session (wrap-purpose) keys —
    is the inner backend's own, so the bytes it produces are that backend's.
    """

    def __init__(self, inner: Crypto, randoms: list[bytes], data_keys: list[bytes]) -> None:
        self._inner = inner
        self._randoms = list(randoms)
        self._data_keys = list(data_keys)

    async def random(self, n: int) -> bytes:
        if not self._randoms:
            raise AssertionError(f"the vector's random script ran out (wanted {n} bytes)")
        value = self._randoms.pop(0)
        if len(value) != n:
            raise AssertionError(f"the vector scripts {len(value)} random bytes where the vault wants {n}")
        return value

    async def generate_key(
        self, key_id: str, purpose: KeyPurpose, *, extractable: bool = False, persist: bool = False
    ) -> None:
        if purpose != "data":
            return await self._inner.generate_key(key_id, purpose, extractable=extractable, persist=False)
        if not self._data_keys:
            raise AssertionError("the vector's data-key script ran out")
        await self._inner.import_key(key_id, self._data_keys.pop(0), "data", extractable=extractable)

    async def import_key(self, key_id: str, raw: bytes, purpose: KeyPurpose, *, extractable: bool) -> None:
        await self._inner.import_key(key_id, raw, purpose, extractable=extractable)

    async def load_key(self, key_id: str) -> bool:
        return await self._inner.load_key(key_id)

    async def delete_key(self, key_id: str) -> None:
        await self._inner.delete_key(key_id)

    async def clear_keys(self) -> None:
        await self._inner.clear_keys()

    async def encrypt(self, key_id: str, iv: bytes, plaintext: bytes, aad: bytes) -> bytes:
        return await self._inner.encrypt(key_id, iv, plaintext, aad)

    async def decrypt(self, key_id: str, iv: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        return await self._inner.decrypt(key_id, iv, ciphertext, aad)

    async def derive_key(self, key_id: str, passphrase: bytes, salt: bytes, iterations: int) -> None:
        await self._inner.derive_key(key_id, passphrase, salt, iterations)

    async def wrap_key(self, key_id: str, wrapping_key_id: str, iv: bytes, aad: bytes) -> bytes:
        return await self._inner.wrap_key(key_id, wrapping_key_id, iv, aad)

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
        inner = self._inner
        await inner.unwrap_key(key_id, wrapped, wrapping_key_id, iv, aad, purpose, extractable=extractable)


def _hex(value: str) -> bytes:
    return bytes.fromhex(value)


async def _aes_gcm(v: dict[str, Any], make: MakeCrypto) -> tuple[str, list[str]]:
    crypto, failures = make(), []
    await crypto.import_key("k", _hex(v["key"]), "data", extractable=False)
    out = await crypto.encrypt("k", _hex(v["iv"]), _hex(v["plaintext"]), _hex(v["aad"]))
    if out.hex() != v["ciphertext"]:
        failures.append(f"aes_gcm {v['name']}: ciphertext differs")
    back = await crypto.decrypt("k", _hex(v["iv"]), _hex(v["ciphertext"]), _hex(v["aad"]))
    if back != _hex(v["plaintext"]):
        failures.append(f"aes_gcm {v['name']}: decryption differs")
    flipped = bytearray(_hex(v["ciphertext"]))
    flipped[-1] ^= 1
    try:
        await crypto.decrypt("k", _hex(v["iv"]), bytes(flipped), _hex(v["aad"]))
        failures.append(f"aes_gcm {v['name']}: a flipped tag bit was accepted")
    except CryptoAuthError:
        pass
    return out.hex(), failures


async def _wrap(v: dict[str, Any], make: MakeCrypto) -> tuple[str, list[str]]:
    crypto, failures = make(), []
    await crypto.derive_key("kek", v["passphrase"].encode(), _hex(v["salt"]), v["iterations"])
    await crypto.import_key("dk", _hex(v["data_key"]), "data", extractable=True)
    out = await crypto.wrap_key("dk", "kek", _hex(v["iv"]), _hex(v["aad"]))
    if out.hex() != v["wrapped"]:
        failures.append(f"wrap {v['name']}: wrapped key differs")
    # Unwrap as the vault does (non-extractable) and prove it is the same key.
    await crypto.unwrap_key("back", _hex(v["wrapped"]), "kek", _hex(v["iv"]), _hex(v["aad"]), "data")
    probe_iv, probe = bytes(12), b"probe"
    if await crypto.encrypt("back", probe_iv, probe, b"") != await crypto.encrypt("dk", probe_iv, probe, b""):
        failures.append(f"wrap {v['name']}: unwrapped key differs")
    return out.hex(), failures


async def _vault(v: dict[str, Any], make: MakeCrypto, now_ms: float) -> tuple[str, list[str]]:
    randoms = [_hex(r["hex"]) for r in v["random"]]
    crypto = ScriptedCrypto(make(), randoms, [_hex(k) for k in v["data_keys"]])
    local = _DictStore()
    iterations = v.get("iterations", 600_000)
    vault = KeyVault(crypto, local, _DictStore(), now_ms=lambda: now_ms, iterations=iterations)
    for step in v["steps"]:
        if step["op"] == "write":
            await vault.write(step["record"], step["secret"])
        elif step["op"] == "set_passphrase":
            minutes = step.get("auto_lock_minutes", 15)
            await vault.set_passphrase(step["passphrase"], auto_lock_minutes=minutes)
        else:
            raise AssertionError(f"unknown vector op {step['op']!r}")
    document = local.data["sidepy.vault"]
    failures = [] if document == v["document"] else [f"vault {v['name']}: document differs"]
    for record, secret in v.get("reads", {}).items():
        if await vault.read(record) != secret:
            failures.append(f"vault {v['name']}: reading {record} back failed")
    return document, failures


async def check_vectors(
    vectors: dict[str, Any], make_crypto: MakeCrypto, *, now_ms: float = 0
) -> dict[str, Any]:
    """Run every AES-GCM, wrap and vault vector; return what was produced and what differed.

    ``pbkdf2`` vectors are not run here: a backend's derived key never leaves it
    (WebCrypto's is non-extractable); the ``wrap`` vectors cover PBKDF2 through
    the key it derives.
    """
    produced: dict[str, dict[str, str]] = {"aes_gcm": {}, "wrap": {}, "vaults": {}}
    failures: list[str] = []
    for v in vectors.get("aes_gcm", []):
        produced["aes_gcm"][v["name"]], bad = await _aes_gcm(v, make_crypto)
        failures += bad
    for v in vectors.get("wrap", []):
        produced["wrap"][v["name"]], bad = await _wrap(v, make_crypto)
        failures += bad
    for v in vectors.get("vaults", []):
        produced["vaults"][v["name"]], bad = await _vault(v, make_crypto, now_ms)
        failures += bad
    return {"produced": produced, "failures": failures}
