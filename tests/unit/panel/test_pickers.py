"""The panel's provider and model pickers: the saved providers' switcher and the server's model
list (``panel.providers``, alone and in the panel), efforts per model (``panel.turn``).

Plain functions and asserts: these tests also run on MicroPython (tests/micropython).
"""

try:
    from tests.unit.panel.support import Parts, connect, only, ready, settings
except ImportError:  # MicroPython: this folder is on sys.path
    from support import Parts, connect, only, ready, settings

from panel.providers import Providers
from panel.state import PanelState

PROFILES = [{"id": "p1", "name": "OpenAI"}, {"id": "p2", "name": "Ollama on this machine"}]


def providers(view=None):
    parts = Parts(view)
    return parts, Providers(parts.conn, parts.rev, parts.banners, parts.setup)


# ----------------------------------------------------------------------- the part alone


def test_the_model_list_is_asked_once_per_opening_and_quietly():
    parts, p = providers()
    p.opened(None)  # a pushed hello (we did not ask): not an opening of ours
    assert parts.sent() == []
    p.opened({"kind": "hello"})
    req = only(parts.sent(), "models.list")
    assert req["refresh"] is True
    p.refused({"type": "error", "id": req["id"], "code": "models", "message": "no key"},
              parts.reply(req, type="error"))
    assert parts.banners.items == []  # quiet: a first run without a key is no error worth a banner
    p.opened({"kind": "hello"})  # a reconnect is not an opening
    assert parts.sent() == []


def test_the_refresh_button_says_what_is_wrong():
    parts, p = providers()
    p.refresh()
    req = only(parts.sent(), "models.list")
    text = "Ollama is not running at http://localhost:11434: start Ollama, then try again."
    p.refused({"type": "error", "id": req["id"], "code": "models", "message": text},
              parts.reply(req, type="error"))
    [banner] = parts.banners.items
    assert banner["text"] == text and banner["key"] == "request"


def test_another_active_provider_brings_its_servers_models():
    parts, p = providers(settings(profiles=PROFILES, active_profile="p1"))
    p.followed(parts.setup.settings)
    p.opened({"kind": "hello"})
    parts.sent()
    p.followed(settings(profiles=PROFILES, active_profile="p1"))
    assert parts.sent() == []  # the same provider: nothing to refresh
    p.followed(settings(profiles=PROFILES, active_profile="p2"))
    assert only(parts.sent(), "models.list")["refresh"] is True


def test_the_switcher():
    parts, p = providers(settings(profiles=PROFILES, active_profile="p1"))
    assert p.header() == {"profiles": [("p1", "OpenAI"), ("p2", "Ollama on this machine")], "profile": "p1"}
    p.select("p1")  # already in use: nothing to ask
    assert parts.sent() == []
    p.select("p2")
    assert only(parts.sent(), "profile.select")["profile_id"] == "p2"


def test_a_switch_refused_while_the_keys_are_locked_offers_the_settings():
    parts, p = providers(settings(profiles=PROFILES, active_profile="p1"))
    p.select("p2")
    req = only(parts.sent(), "profile.select")
    msg = {"type": "error", "id": req["id"], "code": "key_unavailable",
           "message": "Providers cannot be switched now: your keys are locked."}
    p.refused(msg, parts.reply(req, type="error"))
    [banner] = parts.banners.items
    assert banner["text"] == msg["message"] and banner["action"] == "settings"


# --------------------------------------------------------------------------- in the panel


def test_the_panel_refreshes_the_list_when_it_opens_and_when_the_provider_changes():
    state = PanelState(now=0, session="t")
    out = connect(state, settings=settings(profiles=PROFILES, active_profile="p1"))
    only(out, "models.list")
    state.providers.select("p2")
    select = only(state.take_outbox(), "profile.select")
    view = settings(profiles=PROFILES, active_profile="p2", models=["llama3.2:latest"],
                    model="llama3.2:latest")
    state.receive({"type": "settings", "id": select["id"], "settings": view}, 5)
    assert only(state.take_outbox(), "models.list")["refresh"] is True
    assert state.turn.header()["models"] == ["llama3.2:latest"]
    assert state.providers.header()["profile"] == "p2"


def test_a_quiet_refresh_that_fails_shows_nothing_in_the_panel():
    state = PanelState(now=0, session="t")
    req = only(connect(state), "models.list")
    state.receive({"type": "error", "id": req["id"], "code": "models", "message": "no key"}, 1)
    assert state.banners.items == []


def test_the_model_picker_lists_the_servers_models_and_the_conversations_own():
    state = ready(settings=settings(models=["llama3.2:latest", "qwen3:8b"], model="llama3.2:latest",
                                    efforts={"llama3.2:latest": [], "qwen3:8b": []}))  # fmt: skip
    h = state.turn.header()
    assert h["models"] == ["llama3.2:latest", "qwen3:8b"] and h["model"] == "llama3.2:latest"
    assert h["efforts"] == [] and h["reasons"] is False  # no effort to pick for a model that takes none
    state.conv.model = "gpt-oss:20b"
    assert state.turn.header()["models"][0] == "gpt-oss:20b"


def test_efforts_follow_the_chosen_model():
    efforts = {"gpt-5-mini": ["minimal", "low", "medium", "high"], "gpt-4o": [],
               "gpt-5.2": ["none", "low", "medium", "high", "xhigh"]}
    state = ready(settings=settings(models=["gpt-5-mini", "gpt-4o", "gpt-5.2"], model="gpt-5-mini",
                                    reasoning_effort="minimal", efforts=efforts))  # fmt: skip
    h = state.turn.header()
    assert h["efforts"] == ["minimal", "low", "medium", "high"] and h["effort"] == "minimal"
    state.turn.set_model("gpt-5.2")
    h = state.turn.header()
    assert h["efforts"] == ["none", "low", "medium", "high", "xhigh"]
    assert h["effort"] == ""  # minimal is not one of its efforts: the model's default applies
    state.turn.set_effort("xhigh")
    assert state.turn.header()["effort"] == "xhigh"
    state.turn.set_model("gpt-4o")
    assert state.turn.header()["efforts"] == [] and not state.turn.header()["reasons"]


def test_a_model_the_map_does_not_cover_keeps_the_usual_efforts():
    state = ready(settings=settings(efforts={}))
    state.conv.model = "o3"
    assert state.turn.header()["efforts"] == ["minimal", "low", "medium", "high"]
    state.conv.model = "gpt-4.1"
    assert state.turn.header()["efforts"] == []
