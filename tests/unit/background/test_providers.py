"""Providers in the worker: presets and the wire API in the settings, the server's model list,
saved profiles with their own keys, and a turn on the Chat Completions wire."""

from __future__ import annotations

import json
from typing import Any

from modelclient import ConnectionFailedError, HttpRequest
from tests.unit.background.kit import KEY, KEY_VIEW, Harness

CHAT_BASE = "http://127.0.0.1:9/v1"
OTHER_KEY = "sk-other-provider-0123456789abcd"


def chat_stream(*pieces: str) -> list[bytes]:
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "m"}
    out = [{**base, "choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces]
    out.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    usage = {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}
    out.append({**base, "choices": [], "usage": usage})
    return [f"data: {json.dumps(c)}\n\n".encode() for c in out] + [b"data: [DONE]\n\n"]


def chat_server(models: list[str], seen: list[HttpRequest]) -> Any:
    def handler(request: HttpRequest) -> Any:
        seen.append(request)
        if request.url.endswith("/models"):
            return 200, {}, json.dumps({"object": "list", "data": [{"id": m} for m in models]}).encode()
        if request.url.endswith("/chat/completions"):
            return 200, {"content-type": "text/event-stream"}, chat_stream("Hi", " there")
        return 404, {}, b"404 page not found"

    return handler


def custom_chat(h: Harness) -> dict[str, Any]:
    return h.ask({"type": "settings.set", "id": 1,
                  "patch": {"preset": "custom", "base_url": CHAT_BASE, "wire_api": "chat"}})  # fmt: skip


def test_a_preset_sets_the_provider_and_the_wire() -> None:
    h = Harness()
    view = h.ask({"type": "settings.set", "id": 1, "patch": {"preset": "deepseek",
                                                             "base_url": "https://api.deepseek.com/v1"}})["settings"]
    assert (view["preset"], view["provider"], view["wire"]) == ("deepseek", "compatible", "chat")
    assert view["request_url"] == "https://api.deepseek.com/v1/chat/completions"
    assert {p["id"] for p in view["presets"]} >= {"openai", "ollama", "custom"}
    bad = h.ask({"type": "settings.set", "id": 2, "patch": {"preset": "no-such"}})
    assert bad["type"] == "error" and bad["code"] == "invalid_settings"


def test_efforts_only_for_models_that_take_them() -> None:
    view = Harness().ask({"type": "settings.get", "id": 1})["settings"]
    assert view["efforts"]["gpt-5-mini"] == ["minimal", "low", "medium", "high"]
    assert view["efforts"]["gpt-4.1"] == []


def test_a_turn_on_the_chat_wire() -> None:
    seen: list[HttpRequest] = []
    h = Harness(handler=chat_server(["deepseek-chat"], seen))
    custom_chat(h)
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 2, "text": "hello"})
    [request] = [r for r in seen if r.method == "POST"]
    assert request.url == f"{CHAT_BASE}/chat/completions"
    body = json.loads(request.body or b"")
    assert body["messages"][-1] == {"role": "user", "content": "hello"} and body["stream"] is True
    [done] = h.sent(1, "turn.done")
    assert done["assistant"]["text"] == "Hi there" and done["usage"]["total_tokens"] == 9


def test_the_model_list_comes_from_the_server_and_is_kept() -> None:
    seen: list[HttpRequest] = []
    h = Harness(handler=chat_server(["deepseek-chat", "deepseek-reasoner"], seen))
    custom_chat(h)
    h.ask({"type": "key.set", "id": 2, "key": KEY})
    view = h.ask({"type": "models.list", "id": 3}, sender="panel")["settings"]
    assert view["models"][-2:] == ["deepseek-chat", "deepseek-reasoner"]  # (after the chosen model)
    assert seen[-1].url == f"{CHAT_BASE}/models" and seen[-1].headers["Authorization"] == f"Bearer {KEY}"
    assert h.stored("settings")["models"] == ["deepseek-chat", "deepseek-reasoner"]


def test_a_model_list_failure_names_the_server_and_the_fix() -> None:
    def refused(request: HttpRequest) -> Any:
        raise ConnectionFailedError("connection refused")

    h = Harness(handler=refused)
    h.ask({"type": "settings.set", "id": 1, "patch": {"preset": "ollama", "base_url": "http://localhost:11434/v1"}})
    error = h.ask({"type": "models.list", "id": 2}, sender="panel")
    assert error["type"] == "error" and error["code"] == "models"
    assert error["message"].startswith("Ollama is not running at http://localhost:11434: start Ollama")


