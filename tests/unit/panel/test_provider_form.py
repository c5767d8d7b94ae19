"""The options page's providers: presets in the provider field and the API choice
(``panel.settings_form``, ``panel.form_state``), Test connection's short message, and the saved
providers (``panel.provider_list``), alone and routed by ``panel.settings_state``.

These tests also run on MicroPython (tests/micropython/run.py): plain functions and
asserts only; no ``from __future__``, no pytest features.
"""

from panel import settings_form as sf
from panel.form_state import SettingsForm
from panel.options_link import OptionsLink
from panel.provider_list import ProviderList
from panel.settings_state import SettingsState

try:
    from tests.unit.panel.optkit import answer, entry
    from tests.unit.panel.optkit import view as base_view
except ImportError:  # MicroPython: this folder is on sys.path
    from optkit import answer, entry
    from optkit import view as base_view

OPENAI_ID = "p0123456789abcdef"
OLLAMA_ID = "pfedcba9876543210"
PROFILES = [{"id": OPENAI_ID, "name": "OpenAI", "preset": "openai", "model": "gpt-5-mini"},
            {"id": OLLAMA_ID, "name": "Ollama on this machine", "preset": "ollama", "model": "llama3.2"}]


def view(**extra):
    v = {"preset": "openai", "wire_api": "auto", "profiles": [], "active_profile": "",
         "presets": [{"id": "deepseek", "wire_api": "chat"}, {"id": "custom"}]}
    v.update(extra)
    return base_view(**v)


def loaded(**extra):
    link = OptionsLink()
    form = SettingsForm(link)
    form.settings(view(**extra))
    link.say("Ready")
    return link, form


def sent(link, kind):
    return [m for m in link.take_outbox() if m["type"] == kind]


# ------------------------------------------------------------------- the form's helpers


def test_a_preset_is_the_provider_value_and_goes_back_as_provider_and_preset():
    assert sf.form_from_view(view(provider="compatible", preset="ollama"))["provider"] == "ollama"
    assert sf.form_from_view(view(provider="compatible", preset="custom"))["provider"] == "compatible"
    assert sf.provider_patch("ollama") == {"provider": "compatible", "preset": "ollama"}
    assert sf.provider_patch("compatible") == {"provider": "compatible", "preset": "custom"}
    assert sf.provider_patch("azure") == {"provider": "azure", "preset": "azure"}
    form = sf.form_from_view(view(provider="compatible", preset="deepseek", wire_api="chat"))
    patch = sf.patch_from_form(form, [])
    assert (patch["provider"], patch["preset"], patch["wire_api"]) == ("compatible", "deepseek", "chat")


def test_every_preset_is_offered():
    assert [p for p, _ in sf.PROVIDERS] == ["openai", "azure", "openrouter", "groq", "deepseek", "mistral",
                                            "gemini", "ollama", "lmstudio", "llamacpp", "vllm", "compatible"]


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


# ------------------------------------------------------------------------- the form part


def test_choosing_a_preset_fills_in_its_server():
    link, form = loaded()
    form.set_provider("groq")
    assert form.form["base_url"] == "https://api.groq.com/openai/v1"
    form.set_provider("compatible")  # a custom server: the user types it
    assert form.form["base_url"] == ""
    preview = sent(link, "settings.preview")[-1]
    assert preview["patch"]["preset"] == "custom" and preview["patch"]["wire_api"] == "auto"
    form.form["base_url"] = "http://127.0.0.1:1234/v1"
    form.set_provider("azure")  # a URL the user typed stays
    assert form.form["base_url"] == "http://127.0.0.1:1234/v1"


EFFORTS = {"gpt-5-mini": ["minimal", "low", "medium", "high"], "gpt-4.1": [],
           "gpt-5.2": ["none", "low", "medium", "high", "xhigh"]}


def test_the_effort_field_offers_what_the_model_takes():
    saved = view(efforts=EFFORTS)

    def values(model, current=""):
        return [v for v, _ in sf.effort_choices(saved, model, current)]

    assert values("gpt-5.2") == ["", "none", "low", "medium", "high", "xhigh"]
    assert dict(sf.effort_choices(saved, "gpt-5.2"))["xhigh"] == "xhigh (extra high)"
    assert values(" gpt-5-mini ") == ["", "minimal", "low", "medium", "high"]
    assert sf.effort_choices(saved, "gpt-4.1") == [("", "Model default")]
    assert sf.effort_hint(saved, "gpt-4.1") == "gpt-4.1 takes no reasoning effort."
    # A model the worker's map does not cover (typed by hand): every effort.
    assert values("my-local-model") == sf.CHOICES["reasoning_effort"]
    # A saved effort the model does not take stays listed: nothing is dropped unseen.
    assert values("gpt-4.1", "high") == ["", "high"]


