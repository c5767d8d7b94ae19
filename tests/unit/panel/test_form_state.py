"""The options page's settings form (``panel.form_state``) alone, and its pure helpers.

Plain functions and asserts: these also run on MicroPython (tests/micropython/run.py).
"""

from panel import settings_form as sf
from panel.form_state import SettingsForm
from panel.options_link import OptionsLink

try:
    from tests.unit.panel.optkit import KEY, answer, entry, view
except ImportError:  # MicroPython: this folder is on sys.path
    from optkit import KEY, answer, entry, view


def loaded(**extra):
    link = OptionsLink()
    form = SettingsForm(link)
    form.settings(view(**extra))
    link.say("Ready")  # what the router says once the first settings arrived
    return link, form


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


# ------------------------------------------------------------------- the part


def test_loads_the_first_view_and_the_key_field_state() -> None:
    link, form = loaded()
    assert form.form["model"] == "gpt-5-mini" and not form.dirty and not form.key_set
    assert form.request_url == "https://api.openai.com/v1/responses"
    assert link.rev["form"] == 1 and link.take_outbox() == []


def test_save_sends_the_settings_then_the_key_and_forgets_it() -> None:
    link, form = loaded()
    form.edit("model", "gpt-5")
    assert form.dirty and link.status == "Unsaved changes"
    form.save(" " + KEY + " ")
    assert link.take_control() == []  # OpenAI's origin: no permission to ask for
    [first] = link.take_outbox()
    assert first["type"] == "settings.set" and first["patch"]["model"] == "gpt-5" and form.busy
    assert link.status == "Saving…"
    kind, data = entry(link, first)
    form.settings(view(model="gpt-5"), kind, data)
    [second] = link.take_outbox()
    assert second == {"type": "key.set", "key": KEY, "active_profile": "", "id": second["id"]} and form.busy
    kind, data = entry(link, second)
    form.settings(view(model="gpt-5", key={"set": True, "masked": "sk-…WXYZ"}), kind, data)
    assert not form.busy and not form.dirty and form.key_set
    assert KEY not in repr(form.__dict__)  # nothing keeps the key once it is sent


def test_invalid_fields_are_shown_and_nothing_is_sent() -> None:
    link, form = loaded()
    form.edit("idle_timeout_s", "1")
    form.save(None)
    assert link.take_outbox() == [] and "idle_timeout_s" in form.errors
    assert link.status == "Not saved: fix the fields marked in red." and link.status_kind == "error"
    form.edit("idle_timeout_s", "60")
    assert "idle_timeout_s" not in form.errors


def test_the_backgrounds_field_errors_land_under_their_fields() -> None:
    link, form = loaded()
    form.edit("base_url", "https://h/v1/chat/completions")
    form.save(None)
    [msg] = link.take_outbox()
    kind, _ = entry(link, msg)
    form.refused(answer(msg, "error", code="invalid_settings", message="Settings not saved",
                        fields={"base_url": "this is a Chat Completions endpoint"}), kind)
    assert form.errors == {"base_url": "this is a Chat Completions endpoint"} and link.status_kind == "error"
    assert not form.busy


def test_a_refused_key_after_saved_settings_says_which_part_failed() -> None:
    link, form = loaded()
    form.save(KEY)
    [save] = link.take_outbox()
    kind, data = entry(link, save)
    form.settings(view(), kind, data)
    [key] = link.take_outbox()
    kind, _ = entry(link, key)
    locked = answer(key, "error", code="locked", message="the key store is locked: unlock it first")
    form.refused(locked, kind)
    assert link.status == "Settings saved, but not the key: the key store is locked: unlock it first"


def test_saving_a_custom_origin_asks_chrome_inside_the_click() -> None:
    link, form = loaded()
    form.set_provider("compatible")
    assert form.form["base_url"] == "" and [m["type"] for m in link.take_outbox()] == ["settings.preview"]
    form.edit("base_url", "https://llm.example.com:8443/v1")
    form.save(None)
    assert link.take_control() == ['ui.permissions ["https://llm.example.com/*"]']
    assert form.permission == {"pattern": "https://llm.example.com/*", "patterns": ["https://llm.example.com/*"],
                               "state": "asking", "error": None}
    assert [m["type"] for m in link.take_outbox()] == ["settings.set"]  # saved whatever Chrome answers
    form.permission_result({"type": "permission.result", "origins": ["https://llm.example.com/*"],
                            "granted": False})
    assert form.permission["state"] == "denied" and "may be blocked" in link.status


def test_a_test_waits_for_the_permission_answer_then_runs() -> None:
    link, form = loaded(provider="compatible", base_url="https://llm.example.com/v1")
    form.test_connection(KEY)
    assert link.take_control() == ['ui.permissions ["https://llm.example.com/*"]']
    assert link.take_outbox() == []
    assert form.busy and link.status == "Waiting for your answer to Chrome's prompt…"
    form.permission_result({"type": "permission.result", "origins": ["https://llm.example.com/*"],
                            "granted": True})
    [test] = link.take_outbox()
    assert test["type"] == "settings.test" and test["key"] == KEY
    assert test["patch"]["base_url"] == "https://llm.example.com/v1"
    assert link.status == "Testing the connection…"
    entry(link, test)
    form.tested(answer(test, "settings.test", ok=False, kind="bad_key",
                       message="The server refused the key (HTTP 401)"))
    assert form.test["kind"] == "bad_key" and link.status == "Connection failed: the API key was refused"
    assert not form.busy and link.status_kind == "error"


def test_a_test_without_a_typed_key_uses_the_saved_one() -> None:
    link, form = loaded(key={"set": True, "masked": "sk-…WXYZ"})
    assert form.key_set
    form.test_connection(None)
    [test] = link.take_outbox()
    assert "key" not in test


