"""The options page's state and form helpers (MicroPython code, tested here on CPython too).

These tests also run on MicroPython (tests/micropython/run.py): plain functions and
asserts only; no ``from __future__``, no pytest features.
"""

from panel import settings_form as sf
from panel.settings_state import SettingsState

KEY = "sk-proj-0123456789abcdWXYZ"


DEVICE_READY = {"type": "vault.status", "state": "ready", "mode": "device",
                "records": {"api_key": "sk-…WXYZ"}}


def view(**extra):
    v = {
        "provider": "openai", "base_url": "https://api.openai.com/v1",
        "request_url": "https://api.openai.com/v1/responses", "model": "gpt-5-mini",
        "models": ["gpt-5-mini", "gpt-5"], "reasoning_effort": None, "reasoning_summary": "auto",
        "verbosity": None, "instructions": "Be brief.", "idle_timeout_ms": 300000,
        "request_max_retries": 4, "stream_max_retries": 5, "organization": None, "project": None,
        "web_search": False, "key": {"set": False, "masked": None}, "templates": [],
    }
    v.update(extra)
    return v


def ready(**extra):
    s = SettingsState()
    s.receive({"type": "settings", "settings": view(**extra)})
    s.receive({"type": "vault.status", "state": "empty", "records": {}})
    return s


def sent(s):
    return s.take_outbox()


def reply(s, msg, type_, **fields):
    answer = {"type": type_, "id": msg["id"]}
    answer.update(fields)
    s.receive(answer)


# ------------------------------------------------------------------ form helpers


def test_form_round_trip_sends_typed_values() -> None:
    form = sf.form_from_view(view(reasoning_effort="high", organization="org-1"))
    assert form["idle_timeout_s"] == "300" and form["reasoning_effort"] == "high" and form["verbosity"] == ""
    patch = sf.patch_from_form(form, [{"name": "/tldr ", "prompt": "Short: {input}"}])
    assert patch["idle_timeout_ms"] == 300000 and patch["request_max_retries"] == 4
    assert patch["verbosity"] is None and patch["project"] is None and patch["organization"] == "org-1"
    assert patch["templates"] == [{"name": "tldr", "prompt": "Short: {input}"}]
    assert patch["web_search"] is False and patch["reasoning_effort"] == "high"


def test_local_checks_speak_about_the_form() -> None:
    form = sf.form_from_view(view())
    form["idle_timeout_s"] = "2"
    form["request_max_retries"] = "x"
    form["model"] = "gpt 5"
    templates = [{"name": "Bad Name", "prompt": "p"}, {"name": "ok", "prompt": ""},
                 {"name": "dup", "prompt": "a"}, {"name": "dup", "prompt": "b"}]
    errors = sf.check(form, templates, "sk short")
    assert errors["idle_timeout_s"] == "a whole number of seconds from 5 to 3600"
    assert "request_max_retries" in errors and "model" in errors and "stream_max_retries" not in errors
    assert "template-0" in errors and errors["template-1"].startswith("write the prompt")
    assert "template-2" not in errors and errors["template-3"] == "another template has this name"
    assert errors["api_key"].startswith("the key has spaces")
    assert sf.check(sf.form_from_view(view()), [], KEY) == {}


def test_background_field_names_map_to_the_form() -> None:
    assert sf.field_errors({"idle_timeout_ms": "too big", "key": "bad", "base_url": "no"}) == {
        "idle_timeout_s": "too big", "api_key": "bad", "base_url": "no"}


def test_which_origins_need_a_host_permission() -> None:
    assert sf.permission_pattern("") is None  # the OpenAI preset: it answers CORS
    assert sf.permission_pattern("https://api.openai.com/v1") is None
    assert sf.permission_pattern("http://127.0.0.1:8080/v1") is None  # in the manifest
    assert sf.permission_pattern("localhost:1234") is None  # no scheme, local: http
    assert sf.permission_pattern("https://localhost/v1") == "https://localhost/*"
    assert sf.permission_pattern("res.openai.azure.com/openai/v1") == "https://res.openai.azure.com/*"
    assert sf.permission_pattern("HTTP://User:pw@Example.COM:8443/v1?x=1") == "http://example.com/*"
    assert sf.permission_pattern("http://[::1]:9/v1") == "http://[::1]/*"
    assert sf.permission_pattern("ftp://example.com") is None  # not a URL the background accepts
    assert sf.permission_pattern("https:///v1") is None


