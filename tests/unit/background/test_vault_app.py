"""The vault wired into the app: messages by sender, the settings' key source, alarms, diagnostics."""

from __future__ import annotations

import base64
import json
from typing import Any

from background.compose import Worker, compose
from background.vault.handlers import VaultKeySource
from background.vault.keyvault import AUTOLOCK_ALARM
from background.vault.software import SoftwareCrypto
from background.vault.vault import STORAGE_KEY
from tests.support.aio import run_sync
from tests.support.vaultkit import Browser, ReferencePrimitives, load_vectors
from tests.unit.background.kit import KEY_VIEW, NO_KEY_VIEW
from tests.unit.background.test_app import FakeHost, run_now

KEY = "sk-app-0123456789abcdefWXYZ"
PASS = "correct horse battery staple"


def make(**kw: Any) -> tuple[Worker, FakeHost, Browser]:
    browser = Browser()
    host = FakeHost()
    worker = compose(host, version="1", spawn=run_now, vault=browser.vault,
                     keys=VaultKeySource(browser.vault), **kw)
    return worker, host, browser


def ask(worker: Worker, sender: str = "options", **msg: Any) -> dict[str, Any]:
    reply = run_sync(worker.app.on_runtime_message(json.dumps({"id": 1, **msg}), sender))
    return json.loads(reply)  # type: ignore[no-any-return]


def ask_port(worker: Worker, host: FakeHost, **msg: Any) -> dict[str, Any]:
    worker.app.on_port_connect(7, "panel")
    host.sent.clear()
    worker.app.on_port_message(7, json.dumps({"id": 2, **msg}))
    [(port, reply)] = host.sent
    assert port == 7
    return reply


def test_vault_messages_over_runtime_messages() -> None:
    app, _, browser = make()
    assert ask(app, type="vault.set", secret=KEY)["records"] == {"api_key": "sk-…WXYZ"}
    revealed = ask(app, type="vault.reveal", confirm=True)
    assert base64.b64decode(revealed["secret_b64"]).decode() == KEY
    assert STORAGE_KEY in browser.local.data and KEY not in json.dumps(browser.local.data)


def test_a_panel_port_cannot_touch_the_vault() -> None:
    app, host, _ = make()
    assert ask(app, type="vault.set", secret=KEY)["state"] == "ready"
    for kind in ("vault.reveal", "vault.wipe", "vault.passphrase", "vault.set", "vault.status"):
        reply = ask_port(app, host, type=kind, confirm=True, passphrase=PASS, secret="sk-other-0123456789")
        assert reply["code"] == "forbidden", reply
        text = json.dumps(reply)
        assert KEY not in text and base64.b64encode(KEY.encode()).decode() not in text
    assert ask(app, type="vault.status")["records"] == {"api_key": "sk-…WXYZ"}


def test_the_settings_key_lives_in_the_vault() -> None:
    app, _, browser = make()
    reply = ask(app, type="key.set", key=KEY)
    assert reply["settings"]["key"] == KEY_VIEW
    assert STORAGE_KEY in browser.local.data and KEY not in json.dumps(browser.local.data)
    assert run_sync(app.keys.get()) == KEY
    ask(app, type="vault.passphrase", passphrase=PASS)
    ask(app, type="vault.lock")
    assert ask(app, type="settings.get")["settings"]["key"] == NO_KEY_VIEW


def test_alarms_reach_the_vault() -> None:
    app, _, browser = make()
    ask(app, type="vault.set", secret=KEY)
    ask(app, type="vault.passphrase", passphrase=PASS, auto_lock_minutes=1)
    browser.clock.advance(2)
    run_sync(app.app.on_alarm(AUTOLOCK_ALARM))
    assert ask(app, type="vault.status")["state"] == "locked"
    run_sync(app.app.on_alarm("someone.elses.alarm"))  # ignored


def test_diag_runs_vectors_on_the_lab_backend_and_records_marks() -> None:
    app, _, _ = make(dev=True)
    assert ask(app, "dev", type="diag.vault_vectors", vectors={})["code"] == "unavailable"
    app, _, _ = make(dev=True, vault_lab=lambda: SoftwareCrypto(ReferencePrimitives()))
    vectors = {"aes_gcm": load_vectors()["aes_gcm"]}
    reply = ask(app, "dev", type="diag.vault_vectors", vectors=vectors)
    assert reply["failures"] == [] and len(reply["produced"]["aes_gcm"]) == len(vectors["aes_gcm"])
    assert ask(app, "dev", type="diag.vault_vectors", vectors=[])["code"] == "bad_request"
    ask(app, "dev", type="diag.mark", token="a")
    ask(app, "dev", type="diag.mark", token="b")
    assert ask(app, "dev", type="diag.marks")["marks"] == ["a", "b"]


def test_diag_chat_without_a_key_uses_the_stored_one() -> None:
    app, _, _ = make(dev=True)
    ask(app, type="vault.set", secret=KEY)
    assert run_sync(app.diagnostics._stored_key()) == KEY


def test_providers_are_not_switched_while_the_vault_is_locked() -> None:
    """A locked vault reads as "no key": switching then would park "no key" as the provider's key
    and lose it. The switch is refused, saying why, and both keys are there after unlocking."""
    app, host, _ = make()
    ask(app, type="key.set", key=KEY)
    first = ask(app, type="profile.save", name="OpenAI")["settings"]["active_profile"]
    second = ask(app, type="profile.save", name="Another", new=True)["settings"]["active_profile"]
    ask(app, type="key.set", key="sk-another-0123456789abcdABCD")
    ask(app, type="vault.passphrase", passphrase=PASS)
    ask(app, type="vault.lock")

    refused = ask_port(app, host, type="profile.select", profile_id=first)
    assert refused["code"] == "key_unavailable"
    assert refused["message"].startswith("Providers cannot be switched now: ")
    refused = ask(app, type="profile.save", name="Third", new=True)  # nor a new one started
    assert refused["code"] == "key_unavailable"
    assert ask(app, type="settings.get")["settings"]["active_profile"] == second  # nothing moved

    ask(app, type="vault.unlock", passphrase=PASS)
    back = ask_port(app, host, type="profile.select", profile_id=first)
    assert back["settings"]["key"]["masked"] == "sk-…WXYZ"  # the first provider's own key came back
    there = ask_port(app, host, type="profile.select", profile_id=second)
    assert there["settings"]["key"]["masked"] == "sk-…ABCD"