def test_profiles_switch_the_provider_and_its_own_key() -> None:
    seen: list[HttpRequest] = []
    h = Harness(handler=chat_server(["deepseek-chat"], seen))
    # The first provider: OpenAI with the harness's key (approved for api.openai.com).
    first = h.ask({"type": "profile.save", "id": 1, "name": "OpenAI"})["settings"]
    [openai] = first["profiles"]
    assert first["active_profile"] == openai["id"] and openai["name"] == "OpenAI"
    # A second provider: saved as new, then pointed at the chat server with its own key.
    second = h.ask({"type": "profile.save", "id": 2, "name": "Chat server", "new": True})["settings"]
    chat_id = second["active_profile"]
    assert chat_id != openai["id"] and second["key"]["set"] is False  # a new provider has no key yet
    custom_chat(h)
    h.ask({"type": "key.set", "id": 3, "key": OTHER_KEY})
    h.ask({"type": "profile.save", "id": 4})
    names = [p["name"] for p in h.ask({"type": "settings.get", "id": 5})["settings"]["profiles"]]
    assert names == ["OpenAI", "Chat server"]

    # The panel switches back to OpenAI: its URL and its key come back.
    back = h.ask({"type": "profile.select", "id": 6, "profile_id": openai["id"]}, sender="panel")["settings"]
    assert back["base_url"] == "https://api.openai.com/v1" and back["wire"] == "responses"
    assert back["key"] == KEY_VIEW
    # ... and to the chat server: its own key, approved for its own origin.
    there = h.ask({"type": "profile.select", "id": 7, "profile_id": chat_id}, sender="panel")["settings"]
    assert there["base_url"] == CHAT_BASE and there["wire"] == "chat"
    assert there["key"]["masked"] == "sk-…abcd" and there["key"]["approved"] is True
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 8, "text": "hi"})
    assert seen[-1].url == f"{CHAT_BASE}/chat/completions"
    assert seen[-1].headers["Authorization"] == f"Bearer {OTHER_KEY}"


def test_profile_rules() -> None:
    h = Harness()
    active = h.ask({"type": "profile.save", "id": 1})["settings"]["active_profile"]
    assert h.ask({"type": "profile.delete", "id": 2, "profile_id": active})["type"] == "error"
    missing = h.ask({"type": "profile.select", "id": 3, "profile_id": "p0123456789abcdef"}, sender="panel")
    assert missing["code"] == "not_found"
    # A panel may switch, never save or delete (they change what providers exist).
    assert h.ask({"type": "profile.save", "id": 4}, sender="panel")["code"] == "forbidden"
    delete = {"type": "profile.delete", "id": 5, "profile_id": active}
    assert h.ask(delete, sender="panel")["code"] == "forbidden"
    # A form sending the view back cannot rewrite the profiles.
    h.ask({"type": "settings.set", "id": 6, "patch": {"profiles": [], "active_profile": ""}})
    view = h.ask({"type": "settings.get", "id": 7})["settings"]
    assert view["active_profile"] == active and len(view["profiles"]) == 1


def test_test_connection_sends_the_turn_chat_will_send_and_keeps_the_detected_wire() -> None:
    seen: list[HttpRequest] = []
    h = Harness(handler=chat_server(["deepseek-chat"], seen))
    h.ask({"type": "settings.set", "id": 1, "patch": {"preset": "custom", "base_url": CHAT_BASE,
                                                      "model": "deepseek-chat"}})  # fmt: skip
    h.ask({"type": "key.set", "id": 2, "key": KEY})
    out = h.ask({"type": "settings.test", "id": 3, "probe": True})
    assert out["ok"] is True and out["kind"] == "ok" and out["wire"] == "chat" and out["detected"] is True
    assert out["message"] == "Chat works: deepseek-chat answered “Hi there” over Chat Completions (9 tokens)."
    assert [(r.method, r.url.rsplit("/v1", 1)[1]) for r in seen] == [
        ("GET", "/models"), ("POST", "/responses"), ("POST", "/chat/completions")]  # fmt: skip
    assert out["probe"]["url"] == f"{CHAT_BASE}/chat/completions"
    view = h.ask({"type": "settings.get", "id": 4})["settings"]
    assert (view["detected_wire"], view["wire"]) == ("chat", "chat")
    assert view["request_url"] == f"{CHAT_BASE}/chat/completions"
    # Another base URL forgets what was detected for this one.
    moved = h.ask({"type": "settings.set", "id": 5, "patch": {"base_url": "http://127.0.0.1:10/v1"}})
    assert moved["settings"]["detected_wire"] is None and moved["settings"]["wire"] == "responses"


def test_without_the_probe_the_test_shows_what_it_would_send() -> None:
    seen: list[HttpRequest] = []
    h = Harness(handler=chat_server(["deepseek-chat"], seen))
    deepseek = {"preset": "deepseek", "model": "deepseek-chat", "base_url": "https://api.deepseek.com/v1"}
    h.ask({"type": "settings.set", "id": 1, "patch": deepseek})
    out = h.ask({"type": "settings.test", "id": 2})
    assert [r.method for r in seen] == ["GET"]  # nothing was streamed
    assert out["probe"]["url"] == "https://api.deepseek.com/v1/chat/completions"
    assert out["probe"]["body"]["messages"][-1] == {"role": "user", "content": "OK?"}