# ------------------------------------------------------------------------- state


def test_starts_waiting_then_loads_the_pushed_settings() -> None:
    s = SettingsState()
    assert s.status == "Starting Python…" and s.phase == "starting"
    s.receive({"type": "settings", "settings": view()})
    assert s.phase == "ready" and s.status == "Ready" and s.form["model"] == "gpt-5-mini"
    assert s.request_url == "https://api.openai.com/v1/responses" and not s.dirty
    assert s.key_field_open  # no key yet: the field is there to paste one


def test_save_sends_the_settings_then_the_key_and_forgets_it() -> None:
    s = ready()
    s.edit("model", "gpt-5")
    assert s.dirty and s.status == "Unsaved changes"
    s.save(" " + KEY + " ")
    assert s.take_control() == []  # OpenAI's origin: no permission to ask for
    [first] = sent(s)
    assert first["type"] == "settings.set" and first["patch"]["model"] == "gpt-5" and s.busy
    assert s.status == "Saving…"
    reply(s, first, "settings", settings=view(model="gpt-5"))
    [second] = sent(s)
    assert second == {"type": "key.set", "key": KEY, "id": second["id"]}
    saved = view(model="gpt-5", key={"set": True, "masked": "sk-…WXYZ"})
    reply(s, second, "settings", settings=saved)
    assert s.status == "Saved · key stored encrypted (sk-…WXYZ)" and s.status_kind == "ok"
    assert s.clear_key_field and not s.busy and not s.dirty
    assert [m["type"] for m in sent(s)] == ["vault.status"]
    assert KEY not in repr(s.__dict__)  # nothing keeps the key once it is stored


def test_invalid_fields_are_shown_and_nothing_is_sent() -> None:
    s = ready()
    s.edit("idle_timeout_s", "1")
    s.save(None)
    assert sent(s) == [] and "idle_timeout_s" in s.errors
    assert s.status == "Not saved: fix the fields marked below." and s.status_kind == "error"
    s.edit("idle_timeout_s", "60")
    assert "idle_timeout_s" not in s.errors


def test_the_backgrounds_field_errors_land_under_their_fields() -> None:
    s = ready()
    s.edit("base_url", "https://h/v1/chat/completions")
    s.save(None)
    [msg] = sent(s)
    reply(s, msg, "error", code="invalid_settings", message="Settings not saved",
          fields={"base_url": "this is a Chat Completions endpoint"})
    assert s.errors == {"base_url": "this is a Chat Completions endpoint"} and s.status_kind == "error"
    assert not s.busy


def test_a_refused_key_after_saved_settings_says_which_part_failed() -> None:
    s = ready()
    s.save(KEY)
    reply(s, sent(s)[0], "settings", settings=view())
    [key] = sent(s)
    reply(s, key, "error", code="locked", message="the key store is locked: unlock it first")
    assert s.status == "Settings saved, but not the key: the key store is locked: unlock it first"


def test_saving_a_custom_origin_asks_chrome_inside_the_click() -> None:
    s = ready()
    s.set_provider("compatible")
    assert s.form["base_url"] == "" and [m["type"] for m in sent(s)] == ["settings.preview"]
    s.edit("base_url", "https://llm.example.com:8443/v1")
    s.save(None)
    assert s.take_control() == ['ui.permissions ["https://llm.example.com/*"]']
    assert s.permission == {"pattern": "https://llm.example.com/*", "patterns": ["https://llm.example.com/*"],
                            "state": "asking", "error": None}
    assert [m["type"] for m in sent(s)] == ["settings.set"]  # saved whatever Chrome answers
    s.receive({"type": "permission.result", "origins": ["https://llm.example.com/*"], "granted": False})
    assert s.permission["state"] == "denied" and "may be blocked" in s.status


def test_a_test_waits_for_the_permission_answer_then_runs() -> None:
    s = ready(provider="compatible", base_url="https://llm.example.com/v1")
    s.test_connection(KEY)
    assert s.take_control() == ['ui.permissions ["https://llm.example.com/*"]'] and sent(s) == []
    assert s.busy and s.status == "Waiting for your answer to Chrome's prompt…"
    s.receive({"type": "permission.result", "origins": ["https://llm.example.com/*"], "granted": True})
    [test] = sent(s)
    assert test["type"] == "settings.test" and test["key"] == KEY
    assert test["patch"]["base_url"] == "https://llm.example.com/v1" and s.status == "Testing the connection…"
    reply(s, test, "settings.test", ok=False, kind="bad_key", message="The server refused the key (HTTP 401)")
    assert s.test["kind"] == "bad_key" and s.status == "Connection failed: the API key was refused"
    assert not s.busy
    assert s.status_kind == "error"


