"""The options page's ChatGPT account: importing an auth.json, the status line, sign-out, permissions.

Plain functions and asserts: these also run on MicroPython (tests/micropython/run.py).
"""

from panel import settings_form as sf
from panel.auth_intents import auth_summary
from panel.settings_state import SettingsState

SIGNED_IN = {"selected": "chatgpt", "mode": "chatgpt", "chatgpt": "signed_in", "email": "user@example.com",
             "plan": "plus", "account_id_masked": "7f3e…6f70", "last_refresh": 1700000000000}
NONE = {"selected": "apikey", "mode": "none", "chatgpt": "none"}
AUTH_JSON = '{"OPENAI_API_KEY": null, "tokens": {"id_token": "a.b.c"}}'


def view(**extra):
    v = {
        "provider": "openai", "base_url": "https://api.openai.com/v1",
        "request_url": "https://api.openai.com/v1/responses", "model": "gpt-5-mini",
        "models": ["gpt-5-mini"], "reasoning_effort": None, "reasoning_summary": "auto",
        "verbosity": None, "instructions": "", "idle_timeout_ms": 300000, "request_max_retries": 4,
        "stream_max_retries": 5, "organization": None, "project": None, "web_search": False,
        "key": {"set": False, "masked": None}, "templates": [], "auth_mode": "apikey",
        "token_url": "https://auth.openai.com/oauth/token", "auth": NONE,
    }
    v.update(extra)
    return v


def ready(**extra):
    s = SettingsState()
    s.receive({"type": "settings", "settings": view(**extra)})
    s.receive({"type": "vault.status", "state": "empty", "records": {}})
    return s


def answer(s, msg, type_, **fields):
    out = {"type": type_, "id": msg["id"]}
    out.update(fields)
    s.receive(out)


def date(ms):
    return "D" + str(ms // 1000)


def test_the_settings_view_brings_the_account_and_the_mode() -> None:
    s = ready()
    assert s.auth == NONE and s.form["auth_mode"] == "apikey"
    assert s.form["token_url"] == "https://auth.openai.com/oauth/token"
    patch = sf.patch_from_form(s.form, s.templates)
    assert patch["auth_mode"] == "apikey" and patch["token_url"] == "https://auth.openai.com/oauth/token"
    assert auth_summary(s.auth, date) == "Not signed in with ChatGPT."


def test_importing_sends_the_text_once_and_shows_the_summary() -> None:
    s = ready()
    s.import_auth(AUTH_JSON)
    [msg] = s.take_outbox()
    assert msg == {"type": "auth.import", "text": AUTH_JSON, "id": msg["id"]}
    assert s.status == "Importing your auth.json…" and s.status_kind == "busy"
    answer(s, msg, "auth.status", **SIGNED_IN)
    assert s.auth == SIGNED_IN and s.status == "Signed in with ChatGPT." and s.status_kind == "ok"
    # The import selected ChatGPT: the mode picker follows, and the request URL is asked again.
    assert s.form["auth_mode"] == "chatgpt"
    [preview] = s.take_outbox()
    assert preview["type"] == "settings.preview" and preview["patch"]["auth_mode"] == "chatgpt"
    assert auth_summary(s.auth, date) == ("Signed in with ChatGPT as user@example.com · plus plan · account "
                                          "7f3e…6f70 · tokens refreshed D1700000000. Requests use it.")
    for name in dir(s):  # nothing of the file is kept
        value = getattr(s, name)
        assert not (isinstance(value, str) and "a.b.c" in value), name


def test_a_refused_import_is_shown_and_an_empty_file_is_not_sent() -> None:
    s = ready()
    s.import_auth("  ")
    assert s.take_outbox() == [] and "empty" in s.auth_error and s.status_kind == "error"
    s.import_auth(AUTH_JSON)
    [msg] = s.take_outbox()
    assert s.auth_error is None
    text = "Not imported: this auth.json is not valid: tokens.id_token: invalid ID token format."
    answer(s, msg, "error", code="bad_auth", message=text)
    assert s.auth_error == text and s.status == text and s.auth == NONE
    s.refuse_auth_file("That file is too large to be a Codex auth.json.")
    assert s.auth_error == "That file is too large to be a Codex auth.json."


def test_sign_out_and_other_states() -> None:
    s = ready(auth=SIGNED_IN, auth_mode="chatgpt")
    s.sign_out()
    [msg] = s.take_outbox()
    assert msg["type"] == "auth.clear"
    answer(s, msg, "auth.status", selected="apikey", mode="apikey", chatgpt="none")
    assert s.form["auth_mode"] == "apikey" and s.status == "Signed out of ChatGPT."
    locked = {"selected": "chatgpt", "mode": "none", "chatgpt": "locked", "message": "Unlock your keys."}
    assert auth_summary(locked, date) == "Unlock your keys."
    unused = dict(SIGNED_IN)
    unused["mode"] = "apikey"
    assert auth_summary(unused, date).endswith("Not in use: requests are signed with your API key.")
    assert auth_summary({"selected": "chatgpt", "chatgpt": "none"}, date) == (
        "Not signed in with ChatGPT. Import your auth.json to use ChatGPT sign-in.")
    s.receive({"type": "settings", "settings": view(auth=SIGNED_IN)})  # a push from another page
    assert s.auth == SIGNED_IN


def test_chatgpt_sign_in_asks_for_the_chatgpt_origins_on_save() -> None:
    s = ready()
    s.edit("auth_mode", "chatgpt")
    s.save(None)
    assert s.take_control() == ['ui.permissions ["https://chatgpt.com/*", "https://auth.openai.com/*"]']
    [msg] = s.take_outbox()
    assert msg["patch"]["auth_mode"] == "chatgpt"
    s.receive({"type": "permission.result", "origins": ["https://chatgpt.com/*", "https://auth.openai.com/*"],
               "granted": True})
    assert s.status == "Chrome granted SidePy access to https://chatgpt.com, https://auth.openai.com."
    # A local server and token endpoint need no permission (loopback is granted in the manifest).
    form = sf.form_from_view(view(provider="compatible", base_url="http://127.0.0.1:8000/v1",
                                  auth_mode="chatgpt", token_url="http://127.0.0.1:8000/oauth/token"))
    assert sf.permission_patterns(form) == []
