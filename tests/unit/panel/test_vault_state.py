"""The options page's key and key vault (``panel.vault_state``) alone.

Plain functions and asserts: these also run on MicroPython (tests/micropython/run.py).
"""

from panel.options_link import OptionsLink
from panel.vault_state import KeyVault

try:
    from tests.unit.panel.optkit import answer, entry
except ImportError:  # MicroPython: this folder is on sys.path
    from optkit import answer, entry

DEVICE_READY = {"type": "vault.status", "state": "ready", "mode": "device",
                "records": {"api_key": "sk-…WXYZ"}}
SAVED = {"set": True, "masked": "sk-…WXYZ"}


def vault(key=None, status=None):
    link = OptionsLink()
    v = KeyVault(link)
    v.settings({"key": key or {"set": False, "masked": None}})
    v.status(status or {"type": "vault.status", "state": "empty", "records": {}}, None)
    return link, v


def test_the_key_field_opens_when_there_is_no_key_or_on_replace() -> None:
    _, v = vault()
    assert v.key_field_open and not v.key_set
    _, v = vault(SAVED, DEVICE_READY)
    assert not v.key_field_open and v.masked == "sk-…WXYZ"
    v.replace_key(True)
    assert v.key_field_open and v.replacing
    v.replace_key(False)
    assert not v.key_field_open


def test_a_stored_key_clears_the_field_and_asks_the_vault_again() -> None:
    link, v = vault()
    v.replace_key(True)
    v.settings({"key": SAVED}, "key")
    assert v.clear_key_field and not v.replacing and v.key_set
    assert link.status == "Saved · key stored encrypted (sk-…WXYZ)" and link.status_kind == "ok"
    assert [m["type"] for m in link.take_outbox()] == ["vault.status"]


def test_reveal_and_wipe_need_a_confirmation() -> None:
    link, v = vault(SAVED, DEVICE_READY)
    v.confirm("reveal")
    assert v.confirming == "reveal" and link.take_outbox() == []
    v.reveal()
    [msg] = link.take_outbox()
    assert msg["type"] == "vault.reveal" and msg["confirm"] is True and v.confirming is None
    entry(link, msg)
    v.secret(answer(msg, "vault.secret", record="api_key", secret_b64="c2stMTIz"))
    assert v.secret_b64 == "c2stMTIz"
    v.hide_secret()
    assert v.secret_b64 is None
    v.confirm("wipe")
    v.wipe()
    [wipe] = link.take_outbox()
    assert wipe["type"] == "vault.wipe" and wipe["confirm"] is True
    v.status(answer(wipe, "vault.status", state="empty", records={}), entry(link, wipe))
    assert link.status == "Every stored key was deleted." and v.key_field_open


def test_damaged_and_locked_stores() -> None:
    link, v = vault()
    v.status({"type": "vault.status", "state": "damaged", "problem": "tampered",
              "message": "key store damaged, re-enter your key (a record failed its integrity check)"}, None)
    assert v.key_field_open  # re-entering the key is the way out
    v.status({"type": "vault.status", "state": "locked", "mode": "passphrase", "records": {"api_key": None}},
             None)
    assert not v.key_field_open
    v.unlock("", "15")
    assert link.take_outbox() == [] and v.vault_error == "Enter your passphrase."
    v.unlock("correct horse", "15")
    [msg] = link.take_outbox()
    assert msg["type"] == "vault.unlock" and msg["passphrase"] == "correct horse"
    assert msg["auto_lock_minutes"] == 15
    entry(link, msg)
    v.refused(answer(msg, "error", code="wrong_passphrase", message="wrong passphrase"))
    assert v.vault_error == "wrong passphrase" and link.status == "wrong passphrase"
    v.unlock("correct horse", "15")
    [again] = link.take_outbox()
    v.status(answer(again, "vault.status", state="ready", mode="passphrase", records={"api_key": "sk-…WXYZ"}),
             entry(link, again))
    assert v.vault_error is None and link.status == "Unlocked." and v.clear_passphrases


def test_passphrase_on_change_off() -> None:
    link, v = vault()
    v.open_passphrase("on")
    v.set_passphrase("short", "short", "15")
    assert v.vault_error == "A passphrase needs at least 8 characters." and link.take_outbox() == []
    v.set_passphrase("long enough", "long enougH", "15")
    assert v.vault_error == "The two passphrases differ."
    v.set_passphrase("long enough", "long enough", "-1")
    assert v.vault_error.startswith("Auto-lock: a whole number of minutes")
    v.set_passphrase("long enough", "long enough", "30")
    [on] = link.take_outbox()
    assert on["type"] == "vault.passphrase" and on["passphrase"] == "long enough"
    assert on["auto_lock_minutes"] == 30 and "current" not in on
    v.status(answer(on, "vault.status", state="ready", mode="passphrase", records={}), entry(link, on))
    assert v.passphrase_form is None and link.status == "Passphrase lock on."
    v.open_passphrase("change")
    v.set_passphrase("another one", "another one", "0", "long enough")
    assert link.take_outbox()[0]["current"] == "long enough"
    v.remove_passphrase("another one")
    [off] = link.take_outbox()
    assert off["passphrase"] is None and off["current"] == "another one"