def test_a_test_without_a_typed_key_uses_the_saved_one() -> None:
    s = ready(key={"set": True, "masked": "sk-…WXYZ"})
    s.receive(DEVICE_READY)
    assert not s.key_field_open  # a saved key shows as its mask
    s.test_connection(None)
    [test] = sent(s)
    assert "key" not in test


def test_a_saved_key_not_approved_for_the_new_server_asks_the_user_in_one_click() -> None:
    s = ready(key={"set": True, "masked": "sk-…WXYZ", "origin": "https://api.openai.com", "approved": True})
    s.receive(DEVICE_READY)
    assert s.unapproved_origin is None
    s.edit("base_url", "https://b.example/v1")
    s.save(None)
    [save] = sent(s)
    moved = view(base_url="https://b.example/v1",
                 key={"set": True, "masked": "sk-…WXYZ", "origin": "https://b.example", "approved": False})
    reply(s, save, "settings", settings=moved)
    assert s.unapproved_origin == "https://b.example"
    assert "https://b.example" in s.status and "approve" in s.status
    assert sent(s) == []  # nothing is approved without the click
    s.approve()
    [approve] = sent(s)
    assert approve["type"] == "settings.approve" and approve["origin"] == "https://b.example"
    assert s.busy
    approved = view(base_url="https://b.example/v1",
                    key={"set": True, "masked": "sk-…WXYZ", "origin": "https://b.example", "approved": True})
    reply(s, approve, "settings", settings=approved)
    assert s.unapproved_origin is None and s.status_kind == "ok" and "https://b.example" in s.status


def test_chatgpt_sign_in_never_asks_to_approve_a_key() -> None:
    s = ready(auth_mode="chatgpt",
              key={"set": True, "masked": "sk-…WXYZ", "origin": "https://chatgpt.com", "approved": False})
    assert s.unapproved_origin is None
    s.approve()
    assert sent(s) == []


def test_preview_shows_the_latest_request_url_only() -> None:
    s = ready()
    s.edit("base_url", "https://a.example/v1")
    s.preview()
    s.edit("base_url", "https://b.example/v1/responses")
    s.preview()
    old, new = sent(s)
    reply(s, new, "settings.preview", settings={"request_url": "https://b.example/v1/responses"})
    reply(s, old, "settings.preview", settings={"request_url": "https://a.example/v1/responses"})
    assert s.request_url == "https://b.example/v1/responses"
    s.preview()
    [bad] = sent(s)
    reply(s, bad, "error", code="invalid_settings", message="x", fields={"base_url": "must be an http URL"})
    assert s.errors["base_url"] == "must be an http URL" and s.status == "Unsaved changes"


def test_a_push_does_not_overwrite_what_is_being_typed() -> None:
    s = ready()
    s.edit("model", "my-model")
    s.receive({"type": "settings", "settings": view(model="other", key={"set": True, "masked": "sk-…WXYZ"})})
    assert s.form["model"] == "my-model" and s.key_set
    clean = ready()
    clean.receive({"type": "settings", "settings": view(model="other")})
    assert clean.form["model"] == "other"


def test_reveal_and_wipe_need_a_confirmation() -> None:
    s = ready(key={"set": True, "masked": "sk-…WXYZ"})
    s.receive(DEVICE_READY)
    s.confirm("reveal")
    assert s.confirming == "reveal" and sent(s) == []
    s.reveal()
    [msg] = sent(s)
    assert msg["type"] == "vault.reveal" and msg["confirm"] is True and s.confirming is None
    reply(s, msg, "vault.secret", record="api_key", secret_b64="c2stMTIz")
    assert s.secret_b64 == "c2stMTIz"
    s.hide_secret()
    assert s.secret_b64 is None
    s.confirm("wipe")
    s.wipe()
    [wipe] = sent(s)
    assert wipe["type"] == "vault.wipe" and wipe["confirm"] is True
    reply(s, wipe, "vault.status", state="empty", records={})
    assert s.status == "Every stored key was deleted." and s.key_field_open


