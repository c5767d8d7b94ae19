"""The panel's provider and model pickers: the server's models, efforts per model, profiles.

Plain functions and asserts: these tests also run on MicroPython (tests/micropython).
"""

try:
    from tests.unit.panel.support import connect, only, ready, settings
except ImportError:  # MicroPython: this folder is on sys.path
    from support import connect, only, ready, settings

from panel.state import PanelState

PROFILES = [{"id": "p1", "name": "OpenAI"}, {"id": "p2", "name": "Ollama on this machine"}]


def test_the_panel_asks_for_the_model_list_once_per_opening_and_quietly():
    state = PanelState(now=0, session="t")
    out = connect(state)
    req = only(out, "models.list")
    assert req["refresh"] is True
    state.receive({"type": "error", "id": req["id"], "code": "models", "message": "no key"}, 1)
    assert "no key" not in str(state.banners)
    state.receive({"type": "port.disconnected"}, 2)
    assert "models.list" not in [m["type"] for m in connect(state, 3)]  # a reconnect is not an opening


def test_the_refresh_button_reports_a_failure():
    state = ready()
    state.take_outbox()
    state.refresh_models()
    req = only(state.take_outbox(), "models.list")
    state.receive({"type": "error", "id": req["id"], "code": "models",
                   "message": "Ollama is not running at http://localhost:11434"}, 1)  # fmt: skip
    assert "Ollama is not running" in str(state.banners)


def test_the_model_picker_lists_the_servers_models_and_the_conversations_own():
    state = ready(settings=settings(models=["llama3.2:latest", "qwen3:8b"], model="llama3.2:latest",
                                    efforts={"llama3.2:latest": [], "qwen3:8b": []}))  # fmt: skip
    h = state.header()
    assert h["models"] == ["llama3.2:latest", "qwen3:8b"] and h["model"] == "llama3.2:latest"
    assert h["efforts"] == []  # no effort picker for a model that takes none
    state.conv.model = "gpt-oss:20b"
    assert state.header()["models"][0] == "gpt-oss:20b"


def test_efforts_follow_the_chosen_model():
    state = ready(
        settings=settings(
            models=["gpt-5-mini", "gpt-4o"],
            model="gpt-5-mini",
            reasoning_effort=None,
            efforts={"gpt-5-mini": ["minimal", "low", "medium", "high"], "gpt-4o": []},
        )
    )
    assert state.header()["efforts"] == ["minimal", "low", "medium", "high"]
    state.set_model("gpt-4o")
    assert state.header()["efforts"] == []


def test_the_profile_switcher():
    state = ready(settings=settings(profiles=PROFILES, active_profile="p1"))
    h = state.header()
    assert h["profiles"] == [("p1", "OpenAI"), ("p2", "Ollama on this machine")] and h["profile"] == "p1"
    state.take_outbox()
    state.set_profile("p1")  # already active: nothing to ask
    assert state.take_outbox() == []
    state.set_profile("p2")
    assert only(state.take_outbox(), "profile.select")["profile_id"] == "p2"
    state.receive(
        {
            "type": "settings",
            "settings": settings(
                profiles=PROFILES, active_profile="p2", models=["llama3.2:latest"], model="llama3.2:latest"
            ),
        },
        5,
    )
    assert state.header()["profile"] == "p2" and state.header()["models"] == ["llama3.2:latest"]


def test_another_provider_brings_its_servers_models():
    state = ready(settings=settings(profiles=PROFILES, active_profile="p1"))
    state.take_outbox()
    state.receive({"type": "settings", "settings": settings(profiles=PROFILES, active_profile="p1")}, 5)
    assert state.take_outbox() == []  # the same provider: nothing to refresh
    state.receive({"type": "settings", "settings": settings(profiles=PROFILES, active_profile="p2")}, 6)
    assert only(state.take_outbox(), "models.list")["refresh"] is True