def test_preview_shows_the_latest_request_url_only() -> None:
    link, form = loaded()
    form.edit("base_url", "https://a.example/v1")
    form.preview()
    form.edit("base_url", "https://b.example/v1/responses")
    form.preview()
    old, new = link.take_outbox()
    form.previewed(answer(new, "settings.preview", settings={"request_url": "https://b.example/v1/responses"}))
    form.previewed(answer(old, "settings.preview", settings={"request_url": "https://a.example/v1/responses"}))
    assert form.request_url == "https://b.example/v1/responses"
    form.preview()
    [bad] = link.take_outbox()
    form.refused(answer(bad, "error", code="invalid_settings", message="x",
                        fields={"base_url": "must be an http URL"}), "preview")
    assert form.errors["base_url"] == "must be an http URL" and link.status == "Unsaved changes"


def test_a_push_does_not_overwrite_what_is_being_typed() -> None:
    _, form = loaded()
    form.edit("model", "my-model")
    form.settings(view(model="other", key={"set": True, "masked": "sk-…WXYZ"}))
    assert form.form["model"] == "my-model" and form.key_set
    _, clean = loaded()
    clean.settings(view(model="other"))
    assert clean.form["model"] == "other"


def test_templates_can_be_added_edited_and_removed() -> None:
    link, form = loaded(templates=[{"name": "tldr", "prompt": "Short"}])
    form.add_template()
    form.edit_template(1, "name", "fix")
    form.edit_template(1, "prompt", "Fix: {input}")
    form.save(None)
    [msg] = link.take_outbox()
    expected = [{"name": "tldr", "prompt": "Short"}, {"name": "fix", "prompt": "Fix: {input}"}]
    assert msg["patch"]["templates"] == expected
    kind, data = entry(link, msg)
    form.settings(view(templates=msg["patch"]["templates"]), kind, data)
    form.remove_template(0)
    assert form.templates == [{"name": "fix", "prompt": "Fix: {input}"}] and form.dirty


def test_a_cors_failure_offers_access_and_a_new_url_drops_the_old_result() -> None:
    link, form = loaded(provider="compatible", base_url="http://127.0.0.1:9/v1")
    form.test_connection(None)
    [test] = link.take_outbox()
    form.tested(answer(test, "settings.test", ok=False, kind="cors", origin="http://127.0.0.1/*",
                       message="blocked"))
    assert link.status == "Connection failed: blocked by the browser (host permission / CORS)"
    form.edit("base_url", "https://llm.example.com/v1")
    form.grant_access()
    assert link.take_control() == ['ui.permissions ["https://llm.example.com/*"]']
    form.permission_result({"type": "permission.result", "origins": ["https://llm.example.com/*"],
                            "granted": True})
    assert link.status == "Chrome granted SidePy access to https://llm.example.com."
    assert link.status_kind == "ok"
    assert form.test is None  # it was about the old URL


def test_the_mode_picker_follows_the_account() -> None:
    link, form = loaded()
    form.follow_auth_mode("chatgpt")
    assert form.form["auth_mode"] == "chatgpt" and form.saved["auth_mode"] == "chatgpt"
    [preview] = link.take_outbox()
    assert preview["type"] == "settings.preview" and preview["patch"]["auth_mode"] == "chatgpt"
    form.follow_auth_mode("chatgpt")
    assert link.take_outbox() == []  # already there: nothing to ask


def test_the_preview_shows_no_stale_url_and_marks_only_what_was_typed() -> None:
    link, form = loaded()
    form.set_provider("compatible")  # an empty URL: wrong, but nothing was typed there yet
    [preview] = link.take_outbox()
    form.refused(answer(preview, "error", code="invalid_settings", message="x",
                        fields={"base_url": "enter the server's URL"}), "preview")
    assert form.request_url is None and form.errors == {}
    form.edit("base_url", "not a url")
    form.preview()
    [preview] = link.take_outbox()
    form.refused(answer(preview, "error", code="invalid_settings", message="x",
                        fields={"base_url": "must be an http URL"}), "preview")
    assert form.request_url is None and form.errors == {"base_url": "must be an http URL"}


def test_switching_provider_keeps_the_url_typed_for_each() -> None:
    _, form = loaded()
    form.set_provider("compatible")
    form.edit("base_url", "http://127.0.0.1:1234/v1")
    form.set_provider("openai")
    assert form.form["base_url"] == sf.OPENAI_BASE
    form.set_provider("compatible")
    assert form.form["base_url"] == "http://127.0.0.1:1234/v1"  # not erased by the way through OpenAI


def test_the_forms_writes_name_the_provider_it_was_loaded_with() -> None:
    """The panel switches provider while the form has unsaved edits: the form keeps them (not
    reloaded), and its save names the provider it shows, for the worker to refuse as stale."""
    link, form = loaded()
    form.settings(view(active_profile="p1"), "save", None)
    link.take_outbox()
    form.edit("model", "gpt-5")
    form.settings(view(active_profile="p2", model="llama3.2"))  # pushed: the panel switched
    assert form.form["model"] == "gpt-5"
    form.save(KEY)
    [first] = link.take_outbox()
    assert first["type"] == "settings.set" and first["active_profile"] == "p1"
    kind = entry(link, first)[0]
    form.refused({"type": "error", "id": first["id"], "code": "stale",
                  "message": "The provider was switched in the panel; reload this page's settings."}, kind)
    assert link.status == "The provider was switched in the panel; reload this page's settings."
    assert link.take_outbox() == []  # the key was not sent on