def test_damaged_and_locked_stores() -> None:
    s = ready()
    s.receive({"type": "vault.status", "state": "damaged", "problem": "tampered",
               "message": "key store damaged, re-enter your key (a record failed its integrity check)"})
    assert s.key_field_open  # re-entering the key is the way out
    s.receive({"type": "vault.status", "state": "locked", "mode": "passphrase", "records": {"api_key": None}})
    assert not s.key_field_open
    s.unlock("", "15")
    assert sent(s) == [] and s.vault_error == "Enter your passphrase."
    s.unlock("correct horse", "15")
    [msg] = sent(s)
    assert msg["type"] == "vault.unlock" and msg["passphrase"] == "correct horse"
    assert msg["auto_lock_minutes"] == 15
    reply(s, msg, "error", code="wrong_passphrase", message="wrong passphrase")
    assert s.vault_error == "wrong passphrase" and s.status == "wrong passphrase"
    s.unlock("correct horse", "15")
    reply(s, sent(s)[0], "vault.status", state="ready", mode="passphrase", records={"api_key": "sk-…WXYZ"})
    assert s.vault_error is None and s.status == "Unlocked." and s.clear_passphrases


def test_passphrase_on_change_off() -> None:
    s = ready()
    s.open_passphrase("on")
    s.set_passphrase("short", "short", "15")
    assert s.vault_error == "A passphrase needs at least 8 characters." and sent(s) == []
    s.set_passphrase("long enough", "long enougH", "15")
    assert s.vault_error == "The two passphrases differ."
    s.set_passphrase("long enough", "long enough", "-1")
    assert s.vault_error.startswith("Auto-lock: a whole number of minutes")
    s.set_passphrase("long enough", "long enough", "30")
    [on] = sent(s)
    assert on["type"] == "vault.passphrase" and on["passphrase"] == "long enough"
    assert on["auto_lock_minutes"] == 30 and "current" not in on
    reply(s, on, "vault.status", state="ready", mode="passphrase", records={})
    assert s.passphrase_form is None and s.status == "Passphrase lock on."
    s.open_passphrase("change")
    s.set_passphrase("another one", "another one", "0", "long enough")
    assert sent(s)[0]["current"] == "long enough"
    s.remove_passphrase("another one")
    [off] = sent(s)
    assert off["passphrase"] is None and off["current"] == "another one"


def test_templates_can_be_added_edited_and_removed() -> None:
    s = ready(templates=[{"name": "tldr", "prompt": "Short"}])
    s.add_template()
    s.edit_template(1, "name", "fix")
    s.edit_template(1, "prompt", "Fix: {input}")
    s.save(None)
    [msg] = sent(s)
    expected = [{"name": "tldr", "prompt": "Short"}, {"name": "fix", "prompt": "Fix: {input}"}]
    assert msg["patch"]["templates"] == expected
    reply(s, msg, "settings", settings=view(templates=msg["patch"]["templates"]))
    s.remove_template(0)
    assert s.templates == [{"name": "fix", "prompt": "Fix: {input}"}] and s.dirty


def test_a_restart_mid_save_is_reported_not_hung() -> None:
    s = ready()
    s.save(KEY)
    s.receive({"type": "port.disconnected"})
    assert s.status == "The background restarted before answering: try again." and not s.busy
    s.receive({"type": "port.connected"})
    s.receive({"type": "settings", "settings": view()})
    assert s.phase == "ready" and s.status_kind == "error"  # the message stays until the next action
    s.receive({"type": "port.closed", "reason": "reloaded"})
    assert s.phase == "closed" and "reload this page" in s.status


def test_a_cors_failure_offers_access_and_a_new_url_drops_the_old_result() -> None:
    s = ready(provider="compatible", base_url="http://127.0.0.1:9/v1")
    s.test_connection(None)
    [test] = sent(s)
    reply(s, test, "settings.test", ok=False, kind="cors", origin="http://127.0.0.1/*", message="blocked")
    assert s.status == "Connection failed: blocked by the browser (host permission / CORS)"
    s.edit("base_url", "https://llm.example.com/v1")
    s.grant_access()
    assert s.take_control() == ['ui.permissions ["https://llm.example.com/*"]']
    s.receive({"type": "permission.result", "origins": ["https://llm.example.com/*"], "granted": True})
    assert s.status == "Chrome granted SidePy access to https://llm.example.com." and s.status_kind == "ok"
    assert s.test is None  # it was about the old URL
