"""The options page's router (``panel.settings_state``): what arrives reaches the part it is for.

The parts are tested alone in test_form_state, test_vault_state and test_account_state;
these tests follow messages across them. Plain functions and asserts: they also run on
MicroPython (tests/micropython/run.py).
"""

from panel.settings_state import SettingsState

try:
    from tests.unit.panel.optkit import KEY, answer, view
except ImportError:  # MicroPython: this folder is on sys.path
    from optkit import KEY, answer, view


def ready(**extra):
    s = SettingsState()
    s.receive({"type": "settings", "settings": view(**extra)})
    s.receive({"type": "vault.status", "state": "empty", "records": {}})
    return s


def test_starts_waiting_then_loads_the_pushed_settings() -> None:
    s = SettingsState()
    assert s.link.status == "Starting…" and s.phase == "starting"
    s.receive({"type": "settings", "settings": view()})
    assert s.phase == "ready" and s.link.status == "Ready" and s.settings.form["model"] == "gpt-5-mini"
    assert s.vault.key_field_open and s.account.auth["chatgpt"] == "none"


def test_save_then_key_reaches_the_form_and_the_vault() -> None:
    s = ready()
    s.settings.save(KEY)
    [save] = s.take_outbox()
    s.receive(answer(save, "settings", settings=view()))
    [key] = s.take_outbox()
    assert key["type"] == "key.set" and s.busy
    s.receive(answer(key, "settings", settings=view(key={"set": True, "masked": "sk-…WXYZ"})))
    assert s.link.status == "Saved · key stored encrypted (sk-…WXYZ)" and s.vault.clear_key_field
    assert not s.busy and [m["type"] for m in s.take_outbox()] == ["vault.status"]


def test_errors_go_to_the_part_that_asked() -> None:
    s = ready()
    s.vault.unlock("pass phrase", "5")
    [unlock] = s.take_outbox()
    s.receive(answer(unlock, "error", code="wrong_passphrase", message="wrong passphrase"))
    assert s.vault.vault_error == "wrong passphrase" and s.settings.errors == {}
    s.settings.edit("base_url", "x")
    s.settings.save(None)
    [save] = s.take_outbox()
    s.receive(answer(save, "error", code="invalid_settings", message="no", fields={"base_url": "bad"}))
    assert s.settings.errors == {"base_url": "bad"} and s.vault.vault_error == "wrong passphrase"
    s.receive({"type": "error", "code": "internal", "message": "something broke"})
    assert s.link.status == "something broke"


def test_a_restart_mid_save_is_reported_not_hung() -> None:
    s = ready()
    s.settings.save(KEY)
    s.receive({"type": "port.disconnected"})
    assert s.link.status == "The background restarted before answering: try again." and not s.busy
    s.receive({"type": "port.connected"})
    s.receive({"type": "settings", "settings": view()})
    assert s.phase == "ready" and s.link.status_kind == "error"  # the message stays until the next action
    s.receive({"type": "port.closed", "reason": "reloaded"})
    assert s.phase == "closed" and "reload this page" in s.link.status


def test_ping_reports_the_workers_python() -> None:
    s = ready()
    s.diag.ping(1000)
    [ping] = s.take_outbox()
    assert ping["type"] == "ping" and s.diag.result == "Asking Python…"
    s.receive(answer(ping, "pong", python="3.14.2"), 1042)
    assert s.diag.result == "pong from Python 3.14.2 in 42 ms"


def test_a_saved_key_not_approved_for_the_new_server_asks_the_user_in_one_click() -> None:
    s = ready(key={"set": True, "masked": "sk-…WXYZ", "origin": "https://api.openai.com", "approved": True})
    assert s.vault.unapproved_origin is None
    s.settings.edit("base_url", "https://b.example/v1")
    s.settings.save(None)
    [save] = s.take_outbox()
    moved = view(base_url="https://b.example/v1",
                 key={"set": True, "masked": "sk-…WXYZ", "origin": "https://b.example", "approved": False})
    s.receive(answer(save, "settings", settings=moved))
    assert s.vault.unapproved_origin == "https://b.example"
    assert "https://b.example" in s.link.status and "approve" in s.link.status
    assert s.take_outbox() == []  # nothing is approved without the click
    s.vault.approve()
    [approve] = s.take_outbox()
    assert approve["type"] == "settings.approve" and approve["origin"] == "https://b.example"
    assert s.busy
    approved = view(base_url="https://b.example/v1",
                    key={"set": True, "masked": "sk-…WXYZ", "origin": "https://b.example", "approved": True})
    s.receive(answer(approve, "settings", settings=approved))
    assert s.vault.unapproved_origin is None and s.link.status_kind == "ok"
    assert "https://b.example" in s.link.status


def test_a_server_that_takes_no_key_never_asks_to_approve_one() -> None:
    presets = [{"id": "ollama", "key": "none"}, {"id": "llamacpp", "key": "optional"}]
    local = {"set": True, "masked": "sk-…WXYZ", "origin": "http://localhost:11434", "approved": False}
    s = ready(preset="ollama", presets=presets, key=local)
    assert s.vault.unapproved_origin is None  # the worker sends Ollama no key at all
    s.receive({"type": "settings", "settings": view(preset="llamacpp", presets=presets, key=local)})
    assert s.vault.unapproved_origin == "http://localhost:11434"  # it may take one: the user decides


def test_chatgpt_sign_in_never_asks_to_approve_a_key() -> None:
    s = ready(auth_mode="chatgpt",
              key={"set": True, "masked": "sk-…WXYZ", "origin": "https://chatgpt.com", "approved": False})
    assert s.vault.unapproved_origin is None
    s.vault.approve()
    assert s.take_outbox() == []
