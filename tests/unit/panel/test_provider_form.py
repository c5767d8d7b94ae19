"""The options page's providers: presets in the provider field, the API choice, saved providers,
and Test connection's short message.

These tests also run on MicroPython (tests/micropython/run.py): plain functions and
asserts only; no ``from __future__``, no pytest features.
"""

from panel import settings_form as sf
from panel.settings_state import SettingsState

PROFILES = [{"id": "p0123456789abcdef", "name": "OpenAI", "preset": "openai", "model": "gpt-5-mini"},
            {"id": "pfedcba9876543210", "name": "Ollama on this machine", "preset": "ollama",
             "model": "llama3.2"}]


def view(**extra):
    v = {
        "provider": "openai", "preset": "openai", "base_url": "https://api.openai.com/v1",
        "request_url": "https://api.openai.com/v1/responses", "model": "gpt-5-mini", "models": ["gpt-5-mini"],
        "reasoning_effort": None, "reasoning_summary": "auto", "verbosity": None, "instructions": "",
        "idle_timeout_ms": 300000, "request_max_retries": 4, "stream_max_retries": 5, "organization": None,
        "project": None, "web_search": False, "key": {"set": False, "masked": None}, "templates": [],
        "wire_api": "auto", "presets": [{"id": "deepseek", "wire_api": "chat"}, {"id": "custom"}],
        "profiles": [], "active_profile": "",
    }
    v.update(extra)
    return v


def ready(**extra):
    s = SettingsState()
    s.receive({"type": "settings", "settings": view(**extra)})
    s.receive({"type": "vault.status", "state": "empty", "records": {}})
    s.take_outbox()
    return s


def test_a_preset_is_the_provider_value_and_goes_back_as_provider_and_preset():
    assert sf.form_from_view(view(provider="compatible", preset="ollama"))["provider"] == "ollama"
    assert sf.form_from_view(view(provider="compatible", preset="custom"))["provider"] == "compatible"
    assert sf.provider_patch("ollama") == {"provider": "compatible", "preset": "ollama"}
    assert sf.provider_patch("compatible") == {"provider": "compatible", "preset": "custom"}
    assert sf.provider_patch("azure") == {"provider": "azure", "preset": "azure"}
    form = sf.form_from_view(view(provider="compatible", preset="deepseek", wire_api="chat"))
    patch = sf.patch_from_form(form, [])
    assert (patch["provider"], patch["preset"], patch["wire_api"]) == ("compatible", "deepseek", "chat")


def test_choosing_a_preset_fills_in_its_server():
    s = ready()
    s.set_provider("groq")
    assert s.form["base_url"] == "https://api.groq.com/openai/v1"
    s.set_provider("compatible")  # a custom server: the user types it
    assert s.form["base_url"] == ""
    preview = [m for m in s.take_outbox() if m["type"] == "settings.preview"][-1]
    assert preview["patch"]["preset"] == "custom" and preview["patch"]["wire_api"] == "auto"


def test_the_api_hint_says_what_automatic_means():
    deepseek = {"provider": "deepseek", "wire_api": "auto"}
    assert "DeepSeek speaks Chat Completions" in sf.wire_hint(view(), deepseek)
    custom = view(provider="compatible", preset="custom", base_url="http://h/v1", detected_wire="chat")
    assert "found Chat Completions" in sf.wire_hint(custom, {"provider": "compatible", "wire_api": "auto",
                                                             "base_url": "http://h/v1"})
    assert "finds which API" in sf.wire_hint(custom, {"provider": "compatible", "wire_api": "auto",
                                                      "base_url": "http://other/v1"})
    chosen = sf.wire_hint(view(), {"provider": "openai", "wire_api": "chat"})
    assert chosen.startswith("Always Chat Completions")


def test_test_connection_sends_the_short_message_unless_left_out():
    s = ready(key={"set": True, "masked": "sk-…WXYZ"})
    s.test_connection(None)
    first = [m for m in s.take_outbox() if m["type"] == "settings.test"][-1]
    assert first["probe"] is True
    s.receive({"type": "settings.test", "id": first["id"], "ok": True, "kind": "ok", "message": "Chat works"})
    s.set_probe(False)
    s.test_connection(None)
    assert [m for m in s.take_outbox() if m["type"] == "settings.test"][-1]["probe"] is False


def test_saved_providers():
    s = ready(profiles=PROFILES, active_profile="p0123456789abcdef")
    assert s.profiles == PROFILES and s.active_profile == "p0123456789abcdef"
    s.save_profile("  Work  ", new=True)
    [save] = s.take_outbox()
    assert save == {"type": "profile.save", "new": True, "name": "Work", "id": save["id"]}
    s.receive({"type": "settings", "id": save["id"], "settings": view(profiles=PROFILES,
                                                                      active_profile="p0123456789abcdef")})
    s.select_profile("p0123456789abcdef")  # the one in use: nothing to do
    assert s.take_outbox() == []
    s.select_profile("pfedcba9876543210")
    [select] = s.take_outbox()
    assert select["type"] == "profile.select" and select["profile_id"] == "pfedcba9876543210"
    ollama = view(provider="compatible", preset="ollama", base_url="http://localhost:11434/v1",
                  profiles=PROFILES, active_profile="pfedcba9876543210")
    s.receive({"type": "settings", "id": select["id"], "settings": ollama})
    assert s.form["provider"] == "ollama" and s.form["base_url"] == "http://localhost:11434/v1"
    assert s.status == "Switched provider"
    s.delete_profile("p0123456789abcdef")
    assert [m["type"] for m in s.take_outbox()] == ["profile.delete"]


def test_a_working_test_refreshes_the_model_fields_list():
    s = ready(key={"set": True, "masked": "sk-…WXYZ"})
    s.test_connection(None)
    test = [m for m in s.take_outbox() if m["type"] == "settings.test"][-1]
    s.receive({"type": "settings.test", "id": test["id"], "ok": True, "kind": "ok", "message": "Chat works",
               "reply": "OK", "wire": "chat", "detected": True})
    out = s.take_outbox()
    assert [m["type"] for m in out] == ["models.list", "settings.preview"]
    assert s.saved["detected_wire"] == "chat"
    s.receive({"type": "error", "id": out[0]["id"], "code": "models", "message": "offline"})
    assert "offline" not in s.status  # the list stays as it was; the test's result stays shown
