"""The vault service: store, restart, damage, passphrase lock, sessions, auto-lock, messages.

Real AES-GCM (the pure-Python reference) with a fast stand-in for PBKDF2, and a
:class:`Browser` whose worker and whole browser can be restarted.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from background.vault.handlers import VaultHandlers, VaultKeySource
from background.vault.keyvault import AUTOLOCK_ALARM, SESSION_KEY_ID, KeyVault
from background.vault.vault import (
    SESSION_KEY,
    STORAGE_KEY,
    VaultKeyMissing,
    VaultLocked,
    VaultTampered,
    WrongPassphrase,
    b64,
)
from tests.support.aio import run_sync
from tests.support.vaultkit import Browser

KEY = "sk-unit-0123456789abcdefWXYZ"
PASS = "correct horse battery staple"


def status(vault: KeyVault) -> dict[str, Any]:
    return run_sync(vault.status()).model_dump(exclude_none=True)


def leaked(browser: Browser, *secrets: str | bytes) -> list[str]:
    """Every secret (plain, base64, hex) found in chrome.storage, local or session."""
    text = browser.stored_text()
    found = []
    for secret in secrets:
        raw = secret.encode() if isinstance(secret, str) else secret
        for form in {raw.decode(errors="replace"), b64(raw), raw.hex()}:
            if form in text:
                found.append(form)
    return found


def doc(browser: Browser) -> dict[str, Any]:
    return json.loads(browser.local.data[STORAGE_KEY])  # type: ignore[no-any-return]


def put_doc(browser: Browser, document: dict[str, Any]) -> None:
    browser.local.data[STORAGE_KEY] = json.dumps(document)


@pytest.fixture
def browser() -> Browser:
    return Browser()


def with_passphrase(browser: Browser, minutes: int = 15) -> Browser:
    run_sync(browser.vault.write("api_key", KEY))
    run_sync(browser.vault.set_passphrase(PASS, auto_lock_minutes=minutes))
    return browser


# ----------------------------------------------------------------------- device mode


def test_an_empty_vault(browser: Browser) -> None:
    assert status(browser.vault) == {"state": "empty", "records": {}}
    assert run_sync(browser.vault.read("api_key")) is None


def test_store_and_read_back_with_nothing_in_plain_text(browser: Browser) -> None:
    run_sync(browser.vault.write("api_key", KEY))
    assert run_sync(browser.vault.read("api_key")) == KEY
    assert status(browser.vault) == {"state": "ready", "mode": "device", "records": {"api_key": "sk-…WXYZ"}}
    assert leaked(browser, KEY) == []
    [kid] = browser.device
    assert doc(browser)["kid"] == kid and leaked(browser, browser.device[kid].raw) == []


def test_every_write_uses_a_fresh_iv(browser: Browser) -> None:
    seen = set()
    for _ in range(3):
        run_sync(browser.vault.write("api_key", KEY))
        record = doc(browser)["records"]["api_key"]
        seen.add((record["iv"], record["ct"]))
    assert len(seen) == 3 and len({iv for iv, _ in seen}) == 3


def test_the_key_survives_a_worker_restart(browser: Browser) -> None:
    run_sync(browser.vault.write("api_key", KEY))
    vault = browser.restart_worker()
    assert vault.masked("api_key") is None  # nothing in memory yet
    assert run_sync(vault.read("api_key")) == KEY and vault.masked("api_key") == "sk-…WXYZ"


def test_the_key_survives_a_browser_restart_in_device_mode(browser: Browser) -> None:
    run_sync(browser.vault.write("api_key", KEY))
    assert run_sync(browser.restart_browser().read("api_key")) == KEY


def test_storage_copied_to_another_profile_is_useless(browser: Browser) -> None:
    run_sync(browser.vault.write("api_key", KEY))
    other = Browser()
    other.local.data = dict(browser.local.data)  # chrome.storage copied; IndexedDB not
    assert status(other.vault)["problem"] == "key_missing"
    with pytest.raises(VaultKeyMissing):
        run_sync(other.vault.read("api_key"))


def test_delete_and_wipe(browser: Browser) -> None:
    run_sync(browser.vault.write("api_key", KEY))
    run_sync(browser.vault.write("other", "x" * 20))
    run_sync(browser.vault.delete("api_key"))
    assert run_sync(browser.vault.read("api_key")) is None
    assert run_sync(browser.vault.read("other")) == "x" * 20
    run_sync(browser.vault.wipe())
    assert status(browser.vault)["state"] == "empty"
    assert browser.device == {} and browser.local.data == {} and browser.session.data == {}


def test_secret_size_is_checked_without_echoing_it(browser: Browser) -> None:
    with pytest.raises(ValueError) as caught:
        run_sync(browser.vault.write("api_key", ""))
    assert "characters" in str(caught.value)


# -------------------------------------------------------------------------- damage


def flip(value: str, at: int = 0) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[at] ^= 0x01
    return b64(bytes(raw))


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda d: d["records"]["api_key"].update(ct=flip(d["records"]["api_key"]["ct"])), "tampered"),
        (lambda d: d["records"]["api_key"].update(ct=flip(d["records"]["api_key"]["ct"], -1)), "tampered"),
        (lambda d: d["records"]["api_key"].update(iv=flip(d["records"]["api_key"]["iv"])), "tampered"),
        (lambda d: d["records"].update(moved=d["records"].pop("api_key")), "tampered"),  # swapped record
        (lambda d: d.update(kid="k-ffffffffffffffff"), "key_missing"),
        (lambda d: d.update(v=2), "version"),
        (lambda d: d["records"]["api_key"].update(ct="@@@"), "corrupt"),
    ],
)
def test_damage_is_reported_never_accepted(browser: Browser, damage: Any, problem: str) -> None:
    run_sync(browser.vault.write("api_key", KEY))
    document = doc(browser)
    damage(document)
    put_doc(browser, document)
    for vault in (browser.vault, browser.restart_worker()):
        s = status(vault)
        assert s["state"] == "damaged" and s["problem"] == problem
        if problem != "version":
            assert s["message"].startswith("key store damaged, re-enter your key")
        assert KEY not in json.dumps(s)


def test_garbage_in_storage_is_damage_and_re_entering_the_key_repairs_it(browser: Browser) -> None:
    run_sync(browser.vault.write("api_key", KEY))
    browser.local.data[STORAGE_KEY] = "{garbage"
    assert status(browser.vault) == {
        "state": "damaged",
        "records": {},
        "problem": "corrupt",
        "message": "key store damaged, re-enter your key",
    }
    run_sync(browser.vault.write("api_key", "sk-new-0123456789abcdef"))
    assert run_sync(browser.restart_worker().read("api_key")) == "sk-new-0123456789abcdef"
    assert len(browser.device) == 1  # the old key went with the damaged store


def test_a_record_swapped_between_two_vaults_fails(browser: Browser) -> None:
    run_sync(browser.vault.write("api_key", KEY))
    run_sync(browser.vault.write("other", "sk-other-0123456789abc"))
    document = doc(browser)
    document["records"]["api_key"] = document["records"]["other"]
    put_doc(browser, document)
    with pytest.raises(VaultTampered):
        run_sync(browser.vault.read("api_key"))


# ----------------------------------------------------------------- passphrase lock


def test_turning_the_passphrase_on_rekeys_and_keeps_the_records(browser: Browser) -> None:
    run_sync(browser.vault.write("api_key", KEY))
    old_kid = doc(browser)["kid"]
    run_sync(browser.vault.set_passphrase(PASS))
    d = doc(browser)
    assert d["kid"] != old_kid and d["lock"]["kdf"] == "PBKDF2-SHA256" and d["lock"]["iter"] == 600_000
    assert old_kid not in browser.device  # the device key is gone: only the passphrase opens it now
    assert set(browser.device) == {SESSION_KEY_ID}
    assert status(browser.vault)["state"] == "ready" and run_sync(browser.vault.read("api_key")) == KEY
    kek = browser.primitives.pbkdf2_sha256(PASS.encode(), base64.b64decode(d["lock"]["salt"]), 600_000)
    assert leaked(browser, KEY, PASS, kek, browser.device[SESSION_KEY_ID].raw) == []


def test_a_worker_restart_stays_unlocked_a_browser_restart_locks(browser: Browser) -> None:
    with_passphrase(browser)
    assert run_sync(browser.restart_worker().read("api_key")) == KEY
    vault = browser.restart_browser()
    s = status(vault)
    assert s["state"] == "locked" and s["records"] == {"api_key": None}
    assert SESSION_KEY_ID not in browser.device  # a stale session key is cleaned up
    with pytest.raises(VaultLocked):
        run_sync(vault.read("api_key"))
    assert run_sync(VaultKeySource(vault).get()) is None


def test_the_session_holds_only_a_wrapped_copy(browser: Browser) -> None:
    with_passphrase(browser)
    session = json.loads(browser.session.data[SESSION_KEY])
    assert set(session) == {"v", "kid", "iv", "wrapped", "last_used", "auto_lock_minutes"}
    assert len(base64.b64decode(session["wrapped"])) == 48  # 32-byte key + tag: ciphertext
    # The memory half alone opens nothing: without the session key (IndexedDB) it is locked.
    del browser.device[SESSION_KEY_ID]
    assert status(browser.restart_worker())["state"] == "locked"


def test_unlock(browser: Browser) -> None:
    with_passphrase(browser)
    vault = browser.restart_browser()
    with pytest.raises(WrongPassphrase):
        run_sync(vault.unlock("not the passphrase"))
    assert status(vault)["state"] == "locked"
    run_sync(vault.unlock(PASS, auto_lock_minutes=5))
    assert run_sync(vault.read("api_key")) == KEY
    s = status(vault)
    assert s["auto_lock_minutes"] == 5 and s["locks_at"] == browser.clock.ms + 5 * 60_000


def test_lock_forgets_the_session_everywhere(browser: Browser) -> None:
    with_passphrase(browser)
    run_sync(browser.vault.lock())
    assert status(browser.vault)["state"] == "locked"
    assert browser.session.data == {} and SESSION_KEY_ID not in browser.device
    assert AUTOLOCK_ALARM not in browser.alarms.scheduled
    assert status(browser.restart_worker())["state"] == "locked"


def test_auto_lock_after_idle_minutes(browser: Browser) -> None:
    with_passphrase(browser, minutes=10)
    assert browser.alarms.scheduled[AUTOLOCK_ALARM] == browser.clock.ms + 10 * 60_000
    browser.clock.advance(9)
    assert run_sync(browser.vault.read("api_key")) == KEY  # use: the idle timer restarts
    browser.clock.advance(9)
    run_sync(browser.vault.on_alarm(AUTOLOCK_ALARM))  # the first alarm: not idle long enough
    assert status(browser.vault)["state"] == "ready"  # looking at the status is not a use
    assert browser.alarms.scheduled[AUTOLOCK_ALARM] == browser.clock.ms + 1 * 60_000
    browser.clock.advance(2)
    run_sync(browser.vault.on_alarm(AUTOLOCK_ALARM))
    assert browser.session.data == {} and status(browser.vault)["state"] == "locked"


def test_auto_lock_is_also_enforced_on_use_after_a_restart(browser: Browser) -> None:
    with_passphrase(browser, minutes=10)
    browser.clock.advance(11)  # the alarm never ran (say, the worker was stopped)
    with pytest.raises(VaultLocked):
        run_sync(browser.restart_worker().read("api_key"))


def test_zero_minutes_means_until_the_browser_closes(browser: Browser) -> None:
    with_passphrase(browser, minutes=0)
    browser.clock.advance(60 * 24)
    assert AUTOLOCK_ALARM not in browser.alarms.scheduled
    assert run_sync(browser.restart_worker().read("api_key")) == KEY


def test_changing_the_passphrase_needs_the_current_one(browser: Browser) -> None:
    with_passphrase(browser)
    with pytest.raises(WrongPassphrase):
        run_sync(browser.vault.set_passphrase("new passphrase 1"))
    with pytest.raises(WrongPassphrase):
        run_sync(browser.vault.set_passphrase("new passphrase 1", current="wrong passphrase"))
    run_sync(browser.vault.set_passphrase("new passphrase 1", current=PASS))
    vault = browser.restart_browser()
    with pytest.raises(WrongPassphrase):
        run_sync(vault.unlock(PASS))
    run_sync(vault.unlock("new passphrase 1"))
    assert run_sync(vault.read("api_key")) == KEY


def test_removing_the_passphrase_returns_to_device_mode(browser: Browser) -> None:
    with_passphrase(browser)
    with pytest.raises(WrongPassphrase):
        run_sync(browser.vault.remove_passphrase("wrong passphrase"))
    run_sync(browser.vault.remove_passphrase(PASS))
    assert doc(browser)["lock"] is None and browser.session.data == {}
    assert run_sync(browser.restart_browser().read("api_key")) == KEY


def test_writing_while_locked_is_refused(browser: Browser) -> None:
    with_passphrase(browser)
    vault = browser.restart_browser()
    with pytest.raises(VaultLocked):
        run_sync(vault.write("api_key", "sk-another-0123456789"))


def test_passphrases_are_normalised_to_nfc(browser: Browser) -> None:
    run_sync(browser.vault.set_passphrase("caf\u00e9 passphrase"))  # é precomposed
    vault = browser.restart_browser()
    run_sync(vault.unlock("cafe\u0301 passphrase"))  # e + combining accent
    assert status(vault)["state"] == "ready"


def test_short_passphrases_are_refused(browser: Browser) -> None:
    with pytest.raises(ValueError, match="at least 8"):
        run_sync(browser.vault.set_passphrase("short"))


# ------------------------------------------------------------- KeySource + messages


def test_key_source_implements_the_settings_protocol(browser: Browser) -> None:
    source = VaultKeySource(browser.vault)
    assert run_sync(source.get()) is None and source.masked() is None
    run_sync(source.set(KEY))
    assert source.masked() == "sk-…WXYZ" and run_sync(source.get()) == KEY
    run_sync(source.clear())
    assert run_sync(source.get()) is None and source.masked() is None


def ask(handlers: VaultHandlers, **msg: Any) -> dict[str, Any]:
    from background.errors import ProtocolError

    try:
        return run_sync(handlers.handlers()[msg["type"]]({"id": 1, **msg}))
    except ProtocolError as exc:
        return {"type": "error", "code": exc.code, "message": str(exc)}


def test_vault_messages(browser: Browser) -> None:
    h = VaultHandlers(browser.vault)
    assert ask(h, type="vault.status") == {"type": "vault.status", "id": 1, "state": "empty", "records": {}}
    reply = ask(h, type="vault.set", secret=f"  {KEY}\n")  # pasted with whitespace
    assert reply["state"] == "ready" and reply["records"] == {"api_key": "sk-…WXYZ"}
    assert ask(h, type="vault.reveal")["code"] == "confirm_required"
    assert ask(h, type="vault.reveal", confirm=True) == {
        "type": "vault.secret", "id": 1, "record": "api_key", "secret_b64": b64(KEY.encode())
    }
    assert ask(h, type="vault.passphrase", passphrase=PASS)["mode"] == "passphrase"
    assert ask(h, type="vault.lock")["state"] == "locked"
    assert ask(h, type="vault.reveal", confirm=True)["code"] == "locked"
    assert ask(h, type="vault.unlock", passphrase="nope nope")["code"] == "wrong_passphrase"
    assert ask(h, type="vault.unlock", passphrase=PASS, auto_lock_minutes=3)["auto_lock_minutes"] == 3
    assert ask(h, type="vault.passphrase", passphrase=None)["code"] == "bad_request"
    assert ask(h, type="vault.passphrase", passphrase=None, current=PASS)["mode"] == "device"
    assert ask(h, type="vault.wipe")["code"] == "confirm_required"
    assert ask(h, type="vault.wipe", confirm=True)["state"] == "empty"


@pytest.mark.parametrize("bad", ["sk bad key with spaces", "sk-abc", "sk-" + "\u00e9" * 12, 42, None])
def test_a_bad_key_is_refused_without_echo(browser: Browser, bad: object) -> None:
    reply = ask(VaultHandlers(browser.vault), type="vault.set", secret=bad)
    assert reply["code"] == "bad_request" and (not isinstance(bad, str) or bad not in reply["message"])


def test_bad_auto_lock_minutes_are_refused(browser: Browser) -> None:
    h = VaultHandlers(browser.vault)
    assert ask(h, type="vault.passphrase", passphrase=PASS, auto_lock_minutes="5")["code"] == "bad_request"
    assert ask(h, type="vault.passphrase", passphrase=PASS, auto_lock_minutes=99_999)["code"] == "bad_request"
