"""The vault format: envelope encode/decode, damage classes, masking, AAD, and the shared vectors.

Runs on CPython and in Pyodide. The vectors are checked against the pure-Python
reference everywhere, and against ``cryptography`` wherever it is installed
(CPython); the browser's WebCrypto reproduces them in tests/e2e/test_vault.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from typing import Any

import pytest

from background.dev.vaultcheck import check_vectors
from background.vault.software import SoftwareCrypto, cryptography_crypto
from background.vault.vault import (
    FORMAT_VERSION,
    CryptoAuthError,
    Envelope,
    LockInfo,
    SealedRecord,
    VaultCorrupt,
    VaultTampered,
    VaultVersionError,
    decode,
    encode,
    mask,
    record_aad,
    session_aad,
    wrap_aad,
)
from tests.support import aesgcm_ref
from tests.support.aio import run_sync
from tests.support.vaultkit import ReferencePrimitives, has_cryptography, load_vectors

DAMAGED = "key store damaged, re-enter your key"
IV = base64.b64encode(bytes(12)).decode()
TAG = base64.b64encode(bytes(16)).decode()
VECTORS = load_vectors()


def envelope(**changes: Any) -> dict[str, Any]:
    doc = json.loads(VECTORS["vaults"][0]["document"])
    doc.update(changes)
    return doc


# ------------------------------------------------------------------------- encoding


def test_stored_documents_decode_and_re_encode_to_the_same_bytes() -> None:
    for vector in VECTORS["vaults"]:
        env = decode(vector["document"])
        assert encode(env) == vector["document"]
        assert decode(encode(env)) == env


def test_encoding_is_canonical_sorted_compact_json() -> None:
    env = Envelope(kid="k-00000000000000ff", records={"b": SealedRecord(iv=bytes(12), ct=bytes(16))})
    text = encode(env)
    assert text == (
        '{"alg":"AES-GCM-256","kid":"k-00000000000000ff","lock":null,'
        '"records":{"b":{"ct":"AAAAAAAAAAAAAAAAAAAAAA==","iv":"AAAAAAAAAAAAAAAA"}},"v":1}'
    )
    assert json.loads(text) == json.loads(json.dumps(json.loads(text), sort_keys=True))


def test_the_format_version_and_algorithm_are_written() -> None:
    doc = json.loads(VECTORS["vaults"][2]["document"])
    assert doc["v"] == FORMAT_VERSION == 1 and doc["alg"] == "AES-GCM-256"
    assert doc["lock"]["kdf"] == "PBKDF2-SHA256" and doc["lock"]["iter"] >= 600_000


@pytest.mark.parametrize(
    "stored",
    [
        None,
        42,
        "",
        "not json {",
        "[1, 2]",
        json.dumps(envelope(v="1")),
        json.dumps({k: v for k, v in envelope().items() if k != "v"}),
        json.dumps(envelope(kid="k-XYZ")),
        json.dumps(envelope(alg="AES-CBC-256")),
        json.dumps(envelope(extra="field")),
        json.dumps(envelope(records={"api_key": {"iv": "!!!notbase64", "ct": TAG}})),
        json.dumps(envelope(records={"api_key": {"iv": "AAAAAAAAAAAAAAA=", "ct": TAG}})),  # 11 bytes
        json.dumps(envelope(records={"api_key": {"iv": IV, "ct": "AAAA"}})),  # shorter than a tag
        json.dumps(envelope(records={"API KEY": {"iv": IV, "ct": TAG}})),
        json.dumps(envelope(lock={"kdf": "PBKDF2-SHA256", "salt": TAG, "iter": 1000, "iv": IV,
                                  "wrapped": base64.b64encode(bytes(48)).decode()})),
    ],
)
def test_damaged_documents_raise_vault_corrupt_with_the_user_message(stored: object) -> None:
    with pytest.raises(VaultCorrupt) as caught:
        decode(stored)
    assert str(caught.value) == DAMAGED
    assert caught.value.code == "corrupt"


def test_non_canonical_base64_is_refused() -> None:
    # "…AB==" and "…AA==" decode to the same 16 bytes; only the canonical spelling is accepted.
    canonical = base64.b64encode(bytes(16)).decode()
    variant = canonical[:-3] + "B=="
    assert base64.b64decode(variant) == bytes(16)
    decode(json.dumps(envelope(records={"api_key": {"iv": "AAAAAAAAAAAAAAAA", "ct": canonical}})))
    with pytest.raises(VaultCorrupt):
        decode(json.dumps(envelope(records={"api_key": {"iv": "AAAAAAAAAAAAAAAA", "ct": variant}})))


def test_error_details_never_echo_the_stored_values() -> None:
    secret_looking = "sk-THIS-MUST-NOT-BE-ECHOED-0000"
    with pytest.raises(VaultCorrupt) as caught:
        decode(json.dumps(envelope(kid=secret_looking)))
    assert secret_looking not in str(caught.value) and secret_looking not in caught.value.detail
    assert "kid" in caught.value.detail


@pytest.mark.parametrize("version", [0, 2, 99])
def test_an_unknown_version_is_a_version_error_not_corruption(version: int) -> None:
    with pytest.raises(VaultVersionError) as caught:
        decode(json.dumps({"v": version, "something": "new"}))
    assert caught.value.code == "version" and f"v{version}" in str(caught.value)
    assert not isinstance(caught.value, VaultCorrupt)


def test_tampered_is_a_kind_of_damage_with_its_own_code() -> None:
    err = VaultTampered("record 'api_key'")
    assert isinstance(err, VaultCorrupt) and err.code == "tampered" and str(err).startswith(DAMAGED)


def test_lock_iterations_have_a_floor_and_a_ceiling() -> None:
    fields = {"salt": bytes(16), "iv": bytes(12), "wrapped": bytes(48)}
    assert LockInfo(iter=600_000, **fields).iter == 600_000
    for bad in (599_999, 10_000_001):
        with pytest.raises(ValueError):
            LockInfo(iter=bad, **fields)


# ------------------------------------------------------------------- AAD and masks


def test_aad_binds_format_version_key_id_and_record_name() -> None:
    assert record_aad("k-0001020304050607", "api_key") == b"sidepy-vault/v1/k-0001020304050607/record/api_key"
    assert wrap_aad("k-0001020304050607") == b"sidepy-vault/v1/k-0001020304050607/data-key"
    assert session_aad("k-0001020304050607") == b"sidepy-vault/v1/k-0001020304050607/session"
    assert len({record_aad("k-1", "a"), record_aad("k-1", "b"), record_aad("k-2", "a")}) == 3


@pytest.mark.parametrize(
    ("secret", "shown"),
    [
        ("sk-abcdefghijklmnopqrstuvwxyz", "sk-…wxyz"),
        ("sk-proj-abcdefghijklmnop1234", "sk-proj-…1234"),
        ("sk-svcacct-0123456789abcdefWXYZ", "sk-svcacct-…WXYZ"),
        ("plainkey0123456789", "…6789"),
        ("sk-short", "sk-…"),
        ("sk-0123456789a", "sk-…"),  # 11 after the prefix: too few to show a tail
        ("sk-0123456789ab", "sk-…89ab"),
        ("", None),
        (None, None),
    ],
)
def test_mask_shows_a_known_prefix_and_the_last_four(secret: str | None, shown: str | None) -> None:
    assert mask(secret) == shown


# -------------------------------------------------------------------------- vectors


def test_pbkdf2_vectors_on_the_reference_and_on_hashlib() -> None:
    for v in VECTORS["pbkdf2"]:
        salt = bytes.fromhex(v["salt"])
        out = aesgcm_ref.pbkdf2_sha256(v["passphrase"].encode(), salt, v["iterations"])
        assert out.hex() == v["derived"], v["name"]
        if hasattr(hashlib, "pbkdf2_hmac"):  # Pyodide's hashlib has none
            out = hashlib.pbkdf2_hmac("sha256", v["passphrase"].encode(), salt, v["iterations"])
            assert out.hex() == v["derived"]


def test_aes_gcm_vectors_on_the_reference() -> None:
    for v in VECTORS["aes_gcm"]:
        key, iv, aad = bytes.fromhex(v["key"]), bytes.fromhex(v["iv"]), bytes.fromhex(v["aad"])
        assert aesgcm_ref.gcm_encrypt(key, iv, bytes.fromhex(v["plaintext"]), aad).hex() == v["ciphertext"]


def test_the_nist_vector_is_the_published_one() -> None:
    # Test Case 16 of the GCM specification: ciphertext then tag, as printed there.
    [v] = [v for v in VECTORS["aes_gcm"] if v["name"] == "nist-gcm-test-case-16"]
    assert v["ciphertext"].startswith("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa")
    assert v["ciphertext"].endswith("76fc6ece0f4e1768cddf8853bb2d551b")


def _backends() -> list[str]:
    # cryptography has no WebAssembly wheel: in Pyodide only the reference runs.
    return ["reference", "cryptography"] if has_cryptography() else ["reference"]


@pytest.mark.parametrize("backend", _backends())
def test_every_vector_reproduces_byte_for_byte(backend: str) -> None:
    def make() -> SoftwareCrypto:
        return cryptography_crypto() if backend == "cryptography" else SoftwareCrypto(ReferencePrimitives())

    result = run_sync(check_vectors(VECTORS, make))
    assert result["failures"] == []
    assert result["produced"]["vaults"] == {v["name"]: v["document"] for v in VECTORS["vaults"]}


def test_cryptography_is_present_on_cpython() -> None:
    # The CPython run is where the cryptography oracle must not silently vanish.
    if sys.platform != "emscripten":
        assert has_cryptography()


def test_vector_documents_hold_no_plaintext_secret() -> None:
    for v in VECTORS["vaults"]:
        for secret in v.get("reads", {}).values():
            for form in (secret, base64.b64encode(secret.encode()).decode(), secret.encode().hex()):
                assert form not in v["document"]


# ------------------------------------------------------ WebCrypto's rules, mirrored


def test_a_non_extractable_key_cannot_be_wrapped() -> None:
    crypto = SoftwareCrypto(ReferencePrimitives())

    async def scenario() -> None:
        await crypto.generate_key("dk", "data")
        await crypto.import_key("kek", bytes(32), "wrap", extractable=False)
        with pytest.raises(ValueError, match="not extractable"):
            await crypto.wrap_key("dk", "kek", bytes(12), b"")
        with pytest.raises(ValueError, match="wrap key, not a data key"):
            await crypto.encrypt("kek", bytes(12), b"x", b"")
        with pytest.raises(ValueError, match="no key"):
            await crypto.decrypt("nope", bytes(12), bytes(16), b"")

    run_sync(scenario())


def test_a_wrong_aad_fails_authentication() -> None:
    crypto = SoftwareCrypto(ReferencePrimitives())

    async def scenario() -> None:
        await crypto.generate_key("dk", "data")
        ct = await crypto.encrypt("dk", bytes(12), b"secret", record_aad("k-1", "api_key"))
        with pytest.raises(CryptoAuthError):
            await crypto.decrypt("dk", bytes(12), ct, record_aad("k-1", "other"))

    run_sync(scenario())


def test_only_persisted_keys_survive_in_the_device_store() -> None:
    device: dict[str, Any] = {}
    crypto = SoftwareCrypto(ReferencePrimitives(), device)

    async def scenario() -> None:
        await crypto.generate_key("kept", "data", persist=True)
        await crypto.generate_key("gone", "data")
        again = SoftwareCrypto(ReferencePrimitives(), device)
        assert await again.load_key("kept") and not await again.load_key("gone")

    run_sync(scenario())