def test_an_unknown_model_is_named_with_the_models_the_server_has() -> None:
    def handler(request: HttpRequest) -> Any:
        if request.url.endswith("/models"):
            return 200, {}, json.dumps({"data": [{"id": "llama3.2:latest"}, {"id": "qwen3:8b"}]}).encode()
        return 404, {}, json.dumps({"error": {"message": 'model "llama3" not found, try pulling it first',
                                              "type": "api_error"}}).encode()  # fmt: skip

    h = Harness(handler=handler, key=None)
    h.ask({"type": "settings.set", "id": 1, "patch": {"preset": "ollama", "base_url": "http://localhost:11434/v1",
                                                      "model": "llama3"}})  # fmt: skip
    out = h.ask({"type": "settings.test", "id": 2, "probe": True})
    assert out["ok"] is False and out["kind"] == "chat_failed"
    assert out["message"] == ("Chat failed: Ollama has no model “llama3”. It has: llama3.2:latest, qwen3:8b. "
                              "Pick one in the model list or run `ollama pull llama3`.")


def test_the_options_pages_preset_table_is_modelclients() -> None:
    from modelclient import PRESETS
    from panel import settings_form as sf

    ids = [p.id for p in PRESETS]
    assert [value for value, _ in sf.PROVIDERS] == [*ids[:-1], "compatible"]  # "compatible" is the custom one
    for preset in PRESETS[:-1]:
        assert sf.PRESET_BASES[preset.id] == preset.base_url, preset.id
        assert dict(sf.PROVIDERS)[preset.id] == preset.label
    assert set(sf.PAID) == {p.id for p in PRESETS if p.paid} - {"custom"} | {"compatible"}


def test_a_wrong_url_stays_a_wrong_url_when_the_short_message_fails_too() -> None:
    h = Harness(handler=lambda request: (404, {}, b"404 page not found"))
    h.ask({"type": "settings.set", "id": 1, "patch": {"preset": "custom", "base_url": "http://127.0.0.1:9/x"}})
    out = h.ask({"type": "settings.test", "id": 2, "probe": True})
    assert (out["ok"], out["kind"]) == (False, "wrong_url")
    assert out["message"].startswith("Nothing answers at http://127.0.0.1:9/x/models (HTTP 404)")


def test_a_server_without_a_model_list_still_works_if_chat_does() -> None:
    def handler(request: HttpRequest) -> Any:
        if request.url.endswith("/chat/completions"):
            return 200, {"content-type": "text/event-stream"}, chat_stream("OK")
        return 404, {}, b"404 page not found"

    h = Harness(handler=handler)
    h.ask({"type": "settings.set", "id": 1, "patch": {"preset": "custom", "base_url": CHAT_BASE}})
    out = h.ask({"type": "settings.test", "id": 2, "probe": True})
    assert out["ok"] is True and out["wire"] == "chat"
    assert "answered “OK” over Chat Completions" in out["message"]


def test_a_server_that_takes_no_key_is_asked_without_the_saved_one() -> None:
    """The OpenAI key saved before, not approved for Ollama: Ollama takes no key, so the turn and
    Test connection go without it (never with it), instead of asking to approve it there."""
    seen: list[HttpRequest] = []
    h = Harness(handler=chat_server(["llama3.2"], seen))
    h.ask({"type": "settings.get", "id": 0})  # the harness's key: approved for the saved OpenAI only
    ollama = {"preset": "ollama", "base_url": "http://127.0.0.1:9/v1", "model": "llama3.2"}
    view = h.ask({"type": "settings.set", "id": 1, "patch": ollama})["settings"]
    assert view["key"]["approved"] is False
    tested = h.ask({"type": "settings.test", "id": 2, "patch": ollama, "probe": True})
    assert tested["ok"] is True, tested
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 3, "text": "hello"})
    [done] = h.sent(1, "turn.done")
    assert done["assistant"]["text"] == "Hi there"
    assert [r.url for r in seen if r.method == "POST"][-1] == "http://127.0.0.1:9/v1/chat/completions"
    assert seen and not any("Authorization" in r.headers for r in seen)
    # A server that may take a key (llama.cpp: optional) still needs the user's approval first.
    llamacpp = {"preset": "llamacpp", "base_url": "http://127.0.0.1:9/v1"}
    refused = h.ask({"type": "settings.test", "id": 4, "patch": llamacpp})
    assert refused["kind"] == "key_not_approved"