def test_efforts_beyond_high_and_below_minimal_survive_the_form():
    link, form = loaded(efforts=EFFORTS, model="gpt-5.2", reasoning_effort="xhigh")
    assert form.form["reasoning_effort"] == "xhigh"  # not reset to the default on load
    assert sf.patch_from_form(form.form, [])["reasoning_effort"] == "xhigh"
    before = link.rev["efforts"]
    form.edit("model", "gpt-4.1")
    assert link.rev["efforts"] == before + 1  # the field repaints with the new model's efforts
    form.edit("instructions", "Be brief.")
    assert link.rev["efforts"] == before + 1


def test_test_connection_sends_the_short_message_unless_left_out():
    link, form = loaded(key={"set": True, "masked": "sk-…WXYZ"})
    form.test_connection(None)
    first = sent(link, "settings.test")[-1]
    assert first["probe"] is True
    form.tested(answer(first, "settings.test", ok=True, kind="ok", message="Chat works"))
    entry(link, first)
    form.set_probe(False)
    form.test_connection(None)
    assert sent(link, "settings.test")[-1]["probe"] is False


def test_a_working_test_refreshes_the_model_fields_list_and_keeps_the_found_api():
    link, form = loaded(key={"set": True, "masked": "sk-…WXYZ"})
    form.test_connection(None)
    test = sent(link, "settings.test")[-1]
    entry(link, test)
    form.tested(answer(test, "settings.test", ok=True, kind="ok", message="Chat works", reply="OK",
                       wire="chat", detected=True))
    out = link.take_outbox()
    assert [m["type"] for m in out] == ["models.list", "settings.preview"]
    assert form.saved["detected_wire"] == "chat"
    kind, _ = entry(link, out[0])
    form.refused({"type": "error", "code": "models", "message": "offline"}, kind)
    assert "offline" not in link.status  # the list stays as it was; the test's result stays shown
    dirty_view = view(models=["deepseek-chat"])
    form.edit("model", "typed")
    form.settings(dirty_view, "models")
    assert form.form["model"] == "typed"  # a new list never eats what is typed


# ------------------------------------------------------------------ the saved providers


def providers(**extra):
    link, form = loaded(profiles=PROFILES, active_profile=OPENAI_ID, **extra)
    part = ProviderList(link, form)
    part.settings(form.saved)
    return link, form, part


def test_saving_the_provider_in_use_and_adding_another():
    link, _, part = providers()
    assert part.profiles == PROFILES and part.active == OPENAI_ID
    part.save("  Work  ", new=True)
    [save] = link.take_outbox()
    assert save == {"type": "profile.save", "new": True, "name": "Work", "id": save["id"]}
    kind, data = entry(link, save)
    part.settings(view(profiles=PROFILES, active_profile=OPENAI_ID), kind, data)
    assert link.status == "Added a provider: set its server and key, then save"


def test_unsaved_changes_are_saved_first():
    link, form, part = providers()
    form.edit("base_url", "http://127.0.0.1:9/v1")
    part.save("Mine")
    part.select(OLLAMA_ID)
    assert link.take_outbox() == [] and link.status_kind == "error"
    assert link.status.startswith("Save your changes first")
    assert form.form["base_url"] == "http://127.0.0.1:9/v1"  # nothing typed was lost


def test_switching_and_removing():
    link, form, part = providers()
    part.select(OPENAI_ID)  # the one in use: nothing to do
    part.delete(OPENAI_ID)  # nor may it be removed
    assert link.take_outbox() == []
    part.select(OLLAMA_ID)
    [select] = link.take_outbox()
    assert select["type"] == "profile.select" and select["profile_id"] == OLLAMA_ID
    assert form.busy  # Save and Test wait: the form is about to show the other provider
    part.delete(PROFILES[1]["id"])
    assert link.take_outbox() == []  # one thing at a time


def test_a_switch_shows_the_other_provider_in_the_form():
    s = SettingsState()
    s.receive({"type": "settings", "settings": view(profiles=PROFILES, active_profile=OPENAI_ID)})
    s.receive({"type": "vault.status", "state": "ready", "records": {}})
    s.take_outbox()
    s.vault.replace_key(True)
    s.providers.select(OLLAMA_ID)
    [select] = s.take_outbox()
    ollama = view(provider="compatible", preset="ollama", base_url="http://localhost:11434/v1",
                  profiles=PROFILES, active_profile=OLLAMA_ID)
    s.receive({"type": "settings", "id": select["id"], "settings": ollama})
    assert s.settings.form["provider"] == "ollama" and s.settings.form["base_url"] == "http://localhost:11434/v1"
    assert s.providers.active == OLLAMA_ID and s.link.status == "Switched provider"
    assert s.vault.clear_key_field and not s.vault.replacing  # a key typed for OpenAI does not stay


def test_a_refused_switch_says_why():
    s = SettingsState()
    s.receive({"type": "settings", "settings": view(profiles=PROFILES, active_profile=OPENAI_ID)})
    s.take_outbox()
    s.providers.select(OLLAMA_ID)
    [select] = s.take_outbox()
    s.receive({"type": "error", "id": select["id"], "code": "key_unavailable",
               "message": "Providers cannot be switched now: your keys are locked."})
    assert s.link.status == "Providers cannot be switched now: your keys are locked."
    assert s.link.status_kind == "error" and s.providers.active == OPENAI_ID and not s.busy
