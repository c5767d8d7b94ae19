"""The options page's ChatGPT account (``panel.account_state``) alone: importing an auth.json,
the status line, sign-out; and through the whole options state, the permissions it needs.

Plain functions and asserts: these also run on MicroPython (tests/micropython/run.py).
"""

from panel import settings_form as sf
from panel.account_state import Account, auth_summary
from panel.form_state import SettingsForm
from panel.options_link import OptionsLink
from panel.settings_state import SettingsState

try:
    from tests.unit.panel.optkit import NONE, answer, entry, view
except ImportError:  # MicroPython: this folder is on sys.path
    from optkit import NONE, answer, entry, view

SIGNED_IN = {"selected": "chatgpt", "mode": "chatgpt", "chatgpt": "signed_in", "email": "user@example.com",
             "plan": "plus", "account_id_masked": "7f3e…6f70", "last_refresh": 1700000000000}
AUTH_JSON = '{"OPENAI_API_KEY": null, "tokens": {"id_token": "a.b.c"}}'


def account(**extra):
    link = OptionsLink()
    form = SettingsForm(link)
    a = Account(link, form)
    v = view(**extra)
    form.settings(v)
    a.settings(v)
    return link, form, a


def date(ms):
    return "D" + str(ms // 1000)


def test_the_settings_view_brings_the_account_and_the_mode() -> None:
    _, form, a = account()
    assert a.auth == NONE and form.form["auth_mode"] == "apikey"
    assert form.form["token_url"] == "https://auth.openai.com/oauth/token"
    patch = sf.patch_from_form(form.form, form.templates)
    assert patch["auth_mode"] == "apikey" and patch["token_url"] == "https://auth.openai.com/oauth/token"
    assert auth_summary(a.auth, date) == "Not signed in with ChatGPT."


def test_importing_sends_the_text_once_and_shows_the_summary() -> None:
    link, form, a = account()
    a.import_auth(AUTH_JSON)
    [msg] = link.take_outbox()
    assert msg == {"type": "auth.import", "text": AUTH_JSON, "id": msg["id"]}
    assert link.status == "Importing your auth.json…" and link.status_kind == "busy"
    a.status(answer(msg, "auth.status", **SIGNED_IN), entry(link, msg))
    assert a.auth == SIGNED_IN and link.status == "Signed in with ChatGPT." and link.status_kind == "ok"
    # The import selected ChatGPT: the mode picker follows, and the request URL is asked again.
    assert form.form["auth_mode"] == "chatgpt"
    [preview] = link.take_outbox()
    assert preview["type"] == "settings.preview" and preview["patch"]["auth_mode"] == "chatgpt"
    assert auth_summary(a.auth, date) == ("Signed in with ChatGPT as user@example.com · plus plan · account "
                                          "7f3e…6f70 · tokens refreshed D1700000000. Requests use it.")
    for part in (a, form, link):
        for name in dir(part):  # nothing of the file is kept
            value = getattr(part, name)
            assert not (isinstance(value, str) and "a.b.c" in value), name


def test_a_refused_import_is_shown_and_an_empty_file_is_not_sent() -> None:
    link, _, a = account()
    a.import_auth("  ")
    assert link.take_outbox() == [] and "empty" in a.auth_error and link.status_kind == "error"
    a.import_auth(AUTH_JSON)
    [msg] = link.take_outbox()
    assert a.auth_error is None
    text = "Not imported: this auth.json is not valid: tokens.id_token: invalid ID token format."
    entry(link, msg)
    a.refused(text)
    assert a.auth_error == text and link.status == text and a.auth == NONE
    a.refused("That file is too large to be a Codex auth.json.")
    assert a.auth_error == "That file is too large to be a Codex auth.json."


def test_sign_out_and_other_states() -> None:
    link, form, a = account(auth=SIGNED_IN, auth_mode="chatgpt")
    a.sign_out()
    [msg] = link.take_outbox()
    assert msg["type"] == "auth.clear"
    a.status(answer(msg, "auth.status", selected="apikey", mode="apikey", chatgpt="none"), entry(link, msg))
    assert form.form["auth_mode"] == "apikey" and link.status == "Signed out of ChatGPT."
    locked = {"selected": "chatgpt", "mode": "none", "chatgpt": "locked", "message": "Unlock your keys."}
    assert auth_summary(locked, date) == "Unlock your keys."
    unused = dict(SIGNED_IN)
    unused["mode"] = "apikey"
    assert auth_summary(unused, date).endswith("Not in use: requests are signed with your API key.")
    assert auth_summary({"selected": "chatgpt", "chatgpt": "none"}, date) == (
        "Not signed in with ChatGPT. Import your auth.json to use ChatGPT sign-in.")
    a.settings(view(auth=SIGNED_IN))  # a push from another page
    assert a.auth == SIGNED_IN


def test_chatgpt_sign_in_asks_for_the_chatgpt_origins_on_save() -> None:
    s = SettingsState()
    s.receive({"type": "settings", "settings": view()})
    s.settings.edit("auth_mode", "chatgpt")
    s.settings.save(None)
    assert s.take_control() == ['ui.permissions ["https://chatgpt.com/*", "https://auth.openai.com/*"]']
    [msg] = s.take_outbox()
    assert msg["patch"]["auth_mode"] == "chatgpt"
    s.receive({"type": "permission.result", "origins": ["https://chatgpt.com/*", "https://auth.openai.com/*"],
               "granted": True})
    assert s.link.status == "Chrome granted SidePy access to https://chatgpt.com, https://auth.openai.com."
    # A local server and token endpoint need no permission (loopback is granted in the manifest).
    form = sf.form_from_view(view(provider="compatible", base_url="http://127.0.0.1:8000/v1",
                                  auth_mode="chatgpt", token_url="http://127.0.0.1:8000/oauth/token"))
    assert sf.permission_patterns(form) == []
